//! Outbound webhooks following the Standard Webhooks specification (standardwebhooks.com;
//! docs/integrating.md, "Webhooks"; issue 23 §2).
//!
//! The path of an event:
//! 1. A change that causes an event calls [`emit`] **inside its own tenant transaction**: when
//!    an enabled endpoint of the organization subscribes to the event type, the message
//!    (`webhook_messages`), one delivery per such endpoint (`webhook_deliveries`) and each
//!    delivery's job are written there, so an event exists exactly when its cause committed.
//! 2. The job runner ([`jobs`]) runs [`DELIVER_JOB`]: the [`Deliverer`] signs the body with the
//!    endpoint's secret(s) ([`signature`]), posts it (15 s timeout, no redirects, no proxy,
//!    addresses checked by the [`ssrf`] guard after DNS resolution) and records the attempt, the
//!    delivery's new state and the next attempt's job in one transaction with the job's
//!    completion. A crash between the request and the record sends again: delivery is at least
//!    once, and receivers deduplicate by `webhook-id`.
//! 3. A failed attempt is retried on the configured schedule (by default 5 s, 5 min, 30 min,
//!    2 h, 5 h, 10 h, 10 h after the first, immediate, attempt), then the delivery is `failed`. An
//!    endpoint whose attempts have failed for 5 days is disabled, and its organization's admins
//!    are told (a realtime event and an audit entry).
//!
//! Endpoints ([`endpoints`]), the delivery log ([`log`]), resend and replay are managed by an
//! organization's admins or its API keys with the `webhooks` scope; changes to endpoints are
//! audited (`audit_events`).

pub mod catalog;
mod deliver;
pub mod emit;
pub mod endpoints;
pub mod log;
pub mod rotation;
mod schema;
pub mod signature;
pub mod ssrf;

pub use deliver::{DELIVER_JOB, Deliverer, DeliveryConfig, RetrySchedule};
pub use emit::{Emitter, Subscriptions, emit, emit_once, emit_to};

/// Errors of the webhooks crate.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No endpoint or message with that id in the organization.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Bad input: the message says what (URL, event type, description, time).
    #[error("{0}")]
    Invalid(String),
    /// The URL's host is a loopback, private, link-local or metadata address and not on the
    /// operator's allow-list.
    #[error("the endpoint URL points at an address that is not allowed ({0})")]
    ForbiddenAddress(String),
    /// The endpoint is disabled (enable it first).
    #[error("the endpoint is disabled")]
    Disabled,
    /// Sealing or opening a secret failed.
    #[error(transparent)]
    Secret(#[from] credentials::CredentialError),
    /// Recording the audit entry failed.
    #[error(transparent)]
    Audit(#[from] tenancy::TenancyError),
    /// A database failure.
    #[error(transparent)]
    Db(#[from] db::DbError),
}

impl From<diesel::result::Error> for WebhookError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(db::DbError::Query(e))
    }
}
