//! Agent configuration and the assistant save (SPEC §3; seed 001 §§11-12 and "New rules":
//! fetch-merge-patch, never partial nested updates, no native calendar tools).
//!
//! A save stores the configuration, then creates or updates the org's Vapi assistant under a row
//! lock (two concurrent first saves cannot create two assistants), records
//! `assistant_org_mapping`, and returns. Tool sync is the caller's to start in the background
//! ([`crate::tool_sync::ToolRegistry::sync_tools`]).

use crate::schema::{assistant_org_mapping, voice_agents, voice_settings};
use chrono::{DateTime, Utc};
use db::{OrgId, TenantTx};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::prompt::{PromptInput, system_prompt};
use vapi_client::VapiClient;

use crate::tool_sync::ToolRegistry;
use crate::{Base, VoiceError, log_vapi};

/// The messages Vapi sends our webhook from our assistants (contracts/vapi.md §1: `transcript`
/// is not in Vapi's default set, so it is listed).
pub const SERVER_MESSAGES: [&str; 7] = [
    "status-update",
    "end-of-call-report",
    "tool-calls",
    "transcript",
    "transfer-destination-request",
    "function-call",
    "hang",
];

/// `inbound` or `outbound`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Answers the clinic's number.
    Inbound,
    /// Places call-backs.
    Outbound,
}

impl Direction {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
        }
    }

    /// Parses `inbound` / `outbound`.
    ///
    /// # Errors
    /// [`VoiceError::NotFound`] for anything else (a path segment).
    pub fn parse(s: &str) -> Result<Self, VoiceError> {
        match s {
            "inbound" => Ok(Self::Inbound),
            "outbound" => Ok(Self::Outbound),
            _ => Err(VoiceError::NotFound("agent")),
        }
    }
}

/// An agent's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = voice_agents, check_for_backend(diesel::pg::Pg))]
#[schema(as = AgentBody)]
pub struct Agent {
    /// The organization.
    #[serde(skip)]
    pub org_id: uuid::Uuid,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// Assistant name (1-40 characters, Vapi's limit).
    pub name: String,
    /// The organization's own instructions, as saved; what Vapi receives wraps them with the
    /// platform's rules and today's date (`crate::prompt`).
    pub system_prompt: String,
    /// What the agent says first.
    pub first_message: String,
    /// Voice provider (e.g. `vapi`, `11labs`).
    pub voice_provider: String,
    /// Voice id at that provider.
    pub voice_id: String,
    /// Model provider (e.g. `openai`).
    pub model_provider: String,
    /// Model (e.g. `gpt-4o`).
    pub model: String,
    /// The Vapi assistant, once created.
    pub vapi_assistant_id: Option<String>,
    /// Created (UTC).
    #[serde(skip)]
    pub created_at: DateTime<Utc>,
    /// Last saved, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

/// What a save sets. Absent optional fields keep their stored (or default) values.
#[derive(Debug, Clone, Default)]
pub struct AgentInput {
    /// Assistant name (1-40 characters).
    pub name: String,
    /// Instructions (up to 20,000 characters).
    pub system_prompt: String,
    /// First message (up to 1,000 characters).
    pub first_message: String,
    /// Voice provider.
    pub voice_provider: Option<String>,
    /// Voice id.
    pub voice_id: Option<String>,
    /// Model provider.
    pub model_provider: Option<String>,
    /// Model.
    pub model: Option<String>,
}

/// Defaults: Vapi's own voice `Elliot`, OpenAI `gpt-4o` (seed 001 §6a).
pub const DEFAULT_VOICE: (&str, &str) = ("vapi", "Elliot");
/// Default model provider and model.
pub const DEFAULT_MODEL: (&str, &str) = ("openai", "gpt-4o");

fn token(value: Option<String>, default: &str, what: &str) -> Result<String, VoiceError> {
    let v = value.unwrap_or_else(|| default.to_owned());
    let v = v.trim();
    if v.is_empty()
        || v.len() > 100
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/ ".contains(c))
    {
        return Err(VoiceError::Invalid(format!(
            "{what} must be 1-100 letters, digits or - _ . : /"
        )));
    }
    Ok(v.to_owned())
}

impl AgentInput {
    fn validated(self, current: Option<&Agent>) -> Result<Self, VoiceError> {
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 40 {
            return Err(VoiceError::Invalid("name must be 1-40 characters".into()));
        }
        if self.system_prompt.chars().count() > 20_000 {
            return Err(VoiceError::Invalid(
                "system_prompt must be at most 20000 characters".into(),
            ));
        }
        if self.first_message.chars().count() > 1_000 {
            return Err(VoiceError::Invalid(
                "first_message must be at most 1000 characters".into(),
            ));
        }
        let keep = |f: fn(&Agent) -> &String| current.map(|a| f(a).clone());
        Ok(Self {
            name,
            system_prompt: self.system_prompt,
            first_message: self.first_message.trim().to_owned(),
            voice_provider: Some(token(
                self.voice_provider.or_else(|| keep(|a| &a.voice_provider)),
                DEFAULT_VOICE.0,
                "voice_provider",
            )?),
            voice_id: Some(token(
                self.voice_id.or_else(|| keep(|a| &a.voice_id)),
                DEFAULT_VOICE.1,
                "voice_id",
            )?),
            model_provider: Some(token(
                self.model_provider.or_else(|| keep(|a| &a.model_provider)),
                DEFAULT_MODEL.0,
                "model_provider",
            )?),
            model: Some(token(
                self.model.or_else(|| keep(|a| &a.model)),
                DEFAULT_MODEL.1,
                "model",
            )?),
        })
    }
}

/// Transfer routing and alerting (seed 001 §18.4.2, §16).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VoiceSettings {
    /// Where transfers go when the department has no entry: E.164 or a `sip:` URI.
    pub transfer_default: Option<String>,
    /// Department → destination.
    pub transfer_departments: Map<String, Value>,
    /// The staff phone hot-lead alerts are texted to (E.164).
    pub hot_lead_alert_phone: Option<String>,
}

/// Checks a transfer destination: E.164, or a `sip:`/`sips:` URI.
///
/// # Errors
/// [`VoiceError::Invalid`].
pub fn check_destination(destination: &str) -> Result<String, VoiceError> {
    let d = destination.trim();
    let sip = (d.starts_with("sip:") || d.starts_with("sips:"))
        && d.contains('@')
        && !d.chars().any(char::is_whitespace)
        && d.len() <= 255;
    if sip {
        return Ok(d.to_owned());
    }
    crm::normalize_phone(d, crm::DEFAULT_COUNTRY_CODE).map_err(|_| {
        VoiceError::Invalid(format!(
            "transfer destination {d:?} must be a phone number or a sip: URI"
        ))
    })
}

/// Saves the organization's voice settings.
///
/// # Errors
/// [`VoiceError::Invalid`] for a bad destination, department or phone; [`VoiceError::Db`].
pub async fn put_settings(
    tx: &mut TenantTx,
    settings: VoiceSettings,
) -> Result<VoiceSettings, VoiceError> {
    let org = tx.org();
    let default = settings
        .transfer_default
        .as_deref()
        .filter(|d| !d.trim().is_empty())
        .map(check_destination)
        .transpose()?;
    let mut departments = Map::new();
    for (name, dest) in &settings.transfer_departments {
        let key = name.trim().to_lowercase();
        if key.is_empty() || key.len() > 40 {
            return Err(VoiceError::Invalid(
                "department names must be 1-40 characters".into(),
            ));
        }
        let dest = dest.as_str().ok_or_else(|| {
            VoiceError::Invalid(format!("department {key:?} needs a destination string"))
        })?;
        departments.insert(key, json!(check_destination(dest)?));
    }
    let phone = settings
        .hot_lead_alert_phone
        .as_deref()
        .filter(|p| !p.trim().is_empty())
        .map(|p| crm::normalize_phone(p, crm::DEFAULT_COUNTRY_CODE))
        .transpose()?;
    let stored = VoiceSettings {
        transfer_default: default,
        transfer_departments: departments,
        hot_lead_alert_phone: phone,
    };
    diesel::insert_into(voice_settings::table)
        .values((
            voice_settings::org_id.eq(org.0),
            voice_settings::transfer_default.eq(&stored.transfer_default),
            voice_settings::transfer_departments
                .eq(Value::Object(stored.transfer_departments.clone())),
            voice_settings::hot_lead_alert_phone.eq(&stored.hot_lead_alert_phone),
        ))
        .on_conflict(voice_settings::org_id)
        .do_update()
        .set((
            voice_settings::transfer_default.eq(&stored.transfer_default),
            voice_settings::transfer_departments
                .eq(Value::Object(stored.transfer_departments.clone())),
            voice_settings::hot_lead_alert_phone.eq(&stored.hot_lead_alert_phone),
        ))
        .execute(tx)
        .await?;
    Ok(stored)
}

/// The organization's voice settings (defaults when never saved), inside its transaction.
///
/// # Errors
/// [`VoiceError::Db`].
pub async fn settings(tx: &mut TenantTx) -> Result<VoiceSettings, VoiceError> {
    let org = tx.org();
    let row: Option<(Option<String>, Value, Option<String>)> = voice_settings::table
        .filter(voice_settings::org_id.eq(org.0))
        .select((
            voice_settings::transfer_default,
            voice_settings::transfer_departments,
            voice_settings::hot_lead_alert_phone,
        ))
        .first(tx)
        .await
        .optional()?;
    Ok(
        row.map_or_else(VoiceSettings::default, |(d, deps, phone)| VoiceSettings {
            transfer_default: d,
            transfer_departments: deps.as_object().cloned().unwrap_or_default(),
            hot_lead_alert_phone: phone,
        }),
    )
}

/// The organization's agents (stored ones; a direction never saved is absent).
///
/// # Errors
/// [`VoiceError::Db`].
pub async fn list(tx: &mut TenantTx) -> Result<Vec<Agent>, VoiceError> {
    let org = tx.org();
    Ok(voice_agents::table
        .filter(voice_agents::org_id.eq(org.0))
        .order(voice_agents::direction)
        .select(Agent::as_select())
        .load(tx)
        .await?)
}

/// The assistant of `direction`, if created.
///
/// # Errors
/// [`VoiceError::Db`].
pub async fn assistant(
    tx: &mut TenantTx,
    direction: Direction,
) -> Result<Option<Agent>, VoiceError> {
    let org = tx.org();
    Ok(voice_agents::table
        .filter(voice_agents::org_id.eq(org.0))
        .filter(voice_agents::direction.eq(direction.as_str()))
        .filter(voice_agents::vapi_assistant_id.is_not_null())
        .select(Agent::as_select())
        .first(tx)
        .await
        .optional()?)
}

/// Edits a fetched `model` for a save: provider, model and the system message replaced (other
/// messages kept), `toolIds` kept, native calendar tools removed.
pub(crate) fn merge_model(model: &mut Map<String, Value>, agent: &AgentInput, prompt: &str) {
    model.insert("provider".into(), json!(agent.model_provider));
    model.insert("model".into(), json!(agent.model));
    let mut messages: Vec<Value> = model
        .get("messages")
        .and_then(Value::as_array)
        .map(|m| {
            m.iter()
                .filter(|msg| msg["role"] != "system")
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    messages.insert(0, json!({"role": "system", "content": prompt}));
    model.insert("messages".into(), Value::Array(messages));
    vapi_client::rest::remove_native_calendar_tools(model);
}

/// The assistant server's `backoffPlan` (contracts/vapi.md §5: without one Vapi never retries):
/// exponential from 1 s, 5 retries, so a status update, transcript or end-of-call report that
/// met a database outage (503) arrives again. Refusals that a retry cannot change are excluded.
#[must_use]
pub fn server_backoff_plan() -> Value {
    json!({
        "type": "exponential",
        "maxRetries": 5,
        "baseDelaySeconds": 1,
        "excludedStatusCodes": [400, 401, 403, 404, 413, 422],
    })
}

/// Saving the organization's agents as Vapi assistants. Reached through
/// `VoiceAgent::assistants`.
#[derive(Debug, Clone)]
pub struct Assistants {
    /// The database, the Vapi account, the organization's time zone (written into the prompt).
    base: Base,
    /// The tools a new assistant is created with.
    tools: ToolRegistry,
}

impl Assistants {
    pub(crate) fn new(base: Base, tools: ToolRegistry) -> Self {
        Self { base, tools }
    }

    /// Saves an agent and creates or updates its Vapi assistant idempotently: an existing
    /// assistant is fetched, merged and patched with the whole `model` (contracts/vapi.md §4.2);
    /// one that Vapi no longer knows (404) is created again. Our server URL, its authentication,
    /// the server messages we consume and `metadata.org_id` are set every time, and
    /// `assistant_org_mapping` is recorded.
    ///
    /// # Errors
    /// [`VoiceError::Invalid`], [`VoiceError::NotConfigured`] (no Vapi key or public URL),
    /// [`VoiceError::Vapi`] (nothing about the assistant changed on our side), [`VoiceError::Db`].
    pub async fn save_agent(
        &self,
        org: OrgId,
        direction: Direction,
        input: AgentInput,
        now: DateTime<Utc>,
    ) -> Result<Agent, VoiceError> {
        let vapi = self.base.account.vapi()?.clone();
        let mut server = self.base.account.server("/api/vapi/webhook")?;
        server["backoffPlan"] = server_backoff_plan();
        let metadata = crate::with_fields(
            self.base.account.org_metadata(org),
            &[("direction", json!(direction.as_str()))],
        );
        let time_zone = self.base.time_zone(org).await?;
        let this = self.clone();
        self.base
            .db
            .tenant(org, async move |tx| {
                // Lock (or create) the row: concurrent saves of one agent queue here.
                let current: Option<Agent> = voice_agents::table
                    .filter(voice_agents::org_id.eq(org.0))
                    .filter(voice_agents::direction.eq(direction.as_str()))
                    .select(Agent::as_select())
                    .for_update()
                    .first(tx)
                    .await
                    .optional()?;
                let input = input.validated(current.as_ref())?;
                let tz = time_zone;
                let prompt = system_prompt(&PromptInput {
                    instructions: &input.system_prompt,
                    time_zone: tz.name(),
                    today: now.with_timezone(&tz).date_naive(),
                });
                let top = assistant_top(&input, &server, &metadata);
                let existing = current.as_ref().and_then(|a| a.vapi_assistant_id.clone());
                let assistant_id = this
                    .upsert_assistant(&vapi, tx, existing, (&input, &prompt), &top)
                    .await?;
                store_agent(tx, direction, &input, &assistant_id).await
            })
            .await
    }

    /// Patches assistant `existing` (fetch, merge the model, patch with `top`), or creates it
    /// with every registered tool when there is none or Vapi no longer knows it (404). Returns
    /// the assistant's id.
    async fn upsert_assistant(
        &self,
        vapi: &VapiClient,
        c: &mut AsyncPgConnection,
        existing: Option<String>,
        (input, prompt): (&AgentInput, &str),
        top: &Value,
    ) -> Result<String, VoiceError> {
        let updated = match &existing {
            Some(id) => match vapi
                .update_assistant_merged(id, |model| merge_model(model, input, prompt), Some(top))
                .await
            {
                Ok(v) => Some(v),
                Err(vapi_client::VapiError::Api { status: 404, .. }) => None,
                Err(e) => {
                    log_vapi("assistant update", &e);
                    return Err(e.into());
                }
            },
            None => None,
        };
        let assistant = match updated {
            Some(v) => v,
            None => {
                let mut model = Map::new();
                merge_model(&mut model, input, prompt);
                let tool_ids = self.tools.registered_tool_ids_on(c).await?;
                model.insert("toolIds".into(), json!(tool_ids));
                let mut body = top.clone();
                body["model"] = Value::Object(model);
                vapi.create_assistant(&body).await.map_err(|e| {
                    log_vapi("assistant create", &e);
                    VoiceError::from(e)
                })?
            }
        };
        assistant["id"]
            .as_str()
            .map(str::to_owned)
            .or(existing)
            .ok_or_else(|| {
                VoiceError::Vapi(vapi_client::VapiError::Decode(
                    "the assistant has no id".into(),
                ))
            })
    }
}

/// The assistant's fields besides its model: name, first message, voice, our server and the
/// messages it sends us, metadata, Live Call Control and the analysis plan.
fn assistant_top(input: &AgentInput, server: &Value, metadata: &Value) -> Value {
    json!({
        "name": input.name,
        "firstMessage": input.first_message,
        "firstMessageMode": "assistant-speaks-first",
        "voice": {"provider": input.voice_provider, "voiceId": input.voice_id},
        "server": server,
        "serverMessages": SERVER_MESSAGES,
        "metadata": metadata,
        // Live Call Control, which `transferCall` uses to hand the call over.
        "monitorPlan": {"controlEnabled": true},
        // Summary, success evaluation and the sentiment the dashboard shows.
        "analysisPlan": vapi_client::analysis_plan(),
    })
}

/// Upserts the organization's agent of `direction` with `assistant_id` and records the
/// assistant → organization mapping, in the caller's transaction.
async fn store_agent(
    tx: &mut TenantTx,
    direction: Direction,
    input: &AgentInput,
    assistant_id: &str,
) -> Result<Agent, VoiceError> {
    let org = tx.org();
    let values = (
        voice_agents::name.eq(&input.name),
        voice_agents::system_prompt.eq(&input.system_prompt),
        voice_agents::first_message.eq(&input.first_message),
        voice_agents::voice_provider.eq(input.voice_provider.clone().unwrap_or_default()),
        voice_agents::voice_id.eq(input.voice_id.clone().unwrap_or_default()),
        voice_agents::model_provider.eq(input.model_provider.clone().unwrap_or_default()),
        voice_agents::model.eq(input.model.clone().unwrap_or_default()),
        voice_agents::vapi_assistant_id.eq(Some(assistant_id)),
    );
    let agent = diesel::insert_into(voice_agents::table)
        .values((
            voice_agents::org_id.eq(org.0),
            voice_agents::direction.eq(direction.as_str()),
            values.clone(),
        ))
        .on_conflict((voice_agents::org_id, voice_agents::direction))
        .do_update()
        .set(values)
        .returning(Agent::as_returning())
        .get_result(tx)
        .await?;
    diesel::insert_into(assistant_org_mapping::table)
        .values((
            assistant_org_mapping::vapi_assistant_id.eq(assistant_id),
            assistant_org_mapping::org_id.eq(org.0),
            assistant_org_mapping::direction.eq(direction.as_str()),
        ))
        .on_conflict_do_nothing()
        .execute(tx)
        .await?;
    Ok(agent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_replaces_the_system_message_and_keeps_tools_but_not_native_calendar_ones() {
        let mut model = json!({
            "provider": "anthropic", "model": "old", "temperature": 0.3,
            "messages": [{"role": "system", "content": "old"}, {"role": "assistant", "content": "hi"}],
            "toolIds": ["t1"],
            "tools": [{"type": "google.calendar.event.create"}, {"type": "endCall"}]
        })
        .as_object()
        .cloned()
        .unwrap();
        let input = AgentInput {
            model_provider: Some("openai".into()),
            model: Some("gpt-4o".into()),
            ..AgentInput::default()
        };
        merge_model(&mut model, &input, "new prompt");
        assert_eq!(model["provider"], "openai");
        assert_eq!(model["temperature"], 0.3);
        assert_eq!(
            model["messages"][0],
            json!({"role": "system", "content": "new prompt"})
        );
        assert_eq!(model["messages"][1]["content"], "hi");
        assert_eq!(model["messages"].as_array().unwrap().len(), 2);
        assert_eq!(model["toolIds"], json!(["t1"]));
        assert_eq!(model["tools"], json!([{"type": "endCall"}]));
    }

    #[test]
    fn destinations_are_e164_or_sip() {
        assert_eq!(
            check_destination("+1 (415) 555-0100").unwrap(),
            "+14155550100"
        );
        assert_eq!(
            check_destination("sip:desk@clinic.example").unwrap(),
            "sip:desk@clinic.example"
        );
        assert!(check_destination("desk").is_err());
        assert!(check_destination("sip:no at sign").is_err());
    }

    #[test]
    fn input_is_validated_and_keeps_stored_choices() {
        let long = AgentInput {
            name: "x".repeat(41),
            ..AgentInput::default()
        };
        assert!(long.validated(None).is_err());
        let ok = AgentInput {
            name: " Front desk ".into(),
            ..AgentInput::default()
        }
        .validated(None)
        .unwrap();
        assert_eq!(ok.name, "Front desk");
        assert_eq!(ok.voice_id.as_deref(), Some("Elliot"));
        let bad = AgentInput {
            name: "a".into(),
            model: Some("gpt;drop".into()),
            ..AgentInput::default()
        };
        assert!(bad.validated(None).is_err());
    }
}
