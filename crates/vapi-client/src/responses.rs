//! Response bodies Vapi expects (contracts/vapi.md §2): always HTTP 200, unwrapped JSON.
//! Tool results are single-line strings (line breaks "cause parsing errors"), one entry per call,
//! in order, each echoing its `toolCallId` and `name`.

use serde_json::{Value, json};

/// The outcome of one tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolResult {
    /// The call's id, exactly as received.
    pub tool_call_id: String,
    /// The function name.
    pub name: String,
    /// What the model reads: `Ok` goes to `result`, `Err` to `error`.
    pub outcome: Result<String, String>,
}

/// Collapses whitespace runs (line breaks included) into single spaces.
#[must_use]
pub fn single_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `{"results": [{"name", "toolCallId", "result" | "error"}, …]}` (§2.1).
#[must_use]
pub fn tool_calls(results: &[ToolResult]) -> Value {
    json!({
        "results": results.iter().map(|r| {
            let mut entry = json!({"name": r.name, "toolCallId": r.tool_call_id});
            match &r.outcome {
                Ok(text) => entry["result"] = json!(single_line(text)),
                Err(text) => entry["error"] = json!(single_line(text)),
            }
            entry
        }).collect::<Vec<_>>()
    })
}

/// The legacy `function-call` answer `{"result": "…"}` (§2.4).
#[must_use]
pub fn function_call(result: &str) -> Value {
    json!({ "result": single_line(result) })
}

/// `{"assistantId", "assistantOverrides"?}` for an `assistant-request` (§2.2).
#[must_use]
pub fn assistant_request(assistant_id: &str, overrides: Option<Value>) -> Value {
    let mut body = json!({ "assistantId": assistant_id });
    if let Some(overrides) = overrides {
        body["assistantOverrides"] = overrides;
    }
    body
}

/// `{"error": "…"}`: rejects an inbound call, the text spoken to the caller (§2.2).
#[must_use]
pub fn assistant_request_error(spoken: &str) -> Value {
    json!({ "error": single_line(spoken) })
}

/// Where a transfer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A phone number, E.164.
    Number(String),
    /// A SIP URI.
    Sip(String),
}

/// `{"destination", "message"?}` for a `transfer-destination-request` (§2.3; the spoken text is
/// in `message.content`).
#[must_use]
pub fn transfer_destination(destination: &Destination, spoken: Option<&str>) -> Value {
    let mut body = json!({
        "destination": match destination {
            Destination::Number(n) => json!({"type": "number", "number": n}),
            Destination::Sip(uri) => json!({"type": "sip", "sipUri": uri}),
        }
    });
    if let Some(text) = spoken {
        body["message"] = json!({"type": "request-start", "content": single_line(text)});
    }
    body
}

/// `{"documents": [{content, similarity, uuid}]}` for a `knowledge-base-request` (§2.5); an
/// empty list lets the model answer without knowledge-base context. Each item is
/// `(content, similarity 0..1, chunk id)`.
#[must_use]
pub fn knowledge_base_documents(documents: &[(String, f32, String)]) -> Value {
    json!({
        "documents": documents
            .iter()
            .map(|(content, similarity, uuid)| json!({"content": content, "similarity": similarity, "uuid": uuid}))
            .collect::<Vec<_>>()
    })
}

/// The body for informational messages (ignored by Vapi).
#[must_use]
pub fn acknowledged() -> Value {
    json!({ "success": true })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_results_are_single_line_in_order_with_ids() {
        let body = tool_calls(&[
            ToolResult {
                tool_call_id: "call_1".into(),
                name: "lookupCaller".into(),
                outcome: Ok("Found Jane Roe.\nLast visit: March".into()),
            },
            ToolResult {
                tool_call_id: "toolu_2".into(),
                name: "bookClinicAppointment".into(),
                outcome: Err("That time is taken.\r\n  Try 11:00.".into()),
            },
        ]);
        assert_eq!(
            body,
            json!({"results": [
                {"name": "lookupCaller", "toolCallId": "call_1", "result": "Found Jane Roe. Last visit: March"},
                {"name": "bookClinicAppointment", "toolCallId": "toolu_2", "error": "That time is taken. Try 11:00."}
            ]})
        );
    }

    #[test]
    fn assistant_transfer_and_legacy_shapes() {
        assert_eq!(
            assistant_request("a1", Some(json!({"variableValues": {"name": "Jane"}}))),
            json!({"assistantId": "a1", "assistantOverrides": {"variableValues": {"name": "Jane"}}})
        );
        assert_eq!(
            assistant_request_error("Sorry.\nBye"),
            json!({"error": "Sorry. Bye"})
        );
        assert_eq!(
            transfer_destination(
                &Destination::Number("+15551234567".into()),
                Some("Transferring you now")
            ),
            json!({"destination": {"type": "number", "number": "+15551234567"},
                   "message": {"type": "request-start", "content": "Transferring you now"}})
        );
        assert_eq!(
            transfer_destination(&Destination::Sip("sip:desk@clinic.example".into()), None),
            json!({"destination": {"type": "sip", "sipUri": "sip:desk@clinic.example"}})
        );
        assert_eq!(function_call("ok"), json!({"result": "ok"}));
    }
}
