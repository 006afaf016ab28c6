//! A scenario's row of the benchmark table, from its [`Latencies`].

use std::time::Duration;

use latency_stats::Latencies;
use serde_json::{Value, json};

/// What a scenario measured besides its latencies.
pub struct Outcome<'a> {
    /// Scenario name.
    pub name: &'a str,
    /// `fixed <rate>/s` or `saturation (<n> conc.)`.
    pub mode: &'a str,
    /// Requests that failed (any status other than the expected one, or lost events).
    pub errors: u64,
    /// The scenario's duration, for its throughput.
    pub elapsed: Duration,
    /// The seed's or the target, as text.
    pub target: &'a str,
    /// The gateway's resident memory after it, `(now, peak)` in KiB.
    pub memory: (u64, u64),
}

/// The row `{name, mode, n, errors, seconds, throughput_per_s, p50_ms, p95_ms, p99_ms, p999_ms,
/// max_ms, target, rss_kib, peak_rss_kib}`; printed as it is made.
#[must_use]
#[allow(clippy::cast_precision_loss, clippy::print_stdout)]
pub fn row(latencies: &Latencies, o: &Outcome<'_>) -> Value {
    let secs = o.elapsed.as_secs_f64().max(1e-9);
    let n = latencies.count();
    let throughput = n as f64 / secs;
    let ms = |q| latencies.ms(q);
    println!(
        "{:<42} {:<22} n={n:<6} err={:<3} {throughput:>8.0}/s  p50={:>7.2}  p95={:>7.2}  p99={:>7.2}  p99.9={:>7.2}  max={:>7.2} ms  rss={} MiB",
        o.name,
        o.mode,
        o.errors,
        ms(0.5),
        ms(0.95),
        ms(0.99),
        ms(0.999),
        ms(1.0),
        o.memory.0 / 1024
    );
    json!({"name": o.name, "mode": o.mode, "n": n, "errors": o.errors, "seconds": secs,
           "throughput_per_s": throughput, "p50_ms": ms(0.5), "p95_ms": ms(0.95), "p99_ms": ms(0.99),
           "p999_ms": ms(0.999), "max_ms": ms(1.0), "target": o.target,
           "rss_kib": o.memory.0, "peak_rss_kib": o.memory.1})
}
