//! Indexing as a durable job: a document's row is its job (`pending → processing → ready |
//! failed`). Workers find organizations with due documents through `kb_due_orgs` (one
//! [`db::SystemOp::KnowledgeBaseWork`] query returning organization ids), claim one document at a
//! time with `FOR UPDATE SKIP LOCKED` in the organization's transaction, chunk and embed it
//! outside any transaction, and replace its chunks in one transaction that also bumps the
//! organization's index version. A claim older than [`STALE_CLAIM_SECS`] (a worker that died)
//! is taken over; an embedding failure is retried with doubling pauses, then marked `failed`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use db::schema::{kb_chunks, kb_documents};
use db::{OrgId, SystemOp};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::chunk::chunk;
use crate::embed::to_bytes;
use crate::retrieve::bump_version;
use crate::{KnowledgeBase, RagError};

/// A claim older than this (seconds) belongs to a dead worker and is taken over.
pub const STALE_CLAIM_SECS: i32 = 300;
/// Attempts before a document is marked `failed`.
pub const MAX_ATTEMPTS: i32 = 5;
/// Most chunks one document may have; a document with more is marked `failed` at once (its text
/// is already bounded by [`crate::extract::MAX_DOCUMENT_CHARS`], so this only guards chunking).
pub const MAX_CHUNKS: usize = 4_000;
/// Texts embedded between two checks that the job is still wanted: a deleted or re-indexed
/// document stops its running job within one slice (about a second with the local model).
pub const EMBED_SLICE: usize = 64;

#[derive(diesel::QueryableByName)]
struct DueOrg {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    org_id: Uuid,
}

/// The id of document `id` while it is still claimed at `claimed_at` (a delete, a re-index or
/// a takeover ends the claim).
#[diesel::dsl::auto_type(no_type_alias)]
fn claimed_row(org: Uuid, id: Uuid, claimed_at: DateTime<Utc>) -> _ {
    kb_documents::table
        .filter(kb_documents::org_id.eq(org))
        .filter(kb_documents::id.eq(id))
        .filter(kb_documents::status.eq("processing"))
        .filter(kb_documents::claimed_at.eq(claimed_at))
        .select(kb_documents::id)
}

/// Why indexing a document failed.
enum Failure<'a> {
    /// Worth another attempt (the embedding provider failed).
    Retry(&'a str),
    /// Never worth another attempt (the document breaks a limit).
    Permanent(&'a str),
}

struct Claimed {
    id: Uuid,
    body: String,
    format: String,
    attempts: i32,
    claimed_at: DateTime<Utc>,
}

impl KnowledgeBase {
    /// Runs the indexing worker until aborted: first queues documents of another model
    /// ([`KnowledgeBase::queue_reembed`]), then indexes due documents whenever an upload or
    /// re-index asks, and at least every `every`.
    #[must_use]
    pub fn spawn_worker(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            match this.queue_reembed().await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(documents = n, model = %this.model().id, "re-embedding queued")
                }
                Err(e) => tracing::warn!(error = %e, "re-embedding could not be queued"),
            }
            loop {
                match this.work_once(20).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(documents = n, "knowledge-base documents indexed"),
                    Err(e) => tracing::warn!(error = %e, "knowledge-base worker pass failed"),
                }
                this.wait_for_work(every).await;
            }
        })
    }

    /// Waits until an upload or re-index asks for work, or `max` passes (whichever is first).
    pub async fn wait_for_work(&self, max: Duration) {
        let _ = tokio::time::timeout(max, self.wake.notified()).await;
    }

    /// One pass: indexes every due document of up to `limit` organizations. Returns how many
    /// documents were indexed.
    ///
    /// # Errors
    /// [`RagError::Db`] when due work cannot be listed; a document's own failure is recorded on
    /// it.
    pub async fn work_once(&self, limit: i32) -> Result<usize, RagError> {
        let due: Vec<DueOrg> = self
            .db
            .system(SystemOp::KnowledgeBaseWork, move |c| {
                Box::pin(async move {
                    diesel::sql_query("SELECT org_id FROM kb_due_orgs($1, $2)")
                        .bind::<diesel::sql_types::Integer, _>(limit)
                        .bind::<diesel::sql_types::Integer, _>(STALE_CLAIM_SECS)
                        .load(c)
                        .await
                        .map_err(RagError::from)
                })
            })
            .await?;
        let mut done = 0;
        for org in due {
            let org = OrgId(org.org_id);
            loop {
                match self.index_next(org).await {
                    Ok(Some(true)) => done += 1,
                    Ok(Some(false)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(org_id = %org, error = %e, "knowledge-base indexing failed");
                        break;
                    }
                }
            }
        }
        Ok(done)
    }

    /// Queues every document embedded by another model than the configured one (`cargo xtask
    /// reembed`; also run at start-up). Returns how many were queued.
    ///
    /// # Errors
    /// [`RagError::Db`].
    pub async fn queue_reembed(&self) -> Result<i32, RagError> {
        #[derive(diesel::QueryableByName)]
        struct Queued {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            n: i32,
        }
        let model = self.embedder.model().id.clone();
        let queued: Queued = self
            .db
            .system(SystemOp::KnowledgeBaseWork, move |c| {
                Box::pin(async move {
                    diesel::sql_query("SELECT kb_queue_reembed($1) AS n")
                        .bind::<diesel::sql_types::Text, _>(&model)
                        .get_result(c)
                        .await
                        .map_err(RagError::from)
                })
            })
            .await?;
        if queued.n > 0 {
            self.wake.notify_one();
        }
        Ok(queued.n)
    }

    /// Claims and indexes the organization's next due document: `None` when there is none,
    /// `Some(true)` when indexed, `Some(false)` when it failed (recorded on the document).
    ///
    /// # Errors
    /// [`RagError::Db`].
    pub async fn index_next(&self, org: OrgId) -> Result<Option<bool>, RagError> {
        let Some(job) = self.claim(org).await? else {
            return Ok(None);
        };
        let chunks = chunk(&job.body, job.format == "markdown");
        if chunks.len() > MAX_CHUNKS {
            let error = format!("the document has more than {MAX_CHUNKS} chunks");
            self.record_failure(org, &job, Failure::Permanent(&error))
                .await?;
            return Ok(Some(false));
        }
        // Every chunk's text, then every passage's text: texts of similar length share the
        // embedding batches (a batch is padded to its longest text).
        let mut texts: Vec<String> = chunks
            .iter()
            .map(crate::chunk::Chunk::embedding_text)
            .collect();
        let mut passage_counts = Vec::with_capacity(chunks.len());
        for ch in &chunks {
            let passages = ch.passage_texts();
            passage_counts.push(passages.len());
            texts.extend(passages);
        }
        let model = self.embedder.model().clone();
        let vectors = match self.embed_while_claimed(org, &job, &texts).await {
            Ok(None) => {
                tracing::info!(org_id = %org, document_id = %job.id, "indexing stopped: the document was deleted or re-indexed");
                return Ok(Some(false));
            }
            Ok(Some(v)) if v.len() == texts.len() && v.iter().all(|x| x.len() == model.dims) => {
                per_chunk(v, &passage_counts)
            }
            Ok(Some(_)) => {
                self.record_failure(
                    org,
                    &job,
                    Failure::Retry("the embedding provider answered an unexpected shape"),
                )
                .await?;
                return Ok(Some(false));
            }
            Err(e) => {
                tracing::warn!(org_id = %org, document_id = %job.id, error = %e, "embedding failed");
                self.record_failure(org, &job, Failure::Retry(&e.to_string()))
                    .await?;
                return Ok(Some(false));
            }
        };
        let dims = i32::try_from(model.dims).unwrap_or(i32::MAX);
        let claimed_at = job.claimed_at;
        let id = job.id;
        let stored = self
            .db
            .tenant(org, move |c| {
                Box::pin(async move {
                    // Still ours? (A re-index or a takeover after a long pause resets the claim.)
                    let still_ours: Option<Uuid> = claimed_row(org.0, id, claimed_at)
                        .for_update()
                        .get_result(c)
                        .await
                        .optional()?;
                    if still_ours.is_none() {
                        return Ok(false);
                    }
                    diesel::delete(
                        kb_chunks::table
                            .filter(kb_chunks::org_id.eq(org.0))
                            .filter(kb_chunks::document_id.eq(id)),
                    )
                    .execute(c)
                    .await?;
                    let rows: Vec<_> = chunks
                        .iter()
                        .zip(&vectors)
                        .map(|(ch, (v, passages))| {
                            (
                                kb_chunks::id.eq(Uuid::new_v4()),
                                kb_chunks::org_id.eq(org.0),
                                kb_chunks::document_id.eq(id),
                                kb_chunks::ordinal
                                    .eq(i32::try_from(ch.ordinal).unwrap_or(i32::MAX)),
                                kb_chunks::heading.eq(ch.heading.clone()),
                                kb_chunks::content.eq(ch.content.clone()),
                                kb_chunks::embedding_model.eq(model.id.clone()),
                                kb_chunks::embedding_dims.eq(dims),
                                kb_chunks::embedding.eq(to_bytes(v)),
                                kb_chunks::passage_embeddings.eq(to_bytes(passages)),
                            )
                        })
                        .collect();
                    // 10 parameters a row: stay far below PostgreSQL's 65,535.
                    for batch in rows.chunks(1000) {
                        diesel::insert_into(kb_chunks::table)
                            .values(batch)
                            .execute(c)
                            .await?;
                    }
                    diesel::update(kb_documents::table.filter(kb_documents::id.eq(id)))
                        .set((
                            kb_documents::status.eq("ready"),
                            kb_documents::error.eq(None::<String>),
                            kb_documents::chunk_count
                                .eq(i32::try_from(rows.len()).unwrap_or(i32::MAX)),
                            kb_documents::embedding_model.eq(model.id.clone()),
                            kb_documents::indexed_at.eq(diesel::dsl::now),
                            kb_documents::claimed_at.eq(None::<DateTime<Utc>>),
                        ))
                        .execute(c)
                        .await?;
                    bump_version(c, org).await?;
                    Ok::<_, RagError>(true)
                })
            })
            .await?;
        Ok(Some(stored))
    }
}

/// Splits the vectors of chunks and their passages (every chunk's vector, then chunk `i`'s
/// `passage_counts[i]` passage vectors in chunk order) into `(chunk vector, concatenated
/// passage vectors)` per chunk.
fn per_chunk(vectors: Vec<Vec<f32>>, passage_counts: &[usize]) -> Vec<(Vec<f32>, Vec<f32>)> {
    let mut vectors = vectors.into_iter();
    let chunk_vectors: Vec<Vec<f32>> = vectors.by_ref().take(passage_counts.len()).collect();
    chunk_vectors
        .into_iter()
        .zip(passage_counts)
        .map(|(chunk, n)| (chunk, vectors.by_ref().take(*n).flatten().collect()))
        .collect()
}

impl KnowledgeBase {
    /// Embeds `texts` [`EMBED_SLICE`] at a time, checking before each slice that `job` is
    /// still claimed as it was: `Ok(None)` once it is not (deleted, re-indexed or taken over).
    async fn embed_while_claimed(
        &self,
        org: OrgId,
        job: &Claimed,
        texts: &[String],
    ) -> Result<Option<Vec<Vec<f32>>>, crate::EmbedError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for slice in texts.chunks(EMBED_SLICE) {
            match self.still_claimed(org, job).await {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                // Embedding goes on; the final store checks the claim again.
                Err(e) => tracing::warn!(error = %e, "indexing claim check failed"),
            }
            vectors.extend(self.embedder.embed(slice).await?);
        }
        Ok(Some(vectors))
    }

    async fn still_claimed(&self, org: OrgId, job: &Claimed) -> Result<bool, RagError> {
        let (id, claimed_at) = (job.id, job.claimed_at);
        self.db
            .tenant(org, move |c| {
                Box::pin(async move {
                    let found: Option<Uuid> = claimed_row(org.0, id, claimed_at)
                        .get_result(c)
                        .await
                        .optional()?;
                    Ok::<_, RagError>(found.is_some())
                })
            })
            .await
    }

    async fn claim(&self, org: OrgId) -> Result<Option<Claimed>, RagError> {
        self.db
            .tenant(org, move |c| {
                Box::pin(async move {
                    let stale = Utc::now() - chrono::Duration::seconds(i64::from(STALE_CLAIM_SECS));
                    let row: Option<(Uuid, String, String, i32)> = kb_documents::table
                        .filter(kb_documents::org_id.eq(org.0))
                        .filter(
                            kb_documents::status
                                .eq("pending")
                                .and(kb_documents::next_attempt_at.le(diesel::dsl::now))
                                .or(kb_documents::status
                                    .eq("processing")
                                    .and(kb_documents::claimed_at.lt(stale))),
                        )
                        .order(kb_documents::created_at)
                        .select((
                            kb_documents::id,
                            kb_documents::body,
                            kb_documents::format,
                            kb_documents::attempts,
                        ))
                        .for_update()
                        .skip_locked()
                        .first(c)
                        .await
                        .optional()?;
                    let Some((id, body, format, attempts)) = row else {
                        return Ok(None);
                    };
                    // Microsecond precision, as PostgreSQL stores it, so the claim compares equal.
                    let now = DateTime::<Utc>::from_timestamp_micros(Utc::now().timestamp_micros())
                        .unwrap_or_else(Utc::now);
                    diesel::update(kb_documents::table.filter(kb_documents::id.eq(id)))
                        .set((
                            kb_documents::status.eq("processing"),
                            kb_documents::claimed_at.eq(now),
                            kb_documents::attempts.eq(attempts + 1),
                        ))
                        .execute(c)
                        .await?;
                    Ok(Some(Claimed {
                        id,
                        body,
                        format,
                        attempts: attempts + 1,
                        claimed_at: now,
                    }))
                })
            })
            .await
    }

    async fn record_failure(
        &self,
        org: OrgId,
        job: &Claimed,
        failure: Failure<'_>,
    ) -> Result<(), RagError> {
        let (status, message) = match failure {
            Failure::Permanent(error) => ("failed", error.to_owned()),
            Failure::Retry(error) if job.attempts >= MAX_ATTEMPTS => (
                "failed",
                format!("indexing failed after {MAX_ATTEMPTS} attempts: {error}"),
            ),
            Failure::Retry(error) => ("pending", format!("will retry: {error}")),
        };
        // 30 s, 60 s, 120 s, … after each failed attempt.
        let pause = 30i64 << job.attempts.clamp(1, 10).saturating_sub(1);
        let next = Utc::now() + chrono::Duration::seconds(pause);
        let id = job.id;
        let claimed_at = job.claimed_at;
        self.db
            .tenant(org, move |c| {
                Box::pin(async move {
                    diesel::update(
                        kb_documents::table
                            .filter(kb_documents::org_id.eq(org.0))
                            .filter(kb_documents::id.eq(id))
                            .filter(kb_documents::claimed_at.eq(claimed_at)),
                    )
                    .set((
                        kb_documents::status.eq(status),
                        kb_documents::error.eq(message),
                        kb_documents::next_attempt_at.eq(next),
                        kb_documents::claimed_at.eq(None::<DateTime<Utc>>),
                    ))
                    .execute(c)
                    .await
                    .map(|_| ())
                    .map_err(RagError::from)
                })
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunk_and_passage_vectors_are_split_per_chunk() {
        let vectors = vec![vec![1.0], vec![2.0], vec![1.1], vec![1.2], vec![2.1]];
        assert_eq!(
            super::per_chunk(vectors, &[2, 1]),
            vec![(vec![1.0], vec![1.1, 1.2]), (vec![2.0], vec![2.1])]
        );
    }
}
