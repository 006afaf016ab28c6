//! The daily cleanup across organizations, through the narrow `telephony_cleanup()` function.
#![allow(clippy::unwrap_used)]

use db::test_support::{TestDatabase, create_org};

#[tokio::test(flavor = "multi_thread")]
async fn stale_verifications_expire_and_go_but_active_forwarding_is_kept() {
    let test_db = TestDatabase::new().await;
    let db = test_db.db();
    let (a, b) = (create_org(&db, "A").await, create_org(&db, "B").await);
    // Arrange rows across two organizations as the owner (the API would take minutes and days).
    test_db.psql_superuser(&format!(
        "INSERT INTO verified_caller_ids (id, org_id, phone_number, status, verification_code_hash, verification_code_expires_at, updated_at) VALUES
           ('00000000-0000-4000-8000-000000000001', '{a}', '+15550000001', 'pending', 'h', now() - interval '1 minute', now()),
           ('00000000-0000-4000-8000-000000000002', '{b}', '+15550000002', 'pending', 'h', now() + interval '5 minutes', now()),
           ('00000000-0000-4000-8000-000000000003', '{a}', '+15550000003', 'failed', NULL, NULL, now() - interval '25 hours'),
           ('00000000-0000-4000-8000-000000000004', '{b}', '+15550000004', 'expired', NULL, NULL, now() - interval '2 hours'),
           ('00000000-0000-4000-8000-000000000005', '{b}', '+15550000005', 'expired', NULL, NULL, now() - interval '30 hours');
         INSERT INTO hybrid_forwarding_configs (id, org_id, verified_caller_id, sim_phone_number, forwarding_type, carrier,
             twilio_forwarding_number, generated_activation_codes, generated_deactivation_code, status)
           VALUES ('00000000-0000-4000-8000-0000000000f5', '{b}', '00000000-0000-4000-8000-000000000005', '+15550000005',
                   'total_ai', 'att', '+15559990000', ARRAY['**21*+15559990000*11#'], '##21#', 'active');
         ALTER TABLE verified_caller_ids DISABLE TRIGGER verified_caller_ids_updated_at;",
        a = a.0,
        b = b.0
    ));
    // (The trigger is off only so the arranged updated_at values survive; the run re-enables it.)
    let report = telephony::cleanup(&db).await.unwrap();
    test_db.psql_superuser(
        "ALTER TABLE verified_caller_ids ENABLE TRIGGER verified_caller_ids_updated_at;",
    );
    assert_eq!((report.expired, report.deleted), (1, 1), "{report:?}");
    let left = test_db.psql_superuser(
        "SELECT string_agg(right(phone_number, 1) || ':' || status, ',' ORDER BY phone_number) FROM verified_caller_ids",
    );
    assert_eq!(left, "1:expired,2:pending,4:expired,5:expired");
}
