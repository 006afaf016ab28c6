//! The REST client against a mock of Vapi's API: the private key as a bearer token, retries of
//! idempotent calls only, never of creates, readable errors, and fetch-merge-patch that sends
//! the whole `model` with merged `toolIds` and without Vapi's native calendar tools.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use backon::ExponentialBuilder;
use secrecy::SecretString;
use serde_json::{Value, json};
use vapi_client::rest::{VapiClient, VapiError};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn client(server: &MockServer) -> VapiClient {
    twilio_client::ensure_tls_provider();
    VapiClient::new(
        reqwest::Client::new(),
        &server.uri(),
        SecretString::from("vapi-private-key".to_owned()),
    )
    .with_backoff(
        ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(1))
            .with_max_times(2),
    )
}

#[tokio::test]
async fn reads_are_retried_creates_are_not() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/call/c1"))
        .and(header("authorization", "Bearer vapi-private-key"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/call/c1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "c1", "status": "ended"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/call"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"message": ["boom"], "statusCode": 500})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let vapi = client(&server).await;
    assert_eq!(vapi.get_call("c1").await.unwrap()["status"], "ended");
    let err = vapi
        .create_call(&json!({"assistantId": "a1"}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, VapiError::Api { status: 500, message, .. } if message == "boom"),
        "{err:?}"
    );
    assert!(err.is_retryable());
    server.verify().await;
}

#[tokio::test]
async fn linking_tools_sends_the_whole_model_with_merged_ids() {
    let server = MockServer::start().await;
    let assistant = json!({"id": "a1", "name": "Front desk",
        "model": {"provider": "openai", "model": "gpt-4o",
                  "messages": [{"role": "system", "content": "You are the clinic's receptionist."}],
                  "toolIds": ["t-old", "t-book"],
                  "tools": [{"type": "google.calendar.event.create"}, {"type": "endCall"}]}});
    Mock::given(method("GET"))
        .and(path("/assistant/a1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(assistant))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/assistant/a1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "a1"})))
        .mount(&server)
        .await;
    let vapi = client(&server).await;
    vapi.link_tools("a1", &["t-book".into(), "t-lookup".into()], &[])
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap();
    let patch = requests
        .iter()
        .find(|r| r.method.as_str() == "PATCH")
        .unwrap();
    let body: Value = serde_json::from_slice(&patch.body).unwrap();
    assert_eq!(
        body,
        json!({"model": {"provider": "openai", "model": "gpt-4o",
            "messages": [{"role": "system", "content": "You are the clinic's receptionist."}],
            "toolIds": ["t-old", "t-book", "t-lookup"],
            "tools": [{"type": "endCall"}]}})
    );
}

#[tokio::test]
async fn errors_carry_vapis_message_and_never_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/tool"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"message": ["function.name must match ^[a-zA-Z0-9_-]{1,64}$"], "error": "Bad Request", "statusCode": 400}),
        ))
        .mount(&server)
        .await;
    let vapi = client(&server).await;
    let err = vapi
        .create_tool(&json!({"type": "function"}))
        .await
        .unwrap_err();
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("function.name must match"));
    assert!(!format!("{err:?}{vapi:?}").contains("vapi-private-key"));
}
