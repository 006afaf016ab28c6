//! Latency samples and their percentiles, for the project's benchmarks (the crates' `benches/`
//! and `apps/loadgen`): an HdrHistogram at nanosecond resolution with 3 significant digits,
//! tracking 1 ns to 60 s (longer samples are clamped to 60 s).

#![allow(clippy::print_stdout)]

use std::time::Duration;

/// The largest latency tracked, in nanoseconds (60 s).
const MAX_NS: u64 = 60_000_000_000;

/// The latencies of one measurement.
pub struct Latencies {
    histogram: hdrhistogram::Histogram<u64>,
}

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

impl Latencies {
    /// An empty histogram.
    ///
    /// # Panics
    /// Never: the bounds are constants HdrHistogram accepts.
    #[must_use]
    pub fn new() -> Self {
        #[allow(clippy::expect_used)]
        let histogram =
            hdrhistogram::Histogram::new_with_bounds(1, MAX_NS, 3).expect("histogram bounds");
        Self { histogram }
    }

    /// A histogram of `samples`.
    #[must_use]
    pub fn from_samples(samples: &[Duration]) -> Self {
        let mut latencies = Self::new();
        for sample in samples {
            latencies.record(*sample);
        }
        latencies
    }

    /// Records one latency.
    pub fn record(&mut self, latency: Duration) {
        let ns = u64::try_from(latency.as_nanos())
            .unwrap_or(MAX_NS)
            .clamp(1, MAX_NS);
        self.histogram.saturating_record(ns);
    }

    /// Adds another histogram's samples.
    pub fn merge(&mut self, other: &Self) {
        let _ = self.histogram.add(&other.histogram);
    }

    /// Samples recorded.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// The `q` quantile (0.5 = median, 1.0 = max) in milliseconds.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn ms(&self, q: f64) -> f64 {
        self.histogram.value_at_quantile(q) as f64 / 1e6
    }

    /// `n=… p50=… p95=… p99=… p99.9=… max=…`, each value in ns, µs, ms or s by its size.
    #[must_use]
    pub fn summary(&self) -> String {
        let at = |q| human(self.histogram.value_at_quantile(q));
        format!(
            "n={:<6} p50={:>10}  p95={:>10}  p99={:>10}  p99.9={:>10}  max={:>10}",
            self.count(),
            at(0.5),
            at(0.95),
            at(0.99),
            at(0.999),
            at(1.0)
        )
    }
}

/// Prints one line: `name`, the summary of `samples`, then `extra`.
pub fn report(name: &str, samples: &[Duration], extra: &str) {
    println!(
        "{name:<44} {}  {extra}",
        Latencies::from_samples(samples).summary()
    );
}

/// `ns` nanoseconds with two decimals in the largest unit it reaches.
#[allow(clippy::cast_precision_loss)]
fn human(ns: u64) -> String {
    let ns = ns as f64;
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_units_follow_the_samples() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        let l = Latencies::from_samples(&samples);
        assert_eq!(l.count(), 100);
        assert!((l.ms(0.5) - 0.050).abs() < 0.001, "{}", l.ms(0.5));
        assert!((l.ms(1.0) - 0.100).abs() < 0.001, "{}", l.ms(1.0));
        assert_eq!(human(490), "490 ns");
        assert_eq!(human(12_720_000), "12.72 ms");
        assert!(l.summary().starts_with("n=100"));
    }
}
