//! The realtime outbox table, `realtime_events`: written by the transaction that causes an event,
//! read by every instance's fan-out.

use crate::schema::realtime_events;
use chrono::{DateTime, Utc};
use db::{Db, SystemOp, TenantTx};
use diesel::sql_types::{BigInt, Jsonb, Nullable, Record, Text, Timestamptz, Uuid as SqlUuid};
use diesel::{
    ExpressionMethods, QueryDsl, Queryable, QueryableByName, Selectable, SelectableHelper,
};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::RealtimeError;

/// The signal raised after a transaction that published events commits ([`db::signal`]: this
/// instance at once, other instances through a coalesced `NOTIFY realtime_events` without
/// payload).
pub const CHANNEL: &str = "realtime_events";

/// Who receives an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Every connection of this app (seed 000 `broadcastToApp`; with a target CRM user,
    /// `broadcastToUser`).
    App(Uuid),
    /// The organization's signed-in dashboard users whose role is at least `min_role`
    /// (`"user"`, `"manager"` or `"admin"`; seed 002 "role-based broadcasting").
    Users {
        /// The lowest role that receives it.
        min_role: &'static str,
    },
}

/// An event to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct RealtimeEvent {
    /// Who receives it.
    pub audience: Audience,
    /// For app events about one Dialpad user mapped to a CRM user: that CRM user. It is added to
    /// the payload as `target_crm_user` (seed 000 "Broadcasting Logic"), and connections that
    /// named a CRM user receive only untargeted events and their own.
    pub target_crm_user: Option<String>,
    /// The JSON object sent to clients, exactly as the seeds document it.
    pub payload: serde_json::Value,
}

/// An event as stored and fanned out.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = realtime_events, check_for_backend(diesel::pg::Pg))]
pub struct OutboxEvent {
    /// Position in the outbox (increasing in allocation order, not necessarily commit order).
    pub seq: i64,
    /// The organization.
    pub org_id: Uuid,
    /// `app` or `users`.
    pub audience: String,
    /// The app, for `audience = app`.
    pub app_id: Option<Uuid>,
    /// The lowest role, for `audience = users`.
    pub min_role: Option<String>,
    /// The targeted CRM user, if any (already inside `payload` too).
    pub target_crm_user: Option<String>,
    /// The payload sent to clients.
    pub payload: serde_json::Value,
    /// When it was published (UTC).
    pub created_at: DateTime<Utc>,
}

/// Writes `event` for the transaction's organization in the caller's tenant transaction `tx`
/// and asks for [`CHANNEL`] to be raised when it commits: the event is delivered if and only if
/// that transaction commits. Returns the event's seq.
///
/// # Errors
/// The database error; the caller's transaction then rolls back.
pub async fn publish(
    tx: &mut TenantTx,
    event: RealtimeEvent,
) -> Result<i64, diesel::result::Error> {
    let seq = diesel::insert_into(realtime_events::table)
        .values(NewOutboxRow::new(tx.org(), event))
        .returning(realtime_events::seq)
        .get_result(tx)
        .await?;
    raise_after_commit();
    Ok(seq)
}

/// [`publish`] for several events in one statement (a batch of post-call analyses), in the
/// order given (their seqs increase in that order). Nothing is written for none.
///
/// # Errors
/// The database error; the caller's transaction then rolls back.
pub async fn publish_all(
    tx: &mut TenantTx,
    events: Vec<RealtimeEvent>,
) -> Result<(), diesel::result::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let org = tx.org();
    let rows: Vec<NewOutboxRow> = events
        .into_iter()
        .map(|e| NewOutboxRow::new(org, e))
        .collect();
    diesel::insert_into(realtime_events::table)
        .values(rows)
        .execute(tx)
        .await?;
    raise_after_commit();
    Ok(())
}

/// A `realtime_events` row to insert.
#[derive(diesel::Insertable)]
#[diesel(table_name = realtime_events)]
struct NewOutboxRow {
    org_id: Uuid,
    audience: &'static str,
    app_id: Option<Uuid>,
    min_role: Option<&'static str>,
    target_crm_user: Option<String>,
    payload: serde_json::Value,
}

impl NewOutboxRow {
    /// `event` of organization `org`, its target CRM user copied into the payload.
    fn new(org: db::OrgId, event: RealtimeEvent) -> Self {
        let mut payload = event.payload;
        if let (Some(target), Some(object)) = (&event.target_crm_user, payload.as_object_mut()) {
            object.insert(
                "target_crm_user".into(),
                serde_json::Value::String(target.clone()),
            );
        }
        let (audience, app_id, min_role) = match event.audience {
            Audience::App(app) => ("app", Some(app), None),
            Audience::Users { min_role } => ("users", None, Some(min_role)),
        };
        Self {
            org_id: org.0,
            audience,
            app_id,
            min_role,
            target_crm_user: event.target_crm_user,
            payload,
        }
    }
}

/// Asks for [`CHANNEL`] after the enclosing tenant transaction commits.
fn raise_after_commit() {
    // A `TenantTx` exists only inside `Db::tenant`, which raises the channel after its commit.
    let raised = db::signal::raise_after_commit(CHANNEL);
    debug_assert!(raised, "a TenantTx is always inside Db::tenant");
}

/// Which room's events [`of_room_after`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// An app's `app` events and, with `ai_calls`, the organization's AI-call events
    /// ([`crate::AI_CALL_EVENT_TYPES`]).
    App {
        /// The app.
        app_id: Uuid,
        /// Whether the connection subscribed to AI-call events.
        ai_calls: bool,
    },
    /// The organization's dashboard users' `users` events.
    Users,
}

/// Up to `limit` events of the transaction's organization in `room` after `after`, in seq
/// order (row-level security applies). The outbox keeps a day.
///
/// # Errors
/// [`RealtimeError::Db`].
pub async fn of_room_after(
    tx: &mut TenantTx,
    room: Room,
    after: i64,
    limit: i64,
) -> Result<Vec<OutboxEvent>, RealtimeError> {
    let org = tx.org();
    use diesel::BoolExpressionMethods;
    use diesel::PgAnyJsonExpressionMethods as _;
    let mut query = realtime_events::table
        .filter(realtime_events::org_id.eq(org.0))
        .filter(realtime_events::seq.gt(after))
        .order(realtime_events::seq)
        .limit(limit)
        .select(OutboxEvent::as_select())
        .into_boxed();
    let of_app = |app| {
        realtime_events::audience
            .eq("app")
            .and(realtime_events::app_id.eq(app))
    };
    query = match room {
        Room::App {
            app_id,
            ai_calls: false,
        } => query.filter(of_app(app_id)),
        Room::App {
            app_id,
            ai_calls: true,
        } => query.filter(
            of_app(app_id).or(realtime_events::audience.eq("users").and(
                realtime_events::payload
                    .retrieve_as_text("type")
                    .eq_any(crate::AI_CALL_EVENT_TYPES),
            )),
        ),
        Room::Users => query.filter(realtime_events::audience.eq("users")),
    };
    Ok(query.load(tx).await?)
}

/// The outbox row as the `SECURITY DEFINER` read functions return it: one record per row.
type OutboxRecord = Record<(
    BigInt,
    SqlUuid,
    Text,
    Nullable<SqlUuid>,
    Nullable<Text>,
    Nullable<Text>,
    Jsonb,
    Timestamptz,
)>;

type OutboxRow = (
    i64,
    Uuid,
    String,
    Option<Uuid>,
    Option<String>,
    Option<String>,
    serde_json::Value,
    DateTime<Utc>,
);

mod functions {
    #![allow(missing_docs)]
    use super::OutboxRecord;
    use diesel::sql_types::{Array, BigInt, Integer};

    diesel::define_sql_function! {
        /// `realtime_events_head()` (migration 000006): the newest seq, 0 when empty.
        fn realtime_events_head() -> BigInt;
    }

    diesel::define_sql_function! {
        /// `realtime_events_since(after, missing, limit)` (migration 000021): the rows with
        /// the seqs in `missing` and up to `limit` after `after`, in seq order; in a select
        /// list, one row per record.
        fn realtime_events_since(
            p_after: BigInt,
            p_missing: Array<BigInt>,
            p_limit: Integer,
        ) -> OutboxRecord;
    }
}

/// The newest seq in the outbox (0 when empty), where a starting fan-out begins.
///
/// # Errors
/// [`RealtimeError::Db`].
pub async fn head(db: &Db) -> Result<i64, RealtimeError> {
    db.system_read(SystemOp::RealtimeFanOut, async move |c| {
        Ok(diesel::select(functions::realtime_events_head())
            .get_result(c)
            .await?)
    })
    .await
}

/// The outbox rows not delivered yet: those with the seqs in `missing`, and up to `limit` after
/// `after`, in seq order (rows pruned meanwhile are absent). One prepared statement, cached per
/// connection (issue 22: no per-call raw SQL on hot paths).
///
/// # Errors
/// [`RealtimeError::Db`].
pub async fn since(
    db: &Db,
    after: i64,
    missing: Vec<i64>,
    limit: i32,
) -> Result<Vec<OutboxEvent>, RealtimeError> {
    db.system_read(SystemOp::RealtimeFanOut, async move |c| {
        let rows: Vec<OutboxRow> =
            diesel::select(functions::realtime_events_since(after, missing, limit))
                .load(c)
                .await?;
        Ok(rows.into_iter().map(OutboxEvent::from).collect())
    })
    .await
}

impl From<OutboxRow> for OutboxEvent {
    fn from(row: OutboxRow) -> Self {
        let (seq, org_id, audience, app_id, min_role, target_crm_user, payload, created_at) = row;
        Self {
            seq,
            org_id,
            audience,
            app_id,
            min_role,
            target_crm_user,
            payload,
            created_at,
        }
    }
}

#[derive(QueryableByName)]
struct Pruned {
    #[diesel(sql_type = BigInt)]
    pruned: i64,
}

/// Deletes outbox rows older than a day (run daily); returns how many.
///
/// # Errors
/// [`RealtimeError::Db`].
pub async fn prune(db: &Db) -> Result<i64, RealtimeError> {
    db.system(SystemOp::RealtimeCleanup, async move |c| {
        let row: Pruned = diesel::sql_query("SELECT realtime_events_prune() AS pruned")
            .get_result(c)
            .await?;
        Ok(row.pruned)
    })
    .await
}
