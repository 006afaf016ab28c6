//! Tool sync (seed 001 §4 "Vapi Tool Registration Automation", §§11-12; SPEC §3).
//!
//! 1. **Register once, globally.** Under a PostgreSQL advisory lock (one registrar across
//!    instances), each definition's version ([`crate::tools::definition_hash`]) is compared with
//!    the `vapi_tools` registry; a missing or changed tool is created with `POST /tool` (retried
//!    at 2 s, 4 s, 8 s on transport errors, 429 and 5xx) and the registry updated. An unchanged
//!    tool is reused: no organization ever registers its own copy.
//! 2. **Record per organization** in `org_tools` (tool, Vapi id, version).
//! 3. **Link** the tool ids to each of the organization's assistants through `model.toolIds`
//!    (fetch-merge-patch; ids of replaced versions removed; native calendar tools removed). A
//!    failed link is recorded (`link_status = failed`, `last_error`, `next_attempt_at`) and
//!    retried later by [`crate::worker`]; it never fails the save that started it.

use std::collections::HashMap;

use crate::schema::{org_tools, vapi_tools, voice_agents};
use chrono::Utc;
use db::{Db, OrgId, SystemOp};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::tools::{TOOL_NAMES, definition, definition_hash};
use crate::{VapiAccount, VoiceError, log_vapi};

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Tools registered (or re-registered after a change) by this sync.
    pub registered: Vec<String>,
    /// Tools reused from the registry.
    pub reused: Vec<String>,
    /// Assistants the tools were linked to.
    pub linked: Vec<String>,
    /// Assistants whose link failed (recorded, retried later).
    pub failed_links: Vec<String>,
}

impl SyncReport {
    /// Whether anything changed on Vapi.
    #[must_use]
    pub fn changed(&self) -> bool {
        !self.registered.is_empty() || !self.linked.is_empty()
    }
}

/// A registered tool.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Registered {
    id: String,
    hash: String,
}

/// The global Vapi tool registry (`vapi_tools`, one set of tools for every organization) and
/// each organization's links to it (`org_tools`), kept in step with the tool definitions and
/// the server authentication.
#[derive(Debug, Clone)]
pub struct ToolRegistry {
    db: Db,
    account: VapiAccount,
}

impl ToolRegistry {
    pub(crate) fn new(db: Db, account: VapiAccount) -> Self {
        Self { db, account }
    }

    /// The registry's tool ids in [`TOOL_NAMES`] order (inside any transaction; the registry
    /// holds no tenant data).
    pub(crate) async fn registered_tool_ids_on(
        &self,
        c: &mut AsyncPgConnection,
    ) -> Result<Vec<String>, VoiceError> {
        let rows: Vec<(String, String)> = vapi_tools::table
            .select((vapi_tools::tool_name, vapi_tools::vapi_tool_id))
            .load(c)
            .await?;
        let map: HashMap<String, String> = rows.into_iter().collect();
        Ok(TOOL_NAMES
            .iter()
            .filter_map(|n| map.get(*n).cloned())
            .collect())
    }

    /// Registers every tool whose version is not in the registry; returns name → registered
    /// tool and the names registered now.
    async fn ensure_registered(
        &self,
    ) -> Result<(HashMap<String, Registered>, Vec<String>), VoiceError> {
        let vapi = self.account.vapi()?.clone();
        let mut wanted = Vec::new();
        for name in TOOL_NAMES {
            let server = self.account.server(&format!("/api/vapi/tools/{name}"))?;
            let def = definition(name, server).expect("every listed tool has a definition");
            let hash = definition_hash(&def, &self.account.auth_fingerprint());
            wanted.push((name.to_owned(), def, hash));
        }
        let this = self.clone();
        self.db
            .system(SystemOp::VapiToolRegistry, async move |c| {
                diesel::sql_query(
                    "SELECT pg_advisory_xact_lock(hashtextextended('vapi_tools', 0))",
                )
                .execute(c)
                .await?;
                let rows: Vec<(String, String, String)> = vapi_tools::table
                    .select((
                        vapi_tools::tool_name,
                        vapi_tools::vapi_tool_id,
                        vapi_tools::definition_hash,
                    ))
                    .load(c)
                    .await?;
                let mut registry: HashMap<String, Registered> = rows
                    .into_iter()
                    .map(|(n, id, hash)| (n, Registered { id, hash }))
                    .collect();
                let mut registered = Vec::new();
                for (name, def, hash) in wanted {
                    if registry.get(&name).is_some_and(|r| r.hash == hash) {
                        continue;
                    }
                    let created = this
                        .account
                        .with_retries(|| vapi.create_tool(&def))
                        .await
                        .map_err(|e| {
                            log_vapi("tool registration", &e);
                            VoiceError::from(e)
                        })?;
                    let id = created["id"].as_str().map(str::to_owned).ok_or_else(|| {
                        VoiceError::Vapi(vapi_client::VapiError::Decode(
                            "the tool has no id".into(),
                        ))
                    })?;
                    diesel::insert_into(vapi_tools::table)
                        .values((
                            vapi_tools::tool_name.eq(&name),
                            vapi_tools::vapi_tool_id.eq(&id),
                            vapi_tools::definition_hash.eq(&hash),
                        ))
                        .on_conflict(vapi_tools::tool_name)
                        .do_update()
                        .set((
                            vapi_tools::vapi_tool_id.eq(&id),
                            vapi_tools::definition_hash.eq(&hash),
                            vapi_tools::registered_at.eq(Utc::now()),
                        ))
                        .execute(c)
                        .await?;
                    tracing::info!(tool = %name, vapi_tool_id = %id, "Vapi tool registered");
                    registry.insert(name.clone(), Registered { id, hash });
                    registered.push(name);
                }
                Ok((registry, registered))
            })
            .await
    }

    /// Brings the organization's tools up to date: registers what the platform lacks, records
    /// `org_tools`, and links the tools to every assistant of the organization.
    ///
    /// # Errors
    /// [`VoiceError::NotConfigured`], [`VoiceError::Vapi`] when registration fails after its
    /// retries, [`VoiceError::Db`]. Link failures are not errors: they are in the report and
    /// recorded for retry.
    pub async fn sync_tools(&self, org: OrgId) -> Result<SyncReport, VoiceError> {
        let (registry, registered) = self.ensure_registered().await?;
        let mut report = SyncReport {
            reused: TOOL_NAMES
                .iter()
                .filter(|n| !registered.iter().any(|r| r == *n))
                .map(|n| (*n).to_owned())
                .collect(),
            registered,
            ..SyncReport::default()
        };
        let reg = registry.clone();
        // Record the organization's tools; remember the ids they replace.
        let (stale, assistants) = self
            .db
            .tenant(org, async move |tx| {
                let previous: Vec<(String, String)> = org_tools::table
                    .filter(org_tools::org_id.eq(org.0))
                    .select((org_tools::tool_name, org_tools::vapi_tool_id))
                    .load(tx)
                    .await?;
                let stale: Vec<String> = previous
                    .into_iter()
                    .filter(|(n, id)| reg.get(n).is_some_and(|r| &r.id != id))
                    .map(|(_, id)| id)
                    .collect();
                for name in TOOL_NAMES {
                    let Some(r) = reg.get(name) else { continue };
                    diesel::insert_into(org_tools::table)
                        .values((
                            org_tools::org_id.eq(org.0),
                            org_tools::tool_name.eq(name),
                            org_tools::vapi_tool_id.eq(&r.id),
                            org_tools::definition_hash.eq(&r.hash),
                        ))
                        .on_conflict((org_tools::org_id, org_tools::tool_name))
                        .do_update()
                        .set((
                            org_tools::vapi_tool_id.eq(&r.id),
                            org_tools::definition_hash.eq(&r.hash),
                        ))
                        .execute(tx)
                        .await?;
                }
                let assistants: Vec<String> = voice_agents::table
                    .filter(voice_agents::org_id.eq(org.0))
                    .filter(voice_agents::vapi_assistant_id.is_not_null())
                    .select(voice_agents::vapi_assistant_id.assume_not_null())
                    .order(voice_agents::direction)
                    .load(tx)
                    .await?;
                Ok::<_, VoiceError>((stale, assistants))
            })
            .await?;
        let ids: Vec<String> = TOOL_NAMES
            .iter()
            .filter_map(|n| registry.get(*n).map(|r| r.id.clone()))
            .collect();
        let mut failure: Option<String> = None;
        for assistant in &assistants {
            match self.link(assistant, &ids, &stale).await {
                Ok(()) => report.linked.push(assistant.clone()),
                Err(e) => {
                    log_vapi("tool link", &e);
                    report.failed_links.push(assistant.clone());
                    failure = Some(e.to_string());
                }
            }
        }
        self.record_links(org, &assistants, failure).await?;
        Ok(report)
    }

    async fn link(
        &self,
        assistant: &str,
        ids: &[String],
        stale: &[String],
    ) -> Result<(), vapi_client::VapiError> {
        let vapi = self
            .account
            .vapi()
            .map_err(|e| vapi_client::VapiError::Transport(e.to_string()))?;
        // The client retries this idempotent fetch-and-patch itself (2 s, 4 s, 8 s).
        vapi.link_tools(assistant, ids, stale).await.map(|_| ())
    }

    async fn record_links(
        &self,
        org: OrgId,
        assistants: &[String],
        failure: Option<String>,
    ) -> Result<(), VoiceError> {
        if assistants.is_empty() {
            return Ok(());
        }
        let retry_after = chrono::Duration::from_std(self.account.config.link_retry_after)
            .unwrap_or(chrono::Duration::minutes(5));
        self.db
            .tenant(org, async move |tx| {
                let now = Utc::now();
                let target = org_tools::table.filter(org_tools::org_id.eq(org.0));
                match failure {
                    None => {
                        diesel::update(target)
                            .set((
                                org_tools::link_status.eq("linked"),
                                org_tools::link_attempts.eq(0),
                                org_tools::last_error.eq(None::<String>),
                                org_tools::next_attempt_at.eq(None::<chrono::DateTime<Utc>>),
                                org_tools::linked_at.eq(now),
                            ))
                            .execute(tx)
                            .await?;
                    }
                    Some(error) => {
                        diesel::update(target)
                            .set((
                                org_tools::link_status.eq("failed"),
                                org_tools::link_attempts.eq(org_tools::link_attempts + 1),
                                org_tools::last_error.eq(error),
                                org_tools::next_attempt_at.eq(now + retry_after),
                            ))
                            .execute(tx)
                            .await?;
                    }
                }
                Ok::<_, VoiceError>(())
            })
            .await
    }

    /// Every organization with an assistant, brought up to date (`cargo xtask sync-tools`).
    ///
    /// # Errors
    /// [`VoiceError::Db`]; a failing organization is reported in its entry.
    pub async fn sync_all_tools(
        &self,
    ) -> Result<Vec<(OrgId, Result<SyncReport, VoiceError>)>, VoiceError> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            org_id: uuid::Uuid,
        }
        let orgs: Vec<Row> = self
            .db
            .system(SystemOp::VoiceWork, async move |c| {
                diesel::sql_query("SELECT org_id FROM voice_orgs_with_assistants()")
                    .load(c)
                    .await
                    .map_err(VoiceError::from)
            })
            .await?;
        let mut out = Vec::new();
        for row in orgs {
            let org = OrgId(row.org_id);
            out.push((org, self.sync_tools(org).await));
        }
        Ok(out)
    }

    /// The organization's tools and their link state: `(tool, vapi_tool_id, link_status,
    /// last_error)`.
    ///
    /// # Errors
    /// [`VoiceError::Db`].
    pub async fn org_tools(
        &self,
        org: OrgId,
    ) -> Result<Vec<(String, String, String, Option<String>)>, VoiceError> {
        self.db
            .tenant(org, async move |tx| {
                Ok(org_tools::table
                    .filter(org_tools::org_id.eq(org.0))
                    .order(org_tools::tool_name)
                    .select((
                        org_tools::tool_name,
                        org_tools::vapi_tool_id,
                        org_tools::link_status,
                        org_tools::last_error,
                    ))
                    .load(tx)
                    .await?)
            })
            .await
    }
}
