//! The browser softphone (seed 002 "VoIP Calling Features"):
//!
//! - `GET /api/twilio/token`: a Twilio Voice access token for the signed-in user, identity =
//!   the user's extension.
//! - `POST /webhooks/twilio/voice/{org_id}`: the Voice URL of the organization's TwiML
//!   application (and of its number); answers TwiML that rings the dialled extension.
//! - `POST /webhooks/twilio/voice/{org_id}/client-status`: status callbacks of the softphone
//!   legs that TwiML dials; publishes `call_answered`, `user_call_started`, `user_call_ended`.
//!
//! Both webhooks are refused 403 `invalid_signature` unless `X-Twilio-Signature` is valid for
//! the organization's auth token (contracts/telephony.md B.1).

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{SignedInUser, public_origin, twilio_request};
use crate::error::{ApiError, ErrorBody};
use crate::reply::Success;
use crate::routes::iso;
use crate::state::AppState;

/// `{ "success": true, "token", "identity", ... }`
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// The access token (a JWT) for `new Twilio.Device(token)`.
    pub token: String,
    /// The client identity: the user's extension.
    pub identity: String,
    /// Lifetime in seconds (3600).
    pub ttl_secs: i64,
    /// Expiry, RFC 3339 UTC with milliseconds.
    pub expires_at: String,
    /// Whether the token may place calls (the organization configured a TwiML application).
    pub outgoing: bool,
}

/// Mints a Twilio Voice access token for the signed-in user (identity = extension).
#[utoipa::path(tag = "softphone", security(("bearer" = [])),
    responses((status = 200, body = Success<TokenResponse>),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "`not_connected`: the organization has no Twilio"),
        (status = 409, body = ErrorBody, description = "`no_extension` or `twilio_api_key_required`")))]
#[get("/api/twilio/token")]
async fn token(
    state: web::Data<AppState>,
    SignedInUser(user): SignedInUser,
) -> Result<HttpResponse, ApiError> {
    let minted = state
        .softphone
        .access_token(user.org_id, user.user_id, chrono::Utc::now())
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(Success::new(TokenResponse {
            token: minted.token,
            identity: minted.identity,
            ttl_secs: minted.ttl_secs,
            expires_at: iso(minted.expires_at),
            outgoing: minted.outgoing,
        })))
}

fn voice_url(origin: &str, org: Uuid) -> String {
    format!("{origin}/webhooks/twilio/voice/{org}")
}

/// Twilio's voice request for a call to the organization (form-encoded). Answers TwiML.
#[utoipa::path(tag = "softphone",
    params(("org_id" = Uuid, Path, description = "The organization (its TwiML application's Voice URL names it)")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Twilio's voice request parameters (From, To, Digits, ...)"),
    responses((status = 200, content_type = "text/xml", body = String, description = "TwiML"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[post("/webhooks/twilio/voice/{org_id}")]
async fn voice(
    state: web::Data<AppState>,
    req: HttpRequest,
    org: web::Path<Uuid>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let org = org.into_inner();
    let signed = twilio_request(&state, &req, &body);
    let origin = public_origin(&state, &req);
    let urls = softphone::CallbackUrls {
        voice: voice_url(&origin, org),
        client_status: format!("{}/client-status", voice_url(&origin, org)),
    };
    let twiml = state
        .softphone
        .voice(db::OrgId(org), &signed, &urls)
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/xml; charset=utf-8")
        .body(twiml))
}

/// Status callback of a softphone leg (form-encoded). Answers 204.
#[utoipa::path(tag = "softphone",
    params(("org_id" = Uuid, Path, description = "The organization")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Twilio's status callback parameters (CallSid, ParentCallSid, CallStatus, To, From, CallDuration)"),
    responses((status = 204, description = "Recorded"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[post("/webhooks/twilio/voice/{org_id}/client-status")]
async fn client_status(
    state: web::Data<AppState>,
    req: HttpRequest,
    org: web::Path<Uuid>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let signed = twilio_request(&state, &req, &body);
    state
        .softphone
        .client_status(db::OrgId(org.into_inner()), &signed)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the softphone routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(token).service(voice).service(client_status);
}
