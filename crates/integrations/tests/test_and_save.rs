//! Test-and-save against mock providers (wiremock) and a real database: success, refused
//! credentials, provider outage; nothing is stored unless the provider accepted.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use credentials::{CredentialError, CredentialService, Keyring, Provider, TwilioCredentials};
use db::test_support::{TestDatabase, create_org};
use integrations::{IntegrationError, Integrations, ProviderEndpoints, TwilioInput};
use secrecy::SecretString;
use serde_json::json;
use tenancy::audit::{Actor, ChangedBy};
use uuid::Uuid;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};
use zeroize::Zeroizing;

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const NUMBER: &str = "+15559990000";

struct Setup {
    _db: TestDatabase,
    service: Integrations,
    credentials: Arc<CredentialService>,
    org: db::OrgId,
    server: MockServer,
}

async fn setup() -> Setup {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let org = create_org(&db, "Clinic").await;
    let keyring = Keyring::new([("k1".to_owned(), Zeroizing::new(vec![1u8; 32]))], "k1").unwrap();
    let credentials = Arc::new(CredentialService::new(db, Arc::new(keyring)));
    let server = MockServer::start().await;
    let endpoints = ProviderEndpoints {
        twilio: server.uri(),
        resend: server.uri(),
        elevenlabs: server.uri(),
        google_calendar: server.uri(),
    };
    Setup {
        _db: test_db,
        service: Integrations::new(credentials.clone(), endpoints),
        credentials,
        org,
        server,
    }
}

fn twilio_input(token: &str) -> TwilioInput {
    TwilioInput {
        account_sid: ACCOUNT.into(),
        auth_token: Some(SecretString::from(token.to_owned())),
        api_key_sid: None,
        api_key_secret: None,
        phone_number: NUMBER.into(),
        voice_application_sid: None,
    }
}

async fn mock_twilio_account(server: &MockServer, status: u16) {
    let body = if status == 200 {
        json!({"sid": ACCOUNT, "friendly_name": "Clinic", "status": "active", "type": "Full"})
    } else {
        json!({"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": status})
    };
    Mock::given(method("GET"))
        .and(path(format!("/2010-04-01/Accounts/{ACCOUNT}.json")))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(server)
        .await;
}

async fn mock_twilio_numbers(server: &MockServer, numbers: &[&str]) {
    let items: Vec<_> = numbers
        .iter()
        .map(|n| json!({"sid": "PN0123456789abcdef0123456789abcdef", "phone_number": n, "friendly_name": "Main"}))
        .collect();
    Mock::given(method("GET"))
        .and(path(format!(
            "/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers.json"
        )))
        .and(query_param("PhoneNumber", NUMBER))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"incoming_phone_numbers": items, "next_page_uri": null})),
        )
        .mount(server)
        .await;
}

/// A user changing the organization's integrations.
fn by() -> ChangedBy {
    ChangedBy {
        actor: Actor::User(Uuid::new_v4()),
        origin: tenancy::audit::RequestOrigin::default(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn twilio_is_saved_only_after_the_provider_accepts() {
    let s = setup().await;
    mock_twilio_account(&s.server, 200).await;
    mock_twilio_numbers(&s.server, &[NUMBER]).await;
    let status = s
        .service
        .connect_twilio(s.org, twilio_input("good-token"), &by())
        .await
        .unwrap();
    assert_eq!(status.status, "connected");
    assert!(status.last_verified_at.is_some());
    assert_eq!(status.details["phone_number"], NUMBER);
    assert_eq!(
        s.credentials
            .get::<TwilioCredentials>(s.org)
            .await
            .unwrap()
            .account_sid,
        ACCOUNT
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_credentials_or_a_foreign_number_save_nothing() {
    let s = setup().await;
    mock_twilio_account(&s.server, 401).await;
    let err = s
        .service
        .connect_twilio(s.org, twilio_input("bad-token"), &by())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            IntegrationError::Rejected {
                provider: Provider::Twilio,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.to_string().contains("bad-token"));
    assert!(!s.credentials.exists(s.org, Provider::Twilio).await.unwrap());

    let s = setup().await;
    mock_twilio_account(&s.server, 200).await;
    mock_twilio_numbers(&s.server, &[]).await;
    let err = s
        .service
        .connect_twilio(s.org, twilio_input("good-token"), &by())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("is not a phone number of this Twilio account"),
        "{err}"
    );
    assert!(!s.credentials.exists(s.org, Provider::Twilio).await.unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_outage_saves_nothing_and_says_so() {
    let s = setup().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&s.server)
        .await;
    let err = s
        .service
        .connect_twilio(s.org, twilio_input("token"), &by())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            IntegrationError::Unavailable {
                provider: Provider::Twilio,
                ..
            }
        ),
        "{err:?}"
    );
    let err = s
        .service
        .connect_elevenlabs(s.org, Some(SecretString::from("k".to_owned())), &by())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            IntegrationError::Unavailable {
                provider: Provider::ElevenLabs,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(s.credentials.list(s.org).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn input_is_validated_before_any_call() {
    let s = setup().await;
    let mut bad_number = twilio_input("t");
    bad_number.phone_number = "555-1234".into();
    let mut key_without_secret = twilio_input("t");
    key_without_secret.api_key_sid = Some("SK0123456789abcdef0123456789abcdef".into());
    let mut secret_without_key = twilio_input("t");
    secret_without_key.api_key_secret = Some(SecretString::from("s".to_owned()));
    let mut no_secret = twilio_input("t");
    no_secret.auth_token = None;
    let mut bad_app = twilio_input("t");
    bad_app.voice_application_sid = Some("AP12".into());
    let mut bad_sid = twilio_input("t");
    bad_sid.account_sid = "AC12".into();
    for input in [
        bad_number,
        key_without_secret,
        secret_without_key,
        no_secret,
        bad_app,
        bad_sid,
    ] {
        assert!(matches!(
            s.service.connect_twilio(s.org, input, &by()).await,
            Err(IntegrationError::Invalid(_))
        ));
    }
    assert!(matches!(
        s.service.connect_resend(s.org, None, None, &by()).await,
        Err(IntegrationError::Invalid(_))
    ));
    assert!(
        s.server.received_requests().await.unwrap().is_empty(),
        "a provider was called for invalid input"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resend_and_elevenlabs_keys_are_checked() {
    let s = setup().await;
    // A sending-only Resend key answers 401 restricted_api_key: it is a real key.
    Mock::given(method("GET"))
        .and(path("/domains"))
        .and(header("authorization", "Bearer re_sending_only"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "statusCode": 401, "message": "This API key is restricted to only send emails", "name": "restricted_api_key"
        })))
        .mount(&s.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/user"))
        .and(header("xi-api-key", "el-good"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"subscription": {"tier": "creator"}})),
        )
        .mount(&s.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/user"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"detail": {"status": "invalid_api_key"}})),
        )
        .mount(&s.server)
        .await;
    let actor = &by();
    let resend = s
        .service
        .connect_resend(
            s.org,
            Some(SecretString::from("re_sending_only".to_owned())),
            Some("desk@clinic.example".into()),
            actor,
        )
        .await
        .unwrap();
    assert_eq!(
        (resend.status, &resend.details["from_email"]),
        ("connected", &json!("desk@clinic.example"))
    );
    s.service
        .connect_elevenlabs(s.org, Some(SecretString::from("el-good".to_owned())), actor)
        .await
        .unwrap();
    let err = s
        .service
        .connect_elevenlabs(s.org, Some(SecretString::from("el-bad".to_owned())), actor)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        IntegrationError::Rejected {
            provider: Provider::ElevenLabs,
            ..
        }
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn verification_records_the_outcome_and_status_lists_every_provider() {
    let s = setup().await;
    let actor = &by();
    Mock::given(method("GET"))
        .and(path("/v1/user"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .up_to_n_times(1)
        .mount(&s.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/user"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&s.server)
        .await;
    s.service
        .connect_elevenlabs(s.org, Some(SecretString::from("el".to_owned())), actor)
        .await
        .unwrap();
    // The key is revoked at ElevenLabs: verification marks the integration as in error.
    let status = s
        .service
        .verify(s.org, Provider::ElevenLabs, actor)
        .await
        .unwrap();
    assert_eq!(status.status, "error");
    assert!(status.last_error.unwrap().contains("HTTP 401"));

    let all = s.service.status(s.org).await.unwrap();
    let summary: Vec<(&str, &str)> = all
        .iter()
        .map(|st| (st.provider.as_str(), st.status))
        .collect();
    assert_eq!(
        summary,
        [
            ("twilio", "not_configured"),
            ("google_calendar", "not_configured"),
            ("resend", "not_configured"),
            ("elevenlabs", "error"),
            ("outlook", "not_configured")
        ]
    );
    assert!(matches!(
        s.service.verify(s.org, Provider::Twilio, actor).await,
        Err(IntegrationError::Credential(CredentialError::NotConnected(
            Provider::Twilio
        )))
    ));
    assert!(
        s.service
            .disconnect(s.org, Provider::ElevenLabs, actor)
            .await
            .unwrap()
    );
    assert_eq!(
        s.service.status(s.org).await.unwrap()[3].status,
        "not_configured"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_resend_key_saves_nothing() {
    let s = setup().await;
    Mock::given(method("GET"))
        .and(path("/domains"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "statusCode": 401, "message": "API key is invalid", "name": "validation_error"
        })))
        .mount(&s.server)
        .await;
    let err = s
        .service
        .connect_resend(
            s.org,
            Some(SecretString::from("re_revoked".to_owned())),
            None,
            &by(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            IntegrationError::Rejected {
                provider: Provider::Resend,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!s.credentials.exists(s.org, Provider::Resend).await.unwrap());
}

const API_KEY: &str = "SK0123456789abcdef0123456789abcdef";
const APP: &str = "AP0123456789abcdef0123456789abcdef";

/// Basic auth as Twilio's REST API receives it.
fn basic(user: &str, secret: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
    )
}

fn key_and_token(token: &str) -> TwilioInput {
    let mut input = twilio_input(token);
    input.api_key_sid = Some(API_KEY.into());
    input.api_key_secret = Some(SecretString::from("key-secret".to_owned()));
    input.voice_application_sid = Some(APP.into());
    input
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_key_and_the_auth_token_are_each_checked_and_both_kept() {
    let s = setup().await;
    let account = format!("/2010-04-01/Accounts/{ACCOUNT}.json");
    let active =
        json!({"sid": ACCOUNT, "friendly_name": "Clinic", "status": "active", "type": "Full"});
    for (user, secret) in [(API_KEY, "key-secret"), (ACCOUNT, "good-token")] {
        Mock::given(method("GET"))
            .and(path(account.clone()))
            .and(header("authorization", basic(user, secret).as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(active.clone()))
            .mount(&s.server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(account))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"code": 20003, "message": "Authenticate", "status": 401})),
        )
        .mount(&s.server)
        .await;
    mock_twilio_numbers(&s.server, &[NUMBER]).await;

    let err = s
        .service
        .connect_twilio(s.org, key_and_token("wrong-token"), &by())
        .await
        .unwrap_err();
    assert!(
        matches!(err, IntegrationError::Rejected { .. }),
        "a wrong auth token beside a good API key is refused: {err:?}"
    );
    assert!(s.credentials.list(s.org).await.unwrap().is_empty());

    let status = s
        .service
        .connect_twilio(s.org, key_and_token("good-token"), &by())
        .await
        .unwrap();
    assert_eq!(status.details["auth_token"], true);
    assert_eq!(status.details["api_key_sid"], API_KEY);
    assert_eq!(status.details["voice_application_sid"], APP);
    assert!(!status.details.to_string().contains("key-secret"));
    let stored = s.credentials.get::<TwilioCredentials>(s.org).await.unwrap();
    assert!(stored.auth_token.is_some());
    assert_eq!(stored.api_key.as_ref().unwrap().sid, API_KEY);
    assert_eq!(stored.voice_application_sid.as_deref(), Some(APP));
}
