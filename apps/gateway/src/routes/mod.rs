//! HTTP routes, one module per area. Each module's `configure` registers its handlers with the
//! OpenAPI-collecting service config, so the document always matches the routes.

pub mod apps;
pub mod auth;
pub mod cti;
pub mod health;
pub mod integrations;
pub mod internal;
pub mod telephony;
pub mod users;

use chrono::{DateTime, SecondsFormat, Utc};

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
}

/// Timestamps as the seeds' clients receive them: RFC 3339 in UTC with milliseconds,
/// `2026-01-28T10:30:00.000Z` (JavaScript's `toISOString`).
#[must_use]
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
