//! Deciding what each feature column is (numeric, boolean, categorical) or why it is dropped.

use std::collections::BTreeMap;

use lepton_crds::v1alpha1::Preprocessing;

use super::RawFeature;
use crate::error::TrainError;
use crate::table::ColumnData;

/// Share of non-missing cells that must be numbers for a text column to count as a numeric
/// column with a few bad values (an error) rather than a categorical one.
const MOSTLY_NUMERIC: f64 = 0.95;
/// Share of distinct values above which a text column is an identifier or free text.
const ID_LIKE_DISTINCT: f64 = 0.95;
/// Columns shorter than this are never called identifiers: too little evidence.
const MIN_ROWS_FOR_ID: usize = 20;

/// What a feature column is, once looked at.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnKind {
    /// Numbers.
    Numeric,
    /// Two text values; `positive` maps to 1.
    Boolean {
        /// The value encoded as 0.
        negative: String,
        /// The value encoded as 1.
        positive: String,
    },
    /// A set of text values.
    Categorical,
    /// Not used.
    Dropped(DropReason),
}

/// Why a column is not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DropReason {
    /// Every cell is missing.
    AllMissing,
    /// One value in every row.
    Constant,
    /// Different in (almost) every row: an identifier or free text.
    IdLike,
    /// Categorical encoding is turned off.
    CategoricalEncodingOff,
}

impl DropReason {
    /// Explanation for the data report.
    pub fn describe(self) -> &'static str {
        match self {
            DropReason::AllMissing => "every value is missing",
            DropReason::Constant => "it has a single value",
            DropReason::IdLike => {
                "it looks like an identifier (a different value in almost every row)"
            }
            DropReason::CategoricalEncodingOff => {
                "it is categorical and categorical encoding is off"
            }
        }
    }
}

/// The decision for one column, with the facts behind it.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnPlan {
    /// Column name.
    pub name: String,
    /// Kind or drop reason.
    pub kind: ColumnKind,
    /// Missing cells.
    pub missing: usize,
    /// Distinct non-missing values.
    pub distinct: usize,
}

/// Looks at every feature column and decides its kind. `source_rows` maps row indices to data
/// rows for error messages.
pub fn plan_columns(
    features: &[RawFeature],
    preprocessing: &Preprocessing,
    source_rows: &[usize],
) -> Result<Vec<ColumnPlan>, TrainError> {
    features
        .iter()
        .map(|f| plan_column(f, preprocessing, source_rows))
        .collect()
}

fn plan_column(
    feature: &RawFeature,
    preprocessing: &Preprocessing,
    source_rows: &[usize],
) -> Result<ColumnPlan, TrainError> {
    let drop_uninformative = preprocessing.drop_id_and_constant_columns;
    let (kind, missing, distinct) = match &feature.data {
        ColumnData::Numeric(values) => {
            let missing = values.iter().filter(|x| x.is_nan()).count();
            let mut present: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
            present.sort_by(f64::total_cmp);
            present.dedup();
            let distinct = present.len();
            let kind = if distinct == 0 {
                ColumnKind::Dropped(DropReason::AllMissing)
            } else if drop_uninformative && distinct == 1 && missing == 0 {
                ColumnKind::Dropped(DropReason::Constant)
            } else if drop_uninformative
                && numeric_id_like(&feature.name, &present, values.len(), missing)
            {
                ColumnKind::Dropped(DropReason::IdLike)
            } else {
                ColumnKind::Numeric
            };
            (kind, missing, distinct)
        }
        ColumnData::Text(values) => {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            let mut numeric = 0usize;
            let mut first_text = None;
            for (row, cell) in values.iter().enumerate() {
                if let Some(s) = cell {
                    *counts.entry(s).or_insert(0) += 1;
                    if s.trim().parse::<f64>().is_ok_and(f64::is_finite) {
                        numeric += 1;
                    } else if first_text.is_none() {
                        first_text = Some((row, s));
                    }
                }
            }
            let present: usize = counts.values().sum();
            let missing = values.len() - present;
            if present > 0
                && numeric as f64 >= MOSTLY_NUMERIC * present as f64
                && let Some((row, value)) = first_text
            {
                return Err(TrainError::NonNumericValue {
                    column: feature.name.clone(),
                    row: source_rows.get(row).copied().unwrap_or(row + 1),
                    value: value.to_string(),
                    numeric_percent: 100.0 * numeric as f64 / present as f64,
                });
            }
            let distinct = counts.len();
            let kind = if distinct == 0 {
                ColumnKind::Dropped(DropReason::AllMissing)
            } else if drop_uninformative && distinct == 1 && missing == 0 {
                ColumnKind::Dropped(DropReason::Constant)
            } else if drop_uninformative
                && present >= MIN_ROWS_FOR_ID
                && distinct as f64 >= ID_LIKE_DISTINCT * present as f64
            {
                ColumnKind::Dropped(DropReason::IdLike)
            } else if distinct == 2 {
                let mut labels = counts.keys().map(|s| s.to_string());
                let (a, b) = (
                    labels.next().unwrap_or_default(),
                    labels.next().unwrap_or_default(),
                );
                let (negative, positive) = boolean_order(a, b);
                ColumnKind::Boolean { negative, positive }
            } else if !preprocessing.categorical.enabled {
                ColumnKind::Dropped(DropReason::CategoricalEncodingOff)
            } else {
                ColumnKind::Categorical
            };
            (kind, missing, distinct)
        }
    };
    Ok(ColumnPlan {
        name: feature.name.clone(),
        kind,
        missing,
        distinct,
    })
}

/// A whole-number column, unique per row with nothing missing, that is named like an identifier
/// or numbers the rows consecutively. Continuous measurements are unique per row too, which is
/// why uniqueness alone is not enough.
fn numeric_id_like(name: &str, sorted_distinct: &[f64], rows: usize, missing: usize) -> bool {
    if missing > 0 || rows < MIN_ROWS_FOR_ID || sorted_distinct.len() != rows {
        return false;
    }
    if !sorted_distinct.iter().all(|x| x.fract() == 0.0) {
        return false;
    }
    let (first, last) = (sorted_distinct[0], sorted_distinct[rows - 1]);
    let consecutive = last - first == (rows - 1) as f64;
    consecutive || named_like_id(name)
}

fn named_like_id(name: &str) -> bool {
    let lower = name.trim().to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "" | "id" | "index" | "idx" | "rowid" | "row_id" | "unnamed: 0"
    ) || lower.ends_with("_id")
        || lower.ends_with(" id")
        || (name.ends_with("Id") || name.ends_with("ID")) && name.len() > 2
}

fn boolean_order(a: String, b: String) -> (String, String) {
    const PAIRS: [(&str, &str); 6] = [
        ("false", "true"),
        ("no", "yes"),
        ("n", "y"),
        ("f", "t"),
        ("negative", "positive"),
        ("off", "on"),
    ];
    let (la, lb) = (a.trim().to_ascii_lowercase(), b.trim().to_ascii_lowercase());
    if PAIRS.iter().any(|(neg, pos)| la == *pos && lb == *neg) {
        (b, a)
    } else {
        (a, b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feature(name: &str, data: ColumnData) -> RawFeature {
        RawFeature {
            name: name.into(),
            data,
        }
    }

    fn text(values: &[Option<&str>]) -> ColumnData {
        ColumnData::Text(values.iter().map(|v| v.map(Into::into)).collect())
    }

    fn plan(f: RawFeature) -> Result<ColumnPlan, TrainError> {
        let rows: Vec<usize> = (1..=10_000).collect();
        plan_column(&f, &Preprocessing::default(), &rows)
    }

    #[test]
    fn kinds_of_columns() {
        let p = plan(feature(
            "balance",
            ColumnData::Numeric(vec![1.5, f64::NAN, 3.0]),
        ))
        .unwrap();
        assert_eq!((p.kind, p.missing, p.distinct), (ColumnKind::Numeric, 1, 2));
        let p = plan(feature("student", text(&[Some("Yes"), Some("No"), None]))).unwrap();
        assert_eq!(
            p.kind,
            ColumnKind::Boolean {
                negative: "No".into(),
                positive: "Yes".into()
            }
        );
        let p = plan(feature(
            "ethnicity",
            text(&[Some("a"), Some("b"), Some("c"), Some("a")]),
        ))
        .unwrap();
        assert_eq!(p.kind, ColumnKind::Categorical);
    }

    #[test]
    fn uninformative_columns_are_dropped_with_a_reason() {
        let all_missing = plan(feature("x", ColumnData::Numeric(vec![f64::NAN; 4]))).unwrap();
        assert_eq!(
            all_missing.kind,
            ColumnKind::Dropped(DropReason::AllMissing)
        );
        let constant = plan(feature("x", text(&[Some("a"); 4]))).unwrap();
        assert_eq!(constant.kind, ColumnKind::Dropped(DropReason::Constant));
        // Constant but sometimes missing: the missing indicator still carries information.
        let mostly_constant =
            plan(feature("x", ColumnData::Numeric(vec![1.0, f64::NAN, 1.0]))).unwrap();
        assert_eq!(mostly_constant.kind, ColumnKind::Numeric);
        let ids = plan(feature(
            "ID",
            ColumnData::Numeric((1..=400).map(f64::from).collect()),
        ))
        .unwrap();
        assert_eq!(ids.kind, ColumnKind::Dropped(DropReason::IdLike));
        let shuffled: Vec<f64> = (0..100).map(|i| f64::from((i * 37) % 100) * 3.0).collect();
        assert_eq!(
            plan(feature("customerId", ColumnData::Numeric(shuffled.clone())))
                .unwrap()
                .kind,
            ColumnKind::Dropped(DropReason::IdLike)
        );
        // Unique, whole, not consecutive and not named like an id: a measurement.
        assert_eq!(
            plan(feature("income", ColumnData::Numeric(shuffled)))
                .unwrap()
                .kind,
            ColumnKind::Numeric
        );
        let names: Vec<String> = (0..50).map(|i| format!("user-{i}")).collect();
        let names = ColumnData::Text(names.into_iter().map(|s| Some(s.into())).collect());
        assert_eq!(
            plan(feature("name", names)).unwrap().kind,
            ColumnKind::Dropped(DropReason::IdLike)
        );
    }

    #[test]
    fn a_numeric_column_with_a_stray_word_is_an_error_naming_the_row() {
        let mut cells: Vec<Option<&str>> = vec![Some("1.5"); 40];
        cells[17] = Some("twelve");
        let err = plan(feature("income", text(&cells))).unwrap_err();
        assert_eq!(err.reason(), "NonNumericValue");
        let message = err.to_string();
        assert!(
            message.contains("`income`")
                && message.contains("row 18")
                && message.contains("twelve"),
            "{message}"
        );
    }

    #[test]
    fn switching_off_the_drop_step_keeps_constant_columns() {
        let p = Preprocessing {
            drop_id_and_constant_columns: false,
            ..Preprocessing::default()
        };
        let rows = [1, 2, 3];
        let plan = plan_column(&feature("x", text(&[Some("a"); 3])), &p, &rows).unwrap();
        assert_eq!(plan.kind, ColumnKind::Categorical);
    }
}
