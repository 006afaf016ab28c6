//! Re-sealing endpoint signing secrets under the keyring's active key, for the operator's
//! `rotate-credentials` command (beside the vault's and the app webhook secrets' own): after it,
//! the old key can leave `CREDENTIALS_KEYS` without losing any endpoint.

use crate::schema::webhook_endpoints as we;
use credentials::Keyring;
use credentials::cipher::Sealed;
use db::{AsyncPgConnection, OrgId};
use diesel::{BoolExpressionMethods, ExpressionMethods, QueryDsl, SelectableHelper};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::WebhookError;
use crate::endpoints::{SealedColumns, aad};

/// Re-seals, as the owner role (outside row-level security), every endpoint secret (current and
/// previous) not sealed under the active key. Returns how many endpoints were re-sealed; an
/// endpoint whose secret changed meanwhile (a rotation through the API) is left to the next run.
///
/// # Errors
/// [`WebhookError::Secret`] naming nothing secret when a secret cannot be opened (its key is no
/// longer configured), [`WebhookError::Db`].
pub async fn reseal_all(
    conn: &mut AsyncPgConnection,
    keyring: &Keyring,
) -> Result<u64, WebhookError> {
    let active = keyring.active_key_id().to_owned();
    let rows: Vec<(Uuid, Uuid, SealedColumns)> = we::table
        .filter(
            we::secret_key_id
                .ne(&active)
                .or(we::previous_key_id.ne(&active)),
        )
        .select((we::id, we::org_id, SealedColumns::as_select()))
        .load(conn)
        .await?;
    let mut resealed = 0;
    for (id, org, columns) in rows {
        let org = OrgId(org);
        let stored = columns.into_secrets()?;
        let nonce = stored.current.nonce.to_vec();
        let current = reseal(keyring, org, id, stored.current)?;
        let previous = match stored.previous {
            Some((p, _)) => Some(reseal(keyring, org, id, p)?),
            None => None,
        };
        resealed += diesel::update(
            we::table
                .filter(we::id.eq(id))
                .filter(we::secret_nonce.eq(&nonce)),
        )
        .set((
            we::secret_key_id.eq(current.key_id),
            we::secret_nonce.eq(current.nonce.to_vec()),
            we::secret_ciphertext.eq(current.ciphertext),
            we::previous_key_id.eq(previous.as_ref().map(|p| p.key_id.clone())),
            we::previous_nonce.eq(previous.as_ref().map(|p| p.nonce.to_vec())),
            we::previous_ciphertext.eq(previous.map(|p| p.ciphertext)),
        ))
        .execute(conn)
        .await? as u64;
    }
    tracing::info!(resealed, active_key = %active, "webhook endpoint secrets re-sealed");
    Ok(resealed)
}

/// `secret` of endpoint `id` opened and sealed again under the active key (unchanged when it
/// already is).
fn reseal(keyring: &Keyring, org: OrgId, id: Uuid, secret: Sealed) -> Result<Sealed, WebhookError> {
    if secret.key_id == keyring.active_key_id() {
        return Ok(secret);
    }
    let plain = keyring.open(&secret, &aad(org, id)).inspect_err(|e| {
        tracing::error!(endpoint_id = %id, key_id = %secret.key_id, error = %e, "rotation cannot open a webhook endpoint secret");
    })?;
    Ok(keyring.seal(&plain, &aad(org, id))?)
}
