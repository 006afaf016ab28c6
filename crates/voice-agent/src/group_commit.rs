//! Group commit of `end-of-call-report` acknowledgements (issue 22, "acknowledge in one
//! commit"; docs/benchmarks.md, "Group commit").
//!
//! A report is acknowledged only after its call row and its `voice.report` job are committed.
//! Committed one by one, every report pays its own `BEGIN`, tenant setting, `COMMIT` and WAL
//! flush. Here a request queues its report and waits; at most [`MAX_COMMITTERS`] committer tasks
//! per instance take what is queued (up to [`MAX_BATCH`] reports), write each organization's
//! reports in one tenant transaction with their statements pipelined, commit, and answer every
//! waiting request. While the committers are busy new reports queue, so the batch grows with
//! the load and a lone report is committed at once (four round trips, as before).
//!
//! Nothing changes for a report's fate: it is answered only after the commit that stored it,
//! a redelivery is still recognised (in the same batch too: PostgreSQL runs the statements in
//! queue order), and when a batch's transaction fails each of its reports is retried in a
//! transaction of its own, so one bad report never fails the others. A request that goes away
//! while it waits does not withdraw its report: it is stored, and Vapi's retry then finds it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
#[cfg(test)]
use std::time::Duration;

use crm::call_logs::VapiCallRow;
use db::{Db, DbError, OrgId};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::VoiceError;
use crate::priority::{AnalysisTurn, AnalysisTurns};

/// At most this many batches are committed at once by one instance.
pub const MAX_COMMITTERS: usize = 4;
/// At most this many reports go into one batch.
pub const MAX_BATCH: usize = 64;
/// From this many reports waiting for their commit on one instance (queued or being
/// committed), its acknowledgements count as backed up and the analysis yields to them
/// (crate::priority): twice [`MAX_COMMITTERS`].
pub const BACKED_UP: usize = 2 * MAX_COMMITTERS;

/// One report to store: its organization, its call row and the job that will analyse it.
#[derive(Debug)]
pub(crate) struct ReportToStore {
    /// The organization the call was routed to.
    pub org: OrgId,
    /// The call's row as its owner writes it (marked as having its report).
    pub row: VapiCallRow<'static>,
    /// The `voice.report` job, enqueued only when the report is new.
    pub job: jobs::NewJob,
}

/// A queued report and the request waiting for its outcome.
struct Waiting {
    report: ReportToStore,
    reply: oneshot::Sender<Result<Option<Uuid>, VoiceError>>,
}

/// The queue and how many committers are draining it.
#[derive(Default)]
struct Queue {
    waiting: VecDeque<Waiting>,
    committers: usize,
}

/// The group committer of one instance (cheap to clone: one shared queue).
#[derive(Clone)]
pub(crate) struct ReportCommits {
    shared: Arc<Shared>,
}

struct Shared {
    db: Db,
    jobs: jobs::Waker,
    queue: Mutex<Queue>,
    /// Reports waiting for their commit ([`ReportCommits::store`] calls under way).
    in_flight: AtomicUsize,
    analyses: AnalysisTurns,
}

impl std::fmt::Debug for ReportCommits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportCommits").finish_non_exhaustive()
    }
}

impl ReportCommits {
    pub(crate) fn new(db: Db, jobs: jobs::Waker) -> Self {
        let queue = Mutex::new(Queue::default());
        let analyses = AnalysisTurns::default();
        Self {
            shared: Arc::new(Shared {
                db,
                jobs,
                queue,
                in_flight: AtomicUsize::new(0),
                analyses,
            }),
        }
    }

    /// Waits for an analysis's turn: at once while fewer than [`BACKED_UP`] reports wait for
    /// their commit, else when no other analysis runs on this instance (crate::priority,
    /// decision 51).
    pub(crate) async fn analysis_turn(&self) -> AnalysisTurn {
        let in_flight = &self.shared.in_flight;
        let backed_up = || in_flight.load(Ordering::Relaxed) >= BACKED_UP;
        self.shared.analyses.turn(backed_up).await
    }

    /// Stores `report` with whatever else is queued and answers after the commit: the call
    /// row's id, or `None` for a redelivery or another organization's call id (nothing
    /// written then). Must be called inside a Tokio runtime (a committer may be spawned).
    ///
    /// # Errors
    /// [`VoiceError::Db`] when the report could not be stored (it was not acknowledged).
    pub(crate) async fn store(&self, report: ReportToStore) -> Result<Option<Uuid>, VoiceError> {
        let _in_flight = InFlight::count(&self.shared);
        let (reply, outcome) = oneshot::channel();
        let start_committer = {
            let mut queue = self.shared.lock();
            queue.waiting.push_back(Waiting { report, reply });
            let start = queue.committers < MAX_COMMITTERS;
            queue.committers += usize::from(start);
            start
        };
        if start_committer {
            tokio::spawn(Arc::clone(&self.shared).commit_queued());
        }
        outcome.await.unwrap_or_else(|_| {
            Err(VoiceError::Db(DbError::Pool(
                "the report's committer stopped before answering".into(),
            )))
        })
    }
}

/// One report counted in [`Shared::in_flight`] until dropped (also when its request goes away).
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn count(shared: &'a Shared) -> Self {
        shared.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(&shared.in_flight)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A committer's place in [`Queue::committers`]. Given back under the lock that saw the queue
/// empty ([`CommitterSlot::next_batch_or_release`]); if the task ends otherwise (a panic, or
/// its runtime shutting down), the drop gives it back and, while a runtime is still there,
/// starts a new committer for what is still queued.
struct CommitterSlot {
    shared: Arc<Shared>,
    released: bool,
}

impl CommitterSlot {
    /// The next batch, or `None` (and the place given back) when nothing is queued.
    fn next_batch_or_release(&mut self) -> Option<Vec<Waiting>> {
        let mut queue = self.shared.lock();
        let n = queue.waiting.len().min(MAX_BATCH);
        if n == 0 {
            queue.committers -= 1;
            self.released = true;
            return None;
        }
        Some(queue.waiting.drain(..n).collect())
    }
}

impl Drop for CommitterSlot {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        let restart = {
            let mut queue = self.shared.lock();
            queue.committers -= 1;
            let restart = !queue.waiting.is_empty();
            queue.committers += usize::from(restart);
            restart
        };
        if !restart {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(Arc::clone(&self.shared).commit_queued())),
            // No runtime left to run one (and none to run the waiting requests either): give
            // the place back; nothing queued was acknowledged.
            Err(_) => self.shared.lock().committers -= 1,
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A committer: commits batches until the queue is empty, then ends.
    async fn commit_queued(self: Arc<Self>) {
        let mut slot = CommitterSlot {
            shared: self,
            released: false,
        };
        while let Some(batch) = slot.next_batch_or_release() {
            slot.shared.commit(batch).await;
        }
    }

    /// Commits `batch`, one transaction per organization (concurrently), and answers each
    /// waiting request.
    async fn commit(&self, batch: Vec<Waiting>) {
        let mut by_org: Vec<(OrgId, Vec<Waiting>)> = Vec::new();
        for waiting in batch {
            let org = waiting.report.org;
            match by_org.iter_mut().find(|(o, _)| *o == org) {
                Some((_, group)) => group.push(waiting),
                None => by_org.push((org, vec![waiting])),
            }
        }
        let stored = futures_util::future::join_all(
            by_org
                .into_iter()
                .map(|(org, group)| self.commit_group(org, group)),
        )
        .await;
        if stored.into_iter().any(|any| any) {
            self.jobs.wake();
        }
    }

    /// Commits one organization's reports together; when that fails, each in a transaction of
    /// its own. Returns whether any job was enqueued.
    async fn commit_group(&self, org: OrgId, group: Vec<Waiting>) -> bool {
        let (reports, replies): (Vec<_>, Vec<_>) =
            group.into_iter().map(|w| (w.report, w.reply)).unzip();
        match self.store_together(org, &reports).await {
            Ok(ids) => answer_all(replies, ids),
            Err(e) if reports.len() == 1 => {
                if let Some(reply) = replies.into_iter().next() {
                    drop(reply.send(Err(e)));
                }
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, reports = reports.len(), "a batch of reports failed; storing each alone");
                let mut any = false;
                for (report, reply) in reports.iter().zip(replies) {
                    let outcome = self.store_together(org, std::slice::from_ref(report)).await;
                    any |= matches!(outcome, Ok(ref ids) if ids[0].is_some());
                    drop(reply.send(outcome.map(|mut ids| ids.remove(0))));
                }
                any
            }
        }
    }

    /// One tenant transaction: the call rows (pipelined, in order), then the jobs of the new
    /// reports (pipelined). Returns each report's row id, `None` where nothing was written.
    async fn store_together(
        &self,
        org: OrgId,
        reports: &[ReportToStore],
    ) -> Result<Vec<Option<Uuid>>, VoiceError> {
        self.db
            .tenant(org, async move |tx| {
                let rows = reports.iter().map(|r| &r.row);
                let stored = crm::call_logs::store_reports(tx, rows).await?;
                let new_jobs = reports
                    .iter()
                    .zip(&stored)
                    .filter(|(_, row)| row.is_some())
                    .map(|(r, _)| &r.job);
                jobs::enqueue_all(tx, new_jobs).await?;
                Ok::<_, VoiceError>(stored.into_iter().map(|r| r.map(|r| r.id)).collect())
            })
            .await
    }
}

/// Sends each waiting request its row id; returns whether any report was new.
fn answer_all(
    replies: Vec<oneshot::Sender<Result<Option<Uuid>, VoiceError>>>,
    ids: Vec<Option<Uuid>>,
) -> bool {
    let any = ids.iter().any(Option::is_some);
    for (reply, id) in replies.into_iter().zip(ids) {
        // A request that went away still had its report stored; nothing to tell it.
        drop(reply.send(Ok(id)));
    }
    any
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use db::test_support::{TestDatabase, create_org};
    use serde_json::json;

    fn report(org: OrgId, call: &str) -> ReportToStore {
        ReportToStore {
            org,
            row: VapiCallRow {
                vapi_call_id: call.to_owned().into(),
                ours: None,
                phone: Some("+15550000001".into()),
                caller_name: None,
                call_type: "inbound",
                status: "completed",
                contact_id: None,
                started_at: None,
                ended_at: None,
                // What marks a row as having its report (call_logs_upsert_vapi).
                metadata: json!({"report_received_at": "2026-12-07T12:00:00Z"}),
            },
            job: jobs::NewJob::new("voice.report", json!({"call": call}))
                .ordered_by(format!("vapi:{call}")),
        }
    }

    /// Runs `f` on a runtime of its own with one thread, so that tasks it spawns run only when
    /// it waits (the test database itself needs the multi-threaded runtime).
    async fn on_one_thread<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> T {
        tokio::task::spawn_blocking(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(f)
        })
        .await
        .unwrap()
    }

    /// A `count(*) AS n` query's answer, read as the superuser (past row-level security).
    fn count(database: &TestDatabase, sql: &str) -> i64 {
        let out = database.psql_superuser(sql);
        out.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{sql}: {out}"))
    }

    /// Reports of two organizations queued together, each call twice: one transaction per
    /// organization stores them all (rows written by one transaction share its `xmin`), each
    /// call has one row and one job (the second copy is the redelivery it is), and every row and
    /// job is its organization's.
    #[tokio::test(flavor = "multi_thread")]
    async fn reports_queued_together_commit_once_per_organization_and_each_call_once() {
        let database = TestDatabase::new().await;
        let db = database.db();
        let (a, b) = (create_org(&db, "A").await, create_org(&db, "B").await);
        let commits = ReportCommits::new(db.clone(), jobs::Waker::new(db, Duration::ZERO));
        // On one thread, join_all polls every store (each queues its report) before the
        // spawned committers run: the first committer takes all 24.
        let outcomes = on_one_thread(async move {
            let stores = (0..24).map(|i| {
                let org = if i % 2 == 0 { a } else { b };
                commits.store(report(org, &format!("call-{org}-{}", i / 4)))
            });
            futures_util::future::join_all(stores).await
        })
        .await;

        let new = outcomes.iter().filter(|o| matches!(o, Ok(Some(_)))).count();
        let repeated = outcomes.iter().filter(|o| matches!(o, Ok(None))).count();
        assert_eq!((new, repeated), (12, 12), "{outcomes:?}");
        assert_eq!(count(&database, "SELECT count(*) AS n FROM call_logs"), 12);
        assert_eq!(count(&database, "SELECT count(*) AS n FROM jobs"), 12);
        let transactions = "SELECT count(DISTINCT xmin::text) AS n FROM call_logs";
        assert_eq!(count(&database, transactions), 2);
        for org in [a, b] {
            let own = format!(
                "SELECT count(*) AS n FROM call_logs c JOIN jobs j ON j.order_key = 'vapi:' || \
                 c.vapi_call_id AND j.org_id = c.org_id AND j.xmin = c.xmin \
                 WHERE c.org_id = '{org}' AND c.vapi_call_id LIKE 'call-{org}-%'"
            );
            assert_eq!(count(&database, &own), 6, "{org}");
        }
    }

    /// A report that cannot be stored (here a row its table's checks refuse) fails its batch's
    /// transaction; each report of the batch is then stored alone, so only that one is refused
    /// (not acknowledged) and the others are stored, each with its job.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_report_that_fails_its_batch_fails_alone() {
        let database = TestDatabase::new().await;
        let db = database.db();
        let org = create_org(&db, "A").await;
        let commits = ReportCommits::new(db.clone(), jobs::Waker::new(db, Duration::ZERO));
        let mut refused = report(org, "call-refused");
        refused.row.call_type = "neither-inbound-nor-outbound";
        let outcomes = on_one_thread(async move {
            futures_util::future::join_all([
                commits.store(report(org, "call-1")),
                commits.store(refused),
                commits.store(report(org, "call-2")),
            ])
            .await
        })
        .await;

        assert!(matches!(outcomes[0], Ok(Some(_))), "{outcomes:?}");
        assert!(
            matches!(outcomes[1], Err(VoiceError::Crm(_))),
            "{outcomes:?}"
        );
        assert!(matches!(outcomes[2], Ok(Some(_))), "{outcomes:?}");
        let stored = "SELECT count(*) AS n FROM call_logs c JOIN jobs j \
                      ON j.order_key = 'vapi:' || c.vapi_call_id";
        assert_eq!(count(&database, stored), 2);
        assert_eq!(count(&database, "SELECT count(*) AS n FROM jobs"), 2);
    }
}
