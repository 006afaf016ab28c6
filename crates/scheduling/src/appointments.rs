//! Appointments as stored, and the status rules:
//! `pending → confirmed | cancelled`, `confirmed → completed | cancelled`; `cancelled` and
//! `completed` are final. Only `pending` and `confirmed` appointments hold their time (the
//! exclusion constraint `appointments_no_overlap`).

use crate::schema::appointments;
use chrono::{DateTime, Utc};
use db::{Page, TenantTx};
use diesel::{
    ExpressionMethods, OptionalExtension, QueryDsl, Queryable, Selectable, SelectableHelper,
};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::SchedulingError;

/// Statuses.
pub const STATUSES: [&str; 4] = ["pending", "confirmed", "cancelled", "completed"];

/// An appointment.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = appointments, check_for_backend(diesel::pg::Pg))]
#[schema(as = AppointmentRecord)]
pub struct Appointment {
    /// Id.
    pub id: Uuid,
    /// The organization.
    #[serde(skip)]
    pub org_id: Uuid,
    /// The lead.
    pub contact_id: Option<Uuid>,
    /// The service.
    pub service_id: Option<Uuid>,
    /// The service's name when booked.
    #[serde(rename = "service_type")]
    pub service_name: Option<String>,
    /// Who comes.
    #[serde(rename = "contact_name")]
    pub customer_name: String,
    /// Their phone, E.164.
    #[serde(rename = "contact_phone")]
    pub customer_phone: Option<String>,
    /// Their email.
    #[serde(rename = "contact_email")]
    pub customer_email: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// Start, RFC 3339 UTC (`scheduled_time`; the API also answers it as `scheduled_at`, its
    /// former name).
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub scheduled_time: DateTime<Utc>,
    /// End of the visit, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub ends_at: DateTime<Utc>,
    /// End of the visit plus the buffer (UTC).
    #[serde(skip)]
    pub blocked_until: DateTime<Utc>,
    /// `pending`, `confirmed`, `cancelled` or `completed`.
    pub status: String,
    /// Whether a reminder or confirmation went out.
    pub confirmation_sent: bool,
    /// `dashboard` or `voice_agent`.
    pub source: String,
    /// The Google event mirroring it, once synced.
    #[serde(skip)]
    pub google_event_id: Option<String>,
    /// Created, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// Last changed, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

impl Appointment {
    /// Length of the visit in minutes.
    #[must_use]
    pub fn duration_minutes(&self) -> i64 {
        (self.ends_at - self.scheduled_time).num_minutes()
    }
}

/// Whether `from → to` is allowed.
///
/// # Errors
/// [`SchedulingError::Invalid`] for an unknown status, [`SchedulingError::InvalidTransition`].
pub fn check_transition(from: &str, to: &str) -> Result<(), SchedulingError> {
    if !STATUSES.contains(&to) {
        return Err(SchedulingError::Invalid(format!(
            "status must be one of {}",
            STATUSES.join(", ")
        )));
    }
    let allowed = from == to
        || matches!(
            (from, to),
            ("pending", "confirmed" | "cancelled") | ("confirmed", "completed" | "cancelled")
        );
    if allowed {
        Ok(())
    } else {
        Err(SchedulingError::InvalidTransition {
            from: from.to_owned(),
            to: to.to_owned(),
        })
    }
}

/// One appointment, optionally locked for update.
///
/// # Errors
/// [`SchedulingError::NotFound`], [`SchedulingError::Db`].
pub async fn get(tx: &mut TenantTx, id: Uuid, lock: bool) -> Result<Appointment, SchedulingError> {
    let org = tx.org();
    let q = appointments::table
        .filter(db::same_tenant(appointments::org_id, org.0))
        .filter(appointments::id.eq(id))
        .select(Appointment::as_select());
    let found = if lock {
        q.for_update().first(tx).await.optional()?
    } else {
        q.first(tx).await.optional()?
    };
    found.ok_or(SchedulingError::NotFound("appointment"))
}

/// Filters of the list.
#[derive(Debug, Clone, Default)]
pub struct AppointmentQuery {
    /// Starting at or after (UTC).
    pub from: Option<DateTime<Utc>>,
    /// Starting before (UTC).
    pub to: Option<DateTime<Utc>>,
    /// Only this status.
    pub status: Option<String>,
    /// Only this contact's.
    pub contact_id: Option<Uuid>,
}

/// A page of appointments by start time, and the total matching.
///
/// # Errors
/// [`SchedulingError::Invalid`] for a status not in [`STATUSES`], [`SchedulingError::Db`].
pub async fn list(
    tx: &mut TenantTx,
    query: &AppointmentQuery,
    page: Page,
) -> Result<(Vec<Appointment>, i64), SchedulingError> {
    if let Some(s) = &query.status
        && !STATUSES.contains(&s.as_str())
    {
        let known = STATUSES.join(", ");
        return Err(SchedulingError::Invalid(format!(
            "status must be one of {known}"
        )));
    }
    let org = tx.org();
    let filtered = || {
        let mut q = appointments::table
            .filter(appointments::org_id.eq(org.0))
            .into_boxed();
        if let Some(from) = query.from {
            q = q.filter(appointments::scheduled_time.ge(from));
        }
        if let Some(to) = query.to {
            q = q.filter(appointments::scheduled_time.lt(to));
        }
        if let Some(status) = &query.status {
            q = q.filter(appointments::status.eq(status.clone()));
        }
        if let Some(contact) = query.contact_id {
            q = q.filter(appointments::contact_id.eq(contact));
        }
        q
    };
    let total: i64 = filtered().count().get_result(tx).await?;
    let rows = filtered()
        .order((appointments::scheduled_time.asc(), appointments::id.asc()))
        .limit(page.limit)
        .offset(page.offset)
        .select(Appointment::as_select())
        .load(tx)
        .await?;
    Ok((rows, total))
}

/// Marks that a confirmation or reminder went out.
///
/// # Errors
/// [`SchedulingError::Db`].
pub async fn mark_confirmation_sent(tx: &mut TenantTx, id: Uuid) -> Result<(), SchedulingError> {
    let org = tx.org();
    diesel::update(
        appointments::table
            .filter(db::same_tenant(appointments::org_id, org.0))
            .filter(appointments::id.eq(id)),
    )
    .set(appointments::confirmation_sent.eq(true))
    .execute(tx)
    .await?;
    Ok(())
}

/// When the voice agent booked appointments for any of `contacts` between `from` and `to`
/// (UTC, inclusive), as `(contact, created_at)` pairs in one statement: how the reports of a
/// batch of post-call analyses learn their calls ended in a booking (each looks for its own
/// contact and window).
///
/// # Errors
/// [`SchedulingError::Db`].
pub async fn agent_bookings_between(
    tx: &mut TenantTx,
    contacts: &[Uuid],
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<(Uuid, DateTime<Utc>)>, SchedulingError> {
    if contacts.is_empty() {
        return Ok(Vec::new());
    }
    let org = tx.org();
    let found: Vec<(Option<Uuid>, DateTime<Utc>)> = appointments::table
        .filter(appointments::org_id.eq(org.0))
        .filter(appointments::contact_id.eq_any(contacts))
        .filter(appointments::source.eq("voice_agent"))
        .filter(appointments::created_at.between(from, to))
        .select((appointments::contact_id, appointments::created_at))
        .load(tx)
        .await?;
    Ok(found
        .into_iter()
        .filter_map(|(contact, at)| Some((contact?, at)))
        .collect())
}

/// What a caller said about an appointment they want to change: their E.164 phone, and the
/// appointment's id, day (`[from, to)` UTC) or start when they gave one.
#[derive(Debug, Clone)]
pub struct CallerAppointment {
    /// The phone it was booked under, E.164.
    pub phone: String,
    /// The appointment's id.
    pub id: Option<Uuid>,
    /// The local day it is on, as UTC bounds.
    pub day: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Its start.
    pub at: Option<DateTime<Utc>>,
}

/// Up to three `pending` or `confirmed` appointments matching what the caller said, by start.
///
/// # Errors
/// [`SchedulingError::Db`].
pub async fn open_for_caller(
    tx: &mut TenantTx,
    said: &CallerAppointment,
) -> Result<Vec<Appointment>, SchedulingError> {
    let org = tx.org();
    let mut q = appointments::table
        .filter(appointments::org_id.eq(org.0))
        .filter(appointments::customer_phone.eq(said.phone.clone()))
        .filter(appointments::status.eq_any(["pending", "confirmed"]))
        .into_boxed();
    if let Some(id) = said.id {
        q = q.filter(appointments::id.eq(id));
    }
    if let Some((from, to)) = said.day {
        q = q
            .filter(appointments::scheduled_time.ge(from))
            .filter(appointments::scheduled_time.lt(to));
    }
    if let Some(at) = said.at {
        q = q.filter(appointments::scheduled_time.eq(at));
    }
    Ok(q.order(appointments::scheduled_time)
        .limit(3)
        .select(Appointment::as_select())
        .load(tx)
        .await?)
}

/// Writes the outbound webhook event `event_type` (`appointment.booked`, `.rescheduled`,
/// `.cancelled`; issue 23 §2) about `a` in the caller's transaction; `previous_start` is the
/// start before a reschedule. Times are RFC 3339 UTC.
///
/// # Errors
/// [`SchedulingError::Db`].
pub(crate) async fn emit(
    tx: &mut TenantTx,
    event_type: &'static str,
    a: &Appointment,
    previous_start: Option<DateTime<Utc>>,
) -> Result<(), SchedulingError> {
    let mut data = serde_json::json!({
        "appointment_id": a.id,
        "contact_id": a.contact_id,
        "service_id": a.service_id,
        "service": a.service_name,
        "customer_name": a.customer_name,
        "customer_phone": a.customer_phone,
        "starts_at": iso(a.scheduled_time),
        "ends_at": iso(a.ends_at),
        "status": a.status,
        "source": a.source,
    });
    if let Some(previous) = previous_start {
        data["previous_starts_at"] = serde_json::json!(iso(previous));
    }
    webhooks::emit(tx, event_type, data).await?;
    Ok(())
}

/// RFC 3339 UTC with milliseconds, as every event carries times.
fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_lifecycle() {
        for (from, to) in [
            ("pending", "confirmed"),
            ("pending", "cancelled"),
            ("confirmed", "completed"),
            ("confirmed", "cancelled"),
            ("confirmed", "confirmed"),
        ] {
            assert!(check_transition(from, to).is_ok(), "{from} -> {to}");
        }
        for (from, to) in [
            ("cancelled", "confirmed"),
            ("completed", "pending"),
            ("pending", "completed"),
            ("confirmed", "pending"),
        ] {
            assert!(check_transition(from, to).is_err(), "{from} -> {to}");
        }
    }
}
