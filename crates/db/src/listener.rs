//! A dedicated connection that receives PostgreSQL `NOTIFY`s (`LISTEN`), for waking job workers
//! at once and fanning realtime events out to every gateway instance.
//!
//! A notification sent while no connection listens is lost: users of this type keep the durable
//! state in tables (the webhook event log, the realtime outbox) and use notifications only as a
//! wake-up, catching up from the tables after [`Listener::wait`] reports a lost connection.

use std::time::Duration;

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::{FutureExt, StreamExt};

use crate::DbError;

/// One notification: its channel and payload (at most 8000 bytes, PostgreSQL's limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The channel it was sent on.
    pub channel: String,
    /// The payload, `""` when none was given.
    pub payload: String,
}

/// A connection listening on a fixed set of channels. Not pooled; dropping it closes it.
pub struct Listener {
    conn: AsyncPgConnection,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener").finish_non_exhaustive()
    }
}

impl Listener {
    pub(crate) async fn open(
        url: &str,
        application_name: &str,
        channels: &[&'static str],
    ) -> Result<Self, DbError> {
        let mut conn = AsyncPgConnection::establish(url).await?;
        diesel::sql_query("SELECT set_config('application_name', $1, false)")
            .bind::<Text, _>(format!("{application_name}-listener"))
            .execute(&mut conn)
            .await?;
        for channel in channels {
            debug_assert!(channel.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            diesel::sql_query(format!("LISTEN {channel}"))
                .execute(&mut conn)
                .await?;
        }
        Ok(Self { conn })
    }

    /// Waits up to `timeout` for notifications and returns every one already received (possibly
    /// none). When nothing arrived in time it checks the connection with `SELECT 1`, so a dead
    /// connection is reported within about one `timeout`.
    ///
    /// # Errors
    /// [`DbError`] when the connection is lost; open a new listener and catch up from the
    /// tables.
    pub async fn wait(&mut self, timeout: Duration) -> Result<Vec<Notification>, DbError> {
        let mut received = Vec::new();
        {
            let mut stream = std::pin::pin!(self.conn.notifications_stream());
            if let Ok(Some(first)) = tokio::time::timeout(timeout, stream.next()).await {
                received.push(first?);
                // Drain what is already buffered without waiting again.
                while let Some(Some(next)) = stream.next().now_or_never() {
                    received.push(next?);
                }
            }
        }
        if received.is_empty() {
            diesel::sql_query("SELECT 1")
                .execute(&mut self.conn)
                .await?;
        }
        Ok(received
            .into_iter()
            .map(|n| Notification {
                channel: n.channel,
                payload: n.payload,
            })
            .collect())
    }
}
