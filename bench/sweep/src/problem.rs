//! One data set prepared for scoring trials: a held-out test split the search never sees, and
//! validation folds of the remaining (search) rows, each preprocessed once. A trial trains the
//! runner's model on every fold with the runner's own code and is scored by the runner's metrics.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use lepton_crds::v1alpha1::{
    ClassWeights, ConcreteModelFamily, Hyperparameters, Metric, TrainingJobSpec,
};
use lepton_runner::dataset::{self, Dataset};
use lepton_runner::metrics::{self, Targets, TaskKind};
use lepton_runner::models::{
    self, FitContext, Fitted, Head, StepMetrics, TrainingSet, ValidationSet,
};
use lepton_runner::preprocess::{Features, Preprocessor};
use lepton_runner::progress::NullReporter;
use lepton_runner::rng::Rng;
use lepton_runner::table::{self, ReadOptions};
use lepton_runner::train::{dense_config, gbdt_config, head_for, select_targets};
use serde_json::{Value, json};

/// Share of the rows held out as the test set.
pub const TEST_FRACTION: f64 = 0.2;

/// How the search rows are split for validation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Validation {
    /// `k` folds (stratified by class for classification); each trial trains `k` models.
    KFold {
        /// Number of folds.
        k: usize,
        /// Seed of the assignment of rows to folds.
        seed: u64,
    },
    /// One split made by the runner's own split function, as a single TrainingJob does.
    Holdout {
        /// Share of the search rows held out.
        fraction: f64,
        /// Seed of the split.
        seed: u64,
    },
}

impl Validation {
    /// A short description for results files.
    pub fn describe(&self) -> Value {
        match *self {
            Validation::KFold { k, seed } => json!({"kind": "kfold", "folds": k, "seed": seed}),
            Validation::Holdout { fraction, seed } => {
                json!({"kind": "holdout", "fraction": fraction, "seed": seed})
            }
        }
    }
}

/// Rows of one fold, preprocessed with statistics learned on the fold's training rows.
struct Fold {
    train_x: Features,
    train_y: Targets,
    weights: Vec<f32>,
    validation_x: Features,
    validation_y: Targets,
    test_x: Features,
    head: Head,
}

/// A data set ready for trials.
pub struct Problem {
    folds: Vec<Fold>,
    test_y: Targets,
    task: TaskKind,
    metric: Metric,
    template: TrainingJobSpec,
    /// Rows the search may use (training and validation).
    pub search_rows: usize,
    /// Rows held out for the test metric.
    pub test_rows: usize,
}

/// A scored trial.
#[derive(Clone, Debug)]
pub struct Scored {
    /// The objective metric on validation rows, mean over folds.
    pub validation: f64,
    /// The objective metric per fold.
    pub validation_folds: Vec<f64>,
    /// The objective metric on the test rows, mean over the fold models (each is the model a
    /// TrainingJob with these hyperparameters would produce).
    pub test: f64,
    /// The objective metric of the fold models' averaged test predictions.
    pub test_ensemble: f64,
    /// Epochs (trees for gbdt) actually trained, per fold.
    pub steps: Vec<u64>,
    /// Validation loss curve, mean over folds, at each step every fold reached.
    pub curve: Vec<(u64, f64)>,
}

impl Problem {
    /// Reads `file` as the template's `data` says, holds out the test rows (seed `test_seed`,
    /// stratified like the runner's split) and prepares the validation folds.
    pub fn load(
        file: &Path,
        template: &TrainingJobSpec,
        validation: Validation,
        test_seed: u64,
    ) -> Result<Self, String> {
        let data = &template.data;
        let bytes =
            std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let read = ReadOptions::from_spec(&data.source, data.format, &data.csv)
            .map_err(|e| e.to_string())?;
        let table = table::read_table(&bytes, &read).map_err(|e| e.to_string())?;
        let (mut ds, _) = dataset::from_table(table, data).map_err(|e| e.to_string())?;
        if data.preprocessing.remove_duplicates {
            dataset::remove_duplicates(&mut ds);
        }
        let task = ds.target.task;
        let metric = template
            .model
            .metric
            .unwrap_or_else(|| task.default_metric());
        let outer = dataset::split_rows(
            &ds.target.values,
            &ds.target.classes,
            TEST_FRACTION,
            data.preprocessing.stratify,
            test_seed,
        )
        .map_err(|e| e.to_string())?;
        let mut search = ds.clone();
        search.select_rows(&outer.train);
        let mut test = ds;
        test.select_rows(&outer.validation);

        let plans =
            dataset::plan_columns(&search.features, &data.preprocessing, &search.source_rows)
                .map_err(|e| e.to_string())?;
        let splits = validation_splits(&search, validation, data.preprocessing.stratify)?;
        let all_test: Vec<usize> = (0..test.rows()).collect();
        let mut folds = Vec::with_capacity(splits.len());
        for (train_rows, validation_rows) in splits {
            let preprocessor = Preprocessor::fit(
                &search,
                &plans,
                &train_rows,
                &data.preprocessing,
                &data.csv.null_values,
            )
            .map_err(|e| e.to_string())?;
            let train_y = select_targets(&search.target.values, &train_rows);
            let weights = models::row_weights(
                task,
                &train_y,
                data.preprocessing.class_weights == ClassWeights::Balanced,
            );
            folds.push(Fold {
                train_x: preprocessor.transform(&search, &train_rows),
                head: head_for(task, &train_y),
                train_y,
                weights,
                validation_x: preprocessor.transform(&search, &validation_rows),
                validation_y: select_targets(&search.target.values, &validation_rows),
                test_x: preprocessor.transform(&test, &all_test),
            });
        }
        Ok(Self {
            folds,
            test_y: test.target.values.clone(),
            task,
            metric,
            template: template.clone(),
            search_rows: search.rows(),
            test_rows: test.rows(),
        })
    }

    /// The objective metric.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Trains `family` with `hyper` on every fold, as a TrainingJob with the template's model
    /// settings (early stopping, seed, metric) would, and scores validation and test rows.
    pub fn score(
        &self,
        family: ConcreteModelFamily,
        hyper: &Hyperparameters,
    ) -> Result<Scored, String> {
        let name = self.metric.as_str();
        let mut validation_folds = Vec::new();
        let mut tests = Vec::new();
        let mut steps = Vec::new();
        let mut histories = Vec::new();
        let mut summed: Vec<f64> = Vec::new();
        for fold in &self.folds {
            let fitted = self.fit(fold, family, hyper)?;
            let validation = fitted.model.predict(&fold.head, &fold.validation_x);
            let validation = metrics::evaluate(self.task, &fold.validation_y, &validation);
            let test = fitted.model.predict(&fold.head, &fold.test_x);
            if summed.is_empty() {
                summed = vec![0.0; test.len()];
            }
            for (s, p) in summed.iter_mut().zip(&test) {
                *s += f64::from(*p);
            }
            let test = metrics::evaluate(self.task, &self.test_y, &test);
            validation_folds.push(value(&validation, name)?);
            tests.push(value(&test, name)?);
            steps.push(fitted.history.last().map_or(0, |h| h.step));
            histories.push(fitted.history);
        }
        let k = self.folds.len() as f64;
        let averaged: Vec<f32> = summed.iter().map(|s| (s / k) as f32).collect();
        let ensemble = metrics::evaluate(self.task, &self.test_y, &averaged);
        Ok(Scored {
            validation: validation_folds.iter().sum::<f64>() / k,
            validation_folds,
            test: tests.iter().sum::<f64>() / k,
            test_ensemble: value(&ensemble, name)?,
            steps,
            curve: mean_curve(&histories, name),
        })
    }

    fn fit(
        &self,
        fold: &Fold,
        family: ConcreteModelFamily,
        hyper: &Hyperparameters,
    ) -> Result<Fitted, String> {
        let model = &self.template.model;
        let ctx = FitContext {
            head: fold.head,
            metric: self.metric,
            early_stopping: model.early_stopping.clone(),
            seed: model.seed as u64,
            deadline: None,
            reporter: &NullReporter,
        };
        let train = TrainingSet {
            x: &fold.train_x,
            y: &fold.train_y,
            weights: &fold.weights,
        };
        let validation = ValidationSet {
            x: &fold.validation_x,
            y: &fold.validation_y,
        };
        let fitted = match family {
            ConcreteModelFamily::Gbdt => {
                models::gbdt::fit(&gbdt_config(hyper), &ctx, &train, &validation)
            }
            dense => models::dense::fit(
                &dense_config(dense, hyper, fold.train_x.rows),
                &ctx,
                &train,
                &validation,
            ),
        };
        fitted.map_err(|e| e.to_string())
    }
}

/// Runs `f` and returns its result with the seconds it took.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let started = Instant::now();
    let out = f();
    (out, started.elapsed().as_secs_f64())
}

fn value(metrics: &BTreeMap<String, f64>, name: &str) -> Result<f64, String> {
    metrics
        .get(name)
        .copied()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("the {name} is not a finite number"))
}

/// The objective at each step every fold reached, averaged over folds (as reported, not as a
/// loss: the caller turns it into one).
fn mean_curve(histories: &[Vec<StepMetrics>], name: &str) -> Vec<(u64, f64)> {
    let Some(first) = histories.first() else {
        return Vec::new();
    };
    first
        .iter()
        .filter_map(|h| {
            let values: Option<Vec<f64>> = histories
                .iter()
                .map(|other| {
                    other
                        .iter()
                        .find(|o| o.step == h.step)
                        .and_then(|o| o.metrics.get(name).copied())
                })
                .collect();
            let values = values?;
            Some((h.step, values.iter().sum::<f64>() / values.len() as f64))
        })
        .collect()
}

/// Training rows and validation rows of one fold, indices into the search rows.
type FoldRows = (Vec<usize>, Vec<usize>);

/// The rows of each fold.
fn validation_splits(
    search: &Dataset,
    validation: Validation,
    stratify: bool,
) -> Result<Vec<FoldRows>, String> {
    match validation {
        Validation::Holdout { fraction, seed } => {
            let split = dataset::split_rows(
                &search.target.values,
                &search.target.classes,
                fraction,
                stratify,
                seed,
            )
            .map_err(|e| e.to_string())?;
            Ok(vec![(split.train, split.validation)])
        }
        Validation::KFold { k, seed } => {
            if k < 2 {
                return Err("k-fold validation needs at least 2 folds".into());
            }
            let n = search.rows();
            let groups: Vec<Vec<usize>> = match &search.target.values {
                Targets::Classes(c) if stratify => {
                    let mut groups = vec![Vec::new(); search.target.classes.len()];
                    for (row, &class) in c.iter().enumerate() {
                        groups[class].push(row);
                    }
                    groups
                }
                _ => vec![(0..n).collect()],
            };
            // Each class is shuffled and dealt round-robin, continuing where the previous class
            // stopped, so folds differ in size by at most one row and keep class proportions.
            let mut rng = Rng::new(seed);
            let mut fold_of = vec![0usize; n];
            let mut next = 0;
            for mut rows in groups {
                rng.shuffle(&mut rows);
                for row in rows {
                    fold_of[row] = next % k;
                    next += 1;
                }
            }
            Ok((0..k)
                .map(|f| {
                    let (validation, train): (Vec<usize>, Vec<usize>) =
                        (0..n).partition(|&r| fold_of[r] == f);
                    (train, validation)
                })
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::Sweep;
    use lepton_runner::dataset::{RawFeature, Target};
    use lepton_runner::table::ColumnData;

    fn classes(labels: &[usize]) -> Dataset {
        Dataset {
            features: vec![RawFeature {
                name: "x".into(),
                data: ColumnData::Numeric((0..labels.len()).map(|i| i as f64).collect()),
            }],
            target: Target {
                name: "y".into(),
                task: TaskKind::Binary,
                classes: vec!["no".into(), "yes".into()],
                values: Targets::Classes(labels.to_vec()),
                task_reason: String::new(),
            },
            source_rows: (1..=labels.len()).collect(),
        }
    }

    #[test]
    fn folds_partition_the_rows_and_keep_class_proportions() {
        let labels: Vec<usize> = (0..103).map(|i| usize::from(i % 10 == 0)).collect();
        let ds = classes(&labels);
        let folds = validation_splits(&ds, Validation::KFold { k: 5, seed: 3 }, true).unwrap();
        assert_eq!(folds.len(), 5);
        let mut seen: Vec<usize> = folds.iter().flat_map(|(_, v)| v.clone()).collect();
        seen.sort_unstable();
        assert_eq!(
            seen,
            (0..103).collect::<Vec<_>>(),
            "each row validates once"
        );
        for (train, validation) in &folds {
            assert_eq!(train.len() + validation.len(), 103);
            assert!((20..=21).contains(&validation.len()));
            let positives = validation.iter().filter(|&&r| labels[r] == 1).count();
            assert!((2..=3).contains(&positives), "{positives} positives");
        }
        assert_eq!(
            folds,
            validation_splits(&ds, Validation::KFold { k: 5, seed: 3 }, true).unwrap()
        );
        assert_ne!(
            folds,
            validation_splits(&ds, Validation::KFold { k: 5, seed: 4 }, true).unwrap()
        );
        let holdout = Validation::Holdout {
            fraction: 0.2,
            seed: 1,
        };
        let split = validation_splits(&ds, holdout, true).unwrap();
        assert_eq!(split.len(), 1);
        assert_eq!(split[0].1.len(), 20);
    }

    #[test]
    fn a_trial_on_credit_trains_every_fold_and_scores_test_rows() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let sweep = Sweep::read(&root.join("credit-sweep.yaml")).unwrap();
        let template = &sweep.spec.template.spec;
        let problem = Problem::load(
            &root.join("../../examples/data/Credit.csv"),
            template,
            Validation::KFold { k: 3, seed: 0 },
            7,
        )
        .unwrap();
        assert_eq!((problem.search_rows, problem.test_rows), (320, 80));
        assert_eq!(problem.metric(), Metric::Rmse);
        let params = serde_json::json!({"learningRate": 0.01, "hiddenLayers": "16"});
        let (family, hyper) = sweep.trial(params.as_object().unwrap(), Some(4)).unwrap();
        let scored = problem.score(family, &hyper).unwrap();
        assert_eq!(scored.steps, vec![4, 4, 4]);
        assert_eq!(scored.validation_folds.len(), 3);
        assert!(scored.validation.is_finite() && scored.validation > 0.0);
        assert!(scored.test.is_finite() && scored.test_ensemble.is_finite());
        assert_eq!(scored.curve.len(), 4);
        let again = problem.score(family, &hyper).unwrap();
        assert_eq!(again.validation, scored.validation, "deterministic");
    }
}
