//! The work an instance does besides answering requests: the webhook event processor, the
//! realtime fan-out that feeds this instance's WebSocket clients, and (with event workers) the
//! Google Calendar outbox worker, the voice worker (tool-link retries, Twilio dual-sync,
//! hot-lead alerts) and the knowledge-base indexing worker.

use std::sync::Arc;

use event_log::{Processor, ProcessorConfig, ProcessorHandle};
use realtime::{FanOut, PgFanOut, PgFanOutConfig};

use crate::state::AppState;

/// Running background tasks; [`Background::shutdown`] (or dropping it) stops them (an event being processed is
/// then taken again by another worker after its lease).
#[derive(Debug)]
pub struct Background {
    processor: Option<ProcessorHandle>,
    fan_out: tokio::task::JoinHandle<()>,
    calendar: Option<tokio::task::JoinHandle<()>>,
    voice: Option<tokio::task::JoinHandle<()>>,
    knowledge: Option<tokio::task::JoinHandle<()>>,
}

/// Pause between passes of the calendar outbox worker.
const CALENDAR_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// Longest pause between passes of the knowledge-base worker (uploads wake it at once).
const KNOWLEDGE_POLL: std::time::Duration = std::time::Duration::from_secs(5);

/// Pause between passes of the voice worker.
const VOICE_POLL: std::time::Duration = std::time::Duration::from_secs(2);

impl Background {
    /// Starts `event_workers` event workers (none when 0) named after `instance`, and the
    /// fan-out delivering every published event to `state.hub`.
    #[must_use]
    pub fn start(state: &AppState, processor: ProcessorConfig, instance: &str) -> Self {
        let processor = (processor.workers > 0)
            .then(|| Processor::new(state.db.clone(), processor, instance).spawn());
        let fan_out = Arc::new(PgFanOut::new(state.db.clone(), PgFanOutConfig::default()));
        let fan_out = tokio::spawn(fan_out.run(state.hub.clone()));
        let calendar = processor.is_some().then(|| {
            let scheduler = state.scheduler.clone();
            tokio::spawn(async move {
                loop {
                    match scheduler.sync_calendar(20).await {
                        Ok(report) if report.done + report.retried + report.dead > 0 => {
                            tracing::info!(?report, "calendar outbox pass");
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "calendar outbox pass failed"),
                    }
                    tokio::time::sleep(CALENDAR_POLL).await;
                }
            })
        });
        let voice = processor
            .is_some()
            .then(|| state.voice.spawn_worker(VOICE_POLL));
        let knowledge = processor
            .is_some()
            .then(|| state.knowledge.spawn_worker(KNOWLEDGE_POLL));
        Self {
            processor,
            fan_out,
            calendar,
            voice,
            knowledge,
        }
    }

    /// Stops every task and waits until they are gone.
    pub async fn shutdown(mut self) {
        if let Some(processor) = self.processor.take() {
            processor.shutdown().await;
        }
        self.fan_out.abort();
        let _ = (&mut self.fan_out).await;
        if let Some(calendar) = self.calendar.take() {
            calendar.abort();
            let _ = calendar.await;
        }
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

impl Drop for Background {
    /// Dropped without [`Background::shutdown`]: the tasks are aborted (not awaited).
    fn drop(&mut self) {
        self.fan_out.abort();
        if let Some(calendar) = &self.calendar {
            calendar.abort();
        }
        if let Some(voice) = &self.voice {
            voice.abort();
        }
        if let Some(knowledge) = &self.knowledge {
            knowledge.abort();
        }
    }
}
