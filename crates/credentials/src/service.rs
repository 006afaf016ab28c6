//! The one credential service (seed 001 §5.7 "Fortress Protocol": one path for all credential
//! access), with a bounded cache.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use crate::schema::{credential_audit_log, org_credentials};
use chrono::{DateTime, Utc};
use db::{Db, OrgId, TenantTx};
use diesel::{
    ExpressionMethods, OptionalExtension, QueryDsl, Queryable, Selectable, SelectableHelper,
};
use diesel_async::RunQueryDsl;
use moka::future::Cache;
use tenancy::audit::{ChangedBy, short_action};
use uuid::Uuid;

use crate::CredentialError;
use crate::cipher::{Keyring, Sealed};
use crate::provider::{Credential, Provider, ProviderCredential};

/// How long a decrypted credential stays cached (SPEC §2: 5 minutes).
pub const CACHE_TTL: Duration = Duration::from_secs(5 * 60);
/// How many credentials the cache holds at most (SPEC §2: about 1000, LRU).
pub const CACHE_CAPACITY: u64 = 1_000;

/// The associated data every ciphertext is bound to: `org_credentials:v1:<org id>:<provider>`.
#[must_use]
pub fn associated_data(org: OrgId, provider: Provider) -> Vec<u8> {
    format!("org_credentials:v1:{}:{}", org.0, provider.as_str()).into_bytes()
}

/// A typed, cached credential: derefs to the provider's credential type.
pub struct Cred<T> {
    inner: Arc<Credential>,
    _kind: PhantomData<fn() -> T>,
}

impl<T: ProviderCredential> std::ops::Deref for Cred<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // `get` only builds a `Cred<T>` after checking the provider.
        T::extract(&self.inner).expect("credential of the checked provider")
    }
}

impl<T> std::fmt::Debug for Cred<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

/// A stored credential's state, without its secret (for the integrations status).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = org_credentials, check_for_backend(diesel::pg::Pg))]
pub struct CredentialRecord {
    /// Row id.
    pub id: Uuid,
    /// The organization.
    pub org_id: Uuid,
    /// Provider name (see [`Provider::as_str`]).
    pub provider: String,
    /// Non-secret facts (see [`Credential::metadata`]).
    pub metadata: serde_json::Value,
    /// Last successful check against the provider (UTC).
    pub last_verified_at: Option<DateTime<Utc>>,
    /// The last check's error, if it failed; cleared by a successful check.
    pub verification_error: Option<String>,
    /// When stored (UTC).
    pub created_at: DateTime<Utc>,
    /// Last change (UTC).
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable)]
struct SealedRow {
    key_id: String,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
}

/// The credential service: store, get (typed, cached), exists, list, verification results,
/// disconnect. Every write, verification and disconnection is audited; reads are logged
/// without secrets. Cheap to share behind an `Arc`.
pub struct CredentialService {
    db: Db,
    keyring: Arc<Keyring>,
    cache: Cache<(OrgId, Provider), Arc<Credential>>,
}

impl std::fmt::Debug for CredentialService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialService")
            .field("keyring", &self.keyring)
            .field("cached", &self.cache.entry_count())
            .finish_non_exhaustive()
    }
}

impl CredentialService {
    /// A service over `db` sealing with `keyring`, with the standard cache
    /// ([`CACHE_CAPACITY`] entries, [`CACHE_TTL`]).
    #[must_use]
    pub fn new(db: Db, keyring: Arc<Keyring>) -> Self {
        Self {
            db,
            keyring,
            cache: Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .time_to_live(CACHE_TTL)
                .build(),
        }
    }

    /// The organization's active credential for `T`'s provider, decrypted (from the cache when
    /// possible; concurrent misses for one key load once).
    ///
    /// # Errors
    /// [`CredentialError::NotConnected`] (with a message the user can act on),
    /// [`CredentialError::Undecryptable`] (an operator problem: logged as an error),
    /// [`CredentialError::Db`].
    pub async fn get<T: ProviderCredential>(&self, org: OrgId) -> Result<Cred<T>, CredentialError> {
        let provider = T::PROVIDER;
        let inner = self
            .cache
            .try_get_with((org, provider), self.load(org, provider))
            .await
            .map_err(|e| e.as_ref().clone_for_caller())?;
        if T::extract(&inner).is_none() {
            return Err(CredentialError::Undecryptable(provider));
        }
        Ok(Cred {
            inner,
            _kind: PhantomData,
        })
    }

    async fn load(
        &self,
        org: OrgId,
        provider: Provider,
    ) -> Result<Arc<Credential>, CredentialError> {
        let row: Option<SealedRow> = self
            .db
            .tenant(org, async move |tx| {
                org_credentials::table
                    .filter(org_credentials::org_id.eq(org.0))
                    .filter(org_credentials::provider.eq(provider.as_str()))
                    .filter(org_credentials::is_active.eq(true))
                    .select((
                        org_credentials::key_id,
                        org_credentials::nonce,
                        org_credentials::ciphertext,
                    ))
                    .first(tx)
                    .await
                    .optional()
                    .map_err(CredentialError::from)
            })
            .await?;
        tracing::info!(org_id = %org, provider = %provider, found = row.is_some(), "credential read");
        let row = row.ok_or(CredentialError::NotConnected(provider))?;
        let key_id = row.key_id.clone();
        let decrypted = <[u8; 12]>::try_from(row.nonce.as_slice())
            .map_err(|_| CredentialError::Crypto("stored nonce is not 12 bytes"))
            .and_then(|nonce| {
                self.keyring.open(
                    &Sealed {
                        key_id: row.key_id,
                        nonce,
                        ciphertext: row.ciphertext,
                    },
                    &associated_data(org, provider),
                )
            })
            .and_then(|plain| Credential::from_sealable(&plain));
        match decrypted {
            Ok(credential) if credential.provider() == provider => Ok(Arc::new(credential)),
            Ok(_) | Err(_) => {
                tracing::error!(
                    org_id = %org,
                    provider = %provider,
                    key_id = %key_id,
                    "stored credential cannot be decrypted: missing key, wrong key or a moved or tampered ciphertext"
                );
                Err(CredentialError::Undecryptable(provider))
            }
        }
    }

    /// Whether the organization has an active credential for `provider` (no decryption).
    ///
    /// # Errors
    /// [`CredentialError::Db`].
    pub async fn exists(&self, org: OrgId, provider: Provider) -> Result<bool, CredentialError> {
        Ok(self.record(org, provider).await?.is_some())
    }

    /// The active credential's state for `provider`, without its secret.
    ///
    /// # Errors
    /// [`CredentialError::Db`].
    pub async fn record(
        &self,
        org: OrgId,
        provider: Provider,
    ) -> Result<Option<CredentialRecord>, CredentialError> {
        self.db
            .tenant(org, async move |tx| {
                org_credentials::table
                    .filter(org_credentials::org_id.eq(org.0))
                    .filter(org_credentials::provider.eq(provider.as_str()))
                    .filter(org_credentials::is_active.eq(true))
                    .select(CredentialRecord::as_select())
                    .first(tx)
                    .await
                    .optional()
                    .map_err(CredentialError::from)
            })
            .await
    }

    /// Every active credential's state, by provider (no secrets, no decryption).
    ///
    /// # Errors
    /// [`CredentialError::Db`].
    pub async fn list(&self, org: OrgId) -> Result<Vec<CredentialRecord>, CredentialError> {
        self.db
            .tenant(org, async move |tx| {
                org_credentials::table
                    .filter(org_credentials::org_id.eq(org.0))
                    .filter(org_credentials::is_active.eq(true))
                    .order(org_credentials::provider.asc())
                    .select(CredentialRecord::as_select())
                    .load(tx)
                    .await
                    .map_err(CredentialError::from)
            })
            .await
    }

    /// Seals and stores a credential as the organization's active one for its provider; the
    /// previous one (if any) is kept as history (soft delete). `verified_now` records a successful
    /// check made just before ("test & save"). Audited as `stored`.
    ///
    /// # Errors
    /// [`CredentialError::Crypto`], [`CredentialError::Db`].
    pub async fn store(
        &self,
        org: OrgId,
        credential: &Credential,
        verified_now: bool,
        by: &ChangedBy,
    ) -> Result<CredentialRecord, CredentialError> {
        let provider = credential.provider();
        let sealed = self
            .keyring
            .seal(&credential.to_sealable()?, &associated_data(org, provider))?;
        let metadata = credential.metadata();
        let record = self
            .db
            .tenant(org, async move |tx| {
                retire_active(tx, provider).await?;
                let record: CredentialRecord = diesel::insert_into(org_credentials::table)
                    .values((
                        org_credentials::id.eq(Uuid::new_v4()),
                        org_credentials::org_id.eq(org.0),
                        org_credentials::provider.eq(provider.as_str()),
                        org_credentials::key_id.eq(sealed.key_id),
                        org_credentials::nonce.eq(sealed.nonce.to_vec()),
                        org_credentials::ciphertext.eq(sealed.ciphertext),
                        org_credentials::metadata.eq(metadata),
                        org_credentials::last_verified_at.eq(verified_now.then(Utc::now)),
                    ))
                    .returning(CredentialRecord::as_returning())
                    .get_result(tx)
                    .await?;
                audit(tx, provider, "credential.stored", None, by).await?;
                Ok::<_, CredentialError>(record)
            })
            .await?;
        self.cache.invalidate(&(org, provider)).await;
        tracing::info!(org_id = %org, provider = %provider, "credential stored");
        Ok(record)
    }

    /// Records the outcome of checking the active credential against its provider: success sets
    /// `last_verified_at` and clears the error; failure keeps `last_verified_at` and stores the
    /// error message (which must hold no secret). Audited.
    ///
    /// # Errors
    /// [`CredentialError::NotConnected`], [`CredentialError::Db`].
    pub async fn record_verification(
        &self,
        org: OrgId,
        provider: Provider,
        outcome: Result<(), String>,
        by: &ChangedBy,
    ) -> Result<CredentialRecord, CredentialError> {
        self.db
            .tenant(org, async move |tx| {
                let active = org_credentials::table
                    .filter(org_credentials::org_id.eq(org.0))
                    .filter(org_credentials::provider.eq(provider.as_str()))
                    .filter(org_credentials::is_active.eq(true));
                let (action, detail) = match &outcome {
                    Ok(()) => ("credential.verified", None),
                    Err(message) => ("credential.verification_failed", Some(message.clone())),
                };
                let record: Option<CredentialRecord> = match outcome {
                    Ok(()) => diesel::update(active)
                        .set((
                            org_credentials::last_verified_at.eq(Some(Utc::now())),
                            org_credentials::verification_error.eq(None::<String>),
                        ))
                        .returning(CredentialRecord::as_returning())
                        .get_result(tx)
                        .await
                        .optional()?,
                    Err(message) => diesel::update(active)
                        .set(org_credentials::verification_error.eq(Some(message)))
                        .returning(CredentialRecord::as_returning())
                        .get_result(tx)
                        .await
                        .optional()?,
                };
                let record = record.ok_or(CredentialError::NotConnected(provider))?;
                audit(tx, provider, action, detail, by).await?;
                Ok(record)
            })
            .await
    }

    /// Disconnects: the active credential becomes history (soft delete). Returns whether there
    /// was one. Audited as `disconnected`.
    ///
    /// # Errors
    /// [`CredentialError::Db`].
    pub async fn disconnect(
        &self,
        org: OrgId,
        provider: Provider,
        by: &ChangedBy,
    ) -> Result<bool, CredentialError> {
        let retired = self
            .db
            .tenant(org, async move |tx| {
                let retired = retire_active(tx, provider).await?;
                if retired {
                    audit(tx, provider, "credential.disconnected", None, by).await?;
                }
                Ok::<_, CredentialError>(retired)
            })
            .await?;
        self.cache.invalidate(&(org, provider)).await;
        Ok(retired)
    }
}

/// Turns the active row (if any) into history.
async fn retire_active(tx: &mut TenantTx, provider: Provider) -> Result<bool, CredentialError> {
    let org = tx.org();
    let retired = diesel::update(
        org_credentials::table
            .filter(org_credentials::org_id.eq(org.0))
            .filter(org_credentials::provider.eq(provider.as_str()))
            .filter(org_credentials::is_active.eq(true)),
    )
    .set((
        org_credentials::is_active.eq(false),
        org_credentials::deleted_at.eq(Some(Utc::now())),
    ))
    .execute(tx)
    .await?;
    Ok(retired > 0)
}

/// Records a credential event (`credential.<action>`) twice in the caller's transaction: in the
/// vault's own `credential_audit_log` (as `<action>`) and, on the provider, in the
/// organization's audit trail (`GET /api/audit-log`). `detail` is a verification error, never a secret.
async fn audit(
    tx: &mut TenantTx,
    provider: Provider,
    action: &'static str,
    detail: Option<String>,
    by: &ChangedBy,
) -> Result<(), CredentialError> {
    let org = tx.org();
    let trail = serde_json::json!({ "provider": provider.as_str(), "error": detail });
    diesel::insert_into(credential_audit_log::table)
        .values((
            credential_audit_log::id.eq(Uuid::new_v4()),
            credential_audit_log::org_id.eq(org.0),
            credential_audit_log::provider.eq(provider.as_str()),
            credential_audit_log::action.eq(short_action(action)),
            credential_audit_log::detail.eq(detail),
            credential_audit_log::actor.eq(by.actor.id()),
        ))
        .execute(tx)
        .await?;
    by.record(tx, action, Some(provider.as_str().to_owned()), trail)
        .await?;
    Ok(())
}
