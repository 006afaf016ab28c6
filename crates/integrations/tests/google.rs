//! Google Calendar Forever-Link against a mock Google (wiremock) and a real database.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use credentials::{CredentialService, GoogleCalendarCredentials, Keyring, Provider};
use db::test_support::{TestDatabase, create_org};
use integrations::google::{GoogleOAuth, GoogleOAuthConfig};
use integrations::{IntegrationError, Integrations, ProviderEndpoints};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use tenancy::audit::{Actor, ChangedBy, RequestOrigin};
use uuid::Uuid;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use zeroize::Zeroizing;

const STATE_KEY: &str = "state-signing-key-for-tests-0123456789";

struct Setup {
    _db: TestDatabase,
    integrations: Integrations,
    credentials: Arc<CredentialService>,
    org: db::OrgId,
    google: MockServer,
}

fn config(server: &MockServer) -> GoogleOAuthConfig {
    GoogleOAuthConfig {
        client_id: "client-123.apps.googleusercontent.com".into(),
        client_secret: SecretString::from("google-client-secret".to_owned()),
        redirect_uri: "https://platform.example/api/integrations/google/oauth/callback".into(),
        auth_url: format!("{}/o/oauth2/v2/auth", server.uri()),
        token_url: format!("{}/token", server.uri()),
        userinfo_url: format!("{}/v1/userinfo", server.uri()),
    }
}

async fn setup() -> Setup {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let org = create_org(&db, "Clinic").await;
    let keyring = Keyring::new([("k1".to_owned(), Zeroizing::new(vec![1u8; 32]))], "k1").unwrap();
    let credentials = Arc::new(CredentialService::new(db, Arc::new(keyring)));
    let google = MockServer::start().await;
    let oauth = GoogleOAuth::new(config(&google), SecretString::from(STATE_KEY.to_owned()));
    let integrations =
        Integrations::new(credentials.clone(), ProviderEndpoints::default()).with_google(oauth);
    Setup {
        _db: test_db,
        integrations,
        credentials,
        org,
        google,
    }
}

fn state_from(url: &str) -> String {
    let parsed = reqwest::Url::parse(url).unwrap();
    parsed
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned()
}

async fn mock_exchange(server: &MockServer, refresh_token: Option<&str>) {
    let mut body = json!({"access_token": "ya29.access", "expires_in": 3599, "token_type": "Bearer",
                          "scope": "https://www.googleapis.com/auth/calendar https://www.googleapis.com/auth/userinfo.email"});
    if let Some(token) = refresh_token {
        body["refresh_token"] = json!(token);
    }
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains("code=auth-code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/userinfo"))
        .and(header("authorization", "Bearer ya29.access"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"sub": "1", "email": "frontdesk@clinic.example", "email_verified": true}),
        ))
        .mount(server)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_consent_url_asks_for_offline_access_with_a_bound_state() {
    let s = setup().await;
    let user = Actor::User(Uuid::new_v4());
    let url = s.integrations.google_consent_url(s.org, user).unwrap();
    let parsed = reqwest::Url::parse(&url).unwrap();
    let q: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["prompt"], "consent");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "client-123.apps.googleusercontent.com");
    assert!(
        q["scope"].contains("https://www.googleapis.com/auth/calendar")
            && q["scope"].contains("userinfo.email")
    );
    assert!(!url.contains("google-client-secret"));
    let oauth = GoogleOAuth::new(config(&s.google), SecretString::from(STATE_KEY.to_owned()));
    assert_eq!(oauth.check_state(&q["state"]).unwrap(), (s.org, user));
    // A consent started with an organization API key is attributed to the key.
    let key = Actor::ApiKey(Uuid::new_v4());
    let url = s.integrations.google_consent_url(s.org, key).unwrap();
    let parsed = reqwest::Url::parse(&url).unwrap();
    let q: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
    assert_eq!(oauth.check_state(&q["state"]).unwrap(), (s.org, key));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_callback_stores_the_refresh_token_and_shows_the_email() {
    let s = setup().await;
    mock_exchange(&s.google, Some("1//refresh-token")).await;
    let state = state_from(
        &s.integrations
            .google_consent_url(s.org, Actor::User(Uuid::new_v4()))
            .unwrap(),
    );
    let status = s
        .integrations
        .google_complete(&state, "auth-code", RequestOrigin::default())
        .await
        .unwrap();
    assert_eq!(status.status, "connected");
    assert_eq!(status.details["email"], "frontdesk@clinic.example");
    let stored = s
        .credentials
        .get::<GoogleCalendarCredentials>(s.org)
        .await
        .unwrap();
    assert_eq!(stored.refresh_token.expose_secret(), "1//refresh-token");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_refresh_token_means_nothing_is_stored() {
    let s = setup().await;
    mock_exchange(&s.google, None).await;
    let state = state_from(
        &s.integrations
            .google_consent_url(s.org, Actor::User(Uuid::new_v4()))
            .unwrap(),
    );
    let err = s
        .integrations
        .google_complete(&state, "auth-code", RequestOrigin::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no refresh token"), "{err}");
    assert!(
        !s.credentials
            .exists(s.org, Provider::GoogleCalendar)
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_tampered_or_expired_states_are_refused() {
    let s = setup().await;
    mock_exchange(&s.google, Some("1//refresh-token")).await;
    let good = state_from(
        &s.integrations
            .google_consent_url(s.org, Actor::User(Uuid::new_v4()))
            .unwrap(),
    );
    let mut tampered = good.clone();
    tampered.pop();
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"purpose": "google_calendar_oauth", "org": s.org.0, "user": Uuid::new_v4(), "nonce": Uuid::new_v4(),
                "exp": chrono::Utc::now().timestamp() - 5}),
        &jsonwebtoken::EncodingKey::from_secret(STATE_KEY.as_bytes()),
    )
    .unwrap();
    let other_purpose = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"purpose": "something_else", "org": s.org.0, "user": Uuid::new_v4(), "nonce": Uuid::new_v4(),
                "exp": chrono::Utc::now().timestamp() + 60}),
        &jsonwebtoken::EncodingKey::from_secret(STATE_KEY.as_bytes()),
    )
    .unwrap();
    for state in [tampered, expired, other_purpose, "not-a-jwt".into()] {
        assert!(matches!(
            s.integrations
                .google_complete(&state, "auth-code", RequestOrigin::default())
                .await,
            Err(IntegrationError::Invalid(_))
        ));
    }
    assert!(
        !s.credentials
            .exists(s.org, Provider::GoogleCalendar)
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_refresh_token_marks_the_integration_in_error() {
    let s = setup().await;
    mock_exchange(&s.google, Some("1//refresh-token")).await;
    let state = state_from(
        &s.integrations
            .google_consent_url(s.org, Actor::User(Uuid::new_v4()))
            .unwrap(),
    );
    s.integrations
        .google_complete(&state, "auth-code", RequestOrigin::default())
        .await
        .unwrap();

    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "ya29.fresh", "expires_in": 3599})),
        )
        .up_to_n_times(1)
        .mount(&s.google)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})))
        .mount(&s.google)
        .await;

    let token = s.integrations.google_access_token(s.org).await.unwrap();
    assert_eq!(
        (token.token.expose_secret(), token.expires_in_secs),
        ("ya29.fresh", 3599)
    );

    let status = s
        .integrations
        .verify(s.org, Provider::GoogleCalendar, &ChangedBy::system())
        .await
        .unwrap();
    assert_eq!(status.status, "error");
    assert!(status.last_error.unwrap().contains("revoked"));
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_oauth_client_google_is_not_configured() {
    let s = setup().await;
    let plain = Integrations::new(s.credentials.clone(), ProviderEndpoints::default());
    assert!(matches!(
        plain.google_consent_url(s.org, Actor::User(Uuid::new_v4())),
        Err(IntegrationError::NotConfigured(Provider::GoogleCalendar))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_google_outage_stores_nothing_and_marks_nothing() {
    let s = setup().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&s.google)
        .await;
    let state = state_from(
        &s.integrations
            .google_consent_url(s.org, Actor::User(Uuid::new_v4()))
            .unwrap(),
    );
    assert!(matches!(
        s.integrations
            .google_complete(&state, "auth-code", RequestOrigin::default())
            .await,
        Err(IntegrationError::Unavailable {
            provider: Provider::GoogleCalendar,
            ..
        })
    ));
    assert!(
        !s.credentials
            .exists(s.org, Provider::GoogleCalendar)
            .await
            .unwrap()
    );
}
