//! Softphone call legs and their realtime events (seed 002 "WebSocket API Events":
//! `call_answered` "when any user answers an incoming call (used to dismiss popups on other
//! devices)", `user_call_started` "when a user answers a call", `user_call_ended` "when a user
//! ends a call").
//!
//! Every `<Client>` leg the routing dials reports `ringing`, `answered` (`CallStatus` =
//! `in-progress`) and `completed` (or `busy` / `no-answer` / `canceled` / `failed`) to the
//! status callback. A leg's row in `softphone_calls` only moves forward (ringing < answered <
//! completed); the events of a transition are published in the transaction that makes it, so a
//! callback Twilio repeats, or one that arrives late, publishes nothing twice. A leg that ends
//! without being answered (another softphone took the call, or no one did) publishes nothing.
//!
//! Payloads, to the organization's signed-in users of every role:
//! - `{"type": "call_answered", "call_sid", "leg_sid", "user_id", "user_name", "extension",
//!   "from_number", "timestamp"}` and `{"type": "user_call_started", …the same fields}`;
//! - `{"type": "user_call_ended", …the same fields, "duration_seconds"}`.
//!
//! `call_sid` is the caller's call (Twilio's `ParentCallSid`), the same on every device's
//! incoming-call popup; `timestamp` is RFC 3339 UTC with milliseconds.

use crate::schema::softphone_calls;
use chrono::{DateTime, Utc};
use db::TenantTx;
use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use serde_json::json;

use crate::routing::{CLIENT_PREFIX, Member};
use crate::{SignedForm, SoftphoneError};

/// Who receives softphone events: every signed-in user of the organization.
const AUDIENCE: realtime::Audience = realtime::Audience::Users { min_role: "user" };

/// Where a softphone leg is; ordered, and a leg only moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LegStatus {
    /// Twilio is ringing the softphone (`initiated`, `queued`, `ringing`).
    Ringing,
    /// The user answered (`in-progress`).
    Answered,
    /// The leg is over (`completed`, `busy`, `no-answer`, `canceled`, `failed`).
    Completed,
}

impl LegStatus {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ringing => "ringing",
            Self::Answered => "answered",
            Self::Completed => "completed",
        }
    }

    fn from_stored(s: &str) -> Self {
        match s {
            "answered" => Self::Answered,
            "completed" => Self::Completed,
            _ => Self::Ringing,
        }
    }

    /// Maps Twilio's `CallStatus` (call resource "Call Status Values").
    ///
    /// # Errors
    /// [`SoftphoneError::Invalid`] for any other value.
    pub fn from_twilio(call_status: &str) -> Result<Self, SoftphoneError> {
        match call_status {
            "queued" | "initiated" | "ringing" => Ok(Self::Ringing),
            "in-progress" | "answered" => Ok(Self::Answered),
            "completed" | "busy" | "no-answer" | "canceled" | "failed" => Ok(Self::Completed),
            other => Err(SoftphoneError::Invalid(format!(
                "unknown CallStatus {other:?}"
            ))),
        }
    }
}

/// One status callback of a softphone leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegUpdate {
    /// The leg's `CallSid` (`CA` + 32 hex).
    pub leg_sid: String,
    /// The caller's call, `ParentCallSid`, when Twilio sends it.
    pub parent_call_sid: Option<String>,
    /// The softphone's identity (the extension), from `To` = `client:<extension>`.
    pub extension: String,
    /// `From`: who is calling.
    pub from_number: Option<String>,
    /// The leg's new status.
    pub status: LegStatus,
    /// `CallDuration` in seconds, on completion.
    pub duration_seconds: Option<i32>,
    /// When it was received (UTC).
    pub at: DateTime<Utc>,
}

impl LegUpdate {
    /// Reads a `<Client>` status callback's parameters.
    ///
    /// # Errors
    /// [`SoftphoneError::Invalid`] when `CallSid` is not a call sid, `CallStatus` is unknown,
    /// `To` is not a `client:<2-8 digits>` identity, or `ParentCallSid` / `CallDuration` is
    /// malformed.
    pub fn from_request(request: &SignedForm) -> Result<Self, SoftphoneError> {
        let invalid = |m: &str| SoftphoneError::Invalid(m.to_owned());
        let leg_sid = request
            .param("CallSid")
            .filter(|s| twilio_client::is_sid(s, "CA"))
            .ok_or_else(|| invalid("CallSid must be CA followed by 32 hex characters"))?
            .to_owned();
        let parent_call_sid = match request.param("ParentCallSid").filter(|s| !s.is_empty()) {
            None => None,
            Some(s) if twilio_client::is_sid(s, "CA") => Some(s.to_owned()),
            Some(_) => return Err(invalid("ParentCallSid must be a call sid")),
        };
        let status = LegStatus::from_twilio(
            request
                .param("CallStatus")
                .ok_or_else(|| invalid("CallStatus is required"))?,
        )?;
        let extension = request
            .param("To")
            .and_then(|to| to.strip_prefix(CLIENT_PREFIX))
            .filter(|e| (2..=8).contains(&e.len()) && e.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| invalid("To must be a softphone identity, client:<extension>"))?
            .to_owned();
        let duration_seconds = match request.param("CallDuration").filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(
                s.parse::<i32>()
                    .ok()
                    .filter(|d| *d >= 0)
                    .ok_or_else(|| invalid("CallDuration must be whole seconds"))?,
            ),
        };
        Ok(Self {
            leg_sid,
            parent_call_sid,
            extension,
            from_number: request
                .param("From")
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            status,
            duration_seconds,
            at: Utc::now(),
        })
    }
}

/// The organization's active users with an extension, by extension.
///
/// # Errors
/// A database error.
pub async fn directory(tx: &mut TenantTx) -> Result<Vec<Member>, SoftphoneError> {
    Ok(tenancy::users::extension_directory(tx)
        .await?
        .into_iter()
        .map(|(user_id, name, extension)| Member {
            user_id,
            name,
            extension,
        })
        .collect())
}

/// Applies one status callback in the caller's tenant transaction and publishes the events of
/// the transition it makes, if any. Returns the leg's status afterwards.
///
/// # Errors
/// A database error.
pub async fn apply(tx: &mut TenantTx, update: &LegUpdate) -> Result<LegStatus, SoftphoneError> {
    let org = tx.org();
    let user = tenancy::users::by_extension(tx, &update.extension).await?;
    diesel::insert_into(softphone_calls::table)
        .values((
            softphone_calls::org_id.eq(org.0),
            softphone_calls::leg_sid.eq(&update.leg_sid),
            softphone_calls::parent_call_sid.eq(&update.parent_call_sid),
            softphone_calls::user_id.eq(user.as_ref().map(|u| u.0)),
            softphone_calls::extension.eq(&update.extension),
            softphone_calls::from_number.eq(&update.from_number),
            softphone_calls::status.eq(LegStatus::Ringing.as_str()),
        ))
        .on_conflict_do_nothing()
        .execute(tx)
        .await?;
    let (stored, answered_at): (String, Option<DateTime<Utc>>) = softphone_calls::table
        .filter(softphone_calls::org_id.eq(org.0))
        .filter(softphone_calls::leg_sid.eq(&update.leg_sid))
        .select((softphone_calls::status, softphone_calls::answered_at))
        .for_update()
        .first(tx)
        .await?;
    let previous = LegStatus::from_stored(&stored);
    if update.status <= previous {
        return Ok(previous);
    }
    let row = softphone_calls::table
        .filter(softphone_calls::org_id.eq(org.0))
        .filter(softphone_calls::leg_sid.eq(&update.leg_sid));
    let base = json!({
        "call_sid": update.parent_call_sid.as_deref().unwrap_or(&update.leg_sid),
        "leg_sid": update.leg_sid,
        "user_id": user.as_ref().map(|u| u.0),
        "user_name": user.as_ref().map(|u| u.1.as_str()),
        "extension": update.extension,
        "from_number": update.from_number,
        "timestamp": db::timestamp::iso(update.at),
    });
    match update.status {
        LegStatus::Ringing => {}
        LegStatus::Answered => {
            diesel::update(row)
                .set((
                    softphone_calls::status.eq(LegStatus::Answered.as_str()),
                    softphone_calls::answered_at.eq(update.at),
                ))
                .execute(tx)
                .await?;
            publish(tx, "call_answered", &base, None).await?;
            publish(tx, "user_call_started", &base, None).await?;
        }
        LegStatus::Completed => {
            diesel::update(row)
                .set((
                    softphone_calls::status.eq(LegStatus::Completed.as_str()),
                    softphone_calls::ended_at.eq(update.at),
                    softphone_calls::duration_seconds.eq(update.duration_seconds),
                ))
                .execute(tx)
                .await?;
            let was_answered = answered_at.is_some() || update.duration_seconds.unwrap_or(0) > 0;
            if was_answered {
                let duration = update.duration_seconds.or_else(|| {
                    answered_at.map(|t| {
                        i32::try_from((update.at - t).num_seconds().max(0)).unwrap_or(i32::MAX)
                    })
                });
                publish(tx, "user_call_ended", &base, duration).await?;
            }
        }
    }
    Ok(update.status)
}

async fn publish(
    tx: &mut TenantTx,
    kind: &str,
    base: &serde_json::Value,
    duration_seconds: Option<i32>,
) -> Result<(), SoftphoneError> {
    let mut payload = json!({ "type": kind });
    if let (Some(object), Some(fields)) = (payload.as_object_mut(), base.as_object()) {
        object.extend(fields.clone());
        if kind == "user_call_ended" {
            object.insert("duration_seconds".into(), json!(duration_seconds));
        }
    }
    realtime::outbox::publish(
        tx,
        realtime::RealtimeEvent {
            audience: AUDIENCE,
            target_crm_user: None,
            payload,
        },
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn request(pairs: &[(&str, &str)]) -> SignedForm {
        SignedForm {
            url: String::new(),
            params: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            signature: String::new(),
        }
    }

    const LEG: &str = "CA0123456789abcdef0123456789abcdef";

    #[test]
    fn reads_a_client_leg_callback() {
        let u = LegUpdate::from_request(&request(&[
            ("CallSid", LEG),
            ("ParentCallSid", "CAffffffffffffffffffffffffffffffff"),
            ("CallStatus", "completed"),
            ("To", "client:101"),
            ("From", "+15557654321"),
            ("CallDuration", "42"),
        ]))
        .unwrap();
        assert_eq!(u.status, LegStatus::Completed);
        assert_eq!(u.extension, "101");
        assert_eq!(u.duration_seconds, Some(42));
        assert_eq!(u.from_number.as_deref(), Some("+15557654321"));
    }

    #[test]
    fn refuses_what_twilio_never_sends_for_a_softphone_leg() {
        for bad in [
            vec![
                ("CallSid", "nope"),
                ("CallStatus", "ringing"),
                ("To", "client:101"),
            ],
            vec![
                ("CallSid", LEG),
                ("CallStatus", "exploded"),
                ("To", "client:101"),
            ],
            vec![
                ("CallSid", LEG),
                ("CallStatus", "ringing"),
                ("To", "+15551234567"),
            ],
            vec![
                ("CallSid", LEG),
                ("CallStatus", "ringing"),
                ("To", "client:alice"),
            ],
            vec![
                ("CallSid", LEG),
                ("CallStatus", "completed"),
                ("To", "client:101"),
                ("CallDuration", "-1"),
            ],
        ] {
            assert!(
                matches!(
                    LegUpdate::from_request(&request(&bad)),
                    Err(SoftphoneError::Invalid(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn statuses_only_move_forward_in_this_order() {
        assert!(LegStatus::Ringing < LegStatus::Answered);
        assert!(LegStatus::Answered < LegStatus::Completed);
        for (twilio, ours) in [
            ("initiated", LegStatus::Ringing),
            ("in-progress", LegStatus::Answered),
            ("no-answer", LegStatus::Completed),
            ("canceled", LegStatus::Completed),
        ] {
            assert_eq!(LegStatus::from_twilio(twilio).unwrap(), ours);
        }
    }
}
