//! Scheduling for the clinic (SPEC §4; seed 001 §3 "Calendar & Integration Engine", §9 "Atomic
//! Calendar Logic"; seed 003 §6 "Concurrency", §7 "Draft appointments"):
//!
//! - [`settings`]: time zone, business hours, closures, buffer, slot grid, approval mode;
//! - [`availability`]: the slots of a day in the clinic's zone (pure, DST-correct);
//! - [`Scheduler::book`]: **atomic booking**. PostgreSQL refuses overlapping live appointments
//!   of one organization, buffers included (exclusion constraint `appointments_no_overlap`), so
//!   no interleaving of concurrent requests can double-book; the loser gets
//!   [`SchedulingError::SlotTaken`] with the next free slots;
//! - reschedule, cancel, status changes, and [`calendar`]: Google busy times and the outbox that
//!   mirrors confirmed appointments to Google Calendar.

pub mod appointments;
pub mod availability;
pub mod calendar;
mod schema;
pub mod settings;

use backon::{ExponentialBuilder, Retryable};
use std::sync::Arc;

use crate::schema::appointments as appt;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use credentials::{CredentialService, Provider};
use db::{Db, DbError, OrgId, TenantTx};
use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

pub use appointments::{Appointment, AppointmentQuery};
pub use availability::Busy;
pub use calendar::GoogleCalendar;
pub use settings::{BusinessHours, Settings};

/// How many alternatives a refused booking offers.
pub const ALTERNATIVES: usize = 3;
/// How many days ahead alternatives are looked for.
pub const ALTERNATIVE_DAYS: i64 = 14;

/// Errors of scheduling.
#[derive(Debug, thiserror::Error)]
pub enum SchedulingError {
    /// Input breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// No such record in this organization.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The time is taken (by another appointment with its buffer, or a Google Calendar event);
    /// the next free starts are offered (UTC).
    #[error("that time is no longer available")]
    SlotTaken {
        /// Up to [`ALTERNATIVES`] free starts, soonest first.
        alternatives: Vec<DateTime<Utc>>,
    },
    /// The time is outside business hours, on a closure, or in the past.
    #[error("{0}")]
    Unavailable(String),
    /// A status change the lifecycle refuses.
    #[error("an appointment cannot move from {from} to {to}")]
    InvalidTransition {
        /// Current status.
        from: String,
        /// Requested status.
        to: String,
    },
    /// Google Calendar could not be asked.
    #[error("Google Calendar: {0}")]
    Calendar(String),
    /// A CRM failure (contact or service).
    #[error(transparent)]
    Crm(#[from] crm::CrmError),
    /// A vault failure.
    #[error(transparent)]
    Credential(#[from] credentials::CredentialError),
    /// A step the caller composed into the booking's transaction ([`Scheduler::book_with`])
    /// failed; the booking rolled back with it. The message is the step's error.
    #[error("a step of the booking transaction failed: {0}")]
    Step(String),
    /// A database failure.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A step composed into a booking's transaction ([`Scheduler::book_with`]): it runs after the
/// appointment is inserted and before the commit, so both commit or neither does. It may run
/// more than once (the transaction is retried after a lost deadlock race).
pub type BookingStep = dyn for<'c> Fn(&'c mut TenantTx, &'c Appointment) -> db::ConnFuture<'c, Result<(), SchedulingError>>
    + Send
    + Sync;

impl From<diesel::result::Error> for SchedulingError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}

/// Retries of a booking transaction that lost a deadlock or serialization race. Booking writes
/// of one organization are serialized ([`lock_bookings`]), so this is a safety net for races
/// the lock does not cover (a contact created by another path at the same moment): up to 10
/// retries after pauses of 2 ms doubling to 256 ms, each plus up to as much again of random
/// jitter (at most about 2 s in all), reach the definitive answer instead of a 500.
fn contention_retries() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(std::time::Duration::from_millis(2))
        .with_max_delay(std::time::Duration::from_millis(256))
        .with_max_times(10)
        .with_jitter()
}

/// Whether the transaction lost a race PostgreSQL resolves by aborting one side: a deadlock
/// (`40P01`; two inserts into an exclusion constraint can each wait for the other, which is
/// documented PostgreSQL behaviour) or a serialization failure. Retrying then gives the
/// definitive answer: the slot is free, or `appointments_no_overlap` refuses it.
fn is_contention(e: &SchedulingError) -> bool {
    match e {
        SchedulingError::Db(DbError::Query(diesel::result::Error::DatabaseError(kind, info))) => {
            matches!(
                kind,
                diesel::result::DatabaseErrorKind::SerializationFailure
            ) || info.message().contains("deadlock detected")
        }
        _ => false,
    }
}

/// Serializes the organization's booking writes for the rest of the transaction
/// (`pg_advisory_xact_lock` on a key derived from the organization). Concurrent inserts into the
/// `appointments_no_overlap` exclusion constraint can each wait for the other and deadlock;
/// PostgreSQL breaks every such cycle only after `deadlock_timeout` (1 s), so a storm of bookings
/// for one slot used to take minutes and could exhaust the retries. Under this lock conflicting
/// bookings of one organization queue for a few milliseconds instead; other organizations are
/// not affected (a hash collision only makes two organizations queue together). The exclusion
/// constraint stays the guarantee.
async fn lock_bookings(tx: &mut TenantTx) -> Result<(), SchedulingError> {
    let org = tx.org();
    diesel::sql_query(
        "SELECT pg_advisory_xact_lock(hashtextextended('appointments:' || $1::text, 0))",
    )
    .bind::<diesel::sql_types::Uuid, _>(org.0)
    .execute(tx)
    .await?;
    Ok(())
}

fn is_overlap(e: &SchedulingError) -> bool {
    matches!(
        e,
        SchedulingError::Db(DbError::Query(diesel::result::Error::DatabaseError(_, info)))
            if info.constraint_name() == Some("appointments_no_overlap")
    )
}

/// The slots of one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayAvailability {
    /// The local date.
    pub date: NaiveDate,
    /// The clinic's zone.
    pub time_zone: chrono_tz::Tz,
    /// Visit length used, minutes.
    pub duration_minutes: i32,
    /// Free starts (UTC), in order.
    pub slots: Vec<DateTime<Utc>>,
    /// Whether Google Calendar busy times were included (false when not connected or Google
    /// failed; the failure is logged).
    pub calendar_checked: bool,
}

/// A booking request. The phone may be typed in any common form.
#[derive(Debug, Clone, Default)]
pub struct BookingRequest {
    /// Who comes.
    pub customer_name: String,
    /// Their phone (normalised to E.164; links or creates the contact).
    pub customer_phone: String,
    /// Their email.
    pub customer_email: Option<String>,
    /// The service by id …
    pub service_id: Option<Uuid>,
    /// … or by name or keyword (case-insensitive), as a caller says it.
    pub service_name: Option<String>,
    /// Start (UTC).
    pub scheduled_time: DateTime<Utc>,
    /// Notes.
    pub notes: Option<String>,
    /// `dashboard` or `voice_agent`.
    pub source: &'static str,
}

/// Changes to an appointment other than its time (see [`Scheduler::reschedule`]).
#[derive(Debug, Clone, Default)]
pub struct AppointmentPatch {
    /// New status (lifecycle rules apply).
    pub status: Option<String>,
    /// New notes.
    pub notes: Option<String>,
    /// New customer name.
    pub customer_name: Option<String>,
    /// New customer email.
    pub customer_email: Option<String>,
}

/// The scheduling service: one per process, shared behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Scheduler {
    db: Db,
    credentials: Arc<CredentialService>,
    integrations: Arc<integrations::Integrations>,
    calendar: GoogleCalendar,
    jobs: jobs::Waker,
}

impl Scheduler {
    /// A scheduler reading Google Calendar (at the integrations' `google_calendar` endpoint,
    /// through their HTTP client) for organizations that connected it.
    #[must_use]
    pub fn new(
        db: Db,
        credentials: Arc<CredentialService>,
        integrations: Arc<integrations::Integrations>,
        jobs: jobs::Waker,
    ) -> Self {
        let calendar = GoogleCalendar::new(
            integrations.http().clone(),
            &integrations.endpoints().google_calendar,
        );
        Self {
            db,
            credentials,
            integrations,
            calendar,
            jobs,
        }
    }

    /// Registers the Google Calendar outbox job ([`calendar::sync_job`]) on `runner`.
    #[must_use]
    pub fn register_jobs(self: &Arc<Self>, runner: jobs::Runner) -> jobs::Runner {
        let this = Arc::clone(self);
        runner.register(calendar::JOB_KIND, calendar::RETRY, move |job| {
            let this = Arc::clone(&this);
            async move { calendar::sync_job(&this.db, &this.integrations, &this.calendar, job).await }
        })
    }

    /// Whether the organization connected Google Calendar (one vault read per operation).
    async fn google_connected(&self, org: OrgId) -> Result<bool, SchedulingError> {
        Ok(self
            .credentials
            .exists(org, Provider::GoogleCalendar)
            .await?)
    }

    /// Google busy times in `[from, to)`, `None` when not `connected`.
    async fn google_busy(
        &self,
        org: OrgId,
        connected: bool,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Option<Vec<Busy>>, SchedulingError> {
        if !connected {
            return Ok(None);
        }
        let token = self
            .integrations
            .google_access_token(org)
            .await
            .map_err(|e| SchedulingError::Calendar(e.to_string()))?;
        self.calendar.busy(&token.token, from, to).await.map(Some)
    }

    /// Google busy times, or none (logged) when Google cannot be asked: availability is still
    /// offered from the clinic's own appointments.
    async fn google_busy_lenient(
        &self,
        org: OrgId,
        connected: bool,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> (Vec<Busy>, bool) {
        match self.google_busy(org, connected, from, to).await {
            Ok(Some(busy)) => (busy, true),
            Ok(None) => (Vec::new(), false),
            Err(e) => {
                tracing::warn!(%org, error = %e, "Google busy times unavailable; offering slots from appointments only");
                (Vec::new(), false)
            }
        }
    }

    /// Resolves the visit length: the service's duration (by id, else by name or keyword), else
    /// 30 minutes. Returns `(service id, service name, minutes)`.
    async fn service_for(
        tx: &mut TenantTx,
        id: Option<Uuid>,
        name: Option<&str>,
    ) -> Result<(Option<Uuid>, Option<String>, i32), SchedulingError> {
        if let Some(id) = id {
            let s = crm::services::get(tx, id).await?;
            return Ok((Some(s.id), Some(s.name), s.duration_minutes));
        }
        if let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) {
            let all = crm::services::list(tx).await?;
            let wanted = name.to_lowercase();
            let found = all
                .iter()
                .find(|s| s.is_active && s.name.to_lowercase() == wanted)
                .or_else(|| {
                    crm::services::match_transcript(&all, name)
                        .into_iter()
                        .next()
                });
            return Ok(match found {
                Some(s) => (Some(s.id), Some(s.name.clone()), s.duration_minutes),
                None => (None, Some(name.to_owned()), 30),
            });
        }
        Ok((None, None, 30))
    }

    async fn appointment_busy(
        tx: &mut TenantTx,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Busy>, SchedulingError> {
        let org = tx.org();
        let rows: Vec<(DateTime<Utc>, DateTime<Utc>)> = appt::table
            .filter(appt::org_id.eq(org.0))
            .filter(appt::status.eq_any(["pending", "confirmed"]))
            .filter(appt::scheduled_time.lt(to))
            .filter(appt::blocked_until.gt(from))
            .select((appt::scheduled_time, appt::blocked_until))
            .load(tx)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(start, end)| Busy { start, end })
            .collect())
    }

    /// The free slots of `date` (`YYYY-MM-DD`, `today` or `tomorrow` in the clinic's zone) for a
    /// service (by id or name; 30 minutes without one).
    ///
    /// # Errors
    /// [`SchedulingError::Invalid`] for a bad date, [`SchedulingError::Crm`] for an unknown
    /// service id, [`SchedulingError::Db`].
    pub async fn availability(
        &self,
        org: OrgId,
        date: &str,
        service_id: Option<Uuid>,
        service_name: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<DayAvailability, SchedulingError> {
        let date = date.to_owned();
        let (settings, day, duration, own_busy) = self
            .db
            .tenant(org, async move |tx| {
                let settings = settings::get(tx).await?;
                let day = availability::resolve_date(&date, settings.time_zone, now)
                    .map_err(SchedulingError::Invalid)?;
                let (_, _, duration) =
                    Self::service_for(tx, service_id, service_name.as_deref()).await?;
                let (from, to) = availability::day_bounds(settings.time_zone, day);
                let busy = Self::appointment_busy(tx, from - Duration::days(1), to).await?;
                Ok::<_, SchedulingError>((settings, day, duration, busy))
            })
            .await?;
        let (from, to) = availability::day_bounds(settings.time_zone, day);
        let connected = self.google_connected(org).await?;
        let (mut busy, calendar_checked) = self.google_busy_lenient(org, connected, from, to).await;
        busy.extend(own_busy);
        Ok(DayAvailability {
            date: day,
            time_zone: settings.time_zone,
            duration_minutes: duration,
            slots: availability::day_slots(&settings, day, duration, &busy, now),
            calendar_checked,
        })
    }

    /// Up to [`ALTERNATIVES`] free starts at or after `after`, over the next
    /// [`ALTERNATIVE_DAYS`] days.
    async fn alternatives(
        &self,
        org: OrgId,
        settings: &Settings,
        google: bool,
        after: DateTime<Utc>,
        duration: i32,
        now: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, SchedulingError> {
        let first_day = after.with_timezone(&settings.time_zone).date_naive();
        let (from, _) = availability::day_bounds(settings.time_zone, first_day);
        let (_, to) = availability::day_bounds(
            settings.time_zone,
            first_day + Duration::days(ALTERNATIVE_DAYS),
        );
        let mut busy = self
            .db
            .tenant(org, async move |tx| {
                Self::appointment_busy(tx, from, to).await
            })
            .await?;
        busy.extend(self.google_busy_lenient(org, google, from, to).await.0);
        let mut found = Vec::new();
        for offset in 0..=ALTERNATIVE_DAYS {
            let day = first_day + Duration::days(offset);
            found.extend(
                availability::day_slots(settings, day, duration, &busy, now)
                    .into_iter()
                    .filter(|s| *s >= after),
            );
            if found.len() >= ALTERNATIVES {
                break;
            }
        }
        found.truncate(ALTERNATIVES);
        Ok(found)
    }

    /// Books atomically. The time must be in the future and inside business hours; Google
    /// busy times (when connected) are checked first; then one transaction links or creates the
    /// contact (status `booked`), inserts the appointment (`confirmed`, or `pending` when the
    /// organization requires approval) and queues its Google Calendar event, and PostgreSQL's
    /// exclusion constraint refuses it if any live appointment's time (buffer included)
    /// overlaps.
    ///
    /// # Errors
    /// [`SchedulingError::Invalid`], [`SchedulingError::Unavailable`],
    /// [`SchedulingError::SlotTaken`] (with alternatives), [`SchedulingError::Crm`],
    /// [`SchedulingError::Db`].
    pub async fn book(
        &self,
        org: OrgId,
        request: BookingRequest,
        now: DateTime<Utc>,
    ) -> Result<Appointment, SchedulingError> {
        self.book_with(
            org,
            request,
            now,
            Arc::new(|_, _| Box::pin(async { Ok(()) })),
        )
        .await
    }

    /// [`Scheduler::book`], with `step` run in the booking's own transaction after the
    /// appointment is inserted: the voice agent marks the call as booked there, so a booking
    /// never commits without its call mark, nor the mark without the booking.
    ///
    /// # Errors
    /// As [`Scheduler::book`], and [`SchedulingError::Step`] or the step's own error when the
    /// step fails (nothing was booked).
    pub async fn book_with(
        &self,
        org: OrgId,
        request: BookingRequest,
        now: DateTime<Utc>,
        step: Arc<BookingStep>,
    ) -> Result<Appointment, SchedulingError> {
        let plan = self.plan_booking(org, request, now).await?;
        let booked = (|| {
            let (plan, step) = (plan.clone(), Arc::clone(&step));
            self.db
                .tenant(org, async move |tx| insert_booking(tx, &plan, &*step).await)
        })
        .retry(contention_retries())
        .sleep(tokio::time::sleep)
        .when(is_contention)
        .await;
        if plan.google && booked.is_ok() {
            self.jobs.wake();
        }
        match booked {
            Err(e) if is_overlap(&e) => Err(self.slot_taken(org, &plan).await),
            other => other,
        }
    }

    /// Checks a booking request before its transaction: the name, the phone (E.164), a future
    /// start inside business hours, the service, and Google busy times when connected.
    async fn plan_booking(
        &self,
        org: OrgId,
        request: BookingRequest,
        now: DateTime<Utc>,
    ) -> Result<BookingPlan, SchedulingError> {
        let name = request.customer_name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(SchedulingError::Invalid(
                "customer name must be 1-200 characters".into(),
            ));
        }
        let phone = crm::normalize_phone(&request.customer_phone, crm::DEFAULT_COUNTRY_CODE)?;
        let start = request.scheduled_time;
        if start <= now {
            return Err(SchedulingError::Unavailable(
                "that time is in the past".into(),
            ));
        }
        let (settings, (service_id, service_name, duration)) = {
            let (id, name) = (request.service_id, request.service_name.clone());
            self.db
                .tenant(org, async move |tx| {
                    let settings = settings::get(tx).await?;
                    let service = Self::service_for(tx, id, name.as_deref()).await?;
                    Ok::<_, SchedulingError>((settings, service))
                })
                .await?
        };
        if !availability::within_hours(&settings, start, duration) {
            return Err(SchedulingError::Unavailable(
                "that time is outside the clinic's business hours".into(),
            ));
        }
        let ends_at = start + Duration::minutes(i64::from(duration));
        let plan = BookingPlan {
            google: self.google_connected(org).await?,
            status: if settings.require_approval {
                "pending"
            } else {
                "confirmed"
            },
            blocked_until: ends_at + Duration::minutes(i64::from(settings.buffer_minutes)),
            settings,
            name,
            phone,
            service_id,
            service_name,
            duration,
            start,
            ends_at,
            now,
            request,
        };
        if let Ok(Some(busy)) = self
            .google_busy(org, plan.google, start, plan.blocked_until)
            .await
            && busy
                .iter()
                .any(|b| start < b.end && b.start < plan.blocked_until)
        {
            return Err(self.slot_taken(org, &plan).await);
        }
        Ok(plan)
    }

    /// [`SchedulingError::SlotTaken`] with the next free starts after the plan's (or the
    /// error that kept them from being found).
    async fn slot_taken(&self, org: OrgId, plan: &BookingPlan) -> SchedulingError {
        let found = self
            .alternatives(
                org,
                &plan.settings,
                plan.google,
                plan.start,
                plan.duration,
                plan.now,
            )
            .await;
        match found {
            Ok(alternatives) => SchedulingError::SlotTaken { alternatives },
            Err(e) => e,
        }
    }

    /// Moves a live appointment to `new_start`, keeping its length (same checks as booking).
    ///
    /// # Errors
    /// As [`Scheduler::book`], plus [`SchedulingError::NotFound`] and
    /// [`SchedulingError::InvalidTransition`] for a cancelled or completed appointment.
    pub async fn reschedule(
        &self,
        org: OrgId,
        id: Uuid,
        new_start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Appointment, SchedulingError> {
        if new_start <= now {
            return Err(SchedulingError::Unavailable(
                "that time is in the past".into(),
            ));
        }
        let (settings, current) = self
            .db
            .tenant(org, async move |tx| {
                let settings = settings::get(tx).await?;
                let current = appointments::get(tx, id, false).await?;
                Ok::<_, SchedulingError>((settings, current))
            })
            .await?;
        if !matches!(current.status.as_str(), "pending" | "confirmed") {
            return Err(SchedulingError::InvalidTransition {
                from: current.status,
                to: "rescheduled".into(),
            });
        }
        let duration = i32::try_from(current.duration_minutes()).unwrap_or(30);
        if !availability::within_hours(&settings, new_start, duration) {
            return Err(SchedulingError::Unavailable(
                "that time is outside the clinic's business hours".into(),
            ));
        }
        let ends_at = new_start + Duration::minutes(i64::from(duration));
        let blocked_until = ends_at + Duration::minutes(i64::from(settings.buffer_minutes));
        let google = self.google_connected(org).await?;
        let moved = (|| {
            self.db.tenant(org, async move |tx| {
                let times = (new_start, ends_at, blocked_until);
                move_appointment(tx, id, times, google).await
            })
        })
        .retry(contention_retries())
        .sleep(tokio::time::sleep)
        .when(is_contention)
        .await;
        if google && moved.is_ok() {
            self.jobs.wake();
        }
        match moved {
            Err(e) if is_overlap(&e) => Err(SchedulingError::SlotTaken {
                alternatives: self
                    .alternatives(org, &settings, google, new_start, duration, now)
                    .await?,
            }),
            other => other,
        }
    }

    /// Changes status, notes or customer details. Confirming queues the Google event;
    /// cancelling frees the time and queues the event's removal.
    ///
    /// # Errors
    /// [`SchedulingError::NotFound`], [`SchedulingError::Invalid`],
    /// [`SchedulingError::InvalidTransition`], [`SchedulingError::Db`].
    pub async fn update(
        &self,
        org: OrgId,
        id: Uuid,
        patch: AppointmentPatch,
    ) -> Result<Appointment, SchedulingError> {
        if let Some(name) = &patch.customer_name
            && (name.trim().is_empty() || name.chars().count() > 200)
        {
            return Err(SchedulingError::Invalid(
                "customer name must be 1-200 characters".into(),
            ));
        }
        let google = self.google_connected(org).await?;
        let updated = self
            .db
            .tenant(org, async move |tx| {
                let current = appointments::get(tx, id, true).await?;
                let status = patch.status.clone().unwrap_or(current.status.clone());
                appointments::check_transition(&current.status, &status)?;
                let updated: Appointment = diesel::update(
                    appt::table
                        .filter(db::same_tenant(appt::org_id, org.0))
                        .filter(appt::id.eq(id)),
                )
                .set((
                    appt::status.eq(&status),
                    appt::notes.eq(patch.notes.or(current.notes)),
                    appt::customer_name.eq(patch
                        .customer_name
                        .map_or(current.customer_name, |n| n.trim().to_owned())),
                    appt::customer_email.eq(patch.customer_email.or(current.customer_email)),
                ))
                .returning(Appointment::as_returning())
                .get_result(tx)
                .await?;
                if google && status != current.status {
                    match status.as_str() {
                        "confirmed" => calendar::enqueue(tx, id, "upsert").await?,
                        "cancelled" if current.status == "confirmed" => {
                            calendar::enqueue(tx, id, "delete").await?;
                        }
                        _ => {}
                    }
                }
                if status == "cancelled" && current.status != "cancelled" {
                    let event = "appointment.cancelled";
                    appointments::emit(tx, event, &updated, None).await?;
                }
                Ok(updated)
            })
            .await;
        if google && updated.is_ok() {
            self.jobs.wake();
        }
        updated
    }

    /// Cancels (frees the time).
    ///
    /// # Errors
    /// As [`Scheduler::update`].
    pub async fn cancel(&self, org: OrgId, id: Uuid) -> Result<Appointment, SchedulingError> {
        self.update(
            org,
            id,
            AppointmentPatch {
                status: Some("cancelled".into()),
                ..AppointmentPatch::default()
            },
        )
        .await
    }
}

/// A checked booking, ready for its transaction.
#[derive(Debug, Clone)]
struct BookingPlan {
    request: BookingRequest,
    settings: settings::Settings,
    /// Trimmed customer name.
    name: String,
    /// E.164.
    phone: String,
    service_id: Option<Uuid>,
    service_name: Option<String>,
    /// Minutes.
    duration: i32,
    start: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    /// `ends_at` plus the clinic's buffer.
    blocked_until: DateTime<Utc>,
    /// `confirmed`, or `pending` when the clinic approves bookings.
    status: &'static str,
    /// Whether Google Calendar is connected (the booking then queues its event).
    google: bool,
    now: DateTime<Utc>,
}

/// The booking's transaction: under the organization's booking lock, links or creates the
/// contact (status `booked`), inserts the appointment (the exclusion constraint refuses an
/// overlap), queues its Google Calendar event, then runs `step`.
async fn insert_booking(
    tx: &mut TenantTx,
    plan: &BookingPlan,
    step: &BookingStep,
) -> Result<Appointment, SchedulingError> {
    let org = tx.org();
    lock_bookings(tx).await?;
    let request = &plan.request;
    let email = request.customer_email.as_deref();
    let contact = crm::contacts::find_or_create(tx, &plan.name, &plan.phone, email).await?;
    let appointment: Appointment = diesel::insert_into(appt::table)
        .values((
            appt::id.eq(Uuid::new_v4()),
            appt::org_id.eq(org.0),
            appt::contact_id.eq(contact.id),
            appt::service_id.eq(plan.service_id),
            appt::service_name.eq(&plan.service_name),
            appt::customer_name.eq(&plan.name),
            appt::customer_phone.eq(&plan.phone),
            appt::customer_email.eq(email),
            appt::notes.eq(&request.notes),
            appt::scheduled_time.eq(plan.start),
            appt::ends_at.eq(plan.ends_at),
            appt::blocked_until.eq(plan.blocked_until),
            appt::status.eq(plan.status),
            appt::source.eq(request.source),
        ))
        .returning(Appointment::as_returning())
        .get_result(tx)
        .await?;
    crm::contacts::mark_booked(tx, &contact, plan.now).await?;
    if plan.google && plan.status == "confirmed" {
        calendar::enqueue(tx, appointment.id, "upsert").await?;
    }
    step(tx, &appointment).await?;
    appointments::emit(tx, "appointment.booked", &appointment, None).await?;
    Ok(appointment)
}

/// Moves live appointment `id` to `times` (start, end, end of its buffer) under the booking
/// lock, in the caller's transaction: queues the Google event's update when it is confirmed and
/// `google` is connected, and emits `appointment.rescheduled` with the previous time.
async fn move_appointment(
    tx: &mut TenantTx,
    id: Uuid,
    times: (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>),
    google: bool,
) -> Result<Appointment, SchedulingError> {
    let org = tx.org();
    let (new_start, ends_at, blocked_until) = times;
    lock_bookings(tx).await?;
    let locked = appointments::get(tx, id, true).await?;
    if !matches!(locked.status.as_str(), "pending" | "confirmed") {
        return Err(SchedulingError::InvalidTransition {
            from: locked.status,
            to: "rescheduled".into(),
        });
    }
    let updated: Appointment = diesel::update(
        appt::table
            .filter(db::same_tenant(appt::org_id, org.0))
            .filter(appt::id.eq(id)),
    )
    .set((
        appt::scheduled_time.eq(new_start),
        appt::ends_at.eq(ends_at),
        appt::blocked_until.eq(blocked_until),
        appt::confirmation_sent.eq(false),
    ))
    .returning(Appointment::as_returning())
    .get_result(tx)
    .await?;
    if google && updated.status == "confirmed" {
        calendar::enqueue(tx, id, "upsert").await?;
    }
    let previous = Some(locked.scheduled_time);
    appointments::emit(tx, "appointment.rescheduled", &updated, previous).await?;
    Ok(updated)
}
