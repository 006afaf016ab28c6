//! The job runner's guarantees on a real database, one test each: enqueue joins the caller's
//! transaction, each job runs once across concurrent workers, a dead worker's job runs again
//! after its lease while a live worker's long job keeps it, one key's jobs run in order (across
//! a retry), the kind's retry policy and
//! dead letter, exactly-once effect through `complete`, batches per organization (all or
//! nothing, then one by one), the wake-up after commit and its
//! coalescing, graceful shutdown, periodic tasks once per slot across instances, and tenant
//! isolation of `jobs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use db::test_support::{IsolationProbe, TestDatabase, assert_tenant_isolation, create_org};
use db::{AsyncPgConnection, ConnFuture, Db, DbError, OrgId, SystemOp};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel_async::RunQueryDsl;
use jobs::{Done, Failure, Job, NewJob, RetryPolicy, Runner, RunnerConfig, Waker};
use serde_json::json;
use uuid::Uuid;

/// An atomic counter's value (a free function: diesel's `RunQueryDsl::load` would shadow the
/// method).
fn value(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

fn config(workers: usize) -> RunnerConfig {
    RunnerConfig {
        workers,
        batch: 8,
        batched: 8,
        lease: Duration::from_secs(30),
        idle_poll: Duration::from_millis(50),
        schedule_poll: Duration::from_millis(50),
        shutdown_grace: Duration::from_secs(5),
    }
}

fn quick(max_attempts: i32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
    }
}

async fn enqueue_all(db: &Db, org: OrgId, jobs: Vec<NewJob>) -> Vec<Uuid> {
    db.tenant(org, async move |tx| {
        let mut ids = Vec::new();
        for job in jobs {
            ids.push(jobs::enqueue(tx, job).await?);
        }
        Ok::<_, DbError>(ids)
    })
    .await
    .unwrap()
}

#[derive(QueryableByName, Debug)]
struct Row {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
}

/// The job's row, or `None` once it finished (deleted).
async fn row(db: &Db, org: OrgId, id: Uuid) -> Option<Row> {
    db.tenant(org, async move |tx| {
        let rows: Vec<Row> =
            diesel::sql_query("SELECT status, attempts, last_error FROM jobs WHERE id = $1")
                .bind::<diesel::sql_types::Uuid, _>(id)
                .load(tx)
                .await?;
        Ok::<_, DbError>(rows.into_iter().next())
    })
    .await
    .unwrap()
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn open_jobs(db: &Db, org: OrgId) -> i64 {
    db.tenant(org, async move |tx| {
        let row: Count = diesel::sql_query("SELECT count(*) AS n FROM jobs")
            .get_result(tx)
            .await?;
        Ok::<_, DbError>(row.n)
    })
    .await
    .unwrap()
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_exists_only_when_its_transaction_commits() {
    let tdb = TestDatabase::new().await;
    let db = tdb.db();
    let org = create_org(&db, "Clinic").await;
    let rolled_back: Result<(), DbError> = db
        .tenant(org, async move |tx| {
            jobs::enqueue(tx, NewJob::new("test.noop", json!({}))).await?;
            Err(DbError::Pool("any error rolls the transaction back".into()))
        })
        .await;
    assert!(rolled_back.is_err());
    assert_eq!(open_jobs(&db, org).await, 0);

    let ran = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&ran);
    let runner = Runner::new(Waker::new(db.clone(), Duration::ZERO), config(1), "t").register(
        "test.noop",
        quick(3),
        move |_job| {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(Done::Finished)
            }
        },
    );
    enqueue_all(&db, org, vec![NewJob::new("test.noop", json!({}))]).await;
    assert_eq!(runner.run_once("w").await.unwrap(), 1);
    assert_eq!(value(&ran), 1);
    assert_eq!(open_jobs(&db, org).await, 0, "a finished job is deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_workers_on_two_instances_run_each_job_once() {
    let tdb = TestDatabase::new().await;
    let db = tdb.db();
    let (org_a, org_b) = (create_org(&db, "A").await, create_org(&db, "B").await);
    let runs: Arc<Mutex<HashMap<u64, usize>>> = Arc::default();
    let instance = |name: &str| {
        let runs = Arc::clone(&runs);
        Runner::new(Waker::new(db.clone(), Duration::ZERO), config(4), name).register(
            "test.count",
            quick(3),
            move |job: Job| {
                let runs = Arc::clone(&runs);
                async move {
                    let n = job.payload["n"].as_u64().unwrap();
                    *runs.lock().unwrap().entry(n).or_default() += 1;
                    Ok(Done::Finished)
                }
            },
        )
    };
    let (one, two) = (instance("one").start(), instance("two").start());
    for (org, offset) in [(org_a, 0), (org_b, 1000)] {
        let batch = (0..200)
            .map(|n| NewJob::new("test.count", json!({ "n": n + offset })))
            .collect();
        enqueue_all(&db, org, batch).await;
    }
    eventually("every job ran", async || runs.lock().unwrap().len() == 400).await;
    one.shutdown().await;
    two.shutdown().await;
    assert!(
        runs.lock().unwrap().values().all(|&n| n == 1),
        "a job ran twice"
    );
    assert_eq!(open_jobs(&db, org_a).await + open_jobs(&db, org_b).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_workers_job_runs_again_after_its_lease() {
    let tdb = TestDatabase::new().await;
    let db = tdb.db();
    let org = create_org(&db, "Clinic").await;
    let ids = enqueue_all(&db, org, vec![NewJob::new("test.lease", json!({}))]).await;
    // A worker claims it with a short lease and dies without recording anything.
    db.system(SystemOp::JobClaim, async move |c| {
        diesel::sql_query("SELECT * FROM jobs_claim('crashed/0', ARRAY['test.lease'], 10, 0.2)")
            .execute(c)
            .await
            .map_err(DbError::Query)
    })
    .await
    .unwrap();
    let runner = Runner::new(Waker::new(db.clone(), Duration::ZERO), config(1), "t").register(
        "test.lease",
        quick(3),
        |_job| async { Ok(Done::Finished) },
    );
    assert_eq!(runner.run_once("w").await.unwrap(), 0, "still leased");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(runner.run_once("w").await.unwrap(), 1, "claimed again");
    assert!(row(&db, org, ids[0]).await.is_none());
}

/// A claim's transaction commits without waiting for its WAL flush (migration 000029: a lost
/// claim only leaves its jobs claimable again), and only the claim's: the setting ends with the
/// claim's transaction, so the job's effects and its completion commit as the server is
/// configured (synchronously in production; the test cluster is not durable at all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_commits_without_waiting_for_its_flush_and_nothing_else_does() {
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = Text)]
        setting: String,
    }
    let tdb = TestDatabase::new().await;
    let db = tdb.db();
    let org = create_org(&db, "Clinic").await;
    enqueue_all(&db, org, vec![NewJob::new("test.flush", json!({}))]).await;
    let setting = "SELECT current_setting('synchronous_commit') AS setting";
    let in_claim = db
        .system(SystemOp::JobClaim, async move |c| {
            diesel::sql_query("SET LOCAL synchronous_commit = on")
                .execute(c)
                .await?;
            diesel::sql_query("SELECT * FROM jobs_claim('w/0', ARRAY['test.flush'], 10, 30)")
                .execute(c)
                .await?;
            let row: Setting = diesel::sql_query(setting).get_result(c).await?;
            Ok::<_, DbError>(row.setting)
        })
        .await
        .unwrap();
    assert_eq!(in_claim, "off");
    let (afterwards, configured) = db
        .tenant(org, async move |tx| {
            let now: Setting = diesel::sql_query(setting).get_result(tx).await?;
            let configured: Setting = diesel::sql_query(
                "SELECT reset_val AS setting FROM pg_settings WHERE name = 'synchronous_commit'",
            )
            .get_result(tx)
            .await?;
            Ok::<_, DbError>((now.setting, configured.setting))
        })
        .await
        .unwrap();
    assert_eq!(afterwards, configured);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_running_longer_than_its_lease_keeps_it_while_its_worker_lives() {
    let tdb = TestDatabase::new().await;
    let db = tdb.db();
    let org = create_org(&db, "Clinic").await;
    let runs = Arc::new(AtomicUsize::new(0));
    let instance = |name: &str| {
        let runs = Arc::clone(&runs);
        // Renewed every third of the lease: a renewal may come 600 ms late (a loaded CI host)
        // before the other instance could take the job.
        let mut short_lease = config(1);
        short_lease.lease = Duration::from_millis(900);
        Runner::new(Waker::new(db.clone(), Duration::ZERO), short_lease, name).register(
            "test.long",
            quick(3),
            move |_job| {
                let runs = Arc::clone(&runs);
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(2_700)).await;
                    Ok(Done::Finished)
                }
            },
        )
    };
    let ids = enqueue_all(&db, org, vec![NewJob::new("test.long", json!({}))]).await;
    let first = instance("first").start();
    eventually("the job started", async || value(&runs) == 1).await;
    let second = instance("second");
    for _ in 0..20 {
        assert_eq!(
            second.run_once("second/0").await.unwrap(),
            0,
            "the lease was renewed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eventually("the job finished", async || {
        row(&db, org, ids[0]).await.is_none()
    })
    .await;
    first.shutdown().await;
    assert_eq!(value(&runs), 1, "it ran once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_with_one_key_run_in_enqueue_order_even_across_a_retry() {
    let tdb = TestDatabase::new().await;
    let db = tdb.db();
    let org = create_org(&db, "Clinic").await;
    let seen: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let failed_once = Arc::new(AtomicUsize::new(0));
    let (log, fail) = (Arc::clone(&seen), Arc::clone(&failed_once));
    let handler = move |job: Job| {
        let (log, fail) = (Arc::clone(&log), Arc::clone(&fail));
        async move {
            let n = job.payload["n"].as_u64().unwrap();
            // The key's second job fails on its first attempt: the rest of the key must wait.
            if job.order_key.as_deref() == Some("call-a")
                && n == 1
                && fail.fetch_add(1, Ordering::SeqCst) == 0
            {
                return Err(Failure::Retry("provider down".into()));
            }
            log.lock().unwrap().push((job.order_key.unwrap(), n));
            Ok(Done::Finished)
        }
    };
    let runner = Runner::new(Waker::new(db.clone(), Duration::ZERO), config(4), "t")
        .register("test.ordered", quick(5), handler)
        .start();
    let batch = (0..30)
        .map(|n| {
            let key = if n % 2 == 0 { "call-a" } else { "call-b" };
            NewJob::new("test.ordered", json!({ "n": n / 2 })).ordered_by(key)
        })
        .collect();
    enqueue_all(&db, org, batch).await;
    eventually("all 30 ran", async || seen.lock().unwrap().len() == 30).await;
    runner.shutdown().await;
    let seen = seen.lock().unwrap();
    for key in ["call-a", "call-b"] {
        let order: Vec<u64> = seen
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, n)| *n)
            .collect();
        assert_eq!(order, (0..15).collect::<Vec<_>>(), "{key} ran out of order");
    }
    assert_eq!(value(&failed_once), 2, "the failed job ran again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_is_retried_per_its_kinds_policy_then_dead_lettered() {
    let tdb = TestDatabase::new().await;
    let db = tdb.db();
    let org = create_org(&db, "Clinic").await;
    let last_attempts: Arc<Mutex<Vec<(i32, bool)>>> = Arc::default();
    let seen = Arc::clone(&last_attempts);
    let runner = Runner::new(Waker::new(db.clone(), Duration::ZERO), config(1), "t")
        .register("test.flaky", quick(3), move |job: Job| {
            seen.lock().unwrap().push((job.attempt, job.last_attempt));
            async { Err(Failure::Retry("provider answered 503".into())) }
        })
        .register("test.bad", quick(3), |_job| async {
            Err(Failure::Permanent("payload names no appointment".into()))
        })
        .register(
            "test.slow_retry",
            RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_secs(3600),
                max_delay: Duration::from_secs(3600),
            },
            |_job| async { Err(Failure::Retry("later".into())) },
        );
    let ids = enqueue_all(
        &db,
        org,
        vec![
            NewJob::new("test.flaky", json!({})),
            NewJob::new("test.bad", json!({})),
            NewJob::new("test.slow_retry", json!({})),
        ],
    )
    .await;
    for _ in 0..5 {
        runner.run_once("w").await.unwrap();
    }
    assert_eq!(
        *last_attempts.lock().unwrap(),
        [(1, false), (2, false), (3, true)],
        "the handler knows its last attempt"
    );
    let flaky = row(&db, org, ids[0]).await.unwrap();
    assert_eq!((flaky.status.as_str(), flaky.attempts), ("dead", 3));
    assert_eq!(flaky.last_error.as_deref(), Some("provider answered 503"));
    let bad = row(&db, org, ids[1]).await.unwrap();
    assert_eq!(
        (bad.status.as_str(), bad.attempts),
        ("dead", 1),
        "permanent: no retry"
    );
    let slow = row(&db, org, ids[2]).await.unwrap();
    assert_eq!(
        (slow.status.as_str(), slow.attempts),
        ("pending", 1),
        "waits for its delay"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_on_commits_the_effect_with_the_completion_and_refuses_a_lost_lease() {
    let tdb = TestDatabase::new().await;
    let db = tdb.db();
    let org = create_org(&db, "Clinic").await;
    let handler_db = db.clone();
    // The effect: a follow-up job written in the same transaction as the completion.
    let runner = Runner::new(Waker::new(db.clone(), Duration::ZERO), config(1), "t").register(
        "test.effect",
        quick(3),
        move |job: Job| {
            let db = handler_db.clone();
            async move {
                let steal = job.payload["steal"].as_bool().unwrap_or(false);
                db.tenant(job.org, async move |tx| {
                    jobs::enqueue(tx, NewJob::new("test.follow_up", json!({}))).await?;
                    if steal {
                        // Another worker took the job meanwhile (its lease expired).
                        diesel::sql_query("UPDATE jobs SET locked_by = 'other/0' WHERE id = $1")
                            .bind::<diesel::sql_types::Uuid, _>(job.id)
                            .execute(tx)
                            .await
                            .map_err(DbError::Query)?;
                    }
                    job.complete(tx).await
                })
                .await?;
                Ok(Done::Recorded)
            }
        },
    );
    enqueue_all(&db, org, vec![NewJob::new("test.effect", json!({}))]).await;
    runner.run_once("w").await.unwrap();
    assert_eq!(
        open_jobs(&db, org).await,
        1,
        "the follow-up only: the job completed with it"
    );

    db.tenant(org, async move |tx| {
        diesel::sql_query("DELETE FROM jobs")
            .execute(tx)
            .await
            .map_err(DbError::Query)
    })
    .await
    .unwrap();
    let ids = enqueue_all(
        &db,
        org,
        vec![NewJob::new("test.effect", json!({ "steal": true }))],
    )
    .await;
    runner.run_once("w").await.unwrap();
    let job = row(&db, org, ids[0]).await.unwrap();
    assert_eq!(job.status, "running", "left to the worker that owns it now");
    assert_eq!(
        open_jobs(&db, org).await,
        1,
        "no follow-up: the effect rolled back"
    );
}

/// What the batched kind's handlers saw: `(organization, payload numbers)` per batch, and the
/// payload numbers run one by one.
#[derive(Default)]
struct Seen {
    batches: Vec<(OrgId, Vec<i64>)>,
    singles: Vec<i64>,
}

/// A batched kind whose effect is one follow-up job per job; a job with `"bad": true` fails its
/// batch (which then rolls back) and, alone, fails for good.
fn batched_runner(db: &Db, seen: &Arc<Mutex<Seen>>) -> Runner {
    batched_runner_with(db, seen, config(1))
}

/// [`batched_runner`] with `config`.
fn batched_runner_with(db: &Db, seen: &Arc<Mutex<Seen>>, config: RunnerConfig) -> Runner {
    let (single_db, batch_db) = (db.clone(), db.clone());
    let (single_seen, batch_seen) = (Arc::clone(seen), Arc::clone(seen));
    let single = move |job: Job| {
        let (db, seen) = (single_db.clone(), Arc::clone(&single_seen));
        async move {
            seen.lock()
                .unwrap()
                .singles
                .push(job.payload["n"].as_i64().unwrap());
            if job.payload["bad"] == true {
                return Err(Failure::Permanent("bad".into()));
            }
            db.tenant(job.org, async move |tx| {
                jobs::enqueue(tx, NewJob::new("test.follow_up", json!({}))).await?;
                job.complete(tx).await
            })
            .await?;
            Ok(Done::Recorded)
        }
    };
    let batch = move |batch: Arc<Vec<Job>>| {
        let (db, seen) = (batch_db.clone(), Arc::clone(&batch_seen));
        async move {
            let org = batch[0].org;
            let numbers = batch
                .iter()
                .map(|j| j.payload["n"].as_i64().unwrap())
                .collect();
            seen.lock().unwrap().batches.push((org, numbers));
            db.tenant(org, async move |tx| {
                for job in batch.iter() {
                    jobs::enqueue(tx, NewJob::new("test.follow_up", json!({}))).await?;
                    if job.payload["bad"] == true {
                        return Err(Failure::Retry("a bad job in the batch".into()));
                    }
                }
                jobs::complete_batch(tx, &batch).await?;
                Ok(())
            })
            .await
        }
    };
    Runner::new(Waker::new(db.clone(), Duration::ZERO), config, "t").register_batched(
        "test.batched",
        quick(3),
        single,
        batch,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batched_kind_runs_each_organizations_jobs_together_and_one_by_one_after_a_failure() {
    let tdb = TestDatabase::new().await;
    let db = tdb.db();
    let (a, b) = (create_org(&db, "A").await, create_org(&db, "B").await);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let runner = batched_runner(&db, &seen);
    let job = |n: i64| NewJob::new("test.batched", json!({ "n": n }));
    enqueue_all(&db, a, vec![job(1), job(2)]).await;
    enqueue_all(&db, b, vec![job(3), job(4)]).await;
    enqueue_all(&db, a, vec![job(5)]).await;
    runner.run_once("w").await.unwrap();
    {
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen.batches,
            vec![(a, vec![1, 2, 5]), (b, vec![3, 4])],
            "one batch per organization, in enqueue order"
        );
        assert!(seen.singles.is_empty(), "{:?}", seen.singles);
    }
    assert_eq!(
        open_jobs(&db, a).await,
        3,
        "A: three follow-ups, its jobs completed"
    );
    assert_eq!(
        open_jobs(&db, b).await,
        2,
        "B: two follow-ups, its jobs completed"
    );

    let bad = NewJob::new("test.batched", json!({ "n": 7, "bad": true }));
    let ids = enqueue_all(&db, a, vec![job(6), bad, job(8)]).await;
    runner.run_once("w").await.unwrap();
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.batches.last(), Some(&(a, vec![6, 7, 8])));
        assert_eq!(
            seen.singles,
            vec![6, 7, 8],
            "after the failed batch, one by one"
        );
    }
    let dead = row(&db, a, ids[1]).await.unwrap();
    assert_eq!(
        (dead.status.as_str(), dead.last_error.as_deref()),
        ("dead", Some("bad"))
    );
    assert!(row(&db, a, ids[0]).await.is_none() && row(&db, a, ids[2]).await.is_none());
    assert_eq!(
        open_jobs(&db, a).await,
        3 + 2 + 1,
        "the failed batch's follow-ups rolled back: two from the single runs, one dead job"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wake_after_commit_starts_an_idle_worker_at_once_and_a_burst_sends_one_notify() {
    let tdb = TestDatabase::new().await;
    let db = tdb.db();
    let org = create_org(&db, "Clinic").await;
    let mut listener = db.listen(&[jobs::CHANNEL]).await.unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&ran);
    let mut slow_poll = config(1);
    slow_poll.idle_poll = Duration::from_secs(60);
    let waker = Waker::new(db.clone(), Duration::from_millis(100));
    let runner = Runner::new(waker.clone(), slow_poll, "t")
        .register("test.wake", quick(3), move |_job| {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(Done::Finished)
            }
        })
        .start();
    tokio::time::sleep(Duration::from_millis(200)).await; // the worker is idle now
    listener.wait(Duration::from_millis(10)).await.unwrap(); // nothing queued yet
    enqueue_all(&db, org, vec![NewJob::new("test.wake", json!({}))]).await;
    let woken = Instant::now();
    for _ in 0..50 {
        waker.wake();
    }
    eventually("the idle worker ran the job", async || value(&ran) == 1).await;
    assert!(
        woken.elapsed() < Duration::from_secs(5),
        "woken, not polled"
    );
    let mut notes = 0;
    let deadline = Instant::now() + Duration::from_millis(500);
    while Instant::now() < deadline {
        notes += listener
            .wait(Duration::from_millis(50))
            .await
            .unwrap()
            .len();
    }
    assert_eq!(notes, 1, "50 wake-ups in one window send one NOTIFY");
    runner.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_running_job_and_releases_the_claimed_rest() {
    let tdb = TestDatabase::new().await;
    let db = tdb.db();
    let org = create_org(&db, "Clinic").await;
    let started = Arc::new(tokio::sync::Notify::new());
    let finished = Arc::new(AtomicUsize::new(0));
    let (start_signal, done) = (Arc::clone(&started), Arc::clone(&finished));
    let runner = Runner::new(Waker::new(db.clone(), Duration::ZERO), config(1), "t").register(
        "test.slow",
        quick(3),
        move |_job| {
            let (start_signal, done) = (Arc::clone(&start_signal), Arc::clone(&done));
            async move {
                start_signal.notify_one();
                tokio::time::sleep(Duration::from_millis(300)).await;
                done.fetch_add(1, Ordering::SeqCst);
                Ok(Done::Finished)
            }
        },
    );
    let ids = enqueue_all(
        &db,
        org,
        (0..3)
            .map(|_| NewJob::new("test.slow", json!({})))
            .collect(),
    )
    .await;
    let handle = runner.start();
    started.notified().await;
    handle.shutdown().await;
    assert_eq!(value(&finished), 1, "the running job finished");
    assert!(row(&db, org, ids[0]).await.is_none());
    for id in &ids[1..] {
        let rest = row(&db, org, *id).await.unwrap();
        assert_eq!(
            (rest.status.as_str(), rest.attempts),
            ("pending", 0),
            "released, attempt not counted"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_periodic_task_runs_once_per_slot_across_instances() {
    let tdb = TestDatabase::new().await;
    let db = tdb.db();
    let daily = Arc::new(AtomicUsize::new(0));
    let often = Arc::new(AtomicUsize::new(0));
    let instance = |name: &str| {
        let (daily, often) = (Arc::clone(&daily), Arc::clone(&often));
        Runner::new(Waker::new(db.clone(), Duration::ZERO), config(1), name)
            .every("test.daily", Duration::from_secs(86_400), move || {
                let daily = Arc::clone(&daily);
                async move {
                    daily.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            })
            .every("test.often", Duration::from_millis(400), move || {
                let often = Arc::clone(&often);
                async move {
                    often.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            })
            .start()
    };
    let (one, two, three) = (instance("one"), instance("two"), instance("three"));
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    one.shutdown().await;
    two.shutdown().await;
    three.shutdown().await;
    assert_eq!(
        value(&daily),
        1,
        "one run for the day across three instances"
    );
    let often = value(&often);
    assert!(
        (2..=4).contains(&often),
        "one run per 400 ms slot, not per instance: {often}"
    );
}

/// A job row for `org` in SQL: `jobs::enqueue` takes the organization from its transaction,
/// so it cannot even try another organization's row.
fn insert_job(c: &mut AsyncPgConnection, org: OrgId) -> ConnFuture<'_, Result<Uuid, DbError>> {
    Box::pin(async move {
        #[derive(QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            id: Uuid,
        }
        let row: Id = diesel::sql_query(
            "INSERT INTO jobs (org_id, kind, payload) VALUES ($1, 'test.isolation', '{}') \
             RETURNING id",
        )
        .bind::<diesel::sql_types::Uuid, _>(org.0)
        .get_result(c)
        .await?;
        Ok(row.id)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_isolated_per_organization() {
    let tdb = TestDatabase::new().await;
    let probe = IsolationProbe {
        table: "jobs",
        tenant_column: "org_id",
        id_column: "id",
        insert: &insert_job,
    };
    assert_tenant_isolation(&tdb.db(), &probe).await;
}

/// Issue 22: the jobs of batched kinds are claimed apart from the others and more at a time
/// (`batched`), the others `batch` at a time, in one pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_kinds_are_claimed_apart_and_more_at_a_time() {
    let tdb = TestDatabase::new().await;
    let db = tdb.db();
    let a = create_org(&db, "A").await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let sizes = RunnerConfig {
        batch: 2,
        batched: 5,
        ..config(1)
    };
    let runner =
        batched_runner_with(&db, &seen, sizes)
            .register("test.plain", quick(1), |_job| async { Ok(Done::Finished) });
    let batched = (1..=7).map(|n| NewJob::new("test.batched", json!({ "n": n })));
    let plain = (1..=4).map(|_| NewJob::new("test.plain", json!({})));
    enqueue_all(&db, a, plain.chain(batched).collect()).await;
    assert_eq!(runner.run_once("w").await.unwrap(), 2 + 5);
    assert_eq!(
        seen.lock().unwrap().batches,
        vec![(a, vec![1, 2, 3, 4, 5])],
        "the batched kind's first five, in one batch"
    );
    assert_eq!(runner.run_once("w").await.unwrap(), 2 + 2);
    assert_eq!(runner.run_once("w").await.unwrap(), 0);
}
