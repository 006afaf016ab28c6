//! The voice agent on Vapi over HTTP (SPEC §3; seed 001 "Webhook architecture", §§11-12, 16,
//! 18; contracts/vapi.md), with Vapi's REST API and Twilio faked at the HTTP level:
//!
//! - contract fixtures: every server-message variant of contracts/vapi.md §1-2, replayed against
//!   the webhook with the exact response bodies checked;
//! - authentication: missing, wrong and tampered credentials refused, nothing stored;
//! - agent save: create, then fetch-merge-patch with the whole `model`; tools registered once for
//!   the platform across organizations, linked by merging `toolIds`, native calendar tools gone;
//! - call records: one correct row from repeated and out-of-order messages, post-call analysis;
//! - caller identity, tools, transfer, call-back (one call for retries), Twilio dual-sync;
//! - two-organization isolation for every route.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use gateway::test_support::{
    Reply, Session, TEST_PUBLIC_BASE_URL, TEST_VAPI_SECRET, TestGateway, mock_endpoints,
    mock_twilio_account, mock_vapi,
};
use serde_json::{Value, json};

use crate::round_trips::{
    fewest, reset_statements, round_trips_since_reset, statements_since_reset,
};
use voice_agent::tools::TOOL_NAMES;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const NUMBER: &str = "+15559990000";
const CALLER: &str = "+14155550123";

async fn vapi_and_twilio() -> MockServer {
    let mock = MockServer::start().await;
    mock_vapi(&mock).await;
    mount_twilio(&mock).await;
    mock
}

/// The clinic's Twilio: the account and number, and SMS accepted.
async fn mount_twilio(mock: &MockServer) {
    mock_twilio_account(mock, ACCOUNT, NUMBER).await;
    Mock::given(method("POST"))
        .and(path(format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "sid": "SM0123456789abcdef0123456789abcdef", "status": "queued", "to": "+15550001111", "from": NUMBER})))
        .mount(mock)
        .await;
}

async fn start() -> (TestGateway, MockServer) {
    let mock = vapi_and_twilio().await;
    let gw = TestGateway::start_voice(mock_endpoints(&mock), &mock.uri()).await;
    (gw, mock)
}

async fn vapi_post(gw: &TestGateway, route: &str, body: &Value) -> Reply {
    gw.post_body(
        route,
        "application/json",
        body.to_string(),
        &[("x-vapi-secret", TEST_VAPI_SECRET)],
    )
    .await
}

async fn requests(mock: &MockServer, verb: &str, route: &str) -> Vec<Value> {
    mock.received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.method.as_str() == verb && r.url.path() == route)
        .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
        .collect()
}

/// Signs up an organization and saves its inbound agent; returns the session and assistant id.
async fn org_with_agent(gw: &TestGateway, slug: &str) -> (Session, String) {
    let s = gw.signup(slug).await;
    let saved = gw
        .send(
            "PUT",
            "/api/agents/inbound",
            Some(&s.token),
            &[],
            Some(&json!({
                "name": format!("{slug} desk"), "system_prompt": format!("You answer for {slug}."),
                "first_message": "Hello, how can I help?"
            })),
        )
        .await;
    assert_eq!(saved.status, 200, "{:?}", saved.body);
    assert_eq!(saved.body["message"], "Agent saved. Tools syncing...");
    let id = saved.body["agent"]["vapi_assistant_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (s, id)
}

/// Connects the clinic's Twilio (which starts the dual-sync).
async fn connect_twilio(gw: &TestGateway, s: &Session) {
    let twilio = gw
        .post(
            "/api/integrations/twilio",
            Some(&s.token),
            &json!({"account_sid": ACCOUNT, "auth_token": "token", "phone_number": NUMBER}),
        )
        .await;
    assert_eq!(twilio.status, 200, "{:?}", twilio.body);
}

async fn wait_linked(gw: &TestGateway, s: &Session) -> Value {
    for _ in 0..100 {
        let agents = gw.get("/api/agents", Some(&s.token)).await;
        let tools = agents.body["tools"].as_array().cloned().unwrap_or_default();
        if tools.len() == TOOL_NAMES.len() && tools.iter().all(|t| t["link_status"] == "linked") {
            return agents.body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("tools never linked");
}

/// Waits (up to 5 s) until the job runner has analysed every acknowledged report: the analysis
/// runs after the acknowledgement (issue 22).
async fn reports_analysed(gw: &TestGateway) {
    let queued = "SELECT count(*) AS n FROM jobs WHERE kind = 'voice.report'";
    for _ in 0..100 {
        if count(gw, queued).await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn count(gw: &TestGateway, sql: &str) -> i64 {
    use diesel::QueryableByName;
    use diesel_async::RunQueryDsl;
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut c = gw.database.owner_conn().await;
    diesel::sql_query(sql)
        .get_result::<N>(&mut c)
        .await
        .unwrap()
        .n
}

async fn row(gw: &TestGateway, sql: &str) -> Value {
    use diesel::QueryableByName;
    use diesel_async::RunQueryDsl;
    #[derive(QueryableByName)]
    struct J {
        #[diesel(sql_type = diesel::sql_types::Jsonb)]
        j: Value,
    }
    let mut c = gw.database.owner_conn().await;
    diesel::sql_query(format!("SELECT to_jsonb(t) AS j FROM ({sql}) t"))
        .get_result::<J>(&mut c)
        .await
        .unwrap()
        .j
}

fn call(assistant: &str, id: &str) -> Value {
    json!({"id": id, "orgId": "vapi-org", "assistantId": assistant, "type": "inboundPhoneCall",
           "customer": {"number": CALLER, "name": "Jane Doe"},
           "createdAt": "2026-11-20T14:00:00.000Z", "updatedAt": "2026-11-20T14:00:00.000Z"})
}

#[tokio::test(flavor = "multi_thread")]
async fn unauthenticated_and_tampered_vapi_requests_are_refused_and_change_nothing() {
    let (gw, _mock) = start().await;
    let (_a, asst) = org_with_agent(&gw, "auth-a").await;
    let report = json!({"message": {"type": "end-of-call-report", "endedReason": "customer-ended-call",
        "call": call(&asst, "call-auth"), "analysis": {}, "artifact": {}}});
    for route in ["/api/vapi/webhook", "/api/vapi/tools/lookupCaller"] {
        for headers in [
            vec![],
            vec![("x-vapi-secret", "wrong")],
            vec![("authorization", TEST_VAPI_SECRET)],
        ] {
            let reply = gw
                .post_body(route, "application/json", report.to_string(), &headers)
                .await;
            assert_eq!(reply.status, 401, "{route} {headers:?}");
            assert_eq!(reply.body["code"], "invalid_vapi_credential");
            assert!(!reply.body.to_string().contains(TEST_VAPI_SECRET));
        }
    }
    assert_eq!(count(&gw, "SELECT count(*) AS n FROM call_logs").await, 0);
    // Authenticated but not a server message: 400, nothing stored.
    let bad = gw
        .post_body(
            "/api/vapi/webhook",
            "application/json",
            "{\"message\": {}}".into(),
            &[("x-vapi-secret", TEST_VAPI_SECRET)],
        )
        .await;
    assert_eq!(
        (bad.status, bad.body["code"].as_str()),
        (400, Some("invalid_payload"))
    );
    assert_eq!(count(&gw, "SELECT count(*) AS n FROM call_logs").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_save_fetch_merge_patches_and_tools_register_once_across_organizations() {
    let (gw, mock) = start().await;
    let (a, asst_a) = org_with_agent(&gw, "save-a").await;
    let created = requests(&mock, "POST", "/assistant").await;
    assert_eq!(created.len(), 1);
    let body = &created[0];
    assert_eq!(
        body["server"]["url"],
        format!("{TEST_PUBLIC_BASE_URL}/api/vapi/webhook")
    );
    assert_eq!(body["server"]["headers"]["x-vapi-secret"], TEST_VAPI_SECRET);
    // Vapi retries what met an outage (a 503) only with a backoff plan.
    assert_eq!(body["server"]["backoffPlan"]["type"], "exponential");
    assert_eq!(body["server"]["backoffPlan"]["maxRetries"], 5);
    assert!(
        body["serverMessages"]
            .as_array()
            .unwrap()
            .contains(&json!("transcript"))
    );
    assert_eq!(body["metadata"]["org_id"], a.org_id);
    assert_eq!(body["monitorPlan"]["controlEnabled"], true);
    // Real end-of-call reports carry a summary, a success evaluation and the sentiment.
    let analysis = &body["analysisPlan"];
    assert_eq!(analysis["summaryPlan"]["enabled"], true);
    assert_eq!(analysis["successEvaluationPlan"]["rubric"], "PassFail");
    assert_eq!(
        analysis["structuredDataPlan"]["schema"]["properties"]["sentiment"]["enum"],
        json!(["positive", "neutral", "negative"])
    );
    let prompt = body["model"]["messages"][0]["content"].as_str().unwrap();
    assert!(prompt.starts_with("You answer for save-a."));
    assert!(
        prompt.contains("[MANDATORY TOOL RULES]") && prompt.contains("[KNOWLEDGE BASE CONTEXT]")
    );
    assert!(prompt.contains("{{ today | default: \""));
    let linked = wait_linked(&gw, &a).await;
    assert_eq!(linked["agents"][0]["vapi_assistant_id"], asst_a);

    // Our tools registered once, each pointing at its own tool URL with our secret.
    let tools = requests(&mock, "POST", "/tool").await;
    assert_eq!(tools.len(), TOOL_NAMES.len());
    for t in &tools {
        let name = t["function"]["name"].as_str().unwrap();
        assert_eq!(
            t["server"]["url"],
            format!("{TEST_PUBLIC_BASE_URL}/api/vapi/tools/{name}")
        );
        assert_eq!(t["type"], "function");
    }
    // The link sent the whole model: toolIds merged, native calendar tool removed.
    let patches = requests(&mock, "PATCH", &format!("/assistant/{asst_a}")).await;
    let model = &patches.last().unwrap()["model"];
    assert_eq!(model["provider"], "openai");
    assert_eq!(model["messages"][1]["content"], "kept");
    assert_eq!(model["tools"], json!([{"type": "endCall"}]));
    let ids = model["toolIds"].as_array().unwrap();
    assert_eq!(ids.len(), 1 + TOOL_NAMES.len(), "the custom tool and ours");
    assert_eq!(ids[0], "custom-1");

    // A second organization reuses the platform's tools.
    let (b, asst_b) = org_with_agent(&gw, "save-b").await;
    wait_linked(&gw, &b).await;
    assert_eq!(
        requests(&mock, "POST", "/tool").await.len(),
        TOOL_NAMES.len(),
        "no duplicate registration"
    );
    let b_patch = requests(&mock, "PATCH", &format!("/assistant/{asst_b}")).await;
    let b_ids = b_patch.last().unwrap()["model"]["toolIds"]
        .as_array()
        .unwrap()
        .clone();
    for id in &ids[1..] {
        assert!(b_ids.contains(id));
    }

    // Saving again patches (fetch-merge-patch) instead of creating, with the whole model.
    let again = gw
        .send(
            "PUT",
            "/api/agents/inbound",
            Some(&a.token),
            &[],
            Some(&json!({"name": "Front desk", "model": "gpt-4o-mini"})),
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["agent"]["vapi_assistant_id"], asst_a);
    assert_eq!(
        requests(&mock, "POST", "/assistant").await.len(),
        2,
        "one create per organization"
    );
    let save_patch = requests(&mock, "PATCH", &format!("/assistant/{asst_a}"))
        .await
        .into_iter()
        .find(|p| p["name"] == "Front desk")
        .unwrap();
    assert_eq!(save_patch["model"]["model"], "gpt-4o-mini");
    assert_eq!(save_patch["model"]["toolIds"], json!(["custom-1"]));
    assert_eq!(save_patch["model"]["temperature"], 0.4);
    assert!(
        save_patch["model"]["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("[MANDATORY TOOL RULES]")
    );

    // Validation and isolation.
    let bad = gw
        .send(
            "PUT",
            "/api/agents/inbound",
            Some(&a.token),
            &[],
            Some(&json!({"name": ""})),
        )
        .await;
    assert_eq!(bad.status, 422);
    let unknown = gw
        .send(
            "PUT",
            "/api/agents/sideways",
            Some(&a.token),
            &[],
            Some(&json!({"name": "x"})),
        )
        .await;
    assert_eq!(unknown.status, 404);
    let b_view = gw.get("/api/agents", Some(&b.token)).await;
    assert_eq!(b_view.body["agents"].as_array().unwrap().len(), 1);
    assert_eq!(b_view.body["agents"][0]["vapi_assistant_id"], asst_b);

    // `sync-tools`: every organization with an assistant, nothing re-registered when unchanged.
    let all = gw
        .state
        .voice
        .tool_registry()
        .sync_all_tools()
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    for (_, outcome) in &all {
        let report = outcome.as_ref().unwrap();
        assert!(report.registered.is_empty());
        assert_eq!(report.reused.len(), TOOL_NAMES.len());
        assert_eq!(report.linked.len(), 1);
    }
    assert_eq!(
        requests(&mock, "POST", "/tool").await.len(),
        TOOL_NAMES.len()
    );
}

/// Every server-message variant of contracts/vapi.md, with the exact response body.
#[tokio::test(flavor = "multi_thread")]
async fn contract_fixtures_replay_with_exact_responses() {
    let (gw, _mock) = start().await;
    let (_a, asst) = org_with_agent(&gw, "contract").await;
    let c = call(&asst, "call-contract");
    let slots = json!([
        "09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "12:00", "12:30", "13:00", "13:30",
        "14:00", "14:30", "15:00", "15:30", "16:00", "16:30"
    ]);
    let speech = "On Monday 7 January I have 09:00, 09:30, 10:00, 10:30, 11:00 and 11:30.";
    let availability = json!({"success": true, "date": "2030-01-07", "timeZone": "UTC", "durationMinutes": 30,
        "available": true, "slots": slots, "message": speech});
    let result = |id: &str| json!({"results": [{"name": "checkAvailability", "toolCallId": id, "result": availability.to_string()}]});

    // §1.3: toolCallList with object arguments (docs prose).
    let modern = vapi_post(&gw, "/api/vapi/webhook", &json!({"message": {"type": "tool-calls", "timestamp": 1728393715369_i64, "call": c,
        "toolCallList": [{"id": "call_obj", "type": "function", "function": {"name": "checkAvailability", "arguments": {"date": "2030-01-07"}}}],
        "toolWithToolCallList": []}})).await;
    assert_eq!((modern.status, &modern.body), (200, &result("call_obj")));
    // §1.3: arguments as a JSON string ([OAS] from 2025-05), ISO timestamp.
    let string_args = vapi_post(&gw, "/api/vapi/webhook", &json!({"message": {"type": "tool-calls", "timestamp": "2026-11-20T14:00:00Z", "call": c,
        "toolCallList": [{"id": "call_str", "type": "function", "function": {"name": "checkAvailability", "arguments": "{\"date\":\"2030-01-07\"}"}}]}})).await;
    assert_eq!(string_args.body, result("call_str"));
    // §1.3: the legacy `toolCalls` duplicate, and `toolWithToolCallList` only.
    let legacy = vapi_post(&gw, "/api/vapi/webhook", &json!({"message": {"type": "tool-calls", "call": c,
        "toolCalls": [{"id": "call_legacy", "type": "function", "function": {"name": "checkAvailability", "arguments": {"date": "2030-01-07"}}}]}})).await;
    assert_eq!(legacy.body, result("call_legacy"));
    let nested = vapi_post(&gw, "/api/vapi/webhook", &json!({"message": {"type": "tool-calls", "call": c, "toolCallList": [],
        "toolWithToolCallList": [{"type": "function", "function": {"name": "checkAvailability"}, "toolCall": {"id": "call_nested", "type": "function", "function": {"name": "checkAvailability", "arguments": {"date": "2030-01-07"}}}}]}})).await;
    assert_eq!(nested.body, result("call_nested"));
    // Parallel calls: one entry each, in order; unreadable arguments are a per-call error.
    let parallel = vapi_post(&gw, "/api/vapi/webhook", &json!({"message": {"type": "tool-calls", "call": c, "toolCallList": [
        {"id": "call_1", "type": "function", "function": {"name": "lookupCaller", "arguments": {"searchKey": "+14155550999", "searchType": "phone"}}},
        {"id": "call_2", "type": "function", "function": {"name": "checkAvailability", "arguments": "not json"}}]}})).await;
    assert_eq!(
        parallel.body,
        json!({"results": [
        {"name": "lookupCaller", "toolCallId": "call_1", "result": json!({"found": false, "message": "No matching contact found. Would you like to create a new account?"}).to_string()},
        {"name": "checkAvailability", "toolCallId": "call_2", "error": "I couldn't read the details for that request. Could you say them again?"}]})
    );
    // Bad arguments: a spoken, actionable error, HTTP 200.
    let bad_date = vapi_post(&gw, "/api/vapi/webhook", &json!({"message": {"type": "tool-calls", "call": c,
        "toolCallList": [{"id": "call_bad", "function": {"name": "bookClinicAppointment", "arguments": {"customerName": "Jane", "customerPhone": CALLER, "appointmentDate": "next week", "appointmentTime": "10:00"}}}]}})).await;
    assert_eq!(
        bad_date.body,
        json!({"results": [{"name": "bookClinicAppointment", "toolCallId": "call_bad",
        "error": "I need the date as year, month and day, like 2026-11-24."}]})
    );
    // §2.4: legacy function-call with string parameters.
    let function = vapi_post(&gw, "/api/vapi/webhook", &json!({"message": {"type": "function-call", "call": c,
        "functionCall": {"name": "checkAvailability", "parameters": "{\"date\": \"2030-01-07\"}"}}})).await;
    assert_eq!(function.body, json!({"result": availability.to_string()}));
    // §2.3: transfer-destination-request without a configured destination, then with one.
    let none = vapi_post(
        &gw,
        "/api/vapi/webhook",
        &json!({"message": {"type": "transfer-destination-request", "call": c}}),
    )
    .await;
    assert_eq!(
        none.body,
        json!({"error": "No transfer destination is configured."})
    );
    let (s, _) = (gw.login("admin@contract.example").await, ());
    let put = gw
        .send(
            "PUT",
            "/api/voice-settings",
            Some(&s.token),
            &[],
            Some(&json!({"transfer_default": "+1 (415) 555-0100"})),
        )
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    let dest = vapi_post(
        &gw,
        "/api/vapi/webhook",
        &json!({"message": {"type": "transfer-destination-request", "call": c}}),
    )
    .await;
    assert_eq!(
        dest.body,
        json!({"destination": {"type": "number", "number": "+14155550100"},
        "message": {"type": "request-start", "content": "Transferring you now."}})
    );
    // §1.2, §1.1, transcript and types we only acknowledge (unwrapped, HTTP 200).
    for message in [
        json!({"type": "status-update", "status": "in-progress", "call": c}),
        json!({"type": "transcript", "role": "user", "transcriptType": "final", "transcript": "Hi there", "call": c}),
        json!({"type": "transcript", "role": "user", "transcriptType": "partial", "transcript": "Hi", "call": c}),
        json!({"type": "speech-update", "status": "started", "role": "user", "call": c}),
        json!({"type": "hang", "call": c}),
        json!({"type": "conversation-update", "messages": [], "call": c}),
        json!({"type": "some-future-type", "call": c, "novel": {"x": 1}}),
        json!({"type": "end-of-call-report", "endedReason": "customer-ended-call", "call": c,
               "durationSeconds": 7.734, "summary": "Legacy summary", "transcript": "AI: hi", "recordingUrl": "https://storage.vapi.ai/legacy.wav"}),
    ] {
        let reply = vapi_post(&gw, "/api/vapi/webhook", &json!({"message": message})).await;
        assert_eq!(
            (reply.status, &reply.body),
            (200, &json!({"success": true})),
            "{message}"
        );
    }
    // The legacy end-of-call fields were mapped (top-level duration, summary, recording).
    let stored = row(&gw, "SELECT status, duration_seconds, outcome_summary, recording_url, call_sid, transfer_to FROM call_logs").await;
    assert_eq!(
        stored,
        json!({"status": "completed", "duration_seconds": 8, "outcome_summary": "Legacy summary",
        "recording_url": "https://storage.vapi.ai/legacy.wav", "call_sid": "vapi-call-contract", "transfer_to": "+14155550100"})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn end_of_call_reports_twice_and_out_of_order_give_one_correct_row() {
    let (gw, _mock) = start().await;
    let (a, asst) = org_with_agent(&gw, "eocr").await;
    connect_twilio(&gw, &a).await;
    gw.send(
        "PUT",
        "/api/voice-settings",
        Some(&a.token),
        &[],
        Some(&json!({"hot_lead_alert_phone": "+15550001111"})),
    )
    .await;
    let c = call(&asst, "call-eocr");
    // A booking during the call (the tool marks the call as booked).
    let booked = vapi_post(&gw, "/api/vapi/tools/bookClinicAppointment", &json!({"message": {"type": "tool-calls", "call": c,
        "toolCallList": [{"id": "call_book", "function": {"name": "bookClinicAppointment", "arguments": {
            "customerName": "Jane Doe", "customerPhone": CALLER, "appointmentDate": "2030-01-07", "appointmentTime": "10:00", "serviceType": "Botox"}}}]}})).await;
    assert_eq!(booked.status, 200);
    let result: Value =
        serde_json::from_str(booked.body["results"][0]["result"].as_str().unwrap()).unwrap();
    assert_eq!(result["success"], true, "{:?}", booked.body);
    assert_eq!(
        booked.body["speech"],
        "You're booked for Botox for Monday 7 January at 10:00."
    );
    assert_eq!(booked.body["toolResult"]["type"], "text");

    let report = json!({"message": {"type": "end-of-call-report", "timestamp": 1728393715369_i64, "endedReason": "customer-ended-call",
        "cost": 0.1661, "startedAt": "2026-11-20T14:00:00.000Z", "endedAt": "2026-11-20T14:02:05.500Z",
        "analysis": {"summary": "Jane booked Botox; card 4242 4242 4242 4242.", "successEvaluation": "true",
                     "sentiment": "positive", "sentimentScore": 0.9, "sentimentSummary": "Happy", "sentimentUrgency": "high"},
        "artifact": {"transcript": "User: I want botox. My SSN is 123-45-6789 and I was born on 03/14/1985.",
                     "recording": {"mono": {"combinedUrl": "https://storage.vapi.ai/rec.wav"}}, "messages": []},
        "call": c}});
    let in_progress =
        json!({"message": {"type": "status-update", "status": "in-progress", "call": c}});
    let ended = json!({"message": {"type": "status-update", "status": "ended", "endedReason": "customer-ended-call", "call": c}});
    for message in [&report, &in_progress, &report, &ended, &in_progress] {
        let reply = vapi_post(&gw, "/api/vapi/webhook", message).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    reports_analysed(&gw).await;
    assert_eq!(count(&gw, "SELECT count(*) AS n FROM call_logs").await, 1);
    let stored = row(&gw, "SELECT vapi_call_id, call_sid, phone_number, from_number, caller_name, call_type, status, outcome,
        outcome_summary, transcript, recording_url, recording_status, duration_seconds, total_cost, sentiment, sentiment_label,
        sentiment_score, sentiment_summary, sentiment_urgency, booking_confirmed, financial_value_minor,
        metadata->>'lead_score' AS lead_score, contact_id IS NOT NULL AS has_contact FROM call_logs").await;
    assert_eq!(
        stored,
        json!({
        "vapi_call_id": "call-eocr", "call_sid": "vapi-call-eocr", "phone_number": CALLER, "from_number": CALLER,
        "caller_name": "Jane Doe", "call_type": "inbound", "status": "completed", "outcome": "booked",
        "outcome_summary": "Jane booked Botox; card [REDACTED CARD].",
        "transcript": "User: I want botox. My SSN is [REDACTED SSN] and I was born on [REDACTED DOB].",
        "recording_url": "https://storage.vapi.ai/rec.wav", "recording_status": "completed", "duration_seconds": 126,
        "total_cost": 0.1661, "sentiment": "positive", "sentiment_label": "positive", "sentiment_score": 0.9,
        "sentiment_summary": "Happy", "sentiment_urgency": "high", "booking_confirmed": true,
        "financial_value_minor": 40000, "lead_score": "87", "has_contact": true})
    );
    let contact = row(
        &gw,
        "SELECT lead_status, lead_temperature, lead_score FROM contacts",
    )
    .await;
    assert_eq!(
        contact,
        json!({"lead_status": "booked", "lead_temperature": "hot", "lead_score": 87})
    );
    // One hot-lead alert, sent once by its voice.alert job through the clinic's Twilio.
    assert_eq!(
        count(&gw, "SELECT count(*) AS n FROM voice_alerts").await,
        1
    );
    for _ in 0..100 {
        if count(
            &gw,
            "SELECT count(*) AS n FROM voice_alerts WHERE status = 'sent'",
        )
        .await
            == 1
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let alert = row(
        &gw,
        "SELECT status, attempts, last_error, body FROM voice_alerts",
    )
    .await;

    assert_eq!(alert["status"], "sent", "{alert}");
    let sms = row(
        &gw,
        "SELECT recipient, status, method, content FROM messages",
    )
    .await;
    assert_eq!(
        (sms["recipient"].as_str(), sms["status"].as_str()),
        (Some("+15550001111"), Some("sent")),
        "{sms}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn assistant_request_greets_known_callers_and_makes_unknown_ones_warm_leads() {
    let (gw, mock) = start().await;
    let (a, asst) = org_with_agent(&gw, "ident").await;
    connect_twilio(&gw, &a).await;
    // Dual-sync imports the number, pointed at our webhook, with no assistant of its own.
    let mut state = Value::Null;
    for _ in 0..100 {
        state = gw
            .get("/api/integrations/status", Some(&a.token))
            .await
            .body;
        let twilio = state["integrations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["provider"] == "twilio")
            .cloned()
            .unwrap();
        if twilio["details"]["vapi_sync"]["state"] == "linked" {
            state = twilio;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state["details"]["vapi_sync"]["state"], "linked", "{state}");
    assert_eq!(state["details"]["vapi_sync"]["linked_assistant_id"], asst);
    let number_id = state["details"]["vapi_sync"]["vapi_phone_number_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let imported = requests(&mock, "POST", "/phone-number").await;
    assert_eq!(imported[0]["number"], NUMBER);
    assert_eq!(
        imported[0]["server"]["url"],
        format!("{TEST_PUBLIC_BASE_URL}/api/vapi/webhook")
    );
    assert!(imported[0].get("assistantId").is_none());
    let credential = requests(&mock, "POST", "/credential").await;
    assert_eq!(
        (
            credential[0]["provider"].as_str(),
            credential[0]["accountSid"].as_str()
        ),
        (Some("twilio"), Some(ACCOUNT))
    );

    let request = |caller: &str| {
        json!({"message": {"type": "assistant-request", "timestamp": 1728393715369_i64,
        "call": {"id": "call-ar", "type": "inboundPhoneCall", "phoneNumberId": number_id, "customer": {"number": caller}},
        "phoneNumber": {"id": number_id, "number": NUMBER}, "customer": {"number": caller}}})
    };
    let unknown = vapi_post(&gw, "/api/vapi/webhook", &request("+14155550777")).await;
    assert_eq!(unknown.status, 200);
    let lead = row(&gw, "SELECT id::text, name, lead_status, lead_temperature, lead_score FROM contacts WHERE phone = '+14155550777'").await;
    assert_eq!(
        (
            lead["name"].as_str(),
            lead["lead_temperature"].as_str(),
            lead["lead_score"].as_i64()
        ),
        (Some("Unknown Caller"), Some("warm"), Some(2))
    );
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let org_sig = unknown.body["assistantOverrides"]["metadata"]["org_sig"].clone();
    assert_eq!(
        org_sig.as_str().map(str::len),
        Some(64),
        "{:?}",
        unknown.body
    );
    assert_eq!(
        unknown.body,
        json!({"assistantId": asst, "assistantOverrides": {
        "variableValues": {"today": today, "timeZone": "UTC", "customerName": ""},
        "metadata": {"org_id": a.org_id, "org_sig": org_sig, "contact_id": lead["id"], "caller_known": false}}})
    );
    // A message that names no assistant or number routes by our metadata only with its
    // signature: an org_id alone, or with a forged signature, is not linked to anyone.
    let lookup = |metadata: Value| {
        json!({"message": {"type": "tool-calls", "call": {"id": "call-meta", "assistantOverrides": {"metadata": metadata}},
            "toolCallList": [{"id": "tc-meta", "function": {"name": "lookupCaller", "arguments": {"searchKey": "+14155550777", "searchType": "phone"}}}]}})
    };
    let signed = vapi_post(
        &gw,
        "/api/vapi/webhook",
        &lookup(json!({"org_id": a.org_id, "org_sig": org_sig})),
    )
    .await;
    assert!(
        signed.body["results"][0]["result"].is_string(),
        "{:?}",
        signed.body
    );
    for metadata in [
        json!({"org_id": a.org_id}),
        json!({"org_id": a.org_id, "org_sig": "00".repeat(32)}),
    ] {
        let unsigned = vapi_post(&gw, "/api/vapi/webhook", &lookup(metadata)).await;
        assert_eq!(
            unsigned.body["results"][0]["error"],
            "This call is not linked to a clinic on our platform.",
            "{:?}",
            unsigned.body
        );
    }

    gw.post(
        "/api/contacts",
        Some(&a.token),
        &json!({"name": "John Smith", "phone": "+14155550888"}),
    )
    .await;
    let known = vapi_post(&gw, "/api/vapi/webhook", &request("+14155550888")).await;
    assert_eq!(
        known.body["assistantOverrides"]["firstMessage"],
        "Hi John, welcome back! How can I help you today?"
    );
    assert_eq!(
        known.body["assistantOverrides"]["variableValues"]["customerName"],
        "John Smith"
    );
    // A number we do not know is refused with a spoken error.
    let mut stranger = request(CALLER);
    stranger["message"]["call"]["phoneNumberId"] = json!("pn-unknown");
    let refused = vapi_post(&gw, "/api/vapi/webhook", &stranger).await;
    assert_eq!(
        refused.body,
        json!({"error": "Sorry, this number is not in service."})
    );

    // A database outage: every caller gets what lets it recover.
    let (app_id, _) = gw.app_with_key(&a, "CRM").await;
    gw.database.set_reachable(false);
    let api = gw.get("/api/contacts", Some(&a.token)).await;
    assert_eq!(
        (api.status, api.body["code"].as_str()),
        (503, Some("database_unavailable")),
        "{:?}",
        api.body
    );
    assert_eq!(
        api.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("5")
    );
    let dialpad = gw
        .post_body(
            &format!("/webhooks/dialpad/{app_id}"),
            "application/json",
            json!({"call_id": 42, "state": "ringing"}).to_string(),
            &[],
        )
        .await;
    assert_eq!(
        (dialpad.status, dialpad.body["code"].as_str()),
        (503, Some("database_unavailable"))
    );
    assert_eq!(gw.get("/readyz", None).await.status, 503);
    // The caller still reaches the clinic's assistant (remembered for the number).
    let during = vapi_post(&gw, "/api/vapi/webhook", &request("+14155550999")).await;
    assert_eq!(
        (during.status, during.body["assistantId"].as_str()),
        (200, Some(asst.as_str())),
        "{:?}",
        during.body
    );
    let tools = json!({"message": {"type": "tool-calls",
        "call": {"id": "call-outage", "phoneNumberId": number_id, "customer": {"number": CALLER}},
        "toolCallList": [{"id": "tc-outage", "function": {"name": "lookupCaller", "arguments": {"searchKey": CALLER}}}]}});
    let spoken = vapi_post(&gw, "/api/vapi/webhook", &tools).await;
    assert_eq!(spoken.status, 200);
    assert_eq!(
        spoken.body["results"][0]["error"],
        voice_agent::dispatch::SYSTEM_TROUBLE,
        "{:?}",
        spoken.body
    );
    let report = json!({"message": {"type": "end-of-call-report", "endedReason": "customer-ended-call",
        "startedAt": "2026-11-20T14:00:00.000Z", "endedAt": "2026-11-20T14:01:00.000Z",
        "call": {"id": "call-outage", "phoneNumberId": number_id, "customer": {"number": CALLER}}}});
    let refused_report = vapi_post(&gw, "/api/vapi/webhook", &report).await;
    assert_eq!(refused_report.status, 503, "{:?}", refused_report.body);
    // Vapi's retry after the outage is recorded.
    gw.database.set_reachable(true);
    let mut stored = 0;
    for _ in 0..50 {
        if vapi_post(&gw, "/api/vapi/webhook", &report).await.status == 200 {
            stored = count(
                &gw,
                "SELECT count(*) AS n FROM call_logs WHERE vapi_call_id = 'call-outage'",
            )
            .await;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stored, 1);

    // Disconnecting Twilio undoes the dual-sync on Vapi.
    let gone = gw
        .send(
            "DELETE",
            "/api/integrations/twilio",
            Some(&a.token),
            &[],
            None,
        )
        .await;
    assert_eq!(gone.status, 200);
    for _ in 0..100 {
        if count(&gw, "SELECT count(*) AS n FROM vapi_twilio_sync").await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        count(&gw, "SELECT count(*) AS n FROM vapi_twilio_sync").await,
        0
    );
    let deleted: Vec<String> = mock
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "DELETE")
        .map(|r| r.url.path().to_owned())
        .collect();
    assert!(
        deleted.contains(&format!("/phone-number/{number_id}")),
        "{deleted:?}"
    );
    assert!(
        deleted.iter().any(|p| p.starts_with("/credential/")),
        "{deleted:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn call_back_places_one_call_however_often_it_is_retried() {
    let (gw, mock) = start().await;
    let (a, _) = org_with_agent(&gw, "cb-a").await;
    let contact = gw
        .post(
            "/api/contacts",
            Some(&a.token),
            &json!({"name": "Pat Lee", "phone": "+14155550999"}),
        )
        .await;
    let contact_id = contact.body["contact"]["id"]
        .as_str()
        .or(contact.body["id"].as_str())
        .unwrap()
        .to_owned();
    let route = format!("/api/contacts/{contact_id}/call-back");
    let missing = gw.post(&route, Some(&a.token), &json!({})).await;
    assert_eq!(
        (missing.status, missing.body["code"].as_str()),
        (409, Some("outbound_agent_missing"))
    );
    let out = gw
        .send(
            "PUT",
            "/api/agents/outbound",
            Some(&a.token),
            &[],
            Some(&json!({"name": "Call-backs"})),
        )
        .await;
    assert_eq!(out.status, 200);
    let outbound_asst = out.body["agent"]["vapi_assistant_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let no_number = gw.post(&route, Some(&a.token), &json!({})).await;
    assert_eq!(no_number.body["code"], "phone_number_missing");
    connect_twilio(&gw, &a).await;
    for _ in 0..100 {
        if count(
            &gw,
            "SELECT count(*) AS n FROM vapi_twilio_sync WHERE state = 'linked'",
        )
        .await
            == 1
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let headers = [("idempotency-key", "cb-1")];
    let first = gw
        .send("POST", &route, Some(&a.token), &headers, None)
        .await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    assert_eq!(first.body["status"], "initiated");
    assert_eq!(first.body["phone"], "+14155550999");
    let again = gw
        .send("POST", &route, Some(&a.token), &headers, None)
        .await;
    let unkeyed = gw.send("POST", &route, Some(&a.token), &[], None).await;
    for retry in [&again, &unkeyed] {
        assert_eq!(retry.status, 200);
        assert_eq!(retry.body["callId"], first.body["callId"]);
        assert_eq!(retry.body["vapiCallId"], first.body["vapiCallId"]);
    }
    let placed = requests(&mock, "POST", "/call").await;
    assert_eq!(placed.len(), 1, "one call for three requests");
    assert_eq!(placed[0]["assistantId"], outbound_asst);
    assert_eq!(placed[0]["customer"]["number"], "+14155550999");
    assert_eq!(
        placed[0]["assistantOverrides"]["metadata"]["call_log_id"],
        first.body["callId"]
    );
    // Vapi's status updates for the outbound call move the same row.
    let vapi_id = first.body["vapiCallId"].as_str().unwrap();
    let update = json!({"message": {"type": "status-update", "status": "ringing", "call": {"id": vapi_id, "assistantId": outbound_asst,
        "type": "outboundPhoneCall", "customer": {"number": "+14155550999"}, "assistantOverrides": {"metadata": {"call_log_id": first.body["callId"]}}}}});
    vapi_post(&gw, "/api/vapi/webhook", &update).await;
    assert_eq!(count(&gw, "SELECT count(*) AS n FROM call_logs").await, 1);
    let stored = row(&gw, "SELECT status, call_type, call_sid FROM call_logs").await;
    assert_eq!(
        stored,
        json!({"status": "ringing", "call_type": "outbound", "call_sid": format!("vapi-{vapi_id}")})
    );
    // Another organization cannot call this contact back.
    let b = gw.signup("cb-b").await;
    let foreign = gw.post(&route, Some(&b.token), &json!({})).await;
    assert_eq!(foreign.status, 404);
}

/// A tool call through org A's assistant never reads or books org B's data, whatever the
/// arguments say.
#[tokio::test(flavor = "multi_thread")]
async fn tool_calls_stay_inside_the_assistants_organization() {
    let (gw, _mock) = start().await;
    let (a, asst_a) = org_with_agent(&gw, "iso-a").await;
    let (b, _asst_b) = org_with_agent(&gw, "iso-b").await;
    let b_contact = gw
        .post(
            "/api/contacts",
            Some(&b.token),
            &json!({"name": "Bea Other", "phone": "+14155550444", "email": "bea@b.example"}),
        )
        .await;
    assert_eq!(b_contact.status, 201, "{:?}", b_contact.body);
    let b_appt = gw
        .post(
            "/api/appointments",
            Some(&b.token),
            &json!({"customer_name": "Bea Other", "customer_phone": "+14155550444",
        "scheduled_time": "2030-01-07T11:00:00Z"}),
        )
        .await;
    assert_eq!(b_appt.status, 201, "{:?}", b_appt.body);
    let b_appt_id = b_appt.body["appointment"]["id"]
        .as_str()
        .or(b_appt.body["id"].as_str())
        .unwrap()
        .to_owned();
    let c = call(&asst_a, "call-iso");
    let tool = |name: &str, args: Value| {
        json!({"message": {"type": "tool-calls", "call": c,
        "toolCallList": [{"id": format!("call_{}", uuid::Uuid::new_v4()), "function": {"name": name, "arguments": args}}]}})
    };
    let result = |reply: &Reply| reply.body["results"][0].clone();

    for (key, kind) in [
        ("+14155550444", "phone"),
        ("bea@b.example", "email"),
        ("Bea", "name"),
    ] {
        let found = vapi_post(
            &gw,
            "/api/vapi/tools/lookupCaller",
            &tool(
                "lookupCaller",
                json!({"searchKey": key, "searchType": kind, "tenantId": b.org_id}),
            ),
        )
        .await;
        let r: Value = serde_json::from_str(result(&found)["result"].as_str().unwrap()).unwrap();
        assert_eq!(r["found"], false, "{kind}: {r}");
    }
    let cancel = vapi_post(&gw, "/api/vapi/webhook", &tool("cancelAppointment", json!({"appointmentId": b_appt_id, "customerPhone": "+14155550444", "tenantId": b.org_id}))).await;
    assert!(
        result(&cancel)["error"]
            .as_str()
            .unwrap()
            .starts_with("I couldn't find an upcoming appointment")
    );
    let resched = vapi_post(&gw, "/api/vapi/webhook", &tool("rescheduleAppointment", json!({"currentDate": "2030-01-07", "customerPhone": "+14155550444", "newDate": "2030-01-08", "newTime": "09:00", "org_id": b.org_id}))).await;
    assert!(result(&resched)["error"].is_string());
    let book = vapi_post(
        &gw,
        "/api/vapi/webhook",
        &tool(
            "bookClinicAppointment",
            json!({"customerName": "Al", "customerPhone": "+14155550555",
        "appointmentDate": "2030-01-07", "appointmentTime": "11:00", "tenantId": b.org_id}),
        ),
    )
    .await;
    assert!(
        result(&book)["result"]
            .as_str()
            .unwrap()
            .contains("\"success\":true"),
        "{:?}",
        book.body
    );
    assert_eq!(
        count(
            &gw,
            &format!(
                "SELECT count(*) AS n FROM appointments WHERE org_id = '{}'",
                a.org_id
            )
        )
        .await,
        1
    );
    assert_eq!(count(&gw, &format!("SELECT count(*) AS n FROM appointments WHERE org_id = '{}' AND status = 'confirmed'", b.org_id)).await, 1);
    // A's availability is A's calendar: 11:00 is taken in A only by A's own booking.
    let avail = vapi_post(
        &gw,
        "/api/vapi/webhook",
        &tool("checkAvailability", json!({"date": "2030-01-07"})),
    )
    .await;
    let slots: Value = serde_json::from_str(result(&avail)["result"].as_str().unwrap()).unwrap();
    assert!(!slots["slots"].as_array().unwrap().contains(&json!("11:00")));
    // B's settings do not route A's transfers; A's call is not logged in B.
    gw.send(
        "PUT",
        "/api/voice-settings",
        Some(&b.token),
        &[],
        Some(&json!({"transfer_default": "+14155550199"})),
    )
    .await;
    let transfer = vapi_post(
        &gw,
        "/api/vapi/tools/transferCall",
        &tool(
            "transferCall",
            json!({"summary": "Wants billing", "department": "billing"}),
        ),
    )
    .await;
    assert!(
        result(&transfer)["error"]
            .as_str()
            .unwrap()
            .contains("can't transfer")
    );
    gw.send(
        "PUT",
        "/api/voice-settings",
        Some(&a.token),
        &[],
        Some(&json!({"transfer_default": "+14155550100",
        "transfer_departments": {"billing": "sip:billing@clinic-a.example"}})),
    )
    .await;
    let routed = vapi_post(
        &gw,
        "/api/vapi/tools/transferCall",
        &tool(
            "transferCall",
            json!({"summary": "Wants billing", "department": "billing"}),
        ),
    )
    .await;
    assert_eq!(
        routed.body["transfer"]["destination"],
        json!({"type": "sip", "sipUri": "sip:billing@clinic-a.example",
        "transferPlan": {"mode": "warm-transfer-say-message", "message": "Wants billing"}})
    );
    assert_eq!(
        routed.body["speech"],
        "Transferring you to our billing team now."
    );
    let logged = row(&gw, "SELECT org_id::text, transfer_to, transfer_reason FROM call_logs WHERE vapi_call_id = 'call-iso'").await;
    assert_eq!(
        logged,
        json!({"org_id": a.org_id, "transfer_to": "sip:billing@clinic-a.example", "transfer_reason": "Wants billing"})
    );
    // The dashboard routes: each organization sees only its own.
    let b_settings = gw.get("/api/voice-settings", Some(&b.token)).await;
    assert_eq!(
        b_settings.body["settings"]["transfer_default"],
        "+14155550199"
    );
    // An assistant nobody registered is not anybody's.
    let stranger = vapi_post(&gw, "/api/vapi/webhook", &json!({"message": {"type": "tool-calls", "call": call("asst-unknown", "call-s"),
        "toolCallList": [{"id": "call_s", "function": {"name": "lookupCaller", "arguments": {"searchKey": "Bea", "searchType": "name"}}}]}})).await;
    assert_eq!(
        stranger.body,
        json!({"results": [{"name": "lookupCaller", "toolCallId": "call_s", "error": "This call is not linked to a clinic on our platform."}]})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_tool_link_is_recorded_and_retried_without_failing_the_save() {
    let mock = MockServer::start().await;
    // Vapi refuses the link once (a 400 is not retried at once), then accepts it.
    Mock::given(method("PATCH"))
        .and(path_regex("^/assistant/"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(json!({"message": "toolIds invalid"})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&mock)
        .await;
    mock_vapi(&mock).await;
    let gw = TestGateway::start_voice(mock_endpoints(&mock), &mock.uri()).await;
    let (a, _) = org_with_agent(&gw, "retry").await;
    let mut saw_failed = false;
    for _ in 0..100 {
        let tools = gw.get("/api/agents", Some(&a.token)).await.body["tools"].clone();
        if tools[0]["link_status"] == "failed" {
            saw_failed = true;
            assert!(tools[0]["last_error"].as_str().unwrap().contains("400"));
        }
        if tools[0]["link_status"] == "linked" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(saw_failed, "the failure was recorded");
    wait_linked(&gw, &a).await;
    assert_eq!(
        requests(&mock, "POST", "/tool").await.len(),
        TOOL_NAMES.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tool_call_delivered_twice_books_once_and_answers_the_same_confirmation() {
    let (gw, _mock) = start().await;
    let (_a, asst) = org_with_agent(&gw, "redeliver").await;
    let (_b, asst_b) = org_with_agent(&gw, "redeliver-b").await;
    let book = |assistant: &str, call_id: &str, tool_call_id: &str, time: &str| {
        json!({"message": {"type": "tool-calls", "call": call(assistant, call_id),
            "toolCallList": [{"id": tool_call_id, "function": {"name": "bookClinicAppointment", "arguments": {
                "customerName": "Jane Doe", "customerPhone": CALLER, "appointmentDate": "2030-01-07",
                "appointmentTime": time, "serviceType": "Botox"}}}]}})
    };
    let result = |reply: &Reply| {
        reply.body["results"][0]["result"]
            .as_str()
            .map(str::to_owned)
    };
    // In sequence, on the tool URL then the webhook.
    let first = vapi_post(
        &gw,
        "/api/vapi/tools/bookClinicAppointment",
        &book(&asst, "c1", "tc_seq", "10:00"),
    )
    .await;
    let again = vapi_post(
        &gw,
        "/api/vapi/webhook",
        &book(&asst, "c1", "tc_seq", "10:00"),
    )
    .await;
    assert_eq!(first.status, 200);
    assert!(
        result(&first).is_some_and(|r| r.contains("\"success\":true")),
        "{:?}",
        first.body
    );
    assert_eq!(result(&again), result(&first), "{:?}", again.body);
    // Concurrently, on both URLs at once, for another slot.
    let twice = book(&asst, "c2", "tc_race", "11:00");
    let (x, y) = tokio::join!(
        vapi_post(&gw, "/api/vapi/tools/bookClinicAppointment", &twice),
        vapi_post(&gw, "/api/vapi/webhook", &twice),
    );
    assert!(
        result(&x).is_some_and(|r| r.contains("\"success\":true")),
        "{:?}",
        x.body
    );
    assert_eq!(result(&x), result(&y), "{:?} / {:?}", x.body, y.body);
    assert_eq!(
        count(&gw, "SELECT count(*) AS n FROM appointments").await,
        2
    );
    // The same tool call id in another organization is another tool call.
    let other = vapi_post(
        &gw,
        "/api/vapi/webhook",
        &book(&asst_b, "c3", "tc_seq", "10:00"),
    )
    .await;
    assert!(
        result(&other).is_some_and(|r| r.contains("\"success\":true")),
        "{:?}",
        other.body
    );
    assert_eq!(
        count(&gw, "SELECT count(*) AS n FROM appointments").await,
        3
    );
}

/// A voice booking, the contact's `booked` lead status and the call's `booking_confirmed` mark
/// commit in one transaction: killed between the booking and the call mark (a trigger aborts
/// the mark), nothing of the booking remains; without the trigger all of it commits.
#[tokio::test(flavor = "multi_thread")]
async fn a_voice_booking_and_its_call_mark_commit_together_or_not_at_all() {
    let (gw, _mock) = start().await;
    let (_a, asst) = org_with_agent(&gw, "atomic").await;
    let book = |tool_call_id: &str| {
        json!({"message": {"type": "tool-calls", "call": call(&asst, "c-atomic"),
            "toolCallList": [{"id": tool_call_id, "function": {"name": "bookClinicAppointment", "arguments": {
                "customerName": "Jane Doe", "customerPhone": CALLER, "appointmentDate": "2030-01-07",
                "appointmentTime": "10:00", "serviceType": "Botox"}}}]}})
    };
    gw.database.psql_superuser(
        "CREATE FUNCTION kill_between_steps() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
             RAISE EXCEPTION 'killed between the booking and the call mark'; END $$;
         CREATE TRIGGER kill_between_steps BEFORE UPDATE OF booking_confirmed ON call_logs
             FOR EACH ROW WHEN (NEW.booking_confirmed) EXECUTE FUNCTION kill_between_steps();",
    );
    let killed = vapi_post(
        &gw,
        "/api/vapi/tools/bookClinicAppointment",
        &book("tc_killed"),
    )
    .await;
    assert_eq!(killed.status, 200);
    let said = killed.body["results"][0]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(said.contains("booking system"), "{:?}", killed.body);
    assert_eq!(
        count(&gw, "SELECT count(*) AS n FROM appointments").await,
        0
    );
    assert_eq!(
        count(
            &gw,
            "SELECT count(*) AS n FROM contacts WHERE lead_status = 'booked'"
        )
        .await,
        0,
        "the lead was not marked booked"
    );
    assert_eq!(
        count(
            &gw,
            "SELECT count(*) AS n FROM call_logs WHERE booking_confirmed"
        )
        .await,
        0
    );

    gw.database
        .psql_superuser("DROP TRIGGER kill_between_steps ON call_logs;");
    let booked = vapi_post(
        &gw,
        "/api/vapi/tools/bookClinicAppointment",
        &book("tc_again"),
    )
    .await;
    let result = booked.body["results"][0]["result"]
        .as_str()
        .unwrap_or_default();
    assert!(result.contains("\"success\":true"), "{:?}", booked.body);
    assert_eq!(
        count(&gw, "SELECT count(*) AS n FROM appointments").await,
        1
    );
    assert_eq!(
        count(
            &gw,
            "SELECT count(*) AS n FROM contacts WHERE lead_status = 'booked'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&gw, "SELECT count(*) AS n FROM call_logs WHERE vapi_call_id = 'c-atomic' AND booking_confirmed").await,
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_end_of_call_report_with_nul_is_recorded_like_any_other() {
    let (gw, _mock) = start().await;
    let (_a, asst) = org_with_agent(&gw, "nul-report").await;
    let report = json!({"message": {"type": "end-of-call-report", "endedReason": "customer-ended-call",
        "startedAt": "2026-11-20T14:00:00.000Z", "endedAt": "2026-11-20T14:01:00.000Z",
        "analysis": {"summary": "Asked about\u{0} prices."},
        "artifact": {"transcript": "User: hello\u{0} there", "messages": []},
        "call": call(&asst, "call-nul")}});
    let reply = vapi_post(&gw, "/api/vapi/webhook", &report).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reports_analysed(&gw).await;
    let stored = row(
        &gw,
        "SELECT transcript, outcome_summary FROM call_logs WHERE vapi_call_id = 'call-nul'",
    )
    .await;
    assert_eq!(stored["transcript"], "User: hello there", "{stored}");
    assert_eq!(stored["outcome_summary"], "Asked about prices.", "{stored}");
}

fn insert_result(
    c: &mut db::AsyncPgConnection,
    org: db::OrgId,
) -> db::ConnFuture<'_, Result<uuid::Uuid, db::DbError>> {
    let id = uuid::Uuid::new_v4();
    Box::pin(async move {
        use diesel_async::RunQueryDsl as _;
        diesel::sql_query(
            "INSERT INTO vapi_tool_results (org_id, tool_call_id, tool_name, reply) \
             VALUES ($1, $2, 'bookClinicAppointment', '{\"speech\": \"Booked.\"}')",
        )
        .bind::<diesel::sql_types::Uuid, _>(org.0)
        .bind::<diesel::sql_types::Text, _>(id.to_string())
        .execute(c)
        .await?;
        Ok(id)
    })
}

/// `vapi_tool_results` is confined to its organization by forced RLS, like every tenant table.
#[tokio::test(flavor = "multi_thread")]
async fn tool_call_results_are_isolated_between_organizations() {
    let test_db = db::test_support::TestDatabase::new().await;
    let probe = db::test_support::IsolationProbe {
        table: "vapi_tool_results",
        tenant_column: "org_id",
        id_column: "tool_call_id::uuid",
        insert: &insert_result,
    };
    db::test_support::assert_tenant_isolation(&test_db.db(), &probe).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_is_dated_when_it_started_never_in_the_future() {
    let (gw, _mock) = start().await;
    let (_a, asst) = org_with_agent(&gw, "dated").await;
    let iso = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let started = chrono::Utc::now() - chrono::Duration::hours(50);
    let future = chrono::Utc::now() + chrono::Duration::hours(3);
    for (id, at) in [("call-late-report", started), ("call-clock-ahead", future)] {
        // The report is the first (and only) message we get about the call.
        let report = json!({"message": {"type": "end-of-call-report", "endedReason": "customer-ended-call",
            "startedAt": iso(at), "endedAt": iso(at + chrono::Duration::minutes(2)),
            "analysis": {"summary": "Asked about parking."}, "artifact": {"transcript": "User: parking?"},
            "call": call(&asst, id)}});
        assert_eq!(
            vapi_post(&gw, "/api/vapi/webhook", &report).await.status,
            200
        );
    }
    let dated = row(
        &gw,
        "SELECT jsonb_object_agg(vapi_call_id, jsonb_build_object(
            'at_start', created_at = started_at,
            'not_ahead', created_at <= now())) AS by_call FROM call_logs",
    )
    .await;
    assert_eq!(
        dated["by_call"],
        json!({"call-late-report": {"at_start": true, "not_ahead": true},
               "call-clock-ahead": {"at_start": false, "not_ahead": true}})
    );
}

/// A gateway whose job workers do not run and an organization (`slug`) with a saved agent
/// (the session and the Vapi assistant id), once the save's background work (tool sync, then a
/// look at the dual-sync state) is over: what a round-trip count needs before it starts. Keep
/// the mock server alive for the test.
async fn quiet_gateway_with_agent(slug: &str) -> (MockServer, TestGateway, Session, String) {
    let mock = vapi_and_twilio().await;
    let gw = TestGateway::start_voice_without_jobs(mock_endpoints(&mock), &mock.uri()).await;
    let (session, asst) = org_with_agent(&gw, slug).await;
    wait_linked(&gw, &session).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    (mock, gw, session, asst)
}

/// [`quiet_gateway_with_agent`] whose organization knows the caller ([`CALLER`], Jane Doe).
async fn quiet_gateway_knowing_the_caller(slug: &str) -> (MockServer, TestGateway, String) {
    let (mock, gw, session, asst) = quiet_gateway_with_agent(slug).await;
    let created = gw
        .post(
            "/api/contacts",
            Some(&session.token),
            &json!({"name": "Jane Doe", "phone": CALLER}),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    (mock, gw, asst)
}

/// A short `end-of-call-report` of call `id` from [`CALLER`] to assistant `asst`.
fn hello_report(asst: &str, id: &str) -> Value {
    json!({"message": {"type": "end-of-call-report", "endedReason": "customer-ended-call",
        "call": {"id": id, "assistantId": asst, "customer": {"number": CALLER}},
        "artifact": {"transcript": "User: hello"}, "analysis": {"summary": "Said hello."}}})
}

/// Issue 22, "round trips": an end-of-call report is acknowledged in at most 4 round trips
/// (BEGIN with the tenant setting, the call row, the job, COMMIT), a redelivery in 3, and a
/// `lookupCaller` answered in at most 3; the routing lookup is served from the cache and no
/// pool checkout sends a validation query.
#[tokio::test(flavor = "multi_thread")]
async fn a_report_is_acknowledged_in_four_round_trips_and_a_lookup_in_three() {
    let (_mock, gw, asst) = quiet_gateway_knowing_the_caller("trips").await;
    let report = |id: &str| hello_report(&asst, id);
    let lookup = json!({"message": {"type": "tool-calls",
        "call": {"id": "call-trips", "assistantId": asst, "customer": {"number": CALLER}},
        "toolCallList": [{"id": "tc-trips", "function": {"name": "lookupCaller",
            "arguments": {"searchKey": CALLER, "searchType": "phone"}}}]}});
    // Warm: the routing cache and the connection's prepared statements.
    assert_eq!(
        vapi_post(&gw, "/api/vapi/webhook", &report("call-warm"))
            .await
            .status,
        200
    );
    assert_eq!(
        vapi_post(&gw, "/api/vapi/webhook", &lookup).await.status,
        200
    );

    let measure = async |body: &Value| {
        reset_statements(&gw);
        let reply = vapi_post(&gw, "/api/vapi/webhook", body).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        (round_trips_since_reset(&gw), statements_since_reset(&gw))
    };
    // The fewest of three counts (`round_trips::fewest`).
    let (mut first, mut again, mut looked_up) = (Vec::new(), Vec::new(), Vec::new());
    for n in 1..=3 {
        let call = format!("call-trips-{n}");
        first.push(measure(&report(&call)).await);
        again.push(measure(&report(&call)).await);
        looked_up.push(measure(&lookup).await);
    }
    let (first, again, looked_up) = (fewest(first), fewest(again), fewest(looked_up));
    assert!(first.0 <= 4, "a new report took {first:?} round trips");
    assert!(
        again.0 <= 3,
        "a redelivered report took {again:?} round trips"
    );
    assert!(looked_up.0 <= 3, "a lookup took {looked_up:?} round trips");
    // The report was stored once, with its analysis queued once.
    assert_eq!(
        count(
            &gw,
            "SELECT count(*) AS n FROM call_logs WHERE vapi_call_id = 'call-trips-1'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&gw, "SELECT count(*) AS n FROM jobs WHERE kind = 'voice.report' AND order_key = 'vapi:call-trips-1'").await,
        1
    );
}

/// Issue 22: the analysis reads the call row its acknowledgement wrote instead of writing it a
/// second time, and sets the caller's contact and name with the analysis; a row removed in
/// between is written again from the queued report, with its analysis.
#[tokio::test(flavor = "multi_thread")]
async fn the_analysis_completes_the_acknowledged_row_or_writes_a_removed_one_again() {
    let (_mock, gw, asst) = quiet_gateway_knowing_the_caller("analysed-row").await;
    for id in ["call-kept", "call-removed"] {
        let reply = vapi_post(&gw, "/api/vapi/webhook", &hello_report(&asst, id)).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    gw.database
        .psql_superuser("DELETE FROM call_logs WHERE vapi_call_id = 'call-removed'");
    let runner = gw.state.voice.register_jobs(jobs::Runner::new(
        gw.state.jobs.clone(),
        gateway::test_support::test_runner_config(),
        "analysed-row",
    ));
    assert_eq!(runner.run_once("analysed-row/0").await.unwrap(), 2);

    for id in ["call-kept", "call-removed"] {
        let analysed = row(
            &gw,
            &format!(
                "SELECT c.outcome, c.outcome_summary, c.caller_name, c.status, \
                        k.name AS contact_name, c.metadata ? 'report_received_at' AS reported \
                   FROM call_logs c JOIN contacts k ON k.id = c.contact_id \
                  WHERE c.vapi_call_id = '{id}'"
            ),
        )
        .await;
        assert_eq!(
            analysed,
            json!({"outcome": "completed", "outcome_summary": "Said hello.",
                   "caller_name": "Jane Doe", "status": "completed",
                   "contact_name": "Jane Doe", "reported": true}),
            "{id}"
        );
    }
}

/// Issue 22, batched post-call processing: reports analysed in one batch read and create the
/// callers' contacts together, yet each report acts as if analysed alone and in order: a caller
/// calling twice is created once, learns the name given on the second call and stays `booked`
/// after a later call that booked nothing; every report gets its analysis, its live event and
/// its `call.analyzed` event; nothing reaches the other organization.
#[tokio::test(flavor = "multi_thread")]
async fn a_batch_of_reports_is_analysed_as_each_report_alone_in_order() {
    let (_mock, gw, session, asst) = quiet_gateway_with_agent("batch-a").await;
    let (_other, _) = org_with_agent(&gw, "batch-b").await;
    let hooks = json!({"url": "https://hooks.example.com/in",
        "event_types": ["contact.created", "contact.updated", "call.analyzed"]});
    let r = gw
        .post("/api/webhooks/endpoints", Some(&session.token), &hooks)
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let report = |id: &str, number: &str, name: Option<&str>, booked: bool| {
        let mut customer = json!({"number": number});
        if let Some(name) = name {
            customer["name"] = json!(name);
        }
        let messages = if booked {
            json!([{"role": "tool_call_result", "name": "bookClinicAppointment",
                    "result": "{\"success\":true}"}])
        } else {
            json!([])
        };
        json!({"message": {"type": "end-of-call-report", "endedReason": "customer-ended-call",
            "call": {"id": id, "assistantId": asst, "customer": customer},
            "artifact": {"transcript": "User: hello", "messages": messages},
            "analysis": {"summary": "Said hello."}}})
    };
    for body in [
        report("call-batch-1", "+14155550201", None, true),
        report("call-batch-2", "+14155550201", Some("Sam Lee"), false),
        report("call-batch-3", "+14155550202", Some("Ana Ruiz"), false),
    ] {
        let reply = vapi_post(&gw, "/api/vapi/webhook", &body).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    let runner = gw.state.voice.register_jobs(jobs::Runner::new(
        gw.state.jobs.clone(),
        gateway::test_support::test_runner_config(),
        "batch-a",
    ));
    assert_eq!(runner.run_once("batch-a/0").await.unwrap(), 3);

    let contacts = row(
        &gw,
        "SELECT jsonb_agg(jsonb_build_array(phone, name, lead_status) ORDER BY phone) AS all \
           FROM contacts WHERE phone IN ('+14155550201', '+14155550202')",
    )
    .await;
    assert_eq!(
        contacts["all"],
        json!([
            ["+14155550201", "Sam Lee", "booked"],
            ["+14155550202", "Ana Ruiz", "lost"]
        ])
    );
    let calls = row(
        &gw,
        "SELECT jsonb_agg(jsonb_build_array(c.vapi_call_id, c.outcome, k.phone) \
                          ORDER BY c.vapi_call_id) AS all \
           FROM call_logs c JOIN contacts k ON k.id = c.contact_id \
          WHERE c.vapi_call_id LIKE 'call-batch-%'",
    )
    .await;
    assert_eq!(
        calls["all"],
        json!([
            ["call-batch-1", "booked", "+14155550201"],
            ["call-batch-2", "completed", "+14155550201"],
            ["call-batch-3", "completed", "+14155550202"]
        ])
    );
    let events = row(
        &gw,
        "SELECT jsonb_object_agg(event_type, n) AS all FROM \
           (SELECT event_type, count(*) AS n FROM webhook_messages GROUP BY event_type) t",
    )
    .await;
    // Created: two callers; updated: one name learned and three calls recorded.
    assert_eq!(
        events["all"],
        json!({"contact.created": 2, "contact.updated": 4, "call.analyzed": 3})
    );
    let live = count(
        &gw,
        "SELECT count(*) AS n FROM realtime_events \
          WHERE payload->>'vapi_call_id' LIKE 'call-batch-%' AND payload ? 'lead_score'",
    )
    .await;
    assert_eq!(live, 3);
    let left = count(
        &gw,
        "SELECT count(*) AS n FROM jobs WHERE kind = 'voice.report'",
    )
    .await;
    assert_eq!(left, 0);
    let tenants = count(
        &gw,
        "SELECT count(DISTINCT org_id) AS n FROM ( \
           SELECT org_id FROM contacts WHERE phone IN ('+14155550201', '+14155550202') \
           UNION ALL SELECT org_id FROM call_logs WHERE vapi_call_id LIKE 'call-batch-%' \
           UNION ALL SELECT org_id FROM webhook_messages \
           UNION ALL SELECT org_id FROM realtime_events \
                      WHERE payload->>'vapi_call_id' LIKE 'call-batch-%') t",
    )
    .await;
    assert_eq!(
        tenants, 1,
        "everything the batch wrote is the first organization's"
    );
}

/// An `assistant-request` for a known caller: one transaction for the identity (settings,
/// assistant, the caller's contact touched, their earlier calls) and one for the knowledge
/// base's search (its state and the full-text hits); routing is cached.
#[tokio::test(flavor = "multi_thread")]
async fn an_assistant_request_is_answered_in_ten_round_trips() {
    let (_mock, gw, _, asst) = quiet_gateway_with_agent("ar-trips").await;
    let request = |n: u32| {
        json!({"message": {"type": "assistant-request",
            "call": {"id": format!("call-ar-trips-{n}"), "type": "inboundPhoneCall",
                     "assistantId": asst, "customer": {"number": CALLER}},
            "customer": {"number": CALLER}}})
    };
    let measure = async |n: u32| {
        reset_statements(&gw);
        let reply = vapi_post(&gw, "/api/vapi/webhook", &request(n)).await;
        assert_eq!(reply.body["assistantId"], asst.as_str(), "{:?}", reply.body);
        (round_trips_since_reset(&gw), statements_since_reset(&gw))
    };
    measure(0).await;
    let mut answered = Vec::new();
    for n in 1..=3 {
        answered.push(measure(n).await);
    }
    let answered = fewest(answered);
    assert!(
        answered.0 <= 10,
        "an assistant-request took {answered:?} round trips"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn apps_that_subscribe_get_their_organizations_ai_call_events_live_and_replayed() {
    use gateway::test_support::ws::{assert_quiet, connect, next_json};
    let (gw, _mock) = start().await;
    let (a, asst_a) = org_with_agent(&gw, "ai-calls-a").await;
    let (b, _) = org_with_agent(&gw, "ai-calls-b").await;
    let (_, key_a) = gw.app_with_key(&a, "CRM A").await;
    let (_, key_b) = gw.app_with_key(&b, "CRM B").await;
    let watching = |key: &str| format!("?api_key={key}&subscribe=ai_calls&since=latest");
    let mut subscribed = connect(&gw, &watching(&key_a), &[]).await;
    let mut plain = connect(&gw, &format!("?api_key={key_a}"), &[]).await;
    let mut other_org = connect(&gw, &watching(&key_b), &[]).await;

    let c = call(&asst_a, "call-ai-events");
    let started = json!({"message": {"type": "status-update", "status": "in-progress", "call": c}});
    let line = json!({"message": {"type": "transcript", "role": "user", "transcriptType": "final",
        "transcript": "Do you have anything on Friday?", "call": c}});
    for message in [&started, &line] {
        let reply = vapi_post(&gw, "/api/vapi/webhook", message).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(next_json(&mut subscribed).await.expect("an AI-call event"));
    }
    got.sort_by_key(|e| e["event_id"].as_i64());
    assert_eq!(
        (&got[0]["type"], &got[0]["status"], &got[0]["vapi_call_id"]),
        (
            &json!("vapi_call_update"),
            &json!("in-progress"),
            &json!("call-ai-events")
        )
    );
    assert_eq!(got[1]["type"], "vapi_transcript");
    assert_eq!(got[1]["text"], "Do you have anything on Friday?");
    assert_quiet(&mut plain, "an app that did not subscribe").await;
    assert_quiet(&mut other_org, "another organization's app").await;

    // A subscriber that reconnects after the first event gets the transcript line once.
    let first = got[0]["event_id"].as_i64().unwrap();
    let query = format!("?api_key={key_a}&subscribe=ai_calls&since={first}");
    let mut again = connect(&gw, &query, &[]).await;
    let replayed = next_json(&mut again).await.unwrap();
    assert_eq!(
        (&replayed["type"], &replayed["event_id"]),
        (&json!("vapi_transcript"), &got[1]["event_id"])
    );
    assert_eq!(next_json(&mut again).await.unwrap()["replayed"], 1);
    // Without the subscription the same replay holds none of them.
    let mut unsubscribed = connect(&gw, &format!("?api_key={key_a}&since=0"), &[]).await;
    assert_eq!(next_json(&mut unsubscribed).await.unwrap()["replayed"], 0);

    let refused = gw
        .send(
            "GET",
            &format!("/ws?api_key={key_a}&subscribe=everything"),
            None,
            &[],
            None,
        )
        .await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (400, Some("invalid_subscribe"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn call_started_and_ended_reach_an_endpoint_once_however_often_vapi_repeats_them() {
    let (gw, _mock) = start().await;
    let (a, asst) = org_with_agent(&gw, "hooks-once").await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let r = gw
        .post(
            "/api/webhooks/endpoints",
            Some(&a.token),
            &json!({"url": receiver.uri(), "event_types": ["call.started", "call.ended"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let c = call(&asst, "call-hooks-once");
    let started = json!({"message": {"type": "status-update", "status": "in-progress", "call": c}});
    let ended = json!({"message": {"type": "status-update", "status": "ended",
        "endedReason": "customer-ended-call", "call": c}});
    for message in [&started, &started, &ended, &started, &ended] {
        let reply = vapi_post(&gw, "/api/vapi/webhook", message).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    let types = || async {
        let mut types: Vec<String> = receiver
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| {
                let body: Value = serde_json::from_slice(&r.body).unwrap();
                body["type"].as_str().unwrap().to_owned()
            })
            .collect();
        types.sort();
        types
    };
    for _ in 0..200 {
        if types().await.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Give a duplicate the time to arrive, then count.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(types().await, ["call.ended", "call.started"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dual_sync_runs_once_while_the_agent_is_saved_again_and_its_number_keeps_routing() {
    let (gw, mock) = start().await;
    let (a, asst) = org_with_agent(&gw, "sync-once").await;
    let org = db::OrgId(a.org_id.parse().unwrap());
    // A slow Vapi: the sync's first step is still running when the agent is saved again.
    Mock::given(method("POST"))
        .and(path("/credential"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "cred-slow"}))
                .set_delay(Duration::from_millis(400)),
        )
        .with_priority(1)
        .mount(&mock)
        .await;
    connect_twilio(&gw, &a).await;
    // The agent saved again while the sync runs, and resumes asked for at the same moment.
    let voice = gw.state.voice.clone();
    let body = json!({"name": "sync-once desk", "system_prompt": "You answer for sync-once.",
        "first_message": "Hello again, how can I help?"});
    let resaved = gw.send(
        "PUT",
        "/api/agents/inbound",
        Some(&a.token),
        &[],
        Some(&body),
    );
    let (resaved, ..) = tokio::join!(
        resaved,
        voice.twilio_sync().resume_waiting(org),
        voice.twilio_sync().resume_waiting(org),
    );
    assert_eq!(resaved.status, 200, "{:?}", resaved.body);
    // The sync starts after the Twilio connection is answered, so its row may not exist yet.
    let mut linked = None;
    for _ in 0..200 {
        let state = voice.twilio_sync().state(org).await.unwrap();
        if let Some(state) = state.filter(|s| s.state == "linked") {
            linked = Some(state);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let linked = linked.expect("the dual-sync links");
    // Let any second runner finish before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(requests(&mock, "POST", "/credential").await.len(), 1);
    assert_eq!(requests(&mock, "POST", "/phone-number").await.len(), 1);
    let number_id = linked.vapi_phone_number_id.clone().unwrap();
    let now = voice.twilio_sync().state(org).await.unwrap().unwrap();
    assert_eq!(
        now.vapi_phone_number_id.as_deref(),
        Some(number_id.as_str())
    );
    let answer = vapi_post(
        &gw,
        "/api/vapi/webhook",
        &json!({"message": {"type": "assistant-request",
        "call": {"id": "call-sync-once", "type": "inboundPhoneCall", "phoneNumberId": number_id,
                 "customer": {"number": CALLER}},
        "phoneNumber": {"id": number_id, "number": NUMBER}, "customer": {"number": CALLER}}}),
    )
    .await;
    assert_eq!(
        answer.body["assistantId"],
        asst.as_str(),
        "{:?}",
        answer.body
    );
}
