//! Standard Webhooks signing secrets and signatures (standardwebhooks.com, "Signature scheme").
//!
//! A secret is `whsec_` + the base64 of 24 random bytes; the HMAC key is the decoded bytes.
//! A message is signed over `<webhook-id>.<webhook-timestamp>.<body>` with HMAC-SHA-256, and
//! `webhook-signature` carries `v1,<base64 signature>` for each valid secret, separated by
//! spaces (two during a secret rotation's overlap).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::WebhookError;

/// The prefix of a signing secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a new secret (192 bits; the specification asks for 24 to 64).
const SECRET_BYTES: usize = 24;

/// A new signing secret, `whsec_` + base64 of 24 random bytes. Zeroed when dropped.
///
/// # Errors
/// [`WebhookError::Invalid`] if the system's random source fails.
pub fn new_secret() -> Result<Zeroizing<String>, WebhookError> {
    let mut bytes = Zeroizing::new([0u8; SECRET_BYTES]);
    SystemRandom::new()
        .fill(bytes.as_mut())
        .map_err(|_| WebhookError::Invalid("no random source".into()))?;
    Ok(Zeroizing::new(format!(
        "{SECRET_PREFIX}{}",
        STANDARD.encode(bytes.as_ref())
    )))
}

/// The HMAC key of a `whsec_` secret.
fn key_of(secret: &str) -> Result<hmac::Key, WebhookError> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    let bytes = Zeroizing::new(
        STANDARD
            .decode(encoded)
            .map_err(|_| WebhookError::Invalid("malformed signing secret".into()))?,
    );
    Ok(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
}

/// The `webhook-signature` header value for message `id` sent at `timestamp` (Unix seconds)
/// with `body`, one `v1,<base64>` per secret in `secrets`, separated by a space.
///
/// # Errors
/// [`WebhookError::Invalid`] when a secret is not base64 after its prefix.
pub fn sign(
    id: &str,
    timestamp: i64,
    body: &[u8],
    secrets: &[&str],
) -> Result<String, WebhookError> {
    let mut header = String::new();
    for secret in secrets {
        let key = key_of(secret)?;
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(id.as_bytes());
        ctx.update(b".");
        ctx.update(timestamp.to_string().as_bytes());
        ctx.update(b".");
        ctx.update(body);
        if !header.is_empty() {
            header.push(' ');
        }
        header.push_str("v1,");
        header.push_str(&STANDARD.encode(ctx.sign().as_ref()));
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the specification's reference libraries (standard-webhooks, "Signature
    /// scheme" test vector).
    #[test]
    fn signs_the_specification_test_vector() {
        let header = sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
            &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        )
        .unwrap_or_default();
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn new_secrets_are_prefixed_random_and_usable() {
        let (a, b) = (
            new_secret().unwrap_or_default(),
            new_secret().unwrap_or_default(),
        );
        assert!(a.starts_with(SECRET_PREFIX) && a.len() == SECRET_PREFIX.len() + 32);
        assert_ne!(*a, *b);
        let two = sign("msg_1", 1, b"{}", &[a.as_str(), b.as_str()]).unwrap_or_default();
        assert_eq!(two.split(' ').count(), 2);
        assert!(sign("msg_1", 1, b"{}", &["whsec_***"]).is_err());
    }
}
