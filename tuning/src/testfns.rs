//! Synthetic objectives for the search algorithms' tests: standard global-optimisation
//! benchmarks and hyperparameter-shaped ones, with their search spaces.

use lepton_crds::v1alpha1::{ConcreteModelFamily, TunableParameter as T};

use crate::space::tests::{cat, double, int, only};
use crate::space::{Assignment, SearchSpace};

/// A benchmark: its space and its loss.
pub struct Problem {
    pub name: &'static str,
    pub space: SearchSpace,
    pub loss: fn(&Assignment) -> f64,
}

fn x(a: &Assignment, name: &str) -> f64 {
    a[name].as_f64().unwrap()
}

const H6_NAMES: [&str; 6] = [
    "dropout",
    "subsample",
    "featureFraction",
    "weightDecay",
    "learningRate",
    "batchSize",
];

/// Branin on [-5, 10] x [0, 15]; minimum 0.397887.
pub fn branin() -> Problem {
    Problem {
        name: "branin",
        space: SearchSpace::from_spec(
            &[
                double(T::LearningRate, -5.0, 10.0, false),
                double(T::Dropout, 0.0, 15.0, false),
            ],
            None,
        )
        .unwrap(),
        loss: |a| {
            let (x1, x2) = (x(a, "learningRate"), x(a, "dropout"));
            let pi = std::f64::consts::PI;
            let b = 5.1 / (4.0 * pi * pi);
            let c = 5.0 / pi;
            (x2 - b * x1 * x1 + c * x1 - 6.0).powi(2)
                + 10.0 * (1.0 - 1.0 / (8.0 * pi)) * x1.cos()
                + 10.0
        },
    }
}

/// Hartmann 6-d on [0, 1]^6; minimum -3.32237.
pub fn hartmann6() -> Problem {
    let dims = [
        T::Dropout,
        T::Subsample,
        T::FeatureFraction,
        T::WeightDecay,
        T::LearningRate,
        T::BatchSize,
    ];
    Problem {
        name: "hartmann6",
        space: SearchSpace::from_spec(&dims.map(|d| double(d, 0.0, 1.0, false)), None).unwrap(),
        loss: |a| {
            const ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
            const A: [[f64; 6]; 4] = [
                [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
                [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
                [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
                [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
            ];
            const P: [[f64; 6]; 4] = [
                [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
                [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
                [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
                [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
            ];
            let mut s = 0.0;
            for i in 0..4 {
                let e: f64 = (0..6)
                    .map(|j| A[i][j] * (x(a, H6_NAMES[j]) - P[i][j]).powi(2))
                    .sum();
                s += ALPHA[i] * (-e).exp();
            }
            -s
        },
    }
}

/// A training-run-shaped objective: a shifted sphere in log10 of the learning rate, weight
/// decay and tree count, a quadratic in dropout, and a categorical offset; minimum 0.
pub fn log_sphere() -> Problem {
    Problem {
        name: "log_sphere",
        space: SearchSpace::from_spec(
            &[
                double(T::LearningRate, 1e-5, 1.0, true),
                double(T::WeightDecay, 1e-7, 1e-1, true),
                double(T::Dropout, 0.0, 0.8, false),
                int(T::NumTrees, 10, 1000, true),
                cat(T::Optimizer, &["sgd", "rmsprop", "adam"]),
            ],
            None,
        )
        .unwrap(),
        loss: |a| {
            let opt = match a["optimizer"].render().as_str() {
                "adam" => 0.0,
                "rmsprop" => 0.25,
                _ => 0.5,
            };
            (x(a, "learningRate").log10() + 2.5).powi(2)
                + 0.5 * (x(a, "weightDecay").log10() + 4.0).powi(2)
                + 4.0 * (x(a, "dropout") - 0.3).powi(2)
                + 0.3 * (x(a, "numTrees").log10() - 2.3).powi(2)
                + opt
        },
    }
}

/// Rosenbrock in 4 dimensions on [-2, 2]^4 plus a categorical offset; minimum 0.
pub fn rosenbrock_cat() -> Problem {
    Problem {
        name: "rosenbrock_cat",
        space: SearchSpace::from_spec(
            &[
                double(T::Dropout, -2.0, 2.0, false),
                double(T::Subsample, -2.0, 2.0, false),
                double(T::FeatureFraction, -2.0, 2.0, false),
                double(T::WeightDecay, -2.0, 2.0, false),
                cat(T::Activation, &["tanh", "relu", "gelu"]),
            ],
            None,
        )
        .unwrap(),
        loss: |a| {
            let v: Vec<f64> = ["dropout", "subsample", "featureFraction", "weightDecay"]
                .iter()
                .map(|n| x(a, n))
                .collect();
            let r: f64 = (0..3)
                .map(|i| 100.0 * (v[i + 1] - v[i] * v[i]).powi(2) + (1.0 - v[i]).powi(2))
                .sum();
            let act = match a["activation"].render().as_str() {
                "gelu" => 0.0,
                "relu" => 20.0,
                _ => 50.0,
            };
            (r + act).ln_1p()
        },
    }
}

/// A conditional space: the family chooses which dimensions apply; gbdt can reach 0.
pub fn families() -> Problem {
    use ConcreteModelFamily::*;
    Problem {
        name: "families",
        space: SearchSpace::from_spec(
            &[
                cat(T::Family, &["linear", "mlp", "gbdt"]),
                double(T::LearningRate, 1e-4, 1.0, true),
                only(double(T::Dropout, 0.0, 0.8, false), &[Mlp]),
                only(int(T::MaxDepth, 1, 12, false), &[Gbdt]),
                only(double(T::Subsample, 0.3, 1.0, false), &[Gbdt]),
            ],
            None,
        )
        .unwrap(),
        loss: |a| {
            let lr = x(a, "learningRate").log10();
            match a["family"].render().as_str() {
                "linear" => 1.0 + (lr + 1.0).powi(2),
                "mlp" => 0.5 + (lr + 3.0).powi(2) + 3.0 * (x(a, "dropout") - 0.2).powi(2),
                _ => {
                    (lr + 1.3).powi(2)
                        + 0.05 * (x(a, "maxDepth") - 6.0).powi(2)
                        + 2.0 * (x(a, "subsample") - 0.8).powi(2)
                }
            }
        },
    }
}

/// Styblinski–Tang in 4 dimensions on [-5, 5]^4; minimum -156.66.
pub fn styblinski_tang4() -> Problem {
    Problem {
        name: "styblinski_tang4",
        space: SearchSpace::from_spec(
            &[T::Dropout, T::Subsample, T::FeatureFraction, T::WeightDecay]
                .map(|d| double(d, -5.0, 5.0, false)),
            None,
        )
        .unwrap(),
        loss: |a| {
            ["dropout", "subsample", "featureFraction", "weightDecay"]
                .iter()
                .map(|n| {
                    let v = x(a, n);
                    (v.powi(4) - 16.0 * v * v + 5.0 * v) / 2.0
                })
                .sum()
        },
    }
}

/// A boosted-trees-shaped objective over mostly integer dimensions, with the usual
/// interaction between the number of trees and the learning rate; minimum 0.
pub fn gbdt_ints() -> Problem {
    Problem {
        name: "gbdt_ints",
        space: SearchSpace::from_spec(
            &[
                int(T::NumTrees, 10, 2000, true),
                double(T::LearningRate, 1e-3, 1.0, true),
                int(T::MaxDepth, 1, 16, false),
                int(T::MinSamplesLeaf, 1, 200, true),
                double(T::Subsample, 0.3, 1.0, false),
            ],
            None,
        )
        .unwrap(),
        loss: |a| {
            let budget = x(a, "numTrees").log10() + x(a, "learningRate").log10();
            (budget - 1.3).powi(2)
                + 0.1 * (x(a, "learningRate").log10() + 1.5).powi(2)
                + 0.02 * (x(a, "maxDepth") - 7.0).powi(2)
                + 0.2 * (x(a, "minSamplesLeaf").log10() - 1.0).powi(2)
                + (x(a, "subsample") - 0.75).powi(2)
        },
    }
}

pub fn all() -> Vec<Problem> {
    vec![
        branin(),
        hartmann6(),
        log_sphere(),
        rosenbrock_cat(),
        families(),
        styblinski_tang4(),
        gbdt_ints(),
    ]
}
