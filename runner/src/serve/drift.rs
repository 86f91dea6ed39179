//! Input drift: each profiled input's live distribution over a sliding window, compared with
//! the training split's (model.json's `profile`) by the population stability index,
//! PSI = Σ (live − train) · ln(live / train) over the bins plus a bin for missing values.
//! Common reading: below 0.1 stable, 0.1–0.25 moderate shift, above 0.25 a large shift.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::session::ShapedTensor;
use super::signature::Signature;
use super::tensor::TensorData;
use crate::artifact::FeatureProfile;

/// Fewer live rows than this in the window and a feature's PSI is noise: it is shown but does
/// not count towards the drift score.
pub const MIN_ROWS: u64 = 100;
/// Shares below this are raised to it, so that an empty bin does not make PSI infinite.
const FLOOR: f64 = 1e-4;
const SLOTS: usize = 30;
/// Name of the category that stands for values not seen in training.
const OTHER: &str = "__other__";

enum Binning {
    /// Upper bin edges; bin `i` is `(edges[i-1], edges[i]]`, the last is above the last edge.
    Numeric { edges: Vec<f64> },
    /// Category to bin; unknown values go to `other`.
    Categorical {
        index: HashMap<String, usize>,
        other: usize,
    },
}

struct Feature {
    name: String,
    kind: &'static str,
    input: usize,
    binning: Binning,
    /// Training shares per bin, the missing bin last.
    expected: Vec<f64>,
}

struct Slot {
    index: u64,
    /// Per feature, counts per bin (missing last).
    counts: Vec<Vec<u64>>,
}

/// The drift state of one model.
pub struct DriftMonitor {
    features: Vec<Feature>,
    slots: Vec<Slot>,
    slot_length: Duration,
    window: Duration,
    threshold: f64,
    started: Instant,
}

/// The drift figures, as the JSON endpoint and the metrics show them.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftReport {
    /// Whether the model has a training profile to compare with.
    pub available: bool,
    /// Length of the live window, seconds.
    pub window_seconds: u64,
    /// PSI above which the deployment counts as drifted.
    pub threshold: f64,
    /// Live rows needed before a feature counts.
    pub min_rows: u64,
    /// Largest PSI over the features with enough rows.
    pub score: Option<f64>,
    /// The feature with that PSI.
    pub most_drifted_column: Option<String>,
    /// Whether `score` is above `threshold`.
    pub drifted: bool,
    /// Per input.
    pub features: Vec<FeatureDrift>,
}

/// One input's drift.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeatureDrift {
    /// Input name.
    pub name: String,
    /// `numeric` or `categorical`.
    pub kind: &'static str,
    /// Population stability index of the window against training (`None` without rows).
    pub psi: Option<f64>,
    /// Live rows in the window.
    pub rows: u64,
}

impl DriftMonitor {
    /// A monitor for the profiled inputs of `signature`; features whose input is missing from
    /// the graph are skipped.
    pub fn new(
        profile: &[FeatureProfile],
        signature: &Signature,
        window: Duration,
        threshold: f64,
    ) -> DriftMonitor {
        let mut features = Vec::new();
        for p in profile {
            let feature = match p {
                FeatureProfile::Numeric {
                    name,
                    edges,
                    proportions,
                    missing,
                    ..
                } => {
                    if proportions.len() != edges.len() + 1 {
                        tracing::warn!(feature = %name, "numeric profile has mismatched edges and proportions; not monitored");
                        continue;
                    }
                    let mut expected: Vec<f64> =
                        proportions.iter().map(|p| p * (1.0 - missing)).collect();
                    expected.push(*missing);
                    signature.input_index(name).map(|input| Feature {
                        name: name.clone(),
                        kind: "numeric",
                        input,
                        binning: Binning::Numeric {
                            edges: edges.clone(),
                        },
                        expected,
                    })
                }
                FeatureProfile::Categorical {
                    name,
                    proportions,
                    missing,
                } => {
                    let mut index = HashMap::new();
                    let mut expected = Vec::new();
                    for (category, share) in proportions {
                        index.insert(category.clone(), expected.len());
                        expected.push(share * (1.0 - missing));
                    }
                    let other = match index.get(OTHER) {
                        Some(i) => *i,
                        None => {
                            expected.push(0.0);
                            expected.len() - 1
                        }
                    };
                    expected.push(*missing);
                    signature.input_index(name).map(|input| Feature {
                        name: name.clone(),
                        kind: "categorical",
                        input,
                        binning: Binning::Categorical { index, other },
                        expected,
                    })
                }
            };
            features.extend(feature);
        }
        let window = window.max(Duration::from_secs(1));
        let slots = (0..SLOTS)
            .map(|_| Slot {
                index: u64::MAX,
                counts: features.iter().map(|f| vec![0; f.expected.len()]).collect(),
            })
            .collect();
        DriftMonitor {
            features,
            slots,
            slot_length: window / SLOTS as u32,
            window,
            threshold,
            started: Instant::now(),
        }
    }

    /// Whether any input is monitored.
    pub fn is_active(&self) -> bool {
        !self.features.is_empty()
    }

    fn slot_index(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.started).as_nanos();
        (elapsed / self.slot_length.as_nanos().max(1)) as u64
    }

    /// Adds the rows of `inputs` (a request's or a batch's tensors in signature order).
    pub fn record(&mut self, now: Instant, inputs: &[ShapedTensor]) {
        if self.features.is_empty() {
            return;
        }
        let index = self.slot_index(now);
        let position = (index % SLOTS as u64) as usize;
        let slot = &mut self.slots[position];
        if slot.index != index {
            slot.index = index;
            slot.counts.iter_mut().for_each(|c| c.fill(0));
        }
        for (feature, counts) in self.features.iter().zip(slot.counts.iter_mut()) {
            let Some(tensor) = inputs.get(feature.input) else {
                continue;
            };
            let missing = counts.len() - 1;
            match (&feature.binning, &tensor.data) {
                (Binning::Numeric { edges }, data) => {
                    let mut bin = |x: f64| {
                        let b = if x.is_nan() {
                            missing
                        } else {
                            edges.partition_point(|e| *e < x)
                        };
                        counts[b] += 1;
                    };
                    match data {
                        TensorData::Fp64(v) => v.iter().for_each(|x| bin(*x)),
                        TensorData::Fp32(v) => v.iter().for_each(|x| bin(f64::from(*x))),
                        TensorData::Int64(v) => v.iter().for_each(|x| bin(*x as f64)),
                        TensorData::Int32(v) => v.iter().for_each(|x| bin(f64::from(*x))),
                        _ => {}
                    }
                }
                (Binning::Categorical { index, other }, TensorData::Bytes(v)) => {
                    for s in v {
                        let b = if s.is_empty() {
                            missing
                        } else {
                            index.get(s.as_str()).copied().unwrap_or(*other)
                        };
                        counts[b] += 1;
                    }
                }
                _ => {}
            }
        }
    }

    /// The report over the window ending at `now`.
    pub fn report(&self, now: Instant) -> DriftReport {
        let current = self.slot_index(now);
        let oldest = current.saturating_sub(SLOTS as u64 - 1);
        let live: Vec<&Slot> = self
            .slots
            .iter()
            .filter(|s| s.index != u64::MAX && s.index >= oldest && s.index <= current)
            .collect();
        let mut features = Vec::with_capacity(self.features.len());
        let (mut score, mut most): (Option<f64>, Option<String>) = (None, None);
        for (f, feature) in self.features.iter().enumerate() {
            let mut counts = vec![0u64; feature.expected.len()];
            for slot in &live {
                for (total, n) in counts.iter_mut().zip(&slot.counts[f]) {
                    *total += n;
                }
            }
            let rows: u64 = counts.iter().sum();
            let psi = (rows > 0).then(|| psi(&feature.expected, &counts, rows));
            if let Some(p) = psi
                && rows >= MIN_ROWS
                && score.is_none_or(|s| p > s)
            {
                score = Some(p);
                most = Some(feature.name.clone());
            }
            features.push(FeatureDrift {
                name: feature.name.clone(),
                kind: feature.kind,
                psi,
                rows,
            });
        }
        DriftReport {
            available: !self.features.is_empty(),
            window_seconds: self.window.as_secs(),
            threshold: self.threshold,
            min_rows: MIN_ROWS,
            score,
            most_drifted_column: most,
            drifted: score.is_some_and(|s| s > self.threshold),
            features,
        }
    }
}

fn psi(expected: &[f64], counts: &[u64], rows: u64) -> f64 {
    expected
        .iter()
        .zip(counts)
        .map(|(e, n)| {
            let a = (*n as f64 / rows as f64).max(FLOOR);
            let e = e.max(FLOOR);
            if (a - e).abs() < 1e-12 {
                0.0
            } else {
                (a - e) * (a / e).ln()
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::datatype::DataType;
    use crate::serve::signature::{OutputForm, OutputSpec, TensorSpec};

    fn signature() -> Signature {
        let t = |name: &str, datatype| TensorSpec {
            name: name.into(),
            datatype,
            shape: vec![-1, 1],
        };
        Signature::new(
            vec![t("x", DataType::Fp64), t("c", DataType::Bytes)],
            vec![OutputSpec {
                tensor: t("value", DataType::Fp32),
                form: OutputForm::Tensor,
            }],
        )
    }

    fn profile() -> Vec<FeatureProfile> {
        vec![
            FeatureProfile::Numeric {
                name: "x".into(),
                edges: vec![0.0],
                proportions: vec![0.5, 0.5],
                missing: 0.0,
                mean: 0.0,
                std: 1.0,
            },
            FeatureProfile::Categorical {
                name: "c".into(),
                proportions: [("a".to_string(), 0.5), ("b".to_string(), 0.5)]
                    .into_iter()
                    .collect(),
                missing: 0.0,
            },
        ]
    }

    fn rows(xs: Vec<f64>, cs: Vec<&str>) -> Vec<ShapedTensor> {
        let n = xs.len();
        vec![
            ShapedTensor {
                shape: vec![n, 1],
                data: TensorData::Fp64(xs),
            },
            ShapedTensor {
                shape: vec![n, 1],
                data: TensorData::Bytes(cs.into_iter().map(String::from).collect()),
            },
        ]
    }

    #[test]
    fn matching_traffic_has_no_drift_and_shifted_traffic_has_much() {
        let mut m = DriftMonitor::new(&profile(), &signature(), Duration::from_secs(60), 0.2);
        let now = Instant::now();
        let xs: Vec<f64> = (0..200)
            .map(|i| if i % 2 == 0 { -1.0 } else { 1.0 })
            .collect();
        let cs: Vec<&str> = (0..200)
            .map(|i| if i % 2 == 0 { "a" } else { "b" })
            .collect();
        m.record(now, &rows(xs, cs));
        let r = m.report(now);
        assert_eq!(r.score, Some(0.0));
        assert!(!r.drifted);

        let mut m = DriftMonitor::new(&profile(), &signature(), Duration::from_secs(60), 0.2);
        m.record(now, &rows(vec![5.0; 200], vec!["zzz"; 200]));
        let r = m.report(now);
        assert!(r.drifted, "{r:?}");
        assert_eq!(r.features[0].rows, 200);
        // Everything in one of two equal bins: 0.5·ln(1/0.5) + (1e-4 − 0.5)·ln(1e-4/0.5) ≈ 4.6.
        let x = r.features[0].psi.unwrap();
        assert!((4.5..4.8).contains(&x), "{x}");
        // Unseen categories fill the `other` bin that training never used.
        assert!(r.features[1].psi.unwrap() > x);
        assert_eq!(r.most_drifted_column.as_deref(), Some("c"));
        // The window forgets.
        assert_eq!(m.report(now + Duration::from_secs(120)).features[0].rows, 0);
    }

    #[test]
    fn too_few_rows_do_not_count() {
        let mut m = DriftMonitor::new(&profile(), &signature(), Duration::from_secs(60), 0.2);
        let now = Instant::now();
        m.record(now, &rows(vec![5.0; 10], vec!["a"; 10]));
        let r = m.report(now);
        assert_eq!(r.score, None);
        assert!(r.features[0].psi.is_some());
    }
}
