//! `/api/integrations` through the real HTTP surface with providers mocked at the HTTP level:
//! roles, two organizations on every endpoint, test-and-save outcomes, no secret in responses.
#![allow(clippy::unwrap_used)]

use gateway::test_support::{Session, TestGateway, mock_endpoints, mock_twilio_account};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const NUMBER: &str = "+15559990000";
const TOKEN: &str = "twilio-auth-token-never-shown";

async fn mock_twilio(server: &MockServer) {
    mock_twilio_account(server, ACCOUNT, NUMBER).await;
}

struct World {
    gw: TestGateway,
    server: MockServer,
    admin_a: Session,
    manager_a: Session,
    user_a: Session,
    admin_b: Session,
}

async fn world() -> World {
    let server = MockServer::start().await;
    let gw = TestGateway::start_with(mock_endpoints(&server)).await;
    let admin_a = gw.signup("clinic-a").await;
    let manager_a = gw
        .add_user(&admin_a, "manager@clinic-a.example", "manager")
        .await;
    let user_a = gw.add_user(&admin_a, "user@clinic-a.example", "user").await;
    let admin_b = gw.signup("clinic-b").await;
    World {
        gw,
        server,
        admin_a,
        manager_a,
        user_a,
        admin_b,
    }
}

fn twilio_body() -> Value {
    json!({"account_sid": ACCOUNT, "auth_token": TOKEN, "phone_number": NUMBER})
}

fn statuses(reply: &Value) -> Vec<(String, String)> {
    reply["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["provider"].as_str().unwrap().to_owned(),
                i["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manager_connects_twilio_and_status_shows_it_without_secrets() {
    let w = world().await;
    mock_twilio(&w.server).await;
    let r =
        w.gw.post(
            "/api/integrations/twilio",
            Some(&w.manager_a.token),
            &twilio_body(),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["integration"]["status"], "connected");
    assert_eq!(r.body["integration"]["details"]["account_sid"], ACCOUNT);
    assert_eq!(r.body["integration"]["details"]["auth_token"], true);
    assert!(!r.body.to_string().contains(TOKEN));

    let status =
        w.gw.get("/api/integrations/status", Some(&w.admin_a.token))
            .await;
    assert_eq!(status.status, 200);
    assert!(!status.body.to_string().contains(TOKEN));
    assert_eq!(
        statuses(&status.body),
        [
            ("vapi", "managed_by_platform"),
            ("twilio", "connected"),
            ("google_calendar", "not_configured"),
            ("resend", "not_configured"),
            ("elevenlabs", "not_configured"),
            ("outlook", "not_configured"),
        ]
        .map(|(p, s)| (p.to_owned(), s.to_owned()))
    );
    assert_eq!(status.body["integrations"][0]["managed_by_platform"], true);

    let r =
        w.gw.post(
            "/api/integrations/twilio/verify",
            Some(&w.admin_a.token),
            &Value::Null,
        )
        .await;
    assert_eq!(
        (r.status, r.body["integration"]["status"].as_str()),
        (200, Some("connected"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn users_cannot_touch_integrations() {
    let w = world().await;
    let token = Some(w.user_a.token.as_str());
    for (verb, path, body) in [
        ("GET", "/api/integrations/status", None),
        ("POST", "/api/integrations/twilio", Some(twilio_body())),
        (
            "POST",
            "/api/integrations/resend",
            Some(json!({"api_key": "re_x"})),
        ),
        (
            "POST",
            "/api/integrations/elevenlabs",
            Some(json!({"api_key": "x"})),
        ),
        ("POST", "/api/integrations/twilio/verify", None),
        ("DELETE", "/api/integrations/twilio", None),
    ] {
        let r = w.gw.send(verb, path, token, &[], body.as_ref()).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (403, Some("forbidden")),
            "{verb} {path}"
        );
    }
    assert_eq!(w.gw.get("/api/integrations/status", None).await.status, 401);
    assert!(
        w.server.received_requests().await.unwrap().is_empty(),
        "a provider was called"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn another_organization_sees_and_changes_nothing() {
    let w = world().await;
    mock_twilio(&w.server).await;
    assert_eq!(
        w.gw.post(
            "/api/integrations/twilio",
            Some(&w.admin_a.token),
            &twilio_body()
        )
        .await
        .status,
        200
    );

    let b = Some(w.admin_b.token.as_str());
    let status = w.gw.get("/api/integrations/status", b).await;
    assert!(
        statuses(&status.body)
            .iter()
            .all(|(p, s)| p == "vapi" || s == "not_configured"),
        "{:?}",
        status.body
    );
    for (verb, path) in [
        ("POST", "/api/integrations/twilio/verify"),
        ("DELETE", "/api/integrations/twilio"),
    ] {
        let r = w.gw.send(verb, path, b, &[], None).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (404, Some("not_connected")),
            "{verb} {path}"
        );
        assert_eq!(
            r.body["error"],
            "Twilio is not connected — connect it under Integrations"
        );
    }
    // A is untouched.
    let status =
        w.gw.get("/api/integrations/status", Some(&w.admin_a.token))
            .await;
    assert_eq!(status.body["integrations"][1]["status"], "connected");
    // And A disconnecting works once.
    let r =
        w.gw.send(
            "DELETE",
            "/api/integrations/twilio",
            Some(&w.admin_a.token),
            &[],
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.body["provider"].as_str()),
        (200, Some("twilio"))
    );
    let r =
        w.gw.send(
            "DELETE",
            "/api/integrations/twilio",
            Some(&w.admin_a.token),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_outages_and_bad_input_are_clear_and_save_nothing() {
    let w = world().await;
    let a = Some(w.admin_a.token.as_str());
    Mock::given(method("GET"))
        .and(path("/v1/user"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&w.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/domains"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&w.server)
        .await;
    // camelCase, as the seeds' front end sends it.
    let r =
        w.gw.post(
            "/api/integrations/elevenlabs",
            a,
            &json!({"apiKey": "el-revoked"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (422, Some("credentials_rejected")),
        "{:?}",
        r.body
    );
    let r =
        w.gw.post(
            "/api/integrations/resend",
            a,
            &json!({"apiKey": "re_key", "fromEmail": "desk@clinic.example"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (502, Some("provider_unavailable")),
        "{:?}",
        r.body
    );
    let r =
        w.gw.post(
            "/api/integrations/twilio",
            a,
            &json!({"accountSid": ACCOUNT, "authToken": TOKEN, "phoneNumber": "555-1234"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (422, Some("validation_failed"))
    );
    let r =
        w.gw.post(
            "/api/integrations/twilio",
            a,
            &json!({"account_sid": ACCOUNT, "phone_number": NUMBER}),
        )
        .await;
    assert!(
        r.body["error"].as_str().unwrap().contains("api_key_sid"),
        "{:?}",
        r.body
    );
    let r =
        w.gw.post("/api/integrations/vapi/verify", a, &Value::Null)
            .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (422, Some("managed_by_platform"))
    );
    let r =
        w.gw.send("DELETE", "/api/integrations/hubspot", a, &[], None)
            .await;
    assert_eq!(r.status, 404);
    let status = w.gw.get("/api/integrations/status", a).await;
    assert!(
        statuses(&status.body)
            .iter()
            .all(|(p, s)| p == "vapi" || s == "not_configured")
    );
}

fn google_config(server: &MockServer) -> integrations::google::GoogleOAuthConfig {
    integrations::google::GoogleOAuthConfig {
        client_id: "client-123.apps.googleusercontent.com".into(),
        client_secret: secrecy::SecretString::from("google-client-secret".to_owned()),
        redirect_uri: "https://platform.example/api/integrations/google/oauth/callback".into(),
        auth_url: format!("{}/o/oauth2/v2/auth", server.uri()),
        token_url: format!("{}/token", server.uri()),
        userinfo_url: format!("{}/v1/userinfo", server.uri()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn google_forever_link_through_the_api() {
    let google = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.access", "expires_in": 3599, "refresh_token": "1//refresh-kept-sealed"
        })))
        .mount(&google)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/userinfo"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"email": "frontdesk@clinic-a.example"})),
        )
        .mount(&google)
        .await;
    let gw = TestGateway::start_full(mock_endpoints(&google), Some(google_config(&google))).await;
    let admin_a = gw.signup("clinic-a").await;
    let admin_b = gw.signup("clinic-b").await;

    let start = gw
        .get("/api/integrations/google/oauth/start", Some(&admin_a.token))
        .await;
    assert_eq!(start.status, 200, "{:?}", start.body);
    let url = reqwest::Url::parse(start.body["url"].as_str().unwrap()).unwrap();
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    assert!(
        url.query_pairs()
            .any(|(k, v)| k == "access_type" && v == "offline")
    );

    // The callback needs no bearer token: the signed state names org A and its admin.
    let callback = |query: String| {
        let gw = &gw;
        async move {
            gw.get(
                &format!("/api/integrations/google/oauth/callback?{query}"),
                None,
            )
            .await
        }
    };
    let declined = callback("error=access_denied".into()).await;
    assert_eq!(
        (declined.status, declined.body["code"].as_str()),
        (422, Some("consent_declined"))
    );
    let forged = callback(format!("code=auth-code&state={}x", state)).await;
    assert_eq!(
        (forged.status, forged.body["code"].as_str()),
        (422, Some("validation_failed"))
    );
    let done = callback(format!("code=auth-code&state={state}")).await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    assert_eq!(
        done.body["integration"]["details"]["email"],
        "frontdesk@clinic-a.example"
    );
    assert!(!done.body.to_string().contains("refresh-kept-sealed"));

    let a = gw
        .get("/api/integrations/status", Some(&admin_a.token))
        .await;
    assert_eq!(a.body["integrations"][2]["status"], "connected");
    assert_eq!(
        a.body["integrations"][2]["details"]["email"],
        "frontdesk@clinic-a.example"
    );
    let b = gw
        .get("/api/integrations/status", Some(&admin_b.token))
        .await;
    assert_eq!(b.body["integrations"][2]["status"], "not_configured");
    assert!(!a.body.to_string().contains("refresh-kept-sealed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn google_without_an_oauth_client_is_not_configured() {
    let w = world().await;
    let r =
        w.gw.get(
            "/api/integrations/google/oauth/start",
            Some(&w.admin_a.token),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (503, Some("not_configured"))
    );
    let r =
        w.gw.get(
            "/api/integrations/google/oauth/start",
            Some(&w.user_a.token),
        )
        .await;
    assert_eq!(r.status, 403);
}
