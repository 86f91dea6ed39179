//! The entry point of the search algorithms: what trial `index` of a sweep should be.
//!
//! - grid: every combination of the dimensions' grid points (per family when `family` is
//!   tuned), in a fixed order, skipping points already tried; `Exhausted` after the last.
//! - random: independent uniform or log-uniform draws; a finite space never repeats a point
//!   and is `Exhausted` once every point was tried.
//! - tpe: a Latin hypercube of `startup_trials` points, then the tree-structured Parzen
//!   estimator. Succeeded trials rank by loss, early-stopped ones by their last reported loss;
//!   failed trials count as bad, so regions that crash are avoided; running ones are ignored.
//! - asha: new configurations at the lowest fidelity, promotions of each rung's best 1/eta.
//! - hyperband: ASHA over one bracket per rung, new configurations rotating over brackets.

use lepton_crds::v1alpha1::{AlgorithmType, FidelityParameter, FidelitySampler, TuningSweepSpec};

use crate::space::{Assignment, SearchSpace};
use crate::trial::ObservedTrial;
use crate::{asha, grid, random, tpe};

/// TPE settings, sanitised.
#[derive(Clone, Debug, PartialEq)]
pub struct TpeConfig {
    /// Trials proposed at random (spread out) before the model is used.
    pub startup_trials: u32,
    /// Candidates drawn from the good trials' density per suggestion.
    pub candidates: u32,
    /// Fraction of finished trials counted as good.
    pub gamma: f64,
}

impl Default for TpeConfig {
    fn default() -> Self {
        Self {
            startup_trials: 8,
            candidates: 24,
            gamma: 0.25,
        }
    }
}

/// The fidelity schedule of ASHA and Hyperband, sanitised.
#[derive(Clone, Debug, PartialEq)]
pub struct FidelityConfig {
    /// The hyperparameter the operator sets to [`Proposal::fidelity`].
    pub parameter: FidelityParameter,
    /// Fidelity of the first rung, >= 1.
    pub min_resource: u32,
    /// Fidelity of the last rung, > min_resource.
    pub max_resource: u32,
    /// Factor between rungs, >= 2.
    pub reduction_factor: u32,
    /// New configurations come from a TPE model of the highest rung with enough results
    /// (rather than at random).
    pub model_based: bool,
}

impl FidelityConfig {
    /// Manifest name of the fidelity hyperparameter: `epochs` or `numTrees`.
    pub fn parameter_name(&self) -> &'static str {
        match self.parameter {
            FidelityParameter::Epochs => "epochs",
            FidelityParameter::NumTrees => "numTrees",
        }
    }

    /// Fidelity of each rung: `min_resource * reduction_factor^k`, the last one capped at (and
    /// equal to) `max_resource`. For min 1, max 27, factor 3: 1, 3, 9, 27; for max 30:
    /// 1, 3, 9, 27, 30.
    pub fn rungs(&self) -> Vec<u32> {
        let mut out = Vec::new();
        let mut r = u64::from(self.min_resource.max(1));
        let max = u64::from(self.max_resource.max(self.min_resource.max(1)));
        while r < max {
            out.push(r as u32);
            r = r.saturating_mul(u64::from(self.reduction_factor.max(2)));
        }
        out.push(max as u32);
        out
    }
}

/// How a sweep searches, read from `spec.algorithm`.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchConfig {
    /// The algorithm.
    pub algorithm: AlgorithmType,
    /// Seed of every random choice.
    pub seed: u64,
    /// Grid points per double or int dimension, >= 2.
    pub grid_points: u32,
    /// TPE settings (used by tpe only).
    pub tpe: TpeConfig,
    /// Fidelity schedule; `Some` for asha and hyperband only.
    pub fidelity: Option<FidelityConfig>,
}

impl SearchConfig {
    /// Reads `spec.algorithm`. Out-of-range numbers (which admission rejects) are clamped to the
    /// nearest valid value rather than refused, so a stored object never stops its sweep.
    pub fn from_spec(spec: &TuningSweepSpec) -> Self {
        let a = &spec.algorithm;
        let clamp_u32 = |x: i32, lo: u32, hi: u32| (x.max(0) as u32).clamp(lo, hi);
        let fidelity =
            matches!(a.type_, AlgorithmType::Asha | AlgorithmType::Hyperband).then(|| {
                let min_resource = clamp_u32(a.fidelity.min_resource, 1, 100_000);
                FidelityConfig {
                    parameter: a.fidelity.parameter,
                    min_resource,
                    max_resource: clamp_u32(a.fidelity.max_resource, min_resource + 1, 100_001),
                    reduction_factor: clamp_u32(a.fidelity.reduction_factor, 2, 10),
                    model_based: a.fidelity.sampler == FidelitySampler::Tpe,
                }
            });
        let gamma = if a.tpe.gamma.is_finite() {
            a.tpe.gamma.clamp(0.05, 0.5)
        } else {
            0.25
        };
        Self {
            algorithm: a.type_,
            // Negative seeds are not admitted; reinterpreting the bits keeps them usable.
            seed: a.seed as u64,
            grid_points: clamp_u32(a.grid.points_per_parameter, 2, 100),
            tpe: TpeConfig {
                startup_trials: clamp_u32(a.tpe.startup_trials, 1, 1000),
                candidates: clamp_u32(a.tpe.candidates, 1, 10_000),
                gamma,
            },
            fidelity,
        }
    }

    /// A configuration with the algorithm's defaults (seed 42, 4 grid points, TPE 8/24/0.25,
    /// fidelity 1..27 by 3 in epochs for asha and hyperband).
    pub fn new(algorithm: AlgorithmType) -> Self {
        let fidelity =
            matches!(algorithm, AlgorithmType::Asha | AlgorithmType::Hyperband).then(|| {
                FidelityConfig {
                    parameter: FidelityParameter::Epochs,
                    min_resource: 1,
                    max_resource: 27,
                    reduction_factor: 3,
                    model_based: true,
                }
            });
        Self {
            algorithm,
            seed: 42,
            grid_points: 4,
            tpe: TpeConfig::default(),
            fidelity,
        }
    }

    /// Manifest name of the hyperparameter the operator sets to [`Proposal::fidelity`]
    /// (`epochs` or `numTrees`), for asha and hyperband.
    pub fn fidelity_parameter(&self) -> Option<&'static str> {
        self.fidelity.as_ref().map(FidelityConfig::parameter_name)
    }
}

/// A trial to create.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    /// Its parameter values.
    pub assignment: Assignment,
    /// asha/hyperband: the value of the fidelity hyperparameter.
    pub fidelity: Option<u32>,
    /// asha/hyperband: the trial whose configuration this one continues at a higher rung.
    pub promoted_from: Option<u32>,
    /// Hyperband: the bracket.
    pub bracket: Option<u32>,
}

impl Proposal {
    pub(crate) fn plain(assignment: Assignment) -> Self {
        Self {
            assignment,
            fidelity: None,
            promoted_from: None,
            bracket: None,
        }
    }
}

/// The answer of [`suggest`].
#[derive(Clone, Debug, PartialEq)]
pub enum Suggestion {
    /// Create this trial.
    Trial(Proposal),
    /// Nothing to start until a running trial finishes.
    Wait,
    /// No untried point is left.
    Exhausted,
}

/// What trial `index` should be. Depends only on (config, space, trials, index): the RNG is
/// seeded from (seed, index), never from earlier draws, so a restarted caller gets the same
/// answer. `trials` holds every trial created so far (any order; sort by index inside).
/// `Wait`: nothing to start until a running trial finishes (e.g. grid/ASHA edge cases).
/// `Exhausted`: no untried point is left (grid done; finite space fully tried).
pub fn suggest(
    config: &SearchConfig,
    space: &SearchSpace,
    trials: &[ObservedTrial],
    index: u32,
) -> Suggestion {
    let mut sorted: Vec<&ObservedTrial> = trials.iter().collect();
    sorted.sort_by_key(|t| t.index);
    match config.algorithm {
        AlgorithmType::Grid => grid::suggest(space, config.grid_points, &sorted),
        AlgorithmType::Random => random::suggest(space, config.seed, &sorted, index),
        AlgorithmType::Tpe => tpe::suggest(&config.tpe, space, config.seed, &sorted, index),
        AlgorithmType::Asha | AlgorithmType::Hyperband => {
            let fidelity = config.fidelity.clone().unwrap_or(FidelityConfig {
                parameter: FidelityParameter::Epochs,
                min_resource: 1,
                max_resource: 27,
                reduction_factor: 3,
                model_based: true,
            });
            let hyperband = config.algorithm == AlgorithmType::Hyperband;
            let model = fidelity.model_based.then_some(&config.tpe);
            asha::suggest(
                &fidelity,
                hyperband,
                space,
                config.seed,
                &sorted,
                index,
                model,
            )
        }
    }
}

/// Grid size when the algorithm is grid (for `maxTrials` messages).
pub fn grid_size(config: &SearchConfig, space: &SearchSpace) -> Option<u64> {
    (config.algorithm == AlgorithmType::Grid).then(|| grid::size(space, config.grid_points))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> TuningSweepSpec {
        serde_json::from_value(serde_json::json!({
            "objective": {"metric": "logLoss"},
            "parameters": [{"name": "learningRate", "type": "double", "min": 0.001, "max": 0.1}],
            "template": {"spec": {"data": {"source": "file:///d.csv", "target": "y"}}},
            "algorithm": serde_json::from_str::<serde_json::Value>(yaml).unwrap(),
        }))
        .unwrap()
    }

    #[test]
    fn from_spec_reads_algorithm() {
        let c = SearchConfig::from_spec(&spec(
            r#"{"type": "hyperband", "seed": 7, "fidelity": {"parameter": "numTrees", "minResource": 10, "maxResource": 270, "reductionFactor": 3}}"#,
        ));
        assert_eq!(c.algorithm, AlgorithmType::Hyperband);
        assert_eq!(c.seed, 7);
        assert_eq!(c.fidelity_parameter(), Some("numTrees"));
        assert_eq!(c.fidelity.as_ref().unwrap().rungs(), [10, 30, 90, 270]);

        let c = SearchConfig::from_spec(&spec(
            r#"{"type": "tpe", "tpe": {"startupTrials": 5, "candidates": 64, "gamma": 0.2}}"#,
        ));
        assert_eq!(
            c.tpe,
            TpeConfig {
                startup_trials: 5,
                candidates: 64,
                gamma: 0.2
            }
        );
        assert_eq!(c.fidelity, None);
        assert_eq!(c.fidelity_parameter(), None);

        let c = SearchConfig::from_spec(&spec(
            r#"{"type": "grid", "grid": {"pointsPerParameter": 6}}"#,
        ));
        assert_eq!(
            (c.algorithm, c.grid_points, c.seed),
            (AlgorithmType::Grid, 6, 42)
        );

        let c = SearchConfig::from_spec(&spec(r#"{"type": "asha"}"#));
        let f = c.fidelity.unwrap();
        assert_eq!(
            (f.parameter_name(), f.rungs()),
            ("epochs", vec![1, 3, 9, 27])
        );
    }

    #[test]
    fn rungs_cap_at_max() {
        let f = |min, max, eta| FidelityConfig {
            parameter: FidelityParameter::Epochs,
            min_resource: min,
            max_resource: max,
            reduction_factor: eta,
            model_based: false,
        };
        assert_eq!(f(1, 30, 3).rungs(), [1, 3, 9, 27, 30]);
        assert_eq!(f(2, 16, 2).rungs(), [2, 4, 8, 16]);
        assert_eq!(f(5, 6, 4).rungs(), [5, 6]);
    }
}
