//! The contract suite's harness: a real gateway on a random loopback port with a fresh database,
//! and provider fixtures replayed against it over HTTP.
//!
//! A fixture is one JSON file under `tests/fixtures/<provider>/`:
//!
//! ```json
//! {
//!   "description": "what the case shows",
//!   "source": "where the payload comes from (a contract section or provider doc)",
//!   "request": { "method": "POST", "path": "/…", "headers": { "name": "value" }, "body": { … } },
//!   "expect": { "status": 200, "body": { … } }
//! }
//! ```
//!
//! `body` may be omitted (no body) or replaced by `raw_body` (a string sent as is). In `expect`,
//! `body` must match exactly, `body_subset` must be contained (objects: every listed key matches
//! recursively; arrays: same length, element by element; scalars: equal), and `headers` lists
//! response headers that must be present with those values (`"*"`: present with any value).
//!
//! Optional `"setup": "org_admin_with_app"` signs up an organization and creates an app first;
//! `{{admin_token}}`, `{{app_id}}` and `{{app_name}}` are then replaced in the request and the
//! expectation. Optional `"before": [request, …]` are sent first and must answer 2xx. In expected
//! values, `"{{uuid}}"`, `"{{timestamp}}"` (`2026-01-28T10:30:00.000Z`), `"{{api_key}}"`
//! (`app_` + 64 hex), `"{{key_hint}}"` (`app_abcd...wxyz`) and `"{{any}}"` match by shape.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use gateway::test_support::TestGateway;
use serde::Deserialize;
use serde_json::Value;

/// One recorded exchange (see the crate docs for the format).
#[derive(Debug, Deserialize)]
pub struct Fixture {
    /// What the case shows.
    pub description: String,
    /// Where the payload comes from.
    #[serde(default)]
    pub source: Option<String>,
    /// A named arrangement to run first (`org_admin_with_app`).
    #[serde(default)]
    pub setup: Option<String>,
    /// Requests sent first, each of which must answer 2xx.
    #[serde(default)]
    pub before: Vec<FixtureRequest>,
    /// What is sent.
    pub request: FixtureRequest,
    /// What must come back.
    pub expect: Expectation,
}

/// The request half of a fixture.
#[derive(Debug, Deserialize)]
pub struct FixtureRequest {
    /// HTTP method, upper case.
    pub method: String,
    /// Path and query, starting with `/`.
    pub path: String,
    /// Request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// JSON body (sent with `Content-Type: application/json`).
    #[serde(default)]
    pub body: Option<Value>,
    /// Raw body, sent as is (set a content type in `headers`).
    #[serde(default)]
    pub raw_body: Option<String>,
}

/// The expected response.
#[derive(Debug, Deserialize)]
pub struct Expectation {
    /// HTTP status.
    pub status: u16,
    /// Exact JSON body.
    #[serde(default)]
    pub body: Option<Value>,
    /// JSON the body must contain.
    #[serde(default)]
    pub body_subset: Option<Value>,
    /// Response headers that must be present (`"*"`: any value).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// Every fixture file of one provider, sorted by name.
///
/// # Panics
/// When the folder or a file cannot be read or parsed (a broken fixture is a failing test).
#[must_use]
pub fn fixtures(provider: &str) -> Vec<(PathBuf, Fixture)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(provider);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no fixtures in {}", dir.display());
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
            let fixture = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("parsing {}: {e}", p.display()));
            (p, fixture)
        })
        .collect()
}

/// Whether a string has the shape a `{{…}}` matcher names (`None`: not a matcher).
fn shape_matches(matcher: &str, actual: &Value) -> Option<bool> {
    let text = actual.as_str();
    let hex = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    Some(match matcher {
        "{{any}}" => true,
        "{{uuid}}" => text.is_some_and(uuid_shape),
        "{{timestamp}}" => text.is_some_and(|t| {
            t.len() == 24
                && t.ends_with('Z')
                && t.as_bytes()[10] == b'T'
                && t.as_bytes()[19] == b'.'
                && t[..19]
                    .replace(['-', ':', 'T'], "")
                    .bytes()
                    .all(|b| b.is_ascii_digit())
        }),
        "{{api_key}}" => {
            text.is_some_and(|t| t.len() == 68 && t.starts_with("app_") && hex(&t[4..]))
        }
        "{{key_hint}}" => text.is_some_and(|t| {
            t.len() == 15
                && t.starts_with("app_")
                && &t[8..11] == "..."
                && hex(&t[4..8])
                && hex(&t[11..])
        }),
        _ => return None,
    })
}

fn uuid_shape(t: &str) -> bool {
    t.len() == 36
        && t.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// Whether `actual` matches `expected`: objects key by key (every key of `expected`; with
/// `exact`, no other keys either), arrays element by element, `{{…}}` matchers by shape,
/// everything else equal.
#[must_use]
pub fn json_matches(actual: &Value, expected: &Value, exact: bool) -> bool {
    match (actual, expected) {
        (a, Value::String(m)) if shape_matches(m, a).is_some() => shape_matches(m, a) == Some(true),
        (Value::Object(a), Value::Object(e)) => {
            (!exact || a.len() == e.len())
                && e.iter()
                    .all(|(k, ev)| a.get(k).is_some_and(|av| json_matches(av, ev, exact)))
        }
        (Value::Array(a), Value::Array(e)) => {
            a.len() == e.len() && a.iter().zip(e).all(|(av, ev)| json_matches(av, ev, exact))
        }
        (a, e) => a == e,
    }
}

/// Whether `actual` contains `expected` (see [`json_matches`]).
#[must_use]
pub fn json_contains(actual: &Value, expected: &Value) -> bool {
    json_matches(actual, expected, false)
}

/// Values a fixture's `{{name}}` placeholders are replaced with.
type Vars = BTreeMap<&'static str, String>;

fn substitute(text: &str, vars: &Vars) -> String {
    vars.iter().fold(text.to_owned(), |t, (name, value)| {
        t.replace(&format!("{{{{{name}}}}}"), value)
    })
}

fn substitute_json(value: &Value, vars: &Vars) -> Value {
    match value {
        Value::String(s) => Value::String(substitute(s, vars)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| substitute_json(v, vars)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute_json(v, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Runs a named setup and returns its placeholder values.
async fn setup(gateway: &TestGateway, name: Option<&str>) -> Vars {
    let mut vars = Vars::new();
    match name {
        None => {}
        Some("org_admin_with_app") => {
            let admin = gateway.signup("contract-clinic").await;
            let app_name = "Base44 CRM";
            let reply = gateway
                .post(
                    "/api/apps",
                    Some(&admin.token),
                    &serde_json::json!({ "name": app_name }),
                )
                .await;
            assert_eq!(
                reply.status, 201,
                "setup: creating the app failed: {:?}",
                reply.body
            );
            vars.insert(
                "app_id",
                reply.body["app"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
            vars.insert("app_name", app_name.to_owned());
            vars.insert("admin_token", admin.token);
        }
        Some(other) => panic!("unknown fixture setup {other:?}"),
    }
    vars
}

async fn send(
    gateway: &TestGateway,
    request: &FixtureRequest,
    vars: &Vars,
) -> (u16, reqwest::header::HeaderMap, String) {
    let client = gateway::test_support::http_client();
    let method = reqwest::Method::from_bytes(request.method.as_bytes())
        .unwrap_or_else(|_| panic!("bad method {}", request.method));
    let path = substitute(&request.path, vars);
    let mut req = client.request(method, format!("{}{path}", gateway.base_url));
    for (name, value) in &request.headers {
        req = req.header(name, substitute(value, vars));
    }
    if let Some(body) = &request.body {
        req = req.json(&substitute_json(body, vars));
    } else if let Some(raw) = &request.raw_body {
        req = req.body(substitute(raw, vars));
    }
    let res = req.send().await.expect("sending the fixture request");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.text().await.unwrap_or_default())
}

/// Sends the fixture's request to `gateway` (after its setup and `before` requests) and returns
/// every broken expectation (empty: pass).
///
/// # Panics
/// When a request cannot be sent at all, or a setup or `before` step fails.
pub async fn replay(gateway: &TestGateway, fixture: &Fixture) -> Vec<String> {
    let vars = setup(gateway, fixture.setup.as_deref()).await;
    for step in &fixture.before {
        let (status, _, text) = send(gateway, step, &vars).await;
        assert!(
            (200..300).contains(&status),
            "before-step {} {} answered {status}: {text}",
            step.method,
            step.path
        );
    }
    let (status, headers, text) = send(gateway, &fixture.request, &vars).await;
    let expect_body = fixture
        .expect
        .body
        .as_ref()
        .map(|b| substitute_json(b, &vars));
    let expect_subset = fixture
        .expect
        .body_subset
        .as_ref()
        .map(|b| substitute_json(b, &vars));

    let mut problems = Vec::new();
    if status != fixture.expect.status {
        problems.push(format!(
            "status {status} instead of {}",
            fixture.expect.status
        ));
    }
    for (name, want) in &fixture.expect.headers {
        match headers.get(name).and_then(|v| v.to_str().ok()) {
            None => problems.push(format!("response header {name} missing")),
            Some(got) if want != "*" && got != want => {
                problems.push(format!(
                    "response header {name} is {got:?}, expected {want:?}"
                ));
            }
            Some(_) => {}
        }
    }
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if let Some(want) = &expect_body
        && !json_matches(&body, want, true)
    {
        problems.push(format!("body {body} instead of {want}"));
    }
    if let Some(want) = &expect_subset
        && !json_contains(&body, want)
    {
        problems.push(format!("body {body} does not contain {want}"));
    }
    problems
}

/// Replays every fixture of `provider`, each against a fresh gateway and database, and panics
/// listing every failing case.
pub async fn replay_all(provider: &str) {
    let mut failures = Vec::new();
    for (path, fixture) in fixtures(provider) {
        let gateway = TestGateway::start().await;
        let problems = replay(&gateway, &fixture).await;
        if !problems.is_empty() {
            failures.push(format!(
                "{} ({}): {}",
                path.display(),
                fixture.description,
                problems.join("; ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "failing fixtures:\n{}",
        failures.join("\n")
    );
}

#[cfg(test)]
mod tests {
    use super::{json_contains, json_matches};
    use serde_json::json;

    #[test]
    fn subset_matching_is_recursive_on_objects_only() {
        let actual = json!({"a": 1, "b": {"c": [1, 2], "d": "x"}});
        assert!(json_contains(&actual, &json!({"b": {"d": "x"}})));
        assert!(json_contains(&actual, &json!({"b": {"c": [1, 2]}})));
        assert!(!json_contains(&actual, &json!({"b": {"c": [1]}})));
        assert!(!json_contains(&actual, &json!({"z": null})));
    }

    #[test]
    fn exact_matching_refuses_extra_keys_and_shape_matchers_check_shapes() {
        let actual = json!({"id": "550e8400-e29b-41d4-a716-446655440000", "at": "2026-01-28T10:30:00.000Z",
                            "key": format!("app_{}", "ab".repeat(32)), "hint": "app_abcd...ef01"});
        let want = json!({"id": "{{uuid}}", "at": "{{timestamp}}", "key": "{{api_key}}", "hint": "{{key_hint}}"});
        assert!(json_matches(&actual, &want, true));
        let mut extra = actual.clone();
        extra["more"] = json!(1);
        assert!(!json_matches(&extra, &want, true) && json_matches(&extra, &want, false));
        assert!(!json_matches(
            &json!({"id": "nope"}),
            &json!({"id": "{{uuid}}"}),
            true
        ));
        assert!(!json_matches(
            &json!({"at": "2026-01-28T10:30:00Z"}),
            &json!({"at": "{{timestamp}}"}),
            true
        ));
        assert!(!json_matches(
            &json!({"key": "app_XYZ"}),
            &json!({"key": "{{api_key}}"}),
            true
        ));
    }
}
