//! `/internal/apps/{app_id}/api-key…`: API-key issuance, rotation, revocation, status and audit
//! (seed 000 "API Key Management", response bodies as documented there). The seed left these
//! routes open; here they require an admin of the app's organization, and an app of another
//! organization is a 404.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use tenancy::api_keys::{self, AuditEntry};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{AdminUser, Origin, RoleAtLeast};
use crate::error::{ApiError, ErrorBody};
use crate::reply::{self, Success};
use crate::routes::{iso, page};
use crate::state::AppState;

/// Seed 000 `POST /internal/apps/:app_id/api-key` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedKeyResponse {
    /// What happened, and that the key is shown once.
    pub message: String,
    /// The key: `app_` + 64 hex characters. Shown only in this response.
    pub api_key: String,
    /// The app.
    pub app_id: Uuid,
    /// The app's name.
    pub app_name: String,
    /// When the key was issued, RFC 3339 UTC with milliseconds.
    pub rotated_at: String,
    /// Storage advice.
    pub note: String,
}

/// Seed 000 `POST …/api-key/revoke` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedKeyResponse {
    /// What happened.
    pub message: String,
    /// The app.
    pub app_id: Uuid,
    /// The app's name.
    pub app_name: String,
    /// When, RFC 3339 UTC with milliseconds.
    pub revoked_at: String,
}

/// Seed 000 `GET …/api-key/status` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyStatusResponse {
    /// The app.
    pub app_id: Uuid,
    /// The app's name.
    pub app_name: String,
    /// Whether the app can authenticate now (a key is set and the app is active).
    pub has_active_key: bool,
    /// `first 8...last 4` of the current key.
    pub key_hint: Option<String>,
    /// When the current key was issued, RFC 3339 UTC with milliseconds.
    pub last_rotated: Option<String>,
    /// `generate_key`, `rotate_key` (older than 90 days), `app_inactive`, or `null`.
    pub action_needed: Option<String>,
}

/// Seed 000 `GET …/api-key/audit` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditLogResponse {
    /// The app.
    pub app_id: Uuid,
    /// Entries, newest first.
    pub audit_log: Vec<AuditEntry>,
    /// Entries in all.
    pub total: i64,
    /// Page size used.
    pub limit: i64,
    /// Offset used.
    pub offset: i64,
}

/// Paging of the audit log (seed 000: `limit` default 50, `offset` default 0).
#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Page size, 1–500. Default 50.
    pub limit: Option<i64>,
    /// Entries to skip, ≥ 0. Default 0.
    pub offset: Option<i64>,
}

/// Issues a key, or rotates the current one (the old key stops working at once).
#[utoipa::path(
    tag = "api keys",
    security(("bearer" = [])),
    params(("app_id" = Uuid, Path, description = "App id")),
    responses(
        (status = 200, body = Success<IssuedKeyResponse>),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    )
)]
#[post("/internal/apps/{app_id}/api-key")]
async fn issue_key(
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    Origin(origin): Origin,
    app_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let by = admin.changed_by(origin);
    let pepper = &state.auth.api_key_pepper;
    let issued = state
        .db
        .tenant(admin.org_id, async |tx| {
            api_keys::issue(tx, pepper, app_id.into_inner(), &by).await
        })
        .await?;
    let (org_id, app_id, action) = (admin.org_id, issued.app.id, issued.action);
    tracing::info!(%org_id, %app_id, action, "API key issued");
    let verb = if issued.action == "created" {
        "created"
    } else {
        "rotated"
    };
    Ok(reply::ok(IssuedKeyResponse {
        message: format!(
            "API key {verb} successfully. Store this securely - it cannot be retrieved again."
        ),
        api_key: issued.key.expose().to_owned(),
        app_id: issued.app.id,
        app_name: issued.app.name,
        rotated_at: iso(issued.rotated_at),
        note: "Store this key in your .env file. It will never be shown again.".into(),
    }))
}

/// Revokes the current key; the app cannot authenticate until a new key is issued.
#[utoipa::path(
    tag = "api keys",
    security(("bearer" = [])),
    params(("app_id" = Uuid, Path, description = "App id")),
    responses(
        (status = 200, body = Success<RevokedKeyResponse>),
        (status = 404, body = ErrorBody),
        (status = 422, description = "the app has no key", body = ErrorBody)
    )
)]
#[post("/internal/apps/{app_id}/api-key/revoke")]
async fn revoke_key(
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    Origin(origin): Origin,
    app_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (app, revoked_at) = state
        .db
        .tenant(admin.org_id, async |tx| {
            api_keys::revoke(tx, app_id.into_inner(), &admin.changed_by(origin)).await
        })
        .await?;
    tracing::info!(org_id = %admin.org_id, app_id = %app.id, "API key revoked");
    Ok(reply::ok(RevokedKeyResponse {
        message: "API key revoked. App cannot authenticate until new key is generated.".into(),
        app_id: app.id,
        app_name: app.name,
        revoked_at: iso(revoked_at),
    }))
}

/// Key status without the key.
#[utoipa::path(
    tag = "api keys",
    security(("bearer" = [])),
    params(("app_id" = Uuid, Path, description = "App id")),
    responses((status = 200, body = Success<KeyStatusResponse>), (status = 404, body = ErrorBody))
)]
#[get("/internal/apps/{app_id}/api-key/status")]
async fn key_status(
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    app_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let status = state
        .db
        .tenant(admin.org_id, async |tx| {
            api_keys::status(tx, app_id.into_inner()).await
        })
        .await?;
    Ok(reply::ok(KeyStatusResponse {
        app_id: status.app.id,
        app_name: status.app.name,
        has_active_key: status.has_active_key,
        key_hint: status.key_hint,
        last_rotated: status.last_rotated.map(iso),
        action_needed: status.action_needed.map(str::to_owned),
    }))
}

/// The append-only audit log of the app's key operations, newest first.
#[utoipa::path(
    tag = "api keys",
    security(("bearer" = [])),
    params(("app_id" = Uuid, Path, description = "App id"), AuditQuery),
    responses(
        (status = 200, body = Success<AuditLogResponse>),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)
    )
)]
#[get("/internal/apps/{app_id}/api-key/audit")]
async fn key_audit(
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    app_id: web::Path<Uuid>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = page(query.limit, query.offset, 50)?;
    let app_id = app_id.into_inner();
    let (entries, total) = state
        .db
        .tenant(admin.org_id, async |tx| {
            api_keys::audit_log(tx, app_id, db::Page { limit, offset }).await
        })
        .await?;
    Ok(reply::ok(AuditLogResponse {
        app_id,
        audit_log: entries.into_iter().collect(),
        total,
        limit,
        offset,
    }))
}

/// Registers the internal API-key routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(issue_key)
        .service(revoke_key)
        .service(key_status)
        .service(key_audit);
}
