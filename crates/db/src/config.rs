use std::fmt;
use std::time::Duration;

/// How to reach the database and size the pool.
///
/// `Debug` never prints the URL: it carries a password.
#[derive(Clone)]
pub struct DbConfig {
    /// `postgres://user:password@host:port/database`, connecting as the runtime role.
    pub url: String,
    /// Shown in `pg_stat_activity.application_name` for every pooled connection.
    pub application_name: String,
    /// Per-statement limit set on every connection (`statement_timeout`).
    pub statement_timeout: Duration,
    /// Maximum number of pooled connections (in all shards together).
    pub pool_max_size: usize,
    /// Into how many pools the connections are split, one per runtime thread that uses the
    /// database (an actix-web worker, the background runtime): a connection is then driven on
    /// the thread that uses it, with no cross-thread wake-up per round trip (issue 22). Threads
    /// are assigned to shards round-robin in the order they first use the database; 1 (the
    /// default) shares one pool between all threads.
    pub pool_shards: usize,
    /// How long a request waits for a free connection before failing.
    pub pool_wait_timeout: Duration,
}

impl DbConfig {
    /// A configuration with the defaults: 5 s statement timeout, 16 connections, 5 s wait.
    #[must_use]
    pub fn new(url: impl Into<String>, application_name: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            application_name: application_name.into(),
            statement_timeout: Duration::from_secs(5),
            pool_max_size: 16,
            pool_shards: 1,
            pool_wait_timeout: Duration::from_secs(5),
        }
    }
}

impl fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbConfig")
            .field("url", &"[redacted]")
            .field("application_name", &self.application_name)
            .field("statement_timeout", &self.statement_timeout)
            .field("pool_max_size", &self.pool_max_size)
            .field("pool_shards", &self.pool_shards)
            .field("pool_wait_timeout", &self.pool_wait_timeout)
            .finish()
    }
}
