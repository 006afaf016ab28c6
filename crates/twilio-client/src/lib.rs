//! A typed client for an organization's own Twilio account (`../shared/contracts/telephony.md`
//! part B), reusable from scripts.
//!
//! - [`signature`]: `X-Twilio-Signature` validation exactly as the official helper libraries do
//!   it (B.1).
//! - [`access_token`]: Voice access tokens for the browser softphone (B.3).

pub mod access_token;
pub mod signature;
