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
use rag::eval::{
    CLINIC_KB, EvalReport, FittedThresholds, SetReport, clinic_set, fit_thresholds, handbooks,
};
use rag::{Embedder, KnowledgeBase, RetrievalConfig};

/// Floors under the local model's figures (decision 33: held-back recall@5 and
/// answer-in-context 0.904, false context 5 of 17; tuning recall@5 0.994, false context 1 of
/// 30), less a margin. Before the retrieval changes held-back recall@5 was 0.862 and
/// false context 7 of 17.
const FLOOR_RECALL: f64 = 0.88;
const FLOOR_IN_CONTEXT: f64 = 0.88;
const FLOOR_TUNING_RECALL: f64 = 0.97;
const CEILING_FALSE_CONTEXT: f64 = 0.34;

/// Wakes job workers of this database (the tests run the indexing jobs with `work_once`).
fn waker(db: &TestDatabase) -> jobs::Waker {
    jobs::Waker::new(db.db(), std::time::Duration::ZERO)
}

async fn evaluate(db: &TestDatabase, embedder: Arc<dyn Embedder>) -> EvalReport {
    let org = create_org(&db.db(), "Serenity Skin & Smile").await;
    let config = RetrievalConfig::for_model(&embedder.model().id);
    let kb = KnowledgeBase::new(db.db(), embedder, config, waker(db));
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

/// The OpenAI-compatible embedder `EMBEDDINGS_API_KEY` (`EMBEDDINGS_BASE_URL`,
/// `EMBEDDINGS_MODEL` optional) configures, if set.
fn api_embedder() -> Option<Arc<dyn Embedder>> {
    match std::env::var("EMBEDDINGS_API_KEY") {
        Ok(key) if !key.is_empty() => {
            let mut config = OpenAiConfig::new(key.into());
            if let Ok(base) = std::env::var("EMBEDDINGS_BASE_URL") {
                config.base_url = base;
            }
            if let Ok(model) = std::env::var("EMBEDDINGS_MODEL") {
                config.model = model;
            }
            Some(Arc::new(OpenAiEmbedder::new(
                reqwest::Client::new(),
                config,
            )))
        }
        _ => {
            println!(
                "openai: not run (EMBEDDINGS_API_KEY is not set; this machine has no API access)"
            );
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn labelled_clinic_set() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let db = TestDatabase::new().await;
    let local = evaluate(&db, Arc::new(LocalEmbedder::new(default_model_dir()))).await;
    if let Some(api) = api_embedder() {
        evaluate(&db, api).await;
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

/// Answerable-weighted recall@5 and answer-in-context, and the false-context share, over
/// `reports`.
fn overall(reports: &[SetReport]) -> (f64, f64, f64) {
    let answerable: usize = reports.iter().map(|r| r.answerable).sum();
    let unanswerable: usize = reports.iter().map(|r| r.unanswerable).sum();
    let weighted = |f: fn(&SetReport) -> f64| {
        reports
            .iter()
            .map(|r| f(r) * r.answerable as f64)
            .sum::<f64>()
            / answerable.max(1) as f64
    };
    let false_found: usize = reports.iter().map(|r| r.false_finds.len()).sum();
    (
        weighted(|r| r.recall_at_5),
        weighted(|r| r.answer_in_context),
        false_found as f64 / unanswerable.max(1) as f64,
    )
}

/// What one embedding model measured on the handbooks.
struct HandbookRun {
    tuning: Vec<SetReport>,
    heldback: Vec<SetReport>,
    /// Thresholds fitted on the tuning sets.
    fitted: FittedThresholds,
}

/// The three handbooks through `embedder` with `config`: each handbook's tuning and held-back
/// sets side by side (tuning misses are printed; held-back ones never are, so that nobody tunes
/// on them), and thresholds fitted on the tuning sets.
async fn handbooks_with(
    db: &TestDatabase,
    embedder: Arc<dyn Embedder>,
    config: RetrievalConfig,
) -> HandbookRun {
    let kb = KnowledgeBase::new(db.db(), embedder.clone(), config, waker(db));
    let open = RetrievalConfig {
        similarity_threshold: 0.0,
        ungrounded_threshold: 0.0,
        ..config
    };
    let calibrating = KnowledgeBase::new(db.db(), embedder, open, waker(db));
    let (mut points, mut tuning_reports, mut held) = (Vec::new(), Vec::new(), Vec::new());
    println!("\n{}", kb.model().id);
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
        points.extend(
            calibrating
                .calibration_points(org, &book.tuning)
                .await
                .unwrap(),
        );
        tuning_reports.push(tuning);
        held.push(heldback);
    }
    for (set, reports) in [("tuning", &tuning_reports), ("held-back", &held)] {
        let (recall, in_context, false_context) = overall(reports);
        println!(
            "{set:<9} overall: recall@5 {recall:.3}  answer-in-context {in_context:.3}  false-context {false_context:.3}"
        );
    }
    let fitted = fit_thresholds(&points);
    println!(
        "thresholds fitted on the tuning sets: similarity {:.3}, ungrounded {:.3}; configured: {:.3}, {:.3}",
        fitted.similarity,
        fitted.ungrounded,
        config.similarity_threshold,
        config.ungrounded_threshold
    );
    HandbookRun {
        tuning: tuning_reports,
        heldback: held,
        fitted,
    }
}

/// The three evaluation handbooks (issue "Knowledge base that understands callers") with the
/// local model, and with an OpenAI-compatible API when `EMBEDDINGS_API_KEY` is set (its
/// thresholds are the documented defaults, or `KB_SIMILARITY_THRESHOLD` and
/// `KB_UNGROUNDED_THRESHOLD`; the fit printed for it is what to set them to). Printed for
/// `cargo xtask rag-eval`; the assertions are floors under today's measured figures, so that a
/// change that makes callers' answers worse fails here, and check that the local model's
/// calibration is the current fit.
#[tokio::test(flavor = "multi_thread")]
async fn caller_handbooks() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let db = TestDatabase::new().await;
    let embedder: Arc<dyn Embedder> = Arc::new(LocalEmbedder::new(default_model_dir()));
    let config = RetrievalConfig::for_model(&embedder.model().id);
    let local = handbooks_with(&db, embedder, config).await;
    if let Some(api) = api_embedder() {
        let threshold = |var: &str| std::env::var(var).ok().and_then(|v| v.parse::<f32>().ok());
        let mut config = RetrievalConfig::for_model(&api.model().id);
        config.similarity_threshold =
            threshold("KB_SIMILARITY_THRESHOLD").unwrap_or(config.similarity_threshold);
        config.ungrounded_threshold =
            threshold("KB_UNGROUNDED_THRESHOLD").unwrap_or(config.ungrounded_threshold);
        handbooks_with(&db, api, config).await;
    }
    // The configured calibration is the current fit (refit after changing retrieval).
    assert!((local.fitted.similarity - config.similarity_threshold).abs() <= 0.01);
    assert!((local.fitted.ungrounded - config.ungrounded_threshold).abs() <= 0.01);
    let (tuning_recall, _, tuning_false) = overall(&local.tuning);
    assert!(
        tuning_recall >= FLOOR_TUNING_RECALL,
        "tuning recall@5 {tuning_recall:.3}"
    );
    assert!(
        tuning_false <= CEILING_FALSE_CONTEXT,
        "tuning false context {tuning_false:.3}"
    );
    let (recall, in_context, false_context) = overall(&local.heldback);
    assert!(recall >= FLOOR_RECALL, "held-back recall@5 {recall:.3}");
    assert!(
        in_context >= FLOOR_IN_CONTEXT,
        "held-back answer-in-context {in_context:.3}"
    );
    assert!(
        false_context <= CEILING_FALSE_CONTEXT,
        "held-back false context {false_context:.3}"
    );
}
