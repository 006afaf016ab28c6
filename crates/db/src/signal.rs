//! After-commit signals: PostgreSQL `NOTIFY` semantics (sent only if the transaction commits)
//! without a `NOTIFY` inside the writing transaction, whose commit would then take PostgreSQL's
//! global notify lock and serialize every commit behind it (issue 22, "no global lock on the
//! commit path").
//!
//! Inside [`Db::tenant`] or [`Db::system`], [`raise_after_commit`] records a channel. After the
//! transaction commits, the channel is raised:
//! - on this instance at once, through a `watch` counter every [`Db::signals`] subscriber sees
//!   (a subscriber busy when it changes sees the change on its next wait: nothing is missed);
//! - on other instances through one `NOTIFY <channel>` sent in its own statement, at most once
//!   per [`COALESCE`] window however many commits raised it. Their listeners turn it into a
//!   local raise ([`Db::raise_local`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel_async::RunQueryDsl;
use tokio::sync::watch;

use crate::{Db, DbError, SystemOp};

/// How long raises of one channel are gathered into one cross-instance `NOTIFY`.
pub const COALESCE: Duration = Duration::from_millis(5);

tokio::task_local! {
    /// Channels raised by the transaction running on this task.
    static RAISED: RefCell<Vec<&'static str>>;
}

/// Records that `channel` is to be raised when the current [`Db::tenant`] / [`Db::system`]
/// transaction commits. Channel names are fixed identifiers from code (`[a-z_]+`). Returns
/// `false` when called outside such a transaction (nothing is recorded; the caller then sends
/// its own `NOTIFY` inside its transaction).
#[must_use]
pub fn raise_after_commit(channel: &'static str) -> bool {
    RAISED
        .try_with(|raised| {
            let mut raised = raised.borrow_mut();
            if !raised.contains(&channel) {
                raised.push(channel);
            }
        })
        .is_ok()
}

/// Runs `tx` (a transaction) with a fresh record of raised channels; returns its result and
/// the channels it raised.
pub(crate) async fn recording<T>(tx: impl Future<Output = T>) -> (T, Vec<&'static str>) {
    RAISED
        .scope(RefCell::new(Vec::new()), async move {
            let result = tx.await;
            let raised = RAISED.with(RefCell::take);
            (result, raised)
        })
        .await
}

/// The per-channel state of one [`Db`] (shared by its clones).
#[derive(Debug, Default)]
pub(crate) struct Signals {
    channels: Mutex<HashMap<&'static str, Arc<Channel>>>,
}

#[derive(Debug)]
struct Channel {
    local: watch::Sender<u64>,
    /// A cross-instance `NOTIFY` is already due within the coalescing window.
    notify_due: AtomicBool,
}

impl Signals {
    fn channel(&self, name: &'static str) -> Arc<Channel> {
        let mut channels = self
            .channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(channels.entry(name).or_insert_with(|| {
            Arc::new(Channel {
                local: watch::Sender::new(0),
                notify_due: AtomicBool::new(false),
            })
        }))
    }
}

impl Db {
    /// A subscription to `channel`'s raises on this instance (local commits and, through a
    /// listener that calls [`Db::raise_local`], other instances'). `changed()` resolves after
    /// each raise since the last look.
    #[must_use]
    pub fn signals(&self, channel: &'static str) -> watch::Receiver<u64> {
        self.signals.channel(channel).local.subscribe()
    }

    /// Raises `channel` on this instance only.
    pub fn raise_local(&self, channel: &'static str) {
        self.signals
            .channel(channel)
            .local
            .send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Raises `channel` after a commit: on this instance now, on the others through one
    /// coalesced `NOTIFY` per [`COALESCE`] (module docs). Needs a Tokio runtime.
    pub fn raise(&self, channel: &'static str) {
        self.raise_coalesced(channel, COALESCE);
    }

    /// [`Db::raise`] with its own coalescing window: raises within `window` of the first send
    /// one `NOTIFY`.
    pub fn raise_coalesced(&self, channel: &'static str, window: Duration) {
        self.raise_local(channel);
        let state = self.signals.channel(channel);
        if state.notify_due.swap(true, Ordering::AcqRel) {
            return;
        }
        let db = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(window).await;
            state.notify_due.store(false, Ordering::Release);
            debug_assert!(channel.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            let sent = db
                .system_read(SystemOp::SignalNotify, async move |c| {
                    diesel::sql_query(format!("NOTIFY {channel}"))
                        .execute(c)
                        .await
                        .map_err(DbError::Query)
                })
                .await;
            if let Err(e) = sent {
                // Other instances' periodic look covers the gap.
                tracing::debug!(channel, error = %e, "cannot send the cross-instance signal");
            }
        });
    }
}
