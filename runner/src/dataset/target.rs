//! Typing the target column and inferring the task from it.

use std::collections::BTreeMap;

use lepton_crds::v1alpha1::Task;

use crate::error::TrainError;
use crate::metrics::{Targets, TaskKind};
use crate::table::ColumnData;

/// Most distinct integer values a numeric target may have to be inferred as classes.
const MAX_INFERRED_NUMERIC_CLASSES: usize = 10;
/// Most classes Lepton trains.
const MAX_CLASSES: usize = 100;

/// Pairs of (negative, positive) labels recognised regardless of case, so that the positive
/// class of a binary target is the one a person would call positive.
const BINARY_PAIRS: [(&str, &str); 7] = [
    ("0", "1"),
    ("false", "true"),
    ("no", "yes"),
    ("n", "y"),
    ("f", "t"),
    ("negative", "positive"),
    ("-1", "1"),
];

/// The target column, typed.
#[derive(Clone, Debug)]
pub struct Target {
    /// Column name.
    pub name: String,
    /// The task.
    pub task: TaskKind,
    /// Class labels in class-index order (empty for regression).
    pub classes: Vec<String>,
    /// Targets per row.
    pub values: Targets,
    /// How the task was decided, for the data report.
    pub task_reason: String,
}

impl Target {
    pub(crate) fn select_rows(&mut self, keep: &[usize]) {
        self.values = match &self.values {
            Targets::Classes(c) => Targets::Classes(keep.iter().map(|&i| c[i]).collect()),
            Targets::Values(v) => Targets::Values(keep.iter().map(|&i| v[i]).collect()),
        };
    }

    pub(crate) fn write_key(&self, row: usize, key: &mut Vec<u8>) {
        match &self.values {
            Targets::Classes(c) => key.extend_from_slice(&(c[row] as u64).to_le_bytes()),
            Targets::Values(v) => key.extend_from_slice(&(v[row] + 0.0).to_bits().to_le_bytes()),
        }
    }

    /// Rows per class (classification), in class order.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        if let Targets::Classes(c) = &self.values {
            for &k in c {
                counts[k] += 1;
            }
        }
        counts
    }
}

/// Types the target column and decides the task (`task` from the spec, or inferred when auto).
/// Returns the target over the rows whose target is present, and the indices of those rows.
pub fn resolve_target(
    name: &str,
    data: ColumnData,
    task: Task,
) -> Result<(Target, Vec<usize>), TrainError> {
    let (cells, kept): (Vec<Cell>, Vec<usize>) = match &data {
        ColumnData::Numeric(v) => v
            .iter()
            .enumerate()
            .filter(|(_, x)| !x.is_nan())
            .map(|(i, x)| (Cell::Number(*x), i))
            .unzip(),
        ColumnData::Text(v) => v
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (Cell::Text(s.to_string()), i)))
            .unzip(),
    };
    if cells.is_empty() {
        return Err(TrainError::TargetAllMissing {
            target: name.to_string(),
        });
    }
    let numeric = matches!(data, ColumnData::Numeric(_));
    let distinct = distinct_labels(&cells);
    let all_integers = numeric
        && cells
            .iter()
            .all(|c| matches!(c, Cell::Number(x) if x.fract() == 0.0));

    let (kind, reason) = match task {
        Task::Regression => {
            if let (ColumnData::Text(v), Some(&row)) =
                (&data, kept.iter().find(|&&i| !parses(&data, i)))
            {
                return Err(TrainError::TargetNotNumeric {
                    target: name.to_string(),
                    row: row + 1,
                    value: v[row].as_deref().unwrap_or_default().to_string(),
                });
            }
            (TaskKind::Regression, "data.task is regression".to_string())
        }
        Task::Binary => {
            if distinct.len() != 2 {
                return Err(one_class_or(name, &distinct, || {
                    TrainError::TargetNotBinary {
                        target: name.to_string(),
                        classes: distinct.len(),
                        examples: examples(&distinct),
                    }
                }));
            }
            (TaskKind::Binary, "data.task is binary".to_string())
        }
        Task::Multiclass => {
            if distinct.len() < 2 {
                return Err(one_class_or(name, &distinct, || unreachable_error(name)));
            }
            check_class_limit(name, distinct.len(), MAX_CLASSES)?;
            (
                TaskKind::Multiclass {
                    classes: distinct.len(),
                },
                "data.task is multiclass".to_string(),
            )
        }
        Task::Auto => infer(name, numeric, all_integers, &distinct, cells.len())?,
    };

    let values = match kind {
        TaskKind::Regression => Targets::Values(
            cells
                .iter()
                .map(|c| match c {
                    Cell::Number(x) => *x,
                    Cell::Text(s) => s.trim().parse().unwrap_or(f64::NAN),
                })
                .collect(),
        ),
        _ => {
            let classes = order_classes(&distinct, numeric);
            let index: BTreeMap<&str, usize> = classes
                .iter()
                .enumerate()
                .map(|(i, c)| (c.as_str(), i))
                .collect();
            Targets::Classes(cells.iter().map(|c| index[c.label().as_str()]).collect())
        }
    };
    let classes = match kind {
        TaskKind::Regression => Vec::new(),
        _ => order_classes(&distinct, numeric),
    };
    Ok((
        Target {
            name: name.to_string(),
            task: kind,
            classes,
            values,
            task_reason: reason,
        },
        kept,
    ))
}

fn infer(
    name: &str,
    numeric: bool,
    all_integers: bool,
    distinct: &BTreeMap<String, usize>,
    rows: usize,
) -> Result<(TaskKind, String), TrainError> {
    let n = distinct.len();
    if n < 2 {
        return Err(one_class_or(name, distinct, || unreachable_error(name)));
    }
    if numeric && !(all_integers && n <= MAX_INFERRED_NUMERIC_CLASSES) {
        let why = if all_integers {
            format!(
                "numeric target with {n} distinct integer values (more than {MAX_INFERRED_NUMERIC_CLASSES})"
            )
        } else {
            "numeric target with fractional values".to_string()
        };
        return Ok((
            TaskKind::Regression,
            format!("inferred regression: {why}; set data.task to override"),
        ));
    }
    if n == 2 {
        return Ok((
            TaskKind::Binary,
            "inferred binary: the target has two distinct values; set data.task to override".into(),
        ));
    }
    let limit = MAX_CLASSES.min((rows / 5).max(2));
    check_class_limit(name, n, limit)?;
    Ok((
        TaskKind::Multiclass { classes: n },
        format!(
            "inferred multiclass: the target has {n} distinct values; set data.task to override"
        ),
    ))
}

fn check_class_limit(name: &str, distinct: usize, limit: usize) -> Result<(), TrainError> {
    if distinct > limit {
        return Err(TrainError::TargetTooManyClasses {
            target: name.to_string(),
            distinct,
            limit,
        });
    }
    Ok(())
}

fn one_class_or(
    name: &str,
    distinct: &BTreeMap<String, usize>,
    otherwise: impl FnOnce() -> TrainError,
) -> TrainError {
    match distinct.keys().next() {
        Some(class) if distinct.len() == 1 => TrainError::TargetHasOneClass {
            target: name.to_string(),
            class: class.clone(),
        },
        _ => otherwise(),
    }
}

fn unreachable_error(name: &str) -> TrainError {
    TrainError::TargetAllMissing {
        target: name.to_string(),
    }
}

fn examples(distinct: &BTreeMap<String, usize>) -> String {
    let mut shown: Vec<String> = distinct.keys().take(5).map(|k| format!("{k:?}")).collect();
    if distinct.len() > 5 {
        shown.push("...".into());
    }
    shown.join(", ")
}

fn parses(data: &ColumnData, row: usize) -> bool {
    match data {
        ColumnData::Numeric(_) => true,
        ColumnData::Text(v) => v[row]
            .as_deref()
            .is_none_or(|s| s.trim().parse::<f64>().is_ok_and(f64::is_finite)),
    }
}

/// Class labels in index order: a recognised (negative, positive) pair puts the positive label
/// second; numbers sort numerically; other labels sort as text.
fn order_classes(distinct: &BTreeMap<String, usize>, numeric: bool) -> Vec<String> {
    let mut labels: Vec<String> = distinct.keys().cloned().collect();
    if labels.len() == 2 {
        let lower: Vec<String> = labels
            .iter()
            .map(|l| l.trim().to_ascii_lowercase())
            .collect();
        for (neg, pos) in BINARY_PAIRS {
            if lower[0] == pos && lower[1] == neg {
                labels.swap(0, 1);
                return labels;
            }
            if lower[0] == neg && lower[1] == pos {
                return labels;
            }
        }
    }
    if numeric {
        labels.sort_by(|a, b| {
            let (x, y) = (
                a.parse::<f64>().unwrap_or(0.0),
                b.parse::<f64>().unwrap_or(0.0),
            );
            x.total_cmp(&y)
        });
    }
    labels
}

enum Cell {
    Number(f64),
    Text(String),
}

impl Cell {
    fn label(&self) -> String {
        match self {
            Cell::Number(x) => format_number(*x),
            Cell::Text(s) => s.clone(),
        }
    }
}

/// Integers print without a fractional part so that class `1.0` reads as `1`.
fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

fn distinct_labels(cells: &[Cell]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for c in cells {
        *counts.entry(c.label()).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(values: &[Option<&str>]) -> ColumnData {
        ColumnData::Text(values.iter().map(|v| v.map(Into::into)).collect())
    }

    #[test]
    fn yes_no_target_is_binary_with_yes_positive() {
        let (t, kept) = resolve_target(
            "default",
            text(&[Some("Yes"), Some("No"), None, Some("No")]),
            Task::Auto,
        )
        .unwrap();
        assert_eq!(t.task, TaskKind::Binary);
        assert_eq!(t.classes, ["No", "Yes"]);
        assert_eq!(t.values, Targets::Classes(vec![1, 0, 0]));
        assert_eq!(kept, [0, 1, 3]);
    }

    #[test]
    fn numeric_targets_infer_binary_multiclass_or_regression() {
        let (t, _) =
            resolve_target("y", ColumnData::Numeric(vec![1.0, 0.0, 1.0]), Task::Auto).unwrap();
        assert_eq!(
            (t.task, t.classes.as_slice()),
            (
                TaskKind::Binary,
                ["0".to_string(), "1".to_string()].as_slice()
            )
        );
        let (t, _) = resolve_target(
            "y",
            ColumnData::Numeric((0..30).map(|i| f64::from(i % 3)).collect()),
            Task::Auto,
        )
        .unwrap();
        assert_eq!(t.task, TaskKind::Multiclass { classes: 3 });
        let (t, _) =
            resolve_target("y", ColumnData::Numeric(vec![1.5, 2.0, 3.0]), Task::Auto).unwrap();
        assert_eq!(t.task, TaskKind::Regression);
        let (t, _) = resolve_target(
            "y",
            ColumnData::Numeric((0..50).map(f64::from).collect()),
            Task::Auto,
        )
        .unwrap();
        assert_eq!(t.task, TaskKind::Regression);
    }

    #[test]
    fn target_errors_name_the_column_and_say_what_to_do() {
        let err = resolve_target("y", text(&[None, None]), Task::Auto).unwrap_err();
        assert_eq!(err.reason(), "TargetAllMissing");
        let err = resolve_target("y", text(&[Some("a"), Some("a")]), Task::Auto).unwrap_err();
        assert_eq!(err.reason(), "TargetHasOneClass");
        assert!(err.to_string().contains("`y`"));
        let err = resolve_target("y", text(&[Some("a"), Some("b"), Some("c")]), Task::Binary)
            .unwrap_err();
        assert_eq!(err.reason(), "TargetNotBinary");
        assert!(err.to_string().contains("multiclass"), "{err}");
        let err =
            resolve_target("y", text(&[Some("1.5"), Some("oops")]), Task::Regression).unwrap_err();
        assert_eq!(err.reason(), "TargetNotNumeric");
        assert!(err.to_string().contains("row 2"), "{err}");
        let ids: Vec<Option<String>> = (0..100).map(|i| Some(format!("id{i}"))).collect();
        let ids = ColumnData::Text(ids.into_iter().map(|s| s.map(Into::into)).collect());
        assert_eq!(
            resolve_target("y", ids, Task::Auto).unwrap_err().reason(),
            "TargetTooManyClasses"
        );
    }

    #[test]
    fn explicit_multiclass_keeps_two_classes_as_multiclass() {
        let (t, _) = resolve_target("y", text(&[Some("a"), Some("b")]), Task::Multiclass).unwrap();
        assert_eq!(t.task, TaskKind::Multiclass { classes: 2 });
    }
}
