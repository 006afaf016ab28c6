//! `gateway [serve|migrate|check-rls|seed-demo|rotate-credentials|telephony-cleanup|sync-tools|
//! reembed|openapi]` (parsed by `clap`; `gateway --help` lists them), configured from the
//! environment (README, "Configuration").
//!
//! - `serve` (default): run the HTTP service.
//! - `migrate`: apply pending migrations with `DATABASE_OWNER_URL`.
//! - `check-rls`: audit tenancy rules on the database at `DATABASE_OWNER_URL` (or `DATABASE_URL`);
//!   exits 1 listing every violation.
//! - `seed-demo`: create the demo organization and admin with `DATABASE_URL`; prints JSON.
//! - `telephony-cleanup`: expire and delete stale caller-ID verifications (`DATABASE_URL`);
//!   the server also runs it daily.
//! - `rotate-credentials`: re-seal every stored credential (and every app webhook and outbound
//!   webhook endpoint secret) under `CREDENTIALS_ACTIVE_KEY`, as the
//!   owner role (`DATABASE_OWNER_URL`); afterwards keys no longer active can be removed.
//! - `sync-tools`: register the platform's Vapi tools where their definitions changed and link
//!   them to every organization's assistants (needs the serving configuration, including
//!   `VAPI_PRIVATE_KEY` and `PUBLIC_BASE_URL`); prints what changed per organization.
//! - `reembed`: queue every knowledge-base document embedded by another model than the
//!   configured one; the serving gateway's worker re-embeds them.
//! - `openapi`: print the OpenAPI document (no database needed).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gateway::config::{Config, ConfigError, LogFormat};
use gateway::{app, server, telemetry};

/// The gateway: the HTTP service and its admin commands, configured from the environment.
#[derive(Debug, Parser)]
#[command(name = "gateway", version)]
struct Cli {
    /// What to do (default: `serve`).
    #[command(subcommand)]
    command: Option<Command>,
}

/// The commands (module docs say what each needs from the environment).
#[derive(Debug, Clone, Copy, Subcommand)]
enum Command {
    /// Run the HTTP service.
    Serve,
    /// Apply pending migrations with `DATABASE_OWNER_URL`.
    Migrate,
    /// Audit tenancy rules (forced RLS, policies, the runtime role); exits 1 on a violation.
    CheckRls,
    /// Create the demo organization and admin; prints JSON.
    SeedDemo,
    /// Re-seal every stored credential under `CREDENTIALS_ACTIVE_KEY`.
    RotateCredentials,
    /// Expire and delete stale caller-ID verifications now.
    TelephonyCleanup,
    /// Register changed Vapi tools and link them to every organization's assistants.
    SyncTools,
    /// Queue every knowledge-base document embedded by another model than the configured one.
    Reembed,
    /// Print the OpenAPI document (no database needed).
    Openapi,
}

#[tokio::main]
async fn main() -> ExitCode {
    // HTTP clients to providers use rustls on ring (the stack notes, STACK): install it once.
    twilio_client::ensure_tls_provider();
    let command = Cli::parse().command.unwrap_or(Command::Serve);
    let name = std::env::args().nth(1).unwrap_or_else(|| "serve".into());
    let result = match command {
        Command::Serve => serve().await,
        Command::Migrate => migrate().await,
        Command::CheckRls => check_rls().await,
        Command::SeedDemo => seed_demo().await,
        Command::RotateCredentials => rotate_credentials().await,
        Command::TelephonyCleanup => telephony_cleanup().await,
        Command::SyncTools => sync_tools().await,
        Command::Reembed => reembed().await,
        Command::Openapi => openapi(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gateway {name}: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> Result<(), String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let _log_writer = telemetry::init(config.log_format);
    server::run(config).await.map_err(|e| e.to_string())
}

/// The configuration and pool of an admin command: the serving configuration from the
/// environment, without migrating.
fn admin_db() -> Result<(Config, db::Db), String> {
    let vars = gateway::config::environment()
        .filter(|(k, _)| k != "MIGRATE_ON_STARTUP")
        .chain([("MIGRATE_ON_STARTUP".to_owned(), "false".to_owned())]);
    let config = Config::from_vars(vars).map_err(|e| e.to_string())?;
    let db = server::pool(&config).map_err(|e| e.to_string())?;
    Ok((config, db))
}

/// The serving state of an admin command ([`server::app_state`] over [`admin_db`]).
fn admin_state() -> Result<gateway::state::AppState, String> {
    let (config, db) = admin_db()?;
    server::app_state(&config, db).map_err(|e| e.to_string())
}

/// A required variable (a URL or a secret) from the environment.
fn env_url(var: &'static str) -> Result<String, String> {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            let var = var.to_owned();
            ConfigError::Missing { var, why: "" }.to_string()
        })
}

async fn migrate() -> Result<(), String> {
    let _log_writer = telemetry::init(LogFormat::Text);
    let applied = db::migrations::run_pending(&env_url("DATABASE_OWNER_URL")?)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!("applied {} migration(s)", applied.len());
    Ok(())
}

async fn check_rls() -> Result<(), String> {
    use diesel_async::AsyncConnection as _;
    let url = env_url("DATABASE_OWNER_URL").or_else(|_| env_url("DATABASE_URL"))?;
    let mut conn = db::AsyncPgConnection::establish(&url)
        .await
        .map_err(|e| e.to_string())?;
    let violations = db::rls::audit(&mut conn).await.map_err(|e| e.to_string())?;
    if violations.is_empty() {
        eprintln!(
            "check-rls: every tenant table has forced row-level security and a tenant policy; the runtime role is safe"
        );
        Ok(())
    } else {
        for v in &violations {
            eprintln!("  {v}");
        }
        Err(format!("{} tenancy violation(s)", violations.len()))
    }
}

async fn rotate_credentials() -> Result<(), String> {
    use diesel_async::AsyncConnection as _;
    let _log_writer = telemetry::init(LogFormat::Text);
    let keys = env_url("CREDENTIALS_KEYS")?;
    let active = env_url("CREDENTIALS_ACTIVE_KEY")?;
    let keyring = credentials::Keyring::from_config(&keys, &active).map_err(|e| e.to_string())?;
    let mut conn = db::AsyncPgConnection::establish(&env_url("DATABASE_OWNER_URL")?)
        .await
        .map_err(|e| e.to_string())?;
    let report = credentials::rotation::reseal_all(&mut conn, &keyring)
        .await
        .map_err(|e| e.to_string())?;
    let webhook_secrets = event_log::secrets::reseal_all(&mut conn, &keyring)
        .await
        .map_err(|e| e.to_string())?;
    let endpoint_secrets = webhooks::rotation::reseal_all(&mut conn, &keyring)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "rotate-credentials: re-sealed {} credential(s), {webhook_secrets} app webhook secret(s) and {endpoint_secrets} webhook endpoint(s) under key {active}; {} changed meanwhile (run again)",
        report.resealed, report.skipped_concurrent
    );
    Ok(())
}

async fn telephony_cleanup() -> Result<(), String> {
    let config = db::DbConfig::new(env_url("DATABASE_URL")?, server::APPLICATION_NAME);
    let db = db::Db::new(&config).map_err(|e| e.to_string())?;
    let report = telephony::cleanup(&db).await.map_err(|e| e.to_string())?;
    eprintln!(
        "telephony-cleanup: {} expired, {} deleted, {} initiation records pruned",
        report.expired, report.deleted, report.pruned
    );
    Ok(())
}

/// Queues every knowledge-base document embedded by another model than the configured one;
/// the running gateways' workers re-embed them. Prints `{model, queued}`.
async fn reembed() -> Result<(), String> {
    let state = admin_state()?;
    let queued = state
        .knowledge
        .queue_reembed()
        .await
        .map_err(|e| e.to_string())?;
    print_json(&serde_json::json!({"model": state.knowledge.model().id, "queued": queued}))
}

async fn sync_tools() -> Result<(), String> {
    let state = admin_state()?;
    let outcomes = state
        .voice
        .tool_registry()
        .sync_all_tools()
        .await
        .map_err(|e| e.to_string())?;
    let mut failed = 0;
    let report: Vec<serde_json::Value> = outcomes
        .into_iter()
        .map(|(org, outcome)| match outcome {
            Ok(r) => serde_json::json!({
                "org_id": org, "changed": r.changed(), "registered": r.registered,
                "reused": r.reused, "linked": r.linked, "failed_links": r.failed_links,
            }),
            Err(e) => {
                failed += 1;
                serde_json::json!({"org_id": org, "error": e.to_string()})
            }
        })
        .collect();
    print_json(&report)?;
    if failed > 0 {
        return Err(format!("{failed} organization(s) failed"));
    }
    Ok(())
}

/// The OpenAPI document on stdout, refused when two areas define a schema name differently or
/// two operations share an id.
fn openapi() -> Result<(), String> {
    let collisions = app::schema_name_collisions();
    if !collisions.is_empty() {
        return Err(format!(
            "schema names defined differently by two route areas (rename one): {}",
            collisions.join("; ")
        ));
    }
    let duplicates = app::duplicate_operation_ids();
    if !duplicates.is_empty() {
        return Err(format!(
            "operation ids used twice (set operation_id on one): {}",
            duplicates.join("; ")
        ));
    }
    print_json(&app::openapi())
}

async fn seed_demo() -> Result<(), String> {
    let (_, db) = admin_db()?;
    let login = tenancy::demo::seed(&db).await.map_err(|e| e.to_string())?;
    print_json(&login)
}

#[allow(clippy::print_stdout)]
fn print_json(value: &impl serde::Serialize) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}
