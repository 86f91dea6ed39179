//! Random search: independent draws from each dimension, uniform or log-uniform.

use std::collections::HashSet;

use crate::grid;
use crate::rng::Rng;
use crate::search::{Proposal, Suggestion};
use crate::space::{self, Assignment, Domain, FAMILY, SearchSpace, Value};
use crate::trial::ObservedTrial;

/// Stream of [`Rng::for_trial`] used for random draws, distinct from the other algorithms'.
pub(crate) const STREAM: u64 = 1;

/// Draws before a finite space's untried points are enumerated instead.
const REJECTION_TRIES: usize = 64;

/// Largest finite space enumerated to find an untried point.
const ENUMERATION_LIMIT: u64 = 1 << 20;

/// A value of `domain` at quantile `u` in [0, 1): uniform, log-uniform, or an integer whose
/// interval of width 1 around it has equal mass (in log space for log scale) so that the
/// bounds are as likely as inner values.
pub(crate) fn value_at(domain: &Domain, u: f64) -> Value {
    match domain {
        Domain::Double { min, max, log } => {
            let x = if *log {
                (min.ln() + u * (max.ln() - min.ln())).exp()
            } else {
                min + u * (max - min)
            };
            Value::Double(x.clamp(*min, *max))
        }
        Domain::Int { min, max, log } => {
            let (lo, hi) = (*min as f64 - 0.5, *max as f64 + 0.5);
            let x = if *log {
                (lo.ln() + u * (hi.ln() - lo.ln())).exp()
            } else {
                lo + u * (hi - lo)
            };
            Value::Int((x.round() as i64).clamp(*min, *max))
        }
        Domain::Categorical { values } => {
            let k = ((u * values.len() as f64) as usize).min(values.len().saturating_sub(1));
            Value::Category(values.get(k).cloned().unwrap_or_default())
        }
    }
}

/// A point whose dimension values are at the quantiles `quantile(dimension index)`; family
/// first, then the dimensions active for it.
pub(crate) fn point_at(space: &SearchSpace, mut quantile: impl FnMut(usize) -> f64) -> Assignment {
    let mut a = Assignment::new();
    for i in space.draw_order() {
        let d = &space.dimensions[i];
        if d.name != FAMILY && !space.is_active(d, space.family_of(&a)) {
            continue;
        }
        a.insert(d.name.clone(), value_at(&d.domain, quantile(i)));
    }
    a
}

/// One independent random point.
pub(crate) fn draw(space: &SearchSpace, rng: &mut Rng) -> Assignment {
    point_at(space, |_| rng.next_f64())
}

/// Keys of the tried points that belong to the space (a point of an older spec does not use
/// up the current space).
pub(crate) fn tried_keys(space: &SearchSpace, trials: &[&ObservedTrial]) -> HashSet<String> {
    trials
        .iter()
        .filter(|t| space.contains(&t.assignment))
        .map(|t| space::key(&t.assignment))
        .collect()
}

/// `candidate` if it is new; otherwise, in a finite space, another untried point (random
/// redraws first, then an enumerated untried point); `None` when every point was tried.
/// Infinite spaces always take `candidate`: a repeated double is a measure-zero event.
pub(crate) fn untried(
    space: &SearchSpace,
    rng: &mut Rng,
    tried: &HashSet<String>,
    candidate: Assignment,
) -> Option<Assignment> {
    let Some(card) = space.cardinality() else {
        return Some(candidate);
    };
    if tried.len() as u64 >= card {
        return None;
    }
    if !tried.contains(&space::key(&candidate)) {
        return Some(candidate);
    }
    for _ in 0..REJECTION_TRIES {
        let a = draw(space, rng);
        if !tried.contains(&space::key(&a)) {
            return Some(a);
        }
    }
    match grid::all_points(space, ENUMERATION_LIMIT) {
        Some(all) => {
            let left: Vec<Assignment> = all
                .into_iter()
                .filter(|a| !tried.contains(&space::key(a)))
                .collect();
            if left.is_empty() {
                None
            } else {
                let k = rng.below(left.len() as u64) as usize;
                left.into_iter().nth(k)
            }
        }
        // Over a million points with most of them tried cannot be reached by any sweep
        // (maxTrials <= 10000), so rejection has found one by now in practice.
        None => Some(draw(space, rng)),
    }
}

/// Random search's suggestion for trial `index`.
pub(crate) fn suggest(
    space: &SearchSpace,
    seed: u64,
    trials: &[&ObservedTrial],
    index: u32,
) -> Suggestion {
    let mut rng = Rng::for_trial(seed, index, STREAM);
    let tried = tried_keys(space, trials);
    let first = draw(space, &mut rng);
    match untried(space, &mut rng, &tried, first) {
        Some(a) => Suggestion::Trial(Proposal::plain(a)),
        None => Suggestion::Exhausted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::tests::{cat, conditional_space, double, int};
    use crate::trial::TrialState;
    use lepton_crds::v1alpha1::TunableParameter as T;

    fn draws(space: &SearchSpace, n: u32) -> Vec<Assignment> {
        (0..n)
            .map(|i| match suggest(space, 42, &[], i) {
                Suggestion::Trial(p) => p.assignment,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn respects_bounds_type_and_scale() {
        let space = SearchSpace::from_spec(
            &[
                double(T::LearningRate, 1e-5, 1e-1, true),
                double(T::Dropout, 0.1, 0.5, false),
                int(T::NumTrees, 10, 1000, true),
                int(T::MaxDepth, 2, 5, false),
                cat(T::Optimizer, &["adam", "sgd"]),
            ],
            None,
        )
        .unwrap();
        let all = draws(&space, 2000);
        let count = |f: &dyn Fn(&Assignment) -> bool| all.iter().filter(|a| f(a)).count();
        for a in &all {
            assert!(space.contains(a), "{a:?}");
        }
        // Log scale: half the mass below the geometric mean; linear: below the midpoint.
        let below_gm = count(&|a| a["learningRate"].as_f64().unwrap() < 1e-3);
        assert!((900..1100).contains(&below_gm), "{below_gm}");
        let below_mid = count(&|a| a["dropout"].as_f64().unwrap() < 0.3);
        assert!((900..1100).contains(&below_mid), "{below_mid}");
        let below_gm = count(&|a| a["numTrees"].as_f64().unwrap() < 100.0);
        assert!((900..1100).contains(&below_gm), "{below_gm}");
        for v in 2..=5 {
            let c = count(&|a| a["maxDepth"] == Value::Int(v));
            assert!((420..580).contains(&c), "maxDepth {v}: {c}");
        }
        let adam = count(&|a| a["optimizer"].render() == "adam");
        assert!((900..1100).contains(&adam), "{adam}");
    }

    #[test]
    fn conditional_dimensions_follow_the_family() {
        let space = conditional_space();
        let all = draws(&space, 600);
        let mut per_family = std::collections::BTreeMap::new();
        for a in &all {
            assert!(space.contains(a), "{a:?}");
            let fam = a["family"].render();
            assert_eq!(a.contains_key("dropout"), fam == "mlp", "{a:?}");
            assert_eq!(a.contains_key("maxDepth"), fam == "gbdt", "{a:?}");
            *per_family.entry(fam).or_insert(0) += 1;
        }
        assert!(per_family.values().all(|&c| c > 150), "{per_family:?}");
    }

    #[test]
    fn deterministic_per_seed_and_index() {
        let space = conditional_space();
        let a = suggest(&space, 42, &[], 3);
        assert_eq!(a, suggest(&space, 42, &[], 3));
        assert_ne!(a, suggest(&space, 42, &[], 4));
        assert_ne!(a, suggest(&space, 43, &[], 3));
    }

    #[test]
    fn finite_space_never_repeats_and_exhausts() {
        let space = SearchSpace::from_spec(
            &[
                int(T::MaxDepth, 2, 4, false),
                cat(T::Optimizer, &["adam", "sgd"]),
            ],
            None,
        )
        .unwrap();
        let mut trials: Vec<ObservedTrial> = Vec::new();
        for i in 0..6 {
            let refs: Vec<&ObservedTrial> = trials.iter().collect();
            let Suggestion::Trial(p) = suggest(&space, 9, &refs, i) else {
                panic!("exhausted after {i}");
            };
            trials.push(ObservedTrial::new(i, p.assignment, TrialState::Running));
        }
        let keys: HashSet<String> = trials.iter().map(|t| space::key(&t.assignment)).collect();
        assert_eq!(keys.len(), 6);
        let refs: Vec<&ObservedTrial> = trials.iter().collect();
        assert_eq!(suggest(&space, 9, &refs, 6), Suggestion::Exhausted);
    }
}
