//! What handlers share.

use std::sync::Arc;

use tenancy::api_keys::ApiKeyPepper;
use tenancy::sessions::JwtKeys;

/// Messages queued per WebSocket connection unless configured (`WS_SEND_QUEUE`).
pub const DEFAULT_WS_SEND_QUEUE: usize = 256;

/// Application state, one per worker (cheap clones).
#[derive(Debug, Clone)]
pub struct AppState {
    /// Pool as the runtime role.
    pub db: db::Db,
    /// Keys that authenticate principals.
    pub auth: Arc<AuthKeys>,
    /// The credentials vault (customer-provided provider credentials).
    pub credentials: Arc<credentials::CredentialService>,
    /// Connecting, checking and disconnecting the organization's providers.
    pub integrations: Arc<integrations::Integrations>,
    /// Hybrid telephony: caller-ID verification and forwarding configurations.
    pub telephony: Arc<telephony::Telephony>,
    /// Availability, atomic booking, appointments and the Google Calendar outbox.
    pub scheduler: Arc<scheduling::Scheduler>,
    /// Audited SMS and email, share links, transcript export, reminders.
    pub messenger: Arc<messaging::Messenger>,
    /// The browser softphone: access tokens, TwiML routing, answered-call events.
    pub softphone: Arc<softphone::Softphone>,
    /// `PUBLIC_BASE_URL` (no trailing slash): the origin Twilio is given, against which its
    /// signatures are checked; `None` uses the request's own scheme and host.
    pub public_base_url: Option<Arc<str>>,
    /// The keyring sealing customer secrets (also app webhook secrets).
    pub keyring: Arc<credentials::Keyring>,
    /// This instance's WebSocket connections.
    pub hub: Arc<realtime::Hub>,
    /// Interval between WebSocket pings; two silent intervals drop a connection.
    pub ws_heartbeat: std::time::Duration,
    /// The voice agent on Vapi.
    pub voice: Arc<voice_agent::VoiceAgent>,
    /// How Vapi's webhook and tool requests are authenticated; `None` refuses them all.
    pub vapi_auth: Option<Arc<vapi_client::Scheme>>,
    /// The organizations' knowledge bases.
    pub knowledge: Arc<rag::KnowledgeBase>,
    /// Requests in flight per client and the body read deadline ([`crate::edge`]).
    pub edge: Arc<crate::edge::ClientLimits>,
    /// Where the built operator console is and its Content-Security-Policy ([`crate::console`]).
    pub console: Arc<crate::console::ConsoleConfig>,
    /// Wakes the job workers (of every instance) after a commit that enqueued jobs.
    pub jobs: jobs::Waker,
    /// The Dialpad apps this instance resolved in the last second (organization, activity,
    /// opened webhook secret); forgotten here when an admin changes one.
    pub dialpad_apps: event_log::ingest::DialpadApps,
    /// The organizations' outbound webhook endpoints (URL policy and secrets).
    pub webhooks: webhooks::endpoints::Endpoints,
    /// How this instance delivers webhook messages.
    pub webhook_delivery: webhooks::DeliveryConfig,
    /// Request rate limits per organization and per key (this instance's buckets).
    pub rate_limits: Arc<crate::rate_limit::RateLimits>,
    /// Origins allowed to call the API from a browser (CORS); empty: none.
    pub cors_origins: Arc<[String]>,
}

/// Wake-ups of the job workers within this window send one `NOTIFY` to other instances.
pub const JOB_WAKE_COALESCE: std::time::Duration = std::time::Duration::from_millis(10);

impl AppState {
    /// Assembles the state: the vault over `db` sealing with `keyring`, and the integrations
    /// service checking providers at `endpoints`.
    #[must_use]
    pub fn new(
        db: db::Db,
        auth: AuthKeys,
        keyring: credentials::Keyring,
        endpoints: integrations::ProviderEndpoints,
        google: Option<integrations::google::GoogleOAuthConfig>,
        public_base_url: Option<String>,
    ) -> Self {
        let keyring = Arc::new(keyring);
        let credentials = Arc::new(credentials::CredentialService::new(
            db.clone(),
            keyring.clone(),
        ));
        let google = google
            .map(|config| integrations::google::GoogleOAuth::new(config, auth.oauth_state_key()));
        let integrations = integrations_service(credentials.clone(), endpoints, google);
        let telephony = Arc::new(
            telephony::Telephony::new(db.clone(), credentials.clone(), integrations.clone())
                .with_public_base_url(public_base_url.clone()),
        );
        let softphone = Arc::new(softphone::Softphone::new(db.clone(), credentials.clone()));
        let jobs = jobs::Waker::new(db.clone(), JOB_WAKE_COALESCE);
        let scheduler = Arc::new(scheduling::Scheduler::new(
            db.clone(),
            credentials.clone(),
            integrations.clone(),
            jobs.clone(),
        ));
        let messenger = Arc::new(messaging::Messenger::new(
            db.clone(),
            credentials.clone(),
            integrations.clone(),
        ));
        let knowledge = local_knowledge_base(db.clone(), jobs.clone());
        let voice = Arc::new(voice_agent::VoiceAgent::new(
            db.clone(),
            None,
            voice_agent::VoiceConfig {
                public_base_url: public_base_url.clone(),
                ..voice_agent::VoiceConfig::default()
            },
            voice_agent::Collaborators {
                credentials: credentials.clone(),
                scheduler: scheduler.clone(),
                messenger: messenger.clone(),
                knowledge: knowledge.clone(),
                jobs: jobs.clone(),
            },
        ));
        let webhooks = webhooks::endpoints::Endpoints::new(
            db.clone(),
            keyring.clone(),
            Arc::new(webhooks::ssrf::AddressPolicy::default()),
        );
        Self {
            webhooks,
            webhook_delivery: webhooks::DeliveryConfig::default(),
            rate_limits: Arc::new(crate::rate_limit::RateLimits::default()),
            cors_origins: Arc::from(Vec::new()),
            voice,
            knowledge,
            vapi_auth: None,
            scheduler,
            messenger,
            integrations,
            telephony,
            softphone,
            public_base_url: public_base_url.map(|u| Arc::from(u.trim_end_matches('/'))),
            credentials,
            keyring,
            hub: Arc::new(realtime::Hub::new(DEFAULT_WS_SEND_QUEUE)),
            jobs,
            dialpad_apps: event_log::ingest::DialpadApps::default(),
            ws_heartbeat: std::time::Duration::from_secs(30),
            db,
            auth: Arc::new(auth),
            edge: Arc::new(crate::edge::ClientLimits::default()),
            console: Arc::new(crate::console::ConsoleConfig::default()),
        }
    }

    /// What the voice agent works through: this state's services.
    fn collaborators(&self) -> voice_agent::Collaborators {
        voice_agent::Collaborators {
            credentials: self.credentials.clone(),
            scheduler: self.scheduler.clone(),
            messenger: self.messenger.clone(),
            knowledge: self.knowledge.clone(),
            jobs: self.jobs.clone(),
        }
    }

    /// The same state serving the operator console described by `config`.
    #[must_use]
    pub fn with_console(mut self, config: crate::console::ConsoleConfig) -> Self {
        self.console = Arc::new(config);
        self
    }

    /// The same state delivering webhooks per `config` (retry schedule, timeout, networks
    /// endpoints may reach).
    #[must_use]
    pub fn with_webhooks(mut self, config: &crate::config::WebhookConfig) -> Self {
        let policy = webhooks::ssrf::AddressPolicy::new(config.allowed_networks.clone());
        self.webhooks = webhooks::endpoints::Endpoints::new(
            self.db.clone(),
            self.keyring.clone(),
            Arc::new(policy),
        );
        self.webhook_delivery = config.delivery.clone();
        self
    }

    /// The same state with rate limits of `limits` and CORS for `cors_origins`.
    #[must_use]
    pub fn with_api_limits(
        mut self,
        limits: crate::rate_limit::RateLimitConfig,
        cors_origins: &[String],
    ) -> Self {
        self.rate_limits = Arc::new(crate::rate_limit::RateLimits::new(limits));
        self.cors_origins = Arc::from(cors_origins.to_vec());
        self
    }

    /// The same state with per-client limits from `config`.
    #[must_use]
    pub fn with_edge(mut self, config: crate::edge::EdgeConfig) -> Self {
        self.edge = Arc::new(crate::edge::ClientLimits::new(config));
        self
    }

    /// The same state with the platform's Vapi account (`config.private_key` at
    /// `config.base_url`), webhook authentication and `voice_config` (its `server_auth` is
    /// taken from `config`).
    #[must_use]
    pub fn with_vapi(
        mut self,
        config: &crate::config::VapiConfig,
        voice_config: voice_agent::VoiceConfig,
    ) -> Self {
        let first = voice_config
            .retry_delays
            .first()
            .copied()
            .unwrap_or(std::time::Duration::from_secs(2));
        let times = voice_config.retry_delays.len();
        let client = config.private_key.clone().map(|key| {
            vapi_client::VapiClient::new(self.integrations.http().clone(), &config.base_url, key)
                .with_retry_delays(first, times)
        });
        let voice_config = voice_agent::VoiceConfig {
            public_base_url: self.public_base_url.as_deref().map(str::to_owned),
            server_auth: config
                .server_auth
                .clone()
                .unwrap_or(voice_agent::ServerAuth::None),
            metadata_key: Some(self.auth.call_metadata_key()),
            ..voice_config
        };
        self.voice = Arc::new(voice_agent::VoiceAgent::new(
            self.db.clone(),
            client,
            voice_config,
            self.collaborators(),
        ));
        self.vapi_auth = config.webhook.clone().map(Arc::new);
        self
    }

    /// The same state embedding knowledge-base text as `config` says (the local model or an
    /// OpenAI-compatible API called through the shared HTTP client), with the model's
    /// thresholds or the platform's `thresholds`. Call before [`AppState::with_vapi`], which
    /// hands the knowledge base to the voice agent.
    #[must_use]
    pub fn with_embeddings(
        self,
        config: &crate::config::EmbeddingsConfig,
        thresholds: &crate::config::RetrievalThresholds,
    ) -> Self {
        let embedder: Arc<dyn rag::Embedder> = match config {
            crate::config::EmbeddingsConfig::Local { model_dir } => {
                Arc::new(rag::embed::local::LocalEmbedder::new(model_dir.clone()))
            }
            crate::config::EmbeddingsConfig::OpenAi(openai) => {
                Arc::new(rag::embed::openai::OpenAiEmbedder::new(
                    self.integrations.http().clone(),
                    openai.clone(),
                ))
            }
        };
        let config = thresholds.apply(rag::RetrievalConfig::for_model(&embedder.model().id));
        self.with_knowledge_base(embedder, config)
    }

    /// The same state with a knowledge base embedding through `embedder` (tests fake the
    /// provider at the HTTP level through an [`rag::embed::openai::OpenAiEmbedder`]).
    #[must_use]
    pub fn with_knowledge_base(
        mut self,
        embedder: Arc<dyn rag::Embedder>,
        config: rag::RetrievalConfig,
    ) -> Self {
        self.knowledge = Arc::new(rag::KnowledgeBase::new(
            self.db.clone(),
            embedder,
            config,
            self.jobs.clone(),
        ));
        self.voice = Arc::new(self.voice.with_knowledge(self.knowledge.clone()));
        self
    }

    /// The same state with a WebSocket hub queueing `send_queue` messages per connection and
    /// pinging every `heartbeat`.
    #[must_use]
    pub fn with_realtime(mut self, send_queue: usize, heartbeat: std::time::Duration) -> Self {
        self.hub = Arc::new(realtime::Hub::new(send_queue));
        self.ws_heartbeat = heartbeat;
        self
    }
}

/// Keys that authenticate principals. `Debug` shows nothing secret.
#[derive(Debug)]
pub struct AuthKeys {
    /// Signs and verifies user tokens (`JWT_SECRET`).
    pub jwt: JwtKeys,
    /// Keys the stored hash of every API key (`API_KEY_PEPPER`).
    pub api_key_pepper: ApiKeyPepper,
    /// Signs OAuth `state` values: HMAC-SHA-256(`JWT_SECRET`, "oauth-state"), hex, so that a
    /// state can never pass for a session token or the reverse.
    oauth_state_key: secrecy::SecretString,
    /// Signs the organization we put into a Vapi call's metadata: HMAC-SHA-256(`JWT_SECRET`,
    /// "vapi-call-metadata"), so every instance derives the same key.
    call_metadata_key: ring::hmac::Key,
}

impl AuthKeys {
    /// Keys from the configured secrets (each at least 32 bytes).
    ///
    /// # Errors
    /// [`tenancy::TenancyError::Invalid`] for a short secret.
    pub fn new(jwt_secret: &[u8], api_key_pepper: &[u8]) -> Result<Self, tenancy::TenancyError> {
        let derived = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, jwt_secret),
            b"oauth-state",
        );
        let metadata = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, jwt_secret),
            b"vapi-call-metadata",
        );
        Ok(Self {
            call_metadata_key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, metadata.as_ref()),
            jwt: JwtKeys::new(jwt_secret)?,
            api_key_pepper: ApiKeyPepper::new(api_key_pepper)?,
            oauth_state_key: secrecy::SecretString::from(hex::encode(derived.as_ref())),
        })
    }

    /// The key a Vapi call's organization metadata is signed with.
    #[must_use]
    pub fn call_metadata_key(&self) -> ring::hmac::Key {
        self.call_metadata_key.clone()
    }

    /// The key OAuth states are signed with.
    #[must_use]
    pub fn oauth_state_key(&self) -> secrecy::SecretString {
        self.oauth_state_key.clone()
    }
}

/// The integrations service over the vault, checking providers at `endpoints`, with Google
/// Calendar's consent flow when an OAuth client is configured.
fn integrations_service(
    credentials: Arc<credentials::CredentialService>,
    endpoints: integrations::ProviderEndpoints,
    google: Option<integrations::google::GoogleOAuth>,
) -> Arc<integrations::Integrations> {
    let service = integrations::Integrations::new(credentials, endpoints);
    Arc::new(match google {
        Some(oauth) => service.with_google(oauth),
        None => service,
    })
}

/// The knowledge base on the local embedding model (the default; it loads only when first
/// used), retrieving with that model's calibrated settings.
fn local_knowledge_base(db: db::Db, jobs: jobs::Waker) -> Arc<rag::KnowledgeBase> {
    let local = rag::embed::local::LocalEmbedder::new(rag::embed::local::default_model_dir());
    let config = rag::RetrievalConfig::for_model(&rag::Embedder::model(&local).id);
    Arc::new(rag::KnowledgeBase::new(db, Arc::new(local), config, jobs))
}
