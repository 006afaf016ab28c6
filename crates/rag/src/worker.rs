//! Indexing as a durable job: a `kb.index` job of the platform's job runner per upload,
//! re-index or re-embed, queued in the same transaction as the document's `pending` state and
//! ordered per document. The document's row keeps its own state (`pending → processing → ready
//! | failed`) for the console. The handler claims the document (`processing`, a claim time),
//! chunks and embeds it outside any transaction, checking between slices that the claim still
//! holds (a delete or re-index ends it), and replaces its chunks in one transaction that also
//! bumps the organization's index version. An embedding failure is retried per [`RETRY`]; on the
//! last attempt, or for a document that breaks a limit, the document is marked `failed`.

use std::sync::Arc;
use std::time::Duration;

use crate::schema::{kb_chunks, kb_documents};
use chrono::{DateTime, Utc};
use db::{OrgId, SystemOp, TenantTx};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use jobs::{Done, Job, RetryPolicy, Runner};
use uuid::Uuid;

use crate::chunk::chunk;
use crate::embed::to_bytes;
use crate::retrieve::bump_version;
use crate::{KnowledgeBase, RagError};

/// The job kind that indexes one document.
pub const JOB_KIND: &str = "kb.index";

/// The indexing job's retry policy: 5 attempts, 30 s doubling up to an hour.
pub const RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 5,
    base_delay: Duration::from_secs(30),
    max_delay: Duration::from_secs(3600),
};

/// Most chunks one document may have; a document with more is marked `failed` at once (its text
/// is already bounded by [`crate::extract::MAX_DOCUMENT_CHARS`], so this only guards chunking).
pub const MAX_CHUNKS: usize = 4_000;
/// Texts embedded between two checks that the job is still wanted: a deleted or re-indexed
/// document stops its running job within one slice (about a second with the local model).
pub const EMBED_SLICE: usize = 64;

/// Queues document `id` for indexing in the caller's tenant transaction (the caller wakes the
/// job workers after its commit).
///
/// # Errors
/// [`RagError::Db`].
pub(crate) async fn queue(tx: &mut TenantTx, id: Uuid) -> Result<(), RagError> {
    let job = jobs::NewJob::new(JOB_KIND, serde_json::json!({ "document_id": id }))
        .ordered_by(id.to_string());
    jobs::enqueue(tx, job).await?;
    Ok(())
}

/// The id of document `id` while it is still claimed at `claimed_at` (a delete, a re-index or
/// a takeover ends the claim).
#[diesel::dsl::auto_type(no_type_alias)]
fn claimed_row(org: Uuid, id: Uuid, claimed_at: DateTime<Utc>) -> _ {
    kb_documents::table
        .filter(db::same_tenant(kb_documents::org_id, org))
        .filter(kb_documents::id.eq(id))
        .filter(kb_documents::status.eq("processing"))
        .filter(kb_documents::claimed_at.eq(claimed_at))
        .select(kb_documents::id)
}

/// Why indexing a document failed.
enum IndexFailure<'a> {
    /// Worth another attempt (the embedding provider failed).
    Retry(&'a str),
    /// Never worth another attempt (the document breaks a limit).
    Permanent(&'a str),
}

/// What one indexing run came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Indexed {
    /// The chunks were replaced: the document is `ready`.
    Ready,
    /// Nothing to do, or the run stopped: the document is gone, no longer pending, or was
    /// deleted or re-indexed meanwhile.
    Skipped,
    /// The document is `failed` (a limit, or the last attempt).
    Failed,
    /// The embedding failed; the document stays `pending` and the job is retried.
    Retry(String),
}

struct Claimed {
    id: Uuid,
    body: String,
    format: String,
    claimed_at: DateTime<Utc>,
    last_attempt: bool,
}

impl KnowledgeBase {
    /// Registers the indexing job on `runner`.
    #[must_use]
    pub fn register_jobs(self: &Arc<Self>, runner: Runner) -> Runner {
        let this = Arc::clone(self);
        runner.register(JOB_KIND, RETRY, move |job| {
            let this = Arc::clone(&this);
            async move { this.index_job(job).await }
        })
    }

    /// Runs the queued indexing jobs on this instance now, one at a time, until none is due
    /// (for commands, tests and benchmarks; served instances run them on their job runner).
    /// Returns how many jobs ran.
    ///
    /// # Errors
    /// [`RagError::Db`] when jobs cannot be claimed (a job's own failure is recorded).
    pub async fn work_once(&self, limit: i32) -> Result<usize, RagError> {
        let config = jobs::RunnerConfig {
            workers: 1,
            batch: limit,
            ..jobs::RunnerConfig::default()
        };
        let runner =
            Arc::new(self.clone()).register_jobs(Runner::new(self.jobs.clone(), config, "kb-once"));
        let mut ran = 0;
        loop {
            match runner.run_once("kb-once/0").await {
                Ok(0) => return Ok(ran),
                Ok(n) => ran += n,
                Err(jobs::JobError::Db(e)) => return Err(RagError::Db(e)),
                Err(jobs::JobError::LeaseLost) => return Ok(ran),
            }
        }
    }

    /// Runs one `kb.index` job.
    ///
    /// # Errors
    /// [`jobs::Failure::Permanent`] for a job without a document id, [`jobs::Failure::Retry`]
    /// when embedding or the database fails.
    pub async fn index_job(&self, job: Job) -> Result<Done, jobs::Failure> {
        let Some(id) = job.payload["document_id"]
            .as_str()
            .and_then(|id| Uuid::parse_str(id).ok())
        else {
            return Err(jobs::Failure::Permanent("the job names no document".into()));
        };
        match self.index_document(job.org, id, job.last_attempt).await {
            Ok(Indexed::Retry(e)) => Err(jobs::Failure::Retry(e)),
            Ok(indexed) => {
                tracing::info!(org_id = %job.org, document_id = %id, ?indexed, "knowledge-base document indexed");
                Ok(Done::Finished)
            }
            Err(e) => Err(jobs::Failure::Retry(e.to_string())),
        }
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
            .system(SystemOp::KnowledgeBaseWork, async move |c| {
                diesel::sql_query("SELECT kb_queue_reembed($1) AS n")
                    .bind::<diesel::sql_types::Text, _>(&model)
                    .get_result(c)
                    .await
                    .map_err(RagError::from)
            })
            .await?;
        if queued.n > 0 {
            self.jobs.wake();
        }
        Ok(queued.n)
    }

    /// Claims and indexes document `id` (`last_attempt`: a failure now marks it `failed`).
    ///
    /// # Errors
    /// [`RagError::Db`].
    pub async fn index_document(
        &self,
        org: OrgId,
        id: Uuid,
        last_attempt: bool,
    ) -> Result<Indexed, RagError> {
        let Some(job) = self.claim(org, id, last_attempt).await? else {
            return Ok(Indexed::Skipped);
        };
        let chunks = chunk(&job.body, job.format == "markdown");
        if chunks.len() > MAX_CHUNKS {
            let error = format!("the document has more than {MAX_CHUNKS} chunks");
            return self
                .record_failure(org, &job, IndexFailure::Permanent(&error))
                .await;
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
                return Ok(Indexed::Skipped);
            }
            Ok(Some(v)) if v.len() == texts.len() && v.iter().all(|x| x.len() == model.dims) => {
                per_chunk(v, &passage_counts)
            }
            Ok(Some(_)) => {
                return self
                    .record_failure(
                        org,
                        &job,
                        IndexFailure::Retry("the embedding provider answered an unexpected shape"),
                    )
                    .await;
            }
            Err(e) => {
                tracing::warn!(org_id = %org, document_id = %job.id, error = %e, "embedding failed");
                return self
                    .record_failure(org, &job, IndexFailure::Retry(&e.to_string()))
                    .await;
            }
        };
        let (id, claimed_at) = (job.id, job.claimed_at);
        let stored = self
            .db
            .tenant(org, async move |tx| {
                let indexed = Embedded {
                    chunks: &chunks,
                    vectors: &vectors,
                    model: &model,
                };
                store_chunks(tx, (id, claimed_at), &indexed).await
            })
            .await?;
        Ok(if stored {
            Indexed::Ready
        } else {
            Indexed::Skipped
        })
    }
}

/// A document's chunks with their vectors (chunk vector, concatenated passage vectors) from
/// one model.
struct Embedded<'a> {
    chunks: &'a [crate::chunk::Chunk],
    vectors: &'a [(Vec<f32>, Vec<f32>)],
    model: &'a crate::EmbeddingModel,
}

/// Replaces document `id`'s chunks and marks it `ready`, bumping the organization's index
/// version, if the claim made at `claimed_at` still holds (a re-index or a delete ends it):
/// whether it did.
async fn store_chunks(
    tx: &mut TenantTx,
    (id, claimed_at): (Uuid, DateTime<Utc>),
    embedded: &Embedded<'_>,
) -> Result<bool, RagError> {
    let org = tx.org();
    let still_ours: Option<Uuid> = claimed_row(org.0, id, claimed_at)
        .for_update()
        .get_result(tx)
        .await
        .optional()?;
    if still_ours.is_none() {
        return Ok(false);
    }
    diesel::delete(
        kb_chunks::table
            .filter(db::same_tenant(kb_chunks::org_id, org.0))
            .filter(kb_chunks::document_id.eq(id)),
    )
    .execute(tx)
    .await?;
    let model = embedded.model;
    let dims = i32::try_from(model.dims).unwrap_or(i32::MAX);
    let rows: Vec<_> = embedded
        .chunks
        .iter()
        .zip(embedded.vectors)
        .map(|(ch, (v, passages))| {
            (
                kb_chunks::id.eq(Uuid::new_v4()),
                kb_chunks::org_id.eq(org.0),
                kb_chunks::document_id.eq(id),
                kb_chunks::ordinal.eq(i32::try_from(ch.ordinal).unwrap_or(i32::MAX)),
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
            .execute(tx)
            .await?;
    }
    diesel::update(kb_documents::table.filter(kb_documents::id.eq(id)))
        .set((
            kb_documents::status.eq("ready"),
            kb_documents::error.eq(None::<String>),
            kb_documents::chunk_count.eq(i32::try_from(rows.len()).unwrap_or(i32::MAX)),
            kb_documents::embedding_model.eq(model.id.clone()),
            kb_documents::indexed_at.eq(diesel::dsl::now),
            kb_documents::claimed_at.eq(None::<DateTime<Utc>>),
        ))
        .execute(tx)
        .await?;
    bump_version(tx, org).await?;
    Ok(true)
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
            .tenant(org, async move |tx| {
                let found: Option<Uuid> = claimed_row(org.0, id, claimed_at)
                    .get_result(tx)
                    .await
                    .optional()?;
                Ok::<_, RagError>(found.is_some())
            })
            .await
    }

    /// Claims document `id` when it waits for indexing (`pending`, or `processing` by a run
    /// that died: one document's jobs run one at a time, so any claim seen here is stale).
    async fn claim(
        &self,
        org: OrgId,
        id: Uuid,
        last_attempt: bool,
    ) -> Result<Option<Claimed>, RagError> {
        self.db
            .tenant(org, async move |tx| {
                let row: Option<(String, String)> = kb_documents::table
                    .filter(db::same_tenant(kb_documents::org_id, org.0))
                    .filter(kb_documents::id.eq(id))
                    .filter(kb_documents::status.eq_any(["pending", "processing"]))
                    .select((kb_documents::body, kb_documents::format))
                    .for_update()
                    .first(tx)
                    .await
                    .optional()?;
                let Some((body, format)) = row else {
                    return Ok(None);
                };
                // Microsecond precision, as PostgreSQL stores it, so the claim compares equal.
                let now = DateTime::<Utc>::from_timestamp_micros(Utc::now().timestamp_micros())
                    .unwrap_or_else(Utc::now);
                diesel::update(kb_documents::table.filter(kb_documents::id.eq(id)))
                    .set((
                        kb_documents::status.eq("processing"),
                        kb_documents::claimed_at.eq(now),
                        kb_documents::attempts.eq(kb_documents::attempts + 1),
                    ))
                    .execute(tx)
                    .await?;
                Ok(Some(Claimed {
                    id,
                    body,
                    format,
                    claimed_at: now,
                    last_attempt,
                }))
            })
            .await
    }

    /// Records a failed run on the document: `failed` for good (a limit, or the last attempt),
    /// else back to `pending` with the error, for the job's retry.
    async fn record_failure(
        &self,
        org: OrgId,
        job: &Claimed,
        failure: IndexFailure<'_>,
    ) -> Result<Indexed, RagError> {
        let (outcome, message) = match failure {
            IndexFailure::Permanent(error) => (Indexed::Failed, error.to_owned()),
            IndexFailure::Retry(error) if job.last_attempt => (
                Indexed::Failed,
                format!(
                    "indexing failed after {} attempts: {error}",
                    RETRY.max_attempts
                ),
            ),
            IndexFailure::Retry(error) => (
                Indexed::Retry(error.to_owned()),
                format!("will retry: {error}"),
            ),
        };
        let status = if outcome == Indexed::Failed {
            "failed"
        } else {
            "pending"
        };
        let (id, claimed_at) = (job.id, job.claimed_at);
        self.db
            .tenant(org, async move |tx| {
                diesel::update(
                    kb_documents::table
                        .filter(db::same_tenant(kb_documents::org_id, org.0))
                        .filter(kb_documents::id.eq(id))
                        .filter(kb_documents::claimed_at.eq(claimed_at)),
                )
                .set((
                    kb_documents::status.eq(status),
                    kb_documents::error.eq(message),
                    kb_documents::claimed_at.eq(None::<DateTime<Utc>>),
                ))
                .execute(tx)
                .await
                .map(|_| ())
                .map_err(RagError::from)
            })
            .await?;
        Ok(outcome)
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
