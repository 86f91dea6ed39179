#!/usr/bin/env bash
# The real-cluster end-to-end suite (`make e2e`): install Lepton with the Helm chart (or the
# plain manifests when helm is missing), run the credit-default pipeline through kubectl
# (e2e/resources.sh), and uninstall, checking that nothing is left behind.
#
# Needs LEPTON_E2E_KUBECONFIG naming a cluster that can run the operator and runner images
# (docs/install.md shows kind and k3d, with the images loaded). Other settings:
#   LEPTON_E2E_NAMESPACE     where the pipeline runs (default lepton-e2e; created and deleted)
#   LEPTON_E2E_OPERATOR_IMAGE, LEPTON_E2E_RUNNER_IMAGE  images to install (default: the
#                            chart's, ghcr.io/lepton-ai/lepton-{operator,runner}:<version>)
#   LEPTON_E2E_INSTALL       helm or manifests (default: helm when installed)
#   LEPTON_E2E_KEEP=1        leave everything installed, for a look after a failure
#   LEPTON_E2E_TIMEOUT       longest wait of each step (default 15m)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${LEPTON_E2E_KUBECONFIG:-}" ]]; then
  echo "e2e: set LEPTON_E2E_KUBECONFIG to a cluster's kubeconfig (see docs/install.md, 'End-to-end tests'); nothing was run" >&2
  exit 2
fi
export KUBECONFIG=$LEPTON_E2E_KUBECONFIG
release_namespace=lepton-system
namespace=${LEPTON_E2E_NAMESPACE:-lepton-e2e}
timeout=${LEPTON_E2E_TIMEOUT:-15m}
version=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' charts/lepton/Chart.yaml)
operator_image=${LEPTON_E2E_OPERATOR_IMAGE:-ghcr.io/lepton-ai/lepton-operator:$version}
runner_image=${LEPTON_E2E_RUNNER_IMAGE:-ghcr.io/lepton-ai/lepton-runner:$version}
install=${LEPTON_E2E_INSTALL:-$(command -v helm >/dev/null && echo helm || echo manifests)}
step() { printf '\n== %s\n' "$*"; }

# Settings are checked before anything touches the cluster.
case "$install" in
  helm) command -v helm >/dev/null || { echo "e2e: LEPTON_E2E_INSTALL=helm but helm is not installed" >&2; exit 2; } ;;
  manifests)
    if [[ -n "${LEPTON_E2E_OPERATOR_IMAGE:-}${LEPTON_E2E_RUNNER_IMAGE:-}" ]]; then
      echo "e2e: the plain manifests install the default images; use LEPTON_E2E_INSTALL=helm to install others" >&2
      exit 2
    fi
    ;;
  *)
    echo "e2e: LEPTON_E2E_INSTALL must be helm or manifests, not $install" >&2
    exit 2
    ;;
esac

step "cluster"
kubectl version
kubectl get nodes -o wide

step "install Lepton ($install)"
case "$install" in
  helm)
    helm upgrade --install lepton charts/lepton --namespace "$release_namespace" --create-namespace \
      --set image.repository="${operator_image%:*}" --set image.tag="${operator_image##*:}" \
      --set runner.image.repository="${runner_image%:*}" --set runner.image.tag="${runner_image##*:}" \
      --wait --timeout "$timeout"
    ;;
  manifests)
    kubectl apply --server-side -f deploy/install.yaml
    kubectl --namespace "$release_namespace" rollout status deployment/lepton-operator --timeout "$timeout"
    ;;
esac
kubectl wait --for=condition=Established --timeout=60s \
  crd/trainingjobs.lepton.ai crd/tuningsweeps.lepton.ai crd/modeldeployments.lepton.ai

uninstall() {
  if [[ "${LEPTON_E2E_KEEP:-0}" == 1 ]]; then
    echo "e2e: LEPTON_E2E_KEEP=1: leaving namespace $namespace and the release installed"
    return
  fi
  step "uninstall"
  kubectl delete namespace "$namespace" --ignore-not-found --wait=true --timeout="$timeout"
  if [[ "$install" == helm ]]; then
    helm uninstall lepton --namespace "$release_namespace" --wait --timeout "$timeout"
    # Helm never deletes a chart's CRDs; a clean uninstall does, once no resource is left.
    kubectl delete crd trainingjobs.lepton.ai tuningsweeps.lepton.ai modeldeployments.lepton.ai \
      --ignore-not-found --wait=true
  else
    kubectl delete -f deploy/install.yaml --ignore-not-found --wait=true --timeout="$timeout"
  fi
  kubectl delete namespace "$release_namespace" --ignore-not-found --wait=true --timeout="$timeout"
  left=$(kubectl get clusterroles,clusterrolebindings -o name | grep -E '/lepton-' || true)
  left+=$(kubectl get crd -o name | grep 'lepton.ai' || true)
  if [[ -n "$left" ]]; then
    echo "e2e: left behind after uninstall: $left" >&2
    exit 1
  fi
  echo "e2e: uninstalled; nothing of Lepton is left in the cluster"
}
trap uninstall EXIT

step "namespace $namespace with the data and artifact claims"
kubectl create namespace "$namespace" --dry-run=client -o yaml | kubectl apply -f -
kubectl label namespace "$namespace" --overwrite pod-security.kubernetes.io/enforce=restricted
kubectl --namespace "$namespace" apply -f - <<YAML
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: lepton-datasets}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: lepton-artifacts}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
# Copies the CSV files into the data claim; the runner image has tar, which kubectl cp needs.
apiVersion: v1
kind: Pod
metadata: {name: lepton-e2e-data-loader}
spec:
  restartPolicy: Never
  securityContext: {runAsNonRoot: true, runAsUser: 65532, fsGroup: 65532, seccompProfile: {type: RuntimeDefault}}
  containers:
    - name: loader
      image: $runner_image
      command: [sleep, "600"]
      securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
      volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: lepton-datasets}}]
YAML
kubectl --namespace "$namespace" wait --for=condition=Ready pod/lepton-e2e-data-loader --timeout="$timeout"
for csv in examples/data/*.csv; do
  kubectl --namespace "$namespace" cp "$csv" "lepton-e2e-data-loader:/data/$(basename "$csv")"
done
kubectl --namespace "$namespace" delete pod lepton-e2e-data-loader --wait=true

LEPTON_E2E_NAMESPACE=$namespace LEPTON_E2E_PREDICT_VIA=port-forward LEPTON_E2E_TIMEOUT=$timeout \
  e2e/resources.sh
echo "e2e: the real-cluster suite passed"
