//! Outbound webhook costs on a real PostgreSQL (the test cluster), issue 23 §2:
//!
//! 1. **Write path**: a tenant transaction that makes a change (one realtime outbox row, as an
//!    ordinary event-producing write does) and calls `webhooks::emit`, with no endpoint (what
//!    every organization without webhooks pays: one indexed read), with one subscribed endpoint
//!    and with three; against the same transaction without `emit` (before). p50/p99 of 2,000
//!    sequential transactions each.
//! 2. **Fan-out**: 2,000 messages to one endpoint and 2,000 to each of four endpoints, delivered
//!    by a job runner with 8 workers to a loopback receiver answering 204 at once; messages per
//!    second from the first enqueue to the last recorded success.
//!
//! Run: `cargo bench -p webhooks --bench delivery` (or `cargo xtask bench`). Not a test:
//! nothing here fails on a number.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use credentials::Keyring;
use db::test_support::{TestDatabase, create_org};
use db::{Db, DbError, OrgId};
use jobs::{Runner, RunnerConfig, Waker};
use realtime::{Audience, RealtimeEvent};
use serde_json::json;
use tenancy::audit::{Actor, RequestOrigin};
use webhooks::endpoints::{ChangedBy, Endpoints, NewEndpoint};
use webhooks::ssrf::AddressPolicy;
use webhooks::{Deliverer, DeliveryConfig};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};
use zeroize::Zeroizing;

const WARMUP: usize = 200;
const ITERATIONS: usize = 2_000;
const MESSAGES: usize = 2_000;

fn by() -> ChangedBy {
    ChangedBy {
        actor: Actor::System,
        origin: RequestOrigin::default(),
    }
}

/// One event-producing transaction: a realtime outbox row, and the webhook event when `emit`.
async fn change(db: &Db, org: OrgId, emit: bool) {
    db.tenant(org, async move |tx| {
        let event = RealtimeEvent {
            audience: Audience::Users { min_role: "user" },
            target_crm_user: None,
            payload: json!({"type": "contact_updated", "name": "Jane"}),
        };
        realtime::outbox::publish(tx, event).await?;
        if emit {
            webhooks::emit(tx, "contact.updated", json!({"name": "Jane"})).await?;
        }
        Ok::<_, DbError>(())
    })
    .await
    .unwrap();
}

async fn write_path(db: &Db, org: OrgId, name: &str, emit: bool) {
    for _ in 0..WARMUP {
        change(db, org, emit).await;
    }
    let mut samples = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS {
        let started = Instant::now();
        change(db, org, emit).await;
        samples.push(started.elapsed());
    }
    latency_stats::report(name, &samples, "(one connection)");
}

async fn endpoints_at(endpoints: &Endpoints, org: OrgId, url: &str, n: usize) {
    for _ in 0..n {
        let new = NewEndpoint {
            url: url.to_owned(),
            ..NewEndpoint::default()
        };
        endpoints.create(org, by(), new).await.unwrap();
    }
}

async fn pending(db: &Db, org: OrgId) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    db.tenant(org, async move |tx| {
        use diesel_async::RunQueryDsl as _;
        let row: N = diesel::sql_query(
            "SELECT count(*) AS n FROM webhook_deliveries WHERE status <> 'succeeded'",
        )
        .get_result(tx)
        .await?;
        Ok::<_, DbError>(row.n)
    })
    .await
    .unwrap()
}

/// Delivers `MESSAGES` messages to the organization's endpoints; prints deliveries per second.
async fn fan_out(db: &Db, org: OrgId, endpoints: &Endpoints, name: &str, per_message: usize) {
    for i in 0..MESSAGES {
        db.tenant(org, async move |tx| {
            webhooks::emit(tx, "lead.hot", json!({"lead_score": i})).await
        })
        .await
        .unwrap();
    }
    let runner = Runner::new(
        Waker::new(db.clone(), Duration::from_millis(5)),
        RunnerConfig {
            workers: 8,
            batch: 16,
            ..RunnerConfig::default()
        },
        "bench",
    );
    let config = DeliveryConfig {
        endpoint_concurrency: 8,
        ..DeliveryConfig::default()
    };
    let deliverer = Deliverer::new(db.clone(), endpoints.clone(), config).unwrap();
    let started = Instant::now();
    let handle = deliverer.register_jobs(runner).start();
    while pending(db, org).await > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    handle.shutdown().await;
    let deliveries = MESSAGES * per_message;
    println!(
        "{name:<44} {deliveries} deliveries in {:.2} s: {:>6.0} deliveries/s",
        elapsed.as_secs_f64(),
        deliveries as f64 / elapsed.as_secs_f64()
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let test_db = TestDatabase::new().await;
        let db = test_db.db();
        let keyring = Keyring::new([("k".to_owned(), Zeroizing::new(vec![5u8; 32]))], "k").unwrap();
        let policy = AddressPolicy::new(vec!["127.0.0.0/8".parse().unwrap()]);
        let endpoints = Endpoints::new(db.clone(), Arc::new(keyring), Arc::new(policy));
        let receiver = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(204))
            .mount(&receiver)
            .await;

        let org = create_org(&db, "Bench writes").await;
        write_path(&db, org, "write path, no emit (before)", false).await;
        write_path(&db, org, "write path + emit, no endpoint", true).await;
        endpoints_at(&endpoints, org, &receiver.uri(), 1).await;
        write_path(&db, org, "write path + emit, 1 endpoint", true).await;
        endpoints_at(&endpoints, org, &receiver.uri(), 2).await;
        write_path(&db, org, "write path + emit, 3 endpoints", true).await;

        let one = create_org(&db, "Bench fan-out 1").await;
        endpoints_at(&endpoints, one, &receiver.uri(), 1).await;
        fan_out(&db, one, &endpoints, "fan-out, 1 endpoint", 1).await;
        let four = create_org(&db, "Bench fan-out 4").await;
        endpoints_at(&endpoints, four, &receiver.uri(), 4).await;
        fan_out(&db, four, &endpoints, "fan-out, 4 endpoints", 4).await;
    });
}
