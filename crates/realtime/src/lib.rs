//! Realtime events for WebSocket clients (SPEC §5; seed 000 "WebSocket Server", seed 002
//! "Real-time Features").
//!
//! The path of an event:
//! 1. [`outbox::publish`] writes it to `realtime_events` **inside the transaction that caused
//!    it** (an event handler, a user change): an event exists exactly when its cause committed.
//!    After the commit the transaction raises a signal ([`db::signal`]): this instance's
//!    fan-out at once, other instances through one coalesced `NOTIFY realtime_events` sent
//!    outside any writing transaction (a `NOTIFY` inside it would take PostgreSQL's global
//!    notify lock at every commit; issue 22).
//! 2. On every gateway instance, a [`FanOut`] ([`PgFanOut`]) reads on each signal every row
//!    it has not delivered (after its highest seq, plus lower seqs still missing because their
//!    transaction committed late) and hands each to the local [`Hub`]; a missed signal or a
//!    lost connection is caught up by the next read, so no committed event is skipped.
//! 3. The [`Hub`] delivers to the connections of the event's room only: an app's connections
//!    (`audience = app`), or the organization's signed-in dashboard users with a minimum role
//!    (`audience = users`); an app connection that subscribed to AI calls also gets its
//!    organization's AI-call events ([`is_ai_call_event`]). Each connection has a bounded queue; a client too slow to drain it is
//!    disconnected rather than slowing anyone else.
//!
//! 4. A client that reconnects after the last event id it saw gets what it missed first
//!    ([`replay`]), then live events, with no gap and no duplicate at the seam.
//!
//! Limits and the path beyond them: docs/architecture.md, "Realtime".

mod fanout;
mod hub;
pub mod outbox;
pub mod replay;
mod schema;

pub use fanout::{FanOut, PgFanOut, PgFanOutConfig};
pub use hub::{
    AI_CALL_EVENT_TYPES, DeliveryReport, Frame, Hub, HubStats, Member, Subscription,
    is_ai_call_event,
};
pub use outbox::{Audience, OutboxEvent, RealtimeEvent};

/// Errors of the realtime outbox.
#[derive(Debug, thiserror::Error)]
pub enum RealtimeError {
    /// A database failure.
    #[error(transparent)]
    Db(#[from] db::DbError),
}

impl From<diesel::result::Error> for RealtimeError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(db::DbError::Query(e))
    }
}

/// Rank of a dashboard role for [`Audience::Users`]: `user` 1, `manager` 2, `admin` 3; unknown
/// roles 0 (they receive nothing role-restricted). The roles are seed 002's three tiers.
#[must_use]
pub fn role_rank(role: &str) -> u8 {
    match role {
        "admin" => 3,
        "manager" => 2,
        "user" => 1,
        _ => 0,
    }
}
