//! Indexing and embeddings against the real database, with the OpenAI-compatible provider faked
//! at the HTTP level: batching, retries honouring `Retry-After`, refusals, re-embedding into a
//! new model without ever mixing models in a query, and a crashed worker's claim taken over.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use db::test_support::{TestDatabase, create_org};
use rag::documents::Upload;
use rag::embed::local::{LocalEmbedder, default_model_dir};
use rag::embed::openai::{OpenAiConfig, OpenAiEmbedder};
use rag::worker::Indexed;
use rag::{EmbedError, Embedder, KnowledgeBase, RetrievalConfig, RetrievalMode};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const DIMS: usize = 8;

/// A fake embeddings API: a text's vector is a bag of its words hashed into 8 buckets (similar
/// texts get similar vectors); the first `fail_first` requests answer 429 with `Retry-After: 1`.
struct FakeEmbeddings {
    calls: Arc<AtomicUsize>,
    fail_first: usize,
}

impl Respond for FakeEmbeddings {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if n < self.fail_first {
            return ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"error": {"message": "rate limited"}}));
        }
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let data: Vec<Value> = body["input"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(index, text)| {
                let mut v = vec![0.0f32; DIMS];
                for word in text.as_str().unwrap().split_whitespace() {
                    let h = word
                        .to_lowercase()
                        .bytes()
                        .fold(7usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
                    v[h % DIMS] += 1.0;
                }
                json!({"object": "embedding", "index": index, "embedding": v})
            })
            .rev() // out of order on purpose: the client sorts by index
            .collect();
        ResponseTemplate::new(200)
            .set_body_json(json!({"object": "list", "data": data, "model": body["model"]}))
    }
}

async fn fake_api(fail_first: usize) -> (MockServer, Arc<AtomicUsize>) {
    let server = MockServer::start().await;
    let calls = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(header("authorization", "Bearer sk-test"))
        .respond_with(FakeEmbeddings {
            calls: calls.clone(),
            fail_first,
        })
        .mount(&server)
        .await;
    (server, calls)
}

fn openai(server: &MockServer, batch_size: usize) -> OpenAiEmbedder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = OpenAiConfig::new("sk-test".to_owned().into());
    config.base_url = format!("{}/v1", server.uri());
    config.model = "fake-embedding".into();
    config.dims = DIMS;
    config.batch_size = batch_size;
    config.min_delay = Duration::from_millis(10);
    OpenAiEmbedder::new(reqwest::Client::new(), config)
}

fn upload(name: &str, text: &str) -> Upload {
    Upload {
        filename: name.into(),
        content_type: None,
        title: None,
        bytes: text.as_bytes().to_vec(),
        uploaded_by: None,
    }
}

/// Wakes job workers of this database (tests run the indexing jobs with `work_once`).
fn waker(db: &db::Db) -> jobs::Waker {
    jobs::Waker::new(db.clone(), Duration::ZERO)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_http_provider_batches_retries_rate_limits_and_refuses_bad_shapes() {
    let (server, calls) = fake_api(1).await;
    let embedder = openai(&server, 2);
    let texts: Vec<String> = (0..5).map(|i| format!("text number {i}")).collect();
    let started = std::time::Instant::now();
    let vectors = embedder.embed(&texts).await.unwrap();
    assert_eq!(vectors.len(), 5);
    assert!(vectors.iter().all(|v| v.len() == DIMS));
    for v in &vectors {
        let norm: f32 = v.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-4, "unit length");
    }
    // 3 batches of at most 2, the first retried once after the server's Retry-After (1 s).
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(embedder.model().id, "openai:fake-embedding");

    // A refused request (400) is not retried; a wrong dimension is a bad shape.
    let refusing = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "bad model"}})),
        )
        .expect(1)
        .mount(&refusing)
        .await;
    let err = openai(&refusing, 10).embed(&texts).await.unwrap_err();
    assert!(matches!(err, EmbedError::Http(400)), "{err}");
    let short = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": [{"index": 0, "embedding": [1.0, 0.0]}]})),
        )
        .mount(&short)
        .await;
    let err = openai(&short, 10)
        .embed(&["one".to_owned()])
        .await
        .unwrap_err();
    assert!(matches!(err, EmbedError::BadResponse(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_change_reembeds_in_the_background_and_queries_never_mix_models() {
    let database = TestDatabase::new().await;
    let db = database.db();
    let org = create_org(&db, "Reembed Clinic").await;
    let other = create_org(&db, "Other Clinic").await;
    let local = KnowledgeBase::new(
        db.clone(),
        Arc::new(LocalEmbedder::new(default_model_dir())),
        RetrievalConfig::default(),
        waker(&db),
    );
    let text = "# Clinic\n\n## Opening hours\nWe are open Monday to Friday 9am to 7pm.\n\n## Parking\nThe car park is behind the building.";
    let doc = local.upload(org, upload("hours.md", text)).await.unwrap();
    local.upload(other, upload("hours.md", text)).await.unwrap();
    assert_eq!(local.work_once(10).await.unwrap(), 2);
    let found = local.retrieve(org, "When are you open?").await.unwrap();
    assert_eq!(found.mode, RetrievalMode::Hybrid);

    // The platform switches to the HTTP model: nothing is compared across models, so vector
    // search finds nothing until the documents are re-embedded; an all-terms keyword match
    // of the old chunks is not used either.
    let (server, _) = fake_api(0).await;
    let remote = KnowledgeBase::new(
        db.clone(),
        Arc::new(openai(&server, 16)),
        RetrievalConfig {
            similarity_threshold: 0.1,
            ..RetrievalConfig::default()
        },
        waker(&db),
    );
    let before = remote.retrieve(org, "opening hours Monday").await.unwrap();
    assert!(!before.found(), "{before:?}");
    assert_eq!(remote.queue_reembed().await.unwrap(), 2);
    assert_eq!(remote.queue_reembed().await.unwrap(), 0, "queued once");
    let (listed, _) = remote.document(org, doc.id).await.unwrap();
    assert_eq!(listed.status, "pending");
    assert_eq!(remote.work_once(10).await.unwrap(), 2);
    let (listed, chunks) = remote.document(org, doc.id).await.unwrap();
    assert_eq!(listed.status, "ready");
    assert_eq!(
        listed.embedding_model.as_deref(),
        Some("openai:fake-embedding")
    );
    assert_eq!(chunks.len(), 2);
    let after = remote.retrieve(org, "opening hours Monday").await.unwrap();
    assert!(after.found());
    assert!(after.context.contains("Monday to Friday"));
    // The local model now sees no vectors of its own in this organization.
    assert!(
        !local
            .retrieve(org, "When are you open?")
            .await
            .unwrap()
            .found()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crashed_workers_claim_is_taken_over_and_a_failing_provider_is_retried_then_failed() {
    let database = TestDatabase::new().await;
    let db = database.db();
    let org = create_org(&db, "Crash Clinic").await;
    let (server, _) = fake_api(0).await;
    let kb = KnowledgeBase::new(
        db.clone(),
        Arc::new(openai(&server, 16)),
        RetrievalConfig::default(),
        waker(&db),
    );
    let doc = kb
        .upload(
            org,
            upload("notes.txt", "Aftercare\n\nAvoid the sun for two days."),
        )
        .await
        .unwrap();
    // A worker claimed it and died ten minutes ago.
    database.psql_superuser(&format!(
        "UPDATE kb_documents SET status = 'processing', claimed_at = now() - interval '10 minutes', attempts = 1 WHERE id = '{}'",
        doc.id
    ));
    assert_eq!(kb.work_once(10).await.unwrap(), 1);
    let (done, chunks) = kb.document(org, doc.id).await.unwrap();
    assert_eq!(done.status, "ready");
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].heading, "Aftercare");
    // A job another live worker holds (its lease runs) is left alone.
    kb.reindex(org, doc.id).await.unwrap();
    database.psql_superuser(
        "UPDATE jobs SET status = 'running', locked_by = 'busy/0', locked_until = now() + interval '1 minute' WHERE kind = 'kb.index'",
    );
    assert_eq!(kb.work_once(10).await.unwrap(), 0);

    // A provider that keeps failing: retried later, then marked failed with a reason.
    let down = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"error": {"message": "bad key"}})),
        )
        .mount(&down)
        .await;
    let broken = KnowledgeBase::new(
        db.clone(),
        Arc::new(openai(&down, 16)),
        RetrievalConfig::default(),
        waker(&db),
    );
    let doc2 = broken
        .upload(
            org,
            upload("more.txt", "Gift vouchers are valid for a year."),
        )
        .await
        .unwrap();
    let retry = broken.index_document(org, doc2.id, false).await.unwrap();
    assert!(matches!(retry, Indexed::Retry(_)), "{retry:?}");
    let (pending, _) = broken.document(org, doc2.id).await.unwrap();
    assert_eq!(pending.status, "pending");
    assert!(pending.error.as_deref().unwrap().starts_with("will retry:"));
    // The job's last attempt (jobs::Job::last_attempt) fails it for good.
    let last = broken.index_document(org, doc2.id, true).await.unwrap();
    assert_eq!(last, Indexed::Failed);
    let (failed, _) = broken.document(org, doc2.id).await.unwrap();
    assert_eq!(failed.status, "failed");
    assert!(
        failed.error.as_deref().unwrap().contains("HTTP 401"),
        "{:?}",
        failed.error
    );
}

/// Answers like [`FakeEmbeddings`], each after `delay`.
struct SlowEmbeddings(FakeEmbeddings, Duration);

impl Respond for SlowEmbeddings {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.respond(request).set_delay(self.1)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_document_stops_its_running_indexing_job() {
    let database = TestDatabase::new().await;
    let db = database.db();
    let org = create_org(&db, "Cancel Clinic").await;
    let server = MockServer::start().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let fake = FakeEmbeddings {
        calls: calls.clone(),
        fail_first: 0,
    };
    Mock::given(method("POST"))
        .respond_with(SlowEmbeddings(fake, Duration::from_millis(300)))
        .mount(&server)
        .await;
    let kb = KnowledgeBase::new(
        db.clone(),
        Arc::new(openai(&server, rag::worker::EMBED_SLICE)),
        RetrievalConfig::default(),
        waker(&db),
    );
    // About 600 chunks: ten slices, three seconds of embedding.
    let text: String = (0..600)
        .map(|i| format!("Section {i}\n\nParagraph number {i} of the handbook, long enough to stand alone as its own chunk of text. {}\n\n", "Filler words follow here. ".repeat(30)))
        .collect();
    let doc = kb.upload(org, upload("long.txt", &text)).await.unwrap();
    let worker = tokio::spawn({
        let kb = kb.clone();
        async move { kb.index_document(org, doc.id, false).await }
    });
    while calls.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kb.delete_document(org, doc.id).await.unwrap();
    assert_eq!(worker.await.unwrap().unwrap(), Indexed::Skipped);
    let made = calls.load(Ordering::SeqCst);
    assert!(made <= 2, "{made} embedding requests after the delete");
    let chunks: i64 = database
        .psql_superuser(&format!(
            "SELECT count(*) FROM kb_chunks WHERE document_id = '{}'",
            doc.id
        ))
        .trim()
        .parse()
        .unwrap();
    assert_eq!(chunks, 0);
}
