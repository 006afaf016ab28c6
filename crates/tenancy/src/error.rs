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
    /// The extension is used by another user of the organization.
    #[error("this extension is already assigned to another user")]
    ExtensionTaken,
    /// Email and password do not match an active user. Deliberately the same for an unknown
    /// email, a wrong password and a deactivated user (no user enumeration).
    #[error("invalid email or password")]
    InvalidCredentials,
    /// Too many failed sign-ins for this account or address; retry after the given seconds.
    #[error("too many failed sign-in attempts; try again later")]
    TooManyAttempts {
        /// Seconds until the window resets.
        retry_after_secs: u64,
    },
    /// No valid credential: missing, malformed, expired, revoked or unknown token or API key.
    #[error("authentication required")]
    Unauthenticated,
    /// Authenticated, but the role does not allow this within the organization.
    #[error("{0}")]
    Forbidden(String),
    /// The resource does not exist in the caller's organization (another organization's
    /// resources are answered the same way).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Hashing a password failed (resource exhaustion; not the caller's fault).
    #[error("password hashing failed")]
    PasswordHash,
    /// Signing a token or generating randomness failed (not the caller's fault).
    #[error("cryptographic operation failed: {0}")]
    Crypto(&'static str),
    /// A database failure.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for TenancyError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}
