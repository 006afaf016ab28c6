//! Dialpad call-event webhooks (contracts/telephony.md A; seed 000 "Complete Event Flow") and
//! the per-app webhook secret they are signed with.
//!
//! `POST /webhooks/dialpad/{app_id}` is the `hook_url` given to Dialpad for the app. The body
//! is verified (HS256 JWT when the app has a secret, plain JSON only when it has none), stored in
//! the append-only event log and only then answered 200; processing follows asynchronously.
//! A repeated delivery is answered 200 with `duplicate: true` and stored once.

use actix_web::{HttpResponse, delete, get, post, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{AdminUser, RoleAtLeast};
use crate::error::{ApiError, ErrorBody};
use crate::input::Json;
use crate::reply::{self, Success};
use crate::state::AppState;

pub(crate) fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(dialpad_webhook)
        .service(set_secret)
        .service(secret_status)
        .service(remove_secret);
}

/// The acknowledgement of a stored delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAck {
    /// The stored event (the earlier one for a duplicate).
    pub event_id: Uuid,
    /// Whether this delivery repeated one already stored.
    pub duplicate: bool,
    /// `call.ring`, `call.started`, `call.ended`, `call.recording.completed`,
    /// `voicemail.received` or `ignored`.
    pub event_type: String,
}

/// Receives one Dialpad call event for an app. Body: a compact JWS signed HS256 with the app's
/// webhook secret, or (for apps without a secret) the event as JSON.
#[utoipa::path(tag = "webhooks",
    params(("app_id" = Uuid, Path, description = "App id (the webhook URL names it)")),
    request_body(content = String, description = "JWT (signed apps) or JSON call event", content_type = "application/jwt"),
    responses((status = 200, body = Success<WebhookAck>),
        (status = 400, body = ErrorBody, description = "`invalid_payload` or `invalid_event`"),
        (status = 401, body = ErrorBody, description = "`invalid_signature` or `signature_required`"),
        (status = 403, body = ErrorBody, description = "`app_inactive`"),
        (status = 404, body = ErrorBody)))]
#[post("/webhooks/dialpad/{app_id}")]
async fn dialpad_webhook(
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (db, keyring, apps) = (&state.db, &state.keyring, &state.dialpad_apps);
    let ingested = event_log::ingest::dialpad(db, keyring, apps, &state.jobs, *path, &body).await?;
    Ok(reply::ok(WebhookAck {
        event_id: ingested.event_id,
        duplicate: ingested.duplicate,
        event_type: ingested.event_type.to_owned(),
    }))
}

/// The secret given to Dialpad when creating the app's webhook.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SecretRequest {
    /// One line of 16 to 512 bytes. Stored encrypted; never returned.
    pub secret: String,
}

/// Whether the app's webhooks must be signed.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretStatus {
    /// The app.
    pub app_id: Uuid,
    /// Whether a secret is configured (deliveries must then be signed JWTs).
    pub configured: bool,
}

/// Sets or replaces the app's Dialpad webhook secret (admin).
#[utoipa::path(tag = "webhooks", security(("bearer" = [])),
    params(("app_id" = Uuid, Path, description = "App id")),
    request_body = SecretRequest,
    responses((status = 200, body = Success<SecretStatus>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/internal/apps/{app_id}/dialpad-webhook-secret")]
async fn set_secret(
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    path: web::Path<Uuid>,
    body: Json<SecretRequest>,
) -> Result<HttpResponse, ApiError> {
    event_log::secrets::set(&state.db, &state.keyring, admin.org_id, *path, &body.secret).await?;
    state.dialpad_apps.forget(*path).await;
    Ok(reply::ok(SecretStatus {
        app_id: *path,
        configured: true,
    }))
}

/// Whether the app has a Dialpad webhook secret (admin).
#[utoipa::path(tag = "webhooks", security(("bearer" = [])),
    params(("app_id" = Uuid, Path, description = "App id")),
    responses((status = 200, body = Success<SecretStatus>), (status = 404, body = ErrorBody)))]
#[get("/internal/apps/{app_id}/dialpad-webhook-secret")]
async fn secret_status(
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let configured = state
        .db
        .tenant(admin.org_id, async |tx| {
            event_log::secrets::is_configured(tx, *path).await
        })
        .await?;
    Ok(reply::ok(SecretStatus {
        app_id: *path,
        configured,
    }))
}

/// Removes the app's Dialpad webhook secret (admin): deliveries are then accepted as plain JSON.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])),
    params(("app_id" = Uuid, Path, description = "App id")),
    responses((status = 200, body = Success<SecretStatus>), (status = 404, body = ErrorBody)))]
#[delete("/internal/apps/{app_id}/dialpad-webhook-secret")]
async fn remove_secret(
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .db
        .tenant(admin.org_id, async |tx| {
            event_log::secrets::remove(tx, *path).await
        })
        .await?;
    state.dialpad_apps.forget(*path).await;
    Ok(reply::ok(SecretStatus {
        app_id: *path,
        configured: false,
    }))
}
