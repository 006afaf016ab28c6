//! HTTP routes, one module per area. Each module's `configure` registers its handlers with the
//! OpenAPI-collecting service config, so the document always matches the routes.

pub mod health;

/// Registers every route.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    health::configure(cfg);
}
