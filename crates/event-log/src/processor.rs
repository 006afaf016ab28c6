//! Applying a stored event: the `dialpad.event` job, run by the platform's job runner.

use std::collections::HashMap;
use std::sync::Arc;

use crate::schema::webhook_events;
use db::{Db, TenantTx};
use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use jobs::{Done, Failure, Job, RetryPolicy, Runner};
use uuid::Uuid;

use crate::dialpad::{CallEvent, PayloadError};
use crate::{EventLogError, handlers};

/// The job kind that applies one stored Dialpad event; its order key is
/// `<app id>:<Dialpad call id>`, so one call's events apply in arrival order (decision 34).
pub const JOB_KIND: &str = "dialpad.event";

/// The event job's retry policy: 8 attempts, 1 s doubling up to 5 minutes.
pub const RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 8,
    base_delay: std::time::Duration::from_secs(1),
    max_delay: std::time::Duration::from_secs(300),
};

/// Registers the event handler on `runner`, over `db`: the events of one organization in a
/// claim are applied together ([`apply_batch`]), a single one or a failed batch's events one by
/// one ([`apply`]).
#[must_use]
pub fn register(runner: Runner, db: Db) -> Runner {
    let batched = db.clone();
    runner.register_batched(
        JOB_KIND,
        RETRY,
        move |job| {
            let db = db.clone();
            async move { apply(&db, job).await }
        },
        move |batch| {
            let db = batched.clone();
            async move { apply_batch(&db, batch).await }
        },
    )
}

/// The job's order key for an event of `app` about Dialpad call `call_id`: the same text as
/// SQL's `app_id::text || ':' || (payload ->> 'call_id')` (migration 000017 and the replay
/// runbook), so jobs written by either are ordered together (a string id unquoted).
pub(crate) fn order_key(app: Uuid, call_id: &serde_json::Value) -> String {
    match call_id {
        serde_json::Value::String(id) => format!("{app}:{id}"),
        other => format!("{app}:{other}"),
    }
}

/// Applies the event a job names: its effects (call, voicemail, realtime event), its `done`
/// mark and the job's completion commit in **one** tenant transaction, so the event takes
/// effect exactly once. An unusable event, or one failing on its last attempt, is marked `dead`
/// with its error (and its job completed); any other failure is retried by the runner.
///
/// # Errors
/// [`Failure::Permanent`] for a job without an event id, [`Failure::Retry`] for a database
/// failure, [`Failure::LeaseLost`] when another worker owns the job now.
pub async fn apply(db: &Db, job: Job) -> Result<Done, Failure> {
    let event_id = event_id(&job)?;
    let org = job.org;
    let claimed = job.clone();
    let applied = db
        .tenant(org, async move |tx| {
            apply_events(tx, &[event_id]).await?;
            claimed.complete(tx).await.map_err(job_error)
        })
        .await;
    match applied {
        Ok(()) => Ok(Done::Recorded),
        Err(EventLogError::LeaseLost) => Err(Failure::LeaseLost),
        Err(e) if e.is_permanent() || job.last_attempt => dead_letter(db, job, event_id, &e).await,
        Err(e) => Err(Failure::Retry(e.to_string())),
    }
}

/// Applies the events of several jobs of one organization in **one** tenant transaction, in
/// enqueue order (a claim holds a call's later event only together with every earlier one, so
/// each call keeps its arrival order, decision 34): their effects, their `done` marks and the
/// jobs' completion commit together, one commit instead of one per event. Any failure rolls the
/// whole batch back; the runner then applies each job through [`apply`], which retries or
/// dead-letters it alone.
///
/// # Errors
/// [`Failure::Permanent`] for a job without an event id, [`Failure::LeaseLost`] when another
/// worker owns one of the jobs now, [`Failure::Retry`] for any other failure.
pub async fn apply_batch(db: &Db, batch: Arc<Vec<Job>>) -> Result<(), Failure> {
    let Some(org) = batch.iter().next().map(|j| j.org) else {
        return Ok(());
    };
    let ids = batch.iter().map(event_id).collect::<Result<Vec<_>, _>>()?;
    db.tenant(org, async move |tx| {
        apply_events(tx, &ids).await?;
        jobs::complete_batch(tx, &batch).await.map_err(job_error)
    })
    .await
    .map_err(|e| match e {
        EventLogError::LeaseLost => Failure::LeaseLost,
        e => Failure::Retry(e.to_string()),
    })
}

/// The stored event a job names.
fn event_id(job: &Job) -> Result<Uuid, Failure> {
    job.payload["event_id"]
        .as_str()
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(|| Failure::Permanent("the job names no event".into()))
}

/// Applies the events `ids` that are still `pending`, in the order given, and marks them
/// `done` (one read and one update for all of them; an event already closed is skipped).
async fn apply_events(tx: &mut TenantTx, ids: &[Uuid]) -> Result<(), EventLogError> {
    let org = tx.org();
    let mut open: HashMap<Uuid, (Uuid, serde_json::Value)> = webhook_events::table
        .filter(webhook_events::id.eq_any(ids))
        .filter(db::same_tenant(webhook_events::org_id, org.0))
        .filter(webhook_events::status.eq("pending"))
        .select((
            webhook_events::id,
            (webhook_events::app_id, webhook_events::payload),
        ))
        .load(tx)
        .await?
        .into_iter()
        .collect();
    // In the order given; each payload parsed once (an unusable one fails its event below).
    let events: Vec<(Uuid, Uuid, Result<CallEvent, PayloadError>)> = ids
        .iter()
        .filter_map(|id| {
            open.remove(id)
                .map(|(app, p)| (*id, app, CallEvent::parse(&p)))
        })
        .collect();
    let parsed = events
        .iter()
        .filter_map(|(_, app, event)| event.as_ref().ok().map(|e| (*app, e)));
    let shared = handlers::Shared::load(tx, parsed).await?;
    let mut done = Vec::with_capacity(events.len());
    for (id, app, event) in events {
        handlers::apply(tx, &shared, app, &event?).await?;
        done.push(id);
    }
    if !done.is_empty() {
        close_events(tx, &done, "done", None).await?;
    }
    Ok(())
}

/// Marks an event `dead` with its error and completes its job, together (the event keeps what
/// arrived; an operator can replay it, docs/operations.md).
async fn dead_letter(
    db: &Db,
    job: Job,
    event_id: Uuid,
    error: &EventLogError,
) -> Result<Done, Failure> {
    let message: String = error.to_string().chars().take(500).collect();
    tracing::error!(event_id = %event_id, error = %message, "webhook event dead-lettered");
    let org = job.org;
    db.tenant(org, async move |tx| {
        close_events(tx, &[event_id], "dead", Some(message)).await?;
        job.complete(tx).await.map_err(job_error)
    })
    .await
    .map_err(|e| match e {
        EventLogError::LeaseLost => Failure::LeaseLost,
        e => Failure::Retry(e.to_string()),
    })?;
    Ok(Done::Recorded)
}

pub(crate) fn job_error(e: jobs::JobError) -> EventLogError {
    match e {
        jobs::JobError::LeaseLost => EventLogError::LeaseLost,
        jobs::JobError::Db(e) => EventLogError::Db(e),
    }
}

/// Records the outcome of events `ids`: `done`, or `dead` with `error`.
async fn close_events(
    tx: &mut TenantTx,
    ids: &[Uuid],
    status: &'static str,
    error: Option<String>,
) -> Result<(), EventLogError> {
    let org = tx.org();
    diesel::update(
        webhook_events::table
            .filter(webhook_events::id.eq_any(ids))
            .filter(db::same_tenant(webhook_events::org_id, org.0)),
    )
    .set((
        webhook_events::status.eq(status),
        webhook_events::processed_at.eq(diesel::dsl::now),
        webhook_events::last_error.eq(error),
    ))
    .execute(tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use uuid::Uuid;

    #[test]
    fn order_keys_read_like_the_sql_text_of_the_call_id() {
        let app = Uuid::nil();
        assert_eq!(super::order_key(app, &json!(42)), format!("{app}:42"));
        assert_eq!(super::order_key(app, &json!("42")), format!("{app}:42"));
    }
}
