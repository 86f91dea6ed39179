//! The Open Inference Protocol v2 and KServe v1 as a client sees them, on a model Lepton
//! trained on Default.csv: exact JSON of every endpoint, errors included, and outputs checked
//! against Python's onnxruntime.

mod common;
mod common_serve;

use common_serve::{
    TestServer, assert_close, config_for, default_model, default_request, default_rows,
    python_onnxruntime,
};
use serde_json::{Value, json};

const INFER: &str = "/v2/models/default-risk/infer";

fn server() -> TestServer {
    TestServer::start(config_for(&default_model().uri()))
}

fn python_reference(rows: &[(String, f64, f64)]) -> Value {
    let feeds = json!({
        "student": rows.iter().map(|r| vec![r.0.clone()]).collect::<Vec<_>>(),
        "balance": rows.iter().map(|r| vec![r.1]).collect::<Vec<_>>(),
        "income": rows.iter().map(|r| vec![r.2]).collect::<Vec<_>>(),
    });
    let dtypes = json!({"student": "object", "balance": "float64", "income": "float64"});
    python_onnxruntime(&default_model().dir.join("model.onnx"), &feeds, &dtypes)
}

#[test]
fn health_and_server_metadata_are_exact() {
    let s = server();
    let live = s.get("/v2/health/live");
    assert_eq!((live.status, live.json()), (200, json!({"live": true})));
    assert_eq!(live.header("content-type"), Some("application/json"));
    let ready = s.get("/v2/health/ready");
    assert_eq!((ready.status, ready.json()), (200, json!({"ready": true})));
    let meta = s.get("/v2");
    assert_eq!(
        (meta.status, meta.json()),
        (
            200,
            json!({"name": "lepton-runner", "version": env!("CARGO_PKG_VERSION"), "extensions": ["binary_tensor_data"]})
        )
    );
}

#[test]
fn model_metadata_and_readiness_are_exact_with_and_without_a_version() {
    let s = server();
    let expected = json!({
        "name": "default-risk",
        "versions": ["1"],
        "platform": "onnxruntime_onnx",
        "inputs": [
            {"name": "student", "datatype": "BYTES", "shape": [-1, 1]},
            {"name": "balance", "datatype": "FP64", "shape": [-1, 1]},
            {"name": "income", "datatype": "FP64", "shape": [-1, 1]},
        ],
        "outputs": [
            {"name": "label", "datatype": "BYTES", "shape": [-1, 1]},
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]},
        ],
    });
    for path in [
        "/v2/models/default-risk",
        "/v2/models/default-risk/versions/1",
    ] {
        let r = s.get(path);
        assert_eq!((r.status, r.json()), (200, expected.clone()), "{path}");
    }
    for path in [
        "/v2/models/default-risk/ready",
        "/v2/models/default-risk/versions/1/ready",
    ] {
        let r = s.get(path);
        assert_eq!(
            (r.status, r.json()),
            (200, json!({"name": "default-risk", "ready": true})),
            "{path}"
        );
    }
    let r = s.get("/v1/models/default-risk");
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"name": "default-risk", "ready": true}))
    );

    let r = s.get("/v2/models/default-risk/versions/2");
    assert_eq!(
        (r.status, r.json()),
        (
            404,
            json!({"error": "model `default-risk` has no version `2`: the served version is `1`"})
        )
    );
    for path in ["/v2/models/nope", "/v2/models/nope/ready"] {
        let r = s.get(path);
        assert_eq!(
            (r.status, r.json()),
            (
                404,
                json!({"error": "unknown model `nope`: this server serves `default-risk`"})
            ),
            "{path}"
        );
    }
    let r = s.post("/v2/models/nope/infer", &json!({"inputs": []}));
    assert_eq!(r.status, 404);
    let r = s.post("/v1/models/nope:predict", &json!({"instances": []}));
    assert_eq!(r.status, 404);
}

#[test]
fn a_single_row_response_has_the_protocols_exact_shape_and_python_onnxruntimes_values() {
    let s = server();
    let rows = default_rows(1);
    let mut body = default_request(&rows);
    body["id"] = json!("request-7");
    body["parameters"] = json!({"priority": 1});
    let r = s.post(INFER, &body);
    assert_eq!(r.status, 200, "{}", r.text());
    let got = r.json();
    let want = python_reference(&rows);
    assert_close(&got["outputs"][1]["data"], &want["probabilities"], 1e-6);
    assert_eq!(
        got,
        json!({
            "model_name": "default-risk",
            "model_version": "1",
            "id": "request-7",
            "outputs": [
                {"name": "label", "datatype": "BYTES", "shape": [1, 1], "data": want["label"][0]},
                {"name": "probabilities", "datatype": "FP32", "shape": [1, 2], "data": got["outputs"][1]["data"]},
            ],
        })
    );
    // Without an id, none is made up.
    let r = s.post(INFER, &default_request(&rows));
    assert!(r.json().get("id").is_none());
}

#[test]
fn sixty_four_rows_match_python_onnxruntime_and_nested_data_equals_flat() {
    let s = server();
    let rows = default_rows(64);
    let flat = s.post(INFER, &default_request(&rows));
    assert_eq!(flat.status, 200, "{}", flat.text());
    let flat = flat.json();
    let want = python_reference(&rows);
    assert_close(&flat["outputs"][1]["data"], &want["probabilities"], 1e-6);
    let labels: Vec<Value> = want["label"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l[0].clone())
        .collect();
    assert_eq!(flat["outputs"][0]["data"], json!(labels));
    assert_eq!(flat["outputs"][1]["shape"], json!([64, 2]));

    let mut nested = default_request(&rows);
    for input in nested["inputs"].as_array_mut().unwrap() {
        let data: Vec<Value> = input["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| json!([v]))
            .collect();
        input["data"] = json!(data);
    }
    assert_eq!(s.post(INFER, &nested).json(), flat);
}

#[test]
fn outputs_can_be_selected_by_name() {
    let s = server();
    let mut body = default_request(&default_rows(2));
    body["outputs"] = json!([{"name": "probabilities"}]);
    let r = s.post(INFER, &body).json();
    let names: Vec<&str> = r["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["probabilities"]);
    body["outputs"] =
        json!([{"name": "label", "parameters": {"binary_data": false}}, {"name": "probabilities"}]);
    let r = s.post(INFER, &body).json();
    assert_eq!(r["outputs"].as_array().unwrap().len(), 2);
    body["outputs"] = json!([{"name": "score"}]);
    let r = s.post(INFER, &body);
    assert_eq!(
        (r.status, r.json()),
        (
            400,
            json!({"error": "unknown output `score`: the model gives label (BYTES [-1, 1]), probabilities (FP32 [-1, 2])"})
        )
    );
}

#[test]
fn kserve_v1_predict_takes_row_objects_and_answers_label_and_probabilities_by_class() {
    let s = server();
    let rows = default_rows(3);
    let instances: Vec<Value> = rows
        .iter()
        .map(|r| json!({"student": r.0, "balance": r.1, "income": r.2}))
        .collect();
    let r = s.post(
        "/v1/models/default-risk:predict",
        &json!({"instances": instances}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let got = r.json();
    let want = python_reference(&rows);
    let predictions = got["predictions"].as_array().unwrap();
    assert_eq!(predictions.len(), 3);
    for (i, p) in predictions.iter().enumerate() {
        assert_eq!(
            p.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["label", "probabilities"]
        );
        assert_eq!(p["label"], want["label"][i][0]);
        let probs = &p["probabilities"];
        assert_close(
            &json!([probs["No"], probs["Yes"]]),
            &want["probabilities"][i],
            1e-6,
        );
    }
    // Missing values as null, numbers as strings, and a boolean for a text column are accepted.
    let r = s.post(
        "/v1/models/default-risk:predict",
        &json!({"instances": [{"student": null, "balance": "1200.5", "income": null}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    for (body, error) in [
        (json!({"instances": []}), "`instances` is empty"),
        (
            json!({"rows": []}),
            "malformed predict request (expected {\"instances\": [...]}): missing field `instances` at line 1 column 11",
        ),
        (
            json!({"instances": [{"student": "No", "balance": 1.0}]}),
            "instance 0 has no `income` (send null for a missing value)",
        ),
        (
            json!({"instances": [{"student": "No", "balance": 1.0, "income": 2.0, "age": 3}]}),
            "instance 0 has `age`, which is not an input of the model; it takes student (BYTES [-1, 1]), balance (FP64 [-1, 1]), income (FP64 [-1, 1])",
        ),
        (
            json!({"instances": [{"student": "No", "balance": "lots", "income": 2.0}]}),
            "instance 0: `balance` is \"lots\", expected a number or null",
        ),
        (
            json!({"instances": [[1.0, 2.0, 3.0]]}),
            "instances must be row objects ({\"input\": value, ...}) for a model with several inputs; it takes student (BYTES [-1, 1]), balance (FP64 [-1, 1]), income (FP64 [-1, 1])",
        ),
    ] {
        let r = s.post("/v1/models/default-risk:predict", &body);
        assert_eq!(
            (r.status, r.json()),
            (400, json!({"error": error})),
            "{body}"
        );
    }
}

/// Each case: a change to a valid one-row request, and the exact error it must get.
#[test]
fn every_kind_of_bad_request_is_a_400_naming_the_input_and_what_was_expected() {
    let s = server();
    let good = default_request(&default_rows(1));
    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = good.clone();
        f(&mut b);
        b
    };
    let takes = "student (BYTES [-1, 1]), balance (FP64 [-1, 1]), income (FP64 [-1, 1])";
    let cases: Vec<(Value, String)> = vec![
        (with(&|b| b["inputs"][1]["datatype"] = json!("FP32")), "input `balance` has datatype FP32, but the model takes FP64".into()),
        (
            with(&|b| b["inputs"][1]["datatype"] = json!("DOUBLE")),
            "input `balance` has datatype `DOUBLE`, which is not an Open Inference Protocol datatype; the model takes FP64".into(),
        ),
        (
            with(&|b| b["inputs"][1]["shape"] = json!([1])),
            "input `balance` has shape [1], but the model takes balance (FP64 [-1, 1]) (-1: any size)".into(),
        ),
        (
            with(&|b| b["inputs"][1]["shape"] = json!([1, 2])),
            "input `balance` has shape [1, 2], but the model takes balance (FP64 [-1, 1]) (-1: any size)".into(),
        ),
        (
            with(&|b| b["inputs"][1]["shape"] = json!([2, 1])),
            "input `balance` has 1 elements, but its shape [2, 1] needs 2".into(),
        ),
        (
            with(&|b| b["inputs"][1]["data"] = json!(["high"])),
            "input `balance`: element 0 is \"high\", expected a number (or null for missing)".into(),
        ),
        (
            with(&|b| b["inputs"][0]["data"] = json!([3])),
            "input `student`: element 0 is 3, expected a string".into(),
        ),
        (
            with(&|b| b["inputs"][2]["name"] = json!("salary")),
            format!("unknown input `salary`: the model takes {takes}"),
        ),
        (
            with(&|b| {
                b["inputs"].as_array_mut().unwrap().remove(2);
            }),
            format!("missing input `income`: the model takes {takes}"),
        ),
        (
            with(&|b| {
                let dup = b["inputs"][2].clone();
                b["inputs"].as_array_mut().unwrap().push(dup);
            }),
            "input `income` is given more than once".into(),
        ),
        (
            with(&|b| {
                b["inputs"][2]["shape"] = json!([2, 1]);
                b["inputs"][2]["data"] = json!([1.0, 2.0]);
            }),
            "inputs disagree on the batch size (first dimension): `student` has 1, `income` has 2".into(),
        ),
        (
            with(&|b| {
                for i in 0..3 {
                    b["inputs"][i]["shape"] = json!([0, 1]);
                    b["inputs"][i]["data"] = json!([]);
                }
            }),
            "the request has no rows: the first dimension of every input is 0".into(),
        ),
        (
            with(&|b| b["inputs"][1]["shape"] = json!([-1, 1])),
            "input `balance` has shape [-1, 1], but the model takes balance (FP64 [-1, 1]) (-1: any size)".into(),
        ),
        (
            with(&|b| {
                b["inputs"][1].as_object_mut().unwrap().remove("data");
            }),
            "input `balance` has no `data`".into(),
        ),
        (json!({"inputs": "none"}), "malformed inference request: invalid type: string \"none\", expected a sequence at line 1 column 16".into()),
        (json!({"outputs": []}), "malformed inference request: missing field `inputs` at line 1 column 14".into()),
    ];
    for (body, error) in cases {
        let r = s.post(INFER, &body);
        assert_eq!(
            (r.status, r.json()),
            (400, json!({"error": error})),
            "{body}"
        );
    }
    let r = s.post_raw(INFER, &[], b"{\"inputs\": [");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"error": "malformed inference request: EOF while parsing a list at line 1 column 12"})
    );
    let r = s.post_raw(INFER, &[], &[0xff, 0xfe, 0x00]);
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("malformed inference request: ")
    );
    // After all that, the server still answers.
    assert_eq!(s.post(INFER, &good).status, 200);
}

#[test]
fn unknown_routes_and_wrong_methods_get_json_errors() {
    let s = server();
    let r = s.get("/v3/anything");
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"error": "no endpoint GET /v3/anything"}))
    );
    let r = s.get(INFER);
    assert_eq!(
        (r.status, r.json()),
        (
            405,
            json!({"error": "GET is not allowed on /v2/models/default-risk/infer"})
        )
    );
    let r = s.post("/v2/health/live", &json!({}));
    assert_eq!(
        (r.status, r.json()),
        (
            405,
            json!({"error": "POST is not allowed on /v2/health/live"})
        )
    );
}

#[test]
fn the_binary_tensor_extension_carries_inputs_and_outputs() {
    let s = server();
    let rows = default_rows(2);
    let mut binary = Vec::new();
    for r in &rows {
        binary.extend_from_slice(&(r.0.len() as u32).to_le_bytes());
        binary.extend_from_slice(r.0.as_bytes());
    }
    let student_len = binary.len();
    for r in &rows {
        binary.extend_from_slice(&r.1.to_le_bytes());
    }
    let header = json!({
        "inputs": [
            {"name": "student", "datatype": "BYTES", "shape": [2, 1], "parameters": {"binary_data_size": student_len}},
            {"name": "balance", "datatype": "FP64", "shape": [2, 1], "parameters": {"binary_data_size": 16}},
            {"name": "income", "datatype": "FP64", "shape": [2, 1], "data": [rows[0].2, rows[1].2]},
        ],
        "outputs": [{"name": "probabilities", "parameters": {"binary_data": true}}, {"name": "label"}],
    })
    .to_string();
    let mut body = header.as_bytes().to_vec();
    body.extend_from_slice(&binary);
    let length = header.len().to_string();
    let r = s.post_raw(
        INFER,
        &[("Inference-Header-Content-Length", &length)],
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let json_length: usize = r
        .header("inference-header-content-length")
        .unwrap()
        .parse()
        .unwrap();
    let head: Value = serde_json::from_slice(&r.body[..json_length]).unwrap();
    assert_eq!(
        head["outputs"][0],
        json!({"name": "probabilities", "datatype": "FP32", "shape": [2, 2], "parameters": {"binary_data_size": 16}})
    );
    let probs: Vec<f64> = r.body[json_length..]
        .chunks_exact(4)
        .map(|c| f64::from(f32::from_le_bytes(c.try_into().unwrap())))
        .collect();
    let want = python_reference(&rows);
    assert_close(&json!(probs), &want["probabilities"], 1e-6);
    assert_eq!(
        head["outputs"][1]["data"],
        json!([want["label"][0][0], want["label"][1][0]])
    );

    // Binary sizes that do not add up are refused.
    let r = s.post_raw(
        INFER,
        &[("Inference-Header-Content-Length", &length)],
        &body[..body.len() - 3],
    );
    assert_eq!(
        r.json(),
        json!({"error": "input `balance` has binary_data_size 16, but only 13 bytes of binary data remain"})
    );
    let r = s.post_raw(
        INFER,
        &[("Inference-Header-Content-Length", "99999")],
        &body,
    );
    assert_eq!(r.status, 400);
}

#[test]
fn metrics_status_and_drift_endpoints() {
    let s = server();
    // Traffic like the training data, then traffic far from it.
    let rows = default_rows(300);
    assert_eq!(s.post(INFER, &default_request(&rows)).status, 200);
    let r = s.get("/lepton/drift");
    assert_eq!(r.status, 200);
    let drift = r.json();
    assert_eq!(drift["model"], "default-risk");
    assert_eq!(drift["available"], true);
    assert_eq!(drift["windowSeconds"], 300);
    assert_eq!(drift["threshold"], 0.2);
    assert_eq!(drift["drifted"], false, "{drift}");
    let names: Vec<&str> = drift["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["student", "balance", "income"]);
    assert_eq!(drift["features"][1]["rows"], 300);
    assert_eq!(drift["features"][1]["kind"], "numeric");
    assert_eq!(drift["features"][0]["kind"], "categorical");
    assert!(drift["score"].as_f64().unwrap() < 0.2, "{drift}");

    let shifted: Vec<(String, f64, f64)> = rows
        .iter()
        .map(|r| ("Yes".to_owned(), r.1 * 3.0 + 2000.0, r.2))
        .collect();
    for _ in 0..3 {
        assert_eq!(s.post(INFER, &default_request(&shifted)).status, 200);
    }
    let drift = s.get("/lepton/drift").json();
    assert_eq!(drift["drifted"], true, "{drift}");
    assert_eq!(drift["mostDriftedColumn"], "balance", "{drift}");

    let status = s.get("/lepton/status").json();
    assert_eq!(status["ready"], true);
    assert_eq!(status["executionProvider"], "cpu");
    assert_eq!(status["executionProviderFallback"], Value::Null);
    assert_eq!(status["model"]["sha256"], default_model().sha256.as_str());
    assert_eq!(status["metrics"]["mostDriftedColumn"], "balance");
    assert!(status["metrics"]["latencyP99Ms"].as_f64().unwrap() > 0.0);
    assert_eq!(status["metrics"]["errorRate"], 0.0);

    assert_eq!(s.post(INFER, &json!({"inputs": []})).status, 400);
    let text = s.get("/metrics").text();
    for line in [
        "lepton_inference_requests_total{model=\"default-risk\",protocol=\"v2\",code=\"200\"} 4",
        "lepton_inference_requests_total{model=\"default-risk\",protocol=\"v2\",code=\"400\"} 1",
        "# TYPE lepton_request_duration_seconds histogram",
        "lepton_request_duration_seconds_count{model=\"default-risk\"} 5",
        "lepton_inference_duration_seconds_count{model=\"default-risk\"} 4",
        "lepton_batch_size_rows_sum{model=\"default-risk\"} 1200",
        "# TYPE lepton_queue_depth_requests gauge",
        "lepton_in_flight_requests{model=\"default-risk\"} 0",
        "lepton_model_ready{model=\"default-risk\"} 1",
        "lepton_execution_provider_fallback{model=\"default-risk\"} 0",
        "lepton_drift_window_rows{model=\"default-risk\",feature=\"balance\"} 1200",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in\n{text}"
        );
    }
    assert!(text.contains("lepton_drift_psi{model=\"default-risk\",feature=\"balance\"} "));
    assert!(text.contains("lepton_drift_score{model=\"default-risk\"} "));
}

#[test]
fn a_lepton_regressor_answers_v1_with_its_value_and_v2_under_a_version() {
    let dir = common::TempDir::new("serve-credit-model");
    let manifest = format!(
        "metadata: {{name: credit-balance}}\nspec:\n  data: {{source: '{}', target: Balance, dropColumns: [ID]}}\n  model:\n    family: linear\n    hyperparameters: {{epochs: 5}}\n",
        common::example_data("Credit.csv")
    );
    let job = lepton_runner::spec::parse_job(&manifest).unwrap();
    let options = lepton_runner::train::TrainOptions {
        output: Some(dir.uri("model")),
        ort_library: Some(common::ort_library()),
        ..Default::default()
    };
    lepton_runner::train::train(&job, &options, &lepton_runner::progress::NullReporter).unwrap();
    let s = TestServer::start(config_for(&dir.uri("model/model.onnx")));
    let meta = s.get("/v2/models/credit-balance").json();
    assert_eq!(
        meta["outputs"],
        json!([{"name": "value", "datatype": "FP32", "shape": [-1, 1]}])
    );
    let row = json!({"Income": 14.891, "Limit": 3606, "Rating": 283, "Cards": 2, "Age": 34, "Education": 11,
                     "Gender": " Male", "Student": "No", "Married": "Yes", "Ethnicity": "Caucasian"});
    let r = s.post(
        "/v1/models/credit-balance:predict",
        &json!({"instances": [row]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let prediction = &r.json()["predictions"][0];
    assert_eq!(
        prediction.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["value"]
    );
    let value = prediction["value"].as_f64().unwrap();

    // The same row through v2, addressed with the version.
    let inputs: Vec<Value> = meta["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|spec| {
            let name = spec["name"].as_str().unwrap();
            let cell = &row[name];
            let data = if spec["datatype"] == "BYTES" {
                json!([cell.as_str().unwrap()])
            } else {
                json!([cell])
            };
            json!({"name": name, "datatype": spec["datatype"], "shape": [1, 1], "data": data})
        })
        .collect();
    let r = s.post(
        "/v2/models/credit-balance/versions/1/infer",
        &json!({"inputs": inputs}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v2 = r.json()["outputs"][0]["data"][0].as_f64().unwrap();
    assert!((v2 - value).abs() < 1e-3, "{v2} vs {value}");
    let r = s.post(
        "/v2/models/credit-balance/versions/7/infer",
        &json!({"inputs": inputs}),
    );
    assert_eq!(r.status, 404);
}
