//! Seed-000 CTI records of an app: voicemails and Dialpad → CRM user mappings
//! (`/internal/apps/{app_id}/voicemails…`, `/internal/apps/{app_id}/users/…`), with the seed's
//! response shapes (`{success, data, pagination}`). Reached by an admin of the app's
//! organization or by the app itself with its API key ([`AppAccess`]).

use actix_web::{HttpResponse, delete, get, post, web};
use db::Page;
use serde::{Deserialize, Deserializer, Serialize};
use tenancy::audit::ChangedBy;
use user_mapping::{Mapping, MappingKey};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use voicemail::Voicemail;

use crate::auth::{AppAccess, Origin};
use crate::error::{ApiError, ErrorBody};
use crate::input::Json;
use crate::reply::{self, Success};
use crate::routes::{Pagination, page};
use crate::state::AppState;

/// Dialpad ids arrive as JSON numbers or numeric strings.
fn lenient_id<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Number(i64),
        Text(String),
    }
    match Id::deserialize(d)? {
        Id::Number(n) => Ok(n),
        Id::Text(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

// ------------------------------------------------------------------------------------------
// Voicemails

/// `{ "success": true, "data": [...], "pagination": … }`
#[derive(Debug, Serialize, ToSchema)]
pub struct VoicemailListResponse {
    /// Newest first.
    pub data: Vec<Voicemail>,
    /// Paging.
    pub pagination: Pagination,
}

/// `{ "success": true, "data": … }`
#[derive(Debug, Serialize, ToSchema)]
pub struct VoicemailResponse {
    /// The voicemail.
    pub data: Voicemail,
}

/// `{ "success": true, "message" }`
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageBody {
    /// What happened.
    pub message: String,
}

/// Paging and filter of the voicemail and call lists (seed 000: `limit` 50, `offset` 0).
#[derive(Debug, Deserialize, IntoParams)]
pub struct VoicemailQuery {
    /// Page size, 1–500 (default 50).
    pub limit: Option<i64>,
    /// Items to skip (default 0).
    pub offset: Option<i64>,
    /// Only this Dialpad user's items.
    pub dialpad_user_id: Option<i64>,
}

/// The app's voicemails, newest first.
#[utoipa::path(tag = "cti", security(("bearer" = []), ("app_key" = [])),
    params(("app_id" = Uuid, Path, description = "App id"), VoicemailQuery),
    responses((status = 200, body = Success<VoicemailListResponse>), (status = 404, body = ErrorBody)))]
#[get("/internal/apps/{app_id}/voicemails")]
async fn list_voicemails(
    state: web::Data<AppState>,
    access: AppAccess,
    query: web::Query<VoicemailQuery>,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = page(query.limit, query.offset, 50)?;
    let (items, total) = state
        .db
        .tenant(access.org_id, async |tx| {
            voicemail::list(
                tx,
                access.app_id,
                query.dialpad_user_id,
                Page { limit, offset },
            )
            .await
        })
        .await?;
    Ok(reply::ok(VoicemailListResponse {
        data: items.into_iter().collect(),
        pagination: Pagination::new(limit, offset, total),
    }))
}

/// One voicemail of the app.
#[utoipa::path(tag = "cti", security(("bearer" = []), ("app_key" = [])),
    params(("app_id" = Uuid, Path, description = "App id"), ("voicemail_id" = Uuid, Path, description = "Voicemail id")),
    responses((status = 200, body = Success<VoicemailResponse>), (status = 404, body = ErrorBody)))]
#[get("/internal/apps/{app_id}/voicemails/{voicemail_id}")]
async fn get_voicemail(
    state: web::Data<AppState>,
    access: AppAccess,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let vm = state
        .db
        .tenant(access.org_id, async |tx| {
            voicemail::get(tx, access.app_id, path.1).await
        })
        .await?;
    Ok(reply::ok(VoicemailResponse { data: vm }))
}

/// Deletes a voicemail of the app.
#[utoipa::path(tag = "cti", security(("bearer" = []), ("app_key" = [])),
    params(("app_id" = Uuid, Path, description = "App id"), ("voicemail_id" = Uuid, Path, description = "Voicemail id")),
    responses((status = 200, body = Success<MessageBody>), (status = 404, body = ErrorBody)))]
#[delete("/internal/apps/{app_id}/voicemails/{voicemail_id}")]
async fn delete_voicemail(
    state: web::Data<AppState>,
    access: AppAccess,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    state
        .db
        .tenant(access.org_id, async |tx| {
            voicemail::delete(tx, access.app_id, path.1).await
        })
        .await?;
    Ok(reply::ok(MessageBody {
        message: "Voicemail deleted".into(),
    }))
}

// ------------------------------------------------------------------------------------------
// User mappings

/// `{ "success": true, "data": …, "message"? }`
#[derive(Debug, Serialize, ToSchema)]
pub struct MappingResponse {
    /// The mapping.
    pub data: Mapping,
    /// What happened (on writes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `{ "success": true, "data": [...], "pagination": … }`
#[derive(Debug, Serialize, ToSchema)]
pub struct MappingListResponse {
    /// Oldest first.
    pub data: Vec<Mapping>,
    /// Paging.
    pub pagination: Pagination,
}

/// Body of `POST …/users/map`; ids as numbers or numeric strings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MapRequest {
    /// Dialpad user id.
    #[serde(deserialize_with = "lenient_id")]
    #[schema(value_type = i64)]
    pub dialpad_user_id: i64,
    /// CRM user id (1–200 characters).
    pub crm_user_id: String,
}

/// Body of `POST …/users/batch-map`: 1–1000 mappings, written all or none.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchMapRequest {
    /// The mappings.
    pub mappings: Vec<MapRequest>,
}

/// `{ "success": true, "message": "Batch mapped N users", "count": N }`
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchMapResponse {
    /// What happened.
    pub message: String,
    /// Mappings written.
    pub count: usize,
}

/// Paging of the mapping list (seed 000: `limit` 100, `offset` 0).
#[derive(Debug, Deserialize, IntoParams)]
pub struct MappingQuery {
    /// Page size, 1–500 (default 100).
    pub limit: Option<i64>,
    /// Items to skip (default 0).
    pub offset: Option<i64>,
}

/// Creates or updates a mapping.
#[utoipa::path(tag = "cti", security(("bearer" = []), ("app_key" = [])), params(("app_id" = Uuid, Path, description = "App id")),
    request_body = MapRequest, responses((status = 200, body = Success<MappingResponse>), (status = 422, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[post("/internal/apps/{app_id}/users/map")]
async fn map_user(
    state: web::Data<AppState>,
    access: AppAccess,
    Origin(origin): Origin,
    body: Json<MapRequest>,
) -> Result<HttpResponse, ApiError> {
    let m = state
        .db
        .tenant(access.org_id, async |tx| {
            user_mapping::upsert(
                tx,
                access.app_id,
                body.dialpad_user_id,
                &body.crm_user_id,
                &access.changed_by(origin),
            )
            .await
        })
        .await?;
    Ok(reply::ok(MappingResponse {
        data: m,
        message: Some("User mapping created/updated".into()),
    }))
}

/// Creates or updates many mappings in one transaction (all or none).
#[utoipa::path(tag = "cti", security(("bearer" = []), ("app_key" = [])), params(("app_id" = Uuid, Path, description = "App id")),
    request_body = BatchMapRequest, responses((status = 200, body = Success<BatchMapResponse>), (status = 422, body = ErrorBody)))]
#[post("/internal/apps/{app_id}/users/batch-map")]
async fn batch_map(
    state: web::Data<AppState>,
    access: AppAccess,
    Origin(origin): Origin,
    body: Json<BatchMapRequest>,
) -> Result<HttpResponse, ApiError> {
    let entries: Vec<(i64, String)> = body
        .into_inner()
        .mappings
        .into_iter()
        .map(|m| (m.dialpad_user_id, m.crm_user_id))
        .collect();
    let count = state
        .db
        .tenant(access.org_id, async |tx| {
            user_mapping::batch_upsert(tx, access.app_id, &entries, &access.changed_by(origin))
                .await
        })
        .await?;
    Ok(reply::ok(BatchMapResponse {
        message: format!("Batch mapped {count} users"),
        count,
    }))
}

/// The app's mappings.
#[utoipa::path(tag = "cti", security(("bearer" = []), ("app_key" = [])), params(("app_id" = Uuid, Path, description = "App id"), MappingQuery),
    responses((status = 200, body = Success<MappingListResponse>)))]
#[get("/internal/apps/{app_id}/users/mappings")]
async fn list_mappings(
    state: web::Data<AppState>,
    access: AppAccess,
    query: web::Query<MappingQuery>,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = page(query.limit, query.offset, 100)?;
    let (items, total) = state
        .db
        .tenant(access.org_id, async |tx| {
            user_mapping::list(tx, access.app_id, Page { limit, offset }).await
        })
        .await?;
    Ok(reply::ok(MappingListResponse {
        data: items.into_iter().collect(),
        pagination: Pagination::new(limit, offset, total),
    }))
}

/// The mapping of a Dialpad user.
#[utoipa::path(tag = "cti", security(("bearer" = []), ("app_key" = [])),
    params(("app_id" = Uuid, Path, description = "App id"), ("dialpad_user_id" = i64, Path, description = "Dialpad user id")),
    responses((status = 200, body = Success<MappingResponse>), (status = 404, body = ErrorBody)))]
#[get("/internal/apps/{app_id}/users/mappings/dialpad/{dialpad_user_id}")]
async fn mapping_by_dialpad(
    state: web::Data<AppState>,
    access: AppAccess,
    path: web::Path<(Uuid, i64)>,
) -> Result<HttpResponse, ApiError> {
    let m = state
        .db
        .tenant(access.org_id, async |tx| {
            user_mapping::by_dialpad_user(tx, access.app_id, path.1).await
        })
        .await?;
    Ok(reply::ok(MappingResponse {
        data: m,
        message: None,
    }))
}

/// The mapping of a CRM user.
#[utoipa::path(tag = "cti", security(("bearer" = []), ("app_key" = [])),
    params(("app_id" = Uuid, Path, description = "App id"), ("crm_user_id" = String, Path, description = "CRM user id")),
    responses((status = 200, body = Success<MappingResponse>), (status = 404, body = ErrorBody)))]
#[get("/internal/apps/{app_id}/users/mappings/crm/{crm_user_id}")]
async fn mapping_by_crm(
    state: web::Data<AppState>,
    access: AppAccess,
    path: web::Path<(Uuid, String)>,
) -> Result<HttpResponse, ApiError> {
    let m = state
        .db
        .tenant(access.org_id, async |tx| {
            user_mapping::by_crm_user(tx, access.app_id, &path.1).await
        })
        .await?;
    Ok(reply::ok(MappingResponse {
        data: m,
        message: None,
    }))
}

/// Deletes a mapping by its id.
#[utoipa::path(tag = "cti", security(("bearer" = []), ("app_key" = [])),
    params(("app_id" = Uuid, Path, description = "App id"), ("mapping_id" = Uuid, Path, description = "Mapping id")),
    responses((status = 200, body = Success<MessageBody>), (status = 404, body = ErrorBody)))]
#[delete("/internal/apps/{app_id}/users/mappings/{mapping_id}")]
async fn delete_mapping(
    state: web::Data<AppState>,
    access: AppAccess,
    Origin(origin): Origin,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let by = access.changed_by(origin);
    delete_mapping_by(&state, &access, MappingKey::Id(path.1), &by).await
}

/// Deletes the mapping of a Dialpad user.
#[utoipa::path(tag = "cti", security(("bearer" = []), ("app_key" = [])),
    params(("app_id" = Uuid, Path, description = "App id"), ("dialpad_user_id" = i64, Path, description = "Dialpad user id")),
    responses((status = 200, body = Success<MessageBody>), (status = 404, body = ErrorBody)))]
#[delete("/internal/apps/{app_id}/users/mappings/dialpad/{dialpad_user_id}")]
async fn delete_mapping_by_dialpad(
    state: web::Data<AppState>,
    access: AppAccess,
    Origin(origin): Origin,
    path: web::Path<(Uuid, i64)>,
) -> Result<HttpResponse, ApiError> {
    let by = access.changed_by(origin);
    delete_mapping_by(&state, &access, MappingKey::DialpadUser(path.1), &by).await
}

async fn delete_mapping_by(
    state: &AppState,
    access: &AppAccess,
    key: MappingKey,
    by: &ChangedBy,
) -> Result<HttpResponse, ApiError> {
    state
        .db
        .tenant(access.org_id, async |tx| {
            user_mapping::delete(tx, access.app_id, key, by).await
        })
        .await?;
    Ok(reply::ok(MessageBody {
        message: "User mapping deleted".into(),
    }))
}

/// Registers the CTI record routes (specific paths before `{mapping_id}`).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(list_voicemails)
        .service(get_voicemail)
        .service(delete_voicemail)
        .service(map_user)
        .service(batch_map)
        .service(list_mappings)
        .service(mapping_by_dialpad)
        .service(mapping_by_crm)
        .service(delete_mapping_by_dialpad)
        .service(delete_mapping)
        .service(list_calls)
        .service(connections);
}

// ------------------------------------------------------------------------------------------
// Calls and connections

/// `{ "success": true, "data": [...], "pagination": … }`
#[derive(Debug, Serialize, ToSchema)]
pub struct CallListResponse {
    /// Newest first.
    pub data: Vec<event_log::calls::CallWithUser>,
    /// Paging.
    pub pagination: Pagination,
}

/// The app's Dialpad calls, newest first, with their CRM user.
#[utoipa::path(tag = "cti", operation_id = "list_app_calls", security(("bearer" = []), ("app_key" = [])),
    params(("app_id" = Uuid, Path, description = "App id"), VoicemailQuery),
    responses((status = 200, body = Success<CallListResponse>), (status = 404, body = ErrorBody)))]
#[get("/internal/apps/{app_id}/calls")]
async fn list_calls(
    state: web::Data<AppState>,
    access: AppAccess,
    query: web::Query<VoicemailQuery>,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = page(query.limit, query.offset, 50)?;
    let (items, total) = state
        .db
        .tenant(access.org_id, async |tx| {
            event_log::calls::list(
                tx,
                access.app_id,
                query.dialpad_user_id,
                Page { limit, offset },
            )
            .await
        })
        .await?;
    Ok(reply::ok(CallListResponse {
        data: items.into_iter().collect(),
        pagination: Pagination::new(limit, offset, total),
    }))
}

/// WebSocket connection counts on the instance that answers (seed 000 "Monitoring").
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionsResponse {
    /// The app.
    pub app_id: Uuid,
    /// The app's open connections on this instance.
    pub connections: usize,
    /// Every open connection on this instance (apps and dashboard users).
    pub total_connections: usize,
}

/// The app's WebSocket connection count on this instance.
#[utoipa::path(tag = "cti", security(("bearer" = []), ("app_key" = [])),
    params(("app_id" = Uuid, Path, description = "App id")),
    responses((status = 200, body = Success<ConnectionsResponse>), (status = 404, body = ErrorBody)))]
#[get("/internal/apps/{app_id}/connections")]
async fn connections(
    state: web::Data<AppState>,
    access: AppAccess,
) -> Result<HttpResponse, ApiError> {
    let stats = state.hub.stats();
    Ok(reply::ok(ConnectionsResponse {
        app_id: access.app_id,
        connections: state.hub.app_connection_count(access.app_id),
        total_connections: stats.app_connections + stats.user_connections,
    }))
}
