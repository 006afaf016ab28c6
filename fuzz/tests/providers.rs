//! Vapi server messages, Dialpad bodies (plain and signed) and Twilio signatures: whatever
//! arrives, parsing answers Ok or a refusal, never a panic.

#![allow(clippy::unwrap_used, missing_docs)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parser_fuzz::json;
use proptest::prelude::*;
use serde_json::{Value, json};

const VAPI: &[&str] = &[
    "message",
    "type",
    "call",
    "id",
    "assistantId",
    "phoneNumberId",
    "customer",
    "number",
    "toolCallList",
    "toolCalls",
    "function",
    "name",
    "arguments",
    "parameters",
    "functionCall",
    "artifact",
    "transcript",
    "messages",
    "analysis",
    "summary",
    "endedReason",
    "startedAt",
    "endedAt",
    "status",
    "role",
    "transcriptType",
    "assistantOverrides",
    "metadata",
    "org_id",
    "org_sig",
    "assistant-request",
    "tool-calls",
    "function-call",
    "end-of-call-report",
    "status-update",
    "knowledge-base-request",
    "transfer-destination-request",
    "final",
    "user",
    "2026-11-20T14:00:00.000Z",
    "+15551234567",
    "bookClinicAppointment",
    "successEvaluation",
];

const DIALPAD: &[&str] = &[
    "call_id",
    "state",
    "direction",
    "external_number",
    "internal_number",
    "contact",
    "target",
    "type",
    "name",
    "phone",
    "id",
    "date_rang",
    "date_started",
    "date_connected",
    "date_ended",
    "event_timestamp",
    "duration",
    "recording_url",
    "recording_details",
    "url",
    "recording_type",
    "voicemail_link",
    "transcription_text",
    "ringing",
    "connected",
    "hangup",
    "missed",
    "voicemail",
    "user",
    "inbound",
    "outbound",
    "123",
    "-1",
    "1e30",
];

fn signed(claims: &Value, secret: &[u8]) -> String {
    let h = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
    let c = URL_SAFE_NO_PAD.encode(claims.to_string());
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let sig = ring::hmac::sign(&key, format!("{h}.{c}").as_bytes());
    format!("{h}.{c}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6000, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn vapi_server_messages_never_panic(message in json(VAPI), noise in prop::collection::vec(any::<u8>(), 0..64)) {
        let wrapped = json!({ "message": message });
        for body in [wrapped.to_string().into_bytes(), message.to_string().into_bytes(), noise] {
            if let Ok(parsed) = vapi_client::parse(&body) {
                let _ = format!("{:?}", parsed.kind);
            }
        }
    }

    #[test]
    fn dialpad_bodies_never_panic(event in json(DIALPAD), noise in ".{0,80}") {
        let secret = b"dialpad-secret-0123456789abcdef";
        let bodies = [
            (event.to_string(), None),
            (signed(&event, secret), Some(&secret[..])),
            (noise.clone(), None),
            (noise, Some(&secret[..])),
        ];
        for (body, secret) in bodies {
            if let Ok(value) = event_log::dialpad::decode_body(body.as_bytes(), secret)
                && let Ok(parsed) = event_log::dialpad::CallEvent::parse(&value)
            {
                prop_assert!(parsed.call_id > 0);
                let _ = (parsed.idempotency_key(&value), parsed.from_to(), parsed.happened_at());
                let _ = parsed.dialpad_user_id();
            }
        }
    }

    #[test]
    fn twilio_signatures_never_panic(
        url in ".{0,60}",
        params in prop::collection::vec((".{0,10}", ".{0,20}"), 0..6),
        signature in ".{0,40}",
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let _ = twilio_client::signature::validate_form("auth-token", &url, &pairs, &signature);
        let _ = twilio_client::signature::validate_json("auth-token", &url, &body, &signature);
    }

    #[test]
    fn e164_parsing_never_panics(input in ".{0,40}", digits in "[+0-9 ()-]{0,24}", cc in prop::option::of("[0-9]{0,4}")) {
        for text in [&input, &digits] {
            if let Ok(number) = telephony_gsm::E164::parse(text) {
                prop_assert!(number.as_str().starts_with('+'));
            }
            let _ = telephony_gsm::E164::normalize(text, cc.as_deref());
        }
    }
}
