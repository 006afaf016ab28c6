//! The organization's voice agents (SPEC §3; seed 001 §§11-12):
//!
//! - `GET /api/agents`: both agents, the voice settings, the tools and their link state, and the
//!   Twilio number's dual-sync state;
//! - `PUT /api/agents/{direction}`: saves the inbound or outbound agent and its Vapi assistant,
//!   answers at once and syncs the tools in the background;
//! - `GET/PUT /api/voice-settings`: transfer routing and the hot-lead alert phone;
//! - `POST /api/contacts/{id}/call-back`: calls a contact back with the outbound agent.

use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;
use voice_agent::agents::{Agent, AgentInput, Direction, VoiceSettings};

use crate::auth::{AuthUser, ManagerUser, RoleAtLeast};
use crate::error::{ApiError, ErrorBody};
use crate::input::Json;
use crate::reply::{self, Success};
use crate::state::AppState;

/// Voice settings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VoiceSettingsBody {
    /// Default transfer destination: E.164 or `sip:` URI.
    pub transfer_default: Option<String>,
    /// Department (`general`, `billing`, `medical`, …) → destination.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub transfer_departments: Map<String, Value>,
    /// Staff phone for hot-lead alerts, E.164.
    pub hot_lead_alert_phone: Option<String>,
}

impl From<VoiceSettings> for VoiceSettingsBody {
    fn from(s: VoiceSettings) -> Self {
        Self {
            transfer_default: s.transfer_default,
            transfer_departments: s.transfer_departments,
            hot_lead_alert_phone: s.hot_lead_alert_phone,
        }
    }
}

/// A tool and its link to the organization's assistants.
#[derive(Debug, Serialize, ToSchema)]
pub struct ToolBody {
    /// Tool name.
    pub name: String,
    /// The platform's Vapi tool.
    pub vapi_tool_id: String,
    /// `pending`, `linked` or `failed` (retried).
    pub link_status: String,
    /// Why the last link failed.
    pub last_error: Option<String>,
}

/// The Twilio number's dual-sync to Vapi.
#[derive(Debug, Serialize, ToSchema)]
pub struct PhoneNumberBody {
    /// E.164.
    pub number: String,
    /// `pending`, `credential_created`, `number_imported`, `linked` or `disconnecting`.
    pub state: String,
    /// Vapi's phone-number id.
    pub vapi_phone_number_id: Option<String>,
    /// The last failure.
    pub last_error: Option<String>,
}

/// `GET /api/agents`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentsResponse {
    /// Saved agents (absent directions were never saved).
    pub agents: Vec<Agent>,
    /// Voice settings.
    pub settings: VoiceSettingsBody,
    /// Tools.
    pub tools: Vec<ToolBody>,
    /// The Twilio number, once Twilio is connected.
    pub phone_number: Option<PhoneNumberBody>,
}

/// The organization's agents, settings, tools and number.
#[utoipa::path(tag = "agents", security(("bearer" = [])),
    responses((status = 200, body = Success<AgentsResponse>), (status = 403, body = ErrorBody)))]
#[get("/api/agents")]
async fn list_agents(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
) -> Result<HttpResponse, ApiError> {
    let (agents, settings) = state
        .db
        .tenant(user.org_id, async |tx| {
            let agents = voice_agent::agents::list(tx).await?;
            Ok::<_, voice_agent::VoiceError>((agents, voice_agent::agents::settings(tx).await?))
        })
        .await?;
    let tools = state.voice.tool_registry().org_tools(user.org_id).await?;
    let number = state.voice.twilio_sync().state(user.org_id).await?;
    Ok(reply::ok(AgentsResponse {
        agents: agents.into_iter().collect(),
        settings: settings.into(),
        tools: tools
            .into_iter()
            .map(|(name, vapi_tool_id, link_status, last_error)| ToolBody {
                name,
                vapi_tool_id,
                link_status,
                last_error,
            })
            .collect(),
        phone_number: number.map(|n| PhoneNumberBody {
            number: n.phone_number,
            state: n.state,
            vapi_phone_number_id: n.vapi_phone_number_id,
            last_error: n.last_error,
        }),
    }))
}

/// `PUT /api/agents/{direction}` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AgentRequest {
    /// 1-40 characters.
    pub name: String,
    /// Up to 20,000 characters.
    #[serde(default)]
    pub system_prompt: String,
    /// Up to 1,000 characters.
    #[serde(default)]
    pub first_message: String,
    /// Default `vapi`.
    pub voice_provider: Option<String>,
    /// Default `Elliot`.
    pub voice_id: Option<String>,
    /// Default `openai`.
    pub model_provider: Option<String>,
    /// Default `gpt-4o`.
    pub model: Option<String>,
}

/// `{ success, agent, message }`
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentResponse {
    /// The saved agent.
    pub agent: Agent,
    /// `Agent saved. Tools syncing...`
    pub message: String,
}

/// Saves an agent and its Vapi assistant (fetch-merge-patch); tools sync in the background.
#[utoipa::path(tag = "agents", security(("bearer" = [])),
    params(("direction" = String, Path, description = "inbound or outbound")),
    request_body = AgentRequest,
    responses((status = 200, body = Success<AgentResponse>), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 502, body = ErrorBody, description = "`vapi_unavailable`"),
        (status = 503, body = ErrorBody, description = "`vapi_not_configured`")))]
#[put("/api/agents/{direction}")]
async fn save_agent(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
    direction: web::Path<String>,
    body: Json<AgentRequest>,
) -> Result<HttpResponse, ApiError> {
    let direction = Direction::parse(&direction)?;
    let body = body.into_inner();
    let input = AgentInput {
        name: body.name,
        system_prompt: body.system_prompt,
        first_message: body.first_message,
        voice_provider: body.voice_provider,
        voice_id: body.voice_id,
        model_provider: body.model_provider,
        model: body.model,
    };
    let agent = state
        .voice
        .assistants()
        .save_agent(user.org_id, direction, input, chrono::Utc::now())
        .await?;
    // Fire and forget (seed 001 §11 "Mistake 3"): failures are recorded and retried.
    let voice = state.voice.clone();
    let org = user.org_id;
    tokio::spawn(async move {
        match voice.tool_registry().sync_tools(org).await {
            Ok(report) => tracing::info!(org_id = %org, ?report, "tool sync after agent save"),
            Err(e) => {
                tracing::warn!(org_id = %org, error = %e, "tool sync after agent save failed")
            }
        }
        // A dual-sync waiting for the inbound assistant moves on.
        if direction == Direction::Inbound
            && let Err(e) = voice.twilio_sync().resume_waiting(org).await
        {
            tracing::warn!(org_id = %org, error = %e, "dual-sync resume failed");
        }
    });
    Ok(reply::ok(AgentResponse {
        agent,
        message: "Agent saved. Tools syncing...".into(),
    }))
}

/// `{ success, settings }`
#[derive(Debug, Serialize, ToSchema)]
pub struct VoiceSettingsResponse {
    /// The settings.
    pub settings: VoiceSettingsBody,
}

/// The voice settings.
#[utoipa::path(tag = "agents", security(("bearer" = [])),
    responses((status = 200, body = Success<VoiceSettingsResponse>), (status = 403, body = ErrorBody)))]
#[get("/api/voice-settings")]
async fn get_voice_settings(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
) -> Result<HttpResponse, ApiError> {
    let settings = state
        .db
        .tenant(user.org_id, async |tx| {
            voice_agent::agents::settings(tx).await
        })
        .await?;
    Ok(reply::ok(VoiceSettingsResponse {
        settings: settings.into(),
    }))
}

/// Saves transfer routing and the hot-lead alert phone.
#[utoipa::path(tag = "agents", security(("bearer" = [])),
    request_body = VoiceSettingsBody,
    responses((status = 200, body = Success<VoiceSettingsResponse>), (status = 422, body = ErrorBody)))]
#[put("/api/voice-settings")]
async fn put_voice_settings(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
    body: Json<VoiceSettingsBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let settings = VoiceSettings {
        transfer_default: body.transfer_default,
        transfer_departments: body.transfer_departments,
        hot_lead_alert_phone: body.hot_lead_alert_phone,
    };
    let settings = state
        .db
        .tenant(user.org_id, async |tx| {
            voice_agent::agents::put_settings(tx, settings).await
        })
        .await?;
    Ok(reply::ok(VoiceSettingsResponse {
        settings: settings.into(),
    }))
}

/// `{ success, callId, vapiCallId, phone, status }` (seed 001 §16 Phase 1).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallBackResponse {
    /// Our call row.
    pub call_id: Uuid,
    /// Vapi's call.
    pub vapi_call_id: Option<String>,
    /// The number called, E.164.
    pub phone: String,
    /// `initiated`, or the status of the earlier attempt a retry found.
    pub status: String,
}

/// Calls a contact back with the outbound agent. A repeated request (same `Idempotency-Key`, or
/// within 15 minutes of a live call-back to the contact) returns the first attempt (200)
/// instead of placing another call (201).
#[utoipa::path(tag = "agents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The contact"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries return the first attempt")),
    responses((status = 201, body = Success<CallBackResponse>), (status = 200, body = Success<CallBackResponse>, description = "an earlier attempt"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`outbound_agent_missing` or `phone_number_missing`"),
        (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
#[post("/api/contacts/{id}/call-back")]
async fn call_back(
    state: web::Data<AppState>,
    req: HttpRequest,
    AuthUser(user): AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned());
    let placed = state
        .voice
        .call_backs()
        .call_back(
            user.org_id,
            id.into_inner(),
            key,
            user.actor_id(),
            chrono::Utc::now(),
        )
        .await?;
    let body = CallBackResponse {
        call_id: placed.call_id,
        vapi_call_id: placed.vapi_call_id,
        phone: placed.phone,
        status: placed.status,
    };
    Ok(if placed.placed_now {
        reply::created(body)
    } else {
        reply::ok(body)
    })
}

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(list_agents)
        .service(save_agent)
        .service(get_voice_settings)
        .service(put_voice_settings)
        .service(call_back);
}
