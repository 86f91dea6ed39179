//! ASHA (Li et al., 2018, "A System for Massively Parallel Hyperparameter Tuning") and its
//! asynchronous Hyperband: trials start at low fidelity, and whenever a trial slot is free the
//! best configuration not yet promoted from a rung moves up one rung, as soon as it ranks in
//! that rung's top 1/eta. Nothing waits for a rung to fill up, so slots never idle.
//!
//! A promoted configuration runs as a new trial at the higher fidelity (from scratch: trials
//! are independent TrainingJobs), which [`Proposal::promoted_from`] links to its predecessor.

use std::collections::{HashMap, HashSet};

use crate::rng::Rng;
use crate::search::{FidelityConfig, Proposal, Suggestion, TpeConfig};
use crate::space::{self, Assignment, SearchSpace};
use crate::trial::{ObservedTrial, TrialState};
use crate::{random, tpe};

/// Stream of [`Rng::for_trial`] for ASHA's new configurations.
const STREAM: u64 = 3;

/// The rung of a trial: the position of its fidelity among the rungs.
fn rung_of(rungs: &[u32], t: &ObservedTrial) -> Option<usize> {
    rungs.iter().position(|r| Some(*r) == t.fidelity)
}

/// The bracket of a trial: as recorded, else that of the configuration it was promoted from,
/// else the rung it started at (a bracket's bottom rung is its number).
fn bracket_of(
    rungs: &[u32],
    by_index: &HashMap<u32, &ObservedTrial>,
    t: &ObservedTrial,
) -> Option<u32> {
    let mut cur = t;
    // Bounded by the number of trials, in case a corrupted chain loops.
    for _ in 0..=by_index.len() {
        if let Some(b) = cur.bracket {
            return Some(b);
        }
        match cur.promoted_from.and_then(|p| by_index.get(&p)) {
            Some(parent) => cur = parent,
            None => return rung_of(rungs, cur).map(|r| r as u32),
        }
    }
    None
}

/// ASHA (`hyperband == false`, one bracket) or asynchronous Hyperband's suggestion for trial
/// `index`.
///
/// Promotion: from the highest rung below the top down, the best-ranked succeeded trial of
/// the rung's top floor(n/eta) that no trial has been promoted from yet, where n counts the
/// rung's succeeded and failed trials (failures rank last and never promote; running ones do
/// not count). Ties in loss go to the lower index. Otherwise a new random configuration
/// starts at the bottom rung of its bracket. Hyperband has one bracket per rung, bracket b
/// starting at rung b (so the last one trains every configuration at full fidelity), and
/// rotates brackets with every new configuration. In a finite space whose configurations have
/// all started, the answer is `Wait` while some trial runs (it may allow a promotion) and
/// `Exhausted` after.
///
/// With `model`, a new configuration is TPE's proposal from the results of the highest rung
/// with at least `startup_trials` of them (BOHB's choice: the longest runs that are numerous
/// enough to model); with fewer anywhere, TPE's spread-out start-up points from rung 0.
pub(crate) fn suggest(
    f: &FidelityConfig,
    hyperband: bool,
    space: &SearchSpace,
    seed: u64,
    trials: &[&ObservedTrial],
    index: u32,
    model: Option<&TpeConfig>,
) -> Suggestion {
    let rungs = f.rungs();
    let top = rungs.len() - 1;
    let eta = f.reduction_factor.max(2) as usize;
    let brackets = if hyperband { rungs.len() } else { 1 };
    let promoted: HashSet<u32> = trials.iter().filter_map(|t| t.promoted_from).collect();
    let by_index: HashMap<u32, &ObservedTrial> = trials.iter().map(|t| (t.index, *t)).collect();
    let info: Vec<(usize, u32)> = trials
        .iter()
        .map(|t| {
            let rung = rung_of(&rungs, t).unwrap_or(usize::MAX);
            let bracket = if hyperband {
                bracket_of(&rungs, &by_index, t).unwrap_or(u32::MAX)
            } else {
                0
            };
            (rung, bracket)
        })
        .collect();

    for k in (0..top).rev() {
        for b in 0..brackets.min(k + 1) as u32 {
            let mut done: Vec<(Option<f64>, u32, usize)> = Vec::new();
            for (j, t) in trials.iter().enumerate() {
                if info[j] != (k, b) {
                    continue;
                }
                match t.state {
                    TrialState::Succeeded => match t.succeeded_loss() {
                        Some(l) => done.push((Some(l), t.index, j)),
                        None => done.push((None, t.index, j)),
                    },
                    TrialState::Failed => done.push((None, t.index, j)),
                    _ => {}
                }
            }
            done.sort_by(|x, y| match (x.0, y.0) {
                (Some(a), Some(c)) => a.total_cmp(&c).then(x.1.cmp(&y.1)),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => x.1.cmp(&y.1),
            });
            let quota = done.len() / eta;
            if let Some(&(_, idx, j)) = done
                .iter()
                .take(quota)
                .find(|(l, idx, _)| l.is_some() && !promoted.contains(idx))
            {
                return Suggestion::Trial(Proposal {
                    assignment: trials[j].assignment.clone(),
                    fidelity: Some(rungs[k + 1]),
                    promoted_from: Some(idx),
                    bracket: hyperband.then_some(b),
                });
            }
        }
    }

    let started = trials.iter().filter(|t| t.promoted_from.is_none()).count();
    let mut rng = Rng::for_trial(seed, index, STREAM);
    let first = match model {
        Some(tpe) => modelled(tpe, space, seed, trials, &info, index)
            .unwrap_or_else(|| random::draw(space, &mut rng)),
        None => random::draw(space, &mut rng),
    };
    for shift in 0..brackets {
        let b = ((started + shift) % brackets) as u32;
        // In a finite space a configuration already started in this bracket is not started
        // again there.
        let tried: HashSet<String> = trials
            .iter()
            .zip(&info)
            .filter(|(t, (_, tb))| t.promoted_from.is_none() && *tb == b)
            .filter(|(t, _)| space.contains(&t.assignment))
            .map(|(t, _)| space::key(&t.assignment))
            .collect();
        if let Some(a) = random::untried(space, &mut rng, &tried, first.clone()) {
            return Suggestion::Trial(Proposal {
                assignment: a,
                fidelity: Some(rungs[b as usize]),
                promoted_from: None,
                bracket: hyperband.then_some(b),
            });
        }
    }
    if trials.iter().any(|t| !t.state.is_finished()) {
        Suggestion::Wait
    } else {
        Suggestion::Exhausted
    }
}

/// TPE's proposal from the trials of the highest rung with at least `startup_trials` results
/// (rung 0 when none has that many, where TPE answers with its start-up points).
fn modelled(
    tpe: &TpeConfig,
    space: &SearchSpace,
    seed: u64,
    trials: &[&ObservedTrial],
    info: &[(usize, u32)],
    index: u32,
) -> Option<Assignment> {
    let finished_at = |k: usize| {
        trials
            .iter()
            .zip(info)
            .filter(|(t, (rung, _))| *rung == k && t.state.is_finished())
            .map(|(t, _)| *t)
            .collect::<Vec<&ObservedTrial>>()
    };
    let top = info
        .iter()
        .map(|(rung, _)| *rung)
        .filter(|r| *r != usize::MAX)
        .max()?;
    let rung = (0..=top)
        .rev()
        .find(|k| {
            finished_at(*k)
                .iter()
                .filter(|t| t.succeeded_loss().is_some())
                .count()
                >= tpe.startup_trials.max(1) as usize
        })
        .unwrap_or(0);
    match tpe::suggest(tpe, space, seed, &finished_at(rung), index) {
        Suggestion::Trial(proposal) => Some(proposal.assignment),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::tests::{cat, double};
    use crate::space::{Assignment, Value};
    use lepton_crds::v1alpha1::{FidelityParameter, TunableParameter as T};

    fn cfg() -> FidelityConfig {
        FidelityConfig {
            parameter: FidelityParameter::Epochs,
            min_resource: 1,
            max_resource: 27,
            reduction_factor: 3,
            model_based: false,
        }
    }

    fn space() -> SearchSpace {
        SearchSpace::from_spec(&[double(T::LearningRate, 1e-4, 1e-1, true)], None).unwrap()
    }

    fn at(lr: f64) -> Assignment {
        let mut a = Assignment::new();
        a.insert("learningRate".into(), Value::Double(lr));
        a
    }

    fn trial(index: u32, fidelity: u32, state: TrialState, loss: Option<f64>) -> ObservedTrial {
        let mut t = ObservedTrial::new(index, at(0.001 * (index + 1) as f64), state);
        t.fidelity = Some(fidelity);
        t.loss = loss;
        t
    }

    fn promoted(mut t: ObservedTrial, from: u32, trials: &[ObservedTrial]) -> ObservedTrial {
        t.assignment = trials
            .iter()
            .find(|x| x.index == from)
            .unwrap()
            .assignment
            .clone();
        t.promoted_from = Some(from);
        t
    }

    fn run(trials: &[ObservedTrial], index: u32) -> Suggestion {
        let refs: Vec<&ObservedTrial> = trials.iter().collect();
        suggest(&cfg(), false, &space(), 1, &refs, index, None)
    }

    fn expect_trial(s: Suggestion) -> Proposal {
        match s {
            Suggestion::Trial(p) => p,
            other => panic!("expected a trial, got {other:?}"),
        }
    }

    #[test]
    fn new_configs_start_at_the_bottom_rung() {
        let p = expect_trial(run(&[], 0));
        assert_eq!(
            (p.fidelity, p.promoted_from, p.bracket),
            (Some(1), None, None)
        );
        // Two finished at rung 0: fewer than eta, nothing to promote.
        let t = [
            trial(0, 1, TrialState::Succeeded, Some(0.5)),
            trial(1, 1, TrialState::Succeeded, Some(0.4)),
        ];
        let p = expect_trial(run(&t, 2));
        assert_eq!((p.fidelity, p.promoted_from), (Some(1), None));
    }

    #[test]
    fn promotes_the_top_third_once_to_the_next_rung() {
        let mut t = vec![
            trial(0, 1, TrialState::Succeeded, Some(0.5)),
            trial(1, 1, TrialState::Succeeded, Some(0.3)),
            trial(2, 1, TrialState::Running, None),
            trial(3, 1, TrialState::Succeeded, Some(0.4)),
        ];
        let p = expect_trial(run(&t, 4));
        assert_eq!(p.promoted_from, Some(1));
        assert_eq!(p.fidelity, Some(3));
        assert_eq!(p.assignment, t[1].assignment);
        // Once promoted (the new trial exists, even still pending) it is not promoted again;
        // with n=3 the quota is 1, so a new configuration starts.
        t.push(promoted(trial(4, 3, TrialState::Pending, None), 1, &t));
        let p = expect_trial(run(&t, 5));
        assert_eq!((p.fidelity, p.promoted_from), (Some(1), None));
        // Six finished at rung 0: quota 2, the second best (trial 3, 0.4) goes up next.
        t.push(trial(5, 1, TrialState::Succeeded, Some(0.9)));
        t.push(trial(6, 1, TrialState::Succeeded, Some(0.8)));
        t[2].state = TrialState::Succeeded;
        t[2].loss = Some(0.7);
        let p = expect_trial(run(&t, 7));
        assert_eq!((p.promoted_from, p.fidelity), (Some(3), Some(3)));
    }

    #[test]
    fn higher_rungs_first_and_the_top_rung_never_promotes() {
        let mut t: Vec<ObservedTrial> = (0..9)
            .map(|i| trial(i, 1, TrialState::Succeeded, Some(1.0 - i as f64 * 0.01)))
            .collect();
        // Rung 0 best three: 8, 7, 6, all promoted to rung 1 and finished there.
        for (k, from) in [8u32, 7, 6].into_iter().enumerate() {
            let mut p = promoted(
                trial(9 + k as u32, 3, TrialState::Succeeded, None),
                from,
                &t,
            );
            p.loss = Some(0.5 + k as f64 * 0.01);
            t.push(p);
        }
        // Rung 1 has 3 finished: its best (trial 9) goes to rung 2 before anything else.
        let p = expect_trial(run(&t, 12));
        assert_eq!((p.promoted_from, p.fidelity), (Some(9), Some(9)));
        // Fill rungs 2 and 3 with three finished trials each: rung 2 promotes to 27; a rung-3
        // (top) trial never promotes.
        let mut top = Vec::new();
        for i in 0..3u32 {
            let mut x = trial(
                20 + i,
                27,
                TrialState::Succeeded,
                Some(0.1 + i as f64 * 0.01),
            );
            x.assignment = at(0.05 + i as f64 * 0.001);
            top.push(x);
        }
        t.extend(top);
        t.push(promoted(trial(30, 9, TrialState::Running, None), 9, &t));
        let p = expect_trial(run(&t, 31));
        assert_eq!(p.fidelity, Some(1), "nothing to promote: {p:?}");
    }

    #[test]
    fn failed_trials_never_promote() {
        let t = [
            trial(0, 1, TrialState::Failed, None),
            trial(1, 1, TrialState::Succeeded, Some(0.6)),
            trial(2, 1, TrialState::Succeeded, Some(0.7)),
        ];
        // Failures count among the finished (n=3) but rank last.
        let p = expect_trial(run(&t, 3));
        assert_eq!(p.promoted_from, Some(1));
        let all_failed: Vec<ObservedTrial> = (0..6)
            .map(|i| trial(i, 1, TrialState::Failed, None))
            .collect();
        let p = expect_trial(run(&all_failed, 6));
        assert_eq!((p.promoted_from, p.fidelity), (None, Some(1)));
    }

    #[test]
    fn ties_go_to_the_lower_index() {
        let t = [
            trial(0, 1, TrialState::Succeeded, Some(0.5)),
            trial(1, 1, TrialState::Succeeded, Some(0.3)),
            trial(2, 1, TrialState::Succeeded, Some(0.3)),
        ];
        assert_eq!(expect_trial(run(&t, 3)).promoted_from, Some(1));
    }

    #[test]
    fn hyperband_rotates_brackets_starting_at_their_rung() {
        let mut trials: Vec<ObservedTrial> = Vec::new();
        let mut seen = Vec::new();
        for i in 0..8u32 {
            let r: Vec<&ObservedTrial> = trials.iter().collect();
            let p = expect_trial(suggest(&cfg(), true, &space(), 1, &r, i, None));
            assert_eq!(p.promoted_from, None);
            let b = p.bracket.unwrap();
            assert_eq!(p.fidelity, Some(cfg().rungs()[b as usize]));
            seen.push(b);
            let mut t = ObservedTrial::new(i, p.assignment, TrialState::Running);
            t.fidelity = p.fidelity;
            t.bracket = p.bracket;
            trials.push(t);
        }
        assert_eq!(seen, [0, 1, 2, 3, 0, 1, 2, 3]);
    }

    #[test]
    fn hyperband_promotes_within_a_bracket() {
        let mk = |i: u32, fid: u32, b: u32, loss: f64| {
            let mut t = trial(i, fid, TrialState::Succeeded, Some(loss));
            t.bracket = Some(b);
            t
        };
        // Rung 1 holds two bracket-0 and one bracket-1 trials: no bracket has three yet.
        let mut t = vec![mk(0, 3, 0, 0.2), mk(1, 3, 0, 0.3), mk(2, 3, 1, 0.1)];
        let refs: Vec<&ObservedTrial> = t.iter().collect();
        let p = expect_trial(suggest(&cfg(), true, &space(), 1, &refs, 3, None));
        assert_eq!(p.promoted_from, None);
        t.push(mk(3, 3, 1, 0.4));
        t.push(mk(4, 3, 1, 0.5));
        let refs: Vec<&ObservedTrial> = t.iter().collect();
        let p = expect_trial(suggest(&cfg(), true, &space(), 1, &refs, 5, None));
        assert_eq!(
            (p.promoted_from, p.fidelity, p.bracket),
            (Some(2), Some(9), Some(1))
        );
    }

    #[test]
    fn finite_space_waits_then_exhausts() {
        let s = SearchSpace::from_spec(&[cat(T::Optimizer, &["adam", "sgd"])], None).unwrap();
        let mk = |i: u32, v: &str, state| {
            let mut a = Assignment::new();
            a.insert("optimizer".into(), Value::Category(v.into()));
            let mut t = ObservedTrial::new(i, a, state);
            t.fidelity = Some(1);
            t.loss = Some(0.5);
            t
        };
        let t = [
            mk(0, "adam", TrialState::Succeeded),
            mk(1, "sgd", TrialState::Running),
        ];
        let refs: Vec<&ObservedTrial> = t.iter().collect();
        assert_eq!(
            suggest(&cfg(), false, &s, 1, &refs, 2, None),
            Suggestion::Wait
        );
        let t = [
            mk(0, "adam", TrialState::Succeeded),
            mk(1, "sgd", TrialState::Succeeded),
        ];
        let refs: Vec<&ObservedTrial> = t.iter().collect();
        assert_eq!(
            suggest(&cfg(), false, &s, 1, &refs, 2, None),
            Suggestion::Exhausted
        );
    }
}
