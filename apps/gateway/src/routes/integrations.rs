//! `/api/integrations`: connect (test & save), status, verify and disconnect the organization's
//! own providers (seed 004; SPEC §2). Admins and managers only. Request bodies
//! accept snake_case and the seeds' camelCase field names. No response ever contains a secret.

use actix_web::{HttpResponse, delete, get, post, web};
use credentials::Provider;
use integrations::{IntegrationStatus, TwilioInput};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{ManagerUser, Origin, RoleAtLeast};
use crate::error::{ApiError, ErrorBody};
use crate::input::Json;
use crate::reply::{self, Success};
use crate::routes::iso;
use crate::state::AppState;

/// One provider's integration state.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationBody {
    /// `vapi`, `twilio`, `google_calendar`, `resend`, `elevenlabs` or `outlook`.
    pub provider: String,
    /// Display name.
    pub name: String,
    /// `connected`, `not_configured`, `error` (the last check failed), or
    /// `managed_by_platform` (Vapi).
    pub status: String,
    /// Whether the platform, not the organization, holds this provider's credentials (Vapi).
    pub managed_by_platform: bool,
    /// Last successful check, RFC 3339 UTC with milliseconds.
    pub last_verified_at: Option<String>,
    /// The last check's error.
    pub last_error: Option<String>,
    /// Non-secret details: Twilio account SID, number and auth type; connected email; sender.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// When the current credentials were saved, RFC 3339 UTC with milliseconds.
    pub connected_at: Option<String>,
}

impl From<IntegrationStatus> for IntegrationBody {
    fn from(s: IntegrationStatus) -> Self {
        Self {
            provider: s.provider.as_str().into(),
            name: s.provider.display_name().into(),
            status: s.status.into(),
            managed_by_platform: false,
            last_verified_at: s.last_verified_at.map(iso),
            last_error: s.last_error,
            details: s.details,
            connected_at: s.connected_at.map(iso),
        }
    }
}

fn vapi() -> IntegrationBody {
    IntegrationBody {
        provider: "vapi".into(),
        name: "Vapi".into(),
        status: "managed_by_platform".into(),
        managed_by_platform: true,
        last_verified_at: None,
        last_error: None,
        details: serde_json::json!({ "note": "The voice agent runs on the platform's Vapi account; nothing to connect." }),
        connected_at: None,
    }
}

/// `{ "success": true, "integration": … }`
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationResponse {
    /// What happened.
    pub message: String,
    /// The provider's state.
    pub integration: IntegrationBody,
}

/// `{ "success": true, "integrations": [...] }`
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationsStatusResponse {
    /// Vapi first, then every BYOC provider.
    pub integrations: Vec<IntegrationBody>,
}

/// Body of `POST /api/integrations/twilio`: the account SID, the number (E.164), and either an
/// API key (preferred: revocable, least privilege) or the auth token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TwilioRequest {
    /// `AC` + 32 hex.
    #[serde(alias = "accountSid")]
    pub account_sid: String,
    /// The account auth token. Give it (alone or beside an API key) to have Twilio's callbacks
    /// and softphone TwiML requests checked; an API key alone cannot check them.
    #[serde(default, alias = "authToken")]
    #[schema(value_type = Option<String>)]
    pub auth_token: Option<SecretString>,
    /// `SK` + 32 hex.
    #[serde(default, alias = "apiKeySid")]
    pub api_key_sid: Option<String>,
    /// The API key's secret.
    #[serde(default, alias = "apiKeySecret")]
    #[schema(value_type = Option<String>)]
    pub api_key_secret: Option<SecretString>,
    /// The organization's Twilio number, E.164 (for example `+15551234567`).
    #[serde(alias = "phoneNumber")]
    pub phone_number: String,
    /// TwiML application (`AP` + 32 hex) that softphone outgoing calls use; optional. Point its
    /// Voice URL at `{PUBLIC_BASE_URL}/webhooks/twilio/voice/{org_id}`.
    #[serde(default, alias = "voiceApplicationSid")]
    pub voice_application_sid: Option<String>,
}

/// Body of `POST /api/integrations/resend`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    /// Resend API key (`re_…`); a sending-only key is enough.
    #[serde(default, alias = "apiKey")]
    #[schema(value_type = Option<String>)]
    pub api_key: Option<SecretString>,
    /// Sender address.
    #[serde(default, alias = "fromEmail")]
    pub from_email: Option<String>,
}

/// Body of `POST /api/integrations/elevenlabs`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ElevenLabsRequest {
    /// ElevenLabs API key.
    #[serde(default, alias = "apiKey")]
    #[schema(value_type = Option<String>)]
    pub api_key: Option<SecretString>,
}

fn connected(status: IntegrationStatus) -> HttpResponse {
    let message = format!("{} connected.", status.provider.display_name());
    reply::ok(IntegrationResponse {
        message,
        integration: status.into(),
    })
}

/// Tests Twilio credentials (the account must answer and own the number), then saves them.
#[utoipa::path(
    tag = "integrations",
    security(("bearer" = [])),
    request_body = TwilioRequest,
    responses(
        (status = 200, body = Success<IntegrationResponse>),
        (status = 403, body = ErrorBody),
        (status = 422, description = "invalid input or credentials refused by Twilio", body = ErrorBody),
        (status = 502, description = "Twilio unreachable; nothing saved", body = ErrorBody)
    )
)]
#[post("/api/integrations/twilio")]
async fn connect_twilio(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
    Origin(origin): Origin,
    body: Json<TwilioRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let input = TwilioInput {
        account_sid: body.account_sid,
        auth_token: body.auth_token,
        api_key_sid: body.api_key_sid,
        api_key_secret: body.api_key_secret,
        phone_number: body.phone_number,
        voice_application_sid: body.voice_application_sid,
    };
    let status = state
        .integrations
        .connect_twilio(user.org_id, input, &user.changed_by(origin))
        .await?;
    if state.voice.has_vapi() {
        // Dual-sync (seed 001 §3.4) runs after the answer; its progress shows in the status.
        let (voice, org) = (state.voice.clone(), user.org_id);
        tokio::spawn(async move {
            if let Err(e) = voice.twilio_sync().start(org).await {
                tracing::warn!(org_id = %org, error = %e, "Twilio dual-sync did not start");
            }
        });
    }
    Ok(connected(status))
}

/// Tests a Resend API key, then saves it.
#[utoipa::path(
    tag = "integrations",
    security(("bearer" = [])),
    request_body = ResendRequest,
    responses((status = 200, body = Success<IntegrationResponse>), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody))
)]
#[post("/api/integrations/resend")]
async fn connect_resend(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
    Origin(origin): Origin,
    body: Json<ResendRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let status = state
        .integrations
        .connect_resend(
            user.org_id,
            body.api_key,
            body.from_email,
            &user.changed_by(origin),
        )
        .await?;
    Ok(connected(status))
}

/// Tests an ElevenLabs API key, then saves it.
#[utoipa::path(
    tag = "integrations",
    security(("bearer" = [])),
    request_body = ElevenLabsRequest,
    responses((status = 200, body = Success<IntegrationResponse>), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody))
)]
#[post("/api/integrations/elevenlabs")]
async fn connect_elevenlabs(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
    Origin(origin): Origin,
    body: Json<ElevenLabsRequest>,
) -> Result<HttpResponse, ApiError> {
    let status = state
        .integrations
        .connect_elevenlabs(
            user.org_id,
            body.into_inner().api_key,
            &user.changed_by(origin),
        )
        .await?;
    Ok(connected(status))
}

/// Every provider's state: Vapi (managed by the platform), then each BYOC provider as
/// `connected`, `not_configured` or `error`. Never a secret.
#[utoipa::path(
    tag = "integrations",
    security(("bearer" = [])),
    responses((status = 200, body = Success<IntegrationsStatusResponse>), (status = 403, body = ErrorBody))
)]
#[get("/api/integrations/status")]
async fn integrations_status(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
) -> Result<HttpResponse, ApiError> {
    let mut statuses = state.integrations.status(user.org_id).await?;
    if let Some(sync) = state.voice.twilio_sync().state(user.org_id).await?
        && let Some(twilio) = statuses
            .iter_mut()
            .find(|s| s.provider == credentials::Provider::Twilio)
        && let Some(details) = twilio.details.as_object_mut()
    {
        details.insert(
            "vapi_sync".into(),
            serde_json::json!({
                "state": sync.state,
                "vapi_phone_number_id": sync.vapi_phone_number_id,
                "linked_assistant_id": sync.linked_assistant_id,
                "attempts": sync.attempts,
                "last_error": sync.last_error,
            }),
        );
    }
    let integrations = std::iter::once(vapi())
        .chain(statuses.into_iter().map(IntegrationBody::from))
        .collect();
    Ok(reply::ok(IntegrationsStatusResponse { integrations }))
}

fn provider(name: &str) -> Result<Provider, ApiError> {
    if name == "vapi" {
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "managed_by_platform",
            "Vapi is managed by the platform; there is nothing to verify or disconnect",
        ));
    }
    name.parse::<Provider>()
        .map_err(|_| ApiError::not_found(&format!("integration {name:?}")))
}

/// Re-checks the stored credentials against the provider and records the result (`error`
/// with the reason when the provider refuses them).
#[utoipa::path(
    tag = "integrations",
    security(("bearer" = [])),
    params(("provider" = String, Path, description = "twilio, resend or elevenlabs")),
    responses(
        (status = 200, body = Success<IntegrationResponse>),
        (status = 404, description = "unknown provider, or not connected", body = ErrorBody),
        (status = 502, body = ErrorBody)
    )
)]
#[post("/api/integrations/{provider}/verify")]
async fn verify_integration(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
    Origin(origin): Origin,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let provider = provider(&name)?;
    let status = state
        .integrations
        .verify(user.org_id, provider, &user.changed_by(origin))
        .await?;
    let message = if status.status == "connected" {
        format!("{} credentials work.", provider.display_name())
    } else {
        format!(
            "{} refused the stored credentials.",
            provider.display_name()
        )
    };
    Ok(reply::ok(IntegrationResponse {
        message,
        integration: status.into(),
    }))
}

/// `{ "success": true, "message", "provider" }`
#[derive(Debug, Serialize, ToSchema)]
pub struct DisconnectedResponse {
    /// What happened.
    pub message: String,
    /// The provider.
    pub provider: String,
}

/// Disconnects a provider: its credentials are no longer used (kept as history, unreadable
/// through the API).
#[utoipa::path(
    tag = "integrations",
    security(("bearer" = [])),
    params(("provider" = String, Path, description = "twilio, google_calendar, resend, elevenlabs or outlook")),
    responses((status = 200, body = Success<DisconnectedResponse>), (status = 404, body = ErrorBody))
)]
#[delete("/api/integrations/{provider}")]
async fn disconnect_integration(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
    Origin(origin): Origin,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let provider = provider(&name)?;
    if !state
        .integrations
        .disconnect(user.org_id, provider, &user.changed_by(origin))
        .await?
    {
        return Err(credentials::CredentialError::NotConnected(provider).into());
    }
    if provider == credentials::Provider::Twilio {
        // Undo the dual-sync; a Vapi failure leaves it `disconnecting` for the voice.due-work task.
        let (voice, org) = (state.voice.clone(), user.org_id);
        tokio::spawn(async move {
            if let Err(e) = voice.twilio_sync().disconnect(org).await {
                tracing::warn!(org_id = %org, error = %e, "Twilio dual-sync undo failed");
            }
        });
    }
    Ok(reply::ok(DisconnectedResponse {
        message: format!("{} disconnected.", provider.display_name()),
        provider: provider.as_str().into(),
    }))
}

/// `{ "success": true, "url" }`: where to send the user's browser.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentUrlResponse {
    /// Google's consent page, with offline access, `prompt=consent` and a signed state valid
    /// for 10 minutes.
    pub url: String,
}

/// Starts the Google Calendar "Forever-Link": the consent URL to open in the browser.
#[utoipa::path(
    tag = "integrations",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Success<ConsentUrlResponse>),
        (status = 403, body = ErrorBody),
        (status = 503, description = "no Google OAuth client is configured", body = ErrorBody)
    )
)]
#[get("/api/integrations/google/oauth/start")]
async fn google_oauth_start(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
) -> Result<HttpResponse, ApiError> {
    let url = state
        .integrations
        .google_consent_url(user.org_id, user.actor)?;
    Ok(reply::ok(ConsentUrlResponse { url }))
}

/// What Google appends to the callback URL.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct GoogleCallbackQuery {
    /// The authorization code (absent when the user declined).
    pub code: Option<String>,
    /// The state issued by `oauth/start`.
    pub state: Option<String>,
    /// Set by Google when the user declined or the request failed (`access_denied`, …).
    pub error: Option<String>,
}

/// Google's redirect after consent. The signed `state` identifies the organization and user
/// (the browser carries no bearer token here); the code is exchanged, a refresh token is
/// required, and it is stored sealed with the connected account's email.
#[utoipa::path(
    tag = "integrations",
    params(GoogleCallbackQuery),
    responses(
        (status = 200, body = Success<IntegrationResponse>),
        (status = 422, description = "declined, invalid or expired state, no refresh token", body = ErrorBody),
        (status = 502, body = ErrorBody)
    )
)]
#[get("/api/integrations/google/oauth/callback")]
async fn google_oauth_callback(
    state: web::Data<AppState>,
    Origin(origin): Origin,
    query: web::Query<GoogleCallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    if let Some(error) = query.error {
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "consent_declined",
            format!("Google sign-in did not complete ({error}); nothing was connected"),
        ));
    }
    let (Some(code), Some(oauth_state)) = (query.code, query.state) else {
        return Err(ApiError::bad_request(
            "invalid_query",
            "code and state are required",
        ));
    };
    let status = state
        .integrations
        .google_complete(&oauth_state, &code, origin)
        .await?;
    Ok(connected(status))
}

/// Registers the integrations routes (`status` before `{provider}` patterns).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(integrations_status)
        .service(google_oauth_start)
        .service(google_oauth_callback)
        .service(connect_twilio)
        .service(connect_resend)
        .service(connect_elevenlabs)
        .service(verify_integration)
        .service(disconnect_integration);
}
