//! The event catalog: every event type an endpoint can subscribe to, what causes it and an
//! example of its `data` (docs/integrating.md, "Event catalog"; the OpenAPI document's `webhooks`
//! section is built from this list).

/// One event type.
#[derive(Debug, Clone, Copy)]
pub struct EventType {
    /// The type, `<noun>.<verb>` (`call.ended`).
    pub name: &'static str,
    /// When it is sent.
    pub description: &'static str,
    /// An example of the message's `data` object, as JSON.
    pub example: &'static str,
}

/// The test event sent by "send test event"; always delivered to the endpoint tested, whatever
/// its filter.
pub const TEST_EVENT: &str = "webhook.test";

/// Every event type, in the order the documentation lists them.
pub const EVENT_TYPES: &[EventType] = &[
    EventType {
        name: "call.started",
        description: "A call of the organization's voice agent started (Vapi status `in-progress`).",
        example: r#"{"call_id":"5f0c2a9e-8b1d-4c3e-9f7a-2d6b1e0c4a11","vapi_call_id":"call_123","status":"in-progress","customer_number":"+14155550100","ended_reason":null}"#,
    },
    EventType {
        name: "call.ended",
        description: "A call of the voice agent ended (Vapi status `ended`), before its analysis.",
        example: r#"{"call_id":"5f0c2a9e-8b1d-4c3e-9f7a-2d6b1e0c4a11","vapi_call_id":"call_123","status":"completed","customer_number":"+14155550100","ended_reason":"customer-ended-call"}"#,
    },
    EventType {
        name: "call.analyzed",
        description: "The end-of-call report was analysed: summary (redacted), outcome (`booked`, `completed` or `failed`), sentiment, Vapi's cost in US dollars, the booked service, the call's value in minor units of the organization's currency, lead score 0-100.",
        example: r#"{"call_id":"5f0c2a9e-8b1d-4c3e-9f7a-2d6b1e0c4a11","vapi_call_id":"call_123","summary":"Booked a cleaning for Tuesday.","outcome":"booked","sentiment":"positive","sentiment_score":0.8,"cost_usd":0.42,"booked":true,"booked_service":"Teeth cleaning","value_minor":12000,"lead_score":80,"contact_id":"9a1e7c3b-2f4d-4e5a-8b6c-1d2e3f4a5b6c"}"#,
    },
    EventType {
        name: "transcript.final",
        description: "A final transcript line of a live voice-agent call (redacted like every stored transcript).",
        example: r#"{"vapi_call_id":"call_123","role":"user","text":"I'd like to book a cleaning."}"#,
    },
    EventType {
        name: "appointment.booked",
        description: "An appointment was booked (by the voice agent, the console or the API).",
        example: r#"{"appointment_id":"7c2d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f","contact_id":"9a1e7c3b-2f4d-4e5a-8b6c-1d2e3f4a5b6c","service_id":null,"service":"Teeth cleaning","customer_name":"Jane Doe","customer_phone":"+14155550100","starts_at":"2026-12-08T15:00:00.000Z","ends_at":"2026-12-08T15:30:00.000Z","status":"confirmed","source":"voice_agent"}"#,
    },
    EventType {
        name: "appointment.rescheduled",
        description: "An appointment moved to another time.",
        example: r#"{"appointment_id":"7c2d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f","contact_id":"9a1e7c3b-2f4d-4e5a-8b6c-1d2e3f4a5b6c","service_id":null,"service":"Teeth cleaning","customer_name":"Jane Doe","customer_phone":"+14155550100","starts_at":"2026-12-09T15:00:00.000Z","ends_at":"2026-12-09T15:30:00.000Z","status":"confirmed","source":"dashboard","previous_starts_at":"2026-12-08T15:00:00.000Z"}"#,
    },
    EventType {
        name: "appointment.cancelled",
        description: "An appointment was cancelled.",
        example: r#"{"appointment_id":"7c2d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f","contact_id":"9a1e7c3b-2f4d-4e5a-8b6c-1d2e3f4a5b6c","service_id":null,"service":"Teeth cleaning","customer_name":"Jane Doe","customer_phone":"+14155550100","starts_at":"2026-12-08T15:00:00.000Z","ends_at":"2026-12-08T15:30:00.000Z","status":"cancelled","source":"voice_agent"}"#,
    },
    EventType {
        name: "contact.created",
        description: "A contact (lead) was created, by a call or by a user.",
        example: r#"{"contact_id":"9a1e7c3b-2f4d-4e5a-8b6c-1d2e3f4a5b6c","name":"Jane Doe","phone":"+14155550100","email":null,"company":null,"status":"new","temperature":"warm","lead_score":0}"#,
    },
    EventType {
        name: "contact.updated",
        description: "A contact's details or pipeline status changed.",
        example: r#"{"contact_id":"9a1e7c3b-2f4d-4e5a-8b6c-1d2e3f4a5b6c","name":"Jane Doe","phone":"+14155550100","email":"jane@example.com","company":null,"status":"booked","temperature":"hot","lead_score":85}"#,
    },
    EventType {
        name: "lead.hot",
        description: "A call's analysis scored its caller as a hot lead (the same moment the dashboard's hot-lead alert is raised).",
        example: r#"{"call_id":"5f0c2a9e-8b1d-4c3e-9f7a-2d6b1e0c4a11","contact_id":"9a1e7c3b-2f4d-4e5a-8b6c-1d2e3f4a5b6c","lead_score":85,"caller":"Jane Doe"}"#,
    },
    EventType {
        name: "voicemail.received",
        description: "A Dialpad voicemail was stored.",
        example: r#"{"voicemail_id":"3b4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7","app_id":"1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a","call_id":6543210987,"from_number":"+14155550100","to_number":"+14155550199","duration_seconds":31,"timestamp":"2026-12-05T10:30:00.000Z"}"#,
    },
    EventType {
        name: "dialpad.call.ringing",
        description: "A Dialpad call of one of the organization's apps is ringing.",
        example: r#"{"app_id":"1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a","call_id":6543210987,"direction":"inbound","from_number":"+14155550100","to_number":"+14155550199","status":"ringing","user_id":42,"timestamp":"2026-12-05T10:30:00.000Z"}"#,
    },
    EventType {
        name: "dialpad.call.connected",
        description: "A Dialpad call was answered.",
        example: r#"{"app_id":"1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a","call_id":6543210987,"direction":"inbound","from_number":"+14155550100","to_number":"+14155550199","status":"connected","user_id":42,"timestamp":"2026-12-05T10:30:05.000Z"}"#,
    },
    EventType {
        name: "dialpad.call.ended",
        description: "A Dialpad call ended (hung up or missed), with its duration and outcome.",
        example: r#"{"app_id":"1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a","call_id":6543210987,"direction":"inbound","from_number":"+14155550100","to_number":"+14155550199","status":"ended","user_id":42,"timestamp":"2026-12-05T10:31:40.000Z","duration_seconds":95,"outcome":"answered"}"#,
    },
    EventType {
        name: "integration.error",
        description: "A provider integration failed in the background after every retry and needs attention: `google_calendar` (an appointment's event) or `sms` (a hot-lead alert).",
        example: r#"{"integration":"google_calendar","message":"the appointment could not be synchronised with Google Calendar: 401 invalid credentials","appointment_id":"7c2d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f"}"#,
    },
    EventType {
        name: TEST_EVENT,
        description: "Sent by \"send test event\" to the endpoint tested only.",
        example: r#"{"endpoint_id":"e0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d","message":"This is a test event."}"#,
    },
];

/// Whether `name` is a type of the catalog.
#[must_use]
pub fn is_known(name: &str) -> bool {
    EVENT_TYPES.iter().any(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_is_a_json_object_and_names_are_unique() {
        let mut names = std::collections::BTreeSet::new();
        for t in EVENT_TYPES {
            assert!(names.insert(t.name), "{} twice", t.name);
            let v: serde_json::Value = serde_json::from_str(t.example).unwrap_or_default();
            assert!(v.is_object(), "{} example", t.name);
        }
        assert!(is_known("call.analyzed"));
        assert!(!is_known("call.exploded"));
    }
}
