//! Query vectors remembered by organization and text.
//!
//! Callers ask the same things in the same words ("what are your opening hours"), and every
//! `assistant-request` asks the constant overview question, so a query's vector is looked up
//! before it is computed. A vector depends only on the model and the text, and a
//! [`crate::KnowledgeBase`] has one model for its lifetime, so entries never go stale; the
//! cache is bounded by entry count (least recently and frequently used go first). Concurrent
//! misses for the same key embed it once. Failures are not cached.
//!
//! Keyed by organization too, although the vector would be the same: a shared entry would let
//! one tenant tell from a faster answer that another tenant's caller asked the same words.

use std::sync::Arc;

use db::OrgId;
use uuid::Uuid;

use super::{EmbedError, Embedder};

/// Default number of query vectors kept: 4,096 (at most 24 MiB with 1,536-dimension vectors,
/// 6 MiB with the local model's 384).
pub const DEFAULT_QUERY_VECTORS: u64 = 4_096;

/// The organization and the embedding text.
type Key = (Uuid, String);

/// A bounded map from organization and embedding text to the vector (see the module
/// documentation).
#[derive(Clone)]
pub(crate) struct QueryVectors {
    /// `None` when built with capacity 0: every query is embedded.
    cache: Option<moka::future::Cache<Key, Arc<Vec<f32>>>>,
}

impl QueryVectors {
    /// A cache of at most `entries` vectors; 0 disables it.
    pub(crate) fn new(entries: u64) -> Self {
        Self {
            cache: (entries > 0).then(|| moka::future::Cache::new(entries)),
        }
    }

    /// The vector of `text` asked for `org`, from the cache or from `embedder`.
    ///
    /// # Errors
    /// The embedder's [`EmbedError`] (then nothing is cached).
    pub(crate) async fn vector(
        &self,
        org: OrgId,
        embedder: &dyn Embedder,
        text: String,
    ) -> Result<Arc<Vec<f32>>, EmbedError> {
        let Some(cache) = &self.cache else {
            return embed_one(embedder, text).await;
        };
        let key = (org.0, text);
        let embedded = embed_one(embedder, key.1.clone());
        cache
            .try_get_with_by_ref(&key, embedded)
            .await
            .map_err(|e| (*e).clone())
    }
}

async fn embed_one(embedder: &dyn Embedder, text: String) -> Result<Arc<Vec<f32>>, EmbedError> {
    let vectors = embedder.embed(std::slice::from_ref(&text)).await?;
    Ok(Arc::new(vectors.into_iter().next().unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::future::BoxFuture;

    use super::*;
    use crate::EmbeddingModel;

    /// Counts the texts it embeds; fails on "fail".
    struct Counting {
        model: EmbeddingModel,
        texts: AtomicUsize,
    }

    impl Embedder for Counting {
        fn model(&self) -> &EmbeddingModel {
            &self.model
        }

        fn embed<'a>(
            &'a self,
            texts: &'a [String],
        ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>> {
            Box::pin(async move {
                // Pending once, so that concurrent callers really overlap.
                tokio::task::yield_now().await;
                self.texts.fetch_add(texts.len(), Ordering::SeqCst);
                if texts.iter().any(|t| t == "fail") {
                    return Err(EmbedError::Unavailable("down".into()));
                }
                Ok(texts.iter().map(|t| vec![t.len() as f32]).collect())
            })
        }
    }

    fn counting() -> Counting {
        Counting {
            model: EmbeddingModel {
                id: "test:len".into(),
                dims: 1,
            },
            texts: AtomicUsize::new(0),
        }
    }

    const A: OrgId = OrgId(Uuid::from_u128(1));
    const B: OrgId = OrgId(Uuid::from_u128(2));

    #[tokio::test]
    async fn a_repeated_text_is_embedded_once_per_org_and_a_failure_is_not_remembered() {
        let embedder = counting();
        let cache = QueryVectors::new(16);
        for _ in 0..3 {
            let v = cache.vector(A, &embedder, "opening hours".into()).await;
            assert_eq!(*v.unwrap(), vec![13.0]);
        }
        assert_eq!(embedder.texts.load(Ordering::SeqCst), 1);
        // Another organization asking the same words shares nothing.
        let other = cache.vector(B, &embedder, "opening hours".into()).await;
        assert_eq!(*other.unwrap(), vec![13.0]);
        assert_eq!(embedder.texts.load(Ordering::SeqCst), 2);
        for _ in 0..2 {
            assert!(cache.vector(A, &embedder, "fail".into()).await.is_err());
        }
        assert_eq!(embedder.texts.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn concurrent_misses_for_one_text_embed_it_once_and_capacity_zero_never_caches() {
        let embedder = counting();
        let cache = QueryVectors::new(16);
        let asks = (0..8).map(|_| cache.vector(A, &embedder, "price".into()));
        for v in futures_util::future::join_all(asks).await {
            assert_eq!(*v.unwrap(), vec![5.0]);
        }
        assert_eq!(embedder.texts.load(Ordering::SeqCst), 1);

        let uncached = QueryVectors::new(0);
        for _ in 0..2 {
            uncached.vector(A, &embedder, "price".into()).await.unwrap();
        }
        assert_eq!(embedder.texts.load(Ordering::SeqCst), 3);
    }
}
