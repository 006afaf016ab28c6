//! Voicemails as first-class records (seed 000 "Voicemail System"): independent of calls (a
//! voicemail can arrive without one), with a required recipient (`dialpad_user_id`) and an
//! optional call. [`upsert`] is idempotent: a re-delivered voicemail updates its record, found by
//! its Dialpad call when it has one, else by its recording URL.

mod schema;

use crate::schema::voicemails;
use chrono::{DateTime, Utc};
use db::{DbError, Page, TenantTx};
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Uuid as SqlUuid};
use diesel::{
    BoolExpressionMethods, ExpressionMethods, OptionalExtension, QueryDsl, Queryable,
    QueryableByName, Selectable, SelectableHelper,
};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Errors of the voicemail operations.
#[derive(Debug, thiserror::Error)]
pub enum VoicemailError {
    /// Input breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// No such voicemail for this app.
    #[error("voicemail not found")]
    NotFound,
    /// A database failure.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for VoicemailError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}

/// A voicemail (seed 000 response shape).
#[derive(
    Debug, Clone, PartialEq, Eq, Queryable, QueryableByName, Selectable, Serialize, ToSchema,
)]
#[diesel(table_name = voicemails, check_for_backend(diesel::pg::Pg))]
#[schema(as = VoicemailBody)]
pub struct Voicemail {
    /// Id.
    pub id: Uuid,
    /// The app.
    pub app_id: Uuid,
    /// The Dialpad call it belongs to, if any.
    pub dialpad_call_id: Option<i64>,
    /// The Dialpad user who received it.
    pub dialpad_user_id: i64,
    /// Caller.
    pub from_number: Option<String>,
    /// Number called.
    pub to_number: Option<String>,
    /// Audio URL.
    pub recording_url: Option<String>,
    /// Transcript, if any.
    pub transcript: Option<String>,
    /// Length in seconds.
    pub duration_seconds: Option<i32>,
    /// Created, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// Last changed, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

/// A voicemail to record (from a Dialpad `voicemail` event).
#[derive(Debug, Clone, Default)]
pub struct NewVoicemail {
    /// The call, if known.
    pub dialpad_call_id: Option<i64>,
    /// The recipient (required).
    pub dialpad_user_id: i64,
    /// Caller.
    pub from_number: Option<String>,
    /// Number called.
    pub to_number: Option<String>,
    /// Audio URL.
    pub recording_url: Option<String>,
    /// Transcript.
    pub transcript: Option<String>,
    /// Length in seconds.
    pub duration_seconds: Option<i32>,
}

const UPSERT_BY_CALL: &str = "
INSERT INTO voicemails (id, org_id, app_id, dialpad_call_id, dialpad_user_id, from_number, to_number,
                        recording_url, transcript, duration_seconds)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (app_id, dialpad_call_id) WHERE dialpad_call_id IS NOT NULL DO UPDATE SET
    dialpad_user_id = EXCLUDED.dialpad_user_id,
    from_number = coalesce(EXCLUDED.from_number, voicemails.from_number),
    to_number = coalesce(EXCLUDED.to_number, voicemails.to_number),
    recording_url = coalesce(EXCLUDED.recording_url, voicemails.recording_url),
    transcript = coalesce(EXCLUDED.transcript, voicemails.transcript),
    duration_seconds = coalesce(EXCLUDED.duration_seconds, voicemails.duration_seconds)
RETURNING *";

const UPSERT_BY_RECORDING: &str = "
INSERT INTO voicemails (id, org_id, app_id, dialpad_call_id, dialpad_user_id, from_number, to_number,
                        recording_url, transcript, duration_seconds)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (app_id, recording_url) WHERE dialpad_call_id IS NULL AND recording_url IS NOT NULL DO UPDATE SET
    dialpad_user_id = EXCLUDED.dialpad_user_id,
    from_number = coalesce(EXCLUDED.from_number, voicemails.from_number),
    to_number = coalesce(EXCLUDED.to_number, voicemails.to_number),
    transcript = coalesce(EXCLUDED.transcript, voicemails.transcript),
    duration_seconds = coalesce(EXCLUDED.duration_seconds, voicemails.duration_seconds)
RETURNING *";

/// Creates or updates a voicemail (seed 000 `upsertVoicemail`). Fields a re-delivery leaves out
/// keep their stored values.
///
/// # Errors
/// [`VoicemailError::Invalid`] (no recipient, neither call nor recording, negative duration),
/// [`VoicemailError::Db`].
pub async fn upsert(
    tx: &mut TenantTx,
    app: Uuid,
    new: NewVoicemail,
) -> Result<Voicemail, VoicemailError> {
    let org = tx.org();
    validate(&new)?;
    let sql = if new.dialpad_call_id.is_some() {
        UPSERT_BY_CALL
    } else {
        UPSERT_BY_RECORDING
    };
    diesel::sql_query(sql)
        .bind::<SqlUuid, _>(Uuid::new_v4())
        .bind::<SqlUuid, _>(org.0)
        .bind::<SqlUuid, _>(app)
        .bind::<Nullable<BigInt>, _>(new.dialpad_call_id)
        .bind::<BigInt, _>(new.dialpad_user_id)
        .bind::<Nullable<Text>, _>(new.from_number)
        .bind::<Nullable<Text>, _>(new.to_number)
        .bind::<Nullable<Text>, _>(new.recording_url)
        .bind::<Nullable<Text>, _>(new.transcript)
        .bind::<Nullable<Integer>, _>(new.duration_seconds)
        .get_result(tx)
        .await
        .map_err(VoicemailError::from)
}

fn validate(new: &NewVoicemail) -> Result<(), VoicemailError> {
    if new.dialpad_user_id <= 0 {
        return Err(VoicemailError::Invalid(
            "dialpad_user_id is required".into(),
        ));
    }
    if new.dialpad_call_id.is_none() && new.recording_url.is_none() {
        return Err(VoicemailError::Invalid(
            "a voicemail needs its call id or its recording_url".into(),
        ));
    }
    if new.duration_seconds.is_some_and(|d| d < 0) {
        return Err(VoicemailError::Invalid(
            "duration_seconds must not be negative".into(),
        ));
    }
    Ok(())
}

/// One voicemail of the app.
///
/// # Errors
/// [`VoicemailError::NotFound`], [`VoicemailError::Db`].
pub async fn get(tx: &mut TenantTx, app: Uuid, id: Uuid) -> Result<Voicemail, VoicemailError> {
    let org = tx.org();
    voicemails::table
        .filter(voicemails::id.eq(id))
        .filter(
            voicemails::app_id
                .eq(app)
                .and(db::same_tenant(voicemails::org_id, org.0)),
        )
        .select(Voicemail::as_select())
        .first(tx)
        .await
        .optional()?
        .ok_or(VoicemailError::NotFound)
}

/// A page of the app's voicemails, newest first, optionally for one recipient, and the total.
///
/// # Errors
/// [`VoicemailError::Db`].
pub async fn list(
    tx: &mut TenantTx,
    app: Uuid,
    dialpad_user_id: Option<i64>,
    page: Page,
) -> Result<(Vec<Voicemail>, i64), VoicemailError> {
    let org = tx.org();
    let scoped = || {
        let mut q = voicemails::table
            .filter(voicemails::app_id.eq(app).and(voicemails::org_id.eq(org.0)))
            .into_boxed();
        if let Some(user) = dialpad_user_id {
            q = q.filter(voicemails::dialpad_user_id.eq(user));
        }
        q
    };
    let page = scoped()
        .order((voicemails::created_at.desc(), voicemails::id.desc()))
        .limit(page.limit)
        .offset(page.offset)
        .select(Voicemail::as_select())
        .load(tx)
        .await?;
    let total = scoped().count().get_result(tx).await?;
    Ok((page, total))
}

/// Deletes a voicemail.
///
/// # Errors
/// [`VoicemailError::NotFound`], [`VoicemailError::Db`].
pub async fn delete(tx: &mut TenantTx, app: Uuid, id: Uuid) -> Result<(), VoicemailError> {
    let org = tx.org();
    let deleted = diesel::delete(
        voicemails::table.filter(voicemails::id.eq(id)).filter(
            voicemails::app_id
                .eq(app)
                .and(db::same_tenant(voicemails::org_id, org.0)),
        ),
    )
    .execute(tx)
    .await?;
    if deleted == 0 {
        return Err(VoicemailError::NotFound);
    }
    Ok(())
}

/// Links a voicemail recorded before its call was known to that call (seed 000
/// `linkVoicemailToCall`).
///
/// # Errors
/// [`VoicemailError::NotFound`], [`VoicemailError::Db`] (for example when another voicemail of
/// the app already has that call).
pub async fn link_to_call(
    tx: &mut TenantTx,
    app: Uuid,
    id: Uuid,
    dialpad_call_id: i64,
) -> Result<Voicemail, VoicemailError> {
    let org = tx.org();
    diesel::update(
        voicemails::table.filter(voicemails::id.eq(id)).filter(
            voicemails::app_id
                .eq(app)
                .and(db::same_tenant(voicemails::org_id, org.0)),
        ),
    )
    .set(voicemails::dialpad_call_id.eq(Some(dialpad_call_id)))
    .returning(Voicemail::as_returning())
    .get_result(tx)
    .await
    .optional()?
    .ok_or(VoicemailError::NotFound)
}
