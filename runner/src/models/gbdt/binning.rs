//! Histogram bins per feature. Bin edges are values seen in training, so a split "bin <= b" is
//! exactly the comparison "x <= edge[b]" that the exported tree performs on raw floats.

use rayon::prelude::*;

use crate::preprocess::Features;

/// Binned training features.
pub struct Bins {
    /// Per feature, ascending split thresholds; bin `i` holds values in (t[i-1], t[i]].
    pub thresholds: Vec<Vec<f32>>,
    /// Per feature, the bin of each training row.
    pub codes: Vec<Vec<u16>>,
}

impl Bins {
    /// Bins every column of `x` into at most `max_bins` bins.
    pub fn new(x: &Features, max_bins: usize) -> Self {
        let max_bins = max_bins.min(usize::from(u16::MAX));
        let (thresholds, codes) = (0..x.cols)
            .into_par_iter()
            .map(|j| {
                let column: Vec<f32> = (0..x.rows).map(|r| x.values[r * x.cols + j]).collect();
                let thresholds = thresholds_for(&column, max_bins);
                let codes = column.iter().map(|&v| bin_of(&thresholds, v)).collect();
                (thresholds, codes)
            })
            .unzip();
        Self { thresholds, codes }
    }

    /// Bins of feature `j`.
    pub fn bin_count(&self, j: usize) -> usize {
        self.thresholds[j].len() + 1
    }
}

/// Number of thresholds strictly below `v`: the bin whose upper edge is the first >= v.
pub fn bin_of(thresholds: &[f32], v: f32) -> u16 {
    thresholds.partition_point(|&t| t < v) as u16
}

fn thresholds_for(column: &[f32], max_bins: usize) -> Vec<f32> {
    let mut sorted = column.to_vec();
    sorted.sort_by(f32::total_cmp);
    let mut distinct: Vec<(f32, usize)> = Vec::new();
    for v in sorted {
        match distinct.last_mut() {
            Some((last, count)) if *last == v => *count += 1,
            _ => distinct.push((v, 1)),
        }
    }
    if distinct.len() <= max_bins {
        return distinct
            .iter()
            .take(distinct.len().saturating_sub(1))
            .map(|(v, _)| *v)
            .collect();
    }
    // Equal-frequency edges: close a bin once it holds its share of the rows.
    let per_bin = column.len() as f64 / max_bins as f64;
    let mut thresholds = Vec::with_capacity(max_bins - 1);
    let mut seen = 0usize;
    for (v, count) in &distinct[..distinct.len() - 1] {
        seen += count;
        if seen as f64 >= per_bin * (thresholds.len() + 1) as f64 {
            thresholds.push(*v);
            if thresholds.len() == max_bins - 1 {
                break;
            }
        }
    }
    thresholds
}
