#!/usr/bin/env bash
# The README's main command: installs the Debian packages, builds, and shows the whole product on
# this one machine: a local cluster (devcluster), two libvirt nodes (node01, node02), the
# migration-webhook and one migration-engine per node; a real VM moved from node01 to node02
# while it runs, a refusal that explains itself, a forecast that a busy VM will not converge,
# and a cancel. Every status shown is written by the engines.
#
#   scripts/demo.sh            run the demo and stop everything at the end
#   scripts/demo.sh --keep     leave the cluster running and print how to use it
#   scripts/demo.sh --down     stop a cluster left running by --keep
#
# Needs root (the libvirt nodes run in mount namespaces, tests/e2e/nodes.sh). Its state and logs
# are in .devcluster/ (devcluster.log, webhook.log, engine-node01.log, engine-node02.log).
# For its own end-to-end test (tests/e2e/demo_test.sh) the environment may set KM_DEMO_DIR (the
# state directory), KM_BIN_DIR (the binaries, then nothing is installed or built) and
# KM_E2E_NODE01_PORT/KM_E2E_NODE02_PORT/KM_E2E_NODE0[12]_MIGRATION_PORTS.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DIR=${KM_DEMO_DIR:-$ROOT/.devcluster}
BIN=${KM_BIN_DIR:-$ROOT/build/bin}
GUEST=$(dirname "$BIN")/e2e-guest
MODE=run
case "${1:-}" in
  "") ;;
  --keep) MODE=keep ;;
  --down) MODE=down ;;
  -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "demo.sh: unknown argument '$1' (use --keep, --down or --help)" >&2; exit 2 ;;
esac

# The demo's own ports and state, apart from the tests' (tests/e2e/CMakeLists.txt).
export KM_E2E_STATE_DIR=$DIR/nodes
export KM_E2E_NODE01_PORT=${KM_E2E_NODE01_PORT:-17301} KM_E2E_NODE02_PORT=${KM_E2E_NODE02_PORT:-17302}
export KM_E2E_NODE01_MIGRATION_PORTS=${KM_E2E_NODE01_MIGRATION_PORTS:-50400-50449}
export KM_E2E_NODE02_MIGRATION_PORTS=${KM_E2E_NODE02_MIGRATION_PORTS:-50450-50499}
export KM_E2E_CAPS_CACHE=$GUEST/caps-cache
NODES=tests/e2e/nodes.sh

# stop_all: the processes of a run (pids in $DIR/pids), then the two libvirt nodes.
stop_all() {
  if [[ -f $DIR/pids ]]; then
    local p
    for p in $(cat "$DIR/pids"); do kill "$p" 2>/dev/null || true; done
    for p in $(cat "$DIR/pids"); do
      for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    done
    rm -f "$DIR/pids"
  fi
  [[ -d $KM_E2E_STATE_DIR ]] && "$NODES" down >/dev/null 2>&1 || true
}

if [[ $MODE == down ]]; then
  stop_all
  echo "demo: stopped"
  exit 0
fi
((EUID == 0)) || { echo "demo.sh: run it as root (the libvirt nodes need mount namespaces)" >&2; exit 1; }

say() { printf '\n\033[1;34m# %s\033[0m\n' "$*"; }
step() { printf '\033[1m$ %s\033[0m\n' "$*"; "$@"; }
# A step whose refusal is the point: show it, carry on.
refused() { printf '\033[1m$ %s\033[0m\n' "$*"; "$@" || echo "(exit code $?)"; }
die() { echo "demo: $*" >&2; exit 1; }

if [[ -z ${KM_BIN_DIR:-} ]]; then
  say "Installing the Debian packages the project needs (once) and building (minutes the first time)"
  scripts/install-deps.sh
  scripts/build.sh
fi
tests/e2e/guest/build.sh "$GUEST"

stop_all  # a previous --keep run, if any
rm -rf "$DIR"
mkdir -p "$DIR"
touch "$DIR/pids"
on_exit() {
  local rc=$?
  if [[ $MODE == keep && $rc == 0 ]]; then return; fi
  if ((rc != 0)); then
    echo "demo: failed (exit code $rc); the logs are in $DIR" >&2
    tail -5 "$DIR"/*.log 2>/dev/null >&2 || true
  fi
  stop_all
}
trap on_exit EXIT
started() { echo "$1" >>"$DIR/pids"; }
# wait_log FILE TEXT PID [SECONDS]: until TEXT appears in FILE; fails if the process dies.
wait_log() {
  local i
  for ((i = 0; i < ${4:-20} * 10; i++)); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { tail -20 "$1" >&2; die "$(basename "$1" .log) exited"; }
    sleep 0.1
  done
  tail -20 "$1" >&2
  die "timed out waiting for '$2' in $1"
}

say "Two libvirt nodes on this machine, node01 and node02: two libvirtd daemons in mount namespaces"
"$NODES" up >/dev/null
eval "$("$NODES" env)"
for d in "$KM_E2E_NODE01_DATA" "$KM_E2E_NODE02_DATA"; do
  # The guest image on each node (no container runtime: images are node-local directories).
  mkdir -p "$d/images/demo-guest"
  cp "$GUEST/vmlinuz" "$GUEST/initrd.img" "$d/images/demo-guest/"
done
step virsh -c "$KM_E2E_NODE01_URI" version --daemon | grep -i 'running hypervisor'

say "devcluster: a local Kubernetes API server that real kubectl talks to"
# The webhook's port is chosen first: devcluster sends the webhook calls for the Service
# kubevirt/migration-webhook (clientConfig.service, as in a cluster) to it.
WEBHOOK_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN/devcluster" --dir "$DIR" --port 0 \
  --service-endpoint "kubevirt/migration-webhook=127.0.0.1:$WEBHOOK_PORT" >"$DIR/devcluster.log" 2>&1 &
started $!
wait_log "$DIR/devcluster.log" "devcluster ready on" $!
export KUBECONFIG=$DIR/kubeconfig KUBECACHEDIR=$DIR/kubecache PATH=$BIN:$PATH

say "The KubeVirt API (CRDs), the KubeVirt object with the LiveMigration gate and the limits, two Nodes"
step kubectl apply -f manifests/crds/ >/dev/null
step kubectl apply -f examples/kubevirt.yaml
# On a real cluster the kubelet registers the Nodes; here we do.
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Node
metadata: {name: node01, labels: {kubernetes.io/hostname: node01}}
---
apiVersion: v1
kind: Node
metadata: {name: node02, labels: {kubernetes.io/hostname: node02}}
YAML

say "migration-webhook: admission for every VirtualMachineInstanceMigration (TLS, certificates from certs/)"
certs/gen-certs.sh --service migration-webhook --namespace kubevirt --out "$DIR/certs" --ip 127.0.0.1 >/dev/null
"$BIN/migration-webhook" --tls-cert-file "$DIR/certs/tls.crt" --tls-private-key-file "$DIR/certs/tls.key" \
  --bind-address 127.0.0.1 --port "$WEBHOOK_PORT" --kubeconfig "$KUBECONFIG" >"$DIR/webhook.log" 2>&1 &
started $!
wait_log "$DIR/webhook.log" "listening on" $!
step kubectl apply -f "$DIR/certs/validatingwebhookconfiguration.yaml"

say "migration-engine on each node: starts the VMIs scheduled there and runs their migrations"
for node in node01 node02; do
  uri=$KM_E2E_NODE01_URI
  [[ $node == node02 ]] && uri=$KM_E2E_NODE02_URI
  "$NODES" exec "$node" "$BIN/migration-engine" --node-name "$node" \
    --libvirt-uri "$uri" --advertise-libvirt-uri "$uri" --migration-address 127.0.0.2 \
    --kubeconfig "$KUBECONFIG" --image-dir /var/lib/kubemigrate/images \
    --data-dir /var/lib/kubemigrate --domain-type qemu --bind-address 127.0.0.1 \
    --metrics-port 0 --healthz-port 0 >"$DIR/engine-$node.log" 2>&1 &
  started $!
  wait_log "$DIR/engine-$node.log" "^migration-engine $node healthz" $!
done
step kubectl get leases -n kubevirt -l kubemigrate.io/engine-lease

serial() { tr -d '\r' <"$1/vmis/default_$2/serial.log" 2>/dev/null || true; }
# wait_alive DATA_DIR VMI N: the guest has printed N "alive" lines on that node.
wait_alive() {
  local i
  for ((i = 0; i < 900; i++)); do
    (($(serial "$1" "$2" | grep -c '^km: alive') >= $3)) && return 0
    sleep 0.1
  done
  die "the guest $2 did not come up; see $1/vmis/default_$2/serial.log"
}

say "A VM on node01: the engine of node01 starts it (TCG: QEMU emulates the CPU here)"
step kubectl apply -f examples/vmi-demo.yaml
step kubectl wait vmi/vmi-fedora --for=jsonpath='{.status.phase}'=Running --timeout=120s
wait_alive "$KM_E2E_NODE01_DATA" vmi-fedora 2
step kubectl get vmi vmi-fedora -o wide
echo "the guest's console on node01: $(serial "$KM_E2E_NODE01_DATA" vmi-fedora | grep '^km: alive' | tail -1)"

say "Live-migrate it to the other node while it runs, with live progress"
step kubectl migrate vmi-fedora --wait --timeout 180s
step kubectl get vmi vmi-fedora -o wide
wait_alive "$KM_E2E_NODE02_DATA" vmi-fedora 2
echo "the guest's console on node02: $(serial "$KM_E2E_NODE02_DATA" vmi-fedora | grep '^km: alive' | tail -1)"
echo "(the same memory checksum as on node01: the guest's memory arrived intact, and it kept running)"

say "The VMI's migration state, as the source document prints it"
printf '\033[1m$ %s\033[0m\n' "kubectl get vmi vmi-fedora -o yaml   # status.migrationState"
kubectl get vmi vmi-fedora -o json | python3 -c '
import json, sys, yaml
state = json.load(sys.stdin)["status"]["migrationState"]
print(yaml.safe_dump({"migrationState": state}, sort_keys=True, default_flow_style=False), end="")'
step kubectl get vmim

say "A refusal that explains itself: a VM whose disk is a ReadWriteOnce volume cannot move"
mkdir -p "$KM_E2E_NODE01_DATA/pvs"
truncate -s 16M "$KM_E2E_NODE01_DATA/pvs/demo-rwo-disk.img"
step kubectl apply -f examples/vmi-rwo-demo.yaml
step kubectl wait vmi/vmi-database --for=jsonpath='{.status.phase}'=Running --timeout=120s
step kubectl get vmi vmi-database -o wide
refused kubectl migrate vmi-database

say "A forecast: a VM that rewrites 40 MiB of memory a second, over a 16 MiB/s link, cannot converge"
step kubectl patch kubevirt kubevirt -n kubevirt --type merge \
  -p '{"spec":{"configuration":{"migrationConfiguration":{"bandwidthPerMigration":"16Mi"}}}}'
step kubectl apply -f examples/vmi-busy-demo.yaml
step kubectl wait vmi/vmi-busy --for=jsonpath='{.status.phase}'=Running --timeout=120s
wait_alive "$KM_E2E_NODE01_DATA" vmi-busy 2
echo "# The engine measures the guest's dirty rate before it copies, and says what it expects:"
refused kubectl migrate vmi-busy --wait --timeout 15s

say "Cancel: the copy is aborted, the VM stays where it was and keeps running"
step kubectl migrate cancel vmi-busy --wait --timeout 60s
step kubectl migrate status vmi-busy
step kubectl get vmi
# Back to the example's bandwidth, for whoever uses the cluster after the demo (--keep).
kubectl patch kubevirt kubevirt -n kubevirt --type merge \
  -p '{"spec":{"configuration":{"migrationConfiguration":{"bandwidthPerMigration":"64Mi"}}}}' >/dev/null

if [[ $MODE == keep ]]; then
  say "The cluster keeps running. Use it from another shell with:"
  echo "  export KUBECONFIG=$KUBECONFIG PATH=$BIN:\$PATH"
  echo "  kubectl migrate vmi-fedora --wait        # and back to node01"
  echo "Stop it with: scripts/demo.sh --down"
else
  say "Done: stopping everything (scripts/demo.sh --keep leaves it running)"
fi
