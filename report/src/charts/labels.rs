//! Placing text labels beside marked points without covering other points or labels.

use super::frame::Frame;
use super::text_width;

/// Labels placed so far on a chart, so that the next one avoids them and the points.
#[derive(Default)]
pub(crate) struct Labels {
    taken: Vec<[f64; 4]>,
}

impl Labels {
    /// Marks a box (left, top, right, bottom) as occupied.
    pub(crate) fn reserve(&mut self, area: [f64; 4]) {
        self.taken.push(area);
    }

    /// Where the label `text` for the point at `at` goes: beside, above or below it, then
    /// further away, the first spot that stays in the plot and covers neither a point of
    /// `points` nor an earlier label.
    pub(crate) fn place(
        &mut self,
        frame: &Frame,
        at: (f64, f64),
        text: &str,
        size: f64,
        points: &[(f64, f64)],
    ) -> Placed {
        let (w, gap) = (text_width(text, size), 12.0);
        let (left, top, right, bottom) = frame.plot_box();
        let area =
            |x0: f64, baseline: f64| [x0, baseline - size * 0.8, x0 + w, baseline + size * 0.25];
        let free = |a: &[f64; 4]| {
            a[0] >= left
                && a[2] <= right
                && a[1] >= top
                && a[3] <= bottom
                && !points.iter().any(|p| {
                    p.0 > a[0] - 5.0 && p.0 < a[2] + 5.0 && p.1 > a[1] - 5.0 && p.1 < a[3] + 5.0
                })
                && !self
                    .taken
                    .iter()
                    .any(|t| a[0] < t[2] && t[0] < a[2] && a[1] < t[3] && t[1] < a[3])
        };
        let above = at.1 - gap + size * 0.35;
        let below = at.1 + gap + size * 0.7;
        let mut spots = Vec::with_capacity(24);
        for step in 0..4 {
            let shift = f64::from(step) * (size + 4.0);
            for baseline in [above - shift, below + shift] {
                spots.push(area(at.0 + gap, baseline));
                spots.push(area(at.0 - gap - w, baseline));
                // Centred over the point, slid sideways to stay in the plot.
                let centred = (at.0 - w / 2.0).clamp(left, (right - w).max(left));
                spots.push(area(
                    centred,
                    baseline - if baseline < at.1 { 4.0 } else { -4.0 },
                ));
            }
        }
        let area = spots.iter().copied().find(|a| free(a)).unwrap_or_else(|| {
            // Nowhere is clear: keep the label inside the plot, on the roomier side.
            let x0 = if at.0 - left > right - at.0 {
                at.0 - gap - w
            } else {
                at.0 + gap
            };
            area(x0.clamp(left, (right - w).max(left)), above.max(top + size))
        });
        self.taken.push(area);
        Placed {
            baseline: (area[0], area[3] - size * 0.25),
            area,
        }
    }
}

/// A placed label: where its text starts (anchored at its start) and the box it covers.
pub(crate) struct Placed {
    pub(crate) baseline: (f64, f64),
    pub(crate) area: [f64; 4],
}

impl Placed {
    /// Where a leader line from the point at `at` should end when the label sits apart from
    /// it, or `None` when the label is right beside the point.
    pub(crate) fn leader(&self, at: (f64, f64)) -> Option<(f64, f64)> {
        let [x0, y0, x1, y1] = self.area;
        let beside =
            (at.1 >= y0 - 14.0 && at.1 <= y1 + 14.0) && (at.0 >= x0 - 16.0 && at.0 <= x1 + 16.0);
        if beside {
            return None;
        }
        let x = at.0.clamp(x0, x1);
        let y = if at.1 < y0 { y0 } else { y1 };
        Some((x, y))
    }
}
