//! Prometheus metrics, written in the text exposition format by hand (a handful of counters
//! and histograms do not need a client library). Names carry the `lepton_` prefix and their
//! unit.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Bucket bounds of duration histograms, seconds.
pub const DURATION_BUCKETS: [f64; 17] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];
/// Bucket bounds of the batch-size histogram, rows.
pub const ROW_BUCKETS: [f64; 14] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0, 16384.0, 65536.0,
];

/// A Prometheus histogram with fixed buckets, updated without locks.
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_bits: AtomicU64,
}

impl Histogram {
    /// An empty histogram over `bounds` (ascending).
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_bits: AtomicU64::new(0f64.to_bits()),
        }
    }

    /// Records one observation.
    pub fn observe(&self, value: f64) {
        let bucket = self.bounds.partition_point(|b| *b < value);
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        let mut current = self.sum_bits.load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(current) + value).to_bits();
            match self.sum_bits.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(seen) => current = seen,
            }
        }
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0u64;
        for (i, bound) in self.bounds.iter().enumerate() {
            cumulative += self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.counts[self.bounds.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {cumulative}");
        let sum = f64::from_bits(self.sum_bits.load(Ordering::Relaxed));
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {cumulative}");
    }
}

/// The server's metrics for its one model.
pub struct Metrics {
    model: String,
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    /// Whole-request time, from the first byte of the body to the response.
    pub request_duration: Histogram,
    /// Time in ONNX Runtime per model call.
    pub inference_duration: Histogram,
    /// Time requests wait in the queue before their batch runs.
    pub queue_duration: Histogram,
    /// Rows per model call.
    pub batch_rows: Histogram,
    /// Requests being handled now.
    pub in_flight: AtomicI64,
}

impl Metrics {
    /// Empty metrics for `model`.
    pub fn new(model: &str) -> Metrics {
        Metrics {
            model: model.to_owned(),
            requests: Mutex::new(BTreeMap::new()),
            request_duration: Histogram::new(&DURATION_BUCKETS),
            inference_duration: Histogram::new(&DURATION_BUCKETS),
            queue_duration: Histogram::new(&DURATION_BUCKETS),
            batch_rows: Histogram::new(&ROW_BUCKETS),
            in_flight: AtomicI64::new(0),
        }
    }

    /// Counts one answered inference request.
    pub fn count_request(&self, protocol: &'static str, code: u16) {
        if let Ok(mut map) = self.requests.lock() {
            *map.entry((protocol, code)).or_insert(0) += 1;
        }
    }

    /// The exposition text; `extra` appends the gauges that live elsewhere (queue, drift).
    pub fn render(&self, extra: &[Gauge]) -> String {
        let model = escape(&self.model);
        let labels = format!("model=\"{model}\"");
        let mut out = String::with_capacity(8192);
        header(
            &mut out,
            "lepton_inference_requests_total",
            "counter",
            "Inference requests answered, by model, protocol (v2 or v1) and HTTP status code.",
        );
        if let Ok(map) = self.requests.lock() {
            for ((protocol, code), n) in map.iter() {
                let _ = writeln!(
                    out,
                    "lepton_inference_requests_total{{{labels},protocol=\"{protocol}\",code=\"{code}\"}} {n}"
                );
            }
        }
        for (name, help, h) in [
            (
                "lepton_request_duration_seconds",
                "Time from receiving an inference request to answering it.",
                &self.request_duration,
            ),
            (
                "lepton_inference_duration_seconds",
                "Time ONNX Runtime takes per model call (one batch).",
                &self.inference_duration,
            ),
            (
                "lepton_queue_duration_seconds",
                "Time a request waits before its batch runs.",
                &self.queue_duration,
            ),
            (
                "lepton_batch_size_rows",
                "Rows per model call after dynamic batching.",
                &self.batch_rows,
            ),
        ] {
            header(&mut out, name, "histogram", help);
            h.write(&mut out, name, &labels);
        }
        header(
            &mut out,
            "lepton_in_flight_requests",
            "gauge",
            "Inference requests being handled now.",
        );
        let _ = writeln!(
            out,
            "lepton_in_flight_requests{{{labels}}} {}",
            self.in_flight.load(Ordering::Relaxed)
        );
        let mut last = "";
        for g in extra {
            if g.name != last {
                header(&mut out, g.name, "gauge", g.help);
                last = g.name;
            }
            let mut l = labels.clone();
            for (k, v) in &g.labels {
                let _ = write!(l, ",{k}=\"{}\"", escape(v));
            }
            let _ = writeln!(out, "{}{{{l}}} {}", g.name, g.value);
        }
        out
    }
}

/// A gauge sample with its own labels (besides `model`).
pub struct Gauge {
    /// Metric name.
    pub name: &'static str,
    /// Help text.
    pub help: &'static str,
    /// Extra labels.
    pub labels: Vec<(&'static str, String)>,
    /// Value.
    pub value: f64,
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative() {
        let h = Histogram::new(&ROW_BUCKETS);
        h.observe(1.0);
        h.observe(3.0);
        h.observe(100_000.0);
        let mut out = String::new();
        h.write(&mut out, "x", "model=\"m\"");
        assert!(out.contains("x_bucket{model=\"m\",le=\"1\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{model=\"m\",le=\"4\"} 2\n"), "{out}");
        assert!(
            out.contains("x_bucket{model=\"m\",le=\"+Inf\"} 3\n"),
            "{out}"
        );
        assert!(out.contains("x_sum{model=\"m\"} 100004\n"), "{out}");
        assert_eq!(h.count(), 3);
    }
}
