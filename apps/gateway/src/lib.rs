//! The gateway: the one deployed service. Routing, extractors, error mapping and composition only;
//! business rules live in the domain crates (`docs/architecture.md`).

pub mod access;
pub mod app;
pub mod auth;
pub mod background;
pub mod config;
pub mod console;
pub mod edge;
pub mod error;
pub mod idempotency;
pub mod input;
pub mod rate_limit;
pub mod reply;
pub mod routes;
pub mod server;
pub mod state;
pub mod telemetry;
#[cfg(feature = "test-support")]
pub mod test_support;
