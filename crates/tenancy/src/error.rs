use db::DbError;

/// Errors of the tenancy domain. Messages are safe to show to the caller; database details stay in
/// [`TenancyError::Db`], which the gateway answers opaquely.
#[derive(Debug, thiserror::Error)]
pub enum TenancyError {
    /// Input that breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// The organization slug is used by another organization.
    #[error("an organization with this slug already exists")]
    SlugTaken,
    /// The email address already belongs to a user.
    #[error("a user with this email already exists")]
    EmailTaken,
    /// Hashing a password failed (resource exhaustion; not the caller's fault).
    #[error("password hashing failed")]
    PasswordHash,
    /// A database failure.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for TenancyError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}
