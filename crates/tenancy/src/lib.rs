//! Organizations (the tenants), their users and roles (SPEC §1, "Tenancy model";
//! seed 002 "Users").
//!
//! - [`organizations`]: sign-up and provisioning of an organization with its first admin;
//! - [`sessions`]: sign-in, JWTs backed by database sessions, sign-out, revocation;
//! - [`users`]: user management under the admin / manager / user role matrix;
//! - [`apps`] and [`api_keys`]: API clients of an organization and their keys (seed 000);
//! - [`org_keys`] and [`scopes`]: organization API keys for the whole REST API, with scopes;
//! - [`audit`]: the organization's append-only audit trail; [`idempotency`]: `Idempotency-Key`;
//! - [`password`]: argon2id hashing and strength rules; [`demo`]: the demo data.
//!
//! The gateway's extractors call [`sessions::authenticate`] and [`api_keys::authenticate`] and
//! then open every tenant transaction from the principal they return.

pub mod api_keys;
pub mod apps;
pub mod audit;
mod auth_sql;
pub mod caller;
pub mod demo;
mod error;
pub mod idempotency;
pub mod org_keys;
pub mod organizations;
pub mod password;
mod schema;
pub mod scopes;
mod secrets;
pub mod sessions;
mod throttle;
pub mod users;

pub use error::TenancyError;

/// Checks a display name (organization, person, app): trimmed, 1–200 characters. The error
/// names `what`, for example "app name must be 1-200 characters".
pub(crate) fn validate_display_name(what: &str, name: &str) -> Result<String, TenancyError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(TenancyError::Invalid(format!(
            "{what} must be 1-200 characters"
        )));
    }
    Ok(name.to_owned())
}
