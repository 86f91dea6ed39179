//! Validation metrics: binary (accuracy, AUC, log loss, F1, precision, recall), multiclass
//! (accuracy, macro-F1, log loss) and regression (RMSE, MAE, R2).

use std::collections::BTreeMap;

use lepton_crds::v1alpha1::Metric;

/// The learning task once inferred: the number of classes is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum TaskKind {
    /// Two classes; class index 1 is the positive class.
    Binary,
    /// Three or more classes.
    Multiclass {
        /// Number of classes.
        classes: usize,
    },
    /// A numeric target.
    Regression,
}

impl TaskKind {
    /// Number of model outputs: class probabilities, or one value.
    pub fn outputs(self) -> usize {
        match self {
            TaskKind::Binary => 2,
            TaskKind::Multiclass { classes } => classes,
            TaskKind::Regression => 1,
        }
    }

    /// The metric used when the spec names none.
    pub fn default_metric(self) -> Metric {
        match self {
            TaskKind::Binary => Metric::Auc,
            TaskKind::Multiclass { .. } => Metric::Accuracy,
            TaskKind::Regression => Metric::Rmse,
        }
    }

    /// Whether `metric` is defined for this task.
    pub fn supports(self, metric: Metric) -> bool {
        self.metric_names().contains(&metric)
    }

    /// Metrics reported for this task.
    pub fn metric_names(self) -> &'static [Metric] {
        match self {
            TaskKind::Binary => &[
                Metric::Accuracy,
                Metric::Auc,
                Metric::LogLoss,
                Metric::F1,
                Metric::Precision,
                Metric::Recall,
            ],
            TaskKind::Multiclass { .. } => &[Metric::Accuracy, Metric::MacroF1, Metric::LogLoss],
            TaskKind::Regression => &[Metric::Rmse, Metric::Mae, Metric::R2],
        }
    }
}

/// Targets of the rows a model is scored on.
#[derive(Clone, Debug, PartialEq)]
pub enum Targets {
    /// Class index per row.
    Classes(Vec<usize>),
    /// Value per row.
    Values(Vec<f64>),
}

impl Targets {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes(c) => c.len(),
            Targets::Values(v) => v.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Every metric of `task` for predictions `pred` (row-major, `task.outputs()` per row:
/// probabilities for classification, the value for regression).
pub fn evaluate(task: TaskKind, targets: &Targets, pred: &[f32]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    match (task, targets) {
        (TaskKind::Binary, Targets::Classes(y)) => {
            let p1: Vec<f64> = pred.chunks(2).map(|r| f64::from(r[1])).collect();
            let c = confusion_binary(y, &p1);
            out.insert(
                "accuracy".into(),
                (c.tp + c.tn) as f64 / y.len().max(1) as f64,
            );
            out.insert("auc".into(), auc(y, &p1));
            out.insert("logLoss".into(), log_loss(y, pred, 2));
            let precision = ratio(c.tp, c.tp + c.fp);
            let recall = ratio(c.tp, c.tp + c.fn_);
            out.insert("precision".into(), precision);
            out.insert("recall".into(), recall);
            out.insert("f1".into(), harmonic(precision, recall));
        }
        (TaskKind::Multiclass { classes }, Targets::Classes(y)) => {
            let predicted: Vec<usize> = pred.chunks(classes).map(argmax).collect();
            let correct = y.iter().zip(&predicted).filter(|(a, b)| a == b).count();
            out.insert("accuracy".into(), correct as f64 / y.len().max(1) as f64);
            out.insert("macroF1".into(), macro_f1(y, &predicted, classes));
            out.insert("logLoss".into(), log_loss(y, pred, classes));
        }
        (TaskKind::Regression, Targets::Values(y)) => {
            let n = y.len().max(1) as f64;
            let mean = y.iter().sum::<f64>() / n;
            let (mut se, mut ae, mut tot) = (0.0, 0.0, 0.0);
            for (t, p) in y.iter().zip(pred) {
                let e = t - f64::from(*p);
                se += e * e;
                ae += e.abs();
                tot += (t - mean) * (t - mean);
            }
            out.insert("rmse".into(), (se / n).sqrt());
            out.insert("mae".into(), ae / n);
            out.insert("r2".into(), if tot > 0.0 { 1.0 - se / tot } else { 0.0 });
        }
        // The caller pairs targets with their task; a mismatch leaves the map empty, and the
        // missing objective is then reported as an error by the trainer.
        _ => {}
    }
    out
}

/// Whether `candidate` improves on `best` for `metric` by more than `min_delta`.
pub fn improves(metric: Metric, candidate: f64, best: Option<f64>, min_delta: f64) -> bool {
    if !candidate.is_finite() {
        return false;
    }
    match best {
        None => true,
        Some(b) => match metric.goal() {
            lepton_crds::v1alpha1::Goal::Maximize => candidate > b + min_delta,
            lepton_crds::v1alpha1::Goal::Minimize => candidate < b - min_delta,
        },
    }
}

/// Index of the largest value (first on ties).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = i;
        }
    }
    best
}

struct Confusion {
    tp: usize,
    fp: usize,
    tn: usize,
    fn_: usize,
}

fn confusion_binary(y: &[usize], p1: &[f64]) -> Confusion {
    let mut c = Confusion {
        tp: 0,
        fp: 0,
        tn: 0,
        fn_: 0,
    };
    for (t, p) in y.iter().zip(p1) {
        match (*t == 1, *p >= 0.5) {
            (true, true) => c.tp += 1,
            (false, true) => c.fp += 1,
            (false, false) => c.tn += 1,
            (true, false) => c.fn_ += 1,
        }
    }
    c
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn harmonic(a: f64, b: f64) -> f64 {
    if a + b == 0.0 {
        0.0
    } else {
        2.0 * a * b / (a + b)
    }
}

/// Area under the ROC curve by the rank-sum statistic; tied scores share their average rank.
pub fn auc(y: &[usize], score: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..y.len()).collect();
    order.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let positives = y.iter().filter(|c| **c == 1).count() as f64;
    let negatives = y.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return 0.5;
    }
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && score[order[j + 1]] == score[order[i]] {
            j += 1;
        }
        let average_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += order[i..=j].iter().filter(|&&k| y[k] == 1).count() as f64 * average_rank;
        i = j + 1;
    }
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

fn log_loss(y: &[usize], prob: &[f32], classes: usize) -> f64 {
    let eps = 1e-15;
    let total: f64 = y
        .iter()
        .zip(prob.chunks(classes))
        .map(|(t, row)| -(f64::from(row[*t]).clamp(eps, 1.0 - eps)).ln())
        .sum();
    total / y.len().max(1) as f64
}

fn macro_f1(y: &[usize], predicted: &[usize], classes: usize) -> f64 {
    let mut sum = 0.0;
    for c in 0..classes {
        let tp = y
            .iter()
            .zip(predicted)
            .filter(|(t, p)| **t == c && **p == c)
            .count();
        let fp = y
            .iter()
            .zip(predicted)
            .filter(|(t, p)| **t != c && **p == c)
            .count();
        let fn_ = y
            .iter()
            .zip(predicted)
            .filter(|(t, p)| **t == c && **p != c)
            .count();
        sum += harmonic(ratio(tp, tp + fp), ratio(tp, tp + fn_));
    }
    sum / classes.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary_probs(p1: &[f32]) -> Vec<f32> {
        p1.iter().flat_map(|p| [1.0 - p, *p]).collect()
    }

    #[test]
    fn auc_matches_hand_computed_values_including_ties() {
        assert_eq!(auc(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8]), 0.75);
        assert_eq!(auc(&[0, 1], &[0.5, 0.5]), 0.5);
        assert_eq!(auc(&[0, 1, 1], &[0.2, 0.9, 0.7]), 1.0);
        assert_eq!(auc(&[1, 1], &[0.2, 0.9]), 0.5);
    }

    #[test]
    fn binary_metrics_from_a_confusion_matrix() {
        // tp=2 (0.9, 0.6), fn=1 (0.4), fp=1 (0.7), tn=2.
        let y = Targets::Classes(vec![1, 1, 1, 0, 0, 0]);
        let m = evaluate(
            TaskKind::Binary,
            &y,
            &binary_probs(&[0.9, 0.6, 0.4, 0.7, 0.2, 0.1]),
        );
        assert!((m["accuracy"] - 4.0 / 6.0).abs() < 1e-12);
        assert!((m["precision"] - 2.0 / 3.0).abs() < 1e-12);
        assert!((m["recall"] - 2.0 / 3.0).abs() < 1e-12);
        assert!((m["f1"] - 2.0 / 3.0).abs() < 1e-12);
        let expected_ll = -[0.9f32, 0.6, 0.4, 0.3, 0.8, 0.9]
            .iter()
            .map(|p| f64::from(*p).ln())
            .sum::<f64>()
            / 6.0;
        assert!((m["logLoss"] - expected_ll).abs() < 1e-6);
    }

    #[test]
    fn multiclass_and_regression_metrics() {
        let y = Targets::Classes(vec![0, 1, 2, 2]);
        let p = [0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.1, 0.2, 0.7, 0.6, 0.2, 0.2];
        let m = evaluate(TaskKind::Multiclass { classes: 3 }, &y, &p);
        assert!((m["accuracy"] - 0.75).abs() < 1e-12);
        // class 0: p=1/2 r=1 f=2/3; class 1: 1; class 2: p=1 r=1/2 f=2/3.
        assert!((m["macroF1"] - (2.0 / 3.0 + 1.0 + 2.0 / 3.0) / 3.0).abs() < 1e-12);

        let y = Targets::Values(vec![1.0, 2.0, 3.0]);
        let m = evaluate(TaskKind::Regression, &y, &[1.0, 2.0, 5.0]);
        assert!((m["rmse"] - (4.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((m["mae"] - 2.0 / 3.0).abs() < 1e-12);
        assert!((m["r2"] - (1.0 - 4.0 / 2.0)).abs() < 1e-12);
    }

    #[test]
    fn improvement_respects_goal_and_min_delta() {
        assert!(improves(Metric::Auc, 0.9, Some(0.8), 0.01));
        assert!(!improves(Metric::Auc, 0.805, Some(0.8), 0.01));
        assert!(improves(Metric::Rmse, 1.0, Some(2.0), 0.0));
        assert!(!improves(Metric::Rmse, 2.5, Some(2.0), 0.0));
        assert!(!improves(Metric::Auc, f64::NAN, None, 0.0));
    }
}
