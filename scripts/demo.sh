#!/usr/bin/env bash
# The README's main command: installs dependencies, builds, and runs the demo.
#
# Today the demo is the foundation: it starts devcluster (the local Kubernetes
# API server), installs the CRDs, enables the LiveMigration feature gate, and
# creates the example VMI and VMIM from the docs, shown with real kubectl.
# Later issues extend it with the webhook, the engines and a real migration.
#
#   scripts/demo.sh            run the demo and stop devcluster at the end
#   scripts/demo.sh --keep     leave devcluster running (prints how to use it)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
KEEP=0
[[ "${1:-}" == "--keep" ]] && KEEP=1

scripts/install-deps.sh
scripts/build.sh

DIR=$ROOT/.devcluster
rm -rf "$DIR"
mkdir -p "$DIR"
LOG=$DIR/devcluster.log
build/bin/devcluster --dir "$DIR" --port 0 >"$LOG" 2>&1 &
PID=$!
cleanup() { if ((KEEP == 0)); then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  grep -q "devcluster ready on" "$LOG" 2>/dev/null && break
  kill -0 "$PID" 2>/dev/null || { cat "$LOG"; exit 1; }
  sleep 0.1
done
grep "devcluster ready on" "$LOG"
export KUBECONFIG=$DIR/kubeconfig

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
step kubectl apply -f manifests/crds/
step kubectl api-resources --api-group=kubevirt.io
step kubectl apply -f examples/kubevirt.yaml
step kubectl apply -f examples/vmi.yaml
step kubectl apply -f examples/vmim.yaml
step kubectl get vmi,vmim
step kubectl get kubevirt -n kubevirt kubevirt -o jsonpath='{.spec.configuration.developerConfiguration.featureGates}{"\n"}'
step kubectl describe vmim migration-job

if ((KEEP)); then
  echo
  echo "devcluster keeps running (pid $PID). Use it with:"
  echo "  export KUBECONFIG=$DIR/kubeconfig"
  echo "Stop it with: kill $PID"
fi
