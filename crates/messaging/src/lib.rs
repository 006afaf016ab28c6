//! Outbound messages with an audit trail (SPEC §4; seed 001 "NEW DATABASE TABLE: messages",
//! "4 NEW DASHBOARD ACTION ENDPOINTS", §15 "Key Lessons"):
//!
//! - every SMS, email, share and export is a `messages` row, written **before** the provider is
//!   called (status `pending`) and updated with the outcome (`sent` with the provider's id, or
//!   `failed` with its error code), so the audit never misses an attempt and never claims a
//!   message that did not go out;
//! - SMS go through the organization's own Twilio (BYOC), email through its own Resend;
//! - at most one **automatic** SMS per contact per hour (seed 001 §15), counted in the database
//!   under a per-contact advisory lock;
//! - provider errors are logged in full and answered with a generic message (seed 003 "don't
//!   return raw Twilio errors").
//!
//! [`actions`] holds the four dashboard actions and recording share links; [`audit`] reads the
//! audit back.

pub mod actions;
pub mod audit;
mod resend;
mod schema;

use std::sync::Arc;

use crate::schema::messages;
use chrono::Utc;
use credentials::{CredentialError, CredentialService, ResendCredentials, TwilioCredentials};
use db::{Db, DbError, OrgId, TenantTx};
use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
/// Who a message is sent for, and from where (recorded in the audit trail).
pub use tenancy::audit::ChangedBy;
use uuid::Uuid;

/// Longest follow-up SMS, characters (one GSM segment; seed 001).
pub const FOLLOWUP_MAX_CHARS: usize = 160;

/// Errors of messaging.
#[derive(Debug, thiserror::Error)]
pub enum MessagingError {
    /// Input breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// No such record in this organization.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The organization has not connected the provider this needs.
    #[error("{0} is not connected; connect it in Integrations")]
    NotConnected(&'static str),
    /// An automatic SMS already went to this contact in the last hour.
    #[error("an automatic SMS was already sent to this contact in the last hour")]
    RateLimited,
    /// The provider refused or failed; details are logged, never returned.
    #[error("Failed to send {0}")]
    ProviderFailed(&'static str),
    /// The share link expired.
    #[error("this link has expired")]
    LinkExpired,
    /// A CRM failure.
    #[error(transparent)]
    Crm(#[from] crm::CrmError),
    /// A scheduling failure.
    #[error(transparent)]
    Scheduling(#[from] scheduling::SchedulingError),
    /// A vault failure.
    #[error(transparent)]
    Credential(CredentialError),
    /// A database failure.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for MessagingError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}

/// What a message is about (links of its audit row).
#[derive(Debug, Clone, Copy, Default)]
pub struct Subject {
    /// The contact.
    pub contact_id: Option<Uuid>,
    /// The call.
    pub call_id: Option<Uuid>,
    /// The appointment.
    pub appointment_id: Option<Uuid>,
}

/// What an audit row records besides its links.
#[derive(Debug, Clone, Copy)]
struct AuditEntry<'a> {
    /// `sms`, `email`, `share` or `export`.
    method: &'static str,
    /// Phone, email or user.
    recipient: &'a str,
    /// What was sent (never a live link).
    content: &'a str,
    /// `twilio`, `resend`, or none.
    provider: Option<&'static str>,
    /// Sent by the system rather than a user.
    automatic: bool,
}

/// An email to send: `method` is the audit method (`email` or `share`); `audit_content` is
/// what the audit row keeps (never a live link).
#[derive(Debug, Clone, Copy)]
pub struct Email<'a> {
    /// `email` or `share`.
    pub method: &'static str,
    /// Recipient address.
    pub to: &'a str,
    /// Subject line.
    pub subject_line: &'a str,
    /// Plain-text body.
    pub text: &'a str,
    /// What the audit row records.
    pub audit_content: &'a str,
}

/// A message that went out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The audit row.
    pub message_id: Uuid,
    /// The provider's id (`SM…` for Twilio).
    pub external_id: Option<String>,
}

/// The messaging service: one per process, shared behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Messenger {
    db: Db,
    credentials: Arc<CredentialService>,
    integrations: Arc<integrations::Integrations>,
}

impl Messenger {
    /// A messenger sending SMS through each organization's Twilio (clients from
    /// `integrations`) and email through its Resend (the integrations' `resend` endpoint and
    /// HTTP client).
    #[must_use]
    pub fn new(
        db: Db,
        credentials: Arc<CredentialService>,
        integrations: Arc<integrations::Integrations>,
    ) -> Self {
        Self {
            db,
            credentials,
            integrations,
        }
    }

    /// Writes the `pending` audit row and, as `message.<method>` on it, the organization's
    /// audit-trail entry (actor, address, request id), in the caller's transaction.
    async fn audit(
        tx: &mut TenantTx,
        entry: AuditEntry<'_>,
        subject: Subject,
        by: &ChangedBy,
    ) -> Result<Uuid, MessagingError> {
        let org = tx.org();
        let AuditEntry {
            method,
            recipient,
            content,
            provider,
            automatic,
        } = entry;
        let id = Uuid::new_v4();
        diesel::insert_into(messages::table)
            .values((
                messages::id.eq(id),
                messages::org_id.eq(org.0),
                messages::contact_id.eq(subject.contact_id),
                messages::call_id.eq(subject.call_id),
                messages::appointment_id.eq(subject.appointment_id),
                messages::method.eq(method),
                messages::recipient.eq(recipient),
                messages::content.eq(content),
                messages::status.eq("pending"),
                messages::service_provider.eq(provider),
                messages::automatic.eq(automatic),
                messages::created_by.eq(by.actor.id()),
            ))
            .execute(tx)
            .await?;
        let action = match method {
            "sms" => "message.sms",
            "email" => "message.email",
            "share" => "message.share",
            _ => "message.export",
        };
        let detail = serde_json::json!({
            "recipient": recipient, "automatic": automatic, "provider": provider,
            "contact_id": subject.contact_id, "call_id": subject.call_id,
            "appointment_id": subject.appointment_id,
        });
        by.record(tx, action, Some(id.to_string()), detail).await?;
        Ok(id)
    }

    /// Records the outcome of an audited attempt.
    async fn settle(
        &self,
        org: OrgId,
        id: Uuid,
        outcome: Result<Option<String>, String>,
    ) -> Result<(), MessagingError> {
        self.db
            .tenant(org, async move |tx| {
                let target = messages::table
                    .filter(db::same_tenant(messages::org_id, org.0))
                    .filter(messages::id.eq(id));
                match outcome {
                    Ok(external) => {
                        diesel::update(target)
                            .set((
                                messages::status.eq("sent"),
                                messages::external_message_id.eq(external),
                                messages::sent_at.eq(Utc::now()),
                            ))
                            .execute(tx)
                            .await?;
                    }
                    Err(code) => {
                        diesel::update(target)
                            .set((messages::status.eq("failed"), messages::error_code.eq(code)))
                            .execute(tx)
                            .await?;
                    }
                }
                Ok::<_, MessagingError>(())
            })
            .await
    }

    /// Sends an SMS through the organization's Twilio, from its number, on behalf of `by`
    /// ([`ChangedBy::system`] for automatic ones). An `automatic` SMS needs
    /// `subject.contact_id` and is refused when another automatic SMS went to the contact in
    /// the last hour.
    ///
    /// # Errors
    /// [`MessagingError::Invalid`] (recipient not E.164, empty body, over 1600 characters),
    /// [`MessagingError::RateLimited`], [`MessagingError::NotConnected`],
    /// [`MessagingError::ProviderFailed`], [`MessagingError::Db`].
    pub async fn send_sms(
        &self,
        org: OrgId,
        to: &str,
        body: &str,
        subject: Subject,
        automatic: bool,
        by: &ChangedBy,
    ) -> Result<Sent, MessagingError> {
        let to = crm::normalize_phone(to, crm::DEFAULT_COUNTRY_CODE)?;
        if body.trim().is_empty() || body.chars().count() > 1600 {
            return Err(MessagingError::Invalid(
                "the SMS must have 1-1600 characters".into(),
            ));
        }
        if automatic && subject.contact_id.is_none() {
            return Err(MessagingError::Invalid(
                "an automatic SMS must name its contact".into(),
            ));
        }
        let (recipient, content) = (to.clone(), body.to_owned());
        let id = self
            .db
            .tenant(org, async move |tx| {
                if automatic && let Some(contact) = subject.contact_id {
                    check_automatic_limit(tx, contact).await?;
                }
                Self::audit(
                    tx,
                    AuditEntry {
                        method: "sms",
                        recipient: &recipient,
                        content: &content,
                        provider: Some("twilio"),
                        automatic,
                    },
                    subject,
                    by,
                )
                .await
            })
            .await?;
        let credential = match self.credentials.get::<TwilioCredentials>(org).await {
            Ok(credential) => credential,
            Err(CredentialError::NotConnected(_)) => {
                self.settle(org, id, Err("not_connected".into())).await?;
                return Err(MessagingError::NotConnected("Twilio"));
            }
            Err(e) => {
                self.settle(org, id, Err("credential_error".into())).await?;
                return Err(MessagingError::Credential(e));
            }
        };
        let sent = match self.integrations.twilio_client(&credential) {
            Err(e) => Err(e),
            Ok(client) => {
                client
                    .send_sms(&twilio_client::rest::NewMessage {
                        to: &to,
                        from: &credential.phone_number,
                        body,
                        status_callback: None,
                    })
                    .await
            }
        };
        match sent {
            Ok(message) => {
                self.settle(org, id, Ok(Some(message.sid.clone()))).await?;
                Ok(Sent {
                    message_id: id,
                    external_id: Some(message.sid),
                })
            }
            Err(e) => {
                tracing::error!(%org, message_id = %id, error = %e, "SMS failed");
                self.settle(org, id, Err(twilio_error_code(&e))).await?;
                Err(MessagingError::ProviderFailed("SMS"))
            }
        }
    }

    /// Sends an email through the organization's Resend, from its sender address, on behalf of
    /// `by`.
    ///
    /// # Errors
    /// [`MessagingError::Invalid`], [`MessagingError::NotConnected`],
    /// [`MessagingError::ProviderFailed`], [`MessagingError::Db`].
    pub async fn send_email(
        &self,
        org: OrgId,
        email: Email<'_>,
        subject: Subject,
        by: &ChangedBy,
    ) -> Result<Sent, MessagingError> {
        let Email {
            method,
            to,
            subject_line,
            text,
            audit_content,
        } = email;
        let to = to.trim().to_lowercase();
        if to.find('@').is_none_or(|at| at == 0 || at == to.len() - 1) {
            return Err(MessagingError::Invalid(
                "email is not an email address".into(),
            ));
        }
        let (recipient, content) = (to.clone(), audit_content.to_owned());
        let id = self
            .db
            .tenant(org, async move |tx| {
                Self::audit(
                    tx,
                    AuditEntry {
                        method,
                        recipient: &recipient,
                        content: &content,
                        provider: Some("resend"),
                        automatic: false,
                    },
                    subject,
                    by,
                )
                .await
            })
            .await?;
        let credential = match self.credentials.get::<ResendCredentials>(org).await {
            Ok(credential) => credential,
            Err(CredentialError::NotConnected(_)) => {
                self.settle(org, id, Err("not_connected".into())).await?;
                return Err(MessagingError::NotConnected("Resend"));
            }
            Err(e) => {
                self.settle(org, id, Err("credential_error".into())).await?;
                return Err(MessagingError::Credential(e));
            }
        };
        let Some(from) = credential.from_email.clone() else {
            self.settle(org, id, Err("no_sender".into())).await?;
            return Err(MessagingError::Invalid(
                "Resend has no sender address; reconnect it with from_email".into(),
            ));
        };
        let outgoing = resend::Email {
            from: &from,
            to: &to,
            subject: subject_line,
            text,
        };
        match resend::send(
            self.integrations.http(),
            &self.integrations.endpoints().resend,
            &credential.api_key,
            &outgoing,
        )
        .await
        {
            Ok(external) => {
                self.settle(org, id, Ok(external.clone())).await?;
                Ok(Sent {
                    message_id: id,
                    external_id: external,
                })
            }
            Err(e) => {
                tracing::error!(%org, message_id = %id, error = %e.detail, "email failed");
                self.settle(org, id, Err(e.code)).await?;
                Err(MessagingError::ProviderFailed("email"))
            }
        }
    }
}

/// Under a per-contact advisory lock, in the caller's transaction: refuses a second automatic
/// SMS to `contact` within an hour (seed 001 §15); failed ones do not count.
async fn check_automatic_limit(tx: &mut TenantTx, contact: Uuid) -> Result<(), MessagingError> {
    let org = tx.org();
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))")
        .bind::<diesel::sql_types::Text, _>(contact.to_string())
        .execute(tx)
        .await?;
    let recent: i64 = messages::table
        .filter(messages::org_id.eq(org.0))
        .filter(messages::contact_id.eq(contact))
        .filter(messages::automatic.eq(true))
        .filter(messages::method.eq("sms"))
        .filter(messages::status.ne("failed"))
        .filter(messages::created_at.gt(Utc::now() - chrono::Duration::hours(1)))
        .count()
        .get_result(tx)
        .await?;
    if recent > 0 {
        return Err(MessagingError::RateLimited);
    }
    Ok(())
}

/// The error code an SMS's audit row keeps: Twilio's numeric code, else `http_<status>`,
/// `unreachable` or `error` (never Twilio's message, which may hold the number).
fn twilio_error_code(e: &twilio_client::TwilioError) -> String {
    match e {
        twilio_client::TwilioError::Api {
            code: Some(code), ..
        } => code.to_string(),
        twilio_client::TwilioError::Api { status, .. } => format!("http_{status}"),
        twilio_client::TwilioError::Transport(_) => "unreachable".into(),
        _ => "error".into(),
    }
}
