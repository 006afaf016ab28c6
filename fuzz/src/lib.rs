//! Strategies shared by the fuzz targets in `tests/`: arbitrary JSON shaped like the providers'
//! payloads (their own keys and values mixed with random ones), and byte mutations of valid
//! inputs.
//!
//! Each target is a `proptest` property with a fixed number of cases, run by `cargo xtask
//! test` (all targets together in well under a minute). `cargo fuzz` needs a nightly toolchain
//! that these machines cannot install, so coverage-guided fuzzing is left to a developer
//! machine that has one; the properties here are the same ones it would check.

use proptest::prelude::*;
use serde_json::Value;

/// A JSON value of depth at most 4 whose object keys and strings are drawn from `vocabulary`
/// (the payload's own words) half of the time and are random otherwise.
pub fn json(vocabulary: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let word = prop_oneof![
        prop::sample::select(vocabulary).prop_map(str::to_owned),
        ".{0,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        word.clone().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(word.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `bytes` with up to 8 random edits: a byte replaced, inserted or removed (each about a third
/// of the time), or rarely the tail cut.
pub fn mutated(bytes: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = bytes.len().max(1);
    prop::collection::vec((0..16u8, 0..len, any::<u8>()), 0..8).prop_map(move |edits| {
        let mut out = bytes.clone();
        for (kind, at, byte) in edits {
            let at = at.min(out.len().saturating_sub(1));
            match kind {
                0..=4 if !out.is_empty() => out[at] = byte,
                5..=9 => out.insert(at, byte),
                10..=14 if !out.is_empty() => {
                    out.remove(at);
                }
                15 => out.truncate(at),
                _ => {}
            }
        }
        out
    })
}
