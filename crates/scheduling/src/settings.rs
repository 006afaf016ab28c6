//! The clinic's scheduling settings: IANA time zone, weekly business hours (local), closures
//! (local dates), the buffer after each visit (minutes), the slot grid (minutes) and whether
//! bookings wait for approval (seed 003 §7 open question "Draft appointments"). Without a stored
//! row an organization has [`Settings::default`]: UTC, Monday–Friday 09:00–17:00, no buffer,
//! 30-minute grid, autonomous booking.

use crate::schema::scheduling_settings;
use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;
use db::TenantTx;
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl};
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};

use crate::SchedulingError;

/// One opening window of a weekday, local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessHours {
    /// ISO weekday: Monday = 1 … Sunday = 7.
    pub weekday: u8,
    /// Opening, `HH:MM`.
    #[serde(with = "hhmm")]
    pub opens: NaiveTime,
    /// Closing, `HH:MM` (after `opens`).
    #[serde(with = "hhmm")]
    pub closes: NaiveTime,
}

mod hhmm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.format("%H:%M").to_string())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let raw = String::deserialize(d)?;
        NaiveTime::parse_from_str(&raw, "%H:%M")
            .map_err(|_| serde::de::Error::custom("times are HH:MM"))
    }
}

/// An organization's scheduling settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// IANA zone the hours, closures, "today" and "tomorrow" are in.
    pub time_zone: Tz,
    /// Opening windows.
    pub business_hours: Vec<BusinessHours>,
    /// Local dates the clinic is closed.
    pub closures: Vec<NaiveDate>,
    /// Minutes kept free after each visit (cleanup), 0–240.
    pub buffer_minutes: i32,
    /// Minutes between offered slot starts, 5–240.
    pub slot_step_minutes: i32,
    /// Bookings start `pending` (a draft the clinic approves) instead of `confirmed`.
    pub require_approval: bool,
}

impl Default for Settings {
    fn default() -> Self {
        let at = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap_or(NaiveTime::MIN);
        Self {
            time_zone: Tz::UTC,
            business_hours: (1..=5)
                .map(|weekday| BusinessHours {
                    weekday,
                    opens: at(9),
                    closes: at(17),
                })
                .collect(),
            closures: Vec::new(),
            buffer_minutes: 0,
            slot_step_minutes: 30,
            require_approval: false,
        }
    }
}

impl Settings {
    /// Checks the rules above.
    ///
    /// # Errors
    /// [`SchedulingError::Invalid`] naming the broken rule.
    pub fn validate(&self) -> Result<(), SchedulingError> {
        let invalid = |m: &str| Err(SchedulingError::Invalid(m.to_owned()));
        if !(0..=240).contains(&self.buffer_minutes) {
            return invalid("buffer_minutes must be 0-240");
        }
        if !(5..=240).contains(&self.slot_step_minutes) {
            return invalid("slot_step_minutes must be 5-240");
        }
        for (i, w) in self.business_hours.iter().enumerate() {
            if !(1..=7).contains(&w.weekday) {
                return invalid("weekday must be 1 (Monday) to 7 (Sunday)");
            }
            if w.closes <= w.opens {
                return invalid("a window must close after it opens");
            }
            let overlapping = self.business_hours[i + 1..]
                .iter()
                .any(|o| o.weekday == w.weekday && o.opens < w.closes && w.opens < o.closes);
            if overlapping {
                return invalid("windows of one weekday must not overlap");
            }
        }
        Ok(())
    }
}

/// Parses an IANA time zone name.
///
/// # Errors
/// [`SchedulingError::Invalid`].
pub fn parse_time_zone(name: &str) -> Result<Tz, SchedulingError> {
    name.trim().parse::<Tz>().map_err(|_| {
        SchedulingError::Invalid(format!(
            "time_zone must be an IANA zone such as America/New_York, not {name:?}"
        ))
    })
}

type Row = (
    String,
    serde_json::Value,
    Vec<Option<NaiveDate>>,
    i32,
    i32,
    bool,
);

/// The organization's settings (defaults when none are stored), inside its tenant transaction.
///
/// # Errors
/// [`SchedulingError::Db`]; a stored row that no longer parses is a database error.
pub async fn get(tx: &mut TenantTx) -> Result<Settings, SchedulingError> {
    let org = tx.org();
    let row: Option<Row> = scheduling_settings::table
        .filter(scheduling_settings::org_id.eq(org.0))
        .select((
            scheduling_settings::time_zone,
            scheduling_settings::business_hours,
            scheduling_settings::closures,
            scheduling_settings::buffer_minutes,
            scheduling_settings::slot_step_minutes,
            scheduling_settings::require_approval,
        ))
        .first(tx)
        .await
        .optional()?;
    let Some((tz, hours, closures, buffer, step, approval)) = row else {
        return Ok(Settings::default());
    };
    Ok(Settings {
        time_zone: parse_time_zone(&tz)?,
        business_hours: serde_json::from_value(hours)
            .map_err(|e| SchedulingError::Invalid(format!("stored business hours: {e}")))?,
        closures: closures.into_iter().flatten().collect(),
        buffer_minutes: buffer,
        slot_step_minutes: step,
        require_approval: approval,
    })
}

/// Replaces the organization's settings and reads them back as stored (closures sorted and
/// without repeats).
///
/// # Errors
/// As [`put`] and [`get`].
pub async fn replace(tx: &mut TenantTx, settings: &Settings) -> Result<Settings, SchedulingError> {
    put(tx, settings).await?;
    get(tx).await
}

/// Stores the organization's settings.
///
/// # Errors
/// [`SchedulingError::Invalid`], [`SchedulingError::Db`].
pub async fn put(tx: &mut TenantTx, settings: &Settings) -> Result<(), SchedulingError> {
    let org = tx.org();
    settings.validate()?;
    let hours = serde_json::to_value(&settings.business_hours)
        .map_err(|e| SchedulingError::Invalid(e.to_string()))?;
    let mut closures = settings.closures.clone();
    closures.sort();
    closures.dedup();
    let columns = (
        scheduling_settings::time_zone.eq(settings.time_zone.name()),
        scheduling_settings::business_hours.eq(&hours),
        scheduling_settings::closures.eq(&closures),
        scheduling_settings::buffer_minutes.eq(settings.buffer_minutes),
        scheduling_settings::slot_step_minutes.eq(settings.slot_step_minutes),
        scheduling_settings::require_approval.eq(settings.require_approval),
    );
    diesel::insert_into(scheduling_settings::table)
        .values((scheduling_settings::org_id.eq(org.0), columns))
        .on_conflict(scheduling_settings::org_id)
        .do_update()
        .set(columns)
        .execute(tx)
        .await?;
    Ok(())
}
