//! Every carrier × mode × ring time, and property tests that every generated code matches the
//! 3GPP TS 22.030 grammar of its procedure (or the CDMA star-code form).
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use regex::Regex;
use telephony_gsm::carrier::DEFAULT_RING_SECONDS;
use telephony_gsm::mmi::ALLOWED_RING_SECONDS;
use telephony_gsm::{Carrier, E164, ForwardingMode, PlanError, plan};

/// Registration: `**SC*DN*BS[*T]#` with BS 11, T only for 61/002/004.
fn registration() -> Regex {
    Regex::new(r"^\*\*(?:(?:21|67|62)\*\+[1-9]\d{6,14}\*11|(?:61|002|004)\*\+[1-9]\d{6,14}\*11(?:\*(?:5|10|15|20|25|30))?)#$").unwrap()
}
fn erasure() -> Regex {
    Regex::new(r"^##(?:21|67|61|62|002|004)#$").unwrap()
}
fn interrogation() -> Regex {
    Regex::new(r"^\*#(?:21|67|61|62|002|004)#$").unwrap()
}
fn cdma() -> Regex {
    Regex::new(r"^\*7[12][2-9]\d{9}$").unwrap()
}

fn check_grammar(p: &telephony_gsm::ForwardingPlan) {
    let (reg, era, int, cd) = (registration(), erasure(), interrogation(), cdma());
    assert!(!p.activation_codes.is_empty());
    if p.carrier.is_cdma() {
        for code in &p.activation_codes {
            assert!(cd.is_match(code), "{code}");
        }
        assert_eq!(p.deactivation_code, "*73");
        assert!(p.check_codes.is_empty());
    } else {
        for code in &p.activation_codes {
            assert!(reg.is_match(code), "{code}");
        }
        assert!(
            era.is_match(&p.deactivation_code),
            "{}",
            p.deactivation_code
        );
        for code in &p.check_codes {
            assert!(int.is_match(code), "{code}");
        }
    }
    // Every code appears in the instructions the person reads.
    let text = p.instructions.join("\n");
    for code in p.activation_codes.iter().chain(&p.check_codes) {
        assert!(
            text.contains(code.as_str()),
            "{code} missing from the instructions"
        );
    }
}

#[test]
fn every_carrier_mode_and_ring_time() {
    let us = E164::parse("+15550109999").unwrap();
    let uk = E164::parse("+442071838750").unwrap();
    for carrier in Carrier::ALL {
        for mode in [ForwardingMode::TotalAi, ForwardingMode::SafetyNet] {
            for ring in std::iter::once(None).chain((0..=65).map(Some)) {
                for destination in [&us, &uk] {
                    let result = plan(carrier, mode, destination, ring);
                    let ring_ok = ring
                        .is_none_or(|r| ALLOWED_RING_SECONDS.iter().any(|&a| u32::from(a) == r));
                    let expected_error = if carrier.is_cdma()
                        && destination.nanp_national().is_none()
                    {
                        Some(PlanError::NeedsNanpNumber(carrier))
                    } else if carrier == Carrier::OtherCdma && mode == ForwardingMode::SafetyNet {
                        Some(PlanError::SafetyNetUnsupported)
                    } else if !carrier.is_cdma() && mode == ForwardingMode::SafetyNet && !ring_ok {
                        Some(PlanError::RingTime(telephony_gsm::mmi::InvalidRingTime(
                            ring.unwrap(),
                        )))
                    } else {
                        None
                    };
                    match (result, expected_error) {
                        (Ok(p), None) => {
                            check_grammar(&p);
                            let expected_ring =
                                (!carrier.is_cdma() && mode == ForwardingMode::SafetyNet).then(
                                    || u8::try_from(ring.unwrap_or(DEFAULT_RING_SECONDS)).unwrap(),
                                );
                            assert_eq!(
                                p.ring_time_seconds, expected_ring,
                                "{carrier:?} {mode:?} {ring:?}"
                            );
                        }
                        (Err(e), Some(expected)) => {
                            assert_eq!(e, expected, "{carrier:?} {mode:?} {ring:?}")
                        }
                        (other, expected) => panic!(
                            "{carrier:?} {mode:?} {ring:?} {destination}: {other:?}, expected {expected:?}"
                        ),
                    }
                }
            }
        }
    }
}

fn e164_strategy() -> impl Strategy<Value = E164> {
    (1u8..=9, proptest::collection::vec(0u8..=9, 6..=14)).prop_map(|(first, rest)| {
        let digits: String = std::iter::once(first)
            .chain(rest)
            .map(|d| char::from(b'0' + d))
            .collect();
        E164::parse(&format!("+{digits}")).unwrap()
    })
}

fn nanp_strategy() -> impl Strategy<Value = E164> {
    (2u8..=9, proptest::collection::vec(0u8..=9, 9)).prop_map(|(first, rest)| {
        let digits: String = std::iter::once(first)
            .chain(rest)
            .map(|d| char::from(b'0' + d))
            .collect();
        E164::parse(&format!("+1{digits}")).unwrap()
    })
}

proptest! {
    #[test]
    fn gsm_codes_match_the_3gpp_grammar(
        destination in e164_strategy(),
        carrier in prop::sample::select(vec![Carrier::Att, Carrier::TMobile, Carrier::Sprint, Carrier::OtherGsm, Carrier::International]),
        mode in prop::sample::select(vec![ForwardingMode::TotalAi, ForwardingMode::SafetyNet]),
        ring in prop::sample::select(ALLOWED_RING_SECONDS.to_vec()),
    ) {
        let p = plan(carrier, mode, &destination, Some(u32::from(ring))).unwrap();
        check_grammar(&p);
        for code in &p.activation_codes {
            prop_assert!(code.contains(destination.as_str()));
        }
    }

    #[test]
    fn cdma_codes_carry_the_ten_national_digits(
        destination in nanp_strategy(),
        mode in prop::sample::select(vec![ForwardingMode::TotalAi, ForwardingMode::SafetyNet]),
    ) {
        let p = plan(Carrier::Verizon, mode, &destination, None).unwrap();
        check_grammar(&p);
        prop_assert!(p.activation_codes[0].ends_with(destination.nanp_national().unwrap()));
    }

    #[test]
    fn normalisation_accepts_what_it_formats(destination in e164_strategy()) {
        let spaced: String = destination.as_str().chars().flat_map(|c| [c, ' ']).collect();
        prop_assert_eq!(E164::normalize(&spaced, None).unwrap(), destination);
    }
}
