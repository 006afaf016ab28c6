//! PII/PHI redaction of transcripts and summaries before they are stored (seed 001 §5 "PII
//! exposure", "Live fire test": transcripts are stored PHI-redacted).
//!
//! Redacted, each replaced by a bracketed label:
//! - payment card numbers: 13-19 digits, optionally grouped by spaces or dashes, passing the
//!   Luhn check → `[REDACTED CARD]`;
//! - US social security numbers `123-45-6789` / `123 45 6789`, and any 9 digits after "social
//!   security" or "SSN" → `[REDACTED SSN]`;
//! - dates of birth: a date (numeric, ISO, or with a month name) within a few words after
//!   "born", "birth", "birthday" or "DOB" → `[REDACTED DOB]`;
//! - spelled-out digit runs: four or more number words in a row ("four two four two …", "oh")
//!   → `[REDACTED NUMBER]`.
//!
//! Phone numbers are kept: the clinic needs them to call back.

use std::sync::LazyLock;

use regex::{Captures, Regex};

static CARD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b\d(?:[ -]?\d){12,18}\b").expect("card pattern"));
static SSN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(\b(?:social security(?: number)?|ssn)\W{0,3}(?:is\s+)?)\d{3}[ -]?\d{2}[ -]?\d{4}\b|\b\d{3}[- ]\d{2}[- ]\d{4}\b")
        .expect("ssn pattern")
});
const MONTHS: &str = "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?";
static DOB: LazyLock<Regex> = LazyLock::new(|| {
    let date = format!(
        r"(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}|\d{{4}}-\d{{2}}-\d{{2}}|(?:{MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{MONTHS}),?\s+\d{{4}})"
    );
    Regex::new(&format!(
        r"(?i)\b(born|birth|birthday|dob|d\.o\.b\.)\b((?:\W+\w+){{0,4}}?\W+){date}"
    ))
    .expect("dob pattern")
});
const DIGIT_WORD: &str = "zero|oh|one|two|three|four|five|six|seven|eight|nine";
static SPELLED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)\b(?:{DIGIT_WORD})(?:[\s,-]+(?:{DIGIT_WORD})){{3,}}\b"
    ))
    .expect("spelled digits pattern")
});

fn luhn(digits: &str) -> bool {
    let mut sum = 0;
    for (i, d) in digits
        .bytes()
        .rev()
        .map(|b| u32::from(b - b'0'))
        .enumerate()
    {
        sum += if i % 2 == 1 {
            let x = d * 2;
            if x > 9 { x - 9 } else { x }
        } else {
            d
        };
    }
    sum % 10 == 0
}

/// `text` with card numbers, SSNs, dates of birth and spelled-out digit runs replaced.
#[must_use]
pub fn redact(text: &str) -> String {
    let text = CARD.replace_all(text, |c: &Captures<'_>| {
        let digits: String = c[0].chars().filter(char::is_ascii_digit).collect();
        if (13..=19).contains(&digits.len()) && luhn(&digits) {
            "[REDACTED CARD]".to_owned()
        } else {
            c[0].to_owned()
        }
    });
    let text = SSN.replace_all(&text, |c: &Captures<'_>| {
        format!("{}[REDACTED SSN]", c.get(1).map_or("", |m| m.as_str()))
    });
    let text = DOB.replace_all(&text, "$1$2[REDACTED DOB]");
    let text = SPELLED.replace_all(&text, "[REDACTED NUMBER]");
    text.into_owned()
}

/// Every string inside `value` (object values and array items, at any depth) redacted.
pub fn redact_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) => *text = redact(text),
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_json),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(redact_json),
        _ => {}
    }
}

/// An end-of-call report with every free text redacted (summary, transcript, success
/// evaluation, sentiment summary, structured data and messages): what is stored when the report
/// is acknowledged, before any analysis.
#[must_use]
pub fn redact_report(report: &vapi_client::EndOfCallReport) -> vapi_client::EndOfCallReport {
    let text = |t: &Option<String>| t.as_deref().map(redact);
    let mut structured_data = report.structured_data.clone();
    if let Some(data) = &mut structured_data {
        redact_json(data);
    }
    let mut messages = report.messages.clone();
    messages.iter_mut().for_each(redact_json);
    vapi_client::EndOfCallReport {
        summary: text(&report.summary),
        transcript: text(&report.transcript),
        success_evaluation: text(&report.success_evaluation),
        sentiment_summary: text(&report.sentiment_summary),
        structured_data,
        messages,
        ..report.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cards_are_redacted_only_when_they_pass_luhn() {
        assert_eq!(
            redact("my card is 4242 4242 4242 4242 thanks"),
            "my card is [REDACTED CARD] thanks"
        );
        assert_eq!(redact("card 4111-1111-1111-1111."), "card [REDACTED CARD].");
        // An order number that fails Luhn is kept.
        assert_eq!(redact("order 1234567890123"), "order 1234567890123");
    }

    #[test]
    fn ssns_are_redacted() {
        assert_eq!(redact("it's 123-45-6789"), "it's [REDACTED SSN]");
        assert_eq!(
            redact("my social security number is 123456789."),
            "my social security number is [REDACTED SSN]."
        );
        assert_eq!(redact("SSN: 987 65 4321"), "SSN: [REDACTED SSN]");
        // Nine digits without the words are not assumed to be an SSN.
        assert_eq!(redact("ref 123456789"), "ref 123456789");
    }

    #[test]
    fn dates_of_birth_are_redacted_but_appointment_dates_are_kept() {
        assert_eq!(
            redact("I was born on 03/14/1985 in Leeds"),
            "I was born on [REDACTED DOB] in Leeds"
        );
        assert_eq!(
            redact("date of birth is March 14th, 1985"),
            "date of birth is [REDACTED DOB]"
        );
        assert_eq!(redact("DOB 1985-03-14"), "DOB [REDACTED DOB]");
        assert_eq!(
            redact("my birthday is the 14th of March 1985"),
            "my birthday is the [REDACTED DOB]"
        );
        assert_eq!(
            redact("book me on 2026-11-24 at 10:00"),
            "book me on 2026-11-24 at 10:00"
        );
    }

    #[test]
    fn spelled_out_digit_runs_are_redacted_but_short_counts_are_kept() {
        assert_eq!(
            redact("the number is four two four two, one one one one"),
            "the number is [REDACTED NUMBER]"
        );
        assert_eq!(redact("oh five five five"), "[REDACTED NUMBER]");
        assert_eq!(redact("I need one or two slots"), "I need one or two slots");
    }

    #[test]
    fn phone_numbers_and_times_survive() {
        let t = "Call me on +1 415 555 0100 at 9:30.";
        assert_eq!(redact(t), t);
    }

    proptest! {
        #[test]
        fn any_luhn_valid_16_digit_card_is_gone(body in proptest::collection::vec(0u32..10, 15)) {
            let mut digits: String = body.iter().map(|d| char::from_digit(*d, 10).unwrap()).collect();
            let check = (0..10).find(|c| luhn(&format!("{digits}{c}"))).unwrap();
            digits.push(char::from_digit(check, 10).unwrap());
            let out = redact(&format!("pay with {digits} please"));
            prop_assert!(!out.contains(&digits));
            prop_assert!(out.contains("[REDACTED CARD]"));
        }
    }
}
