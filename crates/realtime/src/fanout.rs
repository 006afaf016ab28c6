//! Cross-instance fan-out: every instance delivers every committed outbox event to its own
//! connections.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

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
    /// within about this long); also the pause before retrying a failed catch-up.
    pub health_check: Duration,
}

impl Default for PgFanOutConfig {
    fn default() -> Self {
        Self {
            health_check: Duration::from_secs(5),
        }
    }
}

/// How far back, in seqs, a reconnecting listener re-reads: seqs are allocated before commit,
/// so an event committed late can carry a seq lower than one already delivered.
const CATCH_UP_MARGIN: i64 = 1_000;
/// Seqs remembered as delivered (must exceed [`CATCH_UP_MARGIN`]).
const SEEN_CAPACITY: usize = 10_000;
/// Rows read per catch-up query.
const CATCH_UP_PAGE: i32 = 500;

/// The PostgreSQL fan-out: a dedicated `LISTEN realtime_events` connection; each notification
/// carries a seq, the rows are fetched by seq in one query per wake-up and delivered. After a
/// lost connection it reconnects with backoff and re-reads every row after the last delivered
/// seq (minus a margin), skipping those already delivered.
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

/// Delivered seqs, bounded: a set for lookups and a queue for eviction order.
struct Seen {
    set: HashSet<i64>,
    order: VecDeque<i64>,
}

impl Seen {
    fn new() -> Self {
        Self {
            set: HashSet::with_capacity(SEEN_CAPACITY),
            order: VecDeque::with_capacity(SEEN_CAPACITY),
        }
    }

    /// Records `seq`; false when it was already delivered.
    fn insert(&mut self, seq: i64) -> bool {
        if !self.set.insert(seq) {
            return false;
        }
        self.order.push_back(seq);
        if self.order.len() > SEEN_CAPACITY
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        true
    }
}

struct Cursor {
    hub: Arc<Hub>,
    seen: Seen,
    /// The highest seq delivered (the outbox head at start); `None` before the first start.
    high: Option<i64>,
}

impl Cursor {
    /// Delivers the events not delivered before; returns how many that was.
    fn deliver(&mut self, events: &[OutboxEvent]) -> usize {
        let mut delivered = 0;
        for event in events {
            if self.seen.insert(event.seq) {
                self.hub.deliver(event);
                self.high = Some(self.high.map_or(event.seq, |h| h.max(event.seq)));
                delivered += 1;
            }
        }
        delivered
    }
}

impl FanOut for PgFanOut {
    fn run(self: Arc<Self>, hub: Arc<Hub>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let mut cursor = Cursor {
                hub,
                seen: Seen::new(),
                high: None,
            };
            loop {
                let mut listener = self
                    .db
                    .listen_retrying(&[outbox::CHANNEL], "realtime fan-out")
                    .await;
                // Listening now: anything committed from here on is notified. Deliver what was
                // committed while not listening.
                if let Err(e) = self.catch_up(&mut cursor).await {
                    tracing::warn!(error = %e, "realtime fan-out cannot catch up; reconnecting");
                    tokio::time::sleep(self.config.health_check).await;
                    continue;
                }
                loop {
                    let notes = match listener.wait(self.config.health_check).await {
                        Ok(notes) => notes,
                        Err(e) => {
                            tracing::warn!(error = %e, "realtime fan-out lost its listener; reconnecting");
                            break;
                        }
                    };
                    let seqs: Vec<i64> = notes
                        .iter()
                        .filter_map(|n| n.payload.parse().ok())
                        .collect();
                    if seqs.is_empty() {
                        continue;
                    }
                    match outbox::fetch(&self.db, seqs).await {
                        Ok(events) => {
                            cursor.deliver(&events);
                        }
                        Err(e) => {
                            // Not dropped: the reconnect's catch-up re-reads these rows.
                            tracing::warn!(error = %e, "realtime fan-out cannot fetch notified events; reconnecting to catch up");
                            break;
                        }
                    }
                }
            }
        })
    }
}

impl PgFanOut {
    /// At the first start: begins after the outbox head (clients connected now want new events
    /// only). After a reconnect: delivers every row after the last delivered seq minus
    /// [`CATCH_UP_MARGIN`] that was not delivered yet.
    async fn catch_up(&self, cursor: &mut Cursor) -> Result<(), crate::RealtimeError> {
        let Some(high) = cursor.high else {
            cursor.high = Some(outbox::head(&self.db).await?);
            return Ok(());
        };
        let mut after = (high - CATCH_UP_MARGIN).max(0);
        let mut missed = 0usize;
        loop {
            let page = outbox::after(&self.db, after, CATCH_UP_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            missed += cursor.deliver(&page);
            if page.len() < CATCH_UP_PAGE as usize {
                break;
            }
        }
        tracing::info!(
            high = cursor.high,
            missed,
            "realtime fan-out caught up after reconnecting"
        );
        Ok(())
    }
}
