//! Calling a deployed model: rows from a CSV or JSON file (or one given inline) sent to its
//! Open Inference Protocol endpoint, the KServe v1 `:predict` form with one object per row;
//! the ready-to-paste curl line; and a short burst of traffic so a new deployment's live
//! latency and drift figures have something to measure.

use serde_json::{Map, Value};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::CliError;

/// An HTTP client for model servers.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}

/// Up to `max` rows of a CSV file as objects keyed by column, numbers as numbers. Quoted
/// fields (with `""` escapes) are read; values are trimmed as the runner trims them.
pub fn csv_rows(path: &Path, max: usize) -> Result<Vec<Map<String, Value>>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Input(format!("{}: {e}", path.display())))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = split_csv(
        lines
            .next()
            .ok_or_else(|| CliError::Input(format!("{}: the file is empty", path.display())))?,
    );
    let mut rows = Vec::new();
    for (i, line) in lines.take(max).enumerate() {
        let cells = split_csv(line);
        if cells.len() != header.len() {
            return Err(CliError::Input(format!(
                "{}: row {} has {} fields, the header has {}",
                path.display(),
                i + 2,
                cells.len(),
                header.len()
            )));
        }
        rows.push(
            header
                .iter()
                .zip(cells)
                .map(|(h, c)| (h.trim().to_owned(), cell_value(c.trim())))
                .collect(),
        );
    }
    Ok(rows)
}

fn cell_value(cell: &str) -> Value {
    match cell.parse::<f64>() {
        Ok(n) if n.is_finite() => Value::from(n),
        _ if cell.is_empty() => Value::Null,
        _ => Value::from(cell),
    }
}

fn split_csv(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => cells.push(std::mem::take(&mut cell)),
            _ => cell.push(c),
        }
    }
    cells.push(cell);
    cells
}

/// Rows from a JSON file: an array of objects, `{"instances": [...]}`, or one object.
pub fn json_rows(path: &Path) -> Result<Vec<Value>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Input(format!("{}: {e}", path.display())))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| CliError::Input(format!("{}: not valid JSON: {e}", path.display())))?;
    rows_of(value).map_err(|e| CliError::Input(format!("{}: {e}", path.display())))
}

/// Rows from inline JSON (`--row`).
pub fn inline_rows(text: &str) -> Result<Vec<Value>, CliError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| CliError::usage(format!("--row is not valid JSON: {e}")))?;
    rows_of(value).map_err(|e| CliError::usage(format!("--row: {e}")))
}

fn rows_of(value: Value) -> Result<Vec<Value>, String> {
    match value {
        Value::Object(mut map) if map.contains_key("instances") => {
            rows_of(map.remove("instances").unwrap_or_default())
        }
        Value::Object(_) => Ok(vec![value]),
        Value::Array(rows) if !rows.is_empty() => Ok(rows),
        _ => Err("expected an object with one value per input column, or an array of them".into()),
    }
}

/// The names of the model's inputs, from its OIP metadata (`GET /v2/models/NAME`).
pub async fn model_inputs(
    http: &reqwest::Client,
    url: &str,
    model: &str,
) -> Result<Vec<String>, CliError> {
    let endpoint = format!("{url}/v2/models/{model}");
    let response = http
        .get(&endpoint)
        .send()
        .await
        .map_err(|e| CliError::Remote(format!("{endpoint}: {e}")))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| CliError::Remote(format!("{endpoint}: {e}")))?;
    if !status.is_success() {
        return Err(CliError::Remote(format!(
            "{endpoint}: {status}: {}",
            String::from_utf8_lossy(&body)
        )));
    }
    let metadata: Value =
        serde_json::from_slice(&body).map_err(|e| CliError::Remote(format!("{endpoint}: {e}")))?;
    Ok(metadata["inputs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["name"].as_str().map(str::to_owned))
        .collect())
}

/// Keeps only the model's inputs of each row (a data file also holds the target).
pub fn only_inputs(rows: Vec<Map<String, Value>>, inputs: &[String]) -> Vec<Value> {
    rows.into_iter()
        .map(|row| {
            Value::Object(
                row.into_iter()
                    .filter(|(k, _)| inputs.iter().any(|i| i == k))
                    .collect(),
            )
        })
        .collect()
}

/// The v1 `:predict` endpoint of `model` at `url`.
pub fn predict_endpoint(url: &str, model: &str) -> String {
    format!("{url}/v1/models/{model}:predict")
}

/// Sends `rows` in one request; returns the server's answer.
pub async fn predict(
    http: &reqwest::Client,
    url: &str,
    model: &str,
    rows: &[Value],
) -> Result<Value, CliError> {
    let endpoint = predict_endpoint(url, model);
    let body = serde_json::json!({ "instances": rows }).to_string();
    let response = http
        .post(&endpoint)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| CliError::Remote(format!("{endpoint}: {e}")))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| CliError::Remote(format!("{endpoint}: {e}")))?;
    let answer: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::from(String::from_utf8_lossy(&bytes).into_owned()));
    if status.is_success() {
        Ok(answer)
    } else {
        let detail = answer["error"]
            .as_str()
            .map_or_else(|| answer.to_string(), str::to_owned);
        Err(CliError::Remote(format!(
            "{endpoint} answered {status}: {detail}"
        )))
    }
}

/// A curl command line that sends `row` to the model, ready to paste.
pub fn curl_line(url: &str, model: &str, row: &Value) -> String {
    let body = serde_json::json!({ "instances": [row] }).to_string();
    format!(
        "curl -s {} -H 'content-type: application/json' -d '{}'",
        predict_endpoint(url, model),
        body.replace('\'', "'\\''")
    )
}

/// What a burst of traffic measured on the client side.
#[derive(Debug, Clone, Default)]
pub struct Burst {
    /// Requests answered with success.
    pub ok: usize,
    /// Requests that failed, with the first error.
    pub failed: usize,
    /// The first failure.
    pub first_error: Option<String>,
    /// Client-side latency of each successful request, milliseconds, sorted.
    pub latencies_ms: Vec<f64>,
    /// How long the burst took.
    pub elapsed: Duration,
}

impl Burst {
    /// Adds `other`'s requests to this burst's.
    pub fn absorb(&mut self, other: Burst) {
        self.ok += other.ok;
        self.failed += other.failed;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.latencies_ms.extend(other.latencies_ms);
        self.latencies_ms.sort_by(f64::total_cmp);
        self.elapsed += other.elapsed;
    }

    /// The `q` quantile of the latencies.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.latencies_ms.is_empty() {
            return None;
        }
        let i = ((self.latencies_ms.len() - 1) as f64 * q).round() as usize;
        Some(self.latencies_ms[i])
    }
}

/// Sends each row as its own request, `concurrency` at a time.
pub async fn burst(
    http: &reqwest::Client,
    url: &str,
    model: &str,
    rows: &[Value],
    concurrency: usize,
) -> Burst {
    use futures::StreamExt;
    let started = Instant::now();
    let results: Vec<Result<f64, String>> = futures::stream::iter(rows.iter())
        .map(|row| async move {
            let t = Instant::now();
            predict(http, url, model, std::slice::from_ref(row))
                .await
                .map(|_| t.elapsed().as_secs_f64() * 1000.0)
                .map_err(|e| e.to_string())
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut burst = Burst {
        elapsed: started.elapsed(),
        ..Burst::default()
    };
    for result in results {
        match result {
            Ok(ms) => {
                burst.ok += 1;
                burst.latencies_ms.push(ms);
            }
            Err(e) => {
                burst.failed += 1;
                burst.first_error.get_or_insert(e);
            }
        }
    }
    burst.latencies_ms.sort_by(f64::total_cmp);
    burst
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("lepton-predict-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn csv_rows_type_numbers_and_handle_quotes() {
        let path = write(
            "a.csv",
            "default,student,balance,note\nNo,No,729.52,\"a, \"\"quoted\"\" note\"\nYes, Yes ,1500,\n",
        );
        let rows = csv_rows(&path, 10).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["balance"], 729.52);
        assert_eq!(rows[0]["note"], "a, \"quoted\" note");
        assert_eq!(rows[1]["student"], "Yes");
        assert_eq!(rows[1]["note"], Value::Null);
        let kept = only_inputs(rows, &["student".into(), "balance".into()]);
        assert_eq!(
            kept[0],
            serde_json::json!({"student": "No", "balance": 729.52})
        );
        assert_eq!(csv_rows(&path, 1).unwrap().len(), 1);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn malformed_input_names_the_row_or_the_flag() {
        let path = write("b.csv", "a,b\n1,2\n3\n");
        let e = csv_rows(&path, 10).unwrap_err().to_string();
        assert!(e.contains("row 3 has 1 fields, the header has 2"), "{e}");
        let e = inline_rows("{nope").unwrap_err().to_string();
        assert!(e.starts_with("--row is not valid JSON"), "{e}");
        let e = inline_rows("42").unwrap_err().to_string();
        assert!(e.contains("expected an object"), "{e}");
        let path = write("c.json", "[]");
        let e = json_rows(&path).unwrap_err().to_string();
        assert!(e.contains("c.json: expected an object"), "{e}");
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn json_rows_accept_objects_arrays_and_instances() {
        assert_eq!(inline_rows(r#"{"a": 1}"#).unwrap().len(), 1);
        assert_eq!(inline_rows(r#"[{"a": 1}, {"a": 2}]"#).unwrap().len(), 2);
        assert_eq!(
            inline_rows(r#"{"instances": [{"a": 1}]}"#).unwrap().len(),
            1
        );
    }

    #[test]
    fn the_curl_line_quotes_for_a_shell() {
        let line = curl_line(
            "http://127.0.0.1:4000",
            "m",
            &serde_json::json!({"name": "O'Brien"}),
        );
        assert_eq!(
            line,
            r#"curl -s http://127.0.0.1:4000/v1/models/m:predict -H 'content-type: application/json' -d '{"instances":[{"name":"O'\''Brien"}]}'"#
        );
    }
}
