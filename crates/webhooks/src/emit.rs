//! Writing messages and their deliveries inside the transaction that causes them, and the
//! manual ways to send again: a test event, a resend of one message, a replay since a time.

use crate::schema::{webhook_deliveries as wd, webhook_endpoints as we, webhook_messages as wm};
use chrono::{DateTime, Utc};
use db::arrays::TextList;
use db::{DbError, OrgId, TenantTx};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl};
use diesel_async::RunQueryDsl;
use jobs::NewJob;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::endpoints::{ChangedBy, audited, find, subscribes};
use crate::{DELIVER_JOB, WebhookError, catalog};

/// Messages a replay re-queues at most per call (the rest: call again from the last one's time).
pub const REPLAY_MAX: i64 = 10_000;

/// What a delivery job carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Task {
    pub message_id: String,
    pub endpoint_id: Uuid,
    /// Which try of the schedule this is: 0 the first (immediate), n the n-th retry.
    pub retry: usize,
    /// A manual resend: one attempt, no retries after it.
    #[serde(default)]
    pub manual: bool,
}

/// Writes an event of `event_type` (a [`catalog`] type) with `data` for organization `org`, on
/// `c` inside the caller's tenant transaction: the message, one delivery and one job per
/// enabled endpoint subscribed to the type. The job runner is woken after the commit. Nothing
/// is written when no endpoint subscribes (one indexed read). Returns the message id
/// (`msg_` + 32 hex, the `webhook-id` header), if one was written.
///
/// # Errors
/// [`DbError::Query`]; the caller's transaction then rolls back.
pub async fn emit(
    tx: &mut TenantTx,
    event_type: &'static str,
    data: Value,
) -> Result<Option<String>, DbError> {
    let id = format!("msg_{}", Uuid::new_v4().simple());
    emit_as(tx, event_type, data, id).await
}

/// [`emit`] at most once per `(org, event_type, key)`: the message id is derived from them
/// (`msg_` + the first 32 hex digits of their SHA-256), so an event caused again by a
/// provider's redelivery (a Vapi status update sent twice) is the same message and is not
/// queued again while the message is kept. Returns the id when this call wrote it.
///
/// # Errors
/// [`DbError::Query`]; the caller's transaction then rolls back.
pub async fn emit_once(
    tx: &mut TenantTx,
    event_type: &'static str,
    data: Value,
    key: &str,
) -> Result<Option<String>, DbError> {
    let org = tx.org();
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{}\n{event_type}\n{key}", org.0).as_bytes(),
    );
    let id = format!("msg_{}", &hex::encode(digest.as_ref())[..32]);
    emit_as(tx, event_type, data, id).await
}

/// The organization's enabled endpoints and the event types each subscribes to (none listed:
/// every type), read once so that several events written in one transaction (a batch of
/// Dialpad events) share the read.
#[derive(Debug, Clone)]
pub struct Subscriptions(Vec<(Uuid, Vec<String>)>);

impl Subscriptions {
    /// Reads the subscriptions of the transaction's organization (one indexed read).
    ///
    /// # Errors
    /// [`DbError::Query`].
    pub async fn load(tx: &mut TenantTx) -> Result<Self, DbError> {
        let org = tx.org();
        let endpoints: Vec<(Uuid, TextList)> = we::table
            .filter(we::org_id.eq(org.0))
            .filter(we::enabled.eq(true))
            .select((we::id, we::event_types))
            .load(tx)
            .await
            .map_err(DbError::Query)?;
        let endpoints = endpoints.into_iter().map(|(id, t)| (id, t.into()));
        Ok(Self(endpoints.collect()))
    }

    /// The endpoints subscribed to `event_type`.
    fn of(&self, event_type: &str) -> Vec<Uuid> {
        self.0
            .iter()
            .filter(|(_, types)| subscribes(types, event_type))
            .map(|(id, _)| *id)
            .collect()
    }
}

/// Writes events of one transaction's organization, reading its subscriptions at the first
/// event and reusing them for the rest ([`emit`] reads them at every event): for work that
/// emits many events in one transaction (a batch of post-call analyses). An endpoint changed by
/// another transaction after that first read is seen by the next transaction, as with
/// [`Subscriptions::load`]. Subscriptions are kept with their organization and read again for a
/// transaction of another one, so an emitter cannot carry one tenant's endpoints to another.
#[derive(Debug, Default)]
pub struct Emitter {
    subscriptions: Option<(OrgId, Subscriptions)>,
}

impl Emitter {
    /// [`emit`] through the subscriptions this emitter read for the transaction's organization.
    ///
    /// # Errors
    /// [`DbError::Query`]; the caller's transaction then rolls back.
    pub async fn emit(
        &mut self,
        tx: &mut TenantTx,
        event_type: &'static str,
        data: Value,
    ) -> Result<Option<String>, DbError> {
        let org = tx.org();
        let subscriptions = match self.subscriptions.take() {
            Some((of, read)) if of == org => read,
            _ => Subscriptions::load(tx).await?,
        };
        let written = emit_to(tx, &subscriptions, event_type, data).await;
        self.subscriptions = Some((org, subscriptions));
        written
    }
}

/// [`emit`] with the organization's subscriptions already read in this transaction
/// ([`Subscriptions::load`]).
///
/// # Errors
/// [`DbError::Query`]; the caller's transaction then rolls back.
pub async fn emit_to(
    tx: &mut TenantTx,
    subscriptions: &Subscriptions,
    event_type: &'static str,
    data: Value,
) -> Result<Option<String>, DbError> {
    let id = format!("msg_{}", Uuid::new_v4().simple());
    write(tx, subscriptions, event_type, data, id).await
}

async fn emit_as(
    tx: &mut TenantTx,
    event_type: &'static str,
    data: Value,
    id: String,
) -> Result<Option<String>, DbError> {
    let subscriptions = Subscriptions::load(tx).await?;
    write(tx, &subscriptions, event_type, data, id).await
}

/// Writes message `id` and a delivery per endpoint of `subscriptions` subscribed to
/// `event_type`; nothing when none is.
async fn write(
    tx: &mut TenantTx,
    subscriptions: &Subscriptions,
    event_type: &'static str,
    data: Value,
    id: String,
) -> Result<Option<String>, DbError> {
    debug_assert!(
        catalog::is_known(event_type),
        "{event_type} is not in the catalog"
    );
    let subscribed = subscriptions.of(event_type);
    if subscribed.is_empty() {
        return Ok(None);
    }
    if !insert_message(tx, &id, event_type, data).await? {
        return Ok(None);
    }
    for endpoint in subscribed {
        queue_delivery(tx, &id, endpoint, false).await?;
    }
    Ok(Some(id))
}

/// Inserts message `id`; false when it exists already (an [`emit_once`] repeated).
async fn insert_message(
    tx: &mut TenantTx,
    id: &str,
    event_type: &str,
    data: Value,
) -> Result<bool, DbError> {
    let org = tx.org();
    let payload = json!({
        "type": event_type,
        "timestamp": db::timestamp::iso(Utc::now()),
        "data": data,
    });
    let inserted = diesel::insert_into(wm::table)
        .values((
            wm::id.eq(id),
            wm::org_id.eq(org.0),
            wm::event_type.eq(event_type),
            wm::payload.eq(payload),
        ))
        .on_conflict(wm::id)
        .do_nothing()
        .execute(tx)
        .await
        .map_err(DbError::Query)?;
    Ok(inserted == 1)
}

/// Marks the delivery of `message` to `endpoint` pending (creating it if needed) and queues its
/// job, due now.
async fn queue_delivery(
    tx: &mut TenantTx,
    message: &str,
    endpoint: Uuid,
    manual: bool,
) -> Result<(), DbError> {
    let org = tx.org();
    let now = Utc::now();
    diesel::insert_into(wd::table)
        .values((
            wd::org_id.eq(org.0),
            wd::message_id.eq(message),
            wd::endpoint_id.eq(endpoint),
            wd::next_attempt_at.eq(now),
        ))
        .on_conflict((wd::message_id, wd::endpoint_id))
        .do_update()
        .set((wd::status.eq("pending"), wd::next_attempt_at.eq(now)))
        .execute(tx)
        .await
        .map_err(DbError::Query)?;
    let task = Task {
        message_id: message.to_owned(),
        endpoint_id: endpoint,
        retry: 0,
        manual,
    };
    enqueue(tx, &task, None).await
}

/// Queues `task` (due at `at`, or now) and wakes the job runner after the commit.
pub(crate) async fn enqueue(
    tx: &mut TenantTx,
    task: &Task,
    at: Option<DateTime<Utc>>,
) -> Result<(), DbError> {
    // Serializing a struct of strings, a uuid, a number and a flag cannot fail.
    let payload = serde_json::to_value(task).unwrap_or_default();
    let mut job = NewJob::new(DELIVER_JOB, payload);
    job.run_at = at;
    jobs::enqueue(tx, job).await?;
    Ok(())
}

/// Sends a `webhook.test` message to endpoint `endpoint` only; returns its id.
///
/// # Errors
/// [`WebhookError::NotFound`]; [`WebhookError::Disabled`]; [`WebhookError::Db`].
pub async fn send_test(
    tx: &mut TenantTx,
    by: ChangedBy,
    endpoint: Uuid,
) -> Result<String, WebhookError> {
    if !find(tx, endpoint).await?.enabled {
        return Err(WebhookError::Disabled);
    }
    let data = json!({"endpoint_id": endpoint, "message": "This is a test event."});
    let id = format!("msg_{}", Uuid::new_v4().simple());
    insert_message(tx, &id, catalog::TEST_EVENT, data).await?;
    queue_delivery(tx, &id, endpoint, true).await?;
    audited(
        tx,
        &by,
        "webhook_endpoint.test_sent",
        endpoint,
        json!({"message_id": id}),
    )
    .await?;
    Ok(id)
}

/// Sends message `message` to endpoint `endpoint` once more (one attempt, logged like the
/// others), whatever its delivery's state.
///
/// # Errors
/// [`WebhookError::NotFound`] for an unknown message or endpoint; [`WebhookError::Disabled`];
/// [`WebhookError::Db`].
pub async fn resend(
    tx: &mut TenantTx,
    by: ChangedBy,
    message: String,
    endpoint: Uuid,
) -> Result<(), WebhookError> {
    let org = tx.org();
    if !find(tx, endpoint).await?.enabled {
        return Err(WebhookError::Disabled);
    }
    let known = wm::table
        .find(&message)
        .filter(db::same_tenant(wm::org_id, org.0))
        .select(wm::id)
        .first::<String>(tx)
        .await
        .optional()?;
    if known.is_none() {
        return Err(WebhookError::NotFound("message"));
    }
    queue_delivery(tx, &message, endpoint, true).await?;
    let detail = json!({"message_id": message});
    audited(tx, &by, "webhook_endpoint.message_resent", endpoint, detail).await
}

/// Queues every message of the organization created at or after `since` whose type endpoint
/// `endpoint` subscribes to (test events aside), oldest first, at most [`REPLAY_MAX`], each
/// with the full retry schedule. Returns how many were queued.
///
/// # Errors
/// [`WebhookError::NotFound`]; [`WebhookError::Disabled`]; [`WebhookError::Db`].
pub async fn replay(
    tx: &mut TenantTx,
    by: ChangedBy,
    endpoint: Uuid,
    since: DateTime<Utc>,
) -> Result<usize, WebhookError> {
    let org = tx.org();
    let target = find(tx, endpoint).await?;
    if !target.enabled {
        return Err(WebhookError::Disabled);
    }
    let mut query = wm::table
        .filter(wm::org_id.eq(org.0))
        .filter(wm::created_at.ge(since))
        .filter(wm::event_type.ne(catalog::TEST_EVENT))
        .order((wm::created_at, wm::id))
        .limit(REPLAY_MAX)
        .select(wm::id)
        .into_boxed();
    if !target.event_types.is_empty() {
        query = query.filter(wm::event_type.eq_any(target.event_types.clone()));
    }
    let ids: Vec<String> = query.load(tx).await?;
    for id in &ids {
        queue_delivery(tx, id, endpoint, false).await?;
    }
    let detail = json!({"since": since, "queued": ids.len()});
    audited(tx, &by, "webhook_endpoint.replayed", endpoint, detail).await?;
    Ok(ids.len())
}
