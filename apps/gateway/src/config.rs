//! Typed configuration from the environment. The `config` crate deserializes the variables
//! into one serde struct (numbers, booleans, addresses and fixed choices typed there); this
//! module applies defaults, ranges and the rules between variables. Start-up stops with a
//! [`ConfigError`] naming the variable that is missing or malformed. The variables are listed
//! in the README.

use std::net::SocketAddr;
use std::time::Duration;

/// A configuration variable that is missing or cannot be parsed. The message names the variable
/// and never repeats its value (it may be a secret).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("configuration: {var} is not set{why}")]
    Missing {
        /// The variable's name.
        var: String,
        /// Why it is required, when that depends on another variable (starts with a separator).
        why: &'static str,
    },
    /// A variable is set but malformed.
    #[error("configuration: {var} is invalid: {reason}")]
    Invalid {
        /// The variable's name.
        var: String,
        /// What is expected.
        reason: String,
    },
}

/// Log line format (`LOG_FORMAT`: `json` or `text`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line (production).
    Json,
    /// Human-readable lines (local development).
    Text,
}

/// The gateway's configuration. The database URLs, the signing secrets and the credential
/// keyring are held as secrets (`secrecy`), so the derived `Debug` never prints them.
#[derive(Clone, Debug)]
pub struct Config {
    /// `BIND_ADDR`: address to listen on. Default `127.0.0.1:8080`.
    pub bind_addr: SocketAddr,
    /// `DATABASE_URL` (required): PostgreSQL URL as the runtime role (no `BYPASSRLS`).
    pub database_url: secrecy::SecretString,
    /// `DATABASE_OWNER_URL`: PostgreSQL URL as the owner role, used only to run migrations.
    /// Required while `migrate_on_startup` is true.
    pub database_owner_url: Option<secrecy::SecretString>,
    /// `MIGRATE_ON_STARTUP` (`true`/`false`): apply pending migrations before serving, behind an
    /// advisory lock. Default `true`.
    pub migrate_on_startup: bool,
    /// `DB_POOL_SIZE`: maximum pooled connections per instance. Default 16.
    pub db_pool_size: usize,
    /// `DB_POOL_SHARDS`: into how many pools `DB_POOL_SIZE` is split, one per runtime thread
    /// that uses the database, so that a connection is driven on the thread that uses it
    /// (issue 22). Default 0: one per HTTP worker plus one for background work; 1 shares one
    /// pool between all threads.
    pub db_pool_shards: usize,
    /// `DB_STATEMENT_TIMEOUT_MS`: per-statement limit in milliseconds. Default 5000.
    pub db_statement_timeout: Duration,
    /// `HTTP_JSON_LIMIT_BYTES`: largest JSON body accepted, in bytes, up to 1 GiB. Default
    /// 262144 (256 KiB).
    pub json_limit_bytes: usize,
    /// `HTTP_BODY_LIMIT_BYTES`: largest non-JSON body accepted, in bytes, up to 1 GiB. Default
    /// 10485760 (10 MiB).
    pub body_limit_bytes: usize,
    /// `HTTP_WORKERS`: worker threads. Default: one per CPU.
    pub http_workers: Option<usize>,
    /// `HTTP_REQUEST_HEAD_TIMEOUT_MS`: how long a client may take to send a request's head
    /// (request line and headers), in milliseconds; the connection is then closed. Default 5000.
    pub request_head_timeout: Duration,
    /// `HTTP_BODY_TIMEOUT_SECS`, `HTTP_MAX_REQUESTS_PER_CLIENT`, `TRUSTED_PROXIES`: per-client
    /// limits ([`crate::edge`]). Defaults 30 s, 256 requests in flight, no trusted proxy.
    pub edge: crate::edge::EdgeConfig,
    /// `SHUTDOWN_TIMEOUT_SECS`: how long in-flight requests may finish after SIGTERM/SIGINT, in
    /// seconds. Default 30.
    pub shutdown_timeout: Duration,
    /// `LOG_FORMAT`: `json` (default) or `text`. Levels come from `RUST_LOG` (default `info`).
    pub log_format: LogFormat,
    /// `JWT_SECRET` (required): HS256 key for user tokens, at least 32 bytes.
    pub jwt_secret: secrecy::SecretSlice<u8>,
    /// `API_KEY_PEPPER` (required): HMAC key for stored API-key hashes, at least 32 bytes.
    /// Changing it invalidates every issued API key.
    pub api_key_pepper: secrecy::SecretSlice<u8>,
    /// `CREDENTIALS_KEYS` (required): the keys sealing customer credentials, as
    /// `id:<base64 of 32 bytes>` separated by commas (several during a rotation).
    pub credentials_keys: secrecy::SecretString,
    /// `CREDENTIALS_ACTIVE_KEY` (required): the id of the key new credentials are sealed with.
    pub credentials_active_key: String,
    /// `TWILIO_API_BASE_URL`, `RESEND_API_BASE_URL`, `ELEVENLABS_API_BASE_URL`,
    /// `GOOGLE_CALENDAR_API_BASE_URL`: provider API base URLs (defaults: the providers' public
    /// APIs).
    pub provider_endpoints: integrations::ProviderEndpoints,
    /// `GOOGLE_CLIENT_ID`, `GOOGLE_CLIENT_SECRET`, `GOOGLE_REDIRECT_URI` (all three or none):
    /// the platform's Google OAuth client for the Calendar Forever-Link; endpoints overridable
    /// with `GOOGLE_OAUTH_AUTH_URL`, `GOOGLE_OAUTH_TOKEN_URL`, `GOOGLE_USERINFO_URL`.
    pub google: Option<integrations::google::GoogleOAuthConfig>,
    /// `PUBLIC_BASE_URL`: this platform's public URL (for example `https://api.clinic.example`),
    /// for provider callbacks; unset: Twilio is asked for no status callbacks.
    pub public_base_url: Option<String>,
    /// `WS_HEARTBEAT_SECS`: seconds between WebSocket pings (seed 000: 30); a connection silent
    /// for two intervals is dropped. Default 30.
    pub ws_heartbeat: Duration,
    /// `WS_SEND_QUEUE`: messages queued per WebSocket connection before a client too slow to
    /// read them is disconnected. Default 256.
    pub ws_send_queue: usize,
    /// `JOB_WORKERS`: job runner workers per instance (webhook events and every other background
    /// queue). Default four per CPU core (at least 4); 0 turns background work off on this
    /// instance (it then only serves requests and WebSockets).
    pub job_workers: usize,
    /// `JOB_CLAIM`: jobs of kinds that run one by one a worker claims at once, 1–1000.
    /// Default 16.
    pub job_claim: i32,
    /// `JOB_CLAIM_BATCHED`: jobs of batched kinds (post-call analyses, Dialpad events) a worker
    /// claims at once, 1–1000; those of one organization run in one transaction. Default 64.
    pub job_claim_batched: i32,
    /// `JOB_LEASE_SECS`: how long a claimed job is held by its worker before another instance
    /// may take it (a crashed instance's jobs run again after this), 5–3600. Default 60.
    pub job_lease: Duration,
    /// The platform's Vapi account and how Vapi authenticates to us (see [`VapiConfig`]).
    pub vapi: VapiConfig,
    /// Where knowledge-base embeddings come from (see [`EmbeddingsConfig`]).
    pub embeddings: EmbeddingsConfig,
    /// The platform's knowledge-base thresholds, when set (see [`RetrievalThresholds`]).
    pub retrieval: RetrievalThresholds,
    /// `CONSOLE_DIR`: the built operator console (`apps/console/dist`, with `index.html`) to
    /// serve on this origin; unset: not served. `CONSOLE_MEDIA_SOURCES`: comma-separated
    /// origins recordings may play from (CSP `media-src`), default `https://storage.vapi.ai`.
    pub console: crate::console::ConsoleConfig,
    /// Outbound webhooks (see [`WebhookConfig`]).
    pub webhooks: WebhookConfig,
    /// `RATE_LIMIT_ORG_PER_MIN` (default 6,000) and `RATE_LIMIT_KEY_PER_MIN` (default 1,200):
    /// requests per minute per organization and per organization API key, per instance; 0 turns
    /// one off ([`crate::rate_limit`]).
    pub rate_limits: crate::rate_limit::RateLimitConfig,
    /// `CORS_ALLOWED_ORIGINS`: comma-separated origins (`https://crm.example.com`) whose browser
    /// pages may call the API; none by default (the console is same-origin).
    pub cors_origins: Vec<String>,
}

/// Outbound webhook delivery (docs/integrating.md, "Webhooks"; docs/operations.md).
#[derive(Debug, Clone, Default)]
pub struct WebhookConfig {
    /// `WEBHOOK_RETRY_SCHEDULE`: delays before each retry after the first attempt,
    /// comma-separated with units `ms`, `s`, `m`, `h`; default `5s,5m,30m,2h,5h,10h,10h`.
    /// `WEBHOOK_TIMEOUT_SECS`: one attempt's timeout, 1–60, default 15.
    /// `WEBHOOK_DISABLE_AFTER_SECS`: an endpoint failing this long is disabled, default 432000
    /// (5 days, at most 366). `WEBHOOK_ENDPOINT_CONCURRENCY`: attempts in flight per endpoint
    /// and instance, 1–64, default 4.
    pub delivery: webhooks::DeliveryConfig,
    /// `WEBHOOK_ALLOWED_NETWORKS`: comma-separated CIDR networks endpoints may reach although
    /// they are loopback, private or link-local (for example `10.20.0.0/16` for an on-premises
    /// CRM); none by default.
    pub allowed_networks: Vec<ipnet::IpNet>,
}

/// The platform's knowledge-base "no answer" thresholds (cosine similarity, 0..1), replacing
/// the embedding model's defaults (`rag::RetrievalConfig::for_model`: calibrated for the local
/// model, 0.25 and 0.5 for an OpenAI-compatible one); an organization's own similarity
/// threshold (`PUT /api/knowledge-base/settings`) still wins.
///
/// - `KB_SIMILARITY_THRESHOLD`: what a chunk needs to be given to the agent.
/// - `KB_UNGROUNDED_THRESHOLD`: what it needs when the question names something the knowledge
///   base never mentions.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RetrievalThresholds {
    /// `KB_SIMILARITY_THRESHOLD`.
    pub similarity: Option<f32>,
    /// `KB_UNGROUNDED_THRESHOLD`.
    pub ungrounded: Option<f32>,
}

impl RetrievalThresholds {
    /// `defaults` with these thresholds applied (the ungrounded one never below the other).
    #[must_use]
    pub fn apply(&self, defaults: rag::RetrievalConfig) -> rag::RetrievalConfig {
        let similarity_threshold = self.similarity.unwrap_or(defaults.similarity_threshold);
        rag::RetrievalConfig {
            similarity_threshold,
            ungrounded_threshold: self
                .ungrounded
                .unwrap_or(defaults.ungrounded_threshold)
                .max(similarity_threshold),
            ..defaults
        }
    }
}

/// Where knowledge-base embeddings come from (SPEC §7).
///
/// - `EMBEDDINGS_PROVIDER`: `openai` (any OpenAI-compatible API) or `local`; default `openai`
///   when `EMBEDDINGS_API_KEY` (or `OPENAI_API_KEY`) is set, else `local`.
/// - `EMBEDDINGS_API_KEY` / `OPENAI_API_KEY`, `EMBEDDINGS_BASE_URL` (default
///   `https://api.openai.com/v1`), `EMBEDDINGS_MODEL` (default `text-embedding-3-small`),
///   `EMBEDDINGS_DIMENSIONS` (default 1536; when set it is also sent as `dimensions`).
/// - `EMBEDDING_MODEL_DIR`: the local all-MiniLM-L6-v2 (default `models/all-MiniLM-L6-v2` in
///   the workspace, installed by `cargo xtask models`).
///
/// Changing the provider or model makes new chunks use it; `cargo xtask reembed` (also run at
/// start-up) re-embeds the existing ones in the background.
#[derive(Clone)]
pub enum EmbeddingsConfig {
    /// all-MiniLM-L6-v2 in-process.
    Local {
        /// Directory with `config.json`, `tokenizer.json`, `model.safetensors`.
        model_dir: std::path::PathBuf,
    },
    /// An OpenAI-compatible API.
    OpenAi(rag::embed::openai::OpenAiConfig),
}

impl std::fmt::Debug for EmbeddingsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local { model_dir } => write!(f, "Local({})", model_dir.display()),
            Self::OpenAi(c) => write!(
                f,
                "OpenAi({} {} {}d, key [redacted])",
                c.base_url, c.model, c.dims
            ),
        }
    }
}

/// The platform's Vapi account (seed 001 "Critical architecture rule": one key for every
/// organization) and how Vapi's requests to us are authenticated (contracts/vapi.md §3).
///
/// - `VAPI_PRIVATE_KEY`: the platform's private API key; unset, agent saves, call-backs and
///   dual-sync answer 503 `vapi_not_configured`.
/// - `VAPI_API_BASE_URL`: default `https://api.vapi.ai`.
/// - `VAPI_WEBHOOK_SECRET` (and `VAPI_WEBHOOK_SECRET_PREVIOUS` during a rotation): the secret
///   Vapi's requests must carry; unset, every webhook and tool request is refused.
/// - `VAPI_WEBHOOK_AUTH`: `secret` (default: the header `VAPI_WEBHOOK_HEADER`, default
///   `x-vapi-secret`, carries the secret), `bearer` (`Authorization: Bearer <secret>`) or `hmac`
///   (a signature over the raw body, with `VAPI_WEBHOOK_SIGNATURE_HEADER` default `x-signature`,
///   `VAPI_WEBHOOK_TIMESTAMP_HEADER` default `x-timestamp` (`none` for no timestamp),
///   `VAPI_WEBHOOK_PAYLOAD_FORMAT` default `{timestamp}.{body}`, `VAPI_WEBHOOK_ALGORITHM`
///   `sha256|sha512|sha1`, `VAPI_WEBHOOK_ENCODING` `hex|base64`, `VAPI_WEBHOOK_SIGNATURE_PREFIX`).
/// - `VAPI_WEBHOOK_CREDENTIAL_ID`: a Vapi custom credential to name in `server.credentialId`
///   instead of sending the secret as a static header; required for `hmac` (Vapi signs only
///   through a credential).
#[derive(Clone, Default)]
pub struct VapiConfig {
    /// `VAPI_PRIVATE_KEY`.
    pub private_key: Option<secrecy::SecretString>,
    /// `VAPI_API_BASE_URL`.
    pub base_url: String,
    /// How requests are checked; `None` refuses all.
    pub webhook: Option<vapi_client::Scheme>,
    /// What is written into the `server` objects given to Vapi.
    pub server_auth: Option<voice_agent::ServerAuth>,
}

impl std::fmt::Debug for VapiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapiConfig")
            .field(
                "private_key",
                &self.private_key.as_ref().map(|_| "[redacted]"),
            )
            .field("base_url", &self.base_url)
            .field("webhook", &self.webhook.as_ref().map(|_| "[configured]"))
            .field("server_auth", &self.server_auth)
            .finish()
    }
}

/// Vapi's public API.
pub const VAPI_DEFAULT_BASE_URL: &str = "https://api.vapi.ai";

/// The environment as [`::config`] deserializes it: one field per variable, named as the
/// variable in lower case; unset and blank variables are `None`. Numbers, booleans, addresses
/// and the fixed choices are parsed here (a malformed one is named by [`from_config_error`]);
/// ranges and the rules between variables are checked while building the [`Config`].
#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct Env {
    bind_addr: Option<SocketAddr>,
    database_url: Option<String>,
    database_owner_url: Option<String>,
    migrate_on_startup: Option<bool>,
    db_pool_size: Option<usize>,
    db_pool_shards: Option<usize>,
    db_statement_timeout_ms: Option<u64>,
    http_json_limit_bytes: Option<usize>,
    http_body_limit_bytes: Option<usize>,
    http_workers: Option<usize>,
    http_request_head_timeout_ms: Option<u64>,
    http_body_timeout_secs: Option<u64>,
    http_max_requests_per_client: Option<usize>,
    trusted_proxies: Option<String>,
    shutdown_timeout_secs: Option<u64>,
    log_format: Option<LogFormat>,
    jwt_secret: Option<String>,
    api_key_pepper: Option<String>,
    credentials_keys: Option<String>,
    credentials_active_key: Option<String>,
    twilio_api_base_url: Option<String>,
    resend_api_base_url: Option<String>,
    elevenlabs_api_base_url: Option<String>,
    google_calendar_api_base_url: Option<String>,
    google_client_id: Option<String>,
    google_client_secret: Option<String>,
    google_redirect_uri: Option<String>,
    google_oauth_auth_url: Option<String>,
    google_oauth_token_url: Option<String>,
    google_userinfo_url: Option<String>,
    public_base_url: Option<String>,
    ws_heartbeat_secs: Option<u64>,
    ws_send_queue: Option<usize>,
    job_workers: Option<usize>,
    job_claim: Option<i32>,
    job_claim_batched: Option<i32>,
    job_lease_secs: Option<u64>,
    vapi_private_key: Option<String>,
    vapi_api_base_url: Option<String>,
    vapi_webhook_secret: Option<String>,
    vapi_webhook_secret_previous: Option<String>,
    vapi_webhook_credential_id: Option<String>,
    vapi_webhook_auth: Option<VapiWebhookAuth>,
    vapi_webhook_header: Option<String>,
    vapi_webhook_signature_header: Option<String>,
    vapi_webhook_timestamp_header: Option<String>,
    vapi_webhook_payload_format: Option<String>,
    vapi_webhook_signature_prefix: Option<String>,
    vapi_webhook_algorithm: Option<vapi_client::auth::Algorithm>,
    vapi_webhook_encoding: Option<vapi_client::auth::Encoding>,
    embeddings_provider: Option<EmbeddingsProvider>,
    embeddings_api_key: Option<String>,
    openai_api_key: Option<String>,
    embeddings_base_url: Option<String>,
    embeddings_model: Option<String>,
    embeddings_dimensions: Option<usize>,
    embedding_model_dir: Option<std::path::PathBuf>,
    kb_similarity_threshold: Option<f32>,
    kb_ungrounded_threshold: Option<f32>,
    console_dir: Option<std::path::PathBuf>,
    console_media_sources: Option<String>,
    webhook_retry_schedule: Option<String>,
    webhook_timeout_secs: Option<u64>,
    webhook_disable_after_secs: Option<u64>,
    webhook_endpoint_concurrency: Option<usize>,
    webhook_allowed_networks: Option<String>,
    rate_limit_org_per_min: Option<u32>,
    rate_limit_key_per_min: Option<u32>,
    cors_allowed_origins: Option<String>,
}

/// `VAPI_WEBHOOK_AUTH`: how Vapi's requests carry the secret.
#[derive(Clone, Copy, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum VapiWebhookAuth {
    Secret,
    Bearer,
    Hmac,
}

/// `EMBEDDINGS_PROVIDER`.
#[derive(Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum EmbeddingsProvider {
    OpenAi,
    Local,
}

/// `config`'s error as ours: the variable named in upper case, its value never repeated (the
/// messages of `At` errors may quote it, so only the variable is kept).
fn from_config_error(error: ::config::ConfigError) -> ConfigError {
    use ::config::ConfigError as E;
    let var = |key: Option<String>| key.unwrap_or_default().to_ascii_uppercase();
    match error {
        E::Type { key, expected, .. } => invalid(var(key), format!("expected {expected}")),
        E::At { key, .. } => invalid(var(key), "malformed (see the README for its form)"),
        _ => invalid("the environment".into(), "could not be read"),
    }
}

fn invalid(var: String, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var,
        reason: reason.into(),
    }
}

fn required(var: &str, value: Option<&String>) -> Result<String, ConfigError> {
    value.cloned().ok_or_else(|| ConfigError::Missing {
        var: var.into(),
        why: "",
    })
}

/// `value` (or `default` when unset) if it lies in `range`.
fn within<T: PartialOrd + std::fmt::Display + Copy>(
    var: &str,
    value: Option<T>,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError> {
    let value = value.unwrap_or(default);
    if range.contains(&value) {
        return Ok(value);
    }
    let (start, end) = range.into_inner();
    Err(invalid(var.into(), format!("expected {start} to {end}")))
}

/// [`within`] in whole seconds.
fn seconds(
    var: &str,
    value: Option<u64>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    within(var, value, default, range).map(Duration::from_secs)
}

/// [`within`] in milliseconds, 100 ms to 10 minutes, default 5 s.
fn millis(var: &str, value: Option<u64>) -> Result<Duration, ConfigError> {
    within(var, value, 5_000, 100..=600_000).map(Duration::from_millis)
}

/// A signing key of at least 32 bytes.
fn secret(var: &str, value: Option<&String>) -> Result<secrecy::SecretSlice<u8>, ConfigError> {
    let value = required(var, value)?;
    if value.len() < 32 {
        return Err(invalid(
            var.into(),
            "expected at least 32 bytes of secret (for example `openssl rand -hex 32`)",
        ));
    }
    Ok(value.into_bytes().into())
}

/// An `http://` or `https://` URL without its trailing slash; `default` when unset.
fn http_url(var: &str, value: Option<&String>, default: String) -> Result<String, ConfigError> {
    match value {
        None => Ok(default),
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
            Ok(url.trim_end_matches('/').to_owned())
        }
        Some(_) => Err(invalid(var.into(), "expected an http:// or https:// URL")),
    }
}

fn postgres_url(var: &str, raw: String) -> Result<String, ConfigError> {
    if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
        Ok(raw)
    } else {
        Err(invalid(
            var.into(),
            "expected a postgres:// or postgresql:// URL",
        ))
    }
}

/// A comma-separated list, each item trimmed and parsed; empty when unset.
fn list<T: std::str::FromStr>(
    var: &str,
    raw: Option<&String>,
    expected: &str,
) -> Result<Vec<T>, ConfigError> {
    raw.map_or(Ok(Vec::new()), |raw| {
        raw.split(',')
            .map(|item| item.trim().parse::<T>())
            .collect::<Result<_, _>>()
            .map_err(|_| invalid(var.into(), expected))
    })
}

/// Comma-separated `scheme://host[:port]` origins, without a path or trailing slash.
fn origins(var: &str, raw: Option<&String>) -> Result<Vec<String>, ConfigError> {
    let urls: Vec<url::Url> = list(var, raw, "expected origins such as https://crm.example.com")?;
    urls.into_iter()
        .map(|u| {
            let valid =
                matches!(u.scheme(), "https" | "http") && u.path() == "/" && u.host().is_some();
            valid
                .then(|| u.as_str().trim_end_matches('/').to_owned())
                .ok_or_else(|| {
                    invalid(
                        var.into(),
                        "expected origins such as https://crm.example.com",
                    )
                })
        })
        .collect()
}

impl Env {
    /// `DATABASE_URL` and, while migrations run at start-up, `DATABASE_OWNER_URL`.
    fn database_urls(
        &self,
    ) -> Result<(secrecy::SecretString, Option<secrecy::SecretString>), ConfigError> {
        let url = required("DATABASE_URL", self.database_url.as_ref())?;
        let runtime = postgres_url("DATABASE_URL", url)?.into();
        let owner = match &self.database_owner_url {
            Some(url) => Some(postgres_url("DATABASE_OWNER_URL", url.clone())?.into()),
            None if self.migrate_on_startup.unwrap_or(true) => {
                return Err(ConfigError::Missing {
                    var: "DATABASE_OWNER_URL".into(),
                    why: " (needed to run migrations while MIGRATE_ON_STARTUP is true)",
                });
            }
            None => None,
        };
        Ok((runtime, owner))
    }

    fn webhooks(&self) -> Result<WebhookConfig, ConfigError> {
        let defaults = webhooks::DeliveryConfig::default();
        let schedule = match &self.webhook_retry_schedule {
            None => defaults.schedule,
            Some(raw) => raw.parse().map_err(|e| {
                invalid(
                    "WEBHOOK_RETRY_SCHEDULE".into(),
                    format!("expected delays such as `5s,5m,2h` ({e})"),
                )
            })?,
        };
        let delivery = webhooks::DeliveryConfig {
            schedule,
            timeout: seconds(
                "WEBHOOK_TIMEOUT_SECS",
                self.webhook_timeout_secs,
                15,
                1..=60,
            )?,
            disable_after: seconds(
                "WEBHOOK_DISABLE_AFTER_SECS",
                self.webhook_disable_after_secs,
                defaults.disable_after.as_secs(),
                1..=366 * 24 * 3600,
            )?,
            endpoint_concurrency: within(
                "WEBHOOK_ENDPOINT_CONCURRENCY",
                self.webhook_endpoint_concurrency,
                defaults.endpoint_concurrency,
                1..=64,
            )?,
        };
        Ok(WebhookConfig {
            delivery,
            allowed_networks: list(
                "WEBHOOK_ALLOWED_NETWORKS",
                self.webhook_allowed_networks.as_ref(),
                "comma-separated CIDR networks such as 10.0.0.0/8",
            )?,
        })
    }

    fn google(&self) -> Result<Option<integrations::google::GoogleOAuthConfig>, ConfigError> {
        let (id, secret, redirect) = match (
            &self.google_client_id,
            &self.google_client_secret,
            &self.google_redirect_uri,
        ) {
            (None, None, None) => return Ok(None),
            (Some(id), Some(secret), Some(redirect)) => (id, secret, redirect),
            (id, secret, _) => {
                let var = if id.is_none() {
                    "GOOGLE_CLIENT_ID"
                } else if secret.is_none() {
                    "GOOGLE_CLIENT_SECRET"
                } else {
                    "GOOGLE_REDIRECT_URI"
                };
                return Err(ConfigError::Missing {
                    var: var.into(),
                    why: " (the Google OAuth client needs GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET and GOOGLE_REDIRECT_URI together)",
                });
            }
        };
        let mut config = integrations::google::GoogleOAuthConfig::with_google_endpoints(
            id.clone(),
            secrecy::SecretString::from(secret.clone()),
            http_url("GOOGLE_REDIRECT_URI", Some(redirect), String::new())?,
        );
        let overridden =
            |var, value: &Option<String>, default| http_url(var, value.as_ref(), default);
        config.auth_url = overridden(
            "GOOGLE_OAUTH_AUTH_URL",
            &self.google_oauth_auth_url,
            config.auth_url,
        )?;
        config.token_url = overridden(
            "GOOGLE_OAUTH_TOKEN_URL",
            &self.google_oauth_token_url,
            config.token_url,
        )?;
        config.userinfo_url = overridden(
            "GOOGLE_USERINFO_URL",
            &self.google_userinfo_url,
            config.userinfo_url,
        )?;
        Ok(Some(config))
    }

    fn retrieval(&self) -> Result<RetrievalThresholds, ConfigError> {
        let threshold = |var, value: Option<f32>| {
            value
                .map(|v| within(var, Some(v), 0.0, 0.0..=1.0))
                .transpose()
        };
        Ok(RetrievalThresholds {
            similarity: threshold("KB_SIMILARITY_THRESHOLD", self.kb_similarity_threshold)?,
            ungrounded: threshold("KB_UNGROUNDED_THRESHOLD", self.kb_ungrounded_threshold)?,
        })
    }

    fn console(&self) -> Result<crate::console::ConsoleConfig, ConfigError> {
        if let Some(dir) = &self.console_dir
            && !dir.join("index.html").is_file()
        {
            return Err(invalid(
                "CONSOLE_DIR".into(),
                "expected a built console (a directory with index.html)",
            ));
        }
        let media_sources = match &self.console_media_sources {
            None => vec![crate::console::DEFAULT_MEDIA_SOURCE.to_owned()],
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|origin| {
                    let valid = (origin.starts_with("https://") || origin.starts_with("http://"))
                        && !origin.contains(|c: char| c.is_whitespace() || c == ';' || c == '\'');
                    valid
                        .then(|| origin.trim_end_matches('/').to_owned())
                        .ok_or_else(|| {
                            invalid(
                                "CONSOLE_MEDIA_SOURCES".into(),
                                "expected comma-separated http:// or https:// origins",
                            )
                        })
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(crate::console::ConsoleConfig {
            dir: self.console_dir.clone(),
            media_sources,
        })
    }

    fn embeddings(&self) -> Result<EmbeddingsConfig, ConfigError> {
        use rag::embed::openai::{DEFAULT_BASE_URL, DEFAULT_DIMS, DEFAULT_MODEL, OpenAiConfig};
        let key = self
            .embeddings_api_key
            .as_ref()
            .or(self.openai_api_key.as_ref());
        let Some(key) = key.filter(|_| self.embeddings_provider != Some(EmbeddingsProvider::Local))
        else {
            if self.embeddings_provider == Some(EmbeddingsProvider::OpenAi) {
                return Err(ConfigError::Missing {
                    var: "EMBEDDINGS_API_KEY".into(),
                    why: " (EMBEDDINGS_PROVIDER is openai)",
                });
            }
            return Ok(EmbeddingsConfig::Local {
                model_dir: self
                    .embedding_model_dir
                    .clone()
                    .unwrap_or_else(rag::embed::local::default_model_dir),
            });
        };
        let mut config = OpenAiConfig::new(key.clone().into());
        config.base_url = http_url(
            "EMBEDDINGS_BASE_URL",
            self.embeddings_base_url.as_ref(),
            DEFAULT_BASE_URL.into(),
        )?;
        config.model = self
            .embeddings_model
            .clone()
            .unwrap_or_else(|| DEFAULT_MODEL.into());
        config.send_dimensions = self.embeddings_dimensions.is_some();
        config.dims = within(
            "EMBEDDINGS_DIMENSIONS",
            self.embeddings_dimensions,
            DEFAULT_DIMS,
            1..=8192,
        )?;
        Ok(EmbeddingsConfig::OpenAi(config))
    }

    fn vapi(&self) -> Result<VapiConfig, ConfigError> {
        use secrecy::SecretString;
        let base_url = http_url(
            "VAPI_API_BASE_URL",
            self.vapi_api_base_url.as_ref(),
            VAPI_DEFAULT_BASE_URL.into(),
        )?;
        let private_key = self.vapi_private_key.clone().map(SecretString::from);
        let Some(secret) = self.vapi_webhook_secret.clone() else {
            return Ok(VapiConfig {
                private_key,
                base_url,
                webhook: None,
                server_auth: None,
            });
        };
        let secrets: Vec<SecretString> = std::iter::once(secret.clone())
            .chain(self.vapi_webhook_secret_previous.clone())
            .map(SecretString::from)
            .collect();
        let (webhook, header) = self.vapi_scheme(secret, secrets)?;
        let server_auth = match (self.vapi_webhook_credential_id.clone(), header) {
            (Some(id), _) => voice_agent::ServerAuth::Credential(id),
            (None, Some((name, value))) => voice_agent::ServerAuth::Header {
                name,
                value: SecretString::from(value),
            },
            (None, None) => voice_agent::ServerAuth::None,
        };
        Ok(VapiConfig {
            private_key,
            base_url,
            webhook: Some(webhook),
            server_auth: Some(server_auth),
        })
    }

    /// How Vapi's requests are checked (`VAPI_WEBHOOK_AUTH`, `VAPI_WEBHOOK_HEADER`), and the
    /// header our assistants are told to send (none for HMAC, which Vapi signs through a
    /// credential).
    fn vapi_scheme(
        &self,
        secret: String,
        secrets: Vec<secrecy::SecretString>,
    ) -> Result<(vapi_client::Scheme, Option<(String, String)>), ConfigError> {
        let header = |default: &str| {
            self.vapi_webhook_header
                .as_deref()
                .unwrap_or(default)
                .to_ascii_lowercase()
        };
        match self.vapi_webhook_auth.unwrap_or(VapiWebhookAuth::Secret) {
            VapiWebhookAuth::Secret => {
                let header = header("x-vapi-secret");
                let scheme = vapi_client::Scheme::Secret {
                    header: header.clone(),
                    secrets,
                };
                Ok((scheme, Some((header, secret))))
            }
            VapiWebhookAuth::Bearer => {
                let header = header("authorization");
                let scheme = vapi_client::Scheme::Bearer {
                    header: header.clone(),
                    prefix: true,
                    tokens: secrets,
                };
                Ok((scheme, Some((header, format!("Bearer {secret}")))))
            }
            VapiWebhookAuth::Hmac if self.vapi_webhook_credential_id.is_none() => {
                Err(ConfigError::Missing {
                    var: "VAPI_WEBHOOK_CREDENTIAL_ID".into(),
                    why: " (Vapi signs requests only through a credential: create an HMAC credential with this secret and name it here)",
                })
            }
            VapiWebhookAuth::Hmac => Ok((
                vapi_client::Scheme::Hmac(self.vapi_hmac_plan(secrets)),
                None,
            )),
        }
    }

    /// Vapi's HMAC signing plan over `secrets` (current first); `VAPI_WEBHOOK_TIMESTAMP_HEADER`
    /// `none` signs without a timestamp.
    fn vapi_hmac_plan(&self, secrets: Vec<secrecy::SecretString>) -> vapi_client::HmacPlan {
        let mut plan = vapi_client::HmacPlan::with_defaults(secrets[0].clone());
        plan.secrets = secrets;
        if let Some(h) = &self.vapi_webhook_signature_header {
            plan.signature_header = h.to_ascii_lowercase();
        }
        match self.vapi_webhook_timestamp_header.as_deref() {
            Some("none") => plan.timestamp_header = None,
            Some(h) => plan.timestamp_header = Some(h.to_ascii_lowercase()),
            None => {}
        }
        if let Some(f) = &self.vapi_webhook_payload_format {
            plan.payload_format.clone_from(f);
        }
        plan.signature_prefix
            .clone_from(&self.vapi_webhook_signature_prefix);
        plan.algorithm = self.vapi_webhook_algorithm.unwrap_or(plan.algorithm);
        plan.encoding = self.vapi_webhook_encoding.unwrap_or(plan.encoding);
        plan
    }

    /// The edge's limits and trusted proxies.
    fn edge(&self) -> Result<crate::edge::EdgeConfig, ConfigError> {
        Ok(crate::edge::EdgeConfig {
            body_timeout: seconds(
                "HTTP_BODY_TIMEOUT_SECS",
                self.http_body_timeout_secs,
                30,
                1..=3600,
            )?,
            max_requests_per_client: within(
                "HTTP_MAX_REQUESTS_PER_CLIENT",
                self.http_max_requests_per_client,
                256,
                1..=100_000,
            )?,
            trusted_proxies: list(
                "TRUSTED_PROXIES",
                self.trusted_proxies.as_ref(),
                "comma-separated IP addresses",
            )?,
        })
    }

    /// Base URLs of the providers' APIs (`*_API_BASE_URL`; tests point them at fakes).
    /// `JOB_CLAIM` and `JOB_CLAIM_BATCHED`, each 1–1000, defaults from `runner`.
    fn job_claims(&self, runner: &jobs::RunnerConfig) -> Result<(i32, i32), ConfigError> {
        Ok((
            within("JOB_CLAIM", self.job_claim, runner.batch, 1..=1000)?,
            within(
                "JOB_CLAIM_BATCHED",
                self.job_claim_batched,
                runner.batched,
                1..=1000,
            )?,
        ))
    }

    fn provider_endpoints(&self) -> Result<integrations::ProviderEndpoints, ConfigError> {
        let defaults = integrations::ProviderEndpoints::default();
        Ok(integrations::ProviderEndpoints {
            twilio: http_url(
                "TWILIO_API_BASE_URL",
                self.twilio_api_base_url.as_ref(),
                defaults.twilio,
            )?,
            resend: http_url(
                "RESEND_API_BASE_URL",
                self.resend_api_base_url.as_ref(),
                defaults.resend,
            )?,
            elevenlabs: http_url(
                "ELEVENLABS_API_BASE_URL",
                self.elevenlabs_api_base_url.as_ref(),
                defaults.elevenlabs,
            )?,
            google_calendar: http_url(
                "GOOGLE_CALENDAR_API_BASE_URL",
                self.google_calendar_api_base_url.as_ref(),
                defaults.google_calendar,
            )?,
        })
    }
}

/// The process environment as `(variable, value)` pairs; variables that are not UTF-8 are left
/// out (they count as unset).
pub fn environment() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
}

impl Config {
    /// Reads the process environment (variables that are not UTF-8 count as unset).
    ///
    /// # Errors
    /// The first [`ConfigError`] found.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(environment())
    }

    /// Reads configuration from `(variable, value)` pairs (the environment, or a list in
    /// tests); blank values count as unset.
    ///
    /// # Errors
    /// The first [`ConfigError`] found.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars = vars
            .into_iter()
            .filter(|(_, value)| !value.trim().is_empty())
            .collect();
        let env: Env = ::config::Config::builder()
            .add_source(::config::Environment::default().source(Some(vars)))
            .build()
            .and_then(::config::Config::try_deserialize)
            .map_err(from_config_error)?;
        Self::from_parsed(&env)
    }

    fn from_parsed(env: &Env) -> Result<Self, ConfigError> {
        let (database_url, database_owner_url) = env.database_urls()?;
        let runner = jobs::RunnerConfig::default();
        let (job_claim, job_claim_batched) = env.job_claims(&runner)?;
        let limits = crate::rate_limit::RateLimitConfig::default();
        let mib = 1024 * 1024;
        Ok(Self {
            bind_addr: env.bind_addr.unwrap_or(([127, 0, 0, 1], 8080).into()),
            database_url,
            database_owner_url,
            migrate_on_startup: env.migrate_on_startup.unwrap_or(true),
            db_pool_size: within("DB_POOL_SIZE", env.db_pool_size, 16, 1..=1000)?,
            db_pool_shards: within("DB_POOL_SHARDS", env.db_pool_shards, 0, 0..=64)?,
            db_statement_timeout: millis("DB_STATEMENT_TIMEOUT_MS", env.db_statement_timeout_ms)?,
            json_limit_bytes: within(
                "HTTP_JSON_LIMIT_BYTES",
                env.http_json_limit_bytes,
                mib / 4,
                1..=1024 * mib,
            )?,
            body_limit_bytes: within(
                "HTTP_BODY_LIMIT_BYTES",
                env.http_body_limit_bytes,
                10 * mib,
                1..=1024 * mib,
            )?,
            http_workers: env
                .http_workers
                .map(|w| within("HTTP_WORKERS", Some(w), 1, 1..=256))
                .transpose()?,
            request_head_timeout: millis(
                "HTTP_REQUEST_HEAD_TIMEOUT_MS",
                env.http_request_head_timeout_ms,
            )?,
            edge: env.edge()?,
            shutdown_timeout: seconds(
                "SHUTDOWN_TIMEOUT_SECS",
                env.shutdown_timeout_secs,
                30,
                0..=600,
            )?,
            log_format: env.log_format.unwrap_or(LogFormat::Json),
            jwt_secret: secret("JWT_SECRET", env.jwt_secret.as_ref())?,
            api_key_pepper: secret("API_KEY_PEPPER", env.api_key_pepper.as_ref())?,
            credentials_keys: required("CREDENTIALS_KEYS", env.credentials_keys.as_ref())?.into(),
            credentials_active_key: required(
                "CREDENTIALS_ACTIVE_KEY",
                env.credentials_active_key.as_ref(),
            )?,
            provider_endpoints: env.provider_endpoints()?,
            google: env.google()?,
            public_base_url: env
                .public_base_url
                .as_ref()
                .map(|url| http_url("PUBLIC_BASE_URL", Some(url), String::new()))
                .transpose()?,
            ws_heartbeat: seconds("WS_HEARTBEAT_SECS", env.ws_heartbeat_secs, 30, 1..=3600)?,
            ws_send_queue: within("WS_SEND_QUEUE", env.ws_send_queue, 256, 1..=65_536)?,
            job_workers: within("JOB_WORKERS", env.job_workers, runner.workers, 0..=256)?,
            job_claim,
            job_claim_batched,
            job_lease: seconds(
                "JOB_LEASE_SECS",
                env.job_lease_secs,
                runner.lease.as_secs(),
                5..=3600,
            )?,
            vapi: env.vapi()?,
            embeddings: env.embeddings()?,
            retrieval: env.retrieval()?,
            console: env.console()?,
            webhooks: env.webhooks()?,
            rate_limits: crate::rate_limit::RateLimitConfig {
                org_per_minute: env.rate_limit_org_per_min.unwrap_or(limits.org_per_minute),
                key_per_minute: env.rate_limit_key_per_min.unwrap_or(limits.key_per_minute),
            },
            cors_origins: origins("CORS_ALLOWED_ORIGINS", env.cors_allowed_origins.as_ref())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
    }

    const RUNTIME: (&str, &str) = ("DATABASE_URL", "postgres://rt:secret@db/app");
    const OWNER: (&str, &str) = ("DATABASE_OWNER_URL", "postgres://own:secret@db/app");
    const JWT: (&str, &str) = ("JWT_SECRET", "0123456789abcdef0123456789abcdef");
    const PEPPER: (&str, &str) = ("API_KEY_PEPPER", "fedcba9876543210fedcba9876543210");
    const KEYS: (&str, &str) = (
        "CREDENTIALS_KEYS",
        "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    );
    const ACTIVE: (&str, &str) = ("CREDENTIALS_ACTIVE_KEY", "k1");

    #[test]
    fn defaults_apply_when_only_the_urls_are_set() {
        let c = load(&[RUNTIME, OWNER, JWT, PEPPER, KEYS, ACTIVE]).expect("config");
        assert_eq!(c.bind_addr.to_string(), "127.0.0.1:8080");
        assert!(c.migrate_on_startup);
        assert_eq!(c.db_pool_size, 16);
        assert_eq!(c.db_statement_timeout, Duration::from_secs(5));
        assert_eq!(c.json_limit_bytes, 262_144);
        assert_eq!(c.log_format, LogFormat::Json);
    }

    #[test]
    fn debug_output_never_shows_the_database_passwords() {
        let c = load(&[RUNTIME, OWNER, JWT, PEPPER, KEYS, ACTIVE]).expect("config");
        let shown = format!("{c:?}");
        for (_, url) in [RUNTIME, OWNER] {
            // `rt:secret`: the user and password part of the URL.
            let credentials = url
                .split("//")
                .nth(1)
                .and_then(|r| r.split('@').next())
                .unwrap();
            assert!(!shown.contains(credentials), "{shown}");
        }
    }

    #[test]
    fn a_missing_database_url_is_named() {
        let err = load(&[OWNER, JWT, PEPPER, KEYS, ACTIVE]).unwrap_err();
        assert_eq!(err.to_string(), "configuration: DATABASE_URL is not set");
    }

    #[test]
    fn the_owner_url_is_required_only_for_migrating() {
        let err = load(&[RUNTIME, JWT, PEPPER, KEYS, ACTIVE]).unwrap_err();
        assert!(
            err.to_string().contains("DATABASE_OWNER_URL is not set"),
            "{err}"
        );
        let c = load(&[
            RUNTIME,
            JWT,
            PEPPER,
            KEYS,
            ACTIVE,
            ("MIGRATE_ON_STARTUP", "false"),
        ])
        .expect("config");
        assert!(c.database_owner_url.is_none());
    }

    #[test]
    fn malformed_values_name_the_variable_without_echoing_it() {
        for (var, value) in [
            ("BIND_ADDR", "nowhere"),
            ("DB_POOL_SIZE", "9999"),
            ("DB_STATEMENT_TIMEOUT_MS", "fast"),
            ("MIGRATE_ON_STARTUP", "maybe"),
            ("LOG_FORMAT", "xml"),
            ("HTTP_WORKERS", "-1"),
            ("TWILIO_API_BASE_URL", "ftp://twilio"),
            ("HTTP_JSON_LIMIT_BYTES", "2000000000"),
            ("VAPI_WEBHOOK_AUTH", "basic"),
            ("EMBEDDINGS_PROVIDER", "cohere"),
            ("CORS_ALLOWED_ORIGINS", "https://crm.example/path"),
            ("TRUSTED_PROXIES", "10.0.0.1, proxy.local"),
        ] {
            let err = load(&[RUNTIME, OWNER, JWT, PEPPER, KEYS, ACTIVE, (var, value)]).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(var) && !text.contains(value), "{text}");
        }
        let err = load(&[
            ("DATABASE_URL", "mysql://user:hunter2@db/app"),
            OWNER,
            JWT,
            PEPPER,
        ])
        .unwrap_err();
        assert!(err.to_string().contains("DATABASE_URL") && !err.to_string().contains("hunter2"));
    }

    #[test]
    fn values_that_look_like_numbers_stay_text_where_text_is_expected() {
        let digits = "12345678901234567890123456789012";
        let c = load(&[
            RUNTIME,
            OWNER,
            ("JWT_SECRET", digits),
            PEPPER,
            KEYS,
            ("CREDENTIALS_ACTIVE_KEY", "1"),
            ("VAPI_WEBHOOK_SECRET", digits),
            ("VAPI_WEBHOOK_AUTH", "bearer"),
            ("DB_POOL_SIZE", "  "),
        ])
        .expect("config");
        assert_eq!(c.credentials_active_key, "1");
        assert_eq!(c.db_pool_size, 16, "a blank variable counts as unset");
        match c.vapi.server_auth {
            Some(voice_agent::ServerAuth::Header { name, value }) => {
                use secrecy::ExposeSecret as _;
                assert_eq!(name, "authorization");
                assert_eq!(value.expose_secret(), format!("Bearer {digits}"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn debug_output_redacts_the_urls_and_secrets() {
        let c = load(&[RUNTIME, OWNER, JWT, PEPPER, KEYS, ACTIVE]).expect("config");
        let debug = format!("{c:?}");
        for secret in [":secret@", JWT.1, PEPPER.1, KEYS.1] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }

    #[test]
    fn the_google_client_is_all_or_nothing() {
        assert!(
            load(&[RUNTIME, OWNER, JWT, PEPPER, KEYS, ACTIVE])
                .unwrap()
                .google
                .is_none()
        );
        let partial = [
            RUNTIME,
            OWNER,
            JWT,
            PEPPER,
            KEYS,
            ACTIVE,
            ("GOOGLE_CLIENT_ID", "id"),
        ];
        let err = load(&partial).unwrap_err();
        assert!(
            err.to_string().contains("GOOGLE_CLIENT_SECRET is not set"),
            "{err}"
        );
        let c = load(&[
            RUNTIME,
            OWNER,
            JWT,
            PEPPER,
            KEYS,
            ACTIVE,
            ("GOOGLE_CLIENT_ID", "id"),
            ("GOOGLE_CLIENT_SECRET", "google-secret"),
            (
                "GOOGLE_REDIRECT_URI",
                "https://platform.example/api/integrations/google/oauth/callback",
            ),
        ])
        .unwrap();
        assert_eq!(
            c.google.as_ref().unwrap().token_url,
            "https://oauth2.googleapis.com/token"
        );
        assert!(!format!("{c:?}").contains("google-secret"));
    }

    #[test]
    fn short_secrets_are_refused() {
        let err = load(&[
            RUNTIME,
            OWNER,
            PEPPER,
            KEYS,
            ACTIVE,
            ("JWT_SECRET", "too-short"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("JWT_SECRET is invalid"), "{err}");
        let err = load(&[RUNTIME, OWNER, JWT, KEYS, ACTIVE]).unwrap_err();
        assert_eq!(err.to_string(), "configuration: API_KEY_PEPPER is not set");
    }
}
