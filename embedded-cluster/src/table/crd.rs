//! Printer columns of custom resources: `NAME`, then the CRD version's
//! `additionalPrinterColumns`, each a JSONPath read from the object and typed as the column
//! says (a CRD without any gets the API server's default `Age` column).

use jiff::Timestamp;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceColumnDefinition;
use serde_json::Value;

use super::jsonpath::JsonPath;
use super::{Column, age};

/// One printer column of a CRD and its parsed path (`None` when the path is outside the
/// supported subset: the column is then always empty).
#[derive(Debug, Clone)]
pub(crate) struct CrdColumn {
    pub column: Column,
    path: Option<JsonPath>,
}

/// The columns after `NAME` for a CRD version's `additionalPrinterColumns`.
pub(crate) fn columns(defined: Option<&[CustomResourceColumnDefinition]>) -> Vec<CrdColumn> {
    let defined = defined.unwrap_or_default();
    if defined.is_empty() {
        return vec![CrdColumn {
            column: Column::new("Age", "date", super::AGE_DESCRIPTION),
            path: JsonPath::parse(".metadata.creationTimestamp"),
        }];
    }
    defined
        .iter()
        .map(|c| {
            let description = c.description.clone().unwrap_or_else(|| {
                format!(
                    "Custom resource definition column (in JSONPath format): {}",
                    c.json_path
                )
            });
            let mut column = Column::new(&c.name, &c.type_, &description);
            column.format = c.format.clone().unwrap_or_default();
            column.priority = c.priority.unwrap_or_default();
            CrdColumn {
                column,
                path: JsonPath::parse(&c.json_path),
            }
        })
        .collect()
}

impl CrdColumn {
    /// This column's cell for an object: `null` when the path finds nothing or the value
    /// does not fit the column's type.
    pub fn cell(&self, object: &Value, now: Timestamp) -> Value {
        let Some(value) = self.path.as_ref().and_then(|p| p.first(object)) else {
            return Value::Null;
        };
        cell(&self.column.type_, value, now)
    }
}

/// A found value as a cell of a column of type `type_`.
fn cell(type_: &str, value: &Value, now: Timestamp) -> Value {
    match (type_, value) {
        (_, Value::Null) => Value::Null,
        ("string", Value::String(_)) => value.clone(),
        ("string", other) => Value::String(text(other)),
        ("integer", Value::Number(n)) => n
            .as_i64()
            // Fractions are cut toward zero, as a conversion to a 64-bit integer does.
            .or_else(|| n.as_f64().map(|f| f.trunc() as i64))
            .map_or(Value::Null, Value::from),
        ("number", Value::Number(_)) | ("boolean", Value::Bool(_)) => value.clone(),
        ("date", Value::String(_)) => Value::String(age::since(Some(value), now)),
        _ => Value::Null,
    }
}

/// A value as a string column prints it: strings as they are, numbers and booleans as Go
/// prints them, objects and lists as compact JSON.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_f64() => go_float(n.as_f64().unwrap_or_default()),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// A float the way Go's `%v` writes it: the shortest digits that round-trip, in exponent form
/// (`1.5e+06`, `1e-05`) when the decimal exponent is below -4 or at least 6.
fn go_float(value: f64) -> String {
    if !value.is_finite() {
        return if value.is_nan() {
            "NaN".to_owned()
        } else if value > 0.0 {
            "+Inf".to_owned()
        } else {
            "-Inf".to_owned()
        };
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .unwrap_or((scientific.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or_default();
    if (-4..6).contains(&exponent) {
        return format!("{value}");
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-01-01T00:10:00Z".parse().unwrap()
    }

    #[test]
    fn cells_follow_the_column_type() {
        assert_eq!(cell("string", &json!("Running"), now()), json!("Running"));
        assert_eq!(cell("string", &json!(3), now()), json!("3"));
        assert_eq!(cell("string", &json!(0.5), now()), json!("0.5"));
        assert_eq!(cell("string", &json!(true), now()), json!("true"));
        assert_eq!(
            cell("string", &json!({"b": 1, "a": [2]}), now()),
            json!(r#"{"a":[2],"b":1}"#)
        );
        assert_eq!(cell("integer", &json!(3), now()), json!(3));
        assert_eq!(cell("integer", &json!(3.9), now()), json!(3));
        assert_eq!(cell("integer", &json!(-3.9), now()), json!(-3));
        assert_eq!(cell("integer", &json!("3"), now()), Value::Null);
        assert_eq!(cell("number", &json!(0.93), now()), json!(0.93));
        assert_eq!(cell("number", &json!(2), now()), json!(2));
        assert_eq!(cell("number", &json!("0.93"), now()), Value::Null);
        assert_eq!(cell("boolean", &json!(false), now()), json!(false));
        assert_eq!(cell("boolean", &json!("false"), now()), Value::Null);
        assert_eq!(
            cell("date", &json!("2024-01-01T00:07:00Z"), now()),
            json!("3m")
        );
        assert_eq!(
            cell("date", &json!("not a time"), now()),
            json!("<invalid>")
        );
        assert_eq!(cell("date", &json!(12), now()), Value::Null);
        assert_eq!(cell("string", &Value::Null, now()), Value::Null);
        assert_eq!(cell("mystery", &json!(1), now()), Value::Null);
    }

    #[test]
    fn floats_print_as_go_prints_them() {
        for (value, want) in [
            (0.5, "0.5"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (999_999.0, "999999"),
            (1_234_567.0, "1.234567e+06"),
            (1e21, "1e+21"),
            (-2.5e-7, "-2.5e-07"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(go_float(value), want);
        }
    }

    #[test]
    fn a_crd_without_columns_gets_age_and_bad_paths_stay_empty() {
        let age = columns(None);
        assert_eq!(age.len(), 1);
        assert_eq!(
            (age[0].column.name.as_str(), age[0].column.type_.as_str()),
            ("Age", "date")
        );
        let object = json!({"metadata": {"creationTimestamp": "2024-01-01T00:09:00Z"}});
        assert_eq!(age[0].cell(&object, now()), json!("60s"));

        let defined = [CustomResourceColumnDefinition {
            name: "Broken".into(),
            type_: "string".into(),
            json_path: ".status[?(@.x=~/y/)]".into(),
            priority: Some(1),
            ..Default::default()
        }];
        let broken = columns(Some(&defined));
        assert_eq!(broken[0].column.priority, 1);
        assert!(broken[0].column.description.contains(".status[?("));
        assert_eq!(broken[0].cell(&object, now()), Value::Null);
    }
}
