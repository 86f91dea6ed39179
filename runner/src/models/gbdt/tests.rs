use lepton_crds::v1alpha1::{EarlyStopping, Metric};

use super::*;
use crate::models::{Head, StopReason};
use crate::preprocess::Features;
use crate::progress::NullReporter;

fn config() -> GbdtConfig {
    GbdtConfig {
        num_trees: 100,
        max_depth: 4,
        min_samples_leaf: 5,
        learning_rate: 0.1,
        l2: 1.0,
        subsample: 1.0,
        feature_fraction: 1.0,
        max_bins: 64,
    }
}

fn data(n: usize, seed: u64) -> (Features, Vec<usize>, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let mut values = Vec::new();
    let (mut classes, mut targets) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let (a, b, c) = (
            rng.uniform() as f32,
            rng.uniform() as f32,
            rng.uniform() as f32,
        );
        values.extend([a, b, c]);
        classes.push(usize::from(a > 0.5) + usize::from(b > 0.7));
        targets.push(f64::from(if a > 0.5 { 3.0 * b } else { -2.0 }) + 0.01 * rng.normal());
    }
    (
        Features {
            values,
            rows: n,
            cols: 3,
        },
        classes,
        targets,
    )
}

fn ctx(reporter: &NullReporter, task: TaskKind, metric: Metric) -> FitContext<'_> {
    FitContext {
        head: Head {
            task,
            target_mean: 0.0,
            target_std: 1.0,
        },
        metric,
        early_stopping: EarlyStopping::default(),
        seed: 3,
        deadline: None,
        reporter,
    }
}

#[test]
fn bins_use_training_values_as_edges_and_route_like_the_thresholds() {
    let x = Features {
        values: vec![3.0, 1.0, 2.0, 2.0, 5.0],
        rows: 5,
        cols: 1,
    };
    let bins = Bins::new(&x, 10);
    assert_eq!(bins.thresholds[0], [1.0, 2.0, 3.0]);
    assert_eq!(bins.codes[0], [2, 0, 1, 1, 3]);
    let many = Features {
        values: (0..1000).map(|i| i as f32).collect(),
        rows: 1000,
        cols: 1,
    };
    let bins = Bins::new(&many, 16);
    assert_eq!(bins.bin_count(0), 16);
    for (r, &code) in bins.codes[0].iter().enumerate() {
        let v = r as f32;
        let by_threshold = bins.thresholds[0].iter().filter(|&&t| t < v).count();
        assert_eq!(usize::from(code), by_threshold);
    }
}

#[test]
fn boosting_fits_multiclass_and_regression_structure() {
    let (x, classes, values) = data(2000, 1);
    let (vx, vclasses, vvalues) = data(500, 2);
    let reporter = NullReporter;
    let weights = vec![1.0; 2000];

    let (y, vy) = (Targets::Classes(classes), Targets::Classes(vclasses));
    let task = TaskKind::Multiclass { classes: 3 };
    let fitted = fit(
        &config(),
        &ctx(&reporter, task, Metric::Accuracy),
        &TrainingSet {
            x: &x,
            y: &y,
            weights: &weights,
        },
        &ValidationSet { x: &vx, y: &vy },
    )
    .unwrap();
    let best = &fitted
        .history
        .iter()
        .find(|h| h.step == fitted.best_step)
        .unwrap()
        .metrics;
    assert!(best["accuracy"] > 0.97, "{best:?}");
    let Model::Gbdt(forest) = &fitted.model else {
        panic!()
    };
    assert_eq!(forest.trees.len() as u64, fitted.best_step * 3);

    let (y, vy) = (Targets::Values(values), Targets::Values(vvalues));
    let fitted = fit(
        &config(),
        &ctx(&reporter, TaskKind::Regression, Metric::Rmse),
        &TrainingSet {
            x: &x,
            y: &y,
            weights: &weights,
        },
        &ValidationSet { x: &vx, y: &vy },
    )
    .unwrap();
    let best = &fitted
        .history
        .iter()
        .find(|h| h.step == fitted.best_step)
        .unwrap()
        .metrics;
    assert!(best["r2"] > 0.98, "{best:?}");
}

#[test]
fn early_stopping_keeps_the_best_round_and_the_seed_fixes_the_forest() {
    let (x, _, _) = data(1000, 4);
    let (vx, _, _) = data(300, 5);
    // Labels are noise: validation loss only gets worse as trees memorise the training rows.
    let mut rng = Rng::new(9);
    let y = Targets::Classes((0..1000).map(|_| rng.below(2)).collect());
    let vy = Targets::Classes((0..300).map(|_| rng.below(2)).collect());
    let reporter = NullReporter;
    let weights = vec![1.0; 1000];
    let mut cfg = config();
    cfg.num_trees = 1000;
    cfg.subsample = 0.8;
    cfg.feature_fraction = 0.67;
    let c = ctx(&reporter, TaskKind::Binary, Metric::LogLoss);
    let train = TrainingSet {
        x: &x,
        y: &y,
        weights: &weights,
    };
    let validation = ValidationSet { x: &vx, y: &vy };
    let a = fit(&cfg, &c, &train, &validation).unwrap();
    assert_eq!(a.stop_reason, StopReason::EarlyStopped);
    let ran = a.history.last().unwrap().step;
    assert!(
        ran < 1000 && a.best_step < ran,
        "best {} of {ran}",
        a.best_step
    );
    let Model::Gbdt(forest) = &a.model else {
        panic!()
    };
    assert_eq!(forest.trees.len() as u64, a.best_step);
    let b = fit(&cfg, &c, &train, &validation).unwrap();
    let Model::Gbdt(other) = &b.model else {
        panic!()
    };
    assert_eq!(forest, other);
}
