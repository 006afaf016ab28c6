/// Errors of the database layer. None of the messages contains a connection URL or password.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be taken from the pool (database down, pool exhausted past the wait
    /// timeout, or the per-connection setup failed).
    #[error("database connection unavailable: {0}")]
    Pool(String),
    /// A connection could not be established outside the pool.
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    /// A statement failed.
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    /// The pool connects as a role that can skip row-level security.
    #[error(
        "the database role {role} can bypass row-level security (superuser or BYPASSRLS); connect as the runtime role"
    )]
    UnsafeServingRole {
        /// The role's name.
        role: String,
    },
    /// Running or inspecting migrations failed.
    #[error("migrations: {0}")]
    Migration(String),
}

impl DbError {
    /// Whether the database itself is out of reach (no pooled connection, a refused or lost
    /// connection, the server shutting down or starting up), as opposed to a statement that
    /// failed on a working database. Callers answer the first with "try again" (503).
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            Self::Pool(_) | Self::Connect(_) => true,
            Self::Query(Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _))
            | Self::Query(Error::BrokenTransactionManager) => true,
            Self::Query(Error::DatabaseError(_, info)) => {
                let message = info.message();
                [
                    "terminating connection",
                    "the database system is",
                    "connection closed",
                    "server closed the connection",
                    "connection reset",
                ]
                .iter()
                .any(|m| message.contains(m))
            }
            _ => false,
        }
    }

    /// Whether this is a unique-constraint violation (SQLSTATE 23505), which callers usually turn
    /// into a 409 with their own message.
    #[must_use]
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            Self::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}
