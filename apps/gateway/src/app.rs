//! Composition of the HTTP application: routes, OpenAPI, limits, error shapes, middleware.
//! The server and the tests build the very same app through [`build`].

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpRequest, HttpResponse, web};
use tracing_actix_web::TracingLogger;
use utoipa::OpenApi as _;
use utoipa_actix_web::AppExt;

use crate::error::ApiError;
use crate::routes;
use crate::state::AppState;
use crate::telemetry;

/// Request body limits in bytes.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Largest JSON body (`web::Json` extractors).
    pub json: usize,
    /// Largest other body (`web::Bytes`, `String`, multipart is per-route).
    pub other: usize,
}

/// Title, version and shared components of the OpenAPI document; paths come from the routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Voice agent and CTI platform API",
        description = "Multi-tenant backend for AI voice agents (Vapi) and computer-telephony integration (Dialpad)."
    ),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&SecuritySchemes)
)]
struct ApiDoc;

/// The two ways to authenticate: a user's bearer JWT, an app's API key.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "app_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new(
                crate::auth::API_KEY_HEADER,
            ))),
        );
    }
}

/// The OpenAPI document of every route, as served at `/api/openapi.json` and committed as
/// `docs/openapi.json`.
#[must_use]
pub fn openapi() -> utoipa::openapi::OpenApi {
    App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::configure)
        .split_for_parts()
        .1
}

/// Builds the application around `state`.
pub fn build(
    state: AppState,
    limits: BodyLimits,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let (app, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .app_data(web::Data::new(state))
        .app_data(
            web::JsonConfig::default()
                .limit(limits.json)
                .error_handler(|e, _| json_error(e).into()),
        )
        .app_data(web::PayloadConfig::new(limits.other))
        // Knowledge-base uploads: the file field is capped by its own limit (11 MiB) and
        // refused above 10 MiB with `document_too_large`.
        .app_data(
            actix_multipart::form::MultipartFormConfig::default()
                .total_limit(12 * 1024 * 1024)
                .memory_limit(12 * 1024 * 1024),
        )
        .app_data(web::QueryConfig::default().error_handler(|e, _| query_error(&e).into()))
        .app_data(web::PathConfig::default().error_handler(|e, _| path_error(&e).into()))
        .configure(routes::configure)
        .split_for_parts();
    app.app_data(web::Data::new(api))
        .route("/api/openapi.json", web::get().to(openapi_json))
        .default_service(web::to(not_found))
        .wrap(from_fn(telemetry::request_id_header))
        .wrap(TracingLogger::<telemetry::AccessSpan>::new())
}

async fn openapi_json(api: web::Data<utoipa::openapi::OpenApi>) -> HttpResponse {
    HttpResponse::Ok().json(api.get_ref())
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {} {}", req.method(), req.path()),
    ))
}

fn json_error(e: JsonPayloadError) -> ApiError {
    match e {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            payload_too_large()
        }
        JsonPayloadError::Payload(PayloadError::Overflow) => payload_too_large(),
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected Content-Type: application/json",
        ),
        JsonPayloadError::Deserialize(e) => {
            ApiError::bad_request("invalid_json", format!("invalid JSON body: {e}"))
        }
        other => ApiError::bad_request("invalid_body", format!("could not read the body: {other}")),
    }
}

fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "request body is too large",
    )
}

fn query_error(e: &QueryPayloadError) -> ApiError {
    ApiError::bad_request("invalid_query", format!("invalid query string: {e}"))
}

fn path_error(e: &PathError) -> ApiError {
    ApiError::bad_request("invalid_path", format!("invalid path parameter: {e}"))
}
