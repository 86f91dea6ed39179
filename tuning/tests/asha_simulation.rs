//! ASHA and Hyperband on a simulated asynchronous cluster: workers train trials whose loss
//! follows a synthetic learning curve, and a trial of fidelity r takes r time units.

use std::collections::BTreeMap;

use lepton_crds::v1alpha1::{AlgorithmType, ParameterSpec, ParameterType, Scale, TunableParameter};
use lepton_tuning::{ObservedTrial, SearchConfig, SearchSpace, Suggestion, TrialState, suggest};

fn double(name: TunableParameter, min: f64, max: f64, log: bool) -> ParameterSpec {
    ParameterSpec {
        name,
        type_: ParameterType::Double,
        min: Some(min),
        max: Some(max),
        scale: if log { Scale::Log } else { Scale::Linear },
        values: None,
        families: None,
    }
}

fn space() -> SearchSpace {
    SearchSpace::from_spec(
        &[
            double(TunableParameter::LearningRate, 1e-4, 1.0, true),
            double(TunableParameter::Dropout, 0.0, 0.8, false),
            double(TunableParameter::WeightDecay, 1e-6, 1e-1, true),
        ],
        None,
    )
    .unwrap()
}

/// Loss after `epochs` epochs: the configuration's final loss plus a decaying gap whose size
/// and speed depend on the configuration too (high dropout learns slowly but ends well), so
/// that low-fidelity rankings are informative but not exact.
fn curve(t: &ObservedTrial, epochs: u32) -> f64 {
    let lr = t.assignment["learningRate"].as_f64().unwrap().log10();
    let dropout = t.assignment["dropout"].as_f64().unwrap();
    let wd = t.assignment["weightDecay"].as_f64().unwrap().log10();
    let final_loss =
        0.1 + 0.05 * (lr + 2.0).powi(2) + 0.3 * (dropout - 0.5).powi(2) + 0.02 * (wd + 4.0).powi(2);
    let gap = 0.3 + 0.2 * dropout;
    let speed = 0.5 + 0.2 * (lr + 4.0);
    final_loss + gap * (-(speed * f64::from(epochs)) / 2.0).exp()
}

struct Outcome {
    /// Best loss among trials that ran at full fidelity.
    best_full: f64,
    /// Epochs spent, counting every trial from scratch.
    epochs: u64,
    trials: Vec<ObservedTrial>,
}

/// Runs `algorithm` with `workers` parallel slots until `budget` epochs have been started.
fn simulate(algorithm: AlgorithmType, seed: u64, workers: usize, budget: u64) -> Outcome {
    simulate_sampling(algorithm, true, seed, workers, budget)
}

/// As [`simulate`], choosing whether ASHA's new configurations come from the TPE model.
fn simulate_sampling(
    algorithm: AlgorithmType,
    model_based: bool,
    seed: u64,
    workers: usize,
    budget: u64,
) -> Outcome {
    let mut cfg = SearchConfig::new(algorithm);
    cfg.seed = seed;
    if let Some(fidelity) = cfg.fidelity.as_mut() {
        fidelity.model_based = model_based;
    }
    let space = space();
    let max = cfg.fidelity.as_ref().map_or(27, |f| f.max_resource);
    let mut trials: Vec<ObservedTrial> = Vec::new();
    // finish time -> trial position
    let mut running: BTreeMap<(u64, usize), ()> = BTreeMap::new();
    let mut now = 0u64;
    let mut spent = 0u64;
    loop {
        while running.len() < workers && spent < budget {
            let index = trials.len() as u32;
            let p = match suggest(&cfg, &space, &trials, index) {
                Suggestion::Trial(p) => p,
                other => panic!("{other:?}"),
            };
            let fidelity = p.fidelity.unwrap_or(max);
            let mut t = ObservedTrial::new(index, p.assignment, TrialState::Running);
            t.fidelity = p.fidelity;
            t.promoted_from = p.promoted_from;
            t.bracket = p.bracket;
            spent += u64::from(fidelity);
            running.insert((now + u64::from(fidelity), trials.len()), ());
            trials.push(t);
        }
        let Some(((at, pos), ())) = running.pop_first() else {
            break;
        };
        now = at;
        let fidelity = trials[pos].fidelity.unwrap_or(max);
        let loss = curve(&trials[pos], fidelity);
        trials[pos].state = TrialState::Succeeded;
        trials[pos].loss = Some(loss);
        trials[pos].curve = (1..=fidelity)
            .map(|e| (e, curve(&trials[pos], e)))
            .collect();
    }
    let best_full = trials
        .iter()
        .filter(|t| t.fidelity.unwrap_or(max) == max)
        .filter_map(|t| t.loss)
        .fold(f64::INFINITY, f64::min);
    Outcome {
        best_full,
        epochs: spent,
        trials,
    }
}

#[test]
fn asha_matches_full_fidelity_random_with_far_fewer_epochs() {
    let seeds = 20;
    let random_budget = 40 * 27;
    let asha_budget = random_budget / 3;
    let (mut random_sum, mut asha_sum, mut asha_epochs) = (0.0, 0.0, 0);
    for seed in 0..seeds {
        let r = simulate(AlgorithmType::Random, seed, 4, random_budget);
        let a = simulate(AlgorithmType::Asha, seed, 4, asha_budget);
        assert!(
            a.best_full.is_finite(),
            "ASHA brought no configuration to full fidelity"
        );
        random_sum += r.best_full;
        asha_sum += a.best_full;
        asha_epochs += a.epochs;
    }
    let (random_mean, asha_mean) = (random_sum / seeds as f64, asha_sum / seeds as f64);
    println!(
        "mean best full-fidelity loss: random {random_mean:.4} with {random_budget} epochs, ASHA {asha_mean:.4} with {} epochs",
        asha_epochs / seeds
    );
    assert!(
        asha_mean <= random_mean,
        "ASHA {asha_mean} vs random {random_mean}"
    );
}

#[test]
fn modelled_new_configurations_beat_random_ones_at_the_same_budget() {
    let seeds = 20;
    let budget = 40 * 27 / 3;
    let (mut modelled, mut random, mut wins) = (0.0, 0.0, 0);
    for seed in 0..seeds {
        let m = simulate_sampling(AlgorithmType::Asha, true, seed, 4, budget).best_full;
        let r = simulate_sampling(AlgorithmType::Asha, false, seed, 4, budget).best_full;
        modelled += m;
        random += r;
        wins += usize::from(m < r);
    }
    let (modelled, random) = (modelled / seeds as f64, random / seeds as f64);
    println!(
        "ASHA mean best full-fidelity loss: TPE sampler {modelled:.4}, random {random:.4}; TPE better on {wins}/{seeds} seeds"
    );
    assert!(
        modelled < random,
        "TPE sampler {modelled} vs random {random}"
    );
    assert!(
        wins * 2 > seeds as usize,
        "TPE sampler better on only {wins}/{seeds} seeds"
    );
}

#[test]
fn hyperband_runs_every_bracket_and_promotes_within_it() {
    let out = simulate(AlgorithmType::Hyperband, 3, 4, 1500);
    assert!(out.best_full.is_finite());
    let rungs = [1, 3, 9, 27];
    let by_index: BTreeMap<u32, &ObservedTrial> = out.trials.iter().map(|t| (t.index, t)).collect();
    let mut started = [0; 4];
    for t in &out.trials {
        let b = t.bracket.expect("hyperband sets the bracket") as usize;
        match t.promoted_from {
            None => {
                assert_eq!(t.fidelity, Some(rungs[b]), "bracket {b} starts at rung {b}");
                started[b] += 1;
            }
            Some(from) => {
                let parent = by_index[&from];
                assert_eq!(parent.bracket, t.bracket);
                assert_eq!(parent.assignment, t.assignment);
                let k = rungs
                    .iter()
                    .position(|r| Some(*r) == parent.fidelity)
                    .unwrap();
                assert_eq!(t.fidelity, Some(rungs[k + 1]));
            }
        }
    }
    // New configurations rotate over the four brackets.
    assert!(started.iter().all(|&n| n > 0), "{started:?}");
    assert!(
        started.iter().max().unwrap() - started.iter().min().unwrap() <= 1,
        "{started:?}"
    );
}
