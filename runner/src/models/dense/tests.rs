use lepton_crds::v1alpha1::{EarlyStopping, Metric};

use super::*;
use crate::models::Head;
use crate::progress::NullReporter;

fn config(hidden: &[usize], activation: Activation) -> DenseConfig {
    DenseConfig {
        hidden_layers: hidden.to_vec(),
        activation,
        dropout: 0.0,
        learning_rate: 0.01,
        weight_decay: 0.0,
        epochs: 60,
        batch_size: 32,
        optimizer: Optimizer::Adam,
    }
}

fn loss(network: &DenseNetwork, task: TaskKind, batch: &Batch) -> f64 {
    let z = network.forward(batch.x);
    let total: f32 = batch.w.sum();
    let mut sum = 0.0f64;
    for (i, row) in z.rows().into_iter().enumerate() {
        let w = f64::from(batch.w[i]);
        sum += w * match task {
            TaskKind::Binary => {
                let (z, y) = (f64::from(row[0]), f64::from(batch.y[[i, 0]]));
                z.max(0.0) - z * y + (-z.abs()).exp().ln_1p()
            }
            TaskKind::Multiclass { .. } => {
                let max = row.iter().copied().fold(f32::MIN, f32::max) as f64;
                let lse = max
                    + row
                        .iter()
                        .map(|&v| (f64::from(v) - max).exp())
                        .sum::<f64>()
                        .ln();
                let k = batch.y.row(i).iter().position(|&v| v == 1.0).unwrap();
                lse - f64::from(row[k])
            }
            TaskKind::Regression => 0.5 * (f64::from(row[0]) - f64::from(batch.y[[i, 0]])).powi(2),
        };
    }
    sum / f64::from(total)
}

#[test]
fn backpropagation_matches_finite_differences() {
    for (task, outputs, activation) in [
        (TaskKind::Multiclass { classes: 3 }, 3, Activation::Tanh),
        (TaskKind::Binary, 1, Activation::Gelu),
        (TaskKind::Regression, 1, Activation::Relu),
    ] {
        let mut rng = Rng::new(5);
        let cfg = config(&[4, 3], activation);
        let mut network = initialise(&cfg, 3, outputs, &mut rng);
        let x = Array2::from_shape_fn((6, 3), |_| rng.normal() as f32);
        let y = Array2::from_shape_fn((6, outputs), |(i, j)| match task {
            TaskKind::Multiclass { .. } => f32::from(u8::from(i % 3 == j)),
            TaskKind::Binary => (i % 2) as f32,
            TaskKind::Regression => rng.normal() as f32,
        });
        let w = Array1::from_shape_fn(6, |i| 0.5 + i as f32 * 0.25);
        let batch = Batch {
            x: x.view(),
            y: y.view(),
            w: w.view(),
        };
        let grads = gradients(&network, &cfg, task, &batch, &mut rng);
        for layer in 0..network.layers.len() {
            for idx in [(0, 0), (1, 2)] {
                if idx.0 >= network.layers[layer].weights.nrows()
                    || idx.1 >= network.layers[layer].weights.ncols()
                {
                    continue;
                }
                let h = 1e-2f32;
                let original = network.layers[layer].weights[idx];
                network.layers[layer].weights[idx] = original + h;
                let up = loss(&network, task, &batch);
                network.layers[layer].weights[idx] = original - h;
                let down = loss(&network, task, &batch);
                network.layers[layer].weights[idx] = original;
                let numeric = (up - down) / (2.0 * f64::from(h));
                let analytic = f64::from(grads.weights[layer][idx]);
                assert!(
                    (numeric - analytic).abs() < 2e-3 + 2e-2 * numeric.abs(),
                    "{task:?} {activation:?} layer {layer} {idx:?}: numeric {numeric} analytic {analytic}"
                );
            }
        }
    }
}

fn two_moons_like(n: usize, seed: u64) -> (Features, Vec<usize>) {
    // XOR of the signs: no linear model separates it, a small MLP does.
    let mut rng = Rng::new(seed);
    let mut values = Vec::with_capacity(n * 2);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let (a, b) = (rng.uniform() * 2.0 - 1.0, rng.uniform() * 2.0 - 1.0);
        values.extend([a as f32, b as f32]);
        y.push(usize::from((a > 0.0) != (b > 0.0)));
    }
    (
        Features {
            values,
            rows: n,
            cols: 2,
        },
        y,
    )
}

fn context(reporter: &NullReporter, task: TaskKind, metric: Metric) -> FitContext<'_> {
    FitContext {
        head: Head {
            task,
            target_mean: 0.0,
            target_std: 1.0,
        },
        metric,
        early_stopping: EarlyStopping {
            enabled: false,
            ..EarlyStopping::default()
        },
        seed: 7,
        deadline: None,
        reporter,
    }
}

#[test]
fn an_mlp_learns_xor_and_a_linear_model_cannot() {
    let (x, y) = two_moons_like(800, 1);
    let (vx, vy) = two_moons_like(200, 2);
    let (y, vy) = (Targets::Classes(y), Targets::Classes(vy));
    let weights = vec![1.0; 800];
    let train = TrainingSet {
        x: &x,
        y: &y,
        weights: &weights,
    };
    let validation = ValidationSet { x: &vx, y: &vy };
    let reporter = NullReporter;
    let ctx = context(&reporter, TaskKind::Binary, Metric::Accuracy);
    let mlp = fit(
        &config(&[16, 16], Activation::Relu),
        &ctx,
        &train,
        &validation,
    )
    .unwrap();
    let linear = fit(&config(&[], Activation::Relu), &ctx, &train, &validation).unwrap();
    let accuracy = |f: &Fitted| f.history[(f.best_step - 1) as usize].metrics["accuracy"];
    assert!(accuracy(&mlp) > 0.93, "mlp accuracy {}", accuracy(&mlp));
    assert!(
        accuracy(&linear) < 0.7,
        "linear accuracy {}",
        accuracy(&linear)
    );
    assert_eq!(linear.model.family(), ConcreteModelFamily::Linear);
}

#[test]
fn the_same_seed_trains_the_same_network() {
    let (x, y) = two_moons_like(300, 3);
    let y = Targets::Classes(y);
    let weights = vec![1.0; 300];
    let train = TrainingSet {
        x: &x,
        y: &y,
        weights: &weights,
    };
    let validation = ValidationSet { x: &x, y: &y };
    let reporter = NullReporter;
    let ctx = context(&reporter, TaskKind::Binary, Metric::Auc);
    let mut cfg = config(&[8], Activation::Gelu);
    cfg.dropout = 0.2;
    cfg.epochs = 5;
    let (a, b) = (
        fit(&cfg, &ctx, &train, &validation).unwrap(),
        fit(&cfg, &ctx, &train, &validation).unwrap(),
    );
    let (Model::Dense(a), Model::Dense(b)) = (a.model, b.model) else {
        panic!()
    };
    assert_eq!(a, b);
}

#[test]
fn a_huge_learning_rate_is_reported_as_divergence_not_a_panic() {
    let (x, _) = two_moons_like(200, 4);
    let y = Targets::Values((0..200).map(|i| f64::from(i) * 1e30).collect());
    let weights = vec![1.0; 200];
    let train = TrainingSet {
        x: &x,
        y: &y,
        weights: &weights,
    };
    let validation = ValidationSet { x: &x, y: &y };
    let reporter = NullReporter;
    let ctx = context(&reporter, TaskKind::Regression, Metric::Rmse);
    let mut cfg = config(&[4], Activation::Relu);
    cfg.learning_rate = 1e30;
    cfg.optimizer = Optimizer::Sgd;
    let err = fit(&cfg, &ctx, &train, &validation).unwrap_err();
    assert_eq!(err.reason(), "TrainingDiverged");
}
