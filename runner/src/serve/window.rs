//! Live figures over a sliding window (requests per second, latency percentiles, error
//! rate), as the ModelDeployment's status shows them. The window is a ring of time slots, so
//! recording is O(1) and old traffic falls out slot by slot.

use std::time::{Duration, Instant};

/// Slots the window is divided into.
const SLOTS: usize = 30;
/// Latency buckets: bucket `i` holds latencies up to `FIRST_BOUND * GROWTH^i` seconds.
const BUCKETS: usize = 100;
const FIRST_BOUND: f64 = 1e-5;
const GROWTH: f64 = 1.2;

#[derive(Clone)]
struct Slot {
    index: u64,
    requests: u64,
    errors: u64,
    latency: [u32; BUCKETS],
}

/// Requests, errors and latencies of the last `window`.
pub struct LiveWindow {
    slot_length: Duration,
    window: Duration,
    started: Instant,
    slots: Vec<Slot>,
}

/// A summary of the window.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveFigures {
    /// Requests per second.
    pub requests_per_second: f64,
    /// Median latency, milliseconds (`None` without requests).
    pub latency_p50_ms: Option<f64>,
    /// 99th-percentile latency, milliseconds.
    pub latency_p99_ms: Option<f64>,
    /// Share of requests answered with an error.
    pub error_rate: Option<f64>,
    /// Requests in the window.
    pub requests: u64,
}

impl LiveWindow {
    /// A window of `window` starting now.
    pub fn new(window: Duration) -> LiveWindow {
        let window = window.max(Duration::from_secs(1));
        LiveWindow {
            slot_length: window / SLOTS as u32,
            window,
            started: Instant::now(),
            slots: vec![
                Slot {
                    index: u64::MAX,
                    requests: 0,
                    errors: 0,
                    latency: [0; BUCKETS],
                };
                SLOTS
            ],
        }
    }

    fn slot_index(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.started).as_nanos();
        (elapsed / self.slot_length.as_nanos().max(1)) as u64
    }

    /// Records one request.
    pub fn record(&mut self, now: Instant, latency: Duration, error: bool) {
        let index = self.slot_index(now);
        let slot = &mut self.slots[(index % SLOTS as u64) as usize];
        if slot.index != index {
            slot.index = index;
            slot.requests = 0;
            slot.errors = 0;
            slot.latency = [0; BUCKETS];
        }
        slot.requests += 1;
        slot.errors += u64::from(error);
        let seconds = latency.as_secs_f64().max(FIRST_BOUND);
        let bucket = ((seconds / FIRST_BOUND).ln() / GROWTH.ln()).ceil().max(0.0) as usize;
        slot.latency[bucket.min(BUCKETS - 1)] += 1;
    }

    /// The figures over the window ending at `now`.
    pub fn figures(&self, now: Instant) -> LiveFigures {
        let current = self.slot_index(now);
        let oldest = current.saturating_sub(SLOTS as u64 - 1);
        let mut requests = 0u64;
        let mut errors = 0u64;
        let mut latency = [0u64; BUCKETS];
        for slot in &self.slots {
            if slot.index != u64::MAX && slot.index >= oldest && slot.index <= current {
                requests += slot.requests;
                errors += slot.errors;
                for (total, n) in latency.iter_mut().zip(slot.latency) {
                    *total += u64::from(n);
                }
            }
        }
        let covered = now
            .saturating_duration_since(self.started)
            .min(self.window)
            .as_secs_f64()
            .max(1e-3);
        let percentile = |q: f64| -> Option<f64> {
            if requests == 0 {
                return None;
            }
            let rank = (q * requests as f64).ceil().max(1.0) as u64;
            let mut seen = 0u64;
            for (i, n) in latency.iter().enumerate() {
                seen += n;
                if seen >= rank {
                    // The bucket's geometric middle: within 10% of any latency in it.
                    let upper = FIRST_BOUND * GROWTH.powi(i as i32);
                    return Some(upper / GROWTH.sqrt() * 1e3);
                }
            }
            None
        };
        LiveFigures {
            requests_per_second: requests as f64 / covered,
            latency_p50_ms: percentile(0.5),
            latency_p99_ms: percentile(0.99),
            error_rate: (requests > 0).then(|| errors as f64 / requests as f64),
            requests,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_expiry() {
        let mut w = LiveWindow::new(Duration::from_secs(30));
        let t0 = w.started;
        for i in 0..100u64 {
            let ms = if i < 99 { 1 } else { 100 };
            w.record(t0, Duration::from_millis(ms), i == 0);
        }
        let f = w.figures(t0 + Duration::from_secs(1));
        assert_eq!(f.requests, 100);
        let p50 = f.latency_p50_ms.unwrap();
        assert!((0.9..1.1).contains(&p50), "{p50}");
        let p99 = f.latency_p99_ms.unwrap();
        assert!((0.9..1.1).contains(&p99), "{p99}");
        assert_eq!(f.error_rate, Some(0.01));
        let later = w.figures(t0 + Duration::from_secs(45));
        assert_eq!(later.requests, 0);
        assert_eq!(later.latency_p50_ms, None);
    }
}
