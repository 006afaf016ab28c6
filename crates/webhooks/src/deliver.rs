//! Delivery: the [`DELIVER_JOB`] handler that signs, sends and records one attempt.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::schema::{
    webhook_attempts as wa, webhook_deliveries as wd, webhook_endpoints as we,
    webhook_messages as wm,
};
use chrono::Utc;
use db::{Db, TenantTx};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl};
use diesel_async::RunQueryDsl;
use jobs::{Done, Failure, Job, RetryPolicy, Runner};
use realtime::{Audience, RealtimeEvent};
use serde_json::json;
use tenancy::audit::{Actor, RequestOrigin};
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::emit::{Task, enqueue};
use crate::endpoints::{ChangedBy, Endpoints, audited, find};
use crate::ssrf::GuardedResolver;
use crate::{WebhookError, signature};

/// The job kind of one delivery attempt.
pub const DELIVER_JOB: &str = "webhooks.deliver";
/// Response bytes kept in the delivery log.
pub const RESPONSE_KEPT: usize = 2048;

/// The delays before each retry after the first, immediate, attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(pub Vec<Duration>);

impl Default for RetrySchedule {
    /// Standard Webhooks' (and Svix's) schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; eight
    /// attempts over about 27.5 hours.
    fn default() -> Self {
        let s = Duration::from_secs;
        Self(vec![
            s(5),
            s(300),
            s(1800),
            s(7200),
            s(18_000),
            s(36_000),
            s(36_000),
        ])
    }
}

impl FromStr for RetrySchedule {
    type Err = String;

    /// Comma-separated delays, each a number with a unit `ms`, `s`, `m` or `h`
    /// (`5s,5m,30m,2h,5h,10h,10h`); empty: no retries.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let delay = |d: &str| -> Option<Duration> {
            let d = d.trim();
            let split = d.find(|c: char| !c.is_ascii_digit())?;
            let n: u64 = d[..split].parse().ok()?;
            match &d[split..] {
                "ms" => Some(Duration::from_millis(n)),
                "s" => Some(Duration::from_secs(n)),
                "m" => Some(Duration::from_secs(n * 60)),
                "h" => Some(Duration::from_secs(n * 3600)),
                _ => None,
            }
        };
        if s.trim().is_empty() {
            return Ok(Self(Vec::new()));
        }
        s.split(',')
            .map(|d| delay(d).ok_or_else(|| format!("bad delay {d:?}")))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }
}

/// How messages are delivered.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Delays before each retry.
    pub schedule: RetrySchedule,
    /// The whole request's timeout (15 s by default).
    pub timeout: Duration,
    /// An endpoint whose attempts have failed without a success for this long is disabled
    /// (5 days by default).
    pub disable_after: Duration,
    /// Attempts in flight to one endpoint from this instance at most (4 by default); further
    /// jobs for it wait a second, so one slow receiver holds at most this many workers.
    pub endpoint_concurrency: usize,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            schedule: RetrySchedule::default(),
            timeout: Duration::from_secs(15),
            disable_after: Duration::from_secs(5 * 24 * 3600),
            endpoint_concurrency: 4,
        }
    }
}

/// Sends messages: the handler of [`DELIVER_JOB`].
#[derive(Debug, Clone)]
pub struct Deliverer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    endpoints: Endpoints,
    http: reqwest::Client,
    config: DeliveryConfig,
    in_flight: Mutex<HashMap<Uuid, Arc<Semaphore>>>,
}

/// What one attempt needs, read before sending.
struct Prepared {
    url: String,
    message_id: String,
    body: Vec<u8>,
    secrets: Vec<zeroize::Zeroizing<String>>,
}

/// What one attempt gave.
struct Attempt {
    succeeded: bool,
    status_code: Option<i32>,
    latency_ms: i32,
    response_body: String,
    error: Option<String>,
}

impl Deliverer {
    /// A deliverer reading through `db`, signing with `endpoints`' secrets and resolving
    /// names through its [`crate::ssrf::AddressPolicy`].
    ///
    /// # Errors
    /// [`WebhookError::Invalid`] when the HTTP client cannot be built.
    pub fn new(db: Db, endpoints: Endpoints, config: DeliveryConfig) -> Result<Self, WebhookError> {
        let _ = rustls_provider();
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver::new(Arc::clone(
                endpoints.policy(),
            ))))
            .user_agent(concat!(
                "voice-platform-webhooks/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|e| WebhookError::Invalid(format!("HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                endpoints,
                http,
                config,
                in_flight: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Registers [`DELIVER_JOB`] on `runner`. The runner's own retries cover only failures to
    /// read or record (the database); a receiver's failures follow the [`RetrySchedule`].
    #[must_use]
    pub fn register_jobs(&self, runner: Runner) -> Runner {
        let this = self.clone();
        runner.register(DELIVER_JOB, RetryPolicy::default(), move |job| {
            let this = this.clone();
            async move { this.run(job).await }
        })
    }

    async fn run(&self, job: Job) -> Result<Done, Failure> {
        let task: Task = serde_json::from_value(job.payload.clone())
            .map_err(|e| Failure::Permanent(format!("bad payload: {e}")))?;
        let Ok(_permit) = self.limit(task.endpoint_id).try_acquire_owned() else {
            return self.defer(&job, &task).await;
        };
        let Some(prepared) = self.prepare(&job, &task).await? else {
            return Ok(Done::Recorded);
        };
        let attempt = self.send(&prepared).await;
        self.record(&job, &task, attempt).await?;
        Ok(Done::Recorded)
    }

    /// The semaphore bounding attempts in flight to `endpoint`.
    fn limit(&self, endpoint: Uuid) -> Arc<Semaphore> {
        let mut map = self
            .inner
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() > 10_000 {
            map.retain(|_, s| Arc::strong_count(s) > 1);
        }
        let permits = self.inner.config.endpoint_concurrency.max(1);
        Arc::clone(
            map.entry(endpoint)
                .or_insert_with(|| Arc::new(Semaphore::new(permits))),
        )
    }

    /// Puts the job back a second later (its endpoint has its fill of attempts in flight).
    async fn defer(&self, job: &Job, task: &Task) -> Result<Done, Failure> {
        let at = Utc::now() + chrono::Duration::seconds(1);
        let (job, task) = (job.clone(), task.clone());
        self.inner
            .db
            .tenant(job.org, async move |tx| {
                enqueue(tx, &task, Some(at)).await?;
                job.complete(tx).await.map_err(Failure::from)
            })
            .await?;
        Ok(Done::Recorded)
    }

    /// Reads what the attempt needs; `None` when there is nothing to send (the delivery
    /// succeeded already, or its endpoint or message is gone or disabled), the job then being
    /// completed and the delivery marked accordingly.
    async fn prepare(&self, job: &Job, task: &Task) -> Result<Option<Prepared>, Failure> {
        let (job, task, endpoints) = (job.clone(), task.clone(), self.inner.endpoints.clone());
        self.inner
            .db
            .tenant(job.org, async move |tx| {
                let org = job.org;
                let endpoint = find(tx, task.endpoint_id).await.ok();
                let status = delivery_status(tx, &task).await?;
                let payload: Option<serde_json::Value> = wm::table
                    .find(&task.message_id)
                    .filter(db::same_tenant(wm::org_id, org.0))
                    .select(wm::payload)
                    .first(tx)
                    .await
                    .optional()
                    .map_err(db::DbError::Query)?;
                let (Some(endpoint), Some(status), Some(payload)) = (endpoint, status, payload)
                else {
                    job.complete(tx).await?;
                    return Ok(None);
                };
                if !endpoint.enabled {
                    set_delivery(tx, &task, "failed", None).await?;
                    job.complete(tx).await?;
                    return Ok(None);
                }
                if status == "succeeded" && !task.manual {
                    job.complete(tx).await?;
                    return Ok(None);
                }
                let secrets = endpoints
                    .signing_secrets(tx, endpoint.id)
                    .await
                    .map_err(|e| Failure::Retry(e.to_string()))?;
                Ok(Some(Prepared {
                    url: endpoint.url,
                    message_id: task.message_id.clone(),
                    body: serde_json::to_vec(&payload).unwrap_or_default(),
                    secrets,
                }))
            })
            .await
    }

    /// Signs and posts the message; never fails (a failure is the attempt's outcome).
    async fn send(&self, p: &Prepared) -> Attempt {
        let timestamp = Utc::now().timestamp();
        let secrets: Vec<&str> = p.secrets.iter().map(|s| s.as_str()).collect();
        let started = Instant::now();
        // A literal address is not resolved, so the resolver cannot refuse it: checked here.
        let signed = match self.inner.endpoints.policy().check_url(&p.url) {
            Ok(_) => signature::sign(&p.message_id, timestamp, &p.body, &secrets),
            Err(e) => Err(e),
        };
        let result = match signed {
            Err(e) => Err(e.to_string()),
            Ok(signature) => self
                .inner
                .http
                .post(&p.url)
                .header("content-type", "application/json")
                .header("webhook-id", &p.message_id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .body(p.body.clone())
                .send()
                .await
                .map_err(|e| describe(&e)),
        };
        let (status_code, response_body, error) = match result {
            Ok(mut response) => {
                let status = response.status();
                let body = read_prefix(&mut response).await;
                (Some(i32::from(status.as_u16())), body, None)
            }
            Err(e) => (None, String::new(), Some(e)),
        };
        Attempt {
            succeeded: status_code.is_some_and(|s| (200..300).contains(&s)),
            status_code,
            latency_ms: i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX),
            response_body,
            error,
        }
    }

    /// Records the attempt, the delivery's state, the next attempt's job and the endpoint's
    /// health, and completes the job, in one transaction.
    async fn record(&self, job: &Job, task: &Task, attempt: Attempt) -> Result<(), Failure> {
        let (job, task) = (job.clone(), task.clone());
        let next = (!attempt.succeeded && !task.manual)
            .then(|| self.inner.config.schedule.0.get(task.retry).copied())
            .flatten();
        let disable_after = chrono::Duration::from_std(self.inner.config.disable_after)
            .unwrap_or(chrono::Duration::days(5));
        self.inner
            .db
            .tenant(job.org, async move |tx| {
                let (status, next_at) = match (attempt.succeeded, next) {
                    (true, _) => ("succeeded", None),
                    (false, Some(delay)) => ("pending", Some(Utc::now() + delay)),
                    (false, None) => ("failed", None),
                };
                // A failed manual resend leaves a delivery that succeeded before as it was.
                let outcome = DeliveryOutcome {
                    status,
                    next_at,
                    keep_success: task.manual && !attempt.succeeded,
                };
                let (number, status) = log_attempt(tx, &task, &attempt, &outcome).await?;
                if let Some(at) = next_at {
                    let retry = Task { retry: task.retry + 1, manual: false, ..task.clone() };
                    enqueue(tx, &retry, Some(at)).await?;
                }
                endpoint_health(tx, task.endpoint_id, attempt.succeeded, disable_after).await?;
                tracing::debug!(message = %task.message_id, attempt = number, status, "webhook attempt");
                job.complete(tx).await.map_err(Failure::from)
            })
            .await
    }
}

async fn delivery_status(tx: &mut TenantTx, task: &Task) -> Result<Option<String>, Failure> {
    let org = tx.org();
    Ok(wd::table
        .find((&task.message_id, task.endpoint_id))
        .filter(db::same_tenant(wd::org_id, org.0))
        .select(wd::status)
        .first(tx)
        .await
        .optional()
        .map_err(db::DbError::Query)?)
}

async fn set_delivery(
    tx: &mut TenantTx,
    task: &Task,
    status: &str,
    next_at: Option<chrono::DateTime<Utc>>,
) -> Result<(), Failure> {
    let org = tx.org();
    diesel::update(wd::table.find((&task.message_id, task.endpoint_id)))
        .filter(db::same_tenant(wd::org_id, org.0))
        .set((wd::status.eq(status), wd::next_attempt_at.eq(next_at)))
        .execute(tx)
        .await
        .map_err(db::DbError::Query)?;
    Ok(())
}

/// A delivery's state after one attempt.
struct DeliveryOutcome {
    /// `succeeded`, `pending` (a retry is due) or `failed`.
    status: &'static str,
    /// When the retry is due.
    next_at: Option<chrono::DateTime<Utc>>,
    /// Keep `succeeded` if the delivery had it (a failed manual resend).
    keep_success: bool,
}

/// Counts the attempt on its delivery and sets the delivery's state in one statement, then
/// appends the attempt to the log; returns the attempt's number and the delivery's status.
async fn log_attempt(
    tx: &mut TenantTx,
    task: &Task,
    a: &Attempt,
    outcome: &DeliveryOutcome,
) -> Result<(i32, String), Failure> {
    let org = tx.org();
    use diesel::sql_types::{Bool, Text};
    let status = diesel::dsl::sql::<Text>("CASE WHEN status = 'succeeded' AND ")
        .bind::<Bool, _>(outcome.keep_success)
        .sql(" THEN 'succeeded' ELSE ")
        .bind::<Text, _>(outcome.status)
        .sql(" END");
    let (number, status): (i32, String) =
        diesel::update(wd::table.find((&task.message_id, task.endpoint_id)))
            .filter(db::same_tenant(wd::org_id, org.0))
            .set((
                wd::attempts.eq(wd::attempts + 1),
                wd::status.eq(status),
                wd::next_attempt_at.eq(outcome.next_at),
            ))
            .returning((wd::attempts, wd::status))
            .get_result(tx)
            .await
            .map_err(db::DbError::Query)?;
    diesel::insert_into(wa::table)
        .values((
            wa::id.eq(Uuid::new_v4()),
            wa::org_id.eq(org.0),
            wa::message_id.eq(&task.message_id),
            wa::endpoint_id.eq(task.endpoint_id),
            wa::attempt.eq(number),
            wa::succeeded.eq(a.succeeded),
            wa::status_code.eq(a.status_code),
            wa::latency_ms.eq(a.latency_ms),
            wa::response_body.eq(&a.response_body),
            wa::error.eq(&a.error),
        ))
        .execute(tx)
        .await
        .map_err(db::DbError::Query)?;
    Ok((number, status))
}

/// Clears the endpoint's failure streak on a success; on a failure starts it, or disables
/// the endpoint when it has lasted `disable_after`, telling the organization's admins (a
/// realtime event) and the audit trail.
async fn endpoint_health(
    tx: &mut TenantTx,
    endpoint: Uuid,
    succeeded: bool,
    disable_after: chrono::Duration,
) -> Result<(), Failure> {
    let org = tx.org();
    let row = we::table
        .find(endpoint)
        .filter(db::same_tenant(we::org_id, org.0));
    if succeeded {
        diesel::update(row.filter(we::failing_since.is_not_null()))
            .set(we::failing_since.eq(None::<chrono::DateTime<Utc>>))
            .execute(tx)
            .await
            .map_err(db::DbError::Query)?;
        return Ok(());
    }
    let now = Utc::now();
    let since: Option<chrono::DateTime<Utc>> = diesel::update(row)
        .set(we::failing_since.eq(diesel::dsl::sql::<
            diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
        >("coalesce(failing_since, now())")))
        .returning(we::failing_since)
        .get_result::<Option<chrono::DateTime<Utc>>>(tx)
        .await
        .optional()
        .map_err(db::DbError::Query)?
        .flatten();
    match since {
        Some(since) if now - since >= disable_after => disable(tx, endpoint, since).await,
        _ => Ok(()),
    }
}

async fn disable(
    tx: &mut TenantTx,
    endpoint: Uuid,
    since: chrono::DateTime<Utc>,
) -> Result<(), Failure> {
    let org = tx.org();
    let reason = format!("every attempt failed since {}", db::timestamp::iso(since));
    let url: Option<String> = diesel::update(we::table.find(endpoint))
        .filter(db::same_tenant(we::org_id, org.0))
        .filter(we::enabled.eq(true))
        .set((
            we::enabled.eq(false),
            we::disabled_reason.eq(&reason),
            we::disabled_at.eq(Utc::now()),
        ))
        .returning(we::url)
        .get_result(tx)
        .await
        .optional()
        .map_err(db::DbError::Query)?;
    let Some(url) = url else {
        return Ok(());
    };
    tracing::warn!(%endpoint, "webhook endpoint disabled after failing");
    let payload = json!({
        "type": "webhook_endpoint.disabled",
        "endpoint_id": endpoint,
        "url": url,
        "reason": reason,
        "timestamp": db::timestamp::iso(Utc::now()),
    });
    let event = RealtimeEvent {
        audience: Audience::Users { min_role: "admin" },
        target_crm_user: None,
        payload,
    };
    realtime::outbox::publish(tx, event)
        .await
        .map_err(db::DbError::Query)?;
    let by = ChangedBy {
        actor: Actor::System,
        origin: RequestOrigin::default(),
    };
    audited(
        tx,
        &by,
        "webhook_endpoint.disabled",
        endpoint,
        json!({"reason": reason}),
    )
    .await
    .map_err(|e| Failure::Retry(e.to_string()))
}

/// A transport failure in words, without the URL (it may carry a token in its query).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_request() {
        "request failed"
    } else {
        "transport error"
    };
    let source = std::error::Error::source(e)
        .map(ToString::to_string)
        .unwrap_or_default();
    format!("{kind}: {source}").chars().take(500).collect()
}

/// The first [`RESPONSE_KEPT`] bytes of the response body, as text (lossy), without reading
/// the rest.
async fn read_prefix(response: &mut reqwest::Response) -> String {
    let mut kept = Vec::new();
    while kept.len() < RESPONSE_KEPT {
        match response.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
            _ => break,
        }
    }
    kept.truncate(RESPONSE_KEPT);
    String::from_utf8_lossy(&kept).into_owned()
}

/// Installs ring as rustls' provider if none is (reqwest is built without a default one).
fn rustls_provider() -> bool {
    rustls::crypto::ring::default_provider()
        .install_default()
        .is_ok()
}

impl From<WebhookError> for Failure {
    fn from(e: WebhookError) -> Self {
        Self::Retry(e.to_string())
    }
}
