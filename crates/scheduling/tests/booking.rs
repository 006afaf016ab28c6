//! Atomic booking against the real database: 50 concurrent bookings of one slot, and of slots
//! overlapping through the buffer, book exactly once; the rest are told the slot is taken and
//! offered alternatives. Availability in a non-UTC zone across a DST change, with the clinic's
//! own appointments; organizations never see each other's bookings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, NaiveTime, Utc};
use credentials::{CredentialService, Keyring};
use db::OrgId;
use db::test_support::{TestDatabase, create_org};
use integrations::{Integrations, ProviderEndpoints};
use scheduling::{
    BookingRequest, BusinessHours, Scheduler, SchedulingError, Settings, appointments, settings,
};
use zeroize::Zeroizing;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

struct World {
    _db: TestDatabase,
    db: db::Db,
    scheduler: Arc<Scheduler>,
    a: OrgId,
    b: OrgId,
}

async fn world(tz: &str, buffer: i32) -> World {
    twilio_client::ensure_tls_provider();
    let test_db = TestDatabase::new().await;
    // The production pool size (16), not the small test pool: 50 concurrent bookings queue for
    // connections as they would in the gateway.
    let mut config = db::DbConfig::new(test_db.runtime_url(), "booking-test");
    config.pool_max_size = 16;
    // 50 inserts into one slot wait on each other's locks, and PostgreSQL takes
    // `deadlock_timeout` (1 s) to break each deadlock between them; on a starved 2-core machine
    // that queue has exceeded the production 5 s limits, per statement and for a pooled
    // connection. This test is about exactly-once, not latency (the scheduling benchmark
    // measures that), so it allows a minute for both.
    config.statement_timeout = std::time::Duration::from_secs(60);
    config.pool_wait_timeout = std::time::Duration::from_secs(60);
    let db = db::Db::new(&config).unwrap();
    let a = create_org(&db, "Clinic A").await;
    let b = create_org(&db, "Clinic B").await;
    let keyring = Keyring::new([("k1".to_owned(), Zeroizing::new(vec![7u8; 32]))], "k1").unwrap();
    let credentials = Arc::new(CredentialService::new(db.clone(), Arc::new(keyring)));
    let integrations = Arc::new(Integrations::new(
        credentials.clone(),
        ProviderEndpoints::default(),
    ));
    let scheduler = Arc::new(Scheduler::new(
        db.clone(),
        credentials,
        integrations,
        jobs::Waker::new(db.clone(), std::time::Duration::ZERO),
    ));
    let settings = Settings {
        time_zone: tz.parse().unwrap(),
        business_hours: (1..=5)
            .map(|weekday| BusinessHours {
                weekday,
                opens: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
                closes: NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
            })
            .collect(),
        buffer_minutes: buffer,
        ..Settings::default()
    };
    for org in [a, b] {
        replace_settings(&db, org, &settings).await;
    }
    World {
        _db: test_db,
        db,
        scheduler,
        a,
        b,
    }
}

/// Stores `settings` as `org`'s, in its tenant transaction.
async fn replace_settings(db: &db::Db, org: OrgId, new: &Settings) {
    db.tenant(org, async |tx| settings::replace(tx, new).await)
        .await
        .unwrap();
}

fn request(i: usize, at: DateTime<Utc>) -> BookingRequest {
    BookingRequest {
        customer_name: format!("Caller {i}"),
        customer_phone: format!("+1555010{i:04}"),
        service_name: Some("Botox".into()),
        scheduled_time: at,
        source: "voice_agent",
        ..BookingRequest::default()
    }
}

/// Books `times` all at once (one task each) for `org`; returns (successes, refusals).
async fn storm(
    w: &World,
    org: OrgId,
    times: Vec<DateTime<Utc>>,
    first_caller: usize,
    now: DateTime<Utc>,
) -> (usize, Vec<Vec<DateTime<Utc>>>) {
    let barrier = Arc::new(tokio::sync::Barrier::new(times.len()));
    let tasks: Vec<_> = times
        .into_iter()
        .enumerate()
        .map(|(i, at)| {
            let (scheduler, barrier) = (w.scheduler.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                scheduler
                    .book(org, request(first_caller + i, at), now)
                    .await
            })
        })
        .collect();
    let (mut ok, mut refused) = (0, Vec::new());
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(SchedulingError::SlotTaken { alternatives }) => refused.push(alternatives),
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    (ok, refused)
}

async fn overlapping_live_pairs(w: &World, org: OrgId) -> i64 {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    w.db.tenant(org, async move |tx| {
        diesel::sql_query(
            "SELECT count(*) AS n FROM appointments x JOIN appointments y \
             ON x.id < y.id AND x.org_id = y.org_id \
             AND tstzrange(x.scheduled_time, x.blocked_until) && tstzrange(y.scheduled_time, y.blocked_until) \
             WHERE x.status IN ('pending','confirmed') AND y.status IN ('pending','confirmed')",
        )
        .get_result::<N>(tx)
        .await
        .map(|r| r.n)
        .map_err(db::DbError::Query)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_bookings_of_one_slot_book_exactly_once() {
    let w = world("America/New_York", 15).await;
    let now = utc("2026-03-01T12:00:00Z");
    // Monday 2026-03-09, 10:00 EDT (the day after the DST change).
    let slot = utc("2026-03-09T14:00:00Z");
    let (ok, refused) = storm(&w, w.a, vec![slot; 50], 0, now).await;
    assert_eq!(ok, 1, "exactly one booking wins");
    assert_eq!(refused.len(), 49);
    for alternatives in &refused {
        assert!(!alternatives.is_empty(), "a refusal offers alternatives");
        // Botox is 30 min, buffer 15: the taken slot blocks until 10:45; the grid's next free
        // start is 11:00 EDT.
        assert_eq!(alternatives[0], utc("2026-03-09T15:00:00Z"));
        assert!(!alternatives.contains(&slot));
    }

    // Another organization books the very same time, unaffected.
    let (ok_b, _) = storm(&w, w.b, vec![slot; 5], 0, now).await;
    assert_eq!(ok_b, 1);

    // 50 requests at different minutes, pairwise within the buffer of each other
    // (30 min + 15 min cleanup > 36 min apart at most): one wins.
    let base = utc("2026-03-10T14:00:00Z");
    let times = (0..50)
        .map(|k| base + chrono::Duration::minutes(4 * (k % 10)))
        .collect();
    let (ok, refused) = storm(&w, w.a, times, 100, now).await;
    assert_eq!((ok, refused.len()), (1, 49));
    assert_eq!(overlapping_live_pairs(&w, w.a).await, 0);
    assert_eq!(overlapping_live_pairs(&w, w.b).await, 0);

    // The contact of the winner is booked; the losers' contacts were never created.
    let page = db::Page {
        limit: 100,
        offset: 0,
    };
    let (contacts, total) =
        w.db.tenant(w.a, async |tx| {
            crm::contacts::list(tx, crm::contacts::ContactQuery::default(), page).await
        })
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert!(contacts.iter().all(|c| c.lead_status == "booked"));
}

#[tokio::test(flavor = "multi_thread")]
async fn availability_in_the_clinics_zone_across_dst_with_its_own_bookings() {
    let w = world("America/New_York", 15).await;
    let now = utc("2026-03-06T20:00:00Z"); // Friday 15:00 EST
    let friday = w
        .scheduler
        .availability(w.a, "today", None, None, now)
        .await
        .unwrap();
    assert_eq!(friday.date.to_string(), "2026-03-06");
    // 15:30 and 16:00 and 16:30 EST are left today.
    assert_eq!(
        friday.slots,
        [
            utc("2026-03-06T20:30:00Z"),
            utc("2026-03-06T21:00:00Z"),
            utc("2026-03-06T21:30:00Z")
        ]
    );
    assert!(!friday.calendar_checked);

    let booked = w
        .scheduler
        .book(w.a, request(1, utc("2026-03-09T13:00:00Z")), now)
        .await
        .unwrap();
    assert_eq!(booked.status, "confirmed");
    let monday = w
        .scheduler
        .availability(w.a, "2026-03-09", None, Some("botox".into()), now)
        .await
        .unwrap();
    // 09:00 EDT (13:00Z) is taken until 09:45; 09:30 would overlap; 10:00 EDT is first.
    assert_eq!(monday.slots.first(), Some(&utc("2026-03-09T14:00:00Z")));
    assert_eq!(monday.slots.len(), 16 - 2);
    // The other clinic still has the whole morning.
    let other = w
        .scheduler
        .availability(w.b, "2026-03-09", None, None, now)
        .await
        .unwrap();
    assert_eq!(other.slots.first(), Some(&utc("2026-03-09T13:00:00Z")));

    // Refusals: the past, the weekend, after hours.
    for (at, why) in [
        ("2026-03-06T19:00:00Z", "past"),
        ("2026-03-07T15:00:00Z", "Saturday"),
        ("2026-03-09T21:45:00Z", "17:45 EDT"),
    ] {
        assert!(
            matches!(
                w.scheduler.book(w.a, request(2, utc(at)), now).await,
                Err(SchedulingError::Unavailable(_))
            ),
            "{why}"
        );
    }

    // Reschedule into the buffer of another appointment is refused; cancel frees the time.
    let other_booking = w
        .scheduler
        .book(w.a, request(3, utc("2026-03-09T15:00:00Z")), now)
        .await
        .unwrap();
    assert!(matches!(
        w.scheduler
            .reschedule(w.a, booked.id, utc("2026-03-09T14:30:00Z"), now)
            .await,
        Err(SchedulingError::SlotTaken { .. })
    ));
    w.scheduler.cancel(w.a, other_booking.id).await.unwrap();
    let moved = w
        .scheduler
        .reschedule(w.a, booked.id, utc("2026-03-09T14:30:00Z"), now)
        .await
        .unwrap();
    assert_eq!(moved.scheduled_time, utc("2026-03-09T14:30:00Z"));
    // Cross-tenant: org B cannot see or touch org A's appointment.
    assert!(matches!(
        w.db.tenant(w.b, async |tx| appointments::get(tx, booked.id, false)
            .await)
            .await,
        Err(SchedulingError::NotFound(_))
    ));
    assert!(matches!(
        w.scheduler.cancel(w.b, booked.id).await,
        Err(SchedulingError::NotFound(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn approval_mode_books_drafts_that_still_hold_the_time() {
    let w = world("Europe/London", 0).await;
    let mut settings =
        w.db.tenant(w.a, async |tx| settings::get(tx).await)
            .await
            .unwrap();
    settings.require_approval = true;
    replace_settings(&w.db, w.a, &settings).await;
    let now = utc("2026-07-01T00:00:00Z");
    let at = utc("2026-07-06T09:00:00Z"); // Monday 10:00 BST
    let draft = w.scheduler.book(w.a, request(1, at), now).await.unwrap();
    assert_eq!(draft.status, "pending");
    assert!(matches!(
        w.scheduler.book(w.a, request(2, at), now).await,
        Err(SchedulingError::SlotTaken { .. })
    ));
    let approved = w
        .scheduler
        .update(
            w.a,
            draft.id,
            scheduling::AppointmentPatch {
                status: Some("confirmed".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(approved.status, "confirmed");
    assert!(matches!(
        w.scheduler
            .update(
                w.a,
                draft.id,
                scheduling::AppointmentPatch {
                    status: Some("pending".into()),
                    ..Default::default()
                },
            )
            .await,
        Err(SchedulingError::InvalidTransition { .. })
    ));
}
