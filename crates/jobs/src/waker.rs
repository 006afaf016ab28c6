//! The wake-up sent after a commit: local workers at once, other instances through one
//! coalesced `NOTIFY jobs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use db::{Db, SystemOp};
use diesel_async::RunQueryDsl;
use tokio::sync::Notify;

use crate::CHANNEL;

/// Wakes job workers after a transaction that enqueued jobs has committed. Cheap to clone;
/// every clone wakes the same workers.
#[derive(Debug, Clone)]
pub struct Waker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    local: Notify,
    /// A `NOTIFY` is already due within the coalescing window.
    pending: AtomicBool,
    coalesce: Duration,
}

impl Waker {
    /// A waker over `db`: wake-ups within `coalesce` of each other send one `NOTIFY`.
    #[must_use]
    pub fn new(db: Db, coalesce: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                local: Notify::new(),
                pending: AtomicBool::new(false),
                coalesce,
            }),
        }
    }

    /// Call after the commit of a transaction that enqueued jobs (never inside it). Wakes this
    /// instance's idle workers now and, at most once per coalescing window, sends
    /// `NOTIFY jobs` in its own statement so that other instances' workers wake too. Needs a
    /// Tokio runtime.
    pub fn wake(&self) {
        self.inner.local.notify_waiters();
        if self.inner.pending.swap(true, Ordering::AcqRel) {
            return;
        }
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move {
            tokio::time::sleep(inner.coalesce).await;
            inner.pending.store(false, Ordering::Release);
            let sent = inner
                .db
                .system_read(SystemOp::JobClaim, async move |c| {
                    diesel::sql_query("SELECT pg_notify('jobs', '')")
                        .execute(c)
                        .await
                        .map_err(db::DbError::Query)
                })
                .await;
            if let Err(e) = sent {
                // Other instances' idle poll covers the gap.
                tracing::debug!(error = %e, "cannot send the job wake-up");
            }
        });
    }

    /// Wakes this instance's idle workers only (a `NOTIFY` from another instance arrived).
    pub(crate) fn wake_local(&self) {
        self.inner.local.notify_waiters();
    }

    /// The notification local workers wait on.
    pub(crate) fn local(&self) -> &Notify {
        &self.inner.local
    }

    pub(crate) fn db(&self) -> &Db {
        &self.inner.db
    }
}

/// Wakes local workers on every `NOTIFY jobs`; reconnects after a lost connection (the workers'
/// idle poll covers the gap).
pub(crate) async fn listen(waker: Waker) {
    loop {
        let mut listener = waker.db().listen_retrying(&[CHANNEL], "job runner").await;
        waker.wake_local();
        loop {
            match listener.wait(Duration::from_secs(5)).await {
                Ok(notes) if notes.is_empty() => {}
                Ok(_) => waker.wake_local(),
                Err(e) => {
                    tracing::warn!(error = %e, "job runner lost its listener; reconnecting");
                    break;
                }
            }
        }
    }
}
