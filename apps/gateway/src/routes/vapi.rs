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
//! While the database is unreachable each message gets what lets the call go on: tool calls
//! are answered 200 with an error the assistant can say, `assistant-request` with the number's
//! assistant from this instance's routing cache (else Vapi's `error` form), a
//! `knowledge-base-request` with no documents; messages that expect no answer
//! (`status-update`, `end-of-call-report`, `transcript`) get 503, and the assistant's server
//! `backoffPlan` makes Vapi deliver them again: nothing acknowledged is lost.

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

/// Said to a caller whose call starts while the database is unreachable and no assistant is
/// remembered for the number.
const LINE_BUSY: &str =
    "Sorry, we can't take your call right now. Please call back in a few minutes.";

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

/// The same spoken error for every call.
fn all_failed(calls: &[ToolCall], spoken: &str) -> Vec<ToolResult> {
    calls
        .iter()
        .map(|call| ToolResult {
            tool_call_id: call.id.clone(),
            name: call.name.clone(),
            outcome: Err(spoken.into()),
        })
        .collect()
}

fn not_linked(calls: &[ToolCall]) -> Vec<ToolResult> {
    all_failed(calls, NOT_LINKED)
}

/// The organization of the call, `Err` with the error logged when routing itself failed (the
/// database is unreachable).
async fn resolve(
    state: &AppState,
    call: &vapi_client::CallInfo,
) -> Result<Option<db::OrgId>, ApiError> {
    state.voice.resolve_org(call).await.map_err(ApiError::from)
}

/// `assistant-request`: the organization's assistant with the caller's context; while the
/// database is unreachable, the assistant remembered for the number (no context) or Vapi's
/// `error` form.
async fn assistant_request(
    state: &AppState,
    org: Result<Option<db::OrgId>, ApiError>,
    call: &vapi_client::CallInfo,
    now: chrono::DateTime<chrono::Utc>,
) -> serde_json::Value {
    let voice = &state.voice;
    let answer = match org {
        Ok(None) => {
            tracing::warn!(phone_number_id = ?call.phone_number_id, "assistant-request for an unknown number");
            return responses::assistant_request_error("Sorry, this number is not in service.");
        }
        Ok(Some(org)) => voice
            .assistant_for_call(org, call, now)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match answer {
        Ok(AssistantAnswer::Assistant {
            assistant_id,
            overrides,
        }) => {
            voice.remember_assistant(call, &assistant_id).await;
            responses::assistant_request(&assistant_id, Some(overrides))
        }
        Ok(AssistantAnswer::Unavailable(spoken)) => responses::assistant_request_error(&spoken),
        Err(e) => {
            tracing::error!(error = %e, "assistant-request failed; answering from the routing cache");
            match voice.remembered_assistant(call).await {
                Some(assistant_id) => responses::assistant_request(&assistant_id, None),
                None => responses::assistant_request_error(LINE_BUSY),
            }
        }
    }
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
    let org = resolve(&state, &message.call).await;
    let org = match (&message.kind, org) {
        (MessageKind::AssistantRequest, org) => {
            return Ok(
                HttpResponse::Ok().json(assistant_request(&state, org, &message.call, now).await)
            );
        }
        (MessageKind::ToolCalls(calls), Err(e)) => {
            tracing::error!(error = %e, "tool calls could not be routed");
            let failed = all_failed(calls, voice_agent::dispatch::SYSTEM_TROUBLE);
            return Ok(HttpResponse::Ok().json(responses::tool_calls(&failed)));
        }
        (MessageKind::FunctionCall(_), Err(e)) => {
            tracing::error!(error = %e, "a function call could not be routed");
            let reply = responses::function_call(voice_agent::dispatch::SYSTEM_TROUBLE);
            return Ok(HttpResponse::Ok().json(reply));
        }
        (MessageKind::KnowledgeBaseRequest { .. }, Err(e)) => {
            tracing::error!(error = %e, "a knowledge-base request could not be routed");
            return Ok(HttpResponse::Ok().json(responses::knowledge_base_documents(&[])));
        }
        (_, org) => org?,
    };
    let reply = match (message.kind, org) {
        (MessageKind::AssistantRequest, _) => responses::acknowledged(),
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
    let (results, replies) = match resolve(&state, &message.call).await {
        Ok(None) => (not_linked(&calls), Vec::new()),
        Ok(Some(org)) => {
            let replies = state.voice.run_tools(org, &message.call, &calls, now).await;
            (results(&calls, &replies), replies)
        }
        Err(e) => {
            tracing::error!(error = %e, "tool calls could not be routed");
            let failed = all_failed(&calls, voice_agent::dispatch::SYSTEM_TROUBLE);
            (failed, Vec::new())
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
                .map_or(content.clone(), |r| r.speech.clone())
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
