//! The Pareto front of quality against cost, latency and size, and how a deployment picks a
//! trial along it.

use std::cmp::Ordering;

/// A trial in objective space; every coordinate is minimised and NaN-free.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// The objective as a loss.
    pub loss: f64,
    /// The secondary objectives, in a fixed order shared by all points.
    pub secondary: Vec<f64>,
}

impl Point {
    fn coord(&self, m: usize) -> f64 {
        if m == 0 {
            self.loss
        } else {
            self.secondary.get(m - 1).copied().unwrap_or(f64::INFINITY)
        }
    }

    /// Whether `self` is at least as good everywhere and strictly better somewhere.
    pub fn dominates(&self, other: &Point) -> bool {
        self.dominates_within(other, 0.0)
    }

    /// Whether `self` dominates `other` when secondary objectives closer than `resolution`
    /// (a fraction of the larger of the two values) count as equal: no worse than that
    /// anywhere, and better somewhere (the loss by any amount, a secondary by more than that).
    pub fn dominates_within(&self, other: &Point, resolution: f64) -> bool {
        let mut better_somewhere = self.loss < other.loss;
        if other.loss < self.loss {
            return false;
        }
        for (&a, &b) in self.secondary.iter().zip(&other.secondary) {
            if materially_less(b, a, resolution) {
                return false;
            }
            better_somewhere |= materially_less(a, b, resolution);
        }
        better_somewhere
    }
}

/// Whether `a` is smaller than `b` by more than `resolution` of the larger magnitude; an
/// unknown (infinite) value is worse than any known one.
fn materially_less(a: f64, b: f64, resolution: f64) -> bool {
    if a == b {
        return false;
    }
    if !b.is_finite() {
        return a < b;
    }
    if !a.is_finite() {
        return false;
    }
    a < b - resolution * a.abs().max(b.abs())
}

fn order(points: &[Point], a: usize, b: usize) -> Ordering {
    let (pa, pb) = (&points[a], &points[b]);
    pa.loss
        .total_cmp(&pb.loss)
        .then_with(|| {
            pa.secondary
                .iter()
                .zip(&pb.secondary)
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        })
        .then(a.cmp(&b))
}

/// Indices of non-dominated points, best loss first (ties: secondaries lexicographic, then index).
/// Identical points do not dominate each other, so all of them are on the front.
pub fn front(points: &[Point]) -> Vec<usize> {
    front_within(points, 0.0)
}

/// [`front`] with secondary objectives compared at `resolution` (see
/// [`Point::dominates_within`]): points that differ from a better one only by measurement
/// noise in cost or latency are left off.
pub fn front_within(points: &[Point], resolution: f64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..points.len()).collect();
    idx.sort_by(|&a, &b| order(points, a, b));
    // Dominance within a resolution is not transitive (a point may be dominated only by one
    // that is itself dominated), so every point is checked against all others.
    idx.into_iter()
        .filter(|&i| {
            !points
                .iter()
                .enumerate()
                .any(|(j, q)| j != i && q.dominates_within(&points[i], resolution))
        })
        .collect()
}

/// The front cut to at most `limit` points, always keeping the best loss and each secondary's
/// minimum, then by crowding distance (spread along the front).
///
/// Points are removed one at a time, the most crowded first (NSGA-II crowding distance,
/// recomputed after each removal so that clusters thin out evenly); ties remove the later one
/// in front order. If `limit` is smaller than the number of extremes, the best loss and then
/// the secondaries' minima in order are kept.
pub fn bounded_front(points: &[Point], limit: usize) -> Vec<usize> {
    bounded_front_within(points, limit, 0.0)
}

/// [`bounded_front`] of [`front_within`] at `resolution`.
pub fn bounded_front_within(points: &[Point], limit: usize, resolution: f64) -> Vec<usize> {
    let mut kept = front_within(points, resolution);
    if kept.len() <= limit {
        return kept;
    }
    let dims = 1 + points.first().map_or(0, |p| p.secondary.len());
    let mut protected: Vec<usize> = Vec::new();
    for m in 0..dims {
        // `kept` is in front order, so min_by's first-wins keeps the earliest on ties.
        let best = kept
            .iter()
            .copied()
            .min_by(|&a, &b| points[a].coord(m).total_cmp(&points[b].coord(m)))
            .expect("front is not empty");
        if !protected.contains(&best) {
            protected.push(best);
        }
    }
    if limit <= protected.len() {
        protected.truncate(limit);
        return kept.into_iter().filter(|i| protected.contains(i)).collect();
    }
    while kept.len() > limit {
        let crowd = crowding(points, &kept, dims);
        let victim = (0..kept.len())
            .filter(|&k| !protected.contains(&kept[k]))
            .min_by(|&a, &b| crowd[a].total_cmp(&crowd[b]).then(b.cmp(&a)))
            .expect("more points than protected ones");
        kept.remove(victim);
    }
    kept
}

/// NSGA-II crowding distance of each of `set` (indices into `points`): the sum over
/// objectives of the normalised gap between its neighbours; extremes get infinity.
fn crowding(points: &[Point], set: &[usize], dims: usize) -> Vec<f64> {
    let mut dist = vec![0.0; set.len()];
    for m in 0..dims {
        let mut ord: Vec<usize> = (0..set.len()).collect();
        ord.sort_by(|&a, &b| {
            points[set[a]]
                .coord(m)
                .total_cmp(&points[set[b]].coord(m))
                .then(a.cmp(&b))
        });
        let lo = points[set[ord[0]]].coord(m);
        let hi = points[set[ord[ord.len() - 1]]].coord(m);
        dist[ord[0]] = f64::INFINITY;
        dist[ord[ord.len() - 1]] = f64::INFINITY;
        let range = hi - lo;
        if !(range > 0.0 && range.is_finite()) {
            continue;
        }
        for w in 1..ord.len().saturating_sub(1) {
            let gap = points[set[ord[w + 1]]].coord(m) - points[set[ord[w - 1]]].coord(m);
            dist[ord[w]] += gap / range;
        }
    }
    dist
}

/// How a deployment chooses among a sweep's trials.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Selection {
    /// The lowest loss.
    Best,
    /// The lowest latency among trials within this loss tolerance of the best.
    FastestWithin(f64),
    /// The lowest cost among trials within this loss tolerance of the best.
    CheapestWithin(f64),
}

/// A trial a deployment may choose.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// The objective as a loss.
    pub loss: f64,
    /// Median single-row inference latency.
    pub latency_ms: Option<f64>,
    /// Training cost.
    pub cost: Option<f64>,
}

/// Index of the chosen candidate: Best = lowest loss; FastestWithin(e) = lowest latency among
/// candidates with loss <= best + e (missing latency counts as +inf), ties by loss then index;
/// CheapestWithin likewise on cost. None when empty.
///
/// Candidates whose loss is NaN are never chosen; a negative or NaN tolerance counts as 0.
pub fn select(selection: Selection, candidates: &[Candidate]) -> Option<usize> {
    select_within(selection, candidates, 0.0)
}

/// [`select`] with latencies or costs within `resolution` of the lowest (a fraction of the
/// larger value) counted as a tie, which the lower loss wins: a trial that is faster only by
/// measurement noise does not beat a better one.
pub fn select_within(
    selection: Selection,
    candidates: &[Candidate],
    resolution: f64,
) -> Option<usize> {
    let valid: Vec<usize> = (0..candidates.len())
        .filter(|&i| !candidates[i].loss.is_nan())
        .collect();
    let by_loss = |a: &usize, b: &usize| {
        candidates[*a]
            .loss
            .total_cmp(&candidates[*b].loss)
            .then(a.cmp(b))
    };
    let best = valid.iter().copied().min_by(by_loss)?;
    let (tolerance, key): (f64, fn(&Candidate) -> Option<f64>) = match selection {
        Selection::Best => return Some(best),
        Selection::FastestWithin(e) => (e, |c| c.latency_ms),
        Selection::CheapestWithin(e) => (e, |c| c.cost),
    };
    let tolerance = if tolerance > 0.0 { tolerance } else { 0.0 };
    let limit = candidates[best].loss + tolerance;
    let secondary = |i: usize| {
        key(&candidates[i])
            .filter(|x| !x.is_nan())
            .unwrap_or(f64::INFINITY)
    };
    let eligible: Vec<usize> = valid
        .into_iter()
        .filter(|&i| candidates[i].loss <= limit)
        .collect();
    let lowest = eligible
        .iter()
        .map(|&i| secondary(i))
        .min_by(f64::total_cmp)?;
    eligible
        .into_iter()
        .filter(|&i| !materially_less(lowest, secondary(i), resolution))
        .min_by(|a, b| by_loss(a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(loss: f64, secondary: &[f64]) -> Point {
        Point {
            loss,
            secondary: secondary.to_vec(),
        }
    }

    #[test]
    fn front_excludes_dominated_and_orders_by_loss() {
        let pts = [
            p(0.30, &[1.0, 5.0]), // 0: front
            p(0.20, &[3.0, 5.0]), // 1: front (best loss)
            p(0.30, &[2.0, 6.0]), // 2: dominated by 0
            p(0.25, &[2.0, 4.0]), // 3: front
            p(0.40, &[0.5, 9.0]), // 4: front (cheapest)
            p(0.25, &[2.0, 4.0]), // 5: identical to 3: front too
        ];
        assert_eq!(front(&pts), vec![1, 3, 5, 0, 4]);
        assert_eq!(front(&[]), Vec::<usize>::new());
        // Equal loss: the secondaries break the tie, and the better one dominates.
        let tie = [p(0.1, &[2.0]), p(0.1, &[1.0])];
        assert_eq!(front(&tie), vec![1]);
    }

    #[test]
    fn bounded_front_keeps_extremes_and_spread() {
        // A 2-objective front along loss + cost = 1 with a cluster near loss 0.5.
        let mut pts: Vec<Point> = [0.0, 0.1, 0.48, 0.49, 0.5, 0.51, 0.52, 0.9, 1.0]
            .iter()
            .map(|&l| p(l, &[1.0 - l]))
            .collect();
        pts.push(p(0.95, &[0.5])); // dominated
        let f = front(&pts);
        assert_eq!(f.len(), 9);
        let b = bounded_front(&pts, 5);
        assert_eq!(b.len(), 5);
        assert!(b.contains(&0), "best loss kept");
        assert!(b.contains(&8), "cheapest kept");
        let cluster = b.iter().filter(|&&i| (2..=6).contains(&i)).count();
        assert_eq!(cluster, 1, "the cluster thins to one point: {b:?}");
        assert!(
            b.contains(&1) && b.contains(&7),
            "isolated points stay: {b:?}"
        );
        // Still best loss first.
        assert!(
            b.windows(2).all(|w| pts[w[0]].loss < pts[w[1]].loss),
            "{b:?}"
        );
        assert_eq!(bounded_front(&pts, 100), f);
        assert_eq!(bounded_front(&pts, 1), vec![0]);
        assert_eq!(bounded_front(&pts, 2), vec![0, 8]);
    }

    #[test]
    fn bounded_front_keeps_each_secondary_minimum() {
        let pts = [
            p(0.1, &[9.0, 9.0]),
            p(0.2, &[1.0, 8.0]),
            p(0.3, &[5.0, 5.0]),
            p(0.31, &[5.1, 5.1]),
            p(0.4, &[8.0, 1.0]),
        ];
        let b = bounded_front(&pts, 3);
        assert_eq!(b, vec![0, 1, 4]);
        assert_eq!(bounded_front(&pts, 4).len(), 4);
    }

    #[test]
    fn measurement_noise_in_secondaries_does_not_make_a_trial_optimal() {
        let pts = [
            p(0.0529, &[2.5e-6, 0.0121]),        // 0: best loss
            p(0.0529, &[8.9e-6, 0.0118]),        // 1: same loss, 3.5x the cost, latency within 5 %
            p(0.0534, &[1.5e-6, 0.0110]),        // 2: cheaper and faster by more than 5 %
            p(0.5002, &[1.4e-6, 0.0109]),        // 3: 7 % cheaper than 2, latency within 5 %
            p(0.5519, &[1.0e-6, 0.0110]),        // 4: 29 % cheaper than 3: still on the front
            p(0.0534, &[f64::INFINITY, 0.0100]), // 5: unknown cost is worst
        ];
        assert_eq!(
            front(&pts),
            vec![0, 1, 2, 5, 3, 4],
            "exact: noise is optimal"
        );
        assert_eq!(front_within(&pts, 0.05), vec![0, 2, 5, 3, 4]);
        // At 10 % the latencies of 2 and 5 tie too, and 2 has a known cost.
        assert_eq!(front_within(&pts, 0.10), vec![0, 2, 4]);
        // Cut to two: the best loss and the cheapest.
        assert_eq!(bounded_front_within(&pts, 2, 0.05), vec![0, 4]);
        // Identical points still do not dominate each other.
        let same = [p(0.1, &[1.0]), p(0.1, &[1.0])];
        assert_eq!(front_within(&same, 0.05), vec![0, 1]);
        // Neither of two points can dominate the other.
        for a in &pts {
            for b in &pts {
                assert!(!(a.dominates_within(b, 0.05) && b.dominates_within(a, 0.05)));
            }
        }
    }

    fn c(loss: f64, latency: Option<f64>, cost: Option<f64>) -> Candidate {
        Candidate {
            loss,
            latency_ms: latency,
            cost,
        }
    }

    #[test]
    fn a_trial_faster_only_by_noise_does_not_beat_a_better_one() {
        let cs = [
            c(0.0529, Some(0.0121), Some(5.0)), // 0: best
            c(0.0534, Some(0.0118), Some(2.0)), // 1: 2.5 % faster
            c(0.0545, Some(0.0100), Some(1.9)), // 2: 17 % faster
        ];
        assert_eq!(select(Selection::FastestWithin(0.001), &cs), Some(1));
        assert_eq!(
            select_within(Selection::FastestWithin(0.001), &cs, 0.05),
            Some(0)
        );
        assert_eq!(
            select_within(Selection::FastestWithin(0.005), &cs, 0.05),
            Some(2)
        );
        assert_eq!(
            select_within(Selection::CheapestWithin(0.005), &cs, 0.05),
            Some(1)
        );
        assert_eq!(select_within(Selection::Best, &cs, 0.05), Some(0));
        let unknown = [c(0.1, None, None), c(0.2, None, None)];
        assert_eq!(
            select_within(Selection::FastestWithin(0.5), &unknown, 0.05),
            Some(0)
        );
    }

    #[test]
    fn selection_policies() {
        let cs = [
            c(0.20, Some(5.0), Some(3.0)),  // 0: best
            c(0.205, Some(1.0), None),      // 1: fast, within 0.01
            c(0.21, Some(1.0), Some(0.5)),  // 2: as fast, worse loss, cheap
            c(0.30, Some(0.1), Some(0.01)), // 3: fastest and cheapest, too bad
            c(0.20, Some(4.0), Some(2.0)),  // 4: ties the best loss
        ];
        assert_eq!(select(Selection::Best, &cs), Some(0));
        assert_eq!(select(Selection::FastestWithin(0.011), &cs), Some(1));
        assert_eq!(select(Selection::FastestWithin(0.2), &cs), Some(3));
        assert_eq!(select(Selection::CheapestWithin(0.011), &cs), Some(2));
        assert_eq!(select(Selection::CheapestWithin(0.001), &cs), Some(4));
        // Tolerance 0: among the best-loss candidates only.
        assert_eq!(select(Selection::FastestWithin(0.0), &cs), Some(4));
        assert_eq!(select(Selection::Best, &[]), None);
        // Missing latency counts as infinitely slow; all missing falls back to loss, index.
        let missing = [
            c(0.2, None, None),
            c(0.19, None, None),
            c(0.21, Some(9.0), None),
        ];
        assert_eq!(select(Selection::FastestWithin(0.05), &missing), Some(2));
        assert_eq!(select(Selection::CheapestWithin(0.05), &missing), Some(1));
    }
}
