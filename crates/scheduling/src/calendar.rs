//! Google Calendar for scheduling (Calendar API v3, `primary` calendar of the connected
//! account): busy times through `freeBusy`, and the outbox that mirrors confirmed appointments
//! as events.
//!
//! The outbox (`calendar_sync_jobs`) is written in the appointment's own transaction. A worker
//! claims due jobs of every organization (`calendar_sync_claim`, `SystemOp::CalendarSync`, a
//! lease of [`LEASE_SECS`]) and works each in its organization's scope: `upsert` puts the event
//! (`PUT events/{id}`, or `POST events` with that id when Google has none), `delete` removes it
//! (a missing event counts as removed). The event id is the appointment id without dashes
//! (base32hex-compatible), so a job retried after a crash updates the same event. Failures back
//! off `2^attempts` seconds up to 10 minutes; after [`MAX_ATTEMPTS`] a job is `dead` and keeps
//! its last error.

use std::time::Duration;

use chrono::{DateTime, Utc};
use db::schema::{appointments, calendar_sync_jobs};
use db::{Db, OrgId, SystemOp};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, QueryableByName};
use diesel_async::RunQueryDsl;
use secrecy::ExposeSecret;
use serde_json::json;
use uuid::Uuid;

use crate::SchedulingError;
use crate::availability::Busy;

/// Seconds a claimed job is held before another worker may take it.
pub const LEASE_SECS: f64 = 60.0;
/// Attempts before a job is dead.
pub const MAX_ATTEMPTS: i32 = 8;

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

/// Queues a calendar job in the caller's tenant transaction.
///
/// # Errors
/// [`SchedulingError::Db`].
pub async fn enqueue_on(
    c: &mut db::AsyncPgConnection,
    org: OrgId,
    appointment: Uuid,
    action: &'static str,
) -> Result<(), SchedulingError> {
    diesel::insert_into(calendar_sync_jobs::table)
        .values((
            calendar_sync_jobs::id.eq(Uuid::new_v4()),
            calendar_sync_jobs::org_id.eq(org.0),
            calendar_sync_jobs::appointment_id.eq(appointment),
            calendar_sync_jobs::action.eq(action),
        ))
        .execute(c)
        .await?;
    Ok(())
}

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    org_id: Uuid,
}

/// What one pass of the worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Jobs completed.
    pub done: usize,
    /// Jobs that failed and will be retried.
    pub retried: usize,
    /// Jobs given up.
    pub dead: usize,
}

type JobRow = (
    String,
    i32,
    Option<String>,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<String>,
    Option<String>,
    String,
);

/// Works off up to `limit` due jobs of every organization.
///
/// # Errors
/// [`SchedulingError::Db`] when claiming fails; a failing job is recorded on the job.
pub async fn sync_once(
    db: &Db,
    integrations: &integrations::Integrations,
    calendar: &GoogleCalendar,
    limit: i32,
) -> Result<SyncReport, SchedulingError> {
    let claimed: Vec<Claimed> = db
        .system(SystemOp::CalendarSync, move |c| {
            Box::pin(async move {
                diesel::sql_query("SELECT id, org_id FROM calendar_sync_claim($1, $2)")
                    .bind::<diesel::sql_types::Integer, _>(limit)
                    .bind::<diesel::sql_types::Double, _>(LEASE_SECS)
                    .load(c)
                    .await
                    .map_err(SchedulingError::from)
            })
        })
        .await?;
    let mut report = SyncReport::default();
    for job in claimed {
        let org = OrgId(job.org_id);
        let id = job.id;
        let row: Option<(Uuid, JobRow)> = db
            .tenant(org, move |c| {
                Box::pin(async move {
                    calendar_sync_jobs::table
                        .inner_join(appointments::table)
                        .filter(calendar_sync_jobs::org_id.eq(org.0))
                        .filter(calendar_sync_jobs::id.eq(id))
                        .filter(calendar_sync_jobs::status.eq("pending"))
                        .select((
                            appointments::id,
                            (
                                calendar_sync_jobs::action,
                                calendar_sync_jobs::attempts,
                                appointments::service_name,
                                appointments::scheduled_time,
                                appointments::ends_at,
                                appointments::notes,
                                appointments::customer_phone,
                                appointments::customer_name,
                            ),
                        ))
                        .first(c)
                        .await
                        .optional()
                        .map_err(SchedulingError::from)
                })
            })
            .await?;
        let Some((appointment, (action, attempts, service, start, end, notes, phone, customer))) =
            row
        else {
            continue;
        };
        let outcome = match integrations.google_access_token(org).await {
            Err(e) => Err(format!("no Google access token: {e}")),
            Ok(token) => {
                let eid = event_id(appointment);
                if action == "delete" {
                    calendar.delete_event(&token.token, &eid).await
                } else {
                    let event = json!({
                        "summary": format!("{} – {}", service.as_deref().unwrap_or("Appointment"), customer),
                        "description": format!("Phone: {}\n{}", phone.as_deref().unwrap_or("-"), notes.as_deref().unwrap_or("")),
                        "start": {"dateTime": start.to_rfc3339()},
                        "end": {"dateTime": end.to_rfc3339()},
                    });
                    calendar.upsert_event(&token.token, &eid, &event).await
                }
            }
        };
        let attempts = attempts + 1;
        let (status, next, error) = match &outcome {
            Ok(()) => ("done", Utc::now(), None),
            Err(e) if attempts >= MAX_ATTEMPTS => ("dead", Utc::now(), Some(e.clone())),
            Err(e) => {
                let backoff = 2_i64
                    .saturating_pow(u32::try_from(attempts).unwrap_or(10))
                    .min(600);
                (
                    "pending",
                    Utc::now() + chrono::Duration::seconds(backoff),
                    Some(e.clone()),
                )
            }
        };
        match status {
            "done" => report.done += 1,
            "dead" => report.dead += 1,
            _ => report.retried += 1,
        }
        if let Err(e) = &outcome {
            tracing::warn!(%org, job = %id, attempts, error = %e, "calendar sync failed");
        }
        db.tenant(org, move |c| {
            Box::pin(async move {
                diesel::update(
                    calendar_sync_jobs::table
                        .filter(calendar_sync_jobs::org_id.eq(org.0))
                        .filter(calendar_sync_jobs::id.eq(id)),
                )
                .set((
                    calendar_sync_jobs::status.eq(status),
                    calendar_sync_jobs::attempts.eq(attempts),
                    calendar_sync_jobs::next_attempt_at.eq(next),
                    calendar_sync_jobs::last_error.eq(error),
                ))
                .execute(c)
                .await?;
                if status == "done" && action != "delete" {
                    diesel::update(
                        appointments::table
                            .filter(appointments::org_id.eq(org.0))
                            .filter(appointments::id.eq(appointment)),
                    )
                    .set(appointments::google_event_id.eq(event_id(appointment)))
                    .execute(c)
                    .await?;
                }
                Ok::<_, SchedulingError>(())
            })
        })
        .await?;
    }
    Ok(report)
}
