//! `/api/telephony` through the real HTTP surface with Twilio mocked at the HTTP level (seed 001
//! §17.4): verification happy path, wrong codes, expiry, lock-out, rate limit, duplicates,
//! forwarding configuration, cross-org access, no plaintext code stored.
#![allow(clippy::unwrap_used)]

use gateway::test_support::{Session, TestGateway, mock_endpoints, mock_twilio_account};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const AI_NUMBER: &str = "+15559990000";
const MOBILE: &str = "+15551230000";
const CODE: &str = "407153";

struct World {
    gw: TestGateway,
    twilio: MockServer,
    admin: Session,
    other_org: Session,
}

async fn world() -> World {
    let twilio = MockServer::start().await;
    mock_twilio_account(&twilio, ACCOUNT, AI_NUMBER).await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/2010-04-01/Accounts/{ACCOUNT}/OutgoingCallerIds.json"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "account_sid": ACCOUNT, "call_sid": "CA0123456789abcdef0123456789abcdef",
            "friendly_name": "Front desk mobile", "phone_number": MOBILE, "validation_code": CODE
        })))
        .mount(&twilio)
        .await;
    let gw = TestGateway::start_with(mock_endpoints(&twilio)).await;
    let admin = gw.signup("clinic-a").await;
    let connected = gw
        .post(
            "/api/integrations/twilio",
            Some(&admin.token),
            &json!({"account_sid": ACCOUNT, "auth_token": "token", "phone_number": AI_NUMBER}),
        )
        .await;
    assert_eq!(connected.status, 200, "{:?}", connected.body);
    let other_org = gw.signup("clinic-b").await;
    World {
        gw,
        twilio,
        admin,
        other_org,
    }
}

/// Twilio lists the mobile as a verified caller ID (the person completed the call).
async fn twilio_lists_the_number(twilio: &MockServer) {
    Mock::given(method("GET"))
        .and(path(format!("/2010-04-01/Accounts/{ACCOUNT}/OutgoingCallerIds.json")))
        .and(query_param("PhoneNumber", MOBILE))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "outgoing_caller_ids": [{"sid": "PN0123456789abcdef0123456789abcdef", "phone_number": MOBILE, "friendly_name": "Front desk mobile"}],
            "next_page_uri": null
        })))
        .mount(twilio)
        .await;
}

impl World {
    async fn initiate(&self, number: &str) -> (u16, Value) {
        let r = self
            .gw
            .post(
                "/api/telephony/verify-caller-id/initiate",
                Some(&self.admin.token),
                &json!({"phoneNumber": number, "friendlyName": "Front desk mobile"}),
            )
            .await;
        (r.status, r.body)
    }

    async fn confirm(&self, token: &str, id: &str, code: &str) -> (u16, Value) {
        let r = self
            .gw
            .post(
                "/api/telephony/verify-caller-id/confirm",
                Some(token),
                &json!({"verificationId": id, "verificationCode": code}),
            )
            .await;
        (r.status, r.body)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_then_forward_then_disable_then_remove() {
    let w = world().await;
    let t = Some(w.admin.token.as_str());
    let (status, body) = w.initiate("+1 (555) 123-0000").await;
    assert_eq!(status, 200, "{body:?}");
    assert_eq!(body["verificationCode"], CODE);
    assert_eq!(body["validationId"], "CA0123456789abcdef0123456789abcdef");
    let id = body["verificationId"].as_str().unwrap().to_owned();

    // The code is stored only as an argon2id hash.
    let row =
        w.gw.database
            .psql_superuser("SELECT row_to_json(v)::text FROM verified_caller_ids v");
    assert!(!row.contains(CODE), "plaintext code stored: {row}");
    assert!(row.contains("$argon2id$"), "{row}");

    let (status, body) = w.confirm(&w.admin.token, &id, "000000").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            400,
            Some("Invalid verification code. 2 attempts remaining.")
        )
    );
    // Right code, but Twilio does not list the number yet: not verified, not an attempt.
    Mock::given(method("GET"))
        .and(path(format!(
            "/2010-04-01/Accounts/{ACCOUNT}/OutgoingCallerIds.json"
        )))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"outgoing_caller_ids": [], "next_page_uri": null})),
        )
        .up_to_n_times(1)
        .mount(&w.twilio)
        .await;
    let (status, body) = w.confirm(&w.admin.token, &id, CODE).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("not_confirmed_by_twilio")),
        "{body:?}"
    );
    twilio_lists_the_number(&w.twilio).await;
    let (status, body) = w.confirm(&w.admin.token, &id, CODE).await;
    assert_eq!(status, 200, "{body:?}");
    assert_eq!(body["callerIdSid"], "PN0123456789abcdef0123456789abcdef");

    let (status, body) = w.initiate(MOBILE).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("already_verified"))
    );

    let r = w.gw.post("/api/telephony/forwarding-config", t, &json!({
        "verifiedCallerId": id, "forwardingType": "safety_net", "carrier": "att", "ringTimeSeconds": 20
    })).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let config = &r.body["config"];
    assert_eq!(
        config["generatedActivationCode"],
        "**004*+15559990000*11*20#"
    );
    assert_eq!(config["generatedDeactivationCode"], "##004#");
    assert_eq!(config["checkCodes"], json!(["*#61#", "*#67#", "*#62#"]));
    assert_eq!(config["status"], "pending_setup");
    assert!(
        config["instructions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i.as_str().unwrap().contains("**004*"))
    );
    let config_id = config["id"].as_str().unwrap().to_owned();

    let r =
        w.gw.get(
            &format!("/api/telephony/forwarding-config?verifiedCallerId={id}"),
            t,
        )
        .await;
    assert_eq!(
        (r.status, r.body["config"]["ringTimeSeconds"].as_i64()),
        (200, Some(20))
    );
    let r =
        w.gw.post(
            "/api/telephony/forwarding-config/confirm",
            t,
            &json!({"forwardingConfigId": config_id}),
        )
        .await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("active")));
    let r = w.gw.get("/api/telephony/verified-numbers", t).await;
    assert_eq!(r.body["numbers"][0]["hasForwardingConfig"], true);
    assert_eq!(r.body["numbers"][0]["status"], "verified");

    let r =
        w.gw.send(
            "DELETE",
            &format!("/api/telephony/forwarding-config/{config_id}"),
            t,
            &[],
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.body["deactivationCode"].as_str()),
        (200, Some("##004#"))
    );
    assert!(r.body["message"].as_str().unwrap().contains("##004#"));
    let r =
        w.gw.send(
            "DELETE",
            &format!("/api/telephony/verified-numbers/{id}"),
            t,
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let r = w.gw.get("/api/telephony/verified-numbers", t).await;
    assert_eq!(r.body["numbers"], json!([]));
    let r =
        w.gw.get(
            &format!("/api/telephony/forwarding-config?verifiedCallerId={id}"),
            t,
        )
        .await;
    assert_eq!(
        r.status, 404,
        "the configuration did not go with its number"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn three_wrong_codes_lock_the_verification() {
    let w = world().await;
    twilio_lists_the_number(&w.twilio).await;
    let (_, body) = w.initiate(MOBILE).await;
    let id = body["verificationId"].as_str().unwrap().to_owned();
    let (s1, b1) = w.confirm(&w.admin.token, &id, "111111").await;
    let (s2, b2) = w.confirm(&w.admin.token, &id, "222222").await;
    let (s3, b3) = w.confirm(&w.admin.token, &id, "333333").await;
    assert_eq!(
        (s1, b1["error"].as_str()),
        (
            400,
            Some("Invalid verification code. 2 attempts remaining.")
        )
    );
    assert_eq!(
        (s2, b2["error"].as_str()),
        (400, Some("Invalid verification code. 1 attempt remaining."))
    );
    assert_eq!(
        (s3, b3["code"].as_str()),
        (429, Some("verification_locked"))
    );
    // The fourth attempt is refused even with the right code.
    let (s4, b4) = w.confirm(&w.admin.token, &id, CODE).await;
    assert_eq!(
        (s4, b4["code"].as_str()),
        (429, Some("verification_locked"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_code_is_gone() {
    let w = world().await;
    let (_, body) = w.initiate(MOBILE).await;
    let id = body["verificationId"].as_str().unwrap().to_owned();
    w.gw.database.psql_superuser(&format!(
        "UPDATE verified_caller_ids SET verification_code_expires_at = now() - interval '1 minute' WHERE id = '{id}'"
    ));
    let (status, body) = w.confirm(&w.admin.token, &id, CODE).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            410,
            Some("Verification code expired. Please request a new one.")
        )
    );
    let (status, _) = w.confirm(&w.admin.token, &id, CODE).await;
    assert_eq!(status, 410);
}

#[tokio::test(flavor = "multi_thread")]
async fn three_calls_per_number_per_hour() {
    let w = world().await;
    for _ in 0..3 {
        assert_eq!(w.initiate(MOBILE).await.0, 200);
    }
    let (status, body) = w.initiate(MOBILE).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")));
    // Another number is not affected.
    assert_eq!(w.initiate("+15551239999").await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_and_missing_twilio_are_clear() {
    let w = world().await;
    let (status, body) = w.initiate("555-1234").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_phone_number"))
    );
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("Invalid phone format. Must be E.164")
    );
    let r =
        w.gw.post(
            "/api/telephony/verify-caller-id/initiate",
            Some(&w.other_org.token),
            &json!({"phoneNumber": MOBILE}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (404, Some("not_connected"))
    );

    twilio_lists_the_number(&w.twilio).await;
    let (_, body) = w.initiate(MOBILE).await;
    let id = body["verificationId"].as_str().unwrap().to_owned();
    w.confirm(&w.admin.token, &id, CODE).await;
    let r = w.gw.post("/api/telephony/forwarding-config", Some(&w.admin.token), &json!({
        "verifiedCallerId": id, "forwardingType": "safety_net", "carrier": "tmobile", "ringTimeSeconds": 60
    })).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (422, Some("invalid_forwarding"))
    );
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains("5, 10, 15, 20, 25 or 30")
    );
    let r =
        w.gw.post(
            "/api/telephony/forwarding-config",
            Some(&w.admin.token),
            &json!({
                "verifiedCallerId": id, "forwardingType": "safety_net", "carrier": "vodafone"
            }),
        )
        .await;
    assert_eq!(r.status, 422);
}

#[tokio::test(flavor = "multi_thread")]
async fn another_org_cannot_reach_anything() {
    let w = world().await;
    twilio_lists_the_number(&w.twilio).await;
    let (_, body) = w.initiate(MOBILE).await;
    let id = body["verificationId"].as_str().unwrap().to_owned();
    // B tries A's verification with the right code: unknown to B.
    let (status, _) = w.confirm(&w.other_org.token, &id, CODE).await;
    assert_eq!(status, 404);
    assert_eq!(w.confirm(&w.admin.token, &id, CODE).await.0, 200);
    let r =
        w.gw.post(
            "/api/telephony/forwarding-config",
            Some(&w.admin.token),
            &json!({
                "verifiedCallerId": id, "forwardingType": "total_ai", "carrier": "verizon"
            }),
        )
        .await;
    assert_eq!(
        (
            r.status,
            r.body["config"]["generatedActivationCode"].as_str()
        ),
        (201, Some("*725559990000"))
    );
    let config_id = r.body["config"]["id"].as_str().unwrap().to_owned();

    let b = Some(w.other_org.token.as_str());
    assert_eq!(
        w.gw.get("/api/telephony/verified-numbers", b).await.body["numbers"],
        json!([])
    );
    for (verb, p, body) in [
        (
            "GET",
            format!("/api/telephony/forwarding-config?verifiedCallerId={id}"),
            None,
        ),
        (
            "POST",
            "/api/telephony/forwarding-config".to_owned(),
            Some(json!({"verifiedCallerId": id, "forwardingType": "total_ai", "carrier": "att"})),
        ),
        (
            "POST",
            "/api/telephony/forwarding-config/confirm".to_owned(),
            Some(json!({"forwardingConfigId": config_id})),
        ),
        (
            "DELETE",
            format!("/api/telephony/forwarding-config/{config_id}"),
            None,
        ),
        (
            "DELETE",
            format!("/api/telephony/verified-numbers/{id}"),
            None,
        ),
    ] {
        let r = w.gw.send(verb, &p, b, &[], body.as_ref()).await;
        assert_eq!(r.status, 404, "{verb} {p}: {:?}", r.body);
    }
    let r =
        w.gw.get(
            &format!("/api/telephony/forwarding-config?verifiedCallerId={id}"),
            Some(&w.admin.token),
        )
        .await;
    assert_eq!(
        r.body["config"]["status"], "pending_setup",
        "B changed A's configuration"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn twilios_signed_status_callback_updates_the_verification() {
    let w = world().await;
    let (_, body) = w.initiate(MOBILE).await;
    let id = body["verificationId"].as_str().unwrap().to_owned();
    let path = format!("/webhooks/twilio/caller-id/{id}");
    let url = format!("{}{path}", w.gw.base_url);
    let params = [
        ("AccountSid", ACCOUNT),
        ("OutgoingCallerIdSid", "PNfedcba9876543210fedcba9876543210"),
        ("VerificationStatus", "success"),
    ];
    let form: String = params.iter().map(|(k, v)| format!("{k}={v}&")).collect();
    let post = |signature: String| {
        let (w, path, form) = (&w, path.clone(), form.clone());

        async move {
            // A raw form body: post it with a plain client.
            gateway::test_support::http_client()
                .post(format!("{}{path}", w.gw.base_url))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-twilio-signature", signature)
                .body(form)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // The organization connected Twilio with the auth token "token" (see `world`).
    assert_eq!(post("bm90LWEtc2lnbmF0dXJl".into()).await, 403);
    let numbers =
        w.gw.get("/api/telephony/verified-numbers", Some(&w.admin.token))
            .await;
    assert_eq!(numbers.body["numbers"][0]["status"], "pending");

    let signature = twilio_client::signature::compute("token", &url, &params);
    assert_eq!(post(signature).await, 204);
    let numbers =
        w.gw.get("/api/telephony/verified-numbers", Some(&w.admin.token))
            .await;
    assert_eq!(numbers.body["numbers"][0]["status"], "verified");
    // An unknown verification is a 404 before any signature work.
    let unknown = gateway::test_support::http_client()
        .post(format!(
            "{}/webhooks/twilio/caller-id/{}",
            w.gw.base_url,
            uuid::Uuid::new_v4()
        ))
        .body("VerificationStatus=success")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
}
