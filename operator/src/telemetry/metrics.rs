//! The operator's Prometheus metrics, all named `lepton_operator_*` with units in the name.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

/// Counts objects by phase when `/metrics` is read: `(kind, phase) -> count`.
pub type ObjectCounter = Box<dyn Fn() -> BTreeMap<(&'static str, String), i64> + Send + Sync>;

/// Every metric the operator exports.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<Labels, Counter>,
    errors: Family<Labels, Counter>,
    duration: Family<Labels, Histogram>,
    queue_depth: Family<Labels, Gauge>,
    objects: Family<Labels, Gauge>,
    config_reloads: Family<Labels, Counter>,
    scrapes: Family<Labels, Counter>,
    leader: Gauge,
    queue: Mutex<Queue>,
    object_counters: Mutex<Vec<ObjectCounter>>,
}

#[derive(Default)]
struct Queue {
    in_flight: BTreeMap<&'static str, i64>,
    waiting: HashSet<(&'static str, String)>,
}

fn histogram() -> Histogram {
    // 0.5 ms .. ~29 s in steps of 1.5x: fine enough to read a p99 from, wide enough for a
    // reconcile that waits on a slow API server.
    Histogram::new(exponential_buckets(0.0005, 1.5, 28))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let reconciles = Family::<Labels, Counter>::default();
        let errors = Family::<Labels, Counter>::default();
        let duration =
            Family::<Labels, Histogram>::new_with_constructor(histogram as fn() -> Histogram);
        let queue_depth = Family::<Labels, Gauge>::default();
        let objects = Family::<Labels, Gauge>::default();
        let config_reloads = Family::<Labels, Counter>::default();
        let scrapes = Family::<Labels, Counter>::default();
        let leader = Gauge::default();
        registry.register(
            "lepton_operator_reconciles",
            "Reconciles run, by controller",
            reconciles.clone(),
        );
        registry.register(
            "lepton_operator_reconcile_errors",
            "Reconciles that failed, by controller and error category",
            errors.clone(),
        );
        registry.register(
            "lepton_operator_reconcile_duration_seconds",
            "Time one reconcile took, by controller",
            duration.clone(),
        );
        registry.register(
            "lepton_operator_queue_depth",
            "Objects being reconciled or waiting for a scheduled retry or requeue, by controller",
            queue_depth.clone(),
        );
        registry.register(
            "lepton_operator_objects",
            "Lepton objects the operator sees, by kind and phase",
            objects.clone(),
        );
        registry.register(
            "lepton_operator_config_reloads",
            "Configuration reloads, by result (ok, invalid, unreadable)",
            config_reloads.clone(),
        );
        registry.register(
            "lepton_operator_model_server_scrapes",
            "Reads of the serving pods' live figures, by result (ok, error)",
            scrapes.clone(),
        );
        registry.register(
            "lepton_operator_leader",
            "Whether this replica holds the leader lease (1) or not (0)",
            leader.clone(),
        );
        Metrics {
            registry,
            reconciles,
            errors,
            duration,
            queue_depth,
            objects,
            config_reloads,
            scrapes,
            leader,
            queue: Mutex::new(Queue::default()),
            object_counters: Mutex::new(Vec::new()),
        }
    }

    /// A reconcile of `key` by `controller` starts.
    pub fn reconcile_started(&self, controller: &'static str, key: &str) {
        self.reconciles
            .get_or_create(&vec![("controller", controller.to_owned())])
            .inc();
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        queue.waiting.remove(&(controller, key.to_owned()));
        *queue.in_flight.entry(controller).or_default() += 1;
    }

    /// The reconcile ended after `elapsed`; `error` is the failure's category, `requeued` whether
    /// another reconcile is scheduled.
    pub fn reconcile_finished(
        &self,
        controller: &'static str,
        key: &str,
        elapsed: Duration,
        error: Option<&'static str>,
        requeued: bool,
    ) {
        let labels = vec![("controller", controller.to_owned())];
        self.duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        if let Some(category) = error {
            self.errors
                .get_or_create(&vec![
                    ("controller", controller.to_owned()),
                    ("category", category.to_owned()),
                ])
                .inc();
        }
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = queue.in_flight.get_mut(controller) {
            *n -= 1;
        }
        if requeued || error.is_some() {
            queue.waiting.insert((controller, key.to_owned()));
        }
    }

    /// Counts a configuration reload.
    pub fn config_reloaded(&self, result: &'static str) {
        self.config_reloads
            .get_or_create(&vec![("result", result.to_owned())])
            .inc();
    }

    /// Counts a read of a serving pod's figures.
    pub fn model_server_scraped(&self, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.scrapes
            .get_or_create(&vec![("result", result.to_owned())])
            .inc();
    }

    /// Whether this replica leads.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Adds a source of per-phase object counts, read at each scrape.
    pub fn count_objects_with(&self, counter: ObjectCounter) {
        self.object_counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(counter);
    }

    /// The text exposition of every metric (OpenMetrics text, which Prometheus reads).
    pub fn encode(&self) -> String {
        {
            let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            let mut depth: BTreeMap<&'static str, i64> = queue.in_flight.clone();
            for (controller, _) in &queue.waiting {
                *depth.entry(controller).or_default() += 1;
            }
            for (controller, n) in depth {
                self.queue_depth
                    .get_or_create(&vec![("controller", controller.to_owned())])
                    .set(n.max(0));
            }
        }
        self.objects.clear();
        for counter in self
            .object_counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            for ((kind, phase), n) in counter() {
                self.objects
                    .get_or_create(&vec![("kind", kind.to_owned()), ("phase", phase)])
                    .set(n);
            }
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciles_errors_queue_and_objects_are_exported() {
        let metrics = Metrics::new();
        metrics.reconcile_started("trainingjob", "ns/a");
        metrics.reconcile_finished(
            "trainingjob",
            "ns/a",
            Duration::from_millis(3),
            Some("conflict"),
            false,
        );
        metrics.reconcile_started("trainingjob", "ns/b");
        metrics.count_objects_with(Box::new(|| {
            BTreeMap::from([(("TrainingJob", "Running".to_owned()), 7)])
        }));
        metrics.set_leader(true);
        let text = metrics.encode();
        for line in [
            "lepton_operator_reconciles_total{controller=\"trainingjob\"} 2",
            "lepton_operator_reconcile_errors_total{controller=\"trainingjob\",category=\"conflict\"} 1",
            "lepton_operator_reconcile_duration_seconds_count{controller=\"trainingjob\"} 1",
            // ns/a waits for its retry, ns/b is in flight.
            "lepton_operator_queue_depth{controller=\"trainingjob\"} 2",
            "lepton_operator_objects{kind=\"TrainingJob\",phase=\"Running\"} 7",
            "lepton_operator_leader 1",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }
}
