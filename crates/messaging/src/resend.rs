//! Resend's "Send Email" (`POST /emails`, `Authorization: Bearer re_…`, JSON `{from, to, subject,
//! text}`, answer `{id}`), per Resend's public API reference. Not in `contracts/`.

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

/// An email to send.
#[derive(Debug, Serialize)]
pub(crate) struct Email<'a> {
    pub(crate) from: &'a str,
    pub(crate) to: &'a str,
    pub(crate) subject: &'a str,
    pub(crate) text: &'a str,
}

/// A failure: a short code for the audit row, the full detail for the log.
#[derive(Debug)]
pub(crate) struct SendError {
    pub(crate) code: String,
    pub(crate) detail: String,
}

/// Sends; returns Resend's message id.
pub(crate) async fn send(
    http: &reqwest::Client,
    base: &str,
    api_key: &SecretString,
    email: &Email<'_>,
) -> Result<Option<String>, SendError> {
    let response = http
        .post(format!("{}/emails", base.trim_end_matches('/')))
        .bearer_auth(api_key.expose_secret())
        .json(email)
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| SendError {
            code: "unreachable".into(),
            detail: e.without_url().to_string(),
        })?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    if status.is_success() {
        return Ok(body["id"].as_str().map(str::to_owned));
    }
    Err(SendError {
        code: body["name"]
            .as_str()
            .map_or_else(|| format!("http_{}", status.as_u16()), str::to_owned),
        detail: format!("Resend answered {status}: {body}"),
    })
}
