//! Apps: API clients of an organization, such as a CRM integration (seed 000). An app acts for its
//! organization with an API key (see [`crate::api_keys`]).

use crate::schema::apps;
use chrono::{DateTime, Utc};
use db::{DbError, TenantTx};
use diesel::{
    ExpressionMethods, OptionalExtension, QueryDsl, Queryable, Selectable, SelectableHelper,
};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::TenancyError;
use crate::audit::ChangedBy;

/// An app row, without its key hash.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, ToSchema)]
#[diesel(table_name = apps, check_for_backend(diesel::pg::Pg))]
#[schema(as = AppRecord)]
pub struct App {
    /// App id.
    pub id: Uuid,
    /// The app's organization.
    pub org_id: Uuid,
    /// Display name (seed 000 `app_name`), 1–200 characters.
    pub name: String,
    /// An inactive app cannot authenticate, whatever its key.
    pub is_active: bool,
    /// `first 8...last 4` of the current key; `None` without a key.
    #[serde(rename = "key_hint")]
    pub api_key_hint: Option<String>,
    /// When the current key was issued, RFC 3339 UTC.
    #[serde(
        rename = "last_rotated",
        serialize_with = "db::timestamp::serialize_opt"
    )]
    pub api_key_rotated_at: Option<DateTime<Utc>>,
    /// Creation time, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// Last change (UTC).
    #[serde(skip)]
    pub updated_at: DateTime<Utc>,
}

/// Creates an active app without a key. Audited as `app.created`.
///
/// # Errors
/// [`TenancyError::Invalid`] for a bad name; [`TenancyError::Db`].
pub async fn create(tx: &mut TenantTx, name: &str, by: &ChangedBy) -> Result<App, TenancyError> {
    let org = tx.org();
    let name = crate::validate_display_name("app name", name)?;
    let app: App = diesel::insert_into(apps::table)
        .values((
            apps::id.eq(Uuid::new_v4()),
            apps::org_id.eq(org.0),
            apps::name.eq(name),
        ))
        .returning(App::as_returning())
        .get_result(tx)
        .await?;
    let detail = serde_json::json!({"name": app.name});
    by.record(tx, "app.created", Some(app.id.to_string()), detail)
        .await?;
    Ok(app)
}

/// The organization's apps, oldest first.
///
/// # Errors
/// [`TenancyError::Db`].
pub async fn list(tx: &mut TenantTx) -> Result<Vec<App>, TenancyError> {
    let org = tx.org();
    apps::table
        .filter(apps::org_id.eq(org.0))
        .order((apps::created_at.asc(), apps::id.asc()))
        .select(App::as_select())
        .load(tx)
        .await
        .map_err(TenancyError::from)
}

/// One app of the organization.
///
/// # Errors
/// [`TenancyError::NotFound`] when it is not the organization's; [`TenancyError::Db`].
pub async fn get(tx: &mut TenantTx, app_id: Uuid) -> Result<App, TenancyError> {
    let org = tx.org();
    apps::table
        .filter(apps::id.eq(app_id))
        .filter(db::same_tenant(apps::org_id, org.0))
        .select(App::as_select())
        .first(tx)
        .await
        .optional()?
        .ok_or(TenancyError::NotFound("app"))
}

/// Renames, activates or deactivates an app. A deactivated app's key stops working at once; the
/// key is kept so that reactivation restores access. Audited as `app.updated`.
///
/// # Errors
/// [`TenancyError::NotFound`]; [`TenancyError::Db`].
pub async fn update(
    tx: &mut TenantTx,
    app_id: Uuid,
    name: Option<&str>,
    is_active: Option<bool>,
    by: &ChangedBy,
) -> Result<App, TenancyError> {
    let org = tx.org();
    let name = name
        .map(|n| crate::validate_display_name("app name", n))
        .transpose()?;
    let current = lock(tx, app_id).await?;
    let app: App = diesel::update(
        apps::table
            .filter(apps::id.eq(app_id))
            .filter(db::same_tenant(apps::org_id, org.0)),
    )
    .set((
        apps::name.eq(name.unwrap_or(current.name)),
        apps::is_active.eq(is_active.unwrap_or(current.is_active)),
    ))
    .returning(App::as_returning())
    .get_result(tx)
    .await?;
    let detail = serde_json::json!({"name": app.name, "is_active": app.is_active});
    by.record(tx, "app.updated", Some(app_id.to_string()), detail)
        .await?;
    Ok(app)
}

/// Reads an app of the organization and locks its row until the transaction ends (serialises
/// concurrent key rotations).
pub(crate) async fn lock(tx: &mut TenantTx, app_id: Uuid) -> Result<App, TenancyError> {
    let org = tx.org();
    apps::table
        .filter(apps::id.eq(app_id))
        .filter(db::same_tenant(apps::org_id, org.0))
        .select(App::as_select())
        .for_update()
        .first(tx)
        .await
        .optional()?
        .ok_or(TenancyError::NotFound("app"))
}

/// Whether `app_id` is one of the organization's apps, inside the caller's tenant transaction.
///
/// # Errors
/// [`DbError::Query`].
pub async fn exists(tx: &mut TenantTx, app_id: Uuid) -> Result<bool, DbError> {
    let org = tx.org();
    diesel::select(diesel::dsl::exists(
        apps::table
            .filter(apps::id.eq(app_id))
            .filter(db::same_tenant(apps::org_id, org.0)),
    ))
    .get_result(tx)
    .await
    .map_err(DbError::Query)
}
