use db::DbError;

use crate::Provider;

/// Errors of the credentials vault. Messages never contain secret material.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The organization has no active credential for the provider; the user can fix this.
    #[error("{} is not connected — connect it under Integrations", .0.display_name())]
    NotConnected(Provider),
    /// A credential is stored but cannot be decrypted (missing or wrong key, moved or tampered
    /// ciphertext): an operator problem, logged as an error where it happens.
    #[error("the stored {} credentials cannot be read; an operator has been alerted", .0.display_name())]
    Undecryptable(Provider),
    /// Input that breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// The keyring configuration is unusable (names the problem, never a key).
    #[error("credential keys: {0}")]
    Config(String),
    /// A sealed value names a key id that is not configured.
    #[error("no credential key {0:?} is configured")]
    UnknownKey(String),
    /// Sealing, opening or the CSPRNG failed.
    #[error("cryptographic operation failed: {0}")]
    Crypto(&'static str),
    /// A database failure.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A database failure shared by several callers waiting on one cache load.
    #[error("database: {0}")]
    SharedDb(String),
}

impl From<diesel::result::Error> for CredentialError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}

impl CredentialError {
    /// A copy for each caller of a coalesced cache load (the cache shares one error).
    #[must_use]
    pub(crate) fn clone_for_caller(&self) -> Self {
        match self {
            Self::NotConnected(p) => Self::NotConnected(*p),
            Self::Undecryptable(p) => Self::Undecryptable(*p),
            Self::Invalid(m) => Self::Invalid(m.clone()),
            Self::Config(m) => Self::Config(m.clone()),
            Self::UnknownKey(k) => Self::UnknownKey(k.clone()),
            Self::Crypto(m) => Self::Crypto(m),
            Self::Db(e) => Self::SharedDb(e.to_string()),
            Self::SharedDb(m) => Self::SharedDb(m.clone()),
        }
    }
}
