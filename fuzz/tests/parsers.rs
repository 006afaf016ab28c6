//! The parsers that face the internet, fuzzed as properties (one test binary, so the suite
//! links it once): Vapi server messages, Dialpad bodies (plain and signed) and Twilio signatures
//! never panic; knowledge-base uploads (multipart framing as the gateway reads it, PDF and text
//! extraction of mutated documents and mutated decompression bombs) end in a document or a
//! refusal within the limits.

#![allow(clippy::unwrap_used, missing_docs)]

use actix_web::http::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parser_fuzz::{json, mutated};
use proptest::prelude::*;
use rag::extract::{DocumentFormat, MAX_DOCUMENT_CHARS, extract};
use rag::pdf_fixture::{bomb_pdf, text_pdf};
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

const FORM: &str = "--B\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nPrices\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nA consultation costs 50.\r\n--B--\r\n";

fn read(body: Vec<u8>) -> Result<usize, String> {
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("multipart/form-data; boundary=B"),
    );
    let stream = futures_util::stream::iter([Ok::<_, actix_web::error::PayloadError>(
        actix_web::web::Bytes::from(body),
    )]);
    let multipart = actix_multipart::Multipart::new(&headers, stream);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime
        .block_on(gateway::routes::knowledge_base::read_upload(multipart))
        .map(|upload| upload.bytes.len())
        .map_err(|e| e.to_string())
}

fn pdf_seed() -> Vec<u8> {
    text_pdf(&[
        vec![
            "Opening Hours".into(),
            "We are open Monday to Friday, 9am to 7pm.".into(),
        ],
        vec!["Prices".into(), "A consultation costs 50 dollars.".into()],
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, max_shrink_iters: 100, ..ProptestConfig::default() })]

    #[test]
    fn multipart_forms_never_panic(body in mutated(FORM.as_bytes().to_vec())) {
        if let Ok(len) = read(body) {
            prop_assert!(len <= rag::extract::MAX_UPLOAD_BYTES);
        }
    }

    #[test]
    fn mutated_pdfs_end_in_text_or_a_refusal(pdf in mutated(pdf_seed())) {
        if let Ok(doc) = extract(&pdf, DocumentFormat::Pdf) {
            prop_assert!(doc.text.chars().filter(|c| !c.is_whitespace()).count() <= MAX_DOCUMENT_CHARS);
        }
    }

    #[test]
    fn text_uploads_end_in_text_or_a_refusal(text in prop::collection::vec(any::<u8>(), 0..512)) {
        for format in [DocumentFormat::Text, DocumentFormat::Markdown, DocumentFormat::Pdf] {
            if let Ok(doc) = extract(&text, format) {
                prop_assert!(!doc.text.contains('\0'));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, max_shrink_iters: 20, ..ProptestConfig::default() })]

    /// A bomb with its bytes mutated is still refused or read within the limits.
    #[test]
    fn mutated_bombs_stay_bounded(pdf in mutated(bomb_pdf(1, 8 << 20))) {
        if let Ok(doc) = extract(&pdf, DocumentFormat::Pdf) {
            prop_assert!(doc.text.chars().filter(|c| !c.is_whitespace()).count() <= MAX_DOCUMENT_CHARS);
        }
    }
}
