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
use crate::routes::{Pagination, page};
use crate::state::AppState;

/// `{ "success": true, "messages": [...], "pagination": … }`
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageList {
    /// Newest first.
    pub messages: Vec<MessageRecord>,
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
            messaging::audit::list(tx, filter, db::Page { limit, offset }).await
        })
        .await?;
    Ok(reply::ok(MessageList {
        messages: rows,
        pagination: Pagination::new(limit, offset, total),
    }))
}

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(list_messages);
}
