//! App API keys (seed 000 "API Key Management", with our hardening).
//!
//! A key is `app_` followed by 64 lower-case hex characters: 32 bytes (256 bits) from the
//! operating system's CSPRNG, shown once at issuance. Only `HMAC-SHA-256(pepper, key)` is stored.
//! A slow password hash (argon2) would add nothing here: its purpose is to make guessing a
//! low-entropy secret expensive, and a 256-bit random key cannot be guessed at any speed. A fast
//! keyed hash lets every request authenticate in microseconds through a unique index, and the
//! server-side pepper (never in the database) means a stolen database dump alone cannot even be
//! used to test candidate keys. The hint keeps the first 8 and last 4 characters
//! (`app_a1b2…e1f2`), as the seed specifies.

use crate::schema::api_key_audit_log;
use crate::schema::apps as apps_table;
use chrono::{DateTime, Utc};
use db::{Db, DbError, OrgId, Page, SystemOp, TenantTx};
use diesel::{
    ExpressionMethods, OptionalExtension, QueryDsl, Queryable, Selectable, SelectableHelper,
};
use diesel_async::RunQueryDsl;
use ring::hmac;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::TenancyError;
use crate::apps::{self, App};
use crate::audit::{ChangedBy, short_action};
use crate::secrets::random_bytes;

/// Prefix of every key.
pub const KEY_PREFIX: &str = "app_";
/// Length of a key in characters: the prefix and 64 hex characters.
pub const KEY_LEN: usize = 68;

/// The server-side secret keying the stored hash of every API key. `Debug` is redacted.
#[derive(Clone)]
pub struct ApiKeyPepper(hmac::Key);

impl ApiKeyPepper {
    /// A pepper from configuration (`API_KEY_PEPPER`, at least 32 bytes).
    ///
    /// # Errors
    /// [`TenancyError::Invalid`] when shorter than 32 bytes.
    pub fn new(secret: &[u8]) -> Result<Self, TenancyError> {
        if secret.len() < 32 {
            return Err(TenancyError::Invalid(
                "the API key pepper must be at least 32 bytes".into(),
            ));
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, secret)))
    }

    /// The stored form of `key`: HMAC-SHA-256, 32 bytes.
    #[must_use]
    pub fn hash(&self, key: &str) -> Vec<u8> {
        hmac::sign(&self.0, key.as_bytes()).as_ref().to_vec()
    }

    /// Whether `stored` is the hash of `key`, compared in constant time.
    #[must_use]
    pub fn verify(&self, key: &str, stored: &[u8]) -> bool {
        hmac::verify(&self.0, key.as_bytes(), stored).is_ok()
    }
}

impl std::fmt::Debug for ApiKeyPepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKeyPepper([redacted])")
    }
}

/// A freshly generated key, shown once. `Debug` is redacted.
pub struct PlainApiKey(String);

impl PlainApiKey {
    /// Generates `app_` + 64 hex characters from 32 CSPRNG bytes.
    ///
    /// # Errors
    /// [`TenancyError::Crypto`] if the CSPRNG fails.
    pub fn generate() -> Result<Self, TenancyError> {
        Self::generate_with_prefix(KEY_PREFIX)
    }

    /// Generates `prefix` + 64 hex characters from 32 CSPRNG bytes (organization API keys use
    /// their own prefix, so the two kinds of key are never confused).
    ///
    /// # Errors
    /// [`TenancyError::Crypto`] if the CSPRNG fails.
    pub fn generate_with_prefix(prefix: &str) -> Result<Self, TenancyError> {
        Ok(Self(format!(
            "{prefix}{}",
            hex::encode(random_bytes::<32>()?)
        )))
    }

    /// The key itself, for the one response that shows it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PlainApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PlainApiKey({})", hint(&self.0))
    }
}

/// `first 8…last 4` of a key, for example `app_a1b2...e1f2` (seed 000 "Hint format").
#[must_use]
pub fn hint(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 12 {
        return "…".into();
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}...{tail}")
}

/// Whether `candidate` has the shape of a key (cheap pre-check before any hashing).
#[must_use]
pub fn looks_like_key(candidate: &str) -> bool {
    has_key_shape(candidate, KEY_PREFIX)
}

/// Whether `candidate` is `prefix` followed by exactly 64 lower-case hex characters.
#[must_use]
pub fn has_key_shape(candidate: &str, prefix: &str) -> bool {
    candidate.len() == prefix.len() + 64
        && candidate.starts_with(prefix)
        && candidate[prefix.len()..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// An authenticated app: what an API key proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppPrincipal {
    /// The app's organization: the tenant for everything the app does.
    pub org_id: OrgId,
    /// The app.
    pub app_id: Uuid,
}

/// What `auth_app_by_key_hash` found.
struct KeyMatch {
    app_id: Uuid,
    org_id: Uuid,
    api_key_hash: Vec<u8>,
}

/// Authenticates a presented key: shape check, keyed hash, look-up through the narrow
/// `auth_app_by_key_hash` function (active apps only), and a constant-time comparison of the
/// stored hash. The look-up is by a keyed hash the caller cannot steer, so index timing reveals
/// nothing about stored keys.
///
/// # Errors
/// [`TenancyError::Unauthenticated`] for any unknown, revoked, rotated-away or malformed key.
pub async fn authenticate(
    db: &Db,
    pepper: &ApiKeyPepper,
    presented: &str,
) -> Result<AppPrincipal, TenancyError> {
    if !looks_like_key(presented) {
        return Err(TenancyError::Unauthenticated);
    }
    let hash = pepper.hash(presented);
    let found: Option<KeyMatch> = db
        .system_read(SystemOp::ApiKeyLookup, async move |c| {
            diesel::select(crate::auth_sql::auth_app_by_key_hash(hash))
                .get_result::<(Uuid, Uuid, Vec<u8>)>(c)
                .await
                .optional()
                .map(|row| {
                    row.map(|(app_id, org_id, api_key_hash)| KeyMatch {
                        app_id,
                        org_id,
                        api_key_hash,
                    })
                })
                .map_err(DbError::from)
        })
        .await?;
    match found {
        Some(m) if pepper.verify(presented, &m.api_key_hash) => Ok(AppPrincipal {
            org_id: OrgId(m.org_id),
            app_id: m.app_id,
        }),
        _ => Err(TenancyError::Unauthenticated),
    }
}

/// The result of issuing or rotating a key (seed 000 `POST /internal/apps/:app_id/api-key`).
#[derive(Debug)]
pub struct IssuedKey {
    /// The new key, shown once.
    pub key: PlainApiKey,
    /// The app.
    pub app: App,
    /// `created` (first key) or `rotated` (replaced a key).
    pub action: &'static str,
    /// When the key was set (UTC).
    pub rotated_at: DateTime<Utc>,
}

/// Issues a key for one of the organization's apps, replacing (rotating) any current one: the old key stops
/// working at once. Audited as `created` or `rotated` (and in the organization's trail as
/// `app_key.created` or `app_key.rotated`).
///
/// # Errors
/// [`TenancyError::NotFound`] for an app of another organization; [`TenancyError::Db`].
pub async fn issue(
    tx: &mut TenantTx,
    pepper: &ApiKeyPepper,
    app_id: Uuid,
    by: &ChangedBy,
) -> Result<IssuedKey, TenancyError> {
    let org_id = tx.org();
    let key = PlainApiKey::generate()?;
    let new_hash = pepper.hash(key.expose());
    let new_hint = hint(key.expose());
    let current = apps::lock(tx, app_id).await?;
    let action = if current.api_key_hint.is_some() {
        "app_key.rotated"
    } else {
        "app_key.created"
    };
    let now = Utc::now();
    let app: App = diesel::update(
        apps_table::table
            .filter(apps_table::id.eq(app_id))
            .filter(db::same_tenant(apps_table::org_id, org_id.0)),
    )
    .set((
        apps_table::api_key_hash.eq(Some(new_hash)),
        apps_table::api_key_hint.eq(Some(&new_hint)),
        apps_table::api_key_rotated_at.eq(Some(now)),
    ))
    .returning(App::as_returning())
    .get_result(tx)
    .await?;
    let hints = (current.api_key_hint, Some(new_hint));
    audit(tx, app_id, action, hints, by).await?;
    let action = short_action(action);
    Ok(IssuedKey {
        key,
        app,
        action,
        rotated_at: now,
    })
}

/// Revokes an app's key: it stops working at once. Audited as `revoked` (`app_key.revoked`).
///
/// # Errors
/// [`TenancyError::NotFound`] for an app of another organization; [`TenancyError::Invalid`] when the app
/// has no key; [`TenancyError::Db`].
pub async fn revoke(
    tx: &mut TenantTx,
    app_id: Uuid,
    by: &ChangedBy,
) -> Result<(App, DateTime<Utc>), TenancyError> {
    let org_id = tx.org();
    let current = apps::lock(tx, app_id).await?;
    let Some(old_hint) = current.api_key_hint else {
        return Err(TenancyError::Invalid(
            "this app has no active API key".into(),
        ));
    };
    let app: App = diesel::update(
        apps_table::table
            .filter(apps_table::id.eq(app_id))
            .filter(db::same_tenant(apps_table::org_id, org_id.0)),
    )
    .set((
        apps_table::api_key_hash.eq(None::<Vec<u8>>),
        apps_table::api_key_hint.eq(None::<String>),
    ))
    .returning(App::as_returning())
    .get_result(tx)
    .await?;
    audit(tx, app_id, "app_key.revoked", (Some(old_hint), None), by).await?;
    Ok((app, Utc::now()))
}

/// Records an app key event (`app_key.<action>`) in the app's `api_key_audit_log` (as
/// `<action>`) and, on the app, in the organization's audit trail; `hints` are the old and new key hints, never keys.
async fn audit(
    tx: &mut TenantTx,
    app_id: Uuid,
    action: &'static str,
    hints: (Option<String>, Option<String>),
    by: &ChangedBy,
) -> Result<(), TenancyError> {
    let org_id = tx.org();
    let (old_key_hint, new_key_hint) = hints;
    let detail = serde_json::json!({"old_key_hint": old_key_hint, "new_key_hint": new_key_hint});
    diesel::insert_into(api_key_audit_log::table)
        .values((
            api_key_audit_log::id.eq(Uuid::new_v4()),
            api_key_audit_log::org_id.eq(org_id.0),
            api_key_audit_log::app_id.eq(app_id),
            api_key_audit_log::action.eq(short_action(action)),
            api_key_audit_log::old_key_hint.eq(old_key_hint),
            api_key_audit_log::new_key_hint.eq(new_key_hint),
            api_key_audit_log::performed_by.eq(by.actor.id()),
        ))
        .execute(tx)
        .await?;
    by.record(tx, action, Some(app_id.to_string()), detail)
        .await?;
    Ok(())
}

/// Key status without the key (seed 000 `GET …/api-key/status`).
#[derive(Debug, Clone, Serialize)]
pub struct KeyStatus {
    /// The app.
    pub app: App,
    /// Whether a key is set (and the app active).
    pub has_active_key: bool,
    /// `first 8...last 4` of the current key.
    pub key_hint: Option<String>,
    /// When the current key was set.
    pub last_rotated: Option<DateTime<Utc>>,
    /// What the operator should do, if anything: `generate_key` (no key), `rotate_key` (older
    /// than 90 days, seed 000 "rotation recommended every 90 days"), `app_inactive`.
    pub action_needed: Option<&'static str>,
}

/// Days after which rotation is recommended (seed 000, "Production Deployment").
pub const ROTATION_RECOMMENDED_DAYS: i64 = 90;

/// The key status of one of the organization's apps.
///
/// # Errors
/// [`TenancyError::NotFound`]; [`TenancyError::Db`].
pub async fn status(tx: &mut TenantTx, app_id: Uuid) -> Result<KeyStatus, TenancyError> {
    let app = apps::get(tx, app_id).await?;
    let has_key = app.api_key_hint.is_some();
    let action_needed = if !app.is_active {
        Some("app_inactive")
    } else if !has_key {
        Some("generate_key")
    } else if app
        .api_key_rotated_at
        .is_some_and(|t| Utc::now() - t > chrono::Duration::days(ROTATION_RECOMMENDED_DAYS))
    {
        Some("rotate_key")
    } else {
        None
    };
    Ok(KeyStatus {
        has_active_key: has_key && app.is_active,
        key_hint: app.api_key_hint.clone(),
        last_rotated: app.api_key_rotated_at,
        action_needed,
        app,
    })
}

/// One audit entry (seed 000 `audit_log[]`).
#[derive(Debug, Clone, Serialize, Queryable, Selectable, ToSchema)]
#[diesel(table_name = api_key_audit_log, check_for_backend(diesel::pg::Pg))]
#[schema(as = AuditEntryBody)]
pub struct AuditEntry {
    /// Entry id.
    pub id: Uuid,
    /// The app.
    pub app_id: Uuid,
    /// `created`, `rotated` or `revoked`.
    pub action: String,
    /// Hint of the key replaced or revoked.
    pub old_key_hint: Option<String>,
    /// Hint of the key issued.
    pub new_key_hint: Option<String>,
    /// The user who acted.
    pub performed_by: Option<Uuid>,
    /// When, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub performed_at: DateTime<Utc>,
    /// When recorded, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
}

/// A page of the audit log, newest first, and the total count.
///
/// # Errors
/// [`TenancyError::NotFound`] for an app of another organization; [`TenancyError::Db`].
pub async fn audit_log(
    tx: &mut TenantTx,
    app_id: Uuid,
    page: Page,
) -> Result<(Vec<AuditEntry>, i64), TenancyError> {
    let org_id = tx.org();
    apps::get(tx, app_id).await?;
    let scoped = || {
        api_key_audit_log::table
            .filter(api_key_audit_log::org_id.eq(org_id.0))
            .filter(api_key_audit_log::app_id.eq(app_id))
    };
    let entries = scoped()
        .order((
            api_key_audit_log::performed_at.desc(),
            api_key_audit_log::id.desc(),
        ))
        .limit(page.limit)
        .offset(page.offset)
        .select(AuditEntry::as_select())
        .load(tx)
        .await?;
    let total = scoped().count().get_result(tx).await?;
    Ok((entries, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_seed_format_and_hint() {
        let key = PlainApiKey::generate().unwrap();
        assert_eq!(key.expose().len(), KEY_LEN);
        assert!(looks_like_key(key.expose()));
        let h = hint(key.expose());
        assert_eq!(h.len(), 8 + 3 + 4);
        assert!(h.starts_with("app_") && key.expose().ends_with(&h[11..]));
        assert!(!format!("{key:?}").contains(key.expose()));
        assert_ne!(key.expose(), PlainApiKey::generate().unwrap().expose());
    }

    #[test]
    fn malformed_keys_are_rejected_before_hashing() {
        for bad in [
            "",
            "app_",
            "app_XYZ",
            &format!("key_{}", "a".repeat(64)),
            &format!("app_{}", "A".repeat(64)),
        ] {
            assert!(!looks_like_key(bad), "{bad}");
        }
    }

    #[test]
    fn the_keyed_hash_verifies_in_constant_time_and_depends_on_the_pepper() {
        let pepper = ApiKeyPepper::new(&[7u8; 32]).unwrap();
        let other = ApiKeyPepper::new(&[8u8; 32]).unwrap();
        let key = PlainApiKey::generate().unwrap();
        let stored = pepper.hash(key.expose());
        assert_eq!(stored.len(), 32);
        assert!(pepper.verify(key.expose(), &stored));
        assert!(!other.verify(key.expose(), &stored));
        assert!(ApiKeyPepper::new(&[1u8; 31]).is_err());
    }
}
