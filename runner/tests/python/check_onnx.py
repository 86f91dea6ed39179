"""Independent check of a model exported by `lepton-runner train`.

Usage: check_onnx.py MODEL.onnx PREDICTIONS.json

Runs the ONNX checker (full check, with shape inference), then feeds the raw validation cells the
runner wrote (strings for categorical columns, floats with NaN for missing numbers) to Python's
onnxruntime and compares its outputs with the trained model's. Exits non-zero on any failure.
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort


def main(model_path, predictions_path):
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    if opsets.get("ai.onnx", 0) < 17:
        sys.exit(f"opset {opsets} is older than 17")

    with open(predictions_path) as f:
        sample = json.load(f)
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    feeds = {}
    for graph_input in session.get_inputs():
        cells = sample["inputs"][graph_input.name]
        if graph_input.type == "tensor(string)":
            feeds[graph_input.name] = np.array([["" if c is None else c] for c in cells], dtype=object)
        elif graph_input.type == "tensor(double)":
            feeds[graph_input.name] = np.array([[np.nan if c is None else c] for c in cells], dtype=np.float64)
        else:
            sys.exit(f"unexpected input type {graph_input.type} for {graph_input.name}")
    got = session.run([sample["output"]], feeds)[0]
    expected = np.array(sample["outputs"], dtype=np.float32)
    if got.shape != expected.shape:
        sys.exit(f"shape {got.shape} != {expected.shape}")
    diff = float(np.max(np.abs(got.astype(np.float64) - expected.astype(np.float64))))
    scale = max(1.0, float(np.std(expected))) if sample["output"] == "value" else 1.0
    print(json.dumps({"rows": int(got.shape[0]), "maxAbsDiff": diff, "scale": scale}))
    if not diff / scale <= 1e-5:
        sys.exit(f"onnxruntime disagrees with the runner by {diff}")
    if sample["output"] == "probabilities":
        labels = session.run(["label"], feeds)[0]
        if labels.shape != (got.shape[0], 1):
            sys.exit(f"label shape {labels.shape}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
