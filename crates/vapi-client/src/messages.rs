//! Vapi server messages (contracts/vapi.md §1), parsed leniently: every documented wire variant
//! is accepted, unknown types and fields are tolerated.
//!
//! - `timestamp` (and the call's `startedAt`/`endedAt`): epoch milliseconds (number or numeric
//!   string) or an ISO-8601 string (§1, ⚠);
//! - tool calls: `toolCallList`, then `toolCalls`, then `toolWithToolCallList[].toolCall`; an
//!   entry's `function.arguments` may be an object or a JSON string; a flat `name`/`parameters`
//!   entry is the last resort (§1.3);
//! - the legacy `function-call` with `functionCall.parameters` as an object or a JSON string
//!   (§2.4);
//! - end-of-call reports: duration from `durationSeconds`, `durationMs`, `durationMinutes`, else
//!   `endedAt − startedAt` (top level, then `call.*`); summary from `analysis.summary`, then the
//!   top level; transcript from `artifact.transcript`, then the top level; recording from
//!   `artifact.recordingUrl`, `artifact.recording.mono.combinedUrl`, `artifact.recording.stereoUrl`,
//!   then the top-level legacy fields (§1.1); sentiment from `analysis.sentiment*`, then the
//!   `analysis.structuredData` that [`crate::analysis_plan`] asks Vapi for.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::analysis;

/// Why a body is not a server message at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not JSON.
    #[error("the body is not JSON")]
    NotJson,
    /// JSON without `message.type`.
    #[error("the body has no message.type")]
    NoType,
}

/// What the webhook needs of the `call` object. Serializable as our own stored form (a queued
/// report's job), not Vapi's wire form.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CallInfo {
    /// Vapi's call id.
    pub id: Option<String>,
    /// The assistant handling it (tenant routing key 1).
    pub assistant_id: Option<String>,
    /// Our number it came in on (tenant routing key 2).
    pub phone_number_id: Option<String>,
    /// `inboundPhoneCall`, `outboundPhoneCall`, `webCall`, …
    pub call_type: Option<String>,
    /// The call's status.
    pub status: Option<String>,
    /// The caller's number (`call.customer.number`, else `message.customer.number`).
    pub customer_number: Option<String>,
    /// The caller's name.
    pub customer_name: Option<String>,
    /// Started (UTC).
    pub started_at: Option<DateTime<Utc>>,
    /// Ended (UTC).
    pub ended_at: Option<DateTime<Utc>>,
    /// Our metadata (`assistantOverrides.metadata`; tenant routing key 3).
    pub metadata: Map<String, Value>,
    /// The telephony provider's call id (Twilio's CallSid).
    pub provider_call_id: Option<String>,
    /// Live Call Control URL (`monitor.controlUrl`).
    pub control_url: Option<String>,
}

/// One tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The model's tool-call id (empty for the legacy `function-call`).
    pub id: String,
    /// The function name.
    pub name: String,
    /// The arguments, or why they could not be read (answered as a per-call error).
    pub arguments: Result<Map<String, Value>, String>,
}

/// What an end-of-call report says.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EndOfCallReport {
    /// Free string (627 values in the OpenAPI enum).
    pub ended_reason: Option<String>,
    /// Cost in US dollars.
    pub cost: Option<f64>,
    /// Duration in seconds.
    pub duration_seconds: Option<f64>,
    /// Summary.
    pub summary: Option<String>,
    /// Transcript.
    pub transcript: Option<String>,
    /// Recording URL.
    pub recording_url: Option<String>,
    /// `analysis.structuredData`.
    pub structured_data: Option<Value>,
    /// `analysis.successEvaluation`, as a string.
    pub success_evaluation: Option<String>,
    /// `artifact.messages` (or the legacy top-level `messages`).
    pub messages: Vec<Value>,
    /// `analysis.sentiment`, else `analysis.structuredData.sentiment` (what our
    /// [`crate::analysis_plan`] asks for): a label such as `positive`.
    pub sentiment: Option<String>,
    /// `analysis.sentimentScore`, else `analysis.structuredData.sentimentScore`; 0-1.
    pub sentiment_score: Option<f64>,
    /// `analysis.sentimentSummary`, else `analysis.structuredData.sentimentSummary`.
    pub sentiment_summary: Option<String>,
    /// `analysis.sentimentUrgency`, else `analysis.structuredData.sentimentUrgency`.
    pub sentiment_urgency: Option<String>,
    /// Started (UTC): the message's `startedAt`, else the call's.
    pub started_at: Option<DateTime<Utc>>,
    /// Ended (UTC): the message's `endedAt`, else the call's.
    pub ended_at: Option<DateTime<Utc>>,
}

/// The type-specific part of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageKind {
    /// Inbound call without an assistant: answer with one (7.5 s deadline).
    AssistantRequest,
    /// Tool calls to answer, in order.
    ToolCalls(Vec<ToolCall>),
    /// The legacy `function-call`.
    FunctionCall(ToolCall),
    /// A `transferCall` without a destination: answer with one.
    TransferDestinationRequest,
    /// A custom knowledge base is asked for documents (contracts/vapi.md §2.5): `query` is the
    /// caller's last message (`messages[]` with role `user`, its `message` or `content`, else
    /// the same in `messagesOpenAIFormatted`).
    KnowledgeBaseRequest {
        /// The caller's last words (empty when none was found).
        query: String,
    },
    /// Call status changed.
    StatusUpdate {
        /// `scheduled`, `queued`, `ringing`, `in-progress`, `forwarding`, `ended`, …
        status: String,
        /// With `ended`.
        ended_reason: Option<String>,
    },
    /// The call is over.
    EndOfCallReport(Box<EndOfCallReport>),
    /// Live transcript.
    Transcript {
        /// `assistant` or `user`.
        role: String,
        /// `partial` or `final`.
        transcript_type: String,
        /// Text.
        transcript: String,
    },
    /// Any other type (acknowledged, not acted on).
    Other(String),
}

/// A parsed server message.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerMessage {
    /// `message.type` as sent.
    pub message_type: String,
    /// When Vapi sent it.
    pub timestamp: Option<DateTime<Utc>>,
    /// The call, when present.
    pub call: CallInfo,
    /// The type-specific part.
    pub kind: MessageKind,
}

impl ServerMessage {
    /// Whether Vapi waits for a meaningful response body.
    #[must_use]
    pub fn expects_response(&self) -> bool {
        matches!(
            self.kind,
            MessageKind::AssistantRequest
                | MessageKind::ToolCalls(_)
                | MessageKind::FunctionCall(_)
                | MessageKind::TransferDestinationRequest
                | MessageKind::KnowledgeBaseRequest { .. }
        )
    }
}

/// The last user message of `messages` (Vapi's form: `{role, message}`), else of
/// `messagesOpenAIFormatted` (`{role, content}`); content given as parts keeps their text.
fn last_user_message(m: &Value) -> String {
    let content = |item: &Value| -> Option<String> {
        for key in ["message", "content"] {
            match &item[key] {
                Value::String(s) if !s.trim().is_empty() => return Some(s.trim().to_owned()),
                Value::Array(parts) => {
                    let text: Vec<&str> = parts.iter().filter_map(|p| p["text"].as_str()).collect();
                    if !text.is_empty() {
                        return Some(text.join(" "));
                    }
                }
                _ => {}
            }
        }
        None
    };
    ["messages", "messagesOpenAIFormatted"]
        .iter()
        .find_map(|key| {
            m[*key].as_array()?.iter().rev().find_map(|item| {
                (item["role"].as_str() == Some("user"))
                    .then(|| content(item))
                    .flatten()
            })
        })
        .unwrap_or_default()
}

/// Reads a time: epoch milliseconds (number or numeric string) or ISO-8601.
#[must_use]
pub fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    let from_ms = |ms: f64| {
        #[allow(clippy::cast_possible_truncation)]
        DateTime::from_timestamp_millis(ms as i64)
    };
    match v {
        Value::Number(n) => n.as_f64().and_then(from_ms),
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .ok()
            .or_else(|| s.trim().parse::<f64>().ok().and_then(from_ms)),
        _ => None,
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn first_text(candidates: &[&Value]) -> Option<String> {
    candidates.iter().find_map(|v| text(v))
}

/// Reads arguments given as an object or as a JSON string holding one.
fn arguments(v: &Value) -> Result<Map<String, Value>, String> {
    match v {
        Value::Object(map) => Ok(map.clone()),
        Value::String(s) if s.trim().is_empty() => Ok(Map::new()),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err("the arguments are not a JSON object".into()),
        },
        Value::Null => Ok(Map::new()),
        _ => Err("the arguments are not a JSON object".into()),
    }
}

fn tool_call(entry: &Value) -> Option<ToolCall> {
    let function = &entry["function"];
    let name = text(&function["name"]).or_else(|| text(&entry["name"]))?;
    let args = if function.get("arguments").is_some() {
        &function["arguments"]
    } else if function.get("parameters").is_some() {
        &function["parameters"]
    } else {
        &entry["parameters"]
    };
    Some(ToolCall {
        id: text(&entry["id"]).unwrap_or_default(),
        name,
        arguments: arguments(args),
    })
}

fn tool_calls(m: &Value) -> Vec<ToolCall> {
    for key in ["toolCallList", "toolCalls"] {
        if let Some(list) = m[key].as_array().filter(|l| !l.is_empty()) {
            return list.iter().filter_map(tool_call).collect();
        }
    }
    m["toolWithToolCallList"]
        .as_array()
        .map(|l| l.iter().filter_map(|t| tool_call(&t["toolCall"])).collect())
        .unwrap_or_default()
}

fn call_info(m: &Value) -> CallInfo {
    let call = &m["call"];
    CallInfo {
        id: text(&call["id"]),
        assistant_id: text(&call["assistantId"]),
        phone_number_id: text(&call["phoneNumberId"]),
        call_type: text(&call["type"]),
        status: text(&call["status"]),
        customer_number: first_text(&[&call["customer"]["number"], &m["customer"]["number"]]),
        customer_name: first_text(&[&call["customer"]["name"], &m["customer"]["name"]]),
        started_at: parse_time(&call["startedAt"]),
        ended_at: parse_time(&call["endedAt"]),
        metadata: call["assistantOverrides"]["metadata"]
            .as_object()
            .cloned()
            .unwrap_or_default(),
        provider_call_id: first_text(&[
            &call["phoneCallProviderId"],
            &call["transport"]["callSid"],
        ]),
        control_url: text(&call["monitor"]["controlUrl"]),
    }
}

fn end_of_call_report(m: &Value, call: &CallInfo) -> EndOfCallReport {
    let artifact = &m["artifact"];
    let started = parse_time(&m["startedAt"]).or(call.started_at);
    let ended = parse_time(&m["endedAt"]).or(call.ended_at);
    #[allow(clippy::cast_precision_loss)]
    let duration_seconds = number(&m["durationSeconds"])
        .or_else(|| number(&m["durationMs"]).map(|ms| ms / 1000.0))
        .or_else(|| number(&m["durationMinutes"]).map(|min| min * 60.0))
        .or_else(|| {
            started
                .zip(ended)
                .map(|(s, e)| (e - s).num_milliseconds().max(0) as f64 / 1000.0)
        });
    let analysis = &m["analysis"];
    let structured = &analysis["structuredData"];
    let sentiment_field = |key: &str| [&analysis[key], &structured[key]];
    EndOfCallReport {
        ended_reason: text(&m["endedReason"]),
        cost: number(&m["cost"]),
        duration_seconds,
        summary: first_text(&[&analysis["summary"], &m["summary"]]),
        transcript: first_text(&[&artifact["transcript"], &m["transcript"]]),
        recording_url: first_text(&[
            &artifact["recordingUrl"],
            &artifact["recording"]["mono"]["combinedUrl"],
            &artifact["recording"]["stereoUrl"],
            &m["recordingUrl"],
            &m["stereoRecordingUrl"],
        ]),
        structured_data: analysis
            .get("structuredData")
            .filter(|v| !v.is_null())
            .cloned(),
        success_evaluation: match &analysis["successEvaluation"] {
            Value::Bool(b) => Some(b.to_string()),
            other => text(other),
        },
        messages: artifact["messages"]
            .as_array()
            .or_else(|| m["messages"].as_array())
            .cloned()
            .unwrap_or_default(),
        sentiment: first_text(&sentiment_field(analysis::SENTIMENT)),
        sentiment_score: sentiment_field(analysis::SENTIMENT_SCORE)
            .into_iter()
            .find_map(number),
        sentiment_summary: first_text(&sentiment_field(analysis::SENTIMENT_SUMMARY)),
        sentiment_urgency: first_text(&sentiment_field(analysis::SENTIMENT_URGENCY)),
        started_at: started,
        ended_at: ended,
    }
}

/// Parses a webhook body `{"message": {...}}` (a bare message object is accepted too).
///
/// # Errors
/// [`ParseError`] when the body is not JSON or has no `message.type`.
pub fn parse(body: &[u8]) -> Result<ServerMessage, ParseError> {
    let root: Value = serde_json::from_slice(body).map_err(|_| ParseError::NotJson)?;
    parse_value(&root)
}

/// [`parse`] of a body already read as JSON (the gateway cleans it first).
///
/// # Errors
/// [`ParseError::NoType`] when the message has no `type`.
pub fn parse_value(root: &Value) -> Result<ServerMessage, ParseError> {
    let m = if root.get("message").is_some_and(Value::is_object) {
        &root["message"]
    } else {
        root
    };
    let message_type = text(&m["type"]).ok_or(ParseError::NoType)?;
    let call = call_info(m);
    let kind = match message_type.as_str() {
        "assistant-request" => MessageKind::AssistantRequest,
        "tool-calls" => MessageKind::ToolCalls(tool_calls(m)),
        "function-call" => {
            let f = &m["functionCall"];
            MessageKind::FunctionCall(ToolCall {
                id: String::new(),
                name: text(&f["name"]).unwrap_or_default(),
                arguments: arguments(&f["parameters"]),
            })
        }
        "transfer-destination-request" => MessageKind::TransferDestinationRequest,
        "knowledge-base-request" => MessageKind::KnowledgeBaseRequest {
            query: last_user_message(m),
        },
        "status-update" => MessageKind::StatusUpdate {
            status: text(&m["status"])
                .or_else(|| call.status.clone())
                .unwrap_or_default(),
            ended_reason: text(&m["endedReason"]),
        },
        "end-of-call-report" => {
            MessageKind::EndOfCallReport(Box::new(end_of_call_report(m, &call)))
        }
        "transcript" => MessageKind::Transcript {
            role: text(&m["role"]).unwrap_or_default(),
            transcript_type: text(&m["transcriptType"]).unwrap_or_else(|| "final".into()),
            transcript: text(&m["transcript"]).unwrap_or_default(),
        },
        other if other.starts_with("transcript[") => MessageKind::Transcript {
            role: text(&m["role"]).unwrap_or_default(),
            transcript_type: text(&m["transcriptType"]).unwrap_or_else(|| "final".into()),
            transcript: text(&m["transcript"]).unwrap_or_default(),
        },
        other => MessageKind::Other(other.to_owned()),
    };
    Ok(ServerMessage {
        timestamp: parse_time(&m["timestamp"]),
        message_type,
        call,
        kind,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn a_knowledge_base_request_reads_the_last_user_message_in_either_form() {
        let m = parsed(
            &json!({"message": {"type": "knowledge-base-request", "messages": [
            {"role": "user", "message": "hi"}, {"role": "bot", "message": "Hello!"},
            {"role": "user", "message": " Where are you located? "}],
            "messagesOpenAIFormatted": [{"role": "user", "content": "ignored"}]}}),
        );
        assert!(m.expects_response());
        assert_eq!(
            m.kind,
            MessageKind::KnowledgeBaseRequest {
                query: "Where are you located?".into()
            }
        );
        let m = parsed(
            &json!({"message": {"type": "knowledge-base-request", "messages": [],
            "messagesOpenAIFormatted": [
                {"role": "user", "content": [{"type": "text", "text": "opening hours?"}]},
                {"role": "assistant", "content": "..."}]}}),
        );
        assert_eq!(
            m.kind,
            MessageKind::KnowledgeBaseRequest {
                query: "opening hours?".into()
            }
        );
    }

    fn parsed(v: &Value) -> ServerMessage {
        parse(v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn tool_call_arguments_as_object_or_string_in_every_list() {
        let modern = json!({"message": {"type": "tool-calls", "timestamp": 1_728_393_715_369_i64,
            "call": {"id": "c1", "assistantId": "a1"},
            "toolCallList": [
                {"id": "call_1", "type": "function", "function": {"name": "lookupCaller", "arguments": {"searchKey": "+15551234567"}}},
                {"id": "call_2", "type": "function", "function": {"name": "checkAvailability", "arguments": "{\"date\":\"2026-03-09\"}"}},
                {"id": "call_3", "type": "function", "function": {"name": "bookClinicAppointment", "arguments": "not json"}}
            ],
            "toolWithToolCallList": []}});
        let m = parsed(&modern);
        assert_eq!(m.timestamp.unwrap().timestamp_millis(), 1_728_393_715_369);
        assert_eq!(m.call.assistant_id.as_deref(), Some("a1"));
        let MessageKind::ToolCalls(calls) = m.kind else {
            panic!()
        };
        assert_eq!(calls.len(), 3);
        assert_eq!(
            calls[0].arguments.as_ref().unwrap()["searchKey"],
            "+15551234567"
        );
        assert_eq!(calls[1].arguments.as_ref().unwrap()["date"], "2026-03-09");
        assert!(calls[2].arguments.is_err());

        let legacy_list = json!({"message": {"type": "tool-calls", "timestamp": "2024-10-08T13:21:55.369Z",
            "toolCalls": [{"id": "call_9", "function": {"name": "transferCall", "arguments": {"department": "billing"}}}]}});
        let m = parsed(&legacy_list);
        assert!(m.timestamp.is_some());
        let MessageKind::ToolCalls(calls) = m.kind else {
            panic!()
        };
        assert_eq!(
            (calls[0].id.as_str(), calls[0].name.as_str()),
            ("call_9", "transferCall")
        );

        let nested = json!({"message": {"type": "tool-calls", "toolCallList": [],
            "toolWithToolCallList": [{"type": "function", "function": {"name": "getKnowledgeBase"},
                "toolCall": {"id": "toolu_1", "type": "function", "function": {"name": "getKnowledgeBase", "arguments": {"query": "hours"}}}}]}});
        let MessageKind::ToolCalls(calls) = parsed(&nested).kind else {
            panic!()
        };
        assert_eq!(calls[0].id, "toolu_1");

        let flat = json!({"message": {"type": "tool-calls", "toolCallList": [{"id": "x", "name": "lookupCaller", "parameters": {"searchKey": "Jane"}}]}});
        let MessageKind::ToolCalls(calls) = parsed(&flat).kind else {
            panic!()
        };
        assert_eq!(calls[0].arguments.as_ref().unwrap()["searchKey"], "Jane");
    }

    #[test]
    fn legacy_function_call_with_string_parameters() {
        let m = parsed(&json!({"message": {"type": "function-call",
            "functionCall": {"name": "lookupCaller", "parameters": "{ \"searchKey\": \"a@b.c\" }"}}}));
        let MessageKind::FunctionCall(call) = m.kind else {
            panic!()
        };
        assert_eq!(call.arguments.unwrap()["searchKey"], "a@b.c");
        assert!(m.message_type == "function-call");
    }

    #[test]
    fn sentiment_comes_from_the_structured_data_our_analysis_plan_asks_for() {
        let plan = crate::analysis_plan();
        let asked = &plan["structuredDataPlan"]["schema"]["properties"];
        let report = json!({"message": {"type": "end-of-call-report", "call": {"id": "c1"},
            "analysis": {"summary": "Asked about prices.", "successEvaluation": "false",
                "structuredData": {"sentiment": "negative", "sentimentScore": 0.2,
                    "sentimentSummary": "Upset about the wait.", "sentimentUrgency": "high"}}}});
        let MessageKind::EndOfCallReport(r) = parsed(&report).kind else {
            panic!()
        };
        for key in [
            "sentiment",
            "sentimentScore",
            "sentimentSummary",
            "sentimentUrgency",
        ] {
            assert!(asked.get(key).is_some(), "the plan asks for {key}");
        }
        assert_eq!(r.sentiment.as_deref(), Some("negative"));
        assert_eq!(r.sentiment_score, Some(0.2));
        assert_eq!(
            r.sentiment_summary.as_deref(),
            Some("Upset about the wait.")
        );
        assert_eq!(r.sentiment_urgency.as_deref(), Some("high"));
        assert_eq!(r.success_evaluation.as_deref(), Some("false"));
        let top_level = json!({"message": {"type": "end-of-call-report", "call": {"id": "c1"},
            "analysis": {"sentiment": "positive", "structuredData": {"sentiment": "negative"}}}});
        let MessageKind::EndOfCallReport(r) = parsed(&top_level).kind else {
            panic!()
        };
        assert_eq!(r.sentiment.as_deref(), Some("positive"));
    }

    #[test]
    fn end_of_call_report_reads_modern_and_legacy_fields() {
        let modern = json!({"message": {"type": "end-of-call-report", "endedReason": "customer-ended-call",
            "cost": 0.1234, "startedAt": "2026-03-09T14:00:00.000Z", "endedAt": "2026-03-09T14:02:05.500Z",
            "analysis": {"summary": "Booked Botox.", "successEvaluation": true, "structuredData": {"booked": true}},
            "artifact": {"transcript": "AI: Hi", "recording": {"mono": {"combinedUrl": "https://r/m.wav"}}, "messages": [{"role": "bot"}]},
            "call": {"id": "c1", "type": "inboundPhoneCall", "customer": {"number": "+15551234567", "name": "Jane"}}}});
        let m = parsed(&modern);
        let MessageKind::EndOfCallReport(r) = m.kind else {
            panic!()
        };
        assert_eq!(r.duration_seconds, Some(125.5));
        assert_eq!(r.summary.as_deref(), Some("Booked Botox."));
        assert_eq!(r.recording_url.as_deref(), Some("https://r/m.wav"));
        assert_eq!(r.success_evaluation.as_deref(), Some("true"));
        assert_eq!(r.cost, Some(0.1234));
        assert_eq!(m.call.customer_name.as_deref(), Some("Jane"));

        let legacy = json!({"message": {"type": "end-of-call-report", "durationMs": 7734,
            "summary": "old summary", "transcript": "old transcript", "recordingUrl": "https://r/old.wav",
            "messages": [{"role": "user"}, {"role": "bot"}], "analysis": {}, "artifact": {}}});
        let MessageKind::EndOfCallReport(r) = parsed(&legacy).kind else {
            panic!()
        };
        assert_eq!(r.duration_seconds, Some(7.734));
        assert_eq!(r.summary.as_deref(), Some("old summary"));
        assert_eq!(r.transcript.as_deref(), Some("old transcript"));
        assert_eq!(r.recording_url.as_deref(), Some("https://r/old.wav"));
        assert_eq!(r.messages.len(), 2);

        let from_call =
            json!({"message": {"type": "end-of-call-report", "durationMinutes": "0.5"}});
        let MessageKind::EndOfCallReport(r) = parsed(&from_call).kind else {
            panic!()
        };
        assert_eq!(r.duration_seconds, Some(30.0));
    }

    #[test]
    fn status_transcript_unknown_and_broken_bodies() {
        let m = parsed(
            &json!({"message": {"type": "status-update", "status": "ended", "endedReason": "voicemail"}}),
        );
        assert_eq!(
            m.kind,
            MessageKind::StatusUpdate {
                status: "ended".into(),
                ended_reason: Some("voicemail".into())
            }
        );
        let t = parsed(
            &json!({"message": {"type": "transcript[transcriptType=\"final\"]", "role": "user", "transcriptType": "final", "transcript": "hello"}}),
        );
        assert!(
            matches!(t.kind, MessageKind::Transcript { ref transcript, .. } if transcript == "hello")
        );
        let other = parsed(
            &json!({"message": {"type": "speech-update", "status": "started", "newField": 1}}),
        );
        assert_eq!(other.kind, MessageKind::Other("speech-update".into()));
        assert!(!other.expects_response());
        assert_eq!(parse(b"nope"), Err(ParseError::NotJson));
        assert_eq!(parse(b"{\"message\":{}}"), Err(ParseError::NoType));
        let bare = parsed(
            &json!({"type": "assistant-request", "call": {"phoneNumberId": "pn1", "customer": {"number": "+15550001111"}}}),
        );
        assert!(bare.expects_response());
        assert_eq!(bare.call.phone_number_id.as_deref(), Some("pn1"));
    }
}
