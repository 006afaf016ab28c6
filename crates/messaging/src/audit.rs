//! Reading the messages audit (seed 001 "NEW DATABASE TABLE: messages"): every SMS, email,
//! recording share and transcript export the organization sent, with its outcome, so a screen
//! can show what happened to an action and an integrator can reconcile deliveries.

use crate::schema::messages;
use chrono::{DateTime, Utc};
use db::{OrgId, TenantTx};
use diesel::dsl::count_star;
use diesel::{ExpressionMethods, QueryDsl, Queryable, Selectable, SelectableHelper};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::MessagingError;

/// One audit row, answered as stored (`GET /api/messages`; the OpenAPI document names it
/// `AuditedMessage`).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = messages, check_for_backend(diesel::pg::Pg))]
#[schema(as = AuditedMessage)]
pub struct MessageRecord {
    /// Id (`messageId` of the action that sent it).
    pub id: Uuid,
    /// The contact it concerns.
    pub contact_id: Option<Uuid>,
    /// The call it concerns.
    pub call_id: Option<Uuid>,
    /// The appointment it concerns.
    pub appointment_id: Option<Uuid>,
    /// `outbound` (every message the platform sends today).
    pub direction: String,
    /// `sms`, `email`, `share` (recording link by email) or `export` (transcript download).
    pub method: String,
    /// E.164 phone, email address, or the user who exported.
    pub recipient: String,
    /// What was sent (a share's audit never holds the live link).
    pub content: String,
    /// `pending` (the provider was being called), `sent` or `failed`.
    pub status: String,
    /// `twilio`, `resend`, or none for exports.
    pub service_provider: Option<String>,
    /// The provider's id (`SM…` for Twilio).
    pub external_message_id: Option<String>,
    /// Why it failed: Twilio's numeric error code (`21211`), `http_<status>`, `unreachable`,
    /// `not_connected`, `credential_error` or `no_sender`; never the provider's text.
    pub error_code: Option<String>,
    /// Sent by the system (reminders, post-call SMS) rather than a user.
    pub automatic: bool,
    /// The user who asked for it.
    pub created_by: Option<Uuid>,
    /// When the provider accepted it, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize_opt")]
    pub sent_at: Option<DateTime<Utc>>,
    /// When the attempt began, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
}

/// Filters of the audit list; every given field must match.
#[derive(Debug, Clone, Default)]
pub struct MessageQuery {
    /// Messages about this call.
    pub call_id: Option<Uuid>,
    /// Messages about this contact.
    pub contact_id: Option<Uuid>,
    /// Messages about this appointment.
    pub appointment_id: Option<Uuid>,
    /// `sms`, `email`, `share` or `export`.
    pub method: Option<String>,
    /// `pending`, `sent` or `failed`.
    pub status: Option<String>,
}

/// Audit methods.
pub const METHODS: [&str; 4] = ["sms", "email", "share", "export"];
/// Audit statuses.
pub const STATUSES: [&str; 3] = ["pending", "sent", "failed"];

fn filtered(org: OrgId, q: &MessageQuery) -> messages::BoxedQuery<'static, diesel::pg::Pg> {
    let mut rows = messages::table
        .filter(messages::org_id.eq(org.0))
        .into_boxed();
    if let Some(id) = q.call_id {
        rows = rows.filter(messages::call_id.eq(id));
    }
    if let Some(id) = q.contact_id {
        rows = rows.filter(messages::contact_id.eq(id));
    }
    if let Some(id) = q.appointment_id {
        rows = rows.filter(messages::appointment_id.eq(id));
    }
    if let Some(method) = &q.method {
        rows = rows.filter(messages::method.eq(method.clone()));
    }
    if let Some(status) = &q.status {
        rows = rows.filter(messages::status.eq(status.clone()));
    }
    rows
}

fn check_one_of(value: Option<&str>, allowed: &[&str], what: &str) -> Result<(), MessagingError> {
    match value {
        Some(v) if !allowed.contains(&v) => Err(MessagingError::Invalid(format!(
            "{what} must be one of {}",
            allowed.join(", ")
        ))),
        _ => Ok(()),
    }
}

/// A page of the organization's audit, newest first, and the total matching.
///
/// # Errors
/// [`MessagingError::Invalid`] for an unknown method or status, [`MessagingError::Db`].
pub async fn list(
    tx: &mut TenantTx,
    query: MessageQuery,
    page: db::Page,
) -> Result<(Vec<MessageRecord>, i64), MessagingError> {
    let org = tx.org();
    check_one_of(query.method.as_deref(), &METHODS, "method")?;
    check_one_of(query.status.as_deref(), &STATUSES, "status")?;
    let total: i64 = filtered(org, &query).select(count_star()).first(tx).await?;
    let rows = filtered(org, &query)
        .order((messages::created_at.desc(), messages::id.desc()))
        .limit(page.limit)
        .offset(page.offset)
        .select(MessageRecord::as_select())
        .load(tx)
        .await?;
    Ok((rows, total))
}
