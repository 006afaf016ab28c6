//! The one system-prompt builder for both assistant create and update (seed 001 §6a item 2:
//! the create path once used a weaker prompt than update).
//!
//! Today's date is written as the Liquid variable `{{today}}` with the save date as its default
//! (`{{ today | default: "2026-11-21" }}`): Vapi fills it per call from the `variableValues` we
//! send with `assistant-request` answers and call-backs, so the date is right on every call, and
//! still present for calls started elsewhere (the Vapi dashboard).
//!
//! The knowledge-base context and the caller's history are per-call `variableValues` too
//! (`knowledgeBaseContext`, `callerHistory`; see [`crate::identity`]): the shared prompt is never
//! edited per call (decision 24), and the context is current on every call, not as of the last
//! save.

use chrono::NaiveDate;

/// The slot the knowledge base's context goes into (SPEC §7).
pub const KNOWLEDGE_BASE_HEADING: &str = "[KNOWLEDGE BASE CONTEXT]";

/// What a prompt is built from.
#[derive(Debug, Clone, Copy)]
pub struct PromptInput<'a> {
    /// The organization's own instructions (may be empty).
    pub instructions: &'a str,
    /// The clinic's IANA time zone.
    pub time_zone: &'a str,
    /// Today in that zone, at save time (the per-call value overrides it).
    pub today: NaiveDate,
}

/// The full system prompt: the organization's instructions wrapped in the mandatory rules for
/// tools, dates and transfers, and the knowledge-base slot.
#[must_use]
pub fn system_prompt(input: &PromptInput<'_>) -> String {
    let instructions = input.instructions.trim();
    let instructions = if instructions.is_empty() {
        "You are the clinic's friendly receptionist. Help callers book, move or cancel appointments and answer their questions."
    } else {
        instructions
    };
    format!(
        "{instructions}

[DATE AND TIME]
Today is {{{{ today | default: \"{today}\" }}}}. The clinic's time zone is {{{{ timeZone | default: \"{tz}\" }}}}. Every date and time you say or send to a tool is in that time zone. Dates go to tools as YYYY-MM-DD and times as HH:MM (24-hour).

[CALLER]
The caller's name, when we know it, is \"{{{{ customerName | default: \"\" }}}}\". Their number is {{{{ customer.number }}}}.

[MANDATORY TOOL RULES]
1. Before offering or booking any time, call checkAvailability for that date. Offer only times it returns. Never invent availability.
2. Before calling bookClinicAppointment, confirm the caller's full name, phone number, date and time, and the service if they named one.
3. If bookClinicAppointment says the time was just taken, offer the alternatives it gives; never claim a booking that the tool did not confirm.
4. To move or cancel an appointment, use rescheduleAppointment or cancelAppointment with the phone number it was booked under.
5. To find an existing patient, use lookupCaller. If it finds several people, ask which email is theirs.
6. If the caller asks for a person, is upset, or needs something you cannot do, call transferCall with a short summary and the department.
7. Never ask for or repeat card numbers, social security numbers or other identifiers the clinic does not need.
8. If a tool reports an error, tell the caller plainly and offer another way (another time, a transfer, or a call back).

{KNOWLEDGE_BASE_HEADING}
{{{{ knowledgeBaseContext | default: \"(none for this call)\" }}}}
For anything else about the clinic (location, hours, prices, team, policies, aftercare), call getKnowledgeBase with the caller's question and answer only from what it returns. If it finds nothing, say you don't know and offer to transfer the caller. Never invent prices, times or policies.

[CALLER HISTORY]
{{{{ callerHistory | default: \"No earlier calls from this number.\" }}}}
Use it to greet a returning caller naturally and pick up where they left off; never read it out word for word.",
        today = input.today.format("%Y-%m-%d"),
        tz = input.time_zone,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(instructions: &str) -> String {
        system_prompt(&PromptInput {
            instructions,
            time_zone: "Europe/London",
            today: NaiveDate::from_ymd_opt(2026, 11, 21).unwrap(),
        })
    }

    #[test]
    fn the_prompt_carries_the_rules_the_date_the_zone_and_the_knowledge_slot() {
        let p = input("You work for Serenity MedSpa.");
        assert!(p.starts_with("You work for Serenity MedSpa."));
        assert!(p.contains(r#"{{ today | default: "2026-11-21" }}"#));
        assert!(p.contains(r#"{{ timeZone | default: "Europe/London" }}"#));
        assert!(p.contains("call checkAvailability"));
        assert!(p.contains(
            "[KNOWLEDGE BASE CONTEXT]\n{{ knowledgeBaseContext | default: \"(none for this call)\" }}"
        ));
        assert!(p.contains("call getKnowledgeBase"));
        assert!(p.contains("{{ callerHistory | default:"));
    }

    #[test]
    fn empty_instructions_get_the_default_role() {
        let p = input("  ");
        assert!(p.starts_with("You are the clinic's friendly receptionist."));
    }
}
