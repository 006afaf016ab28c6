//! The browser softphone over HTTP and WebSocket (seed 002 "VoIP Calling Features";
//! contracts/telephony.md B.1 and B.3): Voice access tokens per extension signed with the
//! organization's API key, signed TwiML routing to the dialled extension, and `call_answered`
//! published once to the organization's users only. Twilio is faked at the HTTP level.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use gateway::test_support::ws::{assert_quiet, connect, next_json, next_json_within};
use gateway::test_support::{Reply, Session, TestGateway, mock_endpoints, mock_twilio_account};
use serde_json::{Value, json};
use wiremock::MockServer;

const ACCOUNT_A: &str = "AC0123456789abcdef0123456789abcdef";
const ACCOUNT_B: &str = "ACfedcba9876543210fedcba9876543210";
const KEY_A: &str = "SK0123456789abcdef0123456789abcdef";
const KEY_B: &str = "SKfedcba9876543210fedcba9876543210";
const APP_A: &str = "AP0123456789abcdef0123456789abcdef";
const NUMBER_A: &str = "+15559990000";
const NUMBER_B: &str = "+15558880000";
const TOKEN_A: &str = "auth-token-of-clinic-a";
const TOKEN_B: &str = "auth-token-of-clinic-b";
const KEY_SECRET_A: &str = "api-key-secret-of-clinic-a";
const KEY_SECRET_B: &str = "api-key-secret-of-clinic-b";
const PARENT: &str = "CA00000000000000000000000000000001";
const LEG_101: &str = "CA00000000000000000000000000000101";
const LEG_102: &str = "CA00000000000000000000000000000102";

struct Clinic {
    admin: Session,
    member: Session,
}

struct World {
    gw: TestGateway,
    _twilio: MockServer,
    a: Clinic,
    b: Clinic,
}

async fn set_extension(gw: &TestGateway, admin: &Session, user: &Session, extension: &str) {
    let r = gw
        .send(
            "PATCH",
            &format!("/api/users/{}", user.user_id),
            Some(&admin.token),
            &[],
            Some(&json!({ "extension": extension })),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn clinic(gw: &TestGateway, slug: &str, twilio: Value) -> Clinic {
    let admin = gw.signup(slug).await;
    let r = gw
        .post("/api/integrations/twilio", Some(&admin.token), &twilio)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let member = gw
        .add_user(&admin, &format!("front-desk@{slug}.example"), "user")
        .await;
    set_extension(gw, &admin, &admin, "101").await;
    set_extension(gw, &admin, &member, "102").await;
    Clinic { admin, member }
}

async fn world() -> World {
    let twilio = MockServer::start().await;
    mock_twilio_account(&twilio, ACCOUNT_A, NUMBER_A).await;
    mock_twilio_account(&twilio, ACCOUNT_B, NUMBER_B).await;
    let gw = TestGateway::start_with(mock_endpoints(&twilio)).await;
    let a = clinic(
        &gw,
        "clinic-a",
        json!({"account_sid": ACCOUNT_A, "auth_token": TOKEN_A, "api_key_sid": KEY_A,
               "api_key_secret": KEY_SECRET_A, "phone_number": NUMBER_A, "voice_application_sid": APP_A}),
    )
    .await;
    // The same extensions in another organization: identities are per account.
    let b = clinic(
        &gw,
        "clinic-b",
        json!({"account_sid": ACCOUNT_B, "auth_token": TOKEN_B, "api_key_sid": KEY_B,
               "api_key_secret": KEY_SECRET_B, "phone_number": NUMBER_B}),
    )
    .await;
    World {
        gw,
        _twilio: twilio,
        a,
        b,
    }
}

fn decode(token: &str, secret: &str) -> (jsonwebtoken::Header, Value) {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "sub"]);
    let data = jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .expect("a token signed with the organization's API key secret");
    (data.header, data.claims)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_names_the_users_extension_and_is_signed_with_the_orgs_api_key() {
    let w = world().await;
    let r = w.gw.get("/api/twilio/token", Some(&w.a.member.token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.headers["cache-control"], "no-store");
    assert_eq!(r.body["identity"], "102");
    assert_eq!(r.body["ttl_secs"], 3600);
    assert_eq!(r.body["outgoing"], true);
    assert!(!r.body.to_string().contains(KEY_SECRET_A));
    let (header, claims) = decode(r.body["token"].as_str().unwrap(), KEY_SECRET_A);
    assert_eq!(header.cty.as_deref(), Some("twilio-fpa;v=1"));
    assert_eq!(claims["iss"], KEY_A);
    assert_eq!(claims["sub"], ACCOUNT_A);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["nbf"].as_i64().unwrap(),
        3600
    );
    assert!(
        claims["jti"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{KEY_A}-"))
    );
    assert_eq!(
        claims["grants"],
        json!({"identity": "102", "voice": {"incoming": {"allow": true}, "outgoing": {"application_sid": APP_A}}})
    );

    // Another organization's user with the same extension gets its own account's token, and no
    // TwiML application means incoming calls only.
    let r = w.gw.get("/api/twilio/token", Some(&w.b.admin.token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["outgoing"], false);
    let (_, claims) = decode(r.body["token"].as_str().unwrap(), KEY_SECRET_B);
    assert_eq!(
        (claims["iss"].as_str(), claims["sub"].as_str()),
        (Some(KEY_B), Some(ACCOUNT_B))
    );
    assert_eq!(claims["grants"]["identity"], "101");
    assert!(claims["grants"]["voice"].get("outgoing").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_needs_a_user_an_extension_twilio_and_an_api_key() {
    let w = world().await;
    let code = |r: &Reply| (r.status, r.body["code"].as_str().map(str::to_owned));
    let r = w.gw.get("/api/twilio/token", None).await;
    assert_eq!(r.status, 401);

    let no_extension =
        w.gw.add_user(&w.a.admin, "no-extension@clinic-a.example", "user")
            .await;
    let r =
        w.gw.get("/api/twilio/token", Some(&no_extension.token))
            .await;
    assert_eq!(code(&r), (409, Some("no_extension".into())));

    let unconnected = w.gw.signup("clinic-c").await;
    set_extension(&w.gw, &unconnected, &unconnected, "101").await;
    let r =
        w.gw.get("/api/twilio/token", Some(&unconnected.token))
            .await;
    assert_eq!(code(&r), (404, Some("not_connected".into())));

    // Reconnected with the auth token only: REST and signatures work, tokens cannot be signed.
    let r =
        w.gw.post(
            "/api/integrations/twilio",
            Some(&w.a.admin.token),
            &json!({"account_sid": ACCOUNT_A, "auth_token": TOKEN_A, "phone_number": NUMBER_A}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = w.gw.get("/api/twilio/token", Some(&w.a.member.token)).await;
    assert_eq!(code(&r), (409, Some("twilio_api_key_required".into())));
}

/// Posts a Twilio form to `path`, signed with `auth_token` over the URL Twilio would use.
async fn twilio_post(
    gw: &TestGateway,
    path: &str,
    params: &[(&str, &str)],
    auth_token: &str,
) -> Reply {
    let url = format!("{}{path}", gw.base_url);
    let signature = twilio_client::signature::compute(auth_token, &url, params);
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    gw.post_body(
        path,
        "application/x-www-form-urlencoded",
        form,
        &[("x-twilio-signature", &signature)],
    )
    .await
}

fn twiml(r: &Reply) -> &str {
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/xml"),
        "{:?}",
        r.headers
    );
    r.body.as_str().expect("TwiML text")
}

#[tokio::test(flavor = "multi_thread")]
async fn twiml_routes_a_call_to_the_dialled_extension_only_when_twilio_signed_it() {
    let w = world().await;
    let org_a = &w.a.admin.org_id;
    let voice = format!("/webhooks/twilio/voice/{org_a}");
    let inbound = [
        ("AccountSid", ACCOUNT_A),
        ("CallSid", PARENT),
        ("From", "+15557654321"),
        ("To", NUMBER_A),
        ("Direction", "inbound"),
    ];

    // No extension keyed yet: the prompt, then every softphone of the organization rings.
    let r = twilio_post(&w.gw, &voice, &inbound, TOKEN_A).await;
    let xml = twiml(&r);
    let status_url = format!("{}{voice}/client-status", w.gw.base_url);
    assert!(xml.contains(&format!("<Gather input=\"dtmf\" finishOnKey=\"#\" timeout=\"5\" action=\"{}{voice}\" method=\"POST\">", w.gw.base_url)), "{xml}");
    for ext in ["101", "102"] {
        assert!(
            xml.contains(&format!(
                "statusCallback=\"{status_url}\" statusCallbackMethod=\"POST\">{ext}</Client>"
            )),
            "{xml}"
        );
    }

    // The caller keyed 102: only that softphone rings.
    let mut keyed = inbound.to_vec();
    keyed.push(("Digits", "102"));
    let r = twilio_post(&w.gw, &voice, &keyed, TOKEN_A).await;
    let xml = twiml(&r);
    assert_eq!(xml.matches("<Client ").count(), 1, "{xml}");
    assert!(xml.contains(">102</Client>"), "{xml}");
    assert!(!xml.contains("<Gather"), "{xml}");

    // A softphone of the organization calling out: the organization's number is the caller ID.
    let outgoing = [
        ("AccountSid", ACCOUNT_A),
        ("CallSid", PARENT),
        ("From", "client:101"),
        ("To", "(555) 123-4567"),
    ];
    let r = twilio_post(&w.gw, &voice, &outgoing, TOKEN_A).await;
    assert!(
        twiml(&r).contains(&format!(
            "<Dial timeout=\"20\" callerId=\"{NUMBER_A}\"><Number>+15551234567</Number></Dial>"
        )),
        "{:?}",
        r.body
    );

    // Refused, all with the same answer: no signature, a signature made with the other clinic's
    // token, clinic A's request replayed at clinic B's URL, another account's sid, an unknown
    // organization.
    let refused = |r: Reply| {
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (403, Some("invalid_signature")),
            "{:?}",
            r.body
        );
    };
    refused(
        w.gw.post_body(
            &voice,
            "application/x-www-form-urlencoded",
            "From=%2B15557654321".into(),
            &[],
        )
        .await,
    );
    refused(twilio_post(&w.gw, &voice, &inbound, TOKEN_B).await);
    let voice_b = format!("/webhooks/twilio/voice/{}", w.b.admin.org_id);
    let url_a = format!("{}{voice}", w.gw.base_url);
    let signature_a = twilio_client::signature::compute(TOKEN_A, &url_a, &inbound);
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(inbound)
        .finish();
    refused(
        w.gw.post_body(
            &voice_b,
            "application/x-www-form-urlencoded",
            form,
            &[("x-twilio-signature", &signature_a)],
        )
        .await,
    );
    let mut foreign = inbound.to_vec();
    foreign[0] = ("AccountSid", ACCOUNT_B);
    refused(twilio_post(&w.gw, &voice, &foreign, TOKEN_A).await);
    refused(
        twilio_post(
            &w.gw,
            &format!("/webhooks/twilio/voice/{}", uuid::Uuid::new_v4()),
            &inbound,
            TOKEN_A,
        )
        .await,
    );
}

fn leg<'a>(leg_sid: &'a str, extension_to: &'a str, status: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AccountSid", ACCOUNT_A),
        ("CallSid", leg_sid),
        ("ParentCallSid", PARENT),
        ("CallStatus", status),
        ("To", extension_to),
        ("From", "+15557654321"),
        ("Direction", "outbound-dial"),
    ]
}

async fn legs_of(w: &World, org: &str) -> Vec<(String, String)> {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        leg_sid: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        status: String,
    }
    let org = db::OrgId(org.parse().unwrap());
    let rows: Vec<Row> =
        w.gw.state
            .db
            .tenant(org, async move |tx| {
                diesel::sql_query("SELECT leg_sid, status FROM softphone_calls ORDER BY leg_sid")
                    .load(tx)
                    .await
                    .map_err(db::DbError::Query)
            })
            .await
            .unwrap();
    rows.into_iter().map(|r| (r.leg_sid, r.status)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn answering_tells_the_orgs_users_once_and_no_one_else() {
    let w = world().await;
    let status = format!("/webhooks/twilio/voice/{}/client-status", w.a.admin.org_id);
    let mut member_ws = connect(&w.gw, &format!("?token={}", w.a.member.token), &[]).await;
    let mut admin_ws = connect(&w.gw, &format!("?token={}", w.a.admin.token), &[]).await;
    let mut other_org_ws = connect(&w.gw, &format!("?token={}", w.b.admin.token), &[]).await;
    let post = |params: Vec<(&'static str, &'static str)>| {
        let (gw, status) = (&w.gw, status.clone());
        async move { twilio_post(gw, &status, &params, TOKEN_A).await.status }
    };

    // Both softphones ring; nothing is published for ringing.
    assert_eq!(post(leg(LEG_101, "client:101", "ringing")).await, 204);
    assert_eq!(post(leg(LEG_102, "client:102", "ringing")).await, 204);
    // 102 answers: every user of clinic A hears of it, twice delivered by Twilio, once told.
    for _ in 0..2 {
        assert_eq!(post(leg(LEG_102, "client:102", "in-progress")).await, 204);
    }
    for ws in [&mut member_ws, &mut admin_ws] {
        let answered = next_json(ws).await.expect("call_answered");
        assert_eq!(answered["type"], "call_answered", "{answered}");
        assert_eq!(answered["call_sid"], PARENT);
        assert_eq!(answered["leg_sid"], LEG_102);
        assert_eq!(answered["extension"], "102");
        assert_eq!(answered["user_id"], w.a.member.user_id.as_str());
        assert_eq!(answered["from_number"], "+15557654321");
        let started = next_json(ws).await.expect("user_call_started");
        assert_eq!(started["type"], "user_call_started");
        assert_eq!(started["user_name"], "Member user");
    }
    // 101's leg is cancelled (someone else answered): nothing to tell.
    assert_eq!(post(leg(LEG_101, "client:101", "canceled")).await, 204);
    // 102 hangs up after 42 s; a late "ringing" changes nothing.
    let mut ended = leg(LEG_102, "client:102", "completed");
    ended.push(("CallDuration", "42"));
    assert_eq!(post(ended).await, 204);
    assert_eq!(post(leg(LEG_102, "client:102", "ringing")).await, 204);
    for ws in [&mut member_ws, &mut admin_ws] {
        let ended = next_json(ws).await.expect("user_call_ended");
        assert_eq!(ended["type"], "user_call_ended", "{ended}");
        assert_eq!(ended["duration_seconds"], 42);
        assert_quiet(ws, "a clinic A user after the call").await;
    }
    // Clinic B hears nothing of clinic A's call. (The fan-out is asynchronous: clinic B's own
    // `user_updated` from setting up its softphone may still arrive after it connected.)
    while let Some(event) = next_json_within(&mut other_org_ws, Duration::from_millis(700)).await {
        let kind = event["type"].as_str().unwrap_or_default();
        let own_user_event = kind.starts_with("user_") && !kind.starts_with("user_call");
        let text = event.to_string();
        assert!(
            own_user_event && !text.contains(&w.a.admin.org_id) && !text.contains(PARENT),
            "clinic B received an event not meant for it: {event}"
        );
    }
    assert_eq!(
        legs_of(&w, &w.a.admin.org_id).await,
        [
            (LEG_101.to_owned(), "completed".to_owned()),
            (LEG_102.to_owned(), "completed".to_owned())
        ]
    );
    assert!(legs_of(&w, &w.b.admin.org_id).await.is_empty());

    // Unsigned, or signed but malformed: refused, nothing recorded.
    let form = "CallSid=CA00000000000000000000000000000103&CallStatus=in-progress&To=client%3A101";
    let r =
        w.gw.post_body(
            &status,
            "application/x-www-form-urlencoded",
            form.into(),
            &[],
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("invalid_signature"))
    );
    let r = twilio_post(
        &w.gw,
        &status,
        &leg("CA-bogus", "client:101", "in-progress"),
        TOKEN_A,
    )
    .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("invalid_request"))
    );
    let r = twilio_post(
        &w.gw,
        &status,
        &leg(LEG_101, "+15551234567", "in-progress"),
        TOKEN_A,
    )
    .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("invalid_request"))
    );
    assert_eq!(legs_of(&w, &w.a.admin.org_id).await.len(), 2);
    assert_quiet(&mut member_ws, "a clinic A user after refused callbacks").await;
}
