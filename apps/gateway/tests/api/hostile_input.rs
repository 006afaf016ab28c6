//! Hostile input at the edge (issue "Hardening", `docs/security.md` "Hostile input"): NUL
//! characters, malformed multipart forms, oversized bodies, out-of-range Dialpad ids, deeply
//! nested signed claims, and authorization decided before validation, each with two
//! organizations beside each other and nothing changed by a refusal.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gateway::test_support::{Reply, Session, TestGateway, http_client};
use serde_json::{Value, json};

const NUL: &str = "Jane\u{0}Roe";

fn assert_refused(reply: &Reply, status: u16, code: &str, what: &str) {
    assert_eq!(reply.status, status, "{what}: {:?}", reply.body);
    assert_eq!(reply.body["code"], code, "{what}: {:?}", reply.body);
    assert_eq!(reply.body["success"], false, "{what}");
}

fn signed(claims: &Value, secret: &[u8]) -> String {
    let h = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
    let c = URL_SAFE_NO_PAD.encode(claims.to_string());
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let sig = ring::hmac::sign(&key, format!("{h}.{c}").as_bytes());
    format!("{h}.{c}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

async fn count(gw: &TestGateway, s: &Session, path: &str, field: &str) -> usize {
    let reply = gw.get(path, Some(&s.token)).await;
    assert_eq!(reply.status, 200, "{path}: {:?}", reply.body);
    reply.body[field].as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread")]
async fn nul_in_what_people_type_is_refused_and_changes_nothing() {
    let gw = TestGateway::start().await;
    let a = gw.signup("nul-a").await;
    let b = gw.signup("nul-b").await;
    let (app, _) = gw.app_with_key(&a, "CRM").await;
    let contacts_before = count(&gw, &a, "/api/contacts", "contacts").await;
    let services_before = count(&gw, &a, "/api/services", "services").await;
    for (method, path, body) in [
        (
            "POST",
            "/api/contacts".to_owned(),
            json!({"name": NUL, "phone": "+15551230001"}),
        ),
        (
            "POST",
            "/api/services".to_owned(),
            json!({"name": NUL, "price_minor": 100}),
        ),
        (
            "POST",
            "/api/users".to_owned(),
            json!({"name": NUL, "email": "x@nul.example", "password": "a long enough passphrase"}),
        ),
        (
            "POST",
            "/api/knowledge-base/search".to_owned(),
            json!({"query": "opening\u{0}hours"}),
        ),
        (
            "POST",
            format!("/internal/apps/{app}/users/map"),
            json!({"dialpad_user_id": 5, "crm_user_id": "crm\u{0}1"}),
        ),
        // A NUL in a key is refused too.
        (
            "POST",
            "/api/contacts".to_owned(),
            json!({"name": "Ok", "phone": "+15551230002", "x\u{0}": 1}),
        ),
    ] {
        let reply = gw
            .send(method, &path, Some(&a.token), &[], Some(&body))
            .await;
        assert_refused(&reply, 400, "invalid_characters", &path);
    }
    let login = gw
        .post(
            "/api/auth/login",
            None,
            &json!({"email": "admin\u{0}@nul-a.example", "password": "whatever it is"}),
        )
        .await;
    assert_refused(&login, 400, "invalid_characters", "login");
    for path in [
        "/api/contacts?search=%00",
        "/api/calls-dashboard?status=a%00b",
        "/api/contacts/%00",
    ] {
        let reply = gw.get(path, Some(&a.token)).await;
        assert_refused(&reply, 400, "invalid_characters", path);
    }
    assert_eq!(
        count(&gw, &a, "/api/contacts", "contacts").await,
        contacts_before
    );
    assert_eq!(
        count(&gw, &a, "/api/services", "services").await,
        services_before
    );
    assert_eq!(count(&gw, &b, "/api/contacts", "contacts").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dialpad_event_with_nul_is_stored_and_processed_cleaned() {
    let gw = TestGateway::start().await;
    let a = gw.signup("dp-nul-a").await;
    let b = gw.signup("dp-nul-b").await;
    let (app, key) = gw.app_with_key(&a, "CRM").await;
    let (app_b, _) = gw.app_with_key(&b, "CRM").await;
    let event = json!({
        "call_id": 777_001, "state": "hangup", "direction": "inbound",
        "external_number": "+15550001111", "internal_number": "+15550002222",
        "contact": {"name": "Jo\u{0}hn", "phone": "+15550001111"},
        "transcription_text": "call\u{0} me back", "event_timestamp": 1_700_000_000_000i64,
        "date_started": 1_700_000_000_000i64, "date_ended": 1_700_000_060_000i64,
    });
    let (gateway, path, body) = (&gw, format!("/webhooks/dialpad/{app}"), event.to_string());
    let deliver = || gateway.post_body(&path, "application/json", body.clone(), &[]);
    let ack = deliver().await;
    assert_eq!(ack.status, 200, "{:?}", ack.body);
    assert_eq!(ack.body["duplicate"], false);
    let again = deliver().await;
    assert_eq!(again.body["duplicate"], true, "a retry is recognized");
    let mut calls = Value::Null;
    for _ in 0..100 {
        calls = gw
            .send(
                "GET",
                &format!("/internal/apps/{app}/calls"),
                None,
                &[("x-app-api-key", &key)],
                None,
            )
            .await
            .body;
        if calls["data"].as_array().is_some_and(|c| !c.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let call = &calls["data"][0];
    assert_eq!(call["dialpad_call_id"], 777_001, "{calls}");
    assert!(!calls.to_string().contains("\\u0000"), "{calls}");
    let other = gw
        .get(&format!("/internal/apps/{app_b}/calls"), Some(&b.token))
        .await;
    assert_eq!(other.body["data"], json!([]), "{:?}", other.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn dialpad_ids_out_of_range_and_unreadable_signed_claims_are_4xx() {
    let gw = TestGateway::start().await;
    let a = gw.signup("dp-range").await;
    let (app, _) = gw.app_with_key(&a, "CRM").await;
    // As written on the wire: 2^70 does not fit an int64 and must not be clamped into one.
    for call_id in [
        "-1",
        "0",
        "1180591620717411303424",
        "\"1180591620717411303424\"",
        "12.5",
    ] {
        let body = format!(r#"{{"call_id": {call_id}, "state": "ringing"}}"#);
        let reply = gw
            .post_body(
                &format!("/webhooks/dialpad/{app}"),
                "application/json",
                body,
                &[],
            )
            .await;
        assert_refused(&reply, 400, "invalid_event", call_id);
    }
    // A signed token whose claims nest 200 levels deep: the signature is right, the payload
    // cannot be read.
    let secret = "dialpad-secret-0123456789abcdef";
    let set = gw
        .send(
            "PUT",
            &format!("/internal/apps/{app}/dialpad-webhook-secret"),
            Some(&a.token),
            &[],
            Some(&json!({ "secret": secret })),
        )
        .await;
    assert_eq!(set.status, 200, "{:?}", set.body);
    let mut nested = json!(1);
    for _ in 0..200 {
        nested = json!({ "n": nested });
    }
    let deep = signed(
        &json!({"call_id": 5, "state": "ringing", "x": nested}),
        secret.as_bytes(),
    );
    let reply = gw
        .post_body(
            &format!("/webhooks/dialpad/{app}"),
            "application/jwt",
            deep,
            &[],
        )
        .await;
    assert_refused(&reply, 400, "invalid_payload", "deep claims");
    let forged = signed(
        &json!({"call_id": 5, "state": "ringing", "x": nested}),
        b"not-the-secret",
    );
    let reply = gw
        .post_body(
            &format!("/webhooks/dialpad/{app}"),
            "application/jwt",
            forged,
            &[],
        )
        .await;
    assert_refused(&reply, 401, "invalid_signature", "forged deep claims");
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_webhook_bodies_keep_the_error_shape() {
    let gw = TestGateway::start().await;
    let a = gw.signup("big-body").await;
    let (app, _) = gw.app_with_key(&a, "CRM").await;
    let big = "x".repeat(11 * 1024 * 1024);
    for path in [
        "/api/vapi/webhook".to_owned(),
        format!("/webhooks/dialpad/{app}"),
    ] {
        let reply = gw
            .post_body(&path, "application/json", big.clone(), &[])
            .await;
        assert_refused(&reply, 413, "payload_too_large", &path);
    }
    let reply = gw.send("PATCH", "/healthz", None, &[], None).await;
    assert_eq!(reply.body["success"], false, "{:?}", reply.body);
    assert!(reply.body["code"].is_string(), "{:?}", reply.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn authorization_comes_before_validation() {
    let gw = TestGateway::start().await;
    let admin = gw.signup("authz-first").await;
    let user = gw
        .add_user(&admin, "member@authz-first.example", "user")
        .await;
    let (app, _) = gw.app_with_key(&admin, "CRM").await;
    let bad = json!({"not": ["what", "any", "route", "expects"], "price_minor": "free"});
    for (method, path) in [
        ("POST", "/api/services".to_owned()),
        ("PATCH", "/api/services/not-a-uuid".to_owned()),
        ("PUT", "/api/scheduling/settings".to_owned()),
        ("PUT", "/api/knowledge-base/settings".to_owned()),
        ("PUT", "/api/voice-settings".to_owned()),
        ("PUT", "/api/agents/inbound".to_owned()),
        ("POST", "/api/apps".to_owned()),
        ("POST", "/api/integrations/twilio".to_owned()),
        ("POST", "/api/telephony/forwarding-config".to_owned()),
        (
            "PUT",
            format!("/internal/apps/{app}/dialpad-webhook-secret"),
        ),
        ("POST", format!("/internal/apps/{app}/users/map")),
    ] {
        let reply = gw
            .send(method, &path, Some(&user.token), &[], Some(&bad))
            .await;
        assert_refused(&reply, 403, "forbidden", &path);
        let anonymous = gw.send(method, &path, None, &[], Some(&bad)).await;
        assert_refused(&anonymous, 401, "unauthenticated", &path);
    }
    // A malformed body (not JSON at all) and a malformed multipart form: refused for the role.
    let not_json = gw
        .post_body(
            "/api/services",
            "application/json",
            "{{{".into(),
            &[("authorization", &format!("Bearer {}", user.token))],
        )
        .await;
    assert_refused(&not_json, 403, "forbidden", "not JSON");
    let nameless = nameless_part_upload(&gw, &user).await;
    assert_refused(&nameless, 403, "forbidden", "user upload");
}

/// A multipart form whose only part has `name=""` (it crashed debug builds' form parser).
async fn nameless_part_upload(gw: &TestGateway, s: &Session) -> Reply {
    let body = "--XyZ\r\nContent-Disposition: form-data; name=\"\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XyZ--\r\n";
    let response = http_client()
        .post(format!("{}/api/knowledge-base/documents", gw.base_url))
        .bearer_auth(&s.token)
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(body)
        .send()
        .await
        .expect("the connection stays up");
    TestGateway::reply(response).await
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_multipart_parts_are_400_in_every_build() {
    let gw = TestGateway::start().await;
    let admin = gw.signup("multipart").await;
    let other = gw.signup("multipart-b").await;
    let reply = nameless_part_upload(&gw, &admin).await;
    assert_refused(&reply, 400, "invalid_upload", "nameless part");
    let titled = reqwest::multipart::Form::new()
        .text("title", "Price\u{0}list")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"Prices: a consultation is 50.".to_vec())
                .file_name("prices.txt"),
        );
    let response = http_client()
        .post(format!("{}/api/knowledge-base/documents", gw.base_url))
        .bearer_auth(&admin.token)
        .multipart(titled)
        .send()
        .await
        .unwrap();
    let reply = TestGateway::reply(response).await;
    assert_refused(&reply, 400, "invalid_characters", "NUL title");
    for s in [&admin, &other] {
        assert_eq!(
            count(&gw, s, "/api/knowledge-base/documents", "documents").await,
            0
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_bodies_time_out_and_a_client_keeps_only_so_many_requests_in_flight() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let gw = TestGateway::start_edge(gateway::edge::EdgeConfig {
        body_timeout: std::time::Duration::from_secs(1),
        max_requests_per_client: 3,
        trusted_proxies: Vec::new(),
    })
    .await;
    let addr = gw.base_url.trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for _ in 0..3 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"POST /api/auth/login HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"email\"")
            .await
            .unwrap();
        slow.push(s);
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // A fourth request of the same client is refused at once.
    let busy = gw.get("/healthz", None).await;
    assert_refused(&busy, 429, "too_many_requests", "fourth request");
    // Each trickling body is answered 408 once its deadline passes, and its connection closed.
    for mut s in slow {
        let mut answer = Vec::new();
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            s.read_to_end(&mut answer),
        )
        .await;
        assert!(read.is_ok(), "the connection was not closed");
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("request_timeout"), "{answer}");
    }
    assert_eq!(gw.get("/healthz", None).await.status, 200);
    // A WebSocket outlives the body deadline: its messages are no request body.
    let admin = gw.signup("edge-ws").await;
    let (_, key) = gw.app_with_key(&admin, "CRM").await;
    let mut ws = gateway::test_support::ws::connect(&gw, &format!("?api_key={key}"), &[]).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    ws.send(Message::Ping(b"still there?".to_vec().into()))
        .await
        .unwrap();
    let pong = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Some(Ok(message)) = ws.next().await {
            if let Message::Pong(data) = message {
                return Some(data);
            }
        }
        None
    })
    .await
    .ok()
    .flatten();
    assert_eq!(pong.as_deref(), Some(&b"still there?"[..]));
}
