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
//! recursively; arrays and scalars: equal), and `headers` lists response headers that must be
//! present with those values (`"*"`: present with any value).

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

/// Whether `actual` contains `expected`: objects key by key (recursively), everything else equal.
#[must_use]
pub fn json_contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e
            .iter()
            .all(|(k, ev)| a.get(k).is_some_and(|av| json_contains(av, ev))),
        (a, e) => a == e,
    }
}

/// Sends the fixture's request to `gateway` and returns every broken expectation (empty: pass).
///
/// # Panics
/// When the request cannot be sent at all.
pub async fn replay(gateway: &TestGateway, fixture: &Fixture) -> Vec<String> {
    let client = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(fixture.request.method.as_bytes())
        .unwrap_or_else(|_| panic!("bad method {}", fixture.request.method));
    let mut req = client.request(
        method,
        format!("{}{}", gateway.base_url, fixture.request.path),
    );
    for (name, value) in &fixture.request.headers {
        req = req.header(name, value);
    }
    if let Some(body) = &fixture.request.body {
        req = req.json(body);
    } else if let Some(raw) = &fixture.request.raw_body {
        req = req.body(raw.clone());
    }
    let res = req.send().await.expect("sending the fixture request");

    let mut problems = Vec::new();
    if res.status().as_u16() != fixture.expect.status {
        problems.push(format!(
            "status {} instead of {}",
            res.status().as_u16(),
            fixture.expect.status
        ));
    }
    for (name, want) in &fixture.expect.headers {
        match res.headers().get(name).and_then(|v| v.to_str().ok()) {
            None => problems.push(format!("response header {name} missing")),
            Some(got) if want != "*" && got != want => {
                problems.push(format!(
                    "response header {name} is {got:?}, expected {want:?}"
                ));
            }
            Some(_) => {}
        }
    }
    let text = res.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if let Some(want) = &fixture.expect.body
        && &body != want
    {
        problems.push(format!("body {body} instead of {want}"));
    }
    if let Some(want) = &fixture.expect.body_subset
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
    use super::json_contains;
    use serde_json::json;

    #[test]
    fn subset_matching_is_recursive_on_objects_only() {
        let actual = json!({"a": 1, "b": {"c": [1, 2], "d": "x"}});
        assert!(json_contains(&actual, &json!({"b": {"d": "x"}})));
        assert!(json_contains(&actual, &json!({"b": {"c": [1, 2]}})));
        assert!(!json_contains(&actual, &json!({"b": {"c": [1]}})));
        assert!(!json_contains(&actual, &json!({"z": null})));
    }
}
