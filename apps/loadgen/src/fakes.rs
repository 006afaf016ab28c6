//! Vapi's REST API and Twilio's, faked at the HTTP level on loopback (wiremock), so that the
//! gateway under test makes its real outbound calls and nothing leaves the machine.
//!
//! - Vapi (contracts/vapi.md §3): `POST /assistant|/tool|/credential|/phone-number|/call`
//!   answer 201 with a fresh id (`asst-<n>`, `tool-<name>-<n>`, `cred-<n>`, `pn-<n>`,
//!   `vcall-<n>`) and the request echoed; `GET /assistant/{id}` an assistant with an empty
//!   model; `PATCH` and `DELETE` accept; the lists are empty.
//! - Twilio (contracts/telephony.md §B.2): any account `GET /2010-04-01/Accounts/{sid}.json`
//!   is active and owns whatever number it is asked about; messages are queued (201).

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Answers creates with a fresh id, echoing the body.
struct Creates {
    prefix: &'static str,
    n: AtomicUsize,
}

impl Respond for Creates {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let n = self.n.fetch_add(1, Ordering::SeqCst) + 1;
        let mut body: Value = serde_json::from_slice(&req.body).unwrap_or_else(|_| json!({}));
        let id = match body["function"]["name"].as_str() {
            Some(name) if self.prefix == "tool" => format!("tool-{name}-{n}"),
            _ => format!("{}-{n}", self.prefix),
        };
        body["id"] = json!(id);
        body["orgId"] = json!("vapi-org-loadgen");
        ResponseTemplate::new(201).set_body_json(body)
    }
}

/// `GET /assistant/{id}`: the assistant as Vapi keeps it.
struct Assistant;

impl Respond for Assistant {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let id = req.url.path().rsplit('/').next().unwrap_or_default();
        ResponseTemplate::new(200).set_body_json(json!({
            "id": id, "orgId": "vapi-org-loadgen", "name": "assistant",
            "model": {"provider": "openai", "model": "gpt-4o", "messages": []}
        }))
    }
}

/// `GET …/Accounts/{sid}.json` and `…/IncomingPhoneNumbers.json?PhoneNumber=`: every account
/// is active and owns the number asked about.
struct TwilioAccount;

impl Respond for TwilioAccount {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let segments: Vec<&str> = req.url.path().split('/').collect();
        let sid = segments
            .get(3)
            .copied()
            .unwrap_or_default()
            .trim_end_matches(".json");
        if req.url.path().ends_with("/IncomingPhoneNumbers.json") {
            let number = req
                .url
                .query_pairs()
                .find(|(k, _)| k == "PhoneNumber")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            return ResponseTemplate::new(200).set_body_json(json!({
                "incoming_phone_numbers": [{"sid": "PN0123456789abcdef0123456789abcdef", "phone_number": number}],
                "next_page_uri": null
            }));
        }
        ResponseTemplate::new(200).set_body_json(
            json!({"sid": sid, "friendly_name": "Clinic", "status": "active", "type": "Full"}),
        )
    }
}

/// `POST …/Messages.json`: the message queued, as Twilio answers it (its `to` and `from`
/// echoed from the form body).
struct QueuedMessage;

impl Respond for QueuedMessage {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        // A form body is encoded as a query string is.
        let form = reqwest::Url::parse(&format!(
            "http://form/?{}",
            String::from_utf8_lossy(&req.body)
        ))
        .ok();
        let field = |name: &str| {
            form.as_ref()
                .and_then(|f| f.query_pairs().find(|(k, _)| k == name))
                .map(|(_, v)| v.into_owned())
        };
        ResponseTemplate::new(201).set_body_json(json!({
            "sid": "SM0123456789abcdef0123456789abcdef", "status": "queued",
            "to": field("To"), "from": field("From"), "num_segments": "1"
        }))
    }
}

/// The fake providers' server.
pub struct FakeProviders {
    server: MockServer,
}

impl FakeProviders {
    /// Starts the server and mounts every route.
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let creates = |prefix| Creates {
            prefix,
            n: AtomicUsize::new(0),
        };
        for (route, prefix) in [
            ("/assistant", "asst"),
            ("/tool", "tool"),
            ("/credential", "cred"),
            ("/phone-number", "pn"),
            ("/call", "vcall"),
        ] {
            Mock::given(method("POST"))
                .and(path(route))
                .respond_with(creates(prefix))
                .mount(&server)
                .await;
        }
        Mock::given(method("GET"))
            .and(path_regex("^/assistant/[^/]+$"))
            .respond_with(Assistant)
            .mount(&server)
            .await;
        Mock::given(method("PATCH"))
            .and(path_regex("^/(assistant|tool)/[^/]+$"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("^/(credential|phone-number|tool)$"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
            .mount(&server)
            .await;
        Mock::given(method("DELETE"))
            .and(path_regex("^/(phone-number|credential|tool)/"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex(
                r"^/2010-04-01/Accounts/[^/]+(\.json|/IncomingPhoneNumbers\.json)$",
            ))
            .respond_with(TwilioAccount)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path_regex(r"^/2010-04-01/Accounts/[^/]+/Messages\.json$"))
            .respond_with(QueuedMessage)
            .mount(&server)
            .await;
        Self { server }
    }

    /// The server's base URL.
    #[must_use]
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The JSON bodies of every `verb route` request received so far.
    pub async fn requests(&self, verb: &str, route: &str) -> Vec<Value> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.method.as_str() == verb && r.url.path() == route)
            .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
            .collect()
    }
}
