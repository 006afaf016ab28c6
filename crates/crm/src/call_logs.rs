//! Call logs and the calls dashboard (seed 001 "Critical Database Column Mappings", §16
//! "Dashboard Aggregates"): the list with filters and pagination, one call, and the
//! aggregates (pipeline value = sum of financial value; success rate = bookings / inbound × 100;
//! average duration; the last 10 calls as recent activity).
//!
//! The Vapi webhook writes these rows (idempotently on `vapi_call_id`, with `call_sid =
//! "vapi-<id>"`); [`record`] is the plain insert the demo data and tests use.

use crate::schema::call_logs;
use chrono::{DateTime, Utc};
use db::{OrgId, TenantTx};
use diesel::dsl::{count_star, sql};
use diesel::sql_types::{BigInt, Double, Nullable};
use diesel::{
    BoolExpressionMethods, ExpressionMethods, OptionalExtension, PgTextExpressionMethods, QueryDsl,
    Queryable, Selectable, SelectableHelper,
};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{CrmError, Page};

/// The organization's row `id` of `call_logs`, as a query to read, update or delete (the tenant
/// checked by [`db::same_tenant`], so the primary key finds the row: decision 52).
#[diesel::dsl::auto_type(no_type_alias)]
fn one(org: Uuid, id: Uuid) -> _ {
    call_logs::table
        .filter(call_logs::id.eq(id))
        .filter(db::same_tenant(call_logs::org_id, org))
}

/// A call as stored (seed 001 column names).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = call_logs, check_for_backend(diesel::pg::Pg))]
#[schema(as = CallRecord)]
pub struct CallLog {
    /// Id.
    pub id: Uuid,
    /// The organization.
    #[serde(skip)]
    pub org_id: Uuid,
    /// Vapi's call id (unique).
    pub vapi_call_id: Option<String>,
    /// Telephony call sid (`vapi-<id>` for Vapi calls).
    pub call_sid: String,
    /// The lead.
    pub contact_id: Option<Uuid>,
    /// Caller's number (Vapi `call.customer.number`).
    pub phone_number: Option<String>,
    /// The same number (seed: both are populated).
    pub from_number: Option<String>,
    /// Caller's name.
    pub caller_name: Option<String>,
    /// `inbound` or `outbound`.
    pub call_type: String,
    /// `queued`, `ringing`, `in-progress`, `completed` or `failed`.
    pub status: String,
    /// Outcome label.
    pub outcome: Option<String>,
    /// Outcome in a sentence.
    pub outcome_summary: Option<String>,
    /// Transcript (redacted before storage).
    pub transcript: Option<String>,
    /// Recording URL.
    pub recording_url: Option<String>,
    /// `pending`, `processing`, `completed` or `failed`.
    pub recording_status: Option<String>,
    /// Length in seconds.
    pub duration_seconds: Option<i32>,
    /// Vapi's cost in US dollars.
    pub total_cost: Option<f64>,
    /// Sentiment.
    pub sentiment: Option<String>,
    /// Sentiment label.
    pub sentiment_label: Option<String>,
    /// Sentiment score, 0–1.
    pub sentiment_score: Option<f64>,
    /// Sentiment summary.
    pub sentiment_summary: Option<String>,
    /// Urgency.
    pub sentiment_urgency: Option<String>,
    /// Where the call was transferred.
    pub transfer_to: Option<String>,
    /// When, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize_opt")]
    pub transfer_time: Option<DateTime<Utc>>,
    /// Why.
    pub transfer_reason: Option<String>,
    /// Whether the call booked an appointment.
    pub booking_confirmed: bool,
    /// Estimated value, minor units (cents).
    pub financial_value_minor: i64,
    /// Start, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize_opt")]
    pub started_at: Option<DateTime<Utc>>,
    /// End, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize_opt")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Anything else Vapi sent that is kept.
    #[serde(skip)]
    pub metadata: serde_json::Value,
    /// Created, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    #[serde(skip)]
    pub updated_at: DateTime<Utc>,
}

/// A call to record (demo data, tests; the Vapi webhook has its own upsert).
#[derive(Debug, Clone, Default)]
pub struct NewCallLog {
    /// Vapi's call id.
    pub vapi_call_id: Option<String>,
    /// Call sid; default `vapi-<vapi_call_id>`, else a random `manual-<uuid>`.
    pub call_sid: Option<String>,
    /// The lead.
    pub contact_id: Option<Uuid>,
    /// Caller's number, E.164 (stored in `phone_number` and `from_number`).
    pub phone_number: Option<String>,
    /// Caller's name.
    pub caller_name: Option<String>,
    /// `inbound` (default) or `outbound`.
    pub call_type: Option<String>,
    /// Status (default `completed`).
    pub status: Option<String>,
    /// Outcome.
    pub outcome: Option<String>,
    /// Transcript.
    pub transcript: Option<String>,
    /// Recording URL.
    pub recording_url: Option<String>,
    /// Length in seconds.
    pub duration_seconds: Option<i32>,
    /// Booked?
    pub booking_confirmed: bool,
    /// Value, minor units.
    pub financial_value_minor: i64,
    /// Start (UTC).
    pub started_at: Option<DateTime<Utc>>,
}

/// Records a call.
///
/// # Errors
/// [`CrmError::Db`] (including a repeated `vapi_call_id`).
pub async fn record(tx: &mut TenantTx, new: NewCallLog) -> Result<CallLog, CrmError> {
    let org = tx.org();
    let call_sid = new.call_sid.clone().unwrap_or_else(|| {
        new.vapi_call_id.as_ref().map_or_else(
            || format!("manual-{}", Uuid::new_v4()),
            |v| format!("vapi-{v}"),
        )
    });
    let ended_at = new
        .started_at
        .zip(new.duration_seconds)
        .map(|(s, d)| s + chrono::Duration::seconds(i64::from(d)));
    Ok(diesel::insert_into(call_logs::table)
        .values((
            call_logs::id.eq(Uuid::new_v4()),
            call_logs::org_id.eq(org.0),
            call_logs::vapi_call_id.eq(new.vapi_call_id),
            call_logs::call_sid.eq(call_sid),
            call_logs::contact_id.eq(new.contact_id),
            call_logs::phone_number.eq(new.phone_number.clone()),
            call_logs::from_number.eq(new.phone_number),
            call_logs::caller_name.eq(new.caller_name),
            call_logs::call_type.eq(new.call_type.unwrap_or_else(|| "inbound".into())),
            call_logs::status.eq(new.status.unwrap_or_else(|| "completed".into())),
            call_logs::outcome.eq(new.outcome),
            call_logs::transcript.eq(new.transcript),
            call_logs::recording_url.eq(new.recording_url),
            call_logs::duration_seconds.eq(new.duration_seconds),
            call_logs::booking_confirmed.eq(new.booking_confirmed),
            call_logs::financial_value_minor.eq(new.financial_value_minor),
            call_logs::started_at.eq(new.started_at),
            call_logs::ended_at.eq(ended_at),
        ))
        .returning(CallLog::as_returning())
        .get_result(tx)
        .await?)
}

/// Filters of the dashboard list; also the list endpoint's query parameters
/// (`GET /api/calls-dashboard?status=…&from=…`).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
pub struct CallQuery {
    /// Only this status.
    pub status: Option<String>,
    /// Only `inbound` or `outbound`.
    pub call_type: Option<String>,
    /// Only booked (or only not booked) calls.
    pub booking_confirmed: Option<bool>,
    /// Created at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Created before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Case-insensitive substring of the caller's name or number.
    pub search: Option<String>,
    /// Only this outcome, as the end-of-call report recorded it (for example `booked`,
    /// `transferred`, `completed`).
    pub outcome: Option<String>,
    /// Only this sentiment: `positive`, `neutral` or `negative` (case-insensitive).
    pub sentiment: Option<String>,
    /// Only the calls of this contact.
    pub contact_id: Option<uuid::Uuid>,
}

fn filtered(org: OrgId, q: &CallQuery) -> call_logs::BoxedQuery<'static, diesel::pg::Pg> {
    let mut query = call_logs::table
        .filter(call_logs::org_id.eq(org.0))
        .into_boxed();
    if let Some(s) = &q.status {
        query = query.filter(call_logs::status.eq(s.clone()));
    }
    if let Some(t) = &q.call_type {
        query = query.filter(call_logs::call_type.eq(t.clone()));
    }
    if let Some(b) = q.booking_confirmed {
        query = query.filter(call_logs::booking_confirmed.eq(b));
    }
    if let Some(outcome) = &q.outcome {
        query = query.filter(call_logs::outcome.eq(outcome.clone()));
    }
    if let Some(sentiment) = &q.sentiment {
        query = query.filter(call_logs::sentiment.ilike(crate::exact_pattern(sentiment)));
    }
    if let Some(contact) = q.contact_id {
        query = query.filter(call_logs::contact_id.eq(contact));
    }
    if let Some(from) = q.from {
        query = query.filter(call_logs::created_at.ge(from));
    }
    if let Some(to) = q.to {
        query = query.filter(call_logs::created_at.lt(to));
    }
    if let Some(search) = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let pattern = crate::contains_pattern(search);
        query = query.filter(
            call_logs::caller_name
                .ilike(pattern.clone())
                .or(call_logs::phone_number.ilike(pattern)),
        );
    }
    query
}

/// A page of calls, newest first, and the total matching.
///
/// # Errors
/// [`CrmError::Invalid`] for an unknown `call_type`, [`CrmError::Db`].
pub async fn list(
    tx: &mut TenantTx,
    query: CallQuery,
    page: Page,
) -> Result<(Vec<CallLog>, i64), CrmError> {
    let org = tx.org();
    if let Some(t) = &query.call_type
        && t != "inbound"
        && t != "outbound"
    {
        return Err(CrmError::Invalid(
            "call_type must be inbound or outbound".into(),
        ));
    }
    let total: i64 = filtered(org, &query).select(count_star()).first(tx).await?;
    let rows = filtered(org, &query)
        .order((call_logs::created_at.desc(), call_logs::id.desc()))
        .limit(page.limit)
        .offset(page.offset)
        .select(CallLog::as_select())
        .load(tx)
        .await?;
    Ok((rows, total))
}

/// One call.
///
/// # Errors
/// [`CrmError::NotFound`], [`CrmError::Db`].
pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<CallLog, CrmError> {
    let org = tx.org();
    one(org.0, id)
        .select(CallLog::as_select())
        .first(tx)
        .await
        .optional()?
        .ok_or(CrmError::NotFound("call"))
}

/// The dashboard aggregates.
#[derive(Debug, Clone, PartialEq)]
pub struct CallStats {
    /// All calls.
    pub total_calls: i64,
    /// Inbound calls.
    pub inbound_calls: i64,
    /// Calls that booked.
    pub bookings: i64,
    /// Sum of financial value, minor units.
    pub pipeline_value_minor: i64,
    /// `bookings / inbound_calls × 100`, one decimal; 0 without inbound calls.
    pub success_rate: f64,
    /// Mean duration of calls with a duration, seconds (rounded); 0 when none.
    pub average_duration_seconds: i64,
    /// The 10 most recent calls.
    pub recent: Vec<CallLog>,
}

/// Computes [`CallStats`] over the calls created in `[from, to)` (all time when unset), in one
/// aggregate query plus the recent list.
///
/// # Errors
/// [`CrmError::Db`].
pub async fn stats(
    tx: &mut TenantTx,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<CallStats, CrmError> {
    let org = tx.org();
    let window = CallQuery {
        from,
        to,
        ..CallQuery::default()
    };
    let (total, inbound, bookings, pipeline, average): (i64, i64, i64, i64, Option<f64>) =
        filtered(org, &window)
            .select((
                count_star(),
                sql::<BigInt>("count(*) FILTER (WHERE call_type = 'inbound')"),
                sql::<BigInt>("count(*) FILTER (WHERE booking_confirmed)"),
                sql::<BigInt>("coalesce(sum(financial_value_minor), 0)::bigint"),
                sql::<Nullable<Double>>("avg(duration_seconds)::float8"),
            ))
            .first(tx)
            .await?;
    let recent = filtered(org, &window)
        .order((call_logs::created_at.desc(), call_logs::id.desc()))
        .limit(10)
        .select(CallLog::as_select())
        .load(tx)
        .await?;
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    let success_rate = if inbound == 0 {
        0.0
    } else {
        (bookings as f64 * 1000.0 / inbound as f64).round() / 10.0
    };
    #[allow(clippy::cast_possible_truncation)]
    let average_duration_seconds = average.map_or(0, |a| a.round() as i64);
    Ok(CallStats {
        total_calls: total,
        inbound_calls: inbound,
        bookings,
        pipeline_value_minor: pipeline,
        success_rate,
        average_duration_seconds,
        recent,
    })
}

/// An earlier call of a contact as the voice agent recalls it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSummary {
    /// When it was logged.
    pub at: DateTime<Utc>,
    /// Its (redacted) summary.
    pub summary: String,
    /// Whether it booked an appointment.
    pub booked: bool,
}

/// The contact's latest `limit` calls with a summary, newest first, leaving out the call Vapi
/// knows as `except_vapi_call` (the one being answered).
///
/// # Errors
/// [`CrmError::Db`].
pub async fn recent_summaries(
    tx: &mut TenantTx,
    contact: Uuid,
    except_vapi_call: Option<&str>,
    limit: i64,
) -> Result<Vec<CallSummary>, CrmError> {
    let org = tx.org();
    let mut query = call_logs::table
        .filter(call_logs::org_id.eq(org.0))
        .filter(call_logs::contact_id.eq(contact))
        .filter(call_logs::outcome_summary.is_not_null())
        .into_boxed();
    if let Some(current) = except_vapi_call {
        query = query.filter(
            call_logs::vapi_call_id
                .is_null()
                .or(call_logs::vapi_call_id.ne(current.to_owned())),
        );
    }
    let rows: Vec<(DateTime<Utc>, Option<String>, bool)> = query
        .order(call_logs::created_at.desc())
        .limit(limit)
        .select((
            call_logs::created_at,
            call_logs::outcome_summary,
            call_logs::booking_confirmed,
        ))
        .load(tx)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(at, summary, booked)| {
            summary
                .filter(|s| !s.trim().is_empty())
                .map(|summary| CallSummary {
                    at,
                    summary,
                    booked,
                })
        })
        .collect())
}

/// Marks the call as having booked (a booking tool succeeded during it).
///
/// # Errors
/// [`CrmError::Db`].
pub async fn mark_booked(tx: &mut TenantTx, id: Uuid) -> Result<(), CrmError> {
    let org = tx.org();
    diesel::update(one(org.0, id))
        .set(call_logs::booking_confirmed.eq(true))
        .execute(tx)
        .await?;
    Ok(())
}

/// Logs a transfer on the call (seed 001 §18.4.2: `transfer_to`, `transfer_time`,
/// `transfer_reason`); `reason` must already be redacted.
///
/// # Errors
/// [`CrmError::Db`].
pub async fn log_transfer(
    tx: &mut TenantTx,
    id: Uuid,
    to: &str,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<(), CrmError> {
    let org = tx.org();
    diesel::update(one(org.0, id))
        .set((
            call_logs::transfer_to.eq(to),
            call_logs::transfer_time.eq(at),
            call_logs::transfer_reason.eq(reason),
        ))
        .execute(tx)
        .await?;
    Ok(())
}

/// A Vapi call as a message describes it, ready to insert or advance its row.
#[derive(Debug, Clone)]
pub struct VapiCallRow<'a> {
    /// Vapi's call id (unique); owned when the row outlives the message it came from.
    pub vapi_call_id: std::borrow::Cow<'a, str>,
    /// A call-back row we created before Vapi knew the call, to link to it first.
    pub ours: Option<Uuid>,
    /// The customer's number (E.164 when it is one).
    pub phone: Option<String>,
    /// The caller's name, when known.
    pub caller_name: Option<String>,
    /// `inbound` or `outbound`.
    pub call_type: &'a str,
    /// Our status (`queued` … `completed` / `failed`); a row never moves back.
    pub status: &'a str,
    /// The caller's contact.
    pub contact_id: Option<Uuid>,
    /// When it started (UTC).
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended (UTC).
    pub ended_at: Option<DateTime<Utc>>,
    /// Merged into the row's metadata.
    pub metadata: serde_json::Value,
}

/// A Vapi call's row as [`upsert_vapi`] leaves it (or [`find_vapi_many`] reads it).
#[derive(Debug, Clone)]
pub struct UpsertedCall {
    /// Our id.
    pub id: Uuid,
    /// Its status now.
    pub status: String,
    /// Its contact.
    pub contact_id: Option<Uuid>,
    /// Whether it booked.
    pub booking_confirmed: bool,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
}

/// Inserts or advances a Vapi call's row; `None` when the id belongs to another organization.
/// Links a call-back row we created (`ours`) to the Vapi id first, so both converge on one row.
/// Messages may arrive in any order: the status only moves forward, known facts are kept.
///
/// A new row is dated (`created_at`, what the call list and the dashboard's days go by) when the
/// call started, if the first message we get says so and that is not in the future: a call whose
/// early messages were lost and whose report arrives late is still listed at its start.
/// (`call_logs_upsert_vapi` in the migrations; one statement.)
///
/// # Errors
/// [`CrmError::Db`].
pub async fn upsert_vapi(
    tx: &mut TenantTx,
    row: &VapiCallRow<'_>,
) -> Result<Option<UpsertedCall>, CrmError> {
    run_upsert(tx, tx.org(), row, false).await
}

/// [`upsert_vapi`] for `end-of-call-report`s of the transaction's organization, each also
/// marking its row as having its report (issue 22, "acknowledge in one commit"): `None` for a
/// report stored already (a redelivery: nothing is written and no row is locked) or a call id of
/// another organization. One prepared statement per report, all sent before the first answer is
/// awaited (diesel-async pipelining) and executed by PostgreSQL in the iterator's order, so a
/// second copy of a report among `rows` is seen as the redelivery it is. Returns one entry per
/// row, in order.
///
/// # Errors
/// [`CrmError::Db`]: the first failure (the transaction is then aborted anyway).
pub async fn store_reports<'r, 'a: 'r>(
    tx: &mut TenantTx,
    rows: impl IntoIterator<Item = &'r VapiCallRow<'a>>,
) -> Result<Vec<Option<UpsertedCall>>, CrmError> {
    let org = tx.org();
    let conn: &diesel_async::AsyncPgConnection = tx;
    let upserts: Vec<_> = rows
        .into_iter()
        .map(|row| run_upsert(conn, org, row, true))
        .collect();
    futures_util::future::try_join_all(upserts).await
}

/// A Vapi call's row of organization `org` by Vapi's id, as [`upsert_vapi`] returns it,
/// without writing anything, on `conn` by shared reference so that several can be pipelined
/// ([`find_vapi_many`]). `None` when there is no such row. One prepared statement, through the
/// unique index on `vapi_call_id` (the tenant checked by [`db::same_tenant`], decision 52).
async fn find_vapi_on(
    mut conn: &diesel_async::AsyncPgConnection,
    org: OrgId,
    vapi_call_id: &str,
) -> Result<Option<UpsertedCall>, CrmError> {
    use call_logs as c;
    let row: Option<UpsertedRow> = c::table
        .filter(c::vapi_call_id.eq(vapi_call_id))
        .filter(db::same_tenant(c::org_id, org.0))
        .select((
            c::id,
            c::status,
            c::contact_id,
            c::booking_confirmed,
            c::started_at,
        ))
        .first(&mut conn)
        .await
        .optional()?;
    Ok(row.map(UpsertedCall::from))
}

/// The Vapi calls' rows of the transaction's organization by Vapi's call id, without writing
/// anything: the post-call analysis of a batch of reports whose rows [`store_reports`] wrote
/// reads them so (issue 22: one row version fewer per report). Calls without a row are absent.
/// One by-key statement per call, all sent together (diesel-async pipelining), so each keeps
/// its plan through the unique index: one `vapi_call_id = ANY($1)` statement was planned as a
/// sequential scan while the table was young and kept that plan as it grew (7 ms a batch in
/// the hot-path benchmark, decision 53).
///
/// # Errors
/// [`CrmError::Db`].
pub async fn find_vapi_many(
    tx: &mut TenantTx,
    vapi_call_ids: &[&str],
) -> Result<std::collections::HashMap<String, UpsertedCall>, CrmError> {
    let org = tx.org();
    let conn: &diesel_async::AsyncPgConnection = tx;
    let reads: Vec<_> = vapi_call_ids
        .iter()
        .map(|id| find_vapi_on(conn, org, id))
        .collect();
    let found = futures_util::future::try_join_all(reads).await?;
    Ok(vapi_call_ids
        .iter()
        .zip(found)
        .filter_map(|(id, row)| Some(((*id).to_owned(), row?)))
        .collect())
}

/// The SQL function behind [`upsert_vapi`] (its 14 parameters are the function's).
#[allow(clippy::too_many_arguments)]
mod sql {
    use diesel::sql_types::Nullable;

    diesel::define_sql_function! {
        /// `call_logs_upsert_vapi(…)` (migration 000022): the upserted row as a record, no row
        /// for a stored report or another organization's call id. Called through the query
        /// builder so that the statement is prepared once per connection (issue 22).
        #[sql_name = "call_logs_upsert_vapi"]
        fn call_logs_upsert_vapi_fn(
            p_id: diesel::sql_types::Uuid,
            p_org: diesel::sql_types::Uuid,
            p_vapi_call_id: diesel::sql_types::Text,
            p_ours: Nullable<diesel::sql_types::Uuid>,
            p_contact_id: Nullable<diesel::sql_types::Uuid>,
            p_phone: Nullable<diesel::sql_types::Text>,
            p_caller_name: Nullable<diesel::sql_types::Text>,
            p_unknown_name: diesel::sql_types::Text,
            p_call_type: diesel::sql_types::Text,
            p_status: diesel::sql_types::Text,
            p_started_at: Nullable<diesel::sql_types::Timestamptz>,
            p_ended_at: Nullable<diesel::sql_types::Timestamptz>,
            p_metadata: diesel::sql_types::Jsonb,
            p_report: diesel::sql_types::Bool,
        ) -> diesel::sql_types::Record<(
            diesel::sql_types::Uuid,
            diesel::sql_types::Text,
            Nullable<diesel::sql_types::Uuid>,
            diesel::sql_types::Bool,
            Nullable<diesel::sql_types::Timestamptz>,
        )>;
    }
}
use sql::call_logs_upsert_vapi_fn;

/// `call_logs_upsert_vapi`'s record: id, status, contact, booked, started.
type UpsertedRow = (Uuid, String, Option<Uuid>, bool, Option<DateTime<Utc>>);

impl From<UpsertedRow> for UpsertedCall {
    fn from((id, status, contact_id, booking_confirmed, started_at): UpsertedRow) -> Self {
        Self {
            id,
            status,
            contact_id,
            booking_confirmed,
            started_at,
        }
    }
}

/// Runs `call_logs_upsert_vapi(…)` for `row` of `org` (`report`: it is the call's report) on
/// `conn` by shared reference, so that several can be pipelined on one connection.
async fn run_upsert(
    mut conn: &diesel_async::AsyncPgConnection,
    org: OrgId,
    row: &VapiCallRow<'_>,
    report: bool,
) -> Result<Option<UpsertedCall>, CrmError> {
    let upserted = diesel::select(call_logs_upsert_vapi_fn(
        Uuid::new_v4(),
        org.0,
        &*row.vapi_call_id,
        row.ours,
        row.contact_id,
        row.phone.as_deref(),
        row.caller_name.as_deref(),
        crate::contacts::UNKNOWN_CALLER,
        row.call_type,
        row.status,
        row.started_at,
        row.ended_at,
        &row.metadata,
        report,
    ))
    .get_result::<UpsertedRow>(&mut conn)
    .await
    .optional()?;
    Ok(upserted.map(UpsertedCall::from))
}

/// What an `end-of-call-report` says about a call, redacted by the caller.
#[derive(Debug, Clone)]
pub struct CallAnalysis<'a> {
    /// `booked`, `completed` or `failed`.
    pub outcome: &'a str,
    /// The summary (redacted).
    pub summary: Option<String>,
    /// The transcript (redacted).
    pub transcript: Option<String>,
    /// The recording, when there is one.
    pub recording_url: Option<String>,
    /// `completed`, `processing` or `failed`.
    pub recording_status: &'a str,
    /// Seconds.
    pub duration_seconds: Option<i32>,
    /// Vapi's cost, US dollars.
    pub cost_usd: f64,
    /// Sentiment label.
    pub sentiment: Option<String>,
    /// Sentiment score, 0–1.
    pub sentiment_score: Option<f64>,
    /// One sentence on the caller's mood (redacted).
    pub sentiment_summary: Option<String>,
    /// `low`, `medium` or `high`.
    pub sentiment_urgency: Option<String>,
    /// The call booked (a row once booked stays booked).
    pub booked: bool,
    /// What the call is worth, minor units.
    pub value_minor: i64,
    /// The caller's contact, when the row has none yet.
    pub contact_id: Option<Uuid>,
    /// The caller's name, when known (it replaces the row's).
    pub caller_name: Option<String>,
    /// The lead score it gave, kept in the row's metadata.
    pub lead_score: i32,
}

/// Records calls' end-of-call analyses on their rows (seed 001 §16 data flow), in order (a
/// batch of post-call analyses). A recording URL, a duration and a contact already on a row
/// are kept when the analysis has none, the caller's name when it knows none; a row once
/// booked stays booked; the lead score is merged into `metadata`. One statement of diesel's
/// query builder per call, prepared once per connection (issue 22: no per-call raw SQL on the
/// report path), all sent together (diesel-async pipelining).
///
/// # Errors
/// [`CrmError::Db`]: the first failure (the transaction is then aborted anyway).
pub async fn record_analyses(
    tx: &mut TenantTx,
    analyses: &[(Uuid, &CallAnalysis<'_>)],
) -> Result<(), CrmError> {
    let org = tx.org();
    let conn: &diesel_async::AsyncPgConnection = tx;
    let updates: Vec<_> = analyses
        .iter()
        .map(|(id, a)| record_analysis_on(conn, org, *id, a))
        .collect();
    futures_util::future::try_join_all(updates).await?;
    Ok(())
}

/// The update of [`record_analyses`] for one call, on `conn` by shared reference, so that
/// several can be pipelined on one connection.
async fn record_analysis_on(
    mut conn: &diesel_async::AsyncPgConnection,
    org: OrgId,
    id: Uuid,
    a: &CallAnalysis<'_>,
) -> Result<(), CrmError> {
    use call_logs as c;
    use diesel::{IntoSql, PgJsonbExpressionMethods};
    let lead_score = serde_json::json!({ "lead_score": a.lead_score });
    diesel::update(one(org.0, id))
        .set((
            (
                c::outcome.eq(a.outcome),
                c::outcome_summary.eq(a.summary.as_deref()),
                c::transcript.eq(a.transcript.as_deref()),
                c::recording_url.eq(keep::coalesce(a.recording_url.as_deref(), c::recording_url)),
                c::recording_status.eq(a.recording_status),
                c::duration_seconds.eq(keep::coalesce(a.duration_seconds, c::duration_seconds)),
                c::total_cost.eq(a.cost_usd),
            ),
            (
                c::sentiment.eq(a.sentiment.as_deref()),
                c::sentiment_label.eq(a.sentiment.as_deref()),
                c::sentiment_score.eq(a.sentiment_score),
                c::sentiment_summary.eq(a.sentiment_summary.as_deref()),
                c::sentiment_urgency.eq(a.sentiment_urgency.as_deref()),
            ),
            (
                c::booking_confirmed
                    .eq(c::booking_confirmed.or(a.booked.into_sql::<diesel::sql_types::Bool>())),
                c::financial_value_minor.eq(a.value_minor),
                c::contact_id.eq(keep::coalesce(c::contact_id, a.contact_id)),
                c::caller_name.eq(keep::coalesce(a.caller_name.as_deref(), c::caller_name)),
                c::metadata.eq(c::metadata.concat(lead_score)),
            ),
        ))
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// SQL's `COALESCE` over two nullable values of one type, for "keep what the row has".
mod keep {
    diesel::define_sql_function! {
        /// `COALESCE(first, second)`: `first` unless it is `NULL`.
        fn coalesce<T: diesel::sql_types::SingleValue>(
            first: diesel::sql_types::Nullable<T>,
            second: diesel::sql_types::Nullable<T>,
        ) -> diesel::sql_types::Nullable<T>;
    }
}

// ── Call-backs: outbound rows we open before Vapi knows the call ─────────────────────────────

/// An outbound call-back row.
#[derive(Debug, Clone)]
pub struct CallBackRow {
    /// Our id.
    pub id: Uuid,
    /// `pending` until placed, then Vapi's statuses.
    pub status: String,
    /// Vapi's call, once placed.
    pub vapi_call_id: Option<String>,
    /// Holds `idempotency_key`, `requested_by` and, while an attempt runs, `placing_since`.
    pub metadata: serde_json::Value,
}

/// The call-back a repeated request means: the one with `idempotency_key`, else a live one to
/// `contact` created after `since`. Newest first.
///
/// # Errors
/// [`CrmError::Db`].
pub async fn find_call_back(
    tx: &mut TenantTx,
    idempotency_key: Option<&str>,
    contact: Uuid,
    since: DateTime<Utc>,
) -> Result<Option<CallBackRow>, CrmError> {
    let org = tx.org();
    let mut existing = call_logs::table
        .filter(call_logs::org_id.eq(org.0))
        .filter(call_logs::call_type.eq("outbound"))
        .into_boxed();
    existing = match idempotency_key {
        Some(key) => existing.filter(
            sql::<diesel::sql_types::Text>("metadata ->> 'idempotency_key'").eq(key.to_owned()),
        ),
        None => existing
            .filter(call_logs::contact_id.eq(contact))
            .filter(call_logs::status.eq_any([
                "pending",
                "initiated",
                "queued",
                "ringing",
                "in-progress",
            ]))
            .filter(call_logs::created_at.gt(since)),
    };
    let found: Option<(Uuid, String, Option<String>, serde_json::Value)> = existing
        .order(call_logs::created_at.desc())
        .select((
            call_logs::id,
            call_logs::status,
            call_logs::vapi_call_id,
            call_logs::metadata,
        ))
        .first(tx)
        .await
        .optional()?;
    Ok(
        found.map(|(id, status, vapi_call_id, metadata)| CallBackRow {
            id,
            status,
            vapi_call_id,
            metadata,
        }),
    )
}

/// Opens a `pending` call-back row to `contact` with `metadata`; returns it.
///
/// # Errors
/// [`CrmError::Db`].
pub async fn open_call_back(
    tx: &mut TenantTx,
    contact: &crate::contacts::Contact,
    metadata: serde_json::Value,
) -> Result<CallBackRow, CrmError> {
    let org = tx.org();
    let id = Uuid::new_v4();
    diesel::insert_into(call_logs::table)
        .values((
            call_logs::id.eq(id),
            call_logs::org_id.eq(org.0),
            call_logs::call_sid.eq(format!("callback-{id}")),
            call_logs::contact_id.eq(contact.id),
            call_logs::phone_number.eq(&contact.phone),
            call_logs::caller_name.eq(&contact.name),
            call_logs::call_type.eq("outbound"),
            call_logs::status.eq("pending"),
            call_logs::metadata.eq(&metadata),
        ))
        .execute(tx)
        .await?;
    Ok(CallBackRow {
        id,
        status: "pending".into(),
        vapi_call_id: None,
        metadata,
    })
}

/// Records that an attempt to place the call-back started at `at` (`placing_since`).
///
/// # Errors
/// [`CrmError::Db`].
pub async fn claim_call_back(
    tx: &mut TenantTx,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), CrmError> {
    let org = tx.org();
    use diesel::sql_types::Jsonb;
    diesel::update(one(org.0, id))
        .set(call_logs::metadata.eq(
            sql::<Jsonb>("metadata || ").bind::<Jsonb, _>(serde_json::json!({"placing_since": at})),
        ))
        .execute(tx)
        .await?;
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct StatusRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    status: String,
}

/// The call-back went out (with Vapi's id when it gave one): `pending` becomes `initiated` and
/// the attempt's claim is released. Returns the row's status.
///
/// # Errors
/// [`CrmError::Db`].
pub async fn call_back_placed(
    tx: &mut TenantTx,
    id: Uuid,
    vapi_call_id: Option<&str>,
) -> Result<String, CrmError> {
    let org = tx.org();
    Ok(diesel::sql_query(
        "UPDATE call_logs SET \
           status = CASE WHEN status = 'pending' THEN 'initiated' ELSE status END, \
           vapi_call_id = COALESCE(vapi_call_id, $3), \
           call_sid = CASE WHEN $3 IS NULL THEN call_sid ELSE 'vapi-' || $3 END, \
           metadata = metadata - 'placing_since' \
         WHERE org_id = $1 AND id = $2 RETURNING status",
    )
    .bind::<diesel::sql_types::Uuid, _>(org.0)
    .bind::<diesel::sql_types::Uuid, _>(id)
    .bind::<Nullable<diesel::sql_types::Text>, _>(vapi_call_id)
    .get_result::<StatusRow>(tx)
    .await?
    .status)
}

/// Placing the call-back failed with `error`: a `pending` row becomes `failed` and the claim is
/// released.
///
/// # Errors
/// [`CrmError::Db`].
pub async fn call_back_failed(tx: &mut TenantTx, id: Uuid, error: &str) -> Result<(), CrmError> {
    let org = tx.org();
    use diesel::sql_types::Jsonb;
    diesel::update(one(org.0, id).filter(call_logs::status.eq("pending")))
        .set((
            call_logs::status.eq("failed"),
            call_logs::metadata.eq(sql::<Jsonb>("(metadata - 'placing_since') || ")
                .bind::<Jsonb, _>(serde_json::json!({"error": error}))),
        ))
        .execute(tx)
        .await?;
    Ok(())
}
