//! The clinic's CRM (SPEC §4; seed 001 §16 Phases 2-4, "DASHBOARD API FIXES"):
//!
//! - [`contacts`]: leads with E.164 phones unique per organization, the pipeline
//!   `new → contacted → booked | lost`, temperature `hot | warm | cold`, lead score, stats;
//! - [`services`]: the services pricing engine (prices in minor units, keywords, the seven
//!   default services every organization starts with) and keyword matching of transcripts;
//! - [`money`]: amounts in minor units of an ISO 4217 currency, entered and shown in major units;
//! - [`call_logs`]: the calls the voice agent handled, the dashboard list, detail and aggregates.
//!
//! Every function takes the organization from an authenticated principal and runs in its tenant
//! transaction; queries also filter by `org_id`.

pub mod call_logs;
pub mod contacts;
pub mod money;
mod schema;
pub mod services;

use db::DbError;

/// Errors of the CRM operations.
#[derive(Debug, thiserror::Error)]
pub enum CrmError {
    /// Input breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// No such record in this organization.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Another contact of the organization has this phone number.
    #[error("a contact with this phone number already exists")]
    PhoneTaken,
    /// Another service of the organization has this name.
    #[error("a service with this name already exists")]
    NameTaken,
    /// A pipeline move the rules refuse (a lead never goes back to `new`, and `contacted` never
    /// follows `booked` or `lost`).
    #[error("a lead cannot move from {from} to {to}")]
    InvalidTransition {
        /// Current status.
        from: String,
        /// Requested status.
        to: String,
    },
    /// A database failure.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for CrmError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}

/// Maps a unique violation of `constraint` to `error`, anything else to a database error.
fn unique_as(e: diesel::result::Error, constraint: &str, error: CrmError) -> CrmError {
    match &e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            info,
        ) if info.constraint_name() == Some(constraint) => error,
        _ => e.into(),
    }
}

pub use db::Page;

/// Normalises a typed phone number to E.164 (default country `default_country_code`, digits).
///
/// # Errors
/// [`CrmError::Invalid`] with the precise reason.
pub fn normalize_phone(raw: &str, default_country_code: &str) -> Result<String, CrmError> {
    telephony_gsm::E164::normalize(raw, Some(default_country_code))
        .map(|e| e.as_str().to_owned())
        .map_err(|e| CrmError::Invalid(format!("phone number: {e}")))
}

/// An `ILIKE` pattern matching `search` anywhere, with `%`, `_` and `\\` in it taken literally.
#[must_use]
pub fn contains_pattern(search: &str) -> String {
    format!("%{}%", exact_pattern(search))
}

/// An `ILIKE` pattern matching exactly `value`, case-insensitively (its `\`, `%`, `_` escaped).
#[must_use]
pub fn exact_pattern(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The default country code for numbers typed without one: `1` (NANP), the seeds' market.
pub const DEFAULT_COUNTRY_CODE: &str = "1";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_wildcards_are_taken_literally() {
        assert_eq!(contains_pattern("roe"), "%roe%");
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
