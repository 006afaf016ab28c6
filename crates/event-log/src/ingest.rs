//! Storing a webhook delivery before it is acknowledged.

use crate::schema::webhook_events;
use credentials::Keyring;
use db::{Db, OrgId, SystemOp};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl};
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

/// The app a Dialpad delivery names: its organization, whether it is active, and its sealed
/// webhook secret (key id, nonce, ciphertext) if it has one.
type WebhookApp = (Uuid, bool, Option<String>, Option<Vec<u8>>, Option<Vec<u8>>);

/// `dialpad_webhook_app(app)` (migration 000006) for the query builder, so that the look-up of
/// every Dialpad delivery is a statement prepared once per connection (issue 22).
mod lookup {
    #![allow(missing_docs)]
    use diesel::sql_types::Uuid;

    diesel::define_sql_function! {
        /// The app's organization, activity and sealed webhook secret; no row for an unknown app.
        fn dialpad_webhook_app(p_app: Uuid) -> diesel::sql_types::Record<(
            diesel::sql_types::Uuid,
            diesel::sql_types::Bool,
            diesel::sql_types::Nullable<diesel::sql_types::Text>,
            diesel::sql_types::Nullable<diesel::sql_types::Bytea>,
            diesel::sql_types::Nullable<diesel::sql_types::Bytea>,
        )>;
    }
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
            diesel::select(lookup::dialpad_webhook_app(app))
                .get_result(c)
                .await
                .optional()
                .map_err(EventLogError::from)
        })
        .await?;
    let (org_id, is_active, key_id, nonce, ciphertext) =
        found.ok_or(EventLogError::NotFound("app"))?;
    let org = OrgId(org_id);
    if !is_active {
        return Err(EventLogError::AppInactive);
    }
    let secret = match (key_id, nonce, ciphertext) {
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
        .tenant(org, async move |tx| {
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
                .get_result(tx)
                .await
                .optional()?;
            if let Some(id) = inserted {
                let job = NewJob::new(JOB_KIND, json!({ "event_id": id }))
                    .ordered_by(order_key(app, &value["call_id"]));
                jobs::enqueue(tx, job).await?;
                return Ok::<_, EventLogError>((id, false));
            }
            let existing: Uuid = webhook_events::table
                .filter(webhook_events::app_id.eq(app))
                .filter(webhook_events::org_id.eq(org.0))
                .filter(webhook_events::source.eq("dialpad"))
                .filter(webhook_events::idempotency_key.eq(&key))
                .select(webhook_events::id)
                .first(tx)
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
