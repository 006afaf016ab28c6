//! Liveness and readiness for orchestrators and load balancers.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// `/healthz` body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    /// Always `ok`.
    pub status: &'static str,
}

/// `/readyz` body when ready.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`.
    pub status: &'static str,
    /// `ok`: the database answered.
    pub database: &'static str,
    /// `current`: every embedded migration is applied.
    pub migrations: &'static str,
}

/// Liveness: the process serves HTTP. Touches nothing else, so a database outage does not get
/// healthy instances restarted.
#[utoipa::path(
    tag = "health",
    responses((status = 200, description = "The process is alive", body = Liveness))
)]
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Liveness { status: "ok" })
}

/// Readiness: the database answers and every embedded migration is applied. 503 `not_ready`
/// otherwise, with the reason.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, description = "Ready to serve", body = Readiness),
        (status = 503, description = "Database unreachable or migrations pending", body = ErrorBody)
    )
)]
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let pending = db::migrations::pending_versions(&state.db)
        .await
        .map_err(|e| ApiError::unavailable("database unreachable").with_cause(e))?;
    if !pending.is_empty() {
        return Err(ApiError::unavailable(format!(
            "{} migration(s) pending",
            pending.len()
        )));
    }
    Ok(HttpResponse::Ok().json(Readiness {
        status: "ready",
        database: "ok",
        migrations: "current",
    }))
}

/// Registers the health routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(healthz).service(readyz);
}
