//! The real actix app against a real database: health, readiness, error shapes, limits, OpenAPI.
#![allow(clippy::unwrap_used)]

use actix_web::http::StatusCode;
use actix_web::{test, web};
use db::test_support::TestDatabase;
use diesel_async::RunQueryDsl;
use gateway::app::{self, BodyLimits};
use gateway::test_support::test_state;
use serde_json::{Value, json};

const LIMITS: BodyLimits = BodyLimits {
    json: 1024,
    other: 4096,
};

async fn call(db: db::Db, req: test::TestRequest) -> (StatusCode, Option<String>, Value) {
    let app = test::init_service(
        app::build(test_state(db), LIMITS)
            // A route that takes JSON, to exercise the app-wide JSON configuration.
            .route(
                "/test/echo",
                web::post()
                    .to(|body: web::Json<Value>| async move { web::Json(body.into_inner()) }),
            ),
    )
    .await;
    let res = test::call_service(&app, req.to_request()).await;
    let status = res.status();
    let request_id = res
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = test::read_body(res).await;
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, request_id, json)
}

/// A pool that cannot connect (nothing listens on port 1).
fn unreachable_db() -> db::Db {
    db::Db::new(&db::DbConfig::new(
        "postgres://nobody:pw@127.0.0.1:1/none",
        "test",
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn healthz_answers_without_the_database() {
    let (status, request_id, body) =
        call(unreachable_db(), test::TestRequest::get().uri("/healthz")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok"}));
    let id = request_id.expect("x-request-id header");
    assert_eq!(id.len(), 36, "{id}");
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_is_ready_on_a_migrated_database() {
    let test_db = TestDatabase::new().await;
    let (status, _, body) = call(test_db.db(), test::TestRequest::get().uri("/readyz")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"status": "ready", "database": "ok", "migrations": "current"})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_reports_pending_migrations() {
    let test_db = TestDatabase::new().await;
    let mut owner = test_db.owner_conn().await;
    diesel::sql_query("DELETE FROM __diesel_schema_migrations")
        .execute(&mut owner)
        .await
        .unwrap();
    let (status, _, body) = call(test_db.db(), test::TestRequest::get().uri("/readyz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["code"], "not_ready");
    assert_eq!(body["success"], false);
    assert!(
        body["error"].as_str().unwrap().contains("pending"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_reports_an_unreachable_database_without_details() {
    let (status, _, body) = call(unreachable_db(), test::TestRequest::get().uri("/readyz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        json!({"success": false, "error": "database unreachable", "code": "not_ready"})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_routes_get_the_error_shape() {
    let (status, _, body) = call(unreachable_db(), test::TestRequest::get().uri("/nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"success": false, "error": "no route for GET /nope", "code": "not_found"})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn json_bodies_are_limited_and_validated() {
    let ok = test::TestRequest::post()
        .uri("/test/echo")
        .set_json(json!({"a": 1}));
    let (status, _, body) = call(unreachable_db(), ok).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"a": 1})));

    let big = test::TestRequest::post()
        .uri("/test/echo")
        .set_json(json!({"a": "x".repeat(2000)}));
    let (status, _, body) = call(unreachable_db(), big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["code"], "payload_too_large");

    let broken = test::TestRequest::post()
        .uri("/test/echo")
        .insert_header(("content-type", "application/json"))
        .set_payload("{not json");
    let (status, _, body) = call(unreachable_db(), broken).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "invalid_json");

    let wrong_type = test::TestRequest::post()
        .uri("/test/echo")
        .insert_header(("content-type", "text/plain"))
        .set_payload("{}");
    let (status, _, body) = call(unreachable_db(), wrong_type).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body["code"], "unsupported_media_type");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_lists_the_routes() {
    let (status, _, body) = call(
        unreachable_db(),
        test::TestRequest::get().uri("/api/openapi.json"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/healthz", "/readyz"] {
        assert!(body["paths"][path]["get"].is_object(), "{path} missing");
    }
    assert_eq!(body, serde_json::to_value(app::openapi()).unwrap());
}
