//! Row-level security on every identity table, and the append-only API-key audit log, proved on
//! a real database as the runtime role.
#![allow(clippy::unwrap_used)]

use db::test_support::{IsolationProbe, TestDatabase, assert_tenant_isolation, insert_app};
use db::{AsyncPgConnection, ConnFuture, DbError, OrgId};
use diesel::sql_types::{Bytea, Text, Uuid as SqlUuid};
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use uuid::Uuid;

/// Inserts a user of `org` and returns its id.
async fn user(c: &mut AsyncPgConnection, org: OrgId) -> Result<Uuid, DbError> {
    let id = Uuid::new_v4();
    diesel::sql_query(
        "INSERT INTO users (id, org_id, email, name, role, password_hash) VALUES ($1, $2, $3, 'U', 'user', 'x')",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<SqlUuid, _>(org.0)
    .bind::<Text, _>(format!("{}@example.test", id.simple()))
    .execute(c)
    .await?;
    Ok(id)
}

fn insert_session(c: &mut AsyncPgConnection, org: OrgId) -> ConnFuture<'_, Result<Uuid, DbError>> {
    Box::pin(async move {
        // The session's user must exist in the same org; in the cross-org attempt the user
        // insert is refused first, which is the same refusal.
        let user_id = user(c, org).await?;
        let id = Uuid::new_v4();
        diesel::sql_query(
            "INSERT INTO user_sessions (id, org_id, user_id, token_hash, expires_at) \
             VALUES ($1, $2, $3, $4, now() + interval '1 day')",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<SqlUuid, _>(org.0)
        .bind::<SqlUuid, _>(user_id)
        .bind::<Bytea, _>(vec![0u8; 32])
        .execute(c)
        .await?;
        Ok(id)
    })
}

fn probe_app(c: &mut AsyncPgConnection, org: OrgId) -> ConnFuture<'_, Result<Uuid, DbError>> {
    Box::pin(insert_app(c, org))
}

fn insert_audit(c: &mut AsyncPgConnection, org: OrgId) -> ConnFuture<'_, Result<Uuid, DbError>> {
    Box::pin(async move {
        let app_id = insert_app(c, org).await?;
        let id = Uuid::new_v4();
        diesel::sql_query(
            "INSERT INTO api_key_audit_log (id, org_id, app_id, action, new_key_hint) \
             VALUES ($1, $2, $3, 'created', 'app_1234...abcd')",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<SqlUuid, _>(org.0)
        .bind::<SqlUuid, _>(app_id)
        .execute(c)
        .await?;
        Ok(id)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_apps_and_the_audit_log_are_isolated() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    for (table, insert) in [
        (
            "user_sessions",
            &insert_session as &db::test_support::InsertRow,
        ),
        ("apps", &probe_app),
        ("api_key_audit_log", &insert_audit),
    ] {
        let probe = IsolationProbe {
            table,
            tenant_column: "org_id",
            id_column: "id",
            insert,
        };
        assert_tenant_isolation(&db, &probe).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_log_refuses_updates_and_deletes_even_from_the_owner() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let org = db::test_support::create_org(&db, "Clinic").await;
    let entry = db
        .tenant(org, async move |tx| insert_audit(tx, org).await)
        .await
        .unwrap();

    let mut owner = test_db.owner_conn().await;
    for sql in [
        format!("UPDATE api_key_audit_log SET action = 'revoked' WHERE id = '{entry}'"),
        format!("DELETE FROM api_key_audit_log WHERE id = '{entry}'"),
        "TRUNCATE api_key_audit_log".to_owned(),
    ] {
        let err = owner.batch_execute(&sql).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    // The runtime role has no UPDATE or DELETE privilege at all.
    let err = db
        .tenant(org, async move |tx| {
            diesel::sql_query("DELETE FROM api_key_audit_log WHERE id = $1")
                .bind::<SqlUuid, _>(entry)
                .execute(tx)
                .await
                .map_err(DbError::from)
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
}
