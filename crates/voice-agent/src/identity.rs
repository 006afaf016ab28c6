//! Caller identity per call (seed 001 §18.4.1, done differently on purpose).
//!
//! The seed greeted a known caller by editing the **shared** assistant's system prompt at call
//! start, between markers. Two callers ringing at once race on that prompt: one can be greeted
//! with the other's name. Here nothing shared is edited: the clinic's number has no assistant
//! on Vapi, so Vapi asks us with `assistant-request` (contracts/vapi.md §1.4, §2.2, 7.5 s
//! deadline) and we answer with the organization's inbound assistant plus per-call
//! `assistantOverrides`: the caller's name in `variableValues`, a personal `firstMessage`, and our
//! metadata (organization, contact). An unknown caller becomes a warm lead (score 2).
//!
//! The overrides also carry the call's context (seed 001 §3.1 "the AI remembers previous calls
//! from the same number"; SPEC §7): summaries of the caller's earlier calls with this
//! organization and knowledge-base context, as `callerHistory` and `knowledgeBaseContext`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use db::{OrgId, TenantTx};
use serde_json::{Value, json};
use vapi_client::CallInfo;

use crate::agents::{Direction, assistant};
use crate::calls::UNKNOWN_CALLER;
use crate::{Base, VoiceError};

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

/// Asked of the knowledge base at the start of a call when nothing is known of the caller's
/// intent (seed 001 §3.1: "When a call starts, the backend queries the vector DB").
pub const OVERVIEW_QUERY: &str = "Where is the clinic, when is it open, and what does it cost?";
/// Earlier calls remembered per call.
pub const HISTORY_CALLS: i64 = 3;
/// Characters kept of each earlier call's summary.
pub const HISTORY_SUMMARY_CHARS: usize = 300;

/// What a call starts with besides the caller's name (seed 001 §3.1 "dynamic context
/// injection"): the knowledge base's context and the caller's earlier calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallContext {
    /// `knowledgeBaseContext`: at most 2000 characters (empty when the knowledge base is empty
    /// or unavailable).
    pub knowledge: String,
    /// `callerHistory`: one line per earlier call with this organization, newest first:
    /// `- 2026-11-20 (booked): <summary>` (empty for a first call).
    pub history: String,
}

impl CallContext {
    /// Adds the non-empty parts to `variableValues` (absent ones fall back to the prompt's
    /// defaults).
    pub fn add_to(&self, variables: &mut Value) {
        if !self.knowledge.is_empty() {
            variables["knowledgeBaseContext"] = json!(self.knowledge);
        }
        if !self.history.is_empty() {
            variables["callerHistory"] = json!(self.history);
        }
    }
}

/// `variableValues` every call gets: today's date and the zone (see [`crate::prompt`]).
#[must_use]
pub fn date_variables(tz: chrono_tz::Tz, now: DateTime<Utc>) -> Value {
    json!({
        "today": now.with_timezone(&tz).format("%Y-%m-%d").to_string(),
        "timeZone": tz.name(),
    })
}

/// An earlier call of the caller with the organization.
pub use crm::call_logs::CallSummary as EarlierCall;

/// The contact's latest [`HISTORY_CALLS`] calls with a summary, newest first, leaving out
/// `current_call` (Vapi's id of the call being answered).
async fn caller_history(
    tx: &mut TenantTx,
    contact: uuid::Uuid,
    current_call: Option<&str>,
) -> Result<Vec<EarlierCall>, VoiceError> {
    Ok(crm::call_logs::recent_summaries(tx, contact, current_call, HISTORY_CALLS).await?)
}

/// Who is calling and what the call starts with: the `assistant-request` answer and the
/// context of call-backs. Reached through `VoiceAgent::identity`.
#[derive(Debug, Clone)]
pub struct CallerIdentity {
    /// The database, the metadata naming the organization, its time zone.
    base: Base,
    knowledge: Arc<rag::KnowledgeBase>,
}

impl CallerIdentity {
    pub(crate) fn new(base: Base, knowledge: Arc<rag::KnowledgeBase>) -> Self {
        Self { base, knowledge }
    }

    /// The context a call starts with, given the caller's `history`. The knowledge base is
    /// asked about the caller's last call (their likely intent), else [`OVERVIEW_QUERY`]. Never
    /// fails: a call must not be refused because the knowledge base is down (failures are
    /// logged and leave that part empty).
    pub async fn call_context(&self, org: OrgId, history: &[EarlierCall]) -> CallContext {
        let mut knowledge = String::new();
        let queries = history
            .first()
            .map(|call| call.summary.as_str())
            .into_iter()
            .chain([OVERVIEW_QUERY]);
        for query in queries {
            match self.knowledge.retrieve(org, query).await {
                Ok(found) if found.found() => {
                    knowledge = found.context;
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(org_id = %org, error = %e, "knowledge-base context unavailable");
                    break;
                }
            }
        }
        let history = history
            .iter()
            .map(|call| {
                let summary: String = call.summary.chars().take(HISTORY_SUMMARY_CHARS).collect();
                format!(
                    "- {}{}: {}",
                    call.at.format("%Y-%m-%d"),
                    if call.booked { " (booked)" } else { "" },
                    summary.trim()
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        CallContext { knowledge, history }
    }

    /// The contact's earlier calls in a transaction of their own (call-backs; `assistant-request`
    /// reads them in its identity transaction). A failure is logged and gives none.
    pub(crate) async fn caller_history(&self, org: OrgId, contact: uuid::Uuid) -> Vec<EarlierCall> {
        self.base
            .db
            .tenant(org, async move |tx| caller_history(tx, contact, None).await)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(org_id = %org, error = %e, "caller history unavailable");
                Vec::new()
            })
    }

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
        let phone = call
            .customer_number
            .as_deref()
            .and_then(|n| crm::normalize_phone(n, crm::DEFAULT_COUNTRY_CODE).ok());
        let vapi_name = call.customer_name.clone().filter(|n| !n.trim().is_empty());
        let current_call = call.id.clone();
        let (tz, agent, contact, history) = self
            .base
            .db
            .tenant(org, async move |tx| {
                let tz = scheduling::settings::get(tx).await?.time_zone;
                let agent = assistant(tx, Direction::Inbound).await?;
                let contact = match (&agent, phone) {
                    (Some(_), Some(phone)) => {
                        let name = vapi_name.as_deref().unwrap_or(UNKNOWN_CALLER);
                        // A new caller is a warm lead with score 2; a known one keeps theirs.
                        let contact =
                            crm::contacts::touch_caller(tx, &phone, name, NEW_CALLER_SCORE, now)
                                .await?;
                        Some(contact)
                    }
                    _ => None,
                };
                let history = match &contact {
                    Some(contact) => {
                        caller_history(tx, contact.id, current_call.as_deref()).await?
                    }
                    None => Vec::new(),
                };
                Ok::<_, VoiceError>((tz, agent, contact, history))
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
        let context = self.call_context(org, &history).await;
        let mut variables = date_variables(tz, now);
        variables["customerName"] = json!(known.clone().unwrap_or_default());
        context.add_to(&mut variables);
        let mut overrides = json!({
            "variableValues": variables,
            "metadata": crate::with_fields(self.base.account.org_metadata(org), &[
                ("contact_id", json!(contact.as_ref().map(|c| c.id))),
                ("caller_known", json!(known.is_some())),
            ]),
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
