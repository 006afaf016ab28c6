//! A typed client for an organization's own Twilio account (the telephony contract
//! part B), reusable from scripts.
//!
//! - [`signature`]: `X-Twilio-Signature` validation exactly as the official helper libraries do
//!   it (B.1).
//! - [`access_token`]: Voice access tokens for the browser softphone (B.3).
//! - [`rest`]: the REST calls the platform makes for an organization (B.2): credential check,
//!   SMS, caller-ID validation, verified caller IDs, owned numbers.

pub mod access_token;
pub mod rest;
pub mod signature;

pub use rest::{
    Auth, TwilioClient, TwilioError, ensure_tls_provider, is_sid, provider_http_client,
};
