//! Log lines carry the request id, and internal causes are logged but never answered.
//! (Its own test binary: it installs the process-wide subscriber.)
#![allow(clippy::unwrap_used)]

use actix_web::test;
use gateway::app::{self, BodyLimits};
use gateway::test_support::{CapturedLogs, test_state};

#[actix_web::test]
async fn an_error_is_logged_as_json_with_the_request_id_and_answered_opaquely() {
    let captured = CapturedLogs::install("info");

    // Port 1: nothing listens; the cause (connection refused) must reach the log only.
    let db = db::Db::new(&db::DbConfig::new(
        "postgres://nobody:s3cret-pw@127.0.0.1:1/none",
        "t",
    ))
    .unwrap();
    let limits = BodyLimits {
        json: 1024,
        other: 1024,
    };
    let app = test::init_service(app::build(test_state(db), limits)).await;
    let res = test::call_service(&app, test::TestRequest::get().uri("/readyz").to_request()).await;
    let request_id = res
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let body = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    assert!(
        !body.contains("refused") && !body.contains("127.0.0.1"),
        "{body}"
    );

    // Query strings may carry credentials: the access log keeps the path only.
    let res = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/healthz?api_key=app_0123456789abcdef")
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    // The root span closes (and the access line is written) once the body has been sent.
    test::read_body(res).await;

    let logs = captured.text();
    assert!(
        !logs.contains("app_0123456789abcdef"),
        "a query-string credential reached the logs"
    );
    let access_line = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["span"]["http.route"] == "/healthz")
        .unwrap_or_else(|| panic!("no access-log line in {logs}"));
    assert_eq!(access_line["span"]["http.target"], "/healthz");
    assert_eq!(access_line["span"]["http.status_code"], 200);
    let error_line = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["level"] == "ERROR" && l["message"] == "request failed")
        .unwrap_or_else(|| panic!("no error line in {logs}"));
    assert_eq!(error_line["code"], "not_ready");
    assert!(
        error_line["cause"].as_str().unwrap().contains("database"),
        "{error_line}"
    );
    let spans = error_line["spans"].as_array().unwrap();
    assert!(
        spans.iter().any(|s| s["request_id"] == request_id.as_str()),
        "request id {request_id} not on the line: {error_line}"
    );
    assert!(!logs.contains("s3cret-pw"), "a password reached the logs");
}
