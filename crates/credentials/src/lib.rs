//! The credentials vault (SPEC §2; seed 004; seed 001 §5.7 "Fortress Protocol").
//!
//! Organizations bring their own provider credentials (BYOC). They are sealed with AES-256-GCM
//! ([`cipher`]) bound to `(org_id, provider)`, stored in `org_credentials` (one active row per
//! organization and provider, replaced rows kept as history), and read only through
//! [`CredentialService`], which caches decrypted values (5 minutes, 1000 entries), audits every
//! write, and answers errors a user can act on. [`rotation`] re-seals everything under a new key.
//! Vapi is not here: the platform holds the only Vapi key.

pub mod cipher;
mod error;
pub mod provider;
pub mod rotation;
mod schema;
mod service;

pub use cipher::Keyring;
pub use error::CredentialError;
pub use provider::{
    Credential, ElevenLabsCredentials, GoogleCalendarCredentials, OutlookCredentials, Provider,
    ProviderCredential, ResendCredentials, TwilioApiKey, TwilioAuth, TwilioCredentials,
};
pub use service::{
    CACHE_CAPACITY, CACHE_TTL, Cred, CredentialRecord, CredentialService, associated_data,
};
