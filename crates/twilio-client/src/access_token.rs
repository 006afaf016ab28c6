//! Voice access tokens for the browser softphone (the telephony contract, B.3;
//! `twilio-python` `jwt/access_token`, `twilio-node` `AccessToken.ts`).
//!
//! Header `{"typ":"JWT","alg":"HS256","cty":"twilio-fpa;v=1"}`, signed with the **API key
//! secret**. Claims: `iss` = API key sid (`SK…`), `sub` = account sid (`AC…`),
//! `jti` = `"<SK sid>-<issued at>"`, `nbf` = issued at, `exp` = issued at + ttl, and
//! `grants = {identity, voice: {incoming: {allow: true}?, outgoing: {application_sid, params?}?}}`.
//! Regional tokens (the `twr` header) are not supported.

use std::collections::BTreeMap;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::rest::is_sid;

/// Longest lifetime Twilio accepts for an access token: 24 hours, in seconds.
pub const MAX_TTL_SECS: i64 = 24 * 3600;
/// Default lifetime, in seconds (the helper libraries' 3600).
pub const DEFAULT_TTL_SECS: i64 = 3600;

/// Why a token could not be minted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccessTokenError {
    /// A field breaks Twilio's rules; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// Signing failed.
    #[error("signing the access token failed")]
    Signing,
}

/// What a Voice grant allows.
#[derive(Debug, Clone, Default)]
pub struct VoiceGrant {
    /// Whether the identity may receive calls (`incoming.allow`).
    pub incoming_allow: bool,
    /// TwiML application (`AP…`) outgoing calls use, if outgoing calls are allowed.
    pub outgoing_application_sid: Option<String>,
    /// Parameters passed to the TwiML application on outgoing calls.
    pub outgoing_params: BTreeMap<String, String>,
}

/// A request for a Voice access token.
pub struct VoiceTokenRequest<'a> {
    /// The organization's account sid, `AC…`.
    pub account_sid: &'a str,
    /// The API key sid, `SK…`.
    pub api_key_sid: &'a str,
    /// The API key's secret (signs the token).
    pub api_key_secret: &'a SecretString,
    /// The client identity (for the softphone: the user's extension).
    pub identity: &'a str,
    /// Lifetime in seconds, 1 to [`MAX_TTL_SECS`].
    pub ttl_secs: i64,
    /// The grant.
    pub voice: VoiceGrant,
}

#[derive(Serialize)]
struct Incoming {
    allow: bool,
}

#[derive(Serialize)]
struct Outgoing<'a> {
    application_sid: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    params: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Voice<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    incoming: Option<Incoming>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outgoing: Option<Outgoing<'a>>,
}

#[derive(Serialize)]
struct Grants<'a> {
    identity: &'a str,
    voice: Voice<'a>,
}

#[derive(Serialize)]
struct Claims<'a> {
    jti: String,
    iss: &'a str,
    sub: &'a str,
    nbf: i64,
    exp: i64,
    grants: Grants<'a>,
}

/// Mints a Voice access token issued at `issued_at` (Unix seconds).
///
/// # Errors
/// [`AccessTokenError::Invalid`] for a malformed sid, an empty identity, a ttl outside
/// 1..=[`MAX_TTL_SECS`] or a grant that allows nothing; [`AccessTokenError::Signing`].
pub fn voice_token(
    request: &VoiceTokenRequest<'_>,
    issued_at: i64,
) -> Result<String, AccessTokenError> {
    if !is_sid(request.account_sid, "AC") {
        return Err(AccessTokenError::Invalid(
            "account sid must be AC followed by 32 hex characters".into(),
        ));
    }
    if !is_sid(request.api_key_sid, "SK") {
        return Err(AccessTokenError::Invalid(
            "API key sid must be SK followed by 32 hex characters".into(),
        ));
    }
    if request.identity.trim().is_empty() {
        return Err(AccessTokenError::Invalid(
            "the token needs an identity".into(),
        ));
    }
    if !(1..=MAX_TTL_SECS).contains(&request.ttl_secs) {
        return Err(AccessTokenError::Invalid(format!(
            "ttl must be 1 to {MAX_TTL_SECS} seconds"
        )));
    }
    if let Some(app) = &request.voice.outgoing_application_sid
        && !is_sid(app, "AP")
    {
        return Err(AccessTokenError::Invalid(
            "application sid must be AP followed by 32 hex characters".into(),
        ));
    }
    if !request.voice.incoming_allow && request.voice.outgoing_application_sid.is_none() {
        return Err(AccessTokenError::Invalid(
            "the voice grant allows neither incoming nor outgoing calls".into(),
        ));
    }
    let claims = Claims {
        jti: format!("{}-{issued_at}", request.api_key_sid),
        iss: request.api_key_sid,
        sub: request.account_sid,
        nbf: issued_at,
        exp: issued_at + request.ttl_secs,
        grants: Grants {
            identity: request.identity,
            voice: Voice {
                incoming: request
                    .voice
                    .incoming_allow
                    .then_some(Incoming { allow: true }),
                outgoing: request
                    .voice
                    .outgoing_application_sid
                    .as_deref()
                    .map(|sid| Outgoing {
                        application_sid: sid,
                        params: &request.voice.outgoing_params,
                    }),
            },
        },
    };
    let mut header = Header::new(Algorithm::HS256);
    header.cty = Some("twilio-fpa;v=1".into());
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(request.api_key_secret.expose_secret().as_bytes()),
    )
    .map_err(|_| AccessTokenError::Signing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn part(token: &str, index: usize) -> serde_json::Value {
        let raw = token.split('.').nth(index).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(raw)
                .unwrap(),
        )
        .unwrap()
    }

    fn request(secret: &SecretString, voice: VoiceGrant) -> VoiceTokenRequest<'_> {
        VoiceTokenRequest {
            account_sid: "AC00000000000000000000000000000000",
            api_key_sid: "SK00000000000000000000000000000001",
            api_key_secret: secret,
            identity: "201",
            ttl_secs: DEFAULT_TTL_SECS,
            voice,
        }
    }

    #[test]
    fn mints_the_helper_libraries_token_shape() {
        let secret = SecretString::from("api-key-secret".to_owned());
        let mut params = BTreeMap::new();
        params.insert("foo".to_owned(), "bar".to_owned());
        let voice = VoiceGrant {
            incoming_allow: true,
            outgoing_application_sid: Some("AP00000000000000000000000000000123".into()),
            outgoing_params: params,
        };
        let token = voice_token(&request(&secret, voice), 1_700_000_000).unwrap();
        assert_eq!(
            part(&token, 0),
            serde_json::json!({"typ": "JWT", "alg": "HS256", "cty": "twilio-fpa;v=1"})
        );
        let claims = part(&token, 1);
        assert_eq!(claims["iss"], "SK00000000000000000000000000000001");
        assert_eq!(claims["sub"], "AC00000000000000000000000000000000");
        assert_eq!(
            claims["jti"],
            "SK00000000000000000000000000000001-1700000000"
        );
        assert_eq!(claims["nbf"], 1_700_000_000);
        assert_eq!(claims["exp"], 1_700_003_600);
        assert_eq!(
            claims["grants"],
            serde_json::json!({"identity": "201", "voice": {
                "incoming": {"allow": true},
                "outgoing": {"application_sid": "AP00000000000000000000000000000123", "params": {"foo": "bar"}}
            }})
        );
        // Verifies with the API key secret.
        let mut validation = jsonwebtoken::Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &jsonwebtoken::DecodingKey::from_secret(b"api-key-secret"),
            &validation,
        )
        .unwrap();
    }

    #[test]
    fn incoming_only_grants_have_no_outgoing_part() {
        let secret = SecretString::from("s".to_owned());
        let token = voice_token(
            &request(
                &secret,
                VoiceGrant {
                    incoming_allow: true,
                    ..Default::default()
                },
            ),
            0,
        )
        .unwrap();
        assert_eq!(
            part(&token, 1)["grants"]["voice"],
            serde_json::json!({"incoming": {"allow": true}})
        );
    }

    #[test]
    fn malformed_requests_are_refused() {
        let secret = SecretString::from("s".to_owned());
        let ok = VoiceGrant {
            incoming_allow: true,
            ..Default::default()
        };
        let mut bad = request(&secret, ok.clone());
        bad.account_sid = "AC123";
        assert!(voice_token(&bad, 0).is_err());
        let mut bad = request(&secret, ok.clone());
        bad.identity = " ";
        assert!(voice_token(&bad, 0).is_err());
        let mut bad = request(&secret, ok);
        bad.ttl_secs = MAX_TTL_SECS + 1;
        assert!(voice_token(&bad, 0).is_err());
        assert!(voice_token(&request(&secret, VoiceGrant::default()), 0).is_err());
    }
}
