//! Voice-agent latency on a real PostgreSQL (the test cluster), release build, through the
//! gateway's HTTP stack on loopback (authentication, parsing, organization resolution, database
//! work, response), with Vapi faked by a local mock. Issue 6 targets (server time, p99):
//! end-of-call-report < 50 ms; lookupCaller, checkAvailability and booking tool calls < 30 ms;
//! assistant-request < 50 ms.
//!
//! Data: one clinic with 2,000 contacts and its default services, a second clinic beside it.
//! Requests are sent one at a time (latency, not throughput); 400 of each. Run:
//! `cargo bench -p gateway --bench voice` (or `cargo xtask bench`). Prints percentiles; nothing
//! fails on a number.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    missing_docs
)]

use std::time::{Duration, Instant};

use diesel_async::RunQueryDsl;
use gateway::test_support::{Reply, TEST_VAPI_SECRET, TestGateway, mock_endpoints};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const N: usize = 400;

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p).ceil() as usize).min(samples.len()) - 1];
    println!(
        "{name:<40} n={:<5} p50={:>7.2} ms  p99={:>7.2} ms  max={:>7.2} ms",
        samples.len(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3,
    );
}

async fn post(gw: &TestGateway, route: &str, body: &Value) -> (Duration, Reply) {
    let text = body.to_string();
    let started = Instant::now();
    let reply = gw
        .post_body(
            route,
            "application/json",
            text,
            &[("x-vapi-secret", TEST_VAPI_SECRET)],
        )
        .await;
    (started.elapsed(), reply)
}

fn main() {
    twilio_client::ensure_tls_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mock = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/assistant"))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "asst-bench"})))
            .mount(&mock)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("^/assistant/"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "asst-bench", "model": {}})))
            .mount(&mock)
            .await;
        Mock::given(method("PATCH"))
            .and(path_regex("^/assistant/"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
            .mount(&mock)
            .await;
        Mock::given(method("POST"))
            .and(path("/tool"))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "tool-bench"})))
            .mount(&mock)
            .await;
        let gw = TestGateway::start_voice(mock_endpoints(&mock), &mock.uri()).await;
        let admin = gw.signup("bench-clinic").await;
        gw.signup("other-clinic").await;
        let saved = gw
            .send("PUT", "/api/agents/inbound", Some(&admin.token), &[], Some(&json!({"name": "Desk"})))
            .await;
        assert_eq!(saved.status, 200);
        let hours: Vec<Value> = (1..=7)
            .map(|d| json!({"weekday": d, "opens": "00:00", "closes": "23:59"}))
            .collect();
        let settings = gw
            .send("PUT", "/api/scheduling/settings", Some(&admin.token), &[],
                Some(&json!({"time_zone": "America/New_York", "business_hours": hours, "slot_step_minutes": 30})))
            .await;
        assert_eq!(settings.status, 200, "{:?}", settings.body);
        // 2,000 contacts, and the number the clinic's calls arrive on.
        let mut c = gw.database.owner_conn().await;
        diesel::sql_query(format!(
            "INSERT INTO contacts (id, org_id, name, phone, email) \
             SELECT gen_random_uuid(), '{org}', 'Patient ' || i, '+1415' || lpad(i::text, 7, '0'), 'p' || i || '@mail.example' \
             FROM generate_series(1, 2000) i",
            org = admin.org_id
        ))
        .execute(&mut c)
        .await
        .unwrap();
        diesel::sql_query(format!(
            "INSERT INTO vapi_twilio_sync (org_id, state, phone_number, vapi_phone_number_id) \
             VALUES ('{}', 'linked', '+15559990000', 'pn-bench')",
            admin.org_id
        ))
        .execute(&mut c)
        .await
        .unwrap();
        let call = |id: String, caller: String| {
            json!({"id": id, "assistantId": "asst-bench", "phoneNumberId": "pn-bench", "type": "inboundPhoneCall",
                   "customer": {"number": caller, "name": "Bench Caller"}})
        };
        let tool = |id: usize, name: &str, args: Value| {
            json!({"message": {"type": "tool-calls", "call": call(format!("tc-{id}"), "+14150000001".into()),
                "toolCallList": [{"id": format!("call_{id}"), "type": "function", "function": {"name": name, "arguments": args}}]}})
        };
        // Warm up connections and caches.
        for i in 0..20 {
            post(&gw, "/api/vapi/webhook", &tool(i, "lookupCaller", json!({"searchKey": "+14150000001", "searchType": "phone"}))).await;
        }

        let mut samples = Vec::new();
        for i in 0..N {
            let caller = format!("+1415{:07}", 1 + i % 2000);
            let body = json!({"message": {"type": "assistant-request", "timestamp": 1_728_393_715_369_i64,
                "call": {"id": format!("ar-{i}"), "type": "inboundPhoneCall", "phoneNumberId": "pn-bench", "customer": {"number": caller}},
                "phoneNumber": {"id": "pn-bench"}, "customer": {"number": caller}}});
            let (t, reply) = post(&gw, "/api/vapi/webhook", &body).await;
            assert_eq!(reply.body["assistantId"], "asst-bench");
            samples.push(t);
        }
        report("assistant-request (known caller)", samples);

        let mut samples = Vec::new();
        for i in 0..N {
            let (key, kind) = match i % 3 {
                0 => (format!("+1415{:07}", 1 + i), "phone"),
                1 => (format!("p{}@mail.example", 1 + i), "email"),
                _ => (format!("Patient {}", 1 + i), "name"),
            };
            let (t, reply) = post(&gw, "/api/vapi/tools/lookupCaller", &tool(i, "lookupCaller", json!({"searchKey": key, "searchType": kind}))).await;
            assert!(reply.body["results"][0]["result"].is_string());
            samples.push(t);
        }
        report("tool lookupCaller (phone/email/name)", samples);

        let mut samples = Vec::new();
        for i in 0..N {
            let date = (chrono::NaiveDate::from_ymd_opt(2031, 1, 1).unwrap() + chrono::Duration::days((i % 60) as i64)).format("%Y-%m-%d").to_string();
            let (t, reply) = post(&gw, "/api/vapi/tools/checkAvailability", &tool(i, "checkAvailability", json!({"date": date}))).await;
            assert!(reply.body["results"][0]["result"].is_string(), "{:?}", reply.body);
            samples.push(t);
        }
        report("tool checkAvailability", samples);

        let mut samples = Vec::new();
        for i in 0..N {
            let day = chrono::NaiveDate::from_ymd_opt(2032, 1, 1).unwrap() + chrono::Duration::days((i / 40) as i64);
            let time = format!("{:02}:{:02}", 2 + (i % 40) / 2, (i % 2) * 30);
            let (t, reply) = post(&gw, "/api/vapi/tools/bookClinicAppointment", &tool(i, "bookClinicAppointment", json!({
                "customerName": format!("Patient {}", 1 + i), "customerPhone": format!("+1415{:07}", 1 + i),
                "appointmentDate": day.format("%Y-%m-%d").to_string(), "appointmentTime": time, "serviceType": "Consultation"}))).await;
            assert!(reply.body["results"][0]["result"].as_str().unwrap_or_default().contains("\"success\":true"), "{:?}", reply.body);
            samples.push(t);
        }
        report("tool bookClinicAppointment", samples);

        let mut samples = Vec::new();
        for i in 0..N {
            let body = json!({"message": {"type": "end-of-call-report", "endedReason": "customer-ended-call", "cost": 0.12,
                "startedAt": "2026-11-20T14:00:00Z", "endedAt": "2026-11-20T14:03:00Z",
                "analysis": {"summary": "Asked about botox prices.", "sentiment": "positive", "sentimentScore": 0.7, "sentimentSummary": "ok", "sentimentUrgency": "low"},
                "artifact": {"transcript": "User: How much is botox? My card is 4242 4242 4242 4242.", "recordingUrl": "https://storage.vapi.ai/r.wav", "messages": []},
                "call": call(format!("eocr-{i}"), format!("+1415{:07}", 1 + i % 2000))}});
            let (t, reply) = post(&gw, "/api/vapi/webhook", &body).await;
            assert_eq!(reply.status, 200);
            samples.push(t);
        }
        report("webhook end-of-call-report", samples);
    });
}
