//! Identity and access through the real HTTP surface: sign-up, sign-in, sessions, the role
//! matrix, app API keys, and isolation between two organizations on every endpoint.
#![allow(clippy::unwrap_used)]

use gateway::test_support::{Session, TEST_PASSWORD, TestGateway};
use serde_json::{Value, json};

/// Org A with an admin, a manager, two users; org B with an admin, a user and an app.
struct World {
    gw: TestGateway,
    admin_a: Session,
    manager_a: Session,
    user_a: Session,
    user_a2: Session,
    admin_b: Session,
    user_b: Session,
    app_b: String,
}

async fn world() -> World {
    let gw = TestGateway::start().await;
    let admin_a = gw.signup("clinic-a").await;
    let manager_a = gw
        .add_user(&admin_a, "manager@clinic-a.example", "manager")
        .await;
    let user_a = gw.add_user(&admin_a, "user@clinic-a.example", "user").await;
    let user_a2 = gw
        .add_user(&manager_a, "user2@clinic-a.example", "user")
        .await;
    let admin_b = gw.signup("clinic-b").await;
    let user_b = gw.add_user(&admin_b, "user@clinic-b.example", "user").await;
    let (app_b, _) = gw.app_with_key(&admin_b, "B's CRM").await;
    World {
        gw,
        admin_a,
        manager_a,
        user_a,
        user_a2,
        admin_b,
        user_b,
        app_b,
    }
}

fn ids(reply: &Value) -> Vec<String> {
    reply["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn signup_returns_a_token_whose_claims_carry_the_org() {
    let gw = TestGateway::start().await;
    let reply = gw
        .post(
            "/api/auth/signup",
            None,
            &json!({"organization_name": "Riverside", "organization_slug": "riverside",
                    "name": "Ada", "email": "Ada@Riverside.Example", "password": TEST_PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(reply.body["user"]["role"], "admin");
    assert_eq!(reply.body["user"]["email"], "ada@riverside.example");
    assert_eq!(reply.body["organization"]["slug"], "riverside");
    assert!(reply.body["user"].get("password_hash").is_none());

    let token = reply.body["token"].as_str().unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&base64_url_decode(payload)).unwrap();
    assert_eq!(
        claims["app_metadata"]["org_id"],
        reply.body["organization"]["id"]
    );
    assert_eq!(claims["sub"], reply.body["user"]["id"]);
    assert_eq!(claims["role"], "admin");
    assert!(claims["sid"].is_string());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        7 * 24 * 3600
    );

    let me = gw.get("/api/auth/me", Some(token)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["organization"]["name"], "Riverside");
}

fn base64_url_decode(input: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0);
    for c in input.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn signup_refuses_weak_reused_and_taken_input() {
    let gw = TestGateway::start().await;
    let body = |slug: &str, email: &str, password: &str| {
        json!({"organization_name": "Riverside", "organization_slug": slug,
               "name": "Ada", "email": email, "password": password})
    };
    for (password, why) in [
        ("short", "at least 8"),
        ("password123", "too common"),
        ("riverside-2026!", "must not contain"),
    ] {
        let r = gw
            .post(
                "/api/auth/signup",
                None,
                &body("riverside", "ada@r.example", password),
            )
            .await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (422, Some("validation_failed"))
        );
        assert!(
            r.body["error"].as_str().unwrap().contains(why),
            "{:?}",
            r.body
        );
    }
    assert_eq!(
        gw.post(
            "/api/auth/signup",
            None,
            &body("riverside", "ada@r.example", TEST_PASSWORD)
        )
        .await
        .status,
        201
    );
    let r = gw
        .post(
            "/api/auth/signup",
            None,
            &body("riverside", "bob@r.example", TEST_PASSWORD),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (409, Some("slug_taken"))
    );
    let r = gw
        .post(
            "/api/auth/signup",
            None,
            &body("other", "ADA@r.example", TEST_PASSWORD),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (409, Some("email_taken"))
    );
    // Unknown fields are refused rather than silently dropped.
    let mut extra = body("third", "cy@r.example", TEST_PASSWORD);
    extra["tenantId"] = json!("00000000-0000-0000-0000-000000000000");
    assert_eq!(gw.post("/api/auth/signup", None, &extra).await.status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn login_failures_are_uniform_and_throttled() {
    let gw = TestGateway::start().await;
    gw.signup("clinic").await;
    let attempt = |email: &'static str, password: &'static str| {
        let gw = &gw;
        async move {
            gw.post(
                "/api/auth/login",
                None,
                &json!({"email": email, "password": password}),
            )
            .await
        }
    };
    let unknown = attempt("nobody@clinic.example", "whatever-password").await;
    let wrong = attempt("admin@clinic.example", "wrong-password-1").await;
    assert_eq!(unknown.status, 401);
    assert_eq!(
        unknown.body, wrong.body,
        "failures must not reveal whether the email exists"
    );
    assert_eq!(wrong.body["code"], "invalid_credentials");

    for _ in 0..4 {
        assert_eq!(
            attempt("admin@clinic.example", "wrong-password-1")
                .await
                .status,
            401
        );
    }
    // Five failures: the account is locked even for the right password.
    let locked = attempt("admin@clinic.example", TEST_PASSWORD).await;
    assert_eq!(locked.status, 429, "{:?}", locked.body);
    assert_eq!(locked.body["code"], "too_many_attempts");
    let retry_after: u64 = locked.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_address_guessing_many_accounts_is_throttled() {
    let gw = TestGateway::start().await;
    gw.signup("clinic").await;
    // 20 failures from this address, each on a different (unknown) account.
    for i in 0..20 {
        let r = gw
            .post("/api/auth/login", None, &json!({"email": format!("guess{i}@clinic.example"), "password": "wrong-password-1"}))
            .await;
        assert_eq!(r.status, 401, "attempt {i}: {:?}", r.body);
    }
    // The address is now locked, even for a real account with the right password.
    let r = gw
        .post(
            "/api/auth/login",
            None,
            &json!({"email": "admin@clinic.example", "password": TEST_PASSWORD}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (429, Some("too_many_attempts"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_tokens_are_refused() {
    let gw = TestGateway::start().await;
    let admin = gw.signup("clinic").await;
    assert_eq!(gw.get("/api/auth/me", None).await.status, 401);
    let r = gw.get("/api/auth/me", Some("not-a-jwt")).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    // A token whose signature was tampered with.
    let mut forged = admin.token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(gw.get("/api/auth/me", Some(&forged)).await.status, 401);
    // An unsigned token (alg "none") claiming the same session.
    let parts: Vec<&str> = admin.token.split('.').collect();
    let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", parts[1]);
    assert_eq!(gw.get("/api/auth/me", Some(&none)).await.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_and_revocation_take_effect_on_the_next_request() {
    let w = world().await;
    let gw = &w.gw;
    assert_eq!(
        gw.get("/api/auth/me", Some(&w.user_a.token)).await.status,
        200
    );
    let r = gw
        .post("/api/auth/logout", Some(&w.user_a.token), &Value::Null)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        gw.get("/api/auth/me", Some(&w.user_a.token)).await.status,
        401
    );

    // Admin revokes every session of user2: refused at once.
    assert_eq!(
        gw.get("/api/auth/me", Some(&w.user_a2.token)).await.status,
        200
    );
    let r = gw
        .post(
            &format!("/api/users/{}/revoke-sessions", w.user_a2.user_id),
            Some(&w.admin_a.token),
            &Value::Null,
        )
        .await;
    assert_eq!(
        (r.status, r.body["revoked_sessions"].as_u64()),
        (200, Some(1))
    );
    assert_eq!(
        gw.get("/api/auth/me", Some(&w.user_a2.token)).await.status,
        401
    );

    // Deactivation ends sessions and blocks sign-in (with the uniform failure).
    let again = gw.login("user2@clinic-a.example").await;
    let r = gw
        .send(
            "PATCH",
            &format!("/api/users/{}", w.user_a2.user_id),
            Some(&w.admin_a.token),
            &[],
            Some(&json!({"active": false})),
        )
        .await;
    assert_eq!((r.status, &r.body["user"]["active"]), (200, &json!(false)));
    assert_eq!(gw.get("/api/auth/me", Some(&again.token)).await.status, 401);
    let r = gw
        .post(
            "/api/auth/login",
            None,
            &json!({"email": "user2@clinic-a.example", "password": TEST_PASSWORD}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (401, Some("invalid_credentials"))
    );

    // A role change applies on the next request, whatever the token says.
    let r = gw
        .send(
            "PATCH",
            &format!("/api/users/{}", w.manager_a.user_id),
            Some(&w.admin_a.token),
            &[],
            Some(&json!({"role": "user"})),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = gw
        .post(
            "/api/users",
            Some(&w.manager_a.token),
            &json!({"name": "X", "email": "x@clinic-a.example", "password": TEST_PASSWORD}),
        )
        .await;
    assert_eq!(
        r.status, 403,
        "a demoted manager kept manager rights: {:?}",
        r.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_role_matrix_holds() {
    let w = world().await;
    let gw = &w.gw;
    let user_path = |s: &Session| format!("/api/users/{}", s.user_id);
    let patch = |path: String, token: String, body: Value| {
        let gw = &w.gw;
        async move {
            gw.send("PATCH", &path, Some(&token), &[], Some(&body))
                .await
                .status
        }
    };
    let delete = |path: String, token: String| {
        let gw = &w.gw;
        async move {
            gw.send("DELETE", &path, Some(&token), &[], None)
                .await
                .status
        }
    };

    // Reading.
    let everyone = [&w.admin_a, &w.manager_a, &w.user_a, &w.user_a2].map(|s| s.user_id.clone());
    for viewer in [&w.admin_a, &w.manager_a] {
        let mut seen = ids(&gw.get("/api/users", Some(&viewer.token)).await.body);
        seen.sort();
        let mut all = everyone.to_vec();
        all.sort();
        assert_eq!(seen, all);
    }
    assert_eq!(
        ids(&gw.get("/api/users", Some(&w.user_a.token)).await.body),
        vec![w.user_a.user_id.clone()]
    );
    assert_eq!(
        gw.get(&user_path(&w.user_a), Some(&w.user_a.token))
            .await
            .status,
        200
    );
    assert_eq!(
        gw.get(&user_path(&w.user_a2), Some(&w.user_a.token))
            .await
            .status,
        403
    );
    assert_eq!(
        gw.get(&user_path(&w.admin_a), Some(&w.manager_a.token))
            .await
            .status,
        200
    );

    // Creating: (actor, new user's email and role, expected status).
    for (actor, email, role, want) in [
        (&w.user_a, "u1@clinic-a.example", "user", 403),
        (&w.manager_a, "m1@clinic-a.example", "manager", 403),
        (&w.manager_a, "u2@clinic-a.example", "user", 201),
        (&w.admin_a, "a1@clinic-a.example", "admin", 201),
    ] {
        let body = json!({"name": "New", "email": email, "password": TEST_PASSWORD, "role": role});
        let got = gw
            .post("/api/users", Some(&actor.token), &body)
            .await
            .status;
        assert_eq!(got, want, "create {role} by {}", actor.user_id);
    }

    // Updating: (target, actor, change, expected status).
    let (admin, manager, user) = (&w.admin_a, &w.manager_a, &w.user_a);
    for (target, actor, change, want) in [
        (&w.user_a, user, json!({"name": "Me"}), 200),
        (&w.user_a, user, json!({"role": "admin"}), 403),
        (&w.user_a, user, json!({"active": false}), 403),
        (&w.user_a2, user, json!({"name": "Them"}), 403),
        (&w.user_a2, manager, json!({"extension": "204"}), 200),
        (&w.user_a2, manager, json!({"role": "manager"}), 403),
        (&w.admin_a, manager, json!({"name": "Boss"}), 403),
        (&w.admin_a, admin, json!({"role": "user"}), 403),
        (&w.manager_a, admin, json!({"extension": "205"}), 200),
    ] {
        let got = patch(user_path(target), actor.token.clone(), change.clone()).await;
        assert_eq!(
            got, want,
            "PATCH {change} on {} by {}",
            target.user_id, actor.user_id
        );
    }
    let (admin, manager, user) = (
        admin.token.clone(),
        manager.token.clone(),
        user.token.clone(),
    );
    // Extensions are unique within the organization.
    let r = gw
        .send(
            "PATCH",
            &user_path(&w.user_a),
            Some(&admin),
            &[],
            Some(&json!({"extension": "204"})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (409, Some("extension_taken"))
    );

    // Deleting.
    assert_eq!(delete(user_path(&w.user_a2), user.clone()).await, 403);
    assert_eq!(delete(user_path(&w.admin_a), manager.clone()).await, 403);
    assert_eq!(delete(user_path(&w.admin_a), admin.clone()).await, 403);
    assert_eq!(delete(user_path(&w.user_a2), manager.clone()).await, 204);
    assert_eq!(
        gw.get(&user_path(&w.user_a2), Some(&admin)).await.status,
        404
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_of_another_org_is_readable_or_writable() {
    let w = world().await;
    let gw = &w.gw;
    let (a, b_user, b_app) = (&w.admin_a.token, w.user_b.user_id.clone(), w.app_b.clone());
    // Users of B through every user endpoint, with A's admin token: 404, and nothing changes.
    assert!(!ids(&gw.get("/api/users", Some(a)).await.body).contains(&b_user));
    let user_path = format!("/api/users/{b_user}");
    for (method, path, body) in [
        ("GET", user_path.clone(), None),
        (
            "PATCH",
            user_path.clone(),
            Some(json!({"name": "Hijacked", "role": "admin"})),
        ),
        ("DELETE", user_path.clone(), None),
        ("POST", format!("{user_path}/revoke-sessions"), None),
        ("GET", format!("/api/apps/{b_app}"), None),
        (
            "PATCH",
            format!("/api/apps/{b_app}"),
            Some(json!({"is_active": false})),
        ),
        ("POST", format!("/internal/apps/{b_app}/api-key"), None),
        (
            "POST",
            format!("/internal/apps/{b_app}/api-key/revoke"),
            None,
        ),
        (
            "GET",
            format!("/internal/apps/{b_app}/api-key/status"),
            None,
        ),
        ("GET", format!("/internal/apps/{b_app}/api-key/audit"), None),
    ] {
        let r = gw.send(method, &path, Some(a), &[], body.as_ref()).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (404, Some("not_found")),
            "{method} {path}: {:?}",
            r.body
        );
    }
    // B's data is intact.
    let r = gw.get(&user_path, Some(&w.admin_b.token)).await;
    assert_eq!(
        (r.status, r.body["user"]["name"].as_str()),
        (200, Some("Member user"))
    );
    assert_eq!(
        gw.get("/api/auth/me", Some(&w.user_b.token)).await.status,
        200
    );
    let r = gw
        .get(
            &format!("/internal/apps/{b_app}/api-key/status"),
            Some(&w.admin_b.token),
        )
        .await;
    assert_eq!(r.body["has_active_key"], true);
    let r = gw
        .get(
            &format!("/internal/apps/{b_app}/api-key/audit"),
            Some(&w.admin_b.token),
        )
        .await;
    assert_eq!(r.body["total"], 1);
    // A's app list does not include B's app.
    let r = gw.get("/api/apps", Some(a)).await;
    assert_eq!(r.body["apps"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn only_admins_manage_apps_and_keys() {
    let w = world().await;
    let gw = &w.gw;
    let (app_a, _) = gw.app_with_key(&w.admin_a, "A's CRM").await;
    for token in [&w.manager_a.token, &w.user_a.token] {
        assert_eq!(gw.get("/api/apps", Some(token)).await.status, 403);
        assert_eq!(
            gw.post("/api/apps", Some(token), &json!({"name": "X"}))
                .await
                .status,
            403
        );
        for path in ["api-key", "api-key/revoke"] {
            let r = gw
                .post(
                    &format!("/internal/apps/{app_a}/{path}"),
                    Some(token),
                    &Value::Null,
                )
                .await;
            assert_eq!(
                (r.status, r.body["code"].as_str()),
                (403, Some("forbidden"))
            );
        }
        for path in ["api-key/status", "api-key/audit"] {
            assert_eq!(
                gw.get(&format!("/internal/apps/{app_a}/{path}"), Some(token))
                    .await
                    .status,
                403
            );
        }
    }
    // No token at all: 401.
    assert_eq!(
        gw.get(&format!("/internal/apps/{app_a}/api-key/status"), None)
            .await
            .status,
        401
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn api_keys_rotate_and_revoke_with_immediate_effect() {
    let w = world().await;
    let gw = &w.gw;
    let (app_a, first_key) = gw.app_with_key(&w.admin_a, "A's CRM").await;
    let by_header = |key: String| {
        let gw = &w.gw;
        async move {
            gw.send("GET", "/api/app/me", None, &[("x-app-api-key", &key)], None)
                .await
        }
    };
    let r = by_header(first_key.clone()).await;
    assert_eq!(
        (r.status, r.body["app"]["id"].as_str()),
        (200, Some(app_a.as_str()))
    );
    assert_eq!(
        r.body["app"]["org_id"].as_str(),
        Some(w.admin_a.org_id.as_str())
    );
    assert!(!r.body.to_string().contains(&first_key));
    // The query-parameter form (seed 000, WebSocket clients).
    assert_eq!(
        gw.get(&format!("/api/app/me?api_key={first_key}"), None)
            .await
            .status,
        200
    );

    // Rotate: the old key is refused on the very next request, the new one works.
    let r = gw
        .post(
            &format!("/internal/apps/{app_a}/api-key"),
            Some(&w.admin_a.token),
            &Value::Null,
        )
        .await;
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .starts_with("API key rotated")
    );
    let second_key = r.body["api_key"].as_str().unwrap().to_owned();
    assert_ne!(second_key, first_key);
    assert_eq!(by_header(first_key.clone()).await.status, 401);
    assert_eq!(by_header(second_key.clone()).await.status, 200);

    // Deactivating the app stops the key; reactivating restores it.
    let app_path = format!("/api/apps/{app_a}");
    gw.send(
        "PATCH",
        &app_path,
        Some(&w.admin_a.token),
        &[],
        Some(&json!({"is_active": false})),
    )
    .await;
    assert_eq!(by_header(second_key.clone()).await.status, 401);
    let status = gw
        .get(
            &format!("/internal/apps/{app_a}/api-key/status"),
            Some(&w.admin_a.token),
        )
        .await;
    assert_eq!(
        (
            status.body["has_active_key"].as_bool(),
            status.body["action_needed"].as_str()
        ),
        (Some(false), Some("app_inactive"))
    );
    gw.send(
        "PATCH",
        &app_path,
        Some(&w.admin_a.token),
        &[],
        Some(&json!({"is_active": true})),
    )
    .await;
    assert_eq!(by_header(second_key.clone()).await.status, 200);

    // Revoke: refused at once; status and audit tell the story.
    let r = gw
        .post(
            &format!("/internal/apps/{app_a}/api-key/revoke"),
            Some(&w.admin_a.token),
            &Value::Null,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(by_header(second_key.clone()).await.status, 401);
    let r = gw
        .post(
            &format!("/internal/apps/{app_a}/api-key/revoke"),
            Some(&w.admin_a.token),
            &Value::Null,
        )
        .await;
    assert_eq!(r.status, 422, "revoking twice: {:?}", r.body);
    let status = gw
        .get(
            &format!("/internal/apps/{app_a}/api-key/status"),
            Some(&w.admin_a.token),
        )
        .await;
    assert_eq!(status.body["has_active_key"], false);
    assert_eq!(status.body["action_needed"], "generate_key");
    assert_eq!(status.body["key_hint"], Value::Null);

    let audit = gw
        .get(
            &format!("/internal/apps/{app_a}/api-key/audit?limit=2"),
            Some(&w.admin_a.token),
        )
        .await;
    assert_eq!(
        (audit.body["total"].as_i64(), audit.body["limit"].as_i64()),
        (Some(3), Some(2))
    );
    let log = audit.body["audit_log"].as_array().unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["action"], "revoked");
    assert_eq!(log[1]["action"], "rotated");
    let hint = |k: &str| format!("{}...{}", &k[..8], &k[k.len() - 4..]);
    assert_eq!(
        log[0]["old_key_hint"].as_str(),
        Some(hint(&second_key).as_str())
    );
    assert_eq!(
        log[1]["old_key_hint"].as_str(),
        Some(hint(&first_key).as_str())
    );
    assert_eq!(
        log[1]["performed_by"].as_str(),
        Some(w.admin_a.user_id.as_str())
    );
    let page2 = gw
        .get(
            &format!("/internal/apps/{app_a}/api-key/audit?limit=2&offset=2"),
            Some(&w.admin_a.token),
        )
        .await;
    assert_eq!(page2.body["audit_log"][0]["action"], "created");
    let bad = gw
        .get(
            &format!("/internal/apps/{app_a}/api-key/audit?limit=0"),
            Some(&w.admin_a.token),
        )
        .await;
    assert_eq!(
        (bad.status, bad.body["code"].as_str()),
        (400, Some("invalid_query"))
    );

    // Malformed and unknown keys.
    for key in ["", "app_short", &format!("app_{}", "0".repeat(64))] {
        assert_eq!(by_header(key.to_owned()).await.status, 401, "{key}");
    }
}
