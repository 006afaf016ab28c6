//! The REST client against a mock Twilio (wiremock): request shapes, authentication, error
//! parsing, retries only where safe, pagination.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use backon::ExponentialBuilder;
use base64::Engine as _;
use secrecy::SecretString;
use serde_json::json;
use twilio_client::rest::NewMessage;
use twilio_client::{Auth, TwilioClient, TwilioError};
use wiremock::matchers::{body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "auth-token-value-0123456789abcdef";
const KEY_SID: &str = "SKfedcba9876543210fedcba9876543210";

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn client(server: &MockServer) -> TwilioClient {
    TwilioClient::with_base_url(
        &server.uri(),
        ACCOUNT,
        Auth::AuthToken(SecretString::from(TOKEN.to_owned())),
    )
    .unwrap()
    .with_backoff(
        ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(1))
            .with_max_times(3),
    )
}

fn account_path(rest: &str) -> String {
    format!("/2010-04-01/Accounts/{ACCOUNT}{rest}")
}

#[tokio::test]
async fn fetch_account_checks_credentials_with_basic_auth() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(account_path(".json")))
        .and(header("authorization", basic(ACCOUNT, TOKEN).as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sid": ACCOUNT, "friendly_name": "Riverside Clinic", "status": "active", "type": "Full",
            "auth_token": "redacted-by-twilio", "date_created": "Thu, 30 Jul 2015 20:00:00 +0000"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let account = client(&server).fetch_account().await.unwrap();
    assert_eq!(
        (
            account.sid.as_str(),
            account.status.as_str(),
            account.kind.as_str()
        ),
        (ACCOUNT, "active", "Full")
    );
}

#[tokio::test]
async fn an_api_key_authenticates_as_its_sid() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(account_path(".json")))
        .and(header(
            "authorization",
            basic(KEY_SID, "key-secret").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sid": ACCOUNT, "friendly_name": "x", "status": "active", "type": "Trial"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let auth = Auth::ApiKey {
        sid: KEY_SID.into(),
        secret: SecretString::from("key-secret".to_owned()),
    };
    let client = TwilioClient::with_base_url(&server.uri(), ACCOUNT, auth).unwrap();
    assert_eq!(client.fetch_account().await.unwrap().kind, "Trial");
}

#[tokio::test]
async fn bad_credentials_are_an_auth_failure_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(account_path(".json")))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "code": 20003, "message": "Authenticate",
            "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).fetch_account().await.unwrap_err();
    assert!(err.is_auth_failure(), "{err:?}");
    assert!(!err.to_string().contains(TOKEN));
}

#[tokio::test]
async fn an_outage_is_retried_for_reads_then_reported() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(account_path(".json")))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream unavailable"))
        .expect(4) // the first try and three retries
        .mount(&server)
        .await;
    let err = client(&server).fetch_account().await.unwrap_err();
    assert!(
        matches!(err, TwilioError::Api { status: 503, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_read_succeeds_after_a_transient_failure() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(account_path(".json")))
        .respond_with(
            ResponseTemplate::new(429).set_body_json(
                json!({"code": 20429, "message": "Too Many Requests", "status": 429}),
            ),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(account_path(".json")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sid": ACCOUNT, "friendly_name": "x", "status": "active", "type": "Full"
        })))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        client(&server).fetch_account().await.unwrap().status,
        "active"
    );
}

#[tokio::test]
async fn sending_an_sms_posts_the_form_and_is_never_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(account_path("/Messages.json")))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("To=%2B15550001111"))
        .and(body_string_contains("From=%2B15559990000"))
        .and(body_string_contains("Body=Your+appointment+is+confirmed"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "sid": "SM0123456789abcdef0123456789abcdef", "status": "queued", "to": "+15550001111",
            "from": "+15559990000", "num_segments": "1", "error_code": null, "body": "Your appointment is confirmed"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let message = NewMessage {
        to: "+15550001111",
        from: "+15559990000",
        body: "Your appointment is confirmed",
        status_callback: None,
    };
    let sent = client(&server).send_sms(&message).await.unwrap();
    assert_eq!(
        (sent.status.as_str(), sent.num_segments.as_deref()),
        ("queued", Some("1"))
    );

    // An outage during a send is reported after exactly one attempt.
    let down = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(1)
        .mount(&down)
        .await;
    assert!(
        client(&down)
            .send_sms(&message)
            .await
            .unwrap_err()
            .is_retryable()
    );
    let too_long = NewMessage {
        body: &"x".repeat(1601),
        ..message
    };
    assert!(matches!(
        client(&down).send_sms(&too_long).await,
        Err(TwilioError::Invalid(_))
    ));
}

#[tokio::test]
async fn caller_id_validation_returns_the_code_and_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(account_path("/OutgoingCallerIds.json")))
        .and(body_string_contains("PhoneNumber=%2B15550001111"))
        .and(body_string_contains("StatusCallback="))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "account_sid": ACCOUNT, "call_sid": "CA0123456789abcdef0123456789abcdef",
            "friendly_name": "Front desk", "phone_number": "+15550001111", "validation_code": "123456"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let request = client(&server)
        .request_caller_id_validation(
            "+15550001111",
            Some("Front desk"),
            Some("https://example.com/cb"),
        )
        .await
        .unwrap();
    assert_eq!(request.validation_code, "123456");

    let down = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&down)
        .await;
    assert!(
        client(&down)
            .request_caller_id_validation("+15550001111", None, None)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn lists_follow_pages_and_deletes_answer_204() {
    let server = MockServer::start().await;
    let next = format!(
        "{}?PageSize=1&Page=1&PageToken=PAabc",
        account_path("/OutgoingCallerIds.json")
    );
    Mock::given(method("GET"))
        .and(path(account_path("/OutgoingCallerIds.json")))
        .and(query_param("PhoneNumber", "+15550001111"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "outgoing_caller_ids": [{"sid": "PN00000000000000000000000000000001", "phone_number": "+15550001111", "friendly_name": "A"}],
            "next_page_uri": next, "page": 0, "page_size": 1
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(account_path("/OutgoingCallerIds.json")))
        .and(query_param("PageToken", "PAabc"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "outgoing_caller_ids": [{"sid": "PN00000000000000000000000000000002", "phone_number": "+15550001111", "friendly_name": "B"}],
            "next_page_uri": null, "page": 1, "page_size": 1
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(account_path(
            "/OutgoingCallerIds/PN00000000000000000000000000000002.json",
        )))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(account_path("/IncomingPhoneNumbers.json")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "incoming_phone_numbers": [{"sid": "PN00000000000000000000000000000003", "phone_number": "+15559990000",
                                        "friendly_name": "Main", "voice_url": null, "capabilities": {"voice": true}}],
            "next_page_uri": null
        })))
        .expect(1)
        .mount(&server)
        .await;

    let client = client(&server);
    let ids = client
        .list_outgoing_caller_ids(Some("+15550001111"))
        .await
        .unwrap();
    assert_eq!(
        ids.iter()
            .map(|i| i.friendly_name.as_deref().unwrap())
            .collect::<Vec<_>>(),
        ["A", "B"]
    );
    client.delete_outgoing_caller_id(&ids[1].sid).await.unwrap();
    assert!(matches!(
        client.delete_outgoing_caller_id("nope").await,
        Err(TwilioError::Invalid(_))
    ));
    let numbers = client.list_incoming_numbers(None).await.unwrap();
    assert_eq!(numbers[0].phone_number, "+15559990000");
}

#[tokio::test]
async fn an_unreachable_twilio_is_a_transport_error() {
    // Nothing listens on port 1.
    let client = TwilioClient::with_base_url(
        "http://127.0.0.1:1",
        ACCOUNT,
        Auth::AuthToken(SecretString::from(TOKEN.to_owned())),
    )
    .unwrap()
    .with_backoff(
        ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(1))
            .with_max_times(1),
    );
    let err = client.fetch_account().await.unwrap_err();
    assert!(matches!(err, TwilioError::Transport(_)), "{err:?}");
    assert!(!err.to_string().contains(TOKEN));
}
