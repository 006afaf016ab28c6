//! Slots of a day in the clinic's time zone (pure). Seed 001 §3 "Calendar & Integration Engine":
//! buffer times ("don't book back-to-back if the clinic needs 15 mins of cleanup").
//!
//! A visit of `duration` starting at `s` takes the clinic for `[s, s + duration + buffer)`.
//! A slot is offered when:
//! - its local date is not a closure and its local start and end (`s + duration`, the buffer may
//!   run past closing) fall inside one business-hours window of that weekday;
//! - it starts after `now`;
//! - `[s, s + duration + buffer)` overlaps no busy interval (existing appointments are busy for
//!   their own `[start, blocked_until)`, Google Calendar events for their `[start, end)`).
//!
//! Local times are converted with the IANA rules of the clinic's zone (chrono-tz): a local time
//! that does not exist (the spring-forward gap) is skipped; one that exists twice (the fall-back
//! hour) is taken at its first occurrence.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::settings::Settings;

/// A time the clinic is taken, UTC, half-open `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    /// Start.
    pub start: DateTime<Utc>,
    /// End (exclusive).
    pub end: DateTime<Utc>,
}

/// The UTC instant of a local time, or `None` inside a DST gap (first occurrence when ambiguous).
#[must_use]
pub fn local_to_utc(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        LocalResult::None => None,
    }
}

/// `[start, end)` of a local date in UTC (23 or 25 hours on DST days).
#[must_use]
pub fn day_bounds(tz: Tz, date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let at = |d: NaiveDate| {
        // Midnight can fall in a gap in a few zones; the first instant after it is then 01:00.
        local_to_utc(tz, d.and_time(NaiveTime::MIN)).unwrap_or_else(|| {
            local_to_utc(
                tz,
                d.and_time(NaiveTime::from_hms_opt(1, 0, 0).unwrap_or(NaiveTime::MIN)),
            )
            .unwrap_or_else(|| d.and_time(NaiveTime::MIN).and_utc())
        })
    };
    (at(date), at(date + Duration::days(1)))
}

/// Resolves `today`, `tomorrow` (in the clinic's zone at `now`) or `YYYY-MM-DD`.
///
/// # Errors
/// A message for anything else.
pub fn resolve_date(input: &str, tz: Tz, now: DateTime<Utc>) -> Result<NaiveDate, String> {
    let today = now.with_timezone(&tz).date_naive();
    match input.trim().to_ascii_lowercase().as_str() {
        "today" => Ok(today),
        "tomorrow" => Ok(today + Duration::days(1)),
        other => NaiveDate::parse_from_str(other, "%Y-%m-%d")
            .map_err(|_| "date must be YYYY-MM-DD, today or tomorrow".to_owned()),
    }
}

fn overlaps(start: DateTime<Utc>, end: DateTime<Utc>, busy: &[Busy]) -> bool {
    busy.iter().any(|b| start < b.end && b.start < end)
}

/// The slot starts of `date` for a visit of `duration_minutes`, in order.
#[must_use]
pub fn day_slots(
    settings: &Settings,
    date: NaiveDate,
    duration_minutes: i32,
    busy: &[Busy],
    now: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    if settings.closures.contains(&date) {
        return Vec::new();
    }
    let weekday =
        u8::try_from(date.format("%u").to_string().parse::<u32>().unwrap_or(0)).unwrap_or(0);
    let duration = Duration::minutes(i64::from(duration_minutes));
    let buffer = Duration::minutes(i64::from(settings.buffer_minutes));
    let step = Duration::minutes(i64::from(settings.slot_step_minutes.max(5)));
    let mut slots = Vec::new();
    for window in settings
        .business_hours
        .iter()
        .filter(|w| w.weekday == weekday)
    {
        let closes = date.and_time(window.closes);
        let mut local = date.and_time(window.opens);
        while local + duration <= closes {
            if let Some(start) = local_to_utc(settings.time_zone, local) {
                let blocked_until = start + duration + buffer;
                if start > now && !overlaps(start, blocked_until, busy) {
                    slots.push(start);
                }
            }
            local += step;
        }
    }
    slots.sort();
    slots.dedup();
    slots
}

/// Whether a visit at `start` for `duration_minutes` lies inside business hours (local date not
/// closed; local start and end inside one window). Any minute may start a visit, not only the
/// slot grid: a caller may ask for 2:10 PM.
#[must_use]
pub fn within_hours(settings: &Settings, start: DateTime<Utc>, duration_minutes: i32) -> bool {
    let local = start.with_timezone(&settings.time_zone).naive_local();
    let date = local.date();
    if settings.closures.contains(&date) {
        return false;
    }
    let weekday =
        u8::try_from(date.format("%u").to_string().parse::<u32>().unwrap_or(0)).unwrap_or(0);
    let end = local + Duration::minutes(i64::from(duration_minutes));
    settings.business_hours.iter().any(|w| {
        w.weekday == weekday && local >= date.and_time(w.opens) && end <= date.and_time(w.closes)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::settings::BusinessHours;

    fn settings(tz: &str, buffer: i32) -> Settings {
        Settings {
            time_zone: tz.parse().unwrap(),
            business_hours: (1..=5)
                .map(|weekday| BusinessHours {
                    weekday,
                    opens: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
                    closes: NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
                })
                .collect(),
            buffer_minutes: buffer,
            ..Settings::default()
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn slots_are_local_hours_whatever_the_utc_offset_across_dst() {
        // New York springs forward on Sunday 2026-03-08: EST (UTC-5) before, EDT (UTC-4) after.
        let s = settings("America/New_York", 0);
        let now = utc("2026-03-01T00:00:00Z");
        let friday = day_slots(&s, date("2026-03-06"), 30, &[], now);
        let monday = day_slots(&s, date("2026-03-09"), 30, &[], now);
        assert_eq!(friday.first(), Some(&utc("2026-03-06T14:00:00Z")));
        assert_eq!(monday.first(), Some(&utc("2026-03-09T13:00:00Z")));
        assert_eq!(friday.len(), 16);
        assert_eq!(monday.len(), 16);
        assert_eq!(monday.last(), Some(&utc("2026-03-09T20:30:00Z")));
    }

    #[test]
    fn the_spring_gap_is_skipped_and_the_fall_hour_offered_once() {
        let mut s = settings("America/New_York", 0);
        // Open 01:00-04:00 every day for the test.
        s.business_hours = (1..=7)
            .map(|weekday| BusinessHours {
                weekday,
                opens: NaiveTime::from_hms_opt(1, 0, 0).unwrap(),
                closes: NaiveTime::from_hms_opt(4, 0, 0).unwrap(),
            })
            .collect();
        let now = utc("2026-01-01T00:00:00Z");
        // 2026-03-08: 02:00-02:59 local does not exist.
        let spring = day_slots(&s, date("2026-03-08"), 30, &[], now);
        assert_eq!(
            spring,
            [
                utc("2026-03-08T06:00:00Z"), // 01:00 EST
                utc("2026-03-08T06:30:00Z"), // 01:30 EST
                utc("2026-03-08T07:00:00Z"), // 03:00 EDT
                utc("2026-03-08T07:30:00Z"), // 03:30 EDT
            ]
        );
        // 2026-11-01: 01:00-01:59 happens twice; each local time is offered once.
        let fall = day_slots(&s, date("2026-11-01"), 30, &[], now);
        assert_eq!(fall.len(), 6);
        assert_eq!(fall[0], utc("2026-11-01T05:00:00Z")); // 01:00 EDT
        assert_eq!(
            day_bounds(s.time_zone, date("2026-11-01")).1
                - day_bounds(s.time_zone, date("2026-11-01")).0,
            Duration::hours(25)
        );
    }

    #[test]
    fn buffers_keep_visits_apart_and_past_slots_are_gone() {
        let s = settings("Europe/London", 15);
        let booked = Busy {
            start: utc("2026-07-06T09:00:00Z"), // 10:00 BST
            end: utc("2026-07-06T09:45:00Z"),   // 30 min + 15 min cleanup
        };
        let slots = day_slots(
            &s,
            date("2026-07-06"),
            30,
            &[booked],
            utc("2026-07-06T07:10:00Z"),
        );
        // London opens at 09:00 BST = 08:00Z; 08:00Z takes the clinic until 08:45Z: free.
        assert_eq!(slots[0], utc("2026-07-06T08:00:00Z"));
        // 08:30Z would block until 09:15Z, overlapping the 09:00Z visit; 09:00Z is taken;
        // 09:30Z starts inside the cleanup; 10:00Z is the next free start.
        assert_eq!(slots[1], utc("2026-07-06T10:00:00Z"));
        let late = day_slots(&s, date("2026-07-06"), 30, &[], utc("2026-07-06T15:00:00Z"));
        assert_eq!(late, [utc("2026-07-06T15:30:00Z")]);
    }

    #[test]
    fn closures_weekends_and_hours_are_respected() {
        let mut s = settings("Australia/Sydney", 0);
        s.closures = vec![date("2026-12-25")];
        let now = utc("2026-01-01T00:00:00Z");
        assert!(day_slots(&s, date("2026-12-25"), 30, &[], now).is_empty());
        assert!(day_slots(&s, date("2026-12-26"), 30, &[], now).is_empty()); // Saturday
        // Monday 2026-12-28 09:00 AEDT = 2026-12-27T22:00Z.
        assert!(within_hours(&s, utc("2026-12-27T22:00:00Z"), 30));
        assert!(!within_hours(&s, utc("2026-12-28T05:45:00Z"), 30)); // 16:45 + 30 > 17:00
        assert!(!within_hours(&s, utc("2026-12-27T21:59:00Z"), 30));
    }

    #[test]
    fn today_and_tomorrow_are_the_clinics() {
        let tz: Tz = "Pacific/Auckland".parse().unwrap();
        // 2026-06-30T20:00Z is already July 1st in Auckland (UTC+12).
        let now = utc("2026-06-30T20:00:00Z");
        assert_eq!(resolve_date("today", tz, now).unwrap(), date("2026-07-01"));
        assert_eq!(
            resolve_date("Tomorrow", tz, now).unwrap(),
            date("2026-07-02")
        );
        assert_eq!(
            resolve_date("2026-08-01", tz, now).unwrap(),
            date("2026-08-01")
        );
        assert!(resolve_date("next week", tz, now).is_err());
    }
}
