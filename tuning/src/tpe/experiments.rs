//! The bench on which [`Knobs`]' defaults were chosen: TPE variants against each other and
//! random search on the synthetic objectives, many seeds, mean best loss at checkpoints.
//!
//! ```text
//! SEEDS=100 TRIALS=60 WORKERS=1 PROBLEMS=branin,hartmann6 \
//! VARIANTS='random;default;s=0.15,rw=0;g=0.1,st=10,iid' \
//!   cargo test -p lepton-tuning compare_variants -- --ignored --nocapture
//! ```
//!
//! A variant is `random`, `default`, or comma-separated changes to the defaults: `s` (Scott
//! factor), `cs` (categorical smoothing), `mb` (bandwidth floor), `pw` (prior weight), `rw`
//! (rank weights, 0 or 1), `uni` (univariate), `iid` (independent startup draws), `g`
//! (gamma), `c` (candidates), `st` (startup trials). With WORKERS > 1, the latest WORKERS - 1
//! trials are still running at each suggestion.

use super::*;
use crate::testfns;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn variant(spec: &str) -> (Option<Knobs>, TpeConfig) {
    let mut k = Knobs::default();
    let mut c = TpeConfig::default();
    if spec == "random" {
        return (None, c);
    }
    for part in spec.split(',').filter(|p| !p.is_empty() && *p != "default") {
        let (key, val) = part.split_once('=').unwrap_or((part, "0"));
        let v: f64 = val.parse().expect("a number");
        match key {
            "s" => k.scott = v,
            "cs" => k.cat_smoothing = v,
            "mb" => k.min_bandwidth = v,
            "pw" => k.prior_weight = v,
            "rw" => k.rank_weights = v != 0.0,
            "uni" => k.multivariate = false,
            "iid" => k.quasi_random_startup = false,
            "g" => c.gamma = v,
            "c" => c.candidates = v as u32,
            "st" => c.startup_trials = v as u32,
            other => panic!("unknown knob {other}"),
        }
    }
    (Some(k), c)
}

/// Best loss after each trial.
fn run_curve(
    suggest_fn: &dyn Fn(&[&ObservedTrial], u32) -> Suggestion,
    loss: fn(&Assignment) -> f64,
    n: u32,
    workers: usize,
) -> Vec<f64> {
    let mut trials: Vec<ObservedTrial> = Vec::new();
    let mut best = f64::INFINITY;
    let mut out = Vec::new();
    for i in 0..n {
        let running = trials.len().saturating_sub(workers.max(1) - 1);
        for t in &mut trials[running..] {
            t.state = TrialState::Running;
        }
        let refs: Vec<&ObservedTrial> = trials.iter().collect();
        let Suggestion::Trial(p) = suggest_fn(&refs, i) else {
            panic!("no trial {i}")
        };
        for t in &mut trials[running..] {
            t.state = TrialState::Succeeded;
        }
        let l = loss(&p.assignment);
        best = best.min(l);
        out.push(best);
        let mut t = ObservedTrial::new(i, p.assignment, TrialState::Succeeded);
        t.loss = Some(l);
        trials.push(t);
    }
    out
}

#[test]
#[ignore]
fn compare_variants() {
    let seeds: u64 = env("SEEDS", 30);
    let seed0: u64 = env("SEED0", 0);
    let n: u32 = env("TRIALS", 60);
    let workers: usize = env("WORKERS", 1);
    let problems: String = env("PROBLEMS", String::new());
    let variants: String = env("VARIANTS", "random;default".to_string());
    let checkpoints: Vec<usize> = (1..=6).map(|k| k * n as usize / 6).collect();
    println!("mean best loss after {checkpoints:?} trials, standard error of the last");
    for p in testfns::all() {
        if !problems.is_empty() && !problems.split(',').any(|w| w == p.name) {
            continue;
        }
        println!("== {}", p.name);
        for spec in variants.split(';') {
            let (knobs, cfg) = variant(spec);
            let mut sums = vec![0.0; checkpoints.len()];
            let mut finals = Vec::new();
            for seed in seed0..seed0 + seeds {
                let curve = run_curve(
                    &|trials, i| match &knobs {
                        None => random::suggest(&p.space, seed, trials, i),
                        Some(k) => suggest_with(k, &cfg, &p.space, seed, trials, i),
                    },
                    p.loss,
                    n,
                    workers,
                );
                finals.push(curve[curve.len() - 1]);
                for (j, c) in checkpoints.iter().enumerate() {
                    sums[j] += curve[c - 1];
                }
            }
            let k = seeds as f64;
            let means: Vec<String> = sums.iter().map(|s| format!("{:9.4}", s / k)).collect();
            let m = finals.iter().sum::<f64>() / k;
            let se = (finals.iter().map(|x| (x - m).powi(2)).sum::<f64>() / k).sqrt() / k.sqrt();
            println!("{spec:24} {}  se {se:.4}", means.join(" "));
        }
    }
}
