//! `lepton-runner serve` as a pod runs it: flags, refusing to start (with the reason in the
//! termination log), a `pvc://` model, and graceful shutdown on SIGTERM.

mod common;
mod common_serve;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{TempDir, ort_library};
use common_serve::{default_model, default_request, default_rows, read_response, request};
use serde_json::json;

fn runner() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lepton-runner"));
    c.env("LEPTON_ORT_LIB", ort_library())
        .env_remove("LEPTON_SERVE_CONFIG");
    c
}

#[test]
fn help_and_bad_flags() {
    let out = runner().args(["serve", "--help"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("usage: lepton-runner serve"));
    let out = runner()
        .args(["serve", "--model", "file:///x.onnx", "--colour", "red"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown option `--colour` for serve"));
    let out = runner().args(["serve"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no model given: set model.uri (or --model URI)")
    );
}

#[test]
fn a_wrong_digest_or_a_missing_runtime_stops_the_server_with_the_reason() {
    let dir = TempDir::new("serve-cli-refuse");
    let model = default_model();
    let out = runner()
        .args([
            "serve",
            "--port",
            "0",
            "--model",
            &model.uri(),
            "--sha256",
            &"a".repeat(64),
        ])
        .env("LEPTON_TERMINATION_LOG", dir.path("termination-log"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot serve (ChecksumMismatch): the model at"),
        "{stderr}"
    );
    let message: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path("termination-log")).unwrap()).unwrap();
    assert_eq!(message["reason"], "ChecksumMismatch");
    assert_eq!(message["phase"], "Failed");

    let out = runner()
        .args([
            "serve",
            "--port",
            "0",
            "--model",
            &model.uri(),
            "--ort-lib",
            "/nonexistent/libonnxruntime.so",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the ONNX Runtime library /nonexistent/libonnxruntime.so does not exist; set LEPTON_ORT_LIB"),
        "{stderr}"
    );
}

/// Reads JSON log lines from the server until it logs `ready`; returns its address.
fn wait_ready(stderr: impl std::io::Read + Send + 'static) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                && v["fields"]["message"] == "ready"
            {
                let _ = tx.send(
                    v["fields"]["address"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the server logs `ready`")
        .parse()
        .unwrap()
}

#[test]
fn a_pvc_model_serves_and_sigterm_drains_in_flight_requests_before_exit() {
    let model = default_model();
    let root = TempDir::new("serve-cli-pvc");
    let claim = root.path("models/risk");
    std::fs::create_dir_all(&claim).unwrap();
    for f in ["model.onnx", "model.json"] {
        std::fs::copy(model.dir.join(f), claim.join(f)).unwrap();
    }
    let config = root.path("serve.yaml");
    std::fs::write(
        &config,
        format!(
            "model: {{uri: 'pvc://models/risk/model.onnx', sha256: '{}'}}\nhost: 127.0.0.1\nruntime: {{port: 0}}\nshutdownDelayMs: 400\n",
            model.sha256
        ),
    )
    .unwrap();
    let started = Instant::now();
    let mut child = runner()
        .args(["serve", "--config", config.to_str().unwrap()])
        .env("LEPTON_PVC_ROOT", root.0.clone())
        .env("LEPTON_LOG_FORMAT", "json")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let addr = wait_ready(child.stderr.take().unwrap());
    let ready_after = started.elapsed();
    assert_eq!(
        request(addr, "GET", "/v2/health/ready", &[], b"").status,
        200
    );
    eprintln!("process start to ready: {ready_after:?}");

    // A request whose body is only half sent when SIGTERM arrives.
    let body = default_request(&default_rows(3)).to_string();
    let (first, second) = body.as_bytes().split_at(body.len() / 2);
    let mut in_flight = TcpStream::connect(addr).unwrap();
    in_flight
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        in_flight,
        "POST /v2/models/default-risk/infer HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    in_flight.write_all(first).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(100));
    // Not ready any more, but still answering during the shutdown delay.
    let r = request(addr, "GET", "/v2/health/ready", &[], b"");
    assert_eq!((r.status, r.json()), (503, json!({"ready": false})));
    in_flight.write_all(second).unwrap();
    let r = read_response(&mut in_flight);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["outputs"][1]["shape"], json!([3, 2]));
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        assert!(
            Instant::now() < deadline,
            "the server did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(0));
    assert!(TcpStream::connect(addr).is_err(), "the listener is closed");
}
