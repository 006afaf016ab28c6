//! An organization's webhook endpoints and their signing secrets (`webhook_endpoints`). Every
//! change is audited (`webhook_endpoint.*`) in the change's transaction.

use std::sync::Arc;

use crate::schema::webhook_endpoints as we;
use chrono::{DateTime, Duration, Utc};
use credentials::Keyring;
use credentials::cipher::Sealed;
use db::{Db, OrgId, TenantTx};
use diesel::{
    ExpressionMethods, OptionalExtension, QueryDsl, Queryable, Selectable, SelectableHelper,
};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::ssrf::AddressPolicy;
use crate::{WebhookError, catalog, signature};

/// How long a replaced secret keeps signing beside its successor (Standard Webhooks' rotation
/// guidance; issue 23 §2).
pub const ROTATION_OVERLAP: Duration = Duration::hours(24);

/// An endpoint as stored (its secrets stay sealed and are never part of it).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = we, check_for_backend(diesel::pg::Pg))]
#[schema(as = WebhookEndpointView)]
pub struct Endpoint {
    /// Endpoint id.
    pub id: Uuid,
    /// Its organization.
    #[serde(skip)]
    pub org_id: Uuid,
    /// Where messages are posted.
    pub url: String,
    /// Free text for the organization, up to 500 characters.
    pub description: String,
    /// Event types delivered; empty: every type.
    #[diesel(deserialize_as = db::arrays::TextList)]
    pub event_types: Vec<String>,
    /// Whether messages are delivered to it.
    pub enabled: bool,
    /// Why it was disabled (by a user, or after failing for 5 days).
    pub disabled_reason: Option<String>,
    /// When it was disabled, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize_opt")]
    pub disabled_at: Option<DateTime<Utc>>,
    /// The first failed attempt since the last success, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize_opt")]
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when the previous secret still signs beside the current one (after a rotation),
    /// RFC 3339 UTC; answered as `previous_secret_valid_until`.
    #[serde(
        rename = "previous_secret_valid_until",
        serialize_with = "db::timestamp::serialize_opt"
    )]
    pub previous_until: Option<DateTime<Utc>>,
    /// When created, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// When last changed, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

/// Whether an endpoint subscribed to `types` (none listed: every type) receives `event_type`.
pub(crate) fn subscribes(types: &[String], event_type: &str) -> bool {
    types.is_empty() || types.iter().any(|t| t == event_type)
}

impl Endpoint {
    /// Whether this endpoint receives messages of `event_type`.
    #[must_use]
    pub fn subscribes_to(&self, event_type: &str) -> bool {
        subscribes(&self.event_types, event_type)
    }
}

/// An endpoint to create.
#[derive(Debug, Clone, Default)]
pub struct NewEndpoint {
    /// `https://` (or `http://`) URL, at most 2,000 characters, not pointing into a private
    /// network ([`AddressPolicy`]).
    pub url: String,
    /// Up to 500 characters.
    pub description: String,
    /// Types of the catalog ([`catalog::EVENT_TYPES`]); empty: every type.
    pub event_types: Vec<String>,
}

/// A change to an endpoint; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct EndpointPatch {
    /// A new URL.
    pub url: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// A new filter (empty: every type).
    pub event_types: Option<Vec<String>>,
    /// Enable (clears a disabled reason and the failure streak) or disable.
    pub enabled: Option<bool>,
}

/// Who changes endpoints, and from where (for the audit trail).
pub use tenancy::audit::ChangedBy;

/// The endpoints of organizations: their rows, sealed secrets and URL policy.
#[derive(Clone)]
pub struct Endpoints {
    db: Db,
    keyring: Arc<Keyring>,
    policy: Arc<AddressPolicy>,
}

impl std::fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoints")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The associated data binding a sealed secret to its organization and endpoint.
pub(crate) fn aad(org: OrgId, id: Uuid) -> Vec<u8> {
    format!("webhook:{}:{id}", org.0).into_bytes()
}

fn validate_description(d: &str) -> Result<(), WebhookError> {
    if d.chars().count() > 500 {
        return Err(WebhookError::Invalid(
            "description: at most 500 characters".into(),
        ));
    }
    Ok(())
}

fn validate_types(types: &[String]) -> Result<(), WebhookError> {
    if types.len() > catalog::EVENT_TYPES.len() {
        return Err(WebhookError::Invalid("event_types: too many".into()));
    }
    match types.iter().find(|t| !catalog::is_known(t)) {
        Some(t) => Err(WebhookError::Invalid(format!(
            "event_types: unknown type {t:?}"
        ))),
        None => Ok(()),
    }
}

impl Endpoints {
    /// Endpoints over `db`, sealing secrets with `keyring`, URLs checked by `policy`.
    #[must_use]
    pub fn new(db: Db, keyring: Arc<Keyring>, policy: Arc<AddressPolicy>) -> Self {
        Self {
            db,
            keyring,
            policy,
        }
    }

    /// The URL policy.
    #[must_use]
    pub fn policy(&self) -> &Arc<AddressPolicy> {
        &self.policy
    }

    /// Creates an endpoint with a new `whsec_` secret; returns it and the secret.
    ///
    /// # Errors
    /// [`WebhookError::Invalid`] / [`WebhookError::ForbiddenAddress`] for bad input;
    /// [`WebhookError::Db`].
    pub async fn create(
        &self,
        org: OrgId,
        by: ChangedBy,
        new: NewEndpoint,
    ) -> Result<(Endpoint, Zeroizing<String>), WebhookError> {
        self.policy.check_url(&new.url)?;
        validate_description(&new.description)?;
        validate_types(&new.event_types)?;
        let id = Uuid::new_v4();
        let secret = signature::new_secret()?;
        let sealed = self.keyring.seal(secret.as_bytes(), &aad(org, id))?;
        let endpoint = self
            .db
            .tenant(org, async move |tx| {
                let row: Endpoint = diesel::insert_into(we::table)
                    .values((
                        we::id.eq(id),
                        we::org_id.eq(org.0),
                        we::url.eq(&new.url),
                        we::description.eq(&new.description),
                        we::event_types.eq(&new.event_types),
                        we::secret_key_id.eq(&sealed.key_id),
                        we::secret_nonce.eq(sealed.nonce.to_vec()),
                        we::secret_ciphertext.eq(&sealed.ciphertext),
                    ))
                    .returning(Endpoint::as_returning())
                    .get_result(tx)
                    .await?;
                let detail = json!({"url": row.url, "event_types": row.event_types});
                audited(tx, &by, "webhook_endpoint.created", id, detail).await?;
                Ok::<_, WebhookError>(row)
            })
            .await?;
        Ok((endpoint, secret))
    }

    /// Every endpoint of the organization, oldest first.
    ///
    /// # Errors
    /// [`WebhookError::Db`].
    pub async fn list(&self, org: OrgId) -> Result<Vec<Endpoint>, WebhookError> {
        self.db
            .tenant(org, async move |tx| {
                Ok(we::table
                    .filter(we::org_id.eq(org.0))
                    .order((we::created_at, we::id))
                    .select(Endpoint::as_select())
                    .load(tx)
                    .await?)
            })
            .await
    }

    /// One endpoint.
    ///
    /// # Errors
    /// [`WebhookError::NotFound`]; [`WebhookError::Db`].
    pub async fn get(&self, org: OrgId, id: Uuid) -> Result<Endpoint, WebhookError> {
        self.db
            .tenant(org, async move |tx| find(tx, id).await)
            .await
    }

    /// Changes an endpoint.
    ///
    /// # Errors
    /// As [`Endpoints::create`], and [`WebhookError::NotFound`].
    pub async fn update(
        &self,
        org: OrgId,
        by: ChangedBy,
        id: Uuid,
        patch: EndpointPatch,
    ) -> Result<Endpoint, WebhookError> {
        if let Some(url) = &patch.url {
            self.policy.check_url(url)?;
        }
        if let Some(d) = &patch.description {
            validate_description(d)?;
        }
        if let Some(t) = &patch.event_types {
            validate_types(t)?;
        }
        self.db
            .tenant(org, async move |tx| {
                let old = lock(tx, id).await?;
                let enabled = patch.enabled.unwrap_or(old.enabled);
                let (reason, at, failing) = match (old.enabled, enabled) {
                    (true, false) => (
                        Some("disabled by a user".to_owned()),
                        Some(Utc::now()),
                        old.failing_since,
                    ),
                    (false, true) => (None, None, None),
                    _ => (
                        old.disabled_reason.clone(),
                        old.disabled_at,
                        old.failing_since,
                    ),
                };
                let row: Endpoint = diesel::update(we::table.find(id))
                    .filter(db::same_tenant(we::org_id, org.0))
                    .set((
                        we::url.eq(patch.url.as_ref().unwrap_or(&old.url)),
                        we::description.eq(patch.description.as_ref().unwrap_or(&old.description)),
                        we::event_types.eq(patch
                            .event_types
                            .clone()
                            .unwrap_or_else(|| old.event_types.clone())),
                        we::enabled.eq(enabled),
                        we::disabled_reason.eq(reason),
                        we::disabled_at.eq(at),
                        we::failing_since.eq(failing),
                    ))
                    .returning(Endpoint::as_returning())
                    .get_result(tx)
                    .await?;
                let detail =
                    json!({"url": row.url, "event_types": row.event_types, "enabled": row.enabled});
                audited(tx, &by, "webhook_endpoint.updated", id, detail).await?;
                Ok(row)
            })
            .await
    }

    /// Deletes an endpoint with its deliveries and their log.
    ///
    /// # Errors
    /// [`WebhookError::NotFound`]; [`WebhookError::Db`].
    pub async fn delete(&self, org: OrgId, by: ChangedBy, id: Uuid) -> Result<(), WebhookError> {
        self.db
            .tenant(org, async move |tx| {
                let old = lock(tx, id).await?;
                diesel::delete(
                    we::table
                        .find(id)
                        .filter(db::same_tenant(we::org_id, org.0)),
                )
                .execute(tx)
                .await?;
                let detail = json!({"url": old.url});
                audited(tx, &by, "webhook_endpoint.deleted", id, detail).await
            })
            .await
    }

    /// The endpoint's current signing secret (what receivers verify with). Reading it is
    /// audited (`webhook_endpoint.secret_read`).
    ///
    /// # Errors
    /// [`WebhookError::NotFound`]; [`WebhookError::Secret`]; [`WebhookError::Db`].
    pub async fn secret(
        &self,
        org: OrgId,
        by: ChangedBy,
        id: Uuid,
    ) -> Result<Zeroizing<String>, WebhookError> {
        let sealed = self
            .db
            .tenant(org, async move |tx| {
                let secrets = secrets(tx, id).await?;
                audited(tx, &by, "webhook_endpoint.secret_read", id, json!({})).await?;
                Ok::<_, WebhookError>(secrets.current)
            })
            .await?;
        self.open(org, id, &sealed)
    }

    /// Replaces the endpoint's secret with a new one; the old one keeps signing beside it for
    /// [`ROTATION_OVERLAP`]. Returns the new secret.
    ///
    /// # Errors
    /// [`WebhookError::NotFound`]; [`WebhookError::Secret`]; [`WebhookError::Db`].
    pub async fn rotate_secret(
        &self,
        org: OrgId,
        by: ChangedBy,
        id: Uuid,
    ) -> Result<Zeroizing<String>, WebhookError> {
        let secret = signature::new_secret()?;
        let sealed = self.keyring.seal(secret.as_bytes(), &aad(org, id))?;
        self.db
            .tenant(org, async move |tx| {
                lock(tx, id).await?;
                let old = secrets(tx, id).await?.current;
                let until = Utc::now() + ROTATION_OVERLAP;
                diesel::update(we::table.find(id))
                    .filter(db::same_tenant(we::org_id, org.0))
                    .set((
                        we::secret_key_id.eq(&sealed.key_id),
                        we::secret_nonce.eq(sealed.nonce.to_vec()),
                        we::secret_ciphertext.eq(&sealed.ciphertext),
                        we::previous_key_id.eq(Some(old.key_id)),
                        we::previous_nonce.eq(Some(old.nonce.to_vec())),
                        we::previous_ciphertext.eq(Some(old.ciphertext)),
                        we::previous_until.eq(Some(until)),
                    ))
                    .execute(tx)
                    .await?;
                let detail = json!({"previous_valid_until": until});
                audited(tx, &by, "webhook_endpoint.secret_rotated", id, detail).await
            })
            .await?;
        Ok(secret)
    }

    /// The secrets that sign messages to endpoint `id` now: the current one, and the previous
    /// one while its overlap lasts.
    ///
    /// # Errors
    /// [`WebhookError::NotFound`]; [`WebhookError::Secret`]; [`WebhookError::Db`].
    pub(crate) async fn signing_secrets(
        &self,
        tx: &mut TenantTx,
        id: Uuid,
    ) -> Result<Vec<Zeroizing<String>>, WebhookError> {
        let org = tx.org();
        let secrets = secrets(tx, id).await?;
        let mut out = vec![self.open(org, id, &secrets.current)?];
        if let Some((previous, until)) = secrets.previous
            && until > Utc::now()
        {
            out.push(self.open(org, id, &previous)?);
        }
        Ok(out)
    }

    fn open(
        &self,
        org: OrgId,
        id: Uuid,
        sealed: &Sealed,
    ) -> Result<Zeroizing<String>, WebhookError> {
        let bytes = self.keyring.open(sealed, &aad(org, id))?;
        String::from_utf8(bytes.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| WebhookError::Invalid("stored secret is not text".into()))
    }
}

/// The endpoint `id` of `org` on a connection in its tenant transaction.
pub(crate) async fn find(tx: &mut TenantTx, id: Uuid) -> Result<Endpoint, WebhookError> {
    let org = tx.org();
    we::table
        .find(id)
        .filter(db::same_tenant(we::org_id, org.0))
        .select(Endpoint::as_select())
        .first(tx)
        .await
        .optional()?
        .ok_or(WebhookError::NotFound("endpoint"))
}

/// [`find`], locking the row until the transaction ends.
async fn lock(tx: &mut TenantTx, id: Uuid) -> Result<Endpoint, WebhookError> {
    let org = tx.org();
    we::table
        .find(id)
        .filter(db::same_tenant(we::org_id, org.0))
        .select(Endpoint::as_select())
        .for_update()
        .first(tx)
        .await
        .optional()?
        .ok_or(WebhookError::NotFound("endpoint"))
}

pub(crate) struct StoredSecrets {
    pub(crate) current: Sealed,
    pub(crate) previous: Option<(Sealed, DateTime<Utc>)>,
}

/// An endpoint's signing secrets as stored, each sealed as key id, nonce and ciphertext: the
/// current one and, during a rotation's overlap, the previous one with the time it stops
/// signing.
#[derive(Queryable, Selectable)]
#[diesel(table_name = we, check_for_backend(diesel::pg::Pg))]
pub(crate) struct SealedColumns {
    secret_key_id: String,
    secret_nonce: Vec<u8>,
    secret_ciphertext: Vec<u8>,
    previous_key_id: Option<String>,
    previous_nonce: Option<Vec<u8>>,
    previous_ciphertext: Option<Vec<u8>>,
    previous_until: Option<DateTime<Utc>>,
}

impl SealedColumns {
    /// The secrets as [`Sealed`] values; a previous secret counts only with all its columns.
    ///
    /// # Errors
    /// [`WebhookError::Invalid`] when a stored nonce has the wrong length.
    pub(crate) fn into_secrets(self) -> Result<StoredSecrets, WebhookError> {
        let previous = match (
            self.previous_key_id,
            self.previous_nonce,
            self.previous_ciphertext,
            self.previous_until,
        ) {
            (Some(k), Some(n), Some(ct), Some(until)) => Some((sealed(k, &n, ct)?, until)),
            _ => None,
        };
        let current = sealed(
            self.secret_key_id,
            &self.secret_nonce,
            self.secret_ciphertext,
        )?;
        Ok(StoredSecrets { current, previous })
    }
}

fn sealed(key_id: String, nonce: &[u8], ciphertext: Vec<u8>) -> Result<Sealed, WebhookError> {
    let nonce = nonce
        .try_into()
        .map_err(|_| WebhookError::Invalid("stored nonce has the wrong length".into()))?;
    Ok(Sealed {
        key_id,
        nonce,
        ciphertext,
    })
}

async fn secrets(tx: &mut TenantTx, id: Uuid) -> Result<StoredSecrets, WebhookError> {
    let org = tx.org();
    we::table
        .find(id)
        .filter(db::same_tenant(we::org_id, org.0))
        .select(SealedColumns::as_select())
        .first(tx)
        .await
        .optional()?
        .ok_or(WebhookError::NotFound("endpoint"))?
        .into_secrets()
}

/// Appends an audit entry about endpoint `id` in the caller's transaction.
pub(crate) async fn audited(
    tx: &mut TenantTx,
    by: &ChangedBy,
    action: &'static str,
    id: Uuid,
    detail: serde_json::Value,
) -> Result<(), WebhookError> {
    by.record(tx, action, Some(id.to_string()), detail).await?;
    Ok(())
}
