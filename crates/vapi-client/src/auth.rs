//! Authenticating Vapi's requests to us (contracts/vapi.md §3). One of:
//!
//! - [`Scheme::Secret`]: a shared secret in a header, `x-vapi-secret` by default (the legacy
//!   inline `server.secret`, or a bearer credential with `bearerPrefixEnabled: false`);
//! - [`Scheme::Bearer`]: `Authorization: Bearer <token>` (or another header);
//! - [`Scheme::Hmac`]: a custom-credential HMAC over the **raw body**, with configurable header
//!   names, algorithm (sha256 default, sha512, sha1), payload format (`{timestamp}.{body}`
//!   default; placeholders `{body} {timestamp} {method} {url} {svix-id}`), optional prefix
//!   (`sha256=`), encoding (hex default, base64), a base64 secret, and a replay window on the
//!   timestamp (seconds or milliseconds: the unit is not documented, both are accepted).
//!
//! Every scheme takes several secrets so a rotation can accept the old and the new one. Secrets
//! are compared in constant time (`subtle`, `ring::hmac::verify`).

use base64::Engine as _;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// HMAC algorithm; configured by its lower-case name (`sha256`, `sha512`, `sha1`), as Vapi's
/// `HMACAuthenticationPlan.algorithm` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// HMAC-SHA-256 (Vapi's default).
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
    /// HMAC-SHA-1 (offered by Vapi; legacy).
    Sha1,
}

/// Signature encoding; configured by its lower-case name (`hex`, `base64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Lower-case hex (Vapi's default).
    Hex,
    /// Standard base64.
    Base64,
}

/// An HMAC authentication plan (Vapi `HMACAuthenticationPlan`).
#[derive(Debug, Clone)]
pub struct HmacPlan {
    /// Accepted secrets (the current one first).
    pub secrets: Vec<SecretString>,
    /// Whether the secrets are base64 (`secretIsBase64`).
    pub secret_is_base64: bool,
    /// Algorithm.
    pub algorithm: Algorithm,
    /// Header carrying the signature, default `x-signature`.
    pub signature_header: String,
    /// Header carrying the timestamp, default `x-timestamp`; `None` when not included.
    pub timestamp_header: Option<String>,
    /// Header carrying the message id for `{svix-id}`, if used.
    pub message_id_header: Option<String>,
    /// What is signed, default `{timestamp}.{body}`.
    pub payload_format: String,
    /// Prefix before the signature, e.g. `sha256=`.
    pub signature_prefix: Option<String>,
    /// Encoding.
    pub encoding: Encoding,
    /// Largest accepted clock difference, seconds (default 300).
    pub replay_window_secs: i64,
}

impl HmacPlan {
    /// Vapi's defaults with one secret.
    #[must_use]
    pub fn with_defaults(secret: SecretString) -> Self {
        Self {
            secrets: vec![secret],
            secret_is_base64: false,
            algorithm: Algorithm::Sha256,
            signature_header: "x-signature".into(),
            timestamp_header: Some("x-timestamp".into()),
            message_id_header: None,
            payload_format: "{timestamp}.{body}".into(),
            signature_prefix: None,
            encoding: Encoding::Hex,
            replay_window_secs: 300,
        }
    }
}

/// How requests are authenticated.
#[derive(Debug, Clone)]
pub enum Scheme {
    /// A secret in a header (default `x-vapi-secret`).
    Secret {
        /// Header name.
        header: String,
        /// Accepted secrets.
        secrets: Vec<SecretString>,
    },
    /// A bearer token.
    Bearer {
        /// Header name (default `authorization`).
        header: String,
        /// Whether the value starts with `Bearer `.
        prefix: bool,
        /// Accepted tokens.
        tokens: Vec<SecretString>,
    },
    /// An HMAC signature.
    Hmac(HmacPlan),
}

/// Why a request was refused. Deliberately coarse: the caller learns nothing about secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credential where one was expected.
    #[error("missing Vapi credential")]
    Missing,
    /// A credential that matches no accepted secret, or a malformed signature.
    #[error("invalid Vapi credential")]
    Invalid,
    /// A signature whose timestamp is outside the replay window.
    #[error("stale Vapi request")]
    Stale,
}

/// What is checked of a request.
pub struct Request<'a> {
    /// Header lookup by lower-case name.
    pub header: &'a dyn Fn(&str) -> Option<String>,
    /// HTTP method.
    pub method: &'a str,
    /// Full URL as Vapi called it.
    pub url: &'a str,
    /// Raw body bytes.
    pub body: &'a [u8],
}

fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

fn hmac_key(plan: &HmacPlan, secret: &SecretString) -> Option<ring::hmac::Key> {
    let bytes = if plan.secret_is_base64 {
        base64::engine::general_purpose::STANDARD
            .decode(secret.expose_secret().trim())
            .ok()?
    } else {
        secret.expose_secret().as_bytes().to_vec()
    };
    let algorithm = match plan.algorithm {
        Algorithm::Sha256 => ring::hmac::HMAC_SHA256,
        Algorithm::Sha512 => ring::hmac::HMAC_SHA512,
        Algorithm::Sha1 => ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
    };
    Some(ring::hmac::Key::new(algorithm, &bytes))
}

/// The bytes signed for `plan` (placeholders replaced; the body inserted raw).
#[must_use]
pub fn signed_payload(
    plan: &HmacPlan,
    timestamp: &str,
    message_id: &str,
    request: &Request<'_>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(request.body.len() + 64);
    let mut rest = plan.payload_format.as_str();
    while let Some(start) = rest.find('{') {
        out.extend_from_slice(&rest.as_bytes()[..start]);
        let after = &rest[start..];
        let (replacement, len): (&[u8], usize) = if after.starts_with("{body}") {
            (request.body, 6)
        } else if after.starts_with("{timestamp}") {
            (timestamp.as_bytes(), 11)
        } else if after.starts_with("{method}") {
            (request.method.as_bytes(), 8)
        } else if after.starts_with("{url}") {
            (request.url.as_bytes(), 5)
        } else if after.starts_with("{svix-id}") {
            (message_id.as_bytes(), 9)
        } else {
            (b"{", 1)
        };
        out.extend_from_slice(replacement);
        rest = &after[len..];
    }
    out.extend_from_slice(rest.as_bytes());
    out
}

fn fresh(timestamp: &str, now: DateTime<Utc>, window: i64) -> bool {
    let Ok(value) = timestamp.trim().parse::<i64>() else {
        return false;
    };
    // Milliseconds when the number is too large to be seconds (after year 33658).
    let seconds = if value > 1_000_000_000_000 {
        value / 1000
    } else {
        value
    };
    (now.timestamp() - seconds).abs() <= window
}

impl Scheme {
    /// Checks a request at time `now`.
    ///
    /// # Errors
    /// [`AuthError::Missing`], [`AuthError::Invalid`], [`AuthError::Stale`].
    pub fn verify(&self, request: &Request<'_>, now: DateTime<Utc>) -> Result<(), AuthError> {
        match self {
            Self::Secret { header, secrets } => {
                let presented = (request.header)(header).ok_or(AuthError::Missing)?;
                let presented = presented.trim().as_bytes();
                secrets
                    .iter()
                    .any(|s| equal(s.expose_secret().as_bytes(), presented))
                    .then_some(())
                    .ok_or(AuthError::Invalid)
            }
            Self::Bearer {
                header,
                prefix,
                tokens,
            } => {
                let value = (request.header)(header).ok_or(AuthError::Missing)?;
                let token = if *prefix {
                    let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::Invalid)?;
                    if !scheme.eq_ignore_ascii_case("bearer") {
                        return Err(AuthError::Invalid);
                    }
                    token.trim().to_owned()
                } else {
                    value.trim().to_owned()
                };
                tokens
                    .iter()
                    .any(|t| equal(t.expose_secret().as_bytes(), token.as_bytes()))
                    .then_some(())
                    .ok_or(AuthError::Invalid)
            }
            Self::Hmac(plan) => {
                let presented =
                    (request.header)(&plan.signature_header).ok_or(AuthError::Missing)?;
                let presented = presented.trim();
                let presented = match &plan.signature_prefix {
                    Some(p) => presented
                        .strip_prefix(p.as_str())
                        .ok_or(AuthError::Invalid)?,
                    None => presented,
                };
                let signature = match plan.encoding {
                    Encoding::Hex => hex::decode(presented.to_ascii_lowercase()).ok(),
                    Encoding::Base64 => base64::engine::general_purpose::STANDARD
                        .decode(presented)
                        .ok(),
                }
                .ok_or(AuthError::Invalid)?;
                let timestamp = match &plan.timestamp_header {
                    Some(h) => {
                        let t = (request.header)(h).ok_or(AuthError::Missing)?;
                        if !fresh(&t, now, plan.replay_window_secs) {
                            return Err(AuthError::Stale);
                        }
                        t
                    }
                    None => String::new(),
                };
                let message_id = plan
                    .message_id_header
                    .as_ref()
                    .and_then(|h| (request.header)(h))
                    .unwrap_or_default();
                let payload = signed_payload(plan, timestamp.trim(), &message_id, request);
                plan.secrets
                    .iter()
                    .filter_map(|s| hmac_key(plan, s))
                    .any(|key| ring::hmac::verify(&key, &payload, &signature).is_ok())
                    .then_some(())
                    .ok_or(AuthError::Invalid)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashMap;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    fn check(
        scheme: &Scheme,
        headers: &[(&str, &str)],
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), AuthError> {
        let map: HashMap<String, String> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()))
            .collect();
        let lookup = move |name: &str| map.get(&name.to_ascii_lowercase()).cloned();
        scheme.verify(
            &Request {
                header: &lookup,
                method: "POST",
                url: "https://gw.example.com/api/vapi/webhook",
                body,
            },
            now,
        )
    }

    fn sign(key: &[u8], algorithm: ring::hmac::Algorithm, payload: &[u8]) -> Vec<u8> {
        ring::hmac::sign(&ring::hmac::Key::new(algorithm, key), payload)
            .as_ref()
            .to_vec()
    }

    #[test]
    fn shared_secret_and_bearer_accept_either_secret_of_a_rotation() {
        let legacy = Scheme::Secret {
            header: "x-vapi-secret".into(),
            secrets: vec![secret("new-secret"), secret("old-secret")],
        };
        let now = Utc::now();
        assert_eq!(
            check(&legacy, &[("X-Vapi-Secret", "old-secret")], b"{}", now),
            Ok(())
        );
        assert_eq!(
            check(&legacy, &[("x-vapi-secret", "new-secret")], b"{}", now),
            Ok(())
        );
        assert_eq!(
            check(&legacy, &[("x-vapi-secret", "new-secre")], b"{}", now),
            Err(AuthError::Invalid)
        );
        assert_eq!(check(&legacy, &[], b"{}", now), Err(AuthError::Missing));
        let bearer = Scheme::Bearer {
            header: "authorization".into(),
            prefix: true,
            tokens: vec![secret("tok")],
        };
        assert_eq!(
            check(&bearer, &[("authorization", "Bearer tok")], b"", now),
            Ok(())
        );
        assert_eq!(
            check(&bearer, &[("authorization", "Basic tok")], b"", now),
            Err(AuthError::Invalid)
        );
        assert_eq!(
            check(&bearer, &[("authorization", "tok")], b"", now),
            Err(AuthError::Invalid)
        );
    }

    #[test]
    fn hmac_default_plan_signs_timestamp_dot_raw_body_within_the_window() {
        let plan = Scheme::Hmac(HmacPlan::with_defaults(secret("whsec")));
        let now = Utc::now();
        let body = br#"{"message":{"type":"status-update"}}"#;
        let ts = now.timestamp().to_string();
        let mut payload = format!("{ts}.").into_bytes();
        payload.extend_from_slice(body);
        let good = hex::encode(sign(b"whsec", ring::hmac::HMAC_SHA256, &payload));
        assert_eq!(
            check(
                &plan,
                &[("x-signature", &good), ("x-timestamp", &ts)],
                body,
                now
            ),
            Ok(())
        );
        // Milliseconds are accepted too.
        let ts_ms = (now.timestamp() * 1000).to_string();
        let mut payload_ms = format!("{ts_ms}.").into_bytes();
        payload_ms.extend_from_slice(body);
        let good_ms = hex::encode(sign(b"whsec", ring::hmac::HMAC_SHA256, &payload_ms));
        assert_eq!(
            check(
                &plan,
                &[("x-signature", &good_ms), ("x-timestamp", &ts_ms)],
                body,
                now
            ),
            Ok(())
        );
        // Tampered body, stale timestamp, missing timestamp, garbage signature.
        assert_eq!(
            check(
                &plan,
                &[("x-signature", &good), ("x-timestamp", &ts)],
                b"{\"message\":{}}",
                now
            ),
            Err(AuthError::Invalid)
        );
        let later = now + chrono::Duration::seconds(301);
        assert_eq!(
            check(
                &plan,
                &[("x-signature", &good), ("x-timestamp", &ts)],
                body,
                later
            ),
            Err(AuthError::Stale)
        );
        assert_eq!(
            check(&plan, &[("x-signature", &good)], body, now),
            Err(AuthError::Missing)
        );
        assert_eq!(
            check(
                &plan,
                &[("x-signature", "zz"), ("x-timestamp", &ts)],
                body,
                now
            ),
            Err(AuthError::Invalid)
        );
    }

    #[test]
    fn hmac_plans_with_prefix_base64_sha512_and_no_timestamp() {
        let body = br#"{"a":1}"#;
        let now = Utc::now();
        // trigger.dev style: x-vapi-signature, body only, "sha256=" prefix.
        let mut plan = HmacPlan::with_defaults(secret("k"));
        plan.signature_header = "x-vapi-signature".into();
        plan.timestamp_header = None;
        plan.payload_format = "{body}".into();
        plan.signature_prefix = Some("sha256=".into());
        let sig = format!(
            "sha256={}",
            hex::encode(sign(b"k", ring::hmac::HMAC_SHA256, body))
        );
        assert_eq!(
            check(
                &Scheme::Hmac(plan),
                &[("x-vapi-signature", &sig)],
                body,
                now
            ),
            Ok(())
        );
        // base64 secret, sha512, base64 signature, method and url in the payload.
        let raw_key = b"binary-key-bytes";
        let mut plan = HmacPlan::with_defaults(secret(
            &base64::engine::general_purpose::STANDARD.encode(raw_key),
        ));
        plan.secret_is_base64 = true;
        plan.algorithm = Algorithm::Sha512;
        plan.encoding = Encoding::Base64;
        plan.payload_format = "{method} {url} {timestamp} {body}".into();
        let ts = now.timestamp().to_string();
        let payload = format!(
            "POST https://gw.example.com/api/vapi/webhook {ts} {}",
            String::from_utf8_lossy(body)
        );
        let sig = base64::engine::general_purpose::STANDARD.encode(sign(
            raw_key,
            ring::hmac::HMAC_SHA512,
            payload.as_bytes(),
        ));
        assert_eq!(
            check(
                &Scheme::Hmac(plan),
                &[("x-signature", &sig), ("x-timestamp", &ts)],
                body,
                now
            ),
            Ok(())
        );
    }
}
