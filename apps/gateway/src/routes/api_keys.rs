//! `/api/api-keys`: organization API keys (service accounts) for the whole REST API, and
//! `/api/audit-log`: the organization's audit trail (docs/integrating.md). Keys are managed by
//! admins, or by a key with `keys:write` within its own scopes; the audit log is read by admins
//! and keys with `audit:read`.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenancy::audit::{self, AuditEvent, AuditFilter};
use tenancy::caller::Caller;
use tenancy::org_keys::{self, IssuedOrgKey, KeyManager, NewOrgKey, OrgKey};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{AdminUser, RoleAtLeast, authenticated_key, request_origin};
use crate::error::{ApiError, ErrorBody};
use crate::reply::{self, Success};
use crate::routes::Pagination;
use crate::state::AppState;

/// A key as listed (never the key itself): the stored key and its status now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    /// The key as stored.
    #[serde(flatten)]
    pub key: OrgKey,
    /// `active`, `expired` or `revoked`.
    pub status: String,
}

impl From<OrgKey> for ApiKeyView {
    fn from(key: OrgKey) -> Self {
        Self {
            status: key.status(Utc::now()).into(),
            key,
        }
    }
}

/// `GET /api/api-keys` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyListResponse {
    /// Every key of the organization, newest first.
    pub api_keys: Vec<ApiKeyView>,
}

/// A key just created or rotated: the key itself, shown only in this response.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedApiKeyResponse {
    /// The key: `sk_` + 64 hex characters. Send it as `Authorization: Bearer <key>`.
    pub key: String,
    /// The stored key.
    pub api_key: ApiKeyView,
}

impl From<IssuedOrgKey> for IssuedApiKeyResponse {
    fn from(issued: IssuedOrgKey) -> Self {
        Self {
            key: issued.key.expose().to_owned(),
            api_key: issued.stored.into(),
        }
    }
}

/// `POST /api/api-keys` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// Name, 1–100 characters, for example "CRM sync".
    pub name: String,
    /// Scopes, each `<area>:read` or `<area>:write` (write includes read). Areas: `calls`,
    /// `contacts`, `appointments`, `services`, `knowledge_base`, `agents`, `telephony`, `team`,
    /// `webhooks`, `audit`, `integrations`, `apps`, `keys`.
    pub scopes: Vec<String>,
    /// Optional expiry, RFC 3339, in the future.
    pub expires_at: Option<DateTime<Utc>>,
}

/// `POST /api/api-keys/{id}/rotate` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateApiKeyRequest {
    /// Until when the replaced key keeps working, RFC 3339: now to 30 days ahead. Default 24 h
    /// from now; never later than the key's own expiry.
    pub old_key_valid_until: Option<DateTime<Utc>>,
}

/// `POST /api/api-keys/{id}/revoke` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedApiKeyResponse {
    /// The revoked key.
    pub api_key: ApiKeyView,
}

/// Who manages keys in this request: the caller, limited to its own scopes when it is a key.
fn manager(req: &HttpRequest, caller: Caller) -> KeyManager {
    KeyManager {
        actor: caller.actor,
        reach: authenticated_key(req).map(|k| k.scopes),
    }
}

/// Every organization API key, newest first.
#[utoipa::path(tag = "api keys", security(("bearer" = [])),
    responses((status = 200, body = Success<ApiKeyListResponse>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[get("/api/api-keys")]
async fn list_org_keys(
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
) -> Result<HttpResponse, ApiError> {
    let keys = state
        .db
        .tenant(admin.org_id, async |tx| org_keys::list(tx).await)
        .await?;
    Ok(reply::ok(ApiKeyListResponse {
        api_keys: keys.into_iter().map(Into::into).collect(),
    }))
}

/// Creates a key. The key is in this response only; afterwards only its hint is shown.
#[utoipa::path(tag = "api keys", security(("bearer" = [])), request_body = CreateApiKeyRequest,
    responses((status = 201, body = Success<IssuedApiKeyResponse>),
        (status = 403, body = ErrorBody, description = "not an admin, or a key granting scopes it does not have"),
        (status = 422, body = ErrorBody, description = "`validation_failed`: name, scopes or expiry")))]
#[post("/api/api-keys")]
async fn create_org_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    body: web::Json<CreateApiKeyRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let new = NewOrgKey {
        name: body.name,
        scopes: body.scopes,
        expires_at: body.expires_at,
    };
    let pepper = &state.auth.api_key_pepper;
    let by = manager(&req, admin);
    let issued = org_keys::create(
        &state.db,
        pepper,
        admin.org_id,
        by,
        request_origin(&req),
        new,
    )
    .await?;
    Ok(reply::created(IssuedApiKeyResponse::from(issued)))
}

/// Rotates a key: a successor with the same name, scopes and expiry, shown once; the old key
/// keeps working until `old_key_valid_until`.
#[utoipa::path(tag = "api keys", security(("bearer" = [])), request_body = RotateApiKeyRequest,
    params(("id" = Uuid, Path, description = "Key id")),
    responses((status = 201, body = Success<IssuedApiKeyResponse>), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "the key is revoked or expired, or the overlap is out of range")))]
#[post("/api/api-keys/{id}/rotate")]
async fn rotate_org_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    id: web::Path<Uuid>,
    body: Option<web::Json<RotateApiKeyRequest>>,
) -> Result<HttpResponse, ApiError> {
    let until = body.and_then(|b| b.into_inner().old_key_valid_until);
    let pepper = &state.auth.api_key_pepper;
    let by = manager(&req, admin);
    let origin = request_origin(&req);
    let issued = org_keys::rotate(
        &state.db,
        pepper,
        admin.org_id,
        by,
        origin,
        id.into_inner(),
        until,
    )
    .await?;
    Ok(reply::created(IssuedApiKeyResponse::from(issued)))
}

/// Revokes a key: it stops working on the very next request.
#[utoipa::path(tag = "api keys", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Key id")),
    responses((status = 200, body = Success<RevokedApiKeyResponse>), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "the key is already revoked or expired")))]
#[post("/api/api-keys/{id}/revoke")]
async fn revoke_org_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let origin = request_origin(&req);
    let key = state
        .db
        .tenant(admin.org_id, async |tx| {
            org_keys::revoke(tx, admin.actor, origin, id.into_inner()).await
        })
        .await?;
    Ok(reply::ok(RevokedApiKeyResponse {
        api_key: key.into(),
    }))
}

/// Filters and paging of `GET /api/audit-log`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditLogQuery {
    /// One action (`api_key.created`) or, ending in a dot, a family (`api_key.`).
    pub action: Option<String>,
    /// `user`, `api_key`, `app` or `system`.
    pub actor_type: Option<String>,
    /// One actor's id.
    pub actor_id: Option<Uuid>,
    /// Entries at or after this time, RFC 3339.
    pub since: Option<DateTime<Utc>>,
    /// Entries before this time, RFC 3339.
    pub until: Option<DateTime<Utc>>,
    /// Page size, 1–200. Default 50.
    pub limit: Option<i64>,
    /// Entries to skip. Default 0.
    pub offset: Option<i64>,
}

/// `GET /api/audit-log` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgAuditLogResponse {
    /// Entries, newest first.
    pub events: Vec<AuditEvent>,
    /// Paging.
    pub pagination: Pagination,
}

/// The organization's audit trail, newest first: API key events and every write made with a
/// key, user and role changes, apps and their keys (`app.*`, `app_key.*`), credential changes (`credential.*`), CTI user-mapping changes
/// (`user_mapping.*`), messages sent and transcript exports (`message.*`) and webhook endpoint
/// changes (`webhook_endpoint.*`), each with its actor, address and request id. Append-only.
#[utoipa::path(tag = "audit", security(("bearer" = [])), params(AuditLogQuery),
    responses((status = 200, body = Success<OrgAuditLogResponse>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[get("/api/audit-log")]
async fn audit_log(
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    query: web::Query<AuditLogQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let (limit, offset) = (
        q.limit.unwrap_or(50).clamp(1, 200),
        q.offset.unwrap_or(0).max(0),
    );
    let filter = AuditFilter {
        action: q.action,
        actor_type: q.actor_type,
        actor_id: q.actor_id,
        since: q.since,
        until: q.until,
        limit,
        offset,
    };
    let (events, total) = state
        .db
        .tenant(admin.org_id, async |tx| audit::list(tx, filter).await)
        .await?;
    Ok(reply::ok(OrgAuditLogResponse {
        events: events.into_iter().collect(),
        pagination: Pagination::new(limit, offset, total),
    }))
}

/// Registers the API key and audit log routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(list_org_keys)
        .service(create_org_key)
        .service(rotate_org_key)
        .service(revoke_org_key)
        .service(audit_log);
}
