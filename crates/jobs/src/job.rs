//! A claimed job as its handler sees it, and what the handler answers.

use std::sync::Arc;

use crate::schema::jobs;
use db::{OrgId, TenantTx};
use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use futures_util::future::BoxFuture;
use uuid::Uuid;

use crate::JobError;

/// A job claimed by a worker.
#[derive(Debug, Clone)]
pub struct Job {
    /// The job's id.
    pub id: Uuid,
    /// The organization it belongs to: the handler works in this tenant's transactions.
    pub org: OrgId,
    /// Its kind.
    pub kind: String,
    /// Its ordering key, if any.
    pub order_key: Option<String>,
    /// What it was enqueued with.
    pub payload: serde_json::Value,
    /// This run's number, 1 for the first.
    pub attempt: i32,
    /// Whether this is the kind's last attempt: a [`Failure::Retry`] now dead-letters the job,
    /// so a handler keeping its own record of the work (a status column) marks it failed now.
    pub last_attempt: bool,
    /// The claiming worker (`<instance>/<n>`), whose lease the job is under.
    pub(crate) worker: Arc<str>,
}

impl Job {
    /// Deletes the job on `conn`, inside the handler's own transaction of [`Job::org`], so the
    /// job's effect and its completion commit together (exactly-once effect); the handler then
    /// answers [`Done::Recorded`].
    ///
    /// # Errors
    /// [`JobError::LeaseLost`] when the lease expired and another worker claimed the job (the
    /// handler returns the error so that its transaction rolls back); [`JobError::Db`].
    pub async fn complete(&self, tx: &mut TenantTx) -> Result<(), JobError> {
        debug_assert_eq!(
            tx.org(),
            self.org,
            "a job completes in its own organization"
        );
        if delete_claimed(tx, self.id, &self.worker).await? == 0 {
            return Err(JobError::LeaseLost);
        }
        Ok(())
    }
}

/// Deletes every job of `batch` on `conn`, inside the batch handler's own transaction of their
/// organization (every job of a batch has the same one, [`crate::Runner::register_batched`]),
/// so the batch's effects and its completion commit together; the handler then answers `Ok`.
///
/// # Errors
/// [`JobError::LeaseLost`] when any job's lease moved to another worker (the handler returns
/// the error so that its transaction rolls back); [`JobError::Db`].
pub async fn complete_batch(tx: &mut TenantTx, batch: &[Job]) -> Result<(), JobError> {
    let Some(first) = batch.first() else {
        return Ok(());
    };
    let ids: Vec<Uuid> = batch.iter().map(|j| j.id).collect();
    let deleted = diesel::delete(
        jobs::table
            .filter(jobs::id.eq_any(ids))
            .filter(db::same_tenant(jobs::org_id, tx.org().0))
            .filter(jobs::status.eq("running"))
            .filter(jobs::locked_by.eq(first.worker.to_string())),
    )
    .execute(tx)
    .await?;
    if deleted != batch.len() {
        return Err(JobError::LeaseLost);
    }
    Ok(())
}

/// Job `id` of organization `org` while `worker` holds its lease (no row once the lease moved
/// on to another worker).
#[diesel::dsl::auto_type(no_type_alias)]
pub(crate) fn held(org: Uuid, id: Uuid, worker: String) -> _ {
    jobs::table
        .filter(jobs::id.eq(id))
        .filter(db::same_tenant(jobs::org_id, org))
        .filter(jobs::status.eq("running"))
        .filter(jobs::locked_by.eq(worker))
}

/// Deletes job `id` while it is claimed by `worker`; returns how many rows went (0 or 1).
pub(crate) async fn delete_claimed(
    tx: &mut TenantTx,
    id: Uuid,
    worker: &str,
) -> Result<usize, JobError> {
    let org = tx.org();
    Ok(diesel::delete(held(org.0, id, worker.to_owned()))
        .execute(tx)
        .await?)
}

/// A handler's success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// The handler deleted the job itself with [`Job::complete`] in its own transaction.
    Recorded,
    /// The runner deletes the job now.
    Finished,
}

/// A handler's failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth another attempt (a provider or the database failed); retried per the kind's
    /// [`crate::RetryPolicy`].
    Retry(String),
    /// Never worth another attempt (bad payload, a rule refuses it): dead-lettered at once.
    Permanent(String),
    /// The lease expired and another worker owns the job: nothing is recorded.
    LeaseLost,
}

impl From<JobError> for Failure {
    fn from(e: JobError) -> Self {
        match e {
            JobError::LeaseLost => Self::LeaseLost,
            JobError::Db(e) => Self::Retry(e.to_string()),
        }
    }
}

impl From<db::DbError> for Failure {
    fn from(e: db::DbError) -> Self {
        Self::Retry(e.to_string())
    }
}

/// What a handler returns.
pub type Outcome = Result<Done, Failure>;

/// The runner's view of a batch handler: any `Fn(Arc<Vec<Job>>) -> impl Future<Output =
/// Result<(), Failure>>`.
pub(crate) trait BatchHandler: Send + Sync {
    fn run(&self, batch: Arc<Vec<Job>>) -> BoxFuture<'static, Result<(), Failure>>;
}

impl<F, Fut> BatchHandler for F
where
    F: Fn(Arc<Vec<Job>>) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), Failure>> + Send + 'static,
{
    fn run(&self, batch: Arc<Vec<Job>>) -> BoxFuture<'static, Result<(), Failure>> {
        Box::pin(self(batch))
    }
}

/// The runner's view of a handler: any `Fn(Job) -> impl Future<Output = Outcome>`.
pub(crate) trait Handler: Send + Sync {
    fn run(&self, job: Job) -> BoxFuture<'static, Outcome>;
}

impl<F, Fut> Handler for F
where
    F: Fn(Job) -> Fut + Send + Sync,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    fn run(&self, job: Job) -> BoxFuture<'static, Outcome> {
        Box::pin(self(job))
    }
}
