//! The credentials vault on a real PostgreSQL, as the runtime role (owner only where an operator
//! or an attacker with database access would act).
#![allow(clippy::too_many_lines)]
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use credentials::rotation::reseal_all;
use credentials::{
    Credential, CredentialError, CredentialService, Keyring, Provider, ResendCredentials,
    TwilioAuth, TwilioCredentials,
};
use db::test_support::{IsolationProbe, TestDatabase, assert_tenant_isolation, create_org};
use db::{AsyncPgConnection, ConnFuture, DbError, OrgId};
use diesel::QueryableByName;
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use secrecy::{ExposeSecret, SecretString};
use tenancy::audit::{Actor, ChangedBy, RequestOrigin};
use uuid::Uuid;
use zeroize::Zeroizing;

const TOKEN: &str = "twilio-auth-token-0123456789abcdef";

fn keyring(keys: &[(&str, u8)], active: &str) -> Arc<Keyring> {
    Arc::new(
        Keyring::new(
            keys.iter()
                .map(|(id, byte)| ((*id).to_owned(), Zeroizing::new(vec![*byte; 32]))),
            active,
        )
        .unwrap(),
    )
}

fn twilio(phone: &str) -> Credential {
    Credential::Twilio(TwilioCredentials {
        account_sid: format!("AC{}", "a".repeat(32)),
        auth_token: Some(SecretString::from(TOKEN.to_owned())),
        api_key: None,
        phone_number: phone.to_owned(),
        voice_application_sid: None,
    })
}

fn resend() -> Credential {
    Credential::Resend(ResendCredentials {
        api_key: SecretString::from("re_resend-key-0123456789".to_owned()),
        from_email: Some("clinic@example.com".into()),
    })
}

#[derive(QueryableByName)]
struct Text1 {
    #[diesel(sql_type = Text)]
    v: String,
}

async fn owner_text(owner: &mut AsyncPgConnection, sql: &str) -> String {
    diesel::sql_query(sql)
        .get_result::<Text1>(owner)
        .await
        .unwrap()
        .v
}

#[tokio::test(flavor = "multi_thread")]
async fn stores_and_reads_typed_credentials_with_actionable_errors() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let org = create_org(&db, "Clinic").await;
    let service = CredentialService::new(db.clone(), keyring(&[("k1", 1)], "k1"));

    let err = service.get::<TwilioCredentials>(org).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Twilio is not connected — connect it under Integrations"
    );
    assert!(!service.exists(org, Provider::Twilio).await.unwrap());

    let record = service
        .store(org, &twilio("+15550001111"), true, &ChangedBy::system())
        .await
        .unwrap();
    assert!(record.last_verified_at.is_some());
    assert_eq!(record.metadata["phone_number"], "+15550001111");
    assert_eq!(record.metadata["auth_token"], true);
    assert!(record.metadata["api_key_sid"].is_null());
    assert!(!record.metadata.to_string().contains(TOKEN));

    let cred = service.get::<TwilioCredentials>(org).await.unwrap();
    assert_eq!(cred.phone_number, "+15550001111");
    match cred.rest_auth() {
        Some(TwilioAuth::AuthToken(token)) => assert_eq!(token.expose_secret(), TOKEN),
        _ => panic!("wrong auth kind"),
    }
    assert!(!format!("{cred:?}").contains(TOKEN));
    assert!(service.exists(org, Provider::Twilio).await.unwrap());

    service
        .store(org, &resend(), false, &ChangedBy::system())
        .await
        .unwrap();
    let providers: Vec<String> = service
        .list(org)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.provider)
        .collect();
    assert_eq!(providers, ["resend", "twilio"]);

    // Nothing secret is stored in clear.
    let mut owner = test_db.owner_conn().await;
    let dump = owner_text(
        &mut owner,
        "SELECT coalesce(string_agg(row_to_json(t)::text, ' '), '') AS v FROM org_credentials t",
    )
    .await;
    assert!(
        !dump.contains(TOKEN) && !dump.contains("re_resend-key"),
        "plaintext secret in org_credentials"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_invalidate_the_cache_and_keep_history() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let org = create_org(&db, "Clinic").await;
    let user = Uuid::new_v4();
    let actor = &ChangedBy {
        actor: Actor::User(user),
        origin: RequestOrigin {
            address: Some("198.51.100.7".into()),
            request_id: Some("req-7".into()),
        },
    };
    let service = CredentialService::new(db.clone(), keyring(&[("k1", 1)], "k1"));

    service
        .store(org, &twilio("+15550001111"), false, actor)
        .await
        .unwrap();
    assert_eq!(
        service
            .get::<TwilioCredentials>(org)
            .await
            .unwrap()
            .phone_number,
        "+15550001111"
    );
    service
        .store(org, &twilio("+15550002222"), false, actor)
        .await
        .unwrap();
    assert_eq!(
        service
            .get::<TwilioCredentials>(org)
            .await
            .unwrap()
            .phone_number,
        "+15550002222"
    );

    service
        .record_verification(
            org,
            Provider::Twilio,
            Err("Twilio answered 401 (code 20003)".into()),
            actor,
        )
        .await
        .unwrap();
    let record = service
        .record(org, Provider::Twilio)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        record.verification_error.as_deref(),
        Some("Twilio answered 401 (code 20003)")
    );
    assert!(record.last_verified_at.is_none());
    let record = service
        .record_verification(org, Provider::Twilio, Ok(()), actor)
        .await
        .unwrap();
    assert!(record.verification_error.is_none() && record.last_verified_at.is_some());

    assert!(
        service
            .disconnect(org, Provider::Twilio, actor)
            .await
            .unwrap()
    );
    assert!(
        !service
            .disconnect(org, Provider::Twilio, actor)
            .await
            .unwrap()
    );
    assert!(matches!(
        service.get::<TwilioCredentials>(org).await,
        Err(CredentialError::NotConnected(Provider::Twilio))
    ));
    assert!(matches!(
        service
            .record_verification(org, Provider::Twilio, Ok(()), actor)
            .await,
        Err(CredentialError::NotConnected(Provider::Twilio))
    ));

    let mut owner = test_db.owner_conn().await;
    let history = owner_text(
        &mut owner,
        "SELECT count(*)::text || ' rows, ' || count(*) FILTER (WHERE is_active)::text || ' active' AS v FROM org_credentials",
    )
    .await;
    assert_eq!(history, "2 rows, 0 active");
    let actions = owner_text(
        &mut owner,
        "SELECT string_agg(action, ',' ORDER BY created_at, action) AS v FROM credential_audit_log",
    )
    .await;
    assert_eq!(
        actions,
        "stored,stored,verification_failed,verified,disconnected"
    );
    // The organization's audit trail has each change with who, from where and which request;
    // the verification error is kept, never a secret.
    let trail = owner_text(
        &mut owner,
        &format!("SELECT string_agg(action || '/' || target || '/' || actor_id || '/' || address || '/' || request_id, ',' ORDER BY occurred_at, action) AS v FROM audit_events WHERE actor_id = '{user}'"),
    )
    .await;
    let who = format!("twilio/{user}/198.51.100.7/req-7");
    assert_eq!(
        trail,
        [
            "stored",
            "stored",
            "verification_failed",
            "verified",
            "disconnected"
        ]
        .map(|a| format!("credential.{a}/{who}"))
        .join(",")
    );
    let error = owner_text(
        &mut owner,
        "SELECT detail->>'error' AS v FROM audit_events WHERE action = 'credential.verification_failed'",
    )
    .await;
    assert_eq!(error, "Twilio answered 401 (code 20003)");
    let err = owner
        .batch_execute("DELETE FROM credential_audit_log")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ciphertext_moved_to_another_org_or_provider_does_not_decrypt() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let (org_a, org_b) = (create_org(&db, "A").await, create_org(&db, "B").await);
    let ring = keyring(&[("k1", 1)], "k1");
    let service = CredentialService::new(db.clone(), ring.clone());
    service
        .store(org_a, &twilio("+15550001111"), false, &ChangedBy::system())
        .await
        .unwrap();
    service
        .store(org_b, &twilio("+15550009999"), false, &ChangedBy::system())
        .await
        .unwrap();
    service
        .store(org_a, &resend(), false, &ChangedBy::system())
        .await
        .unwrap();

    // Someone with database access copies A's sealed Twilio credential over B's, and over A's
    // Resend row.
    let mut owner = test_db.owner_conn().await;
    owner
        .batch_execute(&format!(
            "UPDATE org_credentials t SET key_id = s.key_id, nonce = s.nonce, ciphertext = s.ciphertext \
               FROM org_credentials s \
              WHERE s.org_id = '{a}' AND s.provider = 'twilio' AND s.is_active AND t.is_active \
                AND ((t.org_id = '{b}' AND t.provider = 'twilio') OR (t.org_id = '{a}' AND t.provider = 'resend'))",
            a = org_a.0,
            b = org_b.0
        ))
        .await
        .unwrap();

    let fresh = CredentialService::new(db.clone(), ring);
    let err = fresh.get::<TwilioCredentials>(org_b).await.unwrap_err();
    assert!(
        matches!(err, CredentialError::Undecryptable(Provider::Twilio)),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the stored Twilio credentials cannot be read; an operator has been alerted"
    );
    assert!(matches!(
        fresh.get::<ResendCredentials>(org_a).await,
        Err(CredentialError::Undecryptable(Provider::Resend))
    ));
    // A's own Twilio credential still opens.
    assert_eq!(
        fresh
            .get::<TwilioCredentials>(org_a)
            .await
            .unwrap()
            .phone_number,
        "+15550001111"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_reseals_everything_so_the_old_key_can_go() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let orgs = [create_org(&db, "A").await, create_org(&db, "B").await];
    let old = CredentialService::new(db.clone(), keyring(&[("k1", 1)], "k1"));
    for org in orgs {
        old.store(org, &twilio("+15550001111"), false, &ChangedBy::system())
            .await
            .unwrap();
        old.store(org, &twilio("+15550002222"), false, &ChangedBy::system())
            .await
            .unwrap(); // leaves a history row
    }

    // Deploy step: a new key is added and made active; old rows still open meanwhile.
    let both = keyring(&[("k1", 1), ("k2", 2)], "k2");
    let during = CredentialService::new(db.clone(), both.clone());
    assert_eq!(
        during
            .get::<TwilioCredentials>(orgs[0])
            .await
            .unwrap()
            .phone_number,
        "+15550002222"
    );

    let mut owner = test_db.owner_conn().await;
    let report = reseal_all(&mut owner, &both).await.unwrap();
    assert_eq!((report.resealed, report.skipped_concurrent), (4, 0));
    assert_eq!(
        reseal_all(&mut owner, &both).await.unwrap().resealed,
        0,
        "a second run has nothing to do"
    );
    let key_ids = owner_text(
        &mut owner,
        "SELECT string_agg(DISTINCT key_id, ',') AS v FROM org_credentials",
    )
    .await;
    assert_eq!(key_ids, "k2");

    // The old key can now be removed: everything opens with k2 alone, nothing with k1 alone.
    let new_only = CredentialService::new(db.clone(), keyring(&[("k2", 2)], "k2"));
    let old_only = CredentialService::new(db.clone(), keyring(&[("k1", 1)], "k1"));
    for org in orgs {
        assert_eq!(
            new_only
                .get::<TwilioCredentials>(org)
                .await
                .unwrap()
                .phone_number,
            "+15550002222"
        );
        assert!(matches!(
            old_only.get::<TwilioCredentials>(org).await,
            Err(CredentialError::Undecryptable(_))
        ));
    }
    // A row whose key is gone stops the rotation with the row named, changing nothing.
    let k3_only = keyring(&[("k3", 3)], "k3");
    assert!(
        matches!(reseal_all(&mut owner, &k3_only).await, Err(CredentialError::UnknownKey(k)) if k == "k2")
    );
}

fn insert_credential(
    c: &mut AsyncPgConnection,
    org: OrgId,
) -> ConnFuture<'_, Result<Uuid, DbError>> {
    Box::pin(async move {
        let id = Uuid::new_v4();
        diesel::sql_query(
            "INSERT INTO org_credentials (id, org_id, provider, key_id, nonce, ciphertext) \
             VALUES ($1, $2, 'twilio', 'k1', '\\x000000000000000000000000', '\\x00000000000000000000000000000000')",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<SqlUuid, _>(org.0)
        .execute(c)
        .await?;
        Ok(id)
    })
}

fn insert_credential_audit(
    c: &mut AsyncPgConnection,
    org: OrgId,
) -> ConnFuture<'_, Result<Uuid, DbError>> {
    Box::pin(async move {
        let id = Uuid::new_v4();
        diesel::sql_query("INSERT INTO credential_audit_log (id, org_id, provider, action) VALUES ($1, $2, 'twilio', 'stored')")
            .bind::<SqlUuid, _>(id)
            .bind::<SqlUuid, _>(org.0)
            .execute(c)
            .await?;
        Ok(id)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn credential_tables_are_isolated_between_organizations() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    for (table, insert) in [
        (
            "org_credentials",
            &insert_credential as &db::test_support::InsertRow,
        ),
        ("credential_audit_log", &insert_credential_audit),
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
    // Through the service: org B cannot read org A's credential.
    let service = CredentialService::new(db.clone(), keyring(&[("k1", 1)], "k1"));
    let (org_a, org_b) = (create_org(&db, "A").await, create_org(&db, "B").await);
    service
        .store(org_a, &twilio("+15550001111"), false, &ChangedBy::system())
        .await
        .unwrap();
    assert!(matches!(
        service.get::<TwilioCredentials>(org_b).await,
        Err(CredentialError::NotConnected(Provider::Twilio))
    ));
    assert!(service.list(org_b).await.unwrap().is_empty());
}
