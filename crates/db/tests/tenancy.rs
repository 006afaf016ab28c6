//! Row-level security, roles and the two transaction scopes, against a real PostgreSQL.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use db::test_support::{IsolationProbe, TestDatabase, assert_tenant_isolation, create_org};
use db::{Db, DbConfig, DbError, OrgId, rls};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use uuid::Uuid;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = Text)]
    value: String,
}

fn insert_user(c: &mut AsyncPgConnection, org: OrgId) -> db::ConnFuture<'_, Result<Uuid, DbError>> {
    Box::pin(async move {
        let id = Uuid::new_v4();
        diesel::sql_query(
            "INSERT INTO users (id, org_id, email, name, role, password_hash) \
             VALUES ($1, $2, $3, 'Probe', 'user', 'not-a-real-hash')",
        )
        .bind::<diesel::sql_types::Uuid, _>(id)
        .bind::<diesel::sql_types::Uuid, _>(org.0)
        .bind::<Text, _>(format!("{}@example.test", id.simple()))
        .execute(c)
        .await?;
        Ok(id)
    })
}

fn insert_org(c: &mut AsyncPgConnection, org: OrgId) -> db::ConnFuture<'_, Result<Uuid, DbError>> {
    Box::pin(async move {
        diesel::sql_query("INSERT INTO organizations (id, name, slug) VALUES ($1, 'Probe', $2)")
            .bind::<diesel::sql_types::Uuid, _>(org.0)
            .bind::<Text, _>(format!("probe-{}", Uuid::new_v4().simple()))
            .execute(c)
            .await?;
        Ok(org.0)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn users_are_isolated_between_organizations() {
    let test_db = TestDatabase::new().await;
    let probe = IsolationProbe {
        table: "users",
        tenant_column: "org_id",
        id_column: "id",
        insert: &insert_user,
    };
    assert_tenant_isolation(&test_db.db(), &probe).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn organizations_are_isolated_from_each_other() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    // `organizations` is keyed by its own id, so the generic probe (which creates its two orgs
    // first) does not fit; the same rules, checked directly.
    let org_a = create_org(&db, "A").await;
    let org_b = create_org(&db, "B").await;
    // Org A cannot see org B.
    let seen: Count = db
        .tenant(org_a, async move |tx| {
            diesel::sql_query("SELECT count(*) AS n FROM organizations WHERE id = $1")
                .bind::<diesel::sql_types::Uuid, _>(org_b.0)
                .get_result(tx)
                .await
                .map_err(DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(seen.n, 0);
    // Org A cannot create an organization other than itself.
    let other = OrgId::new_random();
    let err = db
        .tenant(org_a, async move |tx| insert_org(tx, other).await)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn runtime_role_without_tenant_sees_no_tenant_rows() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let org = create_org(&db, "Clinic").await;
    db.tenant(org, async move |tx| insert_user(tx, org).await)
        .await
        .unwrap();

    // The owner (arranging only) sees the rows...
    let mut owner = test_db.owner_conn().await;
    let all: Count = diesel::sql_query("SELECT count(*) AS n FROM users")
        .get_result(&mut owner)
        .await
        .unwrap();
    assert_eq!(all.n, 1);

    // ...a plain connection as the runtime role, no tenant set, sees none of them.
    let mut runtime = AsyncPgConnection::establish(&test_db.runtime_url())
        .await
        .unwrap();
    for table in ["users", "organizations"] {
        let seen: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
            .get_result(&mut runtime)
            .await
            .unwrap();
        assert_eq!(seen.n, 0, "{table} visible without a tenant");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pooled_connection_reused_after_a_tenant_transaction_has_no_tenant() {
    let test_db = TestDatabase::new().await;
    let mut config = DbConfig::new(test_db.runtime_url(), "test");
    config.pool_max_size = 1; // force reuse of the one connection
    let db = Db::new(&config).unwrap();
    let org = create_org(&db, "Clinic").await;
    db.tenant(org, async move |tx| insert_user(tx, org).await)
        .await
        .unwrap();

    // The setting now reads back as '' on that connection; the policy must treat it as "no
    // tenant", not fail with `invalid input syntax for type uuid: ""` (the stack notes, STACK).
    let seen: Count = db
        .system(db::SystemOp::ReadinessProbe, async move |c| {
            diesel::sql_query("SELECT count(*) AS n FROM users")
                .get_result(c)
                .await
                .map_err(DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(seen.n, 0);
    // Likewise outside any transaction (the one-round-trip read path).
    let seen: Count = db
        .system_read(db::SystemOp::SessionCheck, async move |c| {
            diesel::sql_query("SELECT count(*) AS n FROM users")
                .get_result(c)
                .await
                .map_err(DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(seen.n, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_tenant_transaction_rolls_back() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let org = create_org(&db, "Clinic").await;
    let result: Result<(), DbError> = db
        .tenant(org, async move |tx| {
            insert_user(tx, org).await?;
            Err(DbError::Migration("caller gave up".into()))
        })
        .await;
    assert!(result.is_err());
    let seen: Count = db
        .tenant(org, async move |tx| {
            diesel::sql_query("SELECT count(*) AS n FROM users")
                .get_result(tx)
                .await
                .map_err(DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(seen.n, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_connection_gets_application_name_and_statement_timeout() {
    let test_db = TestDatabase::new().await;
    let mut config = DbConfig::new(test_db.runtime_url(), "gateway-test");
    config.statement_timeout = std::time::Duration::from_millis(1234);
    let db = Db::new(&config).unwrap();
    let org = create_org(&db, "Clinic").await;
    let (name, timeout) = db
        .tenant(org, async move |tx| {
            let name: Setting =
                diesel::sql_query("SELECT current_setting('application_name') AS value")
                    .get_result(tx)
                    .await?;
            let timeout: Setting =
                diesel::sql_query("SELECT current_setting('statement_timeout') AS value")
                    .get_result(tx)
                    .await?;
            Ok::<_, DbError>((name.value, timeout.value))
        })
        .await
        .unwrap();
    assert_eq!(name, "gateway-test");
    assert_eq!(timeout, "1234ms");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_passes_on_the_migrated_schema() {
    let test_db = TestDatabase::new().await;
    let mut owner = test_db.owner_conn().await;
    let violations = rls::audit(&mut owner).await.unwrap();
    assert!(violations.is_empty(), "{violations:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_fails_for_a_tenant_table_without_forced_rls() {
    let test_db = TestDatabase::new().await;
    let mut owner = test_db.owner_conn().await;
    diesel::sql_query("CREATE TABLE notes (id uuid PRIMARY KEY, org_id uuid NOT NULL)")
        .execute(&mut owner)
        .await
        .unwrap();
    let problems = |v: Vec<rls::RlsViolation>| {
        v.into_iter()
            .filter(|v| v.object == "notes")
            .map(|v| v.problem)
            .collect::<Vec<_>>()
    };

    let found = problems(rls::audit(&mut owner).await.unwrap());
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found[0].contains("not enabled") && found[1].contains("not forced"));
    assert!(found[2].contains("no policy"));

    // Enabled and with a tenant policy, but not forced: still a violation.
    owner
        .batch_execute(
            "ALTER TABLE notes ENABLE ROW LEVEL SECURITY; \
             CREATE POLICY tenant_isolation ON notes USING (org_id = current_org_id())",
        )
        .await
        .unwrap();
    let found = problems(rls::audit(&mut owner).await.unwrap());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("not forced"));

    // Forced, but a second permissive policy opens the table.
    owner
        .batch_execute(
            "ALTER TABLE notes FORCE ROW LEVEL SECURITY; \
             CREATE POLICY everyone ON notes USING (true)",
        )
        .await
        .unwrap();
    let found = problems(rls::audit(&mut owner).await.unwrap());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("permissive policy everyone"));

    diesel::sql_query("DROP POLICY everyone ON notes")
        .execute(&mut owner)
        .await
        .unwrap();
    assert!(problems(rls::audit(&mut owner).await.unwrap()).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_flags_a_runtime_role_that_owns_a_table() {
    let test_db = TestDatabase::new().await;
    test_db.psql_superuser(
        "CREATE TABLE stray (id int); ALTER TABLE stray OWNER TO platform_runtime;",
    );
    let mut owner = test_db.owner_conn().await;
    let found = rls::audit(&mut owner).await.unwrap();
    assert!(
        found
            .iter()
            .any(|v| v.object == "role platform_runtime" && v.problem.contains("stray")),
        "{found:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn serving_as_a_role_that_bypasses_rls_is_refused() {
    let test_db = TestDatabase::new().await;
    let owner_db = Db::new(&DbConfig::new(test_db.owner_url(), "test")).unwrap();
    match rls::check_serving_role(&owner_db).await {
        Err(DbError::UnsafeServingRole { role }) => assert_eq!(role, "platform_owner"),
        other => panic!("owner role accepted for serving: {other:?}"),
    }
    rls::check_serving_role(&test_db.db()).await.unwrap();
}

/// `text[]` columns of the public schema without a `CHECK (array_position(column, NULL) IS
/// NULL)`, as `table.column` (`db::arrays::TextList` relies on it).
async fn text_arrays_allowing_null(owner: &mut AsyncPgConnection) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Column {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let columns: Vec<Column> = diesel::sql_query(
        "SELECT c.table_name || '.' || c.column_name AS name
           FROM information_schema.columns c
          WHERE c.table_schema = 'public' AND c.udt_name = '_text'
            AND NOT EXISTS (
                SELECT 1 FROM pg_constraint k
                 WHERE k.conrelid = format('public.%I', c.table_name)::regclass
                   AND k.contype = 'c'
                   AND pg_get_constraintdef(k.oid)
                       LIKE '%array_position(' || c.column_name || ', NULL%')
          ORDER BY 1",
    )
    .load(owner)
    .await
    .unwrap();
    columns.into_iter().map(|c| c.name).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_text_array_column_refuses_null_elements() {
    let test_db = TestDatabase::new().await;
    let mut owner = test_db.owner_conn().await;
    assert_eq!(
        text_arrays_allowing_null(&mut owner).await,
        Vec::<String>::new()
    );
    // The check sees a column without the constraint.
    owner
        .batch_execute("CREATE TABLE probe_lists (items text[])")
        .await
        .unwrap();
    assert_eq!(
        text_arrays_allowing_null(&mut owner).await,
        ["probe_lists.items"]
    );
    // And the constraint's expression refuses a list holding NULL, and only that.
    #[derive(QueryableByName)]
    struct Verdicts {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        with_null: bool,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        without: bool,
    }
    let v: Verdicts = diesel::sql_query(
        "SELECT array_position(ARRAY['a', NULL]::text[], NULL) IS NULL AS with_null,
                array_position(ARRAY['a', 'b']::text[], NULL) IS NULL AS without",
    )
    .get_result(&mut owner)
    .await
    .unwrap();
    assert!(!v.with_null && v.without);
}

#[tokio::test(flavor = "multi_thread")]
async fn migrations_are_current_in_a_test_database() {
    let test_db = TestDatabase::new().await;
    assert!(!db::migrations::embedded_versions().unwrap().is_empty());
    assert!(
        db::migrations::pending_versions(&test_db.db())
            .await
            .unwrap()
            .is_empty()
    );
    // Running them again applies nothing.
    assert!(
        db::migrations::run_pending(&test_db.owner_url())
            .await
            .unwrap()
            .is_empty()
    );
}

/// Two tests writing the same natural key (an organization slug, unique) at the same time both
/// pass: each has its own database.
async fn write_shared_natural_key() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let org = OrgId::new_random();
    db.tenant(org, async move |tx| {
        diesel::sql_query(
            "INSERT INTO organizations (id, name, slug) VALUES ($1, 'Same', 'same-slug')",
        )
        .bind::<diesel::sql_types::Uuid, _>(org.0)
        .execute(tx)
        .await
        .map_err(DbError::from)
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn same_natural_key_in_parallel_first() {
    write_shared_natural_key().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn same_natural_key_in_parallel_second() {
    write_shared_natural_key().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signal_is_raised_after_commit_only_and_reaches_other_instances_coalesced() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let org = create_org(&db, "Clinic").await;
    let mut local = db.signals("test_signal");
    let mut remote = db.listen(&["test_signal"]).await.unwrap();
    // Rolled back: nothing raised, nothing notified.
    let failed: Result<(), DbError> = db
        .tenant(org, async move |_| {
            assert!(db::signal::raise_after_commit("test_signal"));
            Err(DbError::Migration("caller gave up".into()))
        })
        .await;
    assert!(failed.is_err());
    assert!(!local.has_changed().unwrap());
    assert!(
        remote
            .wait(Duration::from_millis(200))
            .await
            .unwrap()
            .is_empty()
    );
    // Committed, ten times in a burst: raised locally at once, and one NOTIFY for all.
    for _ in 0..10 {
        db.tenant(org, async move |tx| {
            assert!(db::signal::raise_after_commit("test_signal"));
            insert_user(tx, org).await.map(|_| ())
        })
        .await
        .unwrap();
        assert!(local.has_changed().unwrap());
        local.borrow_and_update();
    }
    let mut notes = remote.wait(Duration::from_secs(2)).await.unwrap();
    notes.extend(remote.wait(Duration::from_millis(300)).await.unwrap());
    assert!(
        (1..10).contains(&notes.len()),
        "coalesced into fewer than one NOTIFY per commit: {notes:?}"
    );
    assert!(notes.iter().all(|n| n.channel == "test_signal"));
    // Outside a transaction of Db nothing is recorded (the caller notifies in its own).
    assert!(!db::signal::raise_after_commit("test_signal"));
}
