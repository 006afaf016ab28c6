//! Telephony rules with no I/O, reusable from scripts (SPEC §6; seed 001 §17,
//! corrected by 3GPP as the telephony contract, part C records):
//!
//! - [`e164`]: E.164 numbers, strict parsing and normalisation of what people type.
//! - [`mmi`]: call-forwarding MMI codes per 3GPP TS 22.030 (registration, activation,
//!   deactivation, erasure, interrogation) with the no-reply timer 5–30 s.
//! - [`carrier`]: carrier profiles mapping the seed's modes (`total_ai`, `safety_net`) to the
//!   codes a person dials, with instructions and the codes that check each leg.

pub mod carrier;
pub mod e164;
pub mod mmi;

pub use carrier::{Carrier, ForwardingMode, ForwardingPlan, PlanError, plan};
pub use e164::{E164, E164Error};
pub use mmi::{NoReplyTimer, Procedure, ServiceCode};
