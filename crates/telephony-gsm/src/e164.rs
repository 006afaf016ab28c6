//! E.164 numbers (ITU-T E.164): `+`, a country code not starting with 0, at most 15 digits in all.
//! The seed's rule (seed 001 §17.2 RULE 1) is the pattern `^\+[1-9]\d{6,14}$`: 7 to 15 digits.

use std::fmt;

use serde::{Serialize, Serializer};

/// Fewest digits accepted (the seed's pattern: a leading digit and at least 6 more).
pub const MIN_DIGITS: usize = 7;
/// Most digits E.164 allows.
pub const MAX_DIGITS: usize = 15;

/// Why a string is not (or cannot be made into) an E.164 number. Messages say exactly what is
/// wrong and show the expected form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum E164Error {
    /// Nothing was given.
    #[error("the phone number is empty")]
    Empty,
    /// A character that is neither a digit nor a separator people type.
    #[error(
        "the phone number has an unexpected character {character:?}; use digits, for example +15551234567"
    )]
    InvalidCharacter {
        /// The character.
        character: char,
    },
    /// No `+` and no default country to assume.
    #[error("the phone number needs its country code, for example +15551234567")]
    MissingCountryCode,
    /// The country code starts with 0.
    #[error("a country code never starts with 0; use the form +15551234567")]
    LeadingZero,
    /// Fewer than 7 digits.
    #[error("the phone number has {digits} digits; E.164 numbers have 7 to 15")]
    TooShort {
        /// Digits found.
        digits: usize,
    },
    /// More than 15 digits.
    #[error("the phone number has {digits} digits; E.164 numbers have at most 15")]
    TooLong {
        /// Digits found.
        digits: usize,
    },
}

/// A valid E.164 number, always in the form `+<digits>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct E164(String);

impl E164 {
    /// Parses a number that must already be E.164: `^\+[1-9]\d{6,14}$`, nothing else.
    ///
    /// # Errors
    /// The precise [`E164Error`].
    pub fn parse(input: &str) -> Result<Self, E164Error> {
        if input.is_empty() {
            return Err(E164Error::Empty);
        }
        let Some(digits) = input.strip_prefix('+') else {
            return Err(match input.chars().find(|c| !c.is_ascii_digit()) {
                Some(character) => E164Error::InvalidCharacter { character },
                None => E164Error::MissingCountryCode,
            });
        };
        Self::from_digits(digits)
    }

    fn from_digits(digits: &str) -> Result<Self, E164Error> {
        if let Some(character) = digits.chars().find(|c| !c.is_ascii_digit()) {
            return Err(E164Error::InvalidCharacter { character });
        }
        if digits.starts_with('0') {
            return Err(E164Error::LeadingZero);
        }
        match digits.len() {
            0 => Err(E164Error::Empty),
            n if n < MIN_DIGITS => Err(E164Error::TooShort { digits: n }),
            n if n > MAX_DIGITS => Err(E164Error::TooLong { digits: n }),
            _ => Ok(Self(format!("+{digits}"))),
        }
    }

    /// Turns what people type into E.164: spaces, dashes, dots, slashes and parentheses are
    /// dropped; a leading `00` (the international prefix) becomes `+`; a number without `+` gets
    /// `default_country_code` (digits, for example `"1"`), in which case a national trunk prefix
    /// (a leading `0`, or `1` before a 10-digit NANP number) is removed.
    /// `"+1 (555) 123-4567"` → `+15551234567`; `"(555) 123-4567"` with `"1"` → `+15551234567`;
    /// `"020 7183 8750"` with `"44"` → `+442071838750`.
    ///
    /// # Errors
    /// The precise [`E164Error`].
    pub fn normalize(input: &str, default_country_code: Option<&str>) -> Result<Self, E164Error> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(E164Error::Empty);
        }
        let mut compact = String::with_capacity(trimmed.len());
        for (i, c) in trimmed.chars().enumerate() {
            match c {
                '0'..='9' => compact.push(c),
                '+' if i == 0 => compact.push(c),
                ' ' | '-' | '.' | '/' | '(' | ')' | '\u{a0}' => {}
                other => return Err(E164Error::InvalidCharacter { character: other }),
            }
        }
        if let Some(digits) = compact.strip_prefix('+') {
            return Self::from_digits(digits);
        }
        if let Some(digits) = compact.strip_prefix("00") {
            return Self::from_digits(digits);
        }
        let Some(country) = default_country_code else {
            return Err(E164Error::MissingCountryCode);
        };
        let national = if country == "1" && compact.len() == 11 && compact.starts_with('1') {
            &compact[1..]
        } else {
            compact.strip_prefix('0').unwrap_or(&compact)
        };
        Self::from_digits(&format!("{country}{national}"))
    }

    /// The number with its `+`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without `+`.
    #[must_use]
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }

    /// For a North American (NANP, country code 1) number, its 10 national digits.
    #[must_use]
    pub fn nanp_national(&self) -> Option<&str> {
        let digits = self.digits();
        (digits.len() == 11 && digits.starts_with('1')).then(|| &digits[1..])
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for E164 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_parsing_follows_the_seed_pattern() {
        assert_eq!(
            E164::parse("+15551234567").unwrap().as_str(),
            "+15551234567"
        );
        assert_eq!(E164::parse("+1234567").unwrap().digits(), "1234567");
        for (input, error) in [
            ("", E164Error::Empty),
            ("15551234567", E164Error::MissingCountryCode),
            (
                "+1 555 123 4567",
                E164Error::InvalidCharacter { character: ' ' },
            ),
            ("+0551234567", E164Error::LeadingZero),
            ("+123456", E164Error::TooShort { digits: 6 }),
            ("+1234567890123456", E164Error::TooLong { digits: 16 }),
            ("+", E164Error::Empty),
        ] {
            assert_eq!(E164::parse(input), Err(error), "{input}");
        }
    }

    #[test]
    fn people_typed_numbers_are_normalised() {
        for (input, country, expected) in [
            ("+1 (555) 123-4567", None, "+15551234567"),
            ("(555) 123-4567", Some("1"), "+15551234567"),
            ("1-555-123-4567", Some("1"), "+15551234567"),
            ("0044 20 7183 8750", None, "+442071838750"),
            ("020 7183 8750", Some("44"), "+442071838750"),
            ("  +49.30.1234567 ", None, "+49301234567"),
        ] {
            assert_eq!(
                E164::normalize(input, country).unwrap().as_str(),
                expected,
                "{input}"
            );
        }
        assert_eq!(
            E164::normalize("555 1234567", None),
            Err(E164Error::MissingCountryCode)
        );
        assert_eq!(
            E164::normalize("+1 555 CALL NOW", None),
            Err(E164Error::InvalidCharacter { character: 'C' })
        );
        assert!(
            E164::normalize("+1 555 123 4567", None)
                .unwrap()
                .nanp_national()
                == Some("5551234567")
        );
        assert!(
            E164::parse("+442071838750")
                .unwrap()
                .nanp_national()
                .is_none()
        );
    }

    #[test]
    fn errors_show_the_expected_form() {
        let message = E164::parse("555").unwrap_err().to_string();
        assert!(message.contains("+15551234567"), "{message}");
    }
}
