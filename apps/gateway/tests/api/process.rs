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
