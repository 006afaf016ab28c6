//! `loadgen bench`: load against a gateway process on loopback, each scenario at a fixed
//! (open-loop) rate and at saturation (closed loop, N concurrent senders), with HdrHistogram
//! latencies, throughput, errors (any status other than the expected one) and the gateway's
//! resident memory after the scenario.
//!
//! Scenarios (bounded: about 2 minutes and under 40,000 requests in all):
//! - Vapi webhook ingestion (`status-update` and `end-of-call-report` of new calls);
//! - Vapi tool calls (`lookupCaller` over 2,000 contacts, `checkAvailability`) and bookings;
//! - `assistant-request` (known callers);
//! - Dialpad webhook ingestion (signed JWS);
//! - event → WebSocket delivery (webhook sent → the app client has the event);
//! - fan-out to 1,000 clients of one app (webhook sent → the last client has it);
//! - knowledge-base questions (`getKnowledgeBase` over a ~250-chunk handbook, local model);
//! - 10,000 idle WebSocket connections (memory per connection).
//!
//! Latency of a fixed-rate request is measured from its scheduled send time, so a stalled
//! server is not hidden by the generator waiting for it (no coordinated omission).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::StreamExt as _;
use latency_stats::Latencies;
use serde_json::{Value, json};

use crate::api::Api;
use crate::clinic::{Clinic, ClinicSpec, expect};
use crate::fakes::FakeProviders;
use crate::gateway::GatewayProcess;
use crate::stats::{self, Outcome};
use crate::wire::{self, VapiCall};
use crate::ws;

/// The seed's targets (seed 001 performance section) and the issues' own, by scenario.
const WEBHOOK_TARGET: &str = "p99 < 100 ms (seed); < 50 ms (issue 6)";
const TOOL_TARGET: &str = "< 500 ms (seed); p99 < 30 ms (issue 6)";
const ASSISTANT_TARGET: &str = "p99 < 50 ms (issue 6)";
const DIALPAD_TARGET: &str = "p99 < 20 ms (issue 7)";
const DELIVERY_TARGET: &str = "p99 < 50 ms (issue 7)";
const KB_TARGET: &str = "p95 < 200 ms (seed)";

/// Everything a request needs, shared by the senders.
pub struct Target {
    api: Api,
    secret: String,
    clinic: Clinic,
    seq: AtomicU64,
}

/// What the senders draw request sequence numbers from.
pub trait Sequence: Send + Sync + 'static {
    /// The next sequence number (unique within a run).
    fn next(&self) -> u64;
}

impl Sequence for Target {
    fn next(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }
}

impl Target {
    fn call(&self, id: String, caller: String) -> VapiCall {
        VapiCall::inbound(
            id,
            &self.clinic.inbound_assistant,
            &self.clinic.phone_number_id,
            caller,
        )
    }

    async fn vapi(&self, route: &str, message: &Value) -> bool {
        self.api.vapi(route, &self.secret, message).await
    }

    async fn dialpad(&self, event: &Value) -> bool {
        let Ok(body) = wire::sign_dialpad(event, &self.clinic.dialpad_secret) else {
            return false;
        };
        self.api
            .post_raw(
                &format!("/webhooks/dialpad/{}", self.clinic.app_id),
                "application/jwt",
                body,
                &[],
            )
            .await
            .is_ok_and(|r| r.status == 200)
    }

    /// A signed Dialpad `ringing` event of call `id` to the clinic's number, now.
    async fn ring(&self, id: i64) -> bool {
        self.dialpad(&wire::dialpad_event(
            id,
            "ringing",
            "+15551234567",
            self.clinic.number,
            chrono::Utc::now().timestamp_millis(),
            987_654,
        ))
        .await
    }
}

/// What one run of a scenario measured.
pub struct Run {
    /// Latency of every request.
    pub latencies: Latencies,
    /// Requests that failed.
    pub errors: u64,
    /// How long the run took.
    pub elapsed: Duration,
}

impl Run {
    /// The run's row of the table (printed), with the gateway's memory now.
    fn row(&self, name: &str, mode: &str, target: &str, gateway: &GatewayProcess) -> Value {
        stats::row(
            &self.latencies,
            &Outcome {
                name,
                mode,
                errors: self.errors,
                elapsed: self.elapsed,
                target,
                memory: gateway.memory_kib(),
            },
        )
    }
}

/// The number of the bench clinic's contact `i % 2000` (E.164).
pub fn contact_number(i: u64) -> String {
    format!("+1415{:07}", 1 + i % 2000)
}

/// One request of a scenario, by sequence number; answers whether it succeeded.
pub type Request<T = Target> =
    Arc<dyn Fn(Arc<T>, u64) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// A [`Request`] from an async closure.
pub fn request<T, F, Fut>(f: F) -> Request<T>
where
    F: Fn(Arc<T>, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    Arc::new(move |t, i| Box::pin(f(t, i)))
}

/// `rate` requests per second for `secs`, each sent on schedule whatever the previous ones do.
pub async fn fixed_rate<T: Sequence>(
    target: &Arc<T>,
    rate: u32,
    secs: u32,
    send: &Request<T>,
) -> Run {
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / rate);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..rate * secs {
        let scheduled = ticks.tick().await;
        let (t, send) = (target.clone(), send.clone());
        let i = t.next();
        handles.push(tokio::spawn(async move {
            let ok = send(t, i).await;
            (scheduled.into_std().elapsed(), ok)
        }));
    }
    let mut latencies = Latencies::new();
    let mut errors = 0;
    for h in handles {
        if let Ok((latency, ok)) = h.await {
            latencies.record(latency);
            errors += u64::from(!ok);
        }
    }
    Run {
        latencies,
        errors,
        elapsed: started.elapsed(),
    }
}

/// `workers` senders, each sending its next request as soon as the last is answered, for `secs`.
pub async fn saturate<T: Sequence>(
    target: &Arc<T>,
    workers: usize,
    secs: u64,
    send: &Request<T>,
) -> Run {
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let (t, send) = (target.clone(), send.clone());
            tokio::spawn(async move {
                let mut latencies = Latencies::new();
                let mut errors = 0;
                while Instant::now() < until {
                    let i = t.next();
                    let sent = Instant::now();
                    let ok = send(t.clone(), i).await;
                    latencies.record(sent.elapsed());
                    errors += u64::from(!ok);
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = Latencies::new();
    let mut errors = 0;
    for h in handles {
        if let Ok((l, e)) = h.await {
            all.merge(&l);
            errors += e;
        }
    }
    Run {
        latencies: all,
        errors,
        elapsed: started.elapsed(),
    }
}

struct Scenario {
    name: &'static str,
    target: &'static str,
    rate: u32,
    workers: usize,
    send: Request,
}

fn scenarios() -> Vec<Scenario> {
    vec![
        status_and_report_scenario(),
        tool_call_scenario(),
        assistant_request_scenario(),
        dialpad_scenario(),
        knowledge_base_scenario(),
    ]
}

/// Vapi status updates and end-of-call reports, alternating.
fn status_and_report_scenario() -> Scenario {
    Scenario {
        name: "vapi webhook: status-update / end-of-call-report",
        target: WEBHOOK_TARGET,
        rate: 200,
        workers: 32,
        send: request(|t: Arc<Target>, i| async move {
            let call = t.call(format!("bench-hook-{i}"), contact_number(i));
            let message = if i % 2 == 0 {
                wire::status_update(&call, "in-progress", None)
            } else {
                // Each summary its own text, as a model writes them: the caller's next
                // `assistant-request` embeds it afresh (no query vector cached).
                wire::end_of_call_report(
                    &call,
                    "User: I'd like Botox.\nAI: Of course.",
                    &format!("Asked about Botox before appointment {i}."),
                    120,
                    "customer-ended-call",
                )
            };
            t.vapi("/api/vapi/webhook", &message).await
        }),
    }
}

/// `lookupCaller` and `checkAvailability` tool calls.
fn tool_call_scenario() -> Scenario {
    Scenario {
        name: "vapi tool calls: lookupCaller / checkAvailability",
        target: TOOL_TARGET,
        rate: 100,
        workers: 32,
        send: request(|t: Arc<Target>, i| async move {
            let call = t.call(format!("bench-tool-{}", i % 500), contact_number(i));
            let (name, args) = if i % 3 == 2 {
                let day =
                    chrono::Utc::now().date_naive() + chrono::Duration::days(7 + (i % 30) as i64);
                (
                    "checkAvailability",
                    json!({"date": day.format("%Y-%m-%d").to_string()}),
                )
            } else {
                (
                    "lookupCaller",
                    json!({"searchKey": contact_number(i), "searchType": "phone"}),
                )
            };
            t.vapi(
                &format!("/api/vapi/tools/{name}"),
                &wire::tool_calls(&call, &format!("tc-{i}"), name, &args),
            )
            .await
        }),
    }
}

/// `assistant-request` for a known caller (with knowledge-base context).
fn assistant_request_scenario() -> Scenario {
    Scenario {
        name: "vapi assistant-request (known caller)",
        target: ASSISTANT_TARGET,
        // Each one retrieves knowledge-base context (a local embedding, ~10 ms of CPU):
        // about 85/s saturate two cores, so the fixed rate stays below that.
        rate: 50,
        workers: 32,
        send: request(|t: Arc<Target>, i| async move {
            let message = wire::assistant_request(
                &format!("bench-ar-{i}"),
                &t.clinic.phone_number_id,
                t.clinic.number,
                &contact_number(i),
            );
            t.vapi("/api/vapi/webhook", &message).await
        }),
    }
}

/// Signed Dialpad call events.
fn dialpad_scenario() -> Scenario {
    Scenario {
        name: "dialpad webhook ingestion (signed)",
        target: DIALPAD_TARGET,
        rate: 500,
        workers: 64,
        send: request(|t: Arc<Target>, i| async move {
            t.ring(900_000_000 + i64::try_from(i).unwrap_or(0)).await
        }),
    }
}

/// `getKnowledgeBase` questions.
fn knowledge_base_scenario() -> Scenario {
    Scenario {
        name: "knowledge-base question (getKnowledgeBase)",
        target: KB_TARGET,
        rate: 20,
        workers: 8,
        send: request(|t: Arc<Target>, i| async move {
            const QUESTIONS: [&str; 5] = [
                "How long does swelling last after a treatment?",
                "Where do I park?",
                "Can I pay in instalments?",
                "What should I bring to my first visit?",
                "Do you treat patients under 18?",
            ];
            let call = t.call(format!("bench-kb-{}", i % 100), contact_number(i));
            let args = json!({"query": QUESTIONS[(i % 5) as usize]});
            t.vapi(
                "/api/vapi/tools/getKnowledgeBase",
                &wire::tool_calls(&call, &format!("kb-{i}"), "getKnowledgeBase", &args),
            )
            .await
        }),
    }
}

/// A clinic handbook of 60 sections for the knowledge-base scenario.
fn handbook() -> String {
    const TOPICS: [(&str, &str); 6] = [
        (
            "Parking",
            "Patients park behind the clinic on Harbor Lane; the barrier code changes monthly and reception gives it on arrival.",
        ),
        (
            "Aftercare",
            "Swelling after a treatment usually settles within two days; avoid saunas, exercise and alcohol for 24 hours.",
        ),
        (
            "Payment",
            "Cards and bank transfers are accepted, and treatments over 1,000 dollars can be paid in instalments over 12 months.",
        ),
        (
            "First visit",
            "Bring photo identification, a list of current medication and any previous treatment records to the first visit.",
        ),
        (
            "Age policy",
            "Cosmetic treatments are offered only to patients aged 18 or over; proof of age may be requested.",
        ),
        (
            "Cancellations",
            "Appointments cancelled with less than 48 hours' notice forfeit the deposit unless there is a medical reason.",
        ),
    ];
    let mut text = String::from("# Clinic handbook\n\n");
    for n in 0..60 {
        let (topic, body) = TOPICS[n % TOPICS.len()];
        text.push_str(&format!(
            "## {topic} (section {n})\n{body} This section was reviewed by the practice manager in quarter {} and applies to all {} rooms. {body}\n\n",
            n % 4 + 1,
            n % 7 + 2
        ));
    }
    text
}

/// Runs every scenario; writes the rows to `out` as JSON. Answers `true` (numbers never fail
/// the run; a scenario that cannot run does).
///
/// # Errors
/// When the gateway cannot be started or set up.
#[allow(clippy::print_stdout, clippy::too_many_lines)]
pub async fn run(out: Option<&str>) -> anyhow::Result<bool> {
    let fakes = FakeProviders::start().await;
    let gateway = GatewayProcess::start(&fakes.uri(), &[("DB_POOL_SIZE", "32")]).await?;
    let api = Api::new(&gateway.base)?;
    let run_id = format!("{:x}", chrono::Utc::now().timestamp_millis());
    let clinic = open_clinic(&api, &gateway, &run_id).await?;
    let target = Arc::new(Target {
        api: api.clone(),
        secret: gateway.vapi_secret.clone(),
        clinic,
        seq: AtomicU64::new(1),
    });
    // `BENCH_ONLY=delivery`: only the event → WebSocket scenarios (for tuning the workers).
    let rows = if std::env::var("BENCH_ONLY").as_deref() == Ok("delivery") {
        delivery(&target, &api, &gateway).await?
    } else {
        every_scenario(&target, &api, &gateway).await?
    };

    let (rss, peak) = gateway.memory_kib();
    println!(
        "bench: gateway resident memory at the end {} MiB, peak {} MiB",
        rss / 1024,
        peak / 1024
    );
    write_report(
        out,
        json!({"binary": std::env::var("GATEWAY_BIN").unwrap_or_default(), "rss_end_kib": rss, "peak_rss_kib": peak}),
        rows,
    )?;
    Ok(true)
}

/// Writes `{generated_at, machine, gateway, results}` to `out` (when given) as JSON.
///
/// # Errors
/// When the file cannot be written.
#[allow(clippy::print_stdout)]
pub fn write_report(out: Option<&str>, gateway: Value, rows: Vec<Value>) -> anyhow::Result<()> {
    let report = json!({
        "generated_at": chrono::Utc::now().to_rfc3339(),
        "machine": machine(),
        "gateway": gateway,
        "results": rows,
    });
    if let Some(out) = out {
        std::fs::write(out, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {out}"))?;
        println!("bench: results written to {out}");
    }
    Ok(())
}

/// The bench clinic (a 60-section handbook) with 2,000 contacts, set up through the API.
///
/// # Errors
/// When a set-up request fails.
#[allow(clippy::print_stdout)]
pub async fn open_clinic(
    api: &Api,
    gateway: &GatewayProcess,
    run_id: &str,
) -> anyhow::Result<Clinic> {
    let spec = ClinicSpec {
        name: "Bench Clinic",
        slug: "bench-clinic",
        twilio_account: "ACb0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
        number: "+15559990000",
        transfer_departments: json!({}),
        knowledge_base: handbook(),
        dialpad_users: &[(987_654, "crm_bench")],
    };
    let setup = Instant::now();
    let clinic = Clinic::open(api, &spec, run_id).await?;
    // 2,000 contacts, 16 at a time, through the API.
    let token = clinic.token.clone();
    futures_util::stream::iter(0..2000u64)
        .map(|i| {
            let (api, token) = (api.clone(), token.clone());
            async move {
                api.post("/api/contacts", Some(&token), &json!({"name": format!("Patient {i}"), "phone": contact_number(i), "email": format!("p{i}@mail.example")}))
                    .await
                    .map(|r| r.status)
            }
        })
        .buffer_unordered(16)
        .for_each(|_| async {})
        .await;
    let chunks = expect(
        "document list",
        api.get("/api/knowledge-base/documents", &token).await?,
        200,
    )?;
    println!(
        "bench: gateway pid {} at {}; clinic with 2,000 contacts and a {}-chunk handbook set up in {:.1} s",
        gateway.pid(),
        gateway.base,
        chunks["documents"][0]["chunk_count"],
        setup.elapsed().as_secs_f64()
    );
    Ok(clinic)
}

/// Every scenario in order: the request scenarios at a fixed rate and at saturation, bookings,
/// event delivery, broadcast and idle connections.
async fn every_scenario(
    target: &Arc<Target>,
    api: &Api,
    gateway: &GatewayProcess,
) -> anyhow::Result<Vec<Value>> {
    let mut rows = Vec::new();
    let scenarios = scenarios();
    // Warm-up: connections, caches and the embedding model.
    for s in &scenarios {
        for _ in 0..10 {
            let i = target.next();
            (s.send)(target.clone(), i).await;
        }
    }
    for s in &scenarios {
        let run = fixed_rate(target, s.rate, 5, &s.send).await;
        rows.push(run.row(s.name, &format!("fixed {}/s", s.rate), s.target, gateway));
        tokio::time::sleep(Duration::from_millis(500)).await;
        let run = saturate(target, s.workers, 5, &s.send).await;
        let mode = format!("saturation ({} conc.)", s.workers);
        rows.push(run.row(s.name, &mode, s.target, gateway));
        // Let background work (event processing, call post-processing) drain.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    // Bookings: one per slot (20 a day), at a fixed rate.
    let booking = request(|t: Arc<Target>, i| async move {
        let n = i % 100_000;
        let day = chrono::Utc::now().date_naive() + chrono::Duration::days(30 + (n / 20) as i64);
        let time = format!("{:02}:{:02}", 8 + (n % 20) / 2, (n % 2) * 30);
        let call = t.call(format!("bench-book-{i}"), contact_number(i));
        let args = json!({"customerName": format!("Patient {}", i % 2000), "customerPhone": contact_number(i),
            "appointmentDate": day.format("%Y-%m-%d").to_string(), "appointmentTime": time, "serviceType": "Consultation"});
        t.vapi(
            "/api/vapi/tools/bookClinicAppointment",
            &wire::tool_calls(&call, &format!("bk-{i}"), "bookClinicAppointment", &args),
        )
        .await
    });
    target.seq.store(0, Ordering::Relaxed);
    let run = fixed_rate(target, 20, 5, &booking).await;
    rows.push(run.row(
        "vapi tool call: bookClinicAppointment",
        "fixed 20/s",
        TOOL_TARGET,
        gateway,
    ));
    target.seq.store(1_000_000, Ordering::Relaxed);

    rows.extend(delivery(target, api, gateway).await?);
    rows.extend(fan_out(target, api, gateway).await?);
    rows.push(idle_connections(api, &target.clinic, gateway).await?);
    Ok(rows)
}

/// Webhook sent → event received by one app client, at 200 events/s for 5 s, at 1,500
/// events/s for 10 s (the processing rate must keep up: issue 21) and at saturation (16
/// senders for 5 s). At saturation webhooks arrive faster than events are
/// processed, so latency is the backlog's, and throughput is events delivered per second until
/// the last one arrived (the processing rate).
async fn delivery(
    target: &Arc<Target>,
    api: &Api,
    gateway: &GatewayProcess,
) -> anyhow::Result<Vec<Value>> {
    let mut rows = Vec::new();
    for (mode, rate, workers, secs) in [
        ("fixed 200/s", 200u32, 0usize, 5u32),
        ("fixed 1500/s for 10 s", 1500, 0, 10),
        ("saturation (16 conc.)", 0, 16, 5),
    ] {
        let mut socket =
            ws::connect(&api.ws_url(&format!("?api_key={}", target.clinic.app_key))).await?;
        let sent: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
        let send = {
            let sent = sent.clone();
            request(move |t: Arc<Target>, i| {
                let sent = sent.clone();
                async move {
                    let id = 950_000_000 + i64::try_from(i).unwrap_or(0);
                    if let Ok(mut s) = sent.lock() {
                        s.insert(id, Instant::now());
                    }
                    let acknowledged = t.ring(id).await;
                    // Not acknowledged: an error of the sending, not also a lost event.
                    if !acknowledged && let Ok(mut s) = sent.lock() {
                        s.remove(&id);
                    }
                    acknowledged
                }
            })
        };
        let receiver = {
            let sent = sent.clone();
            tokio::spawn(async move {
                let mut latencies = Latencies::new();
                let mut last = Instant::now();
                while let Ok(Some(Ok(frame))) =
                    tokio::time::timeout(Duration::from_secs(5), socket.next()).await
                {
                    let id = ws::json_of(&frame).and_then(|e| e["call_id"].as_i64());
                    if let Some(at) = id.and_then(|id| sent.lock().ok()?.remove(&id)) {
                        latencies.record(at.elapsed());
                        last = Instant::now();
                    }
                }
                (latencies, last)
            })
        };
        let started = Instant::now();
        let sending = if workers == 0 {
            fixed_rate(target, rate, secs, &send).await
        } else {
            saturate(target, workers, u64::from(secs), &send).await
        };
        let (latencies, last) = receiver.await?;
        // Acknowledged but never on the socket.
        let lost = sent.lock().map(|s| s.len()).unwrap_or(0);
        let delivered = Run {
            latencies,
            errors: sending.errors + lost as u64,
            elapsed: last.duration_since(started),
        };
        rows.push(delivered.row("event → websocket delivery", mode, DELIVERY_TARGET, gateway));
    }
    Ok(rows)
}

/// 1,000 clients of one app; each broadcast is timed until the last client has it. Fixed: 5
/// events/s for 20 events; saturation: the next event as soon as all have the last, 20 events.
async fn fan_out(
    target: &Arc<Target>,
    api: &Api,
    gateway: &GatewayProcess,
) -> anyhow::Result<Vec<Value>> {
    let url = api.ws_url(&format!("?api_key={}", target.clinic.app_key));
    let mut clients = ws::connect_many(&url, 1000).await?;
    let mut rows = Vec::new();
    for (mode, pause) in [
        ("fixed 5/s, 1,000 clients", Some(Duration::from_millis(200))),
        ("saturation, 1,000 clients", None),
    ] {
        let mut latencies = Latencies::new();
        let mut missed = 0u64;
        let started = Instant::now();
        for _ in 0..20 {
            let tick = Instant::now();
            let id = 960_000_000 + i64::try_from(target.next()).unwrap_or(0);
            let sent = Instant::now();
            target.ring(id).await;
            let waits = clients.iter_mut().map(|c| async move {
                while let Ok(Some(Ok(frame))) =
                    tokio::time::timeout(Duration::from_secs(10), c.next()).await
                {
                    if ws::json_of(&frame).and_then(|e| e["call_id"].as_i64()) == Some(id) {
                        return true;
                    }
                }
                false
            });
            let received = futures_util::future::join_all(waits).await;
            missed += received.iter().filter(|r| !**r).count() as u64;
            latencies.record(sent.elapsed());
            if let Some(pause) = pause {
                tokio::time::sleep(pause.saturating_sub(tick.elapsed())).await;
            }
        }
        let run = Run {
            latencies,
            errors: missed,
            elapsed: started.elapsed(),
        };
        rows.push(run.row(
            "broadcast to 1,000 clients (last receipt)",
            mode,
            DELIVERY_TARGET,
            gateway,
        ));
    }
    Ok(rows)
}

/// 10,000 idle WebSocket connections: the gateway's resident memory per connection.
#[allow(clippy::print_stdout, clippy::cast_precision_loss)]
async fn idle_connections(
    api: &Api,
    clinic: &Clinic,
    gateway: &GatewayProcess,
) -> anyhow::Result<Value> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (before, _) = gateway.memory_kib();
    let url = api.ws_url(&format!("?api_key={}", clinic.app_key));
    let started = Instant::now();
    let idle = ws::connect_many(&url, 10_000).await?;
    let opened = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (after, peak) = gateway.memory_kib();
    let per_connection = after.saturating_sub(before) as f64 * 1024.0 / idle.len() as f64;
    println!(
        "{:<42} {} open in {:.1} s; RSS {} → {} MiB ({per_connection:.0} bytes per connection)",
        "idle websocket connections",
        idle.len(),
        opened.as_secs_f64(),
        before / 1024,
        after / 1024
    );
    Ok(
        json!({"name": "idle websocket connections", "mode": "10,000 open", "n": idle.len(),
              "seconds": opened.as_secs_f64(), "rss_before_kib": before, "rss_kib": after, "peak_rss_kib": peak,
              "bytes_per_connection": per_connection, "target": "memory per connection (issue 7)"}),
    )
}

/// The machine the numbers come from: CPU model, logical CPUs, memory.
fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
    json!({"cpu": model, "logical_cpus": std::thread::available_parallelism().map(usize::from).ok(),
           "memory_kib": memory_kib, "os": std::env::consts::OS, "arch": std::env::consts::ARCH})
}
