//! Retrieval configuration in one place (seed 001 §6a "Configuration Reference",
//! `rag-config.ts`: `SIMILARITY_THRESHOLD` 0.25, `MAX_CHUNKS` 5, `MAX_CONTEXT_LENGTH` 2000),
//! overridable per organization (`kb_settings`).

use serde::{Deserialize, Serialize};

/// Cosine similarity a chunk needs to count as a vector match (seed 001 §6a item 4 and 7).
pub const SIMILARITY_THRESHOLD: f32 = 0.25;
/// Similarity a chunk needs when the question names something the knowledge base never
/// mentions ([`crate::query`]), for a model without a calibration: the documented default for
/// an OpenAI-compatible model, configurable (`EMBEDDINGS_UNGROUNDED_THRESHOLD`).
pub const UNGROUNDED_THRESHOLD: f32 = 0.5;
/// At most this many chunks are returned.
pub const MAX_CHUNKS: usize = 5;
/// At most this many characters of context (Unicode scalar values) are returned.
pub const MAX_CONTEXT_CHARS: usize = 2000;

/// Effective retrieval settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RetrievalConfig {
    /// Minimum cosine similarity, 0..1.
    pub similarity_threshold: f32,
    /// Minimum cosine similarity when the question has a focus term the knowledge base never
    /// uses, 0..1 (at least `similarity_threshold`).
    pub ungrounded_threshold: f32,
    /// Maximum chunks returned, 1..20.
    pub max_chunks: usize,
    /// Maximum context length in characters.
    pub max_context_chars: usize,
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        Self {
            similarity_threshold: SIMILARITY_THRESHOLD,
            ungrounded_threshold: UNGROUNDED_THRESHOLD,
            max_chunks: MAX_CHUNKS,
            max_context_chars: MAX_CONTEXT_CHARS,
        }
    }
}

/// An organization's overrides; `None` keeps the platform's value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RetrievalOverrides {
    /// Minimum cosine similarity, 0..1.
    pub similarity_threshold: Option<f32>,
    /// Maximum chunks returned, 1..20.
    pub max_chunks: Option<i32>,
    /// Maximum context length in characters, 200..8000.
    pub max_context_chars: Option<i32>,
}

/// Thresholds fitted for a local model on the tuning questions of the evaluation handbooks
/// (`eval/handbooks/`, never the held-back ones): `(model id, similarity, ungrounded)`.
/// `similarity` sits just under the lowest score of an answerable tuning question,
/// `ungrounded` just above the highest score of an unanswerable one (decision 33).
pub const CALIBRATED: &[(&str, f32, f32)] = &[("local:all-MiniLM-L6-v2", 0.215, 0.488)];

impl RetrievalConfig {
    /// The defaults for embedding model `model_id` (e.g. `local:all-MiniLM-L6-v2`): its
    /// calibrated thresholds ([`CALIBRATED`]), else the seed's 0.25 and [`UNGROUNDED_THRESHOLD`].
    #[must_use]
    pub fn for_model(model_id: &str) -> Self {
        CALIBRATED
            .iter()
            .find(|(id, _, _)| *id == model_id)
            .map_or_else(Self::default, |(_, similarity, ungrounded)| Self {
                similarity_threshold: *similarity,
                ungrounded_threshold: *ungrounded,
                ..Self::default()
            })
    }

    /// These defaults with `overrides` applied (an organization's similarity threshold above
    /// the ungrounded threshold raises that too).
    #[must_use]
    pub fn with(self, overrides: &RetrievalOverrides) -> Self {
        let similarity_threshold = overrides
            .similarity_threshold
            .unwrap_or(self.similarity_threshold);
        Self {
            similarity_threshold,
            ungrounded_threshold: self.ungrounded_threshold.max(similarity_threshold),
            max_chunks: overrides
                .max_chunks
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(self.max_chunks),
            max_context_chars: overrides
                .max_context_chars
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(self.max_context_chars),
        }
    }
}

impl RetrievalOverrides {
    /// Checks the ranges the database enforces, with a message for the caller.
    ///
    /// # Errors
    /// The first value out of range.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(t) = self.similarity_threshold
            && !(0.0..=1.0).contains(&t)
        {
            return Err("similarity_threshold must be between 0 and 1".into());
        }
        if let Some(n) = self.max_chunks
            && !(1..=20).contains(&n)
        {
            return Err("max_chunks must be between 1 and 20".into());
        }
        if let Some(n) = self.max_context_chars
            && !(200..=8000).contains(&n)
        {
            return Err("max_context_chars must be between 200 and 8000".into());
        }
        Ok(())
    }
}
