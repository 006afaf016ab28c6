//! Re-sealing every stored credential under the active key, without downtime.
//!
//! Procedure (docs/architecture.md, "Credentials"): add a new key to `CREDENTIALS_KEYS`, make it
//! `CREDENTIALS_ACTIVE_KEY`, deploy (new writes use it; old rows still open with the old key),
//! run `gateway rotate-credentials` (`cargo xtask rotate-credentials` locally), then remove the old
//! key. Rotation runs as the owner role, which sees every organization's rows: it is an operator
//! task, not a request path. Each row is re-sealed with its own `(org_id, provider)` binding and
//! updated only if it has not changed meanwhile, so concurrent writes are never overwritten.

use crate::schema::org_credentials;
use db::AsyncPgConnection;
use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::cipher::{Keyring, Sealed};
use crate::service::associated_data;
use crate::{CredentialError, Provider};

/// Rows re-sealed per batch.
const BATCH: i64 = 500;

/// A stored row as rotation reads it: id, org id, provider, key id, nonce, ciphertext.
type SealedRow = (Uuid, Uuid, String, String, Vec<u8>, Vec<u8>);

/// What a rotation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Rows re-sealed under the active key (active and historical rows alike).
    pub resealed: u64,
    /// Rows that changed while being re-sealed and were left to the next run.
    pub skipped_concurrent: u64,
}

/// Re-seals every row of `org_credentials` whose key is not the active one. `conn` must be the
/// owner role's (it reads every organization). Fails without changing the row when a row cannot
/// be opened (its key is missing from the keyring or the row was tampered with).
///
/// # Errors
/// [`CredentialError::UnknownKey`] or [`CredentialError::Crypto`] naming the row id;
/// [`CredentialError::Db`].
pub async fn reseal_all(
    conn: &mut AsyncPgConnection,
    keyring: &Keyring,
) -> Result<RotationReport, CredentialError> {
    let active = keyring.active_key_id().to_owned();
    let mut report = RotationReport::default();
    let mut after = Uuid::nil();
    loop {
        let rows: Vec<SealedRow> = org_credentials::table
            .filter(org_credentials::key_id.ne(&active))
            .filter(org_credentials::id.gt(after))
            .order(org_credentials::id.asc())
            .limit(BATCH)
            .select((
                org_credentials::id,
                org_credentials::org_id,
                org_credentials::provider,
                org_credentials::key_id,
                org_credentials::nonce,
                org_credentials::ciphertext,
            ))
            .load(conn)
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        for (id, org_id, provider, key_id, nonce, ciphertext) in rows {
            let provider: Provider = provider.parse()?;
            let aad = associated_data(db::OrgId(org_id), provider);
            let nonce_bytes = <[u8; 12]>::try_from(nonce.as_slice())
                .map_err(|_| CredentialError::Crypto("stored nonce is not 12 bytes"))?;
            let sealed = Sealed {
                key_id: key_id.clone(),
                nonce: nonce_bytes,
                ciphertext,
            };
            let plain = keyring.open(&sealed, &aad).map_err(|e| {
                tracing::error!(credential_id = %id, key_id = %key_id, error = %e, "rotation cannot open a credential");
                e
            })?;
            let resealed = keyring.seal(&plain, &aad)?;
            let updated = diesel::update(
                org_credentials::table
                    .filter(org_credentials::id.eq(id))
                    .filter(org_credentials::key_id.eq(&key_id))
                    .filter(org_credentials::nonce.eq(nonce)),
            )
            .set((
                org_credentials::key_id.eq(resealed.key_id),
                org_credentials::nonce.eq(resealed.nonce.to_vec()),
                org_credentials::ciphertext.eq(resealed.ciphertext),
            ))
            .execute(conn)
            .await?;
            if updated == 1 {
                report.resealed += 1;
            } else {
                report.skipped_concurrent += 1;
            }
        }
    }
    tracing::info!(resealed = report.resealed, skipped = report.skipped_concurrent, active_key = %active, "credential rotation finished");
    Ok(report)
}
