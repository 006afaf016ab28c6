use diesel::sql_types::Text;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::FutureExt;

use crate::{DbConfig, DbError};

/// A pooled connection as the runtime role.
pub(crate) type PooledConn = Object<AsyncPgConnection>;

/// The connection pool. Cheap to clone (an `Arc` inside).
///
/// Connections are opened lazily; each new one runs the per-connection setup
/// (`application_name`, `statement_timeout`) before it is handed out. A returned connection is
/// reused without a validation query; one left broken or inside a transaction is dropped.
#[derive(Clone)]
pub struct Db {
    /// One pool per shard ([`DbConfig::pool_shards`]).
    pools: std::sync::Arc<[Pool<AsyncPgConnection>]>,
    /// Where [`Db::listen`] opens its dedicated connections (holds the password: never logged).
    url: std::sync::Arc<str>,
    application_name: std::sync::Arc<str>,
    pub(crate) signals: std::sync::Arc<crate::signal::Signals>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (size, available) = self.pools.iter().fold((0, 0), |(s, a), p| {
            let status = p.status();
            (s + status.size, a + status.available)
        });
        f.debug_struct("Db")
            .field("shards", &self.pools.len())
            .field("size", &size)
            .field("available", &available)
            .finish()
    }
}

impl Db {
    /// Builds the pool. Does not connect yet: the first query does, so a gateway can start (and
    /// report not-ready) while the database is still coming up.
    ///
    /// # Errors
    /// [`DbError::Pool`] when the pool cannot be built from `config`.
    pub fn new(config: &DbConfig) -> Result<Self, DbError> {
        let shards = config.pool_shards.max(1);
        let per_shard = config.pool_max_size.div_ceil(shards).max(1);
        let pools = (0..shards)
            .map(|_| {
                let manager = AsyncDieselConnectionManager::new_with_config(
                    config.url.clone(),
                    manager_config(config),
                );
                Pool::builder(manager)
                    .max_size(per_shard)
                    .wait_timeout(Some(config.pool_wait_timeout))
                    .create_timeout(Some(config.pool_wait_timeout))
                    .runtime(deadpool::Runtime::Tokio1)
                    .build()
                    .map_err(|e| DbError::Pool(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            pools: pools.into(),
            url: config.url.as_str().into(),
            application_name: config.application_name.as_str().into(),
            signals: std::sync::Arc::default(),
        })
    }

    /// Opens a dedicated connection (outside the pool) that `LISTEN`s on `channels`, for waking
    /// workers and fanning events out (PostgreSQL `LISTEN/NOTIFY`). Channel names are fixed
    /// identifiers from code (`[a-z_]+`), never user input.
    ///
    /// # Errors
    /// [`DbError::Connect`] when the connection cannot be opened, [`DbError::Query`] when `LISTEN`
    /// fails.
    pub async fn listen(&self, channels: &[&'static str]) -> Result<crate::Listener, DbError> {
        crate::listener::Listener::open(&self.url, &self.application_name, channels).await
    }

    /// [`Db::listen`], retried until it succeeds: waits 100 ms after the first failure, doubling
    /// up to 5 s, and logs each failure under `who` (the task that listens).
    pub async fn listen_retrying(
        &self,
        channels: &[&'static str],
        who: &'static str,
    ) -> crate::Listener {
        let mut delay = std::time::Duration::from_millis(100);
        loop {
            match self.listen(channels).await {
                Ok(listener) => return listener,
                Err(e) => {
                    tracing::warn!(listener = who, error = %e, retry_in_ms = delay.as_millis() as u64, "cannot listen; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(5));
                }
            }
        }
    }

    /// A connection from this thread's shard.
    pub(crate) async fn conn(&self) -> Result<PooledConn, DbError> {
        self.pools[thread_slot() % self.pools.len()]
            .get()
            .await
            .map_err(|e| DbError::Pool(e.to_string()))
    }

    /// Round-trips `SELECT 1`: whether the database answers right now.
    ///
    /// # Errors
    /// [`DbError`] when no connection can be had or the query fails.
    pub async fn ping(&self) -> Result<(), DbError> {
        let mut conn = self.conn().await?;
        diesel::sql_query("SELECT 1").execute(&mut *conn).await?;
        Ok(())
    }
}

static NEXT_SLOT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

thread_local! {
    /// This thread's place in the round-robin order of threads using the database.
    static SLOT: usize = NEXT_SLOT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// This thread's slot (assigned on first use).
fn thread_slot() -> usize {
    SLOT.with(|slot| *slot)
}

/// How each pool makes and recycles connections: every new one gets `application_name` and
/// `statement_timeout`; a returned one is reused without a `SELECT 1` (issue 22): a connection
/// that failed is marked broken by diesel-async and dropped by the pool, and one the server
/// closed fails its next query, which the caller reports like any database error.
fn manager_config(config: &DbConfig) -> ManagerConfig<AsyncPgConnection> {
    let application_name = config.application_name.clone();
    let statement_timeout_ms = config.statement_timeout.as_millis().to_string();
    let mut manager_config = ManagerConfig::default();
    manager_config.recycling_method = RecyclingMethod::Fast;
    manager_config.custom_setup = Box::new(move |url| {
        let application_name = application_name.clone();
        let statement_timeout_ms = statement_timeout_ms.clone();
        let url = url.to_owned();
        async move {
            let mut conn = AsyncPgConnection::establish(&url).await?;
            diesel::sql_query(
                "SELECT set_config('application_name', $1, false), \
                        set_config('statement_timeout', $2, false)",
            )
            .bind::<Text, _>(application_name)
            .bind::<Text, _>(statement_timeout_ms)
            .execute(&mut conn)
            .await
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    manager_config
}
