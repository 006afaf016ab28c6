//! Acknowledgements before analysis (issue 22, decision 51).
//!
//! An `end-of-call-report` is acknowledged first (crate::group_commit) and analysed after, on
//! the job runner. Both use the same CPU and the same database, and only the first has a caller
//! waiting: Vapi times a webhook out and sends it again, while the analysis may wait. So while
//! this instance's acknowledgements are backed up (crate::group_commit::BACKED_UP reports or
//! more waiting for their commit) only one analysis runs at a time; the others wait for their
//! turn, and all run again as soon as the acknowledgements catch up. One always runs, so the analysis never starves;
//! the backlog a burst leaves is drained when it ends.
//!
//! The measure is per instance: another instance's burst does not slow this one's analysis.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How often an analysis waiting for its turn looks again.
const TURN_POLL: Duration = Duration::from_millis(10);

/// The analyses running on this instance (cheap to clone).
#[derive(Debug, Clone, Default)]
pub(crate) struct AnalysisTurns {
    analysing: Arc<AtomicUsize>,
}

impl AnalysisTurns {
    /// Waits until an analysis may run (module docs): at once while `backed_up()` says the
    /// acknowledgements keep up, else when no other analysis runs. The turn lasts until the
    /// guard is dropped.
    pub(crate) async fn turn(&self, backed_up: impl Fn() -> bool) -> AnalysisTurn {
        loop {
            let others = self.analysing.fetch_add(1, Ordering::AcqRel);
            let turn = AnalysisTurn(Arc::clone(&self.analysing));
            if others == 0 || !backed_up() {
                return turn;
            }
            drop(turn);
            tokio::time::sleep(TURN_POLL).await;
        }
    }
}

/// A running analysis ([`AnalysisTurns::turn`]).
#[derive(Debug)]
pub(crate) struct AnalysisTurn(Arc<AtomicUsize>);

impl Drop for AnalysisTurn {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;

    /// Whether a turn is granted within five looks while `backed_up` holds.
    async fn granted(turns: &AnalysisTurns, backed_up: &AtomicBool) -> Option<AnalysisTurn> {
        let turn = turns.turn(|| backed_up.load(Ordering::Relaxed));
        tokio::time::timeout(5 * TURN_POLL, turn).await.ok()
    }

    #[tokio::test]
    async fn analyses_run_together_while_acknowledgements_keep_up() {
        let (turns, backed_up) = (AnalysisTurns::default(), AtomicBool::new(false));
        let first = granted(&turns, &backed_up).await;
        let second = granted(&turns, &backed_up).await;
        assert!(first.is_some() && second.is_some());
    }

    #[tokio::test]
    async fn while_backed_up_one_analysis_runs_and_the_others_wait_their_turn() {
        let (turns, backed_up) = (AnalysisTurns::default(), AtomicBool::new(true));
        let first = granted(&turns, &backed_up).await;
        assert!(first.is_some(), "one analysis always runs");
        assert!(granted(&turns, &backed_up).await.is_none());

        drop(first);
        let second = granted(&turns, &backed_up).await;
        assert!(second.is_some(), "the next one runs when the first ends");
        assert!(granted(&turns, &backed_up).await.is_none());

        backed_up.store(false, Ordering::Relaxed);
        assert!(granted(&turns, &backed_up).await.is_some());
    }
}
