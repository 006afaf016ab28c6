//! A fake of Vapi's REST API at the HTTP level, for tests of the voice agent.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Answers creates with fresh ids `<prefix>-<n>`, echoing the body.
struct Creates {
    prefix: &'static str,
    n: AtomicUsize,
}

impl Respond for Creates {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let n = self.n.fetch_add(1, Ordering::SeqCst) + 1;
        let mut body: Value = serde_json::from_slice(&req.body).unwrap_or(json!({}));
        let name = body["function"]["name"].as_str().unwrap_or("x").to_owned();
        body["id"] = json!(if self.prefix == "tool" {
            format!("tool-{name}-{n}")
        } else {
            format!("{}-{n}", self.prefix)
        });
        ResponseTemplate::new(201).set_body_json(body)
    }
}

/// `GET /assistant/{id}`: an assistant edited in Vapi's dashboard (a custom tool, a native
/// calendar tool, an extra message).
struct Assistant;

impl Respond for Assistant {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let id = req
            .url
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        ResponseTemplate::new(200).set_body_json(json!({
            "id": id, "name": "old",
            "model": {
                "provider": "openai", "model": "gpt-4o", "temperature": 0.4,
                "messages": [{"role": "system", "content": "old prompt"}, {"role": "assistant", "content": "kept"}],
                "toolIds": ["custom-1"],
                "tools": [{"type": "google.calendar.event.create"}, {"type": "endCall"}]
            }
        }))
    }
}

/// Mounts Vapi's REST API on `mock`: creates answer fresh ids, an assistant is [`Assistant`],
/// the rest accept.
pub async fn mock_vapi(mock: &MockServer) {
    let creates = |prefix| Creates {
        prefix,
        n: AtomicUsize::new(0),
    };
    Mock::given(method("POST"))
        .and(path("/assistant"))
        .respond_with(creates("asst"))
        .mount(mock)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/assistant/[^/]+$"))
        .respond_with(Assistant)
        .mount(mock)
        .await;
    Mock::given(method("PATCH"))
        .and(path_regex("^/assistant/[^/]+$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/tool"))
        .respond_with(creates("tool"))
        .mount(mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/credential"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/credential"))
        .respond_with(creates("cred"))
        .mount(mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/phone-number"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/phone-number"))
        .respond_with(creates("pn"))
        .mount(mock)
        .await;
    Mock::given(method("DELETE"))
        .and(path_regex("^/(phone-number|credential)/"))
        .respond_with(ResponseTemplate::new(200))
        .mount(mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/call"))
        .respond_with(creates("vcall"))
        .mount(mock)
        .await;
}
