//! Amounts in an ISO 4217 currency: stored in minor units (`i64`), entered and shown in major
//! units. The number of minor-unit digits comes from the ISO 4217 table (`iso_currency`): 2 for
//! USD and EUR (cents), 0 for JPY, 3 for KWD.

use iso_currency::Currency;

use crate::CrmError;

/// Whether `code` is an active ISO 4217 alphabetic code (upper case, for example `USD`).
#[must_use]
pub fn is_currency(code: &str) -> bool {
    Currency::from_code(code).is_some()
}

/// Minor-unit digits of `currency` (2 for USD; 2 also for an unknown code or one without minor
/// units, such as the precious metals).
#[must_use]
pub fn exponent(currency: &str) -> u32 {
    Currency::from_code(currency)
        .and_then(Currency::exponent)
        .map_or(2, u32::from)
}

/// `minor` minor units of `currency` in major units (1999 USD cents is 19.99).
#[must_use]
#[allow(clippy::cast_precision_loss)]
pub fn to_major(minor: i64, currency: &str) -> f64 {
    minor as f64 / 10f64.powi(exponent_i32(currency))
}

/// `major` major units of `currency` in minor units (19.99 USD is 1999 cents).
///
/// # Errors
/// [`CrmError::Invalid`] when the amount is negative, not finite, too large, or has more decimals
/// than the currency has minor units (19.999 USD; it is never rounded).
#[allow(clippy::cast_possible_truncation)]
pub fn to_minor(major: f64, currency: &str) -> Result<i64, CrmError> {
    let scaled = major * 10f64.powi(exponent_i32(currency));
    let rounded = scaled.round();
    if !scaled.is_finite() || scaled < 0.0 || rounded >= 9.0e15 {
        return Err(CrmError::Invalid(
            "price must be a non-negative amount in major units (for example 19.99)".into(),
        ));
    }
    if (scaled - rounded).abs() > 1e-6 {
        return Err(CrmError::Invalid(format!(
            "price has more decimals than {currency} allows ({} digits)",
            exponent(currency)
        )));
    }
    Ok(rounded as i64)
}

#[allow(clippy::cast_possible_wrap)]
fn exponent_i32(currency: &str) -> i32 {
    exponent(currency) as i32
}

/// A price as a client gave it: in minor units (`price_minor`), in major units (the seed's
/// `price`), or both, in which case they must be the same amount.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Price {
    /// Minor units (cents for USD).
    pub minor: Option<i64>,
    /// Major units (dollars for USD).
    pub major: Option<f64>,
}

impl Price {
    /// The price in minor units of `currency`, or `None` when neither field was given.
    ///
    /// # Errors
    /// [`CrmError::Invalid`] for a negative amount, too many decimals, or two fields that
    /// disagree.
    pub fn resolve(self, currency: &str) -> Result<Option<i64>, CrmError> {
        let from_major = self.major.map(|m| to_minor(m, currency)).transpose()?;
        match (self.minor, from_major) {
            (Some(m), _) if m < 0 => Err(CrmError::Invalid(
                "price_minor must be zero or more (minor units, for example cents)".into(),
            )),
            (Some(m), Some(p)) if m != p => Err(CrmError::Invalid(
                "price and price_minor disagree; send one of them".into(),
            )),
            (minor, major) => Ok(minor.or(major)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_units_follow_the_currency_exponent() {
        assert_eq!(to_minor(19.99, "USD").unwrap(), 1999);
        assert_eq!(to_minor(0.29, "EUR").unwrap(), 29);
        assert_eq!(to_minor(1500.0, "JPY").unwrap(), 1500);
        assert_eq!(to_minor(1.234, "KWD").unwrap(), 1234);
        assert!((to_major(1999, "USD") - 19.99).abs() < 1e-9);
        assert!((to_major(1500, "JPY") - 1500.0).abs() < 1e-9);
        assert!((to_major(1234, "KWD") - 1.234).abs() < 1e-9);
    }

    #[test]
    fn amounts_a_currency_cannot_hold_are_refused() {
        assert!(to_minor(19.999, "USD").is_err());
        assert!(to_minor(10.5, "JPY").is_err());
        assert!(to_minor(-1.0, "USD").is_err());
        assert!(to_minor(f64::NAN, "USD").is_err());
        assert!(to_minor(1e20, "USD").is_err());
    }

    #[test]
    fn both_fields_must_agree() {
        let both = |minor, major| Price {
            minor: Some(minor),
            major: Some(major),
        };
        assert_eq!(both(15000, 150.0).resolve("USD").unwrap(), Some(15000));
        assert!(both(15000, 15000.0).resolve("USD").is_err());
        assert_eq!(Price::default().resolve("USD").unwrap(), None);
        assert!(is_currency("EUR") && !is_currency("EURO") && !is_currency("usd"));
    }
}
