//! The four dashboard actions (seed 001 "4 NEW DASHBOARD ACTION ENDPOINTS") and recording share
//! links:
//!
//! 1. [`Messenger::followup`]: an SMS (≤ 160 characters) to the caller of a call;
//! 2. [`Messenger::share_recording`]: a link valid 24 hours, emailed; the link is a random
//!    256-bit token of which only the SHA-256 is stored, and every use is counted and logged
//!    ([`Messenger::open_share`]);
//! 3. [`Messenger::export_transcript`]: the transcript as a `.txt` file, the export audited;
//! 4. [`Messenger::send_reminder`]: SMS or email to an appointment's customer, in the clinic's
//!    time zone; sets `confirmation_sent` only when it went out.

use crate::schema::share_links;
use chrono::{DateTime, Duration, Utc};
use db::{OrgId, SystemOp};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, QueryableByName};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{ChangedBy, FOLLOWUP_MAX_CHARS, MessagingError, Messenger, Sent, Subject};

/// How long a share link works.
pub const SHARE_TTL_HOURS: i64 = 24;

/// A follow-up that went out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Followup {
    /// The audit row.
    pub message_id: Uuid,
    /// The number it went to, E.164.
    pub phone: String,
}

/// A transcript file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptFile {
    /// `transcript-<call id>.txt`.
    pub filename: String,
    /// UTF-8 text.
    pub content: String,
}

fn token_hash(token: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, token.as_bytes())
        .as_ref()
        .to_vec()
}

#[derive(QueryableByName)]
struct Resolved {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    org_id: Uuid,
}

impl Messenger {
    /// Sends a follow-up SMS to the caller of `call_id`.
    ///
    /// # Errors
    /// [`MessagingError::Invalid`] (empty or over 160 characters, no caller number),
    /// [`MessagingError::Crm`] (no such call), and those of [`Messenger::send_sms`].
    pub async fn followup(
        &self,
        org: OrgId,
        call_id: Uuid,
        message: &str,
        by: &ChangedBy,
    ) -> Result<Followup, MessagingError> {
        let length = message.chars().count();
        if message.trim().is_empty() || length > FOLLOWUP_MAX_CHARS {
            return Err(MessagingError::Invalid(format!(
                "message must be 1-{FOLLOWUP_MAX_CHARS} characters (got {length})"
            )));
        }
        let call = self
            .db
            .tenant(org, async |tx| crm::call_logs::get(tx, call_id).await)
            .await?;
        let phone = call
            .phone_number
            .or(call.from_number)
            .ok_or_else(|| MessagingError::Invalid("this call has no caller number".into()))?;
        let sent = self
            .send_sms(
                org,
                &phone,
                message,
                Subject {
                    contact_id: call.contact_id,
                    call_id: Some(call.id),
                    appointment_id: None,
                },
                false,
                by,
            )
            .await?;
        Ok(Followup {
            message_id: sent.message_id,
            phone,
        })
    }

    /// Emails a link to the call's recording, valid [`SHARE_TTL_HOURS`] hours. The link is
    /// `{public_base_url}/share/recordings/{token}`. When the email fails the link is removed.
    ///
    /// # Errors
    /// [`MessagingError::Invalid`] (no recording, bad email), [`MessagingError::Crm`], and
    /// those of [`Messenger::send_email`].
    pub async fn share_recording(
        &self,
        org: OrgId,
        call_id: Uuid,
        email: &str,
        by: &ChangedBy,
        public_base_url: &str,
        now: DateTime<Utc>,
    ) -> Result<Sent, MessagingError> {
        let call = self
            .db
            .tenant(org, async |tx| crm::call_logs::get(tx, call_id).await)
            .await?;
        if call.recording_url.is_none() {
            return Err(MessagingError::Invalid("this call has no recording".into()));
        }
        let mut bytes = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
            .map_err(|_| MessagingError::Invalid("no randomness available".into()))?;
        let token = hex::encode(bytes);
        let expires_at = now + Duration::hours(SHARE_TTL_HOURS);
        let link_id = Uuid::new_v4();
        let (hash, recipient) = (token_hash(&token), email.trim().to_lowercase());
        let user = by.actor.id().unwrap_or_default();
        self.db
            .tenant(org, async move |tx| {
                diesel::insert_into(share_links::table)
                    .values((
                        share_links::id.eq(link_id),
                        share_links::org_id.eq(org.0),
                        share_links::call_id.eq(call_id),
                        share_links::token_hash.eq(hash),
                        share_links::recipient.eq(recipient),
                        share_links::created_by.eq(user),
                        share_links::expires_at.eq(expires_at),
                    ))
                    .execute(tx)
                    .await?;
                Ok::<_, MessagingError>(())
            })
            .await?;
        let link = format!(
            "{}/share/recordings/{token}",
            public_base_url.trim_end_matches('/')
        );
        let who = call.caller_name.as_deref().unwrap_or("a caller");
        let text = format!(
            "A call recording with {who} was shared with you.\n\nListen: {link}\n\nThis link expires in {SHARE_TTL_HOURS} hours."
        );
        let audit = format!(
            "Recording of call {call_id} shared (link {link_id}, expires {})",
            expires_at.to_rfc3339()
        );
        let sent = self
            .send_email(
                org,
                crate::Email {
                    method: "share",
                    to: email,
                    subject_line: "A call recording was shared with you",
                    text: &text,
                    audit_content: &audit,
                },
                Subject {
                    contact_id: call.contact_id,
                    call_id: Some(call_id),
                    appointment_id: None,
                },
                by,
            )
            .await;
        if sent.is_err() {
            self.db
                .tenant(org, async move |tx| {
                    diesel::delete(
                        share_links::table
                            .filter(db::same_tenant(share_links::org_id, org.0))
                            .filter(share_links::id.eq(link_id)),
                    )
                    .execute(tx)
                    .await?;
                    Ok::<_, MessagingError>(())
                })
                .await?;
        }
        sent
    }

    /// Opens a share link: counts the use and returns the recording URL to redirect to.
    ///
    /// # Errors
    /// [`MessagingError::NotFound`] (unknown token, or the call or recording is gone),
    /// [`MessagingError::LinkExpired`], [`MessagingError::Db`].
    pub async fn open_share(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<String, MessagingError> {
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(MessagingError::NotFound("link"));
        }
        let hash = token_hash(token);
        let resolved: Option<Resolved> = self
            .db
            .system(SystemOp::ShareLinkResolve, async move |c| {
                diesel::sql_query("SELECT id, org_id FROM share_link_resolve($1)")
                    .bind::<diesel::sql_types::Bytea, _>(hash)
                    .get_result(c)
                    .await
                    .optional()
                    .map_err(MessagingError::from)
            })
            .await?;
        let Resolved { id, org_id } = resolved.ok_or(MessagingError::NotFound("link"))?;
        let org = OrgId(org_id);
        let (url, uses) = self
            .db
            .tenant(org, async move |tx| {
                let (call_id, expires_at): (Uuid, DateTime<Utc>) = share_links::table
                    .filter(db::same_tenant(share_links::org_id, org.0))
                    .filter(share_links::id.eq(id))
                    .select((share_links::call_id, share_links::expires_at))
                    .first(tx)
                    .await?;
                if expires_at <= now {
                    return Err(MessagingError::LinkExpired);
                }
                let uses: i32 = diesel::update(
                    share_links::table
                        .filter(db::same_tenant(share_links::org_id, org.0))
                        .filter(share_links::id.eq(id)),
                )
                .set((
                    share_links::use_count.eq(share_links::use_count + 1),
                    share_links::last_used_at.eq(now),
                ))
                .returning(share_links::use_count)
                .get_result(tx)
                .await?;
                let call = crm::call_logs::get(tx, call_id).await?;
                let url = call
                    .recording_url
                    .ok_or(MessagingError::NotFound("recording"))?;
                Ok((url, uses))
            })
            .await?;
        tracing::info!(%org, link = %id, uses, "recording share link used");
        Ok(url)
    }

    /// The call's transcript as a text file; the export is audited (`method = export`).
    ///
    /// # Errors
    /// [`MessagingError::Invalid`] (no transcript), [`MessagingError::Crm`],
    /// [`MessagingError::Db`].
    pub async fn export_transcript(
        &self,
        org: OrgId,
        call_id: Uuid,
        by: &ChangedBy,
        user_email: &str,
    ) -> Result<TranscriptFile, MessagingError> {
        let call = self
            .db
            .tenant(org, async |tx| crm::call_logs::get(tx, call_id).await)
            .await?;
        let transcript = call
            .transcript
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| MessagingError::Invalid("this call has no transcript".into()))?;
        let started = call.started_at.unwrap_or(call.created_at);
        let content = format!(
            "Call {}\nDate: {}\nCaller: {} {}\nDuration: {} s\n\n{}\n",
            call.id,
            started.to_rfc3339(),
            call.caller_name.as_deref().unwrap_or("unknown"),
            call.phone_number.as_deref().unwrap_or(""),
            call.duration_seconds.unwrap_or(0),
            transcript.trim_end()
        );
        let (recipient, contact) = (user_email.to_owned(), call.contact_id);
        self.db
            .tenant(org, async move |tx| {
                let content = format!("Transcript of call {call_id} exported as .txt");
                let id = Self::audit(
                    tx,
                    crate::AuditEntry {
                        method: "export",
                        recipient: &recipient,
                        content: &content,
                        provider: None,
                        automatic: false,
                    },
                    Subject {
                        contact_id: contact,
                        call_id: Some(call_id),
                        appointment_id: None,
                    },
                    by,
                )
                .await?;
                diesel::update(
                    crate::schema::messages::table
                        .filter(db::same_tenant(crate::schema::messages::org_id, org.0))
                        .filter(crate::schema::messages::id.eq(id)),
                )
                .set((
                    crate::schema::messages::status.eq("sent"),
                    crate::schema::messages::sent_at.eq(Utc::now()),
                ))
                .execute(tx)
                .await?;
                Ok::<_, MessagingError>(())
            })
            .await?;
        Ok(TranscriptFile {
            filename: format!("transcript-{call_id}.txt"),
            content,
        })
    }

    /// Sends an appointment reminder by `sms` or `email`; returns the recipient.
    ///
    /// # Errors
    /// [`MessagingError::Invalid`] (unknown method, no phone or email on the appointment, a
    /// cancelled or completed appointment), [`MessagingError::Scheduling`] (not found), and
    /// those of sending.
    pub async fn send_reminder(
        &self,
        org: OrgId,
        appointment_id: Uuid,
        method: &str,
        by: &ChangedBy,
    ) -> Result<String, MessagingError> {
        let (appointment, settings) = self
            .db
            .tenant(org, async |tx| {
                let appointment = scheduling::appointments::get(tx, appointment_id, false).await?;
                Ok::<_, MessagingError>((appointment, scheduling::settings::get(tx).await?))
            })
            .await?;
        if !matches!(appointment.status.as_str(), "pending" | "confirmed") {
            return Err(MessagingError::Invalid(format!(
                "a {} appointment gets no reminder",
                appointment.status
            )));
        }
        let local = appointment
            .scheduled_time
            .with_timezone(&settings.time_zone);
        let text = format!(
            "Reminder: You have an appointment on {} at {}{}.",
            local.format("%A, %B %-d"),
            local.format("%-I:%M %p"),
            appointment
                .service_name
                .as_deref()
                .map(|s| format!(" for {s}"))
                .unwrap_or_default()
        );
        let subject = Subject {
            contact_id: appointment.contact_id,
            call_id: None,
            appointment_id: Some(appointment.id),
        };
        let recipient = match method {
            "sms" => {
                let phone = appointment.customer_phone.clone().ok_or_else(|| {
                    MessagingError::Invalid("this appointment has no phone number".into())
                })?;
                self.send_sms(org, &phone, &text, subject, false, by)
                    .await?;
                phone
            }
            "email" => {
                let email = appointment.customer_email.clone().ok_or_else(|| {
                    MessagingError::Invalid("this appointment has no email address".into())
                })?;
                self.send_email(
                    org,
                    crate::Email {
                        method: "email",
                        to: &email,
                        subject_line: "Appointment reminder",
                        text: &text,
                        audit_content: &text,
                    },
                    subject,
                    by,
                )
                .await?;
                email
            }
            _ => {
                return Err(MessagingError::Invalid(
                    "method must be sms or email".into(),
                ));
            }
        };
        self.db
            .tenant(org, async move |tx| {
                scheduling::appointments::mark_confirmation_sent(tx, appointment_id)
                    .await
                    .map_err(MessagingError::from)
            })
            .await?;
        Ok(recipient)
    }
}
