#!/usr/bin/env bash
# The end-to-end suite's resource steps (e2e/resources.sh) against a local session started
# with `lepton up`: the same kubectl commands as on a real cluster, with the embedded API
# server, Lepton's controllers and runner processes instead of a cluster. CI runs this
# (`make e2e-local`); `make e2e` runs the same steps on a real cluster.
set -euo pipefail
cd "$(dirname "$0")/.."

lepton=${LEPTON_BIN:-${CARGO_TARGET_DIR:-target}/debug/lepton}
work=$(mktemp -d)
session=$work/session
log=$work/lepton-up.log

"$lepton" up --session-dir "$session" --volume lepton-datasets=examples/data >"$log" 2>&1 &
up=$!
stop() {
  if kill -0 "$up" 2>/dev/null; then
    kill -INT "$up"
    wait "$up" || true
  fi
}
trap 'stop; echo "lepton up said:" >&2; cat "$log" >&2' ERR
trap stop EXIT

for _ in $(seq 1 120); do
  [[ -s "$session/session.json" ]] && break
  if ! kill -0 "$up" 2>/dev/null; then
    echo "e2e: lepton up exited before the cluster was ready" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.5
done
[[ -s "$session/session.json" ]] || { echo "e2e: lepton up did not start within 60 s" >&2; exit 1; }

KUBECONFIG="$session/kubeconfig" LEPTON_E2E_TIMEOUT=${LEPTON_E2E_TIMEOUT:-5m} e2e/resources.sh

# Ctrl-C ends a session: exit status 0, and no process of it left behind.
kill -INT "$up"
status=0
wait "$up" || status=$?
if [[ $status -ne 0 ]]; then
  echo "e2e: lepton up exited with $status after Ctrl-C" >&2
  cat "$log" >&2
  exit 1
fi
if pgrep -f -- "$session" >/dev/null; then
  echo "e2e: processes of the session are still running:" >&2
  pgrep -af -- "$session" >&2
  exit 1
fi
rm -rf "$work"
echo "e2e: the local session passed the resource steps and stopped cleanly"
