//! The work an instance does besides answering requests: the webhook event processor and the
//! realtime fan-out that feeds this instance's WebSocket clients.

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
}

impl Background {
    /// Starts `event_workers` event workers (none when 0) named after `instance`, and the
    /// fan-out delivering every published event to `state.hub`.
    #[must_use]
    pub fn start(state: &AppState, processor: ProcessorConfig, instance: &str) -> Self {
        let processor = (processor.workers > 0)
            .then(|| Processor::new(state.db.clone(), processor, instance).spawn());
        let fan_out = Arc::new(PgFanOut::new(state.db.clone(), PgFanOutConfig::default()));
        let fan_out = tokio::spawn(fan_out.run(state.hub.clone()));
        Self { processor, fan_out }
    }

    /// Stops every task and waits until they are gone.
    pub async fn shutdown(mut self) {
        if let Some(processor) = self.processor.take() {
            processor.shutdown().await;
        }
        self.fan_out.abort();
        let _ = (&mut self.fan_out).await;
    }
}

impl Drop for Background {
    /// Dropped without [`Background::shutdown`]: the tasks are aborted (not awaited).
    fn drop(&mut self) {
        self.fan_out.abort();
    }
}
