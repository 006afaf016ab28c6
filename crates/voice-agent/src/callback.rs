//! Outbound call-backs (seed 001 §16 Phase 1 and "Callback (outbound) flow"): a `call_logs` row
//! `pending → initiated`, then Vapi's status updates move it on like any call.
//!
//! A retry never places a second call (Vapi's `POST /call` has no idempotency key,
//! contracts/vapi.md §5):
//! - the same `Idempotency-Key`, or without one a live call-back to the same contact from the
//!   last 15 minutes, returns the first attempt;
//! - placing is claimed on the row (`metadata.placing_since`), so concurrent retries wait;
//! - a claim older than two minutes (a crashed attempt) is taken over only after asking Vapi
//!   for calls of the assistant carrying our row id in their metadata, adopting one if found.

use chrono::{DateTime, Utc};
use db::OrgId;
use db::schema::{call_logs, vapi_twilio_sync};
use diesel::prelude::*;
use diesel::sql_types::{Jsonb, Text};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use crate::agents::{Direction, assistant_on};
use crate::identity::date_variables;
use crate::{VoiceAgent, VoiceError, log_vapi};

/// A call-back as answered to the dashboard (seed 001: `{ callId, vapiCallId, phone, status }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallBack {
    /// Our call row.
    pub call_id: uuid::Uuid,
    /// Vapi's call, once placed.
    pub vapi_call_id: Option<String>,
    /// The number called, E.164.
    pub phone: String,
    /// `pending`, `initiated`, or a later status.
    pub status: String,
    /// Whether this request placed the call (false: an earlier attempt did or is doing it).
    pub placed_now: bool,
}

#[derive(Debug, Clone)]
struct Prepared {
    row: uuid::Uuid,
    status: String,
    vapi_call_id: Option<String>,
    claimed: bool,
    stale_claim: Option<DateTime<Utc>>,
    phone: String,
    name: String,
    assistant_id: String,
    phone_number_id: String,
}

impl VoiceAgent {
    /// Calls a contact back with the organization's outbound assistant and number.
    ///
    /// # Errors
    /// [`VoiceError::NotFound`] (contact, including another organization's),
    /// [`VoiceError::NotReady`] `outbound_agent_missing` / `phone_number_missing`,
    /// [`VoiceError::NotConfigured`], [`VoiceError::Vapi`] (the row is `failed`), [`VoiceError::Db`].
    pub async fn call_back(
        &self,
        org: OrgId,
        contact_id: uuid::Uuid,
        idempotency_key: Option<String>,
        requested_by: uuid::Uuid,
        now: DateTime<Utc>,
    ) -> Result<CallBack, VoiceError> {
        let vapi = self.vapi()?.clone();
        let tz = self.scheduler.settings(org).await?.time_zone;
        if let Some(key) = &idempotency_key
            && (key.is_empty() || key.len() > 200)
        {
            return Err(VoiceError::Invalid(
                "Idempotency-Key must be 1-200 characters".into(),
            ));
        }
        let prepared = self
            .db
            .tenant(org, move |c| {
                Box::pin(async move {
                    let contact = crm::contacts::get_on(c, org, contact_id).await?;
                    let agent = assistant_on(c, org, Direction::Outbound).await?.ok_or(
                        VoiceError::NotReady {
                            code: "outbound_agent_missing",
                            message: "Save an outbound agent before calling back".into(),
                        },
                    )?;
                    let number: Option<String> = vapi_twilio_sync::table
                        .filter(vapi_twilio_sync::org_id.eq(org.0))
                        .filter(vapi_twilio_sync::state.eq_any(["number_imported", "linked"]))
                        .select(vapi_twilio_sync::vapi_phone_number_id)
                        .first::<Option<String>>(c)
                        .await
                        .optional()?
                        .flatten();
                    let phone_number_id = number.ok_or(VoiceError::NotReady {
                        code: "phone_number_missing",
                        message: "Connect Twilio so that the agent has a number to call from"
                            .into(),
                    })?;
                    // Lock the contact: concurrent call-backs to one contact queue here.
                    crm::contacts::lock_on(c, org, contact.id).await?;
                    let mut existing = call_logs::table
                        .filter(call_logs::org_id.eq(org.0))
                        .filter(call_logs::call_type.eq("outbound"))
                        .into_boxed();
                    existing = match &idempotency_key {
                        Some(key) => existing.filter(
                            diesel::dsl::sql::<Text>("metadata ->> 'idempotency_key'")
                                .eq(key.clone()),
                        ),
                        None => existing
                            .filter(call_logs::contact_id.eq(contact.id))
                            .filter(call_logs::status.eq_any([
                                "pending",
                                "initiated",
                                "queued",
                                "ringing",
                                "in-progress",
                            ]))
                            .filter(call_logs::created_at.gt(now - chrono::Duration::minutes(15))),
                    };
                    let found: Option<(uuid::Uuid, String, Option<String>, Value)> = existing
                        .order(call_logs::created_at.desc())
                        .select((
                            call_logs::id,
                            call_logs::status,
                            call_logs::vapi_call_id,
                            call_logs::metadata,
                        ))
                        .first(c)
                        .await
                        .optional()?;
                    let (row, status, vapi_call_id, metadata) = match found {
                        Some(f) => f,
                        None => {
                            let id = uuid::Uuid::new_v4();
                            let mut metadata =
                                json!({"source": "call-back", "requested_by": requested_by});
                            if let Some(key) = &idempotency_key {
                                metadata["idempotency_key"] = json!(key);
                            }
                            diesel::insert_into(call_logs::table)
                                .values((
                                    call_logs::id.eq(id),
                                    call_logs::org_id.eq(org.0),
                                    call_logs::call_sid.eq(format!("callback-{id}")),
                                    call_logs::contact_id.eq(contact.id),
                                    call_logs::phone_number.eq(&contact.phone),
                                    call_logs::caller_name.eq(&contact.name),
                                    call_logs::call_type.eq("outbound"),
                                    call_logs::status.eq("pending"),
                                    call_logs::metadata.eq(&metadata),
                                ))
                                .execute(c)
                                .await?;
                            (id, "pending".to_owned(), None, metadata)
                        }
                    };
                    let placing_since = metadata["placing_since"]
                        .as_str()
                        .and_then(|s| s.parse::<DateTime<Utc>>().ok());
                    let stale = placing_since.filter(|t| *t < now - chrono::Duration::minutes(2));
                    let claimed =
                        status == "pending" && (placing_since.is_none() || stale.is_some());
                    if claimed {
                        diesel::update(call_logs::table.filter(call_logs::id.eq(row)))
                            .set(
                                call_logs::metadata
                                    .eq(diesel::dsl::sql::<Jsonb>("metadata || ")
                                        .bind::<Jsonb, _>(json!({"placing_since": now}))),
                            )
                            .execute(c)
                            .await?;
                    }
                    Ok::<_, VoiceError>(Prepared {
                        row,
                        status,
                        vapi_call_id,
                        claimed,
                        stale_claim: stale,
                        phone: contact.phone,
                        name: contact.name,
                        assistant_id: agent.vapi_assistant_id.unwrap_or_default(),
                        phone_number_id,
                    })
                })
            })
            .await?;
        if !prepared.claimed {
            return Ok(CallBack {
                call_id: prepared.row,
                vapi_call_id: prepared.vapi_call_id,
                phone: prepared.phone,
                status: prepared.status,
                placed_now: false,
            });
        }
        // A crashed attempt may have placed the call: adopt it rather than call twice.
        let mut adopted = None;
        if let Some(since) = prepared.stale_claim {
            let calls = vapi
                .list_calls(&prepared.assistant_id, since - chrono::Duration::minutes(1))
                .await?;
            adopted = calls.into_iter().find(|call| {
                call["assistantOverrides"]["metadata"]["call_log_id"].as_str()
                    == Some(&prepared.row.to_string())
            });
        }
        let placed = match adopted {
            Some(call) => Ok(call),
            None => {
                let mut variables = date_variables(tz, now);
                variables["customerName"] = json!(prepared.name);
                let history = self.caller_history(org, contact_id).await;
                self.call_context(org, &history)
                    .await
                    .add_to(&mut variables);
                vapi.create_call(&json!({
                    "assistantId": prepared.assistant_id,
                    "phoneNumberId": prepared.phone_number_id,
                    "customer": {"number": prepared.phone, "name": prepared.name},
                    "assistantOverrides": {
                        "variableValues": variables,
                        "metadata": crate::with_fields(self.org_metadata(org), &[("call_log_id", json!(prepared.row)), ("contact_id", json!(contact_id))]),
                    },
                }))
                .await
            }
        };
        let row = prepared.row;
        match placed {
            Ok(call) => {
                let vapi_call_id = call["id"].as_str().map(str::to_owned);
                let id = vapi_call_id.clone();
                let status: String = self
                    .db
                    .tenant(org, move |c| {
                        Box::pin(async move {
                            let status = diesel::sql_query(
                                "UPDATE call_logs SET \
                                   status = CASE WHEN status = 'pending' THEN 'initiated' ELSE status END, \
                                   vapi_call_id = COALESCE(vapi_call_id, $3), \
                                   call_sid = CASE WHEN $3 IS NULL THEN call_sid ELSE 'vapi-' || $3 END, \
                                   metadata = metadata - 'placing_since' \
                                 WHERE org_id = $1 AND id = $2 RETURNING status",
                            )
                            .bind::<diesel::sql_types::Uuid, _>(org.0)
                            .bind::<diesel::sql_types::Uuid, _>(row)
                            .bind::<diesel::sql_types::Nullable<Text>, _>(id)
                            .get_result::<StatusRow>(c)
                            .await?
                            .status;
                            crm::contacts::mark_called_back_on(c, org, contact_id, now).await?;
                            Ok::<_, VoiceError>(status)
                        })
                    })
                    .await?;
                Ok(CallBack {
                    call_id: row,
                    vapi_call_id,
                    phone: prepared.phone,
                    status,
                    placed_now: true,
                })
            }
            Err(e) => {
                log_vapi("call-back", &e);
                let error = e.to_string();
                self.db
                    .tenant(org, move |c| {
                        Box::pin(async move {
                            diesel::update(
                                call_logs::table
                                    .filter(call_logs::org_id.eq(org.0))
                                    .filter(call_logs::id.eq(row))
                                    .filter(call_logs::status.eq("pending")),
                            )
                            .set((
                                call_logs::status.eq("failed"),
                                call_logs::metadata.eq(diesel::dsl::sql::<Jsonb>(
                                    "(metadata - 'placing_since') || ",
                                )
                                .bind::<Jsonb, _>(json!({"error": error}))),
                            ))
                            .execute(c)
                            .await?;
                            Ok::<_, VoiceError>(())
                        })
                    })
                    .await?;
                Err(e.into())
            }
        }
    }
}

#[derive(QueryableByName)]
struct StatusRow {
    #[diesel(sql_type = Text)]
    status: String,
}
