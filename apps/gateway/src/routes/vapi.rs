//! Vapi's requests to us (SPEC §3; seed 001 "Webhook architecture"; contracts/vapi.md):
//!
//! - `POST /api/vapi/webhook`: every server message of our assistants and numbers;
//! - `POST /api/vapi/tools/{name}`: the tools' own server URLs (`tool-calls`), answered in
//!   Vapi's `results` format plus the seed's `toolResult` / `speech` (and `transfer`) fields.
//!
//! Both are refused 401 unless Vapi's request authenticates (shared secret, bearer or HMAC over
//! the raw body, per configuration). Authenticated requests are answered HTTP 200 with the body
//! Vapi expects; a body that is not a server message is 400.
//!
//! What each message is answered with is the voice agent's (`voice_agent::webhook`), including
//! while the database is unreachable: messages that expect no answer (`status-update`,
//! `end-of-call-report`, `transcript`) then get 503, and the assistant's server `backoffPlan`
//! makes Vapi deliver them again: nothing acknowledged is lost.

use actix_web::{HttpRequest, HttpResponse, post, web};
use vapi_client::{MessageKind, ServerMessage};

use crate::auth::public_origin;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Checks Vapi's credential on the raw request.
fn authenticate(state: &AppState, req: &HttpRequest, body: &[u8]) -> Result<(), ApiError> {
    let refused = |message: &str| {
        ApiError::new(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "invalid_vapi_credential",
            message,
        )
    };
    let scheme = state.vapi_auth.as_ref().ok_or_else(|| {
        refused("Vapi requests are not accepted: no webhook secret is configured")
    })?;
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let url = format!(
        "{}{}",
        public_origin(state, req),
        req.uri().path_and_query().map_or("", |p| p.as_str())
    );
    scheme
        .verify(
            &vapi_client::auth::Request {
                header: &header,
                method: req.method().as_str(),
                url: &url,
                body,
            },
            chrono::Utc::now(),
        )
        .map_err(|e| refused(&e.to_string()))
}

/// The server message of an authenticated body. NUL characters, which PostgreSQL text cannot
/// hold, are removed from every string first, so the call is recorded like any other.
fn parse(body: &[u8]) -> Result<ServerMessage, ApiError> {
    let invalid = |e: vapi_client::messages::ParseError| {
        ApiError::bad_request("invalid_payload", e.to_string())
    };
    let mut root: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| invalid(vapi_client::messages::ParseError::NotJson))?;
    db::text::strip_nul(&mut root);
    vapi_client::parse_value(&root).map_err(invalid)
}

/// Vapi's server messages: assistant-request, tool-calls, function-call,
/// transfer-destination-request, knowledge-base-request, status-update, end-of-call-report, transcript (others are
/// acknowledged).
#[utoipa::path(tag = "vapi",
    request_body(content = Object, description = "A Vapi server message `{\"message\": {\"type\", ...}}`"),
    responses((status = 200, body = Object, description = "What Vapi expects for the message type (contracts/vapi.md §2)"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[post("/api/vapi/webhook")]
async fn webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    authenticate(&state, &req, &body)?;
    let message = parse(&body)?;
    let reply = state.voice.answer(message, chrono::Utc::now()).await?;
    Ok(HttpResponse::Ok().json(reply))
}

/// A tool's own server URL: the `tool-calls` message answered as on the webhook, plus the
/// seed's fields for the first call: `toolResult {type, content}`, `speech` and, for
/// `transferCall`, `transfer.destination`.
#[utoipa::path(tag = "vapi",
    params(("name" = String, Path, description = "checkAvailability, bookClinicAppointment, rescheduleAppointment, cancelAppointment, lookupCaller, transferCall or getKnowledgeBase")),
    request_body(content = Object, description = "A Vapi `tool-calls` message"),
    responses((status = 200, body = Object, description = "`{results: [...], toolResult, speech, transfer?}`"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[post("/api/vapi/tools/{name}")]
async fn tool(
    state: web::Data<AppState>,
    req: HttpRequest,
    name: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    authenticate(&state, &req, &body)?;
    let message = parse(&body)?;
    let mut calls = match message.kind {
        MessageKind::ToolCalls(calls) => calls,
        MessageKind::FunctionCall(call) => vec![call],
        _ => {
            return Err(ApiError::bad_request(
                "invalid_payload",
                "expected a tool-calls message",
            ));
        }
    };
    for call in &mut calls {
        if call.name.is_empty() {
            call.name.clone_from(&name);
        }
    }
    let body = state
        .voice
        .answer_tool_url(&message.call, &calls, chrono::Utc::now())
        .await;
    Ok(HttpResponse::Ok().json(body))
}

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(webhook).service(tool);
}
