//! Organization API keys over HTTP (issue "Integration surface", item 1): a scoped key reads
//! what it may and gets 403 `insufficient_scope` elsewhere, never reaches another organization,
//! cannot grant more than it has; rotation overlap, expiry and revocation take effect on the
//! next request; creation, rotation, revocation and every write made with a key are in the
//! audit log, which each organization reads alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use gateway::test_support::{Session, TestGateway};
use serde_json::{Value, json};

async fn create_key(gw: &TestGateway, by: &str, name: &str, scopes: &[&str]) -> (String, String) {
    let r = gw
        .post(
            "/api/api-keys",
            Some(by),
            &json!({"name": name, "scopes": scopes}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let key = r.body["key"].as_str().unwrap().to_owned();
    (key, r.body["api_key"]["id"].as_str().unwrap().to_owned())
}

fn code(r: &gateway::test_support::Reply) -> (u16, &str) {
    (r.status, r.body["code"].as_str().unwrap_or_default())
}

async fn contact(gw: &TestGateway, s: &Session, phone: &str) -> String {
    let r = gw
        .post(
            "/api/contacts",
            Some(&s.token),
            &json!({"name": "Jo", "phone": phone}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["contact"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scoped_key_reads_what_it_may_and_nothing_else() {
    let gw = TestGateway::start().await;
    let a = gw.signup("keys-scope-a").await;
    contact(&gw, &a, "+15550200001").await;
    let (reader, _) = create_key(&gw, &a.token, "CRM read", &["contacts:read"]).await;
    assert!(reader.starts_with("sk_") && reader.len() == 67);

    let r = gw.get("/api/contacts", Some(&reader)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["contacts"].as_array().unwrap().len(), 1);
    // A write in its own area, other areas, the admin areas: 403 insufficient_scope, and the
    // body is not even looked at (authorization before validation).
    let new = json!({"name": "Mallory", "phone": "+15550200002"});
    assert_eq!(
        code(&gw.post("/api/contacts", Some(&reader), &new).await),
        (403, "insufficient_scope")
    );
    let garbage = json!({"nonsense": true});
    for (method, path, body) in [
        ("POST", "/api/contacts", Some(&garbage)),
        ("GET", "/api/appointments", None),
        ("GET", "/api/users", None),
        ("GET", "/api/api-keys", None),
        ("GET", "/api/audit-log", None),
        ("GET", "/api/integrations/status", None),
        ("POST", "/api/knowledge-base/search", Some(&garbage)),
    ] {
        let r = gw.send(method, path, Some(&reader), &[], body).await;
        assert_eq!(code(&r), (403, "insufficient_scope"), "{method} {path}");
        assert!(
            r.body["error"].as_str().unwrap().contains('`'),
            "{:?}",
            r.body
        );
    }
    // Routes for people refuse keys whatever their scopes.
    assert_eq!(
        code(&gw.get("/api/auth/me", Some(&reader)).await),
        (403, "user_only")
    );
    assert_eq!(
        code(&gw.get("/api/twilio/token", Some(&reader)).await),
        (403, "user_only")
    );
    // A key is not an app key, and a mangled key is nobody.
    let as_app = gw
        .send(
            "GET",
            "/api/app/me",
            None,
            &[("x-app-api-key", &reader)],
            None,
        )
        .await;
    assert_eq!(as_app.status, 401);
    let last = if reader.ends_with('0') { '1' } else { '0' };
    let mangled = format!("{}{last}", &reader[..66]);
    assert_eq!(
        code(&gw.get("/api/contacts", Some(&mangled)).await),
        (401, "unauthenticated")
    );
    // Nothing was created.
    let r = gw.get("/api/contacts", Some(&a.token)).await;
    assert_eq!(r.body["contacts"].as_array().unwrap().len(), 1);
    // The list shows the key's hint, scopes and last use, never the key.
    let r = gw.get("/api/api-keys", Some(&a.token)).await;
    let listed = &r.body["api_keys"][0];
    assert_eq!(listed["scopes"], json!(["contacts:read"]));
    assert_eq!(listed["status"], "active");
    assert!(listed["last_used_at"].is_string() && listed["last_used_address"].is_string());
    assert!(!r.body.to_string().contains(&reader[3..]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_never_reaches_another_organization() {
    let gw = TestGateway::start().await;
    let a = gw.signup("keys-iso-a").await;
    let b = gw.signup("keys-iso-b").await;
    let b_contact = contact(&gw, &b, "+15550300001").await;
    let (all_a, _) = create_key(
        &gw,
        &a.token,
        "A everything",
        &["contacts:write", "team:write", "keys:write", "audit:read"],
    )
    .await;
    let (_, b_key_id) = create_key(&gw, &b.token, "B", &["contacts:read"]).await;
    let path = format!("/api/contacts/{b_contact}");
    for (method, body) in [
        ("GET", None),
        ("PATCH", Some(json!({"name": "Hijacked"}))),
        ("DELETE", None),
    ] {
        let r = gw
            .send(method, &path, Some(&all_a), &[], body.as_ref())
            .await;
        assert_eq!(code(&r), (404, "not_found"), "{method}");
    }
    let user_path = format!("/api/users/{}", b.user_id);
    assert_eq!(gw.get(&user_path, Some(&all_a)).await.status, 404);
    let revoke = format!("/api/api-keys/{b_key_id}/revoke");
    assert_eq!(gw.post(&revoke, Some(&all_a), &json!({})).await.status, 404);
    let rotate = format!("/api/api-keys/{b_key_id}/rotate");
    assert_eq!(gw.post(&rotate, Some(&all_a), &json!({})).await.status, 404);
    let r = gw.get("/api/contacts", Some(&all_a)).await;
    assert_eq!(r.body["contacts"], json!([]));
    let r = gw.get("/api/users", Some(&all_a)).await;
    assert!(!r.body.to_string().contains(&b.user_id));
    let r = gw.get("/api/api-keys", Some(&all_a)).await;
    assert!(!r.body.to_string().contains(&b_key_id));
    // B's contact and key are untouched; B's audit log has only B's own key.
    let r = gw.get(&path, Some(&b.token)).await;
    assert_eq!(r.body["contact"]["name"], "Jo");
    let r = gw.get("/api/audit-log", Some(&b.token)).await;
    let events = r.body["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["target"], b_key_id.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_are_managed_by_admins_and_never_beyond_their_own_scopes() {
    let gw = TestGateway::start().await;
    let a = gw.signup("keys-admin-a").await;
    let member = gw.add_user(&a, "user@keys-admin-a.example", "user").await;
    let manager = gw
        .add_user(&a, "manager@keys-admin-a.example", "manager")
        .await;
    let body = json!({"name": "x", "scopes": ["contacts:read"]});
    for s in [&member, &manager] {
        assert_eq!(
            code(&gw.post("/api/api-keys", Some(&s.token), &body).await),
            (403, "forbidden")
        );
    }
    for (bad, why) in [
        (json!({"name": "x", "scopes": []}), "no scope"),
        (
            json!({"name": "x", "scopes": ["contacts:admin"]}),
            "unknown access",
        ),
        (json!({"name": "x", "scopes": ["*:write"]}), "no wildcard"),
        (
            json!({"name": "", "scopes": ["contacts:read"]}),
            "empty name",
        ),
        (
            json!({"name": "x", "scopes": ["contacts:read"], "expires_at": "2001-01-01T00:00:00Z"}),
            "past expiry",
        ),
    ] {
        let r = gw.post("/api/api-keys", Some(&a.token), &bad).await;
        assert_eq!(code(&r), (422, "validation_failed"), "{why}: {:?}", r.body);
    }
    let (manager_key, _) = create_key(
        &gw,
        &a.token,
        "key manager",
        &["keys:write", "contacts:write"],
    )
    .await;
    let wider = json!({"name": "wider", "scopes": ["team:read"]});
    assert_eq!(
        code(&gw.post("/api/api-keys", Some(&manager_key), &wider).await),
        (403, "forbidden")
    );
    let narrower = json!({"name": "narrower", "scopes": ["contacts:read"]});
    let r = gw
        .post("/api/api-keys", Some(&manager_key), &narrower)
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    // A key can rotate a key within its reach, not one beyond it.
    let (_, team_key) = create_key(&gw, &a.token, "team", &["team:read"]).await;
    let r = gw
        .post(
            &format!("/api/api-keys/{team_key}/rotate"),
            Some(&manager_key),
            &json!({}),
        )
        .await;
    assert_eq!(code(&r), (403, "forbidden"));
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_overlaps_expiry_ends_and_revocation_is_immediate() {
    let gw = TestGateway::start().await;
    let a = gw.signup("keys-life-a").await;
    let (old, old_id) = create_key(&gw, &a.token, "sync", &["contacts:write"]).await;

    // Default rotation: both keys work during the overlap.
    let r = gw
        .post(
            &format!("/api/api-keys/{old_id}/rotate"),
            Some(&a.token),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let new = r.body["key"].as_str().unwrap().to_owned();
    let new_id = r.body["api_key"]["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["api_key"]["rotated_from"], old_id.as_str());
    assert_eq!(r.body["api_key"]["scopes"], json!(["contacts:write"]));
    for key in [&old, &new] {
        assert_eq!(gw.get("/api/contacts", Some(key)).await.status, 200);
    }
    let listed = gw.get("/api/api-keys", Some(&a.token)).await.body;
    let old_row = listed["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == old_id.as_str())
        .unwrap()
        .clone();
    let until =
        chrono::DateTime::parse_from_rfc3339(old_row["expires_at"].as_str().unwrap()).unwrap();
    let overlap = until.with_timezone(&Utc) - Utc::now();
    assert!(
        overlap > Duration::hours(23) && overlap <= Duration::hours(24),
        "{overlap}"
    );

    // Rotating the new key with no overlap ends it at once; its successor works.
    let r = gw
        .post(
            &format!("/api/api-keys/{new_id}/rotate"),
            Some(&a.token),
            &json!({"old_key_valid_until": Utc::now().to_rfc3339()}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let newest = r.body["key"].as_str().unwrap().to_owned();
    let newest_id = r.body["api_key"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        code(&gw.get("/api/contacts", Some(&new)).await),
        (401, "unauthenticated")
    );
    assert_eq!(gw.get("/api/contacts", Some(&newest)).await.status, 200);
    let too_long = json!({"old_key_valid_until": (Utc::now() + Duration::days(31)).to_rfc3339()});
    let r = gw
        .post(
            &format!("/api/api-keys/{newest_id}/rotate"),
            Some(&a.token),
            &too_long,
        )
        .await;
    assert_eq!(code(&r), (422, "validation_failed"), "{:?}", r.body);

    // Revocation: the next request fails, and it cannot be revoked twice.
    let revoke = format!("/api/api-keys/{newest_id}/revoke");
    let r = gw.post(&revoke, Some(&a.token), &json!({})).await;
    assert_eq!(
        (r.status, r.body["api_key"]["status"].as_str()),
        (200, Some("revoked"))
    );
    assert_eq!(gw.get("/api/contacts", Some(&newest)).await.status, 401);
    assert_eq!(
        gw.post(&revoke, Some(&a.token), &json!({})).await.status,
        422
    );

    // Expiry: a key created to expire in two seconds works, then does not.
    let soon = (Utc::now() + Duration::seconds(2)).to_rfc3339();
    let r = gw
        .post(
            "/api/api-keys",
            Some(&a.token),
            &json!({"name": "short", "scopes": ["contacts:read"], "expires_at": soon}),
        )
        .await;
    let short = r.body["key"].as_str().unwrap().to_owned();
    assert_eq!(gw.get("/api/contacts", Some(&short)).await.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    assert_eq!(gw.get("/api/contacts", Some(&short)).await.status, 401);
    let listed = gw.get("/api/api-keys", Some(&a.token)).await.body;
    let statuses: Vec<&str> = listed["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["expired", "revoked", "expired", "active"],
        "{listed}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn key_events_and_every_write_made_with_a_key_are_audited() {
    let gw = TestGateway::start().await;
    let a = gw.signup("keys-audit-a").await;
    let (writer, writer_id) = create_key(&gw, &a.token, "writer", &["contacts:write"]).await;
    let r = gw
        .post(
            "/api/contacts",
            Some(&writer),
            &json!({"name": "Kim", "phone": "+15550400001"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let request_id = r
        .headers
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    // A refused write is audited too, with its status.
    let r = gw
        .post("/api/contacts", Some(&writer), &json!({"name": ""}))
        .await;
    assert_eq!(r.status, 400);
    // Reads are not.
    assert_eq!(gw.get("/api/contacts", Some(&writer)).await.status, 200);
    gw.post(
        &format!("/api/api-keys/{writer_id}/revoke"),
        Some(&a.token),
        &json!({}),
    )
    .await;

    let r = gw.get("/api/audit-log", Some(&a.token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let events = r.body["events"].as_array().unwrap();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "api_key.revoked",
            "api_key.write",
            "api_key.write",
            "api_key.created"
        ]
    );
    let first_write = &events[2];
    assert_eq!(first_write["actor_type"], "api_key");
    assert_eq!(first_write["actor_id"], writer_id.as_str());
    assert_eq!(first_write["target"], "POST /api/contacts");
    assert_eq!(first_write["detail"]["status"], 201);
    assert_eq!(first_write["request_id"], request_id.as_str());
    assert!(first_write["address"].as_str().unwrap().starts_with("127."));
    assert_eq!(events[1]["detail"]["status"], 400);
    assert_eq!(events[3]["actor_type"], "user");
    assert_eq!(events[3]["actor_id"], a.user_id.as_str());
    assert!(
        !r.body.to_string().contains(&writer[3..]),
        "no key in the audit log"
    );
    // Filters: a family, an actor, a time window.
    let r = gw
        .get("/api/audit-log?action=api_key.write", Some(&a.token))
        .await;
    assert_eq!(r.body["pagination"]["total"], 2);
    let r = gw
        .get(
            &format!("/api/audit-log?actor_id={}", a.user_id),
            Some(&a.token),
        )
        .await;
    assert_eq!(r.body["pagination"]["total"], 2);
    let later = (Utc::now() + Duration::minutes(1)).to_rfc3339();
    let r = gw
        .get(
            &format!("/api/audit-log?since={}", urlencode(&later)),
            Some(&a.token),
        )
        .await;
    assert_eq!(r.body["events"], Value::Array(vec![]));
    // The audit log is append-only and admins only.
    let member = gw.add_user(&a, "user@keys-audit-a.example", "user").await;
    assert_eq!(
        gw.get("/api/audit-log", Some(&member.token)).await.status,
        403
    );
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idempotency_key_gives_the_same_answer_once_and_refuses_another_body() {
    let gw = TestGateway::start().await;
    let a = gw.signup("keys-idem-a").await;
    let b = gw.signup("keys-idem-b").await;
    let (writer, _) = create_key(&gw, &a.token, "writer", &["contacts:write"]).await;
    let (writer_b, _) = create_key(&gw, &b.token, "writer", &["contacts:write"]).await;
    let body = json!({"name": "Ana", "phone": "+15550500001"});
    let idem = [("idempotency-key", "order-42")];
    let first = gw
        .send("POST", "/api/contacts", Some(&writer), &idem, Some(&body))
        .await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let again = gw
        .send("POST", "/api/contacts", Some(&writer), &idem, Some(&body))
        .await;
    assert_eq!((again.status, &again.body), (201, &first.body));
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
    // One contact, not two.
    let r = gw.get("/api/contacts", Some(&a.token)).await;
    assert_eq!(r.body["contacts"].as_array().unwrap().len(), 1);
    // The same key with another body: 409, nothing created.
    let other = json!({"name": "Bo", "phone": "+15550500002"});
    let r = gw
        .send("POST", "/api/contacts", Some(&writer), &idem, Some(&other))
        .await;
    assert_eq!(code(&r), (409, "idempotency_key_reused"));
    let r = gw.get("/api/contacts", Some(&a.token)).await;
    assert_eq!(r.body["contacts"].as_array().unwrap().len(), 1);
    // A refusal is kept too (the same answer for the same request).
    let bad = json!({"name": ""});
    let idem2 = [("idempotency-key", "order-43")];
    let r1 = gw
        .send("POST", "/api/contacts", Some(&writer), &idem2, Some(&bad))
        .await;
    let r2 = gw
        .send("POST", "/api/contacts", Some(&writer), &idem2, Some(&bad))
        .await;
    assert_eq!((r1.status, &r1.body), (r2.status, &r2.body));
    assert!(r1.status >= 400 && r1.status < 500);
    // Another organization's key with the same idempotency key is a different request.
    let r = gw
        .send("POST", "/api/contacts", Some(&writer_b), &idem, Some(&body))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(r.headers.get("idempotent-replayed").is_none());
    assert_ne!(r.body["contact"]["id"], first.body["contact"]["id"]);
    // A malformed key is refused before anything runs.
    let long = "k".repeat(256);
    let r = gw
        .send(
            "POST",
            "/api/contacts",
            Some(&writer),
            &[("idempotency-key", &long)],
            Some(&other),
        )
        .await;
    assert_eq!(code(&r), (400, "invalid_idempotency_key"));
}

#[tokio::test(flavor = "multi_thread")]
async fn user_and_role_changes_are_in_the_audit_log_with_their_actor() {
    let gw = TestGateway::start().await;
    let a = gw.signup("audit-users-a").await;
    let b = gw.signup("audit-users-b").await;
    let (team_key, team_key_id) = create_key(&gw, &a.token, "HR sync", &["team:write"]).await;
    let member = gw.add_user(&a, "user@audit-users-a.example", "user").await;
    let path = format!("/api/users/{}", member.user_id);
    let r = gw
        .send(
            "PATCH",
            &path,
            Some(&team_key),
            &[],
            Some(&json!({"role": "manager"})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = gw
        .post(
            &format!("{path}/revoke-sessions"),
            Some(&a.token),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        gw.send("DELETE", &path, Some(&team_key), &[], None)
            .await
            .status,
        204
    );

    let r = gw.get("/api/audit-log?action=user.", Some(&a.token)).await;
    let events = r.body["events"].as_array().unwrap();
    let seen: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["actor_type"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("user.deleted", "api_key"),
            ("user.sessions_revoked", "user"),
            ("user.updated", "api_key"),
            ("user.created", "user"),
        ]
    );
    assert!(
        events
            .iter()
            .all(|e| e["target"] == member.user_id.as_str())
    );
    assert_eq!(events[2]["actor_id"], team_key_id.as_str());
    assert_eq!(events[2]["detail"]["role"], "manager");
    assert_eq!(events[2]["detail"]["role_changed"], true);
    assert!(events[0]["request_id"].is_string() && events[0]["address"].is_string());
    assert!(!r.body.to_string().contains("password_hash"));
    // Organization B sees none of it.
    let r = gw.get("/api/audit-log", Some(&b.token)).await;
    assert_eq!(r.body["events"], json!([]));
}
