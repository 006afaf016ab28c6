//! The delivery log: messages sent, each message's deliveries, and every attempt.

use crate::schema::{webhook_attempts as wa, webhook_deliveries as wd, webhook_messages as wm};
use chrono::{DateTime, Utc};
use db::{Db, TenantTx};
use diesel::{
    ExpressionMethods, OptionalExtension, QueryDsl, Queryable, Selectable, SelectableHelper,
};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::WebhookError;

/// A message as stored.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = wm, check_for_backend(diesel::pg::Pg))]
#[schema(as = WebhookMessageView)]
pub struct Message {
    /// `msg_` + 32 hex: the `webhook-id` header.
    pub id: String,
    /// Its event type.
    pub event_type: String,
    /// The body sent: `{"type", "timestamp", "data"}`.
    pub payload: serde_json::Value,
    /// When it was written (UTC).
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
}

/// A message's delivery to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = wd, check_for_backend(diesel::pg::Pg))]
#[schema(as = WebhookDeliveryView)]
pub struct Delivery {
    /// The message.
    #[serde(skip)]
    pub message_id: String,
    /// The endpoint.
    pub endpoint_id: Uuid,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// Attempts made.
    pub attempts: i32,
    /// When the next attempt is due, while pending.
    #[serde(serialize_with = "db::timestamp::serialize_opt")]
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// One attempt.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = wa, check_for_backend(diesel::pg::Pg))]
#[schema(as = WebhookAttemptView)]
pub struct AttemptRecord {
    /// Attempt id.
    pub id: Uuid,
    /// The message.
    pub message_id: String,
    /// The endpoint.
    #[serde(skip)]
    pub endpoint_id: Uuid,
    /// Its number within the delivery, from 1.
    pub attempt: i32,
    /// Whether the endpoint answered 2xx.
    pub succeeded: bool,
    /// The HTTP status, when an answer came.
    pub status_code: Option<i32>,
    /// Time to the answer's headers or the failure, milliseconds.
    pub latency_ms: i32,
    /// The first 2 KiB of the answer's body.
    pub response_body: String,
    /// The transport failure (timeout, refused connection, refused address), if any.
    pub error: Option<String>,
    /// When it was made, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
}

/// Filters and paging of [`messages`].
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    /// One event type.
    pub event_type: Option<String>,
    /// Messages at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Page size (1–200).
    pub limit: i64,
    /// Messages skipped.
    pub offset: i64,
}

/// The organization's messages, newest first.
///
/// # Errors
/// [`WebhookError::Db`].
pub async fn messages(tx: &mut TenantTx, f: MessageFilter) -> Result<Vec<Message>, WebhookError> {
    let org = tx.org();
    let mut q = wm::table
        .filter(wm::org_id.eq(org.0))
        .order((wm::created_at.desc(), wm::id.desc()))
        .limit(f.limit.clamp(1, 200))
        .offset(f.offset.max(0))
        .select(Message::as_select())
        .into_boxed();
    if let Some(t) = f.event_type {
        q = q.filter(wm::event_type.eq(t));
    }
    if let Some(since) = f.since {
        q = q.filter(wm::created_at.ge(since));
    }
    Ok(q.load(tx).await?)
}

/// The deliveries of message `message` (one per endpoint it was addressed to).
///
/// # Errors
/// [`WebhookError::Db`].
pub async fn deliveries(tx: &mut TenantTx, message: String) -> Result<Vec<Delivery>, WebhookError> {
    let org = tx.org();
    Ok(wd::table
        .filter(db::same_tenant(wd::org_id, org.0))
        .filter(wd::message_id.eq(message))
        .order(wd::endpoint_id)
        .select(Delivery::as_select())
        .load(tx)
        .await?)
}

/// Attempts to endpoint `endpoint`, newest first, optionally of one message.
///
/// # Errors
/// [`WebhookError::Db`].
pub async fn attempts(
    tx: &mut TenantTx,
    endpoint: Uuid,
    message: Option<String>,
    limit: i64,
    offset: i64,
) -> Result<Vec<AttemptRecord>, WebhookError> {
    let org = tx.org();
    let mut q = wa::table
        .filter(db::same_tenant(wa::org_id, org.0))
        .filter(wa::endpoint_id.eq(endpoint))
        .order((wa::created_at.desc(), wa::attempt.desc()))
        .limit(limit.clamp(1, 200))
        .offset(offset.max(0))
        .select(AttemptRecord::as_select())
        .into_boxed();
    if let Some(m) = message {
        q = q.filter(wa::message_id.eq(m));
    }
    Ok(q.load(tx).await?)
}

/// Deletes messages older than 30 days with their deliveries and attempts (daily); returns
/// how many messages went.
///
/// # Errors
/// [`WebhookError::Db`].
pub async fn prune(db: &Db) -> Result<i64, WebhookError> {
    #[derive(diesel::QueryableByName)]
    struct Pruned {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        pruned: i64,
    }
    db.system(db::SystemOp::WebhookCleanup, async move |c| {
        let row: Pruned = diesel::sql_query("SELECT webhook_messages_prune() AS pruned")
            .get_result(c)
            .await?;
        Ok(row.pruned)
    })
    .await
}

/// One message.
///
/// # Errors
/// [`WebhookError::NotFound`]; [`WebhookError::Db`].
pub async fn message(tx: &mut TenantTx, id: String) -> Result<Message, WebhookError> {
    let org = tx.org();
    wm::table
        .find(id)
        .filter(db::same_tenant(wm::org_id, org.0))
        .select(Message::as_select())
        .first(tx)
        .await
        .optional()?
        .ok_or(WebhookError::NotFound("message"))
}
