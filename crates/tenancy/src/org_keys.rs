//! Organization API keys: service accounts for the whole REST API (docs/integrating.md).
//!
//! A key is `sk_` followed by 64 lower-case hex characters (32 CSPRNG bytes), shown once; only
//! its peppered HMAC-SHA-256 is stored, as for app keys ([`crate::api_keys`] explains why a fast
//! keyed hash is right for random keys). The `sk_` prefix keeps it apart from an app key (`app_`)
//! and from a user's JWT (`eyJ…`). A key carries [`Scopes`] and an optional expiry; rotation
//! issues a successor and lets the old key work until a chosen time (overlap); revocation is
//! immediate. Its last use (time and client address) is recorded at most once a minute.
//! Creation, rotation and revocation are audited in the same transaction ([`crate::audit`]).

use std::net::IpAddr;

use crate::schema::org_api_keys;
use chrono::{DateTime, Duration, Utc};
use db::{AsyncPgConnection, Db, DbError, OrgId, SystemOp, TenantTx};
use diesel::{
    ExpressionMethods, OptionalExtension, QueryDsl, Queryable, Selectable, SelectableHelper,
};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::TenancyError;
use crate::api_keys::{ApiKeyPepper, PlainApiKey, has_key_shape, hint};
use crate::audit::{self, Actor, AuditRecord, RequestOrigin};
use crate::scopes::Scopes;

/// Prefix of every organization API key.
pub const KEY_PREFIX: &str = "sk_";
/// Seconds between two records of a key's last use.
pub const LAST_USED_RESOLUTION_SECS: u32 = 60;
/// How long the replaced key keeps working after a rotation unless the caller says otherwise.
pub const DEFAULT_ROTATION_OVERLAP: Duration = Duration::hours(24);
/// The longest overlap a rotation may give the replaced key.
pub const MAX_ROTATION_OVERLAP: Duration = Duration::days(30);

/// Whether `candidate` has the shape of an organization API key (checked before any hashing).
#[must_use]
pub fn looks_like_key(candidate: &str) -> bool {
    has_key_shape(candidate, KEY_PREFIX)
}

/// What an organization API key proves: its organization and its scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPrincipal {
    /// The key's organization: the tenant for everything done with it.
    pub org_id: OrgId,
    /// The key.
    pub key_id: Uuid,
    /// What it may do.
    pub scopes: Scopes,
}

/// What `auth_org_key_by_hash` found.
struct KeyMatch {
    id: Uuid,
    org_id: Uuid,
    scopes: Vec<String>,
    key_hash: Vec<u8>,
    stale: bool,
}

/// Authenticates a presented key: shape, keyed hash, look-up of a key neither revoked nor
/// expired through `auth_org_key_by_hash` (one round trip), constant-time comparison; then, at
/// most once a minute, records its last use and the client's `address`.
///
/// # Errors
/// [`TenancyError::Unauthenticated`] for a malformed, unknown, revoked or expired key;
/// [`TenancyError::Db`].
pub async fn authenticate(
    db: &Db,
    pepper: &ApiKeyPepper,
    presented: &str,
    address: Option<IpAddr>,
) -> Result<KeyPrincipal, TenancyError> {
    if !looks_like_key(presented) {
        return Err(TenancyError::Unauthenticated);
    }
    let hash = pepper.hash(presented);
    let found: Option<KeyMatch> = db
        .system_read(SystemOp::ApiKeyLookup, async move |c| {
            let stale_secs = f64::from(LAST_USED_RESOLUTION_SECS);
            diesel::select(crate::auth_sql::auth_org_key_by_hash(hash, stale_secs))
                .get_result::<(Uuid, Uuid, Vec<String>, Vec<u8>, bool)>(c)
                .await
                .optional()
                .map(|row| {
                    row.map(|(id, org_id, scopes, key_hash, stale)| KeyMatch {
                        id,
                        org_id,
                        scopes,
                        key_hash,
                        stale,
                    })
                })
                .map_err(DbError::from)
        })
        .await?;
    let found = found
        .filter(|m| pepper.verify(presented, &m.key_hash))
        .ok_or(TenancyError::Unauthenticated)?;
    let principal = KeyPrincipal {
        org_id: OrgId(found.org_id),
        key_id: found.id,
        scopes: Scopes::parse(&found.scopes)?,
    };
    if found.stale {
        touch(db, principal, address).await?;
    }
    Ok(principal)
}

async fn touch(db: &Db, key: KeyPrincipal, address: Option<IpAddr>) -> Result<(), TenancyError> {
    db.tenant(key.org_id, async move |tx| {
        diesel::update(
            org_api_keys::table
                .filter(org_api_keys::id.eq(key.key_id))
                .filter(db::same_tenant(org_api_keys::org_id, key.org_id.0)),
        )
        .set((
            org_api_keys::last_used_at.eq(Some(Utc::now())),
            org_api_keys::last_used_address.eq(address.map(|a| a.to_string())),
        ))
        .execute(tx)
        .await?;
        Ok::<_, TenancyError>(())
    })
    .await
}

/// A key as the API shows it: never the key, only its hint.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = org_api_keys, check_for_backend(diesel::pg::Pg))]
#[schema(as = OrgKeyRecord)]
pub struct OrgKey {
    /// Key id.
    pub id: Uuid,
    /// Name given at creation.
    pub name: String,
    /// Scope strings (`<area>:read|write`).
    #[diesel(deserialize_as = db::arrays::TextList)]
    pub scopes: Vec<String>,
    /// `first 8...last 4` of the key.
    pub key_hint: String,
    /// When it stops working, RFC 3339 UTC; none when it does not expire.
    #[serde(serialize_with = "db::timestamp::serialize_opt")]
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize_opt")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// The key this one replaced by rotation.
    pub rotated_from: Option<Uuid>,
    /// The user or key that created it.
    pub created_by: Option<Uuid>,
    /// When created, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// Last use, RFC 3339 UTC, recorded at most once a minute.
    #[serde(serialize_with = "db::timestamp::serialize_opt")]
    pub last_used_at: Option<DateTime<Utc>>,
    /// The client address of the last use.
    pub last_used_address: Option<String>,
}

impl OrgKey {
    /// `active`, `expired` or `revoked`, at `now`.
    #[must_use]
    pub fn status(&self, now: DateTime<Utc>) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at.is_some_and(|t| t <= now) {
            "expired"
        } else {
            "active"
        }
    }
}

/// A key just issued: the key itself (shown once) and how it is stored.
#[derive(Debug)]
pub struct IssuedOrgKey {
    /// The key, shown once.
    pub key: PlainApiKey,
    /// The stored key.
    pub stored: OrgKey,
}

/// What creating a key needs.
#[derive(Debug, Clone)]
pub struct NewOrgKey {
    /// Name, 1–100 characters.
    pub name: String,
    /// Scope strings.
    pub scopes: Vec<String>,
    /// Optional expiry, in the future.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Who is managing keys: the actor, and for a key its own scopes, which a key it creates or
/// rotates may not exceed.
#[derive(Debug, Clone, Copy)]
pub struct KeyManager {
    /// Who acts.
    pub actor: Actor,
    /// The acting key's scopes; `None` for an admin.
    pub reach: Option<Scopes>,
}

impl KeyManager {
    fn check_reach(self, scopes: Scopes) -> Result<(), TenancyError> {
        match self.reach {
            Some(reach) if !scopes.within(reach) => Err(TenancyError::Forbidden(
                "a key cannot grant scopes it does not have".into(),
            )),
            _ => Ok(()),
        }
    }
}

/// Creates a key for `org_id`. Audited as `api_key.created`.
///
/// # Errors
/// [`TenancyError::Invalid`] for a bad name, scope or expiry; [`TenancyError::Forbidden`] when
/// a key would grant more than its creator has; [`TenancyError::Db`].
pub async fn create(
    db: &Db,
    pepper: &ApiKeyPepper,
    org_id: OrgId,
    by: KeyManager,
    origin: RequestOrigin,
    new: NewOrgKey,
) -> Result<IssuedOrgKey, TenancyError> {
    let name = new.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(TenancyError::Invalid(
            "name must be 1-100 characters".into(),
        ));
    }
    let scopes = Scopes::parse(&new.scopes)?;
    by.check_reach(scopes)?;
    if new.expires_at.is_some_and(|t| t <= Utc::now()) {
        return Err(TenancyError::Invalid(
            "expires_at must be in the future".into(),
        ));
    }
    let key = PlainApiKey::generate_with_prefix(KEY_PREFIX)?;
    let row = KeyRow {
        org_id,
        name,
        scopes: scopes.names(),
        hash: pepper.hash(key.expose()),
        hint: hint(key.expose()),
        expires_at: new.expires_at,
        created_by: by.actor.id(),
    };
    let stored = db
        .tenant(org_id, async move |tx| {
            let stored = insert(tx, row, None).await?;
            let detail =
                json!({"name": stored.name, "scopes": scopes.names(), "key_hint": stored.key_hint});
            let record = AuditRecord {
                actor: by.actor,
                action: "api_key.created",
                target: Some(stored.id.to_string()),
                detail,
            };
            audit::record(tx, &origin, record).await?;
            Ok::<_, TenancyError>(stored)
        })
        .await?;
    tracing::info!(org_id = %org_id, key_id = %stored.id, "organization API key created");
    Ok(IssuedOrgKey { key, stored })
}

/// A key row to insert.
struct KeyRow {
    org_id: OrgId,
    name: String,
    scopes: Vec<String>,
    hash: Vec<u8>,
    hint: String,
    expires_at: Option<DateTime<Utc>>,
    created_by: Option<Uuid>,
}

async fn insert(
    c: &mut AsyncPgConnection,
    row: KeyRow,
    rotated_from: Option<Uuid>,
) -> Result<OrgKey, TenancyError> {
    Ok(diesel::insert_into(org_api_keys::table)
        .values((
            org_api_keys::id.eq(Uuid::new_v4()),
            org_api_keys::org_id.eq(row.org_id.0),
            org_api_keys::name.eq(row.name),
            org_api_keys::scopes.eq(row.scopes.into_iter().map(Some).collect::<Vec<_>>()),
            org_api_keys::key_hash.eq(row.hash),
            org_api_keys::key_hint.eq(row.hint),
            org_api_keys::expires_at.eq(row.expires_at),
            org_api_keys::rotated_from.eq(rotated_from),
            org_api_keys::created_by.eq(row.created_by),
        ))
        .returning(OrgKey::as_returning())
        .get_result(c)
        .await?)
}

/// Every key of `org_id`, newest first (revoked and expired ones included, with their status).
///
/// # Errors
/// [`TenancyError::Db`].
pub async fn list(tx: &mut TenantTx) -> Result<Vec<OrgKey>, TenancyError> {
    let org_id = tx.org();
    Ok(org_api_keys::table
        .filter(org_api_keys::org_id.eq(org_id.0))
        .order((org_api_keys::created_at.desc(), org_api_keys::id.desc()))
        .select(OrgKey::as_select())
        .load(tx)
        .await?)
}

async fn lock_active(tx: &mut TenantTx, key_id: Uuid) -> Result<OrgKey, TenancyError> {
    let org_id = tx.org();
    let key: OrgKey = org_api_keys::table
        .filter(org_api_keys::id.eq(key_id))
        .filter(db::same_tenant(org_api_keys::org_id, org_id.0))
        .select(OrgKey::as_select())
        .for_update()
        .first(tx)
        .await
        .optional()?
        .ok_or(TenancyError::NotFound("API key"))?;
    match key.status(Utc::now()) {
        "active" => Ok(key),
        status => Err(TenancyError::Invalid(format!("this API key is {status}"))),
    }
}

/// Rotates a key: issues a successor with the same name, scopes and expiry, and lets the old
/// key work until `old_key_valid_until` (default [`DEFAULT_ROTATION_OVERLAP`] from now, at most
/// [`MAX_ROTATION_OVERLAP`]; never later than its own expiry; now ends it at once). Audited as
/// `api_key.rotated`.
///
/// # Errors
/// [`TenancyError::NotFound`]; [`TenancyError::Invalid`] for a revoked or expired key or an
/// overlap out of range; [`TenancyError::Forbidden`] when a key rotates a key with more scopes
/// than its own; [`TenancyError::Db`].
pub async fn rotate(
    db: &Db,
    pepper: &ApiKeyPepper,
    org_id: OrgId,
    by: KeyManager,
    origin: RequestOrigin,
    key_id: Uuid,
    old_key_valid_until: Option<DateTime<Utc>>,
) -> Result<IssuedOrgKey, TenancyError> {
    let now = Utc::now();
    let until = old_key_valid_until.unwrap_or(now + DEFAULT_ROTATION_OVERLAP);
    if until < now - Duration::seconds(5) || until > now + MAX_ROTATION_OVERLAP {
        return Err(TenancyError::Invalid(
            "old_key_valid_until must be between now and 30 days from now".into(),
        ));
    }
    let key = PlainApiKey::generate_with_prefix(KEY_PREFIX)?;
    let new_hash = pepper.hash(key.expose());
    let new_hint = hint(key.expose());
    let stored = db
        .tenant(org_id, async move |tx| {
            let old = lock_active(tx, key_id).await?;
            let scopes = Scopes::parse(&old.scopes)?;
            by.check_reach(scopes)?;
            let until = old.expires_at.map_or(until, |t| t.min(until));
            diesel::update(org_api_keys::table.filter(org_api_keys::id.eq(old.id)))
                .set(org_api_keys::expires_at.eq(Some(until)))
                .execute(tx)
                .await?;
            let row = KeyRow {
                org_id,
                name: old.name.clone(),
                scopes: scopes.names(),
                hash: new_hash,
                hint: new_hint,
                expires_at: old.expires_at,
                created_by: by.actor.id(),
            };
            let stored = insert(tx, row, Some(old.id)).await?;
            let record = AuditRecord {
                actor: by.actor,
                action: "api_key.rotated",
                target: Some(old.id.to_string()),
                detail: json!({"new_key_id": stored.id, "old_key_hint": old.key_hint,
                    "new_key_hint": stored.key_hint, "old_key_valid_until": until}),
            };
            audit::record(tx, &origin, record).await?;
            Ok::<_, TenancyError>(stored)
        })
        .await?;
    tracing::info!(org_id = %org_id, key_id = %stored.id, rotated_from = %key_id, "organization API key rotated");
    Ok(IssuedOrgKey { key, stored })
}

/// Revokes a key: it stops working on the very next request. Audited as `api_key.revoked`.
///
/// # Errors
/// [`TenancyError::NotFound`]; [`TenancyError::Invalid`] for a key already revoked or
/// expired; [`TenancyError::Db`].
pub async fn revoke(
    tx: &mut TenantTx,
    actor: Actor,
    origin: RequestOrigin,
    key_id: Uuid,
) -> Result<OrgKey, TenancyError> {
    let old = lock_active(tx, key_id).await?;
    let revoked: OrgKey = diesel::update(org_api_keys::table.filter(org_api_keys::id.eq(old.id)))
        .set(org_api_keys::revoked_at.eq(Some(Utc::now())))
        .returning(OrgKey::as_returning())
        .get_result(tx)
        .await?;
    let record = AuditRecord {
        actor,
        action: "api_key.revoked",
        target: Some(old.id.to_string()),
        detail: json!({"key_hint": old.key_hint}),
    };
    audit::record(tx, &origin, record).await?;
    Ok(revoked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organization_keys_are_told_apart_from_app_keys() {
        let key = PlainApiKey::generate_with_prefix(KEY_PREFIX).unwrap();
        assert!(looks_like_key(key.expose()));
        assert!(!crate::api_keys::looks_like_key(key.expose()));
        let app = PlainApiKey::generate().unwrap();
        assert!(!looks_like_key(app.expose()));
        assert!(hint(key.expose()).starts_with("sk_"));
    }
}
