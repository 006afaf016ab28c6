//! The work an instance does besides answering requests: the job runner (webhook events and the
//! daily cleanup), the realtime fan-out that feeds this instance's WebSocket clients, and (with
//! job workers) the Google Calendar outbox worker, the voice worker (tool-link retries, Twilio
//! dual-sync, hot-lead alerts) and the knowledge-base indexing worker.

use std::sync::Arc;
use std::time::Duration;

use jobs::{Runner, RunnerConfig, RunnerHandle};
use realtime::{FanOut, PgFanOut, PgFanOutConfig};

use crate::state::AppState;

/// Running background tasks; [`Background::shutdown`] (or dropping it) stops them (an event being processed is
/// then taken again by another worker after its lease).
#[derive(Debug)]
pub struct Background {
    runner: Option<RunnerHandle>,
    fan_out: tokio::task::JoinHandle<()>,
    voice: Option<tokio::task::JoinHandle<()>>,
    knowledge: Option<tokio::task::JoinHandle<()>>,
}

/// Longest pause between passes of the knowledge-base worker (uploads wake it at once).
const KNOWLEDGE_POLL: std::time::Duration = std::time::Duration::from_secs(5);

/// Pause between passes of the voice worker.
const VOICE_POLL: std::time::Duration = std::time::Duration::from_secs(2);

impl Background {
    /// Starts the job runner with `config.workers` workers (none when 0) named after
    /// `instance`, and the fan-out delivering every published event to `state.hub`.
    #[must_use]
    pub fn start(state: &AppState, config: RunnerConfig, instance: &str) -> Self {
        let processor = (config.workers > 0).then(|| runner(state, config, instance).start());
        let fan_out = Arc::new(PgFanOut::new(state.db.clone(), PgFanOutConfig::default()));
        let fan_out = tokio::spawn(fan_out.run(state.hub.clone()));
        let voice = processor
            .is_some()
            .then(|| state.voice.spawn_worker(VOICE_POLL));
        let knowledge = processor
            .is_some()
            .then(|| state.knowledge.spawn_worker(KNOWLEDGE_POLL));
        Self {
            runner: processor,
            fan_out,
            voice,
            knowledge,
        }
    }

    /// Stops every task and waits until they are gone.
    pub async fn shutdown(mut self) {
        if let Some(runner) = self.runner.take() {
            runner.shutdown().await;
        }
        self.fan_out.abort();
        let _ = (&mut self.fan_out).await;
        if let Some(voice) = self.voice.take() {
            voice.abort();
            let _ = voice.await;
        }
        if let Some(knowledge) = self.knowledge.take() {
            knowledge.abort();
            let _ = knowledge.await;
        }
    }
}

/// How often the daily cleanup runs (SPEC §6: daily).
pub const CLEANUP_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// The job runner of this instance: every job kind's handler and the periodic tasks.
fn runner(state: &AppState, config: RunnerConfig, instance: &str) -> Runner {
    let runner = Runner::new(state.jobs.clone(), config, instance);
    let runner = event_log::processor::register(runner, state.db.clone());
    let runner = state.scheduler.register_jobs(runner);
    let db = state.db.clone();
    runner.every("daily.cleanup", CLEANUP_INTERVAL, move || {
        let db = db.clone();
        async move { daily_cleanup(&db).await }
    })
}

/// The hybrid-telephony cleanup (stale verifications, old initiation records) and the prune of
/// realtime outbox rows older than a day; both idempotent.
async fn daily_cleanup(db: &db::Db) -> Result<(), String> {
    let telephony = telephony::cleanup(db).await;
    let pruned = realtime::outbox::prune(db).await;
    tracing::info!(?telephony, ?pruned, "daily cleanup");
    telephony.map_err(|e| e.to_string())?;
    pruned.map(|_| ()).map_err(|e| e.to_string())
}

impl Drop for Background {
    /// Dropped without [`Background::shutdown`]: the tasks are aborted (not awaited).
    fn drop(&mut self) {
        self.fan_out.abort();
        if let Some(voice) = &self.voice {
            voice.abort();
        }
        if let Some(knowledge) = &self.knowledge {
            knowledge.abort();
        }
    }
}
