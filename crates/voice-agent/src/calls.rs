//! Call records from Vapi's `status-update` and `end-of-call-report`, and post-call analysis
//! (seed 001 "Webhook architecture" column mapping, §16 Phases 1-4; contracts/vapi.md §1.1,
//! §1.2, §5).
//!
//! One `call_logs` row per Vapi call, upserted on `vapi_call_id` inside the organization's
//! transaction, before the webhook answers (nothing acknowledged is lost). Messages may arrive
//! twice and in any order: the status only moves forward (`pending < initiated < queued <
//! ringing < in-progress < completed = failed`), first-seen facts are kept, and a report's
//! fields are the same however often it comes, so repeats converge on one correct row.
//!
//! An end-of-call report is acknowledged in one short transaction (the call row and a redacted
//! `voice.report` job); the post-call work then runs on the job runner, several reports of one
//! organization per transaction when a backlog exists, each report's work and its job's
//! completion committing together: the caller becomes or stays a contact;
//! booking is detected (a booking tool call that succeeded during the call, or an appointment
//! the agent booked for this caller during it); the contact's status becomes `booked` or `lost`;
//! the call's value is the most expensive service the transcript mentions; the lead is scored
//! and a hot lead (score ≥ 70) queues one SMS alert to the clinic; transcript and summary are
//! stored redacted; the dashboard is told.

use db::TenantTx;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use db::{Db, OrgId};
use jobs::{Done, Failure, Job, RetryPolicy};
use realtime::{Audience, RealtimeEvent};
use serde::Deserialize as _;
use serde_json::{Value, json};
use vapi_client::{CallInfo, EndOfCallReport};

mod analysis;

use crate::VoiceError;
use crate::group_commit::{ReportCommits, ReportToStore};
use crate::redaction::{redact, redact_report};

/// The job kind of a report's post-call analysis, queued when the report is acknowledged
/// ([`CallRecords::store_report`]) and ordered per call (`vapi:<call id>`).
pub const REPORT_JOB: &str = "voice.report";

/// The analysis job's retry policy: 10 attempts, 1 s doubling up to 5 minutes, then the job is
/// dead-lettered (the report stays stored on the call row; docs/operations.md, "dead jobs").
pub const REPORT_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 10,
    base_delay: std::time::Duration::from_secs(1),
    max_delay: std::time::Duration::from_secs(300),
};

/// A report as queued for its analysis: the call, the report with every free text redacted,
/// and when it was acknowledged (the analysis's "now").
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct QueuedReport {
    call: CallInfo,
    report: EndOfCallReport,
    received_at: DateTime<Utc>,
}

/// Name given to callers we know nothing about (seed 001 "Verified working code").
pub const UNKNOWN_CALLER: &str = crm::contacts::UNKNOWN_CALLER;

/// Score from which a lead is hot and the clinic is texted (seed 001 §16 data flow).
pub const HOT_LEAD_SCORE: i32 = 70;

/// Our status for a Vapi call status; `None` for statuses we do not record (`not-found`,
/// `deletion-failed`, unknown ones).
#[must_use]
pub fn our_status(vapi_status: &str, ended_reason: Option<&str>) -> Option<&'static str> {
    Some(match vapi_status {
        "scheduled" | "queued" => "queued",
        "ringing" => "ringing",
        "in-progress" | "forwarding" => "in-progress",
        "ended" => terminal_status(ended_reason),
        _ => return None,
    })
}

/// `failed` when the ended reason says the call never properly happened, else `completed`.
#[must_use]
pub fn terminal_status(ended_reason: Option<&str>) -> &'static str {
    let failed = ended_reason.is_some_and(|r| {
        [
            "error",
            "failed",
            "busy",
            "did-not-answer",
            "not-found",
            "pipeline-",
        ]
        .iter()
        .any(|m| r.contains(m))
    });
    if failed { "failed" } else { "completed" }
}

/// `inbound` or `outbound` from Vapi's call type (web and WebSocket calls count as inbound).
#[must_use]
pub fn call_type(vapi_type: Option<&str>) -> &'static str {
    if vapi_type == Some("outboundPhoneCall") {
        "outbound"
    } else {
        "inbound"
    }
}

/// The caller's number as E.164, when it is one.
fn e164(number: Option<&str>) -> Option<String> {
    number.and_then(|n| crm::normalize_phone(n, crm::DEFAULT_COUNTRY_CODE).ok())
}

/// A lead score 0-100 (our rule; the seeds name the threshold, not the formula): sentiment
/// (0-1) gives up to 30, a booking 40, the call's value up to 20 (≥ 100,000 minor units: 20;
/// any: 10), an urgent sentiment 10.
#[must_use]
pub fn lead_score(
    sentiment_score: Option<f64>,
    booked: bool,
    value_minor: i64,
    urgency: Option<&str>,
) -> i32 {
    #[allow(clippy::cast_possible_truncation)]
    let sentiment = (sentiment_score.unwrap_or(0.5).clamp(0.0, 1.0) * 30.0).round() as i32;
    let value = match value_minor {
        v if v >= 100_000 => 20,
        v if v > 0 => 10,
        _ => 0,
    };
    let urgent = urgency.is_some_and(|u| {
        let u = u.to_lowercase();
        u.contains("high") || u.contains("urgent") || u.contains("critical")
    });
    (sentiment + if booked { 40 } else { 0 } + value + if urgent { 10 } else { 0 }).min(100)
}

/// `hot`, `warm` or `cold` for a score.
#[must_use]
pub fn temperature(score: i32) -> &'static str {
    match score {
        s if s >= HOT_LEAD_SCORE => "hot",
        s if s >= 40 => "warm",
        _ => "cold",
    }
}

/// Whether the report's messages show a booking tool call that succeeded.
fn booked_by_tool(messages: &[Value]) -> bool {
    messages.iter().any(|m| {
        let role = m["role"].as_str().unwrap_or_default();
        let name = m["name"].as_str().unwrap_or_default();
        let result = match &m["result"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        (role == "tool_call_result" || role == "tool")
            && name == "bookClinicAppointment"
            && result.contains("\"success\":true")
    })
}

/// What a message says about a call, ready to upsert.
struct CallFacts<'a> {
    call: &'a CallInfo,
    status: &'a str,
    contact_id: Option<uuid::Uuid>,
    caller_name: Option<String>,
    started_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    metadata: Value,
}

/// Inserts or advances the call's row through its owner ([`crm::call_logs::upsert_vapi`]).
async fn upsert_call(
    tx: &mut TenantTx,
    vapi_call_id: &str,
    facts: &CallFacts<'_>,
) -> Result<crm::call_logs::UpsertedCall, VoiceError> {
    crm::call_logs::upsert_vapi(tx, &vapi_row(vapi_call_id, facts))
        .await?
        .ok_or(VoiceError::NotFound("call"))
}

/// The call row's owner's view of `facts`.
fn vapi_row<'a>(vapi_call_id: &'a str, facts: &CallFacts<'a>) -> crm::call_logs::VapiCallRow<'a> {
    crm::call_logs::VapiCallRow {
        vapi_call_id: vapi_call_id.into(),
        ours: our_row(facts.call),
        phone: caller_phone(facts.call),
        caller_name: facts.caller_name.clone(),
        call_type: call_type(facts.call.call_type.as_deref()),
        status: facts.status,
        contact_id: facts.contact_id,
        started_at: facts.started_at,
        ended_at: facts.ended_at,
        metadata: facts.metadata.clone(),
    }
}

/// The call-back row we created before Vapi knew the call (`metadata.call_log_id`), if any.
fn our_row(call: &CallInfo) -> Option<uuid::Uuid> {
    call.metadata
        .get("call_log_id")
        .and_then(Value::as_str)
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
}

/// The customer's number, in E.164 when it is one.
fn caller_phone(call: &CallInfo) -> Option<String> {
    e164(call.customer_number.as_deref()).or_else(|| call.customer_number.clone())
}

/// The caller's contact (created as a warm lead when new), when the caller's number is E.164.
async fn caller_contact(
    tx: &mut TenantTx,
    call: &CallInfo,
) -> Result<Option<crm::contacts::Contact>, VoiceError> {
    let Some((phone, name)) = caller_of(call) else {
        return Ok(None);
    };
    Ok(Some(
        crm::contacts::find_or_create(tx, name, &phone, None).await?,
    ))
}

/// The caller's E.164 number and the name to give a new contact, when the number is E.164.
fn caller_of(call: &CallInfo) -> Option<(String, &str)> {
    let phone = e164(call.customer_number.as_deref())?;
    let name = call
        .customer_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty() && n.chars().count() <= 200)
        .unwrap_or(UNKNOWN_CALLER);
    Some((phone, name))
}

fn known_name(call: &CallInfo, contact: Option<&crm::contacts::Contact>) -> Option<String> {
    call.customer_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| {
            contact
                .map(|c| c.name.clone())
                .filter(|n| n != UNKNOWN_CALLER)
        })
}

fn publish_call(
    row_id: uuid::Uuid,
    vapi_call_id: &str,
    status: &str,
    extra: Value,
) -> RealtimeEvent {
    let mut payload = json!({
        "type": "vapi_call_update",
        "call_id": row_id,
        "vapi_call_id": vapi_call_id,
        "status": status,
    });
    if let (Some(p), Value::Object(e)) = (payload.as_object_mut(), extra) {
        p.extend(e);
    }
    RealtimeEvent {
        audience: Audience::Users { min_role: "user" },
        target_crm_user: None,
        payload,
    }
}

/// Call records and post-call analysis: `status-update`s, reports acknowledged in one short
/// transaction, the `voice.report` jobs that analyse them, and the live transcript.
#[derive(Debug, Clone)]
pub struct CallRecords {
    db: Db,
    /// Wakes the job workers after a commit that queued a job (a report, a hot-lead alert).
    jobs: jobs::Waker,
    /// Stores acknowledged reports in groups (crate::group_commit).
    reports: ReportCommits,
}

impl CallRecords {
    pub(crate) fn new(db: Db, jobs: jobs::Waker) -> Self {
        let reports = ReportCommits::new(db.clone(), jobs.clone());
        Self { db, jobs, reports }
    }

    /// Records a `status-update`. Returns the row's id and its (possibly unchanged) status.
    ///
    /// # Errors
    /// [`VoiceError::Invalid`] without a call id; [`VoiceError::Db`].
    pub async fn record_status(
        &self,
        org: OrgId,
        call: &CallInfo,
        status: &str,
        ended_reason: Option<&str>,
    ) -> Result<Option<(uuid::Uuid, String)>, VoiceError> {
        let Some(ours) = our_status(status, ended_reason) else {
            return Ok(None);
        };
        let vapi_call_id = call
            .id
            .clone()
            .ok_or_else(|| VoiceError::Invalid("the message has no call id".into()))?;
        let call = call.clone();
        let ended_reason = ended_reason.map(str::to_owned);
        self.db
            .tenant(org, async move |c| {
                let contact = if call_type(call.call_type.as_deref()) == "inbound" {
                    caller_contact(c, &call).await?
                } else {
                    None
                };
                let mut metadata = json!({"source": "vapi-webhook-handler"});
                if let Some(reason) = &ended_reason {
                    metadata["endedReason"] = json!(reason);
                }
                let facts = CallFacts {
                    call: &call,
                    status: ours,
                    contact_id: contact.as_ref().map(|c| c.id),
                    caller_name: known_name(&call, contact.as_ref()),
                    started_at: call.started_at,
                    ended_at: if ours == "completed" || ours == "failed" {
                        call.ended_at
                    } else {
                        None
                    },
                    metadata,
                };
                let row = upsert_call(c, &vapi_call_id, &facts).await?;
                realtime::outbox::publish(
                    c,
                    publish_call(row.id, &vapi_call_id, &row.status, json!({})),
                )
                .await?;
                emit_status(c, &row, &vapi_call_id, &call, ended_reason.as_deref()).await?;
                Ok(Some((row.id, row.status)))
            })
            .await
    }

    /// Acknowledges an `end-of-call-report` in one short transaction (issue 22): the call row by
    /// Vapi's id, marked as having its report, and a [`REPORT_JOB`] carrying the report
    /// **redacted**, ordered per call, for the post-call analysis ([`CallRecords::analyse_report`]).
    /// Reports arriving together share that transaction (group commit, crate::group_commit);
    /// this returns after the commit that stored the report. A report stored already (a
    /// redelivery) changes nothing. Returns the row's id, `None` for a redelivery or a call id
    /// of another organization.
    ///
    /// # Errors
    /// [`VoiceError::Invalid`] without a call id; [`VoiceError::Db`].
    pub async fn store_report(
        &self,
        org: OrgId,
        call: &CallInfo,
        report: &EndOfCallReport,
        now: DateTime<Utc>,
    ) -> Result<Option<uuid::Uuid>, VoiceError> {
        let vapi_call_id = call
            .id
            .clone()
            .ok_or_else(|| VoiceError::Invalid("the message has no call id".into()))?;
        let stored = QueuedReport {
            call: call.clone(),
            report: redact_report(report),
            received_at: now,
        };
        let row = crm::call_logs::VapiCallRow {
            vapi_call_id: vapi_call_id.clone().into(),
            ours: our_row(call),
            phone: caller_phone(call),
            caller_name: call.customer_name.clone(),
            call_type: call_type(call.call_type.as_deref()),
            status: terminal_status(stored.report.ended_reason.as_deref()),
            contact_id: None,
            started_at: stored.report.started_at,
            ended_at: stored.report.ended_at.or(Some(now)),
            metadata: report_metadata(&stored.report, now),
        };
        let payload = serde_json::to_value(&stored)
            .map_err(|e| VoiceError::Invalid(format!("report not storable: {e}")))?;
        let job = jobs::NewJob::new(REPORT_JOB, payload).ordered_by(format!("vapi:{vapi_call_id}"));
        self.reports.store(ReportToStore { org, row, job }).await
    }

    /// Runs one [`REPORT_JOB`]: the report's whole post-call work (module docs) and the job's
    /// completion in one transaction, so its effect happens exactly once.
    ///
    /// # Errors
    /// [`Failure::Permanent`] for a payload that is not a queued report; [`Failure::Retry`]
    /// when the database fails; [`Failure::LeaseLost`] when another worker took the job.
    pub async fn analyse_report(&self, job: Job) -> Result<Done, Failure> {
        self.analyse_reports(Arc::new(vec![job])).await?;
        Ok(Done::Recorded)
    }

    /// Runs several [`REPORT_JOB`]s of one organization in one transaction (issue 22: batched
    /// post-call processing): the organization's services are read once, each report's
    /// post-call work runs in enqueue order, and the jobs are completed together, so the
    /// batch's effects happen exactly once and all together. Any failure (one bad payload
    /// included) rolls the whole batch back, and the runner then runs each job through
    /// [`CallRecords::analyse_report`]. While this instance's acknowledgements are backed up,
    /// it first waits until no other analysis runs (crate::priority, decision 51).
    ///
    /// # Errors
    /// [`Failure::Permanent`] for a payload that is not a queued report with a call id;
    /// [`Failure::Retry`] when the database fails; [`Failure::LeaseLost`].
    pub async fn analyse_reports(&self, batch: Arc<Vec<Job>>) -> Result<(), Failure> {
        let Some(org) = batch.first().map(|j| j.org) else {
            return Ok(());
        };
        let _turn = self.reports.analysis_turn().await;
        let queued = batch
            .iter()
            .map(|job| {
                // Read from the payload in place: no copy of the (up to tens of KB) report tree.
                let report = QueuedReport::deserialize(&job.payload)
                    .map_err(|e| Failure::Permanent(format!("not a queued report: {e}")))?;
                let id =
                    report.call.id.clone().ok_or_else(|| {
                        Failure::Permanent("the queued report has no call id".into())
                    })?;
                Ok((id, report))
            })
            .collect::<Result<Vec<_>, Failure>>()?;
        let alerted = self
            .db
            .tenant(org, async move |tx| {
                let services = crm::services::list(tx)
                    .await
                    .map_err(|e| Failure::Retry(e.to_string()))?;
                let alerted = analysis::record_reports(tx, &queued, &services)
                    .await
                    .map_err(|e| Failure::Retry(e.to_string()))?;
                jobs::complete_batch(tx, &batch).await?;
                Ok::<_, Failure>(alerted)
            })
            .await?;
        if alerted {
            self.jobs.wake();
        }
        Ok(())
    }

    /// Publishes a final transcript line to the organization's live call view (partial lines
    /// are not stored: they are superseded within a second).
    ///
    /// # Errors
    /// [`VoiceError::Db`].
    pub async fn publish_transcript(
        &self,
        org: OrgId,
        call: &CallInfo,
        role: &str,
        text: &str,
    ) -> Result<(), VoiceError> {
        let payload = json!({
            "type": "vapi_transcript",
            "vapi_call_id": call.id,
            "role": role,
            "text": redact(text),
        });
        self.db
            .tenant(org, async move |tx| {
                let data = json!({
                    "vapi_call_id": payload["vapi_call_id"],
                    "role": payload["role"],
                    "text": payload["text"],
                });
                webhooks::emit(tx, "transcript.final", data).await?;
                realtime::outbox::publish(
                    tx,
                    RealtimeEvent {
                        audience: Audience::Users { min_role: "user" },
                        target_crm_user: None,
                        payload,
                    },
                )
                .await?;
                Ok(())
            })
            .await
    }
}

/// The row of a call in progress (created if no status update arrived yet), `None` when the
/// message names no call.
async fn live_call_row(
    tx: &mut TenantTx,
    call: &CallInfo,
) -> Result<Option<uuid::Uuid>, VoiceError> {
    let Some(id) = &call.id else { return Ok(None) };
    let facts = CallFacts {
        call,
        status: "in-progress",
        contact_id: None,
        caller_name: call.customer_name.clone(),
        started_at: call.started_at,
        ended_at: None,
        metadata: json!({}),
    };
    Ok(Some(upsert_call(tx, id, &facts).await?.id))
}

/// Marks the call as having booked (the booking tool succeeded during it).
pub(crate) async fn mark_booked(tx: &mut TenantTx, call: &CallInfo) -> Result<(), VoiceError> {
    let Some(row) = live_call_row(tx, call).await? else {
        return Ok(());
    };
    Ok(crm::call_logs::mark_booked(tx, row).await?)
}

/// Logs a transfer on the call (seed 001 §18.4.2: `transfer_to`, `transfer_time`,
/// `transfer_reason`).
pub(crate) async fn record_transfer(
    tx: &mut TenantTx,
    call: &CallInfo,
    to: &str,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<(), VoiceError> {
    let Some(row) = live_call_row(tx, call).await? else {
        return Ok(());
    };
    Ok(crm::call_logs::log_transfer(tx, row, to, &redact(reason), at).await?)
}

/// The `call.started` / `call.ended` webhook events of a status update (issue 23 §2): once per
/// call each ([`webhooks::emit_once`] keyed by our call id), however often Vapi delivers or
/// repeats the update.
async fn emit_status(
    tx: &mut TenantTx,
    row: &crm::call_logs::UpsertedCall,
    vapi_call_id: &str,
    call: &CallInfo,
    ended_reason: Option<&str>,
) -> Result<(), VoiceError> {
    let event_type = match row.status.as_str() {
        "in-progress" => "call.started",
        "completed" | "failed" => "call.ended",
        _ => return Ok(()),
    };
    let data = json!({
        "call_id": row.id,
        "vapi_call_id": vapi_call_id,
        "status": row.status,
        "customer_number": call.customer_number,
        "ended_reason": ended_reason,
    });
    webhooks::emit_once(tx, event_type, data, &row.id.to_string()).await?;
    Ok(())
}

/// The report's facts kept in the row's metadata.
fn report_metadata(report: &EndOfCallReport, now: DateTime<Utc>) -> Value {
    json!({
        "source": "vapi-webhook-handler",
        "endedReason": report.ended_reason,
        "successEvaluation": report.success_evaluation,
        "sentimentAnalysis": {
            "label": report.sentiment,
            "score": report.sentiment_score,
            "summary": report.sentiment_summary,
            "urgency": report.sentiment_urgency,
        },
        "report_received_at": now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_and_failures_are_recognised() {
        assert_eq!(our_status("queued", None), Some("queued"));
        assert_eq!(our_status("forwarding", None), Some("in-progress"));
        assert_eq!(
            our_status("ended", Some("customer-ended-call")),
            Some("completed")
        );
        assert_eq!(our_status("ended", Some("customer-busy")), Some("failed"));
        assert_eq!(
            our_status("ended", Some("pipeline-error-openai-llm-failed")),
            Some("failed")
        );
        assert_eq!(our_status("not-found", None), None);
        assert_eq!(call_type(Some("outboundPhoneCall")), "outbound");
        assert_eq!(call_type(Some("webCall")), "inbound");
    }

    #[test]
    fn lead_scores_and_temperatures() {
        assert_eq!(lead_score(Some(1.0), true, 800_000, Some("high")), 100);
        assert_eq!(lead_score(Some(0.9), true, 40_000, None), 77);
        assert_eq!(lead_score(Some(0.2), false, 0, None), 6);
        assert_eq!(lead_score(None, false, 0, None), 15);
        assert_eq!(temperature(77), "hot");
        assert_eq!(temperature(55), "warm");
        assert_eq!(temperature(6), "cold");
    }

    #[test]
    fn a_successful_booking_tool_result_in_the_messages_counts() {
        let ok = json!({"role": "tool_call_result", "name": "bookClinicAppointment",
                        "result": "{\"success\":true,\"appointmentId\":\"x\"}"});
        let failed = json!({"role": "tool_call_result", "name": "bookClinicAppointment",
                            "result": "{\"success\":false}"});
        assert!(booked_by_tool(&[ok]));
        assert!(!booked_by_tool(&[failed]));
    }
}
