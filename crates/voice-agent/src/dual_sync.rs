//! Twilio dual-sync (seed 001 §3.4 and "Dual-sync mandate"; contracts/vapi.md §4.3-4.4): when an
//! organization saves Twilio, its credential is created on Vapi, its number imported, and the
//! number routed to the organization's inbound assistant.
//!
//! A resumable, idempotent state machine in `vapi_twilio_sync`, one step per transition:
//!
//! `pending` → (`POST /credential`, or adopt ours by name) → `credential_created`
//! → (`POST /phone-number`, or adopt and update the number Vapi already has) → `number_imported`
//! → (the inbound assistant exists; the number's server is our webhook) → `linked`.
//!
//! The number is deliberately **not** given an `assistantId`: Vapi then sends `assistant-request`
//! for every inbound call and we answer with the inbound assistant and the caller's identity
//! ([`crate::identity`]). "Linked" means the number routes to us and the organization has an
//! inbound assistant to answer with.
//!
//! A failing step records `last_error`, counts an attempt and waits (30 s doubling, at most an
//! hour) for [`crate::worker`]. Disconnecting sets `disconnecting`, deletes the number and the
//! credential on Vapi (a 404 counts as done) and then the row.

use crate::schema::vapi_twilio_sync;
use chrono::{DateTime, Utc};
use credentials::TwilioCredentials;
use std::sync::Arc;

use db::{Db, OrgId};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use vapi_client::{VapiClient, VapiError};

use crate::agents::{Direction, assistant};
use crate::{VapiAccount, VoiceError, log_vapi};

/// The dual-sync state of an organization, as shown in integrations status.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = vapi_twilio_sync, check_for_backend(diesel::pg::Pg))]
pub struct SyncState {
    /// `pending`, `credential_created`, `number_imported`, `linked` or `disconnecting`.
    pub state: String,
    /// The Twilio number, E.164.
    pub phone_number: String,
    /// Vapi's credential id.
    pub vapi_credential_id: Option<String>,
    /// Vapi's phone-number id.
    pub vapi_phone_number_id: Option<String>,
    /// The inbound assistant calls are answered with, once linked.
    pub linked_assistant_id: Option<String>,
    /// Failed attempts since the last success.
    pub attempts: i32,
    /// The last failure (never a secret).
    pub last_error: Option<String>,
    /// When the worker tries again (UTC).
    pub next_attempt_at: DateTime<Utc>,
}

/// How long a started or claimed dual-sync belongs to the request or worker running it.
const LEASE: chrono::Duration = chrono::Duration::minutes(2);

fn not_found(e: &VapiError) -> bool {
    matches!(e, VapiError::Api { status: 404, .. })
}

fn credential_name(org: OrgId) -> String {
    format!("twilio-{}", org.0)
}

/// The Twilio dual-sync job: the state machine above over `vapi_twilio_sync`, run by a request
/// (start, disconnect) or by [`crate::worker`] (retries).
#[derive(Debug, Clone)]
pub struct TwilioSync {
    db: Db,
    account: VapiAccount,
    credentials: Arc<credentials::CredentialService>,
}

impl TwilioSync {
    pub(crate) fn new(
        db: Db,
        account: VapiAccount,
        credentials: Arc<credentials::CredentialService>,
    ) -> Self {
        Self {
            db,
            account,
            credentials,
        }
    }

    fn vapi(&self) -> Result<&VapiClient, VoiceError> {
        self.account.vapi()
    }

    /// The organization's dual-sync state, if it connected Twilio.
    ///
    /// # Errors
    /// [`VoiceError::Db`].
    pub async fn state(&self, org: OrgId) -> Result<Option<SyncState>, VoiceError> {
        self.db
            .tenant(org, async move |tx| {
                Ok(vapi_twilio_sync::table
                    .filter(vapi_twilio_sync::org_id.eq(org.0))
                    .select(SyncState::as_select())
                    .first(tx)
                    .await
                    .optional()?)
            })
            .await
    }

    /// Starts (or restarts, after new credentials) the dual-sync of the organization's Twilio,
    /// then runs it as far as it goes. Returns the state reached (`None` if a disconnection
    /// removed it meanwhile).
    ///
    /// # Errors
    /// [`VoiceError::Credential`] when Twilio is not connected; [`VoiceError::Db`]. Vapi failures
    /// are recorded in the state, not returned.
    pub async fn start(&self, org: OrgId) -> Result<Option<SyncState>, VoiceError> {
        let phone = self
            .credentials
            .get::<TwilioCredentials>(org)
            .await?
            .phone_number
            .clone();
        self.db
            .tenant(org, async move |tx| {
                diesel::insert_into(vapi_twilio_sync::table)
                    .values((
                        vapi_twilio_sync::org_id.eq(org.0),
                        vapi_twilio_sync::state.eq("pending"),
                        vapi_twilio_sync::phone_number.eq(&phone),
                        vapi_twilio_sync::next_attempt_at.eq(Utc::now() + LEASE),
                    ))
                    .on_conflict(vapi_twilio_sync::org_id)
                    .do_update()
                    .set((
                        vapi_twilio_sync::state.eq("pending"),
                        vapi_twilio_sync::phone_number.eq(&phone),
                        vapi_twilio_sync::attempts.eq(0),
                        vapi_twilio_sync::last_error.eq(None::<String>),
                        vapi_twilio_sync::next_attempt_at.eq(Utc::now() + LEASE),
                    ))
                    .execute(tx)
                    .await?;
                Ok::<_, VoiceError>(())
            })
            .await?;
        self.advance(org).await
    }

    /// Moves the dual-sync from state `from` to `to` with these Vapi ids. Returns false, changing
    /// nothing, when the state is no longer `from` (a restart or another runner moved it
    /// meanwhile): the caller then stops rather than overwrite newer ids.
    async fn save_step(
        &self,
        org: OrgId,
        (from, to): (&str, &'static str),
        credential: Option<String>,
        number: Option<String>,
        assistant: Option<String>,
    ) -> Result<bool, VoiceError> {
        let from = from.to_owned();
        self.db
            .tenant(org, async move |tx| {
                let moved = diesel::update(
                    vapi_twilio_sync::table
                        .filter(vapi_twilio_sync::org_id.eq(org.0))
                        .filter(vapi_twilio_sync::state.eq(&from)),
                )
                .set((
                    vapi_twilio_sync::state.eq(to),
                    vapi_twilio_sync::vapi_credential_id.eq(credential),
                    vapi_twilio_sync::vapi_phone_number_id.eq(number),
                    vapi_twilio_sync::linked_assistant_id.eq(assistant),
                    vapi_twilio_sync::attempts.eq(0),
                    vapi_twilio_sync::last_error.eq(None::<String>),
                ))
                .execute(tx)
                .await?;
                Ok::<_, VoiceError>(moved == 1)
            })
            .await
    }

    /// Counts a failed attempt; the next waits 30 s doubling per attempt, at most an hour.
    async fn record_failure(&self, org: OrgId, error: String) -> Result<(), VoiceError> {
        self.db
            .tenant(org, async move |tx| {
                diesel::sql_query(
                    "UPDATE vapi_twilio_sync SET attempts = attempts + 1, last_error = $2, \
                       next_attempt_at = now() + LEAST(make_interval(secs => 30 * power(2, LEAST(attempts, 7))), interval '1 hour') \
                     WHERE org_id = $1",
                )
                .bind::<diesel::sql_types::Uuid, _>(org.0)
                .bind::<diesel::sql_types::Text, _>(error)
                .execute(tx)
                .await?;
                Ok::<_, VoiceError>(())
            })
            .await
    }

    /// Runs the organization's dual-sync from its current state as far as it goes (the worker
    /// and agent saves call this). Returns the state reached; `None` when there is none (never
    /// started, or a finished disconnection deleted it).
    ///
    /// # Errors
    /// [`VoiceError::Db`]; Vapi failures are recorded in the state, not returned.
    pub async fn advance(&self, org: OrgId) -> Result<Option<SyncState>, VoiceError> {
        loop {
            let Some(state) = self.state(org).await? else {
                return Ok(None);
            };
            let step = match state.state.as_str() {
                "linked" => return Ok(Some(state)),
                "disconnecting" => {
                    self.finish_disconnect(org, &state).await?;
                    return self.state(org).await;
                }
                _ => self.twilio_step(org, &state).await,
            };
            match step {
                Ok(true) => {}
                Ok(false) => return self.state(org).await,
                Err(e) => {
                    // Vapi's error text could echo the submitted secrets: only the status is kept.
                    let message = match &e {
                        VoiceError::Vapi(VapiError::Api { status, .. }) => {
                            tracing::warn!(status, "Vapi refused a Twilio dual-sync step");
                            format!("Vapi answered {status}")
                        }
                        VoiceError::Vapi(v) => {
                            log_vapi("Twilio dual-sync", v);
                            v.to_string()
                        }
                        other => other.to_string(),
                    };
                    self.record_failure(org, message).await?;
                    return self.state(org).await;
                }
            }
        }
    }

    /// After the inbound agent is saved: links a dual-sync that was waiting for it
    /// (`number_imported`), and leaves any other to the request or worker holding its lease, so
    /// that two runners never create Vapi credentials or import the number twice.
    ///
    /// # Errors
    /// As [`TwilioSync::advance`].
    pub async fn resume_waiting(&self, org: OrgId) -> Result<Option<SyncState>, VoiceError> {
        match self.state(org).await? {
            Some(state) if state.state == "number_imported" => self.advance(org).await,
            other => Ok(other),
        }
    }

    /// One transition; `Ok(false)` when waiting for something (the inbound assistant).
    async fn twilio_step(&self, org: OrgId, state: &SyncState) -> Result<bool, VoiceError> {
        match state.state.as_str() {
            "pending" => self.create_vapi_credential(org, state).await,
            "credential_created" => self.import_number(org, state).await,
            "number_imported" => self.link_inbound_assistant(org, state).await,
            _ => Ok(false),
        }
    }

    /// `pending` → `credential_created`: the organization's Twilio credential in Vapi (the old
    /// one deleted, one of ours with the same name reused).
    async fn create_vapi_credential(
        &self,
        org: OrgId,
        state: &SyncState,
    ) -> Result<bool, VoiceError> {
        let vapi = self.vapi()?;
        let twilio = self.credentials.get::<TwilioCredentials>(org).await?;
        // New credentials replace the old Vapi credential.
        if let Some(old) = &state.vapi_credential_id
            && let Err(e) = vapi.delete_credential(old).await
            && !not_found(&e)
        {
            return Err(e.into());
        }
        let name = credential_name(org);
        let existing = vapi
            .list_credentials()
            .await?
            .into_iter()
            .find(|c| c["name"].as_str() == Some(name.as_str()) && c["provider"] == "twilio")
            .and_then(|c| c["id"].as_str().map(str::to_owned))
            .filter(|id| state.vapi_credential_id.as_deref() != Some(id.as_str()));
        let id = match existing {
            Some(id) => id,
            None => {
                let mut body =
                    json!({"provider": "twilio", "accountSid": twilio.account_sid, "name": name});
                match (&twilio.api_key, &twilio.auth_token) {
                    (Some(key), _) => {
                        body["apiKey"] = json!(key.sid);
                        body["apiSecret"] = json!(key.secret.expose_secret());
                    }
                    (None, Some(token)) => body["authToken"] = json!(token.expose_secret()),
                    (None, None) => {
                        return Err(VoiceError::Invalid(
                            "the stored Twilio credentials have no secret".into(),
                        ));
                    }
                }
                let created = vapi.create_credential(&body).await?;
                created["id"].as_str().map(str::to_owned).ok_or_else(|| {
                    VoiceError::Vapi(VapiError::Decode("the credential has no id".into()))
                })?
            }
        };
        self.save_step(
            org,
            ("pending", "credential_created"),
            Some(id),
            state.vapi_phone_number_id.clone(),
            None,
        )
        .await
    }

    /// `credential_created` → `number_imported`: the clinic's number imported into Vapi (or
    /// updated when Vapi knows it), pointing at our server.
    async fn import_number(&self, org: OrgId, state: &SyncState) -> Result<bool, VoiceError> {
        let vapi = self.vapi()?;
        let twilio = self.credentials.get::<TwilioCredentials>(org).await?;
        let mut number = json!({
            "provider": "twilio",
            "number": twilio.phone_number,
            "twilioAccountSid": twilio.account_sid,
            "name": format!("Clinic {}", twilio.phone_number),
            "server": self.account.server("/api/vapi/webhook")?,
        });
        match (&twilio.api_key, &twilio.auth_token) {
            (Some(key), _) => {
                number["twilioApiKey"] = json!(key.sid);
                number["twilioApiSecret"] = json!(key.secret.expose_secret());
            }
            (None, Some(token)) => number["twilioAuthToken"] = json!(token.expose_secret()),
            (None, None) => {}
        }
        let known = match &state.vapi_phone_number_id {
            Some(id) => Some(id.clone()),
            None => vapi
                .list_phone_numbers()
                .await?
                .into_iter()
                .find(|n| n["number"].as_str() == Some(twilio.phone_number.as_str()))
                .and_then(|n| n["id"].as_str().map(str::to_owned)),
        };
        let id = match known {
            Some(id) => {
                let mut patch = number.clone();
                if let Some(obj) = patch.as_object_mut() {
                    obj.remove("provider");
                    obj.remove("number");
                }
                match vapi.update_phone_number(&id, &patch).await {
                    Ok(_) => id,
                    Err(e) if not_found(&e) => import(vapi, &number).await?,
                    Err(e) => return Err(e.into()),
                }
            }
            None => import(vapi, &number).await?,
        };
        self.save_step(
            org,
            ("credential_created", "number_imported"),
            state.vapi_credential_id.clone(),
            Some(id),
            None,
        )
        .await
    }

    /// `number_imported` → `linked`: the inbound assistant recorded; without one, waits (no
    /// retry until the agent is saved).
    async fn link_inbound_assistant(
        &self,
        org: OrgId,
        state: &SyncState,
    ) -> Result<bool, VoiceError> {
        let assistant = self
            .db
            .tenant(org, async move |tx| assistant(tx, Direction::Inbound).await)
            .await?;
        let Some(assistant) = assistant.and_then(|a| a.vapi_assistant_id) else {
            self.db
                .tenant(org, async move |tx| {
                    diesel::update(
                        vapi_twilio_sync::table.filter(vapi_twilio_sync::org_id.eq(org.0)),
                    )
                    .set((
                        vapi_twilio_sync::last_error
                            .eq(Some("waiting for the inbound agent to be saved")),
                        vapi_twilio_sync::next_attempt_at
                            .eq(Utc::now() + chrono::Duration::days(3650)),
                    ))
                    .execute(tx)
                    .await?;
                    Ok::<_, VoiceError>(())
                })
                .await?;
            return Ok(false);
        };
        self.save_step(
            org,
            ("number_imported", "linked"),
            state.vapi_credential_id.clone(),
            state.vapi_phone_number_id.clone(),
            Some(assistant),
        )
        .await
    }

    /// Undoes the dual-sync after Twilio is disconnected. Returns whether there was one.
    ///
    /// # Errors
    /// [`VoiceError::Db`]; Vapi failures leave the row `disconnecting` for the worker.
    pub async fn disconnect(&self, org: OrgId) -> Result<bool, VoiceError> {
        // A step running meanwhile may move the state between the read and the write: read
        // again (a dual-sync has four states, so this ends).
        for _ in 0..8 {
            let Some(state) = self.state(org).await? else {
                return Ok(false);
            };
            let ids = (
                state.vapi_credential_id.clone(),
                state.vapi_phone_number_id.clone(),
            );
            let from = (state.state.as_str(), "disconnecting");
            if self.save_step(org, from, ids.0, ids.1, None).await? {
                self.finish_disconnect(org, &state).await?;
                return Ok(true);
            }
        }
        Err(VoiceError::Invalid(
            "the Twilio dual-sync kept changing; disconnect again".into(),
        ))
    }

    async fn finish_disconnect(&self, org: OrgId, state: &SyncState) -> Result<(), VoiceError> {
        let undo = async {
            let vapi = self.vapi()?.clone();
            if let Some(id) = &state.vapi_phone_number_id
                && let Err(e) = vapi.delete_phone_number(id).await
                && !not_found(&e)
            {
                return Err(VoiceError::from(e));
            }
            if let Some(id) = &state.vapi_credential_id
                && let Err(e) = vapi.delete_credential(id).await
                && !not_found(&e)
            {
                return Err(VoiceError::from(e));
            }
            Ok(())
        };
        match undo.await {
            Ok(()) => {
                self.db
                    .tenant(org, async move |tx| {
                        diesel::delete(
                            vapi_twilio_sync::table.filter(vapi_twilio_sync::org_id.eq(org.0)),
                        )
                        .execute(tx)
                        .await?;
                        Ok::<_, VoiceError>(())
                    })
                    .await
            }
            Err(e) => self.record_failure(org, e.to_string()).await,
        }
    }

    /// Claims a due dual-sync for this instance for `LEASE` (2 minutes); `false` when another worker or
    /// a request is on it, or it is not due.
    ///
    /// # Errors
    /// [`VoiceError::Db`].
    pub async fn claim(&self, org: OrgId) -> Result<bool, VoiceError> {
        self.db
            .tenant(org, async move |tx| {
                let now = Utc::now();
                let claimed = diesel::update(
                    vapi_twilio_sync::table
                        .filter(vapi_twilio_sync::org_id.eq(org.0))
                        .filter(vapi_twilio_sync::next_attempt_at.le(now)),
                )
                .set(vapi_twilio_sync::next_attempt_at.eq(now + LEASE))
                .execute(tx)
                .await?;
                Ok(claimed == 1)
            })
            .await
    }
}

async fn import(vapi: &vapi_client::VapiClient, number: &Value) -> Result<String, VoiceError> {
    let created = vapi.import_phone_number(number).await?;
    created["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| VoiceError::Vapi(VapiError::Decode("the number has no id".into())))
}
