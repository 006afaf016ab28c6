//! HTTP routes, one module per area. Each module's `configure` registers its handlers with the
//! OpenAPI-collecting service config, so the document always matches the routes.

pub mod apps;
pub mod auth;
pub mod cti;
pub mod health;
pub mod integrations;
pub mod internal;
pub mod softphone;
pub mod telephony;
pub mod users;
pub mod webhooks;
pub mod ws;

pub use realtime::iso;

/// Registers every route.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    health::configure(cfg);
    auth::configure(cfg);
    users::configure(cfg);
    apps::configure(cfg);
    internal::configure(cfg);
    cti::configure(cfg);
    integrations::configure(cfg);
    telephony::configure(cfg);
    softphone::configure(cfg);
    webhooks::configure(cfg);
    ws::configure(cfg);
}

/// `limit` (1–500, default `default`) and `offset` (≥ 0, default 0) of a paged list.
///
/// # Errors
/// 400 `invalid_query` outside those bounds.
pub fn page(
    limit: Option<i64>,
    offset: Option<i64>,
    default: i64,
) -> Result<(i64, i64), crate::error::ApiError> {
    let (limit, offset) = (limit.unwrap_or(default), offset.unwrap_or(0));
    if !(1..=500).contains(&limit) || offset < 0 {
        return Err(crate::error::ApiError::bad_request(
            "invalid_query",
            "limit must be 1-500 and offset at least 0",
        ));
    }
    Ok((limit, offset))
}
