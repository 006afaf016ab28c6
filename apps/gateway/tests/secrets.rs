//! After issuance, plain-text API keys, passwords and tokens appear nowhere: not in any table,
//! not in any log line (at debug level), not in any response other than the one that issued them.
//! (Its own test binary: it installs the process-wide log subscriber.)
#![allow(clippy::too_many_lines)]
#![allow(clippy::unwrap_used)]

use gateway::test_support::{
    CapturedLogs, Reply, TEST_PASSWORD, TestGateway, mock_endpoints, mock_twilio_account,
};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread")]
async fn secrets_are_nowhere_after_issuance() {
    let captured = CapturedLogs::install("debug");

    let providers = wiremock::MockServer::start().await;
    let twilio_account = "AC0123456789abcdef0123456789abcdef";
    mock_twilio_account(&providers, twilio_account, "+15559990000").await;
    let gw = TestGateway::start_with(mock_endpoints(&providers)).await;
    let mut replies: Vec<Reply> = Vec::new();
    let admin = gw.signup("clinic").await;
    let second_password = "another long passphrase 42";
    let wrong_password = "a wrong guess at the password";
    replies.push(
        gw.post(
            "/api/users",
            Some(&admin.token),
            &json!({"name": "Nurse", "email": "nurse@clinic.example", "password": second_password}),
        )
        .await,
    );
    replies.push(
        gw.post(
            "/api/auth/login",
            None,
            &json!({"email": "nurse@clinic.example", "password": wrong_password}),
        )
        .await,
    );
    let nurse = gw
        .post(
            "/api/auth/login",
            None,
            &json!({"email": "nurse@clinic.example", "password": second_password}),
        )
        .await;
    let nurse_token = nurse.body["token"].as_str().unwrap().to_owned();
    replies.push(
        gw.send(
            "PATCH",
            &format!("/api/users/{}", admin.user_id),
            Some(&admin.token),
            &[],
            Some(&json!({"password": "a brand new passphrase 7"})),
        )
        .await,
    );

    let (app_id, first_key) = gw.app_with_key(&admin, "CRM").await;
    let rotated = gw
        .post(
            &format!("/internal/apps/{app_id}/api-key"),
            Some(&admin.token),
            &Value::Null,
        )
        .await;
    let second_key = rotated.body["api_key"].as_str().unwrap().to_owned();
    for key in [&first_key, &second_key] {
        replies.push(
            gw.send("GET", "/api/app/me", None, &[("x-app-api-key", key)], None)
                .await,
        );
        replies.push(gw.get(&format!("/api/app/me?api_key={key}"), None).await);
    }
    for path in ["api-key/status", "api-key/audit"] {
        replies.push(
            gw.get(
                &format!("/internal/apps/{app_id}/{path}"),
                Some(&admin.token),
            )
            .await,
        );
    }
    replies.push(
        gw.post(
            &format!("/internal/apps/{app_id}/api-key/revoke"),
            Some(&admin.token),
            &Value::Null,
        )
        .await,
    );
    replies.push(gw.get("/api/users", Some(&admin.token)).await);
    let twilio_token = "twilio-auth-token-kept-sealed";
    replies.push(
        gw.post(
            "/api/integrations/twilio",
            Some(&admin.token),
            &json!({"account_sid": twilio_account, "auth_token": twilio_token, "phone_number": "+15559990000"}),
        )
        .await,
    );
    assert_eq!(
        replies.last().unwrap().status,
        200,
        "{:?}",
        replies.last().unwrap().body
    );
    replies.push(
        gw.post(
            "/api/integrations/twilio/verify",
            Some(&admin.token),
            &Value::Null,
        )
        .await,
    );
    replies.push(gw.get("/api/integrations/status", Some(&admin.token)).await);
    // A caller-ID verification: its 6-digit code is shown once and stored only hashed.
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path(format!(
            "/2010-04-01/Accounts/{twilio_account}/OutgoingCallerIds.json"
        )))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({
            "account_sid": twilio_account, "call_sid": "CA0123456789abcdef0123456789abcdef",
            "phone_number": "+15551230000", "validation_code": "407153"
        })))
        .mount(&providers)
        .await;
    let started = gw
        .post(
            "/api/telephony/verify-caller-id/initiate",
            Some(&admin.token),
            &json!({"phoneNumber": "+15551230000"}),
        )
        .await;
    assert_eq!(
        started.body["verificationCode"], "407153",
        "{:?}",
        started.body
    );
    replies.push(
        gw.get("/api/telephony/verified-numbers", Some(&admin.token))
            .await,
    );
    replies.push(gw.get("/api/auth/me", Some(&nurse_token)).await);
    // Credentials in paths and queries: a recording share token, a JWT and an app key in the
    // WebSocket query (a plain GET, refused, still reaches the access log).
    let share_token = "5f1c0ffee0ddba11c0ffee0ddba11c0ffee0ddba11c0ffee0ddba11c0ffee0dd";
    replies.push(
        gw.get(&format!("/share/recordings/{share_token}"), None)
            .await,
    );
    replies.push(gw.get(&format!("/ws?token={}", admin.token), None).await);
    replies.push(gw.get(&format!("/ws?api_key={second_key}"), None).await);

    let secrets = [
        TEST_PASSWORD,
        second_password,
        wrong_password,
        "a brand new passphrase 7",
        first_key.as_str(),
        second_key.as_str(),
        // The hex part alone, in case a key were stored or logged without its prefix.
        &first_key[4..],
        &second_key[4..],
        nurse_token.as_str(),
        twilio_token,
        admin.token.as_str(),
        share_token,
    ];

    // Every table, every row, as the superuser (RLS does not hide anything from it).
    let tables = gw.database.psql_superuser(
        "SELECT string_agg(tablename, ' ') FROM pg_tables WHERE schemaname = 'public'",
    );
    let mut dump = String::new();
    for table in tables.split_whitespace() {
        dump.push_str(
            &gw.database
                .psql_superuser(&format!("SELECT row_to_json(t)::text FROM {table} t")),
        );
        dump.push('\n');
    }
    assert!(
        dump.contains("nurse@clinic.example"),
        "the dump missed the users table"
    );
    assert!(
        dump.contains(&format!("{}...", &second_key[..8])),
        "the dump missed the key hints"
    );

    let logs = captured.text();
    assert!(
        logs.contains("API key issued"),
        "the log capture missed the gateway's lines"
    );
    let bodies: Vec<String> = replies.iter().map(|r| r.body.to_string()).collect();

    // Six digits can occur inside timestamps, so look for the code as a value on its own.
    let verification = gw.database.psql_superuser(
        "SELECT row_to_json(v)::text FROM (SELECT phone_number, status, twilio_call_sid, \
         verification_code_hash FROM verified_caller_ids) v",
    );
    assert!(verification.contains("$argon2id$"), "{verification}");
    assert!(
        !verification.contains("407153"),
        "the verification code is stored in clear"
    );
    assert!(
        !logs.contains("\"407153\"") && !logs.contains("=407153"),
        "the verification code reached the logs"
    );

    for secret in secrets {
        assert!(
            !dump.contains(secret),
            "a secret is stored in the database: {}…",
            &secret[..6]
        );
        assert!(
            !logs.contains(secret),
            "a secret reached the logs: {}…",
            &secret[..6]
        );
        for body in &bodies {
            assert!(
                !body.contains(secret),
                "a secret came back in a response: {}…",
                &secret[..6]
            );
        }
    }
}
