use super::*;
use crate::dataset::{RawFeature, Target};
use crate::metrics::{Targets, TaskKind};

fn dataset(features: Vec<RawFeature>, rows: usize) -> Dataset {
    Dataset {
        features,
        target: Target {
            name: "y".into(),
            task: TaskKind::Regression,
            classes: vec![],
            values: Targets::Values(vec![0.0; rows]),
            task_reason: String::new(),
        },
        source_rows: (1..=rows).collect(),
    }
}

fn text(values: &[Option<&str>]) -> ColumnData {
    ColumnData::Text(values.iter().map(|v| v.map(Into::into)).collect())
}

#[test]
fn numeric_columns_are_filled_indicated_clipped_and_scaled_from_training_rows_only() {
    let mut values: Vec<f64> = (0..100).map(f64::from).collect();
    values[5] = f64::NAN;
    values[99] = 1e6; // an outlier, only in the validation row below
    let ds = dataset(
        vec![RawFeature {
            name: "x".into(),
            data: ColumnData::Numeric(values),
        }],
        100,
    );
    let plans =
        crate::dataset::plan_columns(&ds.features, &Preprocessing::default(), &ds.source_rows)
            .unwrap();
    let train: Vec<usize> = (0..99).collect();
    let p = Preprocessor::fit(&ds, &plans, &train, &Preprocessing::default(), &[]).unwrap();
    let InputEncoder::Numeric {
        fill,
        indicator,
        clip,
        scale,
        ..
    } = &p.inputs[0]
    else {
        panic!("numeric expected: {p:?}");
    };
    assert!(*indicator);
    assert_eq!(*fill, 49.5); // median of 0..=98 without 5
    let (lo, hi) = clip.unwrap();
    assert!(lo > 0.0 && lo < 1.0 && hi > 97.0 && hi < 98.0, "{lo} {hi}");
    let (mean, std) = scale.unwrap();
    assert!(
        (mean - 49.0).abs() < 0.5 && (std - 28.6).abs() < 0.5,
        "{mean} {std}"
    );
    assert_eq!(p.feature_names(), ["x", "x__missing"]);
    let f = p.transform(&ds, &[5, 99]);
    assert_eq!(f.row(0), [((49.5 - mean) / std) as f32, 1.0]);
    assert_eq!(
        f.row(1),
        [((hi - mean) / std) as f32, 0.0],
        "the outlier is clipped to the upper bound"
    );
}

#[test]
fn categories_keep_the_frequent_ones_and_send_the_rest_to_other() {
    let mut cells = vec![Some("a"); 10];
    cells.extend(vec![Some("b"); 6]);
    cells.extend(vec![Some("rare"); 2]);
    cells.push(None);
    cells.push(Some("b"));
    let n = cells.len();
    let ds = dataset(
        vec![RawFeature {
            name: "c".into(),
            data: text(&cells),
        }],
        n,
    );
    let plans =
        crate::dataset::plan_columns(&ds.features, &Preprocessing::default(), &ds.source_rows)
            .unwrap();
    let train: Vec<usize> = (0..n).collect();
    let p = Preprocessor::fit(
        &ds,
        &plans,
        &train,
        &Preprocessing::default(),
        &["NA".into()],
    )
    .unwrap();
    assert_eq!(p.feature_names(), ["c=a", "c=b", "c=__other__"]);
    let f = p.transform(&ds, &[0, 10, 16, 18]);
    assert_eq!(f.row(0), [1.0, 0.0, 0.0]);
    assert_eq!(f.row(1), [0.0, 1.0, 0.0]);
    assert_eq!(
        f.row(2),
        [0.0, 0.0, 1.0],
        "a category under minFrequency goes to other"
    );
    assert_eq!(
        f.row(3),
        [1.0, 0.0, 0.0],
        "missing takes the most frequent category"
    );
    let mut out = [0.0; 3];
    encode_text(&p.inputs[0], Some("never seen"), &p.null_values, &mut out);
    assert_eq!(out, [0.0, 0.0, 1.0]);
    encode_text(&p.inputs[0], Some("NA"), &p.null_values, &mut out);
    assert_eq!(out, [1.0, 0.0, 0.0]);
    encode_text(&p.inputs[0], Some(" b "), &p.null_values, &mut out);
    assert_eq!(
        out,
        [0.0, 0.0, 1.0],
        "whitespace is only forgiven in the training values"
    );
}

#[test]
fn booleans_are_one_feature_and_imputation_off_reports_the_row() {
    let cells = [Some("Yes"), Some("No"), Some("No"), None];
    let ds = dataset(
        vec![RawFeature {
            name: "student".into(),
            data: text(&cells),
        }],
        4,
    );
    let plans =
        crate::dataset::plan_columns(&ds.features, &Preprocessing::default(), &ds.source_rows)
            .unwrap();
    let p = Preprocessor::fit(&ds, &plans, &[0, 1, 2, 3], &Preprocessing::default(), &[]).unwrap();
    assert_eq!(p.transform(&ds, &[0, 1, 3]).values, [1.0, 0.0, 0.0]);

    let mut off = Preprocessing::default();
    off.imputation.enabled = false;
    let err = Preprocessor::fit(&ds, &plans, &[0, 1, 2, 3], &off, &[]).unwrap_err();
    assert_eq!(err.reason(), "MissingValue");
    assert!(
        err.to_string().contains("`student`") && err.to_string().contains("row 4"),
        "{err}"
    );
}

#[test]
fn quantiles_interpolate_like_numpy() {
    let v = [1.0, 2.0, 3.0, 4.0];
    assert_eq!(quantile(&v, 0.5), 2.5);
    assert_eq!(quantile(&v, 0.0), 1.0);
    assert_eq!(quantile(&v, 1.0), 4.0);
    assert!((quantile(&v, 0.1) - 1.3).abs() < 1e-12);
}
