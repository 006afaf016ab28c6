//! Typed configuration from the environment. Start-up stops with a [`ConfigError`] naming the
//! variable that is missing or malformed. The variables are listed in the README.

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
        var: &'static str,
        /// Why it is required, when that depends on another variable (starts with a separator).
        why: &'static str,
    },
    /// A variable is set but malformed.
    #[error("configuration: {var} is invalid: {reason}")]
    Invalid {
        /// The variable's name.
        var: &'static str,
        /// What is expected.
        reason: String,
    },
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// `HTTP_JSON_LIMIT_BYTES`: largest JSON body accepted, in bytes. Default 262144 (256 KiB).
    pub json_limit_bytes: usize,
    /// `HTTP_BODY_LIMIT_BYTES`: largest non-JSON body accepted, in bytes. Default 10485760 (10 MiB).
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
    /// (5 days). `WEBHOOK_ENDPOINT_CONCURRENCY`: attempts in flight per endpoint and instance,
    /// 1–64, default 4.
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

struct Vars<F>(F);

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    fn get(&self, var: &'static str) -> Option<String> {
        (self.0)(var).filter(|v| !v.trim().is_empty())
    }

    fn required(&self, var: &'static str, why: &'static str) -> Result<String, ConfigError> {
        self.get(var).ok_or(ConfigError::Missing { var, why })
    }

    fn parsed<T: std::str::FromStr>(
        &self,
        var: &'static str,
        default: T,
        expected: &str,
        valid: impl Fn(&T) -> bool,
    ) -> Result<T, ConfigError> {
        match self.get(var) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse::<T>()
                .ok()
                .filter(|v| valid(v))
                .ok_or_else(|| ConfigError::Invalid {
                    var,
                    reason: format!("expected {expected}"),
                }),
        }
    }

    fn secret(&self, var: &'static str) -> Result<secrecy::SecretSlice<u8>, ConfigError> {
        let value = self.required(var, "")?;
        if value.len() < 32 {
            return Err(ConfigError::Invalid {
                var,
                reason: "expected at least 32 bytes of secret (for example `openssl rand -hex 32`)"
                    .into(),
            });
        }
        Ok(value.into_bytes().into())
    }

    fn http_url(&self, var: &'static str, default: String) -> Result<String, ConfigError> {
        match self.get(var) {
            None => Ok(default),
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                Ok(url.trim_end_matches('/').to_owned())
            }
            Some(_) => Err(ConfigError::Invalid {
                var,
                reason: "expected an http:// or https:// URL".into(),
            }),
        }
    }

    /// Comma-separated `scheme://host[:port]` origins, without a path or trailing slash.
    fn origins(&self, var: &'static str) -> Result<Vec<String>, ConfigError> {
        let Some(raw) = self.get(var) else {
            return Ok(Vec::new());
        };
        raw.split(',')
            .map(|o| {
                let o = o.trim().trim_end_matches('/');
                let valid = url::Url::parse(o).is_ok_and(|u| {
                    matches!(u.scheme(), "https" | "http") && u.path() == "/" && u.host().is_some()
                });
                valid
                    .then(|| o.to_owned())
                    .ok_or_else(|| ConfigError::Invalid {
                        var,
                        reason: format!("{o:?} is not an origin such as https://crm.example.com"),
                    })
            })
            .collect()
    }

    fn webhooks(&self) -> Result<WebhookConfig, ConfigError> {
        let defaults = webhooks::DeliveryConfig::default();
        let schedule = match self.get("WEBHOOK_RETRY_SCHEDULE") {
            None => defaults.schedule,
            Some(raw) => raw.parse().map_err(|e| ConfigError::Invalid {
                var: "WEBHOOK_RETRY_SCHEDULE",
                reason: format!("expected delays such as `5s,5m,2h` ({e})"),
            })?,
        };
        let secs = Duration::from_secs;
        let delivery = webhooks::DeliveryConfig {
            schedule,
            timeout: secs(self.parsed(
                "WEBHOOK_TIMEOUT_SECS",
                15,
                "seconds from 1 to 60",
                |v: &u64| (1..=60).contains(v),
            )?),
            disable_after: secs(self.parsed(
                "WEBHOOK_DISABLE_AFTER_SECS",
                defaults.disable_after.as_secs(),
                "seconds",
                |_| true,
            )?),
            endpoint_concurrency: self.parsed(
                "WEBHOOK_ENDPOINT_CONCURRENCY",
                defaults.endpoint_concurrency,
                "a whole number from 1 to 64",
                |v| (1..=64).contains(v),
            )?,
        };
        let allowed_networks = match self.get("WEBHOOK_ALLOWED_NETWORKS") {
            None => Vec::new(),
            Some(raw) => raw
                .split(',')
                .map(|n| n.trim().parse::<ipnet::IpNet>())
                .collect::<Result<_, _>>()
                .map_err(|_| ConfigError::Invalid {
                    var: "WEBHOOK_ALLOWED_NETWORKS",
                    reason: "comma-separated CIDR networks such as 10.0.0.0/8".into(),
                })?,
        };
        Ok(WebhookConfig {
            delivery,
            allowed_networks,
        })
    }

    fn google(&self) -> Result<Option<integrations::google::GoogleOAuthConfig>, ConfigError> {
        let id = self.get("GOOGLE_CLIENT_ID");
        let secret = self.get("GOOGLE_CLIENT_SECRET");
        let redirect = self.get("GOOGLE_REDIRECT_URI");
        let (id, secret, redirect) = match (id, secret, redirect) {
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
                    var,
                    why: " (the Google OAuth client needs GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET and GOOGLE_REDIRECT_URI together)",
                });
            }
        };
        let mut config = integrations::google::GoogleOAuthConfig::with_google_endpoints(
            id,
            secrecy::SecretString::from(secret),
            self.http_url("GOOGLE_REDIRECT_URI", redirect)?,
        );
        config.auth_url = self.http_url("GOOGLE_OAUTH_AUTH_URL", config.auth_url)?;
        config.token_url = self.http_url("GOOGLE_OAUTH_TOKEN_URL", config.token_url)?;
        config.userinfo_url = self.http_url("GOOGLE_USERINFO_URL", config.userinfo_url)?;
        Ok(Some(config))
    }

    fn retrieval(&self) -> Result<RetrievalThresholds, ConfigError> {
        let threshold = |var: &'static str| -> Result<Option<f32>, ConfigError> {
            if self.get(var).is_none() {
                return Ok(None);
            }
            self.parsed(var, 0.0_f32, "a number from 0 to 1", |v| {
                (0.0..=1.0).contains(v)
            })
            .map(Some)
        };
        Ok(RetrievalThresholds {
            similarity: threshold("KB_SIMILARITY_THRESHOLD")?,
            ungrounded: threshold("KB_UNGROUNDED_THRESHOLD")?,
        })
    }

    fn console(&self) -> Result<crate::console::ConsoleConfig, ConfigError> {
        let dir = match self.get("CONSOLE_DIR") {
            None => None,
            Some(dir) => {
                let dir = std::path::PathBuf::from(dir.trim());
                if !dir.join("index.html").is_file() {
                    return Err(ConfigError::Invalid {
                        var: "CONSOLE_DIR",
                        reason: "expected a built console (a directory with index.html)".into(),
                    });
                }
                Some(dir)
            }
        };
        let media_sources = match self.get("CONSOLE_MEDIA_SOURCES") {
            None => vec![crate::console::DEFAULT_MEDIA_SOURCE.to_owned()],
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|origin| {
                    let valid = (origin.starts_with("https://") || origin.starts_with("http://"))
                        && !origin.contains(|c: char| c.is_whitespace() || c == ';' || c == '\'');
                    if valid {
                        Ok(origin.trim_end_matches('/').to_owned())
                    } else {
                        Err(ConfigError::Invalid {
                            var: "CONSOLE_MEDIA_SOURCES",
                            reason: "expected comma-separated http:// or https:// origins".into(),
                        })
                    }
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(crate::console::ConsoleConfig { dir, media_sources })
    }

    fn embeddings(&self) -> Result<EmbeddingsConfig, ConfigError> {
        use rag::embed::openai::{DEFAULT_BASE_URL, DEFAULT_MODEL, OpenAiConfig};
        let key = self
            .get("EMBEDDINGS_API_KEY")
            .or_else(|| self.get("OPENAI_API_KEY"));
        let provider = self.get("EMBEDDINGS_PROVIDER");
        match (provider.as_deref().map(str::trim), key) {
            (Some("local"), _) | (None, None) => Ok(EmbeddingsConfig::Local {
                model_dir: self.get("EMBEDDING_MODEL_DIR").map_or_else(
                    rag::embed::local::default_model_dir,
                    std::path::PathBuf::from,
                ),
            }),
            (Some("openai") | None, Some(key)) => {
                let mut config = OpenAiConfig::new(key.into());
                config.base_url = self.http_url("EMBEDDINGS_BASE_URL", DEFAULT_BASE_URL.into())?;
                config.model = self
                    .get("EMBEDDINGS_MODEL")
                    .unwrap_or_else(|| DEFAULT_MODEL.into());
                if self.get("EMBEDDINGS_DIMENSIONS").is_some() {
                    config.dims = self.parsed(
                        "EMBEDDINGS_DIMENSIONS",
                        rag::embed::openai::DEFAULT_DIMS,
                        "a whole number from 1 to 8192",
                        |v| (1..=8192).contains(v),
                    )?;
                    config.send_dimensions = true;
                }
                Ok(EmbeddingsConfig::OpenAi(config))
            }
            (Some("openai"), None) => Err(ConfigError::Missing {
                var: "EMBEDDINGS_API_KEY",
                why: " (EMBEDDINGS_PROVIDER is openai)",
            }),
            (Some(_), _) => Err(ConfigError::Invalid {
                var: "EMBEDDINGS_PROVIDER",
                reason: "expected openai or local".into(),
            }),
        }
    }

    fn vapi(&self) -> Result<VapiConfig, ConfigError> {
        use secrecy::SecretString;
        let base_url = self.http_url("VAPI_API_BASE_URL", VAPI_DEFAULT_BASE_URL.into())?;
        let private_key = self.get("VAPI_PRIVATE_KEY").map(SecretString::from);
        let credential = self.get("VAPI_WEBHOOK_CREDENTIAL_ID");
        let Some(secret) = self.get("VAPI_WEBHOOK_SECRET") else {
            return Ok(VapiConfig {
                private_key,
                base_url,
                webhook: None,
                server_auth: None,
            });
        };
        let secrets: Vec<SecretString> = std::iter::once(secret.clone())
            .chain(self.get("VAPI_WEBHOOK_SECRET_PREVIOUS"))
            .map(SecretString::from)
            .collect();
        let (webhook, header) = self.vapi_scheme(secret, secrets, credential.is_some())?;
        let server_auth = match (credential, header) {
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

    /// How Vapi's requests are checked (`VAPI_WEBHOOK_AUTH`: `secret` (default), `bearer` or
    /// `hmac`; `VAPI_WEBHOOK_HEADER`), and the header our assistants are told to send (none for
    /// HMAC, which Vapi signs through a credential).
    fn vapi_scheme(
        &self,
        secret: String,
        secrets: Vec<secrecy::SecretString>,
        has_credential: bool,
    ) -> Result<(vapi_client::Scheme, Option<(String, String)>), ConfigError> {
        let invalid = |var, reason: &str| ConfigError::Invalid {
            var,
            reason: reason.into(),
        };
        let mode = self
            .get("VAPI_WEBHOOK_AUTH")
            .unwrap_or_else(|| "secret".into());
        match mode.trim() {
            "secret" => {
                let header = self
                    .get("VAPI_WEBHOOK_HEADER")
                    .unwrap_or_else(|| "x-vapi-secret".into())
                    .to_ascii_lowercase();
                Ok((
                    vapi_client::Scheme::Secret {
                        header: header.clone(),
                        secrets,
                    },
                    Some((header, secret)),
                ))
            }
            "bearer" => {
                let header = self
                    .get("VAPI_WEBHOOK_HEADER")
                    .unwrap_or_else(|| "authorization".into())
                    .to_ascii_lowercase();
                Ok((
                    vapi_client::Scheme::Bearer {
                        header: header.clone(),
                        prefix: true,
                        tokens: secrets,
                    },
                    Some((header, format!("Bearer {secret}"))),
                ))
            }
            "hmac" => {
                if !has_credential {
                    return Err(ConfigError::Missing {
                        var: "VAPI_WEBHOOK_CREDENTIAL_ID",
                        why: " (Vapi signs requests only through a credential: create an HMAC credential with this secret and name it here)",
                    });
                }
                Ok((
                    vapi_client::Scheme::Hmac(self.vapi_hmac_plan(secrets)?),
                    None,
                ))
            }
            _ => Err(invalid(
                "VAPI_WEBHOOK_AUTH",
                "expected secret, bearer or hmac",
            )),
        }
    }

    /// Vapi's HMAC signing plan (`VAPI_WEBHOOK_SIGNATURE_HEADER`, `…_TIMESTAMP_HEADER`,
    /// `…_PAYLOAD_FORMAT`, `…_SIGNATURE_PREFIX`, `…_ALGORITHM`, `…_ENCODING`) over `secrets`
    /// (current first).
    fn vapi_hmac_plan(
        &self,
        secrets: Vec<secrecy::SecretString>,
    ) -> Result<vapi_client::HmacPlan, ConfigError> {
        use vapi_client::auth::{Algorithm, Encoding};
        let invalid = |var, reason: &str| ConfigError::Invalid {
            var,
            reason: reason.into(),
        };
        let mut plan = vapi_client::HmacPlan::with_defaults(secrets[0].clone());
        plan.secrets = secrets;
        if let Some(h) = self.get("VAPI_WEBHOOK_SIGNATURE_HEADER") {
            plan.signature_header = h.to_ascii_lowercase();
        }
        match self.get("VAPI_WEBHOOK_TIMESTAMP_HEADER").as_deref() {
            Some("none") => plan.timestamp_header = None,
            Some(h) => plan.timestamp_header = Some(h.to_ascii_lowercase()),
            None => {}
        }
        if let Some(f) = self.get("VAPI_WEBHOOK_PAYLOAD_FORMAT") {
            plan.payload_format = f;
        }
        plan.signature_prefix = self.get("VAPI_WEBHOOK_SIGNATURE_PREFIX");
        plan.algorithm = match self.get("VAPI_WEBHOOK_ALGORITHM").as_deref() {
            None | Some("sha256") => Algorithm::Sha256,
            Some("sha512") => Algorithm::Sha512,
            Some("sha1") => Algorithm::Sha1,
            Some(_) => {
                return Err(invalid(
                    "VAPI_WEBHOOK_ALGORITHM",
                    "expected sha256, sha512 or sha1",
                ));
            }
        };
        plan.encoding = match self.get("VAPI_WEBHOOK_ENCODING").as_deref() {
            None | Some("hex") => Encoding::Hex,
            Some("base64") => Encoding::Base64,
            Some(_) => return Err(invalid("VAPI_WEBHOOK_ENCODING", "expected hex or base64")),
        };
        Ok(plan)
    }

    /// `var`, a whole number within `range`; `default` when unset.
    fn whole<T>(
        &self,
        var: &'static str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display,
    {
        let expected = format!("a whole number from {} to {}", range.start(), range.end());
        self.parsed(var, default, &expected, |v: &T| range.contains(v))
    }

    /// `var` in milliseconds within `range`, `default` when unset.
    fn millis(
        &self,
        var: &'static str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Duration, ConfigError> {
        let expected = format!("milliseconds from {} to {}", range.start(), range.end());
        let ms = self.parsed(var, default, &expected, |v: &u64| range.contains(v))?;
        Ok(Duration::from_millis(ms))
    }

    /// `var` in whole seconds within `range`, `default` when unset.
    fn seconds(
        &self,
        var: &'static str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Duration, ConfigError> {
        let expected = format!("seconds from {} to {}", range.start(), range.end());
        Ok(Duration::from_secs(self.parsed(
            var,
            default,
            &expected,
            |v: &u64| range.contains(v),
        )?))
    }

    /// `MIGRATE_ON_STARTUP`: `true` (default) or `false`.
    fn migrate_on_startup(&self) -> Result<bool, ConfigError> {
        match self.get("MIGRATE_ON_STARTUP").as_deref().map(str::trim) {
            None | Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(_) => Err(ConfigError::Invalid {
                var: "MIGRATE_ON_STARTUP",
                reason: "expected true or false".into(),
            }),
        }
    }

    /// `DATABASE_OWNER_URL`, required when migrations run at start-up.
    fn database_owner_url(
        &self,
        migrate_on_startup: bool,
    ) -> Result<Option<secrecy::SecretString>, ConfigError> {
        match self.get("DATABASE_OWNER_URL") {
            Some(url) => Ok(Some(secrecy::SecretString::from(
                self.postgres_url("DATABASE_OWNER_URL", url)?,
            ))),
            None if migrate_on_startup => Err(ConfigError::Missing {
                var: "DATABASE_OWNER_URL",
                why: " (needed to run migrations while MIGRATE_ON_STARTUP is true)",
            }),
            None => Ok(None),
        }
    }

    /// `LOG_FORMAT`: `json` (default) or `text`.
    fn log_format(&self) -> Result<LogFormat, ConfigError> {
        match self.get("LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("json") => Ok(LogFormat::Json),
            Some("text") => Ok(LogFormat::Text),
            Some(_) => Err(ConfigError::Invalid {
                var: "LOG_FORMAT",
                reason: "expected json or text".into(),
            }),
        }
    }

    /// The edge's limits and trusted proxies (`HTTP_BODY_TIMEOUT_SECS`,
    /// `HTTP_MAX_REQUESTS_PER_CLIENT`, `TRUSTED_PROXIES`).
    fn edge(&self) -> Result<crate::edge::EdgeConfig, ConfigError> {
        Ok(crate::edge::EdgeConfig {
            body_timeout: self.seconds("HTTP_BODY_TIMEOUT_SECS", 30, 1..=3600)?,
            max_requests_per_client: self.parsed(
                "HTTP_MAX_REQUESTS_PER_CLIENT",
                256,
                "a whole number from 1 to 100000",
                |v: &usize| (1..=100_000).contains(v),
            )?,
            trusted_proxies: match self.get("TRUSTED_PROXIES") {
                None => Vec::new(),
                Some(raw) => raw
                    .split(',')
                    .map(|a| a.trim().parse::<std::net::IpAddr>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| ConfigError::Invalid {
                        var: "TRUSTED_PROXIES",
                        reason: "comma-separated IP addresses".into(),
                    })?,
            },
        })
    }

    /// Base URLs of the providers' APIs (`*_API_BASE_URL`; tests point them at fakes).
    fn provider_endpoints(&self) -> Result<integrations::ProviderEndpoints, ConfigError> {
        let defaults = integrations::ProviderEndpoints::default();
        Ok(integrations::ProviderEndpoints {
            twilio: self.http_url("TWILIO_API_BASE_URL", defaults.twilio)?,
            resend: self.http_url("RESEND_API_BASE_URL", defaults.resend)?,
            elevenlabs: self.http_url("ELEVENLABS_API_BASE_URL", defaults.elevenlabs)?,
            google_calendar: self
                .http_url("GOOGLE_CALENDAR_API_BASE_URL", defaults.google_calendar)?,
        })
    }

    /// `RATE_LIMIT_ORG_PER_MIN` and `RATE_LIMIT_KEY_PER_MIN` (0: off).
    fn rate_limits(&self) -> Result<crate::rate_limit::RateLimitConfig, ConfigError> {
        let defaults = crate::rate_limit::RateLimitConfig::default();
        let expected = "a whole number of requests per minute (0: off)";
        Ok(crate::rate_limit::RateLimitConfig {
            org_per_minute: self.parsed(
                "RATE_LIMIT_ORG_PER_MIN",
                defaults.org_per_minute,
                expected,
                |_| true,
            )?,
            key_per_minute: self.parsed(
                "RATE_LIMIT_KEY_PER_MIN",
                defaults.key_per_minute,
                expected,
                |_| true,
            )?,
        })
    }

    fn postgres_url(&self, var: &'static str, raw: String) -> Result<String, ConfigError> {
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Ok(raw)
        } else {
            Err(ConfigError::Invalid {
                var,
                reason: "expected a postgres:// or postgresql:// URL".into(),
            })
        }
    }
}

impl Config {
    /// Reads the process environment.
    ///
    /// # Errors
    /// The first [`ConfigError`] found.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads configuration through `lookup` (the environment, or a map in tests).
    ///
    /// # Errors
    /// The first [`ConfigError`] found.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(lookup);
        let database_url = secrecy::SecretString::from(
            vars.postgres_url("DATABASE_URL", vars.required("DATABASE_URL", "")?)?,
        );
        let migrate_on_startup = vars.migrate_on_startup()?;
        let database_owner_url = vars.database_owner_url(migrate_on_startup)?;
        let log_format = vars.log_format()?;
        let positive = |v: &usize| *v > 0;
        Ok(Self {
            bind_addr: vars.parsed(
                "BIND_ADDR",
                SocketAddr::from(([127, 0, 0, 1], 8080)),
                "host:port, for example 0.0.0.0:8080",
                |_| true,
            )?,
            database_url,
            database_owner_url,
            migrate_on_startup,
            db_pool_size: vars.whole("DB_POOL_SIZE", 16, 1..=1000)?,
            db_pool_shards: vars.parsed(
                "DB_POOL_SHARDS",
                0,
                "a whole number from 0 (one per worker thread) to 64",
                |v| *v <= 64,
            )?,
            db_statement_timeout: vars.millis("DB_STATEMENT_TIMEOUT_MS", 5_000, 100..=600_000)?,
            json_limit_bytes: vars.parsed(
                "HTTP_JSON_LIMIT_BYTES",
                256 * 1024,
                "a positive number of bytes",
                positive,
            )?,
            body_limit_bytes: vars.parsed(
                "HTTP_BODY_LIMIT_BYTES",
                10 * 1024 * 1024,
                "a positive number of bytes",
                positive,
            )?,
            http_workers: match vars.get("HTTP_WORKERS") {
                None => None,
                Some(_) => Some(vars.whole("HTTP_WORKERS", 1, 1..=256)?),
            },
            request_head_timeout: vars.millis(
                "HTTP_REQUEST_HEAD_TIMEOUT_MS",
                5_000,
                100..=600_000,
            )?,
            edge: vars.edge()?,
            shutdown_timeout: vars.seconds("SHUTDOWN_TIMEOUT_SECS", 30, 0..=600)?,
            log_format,
            jwt_secret: vars.secret("JWT_SECRET")?,
            api_key_pepper: vars.secret("API_KEY_PEPPER")?,
            credentials_keys: vars.required("CREDENTIALS_KEYS", "")?.into(),
            credentials_active_key: vars.required("CREDENTIALS_ACTIVE_KEY", "")?,
            provider_endpoints: vars.provider_endpoints()?,
            google: vars.google()?,
            public_base_url: match vars.get("PUBLIC_BASE_URL") {
                None => None,
                Some(url) => Some(vars.http_url("PUBLIC_BASE_URL", url)?),
            },
            ws_heartbeat: vars.seconds("WS_HEARTBEAT_SECS", 30, 1..=3600)?,
            ws_send_queue: vars.whole("WS_SEND_QUEUE", 256, 1..=65_536)?,
            job_workers: vars.whole(
                "JOB_WORKERS",
                jobs::RunnerConfig::default().workers,
                0..=256,
            )?,
            job_lease: vars.seconds(
                "JOB_LEASE_SECS",
                jobs::RunnerConfig::default().lease.as_secs(),
                5..=3600,
            )?,
            vapi: vars.vapi()?,
            embeddings: vars.embeddings()?,
            retrieval: vars.retrieval()?,
            console: vars.console()?,
            webhooks: vars.webhooks()?,
            rate_limits: vars.rate_limits()?,
            cors_origins: vars.origins("CORS_ALLOWED_ORIGINS")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
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
