//! The embedded migrations (`migrations/` at the workspace root) and how they are run.
//!
//! Migrations run as the **owner** role (the runtime role cannot create objects), behind a
//! session-level advisory lock so that several gateway instances starting together apply them
//! once. The gateway runs them at start-up unless told not to; `cargo xtask migrate` runs them on
//! demand.

use diesel::QueryableByName;
use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::{Db, DbError, SystemOp};

/// Every migration of the workspace, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// Advisory-lock key taken while migrating (an arbitrary constant: ASCII "vxmigrat").
const MIGRATION_LOCK_KEY: i64 = 0x7678_6d69_6772_6174;

/// The versions of the embedded migrations, oldest first (for example `"20261121000001"`).
///
/// # Errors
/// [`DbError::Migration`] when the embedded set cannot be read (a build problem).
pub fn embedded_versions() -> Result<Vec<String>, DbError> {
    let migrations = MigrationSource::<Pg>::migrations(&MIGRATIONS)
        .map_err(|e| DbError::Migration(e.to_string()))?;
    Ok(migrations
        .iter()
        .map(|m| m.name().version().to_string())
        .collect())
}

/// Connects to `owner_url` and applies every pending migration, holding an advisory lock so that
/// concurrent callers apply each migration once. Returns the versions it applied.
///
/// Needs a multi-thread tokio runtime (diesel's harness blocks in place).
///
/// # Errors
/// [`DbError::Connect`] or [`DbError::Migration`] with the failing migration's message.
pub async fn run_pending(owner_url: &str) -> Result<Vec<String>, DbError> {
    let mut conn = AsyncPgConnection::establish(owner_url).await?;
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK_KEY)
        .execute(&mut conn)
        .await?;
    let mut harness = AsyncMigrationHarness::new(conn);
    let applied = harness
        .run_pending_migrations(MIGRATIONS)
        .map(|versions| versions.iter().map(ToString::to_string).collect::<Vec<_>>())
        .map_err(|e| DbError::Migration(e.to_string()));
    let mut conn = harness.into_inner();
    // Also released when the connection closes; unlock explicitly to be prompt.
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK_KEY)
        .execute(&mut conn)
        .await?;
    let applied = applied?;
    if !applied.is_empty() {
        tracing::info!(versions = ?applied, "applied migrations");
    }
    Ok(applied)
}

#[derive(QueryableByName)]
struct VersionRow {
    #[diesel(sql_type = Text)]
    version: String,
}

/// The embedded migrations not yet applied to the database `db` points at (empty: up to date).
/// Runs as [`SystemOp::ReadinessProbe`].
///
/// # Errors
/// [`DbError`] when the database cannot be reached or the migrations table is missing.
pub async fn pending_versions(db: &Db) -> Result<Vec<String>, DbError> {
    let applied: Vec<VersionRow> = db
        .system(SystemOp::ReadinessProbe, async move |c| {
            diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
                .load(c)
                .await
                .map_err(DbError::from)
        })
        .await?;
    let applied: std::collections::HashSet<String> =
        applied.into_iter().map(|r| r.version).collect();
    Ok(embedded_versions()?
        .into_iter()
        .filter(|v| !applied.contains(v))
        .collect())
}
