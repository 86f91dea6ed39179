"""`make bench-serve`: lepton-runner serve next to KServe's and MLServer's Python servers.

One ONNX model (lepton-runner trains it on Default.csv) is served by:

* (a) the floor: `lepton-runner serve --measure`, ONNX Runtime called in-process through `ort`
  with the server's own session settings and request tensors, no HTTP;
* (b) `lepton-runner serve` (release build);
* (c) KServe's Python model server (`kserve.Model` running the model with onnxruntime);
* (d) MLServer (a custom runtime running the model with onnxruntime).

All four use ONNX Runtime with one intra-op thread, and every server gets the same Open Inference
Protocol v2 JSON request. Load comes from `wrk` in its own process: single-row and 64-row
requests, at concurrency 1 and 32, for --duration seconds each after a warm-up. Start-to-ready
time is measured from process start to the first 200 from /v2/models/{model}/ready. Results go to
bench/results/serve.json and docs/benchmarks/serving.md.

Usage: python bench/serve_bench.py [--duration SECONDS] [--only lepton,kserve,mlserver]
Environment: LEPTON_ORT_LIB (the ONNX Runtime library), KSERVE_PYTHON and MLSERVER_PYTHON
(interpreters with kserve / mlserver installed; default .venv-serve and .venv-serve-mlserver).
"""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.environ.get("LEPTON_RUNNER", os.path.join(ROOT, "target", "release", "lepton-runner"))
KSERVE_PYTHON = os.environ.get("KSERVE_PYTHON", os.path.join(ROOT, ".venv-serve", "bin", "python"))
MLSERVER_PYTHON = os.environ.get(
    "MLSERVER_PYTHON", os.path.join(ROOT, ".venv-serve-mlserver", "bin", "python"))
MODEL_NAME = "default-risk"
ROWS = [1, 64]
CONCURRENCY = [1, 32]

KSERVE_SERVER = r'''
import os
import uuid
import numpy as np
import onnxruntime as ort
import kserve
from kserve import InferOutput, InferRequest, InferResponse


class OnnxModel(kserve.Model):
    def __init__(self, name, path):
        super().__init__(name)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.ready = True

    def predict(self, payload: InferRequest, headers=None, response_headers=None) -> InferResponse:
        feeds = {}
        for tensor in payload.inputs:
            value = tensor.as_numpy()
            if tensor.datatype == "BYTES":
                value = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in value.ravel()],
                                 dtype=object).reshape(value.shape)
            feeds[tensor.name] = value
        outputs = []
        for meta, value in zip(self.session.get_outputs(), self.session.run(None, feeds)):
            datatype = "BYTES" if value.dtype == object else "FP32"
            out = InferOutput(name=meta.name, shape=list(value.shape), datatype=datatype)
            out.set_data_from_numpy(value, binary_data=False)
            outputs.append(out)
        return InferResponse(model_name=self.name, infer_outputs=outputs,
                             response_id=payload.id or str(uuid.uuid4()))


if __name__ == "__main__":
    model = OnnxModel(os.environ["BENCH_MODEL_NAME"], os.environ["BENCH_MODEL_PATH"])
    kserve.ModelServer(http_port=int(os.environ["BENCH_HTTP_PORT"]),
                       grpc_port=int(os.environ["BENCH_GRPC_PORT"]), workers=1).start([model])
'''

MLSERVER_RUNTIME = r'''
import numpy as np
import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import NumpyCodec, StringCodec
from mlserver.types import InferenceRequest, InferenceResponse


class OnnxRuntime(MLModel):
    async def load(self) -> bool:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(self.settings.parameters.uri, options,
                                            providers=["CPUExecutionProvider"])
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        feeds = {}
        for tensor in payload.inputs:
            if tensor.datatype == "BYTES":
                feeds[tensor.name] = np.array(StringCodec.decode_input(tensor), dtype=object).reshape(tensor.shape)
            else:
                feeds[tensor.name] = NumpyCodec.decode_input(tensor)
        outputs = []
        for meta, value in zip(self.session.get_outputs(), self.session.run(None, feeds)):
            if value.dtype == object:
                outputs.append(StringCodec.encode_output(meta.name, [str(v) for v in value.ravel()]))
            else:
                outputs.append(NumpyCodec.encode_output(meta.name, value))
        return InferenceResponse(model_name=self.name, outputs=outputs, id=payload.id)
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, timeout=10):
    request = urllib.request.Request(url, data=body, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def train_model(work):
    job = os.path.join(work, "job.yaml")
    with open(job, "w") as f:
        f.write("metadata: {name: %s}\nspec:\n  data: {source: 'file://%s', target: default}\n"
                "  model: {family: gbdt}\n" % (MODEL_NAME, os.path.join(ROOT, "examples", "data", "Default.csv")))
    out = os.path.join(work, "model")
    with open(os.path.join(work, "train.log"), "w") as log:
        subprocess.run([RUNNER, "train", "--spec", job, "--output", "file://" + out], check=True,
                       stdout=log, stderr=log)
    with open(os.path.join(out, "model.json")) as f:
        card = json.load(f)
    return os.path.join(out, "model.onnx"), card


def request_body(rows):
    with open(os.path.join(ROOT, "examples", "data", "Default.csv")) as f:
        lines = f.read().splitlines()[1:1 + rows]
    cells = [line.split(",") for line in lines]
    return json.dumps({"inputs": [
        {"name": "student", "datatype": "BYTES", "shape": [rows, 1], "data": [c[1] for c in cells]},
        {"name": "balance", "datatype": "FP64", "shape": [rows, 1], "data": [float(c[2]) for c in cells]},
        {"name": "income", "datatype": "FP64", "shape": [rows, 1], "data": [float(c[3]) for c in cells]},
    ]}).encode()


def wait_ready(url, process, started, limit=120.0):
    while time.monotonic() - started < limit:
        if process.poll() is not None:
            raise RuntimeError("the server exited with %s" % process.returncode)
        try:
            if http("GET", url + "/v2/models/%s/ready" % MODEL_NAME, timeout=1)[0] == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.002)
    raise RuntimeError("the server was not ready within %ss" % limit)


def stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_lepton(model, port, log):
    process = subprocess.Popen(
        [RUNNER, "serve", "--model", "file://" + model, "--host", "127.0.0.1", "--port", str(port),
         "--intra-op-threads", "1"],
        stdout=log, stderr=log)
    return process


def start_kserve(model, port, work, log):
    script = os.path.join(work, "kserve_server.py")
    with open(script, "w") as f:
        f.write(KSERVE_SERVER)
    env = dict(os.environ, BENCH_MODEL_NAME=MODEL_NAME, BENCH_MODEL_PATH=model,
               BENCH_HTTP_PORT=str(port), BENCH_GRPC_PORT=str(free_port()))
    return subprocess.Popen([KSERVE_PYTHON, script], stdout=log, stderr=log, env=env, cwd=work)


def start_mlserver(model, port, work, log):
    folder = os.path.join(work, "mlserver")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "onnx_runtime.py"), "w") as f:
        f.write(MLSERVER_RUNTIME)
    with open(os.path.join(folder, "model-settings.json"), "w") as f:
        json.dump({"name": MODEL_NAME, "implementation": "onnx_runtime.OnnxRuntime",
                   "parameters": {"uri": model}}, f)
    with open(os.path.join(folder, "settings.json"), "w") as f:
        # Inference in the server process: MLServer 1.7.1's worker pool does not start with the
        # uvloop it installs, and in-process is its lower-latency setting anyway.
        json.dump({"http_port": port, "grpc_port": free_port(), "metrics_port": free_port(),
                   "host": "127.0.0.1", "parallel_workers": 0}, f)
    mlserver = os.path.join(os.path.dirname(MLSERVER_PYTHON), "mlserver")
    return subprocess.Popen([mlserver, "start", folder], stdout=log, stderr=log, cwd=folder)


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_wrk(text):
    def ms(value):
        number, unit = re.match(r"([\d.]+)(us|ms|s|m)", value).groups()
        return float(number) * UNITS[unit]

    result = {
        "p50_ms": ms(re.search(r"^\s*50%\s+(\S+)", text, re.M).group(1)),
        "p99_ms": ms(re.search(r"^\s*99%\s+(\S+)", text, re.M).group(1)),
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        "requests": int(re.search(r"(\d+) requests in", text).group(1)),
    }
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    socket_errors = re.search(r"Socket errors:.*", text)
    result["errors"] = int(errors.group(1)) if errors else 0
    if socket_errors:
        result["socket_errors"] = socket_errors.group(0)
    return result


def wrk(url, body_file, concurrency, duration):
    script = body_file + ".lua"
    with open(body_file, "rb") as f:
        body = f.read().decode()
    with open(script, "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                "wrk.body = [==[%s]==]\n" % body)
    command = ["wrk", "-t1", "-c%d" % concurrency, "-d%ds" % duration, "--latency", "-s", script,
               url + "/v2/models/%s/infer" % MODEL_NAME]
    # Warm-up, then the measured run.
    subprocess.run(command[:3] + ["-d2s"] + command[4:], check=True, capture_output=True)
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return parse_wrk(output)


def check_answer(url, body, reference):
    status, raw = http("POST", url + "/v2/models/%s/infer" % MODEL_NAME, body)
    if status != 200:
        raise RuntimeError("inference failed (%s): %s" % (status, raw[:300]))
    outputs = {o["name"]: o for o in json.loads(raw)["outputs"]}
    probabilities = [float(p) for p in outputs["probabilities"]["data"]]
    if reference is not None:
        worst = max(abs(a - b) for a, b in zip(probabilities, reference))
        if worst > 1e-5:
            raise RuntimeError("answers differ from lepton-runner's by %s" % worst)
    return probabilities


def machine():
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "load_average_at_start": os.getloadavg(),
            "python": platform.python_version()}


def write_markdown(results, path):
    floor = results["floor"]
    lines = [
        "# Serving benchmark",
        "",
        "Written by `make bench-serve` (bench/serve_bench.py) on %s; raw figures in "
        "bench/results/serve.json." % results["date"],
        "",
        "Model: lepton-runner's gbdt on Default.csv (%s, %d bytes). Every server runs it with ONNX "
        "Runtime %s on one intra-op thread and gets the same Open Inference Protocol v2 JSON body. "
        "Load: `wrk -t1` in its own process, %d s per cell after a 2 s warm-up. Machine: %s, %d cores, "
        "load average %s at the start; the load generator shares the cores with the server, so "
        "absolute figures are lower than on a dedicated host." % (
            results["model"]["sha256"][:12], results["model"]["bytes"], results["onnxruntime"],
            results["duration_seconds"], results["machine"]["cpu"], results["machine"]["cores"],
            ", ".join("%.2f" % x for x in results["machine"]["load_average_at_start"])),
        "",
        "| server | rows | concurrency | p50 ms | p99 ms | requests/s | rows/s | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for rows in ROWS:
        f = floor[str(rows)]
        lines.append("| (a) in-process `ort` (floor) | %d | 1 | %.3f | %.3f | %.0f | %.0f | 0 |" % (
            rows, f["p50Us"] / 1e3, f["p99Us"] / 1e3, f["requestsPerSecond"], f["requestsPerSecond"] * rows))
    labels = {"lepton": "(b) lepton-runner serve", "kserve": "(c) KServe Python server",
              "mlserver": "(d) MLServer"}
    for server, cells in results["servers"].items():
        for cell in cells["cells"]:
            lines.append("| %s | %d | %d | %.3f | %.3f | %.0f | %.0f | %d |" % (
                labels[server], cell["rows"], cell["concurrency"], cell["p50_ms"], cell["p99_ms"],
                cell["requests_per_second"], cell["requests_per_second"] * cell["rows"], cell["errors"]))
    trip = results.get("http_round_trip")
    if trip:
        lines += ["", "An HTTP round trip that does no work (`GET /v2/health/live` on lepton-runner, concurrency 1, "
                  "same client) takes %.3f ms at the median (%.0f requests/s): at concurrency 1 every server's "
                  "throughput is bounded by its latency plus that round trip, so the throughput comparison is the "
                  "concurrency 32 rows." % (trip["p50_ms"], trip["requests_per_second"])]
    lines += ["", "Start to ready (process start to the first 200 from /v2/models/%s/ready):" % MODEL_NAME, ""]
    for server, cells in results["servers"].items():
        lines.append("- %s: %.3f s" % (labels[server], cells["ready_seconds"]))
    for server, reason in results.get("failures", {}).items():
        lines.append("- %s: failed: %s" % (labels[server], reason))
    goals = results.get("goals")
    if goals:
        lines += ["", "Goals:", ""]
        for goal in goals:
            lines.append("- %s: %s (%s)" % (goal["goal"], "met" if goal["met"] else "NOT met", goal["detail"]))
    lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def goals(results):
    out = []
    lepton = {(c["rows"], c["concurrency"]): c for c in results["servers"].get("lepton", {}).get("cells", [])}
    floor = results["floor"]["1"]
    if (1, 1) in lepton:
        limit = 1.3 * floor["p50Us"] / 1e3 + 0.150
        got = lepton[(1, 1)]["p50_ms"]
        out.append({"goal": "single-row p50 <= 1.3 x floor + 150 us", "met": got <= limit,
                    "detail": "%.3f ms against a limit of %.3f ms" % (got, limit)})
    kserve = {(c["rows"], c["concurrency"]): c for c in results["servers"].get("kserve", {}).get("cells", [])}
    for key in sorted(set(lepton) & set(kserve)):
        ratio = lepton[key]["requests_per_second"] / max(kserve[key]["requests_per_second"], 1e-9)
        bound = " (latency-bound)" if key[1] == 1 else ""
        out.append({"goal": "throughput >= 10 x KServe (%d rows, concurrency %d)%s" % (key + (bound,)), "met": ratio >= 10,
                    "detail": "%.1f x" % ratio})
    if "lepton" in results["servers"]:
        ready = results["servers"]["lepton"]["ready_seconds"]
        out.append({"goal": "ready within 0.5 s of start", "met": ready <= 0.5, "detail": "%.3f s" % ready})
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--only", default="lepton,kserve,mlserver")
    args = parser.parse_args()
    servers = [s for s in args.only.split(",") if s]
    if shutil.which("wrk") is None:
        sys.exit("serve_bench: wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    if not os.path.exists(RUNNER):
        sys.exit("serve_bench: %s is missing: cargo build --release -p lepton-runner" % RUNNER)
    busy = subprocess.run(["pgrep", "-f", "rustc"], capture_output=True).stdout.strip()
    if busy:
        print("serve_bench: warning: rustc is running; figures will be noisy", file=sys.stderr)

    work = tempfile.mkdtemp(prefix="lepton-serve-bench-")
    model, card = train_model(work)
    bodies = {}
    for rows in ROWS:
        bodies[rows] = os.path.join(work, "request-%d.json" % rows)
        with open(bodies[rows], "wb") as f:
            f.write(request_body(rows))
    import onnxruntime
    results = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "onnxruntime": onnxruntime.__version__,
        "duration_seconds": args.duration,
        "model": {"family": card["family"], "sha256": card["onnx"]["sha256"],
                  "bytes": card["onnx"]["sizeBytes"]},
        "floor": {},
        "servers": {},
    }
    for rows in ROWS:
        out = subprocess.run([RUNNER, "serve", "--model", "file://" + model, "--intra-op-threads", "1",
                              "--measure", bodies[rows], "--measure-runs", "20000"],
                             check=True, capture_output=True, text=True).stdout
        results["floor"][str(rows)] = json.loads(out)
        print("floor, %d rows: %s" % (rows, results["floor"][str(rows)]), flush=True)

    reference = None
    for server in servers:
        port = free_port()
        url = "http://127.0.0.1:%d" % port
        log = open(os.path.join(work, server + ".log"), "w")
        started = time.monotonic()
        if server == "lepton":
            process = start_lepton(model, port, log)
        elif server == "kserve":
            process = start_kserve(model, port, work, log)
        elif server == "mlserver":
            process = start_mlserver(model, port, work, log)
        else:
            sys.exit("unknown server %s" % server)
        try:
            ready = wait_ready(url, process, started)
            answer = check_answer(url, open(bodies[64], "rb").read(), reference)
            if server == "lepton":
                reference = answer
            if server == "lepton":
                # The HTTP floor: a round trip that does no work, through the same client.
                output = subprocess.run(["wrk", "-t1", "-c1", "-d5s", "--latency", url + "/v2/health/live"],
                                        check=True, capture_output=True, text=True).stdout
                results["http_round_trip"] = parse_wrk(output)
                print("GET /v2/health/live, concurrency 1: %s" % results["http_round_trip"], flush=True)
            cells = []
            for rows in ROWS:
                for concurrency in CONCURRENCY:
                    cell = wrk(url, bodies[rows], concurrency, args.duration)
                    cell.update(rows=rows, concurrency=concurrency)
                    print("%s, %d rows, concurrency %d: %s" % (server, rows, concurrency, cell), flush=True)
                    cells.append(cell)
            results["servers"][server] = {"ready_seconds": ready, "cells": cells}
        except Exception as e:  # a server that fails is reported; the others still run
            print("%s failed: %s (log: %s)" % (server, e, log.name), file=sys.stderr)
            results.setdefault("failures", {})[server] = str(e)
        finally:
            stop(process)
            log.close()
    results["goals"] = goals(results)
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "serve.json"), "w") as f:
        json.dump(results, f, indent=1)
    os.makedirs(os.path.join(ROOT, "docs", "benchmarks"), exist_ok=True)
    write_markdown(results, os.path.join(ROOT, "docs", "benchmarks", "serving.md"))
    for goal in results["goals"]:
        print("%s: %s (%s)" % (goal["goal"], "met" if goal["met"] else "NOT met", goal["detail"]))


if __name__ == "__main__":
    main()
