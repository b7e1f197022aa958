# shellcheck shell=bash
# Helpers for the end-to-end tests of the engines (engine_test.sh and its siblings): two libvirt
# nodes (nodes.sh), devcluster with the CRDs, the KubeVirt object and the Node objects, engines
# in the nodes' mount namespaces, and test guests (guest/) started from VMIs.
# Source it after tests/integration/lib.sh.

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export KM_E2E_STATE_DIR=${KM_E2E_STATE_DIR:-$TEST_TMP/nodes}
GUEST_DIR=${KM_E2E_GUEST_DIR:-$TEST_TMP/guest}
NODE_DATA_DIR=/var/lib/kubemigrate  # inside each node's namespace (nodes.sh KM_E2E_DATA_DIR)
declare -A ENGINE_PID=()

e2e_cleanup() {
  local pid
  for pid in "${ENGINE_PID[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${ENGINE_PID[@]}"; do wait "$pid" 2>/dev/null; done
  "$E2E_DIR/nodes.sh" down >/dev/null 2>&1
  _cleanup
}
trap e2e_cleanup EXIT

# e2e_up [MIGRATIONS_YAML]: the guest, both nodes, devcluster, CRDs, KubeVirt (LiveMigration on;
# `migrations` from the argument, default: unlimited bandwidth), Node objects, the guest image
# directory on both nodes. Exits the script when something cannot start.
e2e_up() {
  local migrations=${1:-"{bandwidthPerMigration: 0}"}
  ((EUID == 0)) || { fail "must run as root (libvirt nodes in mount namespaces)"; finish; }
  "$E2E_DIR/guest/build.sh" "$GUEST_DIR" >/dev/null || { fail "guest/build.sh"; finish; }
  "$E2E_DIR/nodes.sh" up >/dev/null || { fail "nodes.sh up"; finish; }
  eval "$("$E2E_DIR/nodes.sh" env)"
  local d
  for d in "$KM_E2E_NODE01_DATA" "$KM_E2E_NODE02_DATA"; do
    mkdir -p "$d/images/km-guest"
    cp "$GUEST_DIR/vmlinuz" "$GUEST_DIR/initrd.img" "$d/images/km-guest/"
  done
  start_devcluster
  install_crds
  export PATH=$KM_BIN_DIR:$PATH # kubectl finds kubectl-migrate there
  expect_ok k create namespace kubevirt
  cat >"$TEST_TMP/cluster.yaml" <<YAML
apiVersion: kubevirt.io/v1
kind: KubeVirt
metadata: {name: kubevirt, namespace: kubevirt}
spec:
  configuration:
    developerConfiguration: {featureGates: [LiveMigration]}
    migrations: $migrations
---
apiVersion: v1
kind: Node
metadata: {name: node01, labels: {kubernetes.io/hostname: node01}}
---
apiVersion: v1
kind: Node
metadata: {name: node02, labels: {kubernetes.io/hostname: node02}}
YAML
  expect_ok k apply -f "$TEST_TMP/cluster.yaml"
}

node_uri() { if [[ $1 == node01 ]]; then echo "$KM_E2E_NODE01_URI"; else echo "$KM_E2E_NODE02_URI"; fi; }
node_data() { if [[ $1 == node01 ]]; then echo "$KM_E2E_NODE01_DATA"; else echo "$KM_E2E_NODE02_DATA"; fi; }

# start_engine NODE: the node's engine, inside the node's mount namespace; its log in
# $TEST_TMP/engine-NODE.log (appended to across restarts); ENGINE_PID[NODE] is its pid.
start_engine() {
  local node=$1 log=$TEST_TMP/engine-$1.log uri
  uri=$(node_uri "$node")
  local mark
  mark=$(wc -l <"$log" 2>/dev/null || echo 0)
  "$E2E_DIR/nodes.sh" exec "$node" "$KM_BIN_DIR/migration-engine" --node-name "$node" \
    --libvirt-uri "$uri" --advertise-libvirt-uri "$uri" --migration-address 127.0.0.2 \
    --kubeconfig "$KUBECONFIG" --image-dir "$NODE_DATA_DIR/images" --data-dir "$NODE_DATA_DIR" \
    --domain-type qemu --bind-address 127.0.0.1 --metrics-port 0 --healthz-port 0 \
    --lease-duration 15 >>"$log" 2>&1 &
  ENGINE_PID[$node]=$!
  started() { tail -n +"$((mark + 1))" "$log" | grep -q "^migration-engine $node healthz"; }
  if ! wait_until 20 started; then
    fail "the engine of $node starts" "$(tail -20 "$log")"
    finish
  fi
  ENGINE_METRICS[$node]=$(tail -n +"$((mark + 1))" "$log" | grep -m1 "^migration-engine $node healthz" | awk '{print $6}')
  pass "the engine of $node starts"
}
declare -A ENGINE_METRICS=()

# engine_metrics NODE: the engine's /metrics text.
engine_metrics() { curl -s "http://127.0.0.1:${ENGINE_METRICS[$1]}/metrics"; }

# guest_vmi NAME NODE DIRTY_MIB_S [MEMORY] [EXTRA_SPEC_YAML]: a VMI of the test guest scheduled
# to NODE, dirtying DIRTY_MIB_S MiB/s of its memory.
guest_vmi() {
  local name=$1 node=$2 dirty=$3 memory=${4:-192Mi} size_mib=32
  ((dirty > 0)) && size_mib=64
  cat >"$TEST_TMP/vmi-$name.yaml" <<YAML
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: $name, namespace: default}
spec:
  nodeSelector: {kubernetes.io/hostname: $node}
  domain:
    memory: {guest: $memory}
    firmware:
      kernelBoot:
        kernelArgs: "console=ttyS0 quiet panic=0 pti=on km.spin=1 km.size_mib=$size_mib km.dirty_mib_s=$dirty"
        container: {image: km-guest, kernelPath: /vmlinuz, initrdPath: /initrd.img}
    devices:
      interfaces: [{name: default, masquerade: {}}]
  networks: [{name: default, pod: {}}]
YAML
  expect_ok k apply -f "$TEST_TMP/vmi-$name.yaml"
}

# wait_running NAME: the VMI reaches Running (exits the script otherwise).
wait_running() {
  local name=$1
  running() { [[ "$(json_field "vmi/$1" '{.status.phase}')" == Running ]]; }
  if wait_until 60 running "$name"; then pass "$name is Running"; else
    fail "$name is Running" "$(k get vmi "$name" -o yaml; tail -20 "$TEST_TMP"/engine-node01.log)"
    finish
  fi
}

serial_of() { echo "$(node_data "$2")/vmis/default_$1/serial.log"; }
alive_count() { tr -d '\r' <"$(serial_of "$1" "$2")" 2>/dev/null | grep -c '^km: alive .* ok' || true; }
guest_alive_since() { [[ $(alive_count "$1" "$2") -ge $3 ]]; }
# wait_guest NAME NODE: the guest has booted and checked its memory twice on NODE.
wait_guest() {
  if wait_until 90 guest_alive_since "$1" "$2" 2; then pass "the guest $1 boots on $2"; else
    fail "the guest $1 boots on $2" "$(tail -5 "$(serial_of "$1" "$2")" 2>&1)"
    finish
  fi
}
guest_memsum() {
  tr -d '\r' <"$(serial_of "$1" "$2")" | grep -m1 '^km: boot ' | sed -E 's/.* memsum=([0-9a-f]{16}).*/\1/'
}
# bad_memsum_lines NAME NODE MEMSUM: alive lines on NODE whose checksum differs (empty: none).
bad_memsum_lines() {
  tr -d '\r' <"$(serial_of "$1" "$2")" | grep '^km: alive' | grep -v "memsum=$3 ok" | head -3
}
# domain_nodes NAME: the nodes where the VMI's domain runs, space-separated.
domain_nodes() {
  local n out=()
  for n in node01 node02; do
    if virsh -c "$(node_uri "$n")" domstate "default_$1" 2>/dev/null | grep -q running; then out+=("$n"); fi
  done
  echo "${out[*]}"
}
# last_vmim VMI: the newest VMIM of the VMI ("virtualmachineinstancemigration.kubevirt.io/NAME").
last_vmim() {
  k get vmim -l "kubevirt.io/vmi-name=$1" --sort-by=.metadata.creationTimestamp -o name | tail -1
}
