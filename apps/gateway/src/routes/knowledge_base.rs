//! The organization's knowledge base (SPEC §7; seed 001 §3.1, §6a):
//!
//! - `POST /api/knowledge-base/documents`: multipart upload (`file`: PDF, `.txt` or `.md`, at
//!   most 10 MiB; `title` optional). The text is extracted at once (a bad file is refused with
//!   its own code and nothing is stored); chunking and embedding run in the background, so the
//!   answer is 202 with status `pending`.
//! - `GET /api/knowledge-base/documents[/{id}]`, `DELETE …/{id}`, `POST …/{id}/reindex`.
//! - `POST /api/knowledge-base/search`: what the agent would get for a question.
//! - `GET/PUT /api/knowledge-base/settings`: the organization's retrieval overrides.
//!
//! Members read; managers and admins change.

use actix_multipart::Multipart;
use actix_web::{HttpResponse, delete, get, post, put, web};
use futures_util::TryStreamExt as _;
use rag::documents::{ChunkView, Document, Upload};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{AuthUser, ManagerUser, RoleAtLeast};
use crate::error::{ApiError, ErrorBody};
use crate::input::Json;
use crate::reply::{self, Success};
use crate::state::AppState;

/// The upload form (`multipart/form-data`): a `file` part and an optional `title` part.
#[derive(Debug, ToSchema)]
pub struct UploadForm {
    /// The file: PDF, plain text (`.txt`) or Markdown (`.md`), at most 10 MiB.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// Title (default: the file name without its extension), at most 4 KiB.
    pub title: Option<String>,
}

/// Largest `title` part read, bytes.
const TITLE_PART_LIMIT: usize = 4 * 1024;

fn invalid_upload(message: &str) -> ApiError {
    ApiError::bad_request("invalid_upload", message)
}

fn too_large() -> ApiError {
    rag::RagError::Extract(rag::ExtractError::TooLarge {
        limit: rag::extract::MAX_UPLOAD_BYTES,
    })
    .into()
}

/// Reads one part's bytes, refusing past `limit` (`too_big` answers) without reading on.
async fn read_part(
    field: &mut actix_multipart::Field,
    limit: usize,
    too_big: fn() -> ApiError,
) -> Result<Vec<u8>, ApiError> {
    let mut data = Vec::new();
    while let Some(chunk) = field.try_next().await.map_err(multipart_error)? {
        if data.len() + chunk.len() > limit {
            return Err(too_big());
        }
        data.extend_from_slice(&chunk);
    }
    Ok(data)
}

fn multipart_error(e: actix_multipart::MultipartError) -> ApiError {
    match e {
        actix_multipart::MultipartError::Payload(actix_web::error::PayloadError::Overflow) => {
            too_large()
        }
        _ => invalid_upload("the body is not a well-formed multipart/form-data form"),
    }
}

/// The upload form's parts: a `file` (with its name and declared type) and an optional
/// `title`. A nameless, repeated or unknown part is refused 400 `invalid_upload`, a NUL in the
/// title or file name 400 `invalid_characters`, a file over 10 MiB 413 `document_too_large`
/// as soon as the limit is passed.
pub async fn read_upload(mut multipart: Multipart) -> Result<Upload, ApiError> {
    let (mut file, mut title) = (None, None);
    let (mut filename, mut content_type) = (String::new(), None);
    while let Some(mut field) = multipart.try_next().await.map_err(multipart_error)? {
        match field.name().unwrap_or_default() {
            "file" if file.is_none() => {
                filename = field
                    .content_disposition()
                    .and_then(|d| d.get_filename())
                    .unwrap_or_default()
                    .to_owned();
                content_type = field.content_type().map(|m| m.essence_str().to_owned());
                file =
                    Some(read_part(&mut field, rag::extract::MAX_UPLOAD_BYTES, too_large).await?);
            }
            "title" if title.is_none() => {
                let bytes = read_part(&mut field, TITLE_PART_LIMIT, || {
                    invalid_upload("the title is longer than 4 KiB")
                })
                .await?;
                title = Some(
                    String::from_utf8(bytes)
                        .map_err(|_| invalid_upload("the title is not UTF-8"))?,
                );
            }
            "" => return Err(invalid_upload("every part of the form needs a name")),
            "file" | "title" => return Err(invalid_upload("a part of the form is repeated")),
            _ => return Err(invalid_upload("the form has only `file` and `title` parts")),
        }
    }
    if [title.as_deref().unwrap_or_default(), &filename]
        .iter()
        .any(|t| db::text::has_nul(t))
    {
        return Err(ApiError::bad_request(
            "invalid_characters",
            "the NUL character is not allowed in the title or file name",
        ));
    }
    let bytes = file.ok_or_else(|| {
        invalid_upload("send multipart/form-data with the document in a `file` field")
    })?;
    Ok(Upload {
        filename,
        content_type,
        title,
        bytes,
        uploaded_by: None,
    })
}

/// `{ success, document }`
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentResponse {
    /// The document.
    pub document: Document,
}

/// Adds a document; it is indexed in the background (poll its `status`).
#[utoipa::path(tag = "knowledge-base", security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 202, body = Success<DocumentResponse>),
        (status = 400, body = ErrorBody, description = "`invalid_upload`: not a multipart form with one `file` (and at most one `title`) part; `invalid_characters`: NUL in the title or file name"),
        (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`document_exists`: the same file is already there"),
        (status = 413, body = ErrorBody, description = "`document_too_large`"),
        (status = 415, body = ErrorBody, description = "`unsupported_format`"),
        (status = 422, body = ErrorBody, description = "`document_too_large` (an extraction limit: decompressed size, pages, characters), `pdf_encrypted`, `pdf_no_text` (scanned), `pdf_unreadable`, `text_not_utf8`, `document_empty`")))]
#[post("/api/knowledge-base/documents")]
async fn upload(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
    multipart: Multipart,
) -> Result<HttpResponse, ApiError> {
    let upload = Upload {
        uploaded_by: Some(user.actor_id()),
        ..read_upload(multipart).await?
    };
    let document = state.knowledge.upload(user.org_id, upload).await?;
    Ok(reply::accepted(DocumentResponse { document }))
}

/// `{ success, documents }`
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentsResponse {
    /// Newest first.
    pub documents: Vec<Document>,
}

/// The organization's documents with their indexing status.
#[utoipa::path(tag = "knowledge-base", security(("bearer" = [])),
    responses((status = 200, body = Success<DocumentsResponse>), (status = 401, body = ErrorBody)))]
#[get("/api/knowledge-base/documents")]
async fn list(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let documents = state.knowledge.documents(user.0.org_id).await?;
    Ok(reply::ok(DocumentsResponse {
        documents: documents.into_iter().collect(),
    }))
}

/// `{ success, document, chunks }`
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentDetailResponse {
    /// The document.
    pub document: Document,
    /// Its chunks in order.
    pub chunks: Vec<ChunkView>,
}

/// One document and its chunks.
#[utoipa::path(tag = "knowledge-base", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    responses((status = 200, body = Success<DocumentDetailResponse>), (status = 404, body = ErrorBody)))]
#[get("/api/knowledge-base/documents/{id}")]
async fn get_document(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (document, chunks) = state.knowledge.document(user.0.org_id, *id).await?;
    Ok(reply::ok(DocumentDetailResponse {
        document,
        chunks: chunks.into_iter().collect(),
    }))
}

/// `{ success }`
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedResponse {}

/// Deletes a document; the agent stops using it at once.
#[utoipa::path(tag = "knowledge-base", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    responses((status = 200, body = Success<DeletedResponse>), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[delete("/api/knowledge-base/documents/{id}")]
async fn delete_document(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state.knowledge.delete_document(user.org_id, *id).await?;
    Ok(reply::ok(DeletedResponse {}))
}

/// Chunks and embeds a document again in the background (after a failure or a model change).
#[utoipa::path(tag = "knowledge-base", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    responses((status = 202, body = Success<DocumentResponse>), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[post("/api/knowledge-base/documents/{id}/reindex")]
async fn reindex(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let document = state.knowledge.reindex(user.org_id, *id).await?;
    Ok(reply::accepted(DocumentResponse { document }))
}

/// `POST /api/knowledge-base/search` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SearchRequest {
    /// A question as a caller would ask it (1-1000 characters).
    pub query: String,
}

/// A retrieved chunk.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetrievedChunkBody {
    /// Chunk id.
    pub id: Uuid,
    /// Its document.
    pub document_id: Uuid,
    /// Section path.
    pub heading: String,
    /// Text.
    pub content: String,
    /// Cosine similarity with the question, -1..1.
    pub similarity: f32,
}

/// The seed's knowledge-base answer plus the chunks and how they were found.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchResponse {
    /// Whether anything relevant was found.
    pub found: bool,
    /// Chunks returned.
    pub chunk_count: usize,
    /// What the agent receives: at most `max_context_chars` characters.
    pub context: String,
    /// `hybrid` (vector matches fused with full-text ranks), `keyword` (fallback: every term
    /// matched) or `none`.
    pub mode: String,
    /// The chunks, most relevant first.
    pub chunks: Vec<RetrievedChunkBody>,
}

/// What the agent would receive for a question (seed 001 §6a).
#[utoipa::path(tag = "knowledge-base", security(("bearer" = [])),
    request_body = SearchRequest,
    responses((status = 200, body = Success<SearchResponse>), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "`embeddings_unavailable`")))]
#[post("/api/knowledge-base/search")]
async fn search(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<SearchRequest>,
) -> Result<HttpResponse, ApiError> {
    let found = state.knowledge.retrieve(user.0.org_id, &body.query).await?;
    Ok(reply::ok(SearchResponse {
        found: found.found(),
        chunk_count: found.chunks.len(),
        mode: found.mode.as_str().to_owned(),
        context: found.context,
        chunks: found
            .chunks
            .into_iter()
            .map(|c| RetrievedChunkBody {
                id: c.id,
                document_id: c.document_id,
                heading: c.heading,
                content: c.content,
                similarity: c.similarity,
            })
            .collect(),
    }))
}

/// Retrieval settings (seed 001 §6a defaults: 0.25, 5, 2000).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KnowledgeBaseSettingsBody {
    /// Minimum cosine similarity, 0..1 (`null`: platform default).
    pub similarity_threshold: Option<f32>,
    /// Chunks returned, 1..20 (`null`: platform default).
    pub max_chunks: Option<i32>,
    /// Characters of context, 200..8000 (`null`: platform default).
    pub max_context_chars: Option<i32>,
}

/// `{ success, settings, effective, model }`
#[derive(Debug, Serialize, ToSchema)]
pub struct KnowledgeBaseSettingsResponse {
    /// The organization's overrides.
    pub settings: KnowledgeBaseSettingsBody,
    /// What retrieval uses.
    pub effective: KnowledgeBaseSettingsBody,
    /// The embedding model queries use, e.g. `local:all-MiniLM-L6-v2`.
    pub model: String,
}

fn settings_response(
    state: &AppState,
    overrides: rag::RetrievalOverrides,
    effective: rag::RetrievalConfig,
) -> KnowledgeBaseSettingsResponse {
    KnowledgeBaseSettingsResponse {
        settings: KnowledgeBaseSettingsBody {
            similarity_threshold: overrides.similarity_threshold,
            max_chunks: overrides.max_chunks,
            max_context_chars: overrides.max_context_chars,
        },
        effective: KnowledgeBaseSettingsBody {
            similarity_threshold: Some(effective.similarity_threshold),
            max_chunks: i32::try_from(effective.max_chunks).ok(),
            max_context_chars: i32::try_from(effective.max_context_chars).ok(),
        },
        model: state.knowledge.model().id.clone(),
    }
}

/// The organization's retrieval settings.
#[utoipa::path(tag = "knowledge-base", operation_id = "get_knowledge_base_settings", security(("bearer" = [])),
    responses((status = 200, body = Success<KnowledgeBaseSettingsResponse>)))]
#[get("/api/knowledge-base/settings")]
async fn get_settings(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let (overrides, effective) = state.knowledge.settings(user.0.org_id).await?;
    Ok(reply::ok(settings_response(&state, overrides, effective)))
}

/// Replaces the organization's retrieval overrides (`null` returns a value to the default).
#[utoipa::path(tag = "knowledge-base", operation_id = "put_knowledge_base_settings", security(("bearer" = [])),
    request_body = KnowledgeBaseSettingsBody,
    responses((status = 200, body = Success<KnowledgeBaseSettingsResponse>), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
#[put("/api/knowledge-base/settings")]
async fn put_settings(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
    body: Json<KnowledgeBaseSettingsBody>,
) -> Result<HttpResponse, ApiError> {
    let overrides = rag::RetrievalOverrides {
        similarity_threshold: body.similarity_threshold,
        max_chunks: body.max_chunks,
        max_context_chars: body.max_context_chars,
    };
    let effective = state.knowledge.set_settings(user.org_id, overrides).await?;
    Ok(reply::ok(settings_response(&state, overrides, effective)))
}

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(upload)
        .service(list)
        .service(get_document)
        .service(delete_document)
        .service(reindex)
        .service(search)
        .service(get_settings)
        .service(put_settings);
}
