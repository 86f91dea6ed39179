//! The training profile: each input's distribution on the training split, which serving compares
//! live traffic with (population stability index) to detect drift.

use std::collections::BTreeMap;

use crate::artifact::FeatureProfile;
use crate::dataset::Dataset;
use crate::preprocess::{InputEncoder, OTHER_BUCKET, Preprocessor, quantile, value_index};
use crate::table::ColumnData;

/// Quantile bins per numeric input.
pub const NUMERIC_BINS: usize = 10;

/// Profiles of every input of `preprocessor` over the `train` rows.
pub fn training_profile(
    preprocessor: &Preprocessor,
    dataset: &Dataset,
    train: &[usize],
) -> Vec<FeatureProfile> {
    preprocessor
        .inputs
        .iter()
        .filter_map(|input| {
            let column = dataset.features.iter().find(|f| f.name == input.name())?;
            Some(match (&column.data, input) {
                (ColumnData::Numeric(v), _) => numeric(input.name(), train.iter().map(|&r| v[r])),
                (
                    ColumnData::Text(v),
                    InputEncoder::Boolean {
                        negative, positive, ..
                    },
                ) => categorical(
                    input.name(),
                    train.iter().map(|&r| v[r].as_deref()),
                    &[negative.clone(), positive.clone()],
                    false,
                    &preprocessor.null_values,
                ),
                (ColumnData::Text(v), InputEncoder::Categorical { categories, .. }) => categorical(
                    input.name(),
                    train.iter().map(|&r| v[r].as_deref()),
                    categories,
                    true,
                    &preprocessor.null_values,
                ),
                _ => return None,
            })
        })
        .collect()
}

/// Profile of numeric values (NaN = missing).
pub fn numeric(name: &str, values: impl Iterator<Item = f64>) -> FeatureProfile {
    let (mut present, mut missing) = (Vec::new(), 0usize);
    for v in values {
        if v.is_nan() {
            missing += 1;
        } else {
            present.push(v);
        }
    }
    present.sort_by(f64::total_cmp);
    let mut edges: Vec<f64> = (1..NUMERIC_BINS)
        .map(|i| quantile(&present, i as f64 / NUMERIC_BINS as f64))
        .filter(|e| e.is_finite())
        .collect();
    edges.dedup();
    let mut counts = vec![0usize; edges.len() + 1];
    for v in &present {
        counts[edges.partition_point(|e| e < v)] += 1;
    }
    let n = present.len().max(1) as f64;
    let mean = present.iter().sum::<f64>() / n;
    let std = (present.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
    FeatureProfile::Numeric {
        name: name.to_string(),
        edges,
        proportions: counts.iter().map(|&c| c as f64 / n).collect(),
        missing: missing as f64 / (present.len() + missing).max(1) as f64,
        mean,
        std,
    }
}

/// Profile of text values over known `categories` (plus `__other__` when `other`).
pub fn categorical<'a>(
    name: &str,
    values: impl Iterator<Item = Option<&'a str>>,
    categories: &[String],
    other: bool,
    null_values: &[String],
) -> FeatureProfile {
    let mut counts: BTreeMap<String, usize> = categories.iter().map(|c| (c.clone(), 0)).collect();
    if other {
        counts.insert(OTHER_BUCKET.to_string(), 0);
    }
    let (mut present, mut missing) = (0usize, 0usize);
    for cell in values {
        match cell.filter(|s| !s.is_empty() && !null_values.iter().any(|n| n == s)) {
            None => missing += 1,
            Some(s) => {
                let key = match value_index(s, categories) {
                    Some(i) => categories[i].clone(),
                    None if other => OTHER_BUCKET.to_string(),
                    None => continue,
                };
                *counts.entry(key).or_insert(0) += 1;
                present += 1;
            }
        }
    }
    let n = present.max(1) as f64;
    FeatureProfile::Categorical {
        name: name.to_string(),
        proportions: counts.into_iter().map(|(k, c)| (k, c as f64 / n)).collect(),
        missing: missing as f64 / (present + missing).max(1) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_profiles_have_equal_mass_bins() {
        let FeatureProfile::Numeric {
            edges,
            proportions,
            missing,
            ..
        } = numeric("x", (0..1000).map(f64::from).chain([f64::NAN; 10]))
        else {
            panic!()
        };
        assert_eq!(edges.len(), 9);
        assert!(
            proportions.iter().all(|p| (p - 0.1).abs() < 0.002),
            "{proportions:?}"
        );
        assert!((missing - 10.0 / 1010.0).abs() < 1e-12);
    }

    #[test]
    fn categorical_profiles_bucket_unknown_values() {
        let cells = [
            Some("a"),
            Some("a"),
            Some("b"),
            Some("zzz"),
            None,
            Some("NA"),
        ];
        let FeatureProfile::Categorical {
            proportions,
            missing,
            ..
        } = categorical(
            "c",
            cells.into_iter(),
            &["a".into(), "b".into()],
            true,
            &["NA".into()],
        )
        else {
            panic!()
        };
        assert_eq!(proportions["a"], 0.5);
        assert_eq!(proportions[OTHER_BUCKET], 0.25);
        assert!((missing - 2.0 / 6.0).abs() < 1e-12);
    }
}
