//! `cargo xtask rag-eval`: the labelled clinic set against each configured embedding provider.
//! The local model always runs (and must reach recall@5 ≥ 0.9 and find nothing for the
//! unanswerable questions); an OpenAI-compatible API runs when `EMBEDDINGS_API_KEY` is set
//! (`EMBEDDINGS_BASE_URL`, `EMBEDDINGS_MODEL` optional).

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::sync::Arc;

use db::test_support::{TestDatabase, create_org};
use rag::documents::Upload;
use rag::embed::local::{LocalEmbedder, default_model_dir};
use rag::embed::openai::{OpenAiConfig, OpenAiEmbedder};
use rag::eval::{CLINIC_KB, EvalReport, clinic_set};
use rag::{Embedder, KnowledgeBase, RetrievalConfig};

async fn evaluate(db: &TestDatabase, embedder: Arc<dyn Embedder>) -> EvalReport {
    let org = create_org(&db.db(), "Serenity Skin & Smile").await;
    let kb = KnowledgeBase::new(db.db(), embedder, RetrievalConfig::default());
    kb.upload(
        org,
        Upload {
            filename: "clinic.md".into(),
            content_type: Some("text/markdown".into()),
            title: None,
            bytes: CLINIC_KB.as_bytes().to_vec(),
            uploaded_by: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(kb.work_once(10).await.unwrap(), 1);
    let report = kb.evaluate(org, &clinic_set()).await.unwrap();
    println!(
        "\n{:<36} questions {:>3}  recall@5 {:.3}  MRR {:.3}  unanswerable found {}/{}",
        report.model,
        report.questions,
        report.recall_at_5,
        report.mrr,
        report.false_finds.len(),
        report.unanswerable
    );
    for (q, got) in &report.misses {
        println!("  missed: {q:?} -> {got}");
    }
    for (q, got) in &report.false_finds {
        println!("  unanswerable found: {q:?} -> {got}");
    }
    for (q, got) in &report.adjacent {
        println!("  adjacent (reported, not scored): {q:?} -> {got}");
    }
    report
}

#[tokio::test(flavor = "multi_thread")]
async fn labelled_clinic_set() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let db = TestDatabase::new().await;
    let local = evaluate(&db, Arc::new(LocalEmbedder::new(default_model_dir()))).await;
    match std::env::var("EMBEDDINGS_API_KEY") {
        Ok(key) if !key.is_empty() => {
            let mut config = OpenAiConfig::new(key.into());
            if let Ok(base) = std::env::var("EMBEDDINGS_BASE_URL") {
                config.base_url = base;
            }
            if let Ok(model) = std::env::var("EMBEDDINGS_MODEL") {
                config.model = model;
            }
            let http = reqwest::Client::new();
            evaluate(&db, Arc::new(OpenAiEmbedder::new(http, config))).await;
        }
        _ => println!(
            "openai: not run (EMBEDDINGS_API_KEY is not set; this machine has no API access)"
        ),
    }
    assert!(local.recall_at_5 >= 0.9, "recall@5 {}", local.recall_at_5);
    assert!(local.false_finds.is_empty(), "{:?}", local.false_finds);
}
