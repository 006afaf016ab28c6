//! `/api/calls-dashboard` (seed 001 §16 "Dashboard Aggregates", "4 NEW DASHBOARD ACTION
//! ENDPOINTS"): the call list, one call, the stats, and three actions (follow-up SMS, share the
//! recording, export the transcript); `GET /share/recordings/{token}` opens a shared recording.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use crm::call_logs::{CallLog, CallQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{AuthUser, Origin, public_origin};
use crate::error::{ApiError, ErrorBody};
use crate::input::Json;
use crate::reply::{self, Success};
use crate::routes::crm::major_units;
use crate::routes::{Pagination, iso, page};
use crate::state::AppState;

/// A call as the dashboard shows it: the stored call (seed 001 column names) and its value in
/// major units.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallBody {
    /// The call as stored.
    #[serde(flatten)]
    pub call: CallLog,
    /// Estimated value, major units (dollars).
    pub financial_value: f64,
}

impl From<CallLog> for CallBody {
    fn from(call: CallLog) -> Self {
        Self {
            financial_value: major_units(call.financial_value_minor),
            call,
        }
    }
}

/// `{ "success": true, "calls": [...], "pagination": … }`
#[derive(Debug, Serialize, ToSchema)]
pub struct CallList {
    /// Newest first.
    pub calls: Vec<CallBody>,
    /// Page.
    pub pagination: Pagination,
}

/// `{ "success": true, "call": … }`
#[derive(Debug, Serialize, ToSchema)]
pub struct CallResponse {
    /// The call.
    pub call: CallBody,
}

/// Page of the call list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct CallListPage {
    /// 1–500, default 20.
    pub limit: Option<i64>,
    /// Default 0.
    pub offset: Option<i64>,
}

/// Lists calls.
#[utoipa::path(tag = "calls-dashboard", security(("bearer" = [])), params(CallQuery, CallListPage),
    responses((status = 200, body = Success<CallList>), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/api/calls-dashboard")]
async fn list_calls(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    filters: web::Query<CallQuery>,
    paging: web::Query<CallListPage>,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = page(paging.limit, paging.offset, 20)?;
    let call_query = filters.into_inner();
    let (rows, total) = state
        .db
        .tenant(user.org_id, async |tx| {
            crm::call_logs::list(tx, call_query, db::Page { limit, offset }).await
        })
        .await?;
    Ok(reply::ok(CallList {
        calls: rows.into_iter().map(Into::into).collect(),
        pagination: Pagination::new(limit, offset, total),
    }))
}

/// One recent event of the stats.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecentEvent {
    /// The call.
    pub id: Uuid,
    /// `call_booked`, `call_transferred`, `call_completed` or `call_<status>`.
    pub event: String,
    /// Caller's name.
    pub caller_name: Option<String>,
    /// Caller's number.
    pub phone_number: Option<String>,
    /// Outcome.
    pub outcome: Option<String>,
    /// RFC 3339 UTC.
    pub timestamp: String,
}

/// The dashboard aggregates.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallStatsResponse {
    /// All calls in the window.
    pub total_calls: i64,
    /// Inbound calls.
    pub inbound_calls: i64,
    /// Calls that booked.
    pub bookings: i64,
    /// Sum of financial value, major units (dollars).
    pub pipeline_value: f64,
    /// The same in minor units (cents).
    pub pipeline_value_minor: i64,
    /// `bookings / inbound_calls × 100`, one decimal.
    pub success_rate: f64,
    /// Mean duration, seconds.
    pub average_duration_seconds: i64,
    /// The last 10 calls.
    pub recent_activity: Vec<RecentEvent>,
}

/// Query of the stats.
#[derive(Debug, Deserialize, IntoParams)]
pub struct StatsQuery {
    /// Created at or after (RFC 3339); default all time.
    pub from: Option<DateTime<Utc>>,
    /// Created before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
}

/// Pipeline value, success rate, average duration, recent activity.
#[utoipa::path(tag = "calls-dashboard", security(("bearer" = [])), params(StatsQuery),
    responses((status = 200, body = Success<CallStatsResponse>)))]
#[get("/api/calls-dashboard/stats")]
async fn stats(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let s = state
        .db
        .tenant(user.org_id, async |tx| {
            crm::call_logs::stats(tx, query.from, query.to).await
        })
        .await?;
    Ok(reply::ok(CallStatsResponse {
        total_calls: s.total_calls,
        inbound_calls: s.inbound_calls,
        bookings: s.bookings,
        pipeline_value: major_units(s.pipeline_value_minor),
        pipeline_value_minor: s.pipeline_value_minor,
        success_rate: s.success_rate,
        average_duration_seconds: s.average_duration_seconds,
        recent_activity: s
            .recent
            .into_iter()
            .map(|c| RecentEvent {
                id: c.id,
                event: if c.booking_confirmed {
                    "call_booked".into()
                } else if c.transfer_to.is_some() {
                    "call_transferred".into()
                } else {
                    format!("call_{}", c.status.replace('-', "_"))
                },
                caller_name: c.caller_name,
                phone_number: c.phone_number,
                outcome: c.outcome,
                timestamp: iso(c.started_at.unwrap_or(c.created_at)),
            })
            .collect(),
    }))
}

/// One call.
#[utoipa::path(tag = "calls-dashboard", security(("bearer" = [])), params(("callId" = Uuid, Path)),
    responses((status = 200, body = Success<CallResponse>), (status = 404, body = ErrorBody)))]
#[get("/api/calls-dashboard/{callId}")]
async fn get_call(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let call = state
        .db
        .tenant(user.org_id, async |tx| {
            crm::call_logs::get(tx, id.into_inner()).await
        })
        .await?;
    Ok(reply::ok(CallResponse { call: call.into() }))
}

/// Body of the follow-up action.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowupRequest {
    /// The SMS, 1–160 characters.
    pub message: String,
}

/// `{ success, messageId, phone }` (seed 001 action 1).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FollowupResponse {
    /// The audit row (`messages.id`).
    pub message_id: Uuid,
    /// Where it went, E.164.
    pub phone: String,
}

/// Sends a follow-up SMS to the caller through the organization's Twilio.
#[utoipa::path(tag = "calls-dashboard", security(("bearer" = [])), params(("callId" = Uuid, Path)), request_body = FollowupRequest,
    responses((status = 200, body = Success<FollowupResponse>), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`not_connected`"),
        (status = 422, body = ErrorBody), (status = 502, body = ErrorBody, description = "`provider_failed`: generic; details logged")))]
#[post("/api/calls-dashboard/{callId}/followup")]
async fn followup(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    Origin(origin): Origin,
    id: web::Path<Uuid>,
    body: Json<FollowupRequest>,
) -> Result<HttpResponse, ApiError> {
    let sent = state
        .messenger
        .followup(
            user.org_id,
            id.into_inner(),
            &body.message,
            &user.changed_by(origin),
        )
        .await?;
    Ok(reply::ok(FollowupResponse {
        message_id: sent.message_id,
        phone: sent.phone,
    }))
}

/// Body of the share action.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// Who receives the link.
    pub email: String,
}

/// `{ success, email }` (seed 001 action 2).
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareResponse {
    /// Where the link went.
    pub email: String,
}

/// Emails a link to the recording that works for 24 hours (through the organization's Resend).
#[utoipa::path(tag = "calls-dashboard", security(("bearer" = [])), params(("callId" = Uuid, Path)), request_body = ShareRequest,
    responses((status = 200, body = Success<ShareResponse>), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
#[post("/api/calls-dashboard/{callId}/share")]
async fn share(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    AuthUser(user): AuthUser,
    Origin(origin): Origin,
    id: web::Path<Uuid>,
    body: Json<ShareRequest>,
) -> Result<HttpResponse, ApiError> {
    let base_url = public_origin(&state, &req);
    state
        .messenger
        .share_recording(
            user.org_id,
            id.into_inner(),
            &body.email,
            &user.changed_by(origin),
            &base_url,
            Utc::now(),
        )
        .await?;
    Ok(reply::ok(ShareResponse {
        email: body.into_inner().email.trim().to_lowercase(),
    }))
}

/// Body of the export action.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// `txt` (the only format).
    #[serde(default = "txt")]
    pub format: String,
}

fn txt() -> String {
    "txt".into()
}

/// The transcript as a downloadable `.txt` file; the export is audited.
#[utoipa::path(tag = "calls-dashboard", security(("bearer" = [])), params(("callId" = Uuid, Path)), request_body = ExportRequest,
    responses((status = 200, content_type = "text/plain", body = String, description = "The file (Content-Disposition: attachment)"),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/calls-dashboard/{callId}/transcript/export")]
async fn export_transcript(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    Origin(origin): Origin,
    id: web::Path<Uuid>,
    body: Json<ExportRequest>,
) -> Result<HttpResponse, ApiError> {
    if body.format != "txt" {
        return Err(ApiError::validation("format must be txt"));
    }
    let file = state
        .messenger
        .export_transcript(
            user.org_id,
            id.into_inner(),
            &user.changed_by(origin),
            &format!("{}:{}", user.actor.kind(), user.actor_id()),
        )
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((
            "content-disposition",
            format!("attachment; filename=\"{}\"", file.filename),
        ))
        .body(file.content))
}

/// Opens a shared recording: 302 to the recording (every use counted); 410 `link_expired` after
/// 24 hours; 404 for an unknown link.
#[utoipa::path(tag = "calls-dashboard", params(("token" = String, Path, description = "The link's token")),
    responses((status = 302, description = "Redirect to the recording"), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
#[get("/share/recordings/{token}")]
async fn open_share(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let url = state.messenger.open_share(&token, Utc::now()).await?;
    Ok(HttpResponse::Found()
        .insert_header(("location", url))
        .insert_header(("cache-control", "no-store"))
        .insert_header(("referrer-policy", "no-referrer"))
        .finish())
}

/// Registers the routes (`stats` before `{callId}`).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(list_calls)
        .service(stats)
        .service(get_call)
        .service(followup)
        .service(share)
        .service(export_transcript)
        .service(open_share);
}
