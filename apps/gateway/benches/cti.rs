//! CTI load benchmark against the release gateway **binary** on loopback (its own process, so
//! its memory is measured alone), on a fresh database of the project's test cluster.
//!
//! 1. Dialpad webhook acknowledgement at a fixed 500 events/s for 10 s (issue 7 target: p99
//!    < 20 ms), then at saturation (64 concurrent senders for 5 s).
//! 2. Event-to-WebSocket delivery: webhook sent → `call.ring` received by an app client, at
//!    200 events/s for 5 s (target p99 < 50 ms). Includes storing, processing and fan-out.
//! 3. Broadcast to 1,000 clients of one app: time until the last client has each event.
//! 4. 10,000 idle WebSocket connections: the gateway's resident memory per connection.
//!
//! Bounded: about 40 s and 13,000 requests in all. Run with `cargo xtask bench`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use db::test_support::TestDatabase;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Stats(Vec<Duration>);

impl Stats {
    fn pct(&self, p: f64) -> f64 {
        let mut v = self.0.clone();
        v.sort();
        let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
        v[i].as_secs_f64() * 1000.0
    }

    fn line(&self, name: &str, extra: &str) -> Value {
        println!(
            "{name:<44} n={:<6} p50={:>7.2} ms  p99={:>7.2} ms  p99.9={:>7.2} ms  max={:>7.2} ms  {extra}",
            self.0.len(),
            self.pct(0.5),
            self.pct(0.99),
            self.pct(0.999),
            self.pct(1.0)
        );
        json!({"name": name, "n": self.0.len(), "p50_ms": self.pct(0.5), "p99_ms": self.pct(0.99),
               "p999_ms": self.pct(0.999), "max_ms": self.pct(1.0), "note": extra})
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn event(call_id: i64, ts: i64) -> String {
    json!({"call_id": call_id, "state": "ringing", "direction": "inbound",
           "external_number": "+15551234567", "internal_number": "+15559876543",
           "event_timestamp": ts, "target": {"id": 987_654, "type": "user"}})
    .to_string()
}

async fn connect(base: &str, key: &str) -> Ws {
    let url = format!("{}/ws?api_key={key}", base.replacen("http://", "ws://", 1));
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("ws connect");
    let _hello = ws.next().await;
    ws
}

fn call_id_of(frame: &Message) -> Option<i64> {
    match frame {
        Message::Text(text) => serde_json::from_str::<Value>(text).ok()?["call_id"].as_i64(),
        _ => None,
    }
}

#[tokio::main]
async fn main() {
    twilio_client::ensure_tls_provider();
    let database = TestDatabase::new().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .arg("serve")
        .env("DATABASE_URL", database.runtime_url())
        .env("MIGRATE_ON_STARTUP", "false")
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("DB_POOL_SIZE", "32")
        .env("JWT_SECRET", "bench-jwt-secret-0123456789abcdefgh")
        .env("API_KEY_PEPPER", "bench-api-key-pepper-0123456789abcd")
        .env(
            "CREDENTIALS_KEYS",
            gateway::test_support::TEST_CREDENTIALS_KEYS,
        )
        .env("CREDENTIALS_ACTIVE_KEY", "test")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("starting the gateway binary");
    let pid = child.id();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    for _ in 0..200 {
        if http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let signup: Value = http
        .post(format!("{base}/api/auth/signup"))
        .json(&json!({"organization_name": "Bench Clinic", "organization_slug": "bench-clinic",
                      "name": "Admin", "email": "admin@bench.example", "password": "sunrise-harbor-2026-bench"}))
        .send().await.unwrap().json().await.unwrap();
    let token = signup["token"].as_str().expect("token").to_owned();
    let app: Value = http
        .post(format!("{base}/api/apps"))
        .bearer_auth(&token)
        .json(&json!({"name": "Bench CRM"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let app_id = app["app"]["id"].as_str().unwrap().to_owned();
    let key: Value = http
        .post(format!("{base}/internal/apps/{app_id}/api-key"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = key["api_key"].as_str().unwrap().to_owned();
    let hook = format!("{base}/webhooks/dialpad/{app_id}");
    let rss_start = rss_kib(pid);
    let next_call = Arc::new(AtomicI64::new(1));
    let mut results = Vec::new();

    // 1a. Webhook acknowledgement at a fixed rate.
    let rate = 500u32;
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / rate);
    let mut handles = Vec::new();
    let started = Instant::now();
    for _ in 0..(rate * 10) {
        ticks.tick().await;
        let (http, hook, id) = (
            http.clone(),
            hook.clone(),
            next_call.fetch_add(1, Ordering::Relaxed),
        );
        handles.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = http
                .post(&hook)
                .header("content-type", "application/json")
                .body(event(id, id))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            t.elapsed()
        }));
    }
    let mut lat = Vec::new();
    for h in handles {
        lat.push(h.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    results.push(Stats(lat).line(
        "dialpad webhook ack @500/s",
        &format!("{:.0} req/s offered", f64::from(rate * 10) / secs),
    ));

    // 1b. Saturation.
    let until = Instant::now() + Duration::from_secs(5);
    let mut workers = Vec::new();
    for _ in 0..64 {
        let (http, hook, next) = (http.clone(), hook.clone(), next_call.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < until {
                let id = next.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                let r = http
                    .post(&hook)
                    .header("content-type", "application/json")
                    .body(event(id, id))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for w in workers {
        lat.extend(w.await.unwrap());
    }
    let throughput = lat.len() as f64 / 5.0;
    results.push(Stats(lat).line(
        "dialpad webhook ack, saturation (64 conc.)",
        &format!("{throughput:.0} req/s"),
    ));
    // Let the processor drain the backlog before measuring delivery: a probe event queued
    // behind it arrives when everything before it was processed.
    let mut client = connect(&base, &key).await;
    let backlog = next_call.load(Ordering::Relaxed) - 1;
    let probe = next_call.fetch_add(1, Ordering::Relaxed);
    http.post(&hook)
        .header("content-type", "application/json")
        .body(event(probe, probe))
        .send()
        .await
        .unwrap();
    let drain_started = Instant::now();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(120), client.next())
            .await
            .expect("backlog drained")
            .unwrap()
            .unwrap();
        if call_id_of(&frame) == Some(probe) {
            break;
        }
    }
    let drain = started.elapsed().as_secs_f64();
    println!(
        "processing: {backlog} events stored in {:.1} s were all processed {:.1} s after the last one ({:.0} events/s overall)",
        drain - drain_started.elapsed().as_secs_f64(),
        drain_started.elapsed().as_secs_f64(),
        backlog as f64 / drain
    );
    results.push(json!({"name": "event processing throughput", "events": backlog, "events_per_s": backlog as f64 / drain}));

    // 2. Event-to-WebSocket delivery.
    let sent: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
    let total = 1000usize;
    let receiver = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let mut lat = Vec::new();
            while lat.len() < total {
                let Ok(Some(Ok(frame))) =
                    tokio::time::timeout(Duration::from_secs(20), client.next()).await
                else {
                    break;
                };
                if let Some(id) = call_id_of(&frame)
                    && let Some(t) = sent.lock().await.remove(&id)
                {
                    lat.push(t.elapsed());
                }
            }
            lat
        })
    };
    let mut ticks = tokio::time::interval(Duration::from_millis(5));
    for _ in 0..total {
        ticks.tick().await;
        let id = next_call.fetch_add(1, Ordering::Relaxed);
        sent.lock().await.insert(id, Instant::now());
        let (http, hook) = (http.clone(), hook.clone());
        tokio::spawn(async move {
            http.post(&hook)
                .header("content-type", "application/json")
                .body(event(id, id))
                .send()
                .await
                .unwrap();
        });
    }
    let lat = receiver.await.unwrap();
    let lost = total - lat.len();
    results.push(Stats(lat).line(
        "event → websocket delivery @200/s",
        &format!("{lost} not received"),
    ));

    // 3. Broadcast to 1,000 clients of one app.
    let mut clients = Vec::new();
    for _ in 0..1000 {
        clients.push(connect(&base, &key).await);
    }
    let mut lat = Vec::new();
    for _ in 0..30 {
        let id = next_call.fetch_add(1, Ordering::Relaxed);
        let t = Instant::now();
        http.post(&hook)
            .header("content-type", "application/json")
            .body(event(id, id))
            .send()
            .await
            .unwrap();
        let waits = clients.iter_mut().map(|ws| async move {
            while let Ok(Some(Ok(frame))) =
                tokio::time::timeout(Duration::from_secs(10), ws.next()).await
            {
                if call_id_of(&frame) == Some(id) {
                    return true;
                }
            }
            false
        });
        let received = futures_util::future::join_all(waits).await;
        assert!(received.iter().all(|r| *r), "a client missed a broadcast");
        lat.push(t.elapsed());
    }
    results.push(Stats(lat).line(
        "broadcast to 1,000 clients (last receipt)",
        "webhook sent → all 1,000 have it",
    ));
    drop(clients);
    tokio::time::sleep(Duration::from_secs(1)).await;

    // 4. 10,000 idle connections.
    let before = rss_kib(pid);
    let mut idle = Vec::with_capacity(10_000);
    let connect_started = Instant::now();
    for chunk in 0..100 {
        let batch = futures_util::future::join_all((0..100).map(|_| connect(&base, &key))).await;
        idle.extend(batch);
        if chunk == 99 {
            break;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(pid);
    let per_conn = (after.saturating_sub(before)) as f64 * 1024.0 / idle.len() as f64;
    println!(
        "idle websocket connections: {} open in {:.1} s; gateway RSS {} MiB → {} MiB ({per_conn:.0} bytes per connection); RSS at start {} MiB",
        idle.len(),
        connect_started.elapsed().as_secs_f64(),
        before / 1024,
        after / 1024,
        rss_start / 1024
    );
    results.push(
        json!({"name": "idle websocket connections", "connections": idle.len(),
        "rss_before_kib": before, "rss_after_kib": after, "bytes_per_connection": per_conn}),
    );
    drop(idle);

    let _ = child.kill();
    let _ = child.wait();
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("cti.json"),
        serde_json::to_vec_pretty(&json!({"results": results})).unwrap(),
    )
    .unwrap();
}
