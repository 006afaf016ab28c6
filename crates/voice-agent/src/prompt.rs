//! The one system-prompt builder for both assistant create and update (seed 001 §6a item 2:
//! the create path once used a weaker prompt than update).
//!
//! Today's date is written as the Liquid variable `{{today}}` with the save date as its default
//! (`{{ today | default: "2026-11-21" }}`): Vapi fills it per call from the `variableValues` we
//! send with `assistant-request` answers and call-backs, so the date is right on every call, and
//! still present for calls started elsewhere (the Vapi dashboard).

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
    /// Context from the knowledge base, if any.
    pub knowledge_context: Option<&'a str>,
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
    let knowledge = input
        .knowledge_context
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .unwrap_or("(No knowledge base entries yet. If you do not know an answer, say so and offer to transfer the caller.)");
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
{knowledge}",
        today = input.today.format("%Y-%m-%d"),
        tz = input.time_zone,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(instructions: &str, knowledge: Option<&'static str>) -> String {
        system_prompt(&PromptInput {
            instructions,
            time_zone: "Europe/London",
            today: NaiveDate::from_ymd_opt(2026, 11, 21).unwrap(),
            knowledge_context: knowledge,
        })
    }

    #[test]
    fn the_prompt_carries_the_rules_the_date_the_zone_and_the_knowledge_slot() {
        let p = input(
            "You work for Serenity MedSpa.",
            Some("We are at 1 High Street."),
        );
        assert!(p.starts_with("You work for Serenity MedSpa."));
        assert!(p.contains(r#"{{ today | default: "2026-11-21" }}"#));
        assert!(p.contains(r#"{{ timeZone | default: "Europe/London" }}"#));
        assert!(p.contains("call checkAvailability"));
        assert!(p.contains("[KNOWLEDGE BASE CONTEXT]\nWe are at 1 High Street."));
    }

    #[test]
    fn empty_instructions_and_knowledge_get_defaults() {
        let p = input("  ", None);
        assert!(p.starts_with("You are the clinic's friendly receptionist."));
        assert!(p.contains("No knowledge base entries yet"));
    }
}
