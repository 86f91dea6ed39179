"""The Grafana dashboard (charts/lepton/dashboards/lepton-overview.json) against the metrics the
code exports: every metric and label a query uses must exist, with the names Prometheus sees."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "charts" / "lepton" / "dashboards" / "lepton-overview.json"
OPERATOR_METRICS = REPO / "operator" / "src" / "telemetry" / "metrics.rs"
SERVE = REPO / "runner" / "src" / "serve"
# Labels Prometheus attaches to every target it discovers in Kubernetes (ServiceMonitor and
# PodMonitor defaults); they are not in the exposition, so the code cannot list them.
TARGET_LABELS = {"namespace", "pod", "instance", "job", "service", "container", "endpoint"}
GRAFANA_VARIABLES = {"__rate_interval", "__interval", "__range", "__range_s", "__range_ms"}
STRING = r'"(?:[^"\\]|\\.)*"'


# ---------------------------------------------------------------------------------------------
# Metric families from the code: {family: (type, labels)}.


def operator_families() -> dict[str, tuple[str, set[str]]]:
    """The operator registers prometheus-client metrics; the variable passed to `register` is
    also the struct field the recording methods use."""
    text = OPERATOR_METRICS.read_text()
    types = {}
    for var, family_type, plain_type in re.findall(
        r"let\s+(\w+)\s*=\s*(?:Family::<\s*\w+\s*,\s*(\w+)\s*>|(\w+)::default\(\))", text
    ):
        types[var] = family_type or plain_type
    labels: dict[str, set[str]] = {}
    for m in re.finditer(r"self\.(\w+)\s*\.get_or_create\(\s*&(?:vec!\[(.*?)\]|(\w+))\s*\)", text,
                         re.S):
        var, body, named = m.groups()
        if named:
            # A label vector bound earlier in the same method: the nearest preceding `let`.
            bound = re.findall(rf"let\s+{named}\s*=\s*vec!\[(.*?)\];", text[: m.start()], re.S)
            assert bound, f"labels of {var}: no `let {named} = vec![...]`"
            body = bound[-1]
        labels.setdefault(var, set()).update(re.findall(r'\(\s*"(\w+)"\s*,', body))
    families = {}
    for name, var in re.findall(rf'\.register\(\s*"(\w+)",\s*{STRING},\s*(\w+)\.clone\(\)', text):
        assert types.get(var) in {"Counter", "Gauge", "Histogram"}, f"{name}: type of {var}?"
        families[name] = (types[var].lower(), labels.get(var, set()))
    return families


def runner_families() -> dict[str, tuple[str, set[str]]]:
    """The model server writes its exposition by hand (runner/src/serve/metrics.rs) and adds
    gauges from server.rs; every sample carries the `model` label."""
    metrics = (SERVE / "metrics.rs").read_text()
    server = (SERVE / "server.rs").read_text()
    common = set(re.findall(r'let labels = format!\("(\w+)=', metrics))
    assert common == {"model"}, common
    families: dict[str, tuple[str, set[str]]] = {}
    for name, kind in re.findall(r'header\(\s*&mut out,\s*"(lepton_\w+)",\s*"(\w+)"', metrics):
        line = re.search(rf'"{name}\{{\{{\{{labels\}}(.*?)\}}\}}', metrics)
        extra = set(re.findall(r'(\w+)=\\"', line.group(1))) if line else set()
        families[name] = (kind, common | extra)
    histogram_fields = set(re.findall(r"pub (\w+): Histogram,", metrics))
    for name, field in re.findall(rf'\(\s*"(lepton_\w+)",\s*{STRING},\s*&self\.(\w+),?\s*\)',
                                  metrics, re.S):
        assert field in histogram_fields, f"{name}: {field} is not a Histogram"
        families[name] = ("histogram", set(common))
    for name, body in re.findall(rf'\bg\(\s*"(lepton_\w+)",\s*{STRING},\s*vec!\[(.*?)\],', server,
                                 re.S):
        families[name] = ("gauge", common | set(re.findall(r'\(\s*"(\w+)"\s*,', body)))
    return families


def exposed(families: dict[str, tuple[str, set[str]]], suffix_total: bool) -> dict[str, set[str]]:
    """Sample names as Prometheus stores them, with their labels. prometheus-client appends
    `_total` to counters; the hand-written exposition already has it in the name."""
    names: dict[str, set[str]] = {}
    for family, (kind, labels) in families.items():
        if kind == "counter":
            names[family + "_total" if suffix_total else family] = labels
        elif kind == "histogram":
            names[family + "_bucket"] = labels | {"le"}
            names[family + "_sum"] = labels
            names[family + "_count"] = labels
        else:
            names[family] = labels
    return names


@pytest.fixture(scope="module")
def metrics() -> dict[str, set[str]]:
    return {**exposed(operator_families(), True), **exposed(runner_families(), False)}


def test_the_code_parsers_find_every_metric_family():
    # If a parser stops matching the code, the checks below would pass vacuously; this table is
    # the floor, compared with the code rather than trusted.
    assert operator_families() == {
        "lepton_operator_reconciles": ("counter", {"controller"}),
        "lepton_operator_reconcile_errors": ("counter", {"controller", "category"}),
        "lepton_operator_reconcile_duration_seconds": ("histogram", {"controller"}),
        "lepton_operator_queue_depth": ("gauge", {"controller"}),
        "lepton_operator_objects": ("gauge", {"kind", "phase"}),
        "lepton_operator_config_reloads": ("counter", {"result"}),
        "lepton_operator_model_server_scrapes": ("counter", {"result"}),
        "lepton_operator_leader": ("gauge", set()),
    }
    runner = runner_families()
    assert runner["lepton_inference_requests_total"] == ("counter", {"model", "protocol", "code"})
    assert runner["lepton_drift_psi"] == ("gauge", {"model", "feature"})
    assert runner["lepton_model_info"] == (
        "gauge", {"model", "version", "sha256", "execution_provider"},
    )
    assert set(runner) == {
        "lepton_inference_requests_total", "lepton_request_duration_seconds",
        "lepton_inference_duration_seconds", "lepton_queue_duration_seconds",
        "lepton_batch_size_rows", "lepton_in_flight_requests", "lepton_queue_depth_requests",
        "lepton_model_ready", "lepton_model_load_duration_seconds", "lepton_model_info",
        "lepton_execution_provider_fallback", "lepton_drift_threshold", "lepton_drift_score",
        "lepton_drift_psi", "lepton_drift_window_rows",
    }


def test_no_metric_in_the_serving_code_escapes_the_parser():
    known = set(runner_families())
    for path in sorted(SERVE.glob("*.rs")):
        for name in re.findall(r'"(?:# (?:HELP|TYPE) )?(lepton_[a-z0-9_]+)', path.read_text()):
            assert name in known, f"{path.name}: {name} is not recognised as a metric"


def test_the_operator_exposes_counters_with_the_total_suffix():
    # The suffix rule above is the library's; the operator's own test shows it.
    text = OPERATOR_METRICS.read_text()
    assert "prometheus_client::" in text
    assert '"lepton_operator_reconciles_total{controller=' in text


# ---------------------------------------------------------------------------------------------
# The dashboard.


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def all_panels(dashboard: dict) -> list[dict]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def queries(dashboard: dict) -> list[tuple[str, str]]:
    """(where, PromQL) of every panel target and every query variable."""
    found = []
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            found.append((f"panel {panel['title']!r} {target['refId']}", target["expr"]))
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            found.append((f"variable {variable['name']}",
                          query["query"] if isinstance(query, dict) else query))
    return found


def without_strings(expr: str) -> str:
    return re.sub(STRING, '""', expr)


def group(expr: str, start: int, step: int) -> str:
    """The parenthesised group that opens (step 1) or closes (step -1) at `start`."""
    depth = 0
    i = start
    while 0 <= i < len(expr):
        depth += {"(": 1, ")": -1}.get(expr[i], 0) * step
        if depth == 0:
            return expr[min(start, i): max(start, i) + 1]
        i += step
    raise AssertionError(f"unbalanced parentheses in {expr}")


def labels_in_scope(expr: str, metrics: dict[str, set[str]]) -> set[str]:
    labels = set(TARGET_LABELS)
    for name in re.findall(r"\blepton_\w+", expr):
        labels |= metrics.get(name, set())
    return labels


def test_the_dashboard_is_plain_json_with_identity(dashboard):
    text = DASHBOARD.read_text()
    assert "{{" not in text and "}}" not in text, "Helm would read {{ }} as a template"
    assert dashboard["uid"] == "lepton-overview"
    assert dashboard["title"] == "Lepton"
    assert dashboard["schemaVersion"] >= 39


def test_the_variables_select_a_prometheus_source_namespace_and_deployment(dashboard):
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("namespace", "deployment"):
        assert variables[name]["type"] == "query"
        assert variables[name]["query"]["query"].startswith("label_values(lepton_")
        # Grafana shows `definition` in the editor and runs `query`; they must not disagree.
        assert variables[name]["definition"] == variables[name]["query"]["query"]


def test_every_panel_has_a_unique_id_and_a_place_on_the_grid(dashboard):
    panels = all_panels(dashboard)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    boxes = []
    for panel in panels:
        pos = panel["gridPos"]
        assert all(isinstance(pos[k], int) for k in "xywh"), panel["title"]
        assert pos["w"] > 0 and pos["h"] > 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        for other, (x, y, w, h) in boxes:
            overlap = (pos["x"] < x + w and x < pos["x"] + pos["w"]
                       and pos["y"] < y + h and y < pos["y"] + pos["h"])
            assert not overlap, f"{panel['title']!r} overlaps {other!r}"
        boxes.append((panel["title"], (pos["x"], pos["y"], pos["w"], pos["h"])))


def test_the_rows_cover_the_operator_and_the_model_servers(dashboard):
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert rows == ["Operator", "Model servers"]
    text = " ".join(expr for _, expr in queries(dashboard))
    for metric in ["lepton_operator_reconciles_total", "lepton_operator_reconcile_errors_total",
                   "lepton_operator_reconcile_duration_seconds_bucket",
                   "lepton_operator_queue_depth", "lepton_operator_objects",
                   "lepton_operator_leader", "lepton_operator_config_reloads_total",
                   "lepton_operator_model_server_scrapes_total",
                   "lepton_inference_requests_total", "lepton_request_duration_seconds_bucket",
                   "lepton_inference_duration_seconds_bucket",
                   "lepton_queue_duration_seconds_bucket", "lepton_batch_size_rows_bucket",
                   "lepton_in_flight_requests", "lepton_model_ready", "lepton_drift_psi",
                   "lepton_drift_threshold", "lepton_execution_provider_fallback"]:
        assert metric in text, f"the dashboard does not chart {metric}"


def test_every_query_uses_the_selected_data_source(dashboard):
    for panel in all_panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_every_metric_a_query_uses_exists(dashboard, metrics):
    for where, expr in queries(dashboard):
        names = re.findall(r"\blepton_\w+", without_strings(expr))
        assert names, f"{where}: no Lepton metric in {expr}"
        for name in names:
            assert name in metrics, f"{where}: {name} is not exported by the code"


def test_every_label_a_query_uses_exists(dashboard, metrics):
    for where, expr in queries(dashboard):
        expr = without_strings(expr)
        for name, body in re.findall(r"(lepton_\w+)\s*\{([^}]*)\}", expr):
            for label in re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", body):
                assert label in metrics.get(name, set()) | TARGET_LABELS, (
                    f"{where}: {name} has no label {label}"
                )
        for m in re.finditer(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)",
                             expr):
            keyword, labels = m.group(1), [x.strip() for x in m.group(2).split(",") if x.strip()]
            scope = expr
            if keyword in ("by", "without"):
                after = m.end() + len(expr[m.end():]) - len(expr[m.end():].lstrip())
                if after < len(expr) and expr[after] == "(":
                    scope = group(expr, after, 1)
                else:
                    before = len(expr[: m.start()].rstrip()) - 1
                    scope = group(expr, before, -1)
            for label in labels:
                assert label in labels_in_scope(scope, metrics), (
                    f"{where}: `{keyword} ({label})` over metrics without that label: {scope}"
                )
        for m in re.finditer(r"label_values\(\s*(lepton_\w+)[^,]*,\s*(\w+)\s*\)", expr):
            assert m.group(2) in metrics[m.group(1)] | TARGET_LABELS, f"{where}: {m.group(0)}"


def test_every_variable_a_query_uses_is_defined(dashboard):
    defined = {v["name"] for v in dashboard["templating"]["list"]} | GRAFANA_VARIABLES
    for where, expr in queries(dashboard):
        for name in re.findall(r"\$\{?(\w+)", expr):
            assert name in defined, f"{where}: ${name} is not a dashboard variable"


def test_series_names_use_labels_the_queries_keep(dashboard):
    """Series are named with `${__field.labels.x}` (no `{{x}}` legends, which Helm would
    template); a label an aggregation dropped would print as nothing."""
    for panel in all_panels(dashboard):
        if panel["type"] == "row":
            continue
        config = panel["fieldConfig"]
        names = [config["defaults"].get("displayName", "")]
        for override in config["overrides"]:
            names += [p["value"] for p in override["properties"] if p["id"] == "displayName"]
        kept = set()
        for target in panel["targets"]:
            for clause in re.findall(r"\bby\s*\(([^()]*)\)", target["expr"]):
                kept |= {x.strip() for x in clause.split(",")}
        for name in names:
            for label in re.findall(r"\$\{__field\.labels\.(\w+)\}", name):
                assert label in kept, f"{panel['title']!r}: names series by {label}, not kept"


def test_every_metric_family_is_documented():
    docs = (REPO / "docs" / "observability.md").read_text()
    for family, (kind, labels) in {**operator_families(), **runner_families()}.items():
        shown = family + "_total" if kind == "counter" and not family.endswith("_total") else family
        assert f"`{shown}`" in docs, f"docs/observability.md does not describe {shown}"
