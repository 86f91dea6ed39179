"""The end-to-end scripts' own error paths. The scripts' working path runs in CI through
`make e2e-local` (a local session) and on a real cluster through `make e2e`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((REPO / "e2e").glob("*.sh"))


def run(args, env=None, **kwargs):
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})}, **kwargs)


def test_every_script_parses():
    assert [p.name for p in SCRIPTS] == ["cluster.sh", "local.sh", "resources.sh"]
    for script in SCRIPTS:
        assert run(["bash", "-n", str(script)]).returncode == 0, script
        assert os.access(script, os.X_OK), f"{script} is not executable"


def test_shellcheck_finds_nothing_when_installed():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed: the e2e scripts were only parsed with bash -n")
    result = run([shellcheck, *map(str, SCRIPTS)])
    assert result.returncode == 0, result.stdout


def test_the_cluster_suite_refuses_to_start_without_a_kubeconfig():
    env = {k: v for k, v in os.environ.items() if k != "LEPTON_E2E_KUBECONFIG"}
    result = subprocess.run(["e2e/cluster.sh"], cwd=REPO, capture_output=True, text=True,
                            timeout=60, env=env)
    assert result.returncode == 2
    assert "set LEPTON_E2E_KUBECONFIG" in result.stderr
    assert "nothing was run" in result.stderr


@pytest.mark.parametrize(
    "env, says",
    [
        ({"LEPTON_E2E_INSTALL": "kustomize"}, "LEPTON_E2E_INSTALL must be helm or manifests, not kustomize"),
        ({"LEPTON_E2E_INSTALL": "manifests", "LEPTON_E2E_RUNNER_IMAGE": "registry.example/runner:dev"},
         "the plain manifests install the default images"),
    ],
)
def test_the_cluster_suite_checks_its_settings_before_touching_the_cluster(env, says):
    # The kubeconfig names nothing reachable: a check that ran after a cluster call would fail
    # differently.
    result = run(["e2e/cluster.sh"], env={"LEPTON_E2E_KUBECONFIG": "/nonexistent/kubeconfig", **env})
    assert result.returncode == 2, result.stderr
    assert says in result.stderr


def test_the_resource_steps_check_how_to_predict_before_applying_anything():
    result = run(["e2e/resources.sh"], env={"LEPTON_E2E_PREDICT_VIA": "carrier-pigeon",
                                            "KUBECONFIG": "/nonexistent/kubeconfig"})
    assert result.returncode == 2
    assert "LEPTON_E2E_PREDICT_VIA must be direct or port-forward, not carrier-pigeon" in result.stderr


class FakeModelServer(BaseHTTPRequestHandler):
    """Answers like a Lepton model server, or with what a test asks for."""

    inputs = [{"name": "balance"}, {"name": "income"}, {"name": "student"}]
    predict_status = 200
    last_body: dict | None = None

    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/v2/models/credit-default":
            self.reply(200, {"name": "credit-default", "inputs": type(self).inputs})
        else:
            self.reply(404, {"error": f"no model at {self.path}"})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        type(self).last_body = body
        if type(self).predict_status != 200:
            self.reply(type(self).predict_status, {"error": "input `income` must be a number"})
        else:
            self.reply(200, {"predictions": [{"label": "No"}]})


@pytest.fixture
def server():
    FakeModelServer.inputs = [{"name": "balance"}, {"name": "income"}, {"name": "student"}]
    FakeModelServer.predict_status = 200
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeModelServer)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def predict(*args):
    return run([sys.executable, "e2e/predict.py", *args], env={"LEPTON_E2E_PREDICT_ATTEMPTS": "1"})


def test_predict_sends_the_models_columns_of_the_first_row(server):
    result = predict(server, "credit-default", "examples/data/Default.csv")
    assert result.returncode == 0, result.stderr
    assert 'credit-default answered {"label": "No"}' in result.stdout
    instance = FakeModelServer.last_body["instances"][0]
    assert set(instance) == {"balance", "income", "student"}
    assert isinstance(instance["balance"], float) and instance["student"] in ("Yes", "No")


def test_predict_names_a_column_the_data_lacks(server):
    FakeModelServer.inputs = [{"name": "balance"}, {"name": "age"}]
    result = predict(server, "credit-default", "examples/data/Default.csv")
    assert result.returncode == 1
    assert "has no column 'age', which the model takes" in result.stderr


def test_predict_shows_the_servers_refusal(server):
    FakeModelServer.predict_status = 400
    result = predict(server, "credit-default", "examples/data/Default.csv")
    assert result.returncode == 1
    assert "the server answered 400" in result.stderr and "income" in result.stderr


def test_predict_reports_an_unknown_model_and_an_unreachable_server(server):
    unknown = predict(server, "nope", "examples/data/Default.csv")
    assert unknown.returncode == 1 and "answered 404" in unknown.stderr
    closed = predict("http://127.0.0.1:9", "credit-default", "examples/data/Default.csv")
    assert closed.returncode == 1 and "did not answer" in closed.stderr
    usage = predict("only-one-argument")
    assert usage.returncode == 2 and "BASE_URL" in usage.stderr
