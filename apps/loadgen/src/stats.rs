//! Latency histograms (HdrHistogram, microsecond resolution, 3 significant digits) and their
//! summary as a row of the benchmark table.

use std::time::Duration;

use serde_json::{Value, json};

/// The latencies of one scenario.
pub struct Latencies {
    histogram: hdrhistogram::Histogram<u64>,
}

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

impl Latencies {
    /// An empty histogram tracking 1 µs to 60 s.
    ///
    /// # Panics
    /// Never: the bounds are constants HdrHistogram accepts.
    #[must_use]
    pub fn new() -> Self {
        #[allow(clippy::expect_used)]
        let histogram =
            hdrhistogram::Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
        Self { histogram }
    }

    /// Records one latency (clamped to the tracked range).
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .clamp(1, 60_000_000);
        self.histogram.saturating_record(micros);
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

    /// The `q` quantile (0.5 = median) in milliseconds.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn ms(&self, q: f64) -> f64 {
        self.histogram.value_at_quantile(q) as f64 / 1000.0
    }

    /// The scenario's row: `{name, mode, n, errors, seconds, throughput_per_s, p50_ms, p95_ms, p99_ms,
    /// p999_ms, max_ms, target, rss_kib, peak_rss_kib}`; printed as it is made.
    #[must_use]
    #[allow(
        clippy::cast_precision_loss,
        clippy::print_stdout,
        clippy::too_many_arguments
    )]
    pub fn row(
        &self,
        name: &str,
        mode: &str,
        errors: u64,
        elapsed: Duration,
        target: &str,
        memory: (u64, u64),
    ) -> Value {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let throughput = self.count() as f64 / secs;
        println!(
            "{name:<42} {mode:<22} n={:<6} err={errors:<3} {throughput:>8.0}/s  p50={:>7.2}  p95={:>7.2}  p99={:>7.2}  p99.9={:>7.2}  max={:>7.2} ms  rss={} MiB",
            self.count(),
            self.ms(0.5),
            self.ms(0.95),
            self.ms(0.99),
            self.ms(0.999),
            self.ms(1.0),
            memory.0 / 1024
        );
        json!({"name": name, "mode": mode, "n": self.count(), "errors": errors, "seconds": secs,
               "throughput_per_s": throughput, "p50_ms": self.ms(0.5), "p95_ms": self.ms(0.95), "p99_ms": self.ms(0.99),
               "p999_ms": self.ms(0.999), "max_ms": self.ms(1.0), "target": target,
               "rss_kib": memory.0, "peak_rss_kib": memory.1})
    }
}
