//! `/api/telephony`: the 8 hybrid-telephony endpoints (seed 001 §17.4; field names in camelCase
//! as the seed's clients send and read them). Admins and managers only.

use actix_web::{HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use telephony::{ForwardingConfig, NewForwarding};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{ManagerUser, RoleAtLeast};
use crate::error::{ApiError, ErrorBody};
use crate::input::Json;
use crate::reply::{self, Success};
use crate::routes::iso;
use crate::state::AppState;

/// Body of `POST /api/telephony/verify-caller-id/initiate`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InitiateRequest {
    /// The mobile number, E.164 (`+15551234567`; spaces and dashes are tolerated).
    pub phone_number: String,
    /// A name for it, up to 64 characters.
    #[serde(default)]
    pub friendly_name: Option<String>,
}

/// Response of the initiation (seed 001 §17.4 endpoint 1).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InitiateResponse {
    /// The verification, for `confirm`.
    pub verification_id: Uuid,
    /// Twilio's verification call (`CA…`).
    pub validation_id: String,
    /// The 6-digit code to key in when Twilio calls (shown once; stored only hashed).
    pub verification_code: String,
    /// What to do now.
    pub message: String,
}

/// Body of `POST /api/telephony/verify-caller-id/confirm`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfirmRequest {
    /// From the initiation.
    pub verification_id: Uuid,
    /// The 6-digit code.
    pub verification_code: String,
}

/// Response of the confirmation (endpoint 2).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmResponse {
    /// `Phone number verified successfully`.
    pub message: String,
    /// Twilio's outgoing caller ID (`PN…`).
    pub caller_id_sid: String,
}

/// A number in the list (endpoint 3).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NumberBody {
    /// Id (the verification id).
    pub id: Uuid,
    /// E.164.
    pub phone_number: String,
    /// Name given.
    pub friendly_name: Option<String>,
    /// `pending`, `verified`, `failed` or `expired`.
    pub status: String,
    /// When verified, RFC 3339 UTC with milliseconds.
    pub verified_at: Option<String>,
    /// Whether a forwarding configuration exists for it.
    pub has_forwarding_config: bool,
}

/// `{ "success": true, "numbers": [...] }`
#[derive(Debug, Serialize, ToSchema)]
pub struct NumbersResponse {
    /// The organization's numbers.
    pub numbers: Vec<NumberBody>,
}

/// A forwarding configuration (endpoints 4 and 5).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigBody {
    /// Id.
    pub id: Uuid,
    /// The verified number.
    pub verified_caller_id: Uuid,
    /// The mobile number forwarded.
    pub sim_phone_number: String,
    /// `total_ai` or `safety_net`.
    pub forwarding_type: String,
    /// Carrier profile.
    pub carrier: String,
    /// Ring time in seconds (GSM safety net), else `null`.
    pub ring_time_seconds: Option<i32>,
    /// Where calls go (the organization's Twilio number).
    pub forwarding_number: String,
    /// The codes to dial, joined with " then " when there are several (seed field).
    pub generated_activation_code: String,
    /// The codes to dial, in order.
    pub generated_activation_codes: Vec<String>,
    /// The code that removes forwarding from the phone.
    pub generated_deactivation_code: String,
    /// Codes that show each leg's state (GSM).
    pub check_codes: Vec<String>,
    /// `pending_setup`, `active` or `disabled`.
    pub status: String,
    /// Whether the person confirmed dialling the codes.
    pub user_confirmed_setup: bool,
    /// Step-by-step instructions (on creation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions: Option<Vec<String>>,
    /// Caveats (on creation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<Vec<String>>,
}

impl From<ForwardingConfig> for ConfigBody {
    fn from(c: ForwardingConfig) -> Self {
        let codes = c.generated_activation_codes;
        Self {
            id: c.id,
            verified_caller_id: c.verified_caller_id,
            sim_phone_number: c.sim_phone_number.clone(),
            forwarding_type: c.forwarding_type.clone(),
            carrier: c.carrier.clone(),
            ring_time_seconds: c.ring_time_seconds,
            forwarding_number: c.twilio_forwarding_number.clone(),
            generated_activation_code: codes.join(" then "),
            generated_activation_codes: codes,
            generated_deactivation_code: c.generated_deactivation_code.clone(),
            check_codes: c.check_codes,
            status: c.status,
            user_confirmed_setup: c.user_confirmed_setup,
            instructions: None,
            notes: None,
        }
    }
}

/// `{ "success": true, "config": … }`
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigResponse {
    /// The configuration.
    pub config: ConfigBody,
}

/// Query of `GET /api/telephony/forwarding-config`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct ConfigQuery {
    /// The verified number.
    pub verified_caller_id: Uuid,
}

/// Body of `POST /api/telephony/forwarding-config`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateConfigRequest {
    /// The verified number to forward.
    pub verified_caller_id: Uuid,
    /// `total_ai` or `safety_net`.
    pub forwarding_type: String,
    /// `att`, `tmobile`, `verizon`, `sprint`, `other_gsm`, `other_cdma` or `international`.
    pub carrier: String,
    /// Safety net ring time: 5, 10, 15, 20, 25 or 30 (default 25); ignored for `total_ai`.
    #[serde(default)]
    pub ring_time_seconds: Option<u32>,
}

/// Body of `POST /api/telephony/forwarding-config/confirm`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfirmSetupRequest {
    /// The configuration.
    pub forwarding_config_id: Uuid,
}

/// `{ "success": true, "message", … }`
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusMessage {
    /// What happened.
    pub message: String,
    /// The configuration's status, when one changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The code to dial to remove forwarding (on disable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deactivation_code: Option<String>,
}

/// Starts a Twilio caller-ID verification call (3 per number per hour).
#[utoipa::path(tag = "telephony", security(("bearer" = [])), request_body = InitiateRequest,
    responses((status = 200, body = Success<InitiateResponse>), (status = 400, body = ErrorBody), (status = 404, description = "Twilio not connected", body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 429, body = ErrorBody), (status = 502, body = ErrorBody)))]
#[post("/api/telephony/verify-caller-id/initiate")]
async fn initiate(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
    body: Json<InitiateRequest>,
) -> Result<HttpResponse, ApiError> {
    let started = state
        .telephony
        .initiate(
            user.org_id,
            &body.phone_number,
            body.friendly_name.as_deref(),
        )
        .await?;
    Ok(reply::ok(InitiateResponse {
        verification_id: started.verification_id,
        validation_id: started.call_sid,
        verification_code: started.code,
        message: "Verification call initiated. When your phone rings, key in the 6-digit code shown here, then confirm.".into(),
    }))
}

/// Confirms the code (at most 3 attempts) once Twilio lists the number as a caller ID.
#[utoipa::path(tag = "telephony", security(("bearer" = [])), request_body = ConfirmRequest,
    responses((status = 200, body = Success<ConfirmResponse>), (status = 400, description = "wrong code, attempts left in the message", body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 410, body = ErrorBody), (status = 429, body = ErrorBody)))]
#[post("/api/telephony/verify-caller-id/confirm")]
async fn confirm(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
    body: Json<ConfirmRequest>,
) -> Result<HttpResponse, ApiError> {
    let sid = state
        .telephony
        .confirm(user.org_id, body.verification_id, &body.verification_code)
        .await?;
    Ok(reply::ok(ConfirmResponse {
        message: "Phone number verified successfully".into(),
        caller_id_sid: sid,
    }))
}

/// The organization's numbers.
#[utoipa::path(tag = "telephony", security(("bearer" = [])), responses((status = 200, body = Success<NumbersResponse>)))]
#[get("/api/telephony/verified-numbers")]
async fn list_numbers(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
) -> Result<HttpResponse, ApiError> {
    let numbers = state.telephony.list_numbers(user.org_id).await?;
    Ok(reply::ok(NumbersResponse {
        numbers: numbers
            .into_iter()
            .map(|(n, has)| NumberBody {
                id: n.id,
                phone_number: n.phone_number,
                friendly_name: n.friendly_name,
                status: n.status,
                verified_at: n.verified_at.map(iso),
                has_forwarding_config: has,
            })
            .collect(),
    }))
}

/// Removes a number and its forwarding configuration.
#[utoipa::path(tag = "telephony", security(("bearer" = [])), params(("id" = Uuid, Path, description = "Number id")),
    responses((status = 200, body = Success<StatusMessage>), (status = 404, body = ErrorBody)))]
#[delete("/api/telephony/verified-numbers/{id}")]
async fn remove_number(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .telephony
        .remove_number(user.org_id, id.into_inner())
        .await?;
    Ok(reply::ok(StatusMessage {
        message: "Verified number removed".into(),
        status: None,
        deactivation_code: None,
    }))
}

/// The forwarding configuration of a verified number.
#[utoipa::path(tag = "telephony", security(("bearer" = [])), params(ConfigQuery),
    responses((status = 200, body = Success<ConfigResponse>), (status = 404, body = ErrorBody)))]
#[get("/api/telephony/forwarding-config")]
async fn get_config(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
    query: web::Query<ConfigQuery>,
) -> Result<HttpResponse, ApiError> {
    let config = state
        .telephony
        .forwarding_for(user.org_id, query.verified_caller_id)
        .await?;
    Ok(reply::ok(ConfigResponse {
        config: config.into(),
    }))
}

/// Creates (or replaces) the forwarding configuration: codes for the carrier and mode to the
/// organization's Twilio number, with instructions; status `pending_setup`.
#[utoipa::path(tag = "telephony", security(("bearer" = [])), request_body = CreateConfigRequest,
    responses((status = 201, body = Success<ConfigResponse>), (status = 404, body = ErrorBody), (status = 409, description = "number not verified", body = ErrorBody),
              (status = 422, description = "invalid carrier, mode or ring time", body = ErrorBody)))]
#[post("/api/telephony/forwarding-config")]
async fn create_config(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
    body: Json<CreateConfigRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let (config, instructions, notes) = state
        .telephony
        .configure_forwarding(
            user.org_id,
            NewForwarding {
                verified_caller_id: body.verified_caller_id,
                forwarding_type: body.forwarding_type,
                carrier: body.carrier,
                ring_time_seconds: body.ring_time_seconds,
            },
        )
        .await?;
    let mut config = ConfigBody::from(config);
    config.instructions = Some(instructions);
    config.notes = Some(notes);
    Ok(reply::created(ConfigResponse { config }))
}

/// The person dialled the codes: forwarding is active.
#[utoipa::path(tag = "telephony", security(("bearer" = [])), request_body = ConfirmSetupRequest,
    responses((status = 200, body = Success<StatusMessage>), (status = 404, body = ErrorBody)))]
#[post("/api/telephony/forwarding-config/confirm")]
async fn confirm_setup(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
    body: Json<ConfirmSetupRequest>,
) -> Result<HttpResponse, ApiError> {
    let config = state
        .telephony
        .confirm_forwarding(user.org_id, body.forwarding_config_id)
        .await?;
    Ok(reply::ok(StatusMessage {
        message: "Setup confirmed! Your calls are now forwarding to the AI.".into(),
        status: Some(config.status),
        deactivation_code: None,
    }))
}

/// Disables forwarding and returns the code that removes it from the phone.
#[utoipa::path(tag = "telephony", security(("bearer" = [])), params(("id" = Uuid, Path, description = "Configuration id")),
    responses((status = 200, body = Success<StatusMessage>), (status = 404, body = ErrorBody)))]
#[delete("/api/telephony/forwarding-config/{id}")]
async fn disable(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let config = state
        .telephony
        .disable_forwarding(user.org_id, id.into_inner())
        .await?;
    Ok(reply::ok(StatusMessage {
        message: format!(
            "Forwarding disabled. Dial: {} to remove forwarding from your phone.",
            config.generated_deactivation_code
        ),
        status: Some(config.status),
        deactivation_code: Some(config.generated_deactivation_code),
    }))
}

/// Twilio's caller-ID verification status callback (form-encoded, `X-Twilio-Signature` checked
/// with the organization's auth token against `PUBLIC_BASE_URL` + path, or the request's own
/// URL when unset). Answers 204 on success.
#[utoipa::path(tag = "telephony", params(("id" = Uuid, Path, description = "Verification id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Twilio's callback parameters"),
    responses((status = 204, description = "Recorded"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[post("/webhooks/twilio/caller-id/{id}")]
async fn caller_id_status(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    id: web::Path<Uuid>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let signed = crate::auth::twilio_request(&state, &req, &body);
    state
        .telephony
        .status_callback(id.into_inner(), &signed)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the telephony routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(initiate)
        .service(confirm)
        .service(list_numbers)
        .service(remove_number)
        .service(get_config)
        .service(create_config)
        .service(confirm_setup)
        .service(disable)
        .service(caller_id_status);
}
