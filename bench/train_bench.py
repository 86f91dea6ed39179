"""`make bench-train`: Lepton's trainer next to scikit-learn and PyTorch on the same split.

For each data set and family, lepton-runner trains with its defaults and writes, with
--predictions, the data rows it held out for validation. The reference models are then trained
on exactly the other rows and scored on those rows, so the metrics are comparable:

* binary (Default.csv, target `default`): LogisticRegression, HistGradientBoostingClassifier;
* regression (Credit.csv, target `Balance`): Ridge, HistGradientBoostingRegressor;
* an MLP with the runner's architecture, optimiser, batch size and epoch count in PyTorch (CPU),
  timed against the runner with early stopping off, so both run the same number of epochs.

Training time is the fit alone for every tool (the runner's own measurement from model.json);
the runner's whole process time (read, preprocess, train, export, verify with ONNX Runtime,
write) is reported beside it. Results go to bench/results/train.json and
docs/benchmarks/training.md.
"""
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import torch
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import mean_squared_error, r2_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.environ.get("LEPTON_RUNNER", os.path.join(ROOT, "target", "release", "lepton-runner"))
MLP = {"hiddenLayers": [64, 32], "dropout": 0.1, "learningRate": 0.001, "batchSize": 256,
       "weightDecay": 0.0001, "epochs": 50}

DATASETS = [
    {"name": "Default", "file": "Default.csv", "target": "default", "task": "binary", "metric": "auc"},
    {"name": "Credit", "file": "Credit.csv", "target": "Balance", "task": "regression", "metric": "rmse",
     "drop": ["ID"]},
]


def run_runner(ds, family, hyper=None, early_stopping=True):
    work = tempfile.mkdtemp(prefix="lepton-bench-")
    spec = {
        "spec": {
            "data": {"source": "file://" + os.path.join(ROOT, "examples", "data", ds["file"]),
                     "target": ds["target"]},
            "model": {"family": family, "earlyStopping": {"enabled": early_stopping}},
            "output": {"uri": "file://" + os.path.join(work, "out")},
        }
    }
    if hyper:
        spec["spec"]["model"]["hyperparameters"] = hyper
    path = os.path.join(work, "job.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    start = time.perf_counter()
    proc = subprocess.run([RUNNER, "train", "--spec", path, "--results", os.path.join(work, "results.json"),
                           "--predictions", os.path.join(work, "predictions.json")],
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"lepton-runner failed on {ds['name']}/{family}: {proc.stderr[-2000:]}")
    with open(os.path.join(work, "results.json")) as f:
        results = json.load(f)
    with open(os.path.join(work, "out", "model.json")) as f:
        card = json.load(f)
    with open(os.path.join(work, "predictions.json")) as f:
        sample = json.load(f)
    fit_seconds = sum(c.get("seconds", 0.0) for c in card["training"]["candidates"])
    return {"results": results, "card": card, "validation_rows": sample["rows"], "fit_seconds": fit_seconds,
            "process_seconds": wall}


def split_frames(ds, validation_rows):
    frame = pd.read_csv(os.path.join(ROOT, "examples", "data", ds["file"]))
    frame = frame.drop(columns=ds.get("drop", []))
    validation = frame.index.isin([r - 1 for r in validation_rows])
    y = frame.pop(ds["target"])
    if ds["task"] == "binary":
        y = (y == "Yes").astype(int)
    return frame[~validation], y[~validation], frame[validation], y[validation]


def preprocessor(frame):
    numeric = [c for c in frame.columns if frame[c].dtype.kind in "if"]
    categorical = [c for c in frame.columns if c not in numeric]
    return ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
    ])


def score(task, y, pred):
    if task == "binary":
        return {"auc": roc_auc_score(y, pred)}
    return {"rmse": float(np.sqrt(mean_squared_error(y, pred))), "r2": r2_score(y, pred)}


def sklearn_models(ds, x_train, y_train, x_val, y_val):
    if ds["task"] == "binary":
        candidates = {
            "sklearn LogisticRegression": LogisticRegression(max_iter=2000),
            "sklearn LogisticRegression (balanced)": LogisticRegression(max_iter=2000, class_weight="balanced"),
            "sklearn HistGradientBoosting": HistGradientBoostingClassifier(random_state=0),
        }
    else:
        candidates = {
            "sklearn Ridge": Ridge(alpha=1.0),
            "sklearn HistGradientBoosting": HistGradientBoostingRegressor(random_state=0),
        }
    rows = []
    for name, model in candidates.items():
        pipe = make_pipeline(preprocessor(x_train), model)
        start = time.perf_counter()
        pipe.fit(x_train, y_train)
        seconds = time.perf_counter() - start
        pred = pipe.predict_proba(x_val)[:, 1] if ds["task"] == "binary" else pipe.predict(x_val)
        rows.append({"tool": name, "fit_seconds": seconds, **score(ds["task"], y_val, pred)})
    return rows


def torch_mlp(ds, x_train, y_train, x_val, y_val, balanced):
    torch.manual_seed(42)
    pre = preprocessor(x_train)
    xt = torch.tensor(np.asarray(pre.fit_transform(x_train), dtype=np.float32))
    xv = torch.tensor(np.asarray(pre.transform(x_val), dtype=np.float32))
    yt = torch.tensor(np.asarray(y_train, dtype=np.float32)).reshape(-1, 1)
    if ds["task"] == "regression":
        mean, std = yt.mean(), yt.std(unbiased=False)
        yt = (yt - mean) / std
    layers, width = [], xt.shape[1]
    for h in MLP["hiddenLayers"]:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU(), torch.nn.Dropout(MLP["dropout"])]
        width = h
    model = torch.nn.Sequential(*layers, torch.nn.Linear(width, 1))
    optim = torch.optim.AdamW(model.parameters(), lr=MLP["learningRate"], weight_decay=MLP["weightDecay"])
    if ds["task"] == "binary" and balanced:
        pos = float(yt.mean())
        weights = torch.where(yt > 0.5, torch.tensor(0.5 / pos), torch.tensor(0.5 / (1 - pos)))
    else:
        weights = torch.ones_like(yt)
    start = time.perf_counter()
    for _ in range(MLP["epochs"]):
        order = torch.randperm(xt.shape[0])
        for i in range(0, xt.shape[0], MLP["batchSize"]):
            idx = order[i:i + MLP["batchSize"]]
            out = model(xt[idx])
            if ds["task"] == "binary":
                loss = torch.nn.functional.binary_cross_entropy_with_logits(out, yt[idx], reduction="none")
            else:
                loss = 0.5 * (out - yt[idx]) ** 2
            w = weights[idx]
            loss = (loss * w).sum() / w.sum()
            optim.zero_grad()
            loss.backward()
            optim.step()
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        out = model(xv).numpy().ravel()
    pred = out if ds["task"] == "binary" else out * float(std) + float(mean)
    return {"tool": f"PyTorch MLP ({MLP['epochs']} epochs, {torch.get_num_threads()} threads)", "fit_seconds": seconds,
            **score(ds["task"], y_val, pred)}


def main():
    rows = []
    for ds in DATASETS:
        reference = None
        for family in ["linear", "gbdt", "mlp"]:
            run = run_runner(ds, family)
            metrics = run["results"]["metrics"]
            rows.append({"dataset": ds["name"], "tool": f"lepton {family}", "fit_seconds": run["fit_seconds"],
                         "process_seconds": run["process_seconds"],
                         **{k: metrics[k] for k in ("auc", "rmse", "r2") if k in metrics}})
            reference = reference or run
        x_train, y_train, x_val, y_val = split_frames(ds, reference["validation_rows"])
        expected_train = reference["results"]["data"]["trainingRows"]
        if len(x_train) != expected_train:
            sys.exit(f"{ds['name']}: split mismatch, {len(x_train)} != {expected_train} training rows")
        rows += [{"dataset": ds["name"], **r} for r in sklearn_models(ds, x_train, y_train, x_val, y_val)]
        fixed = run_runner(ds, "mlp", hyper=MLP, early_stopping=False)
        metrics = fixed["results"]["metrics"]
        rows.append({"dataset": ds["name"], "tool": f"lepton mlp ({MLP['epochs']} epochs, no early stopping)",
                     "fit_seconds": fixed["fit_seconds"], "process_seconds": fixed["process_seconds"],
                     **{k: metrics[k] for k in ("auc", "rmse", "r2") if k in metrics}})
        rows.append({"dataset": ds["name"], **torch_mlp(ds, x_train, y_train, x_val, y_val, balanced=True)})
    write(rows)


def write(rows):
    meta = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
            "machine": platform.machine(), "python": platform.python_version(), "torch": torch.__version__,
            "sklearn": __import__("sklearn").__version__}
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "train.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=2)
    lines = [
        "# Training benchmark",
        "",
        "Written by `make bench-train` (bench/train_bench.py); do not edit by hand. Every tool is",
        "trained on the same training rows and scored on the same validation rows (the split",
        "lepton-runner made, seed 42). Fit seconds count training only; the runner's process",
        "seconds add reading, preprocessing, ONNX export, the ONNX Runtime check and writing.",
        "",
        f"Run {meta['date']} on {meta['cpus']} CPUs ({meta['machine']}), scikit-learn {meta['sklearn']},",
        f"PyTorch {meta['torch']}.",
        "",
        "| data | tool | AUC | RMSE | R2 | fit s | process s |",
        "|---|---|---|---|---|---|---|",
    ]
    fmt = lambda v, d: "" if v is None else f"{v:.{d}f}"
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['tool']} | {fmt(r.get('auc'), 4)} | {fmt(r.get('rmse'), 2)} | "
                     f"{fmt(r.get('r2'), 4)} | {fmt(r.get('fit_seconds'), 3)} | {fmt(r.get('process_seconds'), 2)} |")
    for ds in ("Default",):
        best_sk = max(r["auc"] for r in rows if r["dataset"] == ds and r["tool"].startswith("sklearn"))
        best_lepton = max(r["auc"] for r in rows if r["dataset"] == ds and r["tool"].startswith("lepton"))
        lines += ["", f"{ds}: best Lepton AUC {best_lepton:.4f}, best scikit-learn AUC {best_sk:.4f} "
                      f"(difference {best_lepton - best_sk:+.4f}; the goal is no worse than -0.005)."]
    for ds in ("Default", "Credit"):
        mine = next(r for r in rows if r["dataset"] == ds and "no early stopping" in r["tool"])
        theirs = next(r for r in rows if r["dataset"] == ds and r["tool"].startswith("PyTorch"))
        lines.append(f"{ds}: MLP fit time, Lepton / PyTorch = {mine['fit_seconds'] / theirs['fit_seconds']:.2f} "
                     f"(the goal is at most 1.00).")
    with open(os.path.join(ROOT, "docs", "benchmarks", "training.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
