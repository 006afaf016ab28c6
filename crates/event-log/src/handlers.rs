//! What a Dialpad event does, inside its organization's transaction (seed 000
//! `callEventHandlers`): calls upserted per app with a status that only moves forward
//! (`ringing < active < ended`), voicemails recorded, and seed-000 payloads published to the
//! app's WebSocket room, enriched with `target_crm_user` when the Dialpad user is mapped.
//!
//! Out-of-order arrival: every event fills the fields it knows (first timestamps kept, later
//! duration and recording kept), and only an event that moves the call forward is broadcast, so
//! a `ringing` arriving after `hangup` never pops up a ringing call. `missed` ends a call like
//! `hangup`; whichever comes first publishes the one `call.ended`, with the call's `outcome`
//! (`completed` when it was ever answered, else `missed`; a column derived from the row).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use db::TenantTx;
use db::timestamp::iso;
use diesel_async::RunQueryDsl;
use realtime::{Audience, RealtimeEvent};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::EventLogError;
use crate::dialpad::{CallEvent, EventKind};

fn rank(status: &str) -> u8 {
    match status {
        "ringing" => 1,
        "active" => 2,
        "ended" => 3,
        _ => 0,
    }
}

/// The SQL function behind [`call_update`] (its 15 parameters are the function's).
#[allow(clippy::too_many_arguments)]
mod sql {
    use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamptz, Uuid};

    diesel::define_sql_function! {
        /// `calls_upsert_dialpad(…)` (migration 000027): the call's status before the event
        /// (none for a new call) and its outcome after it. Called through the query builder so
        /// that the statement is prepared once per connection (issue 22).
        fn calls_upsert_dialpad(
            p_id: Uuid,
            p_org: Uuid,
            p_app: Uuid,
            p_call_id: BigInt,
            p_user_id: Nullable<BigInt>,
            p_direction: Nullable<Text>,
            p_from: Nullable<Text>,
            p_to: Nullable<Text>,
            p_status: Text,
            p_rang_at: Nullable<Timestamptz>,
            p_started_at: Nullable<Timestamptz>,
            p_ended_at: Nullable<Timestamptz>,
            p_duration: Nullable<Integer>,
            p_recording_url: Nullable<Text>,
            p_at: Timestamptz,
        ) -> diesel::sql_types::Record<(
            diesel::sql_types::Nullable<diesel::sql_types::Text>,
            diesel::sql_types::Nullable<diesel::sql_types::Text>,
        )>;
    }
}

/// What the events applied in one transaction share, read once for all of them: the
/// organization's webhook subscriptions and the CRM users of the Dialpad users the events name
/// (one read per app), instead of two reads per event.
pub(crate) struct Shared {
    subscriptions: webhooks::Subscriptions,
    crm_users: HashMap<(Uuid, i64), String>,
}

impl Shared {
    /// Reads what `events` (app, parsed event) need.
    pub(crate) async fn load<'e>(
        tx: &mut TenantTx,
        events: impl Iterator<Item = (Uuid, &'e CallEvent)>,
    ) -> Result<Self, EventLogError> {
        let mut users: HashMap<Uuid, Vec<i64>> = HashMap::new();
        for (app, event) in events {
            if let Some(user) = event.dialpad_user_id() {
                users.entry(app).or_default().push(user);
            }
        }
        let mut crm_users = HashMap::new();
        for (app, ids) in users {
            let found = user_mapping::crm_users(tx, app, &ids).await?;
            crm_users.extend(found.into_iter().map(|(user, crm)| ((app, user), crm)));
        }
        let subscriptions = webhooks::Subscriptions::load(tx).await?;
        Ok(Self {
            subscriptions,
            crm_users,
        })
    }
}

/// Applies one stored event, parsed. Returns our event type (`call.ring`, …, `ignored`).
pub(crate) async fn apply(
    tx: &mut TenantTx,
    shared: &Shared,
    app: Uuid,
    event: &CallEvent,
) -> Result<&'static str, EventLogError> {
    let kind = EventKind::of_state(&event.state);
    let at = (shared, app, event);
    match kind {
        EventKind::Ring => call_update(tx, at, "ringing", kind).await?,
        EventKind::Started => call_update(tx, at, "active", kind).await?,
        EventKind::Ended | EventKind::Missed => call_update(tx, at, "ended", kind).await?,
        // Dialpad reports a recording once the call is over.
        EventKind::RecordingCompleted => call_update(tx, at, "ended", kind).await?,
        EventKind::Voicemail => voicemail_received(tx, at).await?,
        EventKind::Other => {}
    }
    Ok(kind.event_type())
}

fn duration_seconds(event: &CallEvent) -> Option<i32> {
    let ms = event.duration_ms.or_else(|| {
        let (start, end) = (
            event.date_connected.or(event.date_started)?,
            event.date_ended?,
        );
        Some((end - start).num_milliseconds().max(0) as f64)
    })?;
    i32::try_from((ms / 1000.0).round() as i64).ok()
}

/// An event being applied: what its transaction shares, its app and the event.
type At<'a> = (&'a Shared, Uuid, &'a CallEvent);

async fn call_update(
    tx: &mut TenantTx,
    at: At<'_>,
    status: &'static str,
    kind: EventKind,
) -> Result<(), EventLogError> {
    let (_, app, event) = at;
    let org = tx.org();
    let (from, to) = event.from_to();
    let duration = kind.ends_call().then(|| duration_seconds(event)).flatten();
    // The event's own moment falls back to when it happened; other moments only as sent.
    let moment =
        |own: bool, sent: Option<DateTime<Utc>>| sent.or_else(|| own.then(|| event.happened_at()));
    let rang_at = moment(kind == EventKind::Ring, event.date_rang);
    let started_at = moment(kind == EventKind::Started, event.date_connected);
    let ended_at = moment(kind.ends_call(), event.date_ended);
    let (prior, outcome): (Option<String>, Option<String>) =
        diesel::select(sql::calls_upsert_dialpad(
            Uuid::new_v4(),
            org.0,
            app,
            event.call_id,
            event.dialpad_user_id(),
            event.direction.clone(),
            from.clone(),
            to.clone(),
            status,
            rang_at,
            started_at,
            ended_at,
            duration,
            <[String]>::first(&event.recording_urls).cloned(),
            event.happened_at(),
        ))
        .get_result(tx)
        .await?;
    let advanced = prior.is_none_or(|p| rank(status) > rank(&p));
    if !advanced || kind == EventKind::RecordingCompleted {
        return Ok(());
    }
    let mut payload = json!({
        "event": kind.event_type(),
        "call_id": event.call_id,
        "direction": event.direction,
        "from_number": from,
        "to_number": to,
        "status": status,
        "user_id": event.dialpad_user_id(),
        "timestamp": iso(event.happened_at()),
    });
    if kind.ends_call() {
        payload["duration_seconds"] = json!(duration);
        payload["outcome"] = json!(outcome);
    }
    if let Some(event_type) = webhook_type(kind) {
        emit(tx, at, event_type, &payload).await?;
    }
    publish(tx, at, payload).await
}

/// The outbound webhook type of a call state (issue 23 §2, `dialpad.call.*`).
fn webhook_type(kind: EventKind) -> Option<&'static str> {
    match kind {
        EventKind::Ring => Some("dialpad.call.ringing"),
        EventKind::Started => Some("dialpad.call.connected"),
        EventKind::Ended | EventKind::Missed => Some("dialpad.call.ended"),
        EventKind::RecordingCompleted | EventKind::Voicemail | EventKind::Other => None,
    }
}

/// Writes the outbound webhook event of a Dialpad event: the realtime payload with its app,
/// without the realtime-only `event` and `target_crm_user` fields.
async fn emit(
    tx: &mut TenantTx,
    (shared, app, _): At<'_>,
    event_type: &'static str,
    payload: &Value,
) -> Result<(), EventLogError> {
    let mut data = payload.clone();
    if let Some(fields) = data.as_object_mut() {
        fields.remove("event");
        fields.insert("app_id".into(), json!(app));
    }
    webhooks::emit_to(tx, &shared.subscriptions, event_type, data).await?;
    Ok(())
}

async fn voicemail_received(tx: &mut TenantTx, at: At<'_>) -> Result<(), EventLogError> {
    let (_, app, event) = at;
    let (from, to) = event.from_to();
    let duration = event
        .voicemail_duration_ms
        .and_then(|ms| i32::try_from((ms / 1000.0).round() as i64).ok());
    let voicemail = voicemail::upsert(
        tx,
        app,
        voicemail::NewVoicemail {
            dialpad_call_id: Some(event.call_id),
            dialpad_user_id: event.dialpad_user_id().unwrap_or(0),
            from_number: from.clone(),
            to_number: to.clone(),
            recording_url: event.voicemail_url.clone(),
            transcript: event.transcription.clone(),
            duration_seconds: duration,
        },
    )
    .await?;
    let payload = json!({
        "event": "voicemail.received",
        "voicemail_id": voicemail.id,
        "call_id": event.call_id,
        "from_number": voicemail.from_number,
        "to_number": voicemail.to_number,
        "duration_seconds": voicemail.duration_seconds,
        "timestamp": iso(event.happened_at()),
    });
    emit(tx, at, "voicemail.received", &payload).await?;
    publish(tx, at, payload).await
}

async fn publish(
    tx: &mut TenantTx,
    (shared, app, event): At<'_>,
    payload: Value,
) -> Result<(), EventLogError> {
    let target_crm_user = event
        .dialpad_user_id()
        .and_then(|user| shared.crm_users.get(&(app, user)).cloned());
    realtime::outbox::publish(
        tx,
        RealtimeEvent {
            audience: Audience::App(app),
            target_crm_user,
            payload,
        },
    )
    .await?;
    Ok(())
}
