//! Training / validation split, stratified by class for classification.

use crate::error::TrainError;
use crate::metrics::Targets;
use crate::rng::Rng;

/// Row indices of the two splits, each in ascending order.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// Training rows.
    pub train: Vec<usize>,
    /// Validation rows.
    pub validation: Vec<usize>,
}

/// Fewest rows per class in each split: fewer makes validation metrics meaningless.
const MIN_ROWS_PER_CLASS_PER_SPLIT: usize = 1;
/// Fewest rows overall.
const MIN_ROWS: usize = 10;

/// Splits rows, holding out `fraction` for validation. With `stratify`, each class is split on
/// its own so the two splits keep the class proportions.
pub fn split_rows(
    targets: &Targets,
    classes: &[String],
    fraction: f64,
    stratify: bool,
    seed: u64,
) -> Result<Split, TrainError> {
    let n = targets.len();
    if n < MIN_ROWS {
        return Err(TrainError::TooFewRows {
            detail: format!("only {n} rows have a target value"),
            needed: MIN_ROWS,
        });
    }
    let mut rng = Rng::new(seed);
    let groups: Vec<Vec<usize>> = match (targets, stratify) {
        (Targets::Classes(c), true) => {
            let mut groups = vec![Vec::new(); classes.len()];
            for (row, &k) in c.iter().enumerate() {
                groups[k].push(row);
            }
            for (k, rows) in groups.iter().enumerate() {
                if rows.len() < 2 * MIN_ROWS_PER_CLASS_PER_SPLIT {
                    return Err(TrainError::TooFewRows {
                        detail: format!(
                            "class {:?} of the target has {} row(s), too few to appear in both the training and the validation split",
                            classes[k],
                            rows.len()
                        ),
                        needed: 2 * MIN_ROWS_PER_CLASS_PER_SPLIT,
                    });
                }
            }
            groups
        }
        _ => vec![(0..n).collect()],
    };
    let mut split = Split {
        train: Vec::with_capacity(n),
        validation: Vec::with_capacity((n as f64 * fraction) as usize + groups.len()),
    };
    for mut rows in groups {
        rng.shuffle(&mut rows);
        let held_out = ((rows.len() as f64 * fraction).round() as usize).clamp(
            MIN_ROWS_PER_CLASS_PER_SPLIT,
            rows.len() - MIN_ROWS_PER_CLASS_PER_SPLIT,
        );
        split.validation.extend_from_slice(&rows[..held_out]);
        split.train.extend_from_slice(&rows[held_out..]);
    }
    split.train.sort_unstable();
    split.validation.sort_unstable();
    if let Targets::Classes(c) = targets {
        let train_classes = split
            .train
            .iter()
            .map(|&r| c[r])
            .collect::<std::collections::BTreeSet<_>>();
        if train_classes.len() < 2 {
            return Err(TrainError::TooFewRows {
                detail: "the training split has a single class; turn on data.preprocessing.stratify or add rows".into(),
                needed: MIN_ROWS,
            });
        }
    }
    Ok(split)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratified_split_keeps_proportions_and_is_reproducible() {
        let y: Vec<usize> = (0..1000).map(|i| usize::from(i % 10 == 0)).collect();
        let t = Targets::Classes(y.clone());
        let classes = ["no".to_string(), "yes".to_string()];
        let s = split_rows(&t, &classes, 0.2, true, 42).unwrap();
        assert_eq!(s.validation.len(), 200);
        assert_eq!(s.validation.iter().filter(|&&r| y[r] == 1).count(), 20);
        assert_eq!(s, split_rows(&t, &classes, 0.2, true, 42).unwrap());
        assert_ne!(s, split_rows(&t, &classes, 0.2, true, 43).unwrap());
        let mut all: Vec<usize> = s.train.iter().chain(&s.validation).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn too_few_rows_are_errors_that_say_what_is_short() {
        let t = Targets::Values(vec![1.0; 5]);
        assert_eq!(
            split_rows(&t, &[], 0.2, true, 1).unwrap_err().reason(),
            "TooFewRows"
        );
        let mut y = vec![0; 50];
        y[3] = 1;
        let err = split_rows(
            &Targets::Classes(y),
            &["a".into(), "b".into()],
            0.2,
            true,
            1,
        )
        .unwrap_err();
        assert!(err.to_string().contains("class \"b\""), "{err}");
    }
}
