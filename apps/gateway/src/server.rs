//! Start-up and serving: migrate (optionally), refuse an RLS-bypassing role, serve until
//! SIGTERM/SIGINT, then drain in-flight requests for up to the shutdown timeout.

use actix_web::HttpServer;

use crate::app::{self, BodyLimits};
use crate::config::Config;
use crate::state::{AppState, AuthKeys};

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Migrations failed.
    #[error("migrations failed: {0}")]
    Migrate(db::DbError),
    /// The database is unusable for serving (for example an RLS-bypassing role).
    #[error(transparent)]
    Db(#[from] db::DbError),
    /// A configured secret is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// Binding or running the HTTP server failed.
    #[error("HTTP server: {0}")]
    Io(#[from] std::io::Error),
}

/// Name every pooled connection shows in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "gateway";

/// Builds the pool as the runtime role.
///
/// # Errors
/// [`db::DbError::Pool`] when the pool cannot be built.
pub fn pool(config: &Config) -> Result<db::Db, db::DbError> {
    let mut db_config = db::DbConfig::new(
        secrecy::ExposeSecret::expose_secret(&config.database_url).to_owned(),
        APPLICATION_NAME,
    );
    db_config.pool_max_size = config.db_pool_size;
    // By default one shard per HTTP worker thread and one for the main runtime (background
    // work), so each connection is driven on the thread that uses it.
    let http_workers = config.http_workers.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    db_config.pool_shards = match config.db_pool_shards {
        0 => http_workers + 1,
        n => n,
    };
    db_config.statement_timeout = config.db_statement_timeout;
    db::Db::new(&db_config)
}

/// The credentials keyring from `CREDENTIALS_KEYS` and `CREDENTIALS_ACTIVE_KEY`.
///
/// # Errors
/// [`credentials::CredentialError::Config`] naming the problem (never a key).
pub fn keyring(config: &Config) -> Result<credentials::Keyring, credentials::CredentialError> {
    credentials::Keyring::from_config(
        secrecy::ExposeSecret::expose_secret(&config.credentials_keys),
        &config.credentials_active_key,
    )
}

/// This instance's name in event claims and logs: `HOSTNAME` (or `gateway`) and the process id.
fn instance_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "gateway".into());
    format!("{host}-{}", std::process::id())
}

/// The serving state for `config` over `db`: keys, vault, providers, realtime limits and the
/// platform's Vapi account (also what admin commands such as `sync-tools` work with).
///
/// # Errors
/// [`ServeError::Config`] for a short secret or an unusable keyring.
pub fn app_state(config: &Config, db: db::Db) -> Result<AppState, ServeError> {
    let auth = AuthKeys::new(
        secrecy::ExposeSecret::expose_secret(&config.jwt_secret),
        secrecy::ExposeSecret::expose_secret(&config.api_key_pepper),
    )
    .map_err(|e| ServeError::Config(e.to_string()))?;
    let keyring = keyring(config).map_err(|e| ServeError::Config(e.to_string()))?;
    Ok(AppState::new(
        db,
        auth,
        keyring,
        config.provider_endpoints.clone(),
        config.google.clone(),
        config.public_base_url.clone(),
    )
    .with_realtime(config.ws_send_queue, config.ws_heartbeat)
    .with_embeddings(&config.embeddings, &config.retrieval)
    .with_vapi(&config.vapi, voice_agent::VoiceConfig::default())
    .with_edge(config.edge.clone())
    .with_webhooks(&config.webhooks)
    .with_api_limits(config.rate_limits, &config.cors_origins)
    .with_console(config.console.clone()))
}

/// Runs the gateway until a shutdown signal.
///
/// # Errors
/// [`ServeError`] naming the failing step.
pub async fn run(config: Config) -> Result<(), ServeError> {
    if config.migrate_on_startup
        && let Some(owner_url) = &config.database_owner_url
    {
        db::migrations::run_pending(secrecy::ExposeSecret::expose_secret(owner_url))
            .await
            .map_err(ServeError::Migrate)?;
    }
    let db = pool(&config)?;
    match db::rls::check_serving_role(&db).await {
        Err(e @ db::DbError::UnsafeServingRole { .. }) => return Err(e.into()),
        // Unreachable now: serve anyway and let /readyz say so until it comes back.
        Err(e) => tracing::warn!(error = %e, "database not reachable at start-up"),
        Ok(()) => {}
    }

    let state = app_state(&config, db)?;
    let background = crate::background::Background::start(
        &state,
        jobs::RunnerConfig {
            workers: config.job_workers,
            batch: config.job_claim,
            batched: config.job_claim_batched,
            lease: config.job_lease,
            ..jobs::RunnerConfig::default()
        },
        &instance_name(),
    );
    let limits = BodyLimits {
        json: config.json_limit_bytes,
        other: config.body_limit_bytes,
    };
    let mut server = HttpServer::new(move || app::build(state.clone(), limits))
        .shutdown_timeout(config.shutdown_timeout.as_secs())
        .client_request_timeout(config.request_head_timeout)
        .bind(config.bind_addr)?;
    if let Some(workers) = config.http_workers {
        server = server.workers(workers);
    }
    tracing::info!(addr = %config.bind_addr, "gateway listening");
    // actix-web stops accepting on SIGTERM/SIGINT and waits for in-flight requests.
    server.run().await?;
    background.shutdown().await;
    tracing::info!("gateway stopped");
    Ok(())
}
