//! Dialpad calls of an app, listed with their CRM user (seed 000 "Call Attribution": a left join
//! on the user mapping).

use chrono::{DateTime, Utc};
use db::{Page, TenantTx};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::EventLogError;

/// A call with its CRM user.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName, Serialize, ToSchema)]
#[schema(as = DialpadCallBody)]
pub struct CallWithUser {
    /// Our id.
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    /// The app.
    #[diesel(sql_type = SqlUuid)]
    pub app_id: Uuid,
    /// Dialpad's call id.
    #[diesel(sql_type = BigInt)]
    pub dialpad_call_id: i64,
    /// The Dialpad user on our side, if known.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub dialpad_user_id: Option<i64>,
    /// The mapped CRM user, if the Dialpad user is mapped.
    #[diesel(sql_type = Nullable<Text>)]
    pub crm_user_id: Option<String>,
    /// `inbound` / `outbound`.
    #[diesel(sql_type = Nullable<Text>)]
    pub direction: Option<String>,
    /// Caller.
    #[diesel(sql_type = Nullable<Text>)]
    pub from_number: Option<String>,
    /// Called.
    #[diesel(sql_type = Nullable<Text>)]
    pub to_number: Option<String>,
    /// `ringing`, `active` or `ended`.
    #[diesel(sql_type = Text)]
    pub status: String,
    /// First rang, RFC 3339 UTC.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    #[serde(serialize_with = "db::timestamp::serialize_opt")]
    pub rang_at: Option<DateTime<Utc>>,
    /// Answered, RFC 3339 UTC.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    #[serde(serialize_with = "db::timestamp::serialize_opt")]
    pub started_at: Option<DateTime<Utc>>,
    /// Ended, RFC 3339 UTC.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    #[serde(serialize_with = "db::timestamp::serialize_opt")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Talk time in seconds.
    #[diesel(sql_type = Nullable<Integer>)]
    pub duration_seconds: Option<i32>,
    /// Recording URL, if any.
    #[diesel(sql_type = Nullable<Text>)]
    pub recording_url: Option<String>,
    /// Once ended: `completed` (it was answered) or `missed`.
    #[diesel(sql_type = Nullable<Text>)]
    pub outcome: Option<String>,
    /// First seen, RFC 3339 UTC.
    #[diesel(sql_type = Timestamptz)]
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
}

/// The app's calls, newest first, optionally of one Dialpad user; and the total count.
///
/// # Errors
/// [`EventLogError::Db`].
pub async fn list(
    tx: &mut TenantTx,
    app: Uuid,
    dialpad_user_id: Option<i64>,
    page: Page,
) -> Result<(Vec<CallWithUser>, i64), EventLogError> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let org = tx.org();
    let mut calls: Vec<CallWithUser> = diesel::sql_query(
        "SELECT c.id, c.app_id, c.dialpad_call_id, c.dialpad_user_id,
                NULL::text AS crm_user_id,
                c.direction, c.from_number, c.to_number, c.status, c.rang_at,
                c.started_at, c.ended_at, c.duration_seconds, c.recording_url, c.outcome,
                c.created_at
           FROM calls c
          WHERE c.app_id = $1 AND c.org_id = $2
            AND ($3::bigint IS NULL OR c.dialpad_user_id = $3)
          ORDER BY c.created_at DESC, c.id
          LIMIT $4 OFFSET $5",
    )
    .bind::<SqlUuid, _>(app)
    .bind::<SqlUuid, _>(org.0)
    .bind::<Nullable<BigInt>, _>(dialpad_user_id)
    .bind::<BigInt, _>(page.limit)
    .bind::<BigInt, _>(page.offset)
    .load(tx)
    .await?;
    // The CRM user of each call's Dialpad user, from its owner (user-mapping).
    let mut users: Vec<i64> = calls.iter().filter_map(|c| c.dialpad_user_id).collect();
    users.sort_unstable();
    users.dedup();
    let crm_users = user_mapping::crm_users(tx, app, &users).await?;
    for call in &mut calls {
        call.crm_user_id = call
            .dialpad_user_id
            .and_then(|u| crm_users.get(&u).cloned());
    }
    let total: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM calls
          WHERE app_id = $1 AND org_id = $2 AND ($3::bigint IS NULL OR dialpad_user_id = $3)",
    )
    .bind::<SqlUuid, _>(app)
    .bind::<SqlUuid, _>(org.0)
    .bind::<Nullable<BigInt>, _>(dialpad_user_id)
    .get_result(tx)
    .await?;
    Ok((calls, total.n))
}
