//! The real binary: configuration errors name the variable; SIGTERM shuts down cleanly.
#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use db::test_support::TestDatabase;

fn gateway() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gateway"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("JWT_SECRET", "process-test-jwt-secret-0123456789")
        .env("API_KEY_PEPPER", "process-test-api-key-pepper-012345")
        .env(
            "CREDENTIALS_KEYS",
            gateway::test_support::TEST_CREDENTIALS_KEYS,
        )
        .env("CREDENTIALS_ACTIVE_KEY", "test")
        .stdin(Stdio::null());
    cmd
}

#[test]
fn a_missing_variable_stops_start_up_with_its_name() {
    let out = gateway().output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("DATABASE_URL is not set"), "{stderr}");

    let out = gateway()
        .env("DATABASE_URL", "postgres://rt:pw@127.0.0.1:1/x")
        .env("DATABASE_OWNER_URL", "postgres://own:pw@127.0.0.1:1/x")
        .env("DB_POOL_SIZE", "lots")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("DB_POOL_SIZE is invalid"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn serving_as_the_owner_role_is_refused() {
    let test_db = TestDatabase::new().await;
    let out = gateway()
        .env("DATABASE_URL", test_db.owner_url())
        .env("DATABASE_OWNER_URL", test_db.owner_url())
        .env("BIND_ADDR", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("can bypass row-level security"), "{stderr}");
    assert!(
        !stderr.contains(&test_db.owner_url()),
        "URL with password in the output"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn get(port: u16, path: &str) -> Option<u16> {
    gateway::test_support::http_client()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread")]
async fn migrates_serves_and_stops_cleanly_on_sigterm() {
    let test_db = TestDatabase::new().await;
    // Start from an unmigrated database to exercise migrate-on-start-up.
    test_db.psql_superuser(
        "DROP SCHEMA public CASCADE; CREATE SCHEMA public AUTHORIZATION platform_owner;",
    );
    let port = free_port();
    let mut child = gateway()
        .env("DATABASE_URL", test_db.runtime_url())
        .env("DATABASE_OWNER_URL", test_db.owner_url())
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("SHUTDOWN_TIMEOUT_SECS", "5")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(30);
    while get(port, "/healthz").await != Some(200) {
        assert!(Instant::now() < deadline, "gateway did not come up");
        assert!(child.try_wait().unwrap().is_none(), "gateway exited early");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(get(port, "/readyz").await, Some(200));

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "gateway ignored SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status}");
    assert_eq!(
        get(port, "/healthz").await,
        None,
        "still serving after shutdown"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_rls_fails_for_a_tenant_table_without_forced_rls() {
    let test_db = TestDatabase::new().await;
    let check = || {
        gateway()
            .arg("check-rls")
            .env("DATABASE_OWNER_URL", test_db.owner_url())
            .output()
            .unwrap()
    };
    let out = check();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    test_db.psql_superuser(
        "SET ROLE platform_owner; \
         CREATE TABLE call_notes (id uuid PRIMARY KEY, org_id uuid NOT NULL); \
         ALTER TABLE call_notes ENABLE ROW LEVEL SECURITY; \
         CREATE POLICY tenant_isolation ON call_notes USING (org_id = current_org_id());",
    );
    let out = check();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("call_notes: row-level security is not forced"),
        "{stderr}"
    );
}

/// A gateway process, killed (SIGKILL) when dropped, so that a failing test leaves none behind.
struct Killed(std::process::Child);

impl Killed {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts the binary on `test_db` at `port` with a Vapi webhook secret; waits until ready.
async fn serve_vapi(test_db: &TestDatabase, port: u16) -> Killed {
    let mut child = gateway()
        .env("DATABASE_URL", test_db.runtime_url())
        .env("MIGRATE_ON_STARTUP", "false")
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("VAPI_WEBHOOK_SECRET", "process-test-vapi-secret")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(port, "/readyz").await != Some(200) {
        assert!(Instant::now() < deadline, "gateway did not come up");
        assert!(child.try_wait().unwrap().is_none(), "gateway exited early");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Killed(child)
}

/// Issue 22, "nothing lost or doubled": the gateway is killed with SIGKILL in the middle of a
/// burst of end-of-call reports (some sent twice); after a restart every acknowledged report
/// has its call row analysed exactly once (one row per call, one contact per caller, no job
/// left or dead), whatever was in flight.
#[tokio::test(flavor = "multi_thread")]
async fn every_acknowledged_report_is_analysed_once_after_a_kill_9() {
    let test_db = TestDatabase::new().await;
    let org = db::test_support::create_org(&test_db.db(), "Killed Clinic").await;
    test_db.psql_superuser(&format!(
        "INSERT INTO assistant_org_mapping (vapi_assistant_id, org_id, direction) \
         VALUES ('asst-kill', '{org}', 'inbound')"
    ));
    let port = free_port();
    let mut child = serve_vapi(&test_db, port).await;
    let client = gateway::test_support::http_client();
    let acks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = acks.clone();
    let send = move |i: u32| {
        let (client, counted) = (client.clone(), counted.clone());
        async move {
            let body = serde_json::json!({"message": {"type": "end-of-call-report",
                "endedReason": "customer-ended-call",
                "call": {"id": format!("kill-{i}"), "assistantId": "asst-kill",
                         "customer": {"number": format!("+1415777{i:04}")}},
                "artifact": {"transcript": "User: I'd like Botox."},
                "analysis": {"summary": "Asked about Botox."}}});
            let acked = client
                .post(format!("http://127.0.0.1:{port}/api/vapi/webhook"))
                .header("x-vapi-secret", "process-test-vapi-secret")
                .json(&body)
                .send()
                .await
                .is_ok_and(|r| r.status().as_u16() == 200);
            if acked {
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            (i, acked)
        }
    };
    // 400 reports (every tenth twice), 32 at a time; SIGKILL once 100 are acknowledged.
    let ids: Vec<u32> = (0..400).chain((0..400).step_by(10)).collect();
    let burst = tokio::spawn(async move {
        use futures_util::StreamExt as _;
        futures_util::stream::iter(ids)
            .map(send)
            .buffer_unordered(32)
            .collect::<Vec<_>>()
            .await
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while acks.load(std::sync::atomic::Ordering::Relaxed) < 100 {
        assert!(
            Instant::now() < deadline,
            "fewer than 100 reports acknowledged in 20 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill();
    let acked: std::collections::BTreeSet<u32> = burst
        .await
        .unwrap()
        .into_iter()
        .filter_map(|(i, ok)| ok.then_some(i))
        .collect();
    assert!(
        !acked.is_empty(),
        "nothing was acknowledged before the kill"
    );

    // Restarted, the instance finishes the queued analyses (those the killed one had claimed
    // once their 60 s lease has expired).
    let mut child = serve_vapi(&test_db, port).await;
    let count = |sql: &str| -> i64 { test_db.psql_superuser(sql).trim().parse().unwrap() };
    let deadline = Instant::now() + Duration::from_secs(90);
    while count("SELECT count(*) FROM jobs") > 0 {
        assert!(
            Instant::now() < deadline,
            "queued analyses were not finished: {}",
            test_db.psql_superuser(
                "SELECT status, count(*), max(last_error), min(locked_until) FROM jobs GROUP BY status"
            )
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill();
    let analysed: std::collections::BTreeSet<u32> = test_db
        .psql_superuser(
            "SELECT substr(vapi_call_id, 6) FROM call_logs \
              WHERE metadata ? 'lead_score' AND contact_id IS NOT NULL ORDER BY 1",
        )
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert!(
        acked.is_subset(&analysed),
        "acknowledged but not analysed: {:?}",
        acked.difference(&analysed).collect::<Vec<_>>()
    );
    assert_eq!(
        count("SELECT count(*) FROM call_logs"),
        count("SELECT count(DISTINCT vapi_call_id) FROM call_logs")
    );
    assert_eq!(
        count("SELECT count(*) FROM contacts"),
        count("SELECT count(DISTINCT phone) FROM contacts")
    );
    assert_eq!(
        count("SELECT count(*) FROM contacts"),
        count("SELECT count(*) FROM call_logs")
    );
}

/// Issue 23, "a kill -9 of the gateway mid-delivery loses no event": 150 webhook messages are
/// waiting for a slow receiver when the gateway is killed with SIGKILL in the middle of
/// delivering them; after a restart every message reaches the receiver (at least once: those
/// in flight at the kill may come twice, with the same `webhook-id`) and every delivery ends
/// `succeeded`.
#[tokio::test(flavor = "multi_thread")]
async fn every_webhook_message_is_delivered_after_a_kill_9_mid_delivery() {
    use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let org = db::test_support::create_org(&db, "Killed Webhooks").await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(100)))
        .mount(&receiver)
        .await;
    let keyring =
        credentials::Keyring::from_config(gateway::test_support::TEST_CREDENTIALS_KEYS, "test")
            .unwrap();
    let policy = webhooks::ssrf::AddressPolicy::new(vec!["127.0.0.0/8".parse().unwrap()]);
    let endpoints = webhooks::endpoints::Endpoints::new(
        db.clone(),
        std::sync::Arc::new(keyring),
        std::sync::Arc::new(policy),
    );
    let by = webhooks::endpoints::ChangedBy {
        actor: tenancy::audit::Actor::System,
        origin: tenancy::audit::RequestOrigin::default(),
    };
    let new = webhooks::endpoints::NewEndpoint {
        url: receiver.uri(),
        ..Default::default()
    };
    endpoints.create(org, by, new).await.unwrap();
    let mut sent = std::collections::BTreeSet::new();
    for i in 0..150 {
        let id = db
            .tenant(org, async move |tx| {
                webhooks::emit(tx, "lead.hot", serde_json::json!({"lead_score": i})).await
            })
            .await
            .unwrap()
            .unwrap();
        sent.insert(id);
    }

    let start = || {
        gateway()
            .env("DATABASE_URL", test_db.runtime_url())
            .env("MIGRATE_ON_STARTUP", "false")
            .env("BIND_ADDR", format!("127.0.0.1:{}", free_port()))
            .env("WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8")
            .env("WEBHOOK_RETRY_SCHEDULE", "100ms,100ms,100ms")
            .env("JOB_LEASE_SECS", "5")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .map(Killed)
            .unwrap()
    };
    let received = || async { receiver.received_requests().await.unwrap_or_default().len() };
    let mut child = start();
    let deadline = Instant::now() + Duration::from_secs(30);
    while received().await < 20 {
        assert!(Instant::now() < deadline, "nothing delivered in 30 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill();
    let before_restart = received().await;
    assert!(
        before_restart < sent.len(),
        "everything was delivered before the kill"
    );

    let mut child = start();
    let count = |sql: &str| -> i64 { test_db.psql_superuser(sql).trim().parse().unwrap() };
    let deadline = Instant::now() + Duration::from_secs(60);
    while count("SELECT count(*) FROM webhook_deliveries WHERE status <> 'succeeded'") > 0 {
        assert!(
            Instant::now() < deadline,
            "deliveries not finished: {}",
            test_db
                .psql_superuser("SELECT status, count(*) FROM webhook_deliveries GROUP BY status")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill();
    let delivered: std::collections::BTreeSet<String> = receiver
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(delivered, sent, "every message reached the receiver");
    assert_eq!(count("SELECT count(*) FROM jobs"), 0);
}
