//! Limits and failures: body size, queue, timeouts, bad requests mixed into concurrent traffic,
//! digests that do not match, and CUDA asked for where there is none.

mod common;
mod common_serve;

use std::io::Write;
use std::net::TcpStream;

use common::TempDir;
use common_serve::{
    TestServer, config_for, default_model, default_request, default_rows, read_response,
};
use lepton_runner::serve::ServeError;
use serde_json::{Value, json};

const INFER: &str = "/v2/models/default-risk/infer";

#[test]
fn bodies_over_the_limit_get_413_whether_announced_or_streamed() {
    let mut config = config_for(&default_model().uri());
    config.runtime.max_request_bytes = 2048;
    let s = TestServer::start(config);
    let body = default_request(&default_rows(100));
    let r = s.post(INFER, &body);
    assert_eq!(
        (r.status, r.json()),
        (
            413,
            json!({"error": "the request body is larger than the limit of 2048 bytes (maxRequestBytes)"})
        )
    );
    // Chunked, so the size is known only while reading.
    let mut stream = TcpStream::connect(s.addr).unwrap();
    let text = body.to_string();
    let mut raw = format!(
        "POST {INFER} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    for chunk in text.as_bytes().chunks(500) {
        raw.push_str(&format!(
            "{:x}\r\n{}\r\n",
            chunk.len(),
            String::from_utf8_lossy(chunk)
        ));
    }
    raw.push_str("0\r\n\r\n");
    let _ = stream.write_all(raw.as_bytes());
    let r = read_response(&mut stream);
    assert_eq!(r.status, 413);
    // Small requests still work.
    assert_eq!(
        s.post(INFER, &default_request(&default_rows(1))).status,
        200
    );
}

#[test]
fn requests_that_outlast_the_timeout_get_504() {
    let mut config = config_for(&default_model().uri());
    config.runtime.request_timeout_ms = 1;
    let s = TestServer::start(config);
    // Parsing and running 100,000 rows takes well over the timer's millisecond resolution.
    let rows: Vec<_> = default_rows(10_000)
        .into_iter()
        .cycle()
        .take(100_000)
        .collect();
    let r = s.post(INFER, &default_request(&rows));
    assert_eq!(r.status, 504, "{}", &r.text()[..200.min(r.body.len())]);
    let error = r.json()["error"].as_str().unwrap().to_owned();
    assert!(
        error.starts_with("the request took longer than 1 ms (requestTimeoutMs) while "),
        "{error}"
    );
}

#[test]
fn a_full_queue_answers_503_with_retry_after_and_the_server_carries_on() {
    let mut config = config_for(&default_model().uri());
    config.runtime.max_queued_requests = 1;
    config.runtime.batching.enabled = false;
    let s = TestServer::start(config);
    let big = default_request(&default_rows(10_000));
    let small = default_request(&default_rows(1));
    let mut seen_503 = None;
    for _ in 0..10 {
        let answers: Vec<(u16, Value, Option<String>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..12)
                .map(|i| {
                    let (s, body) = (&s, if i < 4 { &big } else { &small });
                    scope.spawn(move || {
                        let r = s.post(INFER, body);
                        (
                            r.status,
                            r.json(),
                            r.header("retry-after").map(str::to_owned),
                        )
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (status, body, retry) in &answers {
            assert!(*status == 200 || *status == 503, "{status} {body}");
            if *status == 503 {
                seen_503 = Some((body.clone(), retry.clone()));
            }
        }
        if seen_503.is_some() {
            break;
        }
    }
    let (body, retry) = seen_503.expect("12 concurrent requests against a queue of 1 overflow it");
    assert_eq!(
        body,
        json!({"error": "the server is overloaded: 1 requests are already waiting (maxQueuedRequests); retry later"})
    );
    assert_eq!(retry.as_deref(), Some("1"));
    assert_eq!(s.post(INFER, &small).status, 200);
}

#[test]
fn bad_requests_mixed_into_concurrent_batched_traffic_never_fail_good_ones() {
    let mut config = config_for(&default_model().uri());
    // A long delay makes the batcher wait for arriving requests, so batches surely form.
    config.runtime.batching.max_delay_micros = 20_000;
    let s = TestServer::start(config);
    let rows = default_rows(40);
    // Reference answers, one request at a time.
    let reference: Vec<Value> = (0..8)
        .map(|k| {
            s.post(INFER, &default_request(&rows[k * 5..k * 5 + 1 + k % 4]))
                .json()["outputs"]
                .clone()
        })
        .collect();
    let bad_bodies = [
        json!({"inputs": [{"name": "balance", "datatype": "FP64", "shape": [1, 1], "data": [1.0]}]}),
        json!({"inputs": "x"}),
        {
            let mut b = default_request(&rows[0..2]);
            b["inputs"][1]["data"] = json!([1.0, "NaN"]);
            b
        },
        {
            let mut b = default_request(&rows[0..2]);
            b["inputs"][2]["shape"] = json!([3, 1]);
            b
        },
    ];
    // Whether requests meet in the batcher depends on scheduling; on a busy machine a round
    // can run them one by one, so up to three rounds are sent, every answer checked in each,
    // until one has batched.
    let (mut calls, mut good) = (0.0, 0.0);
    for _round in 0..3 {
        std::thread::scope(|scope| {
            for t in 0..16usize {
                let (s, rows, reference, bad_bodies) = (&s, &rows, &reference, &bad_bodies);
                scope.spawn(move || {
                    for i in 0..25usize {
                        if (t + i) % 3 == 0 {
                            let r = s.post(INFER, &bad_bodies[(t + i) % bad_bodies.len()]);
                            assert_eq!(r.status, 400, "{}", r.text());
                        } else {
                            let k = (t * 7 + i) % 8;
                            let r =
                                s.post(INFER, &default_request(&rows[k * 5..k * 5 + 1 + k % 4]));
                            assert_eq!(r.status, 200, "{}", r.text());
                            assert_eq!(r.json()["outputs"], reference[k], "request {k}");
                        }
                    }
                });
            }
        });
        let metrics = s.get("/metrics").text();
        let value = |name: &str| -> f64 {
            metrics
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {metrics}"))
        };
        calls = value("lepton_inference_duration_seconds_count");
        good = value(
            "lepton_inference_requests_total{model=\"default-risk\",protocol=\"v2\",code=\"200\"}",
        );
        if calls < good {
            break;
        }
    }
    assert!(
        calls < good,
        "{calls} model calls for {good} requests in three rounds: no batching happened"
    );
}

#[test]
fn a_model_that_is_not_the_one_deployed_is_refused() {
    let model = default_model();
    let mut config = config_for(&model.uri());
    config.model.sha256 = Some("0".repeat(64));
    let Err(e) = TestServer::try_start(config) else {
        panic!("a wrong sha256 must stop the server")
    };
    assert!(matches!(e, ServeError::ChecksumMismatch { .. }));
    assert_eq!(
        e.to_string(),
        format!(
            "the model at `{}` has sha256 {}, but the configuration (model.sha256) says {}: refusing to serve a model other than the one deployed; check the uri and sha256",
            model.uri(),
            model.sha256,
            "0".repeat(64)
        )
    );
    assert_eq!(e.reason(), "ChecksumMismatch");

    // model.json describing another file.
    let dir = TempDir::new("serve-card-mismatch");
    std::fs::copy(model.dir.join("model.onnx"), dir.path("model.onnx")).unwrap();
    let mut card: Value =
        serde_json::from_slice(&std::fs::read(model.dir.join("model.json")).unwrap()).unwrap();
    card["onnx"]["sha256"] = json!("f".repeat(64));
    std::fs::write(dir.path("model.json"), card.to_string()).unwrap();
    let Err(e) = TestServer::try_start(config_for(&dir.uri("model.onnx"))) else {
        panic!("model.json's digest must be checked")
    };
    assert!(
        e.to_string().contains(&format!(
            "but model.json ({}) says {}",
            dir.uri("model.json"),
            "f".repeat(64)
        )),
        "{e}"
    );

    // The right digest, and a directory location, serve.
    let mut config = config_for(&format!("file://{}/", model.dir.display()));
    config.model.sha256 = Some(model.sha256.to_uppercase());
    let s = TestServer::start(config);
    assert_eq!(s.get("/v2/models/default-risk/ready").status, 200);
}

#[test]
fn model_json_is_optional_beside_the_model_but_required_when_named() {
    let model = default_model();
    let dir = TempDir::new("serve-no-card");
    std::fs::copy(model.dir.join("model.onnx"), dir.path("m.onnx")).unwrap();
    let s = TestServer::start(config_for(&dir.uri("m.onnx")));
    // Named after the file; no training profile, so no drift.
    assert_eq!(s.get("/v2/models/m").status, 200);
    let drift = s.get("/lepton/drift").json();
    assert_eq!(drift["available"], false);
    assert_eq!(drift["features"], json!([]));
    drop(s);

    let mut config = config_for(&dir.uri("m.onnx"));
    config.model.card_uri = Some(dir.uri("nope.json"));
    let Err(e) = TestServer::try_start(config) else {
        panic!("a named model.json that is missing must stop the server")
    };
    assert_eq!(e.reason(), "ModelFetchFailed", "{e}");

    std::fs::write(dir.path("model.json"), "{not json").unwrap();
    let Err(e) = TestServer::try_start(config_for(&dir.uri("m.onnx"))) else {
        panic!("a broken model.json must stop the server")
    };
    assert_eq!(e.reason(), "InvalidModelCard", "{e}");
}

#[test]
fn cuda_where_there_is_none_falls_back_to_cpu_and_says_so() {
    let mut config = config_for(&default_model().uri());
    config.runtime.execution_provider = lepton_crds::v1alpha1::ExecutionProvider::Cuda;
    let s = TestServer::start(config);
    let status = s.get("/lepton/status").json();
    assert_eq!(status["requestedExecutionProvider"], "cuda");
    if status["executionProvider"] == "cuda" {
        // A machine with a GPU and the CUDA build of ONNX Runtime: nothing to fall back from.
        assert_eq!(status["executionProviderFallback"], Value::Null);
        return;
    }
    assert_eq!(status["executionProvider"], "cpu");
    let reason = status["executionProviderFallback"].as_str().unwrap();
    assert!(reason.contains("CUDA"), "{reason}");
    assert!(
        s.get("/metrics")
            .text()
            .contains("lepton_execution_provider_fallback{model=\"default-risk\"} 1")
    );
    assert_eq!(
        s.post(INFER, &default_request(&default_rows(1))).status,
        200
    );
}
