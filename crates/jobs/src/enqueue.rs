//! Writing a job inside the caller's transaction.

use crate::schema::jobs;
use chrono::{DateTime, Utc};
use db::{DbError, TenantTx};
use diesel::ExpressionMethods;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// The kind, naming the handler that runs it (`<crate>.<what>`, for example
    /// `calendar.sync`); 1–100 characters.
    pub kind: &'static str,
    /// Jobs of one kind with the same key run one at a time, in enqueue order (for example
    /// one Dialpad call's events); `None`: no ordering. 1–200 characters.
    pub order_key: Option<String>,
    /// What the handler needs (ids, not copies of rows that may change).
    pub payload: serde_json::Value,
    /// The earliest time it may run; `None`: now.
    pub run_at: Option<DateTime<Utc>>,
}

impl NewJob {
    /// A job of `kind` with `payload`, due now, unordered.
    #[must_use]
    pub fn new(kind: &'static str, payload: serde_json::Value) -> Self {
        Self {
            kind,
            order_key: None,
            payload,
            run_at: None,
        }
    }

    /// The same job, ordered after earlier jobs of its kind with `key`.
    #[must_use]
    pub fn ordered_by(mut self, key: impl Into<String>) -> Self {
        self.order_key = Some(key.into());
        self
    }
}

/// Writes `job` for the transaction's organization in the caller's tenant transaction `tx`: the
/// job commits or rolls back with the caller's change. The workers are woken after the commit ([`crate::CHANNEL`] is raised
/// with [`db::signal::raise_after_commit`]); a caller holding a [`crate::Waker`] may also call
/// [`crate::Waker::wake`] after the commit. Returns the job's id.
///
/// # Errors
/// [`DbError::Query`] when the insert fails (row-level security refuses another organization).
pub async fn enqueue(tx: &mut TenantTx, job: NewJob) -> Result<Uuid, DbError> {
    let mut ids = enqueue_all(tx, [&job]).await?;
    Ok(ids.remove(0))
}

/// [`enqueue`] for several jobs at once: one prepared insert per job, all sent before the first
/// answer is awaited (diesel-async pipelining), so `n` jobs cost one round trip's wait instead
/// of `n`. They are inserted in the iterator's order (their enqueue order). Returns their ids
/// in that order; nothing is written when there are none.
///
/// # Errors
/// As [`enqueue`]; the first failure is returned (the transaction is then aborted anyway).
pub async fn enqueue_all<'j>(
    tx: &mut TenantTx,
    jobs: impl IntoIterator<Item = &'j NewJob>,
) -> Result<Vec<Uuid>, DbError> {
    let org = tx.org();
    let conn: &diesel_async::AsyncPgConnection = tx;
    let inserts: Vec<_> = jobs
        .into_iter()
        .map(|job| {
            diesel::insert_into(jobs::table)
                .values((
                    jobs::org_id.eq(org.0),
                    jobs::kind.eq(job.kind),
                    jobs::order_key.eq(job.order_key.as_deref()),
                    jobs::payload.eq(&job.payload),
                    jobs::run_at.eq(job.run_at.unwrap_or_else(Utc::now)),
                ))
                .returning(jobs::id)
                .get_result::<Uuid>(&mut &*conn)
        })
        .collect();
    if inserts.is_empty() {
        return Ok(Vec::new());
    }
    let ids = futures_util::future::try_join_all(inserts)
        .await
        .map_err(DbError::Query)?;
    // A `TenantTx` exists only inside `Db::tenant`, which raises the channel after its commit.
    let raised = db::signal::raise_after_commit(crate::CHANNEL);
    debug_assert!(raised, "a TenantTx is always inside Db::tenant");
    Ok(ids)
}
