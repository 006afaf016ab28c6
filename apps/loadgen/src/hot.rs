//! `loadgen hot`: the four hot paths of issue 22 at saturation (32 concurrent senders, 10 s
//! each), on the gateway and, when one is given, on the seed's own stack (the peer,
//! `../shared/bench-peer`: Express + node-postgres) with the same payloads on the same
//! PostgreSQL cluster:
//! - `end-of-call-report` of distinct calls from distinct callers;
//! - `end-of-call-report` of distinct calls from one caller calling often;
//! - the same `end-of-call-report` redelivered (a Vapi retry storm);
//! - the `lookupCaller` tool over 2,000 contacts.
//!
//! Beside throughput and latency each row carries what one request cost, from PostgreSQL's
//! statistics (`pg_stat_statements`, `pg_stat_database`, `pg_stat_wal`; they need the superuser URL
//! of the gateway's database in `BENCH_STATS_URL`) and the server process (`/proc`): statements
//! (round trips), commits, WAL flushes and bytes, CPU ms and context switches, and the statements
//! run most often per request. Before each scenario the gateway's job queue is drained, so that one
//! scenario's post-call work does not run during the next (the peer's included), then the cluster
//! is checkpointed and running autovacuum workers are waited for, and each row says whether
//! autovacuum or a checkpoint still met its run: the other server's writes must not slow the one
//! measured after it. The counters are read 11 s after a scenario ends, once PostgreSQL's
//! per-connection statistics are flushed (at most every 10 s when idle), so background work a
//! request caused (post-call processing) is counted with it. On the gateway, the post-call backlog
//! a report scenario left when its senders stopped is timed as the job runner drains it with the
//! machine to itself: the sustained post-call processing rate. Then, on the gateway, the effect lag
//! at a fixed 300 reports/s: the time from a report's acknowledgement to its call being analysed
//! (`GET /api/calls/{id}` shows the outcome).
//!
//! Peer environment (all or none): `PEER_URL`, `PEER_SECRET`, `PEER_DATABASE_URL` (the peer's
//! database, seeded here with the clinic's assistant and the same 2,000 contacts), `PEER_PID`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use latency_stats::Latencies;
use serde_json::{Value, json};

use crate::api::Api;
use crate::bench::{self, Request, Sequence, contact_number, request};
use crate::wire::{self, VapiCall};

/// Concurrent senders (the measurement).
const SENDERS: usize = 32;
/// Seconds per scenario.
const SECONDS: u64 = 10;
/// How long PostgreSQL may hold a backend's statistics before flushing them when idle, plus
/// a margin (`PGSTAT_IDLE_INTERVAL` is 10 s).
const STATS_SETTLE: Duration = Duration::from_secs(11);

/// A server under test: where it listens, its Vapi secret and process.
struct Server {
    name: &'static str,
    api: Api,
    secret: String,
    pid: u32,
    assistant: String,
    run: String,
    seq: AtomicU64,
}

impl Server {
    fn call(&self, id: String, caller: String) -> VapiCall {
        VapiCall::inbound(id, &self.assistant, "", caller)
    }

    async fn post(&self, route: &str, message: &Value) -> bool {
        self.api.vapi(route, &self.secret, message).await
    }

    fn report(&self, call_id: String, caller: String) -> Value {
        wire::end_of_call_report(
            &self.call(call_id, caller),
            "User: I'd like to book Botox next week.\nAI: Of course, I can help with that.",
            "Caller asked about Botox and prices.",
            120,
            "customer-ended-call",
        )
    }
}

impl Sequence for Server {
    fn next(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }
}

/// The four scenarios: name and request.
fn scenarios() -> Vec<(&'static str, Request<Server>)> {
    let distinct = request(|s: Arc<Server>, i| async move {
        let message = s.report(
            format!("hot-{}-{i}", s.run),
            format!("+1416{:07}", i % 10_000_000),
        );
        s.post("/api/vapi/webhook", &message).await
    });
    let frequent = request(|s: Arc<Server>, i| async move {
        let message = s.report(format!("hot-{}-{i}", s.run), contact_number(0));
        s.post("/api/vapi/webhook", &message).await
    });
    let redelivered = request(|s: Arc<Server>, _| async move {
        let message = s.report(format!("hot-{}-again", s.run), contact_number(1));
        s.post("/api/vapi/webhook", &message).await
    });
    let lookup = request(|s: Arc<Server>, i| async move {
        let call = s.call(format!("hot-{}-tool-{}", s.run, i % 500), contact_number(i));
        let args = json!({"searchKey": contact_number(i), "searchType": "phone"});
        s.post(
            "/api/vapi/tools/lookupCaller",
            &wire::tool_calls(&call, &format!("tc-{i}"), "lookupCaller", &args),
        )
        .await
    });
    vec![
        ("end-of-call-report, distinct callers", distinct),
        ("end-of-call-report, one frequent caller", frequent),
        ("end-of-call-report redelivered", redelivered),
        ("lookupCaller", lookup),
    ]
}

/// Counters of the database and the server process at one moment.
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    statements: i64,
    begins: i64,
    commits: i64,
    wal_syncs: i64,
    wal_bytes: i64,
    cpu_ticks: u64,
    context_switches: u64,
}

/// Reads PostgreSQL's statistics for one database through a superuser connection.
struct DbProbe {
    client: tokio_postgres::Client,
}

impl DbProbe {
    async fn connect(stats_url: &str) -> anyhow::Result<Self> {
        let (client, conn) = tokio_postgres::connect(stats_url, tokio_postgres::NoTls)
            .await
            .context("connecting to BENCH_STATS_URL")?;
        tokio::spawn(conn);
        // Top-level statements only (a function's own statements are part of its one call).
        for sql in [
            "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
            "ALTER SYSTEM SET pg_stat_statements.track = 'top'",
            "SELECT pg_reload_conf()",
        ] {
            client
                .batch_execute(sql)
                .await
                .context("pg_stat_statements (the bench cluster preloads it)")?;
        }
        Ok(Self { client })
    }

    /// Waits until the gateway's database (the one this probe is connected to) has no queued
    /// jobs left (the post-call work of the last scenario), so that it does not run during the
    /// next; gives up when the queue stops shrinking for 5 s.
    async fn drain_jobs(&self) -> anyhow::Result<()> {
        let count = async || -> anyhow::Result<i64> {
            Ok(self
                .client
                .query_one("SELECT count(*) FROM jobs", &[])
                .await?
                .get(0))
        };
        let (mut last, mut since) = (count().await?, Instant::now());
        while last > 0 && since.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = count().await?;
            if now < last {
                since = Instant::now();
            }
            last = now;
        }
        Ok(())
    }

    /// The post-call backlog a scenario left and how fast the job runner drains it with the
    /// machine to itself: `(reports queued when the senders stopped, reports analysed per
    /// second until none is left)`; `None` when nothing was queued or it did not drain within
    /// 60 s.
    async fn drain_rate(&self) -> anyhow::Result<Option<(i64, f64)>> {
        let count = async || -> anyhow::Result<i64> {
            Ok(self
                .client
                .query_one(
                    "SELECT count(*) FROM jobs WHERE kind = 'voice.report' AND status <> 'dead'",
                    &[],
                )
                .await?
                .get(0))
        };
        let (backlog, started) = (count().await?, Instant::now());
        if backlog == 0 {
            return Ok(None);
        }
        while started.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if count().await? == 0 {
                #[allow(clippy::cast_precision_loss)]
                let rate = backlog as f64 / started.elapsed().as_secs_f64();
                return Ok(Some((backlog, rate.round())));
            }
        }
        Ok(None)
    }

    /// Puts the cluster in the same state before every measured run, whichever server and
    /// scenario came before: a `CHECKPOINT` (so that neither run meets one that the other's
    /// writes made due, and both pay the full-page writes that follow one), then a wait of up to
    /// 60 s for running autovacuum workers (started by the previous run's writes) to finish.
    async fn quiesce(&self) -> anyhow::Result<()> {
        self.client.batch_execute("CHECKPOINT").await?;
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) && self.autovacuum_workers().await? > 0 {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Ok(())
    }

    /// Autovacuum workers running in the cluster now.
    async fn autovacuum_workers(&self) -> anyhow::Result<i64> {
        Ok(self
            .client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'",
                &[],
            )
            .await?
            .get(0))
    }

    /// Checkpoints the cluster has started since its statistics were reset.
    async fn checkpoints(&self) -> anyhow::Result<i64> {
        Ok(self
            .client
            .query_one(
                "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter",
                &[],
            )
            .await?
            .get(0))
    }

    /// The cluster's own background work while `run` goes on: the share of 100 ms samples that
    /// saw an autovacuum worker, and the checkpoints started. A run that met either is not
    /// comparable with one that did not.
    async fn background_during<T>(
        &self,
        run: impl Future<Output = T>,
    ) -> anyhow::Result<(T, Value)> {
        let checkpoints = self.checkpoints().await?;
        let done = std::sync::atomic::AtomicBool::new(false);
        let sample = async {
            let (mut samples, mut busy) = (0_u32, 0_u32);
            while !done.load(Ordering::Relaxed) {
                samples += 1;
                busy += u32::from(self.autovacuum_workers().await? > 0);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            anyhow::Ok((samples, busy))
        };
        let run = async {
            let out = run.await;
            done.store(true, Ordering::Relaxed);
            out
        };
        let (out, sampled) = tokio::join!(run, sample);
        let (samples, busy) = sampled?;
        let share = (f64::from(busy) / f64::from(samples.max(1)) * 100.0).round() / 100.0;
        let background = json!({"autovacuum_share": share,
                                "checkpoints": self.checkpoints().await? - checkpoints});
        Ok((out, background))
    }

    /// Readies the cluster for a measured run of the server `pid` on `database` (the gateway's
    /// jobs drained, statistics settled, [`DbProbe::quiesce`], statements reset) and returns
    /// the counters the run's costs are read from.
    async fn settle_before_run(&self, database: &str, pid: u32) -> anyhow::Result<Counters> {
        self.drain_jobs().await?;
        tokio::time::sleep(STATS_SETTLE).await;
        self.quiesce().await?;
        self.reset_statements().await?;
        self.read(database, pid).await
    }

    /// Empties `pg_stat_statements`, so that [`DbProbe::statements`] covers what follows.
    async fn reset_statements(&self) -> anyhow::Result<()> {
        self.client
            .batch_execute("SELECT pg_stat_statements_reset()")
            .await?;
        Ok(())
    }

    /// The 15 statements of `database` run most often since the last reset, with calls per
    /// request (`per` requests) and mean time (ms): the per-request budget.
    async fn statements(&self, database: &str, per: f64) -> anyhow::Result<Value> {
        let rows = self
            .client
            .query(
                "SELECT s.calls, s.mean_exec_time, left(regexp_replace(s.query, '\\s+', ' ', 'g'), 160)
                   FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
                  WHERE d.datname = $1 ORDER BY s.calls DESC LIMIT 15",
                &[&database],
            )
            .await?;
        Ok(Value::Array(
            rows.iter()
                .map(|r| {
                    let calls: i64 = r.get(0);
                    #[allow(clippy::cast_precision_loss)]
                    let per_request = (calls as f64 / per * 100.0).round() / 100.0;
                    let mean: f64 = r.get(1);
                    json!({"per_request": per_request, "mean_ms": (mean * 1000.0).round() / 1000.0,
                           "query": r.get::<_, String>(2)})
                })
                .collect(),
        ))
    }

    /// The counters of `database` and process `pid` now.
    async fn read(&self, database: &str, pid: u32) -> anyhow::Result<Counters> {
        let row = self
            .client
            .query_one(
                "SELECT (SELECT coalesce(sum(s.calls), 0)::bigint FROM pg_stat_statements s
                           JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1),
                        (SELECT coalesce(sum(s.calls), 0)::bigint FROM pg_stat_statements s
                           JOIN pg_database d ON d.oid = s.dbid
                          WHERE d.datname = $1 AND s.query ILIKE 'begin'),
                        (SELECT xact_commit FROM pg_stat_database WHERE datname = $1),
                        (SELECT wal_sync FROM pg_stat_wal),
                        (SELECT wal_bytes::bigint FROM pg_stat_wal)",
                &[&database],
            )
            .await?;
        let (cpu_ticks, context_switches) = process_counters(pid);
        Ok(Counters {
            statements: row.get(0),
            begins: row.get(1),
            commits: row.get(2),
            wal_syncs: row.get(3),
            wal_bytes: row.get(4),
            cpu_ticks,
            context_switches,
        })
    }
}

/// A process's CPU time (user + system, in clock ticks of 10 ms) and context switches (all its
/// threads), from `/proc`; zeros when unreadable.
fn process_counters(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let cpu = tick(11) + tick(12);
    let mut switches = 0;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            switches += status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    (cpu, switches)
}

/// One scenario on one server: warm-up, the saturated run, the settled counters; its row.
#[allow(clippy::cast_precision_loss, clippy::print_stdout)]
async fn measure(
    server: &Arc<Server>,
    probe: Option<(&DbProbe, &str)>,
    name: &str,
    send: &Request<Server>,
) -> anyhow::Result<Value> {
    for _ in 0..50 {
        let i = server.seq.fetch_add(1, Ordering::Relaxed);
        send(server.clone(), i).await;
    }
    let before = match probe {
        Some((p, database)) => Some(p.settle_before_run(database, server.pid).await?),
        None => None,
    };
    let saturate = bench::saturate(server, SENDERS, SECONDS, send);
    let (run, background) = match probe {
        Some((p, _)) => {
            let (run, background) = p.background_during(saturate).await?;
            (run, Some(background))
        }
        None => (saturate.await, None),
    };
    let mut drain = None;
    let after = match probe {
        Some((p, database)) => {
            let settle = Instant::now() + STATS_SETTLE;
            if server.name == "gateway" {
                drain = p.drain_rate().await?;
            }
            tokio::time::sleep_until(settle.into()).await;
            Some(p.read(database, server.pid).await?)
        }
        None => None,
    };
    let n = run.latencies.count().max(1) as f64;
    let per = |f: fn(&Counters) -> f64| {
        before
            .zip(after)
            .map(|(b, a)| ((f(&a) - f(&b)) / n * 100.0).round() / 100.0)
    };
    let cost = json!({
        "statements": per(|c| c.statements as f64),
        // The gateway sends BEGIN and the tenant setting in one round trip.
        "round_trips": per(|c| (c.statements - c.begins) as f64),
        "commits": per(|c| c.commits as f64),
        "wal_flushes": per(|c| c.wal_syncs as f64),
        "wal_bytes": per(|c| c.wal_bytes as f64),
        "cpu_ms": per(|c| c.cpu_ticks as f64 * 10.0),
        "context_switches": per(|c| c.context_switches as f64),
    });
    let mode = format!("saturation ({SENDERS} conc.), {}", server.name);
    let mut row = crate::stats::row(
        &run.latencies,
        &crate::stats::Outcome {
            name,
            mode: &mode,
            errors: run.errors,
            elapsed: run.elapsed,
            target: "issue 22: >= 1.2x the peer's reports/s, >= 1.1x its lookups/s, p99 <= the peer's",
            memory: (0, 0),
        },
    );
    println!("{:<42} per request: {cost}", "");
    row["server"] = json!(server.name);
    row["per_request"] = cost;
    if let Some(background) = background {
        println!("{:<42} cluster background during the run: {background}", "");
        row["cluster_background"] = background;
    }
    if let Some((backlog, per_s)) = drain {
        // Analysed while the senders ran: acknowledged minus what was still queued.
        let during = ((n - backlog as f64) / run.elapsed.as_secs_f64()).round();
        println!(
            "{:<42} post-call: {during}/s analysed during the run, backlog {backlog} drained at {per_s}/s",
            ""
        );
        row["post_call"] = json!({"analysed_during_run_per_s": during, "backlog": backlog,
                                  "drained_per_s": per_s});
    }
    if let Some((p, database)) = probe {
        row["statements"] = p.statements(database, n).await?;
    }
    Ok(row)
}

/// The peer from `PEER_URL`, `PEER_SECRET`, `PEER_PID` and `PEER_DATABASE_URL` (seeded with
/// the clinic's assistant and the 2,000 contacts), or `None` when `PEER_URL` is unset.
async fn peer(assistant: &str, run: &str) -> anyhow::Result<Option<(Arc<Server>, String)>> {
    let Ok(url) = std::env::var("PEER_URL") else {
        return Ok(None);
    };
    let var = |name: &str| std::env::var(name).with_context(|| format!("{name} (with PEER_URL)"));
    let database_url = var("PEER_DATABASE_URL")?;
    let (client, conn) = tokio_postgres::connect(&database_url, tokio_postgres::NoTls)
        .await
        .context("connecting to PEER_DATABASE_URL")?;
    tokio::spawn(conn);
    let org: String = client
        .query_one(
            "INSERT INTO assistant_org_mapping VALUES ($1, gen_random_uuid()) \
             ON CONFLICT (vapi_assistant_id) DO UPDATE SET org_id = assistant_org_mapping.org_id \
             RETURNING org_id::text",
            &[&assistant],
        )
        .await?
        .get(0);
    // The same numbers as the gateway's contacts (bench::contact_number).
    client
        .execute(
            "INSERT INTO contacts (org_id, phone, first_name, last_name, email)
             SELECT $1::text::uuid, '+1415' || lpad(g::text, 7, '0'), 'Patient', g::text, 'p' || g || '@mail.example'
               FROM generate_series(1, 2000) g ON CONFLICT DO NOTHING",
            &[&org],
        )
        .await?;
    let server = Server {
        name: "peer",
        api: Api::new(&url)?,
        secret: var("PEER_SECRET")?,
        pid: var("PEER_PID")?.parse().context("PEER_PID")?,
        assistant: assistant.to_owned(),
        run: run.to_owned(),
        seq: AtomicU64::new(1),
    };
    let database = database_name(&database_url);
    Ok(Some((Arc::new(server), database)))
}

/// The database name of a `postgres://…/<name>?…` URL.
fn database_name(url: &str) -> String {
    let path = url.rsplit_once('/').map_or("", |(_, p)| p);
    path.split('?').next().unwrap_or_default().to_owned()
}

/// Reports of new calls at a fixed 300/s for 10 s; for each, the time from its acknowledgement
/// to its analysed `vapi_call_update` (with `lead_score`) on a dashboard user's WebSocket: the
/// post-call effect lag. Errors count reports not acknowledged or never analysed within 10 s.
async fn effect_lag(server: &Arc<Server>, token: &str) -> anyhow::Result<Value> {
    use futures_util::StreamExt as _;
    let acked: Arc<std::sync::Mutex<std::collections::HashMap<String, Instant>>> = Arc::default();
    let mut socket = crate::ws::connect(&server.api.ws_url(&format!("?token={token}"))).await?;
    let receiver = {
        let acked = acked.clone();
        tokio::spawn(async move {
            let mut lags = Latencies::new();
            let mut early = std::collections::HashSet::new();
            while let Ok(Some(Ok(frame))) =
                tokio::time::timeout(Duration::from_secs(10), socket.next()).await
            {
                let Some(event) = crate::ws::json_of(&frame) else {
                    continue;
                };
                if event["type"] != "vapi_call_update" || event.get("lead_score").is_none() {
                    continue;
                }
                let id = event["vapi_call_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                match acked.lock().ok().and_then(|mut a| a.remove(&id)) {
                    Some(at) => lags.record(at.elapsed()),
                    // Analysed before its acknowledgement reached the sender: no lag.
                    None => drop(early.insert(id)),
                }
            }
            (lags, early)
        })
    };
    let send = {
        let acked = acked.clone();
        request(move |s: Arc<Server>, i| {
            let acked = acked.clone();
            async move {
                let id = format!("lag-{}-{i}", s.run);
                let message = s.report(id.clone(), format!("+1417{:07}", i % 10_000_000));
                let ok = s.post("/api/vapi/webhook", &message).await;
                if ok && let Ok(mut a) = acked.lock() {
                    a.insert(id, Instant::now());
                }
                ok
            }
        })
    };
    let sending = bench::fixed_rate(server, 300, 10, &send).await;
    let (mut lags, early) = receiver.await?;
    let mut pending = acked.lock().map(|a| a.len()).unwrap_or(0);
    for id in early {
        if acked.lock().is_ok_and(|mut a| a.remove(&id).is_some()) {
            lags.record(Duration::ZERO);
            pending -= 1;
        }
    }
    let run = bench::Run {
        latencies: lags,
        errors: sending.errors + pending as u64,
        elapsed: sending.elapsed,
    };
    let mut row = crate::stats::row(
        &run.latencies,
        &crate::stats::Outcome {
            name: "post-call effect lag (ack → analysed event)",
            mode: "fixed 300/s, gateway",
            errors: run.errors,
            elapsed: run.elapsed,
            target: "issue 22: p99 <= 1 s",
            memory: (0, 0),
        },
    );
    row["server"] = json!(server.name);
    Ok(row)
}

/// Runs the hot-path scenarios (module docs) and writes the rows to `out` as JSON.
///
/// # Errors
/// When the gateway or the peer cannot be started, set up or measured.
#[allow(clippy::print_stdout)]
pub async fn run(out: Option<&str>) -> anyhow::Result<bool> {
    let fakes = crate::fakes::FakeProviders::start().await;
    let gateway =
        crate::gateway::GatewayProcess::start(&fakes.uri(), &[("DB_POOL_SIZE", "32")]).await?;
    let api = Api::new(&gateway.base)?;
    let run_id = format!("{:x}", chrono::Utc::now().timestamp_millis());
    let clinic = bench::open_clinic(&api, &gateway, &run_id).await?;
    let probe = match std::env::var("BENCH_STATS_URL") {
        Ok(url) => Some(DbProbe::connect(&url).await?),
        Err(_) => None,
    };
    let ours = Arc::new(Server {
        name: "gateway",
        api,
        secret: gateway.vapi_secret.clone(),
        pid: gateway.pid(),
        assistant: clinic.inbound_assistant.clone(),
        run: run_id.clone(),
        seq: AtomicU64::new(1),
    });
    let gateway_db = database_name(&std::env::var("DATABASE_URL").unwrap_or_default());
    let mut servers = vec![(ours.clone(), gateway_db)];
    if let Some(peer) = peer(&clinic.inbound_assistant, &run_id).await? {
        servers.insert(0, peer);
    }
    let mut rows = Vec::new();
    for (name, send) in scenarios() {
        for (server, database) in &servers {
            let probe = probe.as_ref().map(|p| (p, database.as_str()));
            rows.push(measure(server, probe, name, &send).await?);
        }
    }
    rows.push(effect_lag(&ours, &clinic.token).await?);
    print_ratios(&rows);
    let binary = std::env::var("GATEWAY_BIN").unwrap_or_default();
    bench::write_report(out, json!({ "binary": binary }), rows)?;
    Ok(true)
}

/// Prints the gateway's throughput and p99 against the peer's, per scenario.
#[allow(clippy::print_stdout)]
fn print_ratios(rows: &[Value]) {
    for (name, _) in scenarios() {
        let of = |server: &str| {
            rows.iter()
                .find(|r| r["name"] == name && r["server"] == server)
        };
        if let (Some(peer), Some(ours)) = (of("peer"), of("gateway")) {
            let rate = |r: &Value| r["throughput_per_s"].as_f64().unwrap_or(0.0);
            let p99 = |r: &Value| r["p99_ms"].as_f64().unwrap_or(0.0);
            println!(
                "{name:<42} gateway/peer: {:.2}x the rate ({:.0} vs {:.0}/s), p99 {:.1} vs {:.1} ms",
                rate(ours) / rate(peer).max(1e-9),
                rate(ours),
                rate(peer),
                p99(ours),
                p99(peer)
            );
        }
    }
}
