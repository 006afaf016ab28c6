//! `cargo xtask rag-eval`: the labelled clinic set against each configured embedding provider,
//! and the three caller handbooks (tuning and held-back sets) with the local model.
//! The local model always runs (and must reach recall@5 ≥ 0.9 and find nothing for the
//! unanswerable questions); an OpenAI-compatible API runs when `EMBEDDINGS_API_KEY` is set
//! (`EMBEDDINGS_BASE_URL`, `EMBEDDINGS_MODEL` optional).

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::sync::Arc;

use db::test_support::{TestDatabase, create_org};
use rag::documents::Upload;
use rag::embed::local::{LocalEmbedder, default_model_dir};
use rag::embed::openai::{OpenAiConfig, OpenAiEmbedder};
use rag::eval::{CLINIC_KB, EvalReport, SetReport, clinic_set, handbooks};
use rag::{Embedder, KnowledgeBase, RetrievalConfig};

/// Held-back floors: measured before any retrieval change of the issue (recall@5 0.862,
/// answer-in-context 0.862 with the local model), less a margin.
const FLOOR_RECALL: f64 = 0.80;
const FLOOR_IN_CONTEXT: f64 = 0.80;

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

fn row(book: &str, set: &str, r: &SetReport) -> String {
    format!(
        "{book:<24} {set:<9} {:>3}+{:<2} recall@5 {:.3}  MRR {:.3}  answer-in-context {:.3}  false-context {:.3}",
        r.answerable, r.unanswerable, r.recall_at_5, r.mrr, r.answer_in_context, r.false_context
    )
}

/// The three evaluation handbooks with the local model: tuning and held-back sets side by side,
/// per handbook (issue "Knowledge base that understands callers"). Printed for `cargo xtask
/// rag-eval`; the assertions are floors under today's measured figures, so that a change that
/// makes callers' answers worse fails here.
#[tokio::test(flavor = "multi_thread")]
async fn caller_handbooks() {
    let db = TestDatabase::new().await;
    let embedder: Arc<dyn Embedder> = Arc::new(LocalEmbedder::new(default_model_dir()));
    let kb = KnowledgeBase::new(db.db(), embedder, RetrievalConfig::default());
    let mut held = Vec::new();
    for book in handbooks() {
        let org = create_org(&db.db(), book.name).await;
        kb.upload(
            org,
            Upload {
                filename: book.name.into(),
                content_type: Some("text/markdown".into()),
                title: None,
                bytes: book.text.as_bytes().to_vec(),
                uploaded_by: None,
            },
        )
        .await
        .unwrap();
        assert_eq!(kb.work_once(10).await.unwrap(), 1);
        let tuning = kb.evaluate_callers(org, &book.tuning).await.unwrap();
        let heldback = kb.evaluate_callers(org, &book.heldback).await.unwrap();
        println!("{}", row(book.name, "tuning", &tuning));
        println!("{}", row(book.name, "held-back", &heldback));
        for (q, got) in &tuning.misses {
            println!("  tuning miss: {q:?} -> {got}");
        }
        for (q, got) in &tuning.false_finds {
            println!("  tuning false context: {q:?} -> {got}");
        }
        held.push(heldback);
    }
    let n: usize = held.iter().map(|r| r.answerable).sum();
    let recall: f64 = held
        .iter()
        .map(|r| r.recall_at_5 * r.answerable as f64)
        .sum::<f64>()
        / n as f64;
    let in_context: f64 = held
        .iter()
        .map(|r| r.answer_in_context * r.answerable as f64)
        .sum::<f64>()
        / n as f64;
    println!("held-back overall: recall@5 {recall:.3}  answer-in-context {in_context:.3}");
    assert!(recall >= FLOOR_RECALL, "held-back recall@5 {recall:.3}");
    assert!(
        in_context >= FLOOR_IN_CONTEXT,
        "held-back answer-in-context {in_context:.3}"
    );
}
