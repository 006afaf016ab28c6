//! An OpenAI-compatible embeddings API (`POST {base_url}/embeddings`; OpenAI's own at
//! `https://api.openai.com/v1`, or any compatible server). Texts go in batches of
//! [`OpenAiConfig::batch_size`]; 429 and 5xx answers and transport failures are retried with
//! exponential backoff (backon), waiting at least what a `Retry-After` header asks (capped at
//! 60 s).

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use super::{EmbedError, Embedder, EmbeddingModel, normalize};

/// The seed's model (seed 001 §6a).
pub const DEFAULT_MODEL: &str = "text-embedding-3-small";
/// Its vector length.
pub const DEFAULT_DIMS: usize = 1536;
/// OpenAI's API origin.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Configuration of the provider.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// API origin without a trailing slash, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Bearer key (`EMBEDDINGS_API_KEY` / `OPENAI_API_KEY`).
    pub api_key: SecretString,
    /// Model name sent to the API.
    pub model: String,
    /// Vector length the model returns; also sent as `dimensions` when `send_dimensions`.
    pub dims: usize,
    /// Whether to send `dimensions` (OpenAI's `text-embedding-3-*` can shorten vectors; other
    /// servers may refuse the field).
    pub send_dimensions: bool,
    /// Texts per request (OpenAI accepts up to 2048).
    pub batch_size: usize,
    /// Attempts per batch after the first.
    pub max_retries: usize,
    /// First backoff pause.
    pub min_delay: Duration,
}

impl OpenAiConfig {
    /// OpenAI's `text-embedding-3-small` with `api_key`, batches of 96, 5 retries from 500 ms.
    #[must_use]
    pub fn new(api_key: SecretString) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.into(),
            api_key,
            model: DEFAULT_MODEL.into(),
            dims: DEFAULT_DIMS,
            send_dimensions: false,
            batch_size: 96,
            max_retries: 5,
            min_delay: Duration::from_millis(500),
        }
    }
}

/// The HTTP provider.
pub struct OpenAiEmbedder {
    http: reqwest::Client,
    config: OpenAiConfig,
    model: EmbeddingModel,
}

impl std::fmt::Debug for OpenAiEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiEmbedder")
            .field("base_url", &self.config.base_url)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

/// One attempt's failure.
#[derive(Debug)]
enum Attempt {
    /// Worth retrying (429, 5xx, transport), with the server's `Retry-After`.
    Retry(EmbedError, Option<Duration>),
    /// Not worth retrying.
    Fatal(EmbedError),
}

impl Attempt {
    fn into_error(self) -> EmbedError {
        match self {
            Self::Retry(e, _) | Self::Fatal(e) => e,
        }
    }
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    index: usize,
    embedding: Vec<f32>,
}

impl OpenAiEmbedder {
    /// A provider calling `config.base_url` through `http`.
    #[must_use]
    pub fn new(http: reqwest::Client, config: OpenAiConfig) -> Self {
        let config = OpenAiConfig {
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            batch_size: config.batch_size.max(1),
            ..config
        };
        let model = EmbeddingModel {
            id: format!("openai:{}", config.model),
            dims: config.dims,
        };
        Self {
            http,
            config,
            model,
        }
    }

    async fn attempt(&self, batch: &[String]) -> Result<Vec<Vec<f32>>, Attempt> {
        let mut body = json!({
            "model": self.config.model,
            "input": batch,
            "encoding_format": "float",
        });
        if self.config.send_dimensions {
            body["dimensions"] = json!(self.config.dims);
        }
        let response = self
            .http
            .post(format!("{}/embeddings", self.config.base_url))
            .bearer_auth(self.config.api_key.expose_secret())
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                Attempt::Retry(EmbedError::Unavailable(e.without_url().to_string()), None)
            })?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
            let body = response.text().await.unwrap_or_default();
            tracing::warn!(status = status.as_u16(), body = %body.chars().take(300).collect::<String>(), "embedding provider refused");
            let e = EmbedError::Http(status.as_u16());
            return Err(if status.as_u16() == 429 || status.is_server_error() {
                Attempt::Retry(e, retry_after)
            } else {
                Attempt::Fatal(e)
            });
        }
        let parsed: Response = response
            .json()
            .await
            .map_err(|e| Attempt::Fatal(EmbedError::BadResponse(e.without_url().to_string())))?;
        if parsed.data.len() != batch.len() {
            return Err(Attempt::Fatal(EmbedError::BadResponse(format!(
                "{} vectors for {} texts",
                parsed.data.len(),
                batch.len()
            ))));
        }
        let mut items = parsed.data;
        items.sort_by_key(|i| i.index);
        items
            .into_iter()
            .enumerate()
            .map(|(k, item)| {
                if item.index != k || item.embedding.len() != self.config.dims {
                    return Err(Attempt::Fatal(EmbedError::BadResponse(format!(
                        "item {} has {} dimensions, expected {}",
                        item.index,
                        item.embedding.len(),
                        self.config.dims
                    ))));
                }
                let mut v = item.embedding;
                normalize(&mut v);
                Ok(v)
            })
            .collect()
    }
}

impl Embedder for OpenAiEmbedder {
    fn model(&self) -> &EmbeddingModel {
        &self.model
    }

    fn embed<'a>(
        &'a self,
        texts: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(texts.len());
            for batch in texts.chunks(self.config.batch_size) {
                let backoff = ExponentialBuilder::default()
                    .with_min_delay(self.config.min_delay)
                    .with_max_delay(Duration::from_secs(30))
                    .with_max_times(self.config.max_retries)
                    .with_jitter();
                let vectors = (|| self.attempt(batch))
                    .retry(backoff)
                    .when(|e| matches!(e, Attempt::Retry(..)))
                    .adjust(|e, pause| match e {
                        Attempt::Retry(_, Some(wait)) => pause.map(|p| p.max(*wait)),
                        _ => pause,
                    })
                    .await
                    .map_err(Attempt::into_error)?;
                out.extend(vectors);
            }
            Ok(out)
        })
    }
}
