//! `/api/apps`: an organization's API clients (seed 000), managed by admins; `/api/app/me` for an
//! app to check its own key.

use actix_web::{HttpResponse, get, patch, post, web};
use serde::{Deserialize, Serialize};
use tenancy::apps::{self, App};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{AdminUser, AuthApp, Origin, RoleAtLeast};
use crate::error::{ApiError, ErrorBody};
use crate::input::Json;
use crate::reply::{self, Success};
use crate::state::AppState;

/// An app as the API shows it (never its key or key hash): the stored app and whether it has a
/// key.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppBody {
    /// The app as stored.
    #[serde(flatten)]
    pub app: App,
    /// Whether a key is set.
    pub has_api_key: bool,
}

impl From<App> for AppBody {
    fn from(app: App) -> Self {
        Self {
            has_api_key: app.api_key_hint.is_some(),
            app,
        }
    }
}

/// `{ "success": true, "app": … }`
#[derive(Debug, Serialize, ToSchema)]
pub struct AppResponse {
    /// The app.
    pub app: AppBody,
}

/// `{ "success": true, "apps": [...] }`
#[derive(Debug, Serialize, ToSchema)]
pub struct AppListResponse {
    /// The organization's apps.
    pub apps: Vec<AppBody>,
}

/// Body of `POST /api/apps`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAppRequest {
    /// Display name, 1–200 characters.
    pub name: String,
}

/// Body of `PATCH /api/apps/{id}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAppRequest {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// Activate or deactivate (a deactivated app's key stops working at once).
    #[serde(default)]
    pub is_active: Option<bool>,
}

/// The organization's apps (admin).
#[utoipa::path(tag = "apps", security(("bearer" = [])), responses((status = 200, body = Success<AppListResponse>), (status = 403, body = ErrorBody)))]
#[get("/api/apps")]
async fn list_apps(
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
) -> Result<HttpResponse, ApiError> {
    let apps = state
        .db
        .tenant(admin.org_id, async |tx| apps::list(tx).await)
        .await?;
    Ok(reply::ok(AppListResponse {
        apps: apps.into_iter().map(AppBody::from).collect(),
    }))
}

/// Creates an app without a key (admin); issue its key with `POST /internal/apps/{id}/api-key`.
#[utoipa::path(tag = "apps", security(("bearer" = [])), request_body = CreateAppRequest,
    responses((status = 201, body = Success<AppResponse>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/apps")]
async fn create_app(
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    Origin(origin): Origin,
    body: Json<CreateAppRequest>,
) -> Result<HttpResponse, ApiError> {
    let by = admin.changed_by(origin);
    let app = state
        .db
        .tenant(admin.org_id, async |tx| {
            apps::create(tx, &body.name, &by).await
        })
        .await?;
    Ok(reply::created(AppResponse { app: app.into() }))
}

/// One app of the organization (admin).
#[utoipa::path(tag = "apps", security(("bearer" = [])), params(("id" = Uuid, Path, description = "App id")),
    responses((status = 200, body = Success<AppResponse>), (status = 404, body = ErrorBody)))]
#[get("/api/apps/{id}")]
async fn get_app(
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let app = state
        .db
        .tenant(admin.org_id, async |tx| {
            apps::get(tx, id.into_inner()).await
        })
        .await?;
    Ok(reply::ok(AppResponse { app: app.into() }))
}

/// Renames, activates or deactivates an app (admin).
#[utoipa::path(tag = "apps", security(("bearer" = [])), params(("id" = Uuid, Path, description = "App id")),
    request_body = UpdateAppRequest, responses((status = 200, body = Success<AppResponse>), (status = 404, body = ErrorBody)))]
#[patch("/api/apps/{id}")]
async fn update_app(
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    Origin(origin): Origin,
    id: web::Path<Uuid>,
    body: Json<UpdateAppRequest>,
) -> Result<HttpResponse, ApiError> {
    let app = state
        .db
        .tenant(admin.org_id, async |tx| {
            apps::update(
                tx,
                id.into_inner(),
                body.name.as_deref(),
                body.is_active,
                &admin.changed_by(origin),
            )
            .await
        })
        .await?;
    state.dialpad_apps.forget(app.id).await;
    Ok(reply::ok(AppResponse { app: app.into() }))
}

/// The app the presented API key belongs to (`x-app-api-key` header or `api_key` query).
#[utoipa::path(tag = "apps", security(("app_key" = [])), responses((status = 200, body = Success<AppResponse>), (status = 401, body = ErrorBody)))]
#[get("/api/app/me")]
async fn current_app(
    state: web::Data<AppState>,
    AuthApp(app): AuthApp,
) -> Result<HttpResponse, ApiError> {
    let app = state
        .db
        .tenant(app.org_id, async |tx| apps::get(tx, app.app_id).await)
        .await?;
    Ok(reply::ok(AppResponse { app: app.into() }))
}

/// Registers the app routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(list_apps)
        .service(create_app)
        .service(get_app)
        .service(update_app)
        .service(current_app);
}
