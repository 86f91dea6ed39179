#!/usr/bin/env bash
# The resource steps of the end-to-end suite, against whatever cluster KUBECONFIG names: a
# real one (e2e/cluster.sh, `make e2e`) or a local session (e2e/local.sh, in CI).
#   1. apply the credit-default pipeline (TrainingJob, 12-trial ASHA TuningSweep,
#      ModelDeployment) with plain kubectl;
#   2. `kubectl wait` for Succeeded, Succeeded and Ready;
#   3. send a prediction to the deployment;
#   4. delete the pipeline and wait until the objects it made are gone.
set -euo pipefail
cd "$(dirname "$0")/.."

namespace=${LEPTON_E2E_NAMESPACE:-default}
timeout=${LEPTON_E2E_TIMEOUT:-15m}
# direct: call status.url (local sessions, or a runner inside the cluster);
# port-forward: through `kubectl port-forward` to the deployment's Service.
predict_via=${LEPTON_E2E_PREDICT_VIA:-direct}
pipeline=examples/credit-default
python=${PYTHON:-python3}

case "$predict_via" in
  direct | port-forward) ;;
  *)
    echo "e2e: LEPTON_E2E_PREDICT_VIA must be direct or port-forward, not $predict_via" >&2
    exit 2
    ;;
esac

k() { kubectl --namespace "$namespace" "$@"; }
step() { printf '\n== %s\n' "$*"; }
on_failure() {
  echo "e2e: a step failed; the resources as they stand:" >&2
  k get tj,ts,md -o wide >&2 || true
  k describe md credit-default >&2 || true
}
trap on_failure ERR

step "apply $pipeline with kubectl"
k apply --server-side --field-manager=lepton-e2e -f "$pipeline/"

step "wait for the TrainingJob, the TuningSweep and the ModelDeployment"
k wait --for=condition=Succeeded --timeout="$timeout" trainingjob/credit-default
k wait --for=condition=Succeeded --timeout="$timeout" tuningsweep/credit-default-sweep
k wait --for=condition=Ready --timeout="$timeout" modeldeployment/credit-default
k get tj,ts,md

step "predict"
url=$(k get md credit-default -o jsonpath='{.status.url}')
if [[ -z "$url" ]]; then
  echo "e2e: md/credit-default is Ready but has no status.url" >&2
  exit 1
fi
case "$predict_via" in
  direct)
    "$python" e2e/predict.py "$url" credit-default examples/data/Default.csv
    ;;
  port-forward)
    port=${LEPTON_E2E_LOCAL_PORT:-18080}
    k port-forward service/credit-default "$port:80" >/dev/null &
    forward=$!
    trap 'kill "$forward" 2>/dev/null || true' EXIT
    "$python" e2e/predict.py "http://127.0.0.1:$port" credit-default examples/data/Default.csv
    kill "$forward" 2>/dev/null || true
    ;;
esac

step "delete the pipeline"
k delete -f "$pipeline/" --wait=true --timeout="$timeout"
for kind in trainingjobs tuningsweeps modeldeployments; do
  left=$(k get "$kind" -o name)
  if [[ -n "$left" ]]; then
    echo "e2e: still there after delete: $left" >&2
    exit 1
  fi
done
echo "e2e: the resource steps passed"
