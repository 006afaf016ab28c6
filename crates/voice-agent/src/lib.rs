//! The organization's AI phone agent on Vapi (SPEC §3; seed 001 "Critical architecture rule",
//! "Webhook architecture", §§3-4, 11-12, 16, 18; the Vapi contract).
//!
//! The platform is the sole Vapi provider: one private key (`VAPI_PRIVATE_KEY`) for every
//! organization, tools registered once and linked to every organization's assistants. An
//! organization is never taken from anything the model says; it comes only from the
//! authenticated call (its assistant, its phone number, or our own metadata on the call).
//!
//! - [`agents`]: agent configuration and the assistant save (fetch-merge-patch).
//! - [`prompt`]: the one system-prompt builder for create and update.
//! - [`tools`]: tool definitions, their canonical SHA-256 versions, and [`tool_sync`] linking them.
//! - [`routing`]: which organization a Vapi request belongs to.
//! - [`calls`]: call records from `status-update` / `end-of-call-report`, and post-call analysis.
//! - [`redaction`]: PII/PHI removed from transcripts and summaries before storage.
//! - [`dispatch`]: the tools themselves (availability, booking, lookup, transfer, knowledge
//!   base); [`tool_results`]: tools with an effect run once per Vapi `toolCallId`.
//! - [`identity`]: per-call caller identity, caller memory and knowledge-base context for
//!   `assistant-request` and call-backs.
//! - [`callback`]: outbound call-backs.
//! - [`dual_sync`]: Twilio credentials and number synced to Vapi.
//! - [`worker`]: retries of failed links, unfinished dual-syncs and hot-lead alerts.

pub mod agents;
pub mod callback;
pub mod calls;
pub mod dispatch;
pub mod dual_sync;
mod group_commit;
pub mod identity;
mod priority;
pub mod prompt;
pub mod redaction;
pub mod routing;
mod schema;
pub mod tool_results;
pub mod tool_sync;
pub mod tools;
pub mod webhook;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use db::{Db, DbError};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use vapi_client::{VapiClient, VapiError};

/// Errors of the voice agent.
#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    /// Input breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// No such record in this organization.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Something the request needs is not set up yet (the message says what); `code` is stable.
    #[error("{message}")]
    NotReady {
        /// Stable machine code, e.g. `outbound_agent_missing`.
        code: &'static str,
        /// What to do.
        message: String,
    },
    /// The platform has no Vapi key or no public URL configured.
    #[error("the voice agent is not configured on this platform: {0}")]
    NotConfigured(&'static str),
    /// Vapi refused or failed; details are logged, never returned.
    #[error("Vapi could not complete the request")]
    Vapi(#[from] VapiError),
    /// A CRM failure.
    #[error(transparent)]
    Crm(#[from] crm::CrmError),
    /// A scheduling failure.
    #[error(transparent)]
    Scheduling(#[from] scheduling::SchedulingError),
    /// A vault failure.
    #[error(transparent)]
    Credential(#[from] credentials::CredentialError),
    /// A knowledge-base failure.
    #[error(transparent)]
    Knowledge(#[from] rag::RagError),
    /// A database failure.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for VoiceError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}

/// How Vapi authenticates its requests to us, as written into every `server` object we give
/// Vapi (assistants, tools, phone numbers; contracts/vapi.md §3).
#[derive(Clone)]
pub enum ServerAuth {
    /// A static header Vapi sends as is (`server.headers`), e.g. `x-vapi-secret: <secret>`, or
    /// `Authorization: Bearer <token>`.
    Header {
        /// Header name.
        name: String,
        /// Header value (a secret).
        value: SecretString,
    },
    /// A Vapi custom credential (`server.credentialId`): bearer or HMAC, configured in Vapi.
    Credential(String),
    /// Nothing (tests of code paths that never reach Vapi).
    None,
}

impl std::fmt::Debug for ServerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Header { name, .. } => write!(f, "Header({name}: [redacted])"),
            Self::Credential(id) => write!(f, "Credential({id})"),
            Self::None => write!(f, "None"),
        }
    }
}

/// Platform configuration of the voice agent.
#[derive(Debug, Clone)]
pub struct VoiceConfig {
    /// Our public origin (`PUBLIC_BASE_URL`, no trailing slash): Vapi's server URLs are built on
    /// it. Agent save and dual-sync need it.
    pub public_base_url: Option<String>,
    /// What Vapi is told to send so that we can authenticate it.
    pub server_auth: ServerAuth,
    /// Vapi `server.timeoutSeconds` for our webhook and tools (seconds; Vapi's default is 20).
    pub server_timeout_secs: u32,
    /// Pauses between attempts of a Vapi call (seed 001 §4: 2 s, 4 s, 8 s): tool registrations,
    /// and the client's retries of idempotent calls.
    pub retry_delays: Vec<Duration>,
    /// How long a failed tool link waits before the worker retries it.
    pub link_retry_after: Duration,
    /// Signs the `org_id` we put into a call's metadata (`org_sig`), so that a Vapi message
    /// routed by its metadata ([`routing`]) names an organization we vouched for. `None`:
    /// metadata never routes.
    pub metadata_key: Option<ring::hmac::Key>,
}

impl Default for VoiceConfig {
    fn default() -> Self {
        Self {
            public_base_url: None,
            server_auth: ServerAuth::None,
            server_timeout_secs: 20,
            retry_delays: vec![
                Duration::from_secs(2),
                Duration::from_secs(4),
                Duration::from_secs(8),
            ],
            link_retry_after: Duration::from_secs(300),
            metadata_key: None,
        }
    }
}

/// The services a [`VoiceAgent`] works through.
#[derive(Debug, Clone)]
pub struct Collaborators {
    /// The credentials vault (the organization's Twilio account).
    pub credentials: Arc<credentials::CredentialService>,
    /// Availability and booking for the scheduling tools.
    pub scheduler: Arc<scheduling::Scheduler>,
    /// SMS and email for the messaging tools and hot-lead alerts.
    pub messenger: Arc<messaging::Messenger>,
    /// The organizations' knowledge bases for `getKnowledgeBase` and call context.
    pub knowledge: Arc<rag::KnowledgeBase>,
    /// Wakes the job workers after a commit that queued a job (a hot-lead alert).
    pub jobs: jobs::Waker,
}

/// The platform's Vapi account as the jobs of this crate use it: the API client (`None`
/// without `VAPI_PRIVATE_KEY`) and the `server` objects that point Vapi back at us.
#[derive(Debug, Clone)]
pub(crate) struct VapiAccount {
    client: Option<VapiClient>,
    config: VoiceConfig,
}

impl VapiAccount {
    /// The client; [`VoiceError::NotConfigured`] without `VAPI_PRIVATE_KEY`.
    pub(crate) fn vapi(&self) -> Result<&VapiClient, VoiceError> {
        self.client
            .as_ref()
            .ok_or(VoiceError::NotConfigured("VAPI_PRIVATE_KEY is not set"))
    }

    pub(crate) fn base_url(&self) -> Result<&str, VoiceError> {
        self.config
            .public_base_url
            .as_deref()
            .ok_or(VoiceError::NotConfigured("PUBLIC_BASE_URL is not set"))
    }

    /// The metadata that names `org` on a call or assistant: `org_id` and its `org_sig`
    /// (hex HMAC-SHA-256 under [`VoiceConfig::metadata_key`]), which [`routing`] verifies.
    pub(crate) fn org_metadata(&self, org: db::OrgId) -> Value {
        let mut metadata = json!({ "org_id": org.0 });
        if let Some(key) = &self.config.metadata_key {
            metadata["org_sig"] = json!(routing::org_signature(key, org));
        }
        metadata
    }

    /// A Vapi `server` object for `path` on our origin, with the configured authentication.
    pub(crate) fn server(&self, path: &str) -> Result<Value, VoiceError> {
        let mut server = json!({
            "url": format!("{}{path}", self.base_url()?),
            "timeoutSeconds": self.config.server_timeout_secs,
        });
        match &self.config.server_auth {
            ServerAuth::Header { name, value } => {
                server["headers"] = json!({ name: value.expose_secret() });
            }
            ServerAuth::Credential(id) => server["credentialId"] = json!(id),
            ServerAuth::None => {}
        }
        Ok(server)
    }

    /// A fingerprint of the configured server authentication (HMAC-SHA-256 of the secret under
    /// a fixed label, 16 hex characters): part of a tool's version, so rotating the secret
    /// re-registers the tools, without the secret itself ever being stored.
    pub(crate) fn auth_fingerprint(&self) -> String {
        match &self.config.server_auth {
            ServerAuth::Header { name, value } => {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"vapi-server-auth");
                let tag =
                    ring::hmac::sign(&key, format!("{name}:{}", value.expose_secret()).as_bytes());
                hex::encode(&tag.as_ref()[..8])
            }
            ServerAuth::Credential(id) => format!("credential:{id}"),
            ServerAuth::None => "none".into(),
        }
    }

    /// Runs `f` up to 1 + `retry_delays.len()` times while it fails with a retryable Vapi
    /// error, pausing 2 s, 4 s, 8 s in between (seed 001 §4). For creates, which the client
    /// never retries itself (idempotent calls are retried by the client with the same pauses).
    pub(crate) async fn with_retries<T, F, Fut>(&self, mut f: F) -> Result<T, VapiError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, VapiError>>,
    {
        let mut delays = self.config.retry_delays.iter();
        loop {
            match f().await {
                Err(e) if e.is_retryable() => match delays.next() {
                    Some(delay) => tokio::time::sleep(*delay).await,
                    None => return Err(e),
                },
                other => return other,
            }
        }
    }
}

/// What every job of the voice agent works with: the database, the platform's Vapi account and
/// the scheduler (the organization's settings and bookings).
#[derive(Debug, Clone)]
pub(crate) struct Base {
    pub(crate) db: Db,
    pub(crate) account: VapiAccount,
    pub(crate) scheduler: Arc<scheduling::Scheduler>,
}

impl Base {
    /// The organization's time zone (its scheduling settings).
    pub(crate) async fn time_zone(
        &self,
        org: db::OrgId,
    ) -> Result<chrono_tz::Tz, scheduling::SchedulingError> {
        let settings = self
            .db
            .tenant(org, async |tx| scheduling::settings::get(tx).await)
            .await?;
        Ok(settings.time_zone)
    }
}

/// The voice-agent service: one per process, shared behind an `Arc`. Each job is its own type
/// (decision 46), reached through an accessor.
#[derive(Debug, Clone)]
pub struct VoiceAgent {
    /// The database, the Vapi account and the scheduler, shared with the job types.
    base: Base,
    messenger: Arc<messaging::Messenger>,
    knowledge: Arc<rag::KnowledgeBase>,
    /// The Twilio dual-sync ([`dual_sync`]).
    twilio_sync: dual_sync::TwilioSync,
    /// The global tool registry and per-organization links ([`tool_sync`]).
    tools: tool_sync::ToolRegistry,
    /// Which organization a Vapi request belongs to ([`routing`]).
    router: routing::Router,
    /// Call records and post-call analysis ([`calls`]).
    calls: calls::CallRecords,
    /// The agents saved as Vapi assistants ([`agents`]).
    assistants: agents::Assistants,
    /// The jobs that read the knowledge base.
    readers: Readers,
}

/// The jobs that read the knowledge base (rebuilt by [`VoiceAgent::with_knowledge`]).
#[derive(Debug, Clone)]
struct Readers {
    /// The tool calls ([`dispatch`]).
    dispatcher: dispatch::ToolDispatcher,
    /// Who is calling and what the call starts with ([`identity`]).
    identity: identity::CallerIdentity,
    /// Outbound call-backs ([`callback`]).
    call_backs: callback::CallBacks,
}

impl Readers {
    fn new(base: &Base, knowledge: &Arc<rag::KnowledgeBase>) -> Self {
        let identity = identity::CallerIdentity::new(base.clone(), knowledge.clone());
        Self {
            dispatcher: dispatch::ToolDispatcher::new(base.clone(), knowledge.clone()),
            call_backs: callback::CallBacks::new(base.clone(), identity.clone()),
            identity,
        }
    }
}

impl VoiceAgent {
    /// A voice agent calling Vapi through `vapi` (`None`: no `VAPI_PRIVATE_KEY`; saves,
    /// call-backs and dual-sync then answer [`VoiceError::NotConfigured`], while the webhook and
    /// tools keep working for assistants already set up).
    #[must_use]
    pub fn new(db: Db, vapi: Option<VapiClient>, config: VoiceConfig, with: Collaborators) -> Self {
        let Collaborators {
            credentials,
            scheduler,
            messenger,
            knowledge,
            jobs,
        } = with;
        let config = VoiceConfig {
            public_base_url: config
                .public_base_url
                .map(|u| u.trim_end_matches('/').to_owned()),
            ..config
        };
        let router = routing::Router::new(db.clone(), config.metadata_key.clone());
        let account = VapiAccount {
            client: vapi,
            config,
        };
        let tools = tool_sync::ToolRegistry::new(db.clone(), account.clone());
        let twilio_sync = dual_sync::TwilioSync::new(db.clone(), account.clone(), credentials);
        let calls = calls::CallRecords::new(db.clone(), jobs);
        let base = Base {
            db,
            account,
            scheduler,
        };
        Self {
            readers: Readers::new(&base, &knowledge),
            assistants: agents::Assistants::new(base.clone(), tools.clone()),
            tools,
            twilio_sync,
            router,
            calls,
            base,
            messenger,
            knowledge,
        }
    }

    /// The metadata that names `org` on a call or assistant: `org_id` and its `org_sig`
    /// (hex HMAC-SHA-256 under [`VoiceConfig::metadata_key`]), which [`routing`] verifies.
    #[must_use]
    pub fn org_metadata(&self, org: db::OrgId) -> Value {
        self.base.account.org_metadata(org)
    }

    /// The same agent reading `knowledge`.
    #[must_use]
    pub fn with_knowledge(&self, knowledge: Arc<rag::KnowledgeBase>) -> Self {
        Self {
            readers: Readers::new(&self.base, &knowledge),
            knowledge,
            ..self.clone()
        }
    }

    /// The organization knowledge bases the `getKnowledgeBase` tool and per-call context read.
    #[must_use]
    pub fn knowledge(&self) -> &Arc<rag::KnowledgeBase> {
        &self.knowledge
    }

    /// The database pool.
    #[must_use]
    pub fn db(&self) -> &Db {
        &self.base.db
    }

    /// Whether the platform's Vapi key is configured.
    #[must_use]
    pub fn has_vapi(&self) -> bool {
        self.base.account.client.is_some()
    }

    /// The Twilio dual-sync of organizations' numbers.
    #[must_use]
    pub fn twilio_sync(&self) -> &dual_sync::TwilioSync {
        &self.twilio_sync
    }

    /// Call records and post-call analysis.
    #[must_use]
    pub fn calls(&self) -> &calls::CallRecords {
        &self.calls
    }

    /// Which organization a Vapi request belongs to.
    #[must_use]
    pub fn router(&self) -> &routing::Router {
        &self.router
    }

    /// Who is calling and what the call starts with (`assistant-request`).
    #[must_use]
    pub fn identity(&self) -> &identity::CallerIdentity {
        &self.readers.identity
    }

    /// The tool dispatcher (`tool-calls` and `POST /api/vapi/tools/<name>`).
    #[must_use]
    pub fn dispatcher(&self) -> &dispatch::ToolDispatcher {
        &self.readers.dispatcher
    }

    /// Saving the organization's agents as Vapi assistants.
    #[must_use]
    pub fn assistants(&self) -> &agents::Assistants {
        &self.assistants
    }

    /// Outbound call-backs to contacts.
    #[must_use]
    pub fn call_backs(&self) -> &callback::CallBacks {
        &self.readers.call_backs
    }

    /// The global Vapi tool registry and the organizations' links to it.
    #[must_use]
    pub fn tool_registry(&self) -> &tool_sync::ToolRegistry {
        &self.tools
    }
}

/// `object` with `fields` added.
pub(crate) fn with_fields(mut object: Value, fields: &[(&str, Value)]) -> Value {
    for (name, value) in fields {
        object[*name] = value.clone();
    }
    object
}

/// Logs a Vapi failure with the raw body (Vapi's error bodies are not documented to echo
/// secrets; we never send one in a body it could echo except credentials, whose errors are
/// logged without the body).
pub(crate) fn log_vapi(what: &str, e: &VapiError) {
    match e {
        VapiError::Api {
            status, message, ..
        } => tracing::warn!(what, status, message = %message, "Vapi refused"),
        other => tracing::warn!(what, error = %other, "Vapi failed"),
    }
}
