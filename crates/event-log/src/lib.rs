//! The webhook event log (SPEC §5; seed 000 "Complete Event Flow", with its 5-second polling
//! replaced by `LISTEN/NOTIFY`).
//!
//! 1. [`ingest::dialpad`] verifies a Dialpad delivery for its app ([`dialpad::decode_body`]),
//!    stores it in the append-only `webhook_events` table under an idempotency key (a Dialpad
//!    retry of the same event is recognized and stored once) together with one `dialpad.event`
//!    job, wakes the job workers after the commit, and only then lets the gateway answer 200.
//! 2. The platform's job runner (`jobs`) claims the job; [`processor::apply`] commits the
//!    event's effects (the call upsert, the voicemail, the realtime event), its `done` mark and
//!    the job's completion in **one** tenant transaction, so an event is processed exactly once
//!    in effect: a worker that dies mid-batch commits nothing, its lease expires and another
//!    worker takes the job again. One call's events apply in arrival order (the job's order
//!    key). Failures retry per [`processor::RETRY`]; an unusable payload is marked `dead`.
//! 3. [`handlers`] turn Dialpad states into our events (`call.ring`, `call.started`,
//!    `call.ended`, `call.recording.completed`, `voicemail.received`), keep each call's status
//!    monotonic whatever the arrival order, and publish seed-000 payloads to the app's
//!    WebSocket room.

pub mod calls;
pub mod dialpad;
mod handlers;
pub mod ingest;
pub mod processor;
mod schema;
pub mod secrets;

/// Errors of the event log.
#[derive(Debug, thiserror::Error)]
pub enum EventLogError {
    /// Input breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// No such thing for this organization (the name says what).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The app exists but is deactivated: its webhooks are refused.
    #[error("the app is inactive")]
    AppInactive,
    /// The body was refused (signature, format, missing fields).
    #[error(transparent)]
    Payload(#[from] dialpad::PayloadError),
    /// Sealing or opening a secret failed (wrong key, tampered row). Never carries the secret.
    #[error("webhook secret: {0}")]
    Crypto(String),
    /// A handler's voicemail was refused.
    #[error(transparent)]
    Voicemail(#[from] voicemail::VoicemailError),
    /// Another worker took over the event (this worker's lease expired); nothing was committed.
    #[error("the event's lease was lost")]
    LeaseLost,
    /// A database failure.
    #[error(transparent)]
    Db(#[from] db::DbError),
}

impl From<diesel::result::Error> for EventLogError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(db::DbError::Query(e))
    }
}

impl EventLogError {
    /// Whether retrying cannot help (the event itself is unusable): such events go straight to
    /// `dead`.
    #[must_use]
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Self::Invalid(_)
                | Self::Payload(_)
                | Self::Voicemail(voicemail::VoicemailError::Invalid(_))
        )
    }
}
