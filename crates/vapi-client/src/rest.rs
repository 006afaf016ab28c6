//! Vapi's REST API with the platform's private key (contracts/vapi.md §4): tools, assistants,
//! credentials, phone numbers, calls. Bodies are JSON values (Vapi's DTOs are large and grow);
//! this client owns the transport rules:
//!
//! - `Authorization: Bearer <private key>`; creates answer 201, the rest 200;
//! - idempotent calls (GET, PATCH with a whole object, DELETE) are retried with exponential
//!   backoff on transport failures, 429 and 5xx; creates (tools, assistants, credentials, phone
//!   numbers, **calls**) are never retried, since Vapi documents no idempotency key and a
//!   retried `POST /call` can place two calls (§5);
//! - error bodies are not documented: the message is read from `message` (string or list) or
//!   `error`, and the raw body is kept for the log;
//! - `PATCH /assistant` replaces nested objects wholesale (§4.2), so [`VapiClient::link_tools`]
//!   fetches the assistant, merges `model.toolIds` and sends the whole `model`.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

/// Vapi's API host.
pub const DEFAULT_BASE_URL: &str = "https://api.vapi.ai";
/// Per-request timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Type prefixes of Vapi's native Google tools (`google.calendar.event.create`,
/// `google.calendar.availability.check`, `google.sheets.row.append`, …), never attached to our
/// assistants (SPEC §3; seed 001 "Nuclear fix"): our own `checkAvailability` /
/// `bookClinicAppointment` are the only way to the calendar.
pub const NATIVE_CALENDAR_TOOL_PREFIXES: [&str; 2] = ["google.calendar.", "google.sheets."];

/// Whether a `model.tools` entry is one of Vapi's native Google tools.
#[must_use]
pub fn is_native_calendar_tool(tool: &Value) -> bool {
    tool["type"].as_str().is_some_and(|t| {
        NATIVE_CALENDAR_TOOL_PREFIXES
            .iter()
            .any(|p| t.starts_with(p))
    })
}

/// Removes Vapi's native Google tools from a `model` object.
pub fn remove_native_calendar_tools(model: &mut serde_json::Map<String, Value>) {
    if let Some(Value::Array(tools)) = model.get_mut("tools") {
        tools.retain(|t| !is_native_calendar_tool(t));
    }
}

/// Errors of the REST client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VapiError {
    /// Vapi answered an error status.
    #[error("Vapi answered {status}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The message Vapi gave (never a secret of ours).
        message: String,
        /// The raw body, for the log.
        body: String,
    },
    /// Vapi could not be reached or did not answer in time.
    #[error("Vapi is unreachable: {0}")]
    Transport(String),
    /// Vapi answered something unreadable.
    #[error("unexpected answer from Vapi: {0}")]
    Decode(String),
}

impl VapiError {
    /// Whether retrying may succeed (transport failures, 429, 5xx).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Api { status, .. } => *status == 429 || *status >= 500,
            Self::Decode(_) => false,
        }
    }
}

/// The platform's Vapi client.
#[derive(Clone)]
pub struct VapiClient {
    http: reqwest::Client,
    base_url: String,
    key: SecretString,
    backoff: ExponentialBuilder,
}

impl std::fmt::Debug for VapiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapiClient")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

fn api_error(status: u16, body: &str) -> VapiError {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let message = match &parsed["message"] {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("; "),
        _ => parsed["error"]
            .as_str()
            .map_or_else(|| format!("HTTP {status}"), str::to_owned),
    };
    VapiError::Api {
        status,
        message,
        body: body.chars().take(2000).collect(),
    }
}

impl VapiClient {
    /// A client for `base_url` (normally [`DEFAULT_BASE_URL`]) with the platform's private key,
    /// sending through `http` (which must have a TLS provider installed). Retries: 3, from
    /// 200 ms, with jitter.
    #[must_use]
    pub fn new(http: reqwest::Client, base_url: &str, private_key: SecretString) -> Self {
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            key: private_key,
            backoff: ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(200))
                .with_max_times(3)
                .with_jitter(),
        }
    }

    /// The same client retrying idempotent calls `times` times, the first pause `first`,
    /// doubling (seed 001 §4: 2 s, 4 s, 8 s), without jitter.
    #[must_use]
    pub fn with_retry_delays(self, first: Duration, times: usize) -> Self {
        self.with_backoff(
            ExponentialBuilder::default()
                .with_min_delay(first)
                .with_factor(2.0)
                .with_max_delay(first * 8)
                .with_max_times(times),
        )
    }

    /// The same client with another retry policy (tests use a fast one).
    #[must_use]
    pub fn with_backoff(mut self, backoff: ExponentialBuilder) -> Self {
        self.backoff = backoff;
        self
    }

    async fn send_once(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, VapiError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(self.key.expose_secret())
            .timeout(REQUEST_TIMEOUT);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| VapiError::Transport(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| VapiError::Transport(e.without_url().to_string()))?;
        if !(200..300).contains(&status) {
            return Err(api_error(status, &text));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| VapiError::Decode(e.to_string()))
    }

    async fn idempotent(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, VapiError> {
        (|| self.send_once(method.clone(), path, body))
            .retry(self.backoff)
            .when(VapiError::is_retryable)
            .await
    }

    /// `POST /tool` (never retried). Returns the tool with its `id`.
    ///
    /// # Errors
    /// [`VapiError`].
    pub async fn create_tool(&self, tool: &Value) -> Result<Value, VapiError> {
        self.send_once(reqwest::Method::POST, "/tool", Some(tool))
            .await
    }

    /// `GET /tool/{id}`.
    ///
    /// # Errors
    /// [`VapiError`].
    pub async fn get_tool(&self, id: &str) -> Result<Value, VapiError> {
        self.idempotent(reqwest::Method::GET, &format!("/tool/{id}"), None)
            .await
    }

    /// `GET /tool`: the platform's tools.
    ///
    /// # Errors
    /// [`VapiError`].
    pub async fn list_tools(&self) -> Result<Vec<Value>, VapiError> {
        match self.idempotent(reqwest::Method::GET, "/tool", None).await? {
            Value::Array(tools) => Ok(tools),
            other => Err(VapiError::Decode(format!(
                "expected a list of tools, got {other}"
            ))),
        }
    }

    /// `PATCH /tool/{id}` with the whole definition.
    ///
    /// # Errors
    /// [`VapiError`].
    pub async fn update_tool(&self, id: &str, tool: &Value) -> Result<Value, VapiError> {
        self.idempotent(reqwest::Method::PATCH, &format!("/tool/{id}"), Some(tool))
            .await
    }

    /// `DELETE /tool/{id}`.
    ///
    /// # Errors
    /// [`VapiError`] (409 when the tool is pinned).
    pub async fn delete_tool(&self, id: &str) -> Result<(), VapiError> {
        self.idempotent(reqwest::Method::DELETE, &format!("/tool/{id}"), None)
            .await
            .map(|_| ())
    }

    /// `POST /assistant` (never retried).
    ///
    /// # Errors
    /// [`VapiError`].
    pub async fn create_assistant(&self, assistant: &Value) -> Result<Value, VapiError> {
        self.send_once(reqwest::Method::POST, "/assistant", Some(assistant))
            .await
    }

    /// `GET /assistant/{id}`.
    ///
    /// # Errors
    /// [`VapiError`].
    pub async fn get_assistant(&self, id: &str) -> Result<Value, VapiError> {
        self.idempotent(reqwest::Method::GET, &format!("/assistant/{id}"), None)
            .await
    }

    /// `PATCH /assistant/{id}`. Nested objects in `patch` replace Vapi's wholesale: send whole
    /// objects (see [`VapiClient::update_assistant_merged`]).
    ///
    /// # Errors
    /// [`VapiError`].
    pub async fn update_assistant(&self, id: &str, patch: &Value) -> Result<Value, VapiError> {
        self.idempotent(
            reqwest::Method::PATCH,
            &format!("/assistant/{id}"),
            Some(patch),
        )
        .await
    }

    /// Fetch, merge, patch: reads the assistant, lets `change` edit its `model` (the whole
    /// object, messages and tools included), and sends the complete `model` plus `extra`
    /// top-level fields.
    ///
    /// # Errors
    /// [`VapiError`].
    pub async fn update_assistant_merged(
        &self,
        id: &str,
        change: impl FnOnce(&mut serde_json::Map<String, Value>),
        extra: Option<&Value>,
    ) -> Result<Value, VapiError> {
        let current = self.get_assistant(id).await?;
        let mut model = current["model"].as_object().cloned().unwrap_or_default();
        change(&mut model);
        let mut patch = extra.cloned().unwrap_or_else(|| json!({}));
        patch["model"] = Value::Object(model);
        self.update_assistant(id, &patch).await
    }

    /// Links `tool_ids` to an assistant: `model.toolIds` becomes what it had, minus `stale_ids`
    /// (replaced versions of our tools), plus `tool_ids` (order kept, no duplicates), and Vapi's
    /// native calendar tools are removed from `model.tools`. The whole `model` is sent (§4.2).
    ///
    /// # Errors
    /// [`VapiError`].
    pub async fn link_tools(
        &self,
        assistant_id: &str,
        tool_ids: &[String],
        stale_ids: &[String],
    ) -> Result<Value, VapiError> {
        self.update_assistant_merged(
            assistant_id,
            |model| {
                let mut ids: Vec<Value> = model
                    .get("toolIds")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                ids.retain(|v| !v.as_str().is_some_and(|s| stale_ids.iter().any(|x| x == s)));
                for id in tool_ids {
                    if !ids.iter().any(|v| v.as_str() == Some(id)) {
                        ids.push(json!(id));
                    }
                }
                model.insert("toolIds".into(), Value::Array(ids));
                remove_native_calendar_tools(model);
            },
            None,
        )
        .await
    }

    /// `POST /credential` (never retried), e.g. a Twilio credential.
    ///
    /// # Errors
    /// [`VapiError`].
    pub async fn create_credential(&self, credential: &Value) -> Result<Value, VapiError> {
        self.send_once(reqwest::Method::POST, "/credential", Some(credential))
            .await
    }

    /// `GET /credential`: every credential of the platform account (secrets are never
    /// returned), to adopt one created by an attempt that crashed before recording its id.
    ///
    /// # Errors
    /// [`VapiError`]; retried.
    pub async fn list_credentials(&self) -> Result<Vec<Value>, VapiError> {
        match self
            .idempotent(reqwest::Method::GET, "/credential", None)
            .await?
        {
            Value::Array(credentials) => Ok(credentials),
            other => Err(VapiError::Decode(format!(
                "expected a list of credentials, got {other}"
            ))),
        }
    }

    /// `DELETE /credential/{id}`.
    ///
    /// # Errors
    /// [`VapiError`].
    pub async fn delete_credential(&self, id: &str) -> Result<(), VapiError> {
        self.idempotent(reqwest::Method::DELETE, &format!("/credential/{id}"), None)
            .await
            .map(|_| ())
    }

    /// `POST /phone-number` (never retried): imports a number.
    ///
    /// # Errors
    /// [`VapiError`].
    pub async fn import_phone_number(&self, number: &Value) -> Result<Value, VapiError> {
        self.send_once(reqwest::Method::POST, "/phone-number", Some(number))
            .await
    }

    /// `GET /phone-number`.
    ///
    /// # Errors
    /// [`VapiError`].
    pub async fn list_phone_numbers(&self) -> Result<Vec<Value>, VapiError> {
        match self
            .idempotent(reqwest::Method::GET, "/phone-number", None)
            .await?
        {
            Value::Array(numbers) => Ok(numbers),
            other => Err(VapiError::Decode(format!(
                "expected a list of numbers, got {other}"
            ))),
        }
    }

    /// `PATCH /phone-number/{id}` (for example to link an assistant).
    ///
    /// # Errors
    /// [`VapiError`].
    pub async fn update_phone_number(&self, id: &str, patch: &Value) -> Result<Value, VapiError> {
        self.idempotent(
            reqwest::Method::PATCH,
            &format!("/phone-number/{id}"),
            Some(patch),
        )
        .await
    }

    /// `DELETE /phone-number/{id}`.
    ///
    /// # Errors
    /// [`VapiError`].
    pub async fn delete_phone_number(&self, id: &str) -> Result<(), VapiError> {
        self.idempotent(
            reqwest::Method::DELETE,
            &format!("/phone-number/{id}"),
            None,
        )
        .await
        .map(|_| ())
    }

    /// `POST /call` (never retried: a retry can place a second call).
    ///
    /// # Errors
    /// [`VapiError`].
    pub async fn create_call(&self, call: &Value) -> Result<Value, VapiError> {
        self.send_once(reqwest::Method::POST, "/call", Some(call))
            .await
    }

    /// `GET /call?assistantId=&createdAtGt=`: calls of an assistant created after a time (to
    /// find a call an interrupted attempt placed, by our metadata).
    ///
    /// # Errors
    /// [`VapiError`].
    pub async fn list_calls(
        &self,
        assistant_id: &str,
        created_after: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Value>, VapiError> {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("assistantId", assistant_id)
            .append_pair(
                "createdAtGt",
                &created_after.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            )
            .append_pair("limit", "100")
            .finish();
        let path = format!("/call?{query}");
        match self.idempotent(reqwest::Method::GET, &path, None).await? {
            Value::Array(calls) => Ok(calls),
            other => Err(VapiError::Decode(format!(
                "expected a list of calls, got {other}"
            ))),
        }
    }

    /// Live Call Control: `POST {call.monitor.controlUrl}` with a control message such as
    /// `{"type":"transfer","destination":{…},"content":"…"}` (contracts/vapi.md §2.3). The URL is
    /// a per-call capability; no key is sent. Not retried.
    ///
    /// # Errors
    /// [`VapiError`].
    pub async fn call_control(&self, control_url: &str, message: &Value) -> Result<(), VapiError> {
        let response = self
            .http
            .post(control_url)
            .json(message)
            .send()
            .await
            .map_err(|e| VapiError::Transport(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            Ok(())
        } else {
            let text = response.text().await.unwrap_or_default();
            Err(api_error(status, &text))
        }
    }

    /// `GET /call/{id}`.
    ///
    /// # Errors
    /// [`VapiError`].
    pub async fn get_call(&self, id: &str) -> Result<Value, VapiError> {
        self.idempotent(reqwest::Method::GET, &format!("/call/{id}"), None)
            .await
    }
}
