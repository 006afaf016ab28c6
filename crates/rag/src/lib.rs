//! The organization's knowledge base (SPEC §7; seed 001 §3.1, §6a, §7 "dynamic context
//! injection").
//!
//! - [`extract`]: text out of an upload (PDF through `pdf-extract`, plain text, Markdown), with
//!   clear refusals for encrypted, scanned-only and empty files.
//! - [`chunk`]: structure-aware chunking (headings, paragraphs) with overlap.
//! - [`embed`]: the [`embed::Embedder`] trait, an OpenAI-compatible HTTP provider and a local
//!   all-MiniLM-L6-v2 run in Rust with candle.
//! - [`documents`]: upload, list, get, delete, re-index; [`worker`]: indexing as a durable job.
//! - [`query`]: a caller's question rewritten (filler, spelled numbers, everyday synonyms) and
//!   its focus terms.
//! - [`retrieve`]: exact vector similarity of chunks and their passages over a per-organization
//!   in-memory copy, a calibrated "no answer" decision ([`config`]), the seed's limits and a
//!   full-text keyword fallback.
//!
//! Every query runs in a tenant transaction and filters by `org_id`; vectors of another model
//! than the configured one are never compared with a query.

pub mod chunk;
pub mod config;
pub mod documents;
pub mod embed;
pub mod eval;
pub mod extract;
pub mod index;
#[cfg(any(test, feature = "test-support"))]
pub mod pdf_fixture;
pub mod pdf_limits;
pub mod query;
pub mod retrieve;
#[cfg(not(feature = "test-support"))]
mod schema;
/// The knowledge base's tables, for benchmarks and tests that fill them directly.
#[cfg(feature = "test-support")]
#[doc(hidden)]
pub mod schema;
pub mod worker;

use std::sync::Arc;

use db::{Db, DbError};

pub use config::{RetrievalConfig, RetrievalOverrides};
pub use embed::{EmbedError, Embedder, EmbeddingModel};
pub use extract::{DocumentFormat, ExtractError};
pub use retrieve::{Retrieval, RetrievalMode, RetrievedChunk};

/// Errors of the knowledge base.
#[derive(Debug, thiserror::Error)]
pub enum RagError {
    /// The upload could not be read; the error says why (stable codes via [`ExtractError::code`]).
    #[error(transparent)]
    Extract(#[from] ExtractError),
    /// Input breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// No such document in this organization.
    #[error("document not found")]
    NotFound,
    /// The same file (same SHA-256) is already in this organization's knowledge base.
    #[error("this file is already in the knowledge base")]
    Duplicate {
        /// The existing document.
        id: uuid::Uuid,
    },
    /// The embedding provider failed (details are logged, never returned).
    #[error(transparent)]
    Embed(#[from] EmbedError),
    /// The organization's index could not be loaded (a concurrent load failed; logged).
    #[error("the knowledge base could not be loaded")]
    IndexLoad,
    /// A database failure.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for RagError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}

/// The knowledge-base service: one per process, shared behind an `Arc`.
#[derive(Clone)]
pub struct KnowledgeBase {
    db: Db,
    embedder: Arc<dyn Embedder>,
    config: RetrievalConfig,
    index: index::IndexCache,
    /// Query vectors by text ([`embed::cache`]).
    queries: embed::cache::QueryVectors,
    /// Wakes the job workers after a commit that queued an indexing job.
    jobs: jobs::Waker,
}

impl std::fmt::Debug for KnowledgeBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeBase")
            .field("model", &self.embedder.model())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl KnowledgeBase {
    /// A knowledge base over `db` embedding with `embedder` and retrieving with `config`
    /// (platform defaults; organizations may override them).
    #[must_use]
    pub fn new(
        db: Db,
        embedder: Arc<dyn Embedder>,
        config: RetrievalConfig,
        jobs: jobs::Waker,
    ) -> Self {
        Self {
            db,
            embedder,
            config,
            index: index::IndexCache::new(index::DEFAULT_CACHE_BYTES),
            queries: embed::cache::QueryVectors::new(embed::cache::DEFAULT_QUERY_VECTORS),
            jobs,
        }
    }

    /// The same knowledge base remembering at most `entries` query vectors
    /// (default [`embed::cache::DEFAULT_QUERY_VECTORS`]; 0 embeds every query, as the latency
    /// benchmark does to measure the embedding).
    #[must_use]
    pub fn with_query_cache(mut self, entries: u64) -> Self {
        self.queries = embed::cache::QueryVectors::new(entries);
        self
    }

    /// The model new chunks are embedded with and queries are compared against.
    #[must_use]
    pub fn model(&self) -> &EmbeddingModel {
        self.embedder.model()
    }

    /// The embedder (benchmarks and the evaluation harness embed directly).
    #[must_use]
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// The platform's retrieval defaults.
    #[must_use]
    pub fn config(&self) -> &RetrievalConfig {
        &self.config
    }
}
