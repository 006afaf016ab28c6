//! Scheduling: settings, availability and appointments (seed 001 §3, §16; seed 003 §5.5:
//! appointments answer `scheduled_time`, and `scheduled_at` for existing clients, with the
//! contact flattened into `contact_name` / `contact_phone`), plus the reminder action
//! (`POST /api/appointments/{id}/send-reminder`).

use actix_web::{HttpResponse, get, patch, post, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use scheduling::{
    Appointment, AppointmentPatch, AppointmentQuery, BookingRequest, BusinessHours, Settings,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{AuthUser, ManagerUser, Origin, RoleAtLeast};
use crate::error::{ApiError, ErrorBody};
use crate::input::Json;
use crate::reply::{self, Success};
use crate::routes::{Pagination, iso, page};
use crate::state::AppState;

/// One opening window.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HoursBody {
    /// ISO weekday, Monday = 1 … Sunday = 7.
    pub weekday: u8,
    /// `HH:MM`, local.
    pub opens: String,
    /// `HH:MM`, local.
    pub closes: String,
}

/// The scheduling settings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SchedulingSettingsBody {
    /// IANA zone, for example `America/New_York`.
    pub time_zone: String,
    /// Opening windows.
    pub business_hours: Vec<HoursBody>,
    /// Closed dates, `YYYY-MM-DD` (local).
    #[serde(default)]
    pub closures: Vec<String>,
    /// Minutes kept free after each visit, 0–240.
    #[serde(default)]
    pub buffer_minutes: i32,
    /// Minutes between offered starts, 5–240 (default 30).
    #[serde(default = "default_step")]
    pub slot_step_minutes: i32,
    /// Bookings wait for approval (`pending`) instead of being confirmed.
    #[serde(default)]
    pub require_approval: bool,
}

fn default_step() -> i32 {
    30
}

impl From<Settings> for SchedulingSettingsBody {
    fn from(s: Settings) -> Self {
        Self {
            time_zone: s.time_zone.name().to_owned(),
            business_hours: s
                .business_hours
                .iter()
                .map(|w| HoursBody {
                    weekday: w.weekday,
                    opens: w.opens.format("%H:%M").to_string(),
                    closes: w.closes.format("%H:%M").to_string(),
                })
                .collect(),
            closures: s.closures.iter().map(ToString::to_string).collect(),
            buffer_minutes: s.buffer_minutes,
            slot_step_minutes: s.slot_step_minutes,
            require_approval: s.require_approval,
        }
    }
}

impl TryFrom<SchedulingSettingsBody> for Settings {
    type Error = ApiError;

    fn try_from(b: SchedulingSettingsBody) -> Result<Self, ApiError> {
        let time = |t: &str| {
            chrono::NaiveTime::parse_from_str(t, "%H:%M")
                .map_err(|_| ApiError::validation(format!("{t:?} is not HH:MM")))
        };
        Ok(Self {
            time_zone: scheduling::settings::parse_time_zone(&b.time_zone)?,
            business_hours: b
                .business_hours
                .iter()
                .map(|w| {
                    Ok(BusinessHours {
                        weekday: w.weekday,
                        opens: time(&w.opens)?,
                        closes: time(&w.closes)?,
                    })
                })
                .collect::<Result<_, ApiError>>()?,
            closures: b
                .closures
                .iter()
                .map(|d| {
                    NaiveDate::parse_from_str(d, "%Y-%m-%d")
                        .map_err(|_| ApiError::validation(format!("{d:?} is not YYYY-MM-DD")))
                })
                .collect::<Result<_, ApiError>>()?,
            buffer_minutes: b.buffer_minutes,
            slot_step_minutes: b.slot_step_minutes,
            require_approval: b.require_approval,
        })
    }
}

/// `{ "success": true, "settings": … }`
#[derive(Debug, Serialize, ToSchema)]
pub struct SchedulingSettingsResponse {
    /// The settings.
    pub settings: SchedulingSettingsBody,
}

/// The organization's scheduling settings (defaults when never set).
#[utoipa::path(tag = "scheduling", operation_id = "get_scheduling_settings", security(("bearer" = [])), responses((status = 200, body = Success<SchedulingSettingsResponse>)))]
#[get("/api/scheduling/settings")]
async fn get_settings(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
) -> Result<HttpResponse, ApiError> {
    let settings = state
        .db
        .tenant(user.org_id, async |tx| scheduling::settings::get(tx).await)
        .await?;
    Ok(reply::ok(SchedulingSettingsResponse {
        settings: settings.into(),
    }))
}

/// Replaces the scheduling settings (managers and admins).
#[utoipa::path(tag = "scheduling", operation_id = "put_scheduling_settings", security(("bearer" = [])), request_body = SchedulingSettingsBody,
    responses((status = 200, body = Success<SchedulingSettingsResponse>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/api/scheduling/settings")]
async fn put_settings(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
    body: Json<SchedulingSettingsBody>,
) -> Result<HttpResponse, ApiError> {
    let settings = Settings::try_from(body.into_inner())?;
    let stored = state
        .db
        .tenant(user.org_id, async |tx| {
            scheduling::settings::replace(tx, &settings).await
        })
        .await?;
    Ok(reply::ok(SchedulingSettingsResponse {
        settings: stored.into(),
    }))
}

/// Query of `GET /api/availability`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AvailabilityQuery {
    /// `YYYY-MM-DD`, `today` or `tomorrow` (in the clinic's zone).
    pub date: String,
    /// Service id (its duration is used).
    pub service_id: Option<Uuid>,
    /// Or a service name or keyword.
    pub service: Option<String>,
}

/// One day's free slots.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityResponse {
    /// The local date, `YYYY-MM-DD`.
    pub date: String,
    /// The clinic's zone.
    pub time_zone: String,
    /// Visit length used, minutes.
    pub duration_minutes: i32,
    /// Free starts, RFC 3339 UTC.
    pub slots: Vec<String>,
    /// The same starts in local time, `HH:MM`.
    pub local_times: Vec<String>,
    /// Whether Google Calendar busy times were included.
    pub calendar_checked: bool,
}

/// The free slots of a day.
#[utoipa::path(tag = "scheduling", security(("bearer" = [])), params(AvailabilityQuery),
    responses((status = 200, body = Success<AvailabilityResponse>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/api/availability")]
async fn availability(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    query: web::Query<AvailabilityQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let day = state
        .scheduler
        .availability(user.org_id, &q.date, q.service_id, q.service, Utc::now())
        .await?;
    Ok(reply::ok(AvailabilityResponse {
        date: day.date.to_string(),
        time_zone: day.time_zone.name().to_owned(),
        duration_minutes: day.duration_minutes,
        local_times: day
            .slots
            .iter()
            .map(|s| s.with_timezone(&day.time_zone).format("%H:%M").to_string())
            .collect(),
        slots: day.slots.into_iter().map(iso).collect(),
        calendar_checked: day.calendar_checked,
    }))
}

/// An appointment as the API shows it: the stored appointment (seed field names), its start
/// again under the former name `scheduled_at`, and its length.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentBody {
    /// The appointment as stored.
    #[serde(flatten)]
    pub appointment: Appointment,
    /// Start (the former name of `scheduled_time`, same value), RFC 3339 UTC.
    pub scheduled_at: String,
    /// Minutes.
    pub duration_minutes: i64,
}

impl From<Appointment> for AppointmentBody {
    fn from(appointment: Appointment) -> Self {
        Self {
            scheduled_at: iso(appointment.scheduled_time),
            duration_minutes: appointment.duration_minutes(),
            appointment,
        }
    }
}

/// `{ "success": true, "appointment": … }`
#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentResponse {
    /// The appointment.
    pub appointment: AppointmentBody,
}

/// `{ "success": true, "appointments": [...], "pagination": … }`
#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentList {
    /// By start time.
    pub appointments: Vec<AppointmentBody>,
    /// Page.
    pub pagination: Pagination,
}

/// Body of `POST /api/appointments`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookRequest {
    /// Customer name.
    #[serde(alias = "contact_name")]
    pub customer_name: String,
    /// Customer phone (any common form).
    #[serde(alias = "contact_phone")]
    pub customer_phone: String,
    /// Customer email.
    #[serde(default, alias = "contact_email")]
    pub customer_email: Option<String>,
    /// Service id …
    #[serde(default)]
    pub service_id: Option<Uuid>,
    /// … or name.
    #[serde(default, alias = "service_type")]
    pub service: Option<String>,
    /// Start, RFC 3339 (seed field).
    #[serde(alias = "scheduled_at")]
    pub scheduled_time: DateTime<Utc>,
    /// Notes.
    #[serde(default)]
    pub notes: Option<String>,
}

/// Query of the appointment list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AppointmentListQuery {
    /// Starting at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Starting before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Status.
    pub status: Option<String>,
    /// Contact.
    pub contact_id: Option<Uuid>,
    /// 1–500, default 50.
    pub limit: Option<i64>,
    /// Default 0.
    pub offset: Option<i64>,
}

/// Lists appointments.
#[utoipa::path(tag = "scheduling", security(("bearer" = [])), params(AppointmentListQuery),
    responses((status = 200, body = Success<AppointmentList>), (status = 400, body = ErrorBody)))]
#[get("/api/appointments")]
async fn list_appointments(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    query: web::Query<AppointmentListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let (limit, offset) = page(q.limit, q.offset, 50)?;
    let query = AppointmentQuery {
        from: q.from,
        to: q.to,
        status: q.status,
        contact_id: q.contact_id,
    };
    let (rows, total) = state
        .db
        .tenant(user.org_id, async |tx| {
            scheduling::appointments::list(tx, &query, db::Page { limit, offset }).await
        })
        .await?;
    Ok(reply::ok(AppointmentList {
        appointments: rows.into_iter().map(Into::into).collect(),
        pagination: Pagination::new(limit, offset, total),
    }))
}

/// Books an appointment atomically: 409 `slot_taken` with `alternatives` when the time (with
/// the clinic's buffer) is taken; 422 `slot_unavailable` outside hours or in the past.
#[utoipa::path(tag = "scheduling", security(("bearer" = [])), request_body = BookRequest,
    responses((status = 201, body = Success<AppointmentResponse>), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/appointments")]
async fn book(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    body: Json<BookRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let appointment = state
        .scheduler
        .book(
            user.org_id,
            BookingRequest {
                customer_name: b.customer_name,
                customer_phone: b.customer_phone,
                customer_email: b.customer_email,
                service_id: b.service_id,
                service_name: b.service,
                scheduled_time: b.scheduled_time,
                notes: b.notes,
                source: "dashboard",
            },
            Utc::now(),
        )
        .await?;
    Ok(reply::created(AppointmentResponse {
        appointment: appointment.into(),
    }))
}

/// One appointment.
#[utoipa::path(tag = "scheduling", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Success<AppointmentResponse>), (status = 404, body = ErrorBody)))]
#[get("/api/appointments/{id}")]
async fn get_appointment(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let appointment = state
        .db
        .tenant(user.org_id, async |tx| {
            scheduling::appointments::get(tx, id.into_inner(), false).await
        })
        .await?;
    Ok(reply::ok(AppointmentResponse {
        appointment: appointment.into(),
    }))
}

/// Body of `PATCH /api/appointments/{id}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppointmentPatchRequest {
    /// New status (`pending → confirmed | cancelled`, `confirmed → completed | cancelled`).
    pub status: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// Customer name.
    #[serde(alias = "contact_name")]
    pub customer_name: Option<String>,
    /// Customer email.
    #[serde(alias = "contact_email")]
    pub customer_email: Option<String>,
    /// New start (a reschedule, checked like a booking).
    #[serde(alias = "scheduled_at")]
    pub scheduled_time: Option<DateTime<Utc>>,
}

/// Changes an appointment: status, details, or its time (a reschedule).
#[utoipa::path(tag = "scheduling", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = AppointmentPatchRequest,
    responses((status = 200, body = Success<AppointmentResponse>), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[patch("/api/appointments/{id}")]
async fn update_appointment(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    id: web::Path<Uuid>,
    body: Json<AppointmentPatchRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, b) = (id.into_inner(), body.into_inner());
    if let Some(at) = b.scheduled_time {
        state
            .scheduler
            .reschedule(user.org_id, id, at, Utc::now())
            .await?;
    }
    let appointment = state
        .scheduler
        .update(
            user.org_id,
            id,
            AppointmentPatch {
                status: b.status,
                notes: b.notes,
                customer_name: b.customer_name,
                customer_email: b.customer_email,
            },
        )
        .await?;
    Ok(reply::ok(AppointmentResponse {
        appointment: appointment.into(),
    }))
}

/// Body of `POST /api/appointments/{id}/reschedule`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleRequest {
    /// New start, RFC 3339.
    #[serde(alias = "scheduled_at")]
    pub scheduled_time: DateTime<Utc>,
}

/// Moves an appointment (409 `slot_taken` with alternatives).
#[utoipa::path(tag = "scheduling", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = RescheduleRequest,
    responses((status = 200, body = Success<AppointmentResponse>), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/appointments/{id}/reschedule")]
async fn reschedule(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    id: web::Path<Uuid>,
    body: Json<RescheduleRequest>,
) -> Result<HttpResponse, ApiError> {
    let appointment = state
        .scheduler
        .reschedule(
            user.org_id,
            id.into_inner(),
            body.scheduled_time,
            Utc::now(),
        )
        .await?;
    Ok(reply::ok(AppointmentResponse {
        appointment: appointment.into(),
    }))
}

/// Cancels an appointment (frees its time).
#[utoipa::path(tag = "scheduling", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Success<AppointmentResponse>), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/api/appointments/{id}/cancel")]
async fn cancel(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let appointment = state.scheduler.cancel(user.org_id, id.into_inner()).await?;
    Ok(reply::ok(AppointmentResponse {
        appointment: appointment.into(),
    }))
}

/// Body of the reminder action.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReminderRequest {
    /// `sms` or `email`.
    pub method: String,
}

/// `{ success, recipient, method }` (seed 001 action 4).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReminderResponse {
    /// Phone (E.164) or email it went to.
    pub recipient: String,
    /// `sms` or `email`.
    pub method: String,
}

/// Sends an appointment reminder by SMS (the org's Twilio) or email (the org's Resend) and sets
/// `confirmation_sent`.
#[utoipa::path(tag = "scheduling", security(("bearer" = [])), params(("appointmentId" = Uuid, Path)), request_body = ReminderRequest,
    responses((status = 200, body = Success<ReminderResponse>), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`not_connected`"),
        (status = 422, body = ErrorBody), (status = 502, body = ErrorBody, description = "`provider_failed`: generic; details logged")))]
#[post("/api/appointments/{appointmentId}/send-reminder")]
async fn send_reminder(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    Origin(origin): Origin,
    id: web::Path<Uuid>,
    body: Json<ReminderRequest>,
) -> Result<HttpResponse, ApiError> {
    let recipient = state
        .messenger
        .send_reminder(
            user.org_id,
            id.into_inner(),
            &body.method,
            &user.changed_by(origin),
        )
        .await?;
    Ok(reply::ok(ReminderResponse {
        recipient,
        method: body.into_inner().method,
    }))
}

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(get_settings)
        .service(put_settings)
        .service(availability)
        .service(list_appointments)
        .service(book)
        .service(get_appointment)
        .service(update_appointment)
        .service(reschedule)
        .service(cancel)
        .service(send_reminder);
}
