//! The work an instance does besides answering requests: the job runner (every background queue
//! and periodic task: Dialpad events, the Google Calendar outbox, hot-lead alerts, tool links
//! and Twilio dual-sync, knowledge-base indexing, the daily cleanup) and the realtime fan-out
//! that feeds this instance's WebSocket clients.

use std::sync::Arc;
use std::time::Duration;

use jobs::{Runner, RunnerConfig, RunnerHandle};
use realtime::{FanOut, PgFanOut, PgFanOutConfig};

use crate::state::AppState;

/// Running background tasks; [`Background::shutdown`] stops them gracefully (running jobs
/// finish, claimed ones are released); dropping it aborts them (their jobs are taken again after
/// their lease).
#[derive(Debug)]
pub struct Background {
    runner: Option<RunnerHandle>,
    fan_out: tokio::task::JoinHandle<()>,
}

/// How often the daily cleanup runs (SPEC §6: daily).
pub const CLEANUP_INTERVAL: Duration = Duration::from_secs(24 * 3600);

impl Background {
    /// Starts the job runner with `config.workers` workers (none when 0) named after
    /// `instance`, and the fan-out delivering every published event to `state.hub`. With
    /// workers, documents embedded by another model than the configured one are queued for
    /// re-embedding first.
    #[must_use]
    pub fn start(state: &AppState, config: RunnerConfig, instance: &str) -> Self {
        let runner = (config.workers > 0).then(|| {
            queue_reembed(state);
            runner(state, config, instance).start()
        });
        let fan_out = Arc::new(PgFanOut::new(state.db.clone(), PgFanOutConfig::default()));
        let fan_out = tokio::spawn(fan_out.run(state.hub.clone()));
        Self { runner, fan_out }
    }

    /// Stops every task and waits until they are gone.
    pub async fn shutdown(mut self) {
        if let Some(runner) = self.runner.take() {
            runner.shutdown().await;
        }
        self.fan_out.abort();
        let _ = (&mut self.fan_out).await;
    }
}

/// The job runner of this instance: every job kind's handler and the periodic tasks.
fn runner(state: &AppState, config: RunnerConfig, instance: &str) -> Runner {
    let runner = Runner::new(state.jobs.clone(), config, instance);
    let runner = event_log::processor::register(runner, state.db.clone());
    let runner = state.scheduler.register_jobs(runner);
    let runner = state.voice.register_jobs(runner);
    let runner = state.knowledge.register_jobs(runner);
    let runner = match webhooks::Deliverer::new(
        state.db.clone(),
        state.webhooks.clone(),
        state.webhook_delivery.clone(),
    ) {
        Ok(deliverer) => deliverer.register_jobs(runner),
        Err(e) => {
            tracing::error!(error = %e, "webhook delivery is off on this instance");
            runner
        }
    };
    let db = state.db.clone();
    runner.every("daily.cleanup", CLEANUP_INTERVAL, move || {
        let db = db.clone();
        async move { daily_cleanup(&db).await }
    })
}

/// Queues the documents embedded by another model than the configured one (idempotent: a
/// document already queued is not queued again).
fn queue_reembed(state: &AppState) {
    let knowledge = Arc::clone(&state.knowledge);
    tokio::spawn(async move {
        match knowledge.queue_reembed().await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(documents = n, model = %knowledge.model().id, "re-embedding queued")
            }
            Err(e) => tracing::warn!(error = %e, "re-embedding could not be queued"),
        }
    });
}

/// The hybrid-telephony cleanup (stale verifications, old initiation records), the prune of
/// realtime outbox rows older than a day, of idempotency keys older than 24 h and of webhook
/// messages older than 30 days; all idempotent.
async fn daily_cleanup(db: &db::Db) -> Result<(), String> {
    let telephony = telephony::cleanup(db).await;
    let pruned = realtime::outbox::prune(db).await;
    let idempotency_keys = tenancy::idempotency::prune(db).await;
    let webhook_messages = webhooks::log::prune(db).await;
    tracing::info!(
        ?telephony,
        ?pruned,
        ?idempotency_keys,
        ?webhook_messages,
        "daily cleanup"
    );
    telephony.map_err(|e| e.to_string())?;
    idempotency_keys.map_err(|e| e.to_string())?;
    webhook_messages.map_err(|e| e.to_string())?;
    pruned.map(|_| ()).map_err(|e| e.to_string())
}

impl Drop for Background {
    /// Dropped without [`Background::shutdown`]: the tasks are aborted (not awaited).
    fn drop(&mut self) {
        self.fan_out.abort();
    }
}
