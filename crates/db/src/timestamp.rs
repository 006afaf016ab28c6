//! Timestamps as the seeds' clients receive them: RFC 3339 in UTC with milliseconds,
//! `2026-01-28T10:30:00.000Z` (JavaScript's `toISOString`, the shape of every seed's JSON).
//! Rows that are answered as they are stored serialize their `timestamptz` columns with
//! [`serialize`] and [`serialize_opt`] (`#[serde(serialize_with = "…")]`).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

/// `t` as `2026-01-28T10:30:00.000Z`.
#[must_use]
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Serializes `t` as [`iso`] text.
///
/// # Errors
/// Whatever the serializer returns.
pub fn serialize<S: Serializer>(t: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&iso(*t))
}

/// Serializes `t` as [`iso`] text, or `null`.
///
/// # Errors
/// Whatever the serializer returns.
pub fn serialize_opt<S: Serializer>(
    t: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => serialize(t, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[derive(serde::Serialize)]
    struct Row {
        #[serde(serialize_with = "serialize")]
        at: DateTime<Utc>,
        #[serde(serialize_with = "serialize_opt")]
        until: Option<DateTime<Utc>>,
    }

    #[test]
    fn rows_serialize_timestamps_with_milliseconds_in_utc() {
        let at = Utc.with_ymd_and_hms(2026, 1, 28, 10, 30, 0).unwrap();
        let json = serde_json::to_value(Row { at, until: None }).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "at": "2026-01-28T10:30:00.000Z", "until": null })
        );
    }
}
