//! Test databases and the tenant-isolation proof, for every crate's tests
//! (feature `test-support`).
//!
//! One PostgreSQL cluster serves a whole test run: `target/postgres/test` (or `TEST_PG_DIR`),
//! started on first use by whichever test process comes first (`cargo xtask test` recreates it
//! fresh at the start of every run). The migrations are applied once, into a template database
//! named after a hash of `migrations/`; every [`TestDatabase`] is a `CREATE DATABASE … TEMPLATE`
//! copy of it, so tests run in parallel, each with its own data, the approach of crates.io's
//! `crates_io_test_db`. Tests that use it need `#[tokio::test(flavor = "multi_thread")]`
//! (the migration harness blocks in place).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use local_postgres::{Cluster, Profile, roles};
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::{ConnFuture, Db, DbConfig, DbError, OrgId, migrations};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The test run's cluster directory: `TEST_PG_DIR`, else `<workspace>/target/postgres/test`.
#[must_use]
pub fn test_cluster_dir() -> PathBuf {
    std::env::var_os("TEST_PG_DIR").map_or_else(
        || workspace_root().join("target/postgres/test"),
        PathBuf::from,
    )
}

struct Template {
    cluster: Cluster,
    name: String,
}

static TEMPLATE: OnceCell<Template> = OnceCell::const_new();

/// A name for the migrated template that changes whenever any migration file changes.
fn template_name() -> String {
    let dir = workspace_root().join("migrations");
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut hasher = DefaultHasher::new();
    for f in files {
        f.strip_prefix(&dir).unwrap_or(&f).hash(&mut hasher);
        std::fs::read(&f).unwrap_or_default().hash(&mut hasher);
    }
    format!("tpl_{:016x}", hasher.finish())
}

async fn template() -> &'static Template {
    TEMPLATE
        .get_or_init(|| async {
            let dir = test_cluster_dir();
            let cluster =
                tokio::task::spawn_blocking(move || Cluster::ensure_running(&dir, Profile::Test))
                    .await
                    .expect("cluster start task panicked")
                    .unwrap_or_else(|e| panic!("test PostgreSQL cluster: {e}"));
            let name = template_name();
            build_template(&cluster, &name).await;
            Template { cluster, name }
        })
        .await
}

/// Creates the template under a file lock shared by all test processes, unless it exists.
async fn build_template(cluster: &Cluster, name: &str) {
    let lock_path = cluster.dir().with_extension("template.lock");
    let lock = std::fs::File::create(&lock_path).expect("template lock file");
    tokio::task::block_in_place(|| lock.lock()).expect("locking the template");
    let exists = cluster
        .psql(
            "postgres",
            &format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
        )
        .expect("querying pg_database");
    if exists.is_empty() {
        let building = format!("{name}_building");
        cluster
            .psql(
                "postgres",
                &format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"),
            )
            .and_then(|_| {
                cluster.psql(
                    "postgres",
                    &format!("CREATE DATABASE {building} OWNER {}", roles::OWNER),
                )
            })
            .expect("creating the template database");
        migrations::run_pending(&cluster.url(roles::OWNER, &building))
            .await
            .unwrap_or_else(|e| panic!("migrating the template database: {e}"));
        cluster
            .psql(
                "postgres",
                &format!("ALTER DATABASE {building} RENAME TO {name}"),
            )
            .expect("renaming the template database");
    }
    drop(lock);
}

/// A fresh, migrated database of its own for one test; dropped when this value is.
pub struct TestDatabase {
    cluster: Cluster,
    name: String,
    /// Whether dropping this handle drops the database (false for [`TestDatabase::share`]).
    owned: bool,
}

impl TestDatabase {
    /// Copies the migrated template into a new database (`CREATE DATABASE … TEMPLATE`, tens of
    /// milliseconds). Panics with the cause when the cluster cannot be had: a test cannot go on.
    pub async fn new() -> Self {
        let template = template().await;
        let name = format!("test_{}", Uuid::new_v4().simple());
        template
            .cluster
            .psql(
                "postgres",
                &format!(
                    "CREATE DATABASE {name} TEMPLATE {} OWNER {}",
                    template.name,
                    roles::OWNER
                ),
            )
            .unwrap_or_else(|e| panic!("creating test database: {e}"));
        Self {
            cluster: template.cluster.clone(),
            name,
            owned: true,
        }
    }

    /// Another handle on the same database that does not drop it (for a second gateway
    /// instance); the database lives as long as the original handle.
    #[must_use]
    pub fn share(&self) -> Self {
        Self {
            cluster: self.cluster.clone(),
            name: self.name.clone(),
            owned: false,
        }
    }

    /// The database's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// URL as the runtime role (what the gateway uses).
    #[must_use]
    pub fn runtime_url(&self) -> String {
        self.cluster.url(roles::RUNTIME, &self.name)
    }

    /// URL as the owner role (migrations, schema changes in tests).
    #[must_use]
    pub fn owner_url(&self) -> String {
        self.cluster.url(roles::OWNER, &self.name)
    }

    /// A small pool as the runtime role.
    #[must_use]
    pub fn db(&self) -> Db {
        let mut config = DbConfig::new(self.runtime_url(), "test");
        config.pool_max_size = 4;
        Db::new(&config).expect("building the test pool")
    }

    /// A direct connection as the owner role (bypasses RLS: for arranging, never for asserting
    /// isolation).
    pub async fn owner_conn(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.owner_url())
            .await
            .expect("connecting as the owner role")
    }

    /// Runs SQL as the cluster superuser on this database (for example to create a role).
    ///
    /// # Panics
    /// When `psql` fails.
    pub fn psql_superuser(&self, sql: &str) -> String {
        self.cluster
            .psql(&self.name, sql)
            .unwrap_or_else(|e| panic!("psql: {e}"))
    }
}

impl TestDatabase {
    /// Simulates a database outage for this database alone (`false`: new connections are
    /// refused and every open one is terminated, as when PostgreSQL goes down) and its end
    /// (`true`).
    ///
    /// # Panics
    /// When the cluster cannot be reached as the superuser.
    pub fn set_reachable(&self, reachable: bool) {
        let mut sql = format!(
            "ALTER DATABASE {} WITH ALLOW_CONNECTIONS {reachable};",
            self.name
        );
        if !reachable {
            sql.push_str(&format!(
                " SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}';",
                self.name
            ));
        }
        self.cluster
            .psql("postgres", &sql)
            .unwrap_or_else(|e| panic!("psql: {e}"));
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        let _ = self.cluster.psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// Creates an organization (through its own tenant transaction, as sign-up will) and returns
/// its id.
///
/// # Panics
/// When the insert fails.
pub async fn create_org(db: &Db, name: &str) -> OrgId {
    use diesel::sql_types::{Text, Uuid as SqlUuid};
    let org = OrgId::new_random();
    let slug = format!("org-{}", org.0.simple());
    let name = name.to_owned();
    db.tenant(org, async move |tx| {
        diesel::sql_query("INSERT INTO organizations (id, name, slug) VALUES ($1, $2, $3)")
            .bind::<SqlUuid, _>(org.0)
            .bind::<Text, _>(name)
            .bind::<Text, _>(slug)
            .execute(tx)
            .await
            .map_err(DbError::from)
    })
    .await
    .expect("creating an organization");
    org
}

/// Inserts an app named "CRM" for `org` inside the caller's tenant transaction and returns its
/// id (for arranging app-scoped rows).
///
/// # Errors
/// [`DbError`] (row-level security refuses it outside `org`'s transaction).
pub async fn insert_app(c: &mut AsyncPgConnection, org: OrgId) -> Result<Uuid, DbError> {
    let id = Uuid::new_v4();
    diesel::sql_query("INSERT INTO apps (id, org_id, name) VALUES ($1, $2, 'CRM')")
        .bind::<diesel::sql_types::Uuid, _>(id)
        .bind::<diesel::sql_types::Uuid, _>(org.0)
        .execute(c)
        .await?;
    Ok(id)
}

/// Creates an app for `org` through its own tenant transaction and returns its id.
///
/// # Panics
/// When the insert fails.
pub async fn create_app(db: &Db, org: OrgId) -> Uuid {
    db.tenant(org, async move |tx| insert_app(tx, org).await)
        .await
        .expect("creating an app")
}

/// Inserts one row of a tenant table owned by the given org and returns the row's `id`.
pub type InsertRow = dyn for<'c> Fn(&'c mut AsyncPgConnection, OrgId) -> ConnFuture<'c, Result<Uuid, DbError>>
    + Send
    + Sync;

/// What [`assert_tenant_isolation`] needs to know of a table.
pub struct IsolationProbe<'a> {
    /// The table's name (an identifier, not user input).
    pub table: &'static str,
    /// The column holding the tenant: `org_id`, or `id` for `organizations`.
    pub tenant_column: &'static str,
    /// A `uuid` column (or expression, such as `key::uuid`) that identifies the inserted row,
    /// usually `id`; `insert` returns its value.
    pub id_column: &'static str,
    /// Inserts a valid row for an org; called inside that org's tenant transaction, and once in
    /// another org's transaction, where row-level security must refuse it.
    pub insert: &'a InsertRow,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count_rows(
    c: &mut AsyncPgConnection,
    sql: String,
    bind: Uuid,
) -> ConnFuture<'_, Result<i64, DbError>> {
    Box::pin(async move {
        let row: Count = diesel::sql_query(sql)
            .bind::<diesel::sql_types::Uuid, _>(bind)
            .get_result(c)
            .await?;
        Ok(row.n)
    })
}

fn is_rls_refusal(e: &DbError) -> bool {
    e.to_string().contains("row-level security")
}

/// A refusal by RLS, or by privileges or an append-only trigger on tables the runtime role may
/// not change at all (either way the row is untouched).
fn is_refusal(e: &DbError) -> bool {
    let text = e.to_string();
    is_rls_refusal(e) || text.contains("permission denied") || text.contains("append-only")
}

/// Proves that row-level security isolates `probe.table`, connected as the runtime role:
///
/// 1. a row of org B is invisible in org A's transaction (by id and by tenant column);
/// 2. inserting a row with org B's id in org A's transaction is refused;
/// 3. moving org A's row to org B is refused; updating or deleting org B's row touches nothing
///    (zero rows, or refused outright on append-only tables);
/// 4. without a tenant no row is visible at all;
/// 5. org B still sees exactly its row afterwards.
///
/// # Panics
/// With a message naming the broken rule.
#[allow(clippy::too_many_lines)] // test support: the five numbered checks, in order
pub async fn assert_tenant_isolation(db: &Db, probe: &IsolationProbe<'_>) {
    let (table, col) = (probe.table, probe.tenant_column);
    let org_a = create_org(db, "Isolation A").await;
    let org_b = create_org(db, "Isolation B").await;
    let row_a = db
        .tenant(org_a, async move |tx| (probe.insert)(tx, org_a).await)
        .await
        .unwrap_or_else(|e| panic!("{table}: inserting org A's own row failed: {e}"));
    let row_b = db
        .tenant(org_b, async move |tx| (probe.insert)(tx, org_b).await)
        .await
        .unwrap_or_else(|e| panic!("{table}: inserting org B's own row failed: {e}"));

    let count = |org: Option<OrgId>, sql: String, bind: Uuid| async move {
        match org {
            Some(org) => {
                db.tenant(org, async move |tx| count_rows(tx, sql, bind).await)
                    .await
            }
            // No transaction, no tenant: what any statement of the runtime role sees by default.
            None => match db.conn().await {
                Ok(mut conn) => count_rows(&mut conn, sql, bind).await,
                Err(e) => Err(e),
            },
        }
        .unwrap_or_else(|e| panic!("{table}: counting failed: {e}"))
    };

    // 1. Invisible by id and by tenant column.
    let id = probe.id_column;
    let by_id = format!("SELECT count(*) AS n FROM {table} WHERE {id} = $1");
    let by_tenant = format!("SELECT count(*) AS n FROM {table} WHERE {col} = $1");
    assert_eq!(
        count(Some(org_a), by_id.clone(), row_b).await,
        0,
        "{table}: org A sees org B's row by id"
    );
    assert_eq!(
        count(Some(org_a), by_tenant.clone(), org_b.0).await,
        0,
        "{table}: org A sees org B's rows by {col}"
    );
    assert_eq!(
        count(Some(org_a), by_id.clone(), row_a).await,
        1,
        "{table}: org A does not see its own row"
    );

    // 2. Insert with another org's id.
    let cross_insert = db
        .tenant(org_a, async move |tx| (probe.insert)(tx, org_b).await)
        .await;
    match cross_insert {
        Err(e) if is_rls_refusal(&e) => {}
        other => {
            panic!("{table}: org A inserting a row for org B was not refused by RLS: {other:?}")
        }
    }

    // 3. Move own row to another org; touch another org's row.
    let update = |org: OrgId, sql: String, a: Uuid, b: Uuid| {
        db.tenant(org, async move |tx| {
            diesel::sql_query(sql)
                .bind::<diesel::sql_types::Uuid, _>(a)
                .bind::<diesel::sql_types::Uuid, _>(b)
                .execute(tx)
                .await
                .map_err(DbError::from)
        })
    };
    match update(
        org_a,
        format!("UPDATE {table} SET {col} = $2 WHERE {id} = $1"),
        row_a,
        org_b.0,
    )
    .await
    {
        Err(e) if is_refusal(&e) => {}
        other => panic!("{table}: org A moving its row to org B was not refused by RLS: {other:?}"),
    }
    for sql in [
        format!("UPDATE {table} SET {col} = {col} WHERE {id} = $1 OR {id} = $2"),
        format!("DELETE FROM {table} WHERE {id} = $1 OR {id} = $2"),
    ] {
        match update(org_a, sql.clone(), row_b, row_b).await {
            Ok(0) => {}
            Err(e) if is_refusal(&e) => {}
            other => panic!("{table}: org A touched org B's row with `{sql}`: {other:?}"),
        }
    }

    // 4. No tenant: nothing visible.
    let any = format!("SELECT count(*) AS n FROM {table} WHERE {id} <> $1");
    assert_eq!(
        count(None, any, Uuid::nil()).await,
        0,
        "{table}: rows visible without a tenant"
    );

    // 5. Org B's row is intact.
    assert_eq!(
        count(Some(org_b), by_id, row_b).await,
        1,
        "{table}: org B lost its row"
    );
}
