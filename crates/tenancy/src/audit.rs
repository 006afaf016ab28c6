//! The organization's audit trail (`audit_events`, append-only): who did what, from where, in
//! which request. Organization API key events, every write made with a key and user changes
//! are recorded here by this crate; the owners of credentials, user mappings, messages and
//! webhook endpoints record their changes through [`ChangedBy::record`] in the change's own
//! transaction. Admins (and keys with `audit:read`) read it through `GET /api/audit-log`.

use crate::schema::audit_events;
use chrono::{DateTime, Utc};
use db::{DbError, TenantTx};
use diesel::{
    ExpressionMethods, QueryDsl, Queryable, Selectable, SelectableHelper, TextExpressionMethods,
};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::TenancyError;

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in user.
    User(Uuid),
    /// An organization API key.
    ApiKey(Uuid),
    /// An app, through its app key.
    App(Uuid),
    /// The platform itself (a worker, a schedule).
    System,
}

impl Actor {
    /// `user`, `api_key`, `app` or `system`, as stored in `actor_type`.
    #[must_use]
    pub const fn kind(self) -> &'static str {
        match self {
            Self::User(_) => "user",
            Self::ApiKey(_) => "api_key",
            Self::App(_) => "app",
            Self::System => "system",
        }
    }

    /// The user's, key's or app's id; none for the platform.
    #[must_use]
    pub const fn id(self) -> Option<Uuid> {
        match self {
            Self::User(id) | Self::ApiKey(id) | Self::App(id) => Some(id),
            Self::System => None,
        }
    }
}

/// Where a request came from, for the audit trail.
#[derive(Debug, Clone, Default)]
pub struct RequestOrigin {
    /// The client's address (the trusted-proxy header's when configured, else the peer's).
    pub address: Option<String>,
    /// The request id of the access log.
    pub request_id: Option<String>,
}

/// Who made a change and from where: what every audited operation is given, so its entry
/// commits with the change.
#[derive(Debug, Clone)]
pub struct ChangedBy {
    /// The user, key or app; [`Actor::System`] for the platform's own changes.
    pub actor: Actor,
    /// The request's address and id (empty for the platform's own changes).
    pub origin: RequestOrigin,
}

impl ChangedBy {
    /// The platform itself (a worker, a schedule), outside any request.
    #[must_use]
    pub fn system() -> Self {
        Self {
            actor: Actor::System,
            origin: RequestOrigin::default(),
        }
    }

    /// Appends an entry by this actor in the caller's tenant transaction: `action` (dotted,
    /// for example `credential.stored`) on `target` with `detail` (never a secret).
    ///
    /// # Errors
    /// [`DbError::Query`].
    pub async fn record(
        &self,
        tx: &mut TenantTx,
        action: &'static str,
        target: Option<String>,
        detail: serde_json::Value,
    ) -> Result<(), DbError> {
        let entry = AuditRecord {
            actor: self.actor,
            action,
            target,
            detail,
        };
        self::record(tx, &self.origin, entry).await
    }
}

/// `action` without its family (`credential.stored` → `stored`), as the older per-crate logs
/// (`credential_audit_log`, `user_mapping_audit_log`, `api_key_audit_log`) name it.
#[must_use]
pub fn short_action(action: &'static str) -> &'static str {
    action.split_once('.').map_or(action, |(_, short)| short)
}

/// One thing that happened, to record.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    /// Who acted.
    pub actor: Actor,
    /// What happened, dotted, for example `api_key.created` or `api_key.write`.
    pub action: &'static str,
    /// What it happened to, for example a key's id or a route.
    pub target: Option<String>,
    /// Details; never a secret.
    pub detail: serde_json::Value,
}

/// Appends `record` in the caller's tenant transaction, so it commits with the change it
/// describes.
///
/// # Errors
/// [`DbError::Query`].
pub async fn record(
    tx: &mut TenantTx,
    origin: &RequestOrigin,
    record: AuditRecord,
) -> Result<(), DbError> {
    let org_id = tx.org();
    diesel::insert_into(audit_events::table)
        .values((
            audit_events::id.eq(Uuid::new_v4()),
            audit_events::org_id.eq(org_id.0),
            audit_events::actor_type.eq(record.actor.kind()),
            audit_events::actor_id.eq(record.actor.id()),
            audit_events::action.eq(record.action),
            audit_events::target.eq(record.target),
            audit_events::address.eq(origin.address.as_deref()),
            audit_events::request_id.eq(origin.request_id.as_deref()),
            audit_events::detail.eq(record.detail),
        ))
        .execute(tx)
        .await?;
    Ok(())
}

/// One entry of the audit trail.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, ToSchema)]
#[diesel(table_name = audit_events, check_for_backend(diesel::pg::Pg))]
#[schema(as = AuditEventView)]
pub struct AuditEvent {
    /// Entry id.
    pub id: Uuid,
    /// When, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub occurred_at: DateTime<Utc>,
    /// `user`, `api_key`, `app` or `system`.
    pub actor_type: String,
    /// The user's, key's or app's id.
    pub actor_id: Option<Uuid>,
    /// What happened, for example `api_key.created`.
    pub action: String,
    /// What it happened to.
    pub target: Option<String>,
    /// The client's address.
    pub address: Option<String>,
    /// The request id.
    pub request_id: Option<String>,
    /// Details (never a secret).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// Which entries to read: newest first, `limit` (1–200) from `offset`.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this action (exact) or, ending in `.`, this family (`api_key.`).
    pub action: Option<String>,
    /// Only this actor type.
    pub actor_type: Option<String>,
    /// Only this actor.
    pub actor_id: Option<Uuid>,
    /// Only entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only entries before this time.
    pub until: Option<DateTime<Utc>>,
    /// Page size.
    pub limit: i64,
    /// Entries skipped.
    pub offset: i64,
}

/// `raw` with LIKE's wildcards and escape character escaped, to match literally.
fn like_literal(raw: &str) -> String {
    raw.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// A page of the organization's audit trail, newest first, and the total matching.
///
/// # Errors
/// [`TenancyError::Db`].
pub async fn list(
    tx: &mut TenantTx,
    filter: AuditFilter,
) -> Result<(Vec<AuditEvent>, i64), TenancyError> {
    let org_id = tx.org();
    let scoped = || {
        let mut q = audit_events::table
            .filter(audit_events::org_id.eq(org_id.0))
            .into_boxed();
        if let Some(action) = &filter.action {
            q = match action.strip_suffix('.') {
                Some(family) => {
                    q.filter(audit_events::action.like(format!("{}.%", like_literal(family))))
                }
                None => q.filter(audit_events::action.eq(action.clone())),
            };
        }
        if let Some(kind) = &filter.actor_type {
            q = q.filter(audit_events::actor_type.eq(kind.clone()));
        }
        if let Some(id) = filter.actor_id {
            q = q.filter(audit_events::actor_id.eq(id));
        }
        if let Some(since) = filter.since {
            q = q.filter(audit_events::occurred_at.ge(since));
        }
        if let Some(until) = filter.until {
            q = q.filter(audit_events::occurred_at.lt(until));
        }
        q
    };
    let entries = scoped()
        .order((audit_events::occurred_at.desc(), audit_events::id.desc()))
        .limit(filter.limit.clamp(1, 200))
        .offset(filter.offset.max(0))
        .select(AuditEvent::as_select())
        .load(tx)
        .await?;
    let total = scoped().count().get_result(tx).await?;
    Ok((entries, total))
}
