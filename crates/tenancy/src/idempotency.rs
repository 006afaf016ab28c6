//! `Idempotency-Key` for write requests made with organization API keys (docs/integrating.md,
//! "Idempotency", after the IETF draft "The Idempotency-Key HTTP Header Field"): the first
//! answer to a key is kept for [`WINDOW`] and given again for a repeat with the same request
//! hash; a different request under the same key, or a repeat while the first still runs, is a
//! conflict. Scoped per organization and API key, so two integrations never collide.

use crate::schema::api_idempotency_keys as keys;
use chrono::{Duration, Utc};
use db::{Db, OrgId, SystemOp};
use diesel::sql_types::BigInt;
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, QueryableByName};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::TenancyError;

/// How long an answer is kept and replayed.
pub const WINDOW: Duration = Duration::hours(24);

/// One idempotent request: whose, under which key, and the SHA-256 of its method, path, query
/// and body.
#[derive(Debug, Clone)]
pub struct IdempotentRequest {
    /// The organization.
    pub org_id: OrgId,
    /// The API key making it.
    pub api_key_id: Uuid,
    /// The `Idempotency-Key` header, 1–255 characters.
    pub key: String,
    /// SHA-256 of the request, 32 bytes.
    pub request_hash: Vec<u8>,
}

/// A kept answer.
#[derive(Debug, Clone)]
pub struct StoredAnswer {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// What to do with a request carrying an idempotency key.
#[derive(Debug)]
pub enum Claim {
    /// First time (or the last answer is older than [`WINDOW`]): run it, then [`finish`].
    Run,
    /// Answered before: give this answer again.
    Replay(StoredAnswer),
    /// The same key with a different request.
    Mismatch,
    /// The first request with this key is still running.
    InProgress,
}

type Row = (
    Vec<u8>,
    Option<i16>,
    Option<String>,
    Option<Vec<u8>>,
    chrono::DateTime<Utc>,
);

/// The stored key of `req`: one API key's idempotency key in its organization.
#[diesel::dsl::auto_type(no_type_alias)]
fn held_key<'a>(org: OrgId, req: &'a IdempotentRequest) -> _ {
    let org_id: Uuid = org.0;
    let api_key_id: Uuid = req.api_key_id;
    let key: &'a str = &req.key;
    keys::table
        .filter(keys::org_id.eq(org_id))
        .filter(keys::api_key_id.eq(api_key_id))
        .filter(keys::idempotency_key.eq(key))
}

/// Claims `req`'s key: records it as running if new, else says how to answer.
///
/// # Errors
/// [`TenancyError::Db`].
pub async fn claim(db: &Db, req: IdempotentRequest) -> Result<Claim, TenancyError> {
    let org = req.org_id;
    db.tenant(org, async move |tx| {
        let mine = held_key(org, &req);
        let found: Option<Row> = mine
            .select((
                keys::request_hash,
                keys::status,
                keys::content_type,
                keys::body,
                keys::created_at,
            ))
            .for_update()
            .first(tx)
            .await
            .optional()?;
        match found {
            Some((_, _, _, _, at)) if at < Utc::now() - WINDOW => {
                diesel::delete(mine).execute(tx).await?;
            }
            Some((hash, _, _, _, _)) if hash != req.request_hash => return Ok(Claim::Mismatch),
            Some((_, None, _, _, _)) => return Ok(Claim::InProgress),
            Some((_, Some(status), content_type, body, _)) => {
                return Ok(Claim::Replay(StoredAnswer {
                    status: u16::try_from(status).unwrap_or(500),
                    content_type,
                    body: body.unwrap_or_default(),
                }));
            }
            None => {}
        }
        diesel::insert_into(keys::table)
            .values((
                keys::org_id.eq(org.0),
                keys::api_key_id.eq(req.api_key_id),
                keys::idempotency_key.eq(&req.key),
                keys::request_hash.eq(&req.request_hash),
            ))
            .on_conflict_do_nothing()
            .execute(tx)
            .await?;
        Ok(Claim::Run)
    })
    .await
}

/// Keeps the answer to a claimed request, or, with `None` (a server error: the caller should
/// be free to retry), forgets the claim.
///
/// # Errors
/// [`TenancyError::Db`].
pub async fn finish(
    db: &Db,
    req: IdempotentRequest,
    answer: Option<StoredAnswer>,
) -> Result<(), TenancyError> {
    let org = req.org_id;
    db.tenant(org, async move |tx| {
        let mine = held_key(org, &req);
        match answer {
            Some(a) => {
                diesel::update(mine)
                    .set((
                        keys::status.eq(Some(i16::try_from(a.status).unwrap_or(500))),
                        keys::content_type.eq(a.content_type),
                        keys::body.eq(Some(a.body)),
                    ))
                    .execute(tx)
                    .await?;
            }
            None => {
                diesel::delete(mine).execute(tx).await?;
            }
        }
        Ok(())
    })
    .await
}

#[derive(QueryableByName)]
struct Pruned {
    #[diesel(sql_type = BigInt)]
    pruned: i64,
}

/// Deletes every organization's idempotency keys older than [`WINDOW`] (run daily); returns
/// how many.
///
/// # Errors
/// [`TenancyError::Db`].
pub async fn prune(db: &Db) -> Result<i64, TenancyError> {
    db.system(SystemOp::IdempotencyCleanup, async move |c| {
        let row: Pruned = diesel::sql_query("SELECT api_idempotency_keys_prune() AS pruned")
            .get_result(c)
            .await?;
        Ok(row.pruned)
    })
    .await
}
