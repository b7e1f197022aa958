#!/usr/bin/env bash
# The README's main command: installs dependencies, builds, and runs the demo.
#
# The demo starts devcluster (the local Kubernetes API server), installs the
# CRDs, enables the LiveMigration feature gate, starts migration-webhook with
# certificates from certs/gen-certs.sh, and drives it with real kubectl and
# the kubectl-migrate plugin: a refusal that explains itself, then an
# admitted migration. The node engine (which runs the libvirt migration) is a
# later issue; until then the demo writes the VMI's status as an engine would.
#
#   scripts/demo.sh            run the demo and stop everything at the end
#   scripts/demo.sh --keep     leave devcluster and the webhook running
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
PIDS=()
cleanup() {
  if ((KEEP == 0)); then
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  fi
}
trap cleanup EXIT
wait_for() {  # wait_for FILE TEXT PID
  for _ in $(seq 1 100); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { cat "$1"; exit 1; }
    sleep 0.1
  done
  echo "demo: timed out waiting for '$2' in $1" >&2
  exit 1
}

# The webhook's port is chosen first: devcluster maps the Service
# kubevirt/migration-webhook (clientConfig.service, as in a cluster) to it.
WEBHOOK_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
build/bin/devcluster --dir "$DIR" --port 0 \
  --service-endpoint "kubevirt/migration-webhook=127.0.0.1:$WEBHOOK_PORT" >"$DIR/devcluster.log" 2>&1 &
PIDS+=($!)
wait_for "$DIR/devcluster.log" "devcluster ready on" "${PIDS[-1]}"
grep "devcluster ready on" "$DIR/devcluster.log"
export KUBECONFIG=$DIR/kubeconfig KUBECACHEDIR=$DIR/kubecache PATH=$ROOT/build/bin:$PATH

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
# A step whose refusal is the point: show it, carry on.
refused() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@" || echo "(exit code $?)"; }

step kubectl apply -f manifests/crds/
step kubectl api-resources --api-group=kubevirt.io
step kubectl apply -f examples/kubevirt.yaml

certs/gen-certs.sh --service migration-webhook --namespace kubevirt --out "$DIR/certs" --ip 127.0.0.1 >/dev/null
build/bin/migration-webhook --tls-cert-file "$DIR/certs/tls.crt" --tls-private-key-file "$DIR/certs/tls.key" \
  --bind-address 127.0.0.1 --port "$WEBHOOK_PORT" --kubeconfig "$KUBECONFIG" >"$DIR/webhook.log" 2>&1 &
PIDS+=($!)
wait_for "$DIR/webhook.log" "listening on" "${PIDS[-1]}"
step kubectl apply -f "$DIR/certs/validatingwebhookconfiguration.yaml"

step kubectl apply -f examples/vmi.yaml
refused kubectl apply -f examples/vmim.yaml

echo
echo "# No engine runs the VMI yet (a later issue): write its status as the engine would."
step kubectl patch vmi vmi-fedora --subresource=status --type=merge -p \
  '{"status":{"phase":"Running","nodeName":"node01","migrationMethod":"BlockMigration","conditions":[{"type":"LiveMigratable","status":"True","reason":"Migratable","message":""}]}}'
step kubectl apply -f examples/vmim.yaml
refused kubectl migrate vmi-fedora
step kubectl get vmi,vmim
step kubectl migrate list
step kubectl describe vmim migration-job

if ((KEEP)); then
  echo
  echo "devcluster and migration-webhook keep running (pids ${PIDS[*]}). Use them with:"
  echo "  export KUBECONFIG=$KUBECONFIG PATH=$ROOT/build/bin:\$PATH"
  echo "Stop them with: kill ${PIDS[*]}"
fi
