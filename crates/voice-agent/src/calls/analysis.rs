//! The post-call analysis of a batch of reports of one organization, in the caller's
//! transaction (issue 22: batched post-call processing; what it decides: the parent module's
//! docs).
//!
//! The batch is worked in three steps so that its statements do not grow with its size more
//! than they must:
//! 1. reads shared by the batch: the callers' contacts (found or created together,
//!    [`crm::contacts::find_or_create_many`]), the call rows ([`crm::call_logs::find_vapi_many`])
//!    and the appointments the agent booked for those callers (one statement each);
//! 2. each report's verdict, in memory, in the batch's order;
//! 3. the writes, each kind together: the analyses and the leads' status (one pipelined round
//!    each, executed in order, so a caller calling several times ends as their last call left
//!    them), the hot-lead alerts, the live view's events (one statement) and the webhook events
//!    (the subscriptions read once, [`webhooks::Emitter`]).

use chrono::{DateTime, Utc};
use db::TenantTx;
use serde_json::json;
use uuid::Uuid;
use vapi_client::EndOfCallReport;

use super::{
    CallFacts, HOT_LEAD_SCORE, QueuedReport, UNKNOWN_CALLER, booked_by_tool, caller_of, known_name,
    lead_score, publish_call, report_metadata, temperature, terminal_status, upsert_call,
};
use crate::VoiceError;
use crate::redaction::redact;

/// What the analysis concluded about a call.
struct Verdict {
    booked: bool,
    /// The matched service's value, minor units.
    value: i64,
    score: i32,
    contact_id: Option<Uuid>,
}

/// One report of the batch as analysed: what its writes and events need.
struct Analysis<'q> {
    vapi_call_id: &'q str,
    report: &'q QueuedReport,
    row: crm::call_logs::UpsertedCall,
    who: Option<String>,
    /// The transcript and the summary, for matching services ([`spoken_text`]).
    spoken: String,
    verdict: Verdict,
    recorded: crm::call_logs::CallAnalysis<'static>,
}

/// The reports' whole post-call work (module docs), `queued` in enqueue order as
/// `(Vapi call id, report)`. Returns whether a hot-lead alert was queued (the caller wakes the
/// job workers after the commit).
///
/// # Errors
/// [`VoiceError::Db`]; [`VoiceError::NotFound`] when a call row removed since its report was
/// acknowledged cannot be written again (its id now belongs to another organization).
pub(super) async fn record_reports(
    tx: &mut TenantTx,
    queued: &[(String, QueuedReport)],
    services: &[crm::services::Service],
) -> Result<bool, VoiceError> {
    let mut events = webhooks::Emitter::default();
    let contacts = caller_contacts(tx, &mut events, queued).await?;
    let analyses = analyse_all(tx, queued, &contacts, services).await?;
    let records: Vec<_> = analyses.iter().map(|a| (a.row.id, &a.recorded)).collect();
    crm::call_logs::record_analyses(tx, &records).await?;
    let leads: Vec<_> = analyses.iter().filter_map(lead_verdict).collect();
    crm::contacts::record_calls(tx, &mut events, &leads).await?;
    let alerted = queue_alerts(tx, &analyses).await?;
    let live = analyses.iter().map(|a| {
        let extra = json!({"booked": a.verdict.booked, "lead_score": a.verdict.score});
        publish_call(a.row.id, a.vapi_call_id, &a.row.status, extra)
    });
    realtime::outbox::publish_all(tx, live.collect()).await?;
    for analysis in &analyses {
        emit_analysed(tx, &mut events, analysis, services).await?;
    }
    Ok(alerted)
}

/// Each report's caller's contact (`None` when the number is not E.164), found or created
/// together.
async fn caller_contacts(
    tx: &mut TenantTx,
    events: &mut webhooks::Emitter,
    queued: &[(String, QueuedReport)],
) -> Result<Vec<Option<crm::contacts::Contact>>, VoiceError> {
    let callers: Vec<_> = queued.iter().map(|(_, q)| caller_of(&q.call)).collect();
    let wanted: Vec<_> = callers
        .iter()
        .flatten()
        .map(|(phone, name)| crm::contacts::Caller {
            name,
            phone,
            email: None,
        })
        .collect();
    let mut found = crm::contacts::find_or_create_many(tx, events, &wanted)
        .await?
        .into_iter();
    Ok(callers
        .iter()
        .map(|caller| caller.as_ref().and_then(|_| found.next()))
        .collect())
}

/// Each report's verdict, in order, from the batch's shared reads.
async fn analyse_all<'q>(
    tx: &mut TenantTx,
    queued: &'q [(String, QueuedReport)],
    contacts: &[Option<crm::contacts::Contact>],
    services: &[crm::services::Service],
) -> Result<Vec<Analysis<'q>>, VoiceError> {
    let ids: Vec<&str> = queued.iter().map(|(id, _)| id.as_str()).collect();
    let rows = crm::call_logs::find_vapi_many(tx, &ids).await?;
    let windows: Vec<_> = queued
        .iter()
        .map(|(id, q)| booking_window(rows.get(id).and_then(|r| r.started_at), q))
        .collect();
    let bookings = agent_bookings(tx, &rows, queued, contacts, &windows).await?;
    let mut out = Vec::with_capacity(queued.len());
    for (((vapi_call_id, report), contact), window) in queued.iter().zip(contacts).zip(windows) {
        let who = known_name(&report.call, contact.as_ref());
        let row = match rows.get(vapi_call_id) {
            // Written with the report's facts when it was acknowledged; the contact and the
            // name are set with the analysis.
            Some(row) => row.clone(),
            // Removed since it was acknowledged: written again from the report.
            None => rewrite_row(tx, vapi_call_id, report, contact.as_ref(), who.clone()).await?,
        };
        let contact_id = row.contact_id.or(contact.as_ref().map(|c| c.id));
        let booked_during = contact_id.is_some_and(|c| {
            bookings
                .iter()
                .any(|(of, at)| *of == c && window.0 <= *at && *at <= window.1)
        });
        let spoken = spoken_text(&report.report);
        let verdict = verdict(
            &report.report,
            &row,
            contact_id,
            booked_during,
            &spoken,
            services,
        );
        let status = terminal_status(report.report.ended_reason.as_deref());
        let recorded = call_analysis(&report.report, status, &verdict, who.clone());
        out.push(Analysis {
            vapi_call_id,
            report,
            row,
            who,
            spoken,
            verdict,
            recorded,
        });
    }
    Ok(out)
}

/// A call row removed since its report was acknowledged, written again from the report.
async fn rewrite_row(
    tx: &mut TenantTx,
    vapi_call_id: &str,
    queued: &QueuedReport,
    contact: Option<&crm::contacts::Contact>,
    who: Option<String>,
) -> Result<crm::call_logs::UpsertedCall, VoiceError> {
    let (report, now) = (&queued.report, queued.received_at);
    let facts = CallFacts {
        call: &queued.call,
        status: terminal_status(report.ended_reason.as_deref()),
        contact_id: contact.map(|c| c.id),
        caller_name: who,
        started_at: report.started_at,
        ended_at: report.ended_at.or(Some(now)),
        metadata: report_metadata(report, now),
    };
    upsert_call(tx, vapi_call_id, &facts).await
}

/// When an appointment the agent booked counts as booked during the call: from a minute
/// before it started (the row's start, else the report's, else two hours before the report
/// arrived) to two minutes after it ended.
fn booking_window(
    row_started_at: Option<DateTime<Utc>>,
    queued: &QueuedReport,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let (report, now) = (&queued.report, queued.received_at);
    let from = row_started_at
        .or(report.started_at)
        .unwrap_or(now - chrono::Duration::hours(2))
        - chrono::Duration::minutes(1);
    let to = report.ended_at.unwrap_or(now) + chrono::Duration::minutes(2);
    (from, to)
}

/// The appointments the agent booked for the batch's callers within the union of the calls'
/// windows, as `(contact, created_at)` (one statement; nothing read without a contact).
async fn agent_bookings(
    tx: &mut TenantTx,
    rows: &std::collections::HashMap<String, crm::call_logs::UpsertedCall>,
    queued: &[(String, QueuedReport)],
    contacts: &[Option<crm::contacts::Contact>],
    windows: &[(DateTime<Utc>, DateTime<Utc>)],
) -> Result<Vec<(Uuid, DateTime<Utc>)>, VoiceError> {
    let mut callers: Vec<Uuid> = queued
        .iter()
        .zip(contacts)
        .filter_map(|((id, _), c)| {
            let on_row = rows.get(id).and_then(|r| r.contact_id);
            on_row.or(c.as_ref().map(|c| c.id))
        })
        .collect();
    callers.sort_unstable();
    callers.dedup();
    let (Some(from), Some(to)) = (
        windows.iter().map(|w| w.0).min(),
        windows.iter().map(|w| w.1).max(),
    ) else {
        return Ok(Vec::new());
    };
    Ok(scheduling::appointments::agent_bookings_between(tx, &callers, (from, to)).await?)
}

/// What the report says about its call: booked (the row says so, a booking tool call
/// succeeded, or the agent booked during it), its value and its lead score.
fn verdict(
    report: &EndOfCallReport,
    row: &crm::call_logs::UpsertedCall,
    contact_id: Option<Uuid>,
    booked_during: bool,
    spoken: &str,
    services: &[crm::services::Service],
) -> Verdict {
    let booked = row.booking_confirmed || booked_by_tool(&report.messages) || booked_during;
    let value = crm::services::estimate_value(services, spoken);
    let score = lead_score(
        report.sentiment_score,
        booked,
        value,
        report.sentiment_urgency.as_deref(),
    );
    Verdict {
        booked,
        value,
        score,
        contact_id,
    }
}

/// What the call does to its caller's lead, when it has a contact.
fn lead_verdict<'a>(a: &Analysis<'a>) -> Option<(Uuid, crm::contacts::CallVerdict<'static>)> {
    let contact = a.verdict.contact_id?;
    let at = a.report.report.ended_at.unwrap_or(a.report.received_at);
    let score = a.verdict.score;
    let verdict = crm::contacts::CallVerdict {
        booked: a.verdict.booked,
        score,
        temperature: temperature(score),
        at,
    };
    Some((contact, verdict))
}

/// What was said: the transcript and the summary, for matching services.
fn spoken_text(report: &EndOfCallReport) -> String {
    format!(
        "{} {}",
        report.transcript.as_deref().unwrap_or_default(),
        report.summary.as_deref().unwrap_or_default()
    )
}

/// The analysis recorded on the call row (texts redacted).
fn call_analysis(
    report: &EndOfCallReport,
    status: &'static str,
    verdict: &Verdict,
    caller_name: Option<String>,
) -> crm::call_logs::CallAnalysis<'static> {
    #[allow(clippy::cast_possible_truncation)]
    let duration = report
        .duration_seconds
        .map(|d| d.round().clamp(0.0, f64::from(i32::MAX)) as i32);
    let recording_status = if report.recording_url.is_some() {
        "completed"
    } else if status == "failed" {
        "failed"
    } else {
        "processing"
    };
    crm::call_logs::CallAnalysis {
        outcome: if verdict.booked { "booked" } else { status },
        summary: report.summary.as_deref().map(redact),
        transcript: report.transcript.as_deref().map(redact),
        recording_url: report.recording_url.clone(),
        recording_status,
        duration_seconds: duration,
        cost_usd: report.cost.unwrap_or(0.0).max(0.0),
        sentiment: report.sentiment.clone(),
        sentiment_score: report.sentiment_score,
        sentiment_summary: report.sentiment_summary.as_deref().map(redact),
        sentiment_urgency: report.sentiment_urgency.clone(),
        booked: verdict.booked,
        value_minor: verdict.value,
        contact_id: verdict.contact_id,
        caller_name,
        lead_score: verdict.score,
    }
}

/// Queues the hot-lead alert of each call scoring at least [`HOT_LEAD_SCORE`] when the clinic
/// has an alert phone (its settings read once, only when a call is hot); whether one was
/// queued.
async fn queue_alerts(tx: &mut TenantTx, analyses: &[Analysis<'_>]) -> Result<bool, VoiceError> {
    let hot: Vec<&Analysis<'_>> = analyses
        .iter()
        .filter(|a| a.verdict.score >= HOT_LEAD_SCORE)
        .collect();
    if hot.is_empty() {
        return Ok(false);
    }
    let settings = crate::agents::settings(tx).await?;
    if settings.hot_lead_alert_phone.is_none() {
        return Ok(false);
    }
    let mut alerted = false;
    for a in hot {
        let who = a.who.as_deref().unwrap_or(UNKNOWN_CALLER);
        let number = a.report.call.customer_number.as_deref().unwrap_or_default();
        let body = format!(
            "Hot lead (score {}): {who} {number}{}. Call them back soon.",
            a.verdict.score,
            if a.verdict.booked { ", booked" } else { "" }
        );
        alerted |= crate::worker::queue_alert(tx, a.row.id, a.verdict.contact_id, body).await?;
    }
    Ok(alerted)
}

/// The `call.analyzed` webhook event of a report, and `lead.hot` when its caller scored as a
/// hot lead (issue 23 §2). Text fields are redacted like the stored analysis.
async fn emit_analysed(
    tx: &mut TenantTx,
    events: &mut webhooks::Emitter,
    a: &Analysis<'_>,
    services: &[crm::services::Service],
) -> Result<(), VoiceError> {
    let (report, verdict) = (&a.report.report, &a.verdict);
    let booked_service = verdict
        .booked
        .then(|| {
            crm::services::match_transcript(services, &a.spoken)
                .into_iter()
                .max_by_key(|s| s.price_minor)
                .map(|s| s.name.clone())
        })
        .flatten();
    let data = json!({
        "call_id": a.row.id,
        "vapi_call_id": a.vapi_call_id,
        "summary": report.summary.as_deref().map(redact),
        "outcome": a.recorded.outcome,
        "sentiment": report.sentiment,
        "sentiment_score": report.sentiment_score,
        "cost_usd": report.cost.unwrap_or(0.0).max(0.0),
        "booked": verdict.booked,
        "booked_service": booked_service,
        "value_minor": verdict.value,
        "lead_score": verdict.score,
        "contact_id": verdict.contact_id,
    });
    events.emit(tx, "call.analyzed", data).await?;
    if verdict.score >= HOT_LEAD_SCORE {
        let data = json!({
            "call_id": a.row.id,
            "contact_id": verdict.contact_id,
            "lead_score": verdict.score,
            "caller": a.who,
        });
        events.emit(tx, "lead.hot", data).await?;
    }
    Ok(())
}
