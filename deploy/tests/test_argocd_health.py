"""The Argo CD health checks of deploy/argocd, run in a real Lua 5.1 interpreter.

Argo CD runs these scripts in gopher-lua, a Lua 5.1 implementation, and for checks configured
in argocd-cm it opens only the base, table and package libraries and a reduced os library.
The runtime here is Lua 5.1 cut down further (no string, math, io, os, debug or coroutine
library, and no string methods), so a script that passes here cannot reach for anything Argo
CD leaves out.
"""

from __future__ import annotations

import copy
import math
import random
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import load_script
from lupa import lua51

GROUP = "lepton.ai"
KINDS = ("TrainingJob", "TuningSweep", "ModelDeployment")
HEALTH_STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}
REPO = Path(__file__).resolve().parents[2]
ARGOCD = REPO / "deploy" / "argocd"
GENERATOR = ARGOCD / "generate.py"

# Removes what Argo CD does not open for argocd-cm checks. The string metatable goes too: with
# the string library closed, gopher-lua has no ("x"):method() either.
SANDBOX = """
debug.setmetatable("", nil)
string, math, io, os, debug, coroutine, python = nil, nil, nil, nil, nil, nil, nil
"""


def health_dir(kind: str) -> Path:
    return ARGOCD / "health" / GROUP / kind


argocd_generate = load_script(GENERATOR, "argocd_generate")


def script_text(kind: str) -> str:
    """The check as Argo CD runs it: the shared prelude, then the kind's health.lua."""
    return argocd_generate.script(kind)


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def cases_of(kind: str) -> list[dict]:
    return load_yaml(health_dir(kind) / "health_test.yaml")["tests"]


def sandboxed_runtime() -> lua51.LuaRuntime:
    lua = lua51.LuaRuntime(register_eval=False, register_builtins=False)
    lua.execute(SANDBOX)
    return lua


def to_lua(lua: lua51.LuaRuntime, value):
    """`value` as Argo CD hands a decoded object to Lua: objects and arrays become tables
    (arrays 1-based), null becomes nil, numbers, booleans and strings stay as they are."""
    if isinstance(value, dict):
        table = lua.table()
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"object key {key!r} is not a string, which JSON cannot carry")
            table[key] = to_lua(lua, item)
        return table
    if isinstance(value, list):
        table = lua.table()
        for index, item in enumerate(value, start=1):
            table[index] = to_lua(lua, item)
        return table
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    # A YAML timestamp left unquoted, for example: the API server would send a string.
    raise TypeError(f"{value!r} ({type(value).__name__}) has no JSON form")


class HealthCheck:
    """One compiled health.lua in its own sandboxed runtime."""

    def __init__(self, kind: str):
        self.lua = sandboxed_runtime()
        self.chunk = self.lua.compile(script_text(kind))

    def __call__(self, obj) -> dict:
        self.lua.globals().obj = to_lua(self.lua, obj)
        result = self.chunk()
        assert lua51.lua_type(result) == "table", f"the script returned {result!r}, not a table"
        returned = dict(result.items())
        assert set(returned) <= {"status", "message"}, returned
        return returned


@pytest.fixture(scope="module", params=KINDS)
def kind(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def check(kind) -> HealthCheck:
    return HealthCheck(kind)


def all_cases():
    for kind in KINDS:
        for case in cases_of(kind):
            yield pytest.param(kind, case, id=f"{kind}-{Path(case['inputPath']).stem}")


@pytest.mark.parametrize("kind_of_case, case", list(all_cases()))
def test_health_test_yaml_case(kind_of_case, case):
    check = HealthCheck(kind_of_case)
    obj = load_yaml(health_dir(kind_of_case) / case["inputPath"])
    assert obj["apiVersion"] == f"{GROUP}/v1alpha1"
    assert obj["kind"] == kind_of_case
    assert check(obj) == case["healthStatus"]


def test_every_testdata_file_is_a_case(kind):
    referenced = [case["inputPath"] for case in cases_of(kind)]
    assert len(referenced) == len(set(referenced)), "a sample is listed twice"
    samples = (health_dir(kind) / "testdata").iterdir()
    on_disk = sorted(str(path.relative_to(health_dir(kind))) for path in samples)
    assert sorted(referenced) == on_disk
    assert len(on_disk) >= 6


def test_cases_use_argo_cd_statuses_and_cover_each_outcome(kind):
    statuses = {case["healthStatus"]["status"] for case in cases_of(kind)}
    assert statuses <= HEALTH_STATUSES
    assert {"Healthy", "Progressing", "Degraded"} <= statuses


def test_the_script_sets_no_globals(kind):
    check = HealthCheck(kind)
    check.lua.globals().obj = None
    before = set(check.lua.globals().keys())
    for case in cases_of(kind):
        check(load_yaml(health_dir(kind) / case["inputPath"]))
    assert set(check.lua.globals().keys()) - {"obj"} == before


# The openAPIV3Schema keywords that let a field hold keys the schema does not list.
OPEN_KEYWORDS = ("additionalProperties", "x-kubernetes-preserve-unknown-fields")


def unknown_fields(value, schema: dict, path: str) -> list[str]:
    """Paths in `value` that `schema` does not declare: a misspelt field in a sample would
    otherwise go unnoticed, since the scripts read every field as optional."""
    found = []
    if isinstance(value, dict):
        properties = schema.get("properties")
        if properties is None:
            return found
        for key, item in value.items():
            if key in properties:
                found += unknown_fields(item, properties[key], f"{path}.{key}")
            elif not any(schema.get(keyword) for keyword in OPEN_KEYWORDS):
                found.append(f"{path}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found += unknown_fields(item, schema["items"], f"{path}[{index}]")
    return found


def test_samples_match_the_crd_schema(kind):
    crd = load_yaml(REPO / "crds" / f"{GROUP}_{kind.lower()}s.yaml")
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")
    schema = version["schema"]["openAPIV3Schema"]
    for case in cases_of(kind):
        obj = load_yaml(health_dir(kind) / case["inputPath"])
        jsonschema.Draft4Validator(schema).validate(obj)
        for part in ("spec", "status"):
            if part in obj:
                assert unknown_fields(obj[part], schema["properties"][part], part) == [], case
        for condition in obj.get("status", {}).get("conditions", []):
            assert condition["observedGeneration"] == obj["status"]["observedGeneration"]


# Objects the CRD's schema would refuse still get a status and a message, never a Lua error.
MALFORMED = [
    ({}, "Progressing", "Waiting for the operator to report status"),
    ({"status": "Succeeded"}, "Unknown", "status is not an object"),
    ({"status": 3}, "Unknown", "status is not an object"),
    ({"status": {"conditions": "Ready"}}, "Unknown", "status.conditions is not a list"),
    ({"status": {"conditions": 7}}, "Unknown", "status.conditions is not a list"),
    (
        {"metadata": "x", "status": {}},
        "Progressing",
        "Waiting for the operator to report conditions",
    ),
    (
        {"metadata": {"generation": "2"}, "status": {"observedGeneration": 1, "conditions": []}},
        "Progressing",
        "Waiting for the operator to observe generation 2",
    ),
]


@pytest.mark.parametrize("obj, status, message", MALFORMED)
def test_malformed_objects(check, obj, status, message):
    assert check(obj) == {"status": status, "message": message}


def conditions(*entries) -> dict:
    """A status with conditions given as (type, status, reason, message); None leaves out."""
    keys = ("type", "status", "reason", "message")
    return {
        "conditions": [
            {key: value for key, value in zip(keys, entry) if value is not None}
            for entry in entries
        ]
    }


# The fallbacks for statuses the operator does not write today (a missing field, a condition
# without its usual companions), which the realistic samples therefore cannot reach.
FALLBACKS = [
    (
        "TrainingJob",
        {"status": conditions(("Created", "True", "JobCreated", "created Job x"))},
        "Progressing",
        "Waiting for the training pod to start",
    ),
    (
        "TrainingJob",
        {"status": conditions(("Stopped", "True", None, None))},
        "Suspended",
        "Stopped on request",
    ),
    (
        "TrainingJob",
        {"status": conditions(("Succeeded", "True", "TrainingCompleted", "trained"))},
        "Healthy",
        "trained",
    ),
    (
        "TuningSweep",
        {"status": conditions()},
        "Progressing",
        "Waiting for the operator to accept the sweep",
    ),
    (
        "TuningSweep",
        {"status": conditions(("Created", "True", "SweepCreated", "2 parameters"))},
        "Progressing",
        "Creating the first trials",
    ),
    (
        "TuningSweep",
        {
            "spec": {"maxTrials": 12},
            "status": {
                "trials": {"created": 5, "running": 1, "succeeded": 3, "failed": 1},
                **conditions(("Running", "True", "TrialsRunning", "1 running")),
            },
        },
        "Progressing",
        "4/12 trials finished, 1 running",
    ),
    (
        "TuningSweep",
        {"status": conditions(("Running", "True", "TrialsRunning", "1 running"))},
        "Progressing",
        "TrialsRunning: 1 running",
    ),
    (
        "TuningSweep",
        {"status": conditions(("Succeeded", "True", "GoalReached", "done"))},
        "Healthy",
        "GoalReached: done",
    ),
    ("ModelDeployment", {"status": conditions()}, "Progressing", "Waiting for a serving pod"),
    (
        "ModelDeployment",
        {"status": conditions(("Ready", "True", "EndpointReady", "1 of 1 pod(s) ready"))},
        "Healthy",
        "EndpointReady: 1 of 1 pod(s) ready",
    ),
    (
        "ModelDeployment",
        {"status": conditions(("Ready", "False", "ReplicasUnavailable", "0 of 1 pod(s) ready"))},
        "Progressing",
        "ReplicasUnavailable: 0 of 1 pod(s) ready",
    ),
]


@pytest.mark.parametrize("kind_of_case, obj, status, message", FALLBACKS)
def test_fallbacks(kind_of_case, obj, status, message):
    assert HealthCheck(kind_of_case)(obj) == {"status": status, "message": message}


JUNK = [
    None,
    "",
    "True",
    "Ready",
    0,
    -1,
    2.5,
    1e300,
    -1e306,
    math.nan,
    math.inf,
    True,
    False,
    [],
    {},
    ["Ready"],
    [1, 2],
    {"type": "Ready", "status": "True"},
    [{"type": 1, "status": True, "reason": 2, "message": []}],
]


def paths(value, prefix=()):
    """Every path into `value`'s objects and arrays."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, item in items:
        yield prefix + (key,)
        yield from paths(item, prefix + (key,))


def replaced(obj, path, junk):
    mutated = copy.deepcopy(obj)
    parent = mutated
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = copy.deepcopy(junk)
    return mutated


def test_no_field_of_any_type_makes_the_script_fail(kind, check):
    """Every field of every sample replaced by values of every other type."""
    runs = 0
    for case in cases_of(kind):
        obj = load_yaml(health_dir(kind) / case["inputPath"])
        for path in paths(obj):
            if path[0] not in ("metadata", "spec", "status"):
                continue
            for junk in JUNK:
                mutated = replaced(obj, path, junk)
                try:
                    result = check(mutated)
                except lua51.LuaError as error:
                    pytest.fail(f"{case['inputPath']} with {path} = {junk!r}: {error}")
                assert result.get("status") in HEALTH_STATUSES, (path, junk, result)
                assert isinstance(result.get("message"), str) and result["message"], (path, junk)
                assert not re.search(r"\b-?(nan|inf)\b", result["message"], re.I), (path, junk)
                runs += 1
    assert runs > 1000


def test_combinations_of_odd_fields_never_fail(kind, check):
    """Several fields replaced at once, chosen by a seeded generator so failures reproduce:
    single replacements miss interactions such as two counts that overflow when added."""
    chooser = random.Random(20250302)
    samples = [load_yaml(health_dir(kind) / case["inputPath"]) for case in cases_of(kind)]
    extremes = JUNK + [1e308, -1e308, 1.7976931348623157e308]
    for _ in range(2000):
        obj = copy.deepcopy(chooser.choice(samples))
        for _ in range(chooser.randint(2, 5)):
            candidates = [p for p in paths(obj) if p[0] in ("metadata", "spec", "status")]
            if not candidates:
                break
            obj = replaced(obj, chooser.choice(candidates), chooser.choice(extremes))
        try:
            result = check(obj)
        except lua51.LuaError as error:
            pytest.fail(f"{obj!r}: {error}")
        assert result.get("status") in HEALTH_STATUSES, (obj, result)
        assert isinstance(result.get("message"), str) and result["message"], obj
        assert not re.search(r"\b-?(nan|inf)\b", result["message"], re.I), (obj, result)


# Lua 5.2+ syntax and library calls that gopher-lua (5.1) or Argo CD's sandbox lacks.
FORBIDDEN = {
    "goto": r"\bgoto\b|::\w+::",
    "integer division": r"//",
    "bitwise operators": r"&|\||<<|>>|~(?!=)",
    "string library": r"\bstring\s*\.",
    "string methods": r"[\w\)\]'\"]\s*:\s*\w+\s*[\(\"'{]",
    "math library": r"\bmath\s*\.",
    "os, io, debug, coroutine, package": r"\b(os|io|debug|coroutine|package)\s*\.",
    "utf8 library": r"\butf8\s*\.",
    "string.pack": r"\bpack\b",
    "require and dynamic loading": r"\b(require|load|loadstring|loadfile|dofile)\b",
}


LONG_BRACKET = re.compile(r"(--)?\[(=*)\[")


def code_only(script: str) -> str:
    """`script` without comments and string literals, which may mention anything."""
    out = []
    i = 0
    while i < len(script):
        long_bracket = LONG_BRACKET.match(script, i)
        if long_bracket:
            close = "]" + long_bracket.group(2) + "]"
            end = script.find(close, long_bracket.end())
            assert end >= 0, "unterminated long bracket"
            out.append(" " if long_bracket.group(1) else '""')
            i = end + len(close)
        elif script.startswith("--", i):
            end = script.find("\n", i)
            i = len(script) if end < 0 else end
        elif script[i] in "'\"":
            quote = script[i]
            i += 1
            while script[i] != quote:
                assert script[i] != "\n", "unterminated string"
                i += 2 if script[i] == "\\" else 1
            i += 1
            out.append('""')
        else:
            out.append(script[i])
            i += 1
    return "".join(out)


def forbidden_in(script: str) -> list[str]:
    code = code_only(script)
    return [what for what, pattern in FORBIDDEN.items() if re.search(pattern, code)]


@pytest.mark.parametrize(
    "snippet, found",
    [
        ("local half = total // 2", ["integer division"]),
        ("local word = name:upper()", ["string methods"]),
        ('local head = ("x"):sub(1, 1)', ["string methods"]),
        ("local low = string.lower(name)", ["string library"]),
        ("local n = math.floor(x)", ["math library"]),
        ("goto done", ["goto"]),
        ("local mask = a & b", ["bitwise operators"]),
        ("local same = a ~= b", []),
        ("-- string.format, goto and a // b, in a comment\nlocal a = 1", []),
        ("--[[ math.floor(x) ]] local a = 1", []),
        ('local s = "a // b, s:upper() and string.len"', []),
        ("local s = [==[ os.time() ]==]", []),
        ("local t = { key = value[1] }", []),
    ],
)
def test_the_syntax_scan_itself(snippet, found):
    assert forbidden_in(snippet) == found


def test_scripts_use_only_what_argo_cd_provides(kind):
    code = code_only(script_text(kind))
    for what, pattern in FORBIDDEN.items():
        match = re.search(pattern, code)
        assert match is None, f"{kind}/health.lua uses {what}: {match.group(0)!r}"


def test_the_scripts_compile_as_lua_5_1(kind):
    lua = lua51.LuaRuntime(register_eval=False, register_builtins=False)
    assert lua.eval("_VERSION") == "Lua 5.1"
    lua.compile(script_text(kind))


def test_the_argocd_cm_patch_is_current():
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_the_argocd_cm_patch_carries_the_scripts_verbatim():
    path = ARGOCD / "argocd-cm-health.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Generated by `python deploy/argocd/generate.py`")
    config_map = yaml.safe_load(text)
    assert config_map["apiVersion"] == "v1"
    assert config_map["kind"] == "ConfigMap"
    assert config_map["metadata"]["name"] == "argocd-cm"
    assert config_map["metadata"]["namespace"] == "argocd"
    assert config_map["metadata"]["labels"]["app.kubernetes.io/part-of"] == "argocd"
    assert config_map["data"] == {
        f"resource.customizations.health.{GROUP}_{kind}": script_text(kind) for kind in KINDS
    }


def test_check_names_a_stale_file(tmp_path):
    output = tmp_path / "argocd-cm-health.yaml"
    run = [sys.executable, str(GENERATOR), "--output", str(output)]
    assert subprocess.run(run, cwd=REPO).returncode == 0
    assert subprocess.run(run + ["--check"], cwd=REPO).returncode == 0
    output.write_text(output.read_text(encoding="utf-8").replace("Healthy", "Degraded", 1))
    stale = subprocess.run(run + ["--check"], cwd=REPO, capture_output=True, text=True)
    assert stale.returncode == 1
    assert str(output) in stale.stderr


def applications() -> list[dict]:
    path = ARGOCD / "application.yaml"
    docs = [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    assert docs, "no Application in application.yaml"
    for doc in docs:
        assert doc["apiVersion"] == "argoproj.io/v1alpha1"
        assert doc["kind"] == "Application"
    return docs


def sources(app: dict) -> list[dict]:
    spec = app["spec"]
    return spec.get("sources") or [spec["source"]]


def test_application_sources_exist_in_the_repository():
    for app in applications():
        for source in sources(app):
            directory = REPO / source["path"]
            assert directory.is_dir(), f"{app['metadata']['name']}: no {source['path']}"
            for values in source.get("helm", {}).get("valueFiles", []):
                assert (directory / values).is_file(), values


def test_the_operator_application_installs_the_chart_first():
    apps = applications()
    chart = [app for app in apps if any(s["path"] == "charts/lepton" for s in sources(app))]
    assert len(chart) == 1
    operator = chart[0]
    assert operator["spec"]["destination"]["namespace"] == "lepton-system"
    options = operator["spec"]["syncPolicy"]["syncOptions"]
    assert "CreateNamespace=true" in options
    assert "ServerSideApply=true" in options
    assert (REPO / "charts" / "lepton" / "crds").is_dir()

    def wave(app):
        return int(app["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", "0"))

    for app in apps:
        if app is not operator:
            assert wave(app) > wave(operator), app["metadata"]["name"]
