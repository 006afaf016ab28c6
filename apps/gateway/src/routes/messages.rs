//! `/api/messages`: the organization's messages audit (seed 001 "NEW DATABASE TABLE: messages"),
//! filterable by the call, contact or appointment an action concerned, so the outcome of a
//! follow-up, share or reminder can be shown beside it. Any signed-in user reads it.

use actix_web::{HttpResponse, get, web};
use messaging::audit::{MessageQuery, MessageRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::reply::{self, Success};
use crate::routes::{Pagination, iso, page};
use crate::state::AppState;

/// One audited message.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditedMessage {
    /// Id (`messageId` of the action that sent it).
    pub id: Uuid,
    /// The contact it concerns.
    pub contact_id: Option<Uuid>,
    /// The call it concerns.
    pub call_id: Option<Uuid>,
    /// The appointment it concerns.
    pub appointment_id: Option<Uuid>,
    /// `outbound`.
    pub direction: String,
    /// `sms`, `email`, `share` (recording link by email) or `export` (transcript download).
    pub method: String,
    /// E.164 phone, email address, or the exporting user.
    pub recipient: String,
    /// What was sent (a share's row never holds the live link).
    pub content: String,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    /// `twilio`, `resend`, or none.
    pub service_provider: Option<String>,
    /// The provider's id (`SM…` for Twilio).
    pub external_message_id: Option<String>,
    /// Why it failed: Twilio's numeric code, `http_<status>`, `unreachable`, `not_connected`,
    /// `credential_error` or `no_sender`.
    pub error_code: Option<String>,
    /// Sent by the system rather than a user.
    pub automatic: bool,
    /// The user who asked for it.
    pub created_by: Option<Uuid>,
    /// RFC 3339 UTC, when the provider accepted it.
    pub sent_at: Option<String>,
    /// RFC 3339 UTC, when the attempt began.
    pub created_at: String,
}

impl From<MessageRecord> for AuditedMessage {
    fn from(m: MessageRecord) -> Self {
        Self {
            id: m.id,
            contact_id: m.contact_id,
            call_id: m.call_id,
            appointment_id: m.appointment_id,
            direction: m.direction,
            method: m.method,
            recipient: m.recipient,
            content: m.content,
            status: m.status,
            service_provider: m.service_provider,
            external_message_id: m.external_message_id,
            error_code: m.error_code,
            automatic: m.automatic,
            created_by: m.created_by,
            sent_at: m.sent_at.map(iso),
            created_at: iso(m.created_at),
        }
    }
}

/// `{ "success": true, "messages": [...], "pagination": … }`
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageList {
    /// Newest first.
    pub messages: Vec<AuditedMessage>,
    /// Page.
    pub pagination: Pagination,
}

/// Query of the audit list; every given filter must match.
#[derive(Debug, Deserialize, IntoParams)]
pub struct MessageListQuery {
    /// About this call.
    pub call_id: Option<Uuid>,
    /// About this contact.
    pub contact_id: Option<Uuid>,
    /// About this appointment.
    pub appointment_id: Option<Uuid>,
    /// `sms`, `email`, `share` or `export`.
    pub method: Option<String>,
    /// `pending`, `sent` or `failed`.
    pub status: Option<String>,
    /// 1–500, default 50.
    pub limit: Option<i64>,
    /// Default 0.
    pub offset: Option<i64>,
}

/// Lists the messages audit, newest first.
#[utoipa::path(tag = "messages", security(("bearer" = [])), params(MessageListQuery),
    responses((status = 200, body = Success<MessageList>), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/api/messages")]
async fn list_messages(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    query: web::Query<MessageListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let (limit, offset) = page(q.limit, q.offset, 50)?;
    let filter = MessageQuery {
        call_id: q.call_id,
        contact_id: q.contact_id,
        appointment_id: q.appointment_id,
        method: q.method,
        status: q.status,
    };
    let (rows, total) = state
        .db
        .tenant(user.org_id, async |tx| {
            messaging::audit::list(tx, filter, crm::Page { limit, offset }).await
        })
        .await?;
    Ok(reply::ok(MessageList {
        messages: rows.into_iter().map(Into::into).collect(),
        pagination: Pagination::new(limit, offset, total),
    }))
}

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(list_messages);
}
