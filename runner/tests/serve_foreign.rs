//! Models Lepton did not produce: a scikit-learn pipeline exported by skl2onnx with its
//! defaults (int64 labels, ZipMap probabilities), a PyTorch-style dense network, and a graph
//! with one input per protocol datatype. Schemas come from the graphs (no model.json).

mod common;
mod common_serve;

use common_serve::{
    TestServer, assert_close, config_for, fixture, fixture_path, python_onnxruntime,
};
use serde_json::{Value, json};

#[test]
fn a_scikit_learn_pipeline_serves_with_its_schema_read_from_the_graph() {
    let s = TestServer::start(config_for(&fixture("sklearn_logreg.onnx")));
    let meta = s.get("/v2/models/sklearn_logreg");
    assert_eq!(
        (meta.status, meta.json()),
        (
            200,
            json!({
                "name": "sklearn_logreg",
                "versions": ["1"],
                "platform": "onnxruntime_onnx",
                "inputs": [{"name": "X", "datatype": "FP32", "shape": [-1, 2]}],
                "outputs": [
                    {"name": "output_label", "datatype": "INT64", "shape": [-1]},
                    {"name": "output_probability", "datatype": "FP32", "shape": [-1, -1]},
                ],
            })
        )
    );
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture_path("sklearn_logreg_expected.json")).unwrap(),
    )
    .unwrap();
    let rows = expected["rows"].as_array().unwrap();
    let n = rows.len();
    let r = s.post(
        "/v2/models/sklearn_logreg/infer",
        &json!({"id": "x", "inputs": [{"name": "X", "datatype": "FP32", "shape": [n, 2], "data": rows}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let got = r.json();
    assert_eq!(
        got["outputs"][0],
        json!({"name": "output_label", "datatype": "INT64", "shape": [n], "data": expected["label"]})
    );
    assert_eq!(got["outputs"][1]["shape"], json!([n, 2]));
    assert_close(&got["outputs"][1]["data"], &expected["probabilities"], 1e-6);

    // KServe v1: each instance is the single input's row; several outputs give an object.
    let r = s.post(
        "/v1/models/sklearn_logreg:predict",
        &json!({"instances": rows}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let predictions = r.json()["predictions"].clone();
    for (i, p) in predictions.as_array().unwrap().iter().enumerate() {
        assert_eq!(p["output_label"], expected["label"][i]);
        assert_close(
            &p["output_probability"],
            &expected["probabilities"][i],
            1e-6,
        );
    }
    let r = s.post(
        "/v1/models/sklearn_logreg:predict",
        &json!({"instances": [[1.0, 2.0, 3.0]]}),
    );
    assert_eq!(
        (r.status, r.json()),
        (
            400,
            json!({"error": "instance 0 has shape [3], but each instance of input `X` must have shape [2] (-1: any size, the same in every instance)"})
        )
    );
    // Concurrent requests are batched (the ZipMap output is split back row by row).
    std::thread::scope(|scope| {
        for t in 0..8 {
            let (s, expected) = (&s, &expected);
            let rows = rows.clone();
            scope.spawn(move || {
                for i in 0..20 {
                    let row = &rows[(t + i) % rows.len()];
                    let r = s.post(
                        "/v2/models/sklearn_logreg/infer",
                        &json!({"inputs": [{"name": "X", "datatype": "FP32", "shape": [1, 2], "data": row}]}),
                    );
                    let got = r.json();
                    let k = (t + i) % rows.len();
                    assert_eq!(got["outputs"][0]["data"], json!([expected["label"][k]]));
                    assert_close(&got["outputs"][1]["data"], &expected["probabilities"][k], 1e-6);
                }
            });
        }
    });
}

#[test]
fn a_pytorch_style_network_serves_and_agrees_with_python_onnxruntime() {
    let mut config = config_for(&fixture("mlp.onnx"));
    config.name = Some("mlp".to_owned());
    let s = TestServer::start(config);
    let meta = s.get("/v2/models/mlp").json();
    assert_eq!(
        meta["inputs"],
        json!([{"name": "input", "datatype": "FP32", "shape": [-1, 4]}])
    );
    assert_eq!(
        meta["outputs"],
        json!([{"name": "output", "datatype": "FP32", "shape": [-1, 3]}])
    );
    let x = json!([
        [0.1, -0.2, 0.3, 0.4],
        [1.0, 2.0, 3.0, 4.0],
        [-1.5, 0.0, 0.5, 2.5]
    ]);
    let want = python_onnxruntime(
        &fixture_path("mlp.onnx"),
        &json!({"input": x}),
        &json!({"input": "float32"}),
    );
    let r = s.post(
        "/v2/models/mlp/infer",
        &json!({"inputs": [{"name": "input", "datatype": "FP32", "shape": [3, 4], "data": x}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_close(&r.json()["outputs"][0]["data"], &want["output"], 1e-6);
    // v1 with one output: each prediction is the row itself.
    let r = s.post("/v1/models/mlp:predict", &json!({"instances": x}));
    assert_close(&r.json()["predictions"], &want["output"], 1e-6);
    assert_eq!(r.json()["predictions"].as_array().unwrap().len(), 3);
}

#[test]
fn every_protocol_datatype_goes_in_and_comes_back_unchanged() {
    let s = TestServer::start(config_for(&fixture("all_types.onnx")));
    let cases = [
        ("bool", "BOOL", json!([[true, false], [false, true]])),
        ("uint8", "UINT8", json!([[0, 255], [1, 2]])),
        ("uint16", "UINT16", json!([[0, 65535], [1, 2]])),
        ("uint32", "UINT32", json!([[0, 4294967295u64], [1, 2]])),
        ("uint64", "UINT64", json!([[0, u64::MAX], [1, 2]])),
        ("int8", "INT8", json!([[-128, 127], [0, -1]])),
        ("int16", "INT16", json!([[-32768, 32767], [0, -1]])),
        ("int32", "INT32", json!([[i32::MIN, i32::MAX], [0, -1]])),
        ("int64", "INT64", json!([[i64::MIN, i64::MAX], [0, -1]])),
        ("fp32", "FP32", json!([[1.5, -0.25], [3.0e38, 0.0]])),
        ("fp64", "FP64", json!([[1.0e300, -2.5], [0.1, 0.0]])),
        ("bytes", "BYTES", json!([["a", ""], ["héllo wörld", "✓"]])),
    ];
    let inputs: Vec<Value> = cases
        .iter()
        .map(|(n, d, data)| json!({"name": format!("in_{n}"), "datatype": d, "shape": [2, 2], "data": data}))
        .collect();
    let r = s.post("/v2/models/all_types/infer", &json!({"inputs": inputs}));
    assert_eq!(r.status, 200, "{}", r.text());
    let got = r.json();
    for (i, (n, d, data)) in cases.iter().enumerate() {
        let flat: Vec<Value> = data
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|row| row.as_array().unwrap().clone())
            .collect();
        assert_eq!(
            got["outputs"][i],
            json!({"name": format!("out_{n}"), "datatype": d, "shape": [2, 2], "data": flat}),
            "{n}"
        );
    }
    // Out-of-range and wrongly typed elements name the input and element.
    let mut bad = inputs.clone();
    bad[1]["data"] = json!([[0, 256], [1, 2]]);
    let r = s.post("/v2/models/all_types/infer", &json!({"inputs": bad}));
    assert_eq!(
        (r.status, r.json()),
        (
            400,
            json!({"error": "input `in_uint8`: element 1 is 256, expected an integer in UINT8's range"})
        )
    );
    let mut bad = inputs.clone();
    bad[0]["data"] = json!([[1, 0], [0, 1]]);
    let r = s.post("/v2/models/all_types/infer", &json!({"inputs": bad}));
    assert_eq!(
        (r.status, r.json()),
        (
            400,
            json!({"error": "input `in_bool`: element 0 is 1, expected true or false"})
        )
    );
    let mut bad = inputs;
    bad[8]["data"] = json!([[1.5, 0], [0, 1]]);
    let r = s.post("/v2/models/all_types/infer", &json!({"inputs": bad}));
    assert_eq!(
        (r.status, r.json()),
        (
            400,
            json!({"error": "input `in_int64`: element 0 is 1.5, expected an integer in INT64's range"})
        )
    );
}
