//! Seed-000 voicemail and user-mapping endpoints through HTTP: response shapes, access by the
//! org's admin or the app's own key, other apps and organizations refused, atomic batches.
#![allow(clippy::unwrap_used)]

use gateway::test_support::{Session, TestGateway};
use serde_json::{Value, json};

struct World {
    gw: TestGateway,
    admin_a: Session,
    manager_a: Session,
    app_a: String,
    key_a: String,
    app_a2: String,
    key_a2: String,
    admin_b: Session,
}

async fn world() -> World {
    let gw = TestGateway::start().await;
    let admin_a = gw.signup("clinic-a").await;
    let manager_a = gw
        .add_user(&admin_a, "manager@clinic-a.example", "manager")
        .await;
    let (app_a, key_a) = gw.app_with_key(&admin_a, "CRM A").await;
    let (app_a2, key_a2) = gw.app_with_key(&admin_a, "CRM A2").await;
    let admin_b = gw.signup("clinic-b").await;
    World {
        gw,
        admin_a,
        manager_a,
        app_a,
        key_a,
        app_a2,
        key_a2,
        admin_b,
    }
}

impl World {
    async fn as_app(&self, key: &str, verb: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let r = self
            .gw
            .send(verb, path, None, &[("x-app-api-key", key)], body.as_ref())
            .await;
        (r.status, r.body)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mappings_have_the_seed_shapes_and_lenient_ids() {
    let w = world().await;
    let base = format!("/internal/apps/{}/users", w.app_a);
    let (status, body) = w
        .as_app(
            &w.key_a,
            "POST",
            &format!("{base}/map"),
            Some(json!({"dialpad_user_id": "987654", "crm_user_id": "user_abc123"})),
        )
        .await;
    assert_eq!(status, 200, "{body:?}");
    assert_eq!(body["message"], "User mapping created/updated");
    assert_eq!(body["data"]["dialpad_user_id"], 987_654);
    assert_eq!(body["data"]["app_id"], w.app_a.as_str());
    let id = body["data"]["id"].as_str().unwrap().to_owned();

    let (status, body) = w
        .as_app(
            &w.key_a,
            "POST",
            &format!("{base}/batch-map"),
            Some(json!({"mappings": [
                {"dialpad_user_id": 987655, "crm_user_id": "user_def"},
                {"dialpad_user_id": 987656, "crm_user_id": "user_ghi"}
            ]})),
        )
        .await;
    assert_eq!(
        (status, &body),
        (
            200,
            &json!({"success": true, "message": "Batch mapped 2 users", "count": 2})
        )
    );
    // One bad entry: nothing written.
    let (status, body) = w
        .as_app(&w.key_a, "POST", &format!("{base}/batch-map"), Some(json!({"mappings": [
            {"dialpad_user_id": 1, "crm_user_id": "ok"}, {"dialpad_user_id": -5, "crm_user_id": "bad"}
        ]})))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("validation_failed"))
    );

    let (_, list) = w
        .as_app(&w.key_a, "GET", &format!("{base}/mappings?limit=2"), None)
        .await;
    assert_eq!(
        list["pagination"],
        json!({"limit": 2, "offset": 0, "total": 3, "has_more": true})
    );
    let (_, by_dialpad) = w
        .as_app(
            &w.key_a,
            "GET",
            &format!("{base}/mappings/dialpad/987655"),
            None,
        )
        .await;
    assert_eq!(by_dialpad["data"]["crm_user_id"], "user_def");
    let (_, by_crm) = w
        .as_app(
            &w.key_a,
            "GET",
            &format!("{base}/mappings/crm/user_abc123"),
            None,
        )
        .await;
    assert_eq!(by_crm["data"]["id"], id.as_str());

    let (status, _) = w
        .as_app(
            &w.key_a,
            "DELETE",
            &format!("{base}/mappings/dialpad/987656"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = w
        .as_app(&w.key_a, "DELETE", &format!("{base}/mappings/{id}"), None)
        .await;
    assert_eq!(status, 200);
    let (status, body) = w
        .as_app(
            &w.key_a,
            "GET",
            &format!("{base}/mappings/crm/user_abc123"),
            None,
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    // The admin sees the same through a bearer token.
    let r =
        w.gw.get(&format!("{base}/mappings"), Some(&w.admin_a.token))
            .await;
    assert_eq!(r.body["pagination"]["total"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn voicemails_list_with_the_seed_shape() {
    let w = world().await;
    let base = format!("/internal/apps/{}/voicemails", w.app_a);
    // Voicemails arrive through Dialpad events; arrange two directly.
    w.gw.database.psql_superuser(&format!(
        "INSERT INTO voicemails (id, org_id, app_id, dialpad_call_id, dialpad_user_id, from_number, recording_url, duration_seconds)
         SELECT gen_random_uuid(), org_id, id, 123456789, 987654, '+15551234567', 'https://dialpad.com/v/a.mp3', 45 FROM apps WHERE id = '{app}';
         INSERT INTO voicemails (id, org_id, app_id, dialpad_user_id, recording_url)
         SELECT gen_random_uuid(), org_id, id, 111, 'https://dialpad.com/v/b.mp3' FROM apps WHERE id = '{app}';",
        app = w.app_a
    ));
    let (status, body) = w
        .as_app(
            &w.key_a,
            "GET",
            &format!("{base}?dialpad_user_id=987654"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body:?}");
    assert_eq!(
        body["pagination"],
        json!({"limit": 50, "offset": 0, "total": 1, "has_more": false})
    );
    let vm = &body["data"][0];
    assert_eq!(
        (
            vm["dialpad_call_id"].as_i64(),
            vm["duration_seconds"].as_i64()
        ),
        (Some(123_456_789), Some(45))
    );
    let id = vm["id"].as_str().unwrap().to_owned();
    let (status, body) = w
        .as_app(&w.key_a, "GET", &format!("{base}/{id}"), None)
        .await;
    assert_eq!(
        (status, body["data"]["recording_url"].as_str()),
        (200, Some("https://dialpad.com/v/a.mp3"))
    );
    let (status, _) = w
        .as_app(&w.key_a, "DELETE", &format!("{base}/{id}"), None)
        .await;
    assert_eq!(status, 200);
    let (_, body) = w.as_app(&w.key_a, "GET", &base, None).await;
    assert_eq!(body["pagination"]["total"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn other_apps_organizations_and_roles_are_refused() {
    let w = world().await;
    let paths = |app: &str| {
        vec![
            ("GET", format!("/internal/apps/{app}/voicemails"), None),
            ("GET", format!("/internal/apps/{app}/users/mappings"), None),
            (
                "POST",
                format!("/internal/apps/{app}/users/map"),
                Some(json!({"dialpad_user_id": 1, "crm_user_id": "x"})),
            ),
            (
                "DELETE",
                format!("/internal/apps/{app}/users/mappings/dialpad/1"),
                None,
            ),
        ]
    };
    // App A2's key cannot reach app A's records (same organization, different app).
    for (verb, path, body) in paths(&w.app_a) {
        let (status, _) = w.as_app(&w.key_a2, verb, &path, body).await;
        assert_eq!(status, 404, "{verb} {path}");
    }
    // Org B's admin cannot reach org A's app.
    for (verb, path, body) in paths(&w.app_a) {
        let r =
            w.gw.send(verb, &path, Some(&w.admin_b.token), &[], body.as_ref())
                .await;
        assert_eq!(r.status, 404, "{verb} {path}");
    }
    // A manager is not an admin.
    let r =
        w.gw.get(
            &format!("/internal/apps/{}/users/mappings", w.app_a),
            Some(&w.manager_a.token),
        )
        .await;
    assert_eq!(r.status, 403);
    // No credential at all.
    assert_eq!(
        w.gw.get(&format!("/internal/apps/{}/voicemails", w.app_a), None)
            .await
            .status,
        401
    );
    // Nothing was written to app A by the refused calls, and A2's own records stay separate.
    let (_, list) = w
        .as_app(
            &w.key_a,
            "GET",
            &format!("/internal/apps/{}/users/mappings", w.app_a),
            None,
        )
        .await;
    assert_eq!(list["pagination"]["total"], 0);
    let (status, _) = w
        .as_app(
            &w.key_a2,
            "POST",
            &format!("/internal/apps/{}/users/map", w.app_a2),
            Some(json!({"dialpad_user_id": 1, "crm_user_id": "x"})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, list) = w
        .as_app(
            &w.key_a,
            "GET",
            &format!("/internal/apps/{}/users/mappings", w.app_a),
            None,
        )
        .await;
    assert_eq!(list["pagination"]["total"], 0);
}
