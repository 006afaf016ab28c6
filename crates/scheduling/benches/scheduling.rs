//! Scheduling and dashboard costs on a real PostgreSQL (the test cluster), release build:
//! availability of a day (with 11 appointments on it), one booking (contact upsert, insert
//! under the exclusion constraint), and the calls-dashboard stats over 100,000 call logs of one
//! organization (plus 100,000 of another). Targets (issue 5): p99 under 20 ms, 20 ms and
//! 50 ms. Run: `cargo bench -p scheduling --bench scheduling` (or `cargo xtask bench`). Prints
//! percentiles; nothing fails on a number.
#![allow(clippy::too_many_lines)]
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    missing_docs
)]

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, NaiveTime, Utc};
use credentials::{CredentialService, Keyring};
use db::OrgId;
use db::test_support::{TestDatabase, create_org};
use diesel_async::RunQueryDsl;
use integrations::{Integrations, ProviderEndpoints};
use scheduling::{BookingRequest, BusinessHours, Scheduler, Settings};
use zeroize::Zeroizing;

async fn seed_calls(db: &db::Db, org: OrgId, n: i64) {
    db.tenant(org, async move |tx| {
        diesel::sql_query(
            "INSERT INTO call_logs (id, org_id, call_sid, phone_number, from_number, call_type, status, \
             duration_seconds, booking_confirmed, financial_value_minor, started_at, created_at) \
             SELECT gen_random_uuid(), $1, 'vapi-' || g, '+1555' || lpad(g::text, 7, '0'), '+1555' || lpad(g::text, 7, '0'), \
             CASE WHEN g % 5 = 0 THEN 'outbound' ELSE 'inbound' END, 'completed', 30 + g % 600, g % 3 = 0, \
             CASE WHEN g % 3 = 0 THEN 40000 ELSE 0 END, now() - make_interval(mins => g::int), now() - make_interval(mins => g::int) \
             FROM generate_series(1, $2) AS g",
        )
        .bind::<diesel::sql_types::Uuid, _>(org.0)
        .bind::<diesel::sql_types::BigInt, _>(n)
        .execute(tx)
        .await
        .map_err(db::DbError::Query)?;
        diesel::sql_query("ANALYZE call_logs")
            .execute(tx)
            .await
            .map_err(db::DbError::Query)
    })
    .await
    .unwrap();
}

fn main() {
    twilio_client::ensure_tls_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let test_db = TestDatabase::new().await;
        let db = test_db.db();
        let org = create_org(&db, "Bench clinic").await;
        let other = create_org(&db, "Other clinic").await;
        let keyring =
            Keyring::new([("k1".to_owned(), Zeroizing::new(vec![7u8; 32]))], "k1").unwrap();
        let credentials = Arc::new(CredentialService::new(db.clone(), Arc::new(keyring)));
        let integrations = Arc::new(Integrations::new(
            credentials.clone(),
            ProviderEndpoints::default(),
        ));
        let scheduler = Scheduler::new(
            db.clone(),
            credentials,
            integrations,
            jobs::Waker::new(db.clone(), std::time::Duration::ZERO),
        );
        let settings = Settings {
            time_zone: "America/New_York".parse().unwrap(),
            business_hours: (1..=7)
                .map(|weekday| BusinessHours {
                    weekday,
                    opens: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
                    closes: NaiveTime::from_hms_opt(20, 0, 0).unwrap(),
                })
                .collect(),
            buffer_minutes: 15,
            slot_step_minutes: 15,
            ..Settings::default()
        };
        db.tenant(org, async |tx| {
            scheduling::settings::replace(tx, &settings).await
        })
        .await
        .unwrap();
        let now: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let day0: DateTime<Utc> = "2026-02-02T13:00:00Z".parse().unwrap(); // 08:00 EST

        // Bookings: one per hour, 11 a day over 100 days (1,100 bookings), across the DST change.
        let mut booking = Vec::new();
        for d in 0..100 {
            for h in 0..11 {
                let at = day0 + chrono::Duration::days(d) + chrono::Duration::hours(h);
                let request = BookingRequest {
                    customer_name: format!("Caller {d}-{h}"),
                    customer_phone: format!("+1555{:07}", d * 100 + h),
                    service_name: Some("Botox".into()),
                    scheduled_time: at,
                    source: "voice_agent",
                    ..BookingRequest::default()
                };
                let t = Instant::now();
                scheduler.book(org, request, now).await.unwrap();
                booking.push(t.elapsed());
            }
        }
        latency_stats::report("book (atomic, contact upsert)", &booking, "");

        let mut availability = Vec::new();
        for i in 0..500 {
            let date = (day0 + chrono::Duration::days(i % 100))
                .date_naive()
                .to_string();
            let t = Instant::now();
            let day = scheduler
                .availability(org, &date, None, Some("botox".into()), now)
                .await
                .unwrap();
            availability.push(t.elapsed());
            std::hint::black_box(day);
        }
        latency_stats::report("availability of a day (11 booked)", &availability, "");

        seed_calls(&db, org, 100_000).await;
        seed_calls(&db, other, 100_000).await;
        let mut stats = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            let s = db
                .tenant(org, async |tx| crm::call_logs::stats(tx, None, None).await)
                .await
                .unwrap();
            stats.push(t.elapsed());
            assert_eq!(s.total_calls, 100_000);
        }
        latency_stats::report("calls-dashboard stats (100k calls)", &stats, "");
    });
}
