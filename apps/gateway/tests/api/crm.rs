//! CRM, scheduling and the dashboard actions over HTTP (seed 001 §16, "4 NEW DASHBOARD ACTION
//! ENDPOINTS", "messages"), with Twilio, Resend and Google faked at the HTTP level: the seed's
//! response shapes, the audit row of every action (failed when the provider fails, with no
//! provider text in the answer), share links, the Google Calendar outbox, and two-organization
//! isolation on every route.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, Utc};
use credentials::{Credential, GoogleCalendarCredentials};
use gateway::test_support::{Reply, Session, TestGateway, mock_endpoints, mock_twilio_account};
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{body_string_contains, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const NUMBER: &str = "+15559990000";
const FAILING_PHONE: &str = "+15550009999";

struct World {
    gw: TestGateway,
    mock: MockServer,
    a: Session,
    a_user: Session,
    b: Session,
}

async fn world() -> World {
    let mock = MockServer::start().await;
    mock_twilio_account(&mock, ACCOUNT, NUMBER).await;
    Mock::given(method("GET"))
        .and(path("/domains"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": []})))
        .mount(&mock)
        .await;
    // Twilio refuses one number with its raw error; every other SMS is queued.
    Mock::given(method("POST"))
        .and(path(format!(
            "/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
        )))
        .and(body_string_contains("To=%2B15550009999"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "code": 21211, "message": "The 'To' number +15550009999 is not a valid phone number.",
            "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400})))
        .with_priority(1)
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
        )))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "sid": "SM0123456789abcdef0123456789abcdef", "status": "queued",
            "to": "+15551230000", "from": NUMBER})))
        .mount(&mock)
        .await;
    // Resend refuses one recipient; accepts the rest.
    Mock::given(method("POST"))
        .and(path("/emails"))
        .and(body_string_contains("bounce@example.com"))
        .respond_with(
            ResponseTemplate::new(422)
                .set_body_json(json!({"name": "validation_error", "message": "raw resend detail"})),
        )
        .with_priority(1)
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "email-0001"})))
        .mount(&mock)
        .await;
    let google = integrations::google::GoogleOAuthConfig {
        client_id: "client".into(),
        client_secret: SecretString::from("client-secret".to_owned()),
        redirect_uri: "http://localhost/callback".into(),
        auth_url: format!("{}/auth", mock.uri()),
        token_url: format!("{}/token", mock.uri()),
        userinfo_url: format!("{}/userinfo", mock.uri()),
    };
    let gw = TestGateway::start_full(mock_endpoints(&mock), Some(google)).await;
    let a = gw.signup("clinic-a").await;
    let a_user = gw.add_user(&a, "desk@clinic-a.example", "user").await;
    let b = gw.signup("clinic-b").await;
    for (body, route) in [
        (
            json!({"account_sid": ACCOUNT, "auth_token": "token", "phone_number": NUMBER}),
            "/api/integrations/twilio",
        ),
        (
            json!({"api_key": "re_key_0123456789", "from_email": "clinic@clinic-a.example"}),
            "/api/integrations/resend",
        ),
    ] {
        let r = gw.post(route, Some(&a.token), &body).await;
        assert_eq!(r.status, 200, "{route}: {:?}", r.body);
    }
    World {
        gw,
        mock,
        a,
        a_user,
        b,
    }
}

fn org(s: &Session) -> db::OrgId {
    db::OrgId(s.org_id.parse().unwrap())
}

fn next_weekday_utc(hour: u32) -> DateTime<Utc> {
    // The next Wednesday at least two days ahead, at `hour`:00 UTC (default settings are UTC,
    // Monday-Friday 09:00-17:00).
    let mut day = Utc::now().date_naive() + Duration::days(2);
    while day.format("%u").to_string() != "3" {
        day += Duration::days(1);
    }
    day.and_hms_opt(hour, 0, 0).unwrap().and_utc()
}

async fn call(w: &World, who: &Session, phone: &str, transcript: &str) -> Uuid {
    w.gw.state
        .db
        .tenant(org(who), async |tx| {
            crm::call_logs::record(
                tx,
                crm::call_logs::NewCallLog {
                    vapi_call_id: Some(Uuid::new_v4().to_string()),
                    phone_number: Some(phone.into()),
                    caller_name: Some("Jane Roe".into()),
                    transcript: Some(transcript.into()),
                    recording_url: Some("https://recordings.example/r/1.wav".into()),
                    duration_seconds: Some(120),
                    booking_confirmed: true,
                    financial_value_minor: 40_000,
                    started_at: Some(Utc::now()),
                    ..Default::default()
                },
            )
            .await
        })
        .await
        .unwrap()
        .id
}

async fn messages(
    w: &World,
    who: &Session,
) -> Vec<(String, String, Option<String>, Option<String>)> {
    use diesel::sql_types::{Nullable, Text};
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        method: String,
        #[diesel(sql_type = Text)]
        status: String,
        #[diesel(sql_type = Nullable<Text>)]
        external_message_id: Option<String>,
        #[diesel(sql_type = Nullable<Text>)]
        error_code: Option<String>,
    }
    let o = org(who);
    let rows: Vec<Row> =
        w.gw.state
            .db
            .tenant(o, async move |tx| {
                diesel::sql_query(
                    "SELECT method, status, external_message_id, error_code FROM messages \
                 WHERE org_id = $1 ORDER BY created_at",
                )
                .bind::<diesel::sql_types::Uuid, _>(o.0)
                .load(tx)
                .await
                .map_err(db::DbError::Query)
            })
            .await
            .unwrap();
    rows.into_iter()
        .map(|r| (r.method, r.status, r.external_message_id, r.error_code))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn contacts_and_services_have_the_seed_shapes_and_stay_in_their_org() {
    let w = world().await;
    let r = w
        .gw
        .post(
            "/api/contacts",
            Some(&w.a_user.token),
            &json!({"contact_name": "Jane Roe", "phone_number": "(555) 123-4567", "lead_temperature": "hot",
                    "services_interested": ["botox"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let c = &r.body["contact"];
    for (field, value) in [
        ("contact_name", json!("Jane Roe")),
        ("name", json!("Jane Roe")),
        ("phone_number", json!("+15551234567")),
        ("phone", json!("+15551234567")),
        ("lead_status", json!("new")),
        ("services_interested", json!(["botox"])),
    ] {
        assert_eq!(c[field], value, "{field}");
    }
    let id = c["id"].as_str().unwrap().to_owned();
    let dup =
        w.gw.post(
            "/api/contacts",
            Some(&w.a.token),
            &json!({"name": "Again", "phone": "+1 555 123 4567"}),
        )
        .await;
    assert_eq!(
        (dup.status, dup.body["code"].as_str()),
        (409, Some("phone_taken"))
    );
    // The same number is free in another organization.
    let other =
        w.gw.post(
            "/api/contacts",
            Some(&w.b.token),
            &json!({"name": "Other", "phone": "+15551234567"}),
        )
        .await;
    assert_eq!(other.status, 201);

    let stats = w.gw.get("/api/contacts/stats", Some(&w.a.token)).await;
    assert_eq!(
        (
            stats.body["total_leads"].as_i64(),
            stats.body["hot_leads"].as_i64(),
            stats.body["total"].as_i64()
        ),
        (Some(1), Some(1), Some(1))
    );
    let list =
        w.gw.get("/api/contacts?search=roe&limit=10", Some(&w.a.token))
            .await;
    assert_eq!(list.body["pagination"]["total"], 1);
    assert_eq!(list.body["contacts"][0]["contact_name"], "Jane Roe");

    let moved =
        w.gw.send(
            "PATCH",
            &format!("/api/contacts/{id}"),
            Some(&w.a.token),
            &[],
            Some(&json!({"lead_status": "contacted"})),
        )
        .await;
    assert_eq!(moved.body["contact"]["lead_status"], "contacted");
    let back =
        w.gw.send(
            "PATCH",
            &format!("/api/contacts/{id}"),
            Some(&w.a.token),
            &[],
            Some(&json!({"lead_status": "new"})),
        )
        .await;
    assert_eq!(
        (back.status, back.body["code"].as_str()),
        (409, Some("invalid_transition"))
    );

    // Organization B never reaches A's contact.
    for (verb, body) in [
        ("GET", None),
        ("PATCH", Some(json!({"notes": "x"}))),
        ("DELETE", None),
    ] {
        let r =
            w.gw.send(
                verb,
                &format!("/api/contacts/{id}"),
                Some(&w.b.token),
                &[],
                body.as_ref(),
            )
            .await;
        assert_eq!(r.status, 404, "{verb}");
    }

    // Seven default services per organization, prices in cents.
    let services = w.gw.get("/api/services", Some(&w.a.token)).await;
    let names: Vec<&str> = services.body["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 7);
    let botox = services.body["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Botox")
        .unwrap()
        .clone();
    assert_eq!(
        (botox["price_minor"].as_i64(), botox["price"].as_f64()),
        (Some(40_000), Some(400.0))
    );
    let created =
        w.gw.post(
            "/api/services",
            Some(&w.a.token),
            &json!({"name": "Peel", "price_minor": 12_500, "keywords": ["Peel", "chemical peel"]}),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let peel = created.body["service"]["id"].as_str().unwrap().to_owned();
    // The seed's `price` in major units, after the currency's own minor-unit digits.
    for (body, price_minor, price) in [
        (json!({"name": "Facial", "price": 150.5}), 15_050, 150.5),
        (
            json!({"name": "Massage", "price": 9000, "currency": "JPY"}),
            9000,
            9000.0,
        ),
        (
            json!({"name": "Wax", "price": 20, "price_minor": 2000}),
            2000,
            20.0,
        ),
    ] {
        let r = w.gw.post("/api/services", Some(&w.a.token), &body).await;
        assert_eq!(r.status, 201, "{body}: {:?}", r.body);
        assert_eq!(
            (
                r.body["service"]["price_minor"].as_i64(),
                r.body["service"]["price"].as_f64()
            ),
            (Some(price_minor), Some(price)),
            "{body}"
        );
    }
    for body in [
        json!({"name": "No price"}),
        json!({"name": "Fraction", "price": 10.005}),
        json!({"name": "Yen cents", "price": 10.5, "currency": "JPY"}),
        json!({"name": "Disagree", "price": 20, "price_minor": 20}),
        json!({"name": "Not a currency", "price": 20, "currency": "XYZ"}),
    ] {
        let r = w.gw.post("/api/services", Some(&w.a.token), &body).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (422, Some("validation_failed")),
            "{body}"
        );
    }
    let repriced =
        w.gw.send(
            "PATCH",
            &format!("/api/services/{peel}"),
            Some(&w.a.token),
            &[],
            Some(&json!({"price": 99.99})),
        )
        .await;
    assert_eq!(repriced.body["service"]["price_minor"], 9999);
    let forbidden =
        w.gw.post(
            "/api/services",
            Some(&w.a_user.token),
            &json!({"name": "X", "price_minor": 1}),
        )
        .await;
    assert_eq!(forbidden.status, 403);
    let r =
        w.gw.get(&format!("/api/services/{peel}"), Some(&w.b.token))
            .await;
    assert_eq!(r.status, 404);
    for (verb, body) in [("DELETE", None), ("PATCH", Some(json!({"price_minor": 1})))] {
        let r =
            w.gw.send(
                verb,
                &format!("/api/services/{peel}"),
                Some(&w.b.token),
                &[],
                body.as_ref(),
            )
            .await;
        assert_eq!(r.status, 404, "{verb}");
    }
    let b_list = w.gw.get("/api/contacts", Some(&w.b.token)).await;
    assert_eq!(b_list.body["pagination"]["total"], 1);
    assert_eq!(b_list.body["contacts"][0]["contact_name"], "Other");
    let b_stats = w.gw.get("/api/contacts/stats", Some(&w.b.token)).await;
    assert_eq!(b_stats.body["hot_leads"], 0);
    assert_eq!(
        w.gw.get("/api/services", Some(&w.b.token)).await.body["services"]
            .as_array()
            .unwrap()
            .len(),
        7
    );

    // Seed 002's company: set, searched, cleared; never seen by B.
    let path = format!("/api/contacts/{id}");
    let with_company =
        w.gw.send(
            "PATCH",
            &path,
            Some(&w.a.token),
            &[],
            Some(&json!({"company": " Harbor Dental "})),
        )
        .await;
    assert_eq!(with_company.body["contact"]["company"], "Harbor Dental");
    let found =
        w.gw.get("/api/contacts?search=harbor", Some(&w.a.token))
            .await;
    assert_eq!(found.body["contacts"][0]["id"], json!(id));
    let not_b =
        w.gw.get("/api/contacts?search=harbor", Some(&w.b.token))
            .await;
    assert_eq!(not_b.body["pagination"]["total"], 0);
    let too_long =
        w.gw.send(
            "PATCH",
            &path,
            Some(&w.a.token),
            &[],
            Some(&json!({"company": "x".repeat(201)})),
        )
        .await;
    assert_eq!(too_long.status, 422);
    let cleared =
        w.gw.send(
            "PATCH",
            &path,
            Some(&w.a.token),
            &[],
            Some(&json!({"company": ""})),
        )
        .await;
    assert_eq!(cleared.body["contact"]["company"], Value::Null);
    let created_with =
        w.gw.post(
            "/api/contacts",
            Some(&w.a.token),
            &json!({"name": "Ann", "phone": "+15557654321", "company": "Acme"}),
        )
        .await;
    assert_eq!(created_with.body["contact"]["company"], "Acme");
}

#[tokio::test(flavor = "multi_thread")]
async fn booking_over_http_refuses_a_taken_slot_with_alternatives() {
    let w = world().await;
    let at = next_weekday_utc(10);
    let book = |who: &Session, phone: &str| {
        let body = json!({"customer_name": "Jane Roe", "customer_phone": phone, "service": "Botox",
                          "scheduled_time": at.to_rfc3339()});
        let (gw, token) = (&w.gw, who.token.clone());
        async move { gw.post("/api/appointments", Some(&token), &body).await }
    };
    let first = book(&w.a, "+15551230001").await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let appointment = &first.body["appointment"];
    assert_eq!(appointment["scheduled_time"], appointment["scheduled_at"]);
    assert_eq!(appointment["status"], "confirmed");
    assert_eq!(appointment["contact_name"], "Jane Roe");
    assert_eq!(appointment["service_type"], "Botox");
    assert_eq!(appointment["duration_minutes"], 30);
    let id = appointment["id"].as_str().unwrap().to_owned();

    let taken = book(&w.a, "+15551230002").await;
    assert_eq!(
        (taken.status, taken.body["code"].as_str()),
        (409, Some("slot_taken"))
    );
    let alternatives = taken.body["alternatives"].as_array().unwrap();
    assert_eq!(alternatives.len(), 3);
    assert_eq!(alternatives[0], crate_iso(at + Duration::minutes(30)));
    // Another organization's calendar is its own.
    assert_eq!(book(&w.b, "+15551230001").await.status, 201);

    let slots =
        w.gw.get(
            &format!("/api/availability?date={}&service=botox", at.date_naive()),
            Some(&w.a.token),
        )
        .await;
    assert_eq!(slots.status, 200, "{:?}", slots.body);
    assert!(
        !slots.body["slots"]
            .as_array()
            .unwrap()
            .contains(&json!(crate_iso(at)))
    );
    assert_eq!(slots.body["time_zone"], "UTC");

    let list = w.gw.get("/api/appointments", Some(&w.a.token)).await;
    assert_eq!(list.body["pagination"]["total"], 1);
    assert_eq!(
        w.gw.get("/api/appointments", Some(&w.b.token)).await.body["pagination"]["total"],
        1
    );
    let later = json!({"scheduled_time": (at + Duration::hours(3)).to_rfc3339()});
    for (verb, route, body) in [
        ("GET", format!("/api/appointments/{id}"), json!({})),
        ("POST", format!("/api/appointments/{id}/cancel"), json!({})),
        (
            "PATCH",
            format!("/api/appointments/{id}"),
            json!({"notes": "x"}),
        ),
        (
            "POST",
            format!("/api/appointments/{id}/reschedule"),
            later.clone(),
        ),
    ] {
        let r =
            w.gw.send(verb, &route, Some(&w.b.token), &[], Some(&body))
                .await;
        assert_eq!(r.status, 404, "{verb} {route}");
    }
    let moved =
        w.gw.post(
            &format!("/api/appointments/{id}/reschedule"),
            Some(&w.a.token),
            &later,
        )
        .await;
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    let settings =
        w.gw.send(
            "PUT",
            "/api/scheduling/settings",
            Some(&w.a_user.token),
            &[],
            Some(&json!({
            "time_zone": "America/Chicago", "business_hours": []})),
        )
        .await;
    assert_eq!(settings.status, 403);
    let cancelled =
        w.gw.post(
            &format!("/api/appointments/{id}/cancel"),
            Some(&w.a.token),
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.body["appointment"]["status"], "cancelled");
    assert_eq!(
        book(&w.a, "+15551230002").await.status,
        201,
        "a cancelled booking frees its time"
    );
    let chicago =
        w.gw.send(
            "PUT",
            "/api/scheduling/settings",
            Some(&w.a.token),
            &[],
            Some(&json!({
            "time_zone": "America/Chicago", "buffer_minutes": 15,
            "business_hours": [{"weekday": 3, "opens": "08:00", "closes": "18:00"}]})),
        )
        .await;
    assert_eq!(chicago.status, 200, "{:?}", chicago.body);
    assert_eq!(chicago.body["settings"]["time_zone"], "America/Chicago");
    let b_settings = w.gw.get("/api/scheduling/settings", Some(&w.b.token)).await;
    assert_eq!(b_settings.body["settings"]["time_zone"], "UTC");
    assert_eq!(
        b_settings.body["settings"]["business_hours"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

fn crate_iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_four_actions_audit_every_attempt_and_hide_provider_errors() {
    let w = world().await;
    let good = call(
        &w,
        &w.a,
        "+15551230000",
        "Agent: Hello.\nCaller: I'd like Botox.",
    )
    .await;
    let failing = call(&w, &w.a, FAILING_PHONE, "Caller: hi").await;

    // 1. Follow-up SMS.
    let too_long =
        w.gw.post(
            &format!("/api/calls-dashboard/{good}/followup"),
            Some(&w.a_user.token),
            &json!({"message": "x".repeat(161)}),
        )
        .await;
    assert_eq!(too_long.status, 422);
    let sent =
        w.gw.post(
            &format!("/api/calls-dashboard/{good}/followup"),
            Some(&w.a_user.token),
            &json!({"message": "Thanks for calling!"}),
        )
        .await;
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    assert_eq!(sent.body["phone"], "+15551230000");
    assert!(sent.body["messageId"].is_string());
    let refused =
        w.gw.post(
            &format!("/api/calls-dashboard/{failing}/followup"),
            Some(&w.a.token),
            &json!({"message": "Hi"}),
        )
        .await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (502, Some("provider_failed"))
    );
    assert_eq!(refused.body["error"], "Failed to send SMS");
    assert!(!refused.body.to_string().contains("21211"));

    // 2. Share the recording: the link works, is counted, and expires.
    let shared =
        w.gw.post(
            &format!("/api/calls-dashboard/{good}/share"),
            Some(&w.a.token),
            &json!({"email": "Lead@Example.com"}),
        )
        .await;
    assert_eq!(
        (shared.status, shared.body["email"].as_str()),
        (200, Some("lead@example.com")),
        "{:?}",
        shared.body
    );
    let requests = w.mock.received_requests().await.unwrap();
    let email = requests
        .iter()
        .rev()
        .find(|r| r.url.path() == "/emails")
        .map(|r| String::from_utf8_lossy(&r.body).to_string())
        .unwrap();
    let token = email
        .split("/share/recordings/")
        .nth(1)
        .map(|rest| rest.chars().take(64).collect::<String>())
        .unwrap();
    let _ = gateway::test_support::http_client();
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for _ in 0..2 {
        let opened = no_redirect
            .get(format!("{}/share/recordings/{token}", w.gw.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(opened.status().as_u16(), 302);
        assert_eq!(
            opened.headers()["location"],
            "https://recordings.example/r/1.wav"
        );
    }
    let unknown =
        w.gw.get(&format!("/share/recordings/{}", "0".repeat(64)), None)
            .await;
    assert_eq!(unknown.status, 404);
    let bounced =
        w.gw.post(
            &format!("/api/calls-dashboard/{good}/share"),
            Some(&w.a.token),
            &json!({"email": "bounce@example.com"}),
        )
        .await;
    assert_eq!(
        (bounced.status, bounced.body["error"].as_str()),
        (502, Some("Failed to send email"))
    );
    assert!(!bounced.body.to_string().contains("raw resend detail"));

    // 3. Export the transcript.
    let export =
        w.gw.post(
            &format!("/api/calls-dashboard/{good}/transcript/export"),
            Some(&w.a.token),
            &json!({"format": "txt"}),
        )
        .await;
    assert_eq!(export.status, 200);
    assert!(
        export.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("transcript-{good}.txt"))
    );
    assert!(
        export
            .body
            .as_str()
            .unwrap()
            .contains("Caller: I'd like Botox.")
    );

    // 4. Reminders by SMS and email; a failure leaves confirmation_sent false.
    let at = next_weekday_utc(11);
    let booked = w
        .gw
        .post("/api/appointments", Some(&w.a.token), &json!({"customer_name": "Jane Roe", "customer_phone": "+15551230000",
            "customer_email": "jane@example.com", "service": "Botox", "scheduled_time": at.to_rfc3339()}))
        .await;
    let appointment = booked.body["appointment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (method, recipient) in [("sms", "+15551230000"), ("email", "jane@example.com")] {
        let r =
            w.gw.post(
                &format!("/api/appointments/{appointment}/send-reminder"),
                Some(&w.a.token),
                &json!({"method": method}),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(
            (r.body["recipient"].as_str(), r.body["method"].as_str()),
            (Some(recipient), Some(method))
        );
    }
    let later =
        w.gw.post(
            "/api/appointments",
            Some(&w.a.token),
            &json!({"customer_name": "Failing", "customer_phone": FAILING_PHONE,
            "scheduled_time": (at + Duration::hours(2)).to_rfc3339()}),
        )
        .await;
    let failing_appointment = later.body["appointment"]["id"].as_str().unwrap().to_owned();
    let r =
        w.gw.post(
            &format!("/api/appointments/{failing_appointment}/send-reminder"),
            Some(&w.a.token),
            &json!({"method": "sms"}),
        )
        .await;
    assert_eq!(r.status, 502);
    let appointments = w.gw.get("/api/appointments", Some(&w.a.token)).await;
    let sent_flags: Vec<(String, bool)> = appointments.body["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["contact_name"].as_str().unwrap().to_owned(),
                a["confirmation_sent"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sent_flags,
        [("Jane Roe".to_owned(), true), ("Failing".to_owned(), false)]
    );

    // The audit: every attempt, in order, with its outcome.
    let audit: Vec<(String, String)> = messages(&w, &w.a)
        .await
        .into_iter()
        .map(|(method, status, _, _)| (method, status))
        .collect();
    let expected = [
        ("sms", "sent"),
        ("sms", "failed"),
        ("share", "sent"),
        ("share", "failed"),
        ("export", "sent"),
        ("sms", "sent"),
        ("email", "sent"),
        ("sms", "failed"),
    ];
    assert_eq!(
        audit,
        expected
            .iter()
            .map(|(m, s)| ((*m).to_owned(), (*s).to_owned()))
            .collect::<Vec<_>>()
    );
    let raw = messages(&w, &w.a).await;
    assert_eq!(
        raw[0].2.as_deref(),
        Some("SM0123456789abcdef0123456789abcdef")
    );
    assert_eq!(raw[1].3.as_deref(), Some("21211"));

    // Organization B reaches none of A's calls or appointments, and has no audit rows.
    for route in [format!("/api/calls-dashboard/{good}")] {
        assert_eq!(w.gw.get(&route, Some(&w.b.token)).await.status, 404);
    }
    for (route, body) in [
        (
            format!("/api/calls-dashboard/{good}/followup"),
            json!({"message": "x"}),
        ),
        (
            format!("/api/calls-dashboard/{good}/share"),
            json!({"email": "x@example.com"}),
        ),
        (
            format!("/api/calls-dashboard/{good}/transcript/export"),
            json!({"format": "txt"}),
        ),
        (
            format!("/api/appointments/{appointment}/send-reminder"),
            json!({"method": "sms"}),
        ),
    ] {
        assert_eq!(
            w.gw.post(&route, Some(&w.b.token), &body).await.status,
            404,
            "{route}"
        );
    }
    assert!(messages(&w, &w.b).await.is_empty());

    // The same audit over the API, per call, appointment and status, newest first.
    let listed = |query: String, who: &Session| {
        let token = who.token.clone();
        let gw = &w.gw;
        async move {
            let r = gw.get(&format!("/api/messages{query}"), Some(&token)).await;
            assert_eq!(r.status, 200, "{query}: {:?}", r.body);
            r.body
        }
    };
    let of_call = listed(format!("?call_id={good}"), &w.a_user).await;
    let methods: Vec<(&str, &str)> = of_call["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["method"].as_str().unwrap(), m["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        methods,
        [
            ("export", "sent"),
            ("share", "failed"),
            ("share", "sent"),
            ("sms", "sent")
        ]
    );
    assert_eq!(
        of_call["messages"][3]["external_message_id"],
        "SM0123456789abcdef0123456789abcdef"
    );
    assert!(
        !of_call.to_string().contains(&token),
        "a share's audit never holds the live link"
    );
    let reminders = listed(format!("?appointment_id={appointment}"), &w.a).await;
    assert_eq!(reminders["pagination"]["total"], 2);
    let failed = listed("?status=failed&limit=2".into(), &w.a).await;
    assert_eq!(
        (
            failed["pagination"]["total"].as_i64(),
            failed["pagination"]["has_more"].as_bool()
        ),
        (Some(3), Some(true))
    );
    assert_eq!(failed["messages"][0]["error_code"], "21211");
    let bad = w.gw.get("/api/messages?method=fax", Some(&w.a.token)).await;
    assert_eq!(
        (bad.status, bad.body["code"].as_str()),
        (422, Some("validation_failed"))
    );
    assert_eq!(listed(String::new(), &w.b).await["pagination"]["total"], 0);
    assert_eq!(
        listed(format!("?call_id={good}"), &w.b).await["messages"],
        json!([])
    );
    assert_eq!(w.gw.get("/api/messages", None).await.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_aggregates_and_lists_calls_per_org() {
    let w = world().await;
    for i in 0..3 {
        call(&w, &w.a, &format!("+1555123000{i}"), "botox").await;
    }
    w.gw.state
        .db
        .tenant(org(&w.a), async |tx| {
            crm::call_logs::record(
                tx,
                crm::call_logs::NewCallLog {
                    phone_number: Some("+15551239999".into()),
                    duration_seconds: Some(60),
                    ..Default::default()
                },
            )
            .await
        })
        .await
        .unwrap();
    let stats =
        w.gw.get("/api/calls-dashboard/stats", Some(&w.a_user.token))
            .await;
    assert_eq!(stats.status, 200, "{:?}", stats.body);
    assert_eq!(stats.body["total_calls"], 4);
    assert_eq!(stats.body["bookings"], 3);
    assert_eq!(stats.body["success_rate"], 75.0);
    assert_eq!(stats.body["pipeline_value"], 1200.0);
    assert_eq!(stats.body["pipeline_value_minor"], 120_000);
    assert_eq!(stats.body["average_duration_seconds"], 105);
    assert_eq!(stats.body["recent_activity"].as_array().unwrap().len(), 4);
    let list =
        w.gw.get(
            "/api/calls-dashboard?booking_confirmed=true&limit=2",
            Some(&w.a.token),
        )
        .await;
    assert_eq!(list.body["pagination"]["total"], 3);
    assert_eq!(list.body["calls"].as_array().unwrap().len(), 2);
    let first: &Value = &list.body["calls"][0];
    assert_eq!(first["financial_value"], 400.0);
    assert_eq!(first["phone_number"], first["from_number"]);
    assert!(first["call_sid"].as_str().unwrap().starts_with("vapi-"));
    let empty =
        w.gw.get("/api/calls-dashboard/stats", Some(&w.b.token))
            .await;
    assert_eq!(
        (
            empty.body["total_calls"].as_i64(),
            empty.body["success_rate"].as_f64()
        ),
        (Some(0), Some(0.0))
    );
    assert_eq!(
        w.gw.get("/api/calls-dashboard", Some(&w.b.token))
            .await
            .body["pagination"]["total"],
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_call_list_filters_by_outcome_sentiment_and_contact_per_org() {
    let w = world().await;
    let contact =
        w.gw.post(
            "/api/contacts",
            Some(&w.a.token),
            &json!({"name": "Ann Lee", "phone": "+15551230100"}),
        )
        .await;
    assert_eq!(contact.status, 201, "{:?}", contact.body);
    let contact_id: Uuid = contact.body["contact"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let record = |outcome: &'static str, contact: Option<Uuid>| {
        let db = w.gw.state.db.clone();
        let org = org(&w.a);
        async move {
            db.tenant(org, async |tx| {
                crm::call_logs::record(
                    tx,
                    crm::call_logs::NewCallLog {
                        phone_number: Some("+15551230100".into()),
                        outcome: Some(outcome.into()),
                        contact_id: contact,
                        ..Default::default()
                    },
                )
                .await
            })
            .await
            .unwrap()
            .id
        }
    };
    let booked = record("booked", Some(contact_id)).await;
    let transferred = record("transferred", None).await;
    w.gw.database.psql_superuser(&format!(
        "UPDATE call_logs SET sentiment = 'Negative' WHERE id = '{transferred}'"
    ));
    let ids = |reply: &gateway::test_support::Reply| -> Vec<String> {
        reply.body["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };
    for (query, want) in [
        ("outcome=booked".to_owned(), vec![booked]),
        ("sentiment=negative".to_owned(), vec![transferred]),
        (format!("contact_id={contact_id}"), vec![booked]),
        (
            format!("contact_id={contact_id}&outcome=transferred"),
            vec![],
        ),
    ] {
        let reply =
            w.gw.get(&format!("/api/calls-dashboard?{query}"), Some(&w.a.token))
                .await;
        assert_eq!(reply.status, 200, "{query}: {:?}", reply.body);
        let want: Vec<String> = want.iter().map(ToString::to_string).collect();
        assert_eq!(ids(&reply), want, "{query}");
    }
    // Another organization filtering by the same values, or by this contact, sees nothing.
    for query in [
        "outcome=booked".to_owned(),
        "sentiment=negative".to_owned(),
        format!("contact_id={contact_id}"),
    ] {
        let reply =
            w.gw.get(&format!("/api/calls-dashboard?{query}"), Some(&w.b.token))
                .await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body["pagination"]["total"], 0, "{query}");
    }
    let bad =
        w.gw.get(
            "/api/calls-dashboard?contact_id=not-a-uuid",
            Some(&w.a.token),
        )
        .await;
    assert_eq!(bad.status, 400, "{:?}", bad.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn google_busy_times_hide_slots_and_confirmed_bookings_reach_the_calendar() {
    let w = world().await;
    w.gw.state
        .credentials
        .store(
            org(&w.a),
            &Credential::GoogleCalendar(GoogleCalendarCredentials {
                refresh_token: SecretString::from("refresh".to_owned()),
                email: "clinic@gmail.example".into(),
            }),
            true,
            &messaging::ChangedBy::system(),
        )
        .await
        .unwrap();
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "ya29.test", "expires_in": 3599})),
        )
        .mount(&w.mock)
        .await;
    let at = next_weekday_utc(9);
    Mock::given(method("POST"))
        .and(path("/freeBusy"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"calendars": {"primary": {"busy": [
            {"start": crate_iso(at + Duration::hours(3)), "end": crate_iso(at + Duration::hours(4))}]}}})))
        .mount(&w.mock)
        .await;
    let day =
        w.gw.get(
            &format!("/api/availability?date={}", at.date_naive()),
            Some(&w.a.token),
        )
        .await;
    assert_eq!(day.body["calendar_checked"], true, "{:?}", day.body);
    let slots: Vec<&str> = day.body["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(slots.contains(&crate_iso(at + Duration::hours(2)).as_str()));
    assert!(!slots.contains(&crate_iso(at + Duration::hours(3)).as_str()));
    assert!(!slots.contains(&crate_iso(at + Duration::minutes(210)).as_str()));
    // A booking inside the Google event is refused.
    let inside =
        w.gw.post(
            "/api/appointments",
            Some(&w.a.token),
            &json!({"customer_name": "X", "customer_phone": "+15551230003",
            "scheduled_time": (at + Duration::hours(3)).to_rfc3339()}),
        )
        .await;
    assert_eq!(inside.body["code"], "slot_taken");

    // A confirmed booking is mirrored: Google fails once, then the event is created.
    Mock::given(method("PUT"))
        .and(path_regex("^/calendars/primary/events/[0-9a-f]{32}$"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&w.mock)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex("^/calendars/primary/events/[0-9a-f]{32}$"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&w.mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/calendars/primary/events"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "evt"})))
        .mount(&w.mock)
        .await;
    let booked =
        w.gw.post(
            "/api/appointments",
            Some(&w.a.token),
            &json!({"customer_name": "Jane Roe", "customer_phone": "+15551230004",
            "service": "Botox", "scheduled_time": (at + Duration::hours(1)).to_rfc3339()}),
        )
        .await;
    assert_eq!(booked.status, 201, "{:?}", booked.body);
    let id: Uuid = booked.body["appointment"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // The gateway's job runner works the outbox: the first attempt fails, the retry (2 s
    // later) creates the event.
    let mut done = false;
    for _ in 0..40 {
        let appointment =
            w.gw.state
                .db
                .tenant(org(&w.a), async |tx| {
                    scheduling::appointments::get(tx, id, false).await
                })
                .await
                .unwrap();
        if let Some(event) = appointment.google_event_id {
            assert_eq!(event, id.simple().to_string());
            done = true;
            break;
        }
        // Let the retry come due (backoff 2 s after the first failure).
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(done, "the calendar job completed after a retry");
    let requests = w.mock.received_requests().await.unwrap();
    let inserted = requests
        .iter()
        .find(|r| r.method.as_str() == "POST" && r.url.path() == "/calendars/primary/events")
        .unwrap();
    let event: Value = serde_json::from_slice(&inserted.body).unwrap();
    assert_eq!(event["id"], id.simple().to_string());
    assert_eq!(
        event["start"]["dateTime"],
        (at + Duration::hours(1)).to_rfc3339()
    );
    assert!(event["summary"].as_str().unwrap().contains("Botox"));
    let reply: Reply =
        w.gw.get(&format!("/api/appointments/{id}"), Some(&w.b.token))
            .await;
    assert_eq!(reply.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_automatic_sms_per_contact_per_hour_and_share_links_expire() {
    let w = world().await;
    let contact =
        w.gw.state
            .db
            .tenant(org(&w.a), async |tx| {
                crm::contacts::create(
                    tx,
                    crm::contacts::NewContact {
                        name: "Hot Lead".into(),
                        phone: "+15551230077".into(),
                        ..Default::default()
                    },
                )
                .await
            })
            .await
            .unwrap();
    let subject = messaging::Subject {
        contact_id: Some(contact.id),
        ..Default::default()
    };
    let messenger = &w.gw.state.messenger;
    let system = messaging::ChangedBy::system();
    // Two at once: the advisory lock lets exactly one through.
    let (first, second) = tokio::join!(
        messenger.send_sms(
            org(&w.a),
            &contact.phone,
            "We can see you tomorrow!",
            subject,
            true,
            &system,
        ),
        messenger.send_sms(
            org(&w.a),
            &contact.phone,
            "We can see you tomorrow!",
            subject,
            true,
            &system,
        ),
    );
    let outcomes = [first.is_ok(), second.is_ok()];
    assert_eq!(
        outcomes.iter().filter(|ok| **ok).count(),
        1,
        "{first:?} {second:?}"
    );
    assert!(matches!(
        messenger
            .send_sms(org(&w.a), &contact.phone, "again", subject, true, &system)
            .await,
        Err(messaging::MessagingError::RateLimited)
    ));
    // A manual follow-up is not automatic and is not limited.
    assert!(
        messenger
            .send_sms(org(&w.a), &contact.phone, "manual", subject, false, &system)
            .await
            .is_ok()
    );

    let good = call(&w, &w.a, "+15551230000", "hello").await;
    let r =
        w.gw.post(
            &format!("/api/calls-dashboard/{good}/share"),
            Some(&w.a.token),
            &json!({"email": "qa@example.com"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let requests = w.mock.received_requests().await.unwrap();
    let email = requests
        .iter()
        .rev()
        .find(|r| r.url.path() == "/emails")
        .map(|r| String::from_utf8_lossy(&r.body).to_string())
        .unwrap();
    let token: String = email
        .split("/share/recordings/")
        .nth(1)
        .unwrap()
        .chars()
        .take(64)
        .collect();
    let later = Utc::now() + Duration::hours(24) + Duration::minutes(1);
    assert!(matches!(
        messenger.open_share(&token, later).await,
        Err(messaging::MessagingError::LinkExpired)
    ));
    assert!(messenger.open_share(&token, Utc::now()).await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_booking_names_an_anonymous_caller_but_never_renames_a_known_one() {
    let w = world().await;
    let anonymous =
        w.gw.state
            .db
            .tenant(org(&w.a), async |tx| {
                crm::contacts::create(
                    tx,
                    crm::contacts::NewContact {
                        name: crm::contacts::UNKNOWN_CALLER.into(),
                        phone: "+15551230099".into(),
                        ..Default::default()
                    },
                )
                .await
            })
            .await
            .unwrap();
    let at = next_weekday_utc(10);
    for (name, email, offset) in [
        ("Jane Roe", Some("jane@example.com"), 0),
        ("Someone Else", Some("other@example.com"), 2),
    ] {
        let r = w
            .gw
            .post(
                "/api/appointments",
                Some(&w.a.token),
                &json!({"customer_name": name, "customer_phone": "+1 555 123 0099", "customer_email": email,
                        "scheduled_time": (at + Duration::hours(offset)).to_rfc3339()}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    let contact =
        w.gw.get(&format!("/api/contacts/{}", anonymous.id), Some(&w.a.token))
            .await;
    assert_eq!(
        (
            contact.body["contact"]["name"].as_str(),
            contact.body["contact"]["email"].as_str()
        ),
        (Some("Jane Roe"), Some("jane@example.com"))
    );
    let b = w.gw.get("/api/contacts?search=Roe", Some(&w.b.token)).await;
    assert_eq!(b.body["pagination"]["total"], 0);
}

/// Whether any entry's JSON holds `needle`.
fn text_contains(events: &[Value], needle: &str) -> bool {
    events.iter().any(|e| e.to_string().contains(needle))
}

/// One entry of organization A's audit trail, as `GET /api/audit-log` shows it.
fn audit_entry<'a>(events: &'a [Value], action: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["action"] == action)
        .unwrap_or_else(|| panic!("no {action} in {events:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn credential_mapping_message_and_export_events_are_in_the_audit_log() {
    let w = world().await;
    let good = call(&w, &w.a, "+15551230000", "Caller: hello").await;
    let r =
        w.gw.post(
            &format!("/api/calls-dashboard/{good}/followup"),
            Some(&w.a_user.token),
            &json!({"message": "Thanks for calling!"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let followup_request = r.headers["x-request-id"].to_str().unwrap().to_owned();
    let r =
        w.gw.post(
            &format!("/api/calls-dashboard/{good}/transcript/export"),
            Some(&w.a.token),
            &json!({"format": "txt"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let (app, app_key) = w.gw.app_with_key(&w.a, "CRM").await;
    let r =
        w.gw.send(
            "POST",
            &format!("/internal/apps/{app}/users/map"),
            None,
            &[("x-app-api-key", &app_key)],
            Some(&json!({"dialpad_user_id": 42, "crm_user_id": "crm_kim"})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r =
        w.gw.post(
            "/api/api-keys",
            Some(&w.a.token),
            &json!({"name": "IT", "scopes": ["integrations:write"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let (key, key_id) = (
        r.body["key"].as_str().unwrap().to_owned(),
        r.body["api_key"]["id"].as_str().unwrap().to_owned(),
    );
    let r =
        w.gw.send("DELETE", "/api/integrations/resend", Some(&key), &[], None)
            .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    let r = w.gw.get("/api/audit-log?limit=200", Some(&w.a.token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let events = r.body["events"].as_array().unwrap();
    let stored: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "credential.stored")
        .collect();
    assert_eq!(stored.len(), 2, "{events:?}");
    assert!(stored.iter().all(|e| e["actor_id"] == w.a.user_id.as_str()));
    let sms = audit_entry(events, "message.sms");
    assert_eq!(
        (&sms["actor_type"], &sms["actor_id"]),
        (&json!("user"), &json!(w.a_user.user_id))
    );
    assert_eq!(sms["request_id"], followup_request.as_str());
    assert!(sms["address"].as_str().unwrap().starts_with("127."));
    assert_eq!(sms["detail"]["call_id"], good.to_string().as_str());
    assert_eq!(sms["detail"]["recipient"], "+15551230000");
    let export = audit_entry(events, "message.export");
    assert_eq!(export["actor_id"], w.a.user_id.as_str());
    let mapped = audit_entry(events, "user_mapping.mapped");
    assert_eq!(
        (
            &mapped["actor_type"],
            &mapped["actor_id"],
            &mapped["target"]
        ),
        (&json!("app"), &json!(app), &json!("42"))
    );
    assert_eq!(mapped["detail"]["new_crm_user_id"], "crm_kim");
    for action in ["app.created", "app_key.created"] {
        let entry = audit_entry(events, action);
        assert_eq!(
            (&entry["actor_id"], &entry["target"]),
            (&json!(w.a.user_id), &json!(app))
        );
    }
    assert!(audit_entry(events, "app_key.created")["detail"]["new_key_hint"].is_string());
    assert!(!text_contains(events, &app_key));
    let disconnected = audit_entry(events, "credential.disconnected");
    assert_eq!(
        (&disconnected["actor_type"], &disconnected["actor_id"]),
        (&json!("api_key"), &json!(key_id))
    );
    assert_eq!(disconnected["target"], "resend");
    // No secret reaches the trail.
    let text = r.body.to_string();
    assert!(!text.contains("re_key_0123456789") && !text.contains("\"token\""));
    // Filters by family; organization B sees none of A's entries.
    let r =
        w.gw.get("/api/audit-log?action=credential.", Some(&w.a.token))
            .await;
    assert_eq!(r.body["pagination"]["total"], 3);
    let r = w.gw.get("/api/audit-log", Some(&w.b.token)).await;
    assert!(
        r.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(
                |e| !e["action"].as_str().unwrap().starts_with("credential.")
                    && !e["action"].as_str().unwrap().starts_with("message.")
                    && !e["action"].as_str().unwrap().starts_with("user_mapping.")
            ),
        "{:?}",
        r.body
    );
}
