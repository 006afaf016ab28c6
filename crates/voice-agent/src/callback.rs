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

use crate::schema::vapi_twilio_sync;
use chrono::{DateTime, Utc};
use db::{OrgId, TenantTx};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;

use crate::agents::{Direction, assistant};
use crate::identity::{CallerIdentity, date_variables};
use crate::{Base, VoiceError, log_vapi};

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

/// Outbound call-backs to contacts. Reached through `VoiceAgent::call_backs`.
#[derive(Debug, Clone)]
pub struct CallBacks {
    /// The database, the Vapi account placing the call, the organization's time zone.
    base: Base,
    /// The caller's earlier calls and the knowledge-base context the call starts with.
    identity: CallerIdentity,
}

impl CallBacks {
    pub(crate) fn new(base: Base, identity: CallerIdentity) -> Self {
        Self { base, identity }
    }

    /// Calls a contact back with the organization's outbound assistant and number: claims the
    /// call-back row in one transaction, places the call at Vapi outside any transaction, and
    /// records the outcome (the row and the contact together) in a second one.
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
        let vapi = self.base.account.vapi()?.clone();
        let tz = self.base.time_zone(org).await?;
        if let Some(key) = &idempotency_key
            && (key.is_empty() || key.len() > 200)
        {
            return Err(VoiceError::Invalid(
                "Idempotency-Key must be 1-200 characters".into(),
            ));
        }
        let request = CallBackRequest {
            contact_id,
            idempotency_key,
            requested_by,
            now,
        };
        let prepared = self.prepare_call_back(org, request).await?;
        if !prepared.claimed {
            return Ok(CallBack {
                call_id: prepared.row,
                vapi_call_id: prepared.vapi_call_id,
                phone: prepared.phone,
                status: prepared.status,
                placed_now: false,
            });
        }
        let placed = self
            .place_call_back(&vapi, org, contact_id, &prepared, (tz, now))
            .await;
        self.record_call_back(org, contact_id, prepared, placed, now)
            .await
    }

    /// The first transaction: the contact, the outbound assistant and number, and the
    /// call-back row, found again (same key, or a live one of the last 15 minutes) or opened,
    /// and claimed for placing when nobody else is placing it.
    async fn prepare_call_back(
        &self,
        org: OrgId,
        request: CallBackRequest,
    ) -> Result<Prepared, VoiceError> {
        self.base
            .db
            .tenant(org, async move |tx| {
                let contact = crm::contacts::get(tx, request.contact_id).await?;
                let (assistant_id, phone_number_id) = outbound_line(tx).await?;
                // Lock the contact: concurrent call-backs to one contact queue here.
                crm::contacts::lock(tx, contact.id).await?;
                let row = call_back_row(tx, &contact, &request).await?;
                let placing_since = row.metadata["placing_since"]
                    .as_str()
                    .and_then(|s| s.parse::<DateTime<Utc>>().ok());
                let stale =
                    placing_since.filter(|t| *t < request.now - chrono::Duration::minutes(2));
                let claimed =
                    row.status == "pending" && (placing_since.is_none() || stale.is_some());
                if claimed {
                    crm::call_logs::claim_call_back(tx, row.id, request.now).await?;
                }
                Ok::<_, VoiceError>(Prepared {
                    row: row.id,
                    status: row.status,
                    vapi_call_id: row.vapi_call_id,
                    claimed,
                    stale_claim: stale,
                    phone: contact.phone,
                    name: contact.name,
                    assistant_id,
                    phone_number_id,
                })
            })
            .await
    }

    /// Places the call at Vapi (outside any transaction). A crashed attempt may have placed it
    /// already: the assistant's recent calls carrying our row id are adopted rather than
    /// calling twice.
    async fn place_call_back(
        &self,
        vapi: &vapi_client::VapiClient,
        org: OrgId,
        contact_id: uuid::Uuid,
        prepared: &Prepared,
        (tz, now): (chrono_tz::Tz, DateTime<Utc>),
    ) -> Result<serde_json::Value, vapi_client::VapiError> {
        if let Some(since) = prepared.stale_claim {
            let calls = vapi
                .list_calls(&prepared.assistant_id, since - chrono::Duration::minutes(1))
                .await?;
            let ours = calls.into_iter().find(|call| {
                call["assistantOverrides"]["metadata"]["call_log_id"].as_str()
                    == Some(&prepared.row.to_string())
            });
            if let Some(call) = ours {
                return Ok(call);
            }
        }
        let mut variables = date_variables(tz, now);
        variables["customerName"] = json!(prepared.name);
        let history = self.identity.caller_history(org, contact_id).await;
        self.identity
            .call_context(org, &history)
            .await
            .add_to(&mut variables);
        let metadata = crate::with_fields(
            self.base.account.org_metadata(org),
            &[
                ("call_log_id", json!(prepared.row)),
                ("contact_id", json!(contact_id)),
            ],
        );
        vapi.create_call(&json!({
            "assistantId": prepared.assistant_id,
            "phoneNumberId": prepared.phone_number_id,
            "customer": {"number": prepared.phone, "name": prepared.name},
            "assistantOverrides": { "variableValues": variables, "metadata": metadata },
        }))
        .await
    }

    /// The second transaction: the placed call's id on the row and the contact's call-back
    /// mark together, or the row `failed` with the provider's error.
    async fn record_call_back(
        &self,
        org: OrgId,
        contact_id: uuid::Uuid,
        prepared: Prepared,
        placed: Result<serde_json::Value, vapi_client::VapiError>,
        now: DateTime<Utc>,
    ) -> Result<CallBack, VoiceError> {
        let row = prepared.row;
        let call = match placed {
            Ok(call) => call,
            Err(e) => {
                log_vapi("call-back", &e);
                let error = e.to_string();
                self.base
                    .db
                    .tenant(org, async move |tx| {
                        crm::call_logs::call_back_failed(tx, row, &error).await?;
                        Ok::<_, VoiceError>(())
                    })
                    .await?;
                return Err(e.into());
            }
        };
        let vapi_call_id = call["id"].as_str().map(str::to_owned);
        let id = vapi_call_id.clone();
        let status: String = self
            .base
            .db
            .tenant(org, async move |tx| {
                let status = crm::call_logs::call_back_placed(tx, row, id.as_deref()).await?;
                crm::contacts::mark_called_back(tx, contact_id, now).await?;
                Ok::<_, VoiceError>(status)
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
}

/// What a call-back was asked with.
#[derive(Debug, Clone)]
struct CallBackRequest {
    contact_id: uuid::Uuid,
    idempotency_key: Option<String>,
    requested_by: uuid::Uuid,
    now: DateTime<Utc>,
}

/// The organization's outbound assistant id and Vapi phone-number id.
async fn outbound_line(tx: &mut TenantTx) -> Result<(String, String), VoiceError> {
    let org = tx.org();
    let agent = assistant(tx, Direction::Outbound)
        .await?
        .ok_or(VoiceError::NotReady {
            code: "outbound_agent_missing",
            message: "Save an outbound agent before calling back".into(),
        })?;
    let number: Option<String> = vapi_twilio_sync::table
        .filter(vapi_twilio_sync::org_id.eq(org.0))
        .filter(vapi_twilio_sync::state.eq_any(["number_imported", "linked"]))
        .select(vapi_twilio_sync::vapi_phone_number_id)
        .first::<Option<String>>(tx)
        .await
        .optional()?
        .flatten();
    let phone_number_id = number.ok_or(VoiceError::NotReady {
        code: "phone_number_missing",
        message: "Connect Twilio so that the agent has a number to call from".into(),
    })?;
    Ok((agent.vapi_assistant_id.unwrap_or_default(), phone_number_id))
}

/// The call-back row of this request: the one with the same idempotency key, or (without a
/// key) a live call-back to the contact from the last 15 minutes, else a new `pending` row.
async fn call_back_row(
    tx: &mut TenantTx,
    contact: &crm::contacts::Contact,
    request: &CallBackRequest,
) -> Result<crm::call_logs::CallBackRow, VoiceError> {
    let found = crm::call_logs::find_call_back(
        tx,
        request.idempotency_key.as_deref(),
        contact.id,
        request.now - chrono::Duration::minutes(15),
    )
    .await?;
    if let Some(row) = found {
        return Ok(row);
    }
    let mut metadata = json!({"source": "call-back", "requested_by": request.requested_by});
    if let Some(key) = &request.idempotency_key {
        metadata["idempotency_key"] = json!(key);
    }
    Ok(crm::call_logs::open_call_back(tx, contact, metadata).await?)
}
