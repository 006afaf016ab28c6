//! The tools our assistants call, defined in code (seed 001 §4, §18.5.3; SPEC §3 keeps the
//! original parameter names). Each is a Vapi `function` tool whose server is
//! `POST /api/vapi/tools/<name>` (contracts/vapi.md §4.1). A tool's version is the SHA-256 of
//! its canonical JSON (keys sorted, no whitespace) plus our server-auth fingerprint.
//!
//! `getKnowledgeBase` searches the organization's knowledge base (SPEC §7; seed 001 §6a item 5).

use serde_json::{Value, json};

/// Tool names, in the order they are registered and linked.
pub const TOOL_NAMES: [&str; 7] = [
    "checkAvailability",
    "bookClinicAppointment",
    "rescheduleAppointment",
    "cancelAppointment",
    "lookupCaller",
    "transferCall",
    "getKnowledgeBase",
];

/// Departments `transferCall` routes (seed 001 §18.4.2).
pub const DEPARTMENTS: [&str; 3] = ["general", "billing", "medical"];

fn string(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

/// The function part (`name`, `description`, `parameters`) of a tool, `None` for an unknown
/// name.
#[must_use]
pub fn function(name: &str) -> Option<Value> {
    let (description, properties, required): (&str, Value, Vec<&str>) = match name {
        "checkAvailability" => (
            "Check which appointment times are free on a date. Always call this before booking and offer only times it returns.",
            json!({
                "date": string("The date, YYYY-MM-DD in the clinic's time zone (or 'today' / 'tomorrow')."),
                "serviceType": string("The service the caller wants, as they said it (optional)."),
            }),
            vec!["date"],
        ),
        "bookClinicAppointment" => (
            "Book an appointment at a time checkAvailability returned. Confirm name, phone, date and time with the caller first.",
            json!({
                "customerName": string("The caller's full name."),
                "customerPhone": string("The caller's phone number, with country code when known."),
                "customerEmail": string("The caller's email (optional)."),
                "appointmentDate": string("YYYY-MM-DD in the clinic's time zone."),
                "appointmentTime": string("HH:MM, 24-hour, in the clinic's time zone."),
                "serviceType": string("The service (optional)."),
                "notes": string("Anything the clinic should know (optional)."),
            }),
            vec![
                "customerName",
                "customerPhone",
                "appointmentDate",
                "appointmentTime",
            ],
        ),
        "rescheduleAppointment" => (
            "Move the caller's existing appointment to a new time that checkAvailability returned.",
            json!({
                "appointmentId": string("The appointment's id, if known (optional)."),
                "currentDate": string("The current appointment's date, YYYY-MM-DD (when no id)."),
                "currentTime": string("The current appointment's time, HH:MM (optional)."),
                "customerPhone": string("The phone the appointment was booked with (defaults to the caller's)."),
                "newDate": string("The new date, YYYY-MM-DD."),
                "newTime": string("The new time, HH:MM, 24-hour."),
            }),
            vec!["newDate", "newTime"],
        ),
        "cancelAppointment" => (
            "Cancel the caller's existing appointment after they confirm.",
            json!({
                "appointmentId": string("The appointment's id, if known (optional)."),
                "appointmentDate": string("The appointment's date, YYYY-MM-DD (when no id)."),
                "appointmentTime": string("The appointment's time, HH:MM (optional)."),
                "customerPhone": string("The phone the appointment was booked with (defaults to the caller's)."),
            }),
            vec![],
        ),
        "lookupCaller" => (
            "Find the caller in the clinic's records by phone, email or name.",
            json!({
                "searchKey": string("The phone number, email address or name to search for."),
                "searchType": {"type": "string", "enum": ["phone", "email", "name"], "description": "What searchKey is."},
            }),
            vec!["searchKey", "searchType"],
        ),
        "transferCall" => (
            "Transfer the caller to a human at the clinic: when they ask for a person, are upset, or need something you cannot do.",
            json!({
                "summary": string("One or two sentences for the staff member: who is calling and why."),
                "department": {"type": "string", "enum": DEPARTMENTS, "description": "Which team."},
            }),
            vec!["summary", "department"],
        ),
        "getKnowledgeBase" => (
            "Search the clinic's own information (location, parking, opening hours, prices, team, policies, aftercare) for the caller's question. Call it before answering any question about the clinic that is not in your instructions, and answer only from what it returns; if it finds nothing, say you don't know and offer a transfer.",
            json!({
                "query": string("The caller's question in their own words, e.g. 'Where are you located?'."),
            }),
            vec!["query"],
        ),
        _ => return None,
    };
    Some(json!({
        "name": name,
        "description": description,
        "strict": false,
        "parameters": {"type": "object", "properties": properties, "required": required},
    }))
}

/// The whole `POST /tool` body for `name` with its `server` object.
#[must_use]
pub fn definition(name: &str, server: Value) -> Option<Value> {
    let request_start = match name {
        "checkAvailability" => "Let me check the calendar.",
        "bookClinicAppointment" => "One moment while I book that for you.",
        "rescheduleAppointment" | "cancelAppointment" => "One moment while I update that.",
        "lookupCaller" => "Let me look that up.",
        "getKnowledgeBase" => "Let me check that for you.",
        _ => "One moment.",
    };
    Some(json!({
        "type": "function",
        "function": function(name)?,
        "server": server,
        "async": false,
        "messages": [
            {"type": "request-start", "content": request_start},
            {"type": "request-failed", "content": "Sorry, I couldn't reach our system just now."},
        ],
    }))
}

/// Canonical JSON: object keys sorted at every level, no whitespace.
#[must_use]
pub fn canonical_json(value: &Value) -> String {
    fn write(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    write(&map[key], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// The version of a definition: lower-case hex SHA-256 of its canonical JSON with the secrets of
/// `server.headers` removed, then `auth_fingerprint` (so a rotated secret is a new version).
#[must_use]
pub fn definition_hash(definition: &Value, auth_fingerprint: &str) -> String {
    let mut public = definition.clone();
    if let Some(headers) = public["server"]["headers"].as_object_mut() {
        for value in headers.values_mut() {
            *value = Value::Null;
        }
    }
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(canonical_json(&public).as_bytes());
    ctx.update(b"\n");
    ctx.update(auth_fingerprint.as_bytes());
    hex::encode(ctx.finish().as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_an_object_schema_with_its_required_fields_declared() {
        let valid_name = regex::Regex::new("^[a-zA-Z0-9_-]{1,64}$").unwrap();
        for name in TOOL_NAMES {
            let f = function(name).expect(name);
            assert_eq!(f["parameters"]["type"], "object");
            let props = f["parameters"]["properties"]
                .as_object()
                .expect("properties");
            for req in f["parameters"]["required"].as_array().expect("required") {
                assert!(props.contains_key(req.as_str().unwrap()), "{name}: {req}");
            }
            assert!(valid_name.is_match(name));
        }
        assert!(function("google.calendar.event.create").is_none());
    }

    #[test]
    fn canonical_json_sorts_keys_and_the_hash_ignores_key_order_and_secret_values() {
        let a = json!({"b": 1, "a": {"y": [1, {"d": 2, "c": 3}], "x": "é"}});
        let b = json!({"a": {"x": "é", "y": [1, {"c": 3, "d": 2}]}, "b": 1});
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"x":"é","y":[1,{"c":3,"d":2}]},"b":1}"#
        );
        assert_eq!(definition_hash(&a, "f"), definition_hash(&b, "f"));
        assert_ne!(definition_hash(&a, "f"), definition_hash(&a, "g"));
        let with = |secret: &str| {
            definition(
                "lookupCaller",
                json!({"url": "https://x/api/vapi/tools/lookupCaller", "headers": {"x-vapi-secret": secret}}),
            )
            .unwrap()
        };
        assert_eq!(
            definition_hash(&with("one"), "f"),
            definition_hash(&with("two"), "f")
        );
        let hash = definition_hash(&with("one"), "f");
        assert_eq!(hash.len(), 64);
        assert!(
            hash.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn a_changed_description_is_a_new_version() {
        let server = json!({"url": "https://x/api/vapi/tools/transferCall"});
        let d = definition("transferCall", server).unwrap();
        let mut changed = d.clone();
        changed["function"]["description"] = json!("Transfer to a person.");
        assert_ne!(definition_hash(&d, "f"), definition_hash(&changed, "f"));
    }
}
