//! The REST client (`api.twilio.com`, API version 2010-04-01; the telephony contract
//! B.2). Requests are form-encoded, responses JSON. HTTP Basic authentication with the account
//! sid and auth token, or (preferred: revocable, least privilege) an API key sid and secret.
//!
//! Retries: only idempotent reads and deletes are retried, on connection failures, 429 and 5xx,
//! with exponential backoff (0.2 s, 0.4 s, 0.8 s, jittered). Creating a message or a caller-ID
//! validation call is never retried blindly: a timeout after Twilio accepted it would send the
//! SMS or place the call twice.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Twilio's API host.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";
/// Per-request timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Pages followed at most when listing.
const MAX_PAGES: usize = 20;

/// Installs ring as rustls' process-wide crypto provider if none is installed yet. reqwest is
/// built without a default provider (to stay on ring, the stack notes, STACK); every binary that
/// makes HTTP clients calls this first. Idempotent.
pub fn ensure_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// How to authenticate to Twilio. `Debug` never prints the secret.
pub enum Auth {
    /// The account's auth token (user = account sid).
    AuthToken(SecretString),
    /// A standard API key (user = `SK…` sid).
    ApiKey {
        /// `SK…`.
        sid: String,
        /// The key's secret.
        secret: SecretString,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::AuthToken(_) => f.write_str("AuthToken([redacted])"),
            Self::ApiKey { sid, .. } => write!(f, "ApiKey({sid}, [redacted])"),
        }
    }
}

/// A failed Twilio call. Never contains credentials.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TwilioError {
    /// Twilio answered with an error (either documented error body shape).
    #[error("Twilio answered {status}{}: {message}", .code.map(|c| format!(" (code {c})")).unwrap_or_default())]
    Api {
        /// HTTP status.
        status: u16,
        /// Twilio error code, for example 20003 (authentication failed).
        code: Option<i64>,
        /// Twilio's message.
        message: String,
        /// Link to Twilio's documentation of the code.
        more_info: Option<String>,
    },
    /// Twilio could not be reached or did not answer in time.
    #[error("Twilio is unreachable: {0}")]
    Transport(String),
    /// Twilio answered something this client cannot read.
    #[error("unexpected answer from Twilio: {0}")]
    Decode(String),
    /// A request argument is invalid; the message says which.
    #[error("{0}")]
    Invalid(String),
}

impl TwilioError {
    /// Whether the credentials were refused (401, or Twilio code 20003).
    #[must_use]
    pub fn is_auth_failure(&self) -> bool {
        matches!(
            self,
            Self::Api { status: 401, .. }
                | Self::Api {
                    code: Some(20003),
                    ..
                }
        )
    }

    /// Whether a retry may succeed: unreachable, 429 or 5xx.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Api { status, .. } => *status == 429 || *status >= 500,
            Self::Decode(_) | Self::Invalid(_) => false,
        }
    }
}

/// The classic error body: `{code, message, more_info, status, details?}`.
#[derive(Deserialize)]
struct ClassicError {
    code: Option<i64>,
    message: Option<String>,
    more_info: Option<String>,
}

/// The RFC 9457 problem body: `{type, title, status, code, detail?}`.
#[derive(Deserialize)]
struct ProblemError {
    title: Option<String>,
    detail: Option<String>,
    code: Option<i64>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

fn api_error(status: u16, body: &str) -> TwilioError {
    let classic = serde_json::from_str::<ClassicError>(body)
        .ok()
        .filter(|e| e.message.is_some());
    if let Some(e) = classic {
        return TwilioError::Api {
            status,
            code: e.code,
            message: e.message.unwrap_or_default(),
            more_info: e.more_info,
        };
    }
    if let Ok(p) = serde_json::from_str::<ProblemError>(body)
        && (p.title.is_some() || p.detail.is_some())
    {
        return TwilioError::Api {
            status,
            code: p.code,
            message: p.detail.or(p.title).unwrap_or_default(),
            more_info: p.kind,
        };
    }
    TwilioError::Api {
        status,
        code: None,
        message: format!("HTTP {status}"),
        more_info: None,
    }
}

/// The account (FetchAccount).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Account {
    /// `AC…`.
    pub sid: String,
    /// Name shown in Twilio's console.
    pub friendly_name: String,
    /// `active`, `suspended` or `closed`.
    pub status: String,
    /// `Trial` or `Full`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// A message (CreateMessage).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Message {
    /// `SM…` or `MM…`.
    pub sid: String,
    /// `queued`, `sent`, `failed`, …
    pub status: String,
    /// Recipient, E.164.
    pub to: String,
    /// Sender.
    pub from: Option<String>,
    /// Segments billed, as Twilio sends it (a string).
    pub num_segments: Option<String>,
    /// Twilio error code when the message failed.
    pub error_code: Option<i64>,
}

/// An SMS to send.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    /// Recipient, E.164.
    pub to: &'a str,
    /// Sender: the organization's Twilio number, E.164.
    pub from: &'a str,
    /// Text, up to 1600 characters.
    pub body: &'a str,
    /// URL Twilio posts delivery updates to.
    pub status_callback: Option<&'a str>,
}

/// A caller-ID validation call Twilio is placing (CreateValidationRequest, HTTP 200).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ValidationRequest {
    /// `AC…`.
    pub account_sid: String,
    /// The call Twilio places, `CA…`.
    pub call_sid: String,
    /// Name given.
    pub friendly_name: Option<String>,
    /// The number being verified, E.164.
    pub phone_number: String,
    /// The 6-digit code the user keys in during the call.
    pub validation_code: String,
}

/// A verified caller ID (ListOutgoingCallerId).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct OutgoingCallerId {
    /// `PN…`.
    pub sid: String,
    /// E.164.
    pub phone_number: String,
    /// Name given.
    pub friendly_name: Option<String>,
}

/// A number the account owns (ListIncomingPhoneNumber).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct IncomingPhoneNumber {
    /// `PN…`.
    pub sid: String,
    /// E.164.
    pub phone_number: String,
    /// Name given.
    pub friendly_name: Option<String>,
    /// Where voice calls go, if set.
    pub voice_url: Option<String>,
}

#[derive(Deserialize)]
struct Page<T> {
    #[serde(alias = "outgoing_caller_ids", alias = "incoming_phone_numbers")]
    items: Vec<T>,
    next_page_uri: Option<String>,
}

/// A client for one Twilio account.
pub struct TwilioClient {
    http: reqwest::Client,
    base_url: String,
    account_sid: String,
    auth: Auth,
    backoff: ExponentialBuilder,
}

impl std::fmt::Debug for TwilioClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioClient")
            .field("base_url", &self.base_url)
            .field("account_sid", &self.account_sid)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// Whether `sid` is a Twilio sid of the given two-letter kind: the prefix (`AC`, `SK`, `PN`,
/// `AP`, …) followed by 32 hexadecimal characters.
#[must_use]
pub fn is_sid(sid: &str, prefix: &str) -> bool {
    sid.len() == 34 && sid.starts_with(prefix) && sid[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// The HTTP client for provider calls: rustls on ring, [`REQUEST_TIMEOUT`], a 5 s connect
/// timeout. Build it once per process and share it (it is an `Arc` inside): it pools
/// connections and TLS sessions, and building one sets up TLS afresh.
///
/// # Errors
/// [`TwilioError::Transport`] if the client cannot be built.
pub fn provider_http_client() -> Result<reqwest::Client, TwilioError> {
    ensure_tls_provider();
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!(
            "voice-platform-twilio-client/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
        .map_err(|e| TwilioError::Transport(e.to_string()))
}

impl TwilioClient {
    /// A client for `account_sid` against `api.twilio.com`.
    ///
    /// # Errors
    /// [`TwilioError::Invalid`] for a malformed account or API-key sid;
    /// [`TwilioError::Transport`] if the HTTP client cannot be built.
    pub fn new(account_sid: &str, auth: Auth) -> Result<Self, TwilioError> {
        Self::with_base_url(DEFAULT_BASE_URL, account_sid, auth)
    }

    /// A client against another base URL (a regional edge, or a mock server in tests).
    ///
    /// # Errors
    /// As [`TwilioClient::new`].
    pub fn with_base_url(
        base_url: &str,
        account_sid: &str,
        auth: Auth,
    ) -> Result<Self, TwilioError> {
        Self::with_http(provider_http_client()?, base_url, account_sid, auth)
    }

    /// A client that sends through `http` (a shared [`provider_http_client`]), for services that
    /// talk to many accounts.
    ///
    /// # Errors
    /// [`TwilioError::Invalid`] for a malformed account or API-key sid.
    pub fn with_http(
        http: reqwest::Client,
        base_url: &str,
        account_sid: &str,
        auth: Auth,
    ) -> Result<Self, TwilioError> {
        if !is_sid(account_sid, "AC") {
            return Err(TwilioError::Invalid(
                "the account SID must be AC followed by 32 hex characters".into(),
            ));
        }
        if let Auth::ApiKey { sid, .. } = &auth
            && !is_sid(sid, "SK")
        {
            return Err(TwilioError::Invalid(
                "the API key SID must be SK followed by 32 hex characters".into(),
            ));
        }
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            account_sid: account_sid.to_owned(),
            auth,
            backoff: ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(200))
                .with_max_times(3)
                .with_jitter(),
        })
    }

    /// Uses another retry schedule (tests shorten it).
    #[must_use]
    pub fn with_backoff(mut self, backoff: ExponentialBuilder) -> Self {
        self.backoff = backoff;
        self
    }

    fn credentials(&self) -> (&str, &str) {
        match &self.auth {
            Auth::AuthToken(token) => (&self.account_sid, token.expose_secret()),
            Auth::ApiKey { sid, secret } => (sid, secret.expose_secret()),
        }
    }

    fn account_path(&self, rest: &str) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}{rest}",
            self.base_url, self.account_sid
        )
    }

    async fn send_once<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<Option<T>, TwilioError> {
        let (user, password) = self.credentials();
        let response = request
            .basic_auth(user, Some(password))
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| TwilioError::Transport(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|e| TwilioError::Transport(e.without_url().to_string()))?;
        if !(200..300).contains(&status) {
            return Err(api_error(status, &body));
        }
        if status == 204 || body.trim().is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&body)
            .map(Some)
            .map_err(|e| TwilioError::Decode(e.to_string()))
    }

    /// An idempotent request (GET, DELETE), retried on failures that may pass.
    async fn idempotent<T: DeserializeOwned>(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Option<T>, TwilioError> {
        (|| self.send_once(build()))
            .retry(self.backoff)
            .when(TwilioError::is_retryable)
            .await
    }

    fn required<T>(value: Option<T>) -> Result<T, TwilioError> {
        value.ok_or_else(|| TwilioError::Decode("empty body".into()))
    }

    /// FetchAccount: checks the credentials (a 401 / code 20003 means they are wrong).
    ///
    /// # Errors
    /// [`TwilioError`]; see [`TwilioError::is_auth_failure`].
    pub async fn fetch_account(&self) -> Result<Account, TwilioError> {
        let url = self.account_path(".json");
        Self::required(self.idempotent(|| self.http.get(&url)).await?)
    }

    /// CreateMessage: sends an SMS. Never retried (see the module docs).
    ///
    /// # Errors
    /// [`TwilioError::Invalid`] for an empty body or one over 1600 characters; [`TwilioError`].
    pub async fn send_sms(&self, message: &NewMessage<'_>) -> Result<Message, TwilioError> {
        let chars = message.body.chars().count();
        if chars == 0 || chars > 1600 {
            return Err(TwilioError::Invalid(
                "an SMS body must be 1-1600 characters".into(),
            ));
        }
        let mut form = vec![
            ("To", message.to),
            ("From", message.from),
            ("Body", message.body),
        ];
        if let Some(callback) = message.status_callback {
            form.push(("StatusCallback", callback));
        }
        let url = self.account_path("/Messages.json");
        Self::required(self.send_once(self.http.post(&url).form(&form)).await?)
    }

    /// CreateValidationRequest: Twilio calls `phone_number` and the user keys in the returned
    /// code. Never retried (a retry would place a second call).
    ///
    /// # Errors
    /// [`TwilioError`].
    pub async fn request_caller_id_validation(
        &self,
        phone_number: &str,
        friendly_name: Option<&str>,
        status_callback: Option<&str>,
    ) -> Result<ValidationRequest, TwilioError> {
        let mut form = vec![("PhoneNumber", phone_number)];
        if let Some(name) = friendly_name {
            form.push(("FriendlyName", name));
        }
        if let Some(callback) = status_callback {
            form.push(("StatusCallback", callback));
        }
        let url = self.account_path("/OutgoingCallerIds.json");
        Self::required(self.send_once(self.http.post(&url).form(&form)).await?)
    }

    async fn list<T: DeserializeOwned>(
        &self,
        path: &str,
        phone_number: Option<&str>,
    ) -> Result<Vec<T>, TwilioError> {
        let mut items = Vec::new();
        let mut url = self.account_path(path);
        let mut query: Vec<(&str, &str)> = vec![("PageSize", "1000")];
        if let Some(number) = phone_number {
            query.push(("PhoneNumber", number));
        }
        for _ in 0..MAX_PAGES {
            let page: Page<T> = Self::required(
                self.idempotent(|| self.http.get(&url).query(&query))
                    .await?,
            )?;
            items.extend(page.items);
            match page.next_page_uri {
                Some(next) if !next.is_empty() => {
                    url = format!("{}{next}", self.base_url);
                    query.clear();
                }
                _ => return Ok(items),
            }
        }
        Ok(items)
    }

    /// ListOutgoingCallerId, optionally filtered by number (all pages).
    ///
    /// # Errors
    /// [`TwilioError`].
    pub async fn list_outgoing_caller_ids(
        &self,
        phone_number: Option<&str>,
    ) -> Result<Vec<OutgoingCallerId>, TwilioError> {
        self.list("/OutgoingCallerIds.json", phone_number).await
    }

    /// DeleteOutgoingCallerId (`PN…`).
    ///
    /// # Errors
    /// [`TwilioError::Invalid`] for a malformed sid; [`TwilioError`].
    pub async fn delete_outgoing_caller_id(&self, sid: &str) -> Result<(), TwilioError> {
        if !is_sid(sid, "PN") {
            return Err(TwilioError::Invalid(
                "a caller ID SID is PN followed by 32 hex characters".into(),
            ));
        }
        let url = self.account_path(&format!("/OutgoingCallerIds/{sid}.json"));
        self.idempotent::<serde_json::Value>(|| self.http.delete(&url))
            .await?;
        Ok(())
    }

    /// ListIncomingPhoneNumber, optionally filtered by number (all pages).
    ///
    /// # Errors
    /// [`TwilioError`].
    pub async fn list_incoming_numbers(
        &self,
        phone_number: Option<&str>,
    ) -> Result<Vec<IncomingPhoneNumber>, TwilioError> {
        self.list("/IncomingPhoneNumbers.json", phone_number).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_error_shapes_are_parsed() {
        let classic = api_error(
            401,
            r#"{"code":20003,"message":"Authenticate","more_info":"https://www.twilio.com/docs/errors/20003","status":401}"#,
        );
        assert!(classic.is_auth_failure());
        assert_eq!(
            classic.to_string(),
            "Twilio answered 401 (code 20003): Authenticate"
        );
        let problem = api_error(
            400,
            r#"{"type":"https://www.twilio.com/docs/errors/21211","title":"Invalid 'To' Phone Number","status":400,"code":21211,"detail":"The number +1555 is not valid"}"#,
        );
        assert_eq!(
            problem,
            TwilioError::Api {
                status: 400,
                code: Some(21211),
                message: "The number +1555 is not valid".into(),
                more_info: Some("https://www.twilio.com/docs/errors/21211".into()),
            }
        );
        assert!(!problem.is_retryable());
        let opaque = api_error(503, "<html>down</html>");
        assert!(opaque.is_retryable());
        assert_eq!(opaque.to_string(), "Twilio answered 503: HTTP 503");
    }

    #[test]
    fn malformed_sids_are_refused_and_secrets_never_print() {
        let secret = || SecretString::from("very-secret".to_owned());
        assert!(TwilioClient::new("AC123", Auth::AuthToken(secret())).is_err());
        let bad_key = Auth::ApiKey {
            sid: "SK1".into(),
            secret: secret(),
        };
        assert!(TwilioClient::new(&format!("AC{}", "0".repeat(32)), bad_key).is_err());
        let client =
            TwilioClient::new(&format!("AC{}", "0".repeat(32)), Auth::AuthToken(secret())).unwrap();
        assert!(!format!("{client:?}").contains("very-secret"));
    }
}
