//! Voicemails on a real database: idempotent upsert, filters, linking, tenant isolation.
#![allow(clippy::unwrap_used)]

use db::test_support::{
    IsolationProbe, TestDatabase, assert_tenant_isolation, create_app, create_org, insert_app,
};
use db::{AsyncPgConnection, ConnFuture, DbError, OrgId};
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;
use voicemail::{NewVoicemail, VoicemailError};

fn vm(call: Option<i64>, recording: &str) -> NewVoicemail {
    NewVoicemail {
        dialpad_call_id: call,
        dialpad_user_id: 987_654,
        from_number: Some("+15551234567".into()),
        to_number: Some("+15559876543".into()),
        recording_url: Some(recording.into()),
        transcript: None,
        duration_seconds: Some(45),
    }
}

/// The first `limit` voicemails of Dialpad user `user` in `app`, and how many there are.
async fn first_page(
    db: &db::Db,
    org: OrgId,
    app: Uuid,
    user: i64,
    limit: i64,
) -> (Vec<voicemail::Voicemail>, i64) {
    let page = db::Page { limit, offset: 0 };
    db.tenant(org, async |tx| {
        voicemail::list(tx, app, Some(user), page).await
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn redeliveries_update_the_same_voicemail() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let org = create_org(&db, "Clinic").await;
    let app = create_app(&db, org).await;
    let first = db
        .tenant(org, async |tx| {
            voicemail::upsert(
                tx,
                app,
                vm(Some(123_456_789), "https://dialpad.com/v/a.mp3"),
            )
            .await
        })
        .await
        .unwrap();
    let mut again = vm(Some(123_456_789), "https://dialpad.com/v/a.mp3");
    again.transcript = Some("Hi John, this is Mary".into());
    again.from_number = None; // a later event without the caller keeps the stored one
    let second = db
        .tenant(org, async |tx| voicemail::upsert(tx, app, again).await)
        .await
        .unwrap();
    assert_eq!(first.id, second.id);
    assert_eq!(second.transcript.as_deref(), Some("Hi John, this is Mary"));
    assert_eq!(second.from_number.as_deref(), Some("+15551234567"));

    // Without a call: keyed by the recording.
    let a = db
        .tenant(org, async |tx| {
            voicemail::upsert(tx, app, vm(None, "https://dialpad.com/v/b.mp3")).await
        })
        .await
        .unwrap();
    let b = db
        .tenant(org, async |tx| {
            voicemail::upsert(tx, app, vm(None, "https://dialpad.com/v/b.mp3")).await
        })
        .await
        .unwrap();
    assert_eq!(a.id, b.id);
    let linked = db
        .tenant(org, async |tx| {
            voicemail::link_to_call(tx, app, a.id, 555).await
        })
        .await
        .unwrap();
    assert_eq!(linked.dialpad_call_id, Some(555));

    let (page, total) = first_page(&db, org, app, 987_654, 1).await;
    assert_eq!((page.len(), total), (1, 2));
    let (none, total) = first_page(&db, org, app, 1, 50).await;
    assert_eq!((none.len(), total), (0, 0));
    db.tenant(org, async |tx| voicemail::delete(tx, app, a.id).await)
        .await
        .unwrap();
    assert!(matches!(
        db.tenant(org, async |tx| voicemail::get(tx, app, a.id).await)
            .await,
        Err(VoicemailError::NotFound)
    ));
    assert!(matches!(
        db.tenant(org, async |tx| voicemail::upsert(
            tx,
            app,
            NewVoicemail {
                dialpad_user_id: 1,
                ..Default::default()
            }
        )
        .await)
            .await,
        Err(VoicemailError::Invalid(_))
    ));
}

fn insert_voicemail(
    c: &mut AsyncPgConnection,
    org: OrgId,
) -> ConnFuture<'_, Result<Uuid, DbError>> {
    Box::pin(async move {
        let app_id = insert_app(c, org).await?;
        let id = Uuid::new_v4();
        diesel::sql_query("INSERT INTO voicemails (id, org_id, app_id, dialpad_user_id, recording_url) VALUES ($1, $2, $3, 1, $4)")
            .bind::<SqlUuid, _>(id)
            .bind::<SqlUuid, _>(org.0)
            .bind::<SqlUuid, _>(app_id)
            .bind::<Text, _>(format!("https://dialpad.com/v/{id}.mp3"))
            .execute(c)
            .await?;
        Ok(id)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn voicemails_are_isolated_and_bound_to_their_orgs_apps() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let probe = IsolationProbe {
        table: "voicemails",
        tenant_column: "org_id",
        id_column: "id",
        insert: &insert_voicemail,
    };
    assert_tenant_isolation(&db, &probe).await;

    // Even bypassing RLS, a voicemail of org A cannot point at org B's app.
    let (a, b) = (create_org(&db, "A").await, create_org(&db, "B").await);
    let app_b = create_app(&db, b).await;
    let out = std::panic::catch_unwind(|| {
        test_db.psql_superuser(&format!(
            "INSERT INTO voicemails (id, org_id, app_id, dialpad_user_id, recording_url) VALUES ('{}', '{}', '{app_b}', 1, 'x')",
            Uuid::new_v4(),
            a.0
        ))
    });
    assert!(out.is_err(), "a row of org A was attached to org B's app");
}
