//! Dialpad user → CRM user mappings per app (seed 000 "User Mapping"): one CRM user per Dialpad
//! user and app (`UNIQUE(app_id, dialpad_user_id)`), forward and reverse look-ups, batch sync in
//! one transaction, and every change in the append-only `user_mapping_audit_log`.
//!
//! Callers pass an app the caller's organization owns; the database enforces it too (composite
//! foreign key on `(org_id, app_id)`).

mod schema;

use crate::schema::{dialpad_user_mappings as mappings, user_mapping_audit_log as audit};
use chrono::{DateTime, Utc};
use db::{DbError, Page, TenantTx};
use diesel::{
    BoolExpressionMethods, ExpressionMethods, OptionalExtension, QueryDsl, Queryable, Selectable,
    SelectableHelper,
};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use tenancy::audit::short_action;
/// Who changes a mapping (the app with its key, an admin, or an organization API key) and from
/// where; recorded in both audit logs.
pub use tenancy::audit::{Actor, ChangedBy};
use utoipa::ToSchema;
use uuid::Uuid;

/// Largest batch accepted by [`batch_upsert`].
pub const MAX_BATCH: usize = 1_000;

/// Errors of the mapping operations.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// Input breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// No such mapping for this app.
    #[error("user mapping not found")]
    NotFound,
    /// A database failure.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for MappingError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}

/// A mapping (seed 000 response shape).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = mappings, check_for_backend(diesel::pg::Pg))]
#[schema(as = MappingBody)]
pub struct Mapping {
    /// Id.
    pub id: Uuid,
    /// The app.
    pub app_id: Uuid,
    /// Dialpad's user id (a large integer).
    pub dialpad_user_id: i64,
    /// The CRM's user id (1–200 characters).
    pub crm_user_id: String,
    /// Created (UTC).
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

fn validate(dialpad_user_id: i64, crm_user_id: &str) -> Result<Entry, MappingError> {
    if dialpad_user_id <= 0 {
        return Err(MappingError::Invalid(
            "dialpad_user_id must be a positive integer".into(),
        ));
    }
    let crm = crm_user_id.trim();
    if crm.is_empty() || crm.chars().count() > 200 {
        return Err(MappingError::Invalid(
            "crm_user_id must be 1-200 characters".into(),
        ));
    }
    Ok(Entry {
        dialpad_user_id,
        crm_user_id: crm.to_owned(),
    })
}

/// A validated mapping to write: a positive Dialpad user id and a trimmed CRM user id of
/// 1–200 characters.
struct Entry {
    dialpad_user_id: i64,
    crm_user_id: String,
}

async fn upsert_one(
    tx: &mut TenantTx,
    app: Uuid,
    entry: &Entry,
    by: &ChangedBy,
) -> Result<Mapping, MappingError> {
    let org = tx.org();
    let (dialpad_user_id, crm_user_id) = (entry.dialpad_user_id, entry.crm_user_id.as_str());
    let previous: Option<String> = mappings::table
        .filter(
            mappings::app_id
                .eq(app)
                .and(db::same_tenant(mappings::org_id, org.0)),
        )
        .filter(mappings::dialpad_user_id.eq(dialpad_user_id))
        .select(mappings::crm_user_id)
        .for_update()
        .first(tx)
        .await
        .optional()?;
    let mapping: Mapping = diesel::insert_into(mappings::table)
        .values((
            mappings::id.eq(Uuid::new_v4()),
            mappings::org_id.eq(org.0),
            mappings::app_id.eq(app),
            mappings::dialpad_user_id.eq(dialpad_user_id),
            mappings::crm_user_id.eq(crm_user_id),
        ))
        .on_conflict((mappings::app_id, mappings::dialpad_user_id))
        .do_update()
        .set(mappings::crm_user_id.eq(crm_user_id))
        .returning(Mapping::as_returning())
        .get_result(tx)
        .await?;
    if previous.as_deref() != Some(crm_user_id) {
        let action = if previous.is_some() {
            "user_mapping.remapped"
        } else {
            "user_mapping.mapped"
        };
        let change = Change {
            action,
            dialpad_user_id,
            old: previous,
            new: Some(crm_user_id.to_owned()),
        };
        record(tx, app, change, by).await?;
    }
    Ok(mapping)
}

/// One change of a mapping, as both audit logs record it.
struct Change {
    /// `user_mapping.mapped`, `.remapped` or `.deleted`.
    action: &'static str,
    dialpad_user_id: i64,
    old: Option<String>,
    new: Option<String>,
}

/// Records `change` in the caller's transaction, in the app's `user_mapping_audit_log` and, as
/// `user_mapping.<action>` on the Dialpad user, in the organization's audit trail.
async fn record(
    tx: &mut TenantTx,
    app: Uuid,
    change: Change,
    by: &ChangedBy,
) -> Result<(), MappingError> {
    let org = tx.org();
    let Change {
        action,
        dialpad_user_id,
        old,
        new,
    } = change;
    let detail = serde_json::json!({
        "app_id": app, "dialpad_user_id": dialpad_user_id,
        "old_crm_user_id": old, "new_crm_user_id": new,
    });
    let (actor_user_id, actor_app_id) = match by.actor {
        Actor::App(app_id) => (None, Some(app_id)),
        other => (other.id(), None),
    };
    diesel::insert_into(audit::table)
        .values((
            audit::id.eq(Uuid::new_v4()),
            audit::org_id.eq(org.0),
            audit::app_id.eq(app),
            audit::action.eq(short_action(action)),
            audit::dialpad_user_id.eq(dialpad_user_id),
            audit::old_crm_user_id.eq(old),
            audit::new_crm_user_id.eq(new),
            audit::actor_user_id.eq(actor_user_id),
            audit::actor_app_id.eq(actor_app_id),
        ))
        .execute(tx)
        .await?;
    let target = Some(dialpad_user_id.to_string());
    by.record(tx, action, target, detail).await?;
    Ok(())
}

/// Creates or updates the mapping of a Dialpad user (seed 000 `POST …/users/map`).
///
/// # Errors
/// [`MappingError::Invalid`], [`MappingError::Db`].
pub async fn upsert(
    tx: &mut TenantTx,
    app: Uuid,
    dialpad_user_id: i64,
    crm_user_id: &str,
    by: &ChangedBy,
) -> Result<Mapping, MappingError> {
    let entry = validate(dialpad_user_id, crm_user_id)?;
    upsert_one(tx, app, &entry, by).await
}

/// Creates or updates many mappings in one transaction: all or none (seed 000
/// `POST …/users/batch-map`). Every entry is validated first; a Dialpad user may appear once.
/// Returns how many were written.
///
/// # Errors
/// [`MappingError::Invalid`] naming the first bad entry (nothing written), [`MappingError::Db`].
pub async fn batch_upsert(
    tx: &mut TenantTx,
    app: Uuid,
    entries: &[(i64, String)],
    by: &ChangedBy,
) -> Result<usize, MappingError> {
    if entries.is_empty() || entries.len() > MAX_BATCH {
        return Err(MappingError::Invalid(format!(
            "mappings must hold 1 to {MAX_BATCH} entries"
        )));
    }
    let mut seen = std::collections::HashSet::new();
    let mut valid = Vec::with_capacity(entries.len());
    for (i, (dialpad_user_id, crm_user_id)) in entries.iter().enumerate() {
        let entry = validate(*dialpad_user_id, crm_user_id)
            .map_err(|e| MappingError::Invalid(format!("mappings[{i}]: {e}")))?;
        if !seen.insert(*dialpad_user_id) {
            return Err(MappingError::Invalid(format!(
                "mappings[{i}]: dialpad_user_id {dialpad_user_id} appears more than once"
            )));
        }
        valid.push(entry);
    }
    for entry in &valid {
        upsert_one(tx, app, entry, by).await?;
    }
    Ok(valid.len())
}

/// A page of the app's mappings, oldest first, and the total.
///
/// # Errors
/// [`MappingError::Db`].
pub async fn list(
    tx: &mut TenantTx,
    app: Uuid,
    page: Page,
) -> Result<(Vec<Mapping>, i64), MappingError> {
    let org = tx.org();
    let scoped =
        || mappings::table.filter(mappings::app_id.eq(app).and(mappings::org_id.eq(org.0)));
    let page = scoped()
        .order((mappings::created_at.asc(), mappings::id.asc()))
        .limit(page.limit)
        .offset(page.offset)
        .select(Mapping::as_select())
        .load(tx)
        .await?;
    let total = scoped().count().get_result(tx).await?;
    Ok((page, total))
}

/// The mapping of a Dialpad user.
///
/// # Errors
/// [`MappingError::NotFound`], [`MappingError::Db`].
pub async fn by_dialpad_user(
    tx: &mut TenantTx,
    app: Uuid,
    dialpad_user_id: i64,
) -> Result<Mapping, MappingError> {
    find_by_dialpad_user(tx, app, dialpad_user_id)
        .await?
        .ok_or(MappingError::NotFound)
}

/// The mapping of a Dialpad user, on a connection already in `org`'s tenant transaction (for
/// event handlers that enrich a broadcast with `target_crm_user` in their own transaction).
///
/// # Errors
/// The database error.
pub async fn find_by_dialpad_user(
    tx: &mut TenantTx,
    app: Uuid,
    dialpad_user_id: i64,
) -> Result<Option<Mapping>, diesel::result::Error> {
    let org = tx.org();
    mappings::table
        .filter(
            mappings::app_id
                .eq(app)
                .and(db::same_tenant(mappings::org_id, org.0)),
        )
        .filter(mappings::dialpad_user_id.eq(dialpad_user_id))
        .select(Mapping::as_select())
        .first(tx)
        .await
        .optional()
}

/// The CRM users of several Dialpad users of an app, keyed by Dialpad user id (unmapped ones
/// are absent), on a connection already in `org`'s tenant transaction.
///
/// # Errors
/// The database error.
pub async fn crm_users(
    tx: &mut TenantTx,
    app: Uuid,
    dialpad_user_ids: &[i64],
) -> Result<std::collections::HashMap<i64, String>, diesel::result::Error> {
    let org = tx.org();
    if dialpad_user_ids.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let rows: Vec<(i64, String)> = mappings::table
        .filter(
            mappings::app_id
                .eq(app)
                .and(db::same_tenant(mappings::org_id, org.0)),
        )
        .filter(mappings::dialpad_user_id.eq_any(dialpad_user_ids))
        .select((mappings::dialpad_user_id, mappings::crm_user_id))
        .load(tx)
        .await?;
    Ok(rows.into_iter().collect())
}

/// The mapping of a CRM user (the most recently changed, should a CRM user map several
/// Dialpad users).
///
/// # Errors
/// [`MappingError::NotFound`], [`MappingError::Db`].
pub async fn by_crm_user(
    tx: &mut TenantTx,
    app: Uuid,
    crm_user_id: &str,
) -> Result<Mapping, MappingError> {
    let org = tx.org();
    let crm = crm_user_id.to_owned();
    mappings::table
        .filter(
            mappings::app_id
                .eq(app)
                .and(db::same_tenant(mappings::org_id, org.0)),
        )
        .filter(mappings::crm_user_id.eq(&crm))
        .order(mappings::updated_at.desc())
        .select(Mapping::as_select())
        .first(tx)
        .await
        .optional()?
        .ok_or(MappingError::NotFound)
}

/// Deletes a mapping by its id or by its Dialpad user.
///
/// # Errors
/// [`MappingError::NotFound`], [`MappingError::Db`].
pub async fn delete(
    tx: &mut TenantTx,
    app: Uuid,
    key: MappingKey,
    by: &ChangedBy,
) -> Result<(), MappingError> {
    let org = tx.org();
    let scoped = mappings::table.filter(
        mappings::app_id
            .eq(app)
            .and(db::same_tenant(mappings::org_id, org.0)),
    );
    let deleted: Option<(i64, String)> = match key {
        MappingKey::Id(id) => diesel::delete(scoped.filter(mappings::id.eq(id)))
            .returning((mappings::dialpad_user_id, mappings::crm_user_id))
            .get_result(tx)
            .await
            .optional()?,
        MappingKey::DialpadUser(user) => {
            diesel::delete(scoped.filter(mappings::dialpad_user_id.eq(user)))
                .returning((mappings::dialpad_user_id, mappings::crm_user_id))
                .get_result(tx)
                .await
                .optional()?
        }
    };
    let (dialpad_user_id, crm) = deleted.ok_or(MappingError::NotFound)?;
    let change = Change {
        action: "user_mapping.deleted",
        dialpad_user_id,
        old: Some(crm),
        new: None,
    };
    record(tx, app, change, by).await
}

/// How [`delete`] finds a mapping.
#[derive(Debug, Clone, Copy)]
pub enum MappingKey {
    /// By mapping id.
    Id(Uuid),
    /// By Dialpad user id.
    DialpadUser(i64),
}
