//! Hybrid retrieval (seed 001 §6a; SPEC §7; issue "Knowledge base that understands callers").
//!
//! 1. The caller's question is rewritten for retrieval ([`crate::query::SpokenQuery`]: filler
//!    removed, numbers as digits, everyday words expanded with the words handbooks use).
//! 2. One tenant transaction reads the organization's settings and index version and finds,
//!    by PostgreSQL full-text search (English stemming), the chunks holding every term of the
//!    rewritten question. The rewritten question and its expansion are embedded only when the
//!    organization has chunks of the current model: at the same time as the transaction when
//!    its last loaded index had chunks, else after it, and not at all when it has none (calls of
//!    organizations without a knowledge base cost one query, and the local model is never
//!    loaded for them).
//! 3. Vector search is exact over the organization's in-memory index ([`crate::index`]): a
//!    chunk scores the highest cosine similarity of its own vector and its passages' vectors
//!    (sentences, list items, table rows), so one matching sentence is not diluted by the rest
//!    of its chunk. This is the reranking stage: candidates are ordered by that score.
//! 4. The "no answer" decision: chunks scoring at least the similarity threshold are candidates
//!    — unless the question has a focus term the knowledge base never uses, not even through an
//!    everyday synonym ("do you sell electric toothbrushes?"); then a chunk needs the higher
//!    `ungrounded_threshold`. Both thresholds are calibrated per model
//!    ([`RetrievalConfig::for_model`]).
//! 5. Ordering by the passage-aware score alone decided more tuning questions right than
//!    reciprocal rank fusion with a full-text ranking (decision 33), so full-text search serves
//!    only the fallback: when no chunk is a candidate, the chunks holding **every** term of the
//!    rewritten question (seed 001 §6a item 6), never arbitrary chunks; otherwise nothing is
//!    found.
//! 6. At most `max_chunks` chunks and `max_context_chars` characters of context are returned.

use std::sync::Arc;

use crate::schema::{kb_chunks, kb_settings};
use db::OrgId;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Serialize;
use uuid::Uuid;

use crate::config::RetrievalOverrides;
use crate::index::{IndexedChunk, OrgIndex};
use crate::query::SpokenQuery;
use crate::{KnowledgeBase, RagError, RetrievalConfig};

/// Candidates taken from the vector ranking and from full-text search.
pub const CANDIDATES: usize = 20;
/// Longest query read, in characters.
pub const MAX_QUERY_CHARS: usize = 1000;

/// How the chunks were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RetrievalMode {
    /// Vector matches (chunk or passage) above the threshold, best first.
    Hybrid,
    /// No vector match: chunks containing every query term.
    Keyword,
    /// Nothing relevant.
    None,
}

impl RetrievalMode {
    /// `hybrid`, `keyword` or `none`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hybrid => "hybrid",
            Self::Keyword => "keyword",
            Self::None => "none",
        }
    }
}

/// A chunk as the model reads it: `Section path: text` (the text alone without a heading).
#[must_use]
pub fn chunk_text(heading: &str, content: &str) -> String {
    if heading.is_empty() {
        content.to_owned()
    } else {
        format!("{heading}: {content}")
    }
}

/// One retrieved chunk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetrievedChunk {
    /// Chunk id.
    pub id: Uuid,
    /// Its document.
    pub document_id: Uuid,
    /// Section path.
    pub heading: String,
    /// Text.
    pub content: String,
    /// The chunk's score: the highest cosine similarity of the query with the chunk or one of
    /// its passages, -1..1.
    pub similarity: f32,
}

/// What a query found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retrieval {
    /// Chunks in order of relevance, each included (possibly shortened) in `context`.
    pub chunks: Vec<RetrievedChunk>,
    /// The chunks' texts for the model, at most `max_context_chars` characters.
    pub context: String,
    /// How they were found.
    pub mode: RetrievalMode,
    /// Words of the question naming something the knowledge base never mentions (they raise
    /// the similarity a chunk needs; see the module documentation).
    pub ungrounded: Vec<String>,
}

impl RetrievedChunk {
    /// The chunk as the model reads it ([`chunk_text`]).
    #[must_use]
    pub fn text(&self) -> String {
        chunk_text(&self.heading, &self.content)
    }
}

impl Retrieval {
    /// Nothing found.
    fn nothing() -> Self {
        Self {
            chunks: Vec::new(),
            context: String::new(),
            mode: RetrievalMode::None,
            ungrounded: Vec::new(),
        }
    }

    /// Whether anything was found.
    #[must_use]
    pub fn found(&self) -> bool {
        !self.chunks.is_empty()
    }
}

/// A stored chunk as the index loads it: id, document id, heading, content, its vector's bytes
/// and its passages' vectors' bytes.
type StoredChunk = (Uuid, Uuid, String, String, Vec<u8>, Vec<u8>);

/// A chunk holding every term of the rewritten question (full-text search).
struct KeywordHit {
    id: Uuid,
}

diesel::define_sql_function! {
    /// `kb_keyword_hits(org, model, text, limit)` (migration 000030): the ids of up to `limit`
    /// chunks of `model` holding every term of `text` (English stemming), best ranked first
    /// (`ts_rank_cd`); in a select list, one row per id.
    fn kb_keyword_hits(
        p_org: diesel::sql_types::Uuid,
        p_model: diesel::sql_types::Text,
        p_text: diesel::sql_types::Text,
        p_limit: diesel::sql_types::Integer,
    ) -> diesel::sql_types::Uuid;
}

/// Up to [`CANDIDATES`] chunks of `model` holding every term of `text`, best ranked first: one
/// prepared statement, cached per connection, whose tsquery is parsed once per call.
async fn keyword_hits(
    tx: &mut db::TenantTx,
    org: OrgId,
    text: &str,
    model: &str,
) -> QueryResult<Vec<KeywordHit>> {
    let ids: Vec<Uuid> = diesel::select(kb_keyword_hits(org.0, model, text, CANDIDATES as i32))
        .load(tx)
        .await?;
    Ok(ids.into_iter().map(|id| KeywordHit { id }).collect())
}

/// The organization's settings row (defaults when absent) and version.
pub(crate) async fn read_state(
    c: &mut diesel_async::AsyncPgConnection,
    org: OrgId,
) -> QueryResult<(i64, RetrievalOverrides)> {
    #[derive(Queryable)]
    struct Row {
        version: i64,
        similarity_threshold: Option<f32>,
        max_chunks: Option<i32>,
        max_context_chars: Option<i32>,
    }
    let row: Option<Row> = kb_settings::table
        .filter(kb_settings::org_id.eq(org.0))
        .select((
            kb_settings::version,
            kb_settings::similarity_threshold,
            kb_settings::max_chunks,
            kb_settings::max_context_chars,
        ))
        .first(c)
        .await
        .optional()?;
    Ok(row.map_or((0, RetrievalOverrides::default()), |r| {
        (
            r.version,
            RetrievalOverrides {
                similarity_threshold: r.similarity_threshold,
                max_chunks: r.max_chunks,
                max_context_chars: r.max_context_chars,
            },
        )
    }))
}

/// Bumps the organization's index version (call in the transaction that changes its chunks).
pub(crate) async fn bump_version(
    c: &mut diesel_async::AsyncPgConnection,
    org: OrgId,
) -> QueryResult<()> {
    diesel::insert_into(kb_settings::table)
        .values((
            kb_settings::org_id.eq(org.0),
            kb_settings::version.eq(1_i64),
        ))
        .on_conflict(kb_settings::org_id)
        .do_update()
        .set(kb_settings::version.eq(kb_settings::version + 1_i64))
        .execute(c)
        .await
        .map(|_| ())
}

impl KnowledgeBase {
    /// Finds the organization's knowledge relevant to `query` (see the module documentation).
    ///
    /// # Errors
    /// [`RagError::Invalid`] for an empty query, [`RagError::Embed`], [`RagError::Db`].
    pub async fn retrieve(&self, org: OrgId, query: &str) -> Result<Retrieval, RagError> {
        // Boxed: the embedding and the search run side by side in one large future.
        Box::pin(self.retrieve_unboxed(org, query)).await
    }

    async fn retrieve_unboxed(&self, org: OrgId, query: &str) -> Result<Retrieval, RagError> {
        let query: String = query.trim().chars().take(MAX_QUERY_CHARS).collect();
        if query.is_empty() {
            return Err(RagError::Invalid("the query is empty".into()));
        }
        let spoken = SpokenQuery::parse(&query);
        let model = self.embedder.model().id.clone();
        let search = self.db.tenant(org, {
            let text = spoken.text.clone();
            async move |tx| {
                let (version, overrides) = read_state(tx, org).await?;
                let hits = keyword_hits(tx, org, &text, &model).await?;
                Ok::<_, RagError>((version, overrides, hits))
            }
        });
        let text = spoken.embedding_text();
        let embed = |text| self.queries.vector(org, &*self.embedder, text);
        let (searched, early) = if self.index.had_chunks(org.0).await == Some(true) {
            let (searched, vector) = tokio::join!(search, embed(text.clone()));
            (searched, Some(vector))
        } else {
            (search.await, None)
        };
        let (version, overrides, keyword) = searched?;
        let index = self.index(org, version).await?;
        if index.chunks.is_empty() {
            return Ok(Retrieval::nothing());
        }
        let query_vector = match early {
            Some(vector) => vector?,
            None => embed(text).await?,
        };
        Ok(rank(
            &index,
            &Query {
                spoken: &spoken,
                vector: &query_vector,
                keyword: &keyword,
            },
            &self.config.with(&overrides),
        ))
    }

    /// The organization's index at `version`, loaded once per version.
    async fn index(&self, org: OrgId, version: i64) -> Result<Arc<OrgIndex>, RagError> {
        let db = self.db.clone();
        let model = self.embedder.model().clone();
        self.index
            .get_or_load(org.0, version, async move {
                let dims = i32::try_from(model.dims).unwrap_or(i32::MAX);
                let rows: Vec<StoredChunk> = db
                    .tenant(org, async move |tx| {
                        kb_chunks::table
                            .filter(kb_chunks::org_id.eq(org.0))
                            .filter(kb_chunks::embedding_model.eq(&model.id))
                            .filter(kb_chunks::embedding_dims.eq(dims))
                            .order((kb_chunks::document_id, kb_chunks::ordinal))
                            .select((
                                kb_chunks::id,
                                kb_chunks::document_id,
                                kb_chunks::heading,
                                kb_chunks::content,
                                kb_chunks::embedding,
                                kb_chunks::passage_embeddings,
                            ))
                            .load(tx)
                            .await
                            .map_err(RagError::from)
                    })
                    .await?;
                let mut chunks = Vec::with_capacity(rows.len());
                let mut vectors = Vec::with_capacity(rows.len() * model.dims);
                let mut passages = Vec::with_capacity(rows.len());
                for (id, document_id, heading, content, embedding, passage) in rows {
                    vectors.extend(crate::embed::from_bytes(&embedding));
                    passages.push(crate::embed::from_bytes(&passage));
                    chunks.push(IndexedChunk {
                        id,
                        document_id,
                        heading,
                        content,
                    });
                }
                let index = OrgIndex::with_passages(chunks, vectors, &passages, model.dims);
                Ok::<_, RagError>(index)
            })
            .await
            .map_err(|e| match Arc::try_unwrap(e) {
                Ok(e) => e,
                Err(shared) => {
                    tracing::warn!(org_id = %org, error = %shared, "knowledge-base index load failed");
                    RagError::IndexLoad
                }
            })
    }
}

/// What a question brings to [`rank`].
struct Query<'a> {
    /// The rewritten question.
    spoken: &'a SpokenQuery,
    /// Its embedding (a unit vector).
    vector: &'a [f32],
    /// Chunks holding every term of the rewritten question, best first.
    keyword: &'a [KeywordHit],
}

/// Decides whether anything answers the question and fuses the vector and keyword rankings
/// (see the module documentation).
fn rank(index: &OrgIndex, query: &Query<'_>, config: &RetrievalConfig) -> Retrieval {
    let scores = index.scores(query.vector);
    let ungrounded: Vec<String> = query
        .spoken
        .ungrounded(index.vocabulary())
        .into_iter()
        .map(|t| t.word.clone())
        .collect();
    let needed = if ungrounded.is_empty() {
        config.similarity_threshold
    } else {
        config.ungrounded_threshold
    };
    let mut vector: Vec<(usize, f32)> = scores
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, s)| *s >= needed)
        .collect();
    vector.sort_by(|a, b| b.1.total_cmp(&a.1));
    vector.truncate(CANDIDATES);
    let (picked, mode): (Vec<usize>, RetrievalMode) = if vector.is_empty() {
        let all: Vec<usize> = query
            .keyword
            .iter()
            .filter_map(|h| index.position(h.id))
            .collect();
        let mode = if all.is_empty() {
            RetrievalMode::None
        } else {
            RetrievalMode::Keyword
        };
        (all, mode)
    } else {
        (
            vector.iter().map(|(i, _)| *i).collect(),
            RetrievalMode::Hybrid,
        )
    };
    let mut chunks = Vec::new();
    let mut context = String::new();
    for i in picked.into_iter().take(config.max_chunks) {
        let chunk = &index.chunks[i];
        let piece = chunk_text(&chunk.heading, &chunk.content);
        let separator = if context.is_empty() { 0 } else { 2 };
        let used = context.chars().count() + separator;
        let room = config.max_context_chars.saturating_sub(used);
        if room < 80 {
            break;
        }
        let piece = shorten(&piece, room);
        if separator > 0 {
            context.push_str("\n\n");
        }
        context.push_str(&piece);
        chunks.push(RetrievedChunk {
            id: chunk.id,
            document_id: chunk.document_id,
            heading: chunk.heading.clone(),
            content: chunk.content.clone(),
            similarity: scores[i],
        });
    }
    let mode = if chunks.is_empty() {
        RetrievalMode::None
    } else {
        mode
    };
    Retrieval {
        chunks,
        context,
        mode,
        ungrounded,
    }
}

/// `text` cut to at most `max` characters at a word boundary, with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    let cut = cut
        .rsplit_once(char::is_whitespace)
        .map_or(cut.as_str(), |(head, _)| head);
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(vectors: &[[f32; 2]]) -> OrgIndex {
        OrgIndex::new(
            (0..vectors.len())
                .map(|i| IndexedChunk {
                    id: Uuid::from_u128(i as u128 + 1),
                    document_id: Uuid::nil(),
                    heading: format!("H{i}"),
                    content: "parking ".repeat(75),
                })
                .collect(),
            vectors.iter().flatten().copied().collect(),
            2,
        )
    }

    fn hit(i: u128) -> KeywordHit {
        KeywordHit {
            id: Uuid::from_u128(i),
        }
    }

    fn ask(
        idx: &OrgIndex,
        question: &str,
        hits: &[KeywordHit],
        config: &RetrievalConfig,
    ) -> Retrieval {
        let spoken = SpokenQuery::parse(question);
        let query = Query {
            spoken: &spoken,
            vector: &[1.0, 0.0],
            keyword: hits,
        };
        rank(idx, &query, config)
    }

    #[test]
    fn candidates_are_ordered_by_score_and_keyword_hits_add_nothing_below_the_threshold() {
        let idx = index(&[[0.9, 0.436], [1.0, 0.0], [0.0, 1.0]]);
        let config = RetrievalConfig::default();
        // Chunk 3 holds the words but not the meaning: left out.
        let r = ask(&idx, "parking", &[hit(3), hit(1)], &config);
        assert_eq!(r.mode, RetrievalMode::Hybrid);
        let ids: Vec<u128> = r.chunks.iter().map(|c| c.id.as_u128()).collect();
        assert_eq!(ids, vec![2, 1]);
    }

    #[test]
    fn a_question_about_something_never_mentioned_needs_the_higher_threshold() {
        // Similarity 0.40: above the similarity threshold, below the ungrounded one.
        let idx = index(&[[0.4, 0.917]]);
        let config = RetrievalConfig::default();
        let grounded = ask(&idx, "is there parking", &[], &config);
        assert_eq!(grounded.chunks.len(), 1);
        assert!(grounded.ungrounded.is_empty());
        let ungrounded = ask(&idx, "do you sell toothbrushes", &[], &config);
        assert!(!ungrounded.found());
        assert_eq!(ungrounded.ungrounded, vec!["toothbrushes"]);
        let close = index(&[[0.6, 0.8]]);
        assert!(ask(&close, "do you sell toothbrushes", &[], &config).found());
    }

    #[test]
    fn the_fallback_needs_every_term_and_otherwise_nothing_is_found() {
        let idx = index(&[[0.0, 1.0], [0.0, 1.0]]);
        let config = RetrievalConfig::default();
        let r = ask(&idx, "parking", &[hit(2)], &config);
        assert_eq!(r.mode, RetrievalMode::Keyword);
        assert_eq!(r.chunks.len(), 1);
        assert_eq!(r.chunks[0].id.as_u128(), 2);
        let none = ask(&idx, "parking", &[], &config);
        assert_eq!(none.mode, RetrievalMode::None);
        assert!(!none.found());
        assert!(none.context.is_empty());
    }

    #[test]
    fn context_respects_the_chunk_and_character_limits() {
        let idx = index(&[[1.0, 0.0]; 8]);
        let config = RetrievalConfig::default();
        let r = ask(&idx, "parking", &[], &config);
        assert!(r.chunks.len() <= config.max_chunks);
        assert!(r.context.chars().count() <= config.max_context_chars);
        assert_eq!(
            r.chunks.len(),
            4,
            "three whole chunks and the start of a fourth"
        );
        assert!(r.context.ends_with('…'));
        let tight = RetrievalConfig {
            max_context_chars: 200,
            ..config
        };
        let r = ask(&idx, "parking", &[], &tight);
        assert_eq!(r.chunks.len(), 1);
        assert!(r.context.ends_with('…'));
        assert!(r.context.chars().count() <= 200);
    }
}
