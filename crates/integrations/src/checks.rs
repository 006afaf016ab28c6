//! Checking credentials against their provider before saving ("test & save", seed 004) and on
//! demand. Each check answers: accepted, rejected (the user must fix the credentials), or the
//! provider could not be reached (nothing is concluded about the credentials).
//!
//! - Twilio: `FetchAccount` with the given auth, then the number must be one of the account's
//!   incoming numbers (the telephony contract, B.2).
//! - Resend: `GET /domains` with `Authorization: Bearer <key>`. A sending-only key answers 401
//!   with `name: "restricted_api_key"`; it is a real key, and sending is all we need.
//! - ElevenLabs: `GET /v1/user` with the `xi-api-key` header.
//!
//! The Resend and ElevenLabs endpoints are not in `contracts/`; they follow the providers'
//! public API references (List Domains; Get User).

use secrecy::{ExposeSecret, SecretString};
use twilio_client::{Auth, TwilioClient, TwilioError};

/// Base URLs of the providers (production defaults; tests point them at mock servers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEndpoints {
    /// Twilio REST, default `https://api.twilio.com`.
    pub twilio: String,
    /// Resend REST, default `https://api.resend.com`.
    pub resend: String,
    /// ElevenLabs REST, default `https://api.elevenlabs.io`.
    pub elevenlabs: String,
    /// Google Calendar API v3, default `https://www.googleapis.com/calendar/v3`.
    pub google_calendar: String,
}

impl Default for ProviderEndpoints {
    fn default() -> Self {
        Self {
            twilio: twilio_client::rest::DEFAULT_BASE_URL.into(),
            resend: "https://api.resend.com".into(),
            elevenlabs: "https://api.elevenlabs.io".into(),
            google_calendar: "https://www.googleapis.com/calendar/v3".into(),
        }
    }
}

/// The outcome of a credential check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// The provider accepted the credentials.
    Accepted,
    /// The provider refused them; the message says why (no secret in it).
    Rejected(String),
    /// The provider could not be asked (network, timeout, 5xx, 429).
    Unavailable(String),
}

/// A Twilio client for an organization's stored credentials, against `endpoints`, sending
/// through the shared `http` client.
///
/// # Errors
/// [`TwilioError::Invalid`] for malformed stored sids.
pub fn twilio_client(
    http: &reqwest::Client,
    endpoints: &ProviderEndpoints,
    credential: &credentials::TwilioCredentials,
) -> Result<TwilioClient, TwilioError> {
    let auth = credential
        .rest_auth()
        .ok_or_else(|| TwilioError::Invalid("the Twilio credential has no secret".into()))?;
    client_with(http, endpoints, &credential.account_sid, auth)
}

fn client_with(
    http: &reqwest::Client,
    endpoints: &ProviderEndpoints,
    account_sid: &str,
    auth: credentials::TwilioAuth<'_>,
) -> Result<TwilioClient, TwilioError> {
    let auth = match auth {
        credentials::TwilioAuth::AuthToken(token) => Auth::AuthToken(token.clone()),
        credentials::TwilioAuth::ApiKey(key) => Auth::ApiKey {
            sid: key.sid.clone(),
            secret: key.secret.clone(),
        },
    };
    TwilioClient::with_http(http.clone(), &endpoints.twilio, account_sid, auth)
}

fn from_twilio(error: &TwilioError) -> CheckOutcome {
    if error.is_retryable() {
        CheckOutcome::Unavailable(error.to_string())
    } else if error.is_auth_failure() {
        CheckOutcome::Rejected("Twilio refused these credentials (check the account SID and the auth token or API key)".into())
    } else {
        CheckOutcome::Rejected(error.to_string())
    }
}

/// Checks Twilio credentials and that `phone_number` belongs to the account. When both an API
/// key and the auth token are given, each must be accepted (the auth token is what checks
/// Twilio's webhook signatures, so a wrong one would silently refuse every callback).
pub async fn twilio(
    http: &reqwest::Client,
    endpoints: &ProviderEndpoints,
    credential: &credentials::TwilioCredentials,
) -> CheckOutcome {
    let client = match twilio_client(http, endpoints, credential) {
        Ok(client) => client,
        Err(e) => return CheckOutcome::Rejected(e.to_string()),
    };
    let account = match client.fetch_account().await {
        Ok(account) => account,
        Err(e) => return from_twilio(&e),
    };
    if account.status != "active" {
        return CheckOutcome::Rejected(format!("the Twilio account is {}", account.status));
    }
    if let (Some(_), Some(token)) = (&credential.api_key, &credential.auth_token) {
        let by_token = match client_with(
            http,
            endpoints,
            &credential.account_sid,
            credentials::TwilioAuth::AuthToken(token),
        ) {
            Ok(client) => client,
            Err(e) => return CheckOutcome::Rejected(e.to_string()),
        };
        if let Err(e) = by_token.fetch_account().await {
            return from_twilio(&e);
        }
    }
    match client
        .list_incoming_numbers(Some(&credential.phone_number))
        .await
    {
        Ok(numbers)
            if numbers
                .iter()
                .any(|n| n.phone_number == credential.phone_number) =>
        {
            CheckOutcome::Accepted
        }
        Ok(_) => CheckOutcome::Rejected(format!(
            "{} is not a phone number of this Twilio account",
            credential.phone_number
        )),
        Err(e) => from_twilio(&e),
    }
}

async fn probe(
    request: reqwest::RequestBuilder,
    provider: &str,
) -> Result<(u16, String), CheckOutcome> {
    let response = request.send().await.map_err(|e| {
        CheckOutcome::Unavailable(format!("{provider} is unreachable: {}", e.without_url()))
    })?;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    if status == 429 || status >= 500 {
        return Err(CheckOutcome::Unavailable(format!(
            "{provider} answered {status}"
        )));
    }
    Ok((status, body))
}

/// Checks a Resend API key.
pub async fn resend(
    http: &reqwest::Client,
    endpoints: &ProviderEndpoints,
    api_key: &SecretString,
) -> CheckOutcome {
    let url = format!("{}/domains", endpoints.resend.trim_end_matches('/'));
    match probe(http.get(url).bearer_auth(api_key.expose_secret()), "Resend").await {
        Err(outcome) => outcome,
        Ok((200..=299, _)) => CheckOutcome::Accepted,
        Ok((401, body))
            if serde_json::from_str::<serde_json::Value>(&body)
                .is_ok_and(|v| v["name"] == "restricted_api_key") =>
        {
            CheckOutcome::Accepted
        }
        Ok((status, _)) => {
            CheckOutcome::Rejected(format!("Resend refused this API key (HTTP {status})"))
        }
    }
}

/// Checks an ElevenLabs API key.
pub async fn elevenlabs(
    http: &reqwest::Client,
    endpoints: &ProviderEndpoints,
    api_key: &SecretString,
) -> CheckOutcome {
    let url = format!("{}/v1/user", endpoints.elevenlabs.trim_end_matches('/'));
    match probe(
        http.get(url).header("xi-api-key", api_key.expose_secret()),
        "ElevenLabs",
    )
    .await
    {
        Err(outcome) => outcome,
        Ok((200..=299, _)) => CheckOutcome::Accepted,
        Ok((status, _)) => {
            CheckOutcome::Rejected(format!("ElevenLabs refused this API key (HTTP {status})"))
        }
    }
}
