//! Caller identity per call (seed 001 §18.4.1, done differently on purpose).
//!
//! The seed greeted a known caller by editing the **shared** assistant's system prompt at call
//! start, between markers. Two callers ringing at once race on that prompt: one can be greeted
//! with the other's name. Here nothing shared is edited: the clinic's number has no assistant
//! on Vapi, so Vapi asks us with `assistant-request` (contracts/vapi.md §1.4, §2.2, 7.5 s
//! deadline) and we answer with the organization's inbound assistant plus per-call
//! `assistantOverrides`: the caller's name in `variableValues`, a personal `firstMessage`, and our
//! metadata (organization, contact). An unknown caller becomes a warm lead (score 2).

use chrono::{DateTime, Utc};
use db::OrgId;
use db::schema::contacts;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use vapi_client::CallInfo;

use crate::agents::{Direction, assistant_on};
use crate::calls::UNKNOWN_CALLER;
use crate::{VoiceAgent, VoiceError};

/// The lead score of a caller seen for the first time (seed 001 §18.4.1).
pub const NEW_CALLER_SCORE: i32 = 2;

/// The answer to an `assistant-request`.
#[derive(Debug, Clone, PartialEq)]
pub enum AssistantAnswer {
    /// The assistant and the call's overrides.
    Assistant {
        /// Vapi assistant id.
        assistant_id: String,
        /// `assistantOverrides`.
        overrides: Value,
    },
    /// No inbound agent is set up: the caller hears this and the call ends.
    Unavailable(String),
}

/// `variableValues` every call gets: today's date and the zone (see [`crate::prompt`]).
#[must_use]
pub fn date_variables(tz: chrono_tz::Tz, now: DateTime<Utc>) -> Value {
    json!({
        "today": now.with_timezone(&tz).format("%Y-%m-%d").to_string(),
        "timeZone": tz.name(),
    })
}

impl VoiceAgent {
    /// Answers an `assistant-request` for `org`: the inbound assistant with the caller's
    /// identity.
    ///
    /// # Errors
    /// [`VoiceError::Scheduling`], [`VoiceError::Crm`], [`VoiceError::Db`].
    pub async fn assistant_for_call(
        &self,
        org: OrgId,
        call: &CallInfo,
        now: DateTime<Utc>,
    ) -> Result<AssistantAnswer, VoiceError> {
        let tz = self.scheduler.settings(org).await?.time_zone;
        let phone = call
            .customer_number
            .as_deref()
            .and_then(|n| crm::normalize_phone(n, crm::DEFAULT_COUNTRY_CODE).ok());
        let vapi_name = call.customer_name.clone().filter(|n| !n.trim().is_empty());
        let (agent, contact) = self
            .db
            .tenant(org, move |c| {
                Box::pin(async move {
                    let agent = assistant_on(c, org, Direction::Inbound).await?;
                    let contact = match (&agent, phone) {
                        (Some(_), Some(phone)) => {
                            let name = vapi_name.as_deref().unwrap_or(UNKNOWN_CALLER);
                            let id = uuid::Uuid::new_v4();
                            // A new caller is a warm lead with score 2; a known one keeps theirs.
                            diesel::insert_into(contacts::table)
                                .values((
                                    contacts::id.eq(id),
                                    contacts::org_id.eq(org.0),
                                    contacts::name.eq(name),
                                    contacts::phone.eq(&phone),
                                    contacts::lead_temperature.eq("warm"),
                                    contacts::lead_score.eq(NEW_CALLER_SCORE),
                                ))
                                .on_conflict((contacts::org_id, contacts::phone))
                                .do_nothing()
                                .execute(c)
                                .await?;
                            let contact: crm::contacts::Contact = diesel::update(
                                contacts::table
                                    .filter(contacts::org_id.eq(org.0))
                                    .filter(contacts::phone.eq(&phone)),
                            )
                            .set(contacts::last_contacted_at.eq(now))
                            .returning(crm::contacts::Contact::as_returning())
                            .get_result(c)
                            .await?;
                            Some(contact)
                        }
                        _ => None,
                    };
                    Ok::<_, VoiceError>((agent, contact))
                })
            })
            .await?;
        let Some(agent) = agent else {
            return Ok(AssistantAnswer::Unavailable(
                "Sorry, this line isn't set up to take calls yet. Please call back later.".into(),
            ));
        };
        let known = contact
            .as_ref()
            .map(|c| c.name.clone())
            .filter(|n| n != UNKNOWN_CALLER);
        let mut variables = date_variables(tz, now);
        variables["customerName"] = json!(known.clone().unwrap_or_default());
        let mut overrides = json!({
            "variableValues": variables,
            "metadata": {
                "org_id": org.0,
                "contact_id": contact.as_ref().map(|c| c.id),
                "caller_known": known.is_some(),
            },
        });
        if let Some(name) = known {
            let first = name.split_whitespace().next().unwrap_or(&name).to_owned();
            overrides["firstMessage"] = json!(format!(
                "Hi {first}, welcome back! How can I help you today?"
            ));
        }
        Ok(AssistantAnswer::Assistant {
            assistant_id: agent.vapi_assistant_id.unwrap_or_default(),
            overrides,
        })
    }
}
