//! Grid search: every combination of each dimension's grid points, in a fixed order.

use std::collections::HashSet;

use crate::search::{Proposal, Suggestion};
use crate::space::{self, Assignment, Domain, FAMILY, SearchSpace, Value};
use crate::trial::ObservedTrial;

/// The grid points of one domain: `n` evenly spaced points over [min, max] (geometric for log
/// scale), ints rounded and deduplicated, every value of a categorical.
pub(crate) fn points(domain: &Domain, n: u32) -> Vec<Value> {
    let n = n.max(2) as usize;
    let spaced = |lo: f64, hi: f64, log: bool| -> Vec<f64> {
        (0..n)
            .map(|i| {
                let t = i as f64 / (n - 1) as f64;
                if log {
                    (lo.ln() + t * (hi.ln() - lo.ln())).exp()
                } else {
                    lo + t * (hi - lo)
                }
            })
            .collect()
    };
    match domain {
        Domain::Double { min, max, log } => {
            let mut v = spaced(*min, *max, *log);
            // The interpolation may miss the bounds by an ulp; users expect them exactly.
            v[0] = *min;
            v[n - 1] = *max;
            v.into_iter().map(Value::Double).collect()
        }
        Domain::Int { min, max, log } => {
            let mut out: Vec<i64> = Vec::new();
            for x in spaced(*min as f64, *max as f64, *log) {
                let r = (x.round() as i64).clamp(*min, *max);
                if out.last() != Some(&r) {
                    out.push(r);
                }
            }
            out.into_iter().map(Value::Int).collect()
        }
        Domain::Categorical { values } => values.iter().cloned().map(Value::Category).collect(),
    }
}

/// One block of the grid: the points of one family (or of the whole space when family is not
/// tuned), as a list of (dimension name, values) varied with the last fastest. `values` gives
/// each non-family dimension's points.
fn blocks_with(
    space: &SearchSpace,
    values: impl Fn(&Domain) -> Vec<Value>,
) -> Vec<Vec<(String, Vec<Value>)>> {
    let fam_values: Vec<Option<String>> = match space
        .family_dimension()
        .map(|i| &space.dimensions[i].domain)
    {
        Some(Domain::Categorical { values }) => values.iter().cloned().map(Some).collect(),
        _ => vec![None],
    };
    let mut out = Vec::new();
    for fv in fam_values {
        let fam = match &fv {
            Some(s) => space::parse_family(s),
            None => space.template_family,
        };
        let mut block = Vec::new();
        for i in space.draw_order() {
            let d = &space.dimensions[i];
            if d.name == FAMILY {
                let v = fv.clone().unwrap_or_default();
                block.push((d.name.clone(), vec![Value::Category(v)]));
            } else if space.is_active(d, fam) {
                block.push((d.name.clone(), values(&d.domain)));
            }
        }
        out.push(block);
    }
    out
}

fn blocks(space: &SearchSpace, n: u32) -> Vec<Vec<(String, Vec<Value>)>> {
    blocks_with(space, |d| points(d, n))
}

/// Every point of a finite space, in a fixed order; `None` when the space is infinite or has
/// more than `limit` points.
pub(crate) fn all_points(space: &SearchSpace, limit: u64) -> Option<Vec<Assignment>> {
    if space.cardinality()? > limit {
        return None;
    }
    let bs = blocks_with(space, |d| match d {
        Domain::Int { min, max, .. } => (*min..=*max).map(Value::Int).collect(),
        Domain::Categorical { values } => values.iter().cloned().map(Value::Category).collect(),
        Domain::Double { .. } => Vec::new(),
    });
    let mut out = Vec::new();
    for b in &bs {
        out.extend((0..block_size(b)).map(|p| decode(b, p)));
    }
    Some(out)
}

fn block_size(block: &[(String, Vec<Value>)]) -> u64 {
    block
        .iter()
        .fold(1u64, |acc, (_, v)| acc.saturating_mul(v.len() as u64))
}

/// Number of grid points (saturating).
pub(crate) fn size(space: &SearchSpace, n: u32) -> u64 {
    blocks(space, n)
        .iter()
        .fold(0u64, |acc, b| acc.saturating_add(block_size(b)))
}

fn decode(block: &[(String, Vec<Value>)], mut pos: u64) -> Assignment {
    let mut a = Assignment::new();
    for (name, values) in block.iter().rev() {
        let len = values.len() as u64;
        a.insert(name.clone(), values[(pos % len) as usize].clone());
        pos /= len;
    }
    a
}

/// The grid point at `position` in the fixed order, if the grid has that many.
#[cfg(test)]
pub(crate) fn point(space: &SearchSpace, n: u32, mut position: u64) -> Option<Assignment> {
    for b in blocks(space, n) {
        let size = block_size(&b);
        if position < size {
            return Some(decode(&b, position));
        }
        position -= size;
    }
    None
}

/// The first grid point, in the fixed order, that no trial has tried: trial i gets point i
/// while trials are created in order, and a point tried out of order (or twice) is skipped.
pub(crate) fn suggest(space: &SearchSpace, n: u32, trials: &[&ObservedTrial]) -> Suggestion {
    let tried: HashSet<String> = trials.iter().map(|t| space::key(&t.assignment)).collect();
    for b in blocks(space, n) {
        for pos in 0..block_size(&b) {
            let a = decode(&b, pos);
            if !tried.contains(&space::key(&a)) {
                return Suggestion::Trial(Proposal::plain(a));
            }
        }
    }
    Suggestion::Exhausted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::tests::{cat, conditional_space, double, int};
    use crate::trial::TrialState;
    use lepton_crds::v1alpha1::TunableParameter as T;

    fn run_to_end(space: &SearchSpace, n: u32) -> Vec<Assignment> {
        let mut trials: Vec<ObservedTrial> = Vec::new();
        for i in 0.. {
            let refs: Vec<&ObservedTrial> = trials.iter().collect();
            match suggest(space, n, &refs) {
                Suggestion::Trial(p) => {
                    assert_eq!(Some(&p.assignment), point(space, n, i as u64).as_ref());
                    trials.push(ObservedTrial::new(i, p.assignment, TrialState::Succeeded));
                }
                Suggestion::Exhausted => break,
                Suggestion::Wait => panic!("grid never waits"),
            }
            assert!(i < 10_000, "runaway grid");
        }
        trials.into_iter().map(|t| t.assignment).collect()
    }

    #[test]
    fn covers_the_space_exactly_once() {
        let space = SearchSpace::from_spec(
            &[
                double(T::LearningRate, 1e-4, 1e-1, true),
                int(T::MaxDepth, 2, 8, false),
                cat(T::Optimizer, &["adam", "sgd"]),
            ],
            None,
        )
        .unwrap();
        assert_eq!(size(&space, 4), 4 * 4 * 2);
        let all = run_to_end(&space, 4);
        assert_eq!(all.len(), 32);
        let keys: HashSet<String> = all.iter().map(space::key).collect();
        assert_eq!(keys.len(), 32, "all distinct");
        assert!(all.iter().all(|a| space.contains(a)));
    }

    #[test]
    fn log_points_are_geometric_and_ints_deduplicated() {
        let v: Vec<f64> = points(
            &Domain::Double {
                min: 1e-4,
                max: 1e-1,
                log: true,
            },
            4,
        )
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
        assert_eq!(v[0], 1e-4);
        assert_eq!(v[3], 1e-1);
        for w in v.windows(2) {
            assert!((w[1] / w[0] - 10.0).abs() < 1e-9, "{v:?}");
        }
        let lin = points(
            &Domain::Double {
                min: 0.0,
                max: 0.6,
                log: false,
            },
            4,
        );
        let lin: Vec<f64> = lin.iter().map(|v| v.as_f64().unwrap()).collect();
        assert!((lin[1] - 0.2).abs() < 1e-12 && (lin[2] - 0.4).abs() < 1e-12);
        assert_eq!(
            points(
                &Domain::Int {
                    min: 1,
                    max: 3,
                    log: false
                },
                5
            ),
            vec![Value::Int(1), Value::Int(2), Value::Int(3)]
        );
        assert_eq!(
            points(
                &Domain::Int {
                    min: 1,
                    max: 1000,
                    log: true
                },
                4
            ),
            vec![
                Value::Int(1),
                Value::Int(10),
                Value::Int(100),
                Value::Int(1000)
            ]
        );
    }

    #[test]
    fn conditional_grid_only_makes_sense_per_family() {
        let space = conditional_space();
        // lr: 4 points in every family; dropout (mlp): 4; maxDepth 2..8 (gbdt): 4.
        assert_eq!(size(&space, 4), 4 + 4 * 4 + 4 * 4);
        let all = run_to_end(&space, 4);
        assert_eq!(all.len(), 36);
        let keys: HashSet<String> = all.iter().map(space::key).collect();
        assert_eq!(keys.len(), 36);
        for a in &all {
            assert!(space.contains(a), "{a:?}");
            let fam = a["family"].render();
            assert_eq!(a.contains_key("dropout"), fam == "mlp");
            assert_eq!(a.contains_key("maxDepth"), fam == "gbdt");
        }
    }

    #[test]
    fn skips_points_tried_out_of_order() {
        let space = SearchSpace::from_spec(&[cat(T::Optimizer, &["adam", "sgd", "rmsprop"])], None)
            .unwrap();
        let t = |i, v: &str| {
            let mut a = Assignment::new();
            a.insert("optimizer".into(), Value::Category(v.into()));
            ObservedTrial::new(i, a, TrialState::Failed)
        };
        let tried = [t(0, "adam"), t(1, "rmsprop")];
        let refs: Vec<&ObservedTrial> = tried.iter().collect();
        match suggest(&space, 4, &refs) {
            Suggestion::Trial(p) => assert_eq!(p.assignment["optimizer"].render(), "sgd"),
            other => panic!("{other:?}"),
        }
        let all = [t(0, "adam"), t(1, "rmsprop"), t(2, "sgd")];
        let refs: Vec<&ObservedTrial> = all.iter().collect();
        assert_eq!(suggest(&space, 4, &refs), Suggestion::Exhausted);
    }
}
