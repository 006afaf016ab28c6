//! Idempotency keys on a real database: claim, keep, replay, mismatch, the 24 h window and the
//! daily prune across organizations.
#![allow(clippy::unwrap_used)]

use db::OrgId;
use db::test_support::TestDatabase;
use diesel_async::RunQueryDsl;
use tenancy::audit::{Actor, RequestOrigin};
use tenancy::idempotency::{self, Claim, IdempotentRequest, StoredAnswer};
use tenancy::org_keys::{self, KeyManager, NewOrgKey};
use tenancy::organizations::{self, NewOrganization};

async fn org_with_key(db: &db::Db, slug: &str) -> (OrgId, uuid::Uuid) {
    let email = format!("admin@{slug}.example");
    let new = NewOrganization {
        name: "Clinic",
        slug,
        admin_email: &email,
        admin_name: "Ada",
        admin_password: "a long enough password",
    };
    let (org, admin) = organizations::provision(db, &new).await.unwrap();
    let pepper = tenancy::api_keys::ApiKeyPepper::new(&[9u8; 32]).unwrap();
    let by = KeyManager {
        actor: Actor::User(admin.id),
        reach: None,
    };
    let key = NewOrgKey {
        name: "k".into(),
        scopes: vec!["contacts:write".into()],
        expires_at: None,
    };
    let issued = org_keys::create(
        db,
        &pepper,
        OrgId(org.id),
        by,
        RequestOrigin::default(),
        key,
    )
    .await
    .unwrap();
    (OrgId(org.id), issued.stored.id)
}

fn request(org: OrgId, key: uuid::Uuid, hash: u8) -> IdempotentRequest {
    IdempotentRequest {
        org_id: org,
        api_key_id: key,
        key: "k-1".into(),
        request_hash: vec![hash; 32],
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kept_answer_is_replayed_within_the_window_and_pruned_after_it() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let (a, key_a) = org_with_key(&db, "idem-a").await;
    let (b, key_b) = org_with_key(&db, "idem-b").await;

    assert!(matches!(
        idempotency::claim(&db, request(a, key_a, 1)).await.unwrap(),
        Claim::Run
    ));
    assert!(matches!(
        idempotency::claim(&db, request(a, key_a, 1)).await.unwrap(),
        Claim::InProgress
    ));
    let answer = StoredAnswer {
        status: 201,
        content_type: Some("application/json".into()),
        body: b"{}".to_vec(),
    };
    idempotency::finish(&db, request(a, key_a, 1), Some(answer))
        .await
        .unwrap();
    match idempotency::claim(&db, request(a, key_a, 1)).await.unwrap() {
        Claim::Replay(kept) => assert_eq!((kept.status, kept.body.as_slice()), (201, &b"{}"[..])),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        idempotency::claim(&db, request(a, key_a, 2)).await.unwrap(),
        Claim::Mismatch
    ));
    // The same idempotency key of another organization's key is its own.
    assert!(matches!(
        idempotency::claim(&db, request(b, key_b, 2)).await.unwrap(),
        Claim::Run
    ));
    // A server error is forgotten: the retry runs.
    idempotency::finish(&db, request(b, key_b, 2), None)
        .await
        .unwrap();
    assert!(matches!(
        idempotency::claim(&db, request(b, key_b, 2)).await.unwrap(),
        Claim::Run
    ));

    // Older than 24 h: a reuse runs again, and the daily prune removes what nobody reused.
    let mut owner = test_db.owner_conn().await;
    diesel::sql_query("UPDATE api_idempotency_keys SET created_at = now() - interval '25 hours'")
        .execute(&mut owner)
        .await
        .unwrap();
    assert!(matches!(
        idempotency::claim(&db, request(a, key_a, 3)).await.unwrap(),
        Claim::Run
    ));
    assert_eq!(idempotency::prune(&db).await.unwrap(), 1, "b's old row");
    assert_eq!(idempotency::prune(&db).await.unwrap(), 0);
    assert!(matches!(
        idempotency::claim(&db, request(a, key_a, 3)).await.unwrap(),
        Claim::InProgress
    ));
}
