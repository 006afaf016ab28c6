//! Users of an organization and their roles (seed 002 "Users": admin, manager, user).

use chrono::{DateTime, Utc};
use db::OrgId;
use db::schema::users;
use diesel::{Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::TenancyError;

/// A user's role within their organization, highest first. Stored as its lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Plain user: reads and edits only themself.
    User,
    /// Manages users with role `user`.
    Manager,
    /// Manages everyone in the organization.
    Admin,
}

impl Role {
    /// The stored and serialised name: `admin`, `manager` or `user`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Manager => "manager",
            Self::User => "user",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = TenancyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Self::Admin),
            "manager" => Ok(Self::Manager),
            "user" => Ok(Self::User),
            other => Err(TenancyError::Invalid(format!(
                "unknown role {other:?}: expected admin, manager or user"
            ))),
        }
    }
}

/// A user row. `password_hash` is deliberately absent: it is read only where a password is checked.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct UserRow {
    /// User id.
    pub id: Uuid,
    /// The user's organization.
    pub org_id: Uuid,
    /// Lower-case email address; signs in to exactly one organization.
    pub email: String,
    /// Display name.
    pub name: String,
    /// `admin`, `manager` or `user` (see [`Role`]).
    pub role: String,
    /// Deactivated users cannot sign in.
    pub is_active: bool,
    /// Creation time (UTC).
    pub created_at: DateTime<Utc>,
    /// Last change (UTC).
    pub updated_at: DateTime<Utc>,
}

impl UserRow {
    /// The organization as a tenant key.
    #[must_use]
    pub fn org(&self) -> OrgId {
        OrgId(self.org_id)
    }
}

/// Normalises and checks an email address: trimmed, lower-cased, one `@` with text on both sides,
/// at most 254 characters (RFC 5321 path limit).
///
/// # Errors
/// [`TenancyError::Invalid`] naming the problem.
pub fn normalize_email(raw: &str) -> Result<String, TenancyError> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        })
        && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(email)
    } else {
        Err(TenancyError::Invalid("email address is not valid".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_order_by_power_and_round_trip() {
        assert!(Role::Admin > Role::Manager && Role::Manager > Role::User);
        for role in [Role::Admin, Role::Manager, Role::User] {
            assert_eq!(role.as_str().parse::<Role>().ok(), Some(role));
        }
        assert!("owner".parse::<Role>().is_err());
    }

    #[test]
    fn emails_are_normalised_or_refused() {
        assert_eq!(
            normalize_email("  Ann@Clinic.Example ").ok().as_deref(),
            Some("ann@clinic.example")
        );
        for bad in [
            "",
            "ann",
            "@clinic.example",
            "ann@",
            "ann@localhost",
            "a b@c.d",
            "a@b@c.d",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
