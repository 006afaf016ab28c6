//! Provisioning an organization with its first admin, and the demo seed, on a real database.
#![allow(clippy::unwrap_used)]

use db::test_support::TestDatabase;
use tenancy::organizations::{self, NewOrganization};
use tenancy::{TenancyError, demo};

fn clinic<'a>(slug: &'a str, email: &'a str) -> NewOrganization<'a> {
    NewOrganization {
        name: "Riverside Clinic",
        slug,
        admin_email: email,
        admin_name: "Ada Admin",
        admin_password: "a long enough password",
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn provisioning_creates_the_org_and_its_admin_together() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let (org, admin) = organizations::provision(&db, &clinic("riverside", "Ada@Riverside.Example"))
        .await
        .unwrap();
    assert_eq!(admin.org_id, org.id);
    assert_eq!(admin.role, "admin");
    assert_eq!(admin.email, "ada@riverside.example");
    assert_eq!(
        db.tenant(admin.org(), async |tx| organizations::get(tx).await)
            .await
            .unwrap()
            .unwrap()
            .slug,
        "riverside"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_step_leaves_nothing_behind() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    organizations::provision(&db, &clinic("first", "ada@clinic.example"))
        .await
        .unwrap();
    // Same admin email: the second org must not survive without its admin.
    let err = organizations::provision(&db, &clinic("second", "ada@clinic.example"))
        .await
        .unwrap_err();
    assert!(matches!(err, TenancyError::EmailTaken), "{err:?}");
    let err = organizations::provision(&db, &clinic("second", "bob@clinic.example"))
        .await
        .map(|_| ());
    assert!(
        err.is_ok(),
        "slug 'second' was left taken by the failed attempt: {err:?}"
    );
    let err = organizations::provision(&db, &clinic("first", "cy@clinic.example"))
        .await
        .unwrap_err();
    assert!(matches!(err, TenancyError::SlugTaken), "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_before_any_write() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    for (slug, email, password) in [
        ("Bad Slug", "a@b.example", "long enough pw"),
        ("ok-slug", "not-an-email", "long enough pw"),
        ("ok-slug", "a@b.example", "short"),
    ] {
        let new = NewOrganization {
            admin_password: password,
            ..clinic(slug, email)
        };
        let err = organizations::provision(&db, &new).await.unwrap_err();
        assert!(matches!(err, TenancyError::Invalid(_)), "{err:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_seed_is_idempotent() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let first = demo::seed(&db).await.unwrap();
    let second = demo::seed(&db).await.unwrap();
    assert!(first.created && !second.created);
    assert_eq!(first.org_id, second.org_id);
}
