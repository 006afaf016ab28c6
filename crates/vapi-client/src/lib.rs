//! Vapi's wire contract, as the project's Vapi contract records it, independent of any web
//! framework:
//!
//! - [`messages`]: server messages parsed leniently (every documented variant of tool calls,
//!   arguments, timestamps, durations and legacy fields);
//! - [`responses`]: the bodies Vapi expects back (tool results, assistant-request,
//!   transfer-destination-request, legacy function-call);
//! - [`auth`]: authenticating Vapi's requests (shared secret, bearer, HMAC with rotation and a
//!   replay window).
//! - [`rest`]: the REST API with the platform's private key (tools, assistants with
//!   fetch-merge-patch, credentials, phone numbers, calls), retrying idempotent calls only.

pub mod analysis;
pub mod auth;
pub mod messages;
pub mod responses;
pub mod rest;

pub use analysis::analysis_plan;
pub use auth::{AuthError, HmacPlan, Scheme};
pub use messages::{
    CallInfo, EndOfCallReport, MessageKind, ServerMessage, ToolCall, parse, parse_value,
};
pub use responses::{Destination, ToolResult};
pub use rest::{VapiClient, VapiError};
