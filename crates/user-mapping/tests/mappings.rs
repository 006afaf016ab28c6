//! User mappings on a real database: upsert and remap with audit, atomic batches, look-ups,
//! tenant isolation.
#![allow(clippy::too_many_lines)]
#![allow(clippy::unwrap_used)]

use db::test_support::{
    IsolationProbe, TestDatabase, assert_tenant_isolation, create_app, create_org, insert_app,
};
use db::{AsyncPgConnection, ConnFuture, DbError, OrgId};
use diesel::sql_types::Uuid as SqlUuid;
use diesel_async::RunQueryDsl;
use tenancy::audit::RequestOrigin;
use user_mapping::{Actor, ChangedBy, MappingError, MappingKey};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread")]
async fn mapping_remapping_batching_and_audit() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let org = create_org(&db, "Clinic").await;
    let app_id = create_app(&db, org).await;
    let user = Uuid::new_v4();
    let by = &ChangedBy {
        actor: Actor::User(user),
        origin: RequestOrigin {
            address: Some("203.0.113.9".into()),
            request_id: Some("req-1".into()),
        },
    };

    let m = db
        .tenant(org, async |tx| {
            user_mapping::upsert(tx, app_id, 987_654, "user_abc123", by).await
        })
        .await
        .unwrap();
    let same = db
        .tenant(org, async |tx| {
            user_mapping::upsert(tx, app_id, 987_654, "user_abc123", by).await
        })
        .await
        .unwrap();
    let moved = db
        .tenant(org, async |tx| {
            user_mapping::upsert(tx, app_id, 987_654, "user_xyz", by).await
        })
        .await
        .unwrap();
    assert_eq!((m.id, same.id, moved.id), (m.id, m.id, m.id));
    assert_eq!(
        db.tenant(org, async |tx| user_mapping::by_crm_user(
            tx, app_id, "user_xyz"
        )
        .await)
            .await
            .unwrap()
            .dialpad_user_id,
        987_654
    );
    assert!(matches!(
        db.tenant(org, async |tx| user_mapping::by_crm_user(
            tx,
            app_id,
            "user_abc123"
        )
        .await)
            .await,
        Err(MappingError::NotFound)
    ));

    // A batch with one bad entry writes nothing.
    let bad = vec![(1, "a".to_owned()), (2, String::new())];
    assert!(
        matches!(db.tenant(org, async |tx| user_mapping::batch_upsert(tx, app_id, &bad, by).await).await, Err(MappingError::Invalid(m)) if m.starts_with("mappings[1]"))
    );
    let dup = vec![(1, "a".to_owned()), (1, "b".to_owned())];
    assert!(
        db.tenant(org, async |tx| user_mapping::batch_upsert(
            tx, app_id, &dup, by
        )
        .await)
            .await
            .is_err()
    );
    assert_eq!(
        db.tenant(org, async |tx| user_mapping::list(
            tx,
            app_id,
            db::Page {
                limit: 100,
                offset: 0
            }
        )
        .await)
            .await
            .unwrap()
            .1,
        1
    );
    let good: Vec<(i64, String)> = (1..=3).map(|i| (i, format!("crm_{i}"))).collect();
    assert_eq!(
        db.tenant(org, async |tx| user_mapping::batch_upsert(
            tx, app_id, &good, by
        )
        .await)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        db.tenant(org, async |tx| user_mapping::list(
            tx,
            app_id,
            db::Page {
                limit: 2,
                offset: 0
            }
        )
        .await)
            .await
            .unwrap()
            .0
            .len(),
        2
    );

    db.tenant(org, async |tx| {
        user_mapping::delete(tx, app_id, MappingKey::DialpadUser(2), by).await
    })
    .await
    .unwrap();
    db.tenant(org, async |tx| {
        user_mapping::delete(tx, app_id, MappingKey::Id(m.id), by).await
    })
    .await
    .unwrap();
    assert!(matches!(
        db.tenant(org, async |tx| user_mapping::delete(
            tx,
            app_id,
            MappingKey::Id(m.id),
            by
        )
        .await)
            .await,
        Err(MappingError::NotFound)
    ));

    let audit = test_db.psql_superuser(
        "SELECT string_agg(action, ',' ORDER BY created_at, action) FROM user_mapping_audit_log",
    );
    assert_eq!(
        audit,
        "mapped,remapped,mapped,mapped,mapped,deleted,deleted"
    );
    // The organization's audit trail has the same changes, with who, from where and which
    // request.
    let trail = test_db.psql_superuser(&format!(
        "SELECT string_agg(action || '/' || target || '/' || actor_type || '/' || actor_id || '/' || address || '/' || request_id, ',' ORDER BY occurred_at, action) FROM audit_events WHERE org_id = '{}'",
        org.0
    ));
    let who = format!("user/{user}/203.0.113.9/req-1");
    let expected: Vec<String> = [
        "mapped/987654",
        "remapped/987654",
        "mapped/1",
        "mapped/2",
        "mapped/3",
        "deleted/2",
        "deleted/987654",
    ]
    .iter()
    .map(|a| format!("user_mapping.{a}/{who}"))
    .collect();
    let mut sorted_trail: Vec<&str> = trail.split(',').collect();
    let mut sorted_expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    sorted_trail.sort_unstable();
    sorted_expected.sort_unstable();
    assert_eq!(sorted_trail, sorted_expected);
}

fn insert_mapping(c: &mut AsyncPgConnection, org: OrgId) -> ConnFuture<'_, Result<Uuid, DbError>> {
    Box::pin(async move {
        let app_id = insert_app(c, org).await?;
        let id = Uuid::new_v4();
        diesel::sql_query("INSERT INTO dialpad_user_mappings (id, org_id, app_id, dialpad_user_id, crm_user_id) VALUES ($1, $2, $3, 7, 'u')")
            .bind::<SqlUuid, _>(id)
            .bind::<SqlUuid, _>(org.0)
            .bind::<SqlUuid, _>(app_id)
            .execute(c)
            .await?;
        Ok(id)
    })
}

fn insert_audit(c: &mut AsyncPgConnection, org: OrgId) -> ConnFuture<'_, Result<Uuid, DbError>> {
    Box::pin(async move {
        let id = Uuid::new_v4();
        diesel::sql_query("INSERT INTO user_mapping_audit_log (id, org_id, app_id, action, dialpad_user_id) VALUES ($1, $2, $3, 'mapped', 7)")
            .bind::<SqlUuid, _>(id)
            .bind::<SqlUuid, _>(org.0)
            .bind::<SqlUuid, _>(Uuid::new_v4())
            .execute(c)
            .await?;
        Ok(id)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn mapping_tables_are_isolated() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    for (table, insert) in [
        (
            "dialpad_user_mappings",
            &insert_mapping as &db::test_support::InsertRow,
        ),
        ("user_mapping_audit_log", &insert_audit),
    ] {
        assert_tenant_isolation(
            &db,
            &IsolationProbe {
                table,
                tenant_column: "org_id",
                id_column: "id",
                insert,
            },
        )
        .await;
    }
}
