//! The wake-up sent after a commit: local workers at once, other instances through one
//! coalesced `NOTIFY jobs`.

use std::sync::Arc;
use std::time::Duration;

use db::Db;
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
                coalesce,
            }),
        }
    }

    /// Call after the commit of a transaction that enqueued jobs (never inside it). Wakes this
    /// instance's idle workers now and, at most once per coalescing window, sends
    /// `NOTIFY jobs` in its own statement so that other instances' workers wake too
    /// ([`db::Db::raise_coalesced`]). Needs a Tokio runtime.
    pub fn wake(&self) {
        self.inner.local.notify_waiters();
        self.inner.db.raise_coalesced(CHANNEL, self.inner.coalesce);
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

/// Wakes local workers on every `NOTIFY jobs`, and on every local raise of [`CHANNEL`] (a
/// transaction that enqueued a job committed: [`crate::enqueue`]); reconnects after a lost
/// connection (the workers' idle poll covers the gap).
pub(crate) async fn listen(waker: Waker) {
    let local = async {
        let mut raised = waker.db().signals(CHANNEL);
        while raised.changed().await.is_ok() {
            waker.wake_local();
        }
    };
    let remote = async {
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
    };
    tokio::join!(local, remote);
}
