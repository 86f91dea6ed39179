//! From a read [`Table`] to a learning problem: the target is found and typed, the task is
//! inferred, each feature column gets a kind (or a reason to drop it), duplicates go, and rows
//! are split into training and validation sets.

mod columns;
mod split;
mod target;

pub use columns::{ColumnKind, ColumnPlan, DropReason, plan_columns};
pub use split::{Split, split_rows};
pub use target::{Target, resolve_target};

use crate::error::TrainError;
use crate::table::{ColumnData, Table};

/// A feature column as read, with its rows aligned to the target's.
#[derive(Clone, Debug)]
pub struct RawFeature {
    /// Column name.
    pub name: String,
    /// Cells.
    pub data: ColumnData,
}

/// The learning problem before preprocessing statistics are fitted.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Candidate feature columns (everything but the target and `dropColumns`).
    pub features: Vec<RawFeature>,
    /// The target, typed.
    pub target: Target,
    /// 1-based data row (in the file) of each row kept, for error messages.
    pub source_rows: Vec<usize>,
}

impl Dataset {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.source_rows.len()
    }

    /// Keeps only `keep` rows (indices into the current rows), in that order.
    pub fn select_rows(&mut self, keep: &[usize]) {
        for f in &mut self.features {
            f.data = select(&f.data, keep);
        }
        self.target.select_rows(keep);
        self.source_rows = keep.iter().map(|&i| self.source_rows[i]).collect();
    }
}

/// Cells of `data` at `rows`.
pub fn select(data: &ColumnData, rows: &[usize]) -> ColumnData {
    match data {
        ColumnData::Numeric(v) => ColumnData::Numeric(rows.iter().map(|&i| v[i]).collect()),
        ColumnData::Text(v) => ColumnData::Text(rows.iter().map(|&i| v[i].clone()).collect()),
    }
}

/// Separates the target from the features, drops `drop_columns`, and drops rows whose target is
/// missing (reported as `rows_without_target`).
pub fn from_table(
    table: Table,
    spec: &lepton_crds::v1alpha1::DataSpec,
) -> Result<(Dataset, usize), TrainError> {
    let owned_names: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    let names: Vec<&str> = owned_names.iter().map(String::as_str).collect();
    for dropped in &spec.drop_columns {
        if !names.contains(&dropped.as_str()) {
            return Err(unknown_column("data.dropColumns", dropped, &names));
        }
    }
    if !names.contains(&spec.target.as_str()) {
        return Err(unknown_column("data.target", &spec.target, &names));
    }
    let rows = table.rows;
    let mut target_data = None;
    let mut features = Vec::new();
    for column in table.columns {
        if column.name == spec.target {
            target_data = Some(column.data);
        } else if !spec.drop_columns.contains(&column.name) {
            features.push(RawFeature {
                name: column.name,
                data: column.data,
            });
        }
    }
    let target_data =
        target_data.ok_or_else(|| unknown_column("data.target", &spec.target, &names))?;
    let (target, kept) = resolve_target(&spec.target, target_data, spec.task)?;
    let mut dataset = Dataset {
        features,
        target,
        source_rows: (1..=rows).collect(),
    };
    let without_target = rows - kept.len();
    if without_target > 0 {
        for f in &mut dataset.features {
            f.data = select(&f.data, &kept);
        }
        dataset.source_rows = kept.iter().map(|&i| i + 1).collect();
    }
    Ok((dataset, without_target))
}

/// Removes exact duplicate rows (features and target), keeping the first; returns how many went.
pub fn remove_duplicates(dataset: &mut Dataset) -> usize {
    use std::collections::HashSet;
    let mut seen = HashSet::with_capacity(dataset.rows());
    let mut keep = Vec::with_capacity(dataset.rows());
    for row in 0..dataset.rows() {
        let mut key = Vec::<u8>::new();
        for f in &dataset.features {
            match &f.data {
                ColumnData::Numeric(v) => {
                    // All NaNs are one "missing" value; -0.0 and 0.0 are the same number.
                    let x = if v[row].is_nan() {
                        f64::NAN
                    } else {
                        v[row] + 0.0
                    };
                    key.extend_from_slice(&x.to_bits().to_le_bytes());
                }
                ColumnData::Text(v) => {
                    match &v[row] {
                        Some(s) => {
                            key.push(1);
                            key.extend_from_slice(s.as_bytes());
                        }
                        None => key.push(0),
                    }
                    key.push(0xff);
                }
            }
        }
        dataset.target.write_key(row, &mut key);
        if seen.insert(key) {
            keep.push(row);
        }
    }
    let removed = dataset.rows() - keep.len();
    if removed > 0 {
        dataset.select_rows(&keep);
    }
    removed
}

fn unknown_column(field: &'static str, column: &str, names: &[&str]) -> TrainError {
    let hint = names
        .iter()
        .find(|n| n.eq_ignore_ascii_case(column) || n.trim() == column.trim())
        .map(|n| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default();
    TrainError::UnknownColumn {
        field,
        column: column.to_string(),
        available: names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", "),
        hint,
    }
}
