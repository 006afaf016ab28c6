//! The providers' exact wire formats, as the gateway receives them.
//!
//! - Vapi server messages (contracts/vapi.md §1-2): `{"message": {"type": …, "timestamp":
//!   <epoch ms>, "call": Call, …}}`, posted to `/api/vapi/webhook` (or a tool's own URL) with
//!   the webhook secret in `x-vapi-secret`.
//! - Dialpad call events (contracts/telephony.md §A.2-A.3): the event object as the claims of a
//!   compact JWS signed HS256 with the app's shared secret, posted to
//!   `/webhooks/dialpad/{app_id}`; times in epoch **milliseconds**.

use anyhow::Context as _;
use serde_json::{Value, json};

/// A Vapi call as the messages about it carry it (`Call` of contracts/vapi.md §1).
#[derive(Debug, Clone)]
pub struct VapiCall {
    /// Vapi's call id.
    pub id: String,
    /// The assistant handling it.
    pub assistant_id: String,
    /// The Vapi phone number it came in on (inbound) or left from (outbound).
    pub phone_number_id: String,
    /// The caller (inbound) or callee (outbound), E.164.
    pub customer: String,
    /// The caller's name, when Vapi knows it.
    pub customer_name: Option<String>,
    /// `inboundPhoneCall` or `outboundPhoneCall`.
    pub kind: &'static str,
    /// `assistantOverrides.metadata` (what our assistant-request or call-back put there).
    pub metadata: Value,
    /// When it started (`startedAt`), for a call replayed from the past; `None` means now.
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl VapiCall {
    /// The `call` object.
    #[must_use]
    pub fn json(&self) -> Value {
        let mut customer = json!({"number": self.customer});
        if let Some(name) = &self.customer_name {
            customer["name"] = json!(name);
        }
        let mut call = json!({
            "id": self.id, "orgId": "vapi-org-loadgen", "assistantId": self.assistant_id,
            "phoneNumberId": self.phone_number_id, "type": self.kind, "customer": customer,
            "phoneCallProvider": "twilio", "phoneCallTransport": "pstn",
            "assistantOverrides": {"metadata": self.metadata},
            "createdAt": "2026-11-20T14:00:00.000Z", "updatedAt": "2026-11-20T14:00:00.000Z"
        });
        if let Some(started) = self.started_at {
            call["startedAt"] = json!(iso(started));
        }
        call
    }
}

impl VapiCall {
    /// An inbound call `id` from `caller` to the number `phone_number_id`, handled by
    /// `assistant_id`, starting now, without metadata.
    #[must_use]
    pub fn inbound(id: String, assistant_id: &str, phone_number_id: &str, caller: String) -> Self {
        Self {
            id,
            assistant_id: assistant_id.to_owned(),
            phone_number_id: phone_number_id.to_owned(),
            customer: caller,
            customer_name: None,
            kind: "inboundPhoneCall",
            metadata: json!({}),
            started_at: None,
        }
    }
}

fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `assistant-request` for a call from `caller` to the number `phone_number_id` (`number`).
#[must_use]
pub fn assistant_request(
    call_id: &str,
    phone_number_id: &str,
    number: &str,
    caller: &str,
) -> Value {
    json!({"message": {"type": "assistant-request", "timestamp": now_ms(),
        "call": {"id": call_id, "orgId": "vapi-org-loadgen", "type": "inboundPhoneCall", "phoneNumberId": phone_number_id,
                 "customer": {"number": caller}, "status": "ringing",
                 "createdAt": "2026-11-20T14:00:00.000Z", "updatedAt": "2026-11-20T14:00:00.000Z"},
        "phoneNumber": {"id": phone_number_id, "number": number, "provider": "twilio"},
        "customer": {"number": caller}}})
}

/// `status-update` (`ringing`, `in-progress`, `forwarding`, `ended` with an `endedReason`).
#[must_use]
pub fn status_update(call: &VapiCall, status: &str, ended_reason: Option<&str>) -> Value {
    let mut message = json!({"type": "status-update", "timestamp": now_ms(), "status": status, "call": call.json()});
    if let Some(reason) = ended_reason {
        message["endedReason"] = json!(reason);
    }
    json!({ "message": message })
}

/// `tool-calls` with one function call `name(args)`; `args` as an object.
#[must_use]
pub fn tool_calls(call: &VapiCall, tool_call_id: &str, name: &str, args: &Value) -> Value {
    json!({"message": {"type": "tool-calls", "timestamp": now_ms(), "call": call.json(),
        "toolCallList": [{"id": tool_call_id, "type": "function", "function": {"name": name, "arguments": args}}],
        "toolWithToolCallList": [{"type": "function", "function": {"name": name},
            "toolCall": {"id": tool_call_id, "type": "function", "function": {"name": name, "arguments": args}}}]}})
}

/// A final `transcript` line said by `role` (`user` or `assistant`).
#[must_use]
pub fn transcript(call: &VapiCall, role: &str, text: &str) -> Value {
    json!({"message": {"type": "transcript", "timestamp": now_ms(), "call": call.json(),
        "role": role, "transcriptType": "final", "transcript": text}})
}

/// How the caller felt, as our assistants' `analysisPlan` asks Vapi to report it
/// (`analysis.structuredData`): label, score 0–1, one sentence, urgency.
#[derive(Debug, Clone, Copy)]
pub struct Feeling {
    /// `positive`, `neutral` or `negative`.
    pub label: &'static str,
    /// 0 (very negative) to 1 (very positive).
    pub score: f64,
    /// One sentence on the caller's mood.
    pub summary: &'static str,
    /// `low`, `medium` or `high`.
    pub urgency: &'static str,
}

/// A calm, satisfied caller.
pub const SATISFIED: Feeling = Feeling {
    label: "positive",
    score: 0.7,
    summary: "Calm and satisfied",
    urgency: "low",
};

/// `end-of-call-report` of a call that lasted `seconds`, with its transcript and summary, from a
/// [`SATISFIED`] caller.
#[must_use]
pub fn end_of_call_report(
    call: &VapiCall,
    transcript: &str,
    summary: &str,
    seconds: i64,
    reason: &str,
) -> Value {
    end_of_call_report_felt(call, transcript, summary, seconds, reason, SATISFIED)
}

/// [`end_of_call_report`] with the caller's `feeling`. A call with a `started_at` ends `seconds`
/// after it; otherwise it ends now.
#[must_use]
pub fn end_of_call_report_felt(
    call: &VapiCall,
    transcript: &str,
    summary: &str,
    seconds: i64,
    reason: &str,
    feeling: Feeling,
) -> Value {
    let (started, ended) = match call.started_at {
        Some(started) => (started, started + chrono::Duration::seconds(seconds)),
        None => {
            let ended = chrono::Utc::now();
            (ended - chrono::Duration::seconds(seconds), ended)
        }
    };
    json!({"message": {"type": "end-of-call-report", "timestamp": now_ms(), "endedReason": reason,
        "cost": 0.0125 * seconds as f64 / 10.0, "startedAt": iso(started), "endedAt": iso(ended),
        "analysis": {"summary": summary, "successEvaluation": "true",
                     "structuredData": {"sentiment": feeling.label, "sentimentScore": feeling.score,
                                        "sentimentSummary": feeling.summary, "sentimentUrgency": feeling.urgency}},
        "artifact": {"transcript": transcript, "messages": [],
                     "recording": {"mono": {"combinedUrl": format!("https://storage.vapi.ai/{}.wav", call.id)}}},
        "call": call.json()}})
}

/// The tool result of a `tool-calls` reply (`results[0].result`, a JSON string) parsed, or the
/// `error` string of a refused one as `{"error": …}`.
#[must_use]
pub fn tool_result(reply: &Value) -> Value {
    let first = &reply["results"][0];
    match first["result"].as_str() {
        Some(text) => serde_json::from_str(text).unwrap_or_else(|_| json!({"text": text})),
        None => json!({"error": first["error"]}),
    }
}

/// A Dialpad call event (`CallProto` fields of contracts/telephony.md §A.3).
#[must_use]
pub fn dialpad_event(
    call_id: i64,
    state: &str,
    external: &str,
    internal: &str,
    at_ms: i64,
    dialpad_user: i64,
) -> Value {
    let mut event = json!({
        "call_id": call_id, "state": state, "direction": "inbound",
        "external_number": external, "internal_number": internal,
        "date_started": at_ms, "event_timestamp": at_ms,
        "target": {"id": dialpad_user, "type": "user", "name": "Front desk", "office_id": 5_550_001},
        "contact": {"id": format!("{}", 90_000 + call_id % 1000), "type": "contact", "phone": external},
        "is_transferred": false, "was_recorded": false, "labels": [], "routing_breadcrumbs": []
    });
    if state == "connected" {
        event["date_connected"] = json!(at_ms);
    }
    if state == "hangup" {
        event["date_ended"] = json!(at_ms);
        event["duration"] = json!(95_000.0);
    }
    event
}

/// `voicemail_uploaded` (after `hangup`) carrying the voicemail's link and recording details.
#[must_use]
pub fn dialpad_voicemail(
    call_id: i64,
    external: &str,
    internal: &str,
    at_ms: i64,
    dialpad_user: i64,
    transcript: &str,
) -> Value {
    let mut event = dialpad_event(
        call_id,
        "voicemail_uploaded",
        external,
        internal,
        at_ms,
        dialpad_user,
    );
    event["voicemail_link"] = json!(format!("https://dialpad.com/voicemail/{call_id}"));
    event["transcription_text"] = json!(transcript);
    event["recording_details"] = json!([{"id": call_id * 10, "recording_type": "voicemail",
        "url": format!("https://dialpad.com/r/{call_id}"), "duration": 31_000, "start_time": at_ms}]);
    event
}

/// The body Dialpad sends when the webhook has a secret: the event as the claims of a compact
/// JWS, `{"alg":"HS256","typ":"JWT"}`.
///
/// # Errors
/// When the claims cannot be encoded.
pub fn sign_dialpad(event: &Value, secret: &str) -> anyhow::Result<String> {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        event,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .context("signing a Dialpad event")
}
