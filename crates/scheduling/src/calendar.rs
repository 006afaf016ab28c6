//! Google Calendar for scheduling (Calendar API v3, `primary` calendar of the connected
//! account): busy times through `freeBusy`, and the outbox that mirrors confirmed appointments
//! as events.
//!
//! The outbox is a `calendar.sync` job of the platform's job runner, written in the
//! appointment's own transaction ([`enqueue`]) and ordered per appointment. Its handler
//! ([`sync_job`]) works in the job's organization: `upsert` puts the event (`PUT events/{id}`, or
//! `POST events` with that id when Google has none), `delete` removes it (a missing event counts
//! as removed). The event id is the appointment id without dashes (base32hex-compatible), so a
//! job retried after a crash updates the same event. Failures are retried per [`RETRY`]
//! (2 s doubling up to 10 minutes, 8 attempts), then the job is dead with its last error.

use std::time::Duration;

use crate::schema::appointments;
use chrono::{DateTime, Utc};
use db::{Db, OrgId, TenantTx};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl};
use diesel_async::RunQueryDsl;
use jobs::{Done, Failure, Job, NewJob, RetryPolicy};
use secrecy::ExposeSecret;
use serde_json::json;
use uuid::Uuid;

use crate::SchedulingError;
use crate::availability::Busy;

/// The job kind that mirrors one appointment change to Google Calendar.
pub const JOB_KIND: &str = "calendar.sync";

/// The calendar job's retry policy: 8 attempts, 2 s doubling up to 10 minutes.
pub const RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 8,
    base_delay: Duration::from_secs(2),
    max_delay: Duration::from_secs(600),
};

/// Google Calendar API client of the platform (one per process).
#[derive(Debug, Clone)]
pub struct GoogleCalendar {
    http: reqwest::Client,
    /// `https://www.googleapis.com/calendar/v3` unless overridden (tests).
    base_url: String,
}

impl GoogleCalendar {
    /// A client against `base_url` sending through `http`.
    #[must_use]
    pub fn new(http: reqwest::Client, base_url: &str) -> Self {
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// Busy intervals of the primary calendar in `[from, to)`.
    ///
    /// # Errors
    /// [`SchedulingError::Calendar`] when Google fails or answers something unreadable.
    pub async fn busy(
        &self,
        token: &secrecy::SecretString,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Busy>, SchedulingError> {
        let response = self
            .http
            .post(format!("{}/freeBusy", self.base_url))
            .bearer_auth(token.expose_secret())
            .json(&json!({
                "timeMin": from.to_rfc3339(),
                "timeMax": to.to_rfc3339(),
                "items": [{"id": "primary"}],
            }))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| SchedulingError::Calendar(format!("freeBusy: {}", e.without_url())))?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.map_err(|_| {
            SchedulingError::Calendar(format!("freeBusy answered {status} without JSON"))
        })?;
        if !status.is_success() {
            return Err(SchedulingError::Calendar(format!(
                "freeBusy answered {status}"
            )));
        }
        let parse = |v: &serde_json::Value| {
            v.as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        Ok(body["calendars"]["primary"]["busy"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|b| {
                        Some(Busy {
                            start: parse(&b["start"])?,
                            end: parse(&b["end"])?,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn upsert_event(
        &self,
        token: &secrecy::SecretString,
        event_id: &str,
        event: &serde_json::Value,
    ) -> Result<(), String> {
        let url = format!("{}/calendars/primary/events/{event_id}", self.base_url);
        let put = self
            .http
            .put(&url)
            .bearer_auth(token.expose_secret())
            .json(event)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| format!("events.update: {}", e.without_url()))?;
        match put.status().as_u16() {
            200..=299 => return Ok(()),
            404 => {}
            s => return Err(format!("events.update answered {s}")),
        }
        let mut with_id = event.clone();
        with_id["id"] = json!(event_id);
        let post = self
            .http
            .post(format!("{}/calendars/primary/events", self.base_url))
            .bearer_auth(token.expose_secret())
            .json(&with_id)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| format!("events.insert: {}", e.without_url()))?;
        match post.status().as_u16() {
            200..=299 | 409 => Ok(()),
            s => Err(format!("events.insert answered {s}")),
        }
    }

    async fn delete_event(
        &self,
        token: &secrecy::SecretString,
        event_id: &str,
    ) -> Result<(), String> {
        let response = self
            .http
            .delete(format!(
                "{}/calendars/primary/events/{event_id}",
                self.base_url
            ))
            .bearer_auth(token.expose_secret())
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| format!("events.delete: {}", e.without_url()))?;
        match response.status().as_u16() {
            200..=299 | 404 | 410 => Ok(()),
            s => Err(format!("events.delete answered {s}")),
        }
    }
}

/// The Google event id of an appointment.
#[must_use]
pub fn event_id(appointment: Uuid) -> String {
    appointment.simple().to_string()
}

/// Queues a calendar job (`action`: `upsert` or `delete`) in the caller's tenant transaction;
/// the caller wakes the job workers after its commit.
///
/// # Errors
/// [`SchedulingError::Db`].
pub async fn enqueue(
    tx: &mut TenantTx,
    appointment: Uuid,
    action: &'static str,
) -> Result<(), SchedulingError> {
    let job = NewJob::new(
        JOB_KIND,
        json!({ "appointment_id": appointment, "action": action }),
    )
    .ordered_by(appointment.to_string());
    jobs::enqueue(tx, job).await?;
    Ok(())
}

/// What the event shows: service, times, notes, phone and customer of the appointment.
type EventRow = (
    Option<String>,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<String>,
    Option<String>,
    String,
);

/// Runs one `calendar.sync` job: puts or deletes the appointment's Google event, then records
/// the event id on the appointment (an upsert). Idempotent: the event id is fixed per
/// appointment.
///
/// # Errors
/// [`Failure::Permanent`] for a payload without an appointment id or action;
/// [`Failure::Retry`] when Google, the token or the database fails.
pub async fn sync_job(
    db: &Db,
    integrations: &integrations::Integrations,
    calendar: &GoogleCalendar,
    job: Job,
) -> Result<Done, Failure> {
    let (org, payload) = (job.org, &job.payload);
    let appointment = payload["appointment_id"]
        .as_str()
        .and_then(|id| Uuid::parse_str(id).ok());
    let (Some(appointment), Some(action)) = (appointment, payload["action"].as_str()) else {
        return Err(Failure::Permanent(
            "the job names no appointment or action".into(),
        ));
    };
    let Some(row) = appointment_event(db, org, appointment).await? else {
        return Ok(Done::Finished); // the appointment is gone (deleted with its organization)
    };
    let token = integrations
        .google_access_token(org)
        .await
        .map_err(|e| Failure::Retry(format!("no Google access token: {e}")))?;
    let eid = event_id(appointment);
    let sent = if action == "delete" {
        calendar.delete_event(&token.token, &eid).await
    } else {
        calendar
            .upsert_event(&token.token, &eid, &event_body(row))
            .await
    };
    if let Err(e) = sent {
        if job.last_attempt {
            report_failure(db, org, appointment, &e).await?;
        }
        return Err(Failure::Retry(e));
    }
    if action != "delete" {
        record_event_id(db, org, appointment).await?;
    }
    Ok(Done::Finished)
}

/// Tells the organization's webhook endpoints (`integration.error`) that an appointment's
/// Google event could not be synchronised after every attempt.
async fn report_failure(
    db: &Db,
    org: OrgId,
    appointment: Uuid,
    error: &str,
) -> Result<(), Failure> {
    let data = json!({
        "integration": "google_calendar",
        "message": format!("the appointment could not be synchronised with Google Calendar: {error}"),
        "appointment_id": appointment,
    });
    db.tenant(org, async move |tx| {
        webhooks::emit(tx, "integration.error", data).await
    })
    .await
    .map(|_| ())
    .map_err(|e| Failure::Retry(e.to_string()))
}

fn event_body((service, start, end, notes, phone, customer): EventRow) -> serde_json::Value {
    json!({
        "summary": format!("{} – {}", service.as_deref().unwrap_or("Appointment"), customer),
        "description": format!("Phone: {}\n{}", phone.as_deref().unwrap_or("-"), notes.as_deref().unwrap_or("")),
        "start": {"dateTime": start.to_rfc3339()},
        "end": {"dateTime": end.to_rfc3339()},
    })
}

async fn appointment_event(
    db: &Db,
    org: OrgId,
    appointment: Uuid,
) -> Result<Option<EventRow>, Failure> {
    db.tenant(org, async move |tx| {
        appointments::table
            .filter(db::same_tenant(appointments::org_id, org.0))
            .filter(appointments::id.eq(appointment))
            .select((
                appointments::service_name,
                appointments::scheduled_time,
                appointments::ends_at,
                appointments::notes,
                appointments::customer_phone,
                appointments::customer_name,
            ))
            .first(tx)
            .await
            .optional()
            .map_err(SchedulingError::from)
    })
    .await
    .map_err(|e| Failure::Retry(e.to_string()))
}

async fn record_event_id(db: &Db, org: OrgId, appointment: Uuid) -> Result<(), Failure> {
    db.tenant(org, async move |tx| {
        diesel::update(
            appointments::table
                .filter(db::same_tenant(appointments::org_id, org.0))
                .filter(appointments::id.eq(appointment)),
        )
        .set(appointments::google_event_id.eq(event_id(appointment)))
        .execute(tx)
        .await
        .map_err(SchedulingError::from)
    })
    .await
    .map(|_| ())
    .map_err(|e| Failure::Retry(e.to_string()))
}
