//! Carrier profiles: what a person dials to forward their mobile line to the AI (seed 001 §17.2
//! RULE 2 and §17.5, corrected by 3GPP; the telephony contract, C.1–C.3).
//!
//! Modes (the seed's vocabulary): `total_ai` forwards every call; `safety_net` forwards the calls
//! the person does not take.
//!
//! | carrier | total_ai | safety_net | stop |
//! |---|---|---|---|
//! | AT&T, other GSM, international | `**21*DN*11#` | `**004*DN*11*T#` | `##21#` / `##004#` |
//! | T-Mobile, Sprint (on T-Mobile's network) | `**21*DN*11#` | `**61*DN*11*T#`, `**67*DN*11#`, `**62*DN*11#` | `##21#` / `##004#` |
//! | Verizon | `*72` + 10 digits | `*71` + 10 digits | `*73` |
//! | other CDMA | `*72` + 10 digits | not offered | `*73` |
//!
//! Where this departs from the seed's table, and why:
//! - Ring time is 5–30 s (3GPP), not 5–60.
//! - A safety net covers busy and unreachable as well as no-reply: `**004*` (all conditional)
//!   instead of `**61*` alone. T-Mobile is given the three legs separately, because `**004*` has
//!   been reported to confirm while registering the no-reply leg only (contracts C.2).
//! - Every GSM code uses the registration form `**` with basic service 11 (telephony, not "all
//!   teleservices"); the seed's single-star AT&T forms are equivalent (registration when a number
//!   is given).
//! - Stopping uses erasure `##SC#`, which also removes the number; `#SC#` would only deactivate
//!   and leave it registered.
//! - CDMA codes take the 10-digit national number, not `+1…` (contracts C.2); they have no
//!   ring-time setting and no status code. `*71` is Verizon's own code, so other CDMA carriers
//!   get no safety-net code rather than a guess.

use serde::{Deserialize, Serialize};

use crate::E164;
use crate::mmi::{self, InvalidRingTime, NoReplyTimer, Procedure, ServiceCode};

/// Ring time used for a safety net when none is given, in seconds (seed 001 §17.3 default).
pub const DEFAULT_RING_SECONDS: u32 = 25;

/// A mobile carrier profile (seed 001 §17.3 `carrier` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Carrier {
    /// AT&T (GSM).
    Att,
    /// T-Mobile (GSM).
    #[serde(rename = "tmobile")]
    TMobile,
    /// Verizon (CDMA heritage codes).
    Verizon,
    /// Sprint, now on T-Mobile's network: T-Mobile's codes.
    Sprint,
    /// Any other GSM carrier: standard 3GPP codes.
    OtherGsm,
    /// Any other CDMA carrier.
    OtherCdma,
    /// A carrier outside North America: standard 3GPP codes.
    International,
}

impl Carrier {
    /// Every carrier profile.
    pub const ALL: [Self; 7] = [
        Self::Att,
        Self::TMobile,
        Self::Verizon,
        Self::Sprint,
        Self::OtherGsm,
        Self::OtherCdma,
        Self::International,
    ];

    /// The stored name: `att`, `tmobile`, `verizon`, `sprint`, `other_gsm`, `other_cdma`,
    /// `international`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Att => "att",
            Self::TMobile => "tmobile",
            Self::Verizon => "verizon",
            Self::Sprint => "sprint",
            Self::OtherGsm => "other_gsm",
            Self::OtherCdma => "other_cdma",
            Self::International => "international",
        }
    }

    /// The name shown to people.
    #[must_use]
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Att => "AT&T",
            Self::TMobile => "T-Mobile",
            Self::Verizon => "Verizon",
            Self::Sprint => "Sprint",
            Self::OtherGsm => "your carrier",
            Self::OtherCdma => "your carrier",
            Self::International => "your carrier",
        }
    }

    /// Whether the carrier uses CDMA-style star codes.
    #[must_use]
    pub fn is_cdma(self) -> bool {
        matches!(self, Self::Verizon | Self::OtherCdma)
    }
}

impl std::str::FromStr for Carrier {
    type Err = PlanError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| PlanError::UnknownCarrier(s.to_owned()))
    }
}

/// How much to forward (seed 001 §17.3 `forwarding_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForwardingMode {
    /// Every call goes to the AI.
    TotalAi,
    /// Calls not taken (no answer, busy, unreachable) go to the AI.
    SafetyNet,
}

impl ForwardingMode {
    /// `total_ai` or `safety_net`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TotalAi => "total_ai",
            Self::SafetyNet => "safety_net",
        }
    }
}

impl std::str::FromStr for ForwardingMode {
    type Err = PlanError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "total_ai" => Ok(Self::TotalAi),
            "safety_net" => Ok(Self::SafetyNet),
            other => Err(PlanError::UnknownMode(other.to_owned())),
        }
    }
}

/// Why no plan can be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The ring time is not one networks accept.
    #[error(transparent)]
    RingTime(#[from] InvalidRingTime),
    /// CDMA codes need a North American number.
    #[error("{} forwarding codes need a North American (+1) destination number", .0.display_name())]
    NeedsNanpNumber(Carrier),
    /// The combination has no reliable code.
    #[error(
        "conditional forwarding codes differ between CDMA carriers; ask your carrier for its no-answer forwarding code, or use total_ai"
    )]
    SafetyNetUnsupported,
    /// Not a carrier profile.
    #[error(
        "unknown carrier {0:?}: expected att, tmobile, verizon, sprint, other_gsm, other_cdma or international"
    )]
    UnknownCarrier(String),
    /// Not a mode.
    #[error("unknown forwarding type {0:?}: expected total_ai or safety_net")]
    UnknownMode(String),
}

/// What the person dials, in order, to set up forwarding, to stop it and to check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForwardingPlan {
    /// The carrier profile.
    pub carrier: Carrier,
    /// The mode.
    pub mode: ForwardingMode,
    /// Codes to dial, in order (one per call).
    pub activation_codes: Vec<String>,
    /// The code that stops forwarding (erasure on GSM, `*73` on CDMA).
    pub deactivation_code: String,
    /// Interrogation codes that show each leg's state (none on CDMA).
    pub check_codes: Vec<String>,
    /// The ring time set, in seconds (GSM safety net only).
    pub ring_time_seconds: Option<u8>,
    /// Step-by-step instructions for the person.
    pub instructions: Vec<String>,
    /// Caveats worth showing.
    pub notes: Vec<String>,
}

/// Makes the plan for forwarding a mobile line on `carrier` to `destination` (the organization's
/// AI number). `ring_time_seconds` matters for a GSM safety net only (default
/// [`DEFAULT_RING_SECONDS`]); it is ignored for `total_ai`.
///
/// # Errors
/// [`PlanError::RingTime`] for a ring time outside 5–30 s in steps of 5 (GSM safety net);
/// [`PlanError::NeedsNanpNumber`] for a CDMA carrier and a non-`+1` destination;
/// [`PlanError::SafetyNetUnsupported`] for a safety net on another CDMA carrier.
pub fn plan(
    carrier: Carrier,
    mode: ForwardingMode,
    destination: &E164,
    ring_time_seconds: Option<u32>,
) -> Result<ForwardingPlan, PlanError> {
    if carrier.is_cdma() {
        cdma_plan(carrier, mode, destination, ring_time_seconds)
    } else {
        gsm_plan(carrier, mode, destination, ring_time_seconds)
    }
}

fn gsm_plan(
    carrier: Carrier,
    mode: ForwardingMode,
    destination: &E164,
    ring_time_seconds: Option<u32>,
) -> Result<ForwardingPlan, PlanError> {
    let mut notes = Vec::new();
    let (activation_codes, deactivation_code, check_codes, ring) = match mode {
        ForwardingMode::TotalAi => (
            vec![mmi::registration(
                ServiceCode::Unconditional,
                destination,
                None,
            )],
            mmi::code(Procedure::Erasure, ServiceCode::Unconditional),
            vec![mmi::code(
                Procedure::Interrogation,
                ServiceCode::Unconditional,
            )],
            None,
        ),
        ForwardingMode::SafetyNet => {
            let timer = NoReplyTimer::new(ring_time_seconds.unwrap_or(DEFAULT_RING_SECONDS))?;
            let activation = if matches!(carrier, Carrier::TMobile | Carrier::Sprint) {
                notes.push(
                    "T-Mobile has been seen confirming the all-conditional code while setting only the \
                     no-answer leg, so each leg is set on its own."
                        .to_owned(),
                );
                vec![
                    mmi::registration(ServiceCode::NoReply, destination, Some(timer)),
                    mmi::registration(ServiceCode::Busy, destination, None),
                    mmi::registration(ServiceCode::NotReachable, destination, None),
                ]
            } else {
                vec![mmi::registration(
                    ServiceCode::AllConditional,
                    destination,
                    Some(timer),
                )]
            };
            (
                activation,
                mmi::code(Procedure::Erasure, ServiceCode::AllConditional),
                [
                    ServiceCode::NoReply,
                    ServiceCode::Busy,
                    ServiceCode::NotReachable,
                ]
                .map(|sc| mmi::code(Procedure::Interrogation, sc))
                .to_vec(),
                Some(timer.seconds()),
            )
        }
    };
    let mut instructions = vec!["Open your phone's dialer (the keypad you call from).".to_owned()];
    for code in &activation_codes {
        instructions.push(format!(
            "Dial {code} and press Call; wait for the confirmation on screen."
        ));
    }
    instructions.push(format!(
        "To check, dial {} — each should show forwarding to {destination}.",
        check_codes.join(", ")
    ));
    instructions.push("Return to the dashboard and click Confirm Setup.".to_owned());
    Ok(ForwardingPlan {
        carrier,
        mode,
        activation_codes,
        deactivation_code,
        check_codes,
        ring_time_seconds: ring,
        instructions,
        notes,
    })
}

fn cdma_plan(
    carrier: Carrier,
    mode: ForwardingMode,
    destination: &E164,
    ring_time_seconds: Option<u32>,
) -> Result<ForwardingPlan, PlanError> {
    let national = destination
        .nanp_national()
        .ok_or(PlanError::NeedsNanpNumber(carrier))?;
    let mut notes = vec![
        "CDMA codes have no status check: call your mobile from another phone to test forwarding."
            .to_owned(),
    ];
    let code = match mode {
        ForwardingMode::TotalAi => format!("*72{national}"),
        ForwardingMode::SafetyNet if carrier == Carrier::Verizon => {
            if ring_time_seconds.is_some() {
                notes.push("Verizon does not let you choose a ring time; its own delay (about 30 s) applies.".to_owned());
            }
            format!("*71{national}")
        }
        ForwardingMode::SafetyNet => return Err(PlanError::SafetyNetUnsupported),
    };
    let instructions = vec![
        "Open your phone's dialer (the keypad you call from).".to_owned(),
        format!(
            "Dial {code} and press Call; wait for the confirmation tone or message, then hang up."
        ),
        "Call your mobile from another phone to check that the AI answers.".to_owned(),
        "Return to the dashboard and click Confirm Setup.".to_owned(),
    ];
    Ok(ForwardingPlan {
        carrier,
        mode,
        activation_codes: vec![code],
        deactivation_code: "*73".to_owned(),
        check_codes: Vec::new(),
        ring_time_seconds: None,
        instructions,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dn() -> E164 {
        E164::parse("+15550109999").unwrap()
    }

    #[test]
    fn the_seed_examples_corrected() {
        let p = plan(Carrier::TMobile, ForwardingMode::TotalAi, &dn(), None).unwrap();
        assert_eq!(p.activation_codes, ["**21*+15550109999*11#"]);
        assert_eq!(p.deactivation_code, "##21#");
        assert_eq!(p.check_codes, ["*#21#"]);

        let p = plan(Carrier::Att, ForwardingMode::SafetyNet, &dn(), Some(20)).unwrap();
        assert_eq!(p.activation_codes, ["**004*+15550109999*11*20#"]);
        assert_eq!(p.deactivation_code, "##004#");
        assert_eq!(p.check_codes, ["*#61#", "*#67#", "*#62#"]);
        assert_eq!(p.ring_time_seconds, Some(20));

        let p = plan(Carrier::TMobile, ForwardingMode::SafetyNet, &dn(), None).unwrap();
        assert_eq!(
            p.activation_codes,
            [
                "**61*+15550109999*11*25#",
                "**67*+15550109999*11#",
                "**62*+15550109999*11#"
            ]
        );

        let p = plan(Carrier::Verizon, ForwardingMode::TotalAi, &dn(), None).unwrap();
        assert_eq!(
            (p.activation_codes[0].as_str(), p.deactivation_code.as_str()),
            ("*725550109999", "*73")
        );
        let p = plan(Carrier::Verizon, ForwardingMode::SafetyNet, &dn(), Some(20)).unwrap();
        assert_eq!(p.activation_codes, ["*715550109999"]);
        assert_eq!(p.ring_time_seconds, None);
        assert!(p.notes.iter().any(|n| n.contains("ring time")));
    }

    #[test]
    fn invalid_combinations_say_why() {
        let err = plan(Carrier::Att, ForwardingMode::SafetyNet, &dn(), Some(60)).unwrap_err();
        assert!(err.to_string().contains("5, 10, 15, 20, 25 or 30"), "{err}");
        // Ring time is ignored for total_ai, as the seed says.
        assert!(plan(Carrier::Att, ForwardingMode::TotalAi, &dn(), Some(60)).is_ok());
        let uk = E164::parse("+442071838750").unwrap();
        assert_eq!(
            plan(Carrier::Verizon, ForwardingMode::TotalAi, &uk, None),
            Err(PlanError::NeedsNanpNumber(Carrier::Verizon))
        );
        assert_eq!(
            plan(Carrier::OtherCdma, ForwardingMode::SafetyNet, &dn(), None),
            Err(PlanError::SafetyNetUnsupported)
        );
        assert!(
            "vodafone"
                .parse::<Carrier>()
                .unwrap_err()
                .to_string()
                .contains("other_gsm")
        );
    }
}
