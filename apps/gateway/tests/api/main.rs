//! The gateway over HTTP against a real PostgreSQL: one test binary (one link, one copy of the
//! dependencies on disk) with a module per area. `tests/logging.rs` and `tests/secrets.rs` stay
//! binaries of their own: each installs the process-wide log subscriber it reads.
// Tests read as scripts, step by step; the 80-line limit is for product code.
#![allow(clippy::too_many_lines)]

mod api_limits;
mod console;
mod crm;
mod cti_records;
mod hostile_input;
mod http;
mod identity;
mod integrations;
mod knowledge_base;
mod openapi_conformance;
mod org_keys;
mod process;
mod realtime;
mod round_trips;
mod softphone;
mod telephony;
mod vapi;
mod webhooks_out;
