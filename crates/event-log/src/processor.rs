//! The event processor: workers that claim due events and apply them.

use std::sync::Arc;
use std::time::Duration;

use db::schema::webhook_events;
use db::{Db, OrgId, SystemOp};
use diesel::sql_types::{Double, Integer, Text};
use diesel::{ExpressionMethods, QueryDsl, QueryableByName};
use diesel_async::RunQueryDsl;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::{EventLogError, handlers, ingest};

/// Settings of the [`Processor`].
#[derive(Debug, Clone, Copy)]
pub struct ProcessorConfig {
    /// Concurrent workers on this instance.
    pub workers: usize,
    /// Events claimed per batch.
    pub batch: i32,
    /// How long a claim lasts; a worker that died releases its events when it expires.
    pub lease: Duration,
    /// How often an idle worker looks anyway (for retries coming due and expired leases);
    /// new events wake it at once through `NOTIFY`.
    pub idle_poll: Duration,
    /// Attempts before an event is dead-lettered.
    pub max_attempts: i32,
    /// The first retry's delay; each further retry doubles it, up to `max_backoff`.
    pub base_backoff: Duration,
    /// The longest retry delay.
    pub max_backoff: Duration,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        Self {
            workers: 2,
            batch: 32,
            lease: Duration::from_secs(30),
            idle_poll: Duration::from_secs(1),
            max_attempts: 8,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
        }
    }
}

impl ProcessorConfig {
    /// The delay before retry number `attempts` (1-based): `base · 2^(attempts−1)`, capped.
    #[must_use]
    pub fn backoff(&self, attempts: i32) -> Duration {
        let exp = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        self.base_backoff
            .saturating_mul(2u32.saturating_pow(exp))
            .min(self.max_backoff)
    }
}

/// Claims and applies webhook events. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Processor {
    db: Db,
    config: ProcessorConfig,
    /// Names this instance's workers in `locked_by` (`<instance>/<n>`).
    instance: Arc<str>,
}

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    org_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    app_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Jsonb)]
    payload: serde_json::Value,
    #[diesel(sql_type = Integer)]
    attempts: i32,
}

/// Running workers; dropping it (or [`ProcessorHandle::shutdown`]) stops them. A worker
/// stopped mid-event commits nothing for that event, which is taken again after its lease.
#[derive(Debug)]
pub struct ProcessorHandle {
    tasks: JoinSet<()>,
}

impl ProcessorHandle {
    /// Stops every worker and waits until they are gone.
    pub async fn shutdown(mut self) {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

impl Processor {
    /// A processor for `db`; `instance` names this gateway instance in claims (for operators).
    #[must_use]
    pub fn new(db: Db, config: ProcessorConfig, instance: &str) -> Self {
        Self {
            db,
            config,
            instance: instance.into(),
        }
    }

    /// Starts the workers and the `LISTEN webhook_events` task that wakes them.
    #[must_use]
    pub fn spawn(&self) -> ProcessorHandle {
        let wake = Arc::new(Notify::new());
        let mut tasks = JoinSet::new();
        tasks.spawn(listen(
            self.db.clone(),
            Arc::clone(&wake),
            self.config.idle_poll,
        ));
        for n in 0..self.config.workers.max(1) {
            let this = self.clone();
            let wake = Arc::clone(&wake);
            let worker = format!("{}/{n}", self.instance);
            tasks.spawn(async move { this.work(&worker, &wake).await });
        }
        ProcessorHandle { tasks }
    }

    async fn work(&self, worker: &str, wake: &Notify) {
        loop {
            // Registered before claiming, so a notification during the claim is not missed.
            let notified = wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.run_batch(worker).await {
                Ok(0) => {
                    let _ = tokio::time::timeout(self.config.idle_poll, notified).await;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(worker, error = %e, "event worker cannot claim; retrying");
                    tokio::time::sleep(self.config.idle_poll).await;
                }
            }
        }
    }

    /// Claims one batch as `worker` and applies each event; returns how many were claimed.
    ///
    /// # Errors
    /// [`EventLogError::Db`] when the claim fails (an event's own failure is recorded on it).
    pub async fn run_batch(&self, worker: &str) -> Result<usize, EventLogError> {
        let claimed = self.claim(worker).await?;
        let n = claimed.len();
        for event in claimed {
            self.process(worker, event).await;
        }
        Ok(n)
    }

    async fn claim(&self, worker: &str) -> Result<Vec<Claimed>, EventLogError> {
        let worker = worker.to_owned();
        let (batch, lease) = (self.config.batch, self.config.lease.as_secs_f64());
        self.db
            .system(SystemOp::EventClaim, move |c| {
                Box::pin(async move {
                    diesel::sql_query(
                        "SELECT id, org_id, app_id, payload, attempts FROM webhook_events_claim($1, $2, $3)",
                    )
                    .bind::<Text, _>(worker)
                    .bind::<Integer, _>(batch)
                    .bind::<Double, _>(lease)
                    .load(c)
                    .await
                    .map_err(EventLogError::from)
                })
            })
            .await
    }

    async fn process(&self, worker: &str, event: Claimed) {
        let (org, app, id) = (OrgId(event.org_id), event.app_id, event.id);
        let owner = worker.to_owned();
        let payload = event.payload;
        let result = self
            .db
            .tenant(org, move |c| {
                Box::pin(async move {
                    let event_type = handlers::apply(c, org, app, &payload).await?;
                    let marked = diesel::update(
                        webhook_events::table
                            .filter(webhook_events::id.eq(id))
                            .filter(webhook_events::org_id.eq(org.0))
                            .filter(webhook_events::status.eq("processing"))
                            .filter(webhook_events::locked_by.eq(&owner)),
                    )
                    .set((
                        webhook_events::status.eq("done"),
                        webhook_events::processed_at.eq(diesel::dsl::now),
                        webhook_events::locked_by.eq(None::<String>),
                        webhook_events::locked_until.eq(None::<chrono::DateTime<chrono::Utc>>),
                        webhook_events::last_error.eq(None::<String>),
                    ))
                    .execute(c)
                    .await?;
                    if marked == 0 {
                        return Err(EventLogError::LeaseLost);
                    }
                    Ok(event_type)
                })
            })
            .await;
        match result {
            Ok(event_type) => {
                tracing::debug!(event_id = %id, event_type, attempts = event.attempts, "webhook event processed");
            }
            Err(EventLogError::LeaseLost) => {
                tracing::warn!(event_id = %id, worker, "webhook event lease expired before commit; another worker owns it");
            }
            Err(e) => {
                self.record_failure(worker, org, id, event.attempts, &e)
                    .await
            }
        }
    }

    /// Puts a failed event back for a later retry, or dead-letters it when the failure is
    /// permanent or it has used its attempts.
    async fn record_failure(
        &self,
        worker: &str,
        org: OrgId,
        id: Uuid,
        attempts: i32,
        error: &EventLogError,
    ) {
        let dead = error.is_permanent() || attempts >= self.config.max_attempts;
        let delay = self.config.backoff(attempts);
        let message: String = error.to_string().chars().take(500).collect();
        if dead {
            tracing::error!(event_id = %id, attempts, error = %message, "webhook event dead-lettered");
        } else {
            tracing::warn!(event_id = %id, attempts, retry_in_ms = delay.as_millis() as u64, error = %message, "webhook event failed; will retry");
        }
        let owner = worker.to_owned();
        let recorded = self
            .db
            .tenant(org, move |c| {
                Box::pin(async move {
                    diesel::sql_query(
                        "UPDATE webhook_events
                            SET status = CASE WHEN $1 THEN 'dead' ELSE 'pending' END,
                                next_attempt_at = now() + make_interval(secs => $2),
                                last_error = $3, locked_by = NULL, locked_until = NULL
                          WHERE id = $4 AND org_id = $5 AND status = 'processing' AND locked_by = $6",
                    )
                    .bind::<diesel::sql_types::Bool, _>(dead)
                    .bind::<Double, _>(delay.as_secs_f64())
                    .bind::<Text, _>(message)
                    .bind::<diesel::sql_types::Uuid, _>(id)
                    .bind::<diesel::sql_types::Uuid, _>(org.0)
                    .bind::<Text, _>(owner)
                    .execute(c)
                    .await
                    .map_err(EventLogError::from)
                })
            })
            .await;
        if let Err(e) = recorded {
            // The lease expires and the event is claimed again: nothing is lost.
            tracing::warn!(event_id = %id, error = %e, "cannot record a webhook event failure; its lease will expire");
        }
    }
}

/// Wakes the workers on every `NOTIFY webhook_events`; reconnects after a lost connection (the
/// workers' idle poll covers the gap).
async fn listen(db: Db, wake: Arc<Notify>, health_check: Duration) {
    loop {
        let mut listener = db
            .listen_retrying(&[ingest::CHANNEL], "event processor")
            .await;
        wake.notify_waiters();
        loop {
            match listener
                .wait(health_check.max(Duration::from_secs(5)))
                .await
            {
                Ok(notes) if notes.is_empty() => {}
                Ok(_) => wake.notify_waiters(),
                Err(e) => {
                    tracing::warn!(error = %e, "event processor lost its listener; reconnecting");
                    break;
                }
            }
        }
    }
}
