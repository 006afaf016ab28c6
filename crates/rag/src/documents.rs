//! Documents: upload (text extracted at once, so that a bad file is refused with a clear error
//! and nothing stored), list, get, delete, re-index, and the organization's retrieval settings.
//! Indexing itself is the document's durable job, worked by [`crate::worker`].

use crate::schema::{kb_chunks, kb_documents, kb_settings};
use chrono::{DateTime, Utc};
use db::OrgId;
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::extract::{DocumentFormat, ExtractError, extract};
use crate::retrieve::{bump_version, read_state};
use crate::{KnowledgeBase, RagError, RetrievalConfig, RetrievalOverrides};

/// A document without its text.
#[derive(Debug, Clone, PartialEq, Serialize, Queryable, Selectable, ToSchema)]
#[diesel(table_name = kb_documents)]
#[schema(as = DocumentBody)]
pub struct Document {
    /// Id.
    pub id: Uuid,
    /// Title (the file name without its extension unless given).
    pub title: String,
    /// The uploaded file's name.
    pub filename: String,
    /// `pdf`, `text` or `markdown`.
    pub format: String,
    /// Upload size in bytes.
    pub size_bytes: i32,
    /// Pages (PDF only).
    pub page_count: Option<i32>,
    /// `pending`, `processing`, `ready` or `failed`.
    pub status: String,
    /// Why indexing failed (a sentence for the user).
    pub error: Option<String>,
    /// Chunks indexed.
    pub chunk_count: i32,
    /// The model the chunks were embedded with.
    pub embedding_model: Option<String>,
    /// When indexing last finished, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize_opt")]
    pub indexed_at: Option<DateTime<Utc>>,
    /// Upload time, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(skip)]
    pub updated_at: DateTime<Utc>,
}

/// One chunk of a document, as shown to its owners.
#[derive(Debug, Clone, PartialEq, Serialize, Queryable, Selectable, ToSchema)]
#[diesel(table_name = kb_chunks)]
#[schema(as = ChunkBody)]
pub struct ChunkView {
    /// Id.
    pub id: Uuid,
    /// Position in the document.
    pub ordinal: i32,
    /// Section path.
    pub heading: String,
    /// Text.
    pub content: String,
}

/// A new upload.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The file's name as sent.
    pub filename: String,
    /// Declared content type, if any.
    pub content_type: Option<String>,
    /// Optional title.
    pub title: Option<String>,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The uploading user.
    pub uploaded_by: Option<Uuid>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}

impl KnowledgeBase {
    /// Stores an upload as a `pending` document; the worker indexes it in the background.
    ///
    /// # Errors
    /// [`RagError::Extract`] (too large, unsupported, encrypted, scanned-only, empty),
    /// [`RagError::Invalid`] for a bad title, [`RagError::Duplicate`] when the same file is
    /// already there, [`RagError::Db`].
    pub async fn upload(&self, org: OrgId, upload: Upload) -> Result<Document, RagError> {
        let filename: String = upload.filename.trim().chars().take(255).collect();
        let format =
            DocumentFormat::detect(&upload.bytes, &filename, upload.content_type.as_deref())?;
        let title = document_title(upload.title, &filename)?;
        let size = i32::try_from(upload.bytes.len()).map_err(|_| ExtractError::TooLarge {
            limit: crate::extract::MAX_UPLOAD_BYTES,
        })?;
        let sha = sha256_hex(&upload.bytes);
        let bytes = upload.bytes;
        let extracted = tokio::task::spawn_blocking(move || extract(&bytes, format))
            .await
            .map_err(|_| ExtractError::PdfUnreadable)??;
        let id = Uuid::new_v4();
        let uploaded_by = upload.uploaded_by;
        let page_count = extracted.page_count.and_then(|p| i32::try_from(p).ok());
        let doc = self
            .db
            .tenant(org, async move |tx| {
                let inserted = diesel::insert_into(kb_documents::table)
                    .values((
                        kb_documents::id.eq(id),
                        kb_documents::org_id.eq(org.0),
                        kb_documents::title.eq(&title),
                        kb_documents::filename.eq(if filename.is_empty() {
                            "upload"
                        } else {
                            filename.as_str()
                        }),
                        kb_documents::format.eq(format.as_str()),
                        kb_documents::size_bytes.eq(size),
                        kb_documents::page_count.eq(page_count),
                        kb_documents::body.eq(&extracted.text),
                        kb_documents::content_sha256.eq(&sha),
                        kb_documents::uploaded_by.eq(uploaded_by),
                    ))
                    .on_conflict((kb_documents::org_id, kb_documents::content_sha256))
                    .do_nothing()
                    .returning(Document::as_returning())
                    .get_result(tx)
                    .await
                    .optional()?;
                match inserted {
                    Some(doc) => {
                        crate::worker::queue(tx, doc.id).await?;
                        Ok(doc)
                    }
                    None => {
                        let existing: Uuid = kb_documents::table
                            .filter(kb_documents::org_id.eq(org.0))
                            .filter(kb_documents::content_sha256.eq(&sha))
                            .select(kb_documents::id)
                            .get_result(tx)
                            .await?;
                        Err(RagError::Duplicate { id: existing })
                    }
                }
            })
            .await?;
        self.jobs.wake();
        Ok(doc)
    }

    /// The organization's documents, newest first.
    ///
    /// # Errors
    /// [`RagError::Db`].
    pub async fn documents(&self, org: OrgId) -> Result<Vec<Document>, RagError> {
        self.db
            .tenant(org, async move |tx| {
                kb_documents::table
                    .filter(kb_documents::org_id.eq(org.0))
                    .order(kb_documents::created_at.desc())
                    .select(Document::as_select())
                    .load(tx)
                    .await
                    .map_err(RagError::from)
            })
            .await
    }

    /// One document and its chunks.
    ///
    /// # Errors
    /// [`RagError::NotFound`], [`RagError::Db`].
    pub async fn document(
        &self,
        org: OrgId,
        id: Uuid,
    ) -> Result<(Document, Vec<ChunkView>), RagError> {
        self.db
            .tenant(org, async move |tx| {
                let doc = kb_documents::table
                    .filter(db::same_tenant(kb_documents::org_id, org.0))
                    .filter(kb_documents::id.eq(id))
                    .select(Document::as_select())
                    .get_result(tx)
                    .await
                    .optional()?
                    .ok_or(RagError::NotFound)?;
                let chunks = kb_chunks::table
                    .filter(db::same_tenant(kb_chunks::org_id, org.0))
                    .filter(kb_chunks::document_id.eq(id))
                    .order(kb_chunks::ordinal)
                    .select(ChunkView::as_select())
                    .load(tx)
                    .await?;
                Ok((doc, chunks))
            })
            .await
    }

    /// Deletes a document and its chunks; queries stop seeing them at once.
    ///
    /// # Errors
    /// [`RagError::NotFound`], [`RagError::Db`].
    pub async fn delete_document(&self, org: OrgId, id: Uuid) -> Result<(), RagError> {
        self.db
            .tenant(org, async move |tx| {
                let n = diesel::delete(
                    kb_documents::table
                        .filter(db::same_tenant(kb_documents::org_id, org.0))
                        .filter(kb_documents::id.eq(id)),
                )
                .execute(tx)
                .await?;
                if n == 0 {
                    return Err(RagError::NotFound);
                }
                bump_version(tx, org).await?;
                Ok(())
            })
            .await
    }

    /// Queues a document to be chunked and embedded again (after a failure, or to pick up a new
    /// chunker or model). Its current chunks keep answering until the new ones replace them.
    ///
    /// # Errors
    /// [`RagError::NotFound`], [`RagError::Db`].
    pub async fn reindex(&self, org: OrgId, id: Uuid) -> Result<Document, RagError> {
        let doc = self
            .db
            .tenant(org, async move |tx| {
                let doc = diesel::update(
                    kb_documents::table
                        .filter(db::same_tenant(kb_documents::org_id, org.0))
                        .filter(kb_documents::id.eq(id)),
                )
                .set((
                    kb_documents::status.eq("pending"),
                    kb_documents::attempts.eq(0),
                    kb_documents::error.eq(None::<String>),
                    kb_documents::next_attempt_at.eq(diesel::dsl::now),
                    kb_documents::claimed_at.eq(None::<DateTime<Utc>>),
                ))
                .returning(Document::as_returning())
                .get_result(tx)
                .await
                .optional()?
                .ok_or(RagError::NotFound)?;
                crate::worker::queue(tx, id).await?;
                Ok::<_, RagError>(doc)
            })
            .await?;
        self.jobs.wake();
        Ok(doc)
    }

    /// The organization's overrides and the effective settings.
    ///
    /// # Errors
    /// [`RagError::Db`].
    pub async fn settings(
        &self,
        org: OrgId,
    ) -> Result<(RetrievalOverrides, RetrievalConfig), RagError> {
        let (_, overrides) = self
            .db
            .tenant(org, async move |tx| {
                read_state(tx, org).await.map_err(RagError::from)
            })
            .await?;
        Ok((overrides, self.config.with(&overrides)))
    }

    /// Replaces the organization's overrides (`None` fields return to the platform default).
    ///
    /// # Errors
    /// [`RagError::Invalid`] for a value out of range, [`RagError::Db`].
    pub async fn set_settings(
        &self,
        org: OrgId,
        overrides: RetrievalOverrides,
    ) -> Result<RetrievalConfig, RagError> {
        overrides.validate().map_err(RagError::Invalid)?;
        self.db
            .tenant(org, async move |tx| {
                diesel::insert_into(kb_settings::table)
                    .values((
                        kb_settings::org_id.eq(org.0),
                        kb_settings::similarity_threshold.eq(overrides.similarity_threshold),
                        kb_settings::max_chunks.eq(overrides.max_chunks),
                        kb_settings::max_context_chars.eq(overrides.max_context_chars),
                    ))
                    .on_conflict(kb_settings::org_id)
                    .do_update()
                    .set((
                        kb_settings::similarity_threshold
                            .eq(excluded(kb_settings::similarity_threshold)),
                        kb_settings::max_chunks.eq(excluded(kb_settings::max_chunks)),
                        kb_settings::max_context_chars.eq(excluded(kb_settings::max_context_chars)),
                    ))
                    .execute(tx)
                    .await
                    .map_err(RagError::from)
            })
            .await?;
        Ok(self.config.with(&overrides))
    }
}

/// The title of an upload: the given one trimmed, else the file name without its extension,
/// else `Untitled`; at most 200 characters.
fn document_title(given: Option<String>, filename: &str) -> Result<String, RagError> {
    let title = given
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| {
            filename
                .rsplit_once('.')
                .map_or(filename, |(stem, _)| stem)
                .trim()
                .to_owned()
        });
    if title.chars().count() > 200 {
        return Err(RagError::Invalid(
            "the title is longer than 200 characters".into(),
        ));
    }
    Ok(if title.is_empty() {
        "Untitled".to_owned()
    } else {
        title
    })
}
