//! The event log on a real database: ingestion (signed and unsigned, duplicates), processing out
//! of order, crash recovery, dead letters, and tenant isolation of every new table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use credentials::Keyring;
use db::test_support::{
    IsolationProbe, TestDatabase, assert_tenant_isolation, create_app, create_org, insert_app,
};
use db::{AsyncPgConnection, ConnFuture, Db, DbError, OrgId};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use event_log::dialpad::PayloadError;
use event_log::{EventLogError, ingest, processor};
use jobs::{Runner, RunnerConfig, Waker};
use serde_json::{Value, json};
use uuid::Uuid;

/// The first ten rows of a list.
const FIRST_TEN: db::Page = db::Page {
    limit: 10,
    offset: 0,
};

fn keyring() -> Keyring {
    Keyring::from_config("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "k1").unwrap()
}

fn signed(claims: &Value, secret: &[u8]) -> String {
    let h = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
    let c = URL_SAFE_NO_PAD.encode(claims.to_string());
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let sig = ring::hmac::sign(&key, format!("{h}.{c}").as_bytes());
    format!("{h}.{c}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

/// A call event as contracts/telephony.md A.3 describes it.
fn call_event(call_id: i64, state: &str, ts: i64) -> Value {
    json!({
        "call_id": call_id, "state": state, "direction": "inbound",
        "external_number": "+15551234567", "internal_number": "+15559876543",
        "date_started": 1_769_596_200_000_i64, "date_connected": 1_769_596_260_000_i64,
        "date_ended": if state == "hangup" { json!(1_769_596_380_000_i64) } else { Value::Null },
        "duration": if state == "hangup" { json!(120_000.0) } else { Value::Null },
        "event_timestamp": ts,
        "target": {"id": 987_654, "type": "user", "name": "Ana Front Desk"},
        "contact": {"id": "5", "type": "contact", "phone": "+15551234567"},
        "is_transferred": "FALSE"
    })
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(db: &Db, org: OrgId, sql: &'static str) -> i64 {
    db.tenant(org, async move |tx| {
        let row: Count = diesel::sql_query(sql).get_result(tx).await?;
        Ok::<_, DbError>(row.n)
    })
    .await
    .unwrap()
}

#[derive(QueryableByName)]
struct Payload {
    #[diesel(sql_type = diesel::sql_types::Jsonb)]
    payload: Value,
}

async fn published(db: &Db, org: OrgId) -> Vec<Value> {
    db.tenant(org, async move |tx| {
        let rows: Vec<Payload> =
            diesel::sql_query("SELECT payload FROM realtime_events ORDER BY seq")
                .load(tx)
                .await?;
        Ok::<_, DbError>(rows.into_iter().map(|r| r.payload).collect())
    })
    .await
    .unwrap()
}

/// An instance's job runner with the event handler: `workers` workers claiming `batch` jobs
/// under a 1 s lease.
fn runner(db: &Db, name: &str, workers: usize, batch: i32) -> Runner {
    let config = RunnerConfig {
        workers,
        batch,
        batched: batch,
        lease: Duration::from_secs(1),
        idle_poll: Duration::from_millis(100),
        ..RunnerConfig::default()
    };
    processor::register(Runner::new(waker(db), config, name), db.clone())
}

fn waker(db: &Db) -> Waker {
    Waker::new(db.clone(), Duration::ZERO)
}

/// [`ingest::dialpad`] with a fresh app cache: every delivery looks its app up.
async fn ingest_uncached(
    db: &Db,
    keys: &Keyring,
    app: Uuid,
    body: &[u8],
) -> Result<ingest::Ingested, EventLogError> {
    let apps = ingest::DialpadApps::default();
    ingest::dialpad(db, keys, &apps, &waker(db), app, body).await
}

async fn drain(db: &Db) {
    let runner = runner(db, "test", 1, 32);
    while runner.run_once("test/0").await.unwrap() > 0 {}
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicates_and_out_of_order_events_make_one_monotonic_call() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let keys = keyring();
    let org = create_org(&db, "Clinic").await;
    let app = create_app(&db, org).await;
    db.tenant(org, async |tx| {
        user_mapping::upsert(
            tx,
            app,
            987_654,
            "crm_ana",
            &user_mapping::ChangedBy::system(),
        )
        .await
    })
    .await
    .unwrap();

    // hangup first, then connected, then ringing; each delivered three times.
    let events = [
        call_event(42, "hangup", 1_769_596_380_500),
        call_event(42, "connected", 1_769_596_260_500),
        call_event(42, "ringing", 1_769_596_200_500),
    ];
    let mut first_ids = Vec::new();
    for event in &events {
        let body = event.to_string();
        let first = ingest_uncached(&db, &keys, app, body.as_bytes())
            .await
            .unwrap();
        assert!(!first.duplicate);
        for _ in 0..2 {
            let again = ingest_uncached(&db, &keys, app, body.as_bytes())
                .await
                .unwrap();
            assert!(again.duplicate);
            assert_eq!(again.event_id, first.event_id);
        }
        first_ids.push(first.event_id);
    }
    assert_eq!(
        count(&db, org, "SELECT count(*) AS n FROM webhook_events").await,
        3
    );

    drain(&db).await;
    assert_eq!(
        count(
            &db,
            org,
            "SELECT count(*) AS n FROM webhook_events WHERE status = 'done'"
        )
        .await,
        3
    );
    let (calls, total) = db
        .tenant(org, async |tx| {
            event_log::calls::list(tx, app, None, FIRST_TEN).await
        })
        .await
        .unwrap();
    assert_eq!(total, 1);
    let call = &calls[0];
    assert_eq!(call.status, "ended");
    assert_eq!(call.duration_seconds, Some(120));
    assert_eq!(call.crm_user_id.as_deref(), Some("crm_ana"));
    assert!(call.rang_at.is_some() && call.started_at.is_some() && call.ended_at.is_some());

    // Only the event that moved the call forward was broadcast: the late ones are history.
    let sent = published(&db, org).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        sent[0],
        json!({
            "event": "call.ended", "call_id": 42, "direction": "inbound",
            "from_number": "+15551234567", "to_number": "+15559876543", "status": "ended",
            "duration_seconds": 120, "outcome": "completed", "user_id": 987_654,
            "timestamp": "2026-01-28T10:33:00.500Z", "target_crm_user": "crm_ana"
        })
    );
}

/// An inbound call nobody answered: no `date_connected`, no talk time.
fn unanswered(call_id: i64, state: &str, ts: i64) -> Value {
    let mut event = call_event(call_id, state, ts);
    event["date_connected"] = Value::Null;
    event["duration"] = Value::Null;
    event
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missed_call_ends_once_with_outcome_missed_with_or_without_a_hangup() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let keys = keyring();
    let org = create_org(&db, "Clinic").await;
    let app = create_app(&db, org).await;
    // 51: missed, no hangup. 52: missed then hangup. 53: hangup then missed.
    let events = [
        unanswered(51, "ringing", 1_769_596_200_000),
        unanswered(51, "missed", 1_769_596_230_000),
        unanswered(52, "ringing", 1_769_596_200_000),
        unanswered(52, "missed", 1_769_596_230_000),
        unanswered(52, "hangup", 1_769_596_231_000),
        unanswered(53, "ringing", 1_769_596_200_000),
        unanswered(53, "hangup", 1_769_596_231_000),
        unanswered(53, "missed", 1_769_596_232_000),
    ];
    for event in &events {
        let stored = ingest_uncached(&db, &keys, app, event.to_string().as_bytes())
            .await
            .unwrap();
        assert_ne!(stored.event_type, "ignored", "{event}");
    }
    drain(&db).await;
    let (calls, total) = db
        .tenant(org, async |tx| {
            event_log::calls::list(tx, app, None, FIRST_TEN).await
        })
        .await
        .unwrap();
    assert_eq!(total, 3);
    for call in &calls {
        assert_eq!(call.status, "ended", "{call:?}");
        assert_eq!(call.outcome.as_deref(), Some("missed"), "{call:?}");
        assert!(
            call.ended_at.is_some() && call.started_at.is_none(),
            "{call:?}"
        );
    }
    let sent = published(&db, org).await;
    for call_id in [51, 52, 53] {
        let ended: Vec<&Value> = sent
            .iter()
            .filter(|e| e["call_id"] == call_id && e["event"] == "call.ended")
            .collect();
        assert_eq!(ended.len(), 1, "{call_id}: {sent:?}");
        assert_eq!(ended[0]["outcome"], "missed", "{call_id}");
    }
}

/// The event payloads `worker` claims (up to `limit`), through the job runner's own claim
/// function.
async fn claim(db: &Db, org: OrgId, worker: &'static str, limit: i32) -> Vec<Value> {
    let jobs: Vec<Payload> = db
        .system(db::SystemOp::JobClaim, async move |c| {
            diesel::sql_query("SELECT payload FROM jobs_claim($1, ARRAY['dialpad.event'], $2, 60)")
                .bind::<Text, _>(worker)
                .bind::<diesel::sql_types::Integer, _>(limit)
                .load(c)
                .await
                .map_err(DbError::Query)
        })
        .await
        .unwrap();
    let mut events = Vec::new();
    for job in jobs {
        let id = Uuid::parse_str(job.payload["event_id"].as_str().unwrap()).unwrap();
        let event: Payload = db
            .tenant(org, async move |tx| {
                diesel::sql_query("SELECT payload FROM webhook_events WHERE id = $1")
                    .bind::<SqlUuid, _>(id)
                    .get_result(tx)
                    .await
                    .map_err(DbError::Query)
            })
            .await
            .unwrap();
        events.push(event.payload);
    }
    events
}

#[tokio::test(flavor = "multi_thread")]
async fn a_calls_events_are_claimed_in_arrival_order_one_worker_at_a_time() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let keys = keyring();
    let org = create_org(&db, "Clinic").await;
    let app = create_app(&db, org).await;
    for event in [
        unanswered(61, "ringing", 1_769_596_200_000),
        unanswered(61, "hangup", 1_769_596_230_000),
        unanswered(62, "ringing", 1_769_596_201_000),
    ] {
        ingest_uncached(&db, &keys, app, event.to_string().as_bytes())
            .await
            .unwrap();
    }
    // Worker a takes call 61's ring; worker b may take call 62's, never 61's hangup, which
    // would otherwise be applied before the ring and hide it.
    let a = claim(&db, org, "a", 1).await;
    assert_eq!((a.len(), &a[0]["state"]), (1, &json!("ringing")));
    assert_eq!(a[0]["call_id"], 61);
    let b = claim(&db, org, "b", 10).await;
    let got: Vec<(&Value, &Value)> = b.iter().map(|e| (&e["call_id"], &e["state"])).collect();
    assert_eq!(got, vec![(&json!(62), &json!("ringing"))]);
}

#[tokio::test(flavor = "multi_thread")]
async fn in_order_events_broadcast_each_step_and_voicemails_are_recorded() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let keys = keyring();
    let org = create_org(&db, "Clinic").await;
    let app = create_app(&db, org).await;
    for (state, ts) in [("ringing", 1), ("connected", 2), ("hangup", 3)] {
        let body = call_event(7, state, 1_769_596_200_000 + ts).to_string();
        ingest_uncached(&db, &keys, app, body.as_bytes())
            .await
            .unwrap();
    }
    let voicemail = json!({
        "call_id": "8", "state": "voicemail_uploaded", "direction": "inbound",
        "external_number": "+15551234567", "internal_number": "+15559876543",
        "event_timestamp": 1_769_596_410_000_i64, "target": {"id": "987654", "type": "user"},
        "voicemail_link": "https://dialpad.com/v/8.mp3",
        "recording_details": [{"recording_type": "voicemail", "url": "https://dialpad.com/v/8.mp3", "duration": 45_000}],
        "transcription_text": "Hi, it's Mary about my appointment"
    });
    let ingested = ingest_uncached(&db, &keys, app, voicemail.to_string().as_bytes())
        .await
        .unwrap();
    assert_eq!(ingested.event_type, "voicemail.received");
    drain(&db).await;

    let sent = published(&db, org).await;
    let kinds: Vec<&str> = sent.iter().map(|p| p["event"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "call.ring",
            "call.started",
            "call.ended",
            "voicemail.received"
        ]
    );
    assert_eq!(sent[0]["status"], "ringing");
    assert_eq!(sent[1]["status"], "active");
    assert!(
        sent[0].get("target_crm_user").is_none(),
        "unmapped user: no target"
    );
    let (voicemails, _) = db
        .tenant(org, async |tx| {
            voicemail::list(tx, app, Some(987_654), FIRST_TEN).await
        })
        .await
        .unwrap();
    assert_eq!(voicemails.len(), 1);
    assert_eq!(voicemails[0].duration_seconds, Some(45));
    assert_eq!(sent[3]["voicemail_id"], json!(voicemails[0].id));
    assert_eq!(sent[3]["duration_seconds"], 45);
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_apps_accept_only_their_signature() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let keys = keyring();
    let org = create_org(&db, "Clinic").await;
    let app = create_app(&db, org).await;
    let secret = "whsec-dialpad-0123456789abcdef";
    event_log::secrets::set(&db, &keys, org, app, secret)
        .await
        .unwrap();
    assert!(
        db.tenant(org, async |tx| event_log::secrets::is_configured(tx, app)
            .await)
            .await
            .unwrap()
    );
    let event = call_event(1, "ringing", 1);

    let ok = ingest_uncached(
        &db,
        &keys,
        app,
        signed(&event, secret.as_bytes()).as_bytes(),
    )
    .await;
    assert!(!ok.unwrap().duplicate);
    let refusals = [
        (signed(&event, b"not-the-secret-at-all"), "bad"),
        (event.to_string(), "plain"),
    ];
    for (body, what) in refusals {
        let err = ingest_uncached(&db, &keys, app, body.as_bytes())
            .await
            .unwrap_err();
        match (what, err) {
            ("bad", EventLogError::Payload(PayloadError::BadSignature))
            | ("plain", EventLogError::Payload(PayloadError::SignatureRequired)) => {}
            (what, other) => panic!("{what}: {other:?}"),
        }
    }
    assert_eq!(
        count(&db, org, "SELECT count(*) AS n FROM webhook_events").await,
        1
    );

    // Secrets are bound to their app: another org cannot set or see this app's.
    let other = create_org(&db, "Other").await;
    assert!(matches!(
        event_log::secrets::set(&db, &keys, other, app, secret).await,
        Err(EventLogError::NotFound("app"))
    ));
    // Unknown apps and missing fields are refused, storing nothing.
    assert!(matches!(
        ingest_uncached(&db, &keys, Uuid::new_v4(), b"{}").await,
        Err(EventLogError::NotFound("app"))
    ));
    assert!(
        db.tenant(org, async |tx| event_log::secrets::remove(tx, app).await)
            .await
            .unwrap()
    );
    assert!(matches!(
        ingest_uncached(&db, &keys, app, br#"{"state":"ringing"}"#).await,
        Err(EventLogError::Payload(PayloadError::Missing("call_id")))
    ));
}

/// The app look-up is reused for [`ingest::APP_TTL`]; `forget` applies a change at once.
#[tokio::test(flavor = "multi_thread")]
async fn an_apps_look_up_is_reused_for_a_second_and_forgotten_on_change() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let keys = keyring();
    let apps = ingest::DialpadApps::default();
    let org = create_org(&db, "Clinic").await;
    let app = create_app(&db, org).await;
    let deliver = async |call_id: i64| {
        let body = call_event(call_id, "ringing", 1).to_string();
        ingest::dialpad(&db, &keys, &apps, &waker(&db), app, body.as_bytes()).await
    };
    deliver(1).await.expect("plain JSON before any secret");

    // Set behind the cache's back (as another instance would): plain JSON is still
    // accepted from the cached look-up, for at most APP_TTL.
    let secret = "whsec-dialpad-0123456789abcdef";
    event_log::secrets::set(&db, &keys, org, app, secret)
        .await
        .unwrap();
    deliver(2).await.expect("the cached look-up");

    // Forgotten on this instance: the very next delivery must be signed.
    apps.forget(app).await;
    assert!(matches!(
        deliver(3).await,
        Err(EventLogError::Payload(PayloadError::SignatureRequired))
    ));

    // Removed behind its back again: after APP_TTL the change applies without `forget`.
    db.tenant(org, async |tx| event_log::secrets::remove(tx, app).await)
        .await
        .unwrap();
    tokio::time::sleep(ingest::APP_TTL + Duration::from_millis(200)).await;
    deliver(4)
        .await
        .expect("plain JSON once the secret is gone");
    assert_eq!(
        count(&db, org, "SELECT count(*) AS n FROM webhook_events").await,
        3
    );
}

/// Events of `org` applied (`done`).
async fn done_events(db: &Db, org: OrgId) -> i64 {
    count(
        db,
        org,
        "SELECT count(*) AS n FROM webhook_events WHERE status = 'done'",
    )
    .await
}

/// Jobs of `org` claimed and not finished.
async fn running_jobs(db: &Db, org: OrgId) -> i64 {
    count(
        db,
        org,
        "SELECT count(*) AS n FROM jobs WHERE status = 'running'",
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_processor_killed_mid_batch_loses_nothing_and_repeats_nothing() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let keys = keyring();
    let org = create_org(&db, "Clinic").await;
    let app = create_app(&db, org).await;
    const N: i64 = 300;
    for call in 0..N {
        let body = call_event(1_000 + call, "ringing", 1_769_596_200_000).to_string();
        ingest_uncached(&db, &keys, app, body.as_bytes())
            .await
            .unwrap();
    }
    let first = runner(&db, "first", 2, 50).start();
    let started = Instant::now();
    loop {
        let done = done_events(&db, org).await;
        // Killed while a claim is in flight, not in the gap between two batches.
        let in_flight = running_jobs(&db, org).await;
        if done >= 20 && in_flight > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "processor made no progress"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(first); // killed: claims in flight stay 'running' until their lease ends
    let done = done_events(&db, org).await;
    let leased = running_jobs(&db, org).await;
    assert!(done < N, "killed too late to be mid-batch");
    assert!(
        leased > 0,
        "nothing was in flight when killed (done {done})"
    );

    let second = runner(&db, "second", 2, 50).start();
    let started = Instant::now();
    while done_events(&db, org).await < N {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "events were lost"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    second.shutdown().await;
    // Exactly once in effect: one call and one broadcast per event.
    assert_eq!(count(&db, org, "SELECT count(*) AS n FROM calls").await, N);
    assert_eq!(
        count(&db, org, "SELECT count(*) AS n FROM realtime_events").await,
        N
    );
    assert_eq!(
        count(
            &db,
            org,
            "SELECT count(DISTINCT payload->>'call_id') AS n FROM realtime_events"
        )
        .await,
        N
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unusable_events_are_dead_lettered_with_their_error_and_cost_their_batch_nothing() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let keys = keyring();
    let org = create_org(&db, "Clinic").await;
    let app = create_app(&db, org).await;
    // A voicemail without a Dialpad user cannot be stored (seed 000: the recipient is required).
    let body = json!({"call_id": 9, "state": "voicemail", "event_timestamp": 5,
                      "target": {"id": 3, "type": "office"}, "voicemail_link": "https://dialpad.com/v/9"});
    // Claimed in one batch with two usable events: the batch fails as a whole, and each
    // event is then applied alone, so the bad one costs the others nothing.
    let good = [
        call_event(10, "ringing", 1_769_596_200_000),
        call_event(11, "ringing", 1_769_596_200_000),
    ];
    for event in [&good[0], &body, &good[1]] {
        ingest_uncached(&db, &keys, app, event.to_string().as_bytes())
            .await
            .unwrap();
    }
    drain(&db).await;
    assert_eq!(
        count(&db, org, "SELECT count(*) AS n FROM webhook_events WHERE status = 'dead' AND last_error LIKE '%dialpad_user_id%'").await,
        1
    );
    assert_eq!(
        count(
            &db,
            org,
            "SELECT count(*) AS n FROM webhook_events WHERE status = 'done'"
        )
        .await,
        2
    );
    assert_eq!(count(&db, org, "SELECT count(*) AS n FROM calls").await, 2);
    assert_eq!(
        count(&db, org, "SELECT count(*) AS n FROM jobs").await,
        0,
        "its job completed: no retry"
    );
    let calls: Vec<Value> = published(&db, org)
        .await
        .iter()
        .map(|e| e["call_id"].clone())
        .collect();
    assert_eq!(
        calls,
        vec![json!(10), json!(11)],
        "the usable events, once each"
    );
    assert_eq!(processor::RETRY.delay(1), Duration::from_secs(1));
    assert_eq!(processor::RETRY.delay(4), Duration::from_secs(8));
    assert_eq!(processor::RETRY.delay(30), Duration::from_secs(300));
}

fn insert_webhook_event(
    c: &mut AsyncPgConnection,
    org: OrgId,
) -> ConnFuture<'_, Result<Uuid, DbError>> {
    Box::pin(async move {
        let app = insert_app(c, org).await?;
        let id = Uuid::new_v4();
        diesel::sql_query(
            "INSERT INTO webhook_events (id, org_id, app_id, source, idempotency_key, event_type, payload)
             VALUES ($1, $2, $3, 'dialpad', $4, 'call.ring', '{}')",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<SqlUuid, _>(org.0)
        .bind::<SqlUuid, _>(app)
        .bind::<Text, _>(id.to_string())
        .execute(c)
        .await?;
        Ok(id)
    })
}

fn insert_call(c: &mut AsyncPgConnection, org: OrgId) -> ConnFuture<'_, Result<Uuid, DbError>> {
    Box::pin(async move {
        let app = insert_app(c, org).await?;
        let id = Uuid::new_v4();
        diesel::sql_query(
            "INSERT INTO calls (id, org_id, app_id, dialpad_call_id, status) VALUES ($1, $2, $3, 1, 'ringing')",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<SqlUuid, _>(org.0)
        .bind::<SqlUuid, _>(app)
        .execute(c)
        .await?;
        Ok(id)
    })
}

fn insert_secret(c: &mut AsyncPgConnection, org: OrgId) -> ConnFuture<'_, Result<Uuid, DbError>> {
    Box::pin(async move {
        let app = insert_app(c, org).await?;
        diesel::sql_query(
            "INSERT INTO app_webhook_secrets (app_id, org_id, key_id, nonce, ciphertext)
             VALUES ($1, $2, 'k1', '\\x000000000000000000000000', '\\x00')",
        )
        .bind::<SqlUuid, _>(app)
        .bind::<SqlUuid, _>(org.0)
        .execute(c)
        .await?;
        Ok(app)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn new_tables_isolate_tenants() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    for probe in [
        IsolationProbe {
            table: "webhook_events",
            tenant_column: "org_id",
            id_column: "id",
            insert: &insert_webhook_event,
        },
        IsolationProbe {
            table: "calls",
            tenant_column: "org_id",
            id_column: "id",
            insert: &insert_call,
        },
    ] {
        assert_tenant_isolation(&db, &probe).await;
    }
    // app_webhook_secrets is keyed by app_id: check by hand.
    let (a, b) = (create_org(&db, "A").await, create_org(&db, "B").await);
    let app_b = db
        .tenant(b, async move |tx| insert_secret(tx, b).await)
        .await
        .unwrap();
    let seen_by_a = db
        .tenant(a, async move |tx| {
            let row: Count = diesel::sql_query(
                "SELECT count(*) AS n FROM app_webhook_secrets WHERE app_id = $1",
            )
            .bind::<SqlUuid, _>(app_b)
            .get_result(tx)
            .await?;
            Ok::<_, DbError>(row.n)
        })
        .await
        .unwrap();
    assert_eq!(seen_by_a, 0);
    assert!(
        db.tenant(a, async move |tx| insert_secret(tx, b).await)
            .await
            .is_err()
    );

    // realtime_events (keyed by seq): org A neither sees nor writes org B's events.
    let app_a = create_app(&db, a).await;
    db.tenant(b, async move |tx| {
        realtime::outbox::publish(
            tx,
            realtime::RealtimeEvent {
                audience: realtime::Audience::App(app_b),
                target_crm_user: None,
                payload: json!({"event": "call.ring"}),
            },
        )
        .await
        .map_err(DbError::from)
    })
    .await
    .unwrap();
    assert!(published(&db, a).await.is_empty());
    assert_eq!(published(&db, b).await.len(), 1);
    // `publish` takes the organization from the transaction, so only SQL can try to forge one.
    let forged = db
        .tenant(a, async move |tx| {
            diesel::sql_query(
                "INSERT INTO realtime_events (org_id, audience, app_id, payload) \
                 VALUES ($1, 'app', $2, '{}')",
            )
            .bind::<SqlUuid, _>(b.0)
            .bind::<SqlUuid, _>(app_a)
            .execute(tx.conn())
            .await
            .map_err(DbError::Query)
        })
        .await;
    assert!(forged.is_err(), "RLS must refuse an event for another org");
}
