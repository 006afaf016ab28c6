//! Embeddings behind one trait. Every chunk stores the [`EmbeddingModel::id`] and dimension
//! that made its vector; retrieval compares a query only with vectors of the same model.
//!
//! - [`openai::OpenAiEmbedder`]: any OpenAI-compatible `/embeddings` API (production: the
//!   seed's `text-embedding-3-small`, 1536 dimensions; seed 001 §6a).
//! - [`local::LocalEmbedder`]: all-MiniLM-L6-v2 (384 dimensions) run in-process with candle,
//!   from weights installed by `cargo xtask models`; needs no network.

pub mod cache;
pub mod local;
pub mod openai;

use futures_util::future::BoxFuture;

/// The model vectors come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddingModel {
    /// Stable id stored on every chunk, e.g. `local:all-MiniLM-L6-v2` or
    /// `openai:text-embedding-3-small`.
    pub id: String,
    /// Vector length.
    pub dims: usize,
}

/// Why embedding failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EmbedError {
    /// The local model's files are not installed.
    #[error("the local embedding model is not installed at {0} (run `cargo xtask models`)")]
    ModelMissing(String),
    /// The local model failed to load or run.
    #[error("the local embedding model failed: {0}")]
    Model(String),
    /// The provider refused the request (status code; the body is logged, never returned).
    #[error("the embedding provider answered HTTP {0}")]
    Http(u16),
    /// The provider could not be reached or kept failing after retries.
    #[error("the embedding provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider's answer had the wrong shape (count or dimension).
    #[error("the embedding provider answered an unexpected shape: {0}")]
    BadResponse(String),
}

/// Turns texts into unit-length vectors (so that cosine similarity is a dot product).
pub trait Embedder: Send + Sync {
    /// The model, stored on every chunk.
    fn model(&self) -> &EmbeddingModel;

    /// One vector of [`EmbeddingModel::dims`] floats per text, in order, each of length 1.
    ///
    /// # Errors
    /// [`EmbedError`].
    fn embed<'a>(&'a self, texts: &'a [String])
    -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>>;
}

/// Scales `v` to length 1 (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in v {
            *x /= norm;
        }
    }
}

/// Dot product of two equal-length vectors (cosine similarity of unit vectors).
#[must_use]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A vector as stored: little-endian `f32`s.
#[must_use]
pub fn to_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A stored vector back to floats (trailing bytes that make no whole `f32` are ignored).
#[must_use]
pub fn from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}
