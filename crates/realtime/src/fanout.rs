//! Cross-instance fan-out: every instance delivers every committed outbox event to its own
//! connections.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use db::Db;
use futures_util::future::BoxFuture;

use crate::hub::Hub;
use crate::outbox::{self, OutboxEvent};

/// Moves published events to this instance's [`Hub`]. [`PgFanOut`] uses PostgreSQL
/// `LISTEN/NOTIFY`; a message broker can implement this trait instead when one database's
/// notification rate is no longer enough (docs/architecture.md, "Realtime").
pub trait FanOut: Send + Sync + 'static {
    /// Runs until the returned future is dropped, delivering every published event to `hub`.
    fn run(self: Arc<Self>, hub: Arc<Hub>) -> BoxFuture<'static, ()>;
}

/// Settings of [`PgFanOut`].
#[derive(Debug, Clone, Copy)]
pub struct PgFanOutConfig {
    /// How long the listener waits before checking its connection (a lost connection is noticed
    /// within about this long); also how often the outbox is read without a signal, and the
    /// pause before retrying a failed read.
    pub health_check: Duration,
}

impl Default for PgFanOutConfig {
    fn default() -> Self {
        Self {
            health_check: Duration::from_secs(5),
        }
    }
}

/// Rows read per query.
const PAGE: i32 = 500;
/// How long a seq below the highest delivered one is looked for before it is taken as rolled
/// back (seqs are allocated at insert, so an event can commit after a higher one was read).
const MISSING_FOR: Duration = Duration::from_secs(60);
/// Missing seqs remembered at most (the oldest are given up first).
const MISSING_MAX: usize = 10_000;

/// The PostgreSQL fan-out. Publishing transactions raise [`outbox::CHANNEL`] after they commit
/// ([`db::signal`]); a listener task turns other instances' coalesced `NOTIFY realtime_events`
/// into the same local signal. On each signal (and every `health_check` without one) the
/// fan-out reads every row after the highest seq it delivered plus the seqs below it still
/// missing, in one query, and delivers them: nothing twice, and nothing lost to a missed
/// notification or a lost connection (the next read catches up).
#[derive(Debug, Clone)]
pub struct PgFanOut {
    db: Db,
    config: PgFanOutConfig,
}

impl PgFanOut {
    /// A fan-out reading through `db`.
    #[must_use]
    pub fn new(db: Db, config: PgFanOutConfig) -> Self {
        Self { db, config }
    }
}

/// What has been delivered: the highest seq, and the seqs below it not seen yet.
struct Cursor {
    hub: Arc<Hub>,
    /// The highest seq delivered (the outbox head at start); `None` before the first read.
    high: Option<i64>,
    /// Seqs below `high` not delivered yet, with when they were first missed.
    missing: BTreeMap<i64, Instant>,
}

impl Cursor {
    /// Delivers `rows` (each is new: above `high` or missing) and moves `high` past them,
    /// remembering the seqs it skipped; returns how many rows were above the old `high`.
    fn absorb(&mut self, rows: &[OutboxEvent]) -> usize {
        let now = Instant::now();
        let old_high = self.high.unwrap_or(0);
        let mut above = Vec::new();
        for event in rows {
            self.missing.remove(&event.seq);
            if event.seq > old_high {
                above.push(event.seq);
            }
            self.hub.deliver(event);
        }
        let new_high = above.iter().copied().max().unwrap_or(old_high);
        let skipped_from = (new_high - MISSING_MAX as i64).max(old_high) + 1;
        let mut returned = above.iter().copied().peekable();
        for seq in skipped_from..new_high {
            while returned.next_if(|s| *s < seq).is_some() {}
            if returned.peek() != Some(&seq) {
                self.missing.insert(seq, now);
            }
        }
        self.missing
            .retain(|_, since| now.duration_since(*since) < MISSING_FOR);
        while self.missing.len() > MISSING_MAX {
            self.missing.pop_first();
        }
        self.high = Some(new_high);
        above.len()
    }
}

impl FanOut for PgFanOut {
    fn run(self: Arc<Self>, hub: Arc<Hub>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let _listener = AbortOnDrop(tokio::spawn(forward_notifications(
                self.db.clone(),
                self.config.health_check,
            )));
            let mut signals = self.db.signals(outbox::CHANNEL);
            let mut cursor = Cursor {
                hub,
                high: None,
                missing: BTreeMap::new(),
            };
            loop {
                signals.borrow_and_update();
                if let Err(e) = self.deliver_new(&mut cursor).await {
                    tracing::warn!(error = %e, "realtime fan-out cannot read the outbox; retrying");
                    tokio::time::sleep(self.config.health_check).await;
                    continue;
                }
                match tokio::time::timeout(self.config.health_check, signals.changed()).await {
                    Ok(Ok(())) | Err(_) => {}
                    // The signal's sender lives as long as the pool; poll if it ever goes.
                    Ok(Err(_)) => tokio::time::sleep(self.config.health_check).await,
                }
            }
        })
    }
}

impl PgFanOut {
    /// At the first read: begins after the outbox head (clients connected now want new events
    /// only). Then: delivers every row not delivered yet, page by page.
    async fn deliver_new(&self, cursor: &mut Cursor) -> Result<(), crate::RealtimeError> {
        let Some(mut high) = cursor.high else {
            cursor.high = Some(outbox::head(&self.db).await?);
            return Ok(());
        };
        loop {
            let missing = cursor.missing.keys().copied().collect();
            let page = outbox::since(&self.db, high, missing, PAGE).await?;
            let above = cursor.absorb(&page);
            high = cursor.high.unwrap_or(high);
            if above < PAGE as usize {
                return Ok(());
            }
        }
    }
}

/// Raises the local signal on every `NOTIFY realtime_events` from another instance, and once
/// after each (re)connection so that what was committed meanwhile is read.
async fn forward_notifications(db: Db, health_check: Duration) {
    loop {
        let mut listener = db
            .listen_retrying(&[outbox::CHANNEL], "realtime fan-out")
            .await;
        db.raise_local(outbox::CHANNEL);
        loop {
            match listener.wait(health_check).await {
                Ok(notes) if notes.is_empty() => {}
                Ok(_) => db.raise_local(outbox::CHANNEL),
                Err(e) => {
                    tracing::warn!(error = %e, "realtime fan-out lost its listener; reconnecting");
                    break;
                }
            }
        }
    }
}

/// Aborts a spawned task when dropped (the listener dies with the fan-out).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64) -> OutboxEvent {
        OutboxEvent {
            seq,
            org_id: uuid::Uuid::nil(),
            audience: "users".into(),
            app_id: None,
            min_role: Some("user".into()),
            target_crm_user: None,
            payload: serde_json::json!({}),
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn seqs_skipped_by_a_read_are_looked_for_until_they_commit() {
        let mut cursor = Cursor {
            hub: Arc::new(Hub::new(16)),
            high: Some(10),
            missing: BTreeMap::new(),
        };
        // 12 and 14 were allocated but not committed when this read ran.
        assert_eq!(cursor.absorb(&[event(11), event(13), event(15)]), 3);
        assert_eq!(cursor.high, Some(15));
        assert_eq!(cursor.missing.keys().copied().collect::<Vec<_>>(), [12, 14]);
        // 14 commits late, with 16 after it: 14 is no longer missing, 12 still is.
        assert_eq!(cursor.absorb(&[event(14), event(16)]), 1);
        assert_eq!(cursor.high, Some(16));
        assert_eq!(cursor.missing.keys().copied().collect::<Vec<_>>(), [12]);
        // Nothing new: nothing changes.
        assert_eq!(cursor.absorb(&[]), 0);
        assert_eq!(cursor.high, Some(16));
    }
}
