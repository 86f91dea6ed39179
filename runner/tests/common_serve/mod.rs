//! Helpers of the serving tests: a trained Lepton model, an in-process server, and a small
//! blocking HTTP/1.1 client that can also send what well-behaved clients never would.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use lepton_runner::serve::{RunningServer, ServeConfig, ServeError, start};
use serde_json::Value;

use crate::common::{TempDir, example_data, ort_library, repo_root};

/// A model trained on Default.csv (binary: `default` from student, balance, income), trained
/// once per test binary.
pub struct TrainedModel {
    /// Directory with model.onnx and model.json.
    pub dir: PathBuf,
    /// sha256 of model.onnx.
    pub sha256: String,
    _keep: TempDir,
}

impl TrainedModel {
    /// `file://` URI of model.onnx.
    pub fn uri(&self) -> String {
        format!("file://{}", self.dir.join("model.onnx").display())
    }
}

/// The Default.csv model (linear family, which trains in a few seconds).
pub fn default_model() -> &'static TrainedModel {
    static MODEL: OnceLock<TrainedModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = TempDir::new("serve-default-model");
        let manifest = format!(
            "metadata: {{name: default-risk}}\nspec:\n  data: {{source: '{}', target: default}}\n  model:\n    family: linear\n    hyperparameters: {{epochs: 10}}\n",
            example_data("Default.csv")
        );
        let job = lepton_runner::spec::parse_job(&manifest).expect("valid manifest");
        let options = lepton_runner::train::TrainOptions {
            output: Some(dir.uri("model")),
            ort_library: Some(ort_library()),
            ..Default::default()
        };
        let outcome = lepton_runner::train::train(&job, &options, &lepton_runner::progress::NullReporter)
            .unwrap_or_else(|e| panic!("training the test model failed: {e}"));
        TrainedModel {
            dir: dir.path("model"),
            sha256: outcome.card.onnx.sha256.clone(),
            _keep: dir,
        }
    })
}

/// A committed fixture model's `file://` URI.
pub fn fixture(name: &str) -> String {
    format!("file://{}", fixture_path(name).display())
}

/// A committed fixture's path.
pub fn fixture_path(name: &str) -> PathBuf {
    repo_root().join("runner/tests/fixtures/serve").join(name)
}

/// A configuration serving `uri` on a free loopback port.
pub fn config_for(uri: &str) -> ServeConfig {
    let mut config = ServeConfig::default();
    config.model.uri = uri.to_owned();
    config.host = Some("127.0.0.1".to_owned());
    config.runtime.port = 0;
    config.runtime.intra_op_threads = 1;
    config.ort_library = Some(ort_library());
    config
}

/// An in-process server with its own runtime, shut down gracefully when dropped.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    server: Option<RunningServer>,
    runtime: tokio::runtime::Runtime,
}

impl TestServer {
    /// Starts a server for `config`; the error when it refuses.
    pub fn try_start(config: ServeConfig) -> Result<TestServer, ServeError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let server = runtime.block_on(start(config))?;
        Ok(TestServer {
            addr: server.address(),
            server: Some(server),
            runtime,
        })
    }

    /// Starts a server for `config`; panics when it refuses.
    pub fn start(config: ServeConfig) -> TestServer {
        Self::try_start(config).unwrap_or_else(|e| panic!("the server did not start: {e}"))
    }

    /// GET `path`.
    pub fn get(&self, path: &str) -> HttpResponse {
        request(self.addr, "GET", path, &[], b"")
    }

    /// POST JSON to `path`.
    pub fn post(&self, path: &str, body: &Value) -> HttpResponse {
        request(
            self.addr,
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
    }

    /// POST raw bytes to `path`.
    pub fn post_raw(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
        request(self.addr, "POST", path, headers, body)
    }

    /// Graceful shutdown now.
    pub fn shutdown(mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

/// A response.
#[derive(Debug)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request on a fresh connection (`Connection: close`) and reads the response.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) and close before the whole body is sent.
    let _ = stream.write_all(body);
    read_response(&mut stream)
}

/// Reads one response from `stream` (to the end of the connection).
pub fn read_response(stream: &mut TcpStream) -> HttpResponse {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_response(&raw)
}

/// Parses a whole HTTP/1.1 response with a Content-Length body.
pub fn parse_response(raw: &[u8]) -> HttpResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete response: {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if let Some(len) = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        body.truncate(len);
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

/// Runs `model` with Python's onnxruntime on `feeds` (`{input: nested list}`; `dtypes` gives
/// each input's numpy dtype) and returns `{output: nested list}`: the independent reference
/// for what the server returns.
pub fn python_onnxruntime(model: &std::path::Path, feeds: &Value, dtypes: &Value) -> Value {
    let script = r#"
import json, sys
import numpy as np
import onnxruntime as ort
req = json.load(sys.stdin)
s = ort.InferenceSession(req["model"], providers=["CPUExecutionProvider"])
feeds = {k: np.array(v, dtype=req["dtypes"][k]) for k, v in req["feeds"].items()}
out = s.run(None, feeds)
print(json.dumps({o.name: (v.tolist() if hasattr(v, "tolist") else v) for o, v in zip(s.get_outputs(), out)}))
"#;
    let request =
        serde_json::json!({"model": model.display().to_string(), "feeds": feeds, "dtypes": dtypes});
    let mut child = std::process::Command::new(crate::common::python())
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("python prints JSON")
}

/// Rows of Default.csv: (student, balance, income).
pub fn default_rows(n: usize) -> Vec<(String, f64, f64)> {
    let text = std::fs::read_to_string(repo_root().join("examples/data/Default.csv")).unwrap();
    text.lines()
        .skip(1)
        .take(n)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[1].to_owned(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
            )
        })
        .collect()
}

/// A v2 request body for `rows` of the Default model.
pub fn default_request(rows: &[(String, f64, f64)]) -> Value {
    let n = rows.len();
    serde_json::json!({"inputs": [
        {"name": "student", "datatype": "BYTES", "shape": [n, 1], "data": rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>()},
        {"name": "balance", "datatype": "FP64", "shape": [n, 1], "data": rows.iter().map(|r| r.1).collect::<Vec<_>>()},
        {"name": "income", "datatype": "FP64", "shape": [n, 1], "data": rows.iter().map(|r| r.2).collect::<Vec<_>>()},
    ]})
}

/// Asserts two float lists agree to `tolerance`.
pub fn assert_close(got: &Value, want: &Value, tolerance: f64) {
    let flat = |v: &Value| -> Vec<f64> {
        fn walk(v: &Value, out: &mut Vec<f64>) {
            match v {
                Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                other => out.push(other.as_f64().unwrap_or(f64::NAN)),
            }
        }
        let mut out = Vec::new();
        walk(v, &mut out);
        out
    };
    let (g, w) = (flat(got), flat(want));
    assert_eq!(g.len(), w.len(), "{got} vs {want}");
    for (a, b) in g.iter().zip(&w) {
        assert!((a - b).abs() <= tolerance, "{got} vs {want}");
    }
}
