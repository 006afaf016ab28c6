//! The voice agent's background work, on the platform's job runner:
//!
//! - a `voice.report` job per acknowledged end-of-call report runs its post-call analysis
//!   ([`crate::calls`]), in order per call;
//! - a `voice.alert` job per hot-lead alert, queued in the report's transaction
//!   (`queue_alert`), sends the alert to the clinic's alert phone;
//! - the `voice.due-work` periodic task (every 2 s, once across instances) retries failed tool
//!   links and advances unfinished Twilio dual-syncs. Both keep their state in their own rows
//!   (`org_tools`, `vapi_twilio_sync`) with their own next attempt time, found across
//!   organizations through `voice_due_orgs` (one [`db::SystemOp::VoiceWork`] query); each
//!   organization's work then runs in its own tenant transactions.

use std::sync::Arc;
use std::time::Duration;

use crate::schema::voice_alerts;
use db::{OrgId, SystemOp, TenantTx};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use jobs::{Done, Failure, Job, NewJob, RetryPolicy, Runner};
use serde_json::json;
use uuid::Uuid;

use crate::{VoiceAgent, VoiceError};

/// The job kind that sends one hot-lead alert.
pub const ALERT_JOB: &str = "voice.alert";

/// The alert job's retry policy: 5 attempts, 1 minute doubling up to an hour; after the last
/// the alert is marked `failed` with its error.
pub const ALERT_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 5,
    base_delay: Duration::from_secs(60),
    max_delay: Duration::from_secs(3600),
};

/// How often the tool-link and dual-sync work is looked for.
pub const DUE_WORK_EVERY: Duration = Duration::from_secs(2);

/// What one pass of the due work did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkReport {
    /// Organizations whose tools were relinked.
    pub tool_links: usize,
    /// Dual-syncs advanced.
    pub twilio_syncs: usize,
}

#[derive(QueryableByName)]
struct Due {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    org_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    kind: String,
}

/// Queues the hot-lead alert of call `call_log` (once per call: a redelivered report queues
/// nothing) with its `voice.alert` job, in the report's transaction. Whether one was queued
/// (the caller then wakes the job workers after its commit).
///
/// # Errors
/// [`VoiceError::Db`].
pub(crate) async fn queue_alert(
    tx: &mut TenantTx,
    call_log: Uuid,
    contact: Option<Uuid>,
    body: String,
) -> Result<bool, VoiceError> {
    let org = tx.org();
    let inserted: Option<Uuid> = diesel::insert_into(voice_alerts::table)
        .values((
            voice_alerts::id.eq(Uuid::new_v4()),
            voice_alerts::org_id.eq(org.0),
            voice_alerts::call_log_id.eq(call_log),
            voice_alerts::contact_id.eq(contact),
            voice_alerts::body.eq(body),
        ))
        .on_conflict(voice_alerts::call_log_id)
        .do_nothing()
        .returning(voice_alerts::id)
        .get_result(tx)
        .await
        .optional()?;
    if let Some(id) = inserted {
        jobs::enqueue(tx, NewJob::new(ALERT_JOB, json!({ "alert_id": id }))).await?;
    }
    Ok(inserted.is_some())
}

impl VoiceAgent {
    /// Registers the report-analysis and alert jobs and the due-work periodic task on `runner`.
    #[must_use]
    pub fn register_jobs(self: &Arc<Self>, runner: Runner) -> Runner {
        let (alerts, due) = (Arc::clone(self), Arc::clone(self));
        let (reports, batched) = (Arc::clone(self), Arc::clone(self));
        runner
            .register_batched(
                crate::calls::REPORT_JOB,
                crate::calls::REPORT_RETRY,
                move |job| {
                    let this = Arc::clone(&reports);
                    async move { this.calls.analyse_report(job).await }
                },
                move |batch| {
                    let this = Arc::clone(&batched);
                    async move { this.calls.analyse_reports(batch).await }
                },
            )
            .register(ALERT_JOB, ALERT_RETRY, move |job| {
                let this = Arc::clone(&alerts);
                async move { this.send_alert(job).await }
            })
            .every("voice.due-work", DUE_WORK_EVERY, move || {
                let this = Arc::clone(&due);
                async move {
                    this.work_once(20)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
            })
    }

    /// One pass over due tool links and dual-syncs (at most `limit` organizations per kind).
    ///
    /// # Errors
    /// [`VoiceError::Db`] when due work cannot be listed; failures of single items are recorded
    /// on them.
    pub async fn work_once(&self, limit: i32) -> Result<WorkReport, VoiceError> {
        let due: Vec<Due> = self
            .base
            .db
            .system(SystemOp::VoiceWork, async move |c| {
                diesel::sql_query("SELECT org_id, kind FROM voice_due_orgs($1)")
                    .bind::<diesel::sql_types::Integer, _>(limit)
                    .load(c)
                    .await
                    .map_err(VoiceError::from)
            })
            .await?;
        let mut report = WorkReport::default();
        for item in due {
            let org = OrgId(item.org_id);
            let outcome = match item.kind.as_str() {
                "tool_link" => self
                    .tool_registry()
                    .sync_tools(org)
                    .await
                    .map(|_| report.tool_links += 1),
                "twilio_sync" => match self.twilio_sync().claim(org).await {
                    Ok(true) => self
                        .twilio_sync()
                        .advance(org)
                        .await
                        .map(|_| report.twilio_syncs += 1),
                    other => other.map(|_| ()),
                },
                _ => Ok(()),
            };
            if let Err(e) = outcome {
                tracing::warn!(org_id = %org, kind = %item.kind, error = %e, "voice work failed");
            }
        }
        Ok(report)
    }

    /// Runs one `voice.alert` job: sends the alert to the organization's alert phone and marks
    /// it `sent`; a failure is counted on the alert and retried, and marks it `failed` on the
    /// last attempt.
    ///
    /// # Errors
    /// [`Failure::Permanent`] for a job without an alert id, [`Failure::Retry`] when sending or
    /// the database fails.
    pub async fn send_alert(&self, job: Job) -> Result<Done, Failure> {
        let Some(id) = job.payload["alert_id"]
            .as_str()
            .and_then(|id| Uuid::parse_str(id).ok())
        else {
            return Err(Failure::Permanent("the job names no alert".into()));
        };
        let org = job.org;
        let Some(alert) = self.pending_alert(org, id).await? else {
            return Ok(Done::Finished); // already sent or given up
        };
        let sent = match &alert.phone {
            None => Err("no hot-lead alert phone is configured".to_owned()),
            Some(phone) => self
                .messenger
                .send_sms(
                    org,
                    phone,
                    &alert.body,
                    alert.subject(),
                    false,
                    &messaging::ChangedBy::system(),
                )
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
        };
        let status = match (&sent, job.last_attempt) {
            (Ok(()), _) => "sent",
            (Err(_), true) => "failed",
            (Err(_), false) => "pending",
        };
        self.record_alert(org, id, status, sent.as_ref().err().cloned())
            .await?;
        match sent {
            Err(e) if !job.last_attempt => Err(Failure::Retry(e)),
            _ => Ok(Done::Finished),
        }
    }

    async fn pending_alert(&self, org: OrgId, id: Uuid) -> Result<Option<Alert>, Failure> {
        self.base
            .db
            .tenant(org, async move |tx| {
                let row: Option<(Uuid, Option<Uuid>, String)> = voice_alerts::table
                    .filter(db::same_tenant(voice_alerts::org_id, org.0))
                    .filter(voice_alerts::id.eq(id))
                    .filter(voice_alerts::status.eq("pending"))
                    .select((
                        voice_alerts::call_log_id,
                        voice_alerts::contact_id,
                        voice_alerts::body,
                    ))
                    .first(tx)
                    .await
                    .optional()?;
                let Some((call, contact, body)) = row else {
                    return Ok(None);
                };
                let settings = crate::agents::settings(tx).await?;
                Ok::<_, VoiceError>(Some(Alert {
                    call,
                    contact,
                    body,
                    phone: settings.hot_lead_alert_phone,
                }))
            })
            .await
            .map_err(|e| Failure::Retry(e.to_string()))
    }

    /// Records an alert's attempt: its new status and, for a failure, the error.
    async fn record_alert(
        &self,
        org: OrgId,
        id: Uuid,
        status: &'static str,
        error: Option<String>,
    ) -> Result<(), Failure> {
        self.base.db
            .tenant(org, async move |tx| {
                diesel::update(
                    voice_alerts::table
                        .filter(db::same_tenant(voice_alerts::org_id, org.0))
                        .filter(voice_alerts::id.eq(id)),
                )
                .set((
                    voice_alerts::status.eq(status),
                    voice_alerts::attempts.eq(voice_alerts::attempts + 1),
                    voice_alerts::last_error.eq(&error),
                ))
                .execute(tx)
                .await
                .map_err(VoiceError::from)?;
                if status == "failed" {
                    let data = serde_json::json!({
                        "integration": "sms",
                        "message": format!("a hot-lead alert could not be sent: {}", error.unwrap_or_default()),
                        "alert_id": id,
                    });
                    webhooks::emit(tx, "integration.error", data).await?;
                }
                Ok::<_, VoiceError>(())
            })
            .await
            .map(|_| ())
            .map_err(|e| Failure::Retry(e.to_string()))
    }
}

/// A pending alert and where it goes.
struct Alert {
    call: Uuid,
    contact: Option<Uuid>,
    body: String,
    phone: Option<String>,
}

impl Alert {
    fn subject(&self) -> messaging::Subject {
        messaging::Subject {
            contact_id: self.contact,
            call_id: Some(self.call),
            appointment_id: None,
        }
    }
}
