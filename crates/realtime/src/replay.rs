//! What a reconnecting WebSocket client missed (issue 23, "event replay"): a client that saw
//! event id `since` (the `event_id` of its frames, the outbox seq) gets every event of its room
//! after it that the outbox still holds (a day), then live events, with no gap and no duplicate
//! at the seam:
//! 1. the connection joins its room first ([`Hub::subscribe_with_event_ids`]), so every event
//!    fanned out from then on is queued for it;
//! 2. then [`missed`] reads the outbox: every event committed before that read is in it;
//! 3. the live queue is then filtered by [`Seam`]: an event both read and queued is sent once.
//!
//! Events committed after the join but before the read are in both; events committed after the
//! read are only live; events committed before the join are in the read. Seqs are allocated at
//! insert, so a live event may carry a seq below the highest replayed one (its transaction
//! committed late): it is new, and goes out.
//!
//! [`Hub::subscribe_with_event_ids`]: crate::Hub::subscribe_with_event_ids

use std::collections::HashSet;

use db::{Db, OrgId};

use crate::hub::{Frame, Member, receives};
use crate::{RealtimeError, outbox};

/// Events read per query.
const PAGE: i64 = 500;
/// Most events replayed to one connection. A client further behind gets the first this many
/// after `since` and `"complete": false` in the closing frame ([`done_frame`]), and should
/// resynchronise from the REST API.
pub const REPLAY_MAX: usize = 10_000;

/// The replayed frames and where the replay stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    /// The events after `since`, oldest first, each with its `event_id`.
    pub frames: Vec<Frame>,
    /// Whether every held event after `since` is in `frames` (false past [`REPLAY_MAX`]).
    pub complete: bool,
}

/// The events of `member`'s room after `since` that the outbox still holds ([`REPLAY_MAX`] at
/// most), as frames with their event id. Read in the member's organization's tenant transaction.
///
/// # Errors
/// [`RealtimeError::Db`].
pub async fn missed(db: &Db, member: &Member, since: i64) -> Result<Replay, RealtimeError> {
    let (org, room) = match member {
        Member::App {
            org_id,
            app_id,
            ai_calls,
            ..
        } => (
            OrgId(*org_id),
            outbox::Room::App {
                app_id: *app_id,
                ai_calls: *ai_calls,
            },
        ),
        Member::User { org_id, .. } => (OrgId(*org_id), outbox::Room::Users),
    };
    let (mut frames, mut after) = (Vec::new(), since);
    loop {
        let page = db
            .tenant(org, async |tx| {
                outbox::of_room_after(tx, room, after, PAGE).await
            })
            .await?;
        let full = page.len() as i64 == PAGE;
        for event in &page {
            after = event.seq;
            if receives(member, event) {
                frames.push(Frame::of(event, true));
            }
            if frames.len() == REPLAY_MAX {
                return Ok(Replay {
                    frames,
                    complete: false,
                });
            }
        }
        if !full {
            return Ok(Replay {
                frames,
                complete: true,
            });
        }
    }
}

/// The seam between a replay and the live queue: which live frames were replayed already.
#[derive(Debug, Default)]
pub struct Seam {
    replayed: HashSet<i64>,
}

impl Seam {
    /// The seam after `replay`.
    #[must_use]
    pub fn after(replay: &Replay) -> Self {
        Self {
            replayed: replay.frames.iter().map(|f| f.seq).collect(),
        }
    }

    /// Whether a live frame is new to the client (not replayed already). Each replayed seq is
    /// matched at most once and then forgotten.
    pub fn is_new(&mut self, frame: &Frame) -> bool {
        self.replayed.is_empty() || !self.replayed.remove(&frame.seq)
    }
}

/// The frame that ends a replay: `{"type":"replay_complete","last_event_id":…,"replayed":…,
/// "complete":…}`; `last_event_id` is the last replayed id (or `since` when none was).
#[must_use]
pub fn done_frame(since: i64, replay: &Replay) -> String {
    let last = replay.frames.last().map_or(since, |f| f.seq);
    serde_json::json!({
        "type": "replay_complete",
        "last_event_id": last,
        "replayed": replay.frames.len(),
        "complete": replay.complete,
    })
    .to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn frame(seq: i64) -> Frame {
        Frame {
            seq,
            text: "{}".into(),
        }
    }

    #[test]
    fn the_seam_drops_each_replayed_event_once_and_passes_late_commits() {
        let replay = Replay {
            frames: vec![frame(5), frame(7)],
            complete: true,
        };
        let mut seam = Seam::after(&replay);
        assert!(!seam.is_new(&frame(7)), "replayed and queued: sent once");
        assert!(
            seam.is_new(&frame(6)),
            "committed late, after the read: new"
        );
        assert!(!seam.is_new(&frame(5)));
        assert!(seam.is_new(&frame(8)));
        assert!(seam.is_new(&frame(5)), "an id is matched once");
        let done: serde_json::Value = serde_json::from_str(&done_frame(4, &replay)).unwrap();
        assert_eq!(done["last_event_id"], 7);
        assert_eq!(done["replayed"], 2);
    }
}
