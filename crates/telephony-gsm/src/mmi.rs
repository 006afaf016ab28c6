//! Call-forwarding MMI codes per 3GPP TS 22.030 (the telephony contract, C.1).
//!
//! - Procedures (§6.5.2): activation `*SC*SI#`, deactivation `#SC*SI#`, interrogation
//!   `*#SC*SI#`, registration `**SC*SI#`, erasure `##SC*SI#`. For call forwarding `SI` is
//!   `DN*BS*T`; empty trailing fields are left out and an empty middle field stays empty
//!   (`**61*DN**20#`).
//! - Service codes (Annex B): 21 CFU, 67 CF busy, 61 CF no reply, 62 CF not reachable,
//!   002 all CF, 004 all conditional CF. Only 61, 002 and 004 take the no-reply timer `T`.
//! - Basic service 11 is telephony (voice) — not "all teleservices", which is 10 (Annex C).
//! - `T` is 5–30 s (Annex B; TS 29.002 `NoReplyConditionTime ::= INTEGER (5..30)`); the seed's
//!   5–60 is invalid. Handsets and carriers offer it in steps of 5 s (carrier practice, not found
//!   in a 3GPP text), so this crate accepts 5, 10, 15, 20, 25 and 30.
//! - `#SC#` only deactivates (the number stays registered); `##SC#` erases it.

use crate::E164;

/// The telephony (voice) basic service group (TS 22.030 Annex C).
pub const BASIC_SERVICE_TELEPHONY: &str = "11";

/// A call-forwarding supplementary service code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceCode {
    /// 21: forward every call.
    Unconditional,
    /// 67: forward when busy.
    Busy,
    /// 61: forward when not answered in time.
    NoReply,
    /// 62: forward when unreachable (off, no coverage).
    NotReachable,
    /// 002: all call forwarding.
    All,
    /// 004: all conditional call forwarding (busy, no reply, not reachable).
    AllConditional,
}

impl ServiceCode {
    /// The digits of the code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Unconditional => "21",
            Self::Busy => "67",
            Self::NoReply => "61",
            Self::NotReachable => "62",
            Self::All => "002",
            Self::AllConditional => "004",
        }
    }

    /// Whether the service takes the no-reply timer (61, 002, 004).
    #[must_use]
    pub fn takes_timer(self) -> bool {
        matches!(self, Self::NoReply | Self::All | Self::AllConditional)
    }
}

/// An MMI procedure (TS 22.030 §6.5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Procedure {
    /// `*SC#`: turn on a registered forwarding.
    Activation,
    /// `#SC#`: turn off, keeping the registered number.
    Deactivation,
    /// `*#SC#`: ask the network for the current state.
    Interrogation,
    /// `**SC*DN*BS*T#`: register a number (and activate).
    Registration,
    /// `##SC#`: turn off and remove the registered number.
    Erasure,
}

impl Procedure {
    /// The prefix the procedure starts with.
    #[must_use]
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Activation => "*",
            Self::Deactivation => "#",
            Self::Interrogation => "*#",
            Self::Registration => "**",
            Self::Erasure => "##",
        }
    }
}

/// The no-reply condition timer: how long the phone rings before forwarding, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct NoReplyTimer(u8);

/// The timer values accepted, in seconds.
pub const ALLOWED_RING_SECONDS: [u8; 6] = [5, 10, 15, 20, 25, 30];

/// A ring time outside [`ALLOWED_RING_SECONDS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a ring time of {0} s is not possible: networks accept 5, 10, 15, 20, 25 or 30 seconds (3GPP TS 22.030)"
)]
pub struct InvalidRingTime(pub u32);

impl NoReplyTimer {
    /// A timer of `seconds`.
    ///
    /// # Errors
    /// [`InvalidRingTime`] (its message lists the allowed values).
    pub fn new(seconds: u32) -> Result<Self, InvalidRingTime> {
        ALLOWED_RING_SECONDS
            .iter()
            .find(|&&s| u32::from(s) == seconds)
            .map(|&s| Self(s))
            .ok_or(InvalidRingTime(seconds))
    }

    /// The seconds.
    #[must_use]
    pub fn seconds(self) -> u8 {
        self.0
    }
}

/// A procedure without supplementary information: `*SC#`, `#SC#`, `*#SC#`, `##SC#`
/// (registration needs a number: use [`registration`]).
#[must_use]
pub fn code(procedure: Procedure, service: ServiceCode) -> String {
    format!("{}{}#", procedure.prefix(), service.code())
}

/// Registration `**SC*DN*BS*T#` with the telephony basic service, and the timer where the
/// service takes one (ignored otherwise). Trailing empty fields are left out.
#[must_use]
pub fn registration(service: ServiceCode, number: &E164, timer: Option<NoReplyTimer>) -> String {
    let mut out = format!("**{}*{}*{BASIC_SERVICE_TELEPHONY}", service.code(), number);
    if let Some(timer) = timer.filter(|_| service.takes_timer()) {
        out.push('*');
        out.push_str(&timer.seconds().to_string());
    }
    out.push('#');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_procedures() {
        let dn = E164::parse("+15550109999").unwrap();
        let t = NoReplyTimer::new(20).unwrap();
        assert_eq!(
            registration(ServiceCode::Unconditional, &dn, None),
            "**21*+15550109999*11#"
        );
        assert_eq!(
            registration(ServiceCode::NoReply, &dn, Some(t)),
            "**61*+15550109999*11*20#"
        );
        assert_eq!(
            registration(ServiceCode::AllConditional, &dn, Some(t)),
            "**004*+15550109999*11*20#"
        );
        // A timer is meaningless for busy: left out.
        assert_eq!(
            registration(ServiceCode::Busy, &dn, Some(t)),
            "**67*+15550109999*11#"
        );
        assert_eq!(
            code(Procedure::Deactivation, ServiceCode::Unconditional),
            "#21#"
        );
        assert_eq!(
            code(Procedure::Erasure, ServiceCode::Unconditional),
            "##21#"
        );
        assert_eq!(
            code(Procedure::Interrogation, ServiceCode::NoReply),
            "*#61#"
        );
        assert_eq!(code(Procedure::Activation, ServiceCode::Busy), "*67#");
        assert_eq!(code(Procedure::Erasure, ServiceCode::All), "##002#");
    }

    #[test]
    fn ring_times_are_five_to_thirty_in_steps_of_five() {
        for ok in [5, 10, 15, 20, 25, 30] {
            assert_eq!(u32::from(NoReplyTimer::new(ok).unwrap().seconds()), ok);
        }
        for bad in [0, 4, 7, 31, 35, 45, 60] {
            let err = NoReplyTimer::new(bad).unwrap_err();
            assert!(err.to_string().contains("5, 10, 15, 20, 25 or 30"), "{err}");
        }
    }
}
