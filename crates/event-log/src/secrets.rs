//! An app's Dialpad webhook secret (contracts/telephony.md A.1–A.2: given to Dialpad when the
//! webhook is created, it signs every event). Stored sealed with the credentials keyring
//! (AES-256-GCM), bound to its organization and app; never returned.

use crate::schema::app_webhook_secrets as secrets;
use credentials::Keyring;
use credentials::cipher::Sealed;
use db::{AsyncPgConnection, Db, OrgId, TenantTx};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::EventLogError;

/// Shortest secret accepted (bytes): an HS256 key should carry at least 128 bits.
pub const MIN_SECRET_LEN: usize = 16;
/// Longest secret accepted (bytes).
pub const MAX_SECRET_LEN: usize = 512;

/// The associated data a secret is sealed with: it opens only for this organization and app.
#[must_use]
pub fn associated_data(org: OrgId, app: Uuid) -> Vec<u8> {
    format!("app-webhook-secret:{}:{app}", org.0).into_bytes()
}

/// Sets (or replaces) the app's webhook secret. The app must belong to `org`.
///
/// # Errors
/// [`EventLogError::Invalid`] for a secret outside 16–512 bytes or on several lines (Dialpad
/// takes a single line); [`EventLogError::NotFound`] for an app of another organization;
/// [`EventLogError::Db`], [`EventLogError::Crypto`].
pub async fn set(
    db: &Db,
    keyring: &Keyring,
    org: OrgId,
    app: Uuid,
    secret: &str,
) -> Result<(), EventLogError> {
    if !(MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&secret.len()) || secret.contains(['\n', '\r']) {
        return Err(EventLogError::Invalid(format!(
            "the webhook secret must be one line of {MIN_SECRET_LEN} to {MAX_SECRET_LEN} bytes"
        )));
    }
    let sealed = keyring
        .seal(secret.as_bytes(), &associated_data(org, app))
        .map_err(|e| EventLogError::Crypto(e.to_string()))?;
    db.tenant(org, async move |tx| {
        require_app(tx, app).await?;
        diesel::insert_into(secrets::table)
            .values((
                secrets::app_id.eq(app),
                secrets::org_id.eq(org.0),
                secrets::key_id.eq(&sealed.key_id),
                secrets::nonce.eq(sealed.nonce.to_vec()),
                secrets::ciphertext.eq(&sealed.ciphertext),
            ))
            .on_conflict(secrets::app_id)
            .do_update()
            .set((
                secrets::key_id.eq(&sealed.key_id),
                secrets::nonce.eq(sealed.nonce.to_vec()),
                secrets::ciphertext.eq(&sealed.ciphertext),
            ))
            .execute(tx)
            .await?;
        Ok(())
    })
    .await
}

/// Removes the app's webhook secret (Dialpad then sends plain JSON, accepted only without a
/// secret). Returns whether one was set.
///
/// # Errors
/// [`EventLogError::NotFound`] for an app of another organization, [`EventLogError::Db`].
pub async fn remove(tx: &mut TenantTx, app: Uuid) -> Result<bool, EventLogError> {
    let org = tx.org();
    require_app(tx, app).await?;
    let n = diesel::delete(
        secrets::table
            .filter(secrets::app_id.eq(app))
            .filter(db::same_tenant(secrets::org_id, org.0)),
    )
    .execute(tx)
    .await?;
    Ok(n > 0)
}

/// Whether the app has a webhook secret.
///
/// # Errors
/// [`EventLogError::NotFound`] for an app of another organization, [`EventLogError::Db`].
pub async fn is_configured(tx: &mut TenantTx, app: Uuid) -> Result<bool, EventLogError> {
    let org = tx.org();
    require_app(tx, app).await?;
    let found: Option<Uuid> = secrets::table
        .filter(secrets::app_id.eq(app))
        .filter(db::same_tenant(secrets::org_id, org.0))
        .select(secrets::app_id)
        .first(tx)
        .await
        .optional()?;
    Ok(found.is_some())
}

async fn require_app(tx: &mut TenantTx, app: Uuid) -> Result<(), EventLogError> {
    if tenancy::apps::exists(tx, app).await? {
        Ok(())
    } else {
        Err(EventLogError::NotFound("app"))
    }
}

/// Opens a stored secret.
pub(crate) fn open(
    keyring: &Keyring,
    org: OrgId,
    app: Uuid,
    key_id: String,
    nonce: &[u8],
    ciphertext: Vec<u8>,
) -> Result<zeroize::Zeroizing<Vec<u8>>, EventLogError> {
    let nonce = <[u8; 12]>::try_from(nonce)
        .map_err(|_| EventLogError::Crypto("stored nonce is not 12 bytes".into()))?;
    keyring
        .open(
            &Sealed {
                key_id,
                nonce,
                ciphertext,
            },
            &associated_data(org, app),
        )
        .map_err(|e| EventLogError::Crypto(e.to_string()))
}

/// A stored secret as rotation reads it: app id, org id, key id, nonce, ciphertext.
type SealedRow = (Uuid, Uuid, String, Vec<u8>, Vec<u8>);

/// Re-seals every app webhook secret not sealed with the active key (key rotation, with
/// [`credentials::rotation::reseal_all`]). `conn` must be the owner role's. Returns how many
/// were re-sealed; a row changed meanwhile is left to the next run.
///
/// # Errors
/// [`EventLogError::Crypto`] naming nothing secret when a row cannot be opened,
/// [`EventLogError::Db`].
pub async fn reseal_all(
    conn: &mut AsyncPgConnection,
    keyring: &Keyring,
) -> Result<u64, EventLogError> {
    let active = keyring.active_key_id().to_owned();
    let rows: Vec<SealedRow> = secrets::table
        .filter(secrets::key_id.ne(&active))
        .select((
            secrets::app_id,
            secrets::org_id,
            secrets::key_id,
            secrets::nonce,
            secrets::ciphertext,
        ))
        .load(conn)
        .await?;
    let mut resealed = 0;
    for (app, org, key_id, nonce, ciphertext) in rows {
        let org = OrgId(org);
        let plain = open(keyring, org, app, key_id.clone(), &nonce, ciphertext).inspect_err(|e| {
            tracing::error!(app_id = %app, key_id = %key_id, error = %e, "rotation cannot open an app webhook secret");
        })?;
        let sealed = keyring
            .seal(&plain, &associated_data(org, app))
            .map_err(|e| EventLogError::Crypto(e.to_string()))?;
        resealed += diesel::update(
            secrets::table
                .filter(secrets::app_id.eq(app))
                .filter(secrets::key_id.eq(&key_id))
                .filter(secrets::nonce.eq(&nonce)),
        )
        .set((
            secrets::key_id.eq(sealed.key_id),
            secrets::nonce.eq(sealed.nonce.to_vec()),
            secrets::ciphertext.eq(sealed.ciphertext),
        ))
        .execute(conn)
        .await? as u64;
    }
    Ok(resealed)
}
