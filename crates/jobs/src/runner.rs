//! The workers: claim a batch, run each job through its kind's handler, record the outcome.

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use crate::schema::jobs;
use chrono::{DateTime, Utc};
use db::{DbError, OrgId, SystemOp};
use diesel::pg::data_types::PgInterval;
use diesel::sql_types::Timestamptz;
use diesel::{ExpressionMethods, IntoSql};
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use uuid::Uuid;

use crate::job::{BatchHandler, Handler, Outcome, delete_claimed, held};
use crate::schedule::{Schedule, Task};
use crate::{Done, Failure, Job, JobError, RetryPolicy, Waker};

/// Settings of a [`Runner`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunnerConfig {
    /// Concurrent workers on this instance. Jobs mostly wait on the database or a provider,
    /// so the default is four per CPU core (at least 4): more commits in flight let PostgreSQL
    /// flush them together.
    pub workers: usize,
    /// Jobs of kinds that run one by one claimed at once (one round trip claims them all).
    /// Kept small: a worker runs its claim in order, so a large one would hold back jobs
    /// other workers could run, and only the running job's lease is renewed.
    pub batch: i32,
    /// Jobs of batched kinds ([`Runner::register_batched`]) claimed at once, in a claim of
    /// their own: those of one organization then run in one transaction, so a larger claim
    /// means fewer statements per job (issue 22: 64 drained a post-call backlog 13–44% faster
    /// than 16 in the hot-path benchmark, docs/benchmarks.md).
    pub batched: i32,
    /// How long a claim lasts; a dead worker's jobs are claimed again when it expires. Longer
    /// than any handler runs.
    pub lease: Duration,
    /// How often an idle worker looks anyway (for retries coming due and expired leases);
    /// [`Waker::wake`] wakes it at once.
    pub idle_poll: Duration,
    /// How often periodic tasks are checked for a due slot.
    pub schedule_poll: Duration,
    /// How long [`RunnerHandle::shutdown`] lets running jobs finish before abandoning them to
    /// their lease.
    pub shutdown_grace: Duration,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            workers: (cores * 4).max(4),
            batch: 16,
            batched: 64,
            lease: Duration::from_secs(60),
            idle_poll: Duration::from_secs(1),
            schedule_poll: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

struct Kind {
    handler: Box<dyn Handler>,
    batch: Option<Box<dyn BatchHandler>>,
    policy: RetryPolicy,
}

/// The job runner of one instance: the handlers of the kinds it runs and its periodic tasks.
/// Built with [`Runner::register`] and [`Runner::every`], then [`Runner::start`]ed.
pub struct Runner {
    waker: Waker,
    config: RunnerConfig,
    instance: String,
    kinds: HashMap<&'static str, Kind>,
    schedules: Vec<Schedule>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("instance", &self.instance)
            .field("kinds", &self.kinds.keys().collect::<Vec<_>>())
            .field("schedules", &self.schedules.len())
            .finish_non_exhaustive()
    }
}

/// A claimed job's row: id, organization, kind, order key, payload, attempts so far.
type Claimed = (Uuid, Uuid, String, Option<String>, serde_json::Value, i32);

/// `jobs_claim(worker, kinds, limit, lease_secs)` (migration 000016) for the query builder, so
/// that every claim is a statement prepared once per connection (issue 22).
mod claim_sql {
    #![allow(missing_docs)]
    use diesel::sql_types::{Array, Double, Integer, Text};

    diesel::define_sql_function! {
        /// Claims up to `p_limit` due jobs of `p_kinds` for `p_worker` for `p_lease_secs`.
        fn jobs_claim(p_worker: Text, p_kinds: Array<Text>, p_limit: Integer, p_lease_secs: Double)
            -> diesel::sql_types::Record<(
                diesel::sql_types::Uuid,
                diesel::sql_types::Uuid,
                diesel::sql_types::Text,
                diesel::sql_types::Nullable<diesel::sql_types::Text>,
                diesel::sql_types::Jsonb,
                diesel::sql_types::Integer,
            )>;
    }
}

impl Runner {
    /// A runner whose workers wait on `waker`; `instance` names this instance in claims
    /// (`<instance>/<n>`, for operators).
    #[must_use]
    pub fn new(waker: Waker, config: RunnerConfig, instance: &str) -> Self {
        Self {
            waker,
            config,
            instance: instance.to_owned(),
            kinds: HashMap::new(),
            schedules: Vec::new(),
        }
    }

    /// Runs jobs of `kind` with `handler`, retried per `policy`. Registering a kind again
    /// replaces it.
    #[must_use]
    pub fn register<F, Fut>(mut self, kind: &'static str, policy: RetryPolicy, handler: F) -> Self
    where
        F: Fn(Job) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let handler = Box::new(handler);
        let batch = None;
        self.kinds.insert(
            kind,
            Kind {
                handler,
                batch,
                policy,
            },
        );
        self
    }

    /// Runs jobs of `kind` like [`Runner::register`] and, when one claim holds several of the
    /// same organization, through `batch` together: `batch` gets them in enqueue order and
    /// records their effects and their completion ([`crate::complete_batch`]) in one
    /// transaction, all or nothing. When it fails, each job runs through `single` (whose
    /// failures are retried or dead-lettered per `policy`, job by job).
    #[must_use]
    pub fn register_batched<F, Fut, B, BFut>(
        self,
        kind: &'static str,
        policy: RetryPolicy,
        single: F,
        batch: B,
    ) -> Self
    where
        F: Fn(Job) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
        B: Fn(Arc<Vec<Job>>) -> BFut + Send + Sync + 'static,
        BFut: Future<Output = Result<(), Failure>> + Send + 'static,
    {
        let mut this = self.register(kind, policy, single);
        if let Some(registered) = this.kinds.get_mut(kind) {
            let batch: Box<dyn BatchHandler> = Box::new(batch);
            registered.batch = Some(batch);
        }
        this
    }

    /// Runs `task` once per `period` across every instance sharing the database (the first
    /// instance to see a due slot runs it; a run interrupted by a crash waits for the next
    /// slot, so the task must be idempotent). `name` identifies the schedule in the database.
    #[must_use]
    pub fn every<F, Fut>(mut self, name: &'static str, period: Duration, task: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let task: Box<dyn Task> = Box::new(task);
        self.schedules.push(Schedule { name, period, task });
        self
    }

    /// The waker the workers wait on.
    #[must_use]
    pub fn waker(&self) -> &Waker {
        &self.waker
    }

    /// Starts the workers, the periodic tasks and the `LISTEN jobs` task.
    #[must_use]
    pub fn start(self) -> RunnerHandle {
        let (stop, stopped) = watch::channel(false);
        let this = Arc::new(self);
        let mut tasks = JoinSet::new();
        for n in 0..this.config.workers.max(1) {
            let worker: Arc<str> = format!("{}/{n}", this.instance).into();
            tasks.spawn(Arc::clone(&this).work(worker, stopped.clone()));
        }
        if !this.schedules.is_empty() {
            tasks.spawn(Arc::clone(&this).run_schedules(stopped));
        }
        let listener = tokio::spawn(crate::waker::listen(this.waker.clone()));
        RunnerHandle {
            stop,
            tasks,
            listener,
            grace: this.config.shutdown_grace,
        }
    }

    async fn work(self: Arc<Self>, worker: Arc<str>, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            // Registered before claiming, so a wake-up during the claim is not missed.
            let notified = self.waker.local().notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let pause = match self.run_once_as(&worker, &stop).await {
                Ok(0) => self.config.idle_poll,
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(%worker, error = %e, "job worker cannot claim; retrying");
                    self.config.idle_poll
                }
            };
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep(pause) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Claims one batch as worker `worker` and runs it; returns how many jobs were claimed.
    /// For tests and one-shot commands; started runners do this in a loop.
    ///
    /// # Errors
    /// [`JobError::Db`] when the claim fails (a job's own failure is recorded on it).
    pub async fn run_once(&self, worker: &str) -> Result<usize, JobError> {
        let (_stop, stopped) = watch::channel(false);
        self.run_once_as(&worker.into(), &stopped).await
    }

    async fn run_once_as(
        &self,
        worker: &Arc<str>,
        stop: &watch::Receiver<bool>,
    ) -> Result<usize, JobError> {
        let claimed = self.claim(worker).await?;
        let n = claimed.len();
        // Keys whose earlier job in this batch did not finish: their later jobs wait.
        let mut held: HashSet<(String, String)> = HashSet::new();
        for group in self.groups(claimed) {
            let group = if *stop.borrow() {
                group
            } else {
                self.run_batch(group).await
            };
            for job in group {
                let key = job.order_key.clone().map(|k| (job.kind.clone(), k));
                if *stop.borrow() || key.as_ref().is_some_and(|k| held.contains(k)) {
                    self.release(&Ticket::of(&job)).await;
                    continue;
                }
                if !self.run_job(job).await
                    && let Some(key) = key
                {
                    held.insert(key);
                }
            }
        }
        Ok(n)
    }

    /// The claimed jobs in the groups they run in, in order of each group's first job: the
    /// jobs of a batched kind and one organization together, every other job alone.
    fn groups(&self, claimed: Vec<Job>) -> Vec<Vec<Job>> {
        let mut groups: Vec<Vec<Job>> = Vec::new();
        let mut batches: HashMap<(String, OrgId), usize> = HashMap::new();
        for job in claimed {
            let batched = self
                .kinds
                .get(job.kind.as_str())
                .is_some_and(|k| k.batch.is_some());
            if !batched {
                groups.push(vec![job]);
                continue;
            }
            match batches.entry((job.kind.clone(), job.org)) {
                std::collections::hash_map::Entry::Occupied(at) => groups[*at.get()].push(job),
                std::collections::hash_map::Entry::Vacant(at) => {
                    at.insert(groups.len());
                    groups.push(vec![job]);
                }
            }
        }
        groups
    }

    /// Runs a group of two or more jobs through its kind's batch handler; returns the jobs
    /// still to run one by one: none when the batch was recorded, all of them when it failed
    /// (or the group is a single job).
    async fn run_batch(&self, group: Vec<Job>) -> Vec<Job> {
        let Some(batch) = self
            .kinds
            .get(group[0].kind.as_str())
            .and_then(|k| k.batch.as_ref())
            .filter(|_| group.len() > 1)
        else {
            return group;
        };
        let tickets: Vec<Ticket> = group.iter().map(Ticket::of).collect();
        let group = Arc::new(group);
        let outcome = self
            .run_leased(&tickets, batch.run(Arc::clone(&group)))
            .await;
        if let Err(e) = outcome {
            tracing::warn!(kind = %tickets[0].kind, jobs = tickets.len(), error = ?e, "job batch failed; running its jobs one by one");
            return Arc::try_unwrap(group).unwrap_or_else(|shared| (*shared).clone());
        }
        Vec::new()
    }

    /// Claims up to [`RunnerConfig::batch`] jobs of the kinds that run one by one, then up to
    /// [`RunnerConfig::batched`] of the batched kinds (one transaction, one statement each;
    /// none for a set of kinds this runner does not have), in that order.
    async fn claim(&self, worker: &Arc<str>) -> Result<Vec<Job>, JobError> {
        let (single, batched): (Vec<&str>, Vec<&str>) = self
            .kinds
            .keys()
            .partition(|k| self.kinds[*k].batch.is_none());
        let claims: Vec<(Vec<String>, i32)> =
            [(single, self.config.batch), (batched, self.config.batched)]
                .into_iter()
                .filter(|(kinds, _)| !kinds.is_empty())
                .map(|(kinds, limit)| (kinds.into_iter().map(str::to_owned).collect(), limit))
                .collect();
        let lease = self.config.lease.as_secs_f64();
        let owner = worker.to_string();
        let rows: Vec<Claimed> = self
            .waker
            .db()
            .system(SystemOp::JobClaim, async move |c| {
                let mut rows = Vec::new();
                for (kinds, limit) in claims {
                    let claimed: Vec<Claimed> =
                        diesel::select(claim_sql::jobs_claim(owner.clone(), kinds, limit, lease))
                            .load(c)
                            .await
                            .map_err(JobError::from)?;
                    rows.extend(claimed);
                }
                Ok::<_, JobError>(rows)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, org_id, kind, order_key, payload, attempts)| Job {
                id,
                org: OrgId(org_id),
                last_attempt: self
                    .kinds
                    .get(kind.as_str())
                    .is_some_and(|k| k.policy.exhausted(attempts)),
                kind,
                order_key,
                payload,
                attempt: attempts,
                worker: Arc::clone(worker),
            })
            .collect())
    }

    /// Runs one job and records its outcome; whether it finished.
    async fn run_job(&self, job: Job) -> bool {
        let Some(kind) = self.kinds.get(job.kind.as_str()) else {
            return false; // claimed only for registered kinds
        };
        let ticket = Ticket::of(&job);
        let outcome = self
            .run_leased(std::slice::from_ref(&ticket), kind.handler.run(job))
            .await;
        match outcome {
            Ok(Done::Recorded) => true,
            Ok(Done::Finished) => {
                self.finish(&ticket).await;
                true
            }
            Err(Failure::LeaseLost) => {
                tracing::warn!(job_id = %ticket.id, kind = %ticket.kind, worker = %ticket.worker, "job lease expired before it was recorded; another worker owns it");
                false
            }
            Err(Failure::Retry(error)) => {
                let dead = kind.policy.exhausted(ticket.attempt);
                let delay = kind.policy.delay(ticket.attempt);
                self.record_failure(&ticket, dead, delay, &error).await;
                false
            }
            Err(Failure::Permanent(error)) => {
                self.record_failure(&ticket, true, Duration::ZERO, &error)
                    .await;
                false
            }
        }
    }

    /// Runs `handler` while renewing the leases of its `jobs` every third of a lease, so jobs
    /// may run longer than one lease while their worker lives (a dead worker stops renewing).
    async fn run_leased<T>(
        &self,
        jobs: &[Ticket],
        handler: futures_util::future::BoxFuture<'static, Result<T, Failure>>,
    ) -> Result<T, Failure> {
        let handler = AssertUnwindSafe(handler).catch_unwind();
        tokio::pin!(handler);
        let period = self.config.lease / 3;
        let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tokio::select! {
                outcome = &mut handler => {
                    return outcome
                        .unwrap_or_else(|_| Err(Failure::Retry("the handler panicked".into())));
                }
                _ = renew.tick() => {
                    for job in jobs {
                        self.renew_lease(job).await;
                    }
                }
            }
        }
    }

    async fn renew_lease(&self, job: &Ticket) {
        let (org, id, worker) = (job.org, job.id, job.worker.to_string());
        let until = chrono::Utc::now()
            + chrono::Duration::from_std(self.config.lease).unwrap_or(chrono::Duration::MAX);
        let renewed = self
            .waker
            .db()
            .tenant(org, async move |tx| {
                diesel::update(held(org.0, id, worker))
                    .set(jobs::locked_until.eq(until))
                    .execute(tx)
                    .await
                    .map_err(DbError::Query)
            })
            .await;
        match renewed {
            Ok(1) => {}
            Ok(_) => tracing::warn!(job_id = %id, "job lease lost while running"),
            Err(e) => tracing::warn!(job_id = %id, error = %e, "cannot renew a job lease"),
        }
    }

    async fn finish(&self, job: &Ticket) {
        let (org, id, worker) = (job.org, job.id, job.worker.to_string());
        let deleted = self
            .waker
            .db()
            .tenant(org, async move |tx| delete_claimed(tx, id, &worker).await)
            .await;
        match deleted {
            Ok(1) => {}
            Ok(_) => {
                tracing::warn!(job_id = %id, "job finished after its lease expired; it may run again")
            }
            // Its lease expires and the job runs again: handlers are idempotent.
            Err(e) => tracing::warn!(job_id = %id, error = %e, "cannot delete a finished job"),
        }
    }

    /// Puts a failed job back for a retry after `delay`, or dead-letters it.
    async fn record_failure(&self, job: &Ticket, dead: bool, delay: Duration, error: &str) {
        let message: String = error.chars().take(500).collect();
        if dead {
            tracing::error!(job_id = %job.id, kind = %job.kind, attempt = job.attempt, error = %message, "job dead-lettered");
        } else {
            tracing::warn!(job_id = %job.id, kind = %job.kind, attempt = job.attempt, retry_in_ms = delay.as_millis() as u64, error = %message, "job failed; will retry");
        }
        let (org, id, worker) = (job.org, job.id, job.worker.to_string());
        let recorded = self
            .waker
            .db()
            .tenant(org, async move |tx| {
                let retry_in = PgInterval::from_microseconds(
                    i64::try_from(delay.as_micros()).unwrap_or(i64::MAX),
                );
                diesel::update(held(org.0, id, worker))
                    .set((
                        jobs::status.eq(if dead { "dead" } else { "pending" }),
                        jobs::run_at.eq(diesel::dsl::now.into_sql::<Timestamptz>() + retry_in),
                        jobs::last_error.eq(message),
                        jobs::locked_by.eq(None::<String>),
                        jobs::locked_until.eq(None::<DateTime<Utc>>),
                    ))
                    .execute(tx)
                    .await
                    .map_err(DbError::Query)
            })
            .await;
        if let Err(e) = recorded {
            tracing::warn!(job_id = %id, error = %e, "cannot record a job failure; its lease will expire");
        }
    }

    /// Gives a claimed job that did not start back to the queue, its attempt not counted.
    async fn release(&self, job: &Ticket) {
        let (org, id, worker) = (job.org, job.id, job.worker.to_string());
        let released = self
            .waker
            .db()
            .tenant(org, async move |tx| {
                diesel::update(held(org.0, id, worker))
                    .set((
                        jobs::status.eq("pending"),
                        jobs::attempts.eq(jobs::attempts - 1),
                        jobs::locked_by.eq(None::<String>),
                        jobs::locked_until.eq(None::<chrono::DateTime<chrono::Utc>>),
                    ))
                    .execute(tx)
                    .await
                    .map_err(DbError::Query)
            })
            .await;
        if let Err(e) = released {
            tracing::warn!(job_id = %id, error = %e, "cannot release a job; its lease will expire");
        }
    }

    async fn run_schedules(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            for schedule in &self.schedules {
                if *stop.borrow() {
                    return;
                }
                schedule.run_if_due(self.waker.db()).await;
            }
            tokio::select! {
                () = tokio::time::sleep(self.config.schedule_poll) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

/// What the runner records a job's outcome by (the job without its payload).
struct Ticket {
    id: Uuid,
    org: OrgId,
    kind: String,
    attempt: i32,
    worker: Arc<str>,
}

impl Ticket {
    fn of(job: &Job) -> Self {
        Self {
            id: job.id,
            org: job.org,
            kind: job.kind.clone(),
            attempt: job.attempt,
            worker: Arc::clone(&job.worker),
        }
    }
}

/// A started [`Runner`]. [`RunnerHandle::shutdown`] stops it gracefully; dropping it aborts its
/// tasks (running jobs then wait for their lease).
#[derive(Debug)]
pub struct RunnerHandle {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    listener: JoinHandle<()>,
    grace: Duration,
}

impl RunnerHandle {
    /// Stops claiming; running jobs and periodic tasks finish (claimed jobs not yet started
    /// are released at once) within the grace period, after which what still runs is aborted
    /// and its jobs wait for their lease.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let drained = tokio::time::timeout(self.grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                "job runner: jobs still running after the grace period were abandoned to their lease"
            );
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
        }
        self.listener.abort();
    }
}

impl Drop for RunnerHandle {
    fn drop(&mut self) {
        self.listener.abort();
    }
}
