//! `/api/webhooks/...`: the organization's outbound webhook endpoints (Standard Webhooks), their
//! signing secrets, the delivery log, resend, replay and test events (docs/integrating.md,
//! "Webhooks"). Admins, or organization keys with the `webhooks` scope.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use webhooks::endpoints::{Endpoint, EndpointPatch, NewEndpoint};
use webhooks::log::{self, AttemptRecord, Delivery, Message, MessageFilter};

use crate::auth::{AdminUser, Origin, RoleAtLeast};
use crate::error::{ApiError, ErrorBody};
use crate::input::Json;
use crate::reply::{self, Success};
use crate::routes::page;
use crate::state::AppState;

pub(crate) fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(list_webhook_event_types)
        .service(list_webhook_endpoints)
        .service(create_webhook_endpoint)
        .service(get_webhook_endpoint)
        .service(update_webhook_endpoint)
        .service(delete_webhook_endpoint)
        .service(read_webhook_secret)
        .service(rotate_webhook_secret)
        .service(send_webhook_test_event)
        .service(replay_webhook_endpoint)
        .service(list_webhook_attempts)
        .service(list_webhook_messages)
        .service(get_webhook_message)
        .service(resend_webhook_message);
}

/// One endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointResponse {
    /// The endpoint.
    pub endpoint: Endpoint,
}

/// An endpoint just created, with its signing secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhookEndpointResponse {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// The signing secret, `whsec_` + base64 (also readable later by admins).
    pub secret: String,
}

/// Every endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointListResponse {
    /// Oldest first.
    pub endpoints: Vec<Endpoint>,
}

/// A signing secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookSecretResponse {
    /// `whsec_` + base64 of 24 bytes; verify `webhook-signature` with it (docs/integrating.md).
    pub secret: String,
}

/// `POST /api/webhooks/endpoints` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookEndpointRequest {
    /// `https://` (or `http://`) URL, at most 2,000 characters; loopback, private, link-local
    /// and metadata addresses are refused.
    pub url: String,
    /// Up to 500 characters.
    #[serde(default)]
    pub description: String,
    /// Event types of `GET /api/webhooks/event-types`; empty or absent: every type.
    #[serde(default)]
    pub event_types: Vec<String>,
}

/// `PATCH /api/webhooks/endpoints/{id}` body; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookEndpointRequest {
    /// A new URL.
    pub url: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// A new filter; empty: every type.
    pub event_types: Option<Vec<String>>,
    /// `true` enables (clearing a disabled reason and the failure streak), `false` disables.
    pub enabled: Option<bool>,
}

/// `POST /api/webhooks/endpoints/{id}/replay` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookReplayRequest {
    /// Messages created at or after this time (RFC 3339, within the 30 days kept) are sent
    /// again, oldest first, at most 10,000 per call.
    pub since: DateTime<Utc>,
}

/// `POST /api/webhooks/messages/{id}/resend` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookResendRequest {
    /// The endpoint to send it to again.
    pub endpoint_id: Uuid,
}

/// A message queued (test event, resend, replay).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookQueuedResponse {
    /// The message id (test event and resend).
    pub message_id: Option<String>,
    /// Messages queued (replay).
    pub queued: usize,
}

/// An event type of the catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEventTypeView {
    /// `call.ended`, `appointment.booked`, ...
    pub name: String,
    /// When it is sent.
    pub description: String,
    /// An example of its `data`.
    pub example: serde_json::Value,
}

/// The event catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEventTypeListResponse {
    /// Every type.
    pub event_types: Vec<WebhookEventTypeView>,
}

/// Messages, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookMessageListResponse {
    /// This page.
    pub messages: Vec<Message>,
}

/// One message and its deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookMessageResponse {
    /// The message.
    pub message: Message,
    /// One per endpoint it was addressed to.
    pub deliveries: Vec<Delivery>,
}

/// The delivery log of an endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAttemptListResponse {
    /// Newest first.
    pub attempts: Vec<AttemptRecord>,
}

/// Paging and filter of the delivery log.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AttemptQuery {
    /// Only this message's attempts.
    pub message_id: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
    /// Default 0.
    pub offset: Option<i64>,
}

/// Paging and filters of the message list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MessageQuery {
    /// One event type.
    pub event_type: Option<String>,
    /// Messages at or after this time, RFC 3339.
    pub since: Option<DateTime<Utc>>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
    /// Default 0.
    pub offset: Option<i64>,
}

/// The body of every outbound webhook message (Standard Webhooks' recommended shape), signed
/// as described under "Webhooks" in docs/integrating.md.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookMessageBody {
    /// The event type, for example `call.analyzed`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the event happened, RFC 3339 UTC with milliseconds.
    pub timestamp: String,
    /// The event's data; its fields per type are listed in the event catalog.
    pub data: serde_json::Value,
}

/// The OpenAPI `webhooks` section: one entry per event type of the catalog, a `POST` of
/// [`WebhookMessageBody`] with the Standard Webhooks headers and an example.
#[must_use]
pub fn openapi_webhooks() -> utoipa::openapi::path::Paths {
    use utoipa::openapi::path::{
        HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem, PathsBuilder,
    };
    use utoipa::openapi::request_body::RequestBodyBuilder;
    use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, Required, ResponseBuilder, Type};
    let header = |name: &str, description: &str| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Header)
            .required(Required::True)
            .description(Some(description))
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .build()
    };
    let mut paths = PathsBuilder::new();
    for t in webhooks::catalog::EVENT_TYPES {
        let example = serde_json::json!({
            "type": t.name,
            "timestamp": "2026-12-05T10:30:00.000Z",
            "data": serde_json::from_str::<serde_json::Value>(t.example).unwrap_or_default(),
        });
        let content = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("WebhookMessageBody")))
            .example(Some(example))
            .build();
        let operation = OperationBuilder::new()
            .tag("webhooks")
            .summary(Some(t.name))
            .description(Some(t.description))
            .operation_id(Some(format!("webhook_{}", t.name.replace('.', "_"))))
            .parameter(header("webhook-id", "The message id, `msg_` + 32 hex: the same on every attempt (deduplicate by it)."))
            .parameter(header("webhook-timestamp", "Unix seconds when this attempt was signed."))
            .parameter(header("webhook-signature", "`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, one per valid secret, space-separated."))
            .request_body(Some(
                RequestBodyBuilder::new().content("application/json", content).build(),
            ))
            .response("2XX", ResponseBuilder::new().description("Received; any other answer or none within 15 s is retried."))
            .build();
        paths = paths.path(t.name, PathItem::new(HttpMethod::Post, operation));
    }
    paths.build()
}

/// `200 {"success": true, "secret": "whsec_…"}`.
fn secret_reply(secret: &str) -> HttpResponse {
    reply::ok(WebhookSecretResponse {
        secret: secret.to_owned(),
    })
}

fn page_of(limit: Option<i64>, offset: Option<i64>) -> Result<(i64, i64), ApiError> {
    let (limit, offset) = page(limit, offset, 50)?;
    if limit > 200 {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit must be 1-200",
        ));
    }
    Ok((limit, offset))
}

/// The event catalog: every type an endpoint can subscribe to, with an example of its data.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = Success<WebhookEventTypeListResponse>), (status = 403, body = ErrorBody)))]
#[get("/api/webhooks/event-types")]
async fn list_webhook_event_types(RoleAtLeast(_admin): AdminUser) -> HttpResponse {
    let event_types = webhooks::catalog::EVENT_TYPES
        .iter()
        .map(|t| WebhookEventTypeView {
            name: t.name.into(),
            description: t.description.into(),
            example: serde_json::from_str(t.example).unwrap_or_default(),
        })
        .collect();
    reply::ok(WebhookEventTypeListResponse { event_types })
}

/// Every webhook endpoint of the organization.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = Success<WebhookEndpointListResponse>), (status = 403, body = ErrorBody)))]
#[get("/api/webhooks/endpoints")]
async fn list_webhook_endpoints(
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
) -> Result<HttpResponse, ApiError> {
    let endpoints = state.webhooks.list(admin.org_id).await?;
    Ok(reply::ok(WebhookEndpointListResponse {
        endpoints: endpoints.into_iter().collect(),
    }))
}

/// Creates an endpoint and its signing secret.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])), request_body = CreateWebhookEndpointRequest,
    responses((status = 201, body = Success<CreatedWebhookEndpointResponse>), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "`validation_failed` (URL, description, unknown event type) or `forbidden_address` (the URL points at a loopback, private, link-local or metadata address)")))]
#[post("/api/webhooks/endpoints")]
async fn create_webhook_endpoint(
    Origin(origin): Origin,
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    body: Json<CreateWebhookEndpointRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let new = NewEndpoint {
        url: body.url,
        description: body.description,
        event_types: body.event_types,
    };
    let by = admin.changed_by(origin);
    let (endpoint, secret) = state.webhooks.create(admin.org_id, by, new).await?;
    Ok(reply::created(CreatedWebhookEndpointResponse {
        endpoint,
        secret: secret.to_string(),
    }))
}

/// One endpoint.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses((status = 200, body = Success<WebhookEndpointResponse>), (status = 404, body = ErrorBody)))]
#[get("/api/webhooks/endpoints/{id}")]
async fn get_webhook_endpoint(
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let endpoint = state.webhooks.get(admin.org_id, id.into_inner()).await?;
    Ok(reply::ok(WebhookEndpointResponse { endpoint }))
}

/// Changes an endpoint's URL, description, filter, or enables / disables it.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])), request_body = UpdateWebhookEndpointRequest,
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses((status = 200, body = Success<WebhookEndpointResponse>), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "`validation_failed` or `forbidden_address`")))]
#[patch("/api/webhooks/endpoints/{id}")]
async fn update_webhook_endpoint(
    Origin(origin): Origin,
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    id: web::Path<Uuid>,
    body: Json<UpdateWebhookEndpointRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let patch = EndpointPatch {
        url: body.url,
        description: body.description,
        event_types: body.event_types,
        enabled: body.enabled,
    };
    let by = admin.changed_by(origin);
    let endpoint = state
        .webhooks
        .update(admin.org_id, by, id.into_inner(), patch)
        .await?;
    Ok(reply::ok(WebhookEndpointResponse { endpoint }))
}

/// Deletes an endpoint with its deliveries and their log.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody)))]
#[delete("/api/webhooks/endpoints/{id}")]
async fn delete_webhook_endpoint(
    Origin(origin): Origin,
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let by = admin.changed_by(origin);
    state
        .webhooks
        .delete(admin.org_id, by, id.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The endpoint's current signing secret (reading it is audited). Needs the write scope: the
/// secret lets its holder forge messages.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses((status = 200, body = Success<WebhookSecretResponse>), (status = 404, body = ErrorBody)))]
#[get("/api/webhooks/endpoints/{id}/secret")]
async fn read_webhook_secret(
    Origin(origin): Origin,
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let by = admin.changed_by(origin);
    let secret = state
        .webhooks
        .secret(admin.org_id, by, id.into_inner())
        .await?;
    Ok(secret_reply(&secret))
}

/// Replaces the signing secret; the previous one keeps signing beside it for 24 hours, so
/// receivers can switch without losing a message.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses((status = 200, body = Success<WebhookSecretResponse>), (status = 404, body = ErrorBody)))]
#[post("/api/webhooks/endpoints/{id}/secret/rotate")]
async fn rotate_webhook_secret(
    Origin(origin): Origin,
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let by = admin.changed_by(origin);
    let secret = state
        .webhooks
        .rotate_secret(admin.org_id, by, id.into_inner())
        .await?;
    Ok(secret_reply(&secret))
}

/// Sends a `webhook.test` message to this endpoint only.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses((status = 202, body = Success<WebhookQueuedResponse>), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`endpoint_disabled`")))]
#[post("/api/webhooks/endpoints/{id}/test")]
async fn send_webhook_test_event(
    Origin(origin): Origin,
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let by = admin.changed_by(origin);
    let org = admin.org_id;
    let message = state
        .db
        .tenant(org, async |tx| {
            webhooks::emit::send_test(tx, by, id.into_inner()).await
        })
        .await?;
    Ok(reply::accepted(WebhookQueuedResponse {
        message_id: Some(message),
        queued: 1,
    }))
}

/// Sends every message since a time to this endpoint again (each with the full retry
/// schedule).
#[utoipa::path(tag = "webhooks", security(("bearer" = [])), request_body = WebhookReplayRequest,
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses((status = 202, body = Success<WebhookQueuedResponse>), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`endpoint_disabled`")))]
#[post("/api/webhooks/endpoints/{id}/replay")]
async fn replay_webhook_endpoint(
    Origin(origin): Origin,
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    id: web::Path<Uuid>,
    body: Json<WebhookReplayRequest>,
) -> Result<HttpResponse, ApiError> {
    let by = admin.changed_by(origin);
    let (org, since) = (admin.org_id, body.into_inner().since);
    let queued = state
        .db
        .tenant(org, async |tx| {
            webhooks::emit::replay(tx, by, id.into_inner(), since).await
        })
        .await?;
    Ok(reply::accepted(WebhookQueuedResponse {
        message_id: None,
        queued,
    }))
}

/// The endpoint's delivery log: every attempt, newest first.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Endpoint id"), AttemptQuery),
    responses((status = 200, body = Success<WebhookAttemptListResponse>), (status = 404, body = ErrorBody)))]
#[get("/api/webhooks/endpoints/{id}/attempts")]
async fn list_webhook_attempts(
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    id: web::Path<Uuid>,
    query: web::Query<AttemptQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let (limit, offset) = page_of(query.limit, query.offset)?;
    let (org, endpoint) = (admin.org_id, id.into_inner());
    state.webhooks.get(org, endpoint).await?;
    let attempts = state
        .db
        .tenant(org, async |tx| {
            log::attempts(tx, endpoint, query.message_id, limit, offset).await
        })
        .await?;
    Ok(reply::ok(WebhookAttemptListResponse {
        attempts: attempts.into_iter().collect(),
    }))
}

/// The organization's messages (kept 30 days), newest first.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])), params(MessageQuery),
    responses((status = 200, body = Success<WebhookMessageListResponse>), (status = 400, body = ErrorBody)))]
#[get("/api/webhooks/messages")]
async fn list_webhook_messages(
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    query: web::Query<MessageQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let (limit, offset) = page_of(query.limit, query.offset)?;
    let filter = MessageFilter {
        event_type: query.event_type,
        since: query.since,
        limit,
        offset,
    };
    let messages = state
        .db
        .tenant(admin.org_id, async |tx| log::messages(tx, filter).await)
        .await?;
    Ok(reply::ok(WebhookMessageListResponse {
        messages: messages.into_iter().collect(),
    }))
}

/// One message and its deliveries.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Message id, `msg_` + 32 hex")),
    responses((status = 200, body = Success<WebhookMessageResponse>), (status = 404, body = ErrorBody)))]
#[get("/api/webhooks/messages/{id}")]
async fn get_webhook_message(
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (admin.org_id, id.into_inner());
    let message = state
        .db
        .tenant(org, async |tx| log::message(tx, id.clone()).await)
        .await?;
    let deliveries = state
        .db
        .tenant(org, async |tx| log::deliveries(tx, id).await)
        .await?;
    Ok(reply::ok(WebhookMessageResponse {
        message,
        deliveries: deliveries.into_iter().collect(),
    }))
}

/// Sends one message to one endpoint again (one attempt, logged).
#[utoipa::path(tag = "webhooks", security(("bearer" = [])), request_body = WebhookResendRequest,
    params(("id" = String, Path, description = "Message id")),
    responses((status = 202, body = Success<WebhookQueuedResponse>), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`endpoint_disabled`")))]
#[post("/api/webhooks/messages/{id}/resend")]
async fn resend_webhook_message(
    Origin(origin): Origin,
    state: web::Data<AppState>,
    RoleAtLeast(admin): AdminUser,
    id: web::Path<String>,
    body: Json<WebhookResendRequest>,
) -> Result<HttpResponse, ApiError> {
    let by = admin.changed_by(origin);
    let (org, message, endpoint) = (admin.org_id, id.into_inner(), body.into_inner().endpoint_id);
    state
        .db
        .tenant(org, async |tx| {
            webhooks::emit::resend(tx, by, message.clone(), endpoint).await
        })
        .await?;
    Ok(reply::accepted(WebhookQueuedResponse {
        message_id: Some(message),
        queued: 1,
    }))
}
