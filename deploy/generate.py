"""Writes deploy/install.yaml, the plain install manifests, by rendering charts/lepton.

The chart is the one source: this renders it with its default values through Helm's own
template engine (the helm-python-sdk package, which embeds Helm's Go SDK), so the plain
manifests cannot say anything the chart does not.

    python deploy/generate.py           # rewrite deploy/install.yaml
    python deploy/generate.py --check   # exit 1 when the committed file is stale
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "charts" / "lepton"
OUTPUT = REPO / "deploy" / "install.yaml"
RELEASE = "lepton"
NAMESPACE = "lepton-system"

HEADER = """\
# Lepton's plain install manifests: the CRDs, then the operator in namespace lepton-system.
# Generated from charts/lepton with its default values by `make manifests`; do not edit.
# Install with server-side apply, which keeps no copy of each object in an annotation (the
# largest CRD is 42 KB of JSON, and client-side apply stops working at 256 KiB):
#   kubectl apply --server-side -f deploy/install.yaml
# Node pools and prices are in the ConfigMap lepton-operator-config (docs/install.md).
"""

# Restricted Pod Security for the operator's namespace: the operator runs as non-root with
# no capabilities, so the strictest level admits it.
NAMESPACE_OBJECT = {
    "apiVersion": "v1",
    "kind": "Namespace",
    "metadata": {
        "name": NAMESPACE,
        "labels": {
            "app.kubernetes.io/part-of": "lepton",
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
        },
    },
}

# Helm installs templates in this order too (CRDs first, from crds/), so that `kubectl
# apply -f` of the file meets no reference to something not yet created.
KIND_ORDER = [
    "Namespace",
    "CustomResourceDefinition",
    "ServiceAccount",
    "ConfigMap",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "Service",
    "Deployment",
    "PodDisruptionBudget",
]


def render(values: dict | None = None, *, name: str = RELEASE, namespace: str = NAMESPACE) -> dict[str, str]:
    """The chart's templates rendered offline: template path -> manifest text."""
    from helm_python.chart import Chart

    with Chart.load(CHART) as chart:
        return chart.render(values=values, name=name, namespace=namespace, is_install=True)


def documents(rendered: dict[str, str]) -> list[dict]:
    """Every Kubernetes object in the rendered templates (NOTES.txt and empty ones left out)."""
    objects = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def crds() -> list[tuple[str, str]]:
    """The chart's CRDs (written by `make crds`), by file name."""
    return [(p.name, p.read_text()) for p in sorted((CHART / "crds").glob("*.yaml"))]


def kind_rank(kind: str) -> int:
    """Where a kind goes in the install file: known kinds in KIND_ORDER, others last."""
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


def install_yaml() -> str:
    """The whole plain install file."""
    rendered = render()
    sections = [("generated", yaml.safe_dump(NAMESPACE_OBJECT, sort_keys=False))]
    sections += [(f"crds/{name}", text) for name, text in crds()]
    templates = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        # Each document keeps its text, comments included; parsing only finds its kind.
        for chunk in re.split(r"^---\s*$", text, flags=re.MULTILINE):
            doc = yaml.safe_load(chunk)
            if doc:
                templates.append((path.split("/", 1)[1], doc["kind"], chunk))
    templates.sort(key=lambda item: (kind_rank(item[1]), item[0]))
    sections += [(path, chunk) for path, _, chunk in templates]
    body = "".join(f"---\n# Source: {source}\n{text.strip()}\n" for source, text in sections)
    return HEADER + body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when deploy/install.yaml is stale")
    args = parser.parse_args()
    text = install_yaml()
    if args.check:
        current = OUTPUT.read_text() if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(REPO)} is stale: run `make manifests` and commit it", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
