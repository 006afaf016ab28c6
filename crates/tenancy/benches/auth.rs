//! Per-request authentication cost, on a real PostgreSQL (the test cluster): API-key
//! authentication (`api_keys::authenticate`) and JWT + session check (`sessions::authenticate`),
//! each called sequentially N times after a warm-up; prints p50/p99/p99.9/max and throughput.
//! Run: `cargo bench -p tenancy --bench auth` (or `cargo xtask bench`). Not a test: nothing here
//! fails on a number.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::time::{Duration, Instant};

use db::test_support::TestDatabase;
use tenancy::api_keys::{self, ApiKeyPepper};
use tenancy::audit::{Actor, ChangedBy, RequestOrigin};
use tenancy::organizations::{self, NewOrganization};
use tenancy::sessions::{self, ClientInfo, JwtKeys};
use tenancy::{apps, demo};

/// Prints the percentiles of `samples` and the sequential throughput they add up to.
fn report(name: &str, samples: &[Duration]) {
    let total: Duration = samples.iter().sum();
    let per_second = samples.len() as f64 / total.as_secs_f64();
    latency_stats::report(
        name,
        samples,
        &format!("{per_second:>6.0} req/s (one connection)"),
    );
}

const WARMUP: usize = 200;
const ITERATIONS: usize = 5_000;

async fn measure<F, Fut>(name: &str, mut call: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..WARMUP {
        call().await;
    }
    let mut samples = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS {
        let started = Instant::now();
        call().await;
        samples.push(started.elapsed());
    }
    report(name, &samples);
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let test_db = TestDatabase::new().await;
        let db = test_db.db();
        let jwt = JwtKeys::new(&[7u8; 32]).unwrap();
        let pepper = ApiKeyPepper::new(&[9u8; 32]).unwrap();

        // A second organization with data, so that look-ups are not on an empty table.
        demo::seed(&db).await.unwrap();
        let (org, admin) = organizations::provision(
            &db,
            &NewOrganization {
                name: "Bench Clinic",
                slug: "bench-clinic",
                admin_email: "admin@bench.example",
                admin_name: "Bench Admin",
                admin_password: "bench password 2026",
            },
        )
        .await
        .unwrap();
        let org_id = db::OrgId(org.id);
        let by = ChangedBy {
            actor: Actor::User(admin.id),
            origin: RequestOrigin::default(),
        };
        let mut key = String::new();
        for i in 0..50 {
            let name = format!("App {i}");
            let app = db
                .tenant(org_id, async |tx| apps::create(tx, &name, &by).await)
                .await
                .unwrap();
            key = db
                .tenant(org_id, async |tx| {
                    api_keys::issue(tx, &pepper, app.id, &by).await
                })
                .await
                .unwrap()
                .key
                .expose()
                .to_owned();
        }
        let signed_in = sessions::login(&db, &jwt, "admin@bench.example", "bench password 2026", &ClientInfo::default())
            .await
            .unwrap();

        // What confirming a caller-ID code costs: one argon2id verification (m = 19456 KiB,
        // t = 2, p = 1), the same parameters as passwords.
        let stored = tenancy::password::hash_secret("407153").unwrap();
        let mut argon = Vec::with_capacity(50);
        for _ in 0..50 {
            let started = Instant::now();
            assert!(tenancy::password::verify("407153", &stored));
            argon.push(started.elapsed());
        }
        report("argon2id verify (m=19456,t=2,p=1)", &argon);

        println!("auth benchmark: {ITERATIONS} sequential calls after {WARMUP} warm-up, release build, local PostgreSQL");
        measure("api key authenticate", || async {
            api_keys::authenticate(&db, &pepper, &key).await.unwrap();
        })
        .await;
        measure("jwt + session authenticate", || async {
            sessions::authenticate(&db, &jwt, &signed_in.token).await.unwrap();
        })
        .await;
        measure("unknown api key (refused)", || async {
            let unknown = format!("app_{}", "0".repeat(64));
            api_keys::authenticate(&db, &pepper, &unknown).await.unwrap_err();
        })
        .await;
    });
}
