//! Axes: the range a chart's data spans, with a margin, and its title.

use crate::format::tick_decimals;

/// One axis: its range and title.
#[derive(Clone, Debug)]
pub(crate) struct Axis {
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    pub(crate) title: String,
    /// Whole numbers only (steps): ticks fall on integers.
    pub(crate) whole: bool,
}

impl Axis {
    /// An axis spanning `values` with a margin either side; `None` when there is no finite
    /// value, or the values are too far apart to subtract.
    pub(crate) fn fit(
        values: impl IntoIterator<Item = f64>,
        pad: f64,
        title: String,
    ) -> Option<Axis> {
        let (lo, hi) = bounds(values)?;
        let span = hi - lo;
        if !span.is_finite() {
            return None;
        }
        let (lo, hi) = if span == 0.0 {
            let half = if lo == 0.0 { 1.0 } else { lo.abs() * 0.05 };
            (lo - half, hi + half)
        } else {
            (lo - span * pad, hi + span * pad)
        };
        Some(Axis {
            lo,
            hi,
            title,
            whole: false,
        })
        .filter(|a| (a.hi - a.lo).is_finite())
    }

    /// This axis counting whole numbers, widened to at least one unit either side of a
    /// single value.
    pub(crate) fn whole(self) -> Axis {
        let (lo, hi) = if self.hi - self.lo < 1.0 {
            let mid = ((self.lo + self.hi) / 2.0).round();
            (mid - 1.0, mid + 1.0)
        } else {
            (self.lo.floor(), self.hi.ceil())
        };
        Axis {
            lo,
            hi,
            whole: true,
            ..self
        }
    }

    /// How many tick labels to ask for: at most `most`, and no more than whole units.
    pub(crate) fn ticks(&self, most: usize) -> usize {
        if self.whole {
            most.min((self.hi - self.lo).floor() as usize + 1).max(2)
        } else {
            most
        }
    }

    /// Decimals of the tick labels: none for whole numbers.
    pub(crate) fn decimals(&self, ticks: usize) -> usize {
        if self.whole {
            0
        } else {
            tick_decimals(self.hi - self.lo, ticks)
        }
    }

    /// An axis from zero (or the lowest value, if negative) to a little above the largest:
    /// the natural one for latencies and scores that only make sense against zero.
    pub(crate) fn from_zero(values: impl IntoIterator<Item = f64>, title: String) -> Option<Axis> {
        let (lo, hi) = bounds(values)?;
        let lo = lo.min(0.0);
        let hi = if hi > lo {
            hi + (hi - lo) * 0.08
        } else {
            lo + 1.0
        };
        Some(Axis {
            lo,
            hi,
            title,
            whole: false,
        })
        .filter(|a| (a.hi - a.lo).is_finite())
    }
}

fn bounds(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}
