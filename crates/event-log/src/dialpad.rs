//! Dialpad call events (contracts/telephony.md A): the body's signature and the lenient reading
//! of the call object.
//!
//! Leniency (A.3): ids, numbers and booleans may come as strings or numbers (`"FALSE"`,
//! `"123"`); `recording_url` as a string or a list; unknown fields are ignored; timestamps are
//! epoch **milliseconds**.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// Why a body was refused. Each maps to a 4xx with a stable code in the gateway.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    /// The app has a secret and the body is not a JWT signed HS256 with it (bad signature, other
    /// algorithm, malformed token, expired `exp`).
    #[error("the webhook signature is invalid")]
    BadSignature,
    /// The app has a secret and the body is plain JSON.
    #[error("this app requires signed (JWT) webhooks")]
    SignatureRequired,
    /// The app has no secret and the body is not a JSON object (a JWT cannot be verified without
    /// the secret).
    #[error("the body must be a JSON object (configure the webhook secret to send signed events)")]
    NotJson,
    /// The event lacks a field it cannot be processed without.
    #[error("the call event has no {0}")]
    Missing(&'static str),
    /// A field is outside the contract's range (`call_id`: a positive int64).
    #[error("the call event's {0} is not a positive 64-bit integer")]
    OutOfRange(&'static str),
    /// The signature is valid but the claims are not a JSON object this service can read
    /// (nested deeper than 128 levels, for example).
    #[error("the signed event's claims are not a readable JSON object")]
    UnreadableClaims,
}

/// The event object of a body: with a secret, the verified claims of the HS256 JWT the body is
/// (contracts/telephony.md A.2: only `alg = HS256`, signature compared in constant time by
/// `jsonwebtoken`); without one, the body parsed as a JSON object.
///
/// # Errors
/// [`PayloadError::BadSignature`], [`PayloadError::SignatureRequired`], [`PayloadError::NotJson`].
pub fn decode_body(body: &[u8], secret: Option<&[u8]>) -> Result<Value, PayloadError> {
    let mut value = verified_object(body, secret)?;
    // PostgreSQL text and jsonb cannot hold NUL: a provider's event is cleaned, not refused,
    // so that it is stored and processed like any other (docs/security.md, "Hostile input").
    db::text::strip_nul(&mut value);
    Ok(value)
}

fn verified_object(body: &[u8], secret: Option<&[u8]>) -> Result<Value, PayloadError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| PayloadError::NotJson)?
        .trim();
    let looks_like_json = text.starts_with('{');
    match secret {
        Some(secret) => {
            if looks_like_json {
                return Err(PayloadError::SignatureRequired);
            }
            let mut validation = Validation::new(Algorithm::HS256);
            validation.required_spec_claims.clear();
            validation.validate_aud = false;
            // `exp` is checked when present (whether Dialpad sets it is unconfirmed).
            validation.leeway = 60;
            let key = DecodingKey::from_secret(secret);
            let token = jsonwebtoken::decode::<Value>(text, &key, &validation)
                .map_err(|e| claims_or_signature(&e, text, &key))?;
            match token.claims {
                Value::Object(_) => Ok(token.claims),
                _ => Err(PayloadError::BadSignature),
            }
        }
        None => match serde_json::from_str::<Value>(text) {
            Ok(value @ Value::Object(_)) => Ok(value),
            _ => Err(PayloadError::NotJson),
        },
    }
}

/// A refused JWT: [`PayloadError::UnreadableClaims`] when its HS256 signature is valid and only
/// its claims could not be read (the integrator's bug, not a forgery), else
/// [`PayloadError::BadSignature`].
fn claims_or_signature(
    e: &jsonwebtoken::errors::Error,
    token: &str,
    key: &DecodingKey,
) -> PayloadError {
    use jsonwebtoken::errors::ErrorKind;
    let signed = || {
        let Some((message, signature)) = token.rsplit_once('.') else {
            return false;
        };
        jsonwebtoken::crypto::verify(signature, message.as_bytes(), key, Algorithm::HS256)
            .unwrap_or(false)
    };
    match e.kind() {
        ErrorKind::Json(_) | ErrorKind::Utf8(_) | ErrorKind::Base64(_) if signed() => {
            PayloadError::UnreadableClaims
        }
        _ => PayloadError::BadSignature,
    }
}

/// What a Dialpad state means to us (issue 7; seed 000 "Event handler registration").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// `ringing` (and `calling`, an outbound call being placed) → `call.ring`.
    Ring,
    /// `connected` → `call.started`.
    Started,
    /// `hangup` → `call.ended`.
    Ended,
    /// `missed` (the call ended unanswered) → `call.ended`, outcome `missed`.
    Missed,
    /// `recording` → `call.recording.completed`.
    RecordingCompleted,
    /// `voicemail`, `voicemail_uploaded` → `voicemail.received`.
    Voicemail,
    /// Any other state: stored, not acted on.
    Other,
}

impl EventKind {
    /// The kind of a Dialpad `state`.
    #[must_use]
    pub fn of_state(state: &str) -> Self {
        match state {
            "ringing" | "calling" => Self::Ring,
            "connected" => Self::Started,
            "hangup" => Self::Ended,
            "missed" => Self::Missed,
            "recording" => Self::RecordingCompleted,
            "voicemail" | "voicemail_uploaded" => Self::Voicemail,
            _ => Self::Other,
        }
    }

    /// Whether the call is over after this event (`hangup`, `missed`).
    #[must_use]
    pub fn ends_call(self) -> bool {
        matches!(self, Self::Ended | Self::Missed)
    }

    /// Our event name, stored as the event's `event_type` (`ignored` for [`EventKind::Other`]).
    #[must_use]
    pub fn event_type(self) -> &'static str {
        match self {
            Self::Ring => "call.ring",
            Self::Started => "call.started",
            Self::Ended | Self::Missed => "call.ended",
            Self::RecordingCompleted => "call.recording.completed",
            Self::Voicemail => "voicemail.received",
            Self::Other => "ignored",
        }
    }
}

/// A Dialpad party (`target`, `contact`): `{id, type, name, phone, email}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Party {
    /// Numeric id (the spec types `contact.id` as a string; captures show numbers).
    pub id: Option<i64>,
    /// `user`, `office`, `department`, …
    pub kind: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
}

/// The fields of a call event we use.
#[derive(Debug, Clone, PartialEq)]
pub struct CallEvent {
    /// `call_id`.
    pub call_id: i64,
    /// `state`, lower-cased.
    pub state: String,
    /// `inbound` / `outbound`.
    pub direction: Option<String>,
    /// The outside party's number.
    pub external_number: Option<String>,
    /// Our side's number (may be `"blocked"`).
    pub internal_number: Option<String>,
    /// `date_rang`.
    pub date_rang: Option<DateTime<Utc>>,
    /// `date_connected`.
    pub date_connected: Option<DateTime<Utc>>,
    /// `date_started`.
    pub date_started: Option<DateTime<Utc>>,
    /// `date_ended`.
    pub date_ended: Option<DateTime<Utc>>,
    /// `event_timestamp`, epoch ms as sent (part of the idempotency key).
    pub event_timestamp_ms: Option<i64>,
    /// Talk time, from `duration` (ms) or `talk_time` (ms).
    pub duration_ms: Option<f64>,
    /// The Dialpad side (user, office, …).
    pub target: Party,
    /// The outside contact.
    pub contact: Party,
    /// Recording URLs from `recording_url` (string or list) and `recording_details[].url` of call
    /// recordings.
    pub recording_urls: Vec<String>,
    /// The voicemail's URL: `voicemail_link`, `voicemail_share_link`, or a `voicemail` entry of
    /// `recording_details`.
    pub voicemail_url: Option<String>,
    /// The voicemail's length in ms, from its `recording_details` entry.
    pub voicemail_duration_ms: Option<f64>,
    /// `transcription_text`.
    pub transcription: Option<String>,
}

impl CallEvent {
    /// Reads a call event leniently.
    ///
    /// # Errors
    /// [`PayloadError::Missing`] without a `call_id` or a `state`.
    pub fn parse(value: &Value) -> Result<Self, PayloadError> {
        let call_id = call_id(value.get("call_id"))?;
        let state = text(value.get("state"))
            .map(|s| s.to_ascii_lowercase())
            .ok_or(PayloadError::Missing("state"))?;
        let mut recording_urls = Vec::new();
        match value.get("recording_url") {
            Some(Value::String(url)) if !url.is_empty() => recording_urls.push(url.clone()),
            Some(Value::Array(list)) => recording_urls.extend(
                list.iter()
                    .filter_map(|v| text(Some(v)))
                    .filter(|u| !u.is_empty()),
            ),
            _ => {}
        }
        let mut voicemail_url = text(value.get("voicemail_link"))
            .or_else(|| text(value.get("voicemail_share_link")))
            .filter(|u| !u.is_empty());
        let mut voicemail_duration_ms = None;
        if let Some(Value::Array(details)) = value.get("recording_details") {
            for detail in details {
                let Some(url) = text(detail.get("url")).filter(|u| !u.is_empty()) else {
                    continue;
                };
                match text(detail.get("recording_type")).as_deref() {
                    Some("voicemail") => {
                        voicemail_duration_ms = float(detail.get("duration"));
                        voicemail_url.get_or_insert(url);
                    }
                    _ if !recording_urls.contains(&url) => recording_urls.push(url),
                    _ => {}
                }
            }
        }
        Ok(Self {
            call_id,
            state,
            direction: text(value.get("direction")).map(|s| s.to_ascii_lowercase()),
            external_number: text(value.get("external_number")),
            internal_number: text(value.get("internal_number")),
            date_rang: millis(value.get("date_rang"))
                .or_else(|| millis(value.get("date_first_rang"))),
            date_connected: millis(value.get("date_connected")),
            date_started: millis(value.get("date_started")),
            date_ended: millis(value.get("date_ended")),
            event_timestamp_ms: int(value.get("event_timestamp")),
            duration_ms: float(value.get("duration")).or_else(|| float(value.get("talk_time"))),
            target: party(value.get("target")),
            contact: party(value.get("contact")),
            recording_urls,
            voicemail_url,
            voicemail_duration_ms,
            transcription: text(value.get("transcription_text")).filter(|t| !t.is_empty()),
        })
    }

    /// The idempotency key of the delivery: Dialpad re-sends the same event on retry, so
    /// `call_id:state:event_timestamp` names it (without a timestamp, a SHA-256 of the whole
    /// event object stands in for it).
    #[must_use]
    pub fn idempotency_key(&self, value: &Value) -> String {
        match self.event_timestamp_ms {
            Some(ts) => format!("{}:{}:{ts}", self.call_id, self.state),
            None => {
                let digest =
                    ring::digest::digest(&ring::digest::SHA256, value.to_string().as_bytes());
                format!(
                    "{}:{}:sha256:{}",
                    self.call_id,
                    self.state,
                    hex::encode(digest.as_ref())
                )
            }
        }
    }

    /// The Dialpad user the call is about: `target.id` when the target is a user.
    #[must_use]
    pub fn dialpad_user_id(&self) -> Option<i64> {
        match self.target.kind.as_deref() {
            Some("user") | None => self.target.id.filter(|id| *id > 0),
            Some(_) => None,
        }
    }

    /// `(from, to)` numbers by direction: inbound calls come from the outside number to ours,
    /// outbound ones the other way.
    #[must_use]
    pub fn from_to(&self) -> (Option<String>, Option<String>) {
        let external = self
            .external_number
            .clone()
            .or_else(|| self.contact.phone.clone());
        let internal = self
            .internal_number
            .clone()
            .or_else(|| self.target.phone.clone());
        if self.direction.as_deref() == Some("outbound") {
            (internal, external)
        } else {
            (external, internal)
        }
    }

    /// When this event happened: `event_timestamp`, else now.
    #[must_use]
    pub fn happened_at(&self) -> DateTime<Utc> {
        self.event_timestamp_ms
            .and_then(DateTime::from_timestamp_millis)
            .unwrap_or_else(Utc::now)
    }
}

fn party(value: Option<&Value>) -> Party {
    let Some(value) = value.filter(|v| v.is_object()) else {
        return Party::default();
    };
    Party {
        id: int(value.get("id")),
        kind: text(value.get("type")).map(|s| s.to_ascii_lowercase()),
        name: text(value.get("name")),
        phone: text(value.get("phone")),
    }
}

/// A string, or a number written as one.
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `call_id`: an int64 (contracts/telephony.md A.3), as a number or a numeric string, from 1
/// to `i64::MAX`. Anything else is refused rather than clamped, so that two different calls can
/// never merge into one.
fn call_id(value: Option<&Value>) -> Result<i64, PayloadError> {
    let value = value.ok_or(PayloadError::Missing("call_id"))?;
    let exact = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    exact
        .filter(|id| *id > 0)
        .ok_or(PayloadError::OutOfRange("call_id"))
}

/// An integer from a number or a numeric string (`"123"`, `"123.0"`).
fn int(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite() && f.fract() == 0.0)
                    .map(|f| f as i64)
            })
        }
        _ => None,
    }
}

fn float(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite() && *f >= 0.0)
}

fn millis(value: Option<&Value>) -> Option<DateTime<Utc>> {
    int(value)
        .filter(|ms| *ms > 0)
        .and_then(DateTime::from_timestamp_millis)
}

/// A boolean from `true`/`false`, `"TRUE"`/`"false"`, `1`/`0`, `"1"`/`"0"`.
#[must_use]
pub fn lenient_bool(value: Option<&Value>) -> Option<bool> {
    match value? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    fn jws(header: &Value, claims: &Value, secret: &[u8]) -> String {
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        let c = URL_SAFE_NO_PAD.encode(claims.to_string());
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
        let sig = ring::hmac::sign(&key, format!("{h}.{c}").as_bytes());
        format!("{h}.{c}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    #[test]
    fn signed_bodies_verify_only_with_hs256_and_the_secret() {
        let claims = json!({"call_id": 1, "state": "ringing"});
        let header = json!({"alg": "HS256", "typ": "JWT"});
        let good = jws(&header, &claims, b"s3cret");
        assert_eq!(
            decode_body(good.as_bytes(), Some(b"s3cret")),
            Ok(claims.clone())
        );
        assert_eq!(
            decode_body(good.as_bytes(), Some(b"other")),
            Err(PayloadError::BadSignature)
        );
        let hs512 = jws(&json!({"alg": "HS512", "typ": "JWT"}), &claims, b"s3cret");
        assert_eq!(
            decode_body(hs512.as_bytes(), Some(b"s3cret")),
            Err(PayloadError::BadSignature)
        );
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(json!({"alg": "none"}).to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        assert_eq!(
            decode_body(none.as_bytes(), Some(b"s3cret")),
            Err(PayloadError::BadSignature)
        );
        let json_body = claims.to_string();
        assert_eq!(
            decode_body(json_body.as_bytes(), Some(b"s3cret")),
            Err(PayloadError::SignatureRequired)
        );
        assert_eq!(decode_body(json_body.as_bytes(), None), Ok(claims));
        assert_eq!(
            decode_body(good.as_bytes(), None),
            Err(PayloadError::NotJson)
        );
        assert_eq!(decode_body(b"[1]", None), Err(PayloadError::NotJson));
    }

    #[test]
    fn call_objects_are_read_leniently() {
        let value = json!({
            "call_id": "6151207396483072", "state": "HANGUP", "direction": "inbound",
            "external_number": "+15551234567", "internal_number": "+15559876543",
            "date_started": "1769596200000", "date_ended": 1769596320000_i64,
            "event_timestamp": 1769596320123_i64, "duration": "120000.0",
            "target": {"id": "987654", "type": "user", "name": "Ana"},
            "contact": {"id": 5, "type": "contact", "phone": "+15551234567"},
            "recording_url": ["https://dialpad.com/r/1"], "is_transferred": "FALSE",
            "recording_details": [{"recording_type": "voicemail", "url": "https://dialpad.com/v/1", "duration": 45000}],
            "brand_new_field": {"x": 1}
        });
        let event = CallEvent::parse(&value).unwrap();
        assert_eq!(event.call_id, 6_151_207_396_483_072);
        assert_eq!(event.state, "hangup");
        assert_eq!(event.dialpad_user_id(), Some(987_654));
        assert_eq!(event.duration_ms, Some(120_000.0));
        assert_eq!(
            event.recording_urls,
            vec!["https://dialpad.com/r/1".to_owned()]
        );
        assert_eq!(
            event.voicemail_url.as_deref(),
            Some("https://dialpad.com/v/1")
        );
        assert_eq!(event.voicemail_duration_ms, Some(45_000.0));
        assert_eq!(
            event.date_started.map(|d| d.timestamp_millis()),
            Some(1_769_596_200_000)
        );
        assert_eq!(
            event.from_to(),
            (Some("+15551234567".into()), Some("+15559876543".into()))
        );
        assert_eq!(
            event.idempotency_key(&value),
            "6151207396483072:hangup:1769596320123"
        );
        assert_eq!(lenient_bool(value.get("is_transferred")), Some(false));
        let single =
            json!({"call_id": 7, "state": "recording", "recording_url": "https://dialpad.com/r/2"});
        assert_eq!(
            CallEvent::parse(&single).unwrap().recording_urls,
            vec!["https://dialpad.com/r/2".to_owned()]
        );
        assert!(
            CallEvent::parse(&single)
                .unwrap()
                .idempotency_key(&single)
                .starts_with("7:recording:sha256:")
        );
        assert_eq!(
            CallEvent::parse(&json!({"state": "ringing"})),
            Err(PayloadError::Missing("call_id"))
        );
        assert_eq!(
            CallEvent::parse(&json!({"call_id": 1})),
            Err(PayloadError::Missing("state"))
        );
    }

    #[test]
    fn states_map_to_our_events() {
        assert_eq!(EventKind::of_state("ringing"), EventKind::Ring);
        assert_eq!(EventKind::of_state("connected"), EventKind::Started);
        assert_eq!(EventKind::of_state("hangup"), EventKind::Ended);
        assert_eq!(
            EventKind::of_state("recording"),
            EventKind::RecordingCompleted
        );
        assert_eq!(
            EventKind::of_state("voicemail_uploaded"),
            EventKind::Voicemail
        );
        assert_eq!(EventKind::of_state("hold").event_type(), "ignored");
    }
}
