//! Vapi's requests to us (SPEC §3; seed 001 "Webhook architecture"; contracts/vapi.md):
//!
//! - `POST /api/vapi/webhook`: every server message of our assistants and numbers;
//! - `POST /api/vapi/tools/{name}`: the tools' own server URLs (`tool-calls`), answered in
//!   Vapi's `results` format plus the seed's `toolResult` / `speech` (and `transfer`) fields.
//!
//! Both are refused 401 unless Vapi's request authenticates (shared secret, bearer or HMAC over
//! the raw body, per configuration). Authenticated requests are answered HTTP 200 with the body
//! Vapi expects; a body that is not a server message is 400; a database failure is 500 (so that
//! a retrying Vapi delivers again: nothing acknowledged is lost).

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde_json::json;
use vapi_client::responses::{self, ToolResult};
use vapi_client::{MessageKind, ServerMessage, ToolCall};
use voice_agent::dispatch::ToolReply;
use voice_agent::identity::AssistantAnswer;

use crate::auth::public_origin;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Said to Vapi when a request names no organization we know.
const NOT_LINKED: &str = "This call is not linked to a clinic on our platform.";

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

fn results(calls: &[ToolCall], replies: &[ToolReply]) -> Vec<ToolResult> {
    calls
        .iter()
        .zip(replies)
        .map(|(call, reply)| ToolResult {
            tool_call_id: call.id.clone(),
            name: call.name.clone(),
            outcome: reply.text(),
        })
        .collect()
}

fn not_linked(calls: &[ToolCall]) -> Vec<ToolResult> {
    calls
        .iter()
        .map(|call| ToolResult {
            tool_call_id: call.id.clone(),
            name: call.name.clone(),
            outcome: Err(NOT_LINKED.into()),
        })
        .collect()
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
    let now = chrono::Utc::now();
    let voice = &state.voice;
    let org = voice.resolve_org(&message.call).await?;
    let reply = match (message.kind, org) {
        (MessageKind::AssistantRequest, None) => {
            tracing::warn!(phone_number_id = ?message.call.phone_number_id, "assistant-request for an unknown number");
            responses::assistant_request_error("Sorry, this number is not in service.")
        }
        (MessageKind::AssistantRequest, Some(org)) => {
            match voice.assistant_for_call(org, &message.call, now).await? {
                AssistantAnswer::Assistant {
                    assistant_id,
                    overrides,
                } => responses::assistant_request(&assistant_id, Some(overrides)),
                AssistantAnswer::Unavailable(spoken) => responses::assistant_request_error(&spoken),
            }
        }
        (MessageKind::ToolCalls(calls), None) => responses::tool_calls(&not_linked(&calls)),
        (MessageKind::ToolCalls(calls), Some(org)) => {
            let replies = voice.run_tools(org, &message.call, &calls, now).await;
            responses::tool_calls(&results(&calls, &replies))
        }
        (MessageKind::FunctionCall(_), None) => responses::function_call(NOT_LINKED),
        (MessageKind::FunctionCall(call), Some(org)) => {
            let reply = voice.run_tool(org, &message.call, &call, now).await;
            responses::function_call(&reply.text().unwrap_or_else(|e| e))
        }
        (MessageKind::KnowledgeBaseRequest { .. }, None) => {
            responses::knowledge_base_documents(&[])
        }
        (MessageKind::KnowledgeBaseRequest { query }, Some(org)) => {
            responses::knowledge_base_documents(&voice.knowledge_documents(org, &query).await)
        }
        (MessageKind::TransferDestinationRequest, None) => json!({ "error": NOT_LINKED }),
        (MessageKind::TransferDestinationRequest, Some(org)) => {
            match voice.transfer_destination(org, None).await? {
                Some(destination) => {
                    voice
                        .log_transfer(org, &message.call, &destination, "transfer requested", now)
                        .await?;
                    responses::transfer_destination(&destination, Some("Transferring you now."))
                }
                None => json!({"error": "No transfer destination is configured."}),
            }
        }
        (
            MessageKind::StatusUpdate {
                status,
                ended_reason,
            },
            Some(org),
        ) => {
            voice
                .record_status(org, &message.call, &status, ended_reason.as_deref())
                .await?;
            responses::acknowledged()
        }
        (MessageKind::EndOfCallReport(report), Some(org)) => {
            voice
                .record_report(org, &message.call, &report, now)
                .await?;
            responses::acknowledged()
        }
        (
            MessageKind::Transcript {
                role,
                transcript_type,
                transcript,
            },
            Some(org),
        ) => {
            if transcript_type == "final" {
                voice
                    .publish_transcript(org, &message.call, &role, &transcript)
                    .await?;
            }
            responses::acknowledged()
        }
        (MessageKind::StatusUpdate { .. } | MessageKind::EndOfCallReport(_), None) => {
            tracing::warn!(
                message_type = %message.message_type,
                assistant_id = ?message.call.assistant_id,
                "Vapi message for a call of no known organization: acknowledged, not stored"
            );
            responses::acknowledged()
        }
        _ => responses::acknowledged(),
    };
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
    let now = chrono::Utc::now();
    let (results, replies) = match state.voice.resolve_org(&message.call).await? {
        None => (not_linked(&calls), Vec::new()),
        Some(org) => {
            let replies = state.voice.run_tools(org, &message.call, &calls, now).await;
            (results(&calls, &replies), replies)
        }
    };
    let mut body = responses::tool_calls(&results);
    if let Some(first) = results.first() {
        let content = match &first.outcome {
            Ok(text) | Err(text) => text.clone(),
        };
        body["toolResult"] = json!({"type": "text", "content": content});
        body["speech"] = json!(
            replies
                .first()
                .map_or_else(|| NOT_LINKED.to_owned(), |r| r.speech.clone())
        );
    }
    if let Some(destination) = replies.first().and_then(|r| r.transfer.clone()) {
        body["transfer"] = json!({ "destination": destination });
    }
    Ok(HttpResponse::Ok().json(body))
}

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(webhook).service(tool);
}
