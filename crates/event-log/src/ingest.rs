//! Storing a webhook delivery before it is acknowledged.

use credentials::Keyring;
use db::schema::webhook_events;
use db::{Db, OrgId, SystemOp};
use diesel::sql_types::{Bool, Bytea, Nullable, Text, Uuid as SqlUuid};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, QueryableByName};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::dialpad::{self, CallEvent, EventKind};
use crate::processor::{JOB_KIND, order_key};
use crate::{EventLogError, secrets};
use jobs::NewJob;
use serde_json::json;

/// A stored delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// The stored event (the earlier one for a duplicate).
    pub event_id: Uuid,
    /// Whether this delivery repeated one already stored (then nothing new was stored).
    pub duplicate: bool,
    /// What it will do: `call.ring`, `call.started`, `call.ended`,
    /// `call.recording.completed`, `voicemail.received` or `ignored`.
    pub event_type: &'static str,
}

#[derive(QueryableByName)]
struct WebhookApp {
    #[diesel(sql_type = SqlUuid)]
    org_id: Uuid,
    #[diesel(sql_type = Bool)]
    is_active: bool,
    #[diesel(sql_type = Nullable<Text>)]
    key_id: Option<String>,
    #[diesel(sql_type = Nullable<Bytea>)]
    nonce: Option<Vec<u8>>,
    #[diesel(sql_type = Nullable<Bytea>)]
    ciphertext: Option<Vec<u8>>,
}

/// Verifies a Dialpad delivery for `app` and stores it under its idempotency key together with
/// the `dialpad.event` job that applies it, all before returning, then wakes the job workers:
/// once this returns `Ok`, the event is durable and will be processed (once in effect) even if
/// this process dies at once.
///
/// # Errors
/// [`EventLogError::NotFound`] (unknown app), [`EventLogError::AppInactive`],
/// [`EventLogError::Payload`] (signature, format or missing `call_id`/`state`; nothing stored),
/// [`EventLogError::Crypto`], [`EventLogError::Db`].
pub async fn dialpad(
    db: &Db,
    keyring: &Keyring,
    waker: &jobs::Waker,
    app: Uuid,
    body: &[u8],
) -> Result<Ingested, EventLogError> {
    let found: Option<WebhookApp> = db
        .system_read(SystemOp::DialpadWebhookLookup, async move |c| {
            diesel::sql_query("SELECT * FROM dialpad_webhook_app($1)")
                .bind::<SqlUuid, _>(app)
                .get_result(c)
                .await
                .optional()
                .map_err(EventLogError::from)
        })
        .await?;
    let found = found.ok_or(EventLogError::NotFound("app"))?;
    let org = OrgId(found.org_id);
    if !found.is_active {
        return Err(EventLogError::AppInactive);
    }
    let secret = match (found.key_id, found.nonce, found.ciphertext) {
        (Some(key_id), Some(nonce), Some(ciphertext)) => Some(secrets::open(
            keyring, org, app, key_id, &nonce, ciphertext,
        )?),
        _ => None,
    };
    let value = dialpad::decode_body(body, secret.as_deref().map(Vec::as_slice))?;
    let event = CallEvent::parse(&value)?;
    let key = event.idempotency_key(&value);
    let event_type = EventKind::of_state(&event.state).event_type();
    let (event_id, duplicate) = db
        .tenant(org, async move |c| {
            let inserted: Option<Uuid> = diesel::insert_into(webhook_events::table)
                .values((
                    webhook_events::id.eq(Uuid::new_v4()),
                    webhook_events::org_id.eq(org.0),
                    webhook_events::app_id.eq(app),
                    webhook_events::source.eq("dialpad"),
                    webhook_events::idempotency_key.eq(&key),
                    webhook_events::event_type.eq(event_type),
                    webhook_events::payload.eq(&value),
                ))
                .on_conflict_do_nothing()
                .returning(webhook_events::id)
                .get_result(c)
                .await
                .optional()?;
            if let Some(id) = inserted {
                let job = NewJob::new(JOB_KIND, json!({ "event_id": id }))
                    .ordered_by(order_key(app, &value["call_id"]));
                jobs::enqueue(c, org, job).await?;
                return Ok::<_, EventLogError>((id, false));
            }
            let existing: Uuid = webhook_events::table
                .filter(webhook_events::app_id.eq(app))
                .filter(webhook_events::org_id.eq(org.0))
                .filter(webhook_events::source.eq("dialpad"))
                .filter(webhook_events::idempotency_key.eq(&key))
                .select(webhook_events::id)
                .first(c)
                .await?;
            Ok((existing, true))
        })
        .await?;
    if !duplicate {
        waker.wake();
    }
    Ok(Ingested {
        event_id,
        duplicate,
        event_type,
    })
}
