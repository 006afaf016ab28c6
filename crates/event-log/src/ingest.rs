//! Storing a webhook delivery before it is acknowledged.

use std::sync::Arc;
use std::time::Duration;

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

/// How long a Dialpad app's look-up (organization, activity, opened webhook secret) is reused
/// by an instance: a change made elsewhere applies everywhere within this (issue 22: routing
/// look-ups served from a cache invalidated on every instance within a second).
pub const APP_TTL: Duration = Duration::from_secs(1);

/// A Dialpad app as its deliveries need it.
#[derive(Clone)]
struct AppRoute {
    org: OrgId,
    active: bool,
    /// The opened webhook secret; `None`: deliveries are plain JSON.
    secret: Option<Arc<zeroize::Zeroizing<Vec<u8>>>>,
}

/// The Dialpad apps this instance looked up in the last [`APP_TTL`] (at most 10,000), so that
/// a delivery is acknowledged on one connection in one transaction. Unknown apps are not
/// remembered. [`DialpadApps::forget`] drops an app at once on this instance after its secret
/// or activity changed here.
#[derive(Clone)]
pub struct DialpadApps {
    routes: moka::future::Cache<Uuid, AppRoute>,
}

impl Default for DialpadApps {
    fn default() -> Self {
        Self {
            routes: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(APP_TTL)
                .build(),
        }
    }
}

impl std::fmt::Debug for DialpadApps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DialpadApps({} cached)", self.routes.entry_count())
    }
}

impl DialpadApps {
    /// Forgets `app` on this instance (its secret or activity changed); other instances follow
    /// within [`APP_TTL`].
    pub async fn forget(&self, app: Uuid) {
        self.routes.invalidate(&app).await;
    }

    /// `app`'s organization, activity and opened secret: from the cache, else looked up
    /// (`dialpad_webhook_app`, as the system: the app names no tenant yet) and remembered.
    async fn route(
        &self,
        db: &Db,
        keyring: &Keyring,
        app: Uuid,
    ) -> Result<AppRoute, EventLogError> {
        if let Some(route) = self.routes.get(&app).await {
            return Ok(route);
        }
        let found: Option<WebhookApp> = db
            .system_read(SystemOp::DialpadWebhookLookup, async move |c| {
                diesel::select(lookup::dialpad_webhook_app(app))
                    .get_result(c)
                    .await
                    .optional()
                    .map_err(EventLogError::from)
            })
            .await?;
        let (org_id, active, key_id, nonce, ciphertext) =
            found.ok_or(EventLogError::NotFound("app"))?;
        let org = OrgId(org_id);
        let secret = match (key_id, nonce, ciphertext) {
            (Some(key_id), Some(nonce), Some(ciphertext)) => Some(Arc::new(secrets::open(
                keyring, org, app, key_id, &nonce, ciphertext,
            )?)),
            _ => None,
        };
        let route = AppRoute {
            org,
            active,
            secret,
        };
        self.routes.insert(app, route.clone()).await;
        Ok(route)
    }
}

/// Verifies a Dialpad delivery for `app` and stores it under its idempotency key together with
/// the `dialpad.event` job that applies it, all before returning, then wakes the job workers:
/// once this returns `Ok`, the event is durable and will be processed (once in effect) even if
/// this process dies at once. The app is resolved through `apps` (see [`DialpadApps`]).
///
/// # Errors
/// [`EventLogError::NotFound`] (unknown app), [`EventLogError::AppInactive`],
/// [`EventLogError::Payload`] (signature, format or missing `call_id`/`state`; nothing stored),
/// [`EventLogError::Crypto`], [`EventLogError::Db`].
pub async fn dialpad(
    db: &Db,
    keyring: &Keyring,
    apps: &DialpadApps,
    waker: &jobs::Waker,
    app: Uuid,
    body: &[u8],
) -> Result<Ingested, EventLogError> {
    let AppRoute {
        org,
        active,
        secret,
    } = apps.route(db, keyring, app).await?;
    if !active {
        return Err(EventLogError::AppInactive);
    }
    let value = dialpad::decode_body(body, secret.as_deref().map(|s| s.as_slice()))?;
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
                .filter(db::same_tenant(webhook_events::org_id, org.0))
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
