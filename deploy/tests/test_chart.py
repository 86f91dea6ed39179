"""The Helm chart and the plain install manifests rendered from it.

The chart is rendered with Helm's own template engine (helm-python-sdk embeds Helm's Go SDK)
and every object is checked against Kubernetes' published schemas (kubernetes-validate). The
`helm` binary, when installed, also lints and renders the chart.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from conftest import load_script
from helm_python.chart import lint
from helm_python.errors import HelmError

REPO = Path(__file__).resolve().parents[2]
generate = load_script(REPO / "deploy" / "generate.py", "install_generate")

CHART = REPO / "charts" / "lepton"
# The oldest release the chart supports (Chart.yaml's kubeVersion) and the newest schemas
# kubernetes-validate ships.
KUBERNETES_VERSIONS = ["1.31.0", "1.37.0"]
# Kinds from other projects' CRDs, which kubernetes-validate has no schema for; their shape is
# checked by the tests that enable them.
FOREIGN_KINDS = {"ServiceMonitor"}

EVERYTHING_ON = {
    "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
    "networkPolicy": {"enabled": True, "apiServerCidrs": ["10.96.0.1/32"]},
    "grafanaDashboard": {"enabled": True, "namespace": "monitoring"},
    "watchNamespaces": ["team-a", "team-b"],
    "serviceAccount": {"annotations": {"example.com/role": "lepton"}},
    "imagePullSecrets": [{"name": "registry"}],
    "runner": {"image": {"pullPolicy": "Always"}, "imagePullSecrets": ["registry"]},
    "config": {"training": {"cpu": "4", "memory": "8Gi"}, "serving": {"errorRateThreshold": 0.1}},
}


def render(values: dict | None = None, namespace: str = "lepton-system") -> list[dict]:
    return generate.documents(generate.render(values, namespace=namespace))


def render_error(values: dict) -> str:
    with pytest.raises(HelmError) as raised:
        generate.render(values)
    return str(raised.value)


def find(objects: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(objects: list[dict], kind: str, name: str | None = None) -> dict:
    found = find(objects, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def operator_pod(objects: list[dict]) -> dict:
    return one(objects, "Deployment")["spec"]["template"]["spec"]


def restricted_violations(pod: dict) -> list[str]:
    """What keeps a pod spec out of the Pod Security Standards' `restricted` level."""
    problems = []
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            problems.append(f"{field} is set")
    for volume in pod.get("volumes", []):
        allowed = {"name", "configMap", "secret", "emptyDir", "projected", "downwardAPI",
                   "persistentVolumeClaim", "csi", "ephemeral"}
        if set(volume) - allowed:
            problems.append(f"volume {volume['name']} is of a kind restricted forbids")
    pod_context = pod.get("securityContext", {})
    for container in pod.get("initContainers", []) + pod.get("containers", []):
        context = container.get("securityContext", {})
        name = container["name"]
        if not (context.get("runAsNonRoot") or pod_context.get("runAsNonRoot")):
            problems.append(f"{name}: runAsNonRoot is not true")
        if context.get("runAsUser", pod_context.get("runAsUser")) == 0:
            problems.append(f"{name}: runs as user 0")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        if context.get("privileged"):
            problems.append(f"{name}: privileged")
        if context.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{name}: capabilities do not drop ALL")
        if set(context.get("capabilities", {}).get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities")
        seccomp = context.get("seccompProfile", pod_context.get("seccompProfile", {}))
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile is not RuntimeDefault or Localhost")
        if any("hostPort" in port for port in container.get("ports", [])):
            problems.append(f"{name}: uses a hostPort")
    return problems


def test_the_plain_install_manifests_are_rendered_from_the_chart():
    committed = (REPO / "deploy" / "install.yaml").read_text()
    assert committed == generate.install_yaml(), "deploy/install.yaml is stale: run `make manifests`"


def test_generate_check_fails_on_a_stale_file(tmp_path, monkeypatch):
    stale = tmp_path / "install.yaml"
    stale.write_text("# an old copy\n")
    monkeypatch.setattr(generate, "OUTPUT", stale)
    monkeypatch.setattr(generate, "REPO", tmp_path)
    monkeypatch.setattr(sys, "argv", ["generate.py", "--check"])
    assert generate.main() == 1
    monkeypatch.setattr(sys, "argv", ["generate.py"])
    assert generate.main() == 0
    monkeypatch.setattr(sys, "argv", ["generate.py", "--check"])
    assert generate.main() == 0


def test_the_charts_crds_are_the_generators():
    generated = sorted((REPO / "crds").glob("*.yaml"))
    in_chart = sorted((CHART / "crds").glob("*.yaml"))
    assert [p.name for p in generated] == [p.name for p in in_chart]
    assert len(generated) == 3
    for source, copy in zip(generated, in_chart):
        assert source.read_text() == copy.read_text(), f"{copy} differs from {source}: run `make crds`"
    kinds = {yaml.safe_load(p.read_text())["spec"]["names"]["kind"] for p in in_chart}
    assert kinds == {"TrainingJob", "TuningSweep", "ModelDeployment"}


def test_the_install_file_holds_the_crds_and_the_operator_in_install_order():
    objects = list(yaml.safe_load_all((REPO / "deploy" / "install.yaml").read_text()))
    kinds = [o["kind"] for o in objects]
    assert kinds[0] == "Namespace"
    assert kinds[1:4] == ["CustomResourceDefinition"] * 3
    assert kinds.index("ServiceAccount") < kinds.index("Deployment")
    assert kinds.index("ConfigMap") < kinds.index("Deployment")
    namespace = objects[0]["metadata"]
    assert namespace["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for o in objects[4:]:
        if o["kind"] not in ("ClusterRole", "ClusterRoleBinding"):
            assert o["metadata"]["namespace"] == "lepton-system", o["metadata"]["name"]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_install_file_matches_kubernetes_schemas(version):
    for o in yaml.safe_load_all((REPO / "deploy" / "install.yaml").read_text()):
        kubernetes_validate.validate(o, version, strict=True)


CASES = {
    "defaults": {},
    "everything-on": EVERYTHING_ON,
    "one-replica": {"replicaCount": 1, "leaderElection": {"enabled": False}},
    "existing-account": {"serviceAccount": {"create": False, "name": "ml-platform"}},
    "no-aggregation": {"rbac": {"aggregateToDefaultRoles": False}, "metrics": {"service": {"enabled": False}}},
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendering_matches_kubernetes_schemas(case, version):
    objects = render(CASES[case])
    assert objects
    for o in objects:
        if o["kind"] in FOREIGN_KINDS:
            continue
        try:
            kubernetes_validate.validate(o, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{case}: {o['kind']}/{o['metadata']['name']} is invalid for {version}: {error}")


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_operator_pod_meets_the_restricted_pod_security_standard(case):
    assert restricted_violations(operator_pod(render(CASES[case]))) == []


def test_the_restricted_check_catches_each_violation():
    pod = operator_pod(render())
    assert restricted_violations(pod) == []
    container = pod["containers"][0]
    for change, expected in [
        (lambda p: p.update(hostNetwork=True), "hostNetwork is set"),
        (lambda p: container["securityContext"].update(allowPrivilegeEscalation=True), "allowPrivilegeEscalation"),
        (lambda p: container["securityContext"]["capabilities"].update(drop=[]), "drop ALL"),
        (lambda p: p["securityContext"].update(runAsNonRoot=False), "runAsNonRoot"),
        (lambda p: p["securityContext"].pop("seccompProfile"), "seccompProfile"),
        (lambda p: p["volumes"].append({"name": "host", "hostPath": {"path": "/"}}), "volume host"),
    ]:
        broken = yaml.safe_load(yaml.safe_dump(pod))
        container = broken["containers"][0]
        change(broken)
        assert any(expected in problem for problem in restricted_violations(broken)), expected


def test_the_operator_deployment_is_highly_available_and_probed():
    objects = render()
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert "--leader-elect=true" in container["args"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"]["cpu"] == "100m"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mount = container["volumeMounts"][0]
    assert "subPath" not in mount, "a subPath mount is never updated, so the config would not reload"
    assert one(objects, "PodDisruptionBudget")["spec"]["minAvailable"] == 1
    lease = one(objects, "Role", "lepton-operator-leader-election")
    assert lease["rules"] == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                               "verbs": ["get", "create", "update"]}]
    single = render(CASES["one-replica"])
    assert find(single, "PodDisruptionBudget") == []
    assert find(single, "Role", "lepton-operator-leader-election") == []
    assert "--leader-elect=false" in operator_pod(single)["containers"][0]["args"]


def test_watching_a_namespace_list_grants_roles_there_and_nothing_cluster_wide():
    cluster = render()
    operator_rules = one(cluster, "ClusterRole", "lepton-operator")["rules"]
    objects = render({"watchNamespaces": ["team-a", "team-b"]})
    assert find(objects, "ClusterRole", "lepton-operator") == []
    assert find(objects, "ClusterRoleBinding") == []
    roles = [r for r in find(objects, "Role", "lepton-operator")]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    for role in roles:
        assert role["rules"] == operator_rules
    bindings = find(objects, "RoleBinding", "lepton-operator")
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["team-a", "team-b"]
    for binding in bindings:
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "lepton-operator",
                                        "namespace": "lepton-system"}]
    assert "--namespaces=team-a,team-b" in operator_pod(objects)["containers"][0]["args"]


def test_the_operator_holds_no_secret_access_and_no_wildcards():
    for o in render(EVERYTHING_ON) + render():
        for rule in o.get("rules", []):
            assert "secrets" not in rule["resources"], o["metadata"]["name"]
            assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], o["metadata"]["name"]


def test_the_config_map_carries_node_pools_prices_and_runner_images():
    config = yaml.safe_load(one(render(), "ConfigMap")["data"]["config.yaml"])
    assert [p["name"] for p in config["nodePools"]] == ["cpu-small", "cpu", "gpu"]
    assert config["defaultNodePool"] == "cpu-small"
    assert config["runner"] == {"image": "ghcr.io/lepton-ai/lepton-runner:0.1.0",
                                "cudaImage": "ghcr.io/lepton-ai/lepton-runner:0.1.0-cuda"}
    custom = yaml.safe_load(one(render({
        "runner": {"image": {"repository": "registry.example/ml/runner", "tag": "1.2.3", "cudaTag": "1.2.3-cu12"},
                   "imagePullSecrets": ["pull"]},
        "config": {"nodePools": [{"name": "a100", "gpuType": "A100", "pricePerGpuHour": 3.67,
                                  "nodeSelector": {"pool": "a100"}}],
                   "defaultNodePool": "a100", "currency": "EUR", "serving": {"cpu": "500m"}},
    }), "ConfigMap")["data"]["config.yaml"])
    assert custom["runner"] == {"image": "registry.example/ml/runner:1.2.3",
                                "cudaImage": "registry.example/ml/runner:1.2.3-cu12",
                                "imagePullSecrets": ["pull"]}
    assert custom["nodePools"] == [{"name": "a100", "gpuType": "A100", "pricePerGpuHour": 3.67,
                                    "nodeSelector": {"pool": "a100"}}]
    assert custom["currency"] == "EUR"
    assert custom["serving"] == {"cpu": "500m"}


def test_every_example_names_a_node_pool_the_chart_defines():
    pools = {p["name"] for p in yaml.safe_load(one(render(), "ConfigMap")["data"]["config.yaml"])["nodePools"]}
    named = set()
    for path in sorted((REPO / "examples").rglob("*.yaml")):
        text = path.read_text()
        for line in text.splitlines():
            if line.strip().startswith("nodePool:"):
                named.add(line.split(":", 1)[1].strip())
    assert named, "the examples name no node pool; this test would check nothing"
    assert named <= pools, f"examples name pools {sorted(named - pools)} the chart does not define"


@pytest.mark.parametrize(
    "values, says",
    [
        ({"bogus": 1}, "additional properties 'bogus' not allowed"),
        ({"replicaCount": 0}, "/replicaCount"),
        ({"logFormat": "yaml"}, "/logFormat"),
        ({"metrics": {"port": 80}}, "/metrics/port"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
        ({"watchNamespaces": ["Team_A"]}, "/watchNamespaces/0"),
        ({"config": {"runner": {"image": "x"}}}, "additional properties 'runner' not allowed"),
        ({"config": {"nodePools": [{"name": "Bad_Name"}]}}, "/config/nodePools/0/name"),
        ({"config": {"nodePools": [{"name": "a", "pricePerNodeHour": -1}]}}, "/config/nodePools/0/pricePerNodeHour"),
        ({"config": {"nodePools": [{"name": "a", "pricePerGpuHour": "cheap"}]}}, "/config/nodePools/0/pricePerGpuHour"),
        ({"config": {"nodePools": [{"name": "a", "nodeSelecter": {}}]}}, "'nodeSelecter' not allowed"),
        ({"config": {"nodePools": [{"pricePerNodeHour": 1}]}}, "missing property 'name'"),
        ({"config": {"currency": "usd"}}, "/config/currency"),
        ({"config": {"artifactStore": "http://models"}}, "/config/artifactStore"),
        ({"config": {"training": {"memory": "4 GB"}}}, "/config/training/memory"),
        ({"config": {"serving": {"errorRateThreshold": 0}}}, "/config/serving/errorRateThreshold"),
        ({"config": {"serving": {"scrapeIntervalSeconds": 0.01}}}, "/config/serving/scrapeIntervalSeconds"),
        ({"runner": {"imagePullSecrets": [{"name": "pull"}]}}, "/runner/imagePullSecrets/0"),
        ({"serviceMonitor": {"interval": "often"}}, "/serviceMonitor/interval"),
        ({"resources": {"requests": {"cpu": "lots"}}}, "/resources/requests/cpu"),
    ],
)
def test_the_values_schema_rejects_bad_values_naming_the_key(values, says):
    assert says in render_error(values)


@pytest.mark.parametrize(
    "values, says",
    [
        ({"config": {"nodePools": [{"name": "a"}, {"name": "a"}]}},
         'config.nodePools[1].name: "a" is defined twice'),
        ({"config": {"defaultNodePool": "h100"}},
         'config.defaultNodePool: "h100" is not one of config.nodePools (cpu-small, cpu, gpu)'),
        ({"config": {"nodePools": [{"name": "a", "pricePerNodeHour": 1, "pricePerGpuHour": 2}], "defaultNodePool": "a"}},
         "config.nodePools[0] (a): set pricePerGpuHour or pricePerNodeHour, not both"),
        ({"leaderElection": {"enabled": False}},
         "leaderElection.enabled: must be true with replicaCount 2"),
        ({"podDisruptionBudget": {"minAvailable": 2}},
         "podDisruptionBudget.minAvailable: 2 with replicaCount 2 would block every node drain"),
        ({"serviceAccount": {"create": False}},
         "serviceAccount.name: name an existing ServiceAccount"),
        ({"serviceMonitor": {"enabled": True}, "metrics": {"service": {"enabled": False}}},
         "serviceMonitor.enabled: needs metrics.service.enabled=true"),
    ],
)
def test_references_between_values_are_checked_with_a_clear_message(values, says):
    assert says in render_error(values)


def test_optional_objects_appear_only_when_enabled():
    assert {o["kind"] for o in render()} == {
        "ServiceAccount", "ConfigMap", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
        "Service", "Deployment", "PodDisruptionBudget"}
    objects = render(EVERYTHING_ON)
    monitors = find(objects, "ServiceMonitor")
    assert [m["metadata"]["name"] for m in monitors] == ["lepton-operator", "lepton-model-servers"]
    for monitor in monitors:
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert monitor["metadata"]["labels"]["release"] == "prometheus"
        assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitors[1]["spec"]["namespaceSelector"] == {"matchNames": ["team-a", "team-b"]}
    policy = one(objects, "NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    egress_ports = [p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])]
    assert 53 in egress_ports and 443 in egress_ports and 6443 in egress_ports
    dashboard = one(objects, "ConfigMap", "lepton-dashboard")
    assert dashboard["metadata"]["namespace"] == "monitoring"
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["data"]["lepton-overview.json"].strip().startswith("{")


def test_notes_say_what_to_do_next():
    notes = generate.render()["lepton/templates/NOTES.txt"]
    assert "rollout status deployment/lepton-operator" in notes
    assert "cpu-small: 0.085 per node-hour [default]" in notes
    assert "gpu (A10G): 1.01 per GPU-hour" in notes
    assert "PersistentVolumeClaim named `lepton-artifacts`" in notes
    assert "kubectl wait --for=condition=Ready md/credit-default" in notes
    s3 = generate.render({"config": {"artifactStore": "s3://models/lepton"}})["lepton/templates/NOTES.txt"]
    assert "Models are written to s3://models/lepton" in s3


def test_helm_lint_finds_no_problem():
    report = lint(CHART, strict=True, namespace="lepton-system", kube_version="v1.31.0")
    problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    assert problems == []


def test_the_charts_kube_version_is_one_that_accepts_its_crds():
    # selectableFields entered the API in 1.30 behind an alpha feature gate (off by default,
    # so the field would be dropped); 1.31 turned it on. Schemas cannot show the gate, so the
    # check is that 1.29 rejects the CRDs and the claimed release accepts them.
    claimed = yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"]
    assert claimed == ">=1.31.0-0"
    crds = [yaml.safe_load(p.read_text()) for p in sorted((CHART / "crds").glob("*.yaml"))]
    for crd in crds:
        kubernetes_validate.validate(crd, "1.31.0", strict=True)
    with pytest.raises(kubernetes_validate.ValidationError, match="selectableFields"):
        for crd in crds:
            kubernetes_validate.validate(crd, "1.29.0", strict=True)


def test_the_helm_binary_lints_and_renders_the_chart_when_installed():
    helm = shutil.which("helm")
    if helm is None:
        pytest.skip("helm is not installed: `helm lint` and `helm template` were not run "
                    "(the chart was rendered and linted above through Helm's Go SDK)")
    subprocess.run([helm, "lint", "--strict", str(CHART)], check=True)
    out = subprocess.run([helm, "template", "lepton", str(CHART), "--namespace", "lepton-system"],
                         check=True, capture_output=True, text=True).stdout
    kinds = sorted(o["kind"] for o in yaml.safe_load_all(out) if o)
    assert kinds == sorted(o["kind"] for o in render())
