//! Composition of the HTTP application: routes, OpenAPI, limits, error shapes, middleware.
//! The server and the tests build the very same app through [`build`].

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers, from_fn};
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
    components(schemas(crate::error::ErrorBody, crate::routes::webhook_endpoints::WebhookMessageBody)),
    modifiers(&SecuritySchemes)
)]
struct ApiDoc;

/// The ways to authenticate: a user's bearer JWT, an organization API key, an app's API key.
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
            "org_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("sk_ + 64 hex (organization API key)")
                    .description(Some(
                        "An organization API key. Each operation lists the one scope it needs; \
                         `<area>:write` includes `<area>:read` (docs/integrating.md).",
                    ))
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
    let mut doc = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::configure)
        .split_for_parts()
        .1;
    complete_document(&mut doc);
    doc
}

/// What the routes do not say themselves: each operation's key scope and the `webhooks`
/// section (every outbound event type).
fn complete_document(doc: &mut utoipa::openapi::OpenApi) {
    document_key_scopes(doc);
    doc.webhooks = Some(routes::webhook_endpoints::openapi_webhooks());
}

/// Adds to every operation a user may call (`bearer`) what an organization API key needs for it
/// ([`crate::access::required_scope`]): an `org_key` security requirement with the scope, or a
/// note that keys are refused.
fn document_key_scopes(doc: &mut utoipa::openapi::OpenApi) {
    use actix_web::http::Method;
    use utoipa::openapi::security::SecurityRequirement;
    for (path, item) in &mut doc.paths.paths {
        let operations = [
            (Method::GET, &mut item.get),
            (Method::POST, &mut item.post),
            (Method::PUT, &mut item.put),
            (Method::PATCH, &mut item.patch),
            (Method::DELETE, &mut item.delete),
        ];
        for (method, operation) in operations {
            let Some(op) = operation.as_mut().filter(|op| requires_user(op)) else {
                continue;
            };
            let note = match crate::access::required_scope(&method, path) {
                Some(scope) => {
                    let requirement = SecurityRequirement::new("org_key", [scope.to_string()]);
                    op.security.get_or_insert_with(Vec::new).push(requirement);
                    if scope.access == tenancy::scopes::Access::Write {
                        op.parameters
                            .get_or_insert_with(Vec::new)
                            .push(utoipa::openapi::RefOr::T(idempotency_key_parameter()));
                    }
                    format!("Organization API keys need the `{scope}` scope.")
                }
                None => "Signed-in users only: API keys are refused (403 `user_only`).".into(),
            };
            op.description = Some(match op.description.take() {
                Some(text) => format!("{text}\n\n{note}"),
                None => note,
            });
        }
    }
}

/// The optional `Idempotency-Key` header of write operations made with an organization key.
fn idempotency_key_parameter() -> utoipa::openapi::path::Parameter {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::{ObjectBuilder, Required, Type};
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "With an organization API key: 1-255 visible ASCII characters. The first answer is \
             kept for 24 h and given again (`Idempotent-Replayed: true`) for the same request; \
             409 `idempotency_key_reused` for a different one, 409 `idempotency_in_progress` \
             while the first runs. Ignored for users.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255)),
        ))
        .build()
}

/// Whether an operation accepts a user's bearer JWT.
fn requires_user(op: &utoipa::openapi::path::Operation) -> bool {
    op.security.iter().flatten().any(|requirement| {
        serde_json::to_value(requirement).is_ok_and(|v| v.get("bearer").is_some())
    })
}

/// Component schemas that two route areas define differently under one name. OpenAPI
/// components are keyed by name, so the document would silently describe one area's type with
/// the other's; `gateway openapi` (and so `cargo xtask openapi --check`) refuses to write it.
/// Each entry: `"Name: area_a, area_b"`.
#[must_use]
pub fn schema_name_collisions() -> Vec<String> {
    let mut seen: std::collections::BTreeMap<String, (&str, serde_json::Value)> =
        std::collections::BTreeMap::new();
    let mut collisions = Vec::new();
    for (area, configure) in routes::AREAS {
        let doc = App::new()
            .into_utoipa_app()
            .configure(*configure)
            .split_for_parts()
            .1;
        let schemas = doc.components.map(|c| c.schemas).unwrap_or_default();
        for (name, schema) in schemas {
            let schema = serde_json::to_value(schema).unwrap_or_default();
            match seen.get(&name) {
                Some((first, known)) if *known != schema => {
                    collisions.push(format!("{name}: {first}, {area}"));
                }
                Some(_) => {}
                None => {
                    seen.insert(name, (area, schema));
                }
            }
        }
    }
    collisions
}

/// Operation ids used by more than one operation (`"id: GET /a, PUT /b"`). OpenAPI requires
/// them unique, and generated clients (the console's types) key operations by them, so a
/// duplicate silently gives one route the other's types; `gateway openapi` refuses to write it.
#[must_use]
pub fn duplicate_operation_ids() -> Vec<String> {
    let mut seen: std::collections::BTreeMap<String, Vec<String>> =
        std::collections::BTreeMap::new();
    let doc = serde_json::to_value(openapi()).unwrap_or_default();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            if let Some(id) = operation["operationId"].as_str() {
                let route = format!("{} {path}", method.to_uppercase());
                seen.entry(id.to_owned()).or_default().push(route);
            }
        }
    }
    seen.into_iter()
        .filter(|(_, routes)| routes.len() > 1)
        .map(|(id, routes)| format!("{id}: {}", routes.join(", ")))
        .collect()
}

/// Descriptions in the OpenAPI document that carry a rustdoc link (`` [`Type`] ``): doc comments
/// become descriptions, and a link that means something in rustdoc is noise to an integrator.
/// Returned as their JSON pointers.
#[must_use]
pub fn rustdoc_links_in_descriptions() -> Vec<String> {
    fn walk(value: &serde_json::Value, at: &str, found: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, child) in map {
                    let here = format!("{at}/{key}");
                    match child.as_str() {
                        Some(text) if key == "description" && text.contains("[`") => {
                            found.push(here);
                        }
                        _ => walk(child, &here, found),
                    }
                }
            }
            serde_json::Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(child, &format!("{at}/{i}"), found);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(
        &serde_json::to_value(openapi()).unwrap_or_default(),
        "",
        &mut found,
    );
    found
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
    let cors_origins = state.cors_origins.clone();
    let (app, mut api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .app_data(web::Data::new(state))
        .app_data(
            web::JsonConfig::default()
                .limit(limits.json)
                .error_handler(|e, _| json_error(e).into()),
        )
        .app_data(web::PayloadConfig::new(limits.other))
        .app_data(web::QueryConfig::default().error_handler(|e, _| query_error(&e).into()))
        .app_data(web::PathConfig::default().error_handler(|e, _| path_error(&e).into()))
        .configure(routes::configure)
        .split_for_parts();
    complete_document(&mut api);
    app.app_data(web::Data::new(api))
        .route("/api/openapi.json", web::get().to(openapi_json))
        .default_service(web::to(not_found))
        .wrap(from_fn(crate::idempotency::replay))
        .wrap(from_fn(crate::auth::authenticate))
        .wrap(ErrorHandlers::new().default_handler(error_shape))
        .wrap(from_fn(crate::input::refuse_nul_in_url))
        .wrap(from_fn(crate::edge::limit_clients))
        .wrap(actix_web::middleware::Condition::new(
            !cors_origins.is_empty(),
            cors(&cors_origins),
        ))
        .wrap(from_fn(telemetry::request_id_header))
        .wrap(TracingLogger::<telemetry::AccessSpan>::new())
}

/// CORS for the operator's `origins` (`CORS_ALLOWED_ORIGINS`): their pages may call the API with
/// a bearer token (no cookies are used, so no credentials mode), and read the headers a client
/// needs. A request from any other origin passes without CORS headers (the browser then keeps
/// the answer from the page), so the same-origin console is unaffected.
fn cors(origins: &[String]) -> actix_cors::Cors {
    use actix_web::http::header;
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::HeaderName::from_static("idempotency-key"),
            header::HeaderName::from_static(crate::auth::API_KEY_HEADER),
        ])
        .expose_headers([
            header::RETRY_AFTER,
            header::HeaderName::from_static("idempotent-replayed"),
            header::HeaderName::from_static("x-request-id"),
        ])
        .block_on_origin_mismatch(false)
        .max_age(3600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

async fn openapi_json(api: web::Data<utoipa::openapi::OpenApi>) -> HttpResponse {
    HttpResponse::Ok().json(api.get_ref())
}

/// Anything no route matched: the operator console when the path is the console's
/// ([`crate::console::serve`]), else the API's JSON 404.
async fn not_found(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if let Some(page) = crate::console::serve(&state.console, &req).await {
        return Ok(page);
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {} {}", req.method(), req.path()),
    ))
}

/// Gives every error response that is not already ours (a framework extractor's plain-text
/// 413 or 400, a 405, a WebSocket handshake refusal) the one error shape
/// `{success: false, error, code}`, with a code from its status.
///
/// # Errors
/// Never; the signature is `ErrorHandlers`'.
fn error_shape<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (code, message) = match status.as_u16() {
        401 => ("unauthenticated", "authentication is required"),
        403 => ("forbidden", "this is not allowed"),
        404 => ("not_found", "not found"),
        405 => ("method_not_allowed", "this method is not allowed here"),
        408 => ("request_timeout", "the request was not received in time"),
        413 => ("payload_too_large", "request body is too large"),
        415 => (
            "unsupported_media_type",
            "this content type is not accepted here",
        ),
        429 => ("too_many_requests", "too many requests; slow down"),
        503 => (
            "unavailable",
            "the service is unavailable; try again shortly",
        ),
        400..=499 => ("invalid_request", "the request could not be read"),
        _ => ("internal_error", "Internal server error"),
    };
    let (req, _) = res.into_parts();
    let response = actix_web::ResponseError::error_response(&ApiError::new(status, code, message));
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, response).map_into_right_body(),
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

#[cfg(test)]
mod tests {
    #[test]
    fn no_two_areas_define_a_schema_name_differently() {
        assert_eq!(super::schema_name_collisions(), Vec::<String>::new());
    }

    #[test]
    fn operation_ids_are_unique() {
        assert_eq!(super::duplicate_operation_ids(), Vec::<String>::new());
    }

    #[test]
    fn descriptions_carry_no_rustdoc_links() {
        assert_eq!(super::rustdoc_links_in_descriptions(), Vec::<String>::new());
    }
}
