//! Outbound webhooks on a real database with a loopback receiver: a receiver failing four times
//! then succeeding gets the event once with valid signatures (checked by the `standardwebhooks`
//! crate, an independent implementation), the schedule's end, disabling a failing endpoint,
//! secret rotation's double signature, the SSRF guard at creation and at sending, resend and
//! replay, and tenant isolation of every webhook table.
#![allow(clippy::too_many_lines)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use credentials::Keyring;
use db::test_support::{IsolationProbe, TestDatabase, assert_tenant_isolation, create_org};
use db::{AsyncPgConnection, ConnFuture, Db, DbError, OrgId};
use diesel_async::RunQueryDsl;
use jobs::{Runner, RunnerConfig, RunnerHandle, Waker};
use serde_json::json;
use tenancy::audit::{Actor, RequestOrigin};
use uuid::Uuid;
use webhooks::endpoints::{ChangedBy, Endpoint, EndpointPatch, Endpoints, NewEndpoint};
use webhooks::ssrf::AddressPolicy;
use webhooks::{Deliverer, DeliveryConfig, WebhookError, emit, log};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};
use zeroize::Zeroizing;

fn keyring() -> Arc<Keyring> {
    Arc::new(Keyring::new([("k1".to_owned(), Zeroizing::new(vec![3u8; 32]))], "k1").unwrap())
}

fn loopback() -> Arc<AddressPolicy> {
    Arc::new(AddressPolicy::new(vec!["127.0.0.0/8".parse().unwrap()]))
}

fn admin() -> ChangedBy {
    ChangedBy {
        actor: Actor::User(Uuid::new_v4()),
        origin: RequestOrigin::default(),
    }
}

fn quick(schedule: &str) -> DeliveryConfig {
    DeliveryConfig {
        schedule: schedule.parse().unwrap(),
        timeout: Duration::from_secs(2),
        ..DeliveryConfig::default()
    }
}

/// A started runner delivering with `endpoints` and `config`.
fn start(db: &Db, endpoints: &Endpoints, config: DeliveryConfig) -> RunnerHandle {
    let runner = Runner::new(
        Waker::new(db.clone(), Duration::from_millis(5)),
        RunnerConfig {
            workers: 2,
            batch: 8,
            batched: 8,
            lease: Duration::from_secs(30),
            idle_poll: Duration::from_millis(50),
            schedule_poll: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(5),
        },
        "webhooks-test",
    );
    let deliverer = Deliverer::new(db.clone(), endpoints.clone(), config).unwrap();
    deliverer.register_jobs(runner).start()
}

async fn emit_one(
    db: &Db,
    org: OrgId,
    event_type: &'static str,
    data: serde_json::Value,
) -> Option<String> {
    db.tenant(org, async move |tx| emit(tx, event_type, data).await)
        .await
        .unwrap()
}

/// Waits until `check` holds (10 s at most).
async fn eventually<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn delivery(db: &Db, org: OrgId, message: &str) -> log::Delivery {
    db.tenant(org, async |tx| {
        log::deliveries(tx, message.to_owned()).await
    })
    .await
    .unwrap()
    .remove(0)
}

async fn create(
    endpoints: &Endpoints,
    org: OrgId,
    url: String,
    types: &[&str],
) -> (Endpoint, String) {
    let new = NewEndpoint {
        url,
        description: "CRM".into(),
        event_types: types.iter().map(|t| (*t).to_owned()).collect(),
    };
    let (endpoint, secret) = endpoints.create(org, admin(), new).await.unwrap();
    (endpoint, secret.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_failing_four_times_then_succeeding_gets_the_event_once_signed() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let org = create_org(&db, "Webhook Clinic").await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("busy"))
        .up_to_n_times(4)
        .with_priority(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .with_priority(2)
        .mount(&receiver)
        .await;
    let endpoints = Endpoints::new(db.clone(), keyring(), loopback());
    let (endpoint, secret) = create(
        &endpoints,
        org,
        format!("{}/hooks", receiver.uri()),
        &["contact.created"],
    )
    .await;
    let runner = start(&db, &endpoints, quick("20ms,20ms,20ms,20ms,20ms"));

    let skipped = emit_one(&db, org, "call.ended", json!({"call_id": "x"})).await;
    assert_eq!(skipped, None, "an unsubscribed type writes nothing");
    let id = emit_one(
        &db,
        org,
        "contact.created",
        json!({"contact_id": "c1", "name": "Jane"}),
    )
    .await
    .unwrap();
    eventually("the delivery to succeed", || async {
        delivery(&db, org, &id).await.status == "succeeded"
    })
    .await;
    runner.shutdown().await;

    let requests = receiver.received_requests().await.unwrap();
    assert_eq!(requests.len(), 5, "four failures and one success");
    let verifier = standardwebhooks::Webhook::new(&secret).unwrap();
    for r in &requests {
        verifier
            .verify(&r.body, &r.headers)
            .expect("a valid Standard Webhooks signature");
        assert_eq!(r.headers["webhook-id"].to_str().unwrap(), id);
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["type"], "contact.created");
        assert_eq!(body["data"]["name"], "Jane");
    }
    let log = db
        .tenant(org, async |tx| {
            log::attempts(tx, endpoint.id, Some(id.clone()), 50, 0).await
        })
        .await
        .unwrap();
    let codes: Vec<Option<i32>> = log.iter().rev().map(|a| a.status_code).collect();
    assert_eq!(
        codes,
        [Some(503), Some(503), Some(503), Some(503), Some(204)]
    );
    assert_eq!(log.last().unwrap().response_body, "busy");
    assert_eq!(delivery(&db, org, &id).await.attempts, 5);
    assert!(
        endpoints
            .get(org, endpoint.id)
            .await
            .unwrap()
            .failing_since
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_schedule_ends_in_failed_and_a_long_failing_endpoint_is_disabled_and_announced() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let org = create_org(&db, "Failing Clinic").await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&receiver)
        .await;
    let endpoints = Endpoints::new(db.clone(), keyring(), loopback());
    let (endpoint, _) = create(&endpoints, org, receiver.uri(), &[]).await;

    let runner = start(&db, &endpoints, quick("10ms,10ms"));
    let id = emit_one(&db, org, "lead.hot", json!({"lead_score": 90}))
        .await
        .unwrap();
    eventually("the delivery to fail", || async {
        delivery(&db, org, &id).await.status == "failed"
    })
    .await;
    runner.shutdown().await;
    assert_eq!(
        delivery(&db, org, &id).await.attempts,
        3,
        "first try and two retries"
    );
    let stored = endpoints.get(org, endpoint.id).await.unwrap();
    assert!(stored.enabled && stored.failing_since.is_some());

    // With a zero grace period the next failure disables it.
    let config = DeliveryConfig {
        disable_after: Duration::ZERO,
        ..quick("")
    };
    let runner = start(&db, &endpoints, config);
    let id = emit_one(&db, org, "lead.hot", json!({"lead_score": 91}))
        .await
        .unwrap();
    eventually("the endpoint to be disabled", || async {
        !endpoints.get(org, endpoint.id).await.unwrap().enabled
    })
    .await;
    runner.shutdown().await;
    let stored = endpoints.get(org, endpoint.id).await.unwrap();
    assert!(
        stored
            .disabled_reason
            .unwrap()
            .contains("every attempt failed")
    );
    assert_eq!(delivery(&db, org, &id).await.status, "failed");
    let events = db
        .tenant(org, async |tx| {
            realtime::outbox::of_room_after(tx, realtime::outbox::Room::Users, 0, 50).await
        })
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.payload["type"] == "webhook_endpoint.disabled"
                && e.min_role.as_deref() == Some("admin"))
    );
    let (audit, _) = db
        .tenant(org, async |tx| {
            tenancy::audit::list(
                tx,
                tenancy::audit::AuditFilter {
                    action: Some("webhook_endpoint.disabled".into()),
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor_type, "system");
    // A disabled endpoint gets nothing new.
    assert_eq!(emit_one(&db, org, "lead.hot", json!({})).await, None);

    // Enabling it again clears the reason and the failure streak.
    let patch = EndpointPatch {
        enabled: Some(true),
        ..Default::default()
    };
    let enabled = endpoints
        .update(org, admin(), endpoint.id, patch)
        .await
        .unwrap();
    assert!(
        enabled.enabled && enabled.disabled_reason.is_none() && enabled.failing_since.is_none()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_rotation_both_secrets_verify_for_the_overlap() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let org = create_org(&db, "Rotating Clinic").await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let endpoints = Endpoints::new(db.clone(), keyring(), loopback());
    let (endpoint, old) = create(&endpoints, org, receiver.uri(), &[]).await;
    let new = endpoints
        .rotate_secret(org, admin(), endpoint.id)
        .await
        .unwrap()
        .to_string();
    assert_ne!(old, new);
    assert_eq!(
        *endpoints.secret(org, admin(), endpoint.id).await.unwrap(),
        new
    );
    assert!(
        endpoints
            .get(org, endpoint.id)
            .await
            .unwrap()
            .previous_until
            .is_some()
    );

    let runner = start(&db, &endpoints, quick(""));
    let id = emit_one(
        &db,
        org,
        "appointment.booked",
        json!({"appointment_id": "a1"}),
    )
    .await
    .unwrap();
    eventually("the delivery", || async {
        delivery(&db, org, &id).await.status == "succeeded"
    })
    .await;
    runner.shutdown().await;
    let request = receiver.received_requests().await.unwrap().remove(0);
    assert_eq!(
        request.headers["webhook-signature"]
            .to_str()
            .unwrap()
            .split(' ')
            .count(),
        2
    );
    for secret in [&old, &new] {
        standardwebhooks::Webhook::new(secret)
            .unwrap()
            .verify(&request.body, &request.headers)
            .expect("both secrets verify during the overlap");
    }
    let (audit, _) = db
        .tenant(org, async |tx| {
            tenancy::audit::list(
                tx,
                tenancy::audit::AuditFilter {
                    action: Some("webhook_endpoint.".into()),
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
        })
        .await
        .unwrap();
    let actions: Vec<&str> = audit.iter().rev().map(|a| a.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "webhook_endpoint.created",
            "webhook_endpoint.secret_rotated",
            "webhook_endpoint.secret_read"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rotating_the_keyring_reseals_current_and_previous_endpoint_secrets() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let org = create_org(&db, "Keyring Clinic").await;
    let endpoints = Endpoints::new(db.clone(), keyring(), loopback());
    let url = "http://127.0.0.1:9/hook".to_owned();
    let (endpoint, _) = create(&endpoints, org, url, &[]).await;
    let current = endpoints
        .rotate_secret(org, admin(), endpoint.id)
        .await
        .unwrap()
        .to_string();
    let key = |id: &str, byte: u8| (id.to_owned(), Zeroizing::new(vec![byte; 32]));
    let both = Keyring::new([key("k1", 3), key("k2", 4)], "k2").unwrap();
    let mut owner = test_db.owner_conn().await;
    assert_eq!(
        webhooks::rotation::reseal_all(&mut owner, &both)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        webhooks::rotation::reseal_all(&mut owner, &both)
            .await
            .unwrap(),
        0,
        "nothing left under the old key"
    );
    #[derive(diesel::QueryableByName, PartialEq, Debug)]
    struct KeyIds {
        #[diesel(sql_type = diesel::sql_types::Text)]
        secret_key_id: String,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        previous_key_id: Option<String>,
    }
    let ids: KeyIds = diesel::sql_query(
        "SELECT secret_key_id, previous_key_id FROM webhook_endpoints WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(endpoint.id)
    .get_result(&mut owner)
    .await
    .unwrap();
    let keys = (ids.secret_key_id, ids.previous_key_id);
    assert_eq!(keys, ("k2".to_owned(), Some("k2".to_owned())));
    // With the old key gone from the keyring, the secret still opens.
    let only_new = Arc::new(Keyring::new([key("k2", 4)], "k2").unwrap());
    let endpoints = Endpoints::new(db.clone(), only_new, loopback());
    assert_eq!(
        *endpoints.secret(org, admin(), endpoint.id).await.unwrap(),
        current
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn private_addresses_are_refused_at_creation_and_at_sending() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let org = create_org(&db, "Probing Clinic").await;
    let strict = Endpoints::new(db.clone(), keyring(), Arc::new(AddressPolicy::default()));
    for url in [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://10.0.0.8/hook",
        "http://localhost:8080/hook",
    ] {
        let new = NewEndpoint {
            url: url.into(),
            ..Default::default()
        };
        let refused = strict.create(org, admin(), new).await;
        assert!(
            matches!(refused, Err(WebhookError::ForbiddenAddress(_))),
            "{url}: {refused:?}"
        );
    }
    assert!(strict.list(org).await.unwrap().is_empty());

    // An endpoint admitted by a laxer operator setting is still refused by a strict sender,
    // before any connection (the receiver sees nothing).
    let receiver = MockServer::start().await;
    let lax = Endpoints::new(db.clone(), keyring(), loopback());
    let (endpoint, _) = create(&lax, org, receiver.uri(), &[]).await;
    let runner = start(&db, &strict, quick(""));
    let id = emit_one(&db, org, "call.started", json!({})).await.unwrap();
    eventually("the delivery to fail", || async {
        delivery(&db, org, &id).await.status == "failed"
    })
    .await;
    runner.shutdown().await;
    assert!(receiver.received_requests().await.unwrap().is_empty());
    let attempt = db
        .tenant(org, async |tx| {
            log::attempts(tx, endpoint.id, None, 10, 0).await
        })
        .await
        .unwrap()
        .remove(0);
    assert!(attempt.error.unwrap().contains("not allowed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn test_events_resend_and_replay_send_again_with_the_same_id() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let org = create_org(&db, "Replaying Clinic").await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let endpoints = Endpoints::new(db.clone(), keyring(), loopback());
    let (endpoint, _) = create(&endpoints, org, receiver.uri(), &["contact.updated"]).await;
    let runner = start(&db, &endpoints, quick(""));
    let before = chrono::Utc::now();
    let first = emit_one(&db, org, "contact.updated", json!({"n": 1}))
        .await
        .unwrap();
    let second = emit_one(&db, org, "contact.updated", json!({"n": 2}))
        .await
        .unwrap();
    let test = db
        .tenant(org, async |tx| {
            webhooks::emit::send_test(tx, admin(), endpoint.id).await
        })
        .await
        .unwrap();
    let received = || async { receiver.received_requests().await.unwrap().len() };
    eventually("three messages", || async { received().await == 3 }).await;

    db.tenant(org, async |tx| {
        webhooks::emit::resend(tx, admin(), first.clone(), endpoint.id).await
    })
    .await
    .unwrap();
    eventually("the resend", || async { received().await == 4 }).await;
    let queued = db
        .tenant(org, async |tx| {
            webhooks::emit::replay(tx, admin(), endpoint.id, before).await
        })
        .await
        .unwrap();
    assert_eq!(queued, 2, "the test event is not replayed");
    eventually("the replay", || async { received().await == 6 }).await;
    runner.shutdown().await;

    let ids: Vec<String> = receiver
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.iter().filter(|i| **i == first).count(), 3);
    assert_eq!(ids.iter().filter(|i| **i == second).count(), 2);
    assert_eq!(ids.iter().filter(|i| **i == test).count(), 1);
    let missing = db
        .tenant(org, async |tx| {
            webhooks::emit::resend(
                tx,
                admin(),
                "msg_00000000000000000000000000000000".into(),
                endpoint.id,
            )
            .await
        })
        .await;
    assert!(matches!(missing, Err(WebhookError::NotFound("message"))));
}

/// Two clinics on `test_db`: A with an endpoint subscribed to every event type, B with none.
async fn clinic_a_subscribed_and_clinic_b(
    test_db: &TestDatabase,
) -> (Db, OrgId, OrgId, Endpoints, Endpoint) {
    let db = test_db.db();
    let (a, b) = (
        create_org(&db, "Clinic A").await,
        create_org(&db, "Clinic B").await,
    );
    let endpoints = Endpoints::new(db.clone(), keyring(), loopback());
    let (endpoint_a, _) = create(&endpoints, a, "https://a.example.com/hook".into(), &[]).await;
    (db, a, b, endpoints, endpoint_a)
}

#[tokio::test(flavor = "multi_thread")]
async fn one_organization_never_reaches_anothers_endpoints_or_messages() {
    let test_db = TestDatabase::new().await;
    let (db, a, b, endpoints, endpoint_a) = clinic_a_subscribed_and_clinic_b(&test_db).await;
    assert_eq!(
        emit_one(&db, b, "call.started", json!({})).await,
        None,
        "B has no endpoint"
    );
    let message_a = emit_one(&db, a, "call.started", json!({})).await.unwrap();

    assert!(matches!(
        endpoints.get(b, endpoint_a.id).await,
        Err(WebhookError::NotFound(_))
    ));
    assert!(endpoints.list(b).await.unwrap().is_empty());
    let patch = EndpointPatch {
        url: Some("https://b.example.com/steal".into()),
        ..Default::default()
    };
    assert!(matches!(
        endpoints.update(b, admin(), endpoint_a.id, patch).await,
        Err(WebhookError::NotFound(_))
    ));
    assert!(matches!(
        endpoints.secret(b, admin(), endpoint_a.id).await,
        Err(WebhookError::NotFound(_))
    ));
    assert!(matches!(
        endpoints.rotate_secret(b, admin(), endpoint_a.id).await,
        Err(WebhookError::NotFound(_))
    ));
    assert!(matches!(
        endpoints.delete(b, admin(), endpoint_a.id).await,
        Err(WebhookError::NotFound(_))
    ));
    assert!(
        db.tenant(b, async |tx| webhooks::emit::resend(
            tx,
            admin(),
            message_a.clone(),
            endpoint_a.id
        )
        .await)
            .await
            .is_err()
    );
    assert!(
        db.tenant(b, async |tx| log::messages(
            tx,
            log::MessageFilter {
                limit: 50,
                ..Default::default()
            }
        )
        .await)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        db.tenant(b, async |tx| log::deliveries(tx, message_a).await)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        endpoints.get(a, endpoint_a.id).await.unwrap().url,
        "https://a.example.com/hook"
    );
}

/// An `Emitter` reads the subscriptions once per organization: reused within A's transaction,
/// read again for B's, so A's endpoints never receive B's events.
#[tokio::test(flavor = "multi_thread")]
async fn an_emitter_keeps_each_organizations_subscriptions_to_itself() {
    let test_db = TestDatabase::new().await;
    let (db, a, b, ..) = clinic_a_subscribed_and_clinic_b(&test_db).await;
    let mut events = webhooks::Emitter::default();
    let (in_a, events) = db
        .tenant(a, async move |tx| {
            let first = events.emit(tx, "call.started", json!({})).await?;
            let second = events.emit(tx, "call.ended", json!({})).await?;
            Ok::<_, DbError>(((first, second), events))
        })
        .await
        .unwrap();
    assert!(in_a.0.is_some() && in_a.1.is_some(), "{in_a:?}");
    let mut events = events;
    let in_b = db
        .tenant(b, async move |tx| {
            events.emit(tx, "call.started", json!({})).await
        })
        .await
        .unwrap();
    assert_eq!(
        in_b, None,
        "B has no endpoint, whatever the emitter read for A"
    );
}

fn insert_endpoint(c: &mut AsyncPgConnection, org: OrgId) -> ConnFuture<'_, Result<Uuid, DbError>> {
    Box::pin(async move {
        let id = Uuid::new_v4();
        diesel::sql_query(
            "INSERT INTO webhook_endpoints (id, org_id, url, secret_key_id, secret_nonce, secret_ciphertext) \
             VALUES ($1, $2, 'https://x.example.com/', 'k1', '\\x000000000000000000000000', '\\x00')",
        )
        .bind::<diesel::sql_types::Uuid, _>(id)
        .bind::<diesel::sql_types::Uuid, _>(org.0)
        .execute(c)
        .await?;
        Ok(id)
    })
}

fn insert_message(c: &mut AsyncPgConnection, org: OrgId) -> ConnFuture<'_, Result<Uuid, DbError>> {
    Box::pin(async move {
        let id = Uuid::new_v4();
        diesel::sql_query(
            "INSERT INTO webhook_messages (id, org_id, event_type, payload) \
             VALUES ('msg_' || replace($1::text, '-', ''), $2, 'call.started', '{}')",
        )
        .bind::<diesel::sql_types::Uuid, _>(id)
        .bind::<diesel::sql_types::Uuid, _>(org.0)
        .execute(c)
        .await?;
        Ok(id)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_tables_are_isolated_by_row_level_security() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    assert_tenant_isolation(
        &db,
        &IsolationProbe {
            table: "webhook_endpoints",
            tenant_column: "org_id",
            id_column: "id",
            insert: &insert_endpoint,
        },
    )
    .await;
    // Messages are keyed by text; the probe compares the uuid inside the id.
    assert_tenant_isolation(
        &db,
        &IsolationProbe {
            table: "webhook_messages",
            tenant_column: "org_id",
            id_column: "substr(id, 5)::uuid",
            insert: &insert_message,
        },
    )
    .await;
}
