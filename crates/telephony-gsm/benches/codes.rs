//! Cost of making a forwarding plan (codes, instructions). Run:
//! `cargo bench -p telephony-gsm --bench codes` (or `cargo xtask bench`).
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use telephony_gsm::{Carrier, E164, ForwardingMode, mmi, plan};

fn main() {
    const N: u32 = 200_000;
    let destination = E164::parse("+15550109999").unwrap();
    for (name, carrier, mode) in [
        (
            "plan: AT&T safety net",
            Carrier::Att,
            ForwardingMode::SafetyNet,
        ),
        (
            "plan: T-Mobile safety net",
            Carrier::TMobile,
            ForwardingMode::SafetyNet,
        ),
        (
            "plan: Verizon total",
            Carrier::Verizon,
            ForwardingMode::TotalAi,
        ),
    ] {
        let started = Instant::now();
        for _ in 0..N {
            black_box(plan(black_box(carrier), mode, black_box(&destination), Some(20)).unwrap());
        }
        println!(
            "{name:<28} {:>8.1} ns per plan (with instructions)",
            started.elapsed().as_nanos() as f64 / f64::from(N)
        );
    }
    let timer = mmi::NoReplyTimer::new(20).unwrap();
    let started = Instant::now();
    for _ in 0..N {
        black_box(mmi::registration(
            mmi::ServiceCode::AllConditional,
            black_box(&destination),
            Some(timer),
        ));
    }
    println!(
        "{:<28} {:>8.1} ns per code",
        "one registration code",
        started.elapsed().as_nanos() as f64 / f64::from(N)
    );
}
