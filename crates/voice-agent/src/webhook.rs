//! What we answer to each Vapi server message (seed 001 "Webhook architecture";
//! contracts/vapi.md §2), once the gateway has authenticated and parsed it.
//!
//! While the database is unreachable each message gets what lets the call go on: tool calls an
//! error the assistant can say, `assistant-request` the number's assistant from this instance's
//! routing cache (else Vapi's `error` form), a `knowledge-base-request` no documents; messages
//! that expect no answer (`status-update`, `end-of-call-report`, `transcript`) return the
//! error, which the gateway answers 503 so that Vapi delivers them again.

use chrono::{DateTime, Utc};
use db::OrgId;
use serde_json::{Value, json};
use vapi_client::responses::{self, ToolResult};
use vapi_client::{CallInfo, MessageKind, ServerMessage, ToolCall};

use crate::dispatch::{SYSTEM_TROUBLE, ToolReply};
use crate::identity::AssistantAnswer;
use crate::{VoiceAgent, VoiceError};

/// Said to Vapi when a request names no organization we know.
pub const NOT_LINKED: &str = "This call is not linked to a clinic on our platform.";

/// Said to a caller whose call starts while the database is unreachable and no assistant is
/// remembered for the number.
pub const LINE_BUSY: &str =
    "Sorry, we can't take your call right now. Please call back in a few minutes.";

/// The organization a message's call belongs to: `Ok(None)` for none we know, `Err` when
/// routing itself failed (the database is unreachable).
type Routed = Result<Option<OrgId>, VoiceError>;

impl VoiceAgent {
    /// The body to answer `message` with (HTTP 200).
    ///
    /// # Errors
    /// A [`VoiceError`] only for messages that expect no answer and could not be recorded
    /// (the gateway answers it with an error status so that Vapi retries), or a transfer
    /// that could not be looked up or logged.
    pub async fn answer(
        &self,
        message: ServerMessage,
        now: DateTime<Utc>,
    ) -> Result<Value, VoiceError> {
        let routed = self.router.resolve_org(&message.call).await;
        let org = match (&message.kind, routed) {
            (MessageKind::AssistantRequest, routed) => {
                return Ok(self.assistant_request(routed, &message.call, now).await);
            }
            (kind, Err(e)) => return unrouted(kind, e),
            (_, Ok(org)) => org,
        };
        let Some(org) = org else {
            return Ok(unknown_org(&message));
        };
        self.answer_for(org, message, now).await
    }

    /// The answer to a message of `org`'s call.
    async fn answer_for(
        &self,
        org: OrgId,
        message: ServerMessage,
        now: DateTime<Utc>,
    ) -> Result<Value, VoiceError> {
        let call = &message.call;
        Ok(match message.kind {
            MessageKind::ToolCalls(calls) => {
                let replies = self.dispatcher().run_tools(org, call, &calls, now).await;
                responses::tool_calls(&results(&calls, &replies))
            }
            MessageKind::FunctionCall(tool) => {
                let reply = self.dispatcher().run_tool(org, call, &tool, now).await;
                responses::function_call(&reply.text().unwrap_or_else(|e| e))
            }
            MessageKind::KnowledgeBaseRequest { query } => responses::knowledge_base_documents(
                &self.dispatcher().knowledge_documents(org, &query).await,
            ),
            MessageKind::TransferDestinationRequest => {
                self.transfer_requested(org, call, now).await?
            }
            MessageKind::StatusUpdate {
                status,
                ended_reason,
            } => {
                self.calls
                    .record_status(org, call, &status, ended_reason.as_deref())
                    .await?;
                responses::acknowledged()
            }
            MessageKind::EndOfCallReport(report) => {
                self.calls.store_report(org, call, &report, now).await?;
                responses::acknowledged()
            }
            MessageKind::Transcript {
                role,
                transcript_type,
                transcript,
            } => {
                if transcript_type == "final" {
                    self.calls
                        .publish_transcript(org, call, &role, &transcript)
                        .await?;
                }
                responses::acknowledged()
            }
            _ => responses::acknowledged(),
        })
    }

    /// A tool's own server URL: `calls` answered as on the webhook, plus the seed's fields for
    /// the first call: `toolResult {type, content}`, `speech` and, for `transferCall`,
    /// `transfer.destination`.
    pub async fn answer_tool_url(
        &self,
        call: &CallInfo,
        calls: &[ToolCall],
        now: DateTime<Utc>,
    ) -> Value {
        let (results, replies) = match self.router.resolve_org(call).await {
            Ok(None) => (all_failed(calls, NOT_LINKED), Vec::new()),
            Ok(Some(org)) => {
                let replies = self.dispatcher().run_tools(org, call, calls, now).await;
                (results(calls, &replies), replies)
            }
            Err(e) => {
                tracing::error!(error = %e, "tool calls could not be routed");
                (all_failed(calls, SYSTEM_TROUBLE), Vec::new())
            }
        };
        let mut body = responses::tool_calls(&results);
        if let Some(first) = results.first() {
            let content = match &first.outcome {
                Ok(text) | Err(text) => text.clone(),
            };
            body["toolResult"] = json!({"type": "text", "content": content});
            body["speech"] = json!(replies.first().map_or(content, |r| r.speech.clone()));
        }
        if let Some(destination) = replies.first().and_then(|r| r.transfer.clone()) {
            body["transfer"] = json!({ "destination": destination });
        }
        body
    }

    /// `transfer-destination-request`: the configured destination, with the transfer logged.
    async fn transfer_requested(
        &self,
        org: OrgId,
        call: &CallInfo,
        now: DateTime<Utc>,
    ) -> Result<Value, VoiceError> {
        let Some(destination) = self.dispatcher().transfer_destination(org, None).await? else {
            return Ok(json!({"error": "No transfer destination is configured."}));
        };
        self.dispatcher()
            .log_transfer(org, call, &destination, "transfer requested", now)
            .await?;
        Ok(responses::transfer_destination(
            &destination,
            Some("Transferring you now."),
        ))
    }

    /// `assistant-request`: the organization's assistant with the caller's context; while the
    /// database is unreachable, the assistant remembered for the number (no context) or Vapi's
    /// `error` form.
    async fn assistant_request(&self, org: Routed, call: &CallInfo, now: DateTime<Utc>) -> Value {
        let answer = match org {
            Ok(None) => {
                tracing::warn!(phone_number_id = ?call.phone_number_id, "assistant-request for an unknown number");
                return responses::assistant_request_error("Sorry, this number is not in service.");
            }
            Ok(Some(org)) => self.identity().assistant_for_call(org, call, now).await,
            Err(e) => Err(e),
        };
        match answer {
            Ok(AssistantAnswer::Assistant {
                assistant_id,
                overrides,
            }) => {
                self.router.remember_assistant(call, &assistant_id).await;
                responses::assistant_request(&assistant_id, Some(overrides))
            }
            Ok(AssistantAnswer::Unavailable(spoken)) => responses::assistant_request_error(&spoken),
            Err(e) => {
                tracing::error!(error = %e, "assistant-request failed; answering from the routing cache");
                match self.router.remembered_assistant(call).await {
                    Some(assistant_id) => responses::assistant_request(&assistant_id, None),
                    None => responses::assistant_request_error(LINE_BUSY),
                }
            }
        }
    }
}

/// The answer when routing failed: a spoken error for tool and function calls, no documents
/// for a knowledge-base request, the error itself for the rest.
fn unrouted(kind: &MessageKind, e: VoiceError) -> Result<Value, VoiceError> {
    match kind {
        MessageKind::ToolCalls(calls) => {
            tracing::error!(error = %e, "tool calls could not be routed");
            Ok(responses::tool_calls(&all_failed(calls, SYSTEM_TROUBLE)))
        }
        MessageKind::FunctionCall(_) => {
            tracing::error!(error = %e, "a function call could not be routed");
            Ok(responses::function_call(SYSTEM_TROUBLE))
        }
        MessageKind::KnowledgeBaseRequest { .. } => {
            tracing::error!(error = %e, "a knowledge-base request could not be routed");
            Ok(responses::knowledge_base_documents(&[]))
        }
        _ => Err(e),
    }
}

/// The answer to a message whose call names no organization we know.
fn unknown_org(message: &ServerMessage) -> Value {
    match &message.kind {
        MessageKind::ToolCalls(calls) => responses::tool_calls(&all_failed(calls, NOT_LINKED)),
        MessageKind::FunctionCall(_) => responses::function_call(NOT_LINKED),
        MessageKind::KnowledgeBaseRequest { .. } => responses::knowledge_base_documents(&[]),
        MessageKind::TransferDestinationRequest => json!({ "error": NOT_LINKED }),
        MessageKind::StatusUpdate { .. } | MessageKind::EndOfCallReport(_) => {
            tracing::warn!(
                message_type = %message.message_type,
                assistant_id = ?message.call.assistant_id,
                "Vapi message for a call of no known organization: acknowledged, not stored"
            );
            responses::acknowledged()
        }
        _ => responses::acknowledged(),
    }
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
