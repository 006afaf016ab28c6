//! Outbound webhooks over HTTP (issue "Integration surface", item 2): an admin registers an
//! endpoint, a change made through the API reaches it signed (verified with the
//! `standardwebhooks` crate), the delivery log and message views show it; endpoints refuse
//! private addresses and unknown types; keys need the `webhooks` scope (write for the secret);
//! another organization reaches none of it; endpoint changes are audited.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use gateway::test_support::{Reply, TestGateway};
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn code(r: &Reply) -> (u16, &str) {
    (r.status, r.body["code"].as_str().unwrap_or_default())
}

async fn receiver() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    server
}

async fn requests_of_type(server: &MockServer, event_type: &str) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["type"] == event_type
        })
        .collect()
}

async fn wait_for(server: &MockServer, event_type: &str) -> wiremock::Request {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(r) = requests_of_type(server, event_type).await.pop() {
            return r;
        }
        assert!(Instant::now() < deadline, "no {event_type} delivered");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_change_reaches_the_endpoint_signed_and_is_logged() {
    let gw = TestGateway::start().await;
    let a = gw.signup("hooks-a").await;
    let server = receiver().await;
    let r = gw
        .post(
            "/api/webhooks/endpoints",
            Some(&a.token),
            &json!({"url": format!("{}/crm", server.uri()), "description": "CRM",
                    "event_types": ["contact.created", "appointment.booked"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let endpoint = r.body["endpoint"]["id"].as_str().unwrap().to_owned();
    let read = gw
        .get(
            &format!("/api/webhooks/endpoints/{endpoint}/secret"),
            Some(&a.token),
        )
        .await;
    assert_eq!(read.body["secret"], secret.as_str());

    let contact = json!({"name": "Jane Roe", "phone": "+15550300001"});
    assert_eq!(
        gw.post("/api/contacts", Some(&a.token), &contact)
            .await
            .status,
        201
    );
    let request = wait_for(&server, "contact.created").await;
    standardwebhooks::Webhook::new(&secret)
        .unwrap()
        .verify(&request.body, &request.headers)
        .expect("a valid signature");
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["data"]["name"], "Jane Roe");
    assert_eq!(body["data"]["phone"], "+15550300001");
    let message = request.headers["webhook-id"].to_str().unwrap().to_owned();

    // The message, its delivery and the attempt are visible.
    let deadline = Instant::now() + Duration::from_secs(10);
    let shown = loop {
        let r = gw
            .get(&format!("/api/webhooks/messages/{message}"), Some(&a.token))
            .await;
        if r.body["deliveries"][0]["status"] == "succeeded" {
            break r;
        }
        assert!(Instant::now() < deadline, "{:?}", r.body);
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(shown.body["message"]["event_type"], "contact.created");
    let log = gw
        .get(
            &format!("/api/webhooks/endpoints/{endpoint}/attempts"),
            Some(&a.token),
        )
        .await;
    assert_eq!(log.status, 200, "{:?}", log.body);
    assert_eq!(log.body["attempts"][0]["status_code"], 200);
    assert_eq!(log.body["attempts"][0]["response_body"], "ok");
    let listed = gw
        .get(
            "/api/webhooks/messages?event_type=contact.created",
            Some(&a.token),
        )
        .await;
    assert_eq!(listed.body["messages"].as_array().unwrap().len(), 1);

    // An unsubscribed type is not sent; the test event always is.
    let test = gw
        .post(
            &format!("/api/webhooks/endpoints/{endpoint}/test"),
            Some(&a.token),
            &json!({}),
        )
        .await;
    assert_eq!(test.status, 202, "{:?}", test.body);
    wait_for(&server, "webhook.test").await;
    assert!(
        requests_of_type(&server, "contact.updated")
            .await
            .is_empty()
    );

    // Endpoint changes are in the audit log.
    let audit = gw
        .get("/api/audit-log?action=webhook_endpoint.", Some(&a.token))
        .await;
    let actions: Vec<&str> = audit.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "webhook_endpoint.created",
        "webhook_endpoint.secret_read",
        "webhook_endpoint.test_sent",
    ] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoints_refuse_private_addresses_and_unknown_types() {
    let gw = TestGateway::start().await;
    let a = gw.signup("hooks-bad").await;
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/hook",
        "http://[fd00::1]/hook",
        "http://localhost/hook",
    ] {
        let r = gw
            .post(
                "/api/webhooks/endpoints",
                Some(&a.token),
                &json!({"url": url}),
            )
            .await;
        assert_eq!(code(&r), (422, "forbidden_address"), "{url}: {:?}", r.body);
    }
    for body in [
        json!({"url": "ftp://crm.example.com/"}),
        json!({"url": "https://crm.example.com/", "event_types": ["call.exploded"]}),
        json!({"url": "https://crm.example.com/", "description": "x".repeat(501)}),
    ] {
        let r = gw
            .post("/api/webhooks/endpoints", Some(&a.token), &body)
            .await;
        assert_eq!(code(&r), (422, "validation_failed"), "{body}: {:?}", r.body);
    }
    let listed = gw.get("/api/webhooks/endpoints", Some(&a.token)).await;
    assert!(listed.body["endpoints"].as_array().unwrap().is_empty());
    let types = gw.get("/api/webhooks/event-types", Some(&a.token)).await;
    assert!(types.body["event_types"].as_array().unwrap().len() >= 15);
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_need_the_webhooks_scope_and_another_organization_reaches_nothing() {
    let gw = TestGateway::start().await;
    let a = gw.signup("hooks-iso-a").await;
    let b = gw.signup("hooks-iso-b").await;
    let r = gw
        .post(
            "/api/webhooks/endpoints",
            Some(&a.token),
            &json!({"url": "https://a.example.com/h"}),
        )
        .await;
    let endpoint = r.body["endpoint"]["id"].as_str().unwrap().to_owned();
    let key = |scopes: &[&str]| {
        let body = json!({"name": "hooks", "scopes": scopes});
        let (gw, token) = (&gw, a.token.clone());
        async move {
            let r = gw.post("/api/api-keys", Some(&token), &body).await;
            r.body["key"].as_str().unwrap().to_owned()
        }
    };
    let reader = key(&["webhooks:read"]).await;
    let writer = key(&["webhooks:write"]).await;
    let contacts = key(&["contacts:write"]).await;

    assert_eq!(
        gw.get("/api/webhooks/endpoints", Some(&reader))
            .await
            .status,
        200
    );
    let secret_path = format!("/api/webhooks/endpoints/{endpoint}/secret");
    assert_eq!(
        code(&gw.get(&secret_path, Some(&reader)).await),
        (403, "insufficient_scope")
    );
    assert_eq!(gw.get(&secret_path, Some(&writer)).await.status, 200);
    let new = json!({"url": "https://a.example.com/second"});
    assert_eq!(
        code(
            &gw.post("/api/webhooks/endpoints", Some(&reader), &new)
                .await
        ),
        (403, "insufficient_scope")
    );
    assert_eq!(
        gw.post("/api/webhooks/endpoints", Some(&writer), &new)
            .await
            .status,
        201
    );
    assert_eq!(
        code(&gw.get("/api/webhooks/endpoints", Some(&contacts)).await),
        (403, "insufficient_scope")
    );

    // Organization B's admin: nothing of A, by any route.
    let paths = [
        ("GET", format!("/api/webhooks/endpoints/{endpoint}")),
        ("PATCH", format!("/api/webhooks/endpoints/{endpoint}")),
        ("DELETE", format!("/api/webhooks/endpoints/{endpoint}")),
        ("GET", format!("/api/webhooks/endpoints/{endpoint}/secret")),
        (
            "POST",
            format!("/api/webhooks/endpoints/{endpoint}/secret/rotate"),
        ),
        ("POST", format!("/api/webhooks/endpoints/{endpoint}/test")),
        ("POST", format!("/api/webhooks/endpoints/{endpoint}/replay")),
        (
            "GET",
            format!("/api/webhooks/endpoints/{endpoint}/attempts"),
        ),
    ];
    for (m, path) in &paths {
        let sent = if *m == "PATCH" {
            json!({"enabled": false})
        } else if path.ends_with("replay") {
            json!({"since": "2026-01-01T00:00:00Z"})
        } else {
            json!({})
        };
        let r = gw.send(m, path, Some(&b.token), &[], Some(&sent)).await;
        assert_eq!(code(&r), (404, "not_found"), "{m} {path}: {:?}", r.body);
    }
    let listed = gw.get("/api/webhooks/endpoints", Some(&b.token)).await;
    assert!(listed.body["endpoints"].as_array().unwrap().is_empty());
    let still = gw
        .get(
            &format!("/api/webhooks/endpoints/{endpoint}"),
            Some(&a.token),
        )
        .await;
    assert_eq!(still.body["endpoint"]["enabled"], true);

    // Members are not admins.
    let member = gw.add_user(&a, "member@hooks-iso-a.example", "user").await;
    assert_eq!(
        gw.get("/api/webhooks/endpoints", Some(&member.token))
            .await
            .status,
        403
    );
}
