//! Limits and browser access (issue "Integration surface", item 5): per-key and
//! per-organization rate limits answered 429 `rate_limited` with `Retry-After`; CORS only for
//! the configured origins; addresses recorded for keys and the audit trail are the client's
//! behind a trusted proxy, and a client's own `X-Forwarded-For` is not believed otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gateway::edge::EdgeConfig;
use gateway::rate_limit::RateLimitConfig;
use gateway::test_support::TestGateway;
use serde_json::json;

async fn key(gw: &TestGateway, admin: &str, scopes: &[&str]) -> String {
    let r = gw
        .post(
            "/api/api-keys",
            Some(admin),
            &json!({"name": "limits", "scopes": scopes}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["key"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_over_its_rate_is_refused_with_retry_after_and_others_go_on() {
    let limits = RateLimitConfig {
        org_per_minute: 1_000,
        key_per_minute: 3,
    };
    let gw = TestGateway::start_api_limits(limits, &[]).await;
    let a = gw.signup("limits-a").await;
    let b = gw.signup("limits-b").await;
    let busy = key(&gw, &a.token, &["contacts:read"]).await;
    let other = key(&gw, &a.token, &["contacts:read"]).await;
    for _ in 0..3 {
        assert_eq!(gw.get("/api/contacts", Some(&busy)).await.status, 200);
    }
    let refused = gw.get("/api/contacts", Some(&busy)).await;
    assert_eq!(refused.status, 429, "{:?}", refused.body);
    assert_eq!(refused.body["code"], "rate_limited");
    assert_eq!(refused.body["success"], false);
    let wait: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Another key, the organization's users and another organization are not held back.
    assert_eq!(gw.get("/api/contacts", Some(&other)).await.status, 200);
    assert_eq!(gw.get("/api/contacts", Some(&a.token)).await.status, 200);
    assert_eq!(gw.get("/api/contacts", Some(&b.token)).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_organization_over_its_rate_is_refused_whoever_asks() {
    let limits = RateLimitConfig {
        org_per_minute: 4,
        key_per_minute: 0,
    };
    let gw = TestGateway::start_api_limits(limits, &[]).await;
    let a = gw.signup("limits-org-a").await; // signing up counts nothing: no principal yet
    let b = gw.signup("limits-org-b").await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(gw.get("/api/contacts", Some(&a.token)).await.status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(gw.get("/api/contacts", Some(&b.token)).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_answers_only_the_configured_origins() {
    let allowed = "https://crm.example.com".to_owned();
    let gw =
        TestGateway::start_api_limits(RateLimitConfig::default(), std::slice::from_ref(&allowed))
            .await;
    let a = gw.signup("cors-a").await;
    let preflight = |origin: &'static str| {
        let gw = &gw;
        async move {
            gw.send(
                "OPTIONS",
                "/api/contacts",
                None,
                &[
                    ("origin", origin),
                    ("access-control-request-method", "POST"),
                    (
                        "access-control-request-headers",
                        "authorization, content-type, idempotency-key",
                    ),
                ],
                None,
            )
            .await
        }
    };
    let ok = preflight("https://crm.example.com").await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!(
        ok.headers["access-control-allow-origin"],
        "https://crm.example.com"
    );
    let refused = preflight("https://evil.example.net").await;
    assert!(refused.headers.get("access-control-allow-origin").is_none());
    // An actual request: the allowed origin can read it; another origin gets no CORS headers,
    // and a same-origin request (the console) is served as before.
    let r = gw
        .send(
            "GET",
            "/api/contacts",
            Some(&a.token),
            &[("origin", "https://crm.example.com")],
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.headers["access-control-allow-origin"],
        "https://crm.example.com"
    );
    let r = gw
        .send(
            "GET",
            "/api/contacts",
            Some(&a.token),
            &[("origin", "https://evil.example.net")],
            None,
        )
        .await;
    assert!(r.headers.get("access-control-allow-origin").is_none());
    let own = gw.base_url.clone();
    let r = gw
        .send(
            "POST",
            "/api/contacts",
            Some(&a.token),
            &[("origin", own.as_str())],
            Some(&json!({"name": "Jo", "phone": "+15550400001"})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);

    // Without configured origins there is no CORS at all.
    let plain = TestGateway::start().await;
    let r = plain
        .send(
            "OPTIONS",
            "/api/contacts",
            None,
            &[
                ("origin", "https://crm.example.com"),
                ("access-control-request-method", "GET"),
            ],
            None,
        )
        .await;
    assert!(r.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_a_trusted_proxy_the_client_address_is_recorded() {
    let edge = EdgeConfig {
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..EdgeConfig::default()
    };
    let gw = TestGateway::start_edge(edge).await;
    let a = gw.signup("proxy-a").await;
    let writer = key(&gw, &a.token, &["contacts:write"]).await;
    let body = json!({"name": "Jo", "phone": "+15550400002"});
    let r = gw
        .send(
            "POST",
            "/api/contacts",
            Some(&writer),
            &[("x-forwarded-for", "198.51.100.9, 203.0.113.7")],
            Some(&body),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let audit = gw
        .get("/api/audit-log?action=api_key.write", Some(&a.token))
        .await;
    assert_eq!(audit.body["events"][0]["address"], "203.0.113.7");
    let keys = gw.get("/api/api-keys", Some(&a.token)).await;
    assert_eq!(keys.body["api_keys"][0]["last_used_address"], "203.0.113.7");

    // Without a trusted proxy, a client's own header is ignored.
    let direct = TestGateway::start().await;
    let a = direct.signup("direct-a").await;
    let writer = key(&direct, &a.token, &["contacts:write"]).await;
    let body = json!({"name": "Jo", "phone": "+15550400003"});
    direct
        .send(
            "POST",
            "/api/contacts",
            Some(&writer),
            &[("x-forwarded-for", "203.0.113.7")],
            Some(&body),
        )
        .await;
    let audit = direct
        .get("/api/audit-log?action=api_key.write", Some(&a.token))
        .await;
    assert_eq!(audit.body["events"][0]["address"], "127.0.0.1");
}
