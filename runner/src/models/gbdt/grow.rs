//! Growing one tree depth by depth from gradient histograms. A child's histogram is built only
//! for the smaller child; the larger one is the parent's minus it.

use rayon::prelude::*;

use super::{Bins, GbdtConfig, MIN_CHILD_HESSIAN, MIN_SPLIT_GAIN, Node, Tree};

pub(super) struct GrowInput<'a> {
    pub bins: &'a Bins,
    pub gradients: &'a [f64],
    pub hessians: &'a [f64],
    pub rows: &'a [u32],
    pub features: &'a [usize],
    pub config: &'a GbdtConfig,
    pub output: usize,
}

/// Gradient sum, hessian sum and row count of one bin.
#[derive(Clone, Copy, Default)]
struct Cell {
    g: f64,
    h: f64,
    n: u32,
}

type Histogram = Vec<Vec<Cell>>;

struct Pending {
    node: usize,
    rows: Vec<u32>,
    histogram: Histogram,
    depth: u32,
}

struct Split {
    feature: usize,
    bin: u16,
    gain: f64,
}

pub(super) fn grow_tree(input: &GrowInput) -> Tree {
    let mut tree = Tree {
        output: input.output,
        nodes: vec![Node::Leaf { value: 0.0 }],
    };
    // Binned split positions, kept beside the tree so training rows can be routed by bin.
    let mut queue = vec![Pending {
        node: 0,
        rows: input.rows.to_vec(),
        histogram: build_histogram(input, input.rows),
        depth: 0,
    }];
    while let Some(pending) = queue.pop() {
        let (g, h, n) = totals(&pending.histogram, input.features);
        let split =
            if pending.depth < input.config.max_depth && n >= 2 * input.config.min_samples_leaf {
                best_split(input, &pending.histogram, g, h)
            } else {
                None
            };
        let Some(split) = split else {
            let value = -g / (h + input.config.l2) * f64::from(input.config.learning_rate);
            tree.nodes[pending.node] = Node::Leaf {
                value: value as f32,
            };
            continue;
        };
        let codes = &input.bins.codes[split.feature];
        let (left_rows, right_rows): (Vec<u32>, Vec<u32>) = pending
            .rows
            .iter()
            .partition(|&&r| codes[r as usize] <= split.bin);
        let (small, large_is_left) = if left_rows.len() <= right_rows.len() {
            (&left_rows, false)
        } else {
            (&right_rows, true)
        };
        let small_hist = build_histogram(input, small);
        let large_hist = subtract(&pending.histogram, &small_hist, input.features);
        let (left_hist, right_hist) = if large_is_left {
            (large_hist, small_hist)
        } else {
            (small_hist, large_hist)
        };
        let left = tree.nodes.len();
        tree.nodes.push(Node::Leaf { value: 0.0 });
        tree.nodes.push(Node::Leaf { value: 0.0 });
        tree.nodes[pending.node] = Node::Split {
            feature: split.feature,
            threshold: input.bins.thresholds[split.feature][usize::from(split.bin)],
            left,
            right: left + 1,
        };
        queue.push(Pending {
            node: left,
            rows: left_rows,
            histogram: left_hist,
            depth: pending.depth + 1,
        });
        queue.push(Pending {
            node: left + 1,
            rows: right_rows,
            histogram: right_hist,
            depth: pending.depth + 1,
        });
    }
    tree
}

fn build_histogram(input: &GrowInput, rows: &[u32]) -> Histogram {
    (0..input.bins.codes.len())
        .into_par_iter()
        .map(|j| {
            let mut cells = vec![Cell::default(); input.bins.bin_count(j)];
            if !input.features.contains(&j) {
                return cells;
            }
            let codes = &input.bins.codes[j];
            for &r in rows {
                let r = r as usize;
                let cell = &mut cells[usize::from(codes[r])];
                cell.g += input.gradients[r];
                cell.h += input.hessians[r];
                cell.n += 1;
            }
            cells
        })
        .collect()
}

fn subtract(parent: &Histogram, child: &Histogram, features: &[usize]) -> Histogram {
    parent
        .iter()
        .zip(child)
        .enumerate()
        .map(|(j, (p, c))| {
            if !features.contains(&j) {
                return vec![Cell::default(); p.len()];
            }
            p.iter()
                .zip(c)
                .map(|(p, c)| Cell {
                    g: p.g - c.g,
                    h: p.h - c.h,
                    n: p.n - c.n,
                })
                .collect()
        })
        .collect()
}

fn totals(histogram: &Histogram, features: &[usize]) -> (f64, f64, u32) {
    let Some(&j) = features.first() else {
        return (0.0, 0.0, 0);
    };
    histogram[j]
        .iter()
        .fold((0.0, 0.0, 0), |(g, h, n), c| (g + c.g, h + c.h, n + c.n))
}

fn best_split(input: &GrowInput, histogram: &Histogram, g: f64, h: f64) -> Option<Split> {
    let l2 = input.config.l2;
    let min_leaf = input.config.min_samples_leaf;
    let parent_score = g * g / (h + l2);
    input
        .features
        .par_iter()
        .filter_map(|&j| {
            let cells = &histogram[j];
            let mut best: Option<Split> = None;
            let (mut gl, mut hl, mut nl) = (0.0, 0.0, 0u32);
            let total_n: u32 = cells.iter().map(|c| c.n).sum();
            for (b, cell) in cells.iter().enumerate().take(cells.len().saturating_sub(1)) {
                gl += cell.g;
                hl += cell.h;
                nl += cell.n;
                let (gr, hr, nr) = (g - gl, h - hl, total_n - nl);
                if nl < min_leaf
                    || nr < min_leaf
                    || hl < MIN_CHILD_HESSIAN
                    || hr < MIN_CHILD_HESSIAN
                {
                    continue;
                }
                let gain = gl * gl / (hl + l2) + gr * gr / (hr + l2) - parent_score;
                if gain > MIN_SPLIT_GAIN && best.as_ref().is_none_or(|s| gain > s.gain) {
                    best = Some(Split {
                        feature: j,
                        bin: b as u16,
                        gain,
                    });
                }
            }
            best
        })
        // Ties go to the lower feature index so that results do not depend on thread timing.
        .reduce_with(|a, b| {
            if b.gain > a.gain || (b.gain == a.gain && b.feature < a.feature) {
                b
            } else {
                a
            }
        })
}
