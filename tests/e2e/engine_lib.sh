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

# e2e_up [MIGRATIONS_YAML]: the guest, both nodes, devcluster (with E2E_WEBHOOK=1: and the
# migration-webhook admitting every VMIM), CRDs, KubeVirt (LiveMigration on;
# `migrations` from the argument, default: unlimited bandwidth), Node objects, the guest image
# directory on both nodes. Exits the script when something cannot start. devcluster gets the
# extra arguments of the array E2E_DEVCLUSTER_ARGS, when set.
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
  if [[ ${E2E_WEBHOOK:-0} == 1 ]]; then
    start_migration_webhook # devcluster with the webhook's Service, the CRDs, the webhook
  else
    start_devcluster ${E2E_DEVCLUSTER_ARGS[@]+"${E2E_DEVCLUSTER_ARGS[@]}"}
    install_crds
  fi
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
# $TEST_TMP/engine-NODE.log (appended to across restarts); ENGINE_PID[NODE] is its pid. It uses
# ENGINE_KUBECONFIG when set (another identity than the admin's), else KUBECONFIG.
start_engine() {
  local node=$1 log=$TEST_TMP/engine-$1.log uri
  uri=$(node_uri "$node")
  local mark
  mark=0
  [[ -f $log ]] && mark=$(wc -l <"$log")
  "$E2E_DIR/nodes.sh" exec "$node" "$KM_BIN_DIR/migration-engine" --node-name "$node" \
    --libvirt-uri "$uri" --advertise-libvirt-uri "$uri" --migration-address 127.0.0.2 \
    --kubeconfig "${ENGINE_KUBECONFIG:-$KUBECONFIG}" --image-dir "$NODE_DATA_DIR/images" --data-dir "$NODE_DATA_DIR" \
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

# guest_vmi NAME NODE DIRTY_MIB_S [MEMORY] [SIZE_MIB] [emptydisk]: a VMI of the test guest
# scheduled to NODE, dirtying DIRTY_MIB_S MiB/s of its SIZE_MIB MiB buffer (default 32, or 64
# when it dirties). With `emptydisk`, a 16Mi emptyDisk (a node-local disk: BlockMigration) that
# the guest fills with a pattern and re-reads every second (km.disk=/dev/vda, "disk=ok").
# KM_GUEST_SPIN=0 drops km.spin=1 (README.md, "Known problem"): a guest that does not dirty its
# memory then sleeps between its checks and leaves the CPUs to the others.
guest_vmi() {
  local name=$1 node=$2 dirty=$3 memory=${4:-192Mi} size_mib=${5:-} disk=${6:-}
  [[ -n $size_mib ]] || { size_mib=32; ((dirty > 0)) && size_mib=64; }
  local args="console=ttyS0 quiet panic=0 pti=on km.spin=${KM_GUEST_SPIN:-1} km.size_mib=$size_mib km.dirty_mib_s=$dirty"
  local disks="" volumes=""
  if [[ $disk == emptydisk ]]; then
    args+=" km.disk=/dev/vda"
    disks="
      disks: [{name: scratch, disk: {bus: virtio}}]"
    volumes="
  volumes: [{name: scratch, emptyDisk: {capacity: 16Mi}}]"
  fi
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
        kernelArgs: "$args"
        container: {image: km-guest, kernelPath: /vmlinuz, initrdPath: /initrd.img}
    devices:$disks
      interfaces: [{name: default, masquerade: {}}]
  networks: [{name: default, pod: {}}]$volumes
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
# defined_nodes NAME: the nodes where the VMI's domain is defined (persistent), space-separated.
# A migrated domain stays persistent on its new node and is undefined on the old one.
defined_nodes() {
  local n out=()
  for n in node01 node02; do
    if virsh -c "$(node_uri "$n")" dominfo "default_$1" 2>/dev/null | grep -q '^Persistent: *yes'; then out+=("$n"); fi
  done
  echo "${out[*]}"
}
# last_vmim VMI: the newest VMIM of the VMI ("virtualmachineinstancemigration.kubevirt.io/NAME").
last_vmim() {
  k get vmim -l "kubevirt.io/vmi-name=$1" --sort-by=.metadata.creationTimestamp -o name | tail -1
}

# set_migrations JSON: merges the JSON object into the KubeVirt object's
# spec.configuration.migrations, e.g. set_migrations '{"bandwidthPerMigration": "5Mi"}'.
set_migrations() {
  expect_ok k patch kubevirt kubevirt -n kubevirt --type merge \
    -p "{\"spec\": {\"configuration\": {\"migrations\": $1}}}"
}

# create_vmim NAME VMI: a VMIM created with kubectl apply (no webhook runs in these tests).
create_vmim() {
  cat >"$TEST_TMP/vmim-$1.yaml" <<YAML
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstanceMigration
metadata: {name: $1, namespace: default}
spec: {vmiName: $2}
YAML
  expect_ok k apply -f "$TEST_TMP/vmim-$1.yaml"
}

# vmim_phase VMIM: the phase of vmim/NAME (empty when it does not exist).
vmim_phase() { json_field "vmim/$1" '{.status.phase}'; }
vmim_phase_is() { [[ "$(vmim_phase "$1")" == "$2" ]]; }
# vmim_condition VMIM TYPE FIELD: e.g. vmim_condition m1 Failed reason.
vmim_condition() { json_field "vmim/$1" "{.status.conditions[?(@.type==\"$2\")].$3}"; }
# migration_state OBJ FIELD: a field of OBJ's status.migrationState (OBJ: vmi/NAME or vmim/NAME).
migration_state() { json_field "$1" "{.status.migrationState.$2}"; }

# wait_vmim_phase VMIM PHASE SECONDS [WHAT]: records a pass when the VMIM reaches PHASE in time.
wait_vmim_phase() {
  local what=${4:-"vmim/$1 reaches phase $2"}
  if wait_until "$3" vmim_phase_is "$1" "$2"; then pass "$what"; return 0; fi
  fail "$what" "phase: $(vmim_phase "$1")" "$(k get vmim "$1" -o yaml 2>&1 | tail -40)"
  return 1
}

# progress_seen VMI: the VMI's migrationState shows data processed (the copy is under way).
progress_seen() { [[ "$(migration_state "vmi/$1" progress.dataProcessedBytes)" =~ ^[1-9][0-9]*$ ]]; }

# epoch_ms ISO8601: milliseconds since the epoch; now_ms: the time now.
epoch_ms() { date -d "$1" +%s%3N; }
now_ms() { date +%s%3N; }
# ms_between ISO1 ISO2: ISO2 − ISO1 in milliseconds (empty when either is missing).
ms_between() { [[ -n $1 && -n $2 ]] && echo $(($(epoch_ms "$2") - $(epoch_ms "$1"))); }

# libvirt_job_count NODE: how many of NODE's domains have a job running (a migration out); two
# virsh processes whatever the number of domains, so that it can sample often.
libvirt_job_count() {
  local uri cmds=() d
  uri=$(node_uri "$1")
  for d in $(virsh -c "$uri" list --name 2>/dev/null); do cmds+=("domjobinfo $d;"); done
  if ((${#cmds[@]} == 0)); then echo 0; return; fi
  virsh -c "$uri" "${cmds[*]}" 2>/dev/null | grep -c 'Job type: *Unbounded'
}

# expect_guest_alive NAME NODE MEMSUM: the guest prints two more alive lines on NODE and every
# one of them has the checksum MEMSUM.
expect_guest_alive() {
  local before
  before=$(alive_count "$1" "$2")
  if wait_until 30 guest_alive_since "$1" "$2" $((before + 2)); then
    pass "the guest $1 keeps running on $2"
  else
    fail "the guest $1 keeps running on $2" "$(tail -5 "$(serial_of "$1" "$2")" 2>&1)"
  fi
  expect_eq "$(bad_memsum_lines "$1" "$2" "$3")" "" "the memory checksum of $1 is unchanged on $2"
}

# wait_migration_running VMIM VMI SECONDS: the VMIM reaches Running and the VMI's migrationState
# shows data copied (exits the script otherwise: nothing after it could be checked).
wait_migration_running() {
  wait_vmim_phase "$1" Running "$3" "vmim/$1 is Running" || finish
  if wait_until "$3" progress_seen "$2"; then pass "the copy of $2 is under way (progress written)"; else
    fail "the copy of $2 is under way (progress written)" "$(k get vmi "$2" -o jsonpath='{.status.migrationState}')" \
      "$(tail -20 "$TEST_TMP/engine-node01.log")"
    finish
  fi
}

# expect_forecast_false VMIM: the VMIM's ConvergenceForecast condition is False, written with
# the start of the migration (before libvirt was called: same time as startTimestamp).
expect_forecast_false() {
  expect_eq "$(vmim_condition "$1" ConvergenceForecast status)" False \
    "vmim/$1: the forecast says it will not converge ($(vmim_condition "$1" ConvergenceForecast reason))"
  echo "    forecast: $(vmim_condition "$1" ConvergenceForecast message)"
  expect_eq "$(vmim_condition "$1" ConvergenceForecast lastTransitionTime)" \
    "$(migration_state "vmim/$1" startTimestamp)" "vmim/$1: the forecast was written as the migration started"
}

# expect_stayed_on_source VMI VMIM MEMSUM [UID]: a migration that ended without moving the VM:
# the VMIM's finalizer is gone (or the VMIM: pass its UID then), the VMI's migrationState says
# completed and failed, status.nodeName and the domain are node01's only, the guest goes on
# with its memory intact.
expect_stayed_on_source() {
  local vmi=$1 vmim=$2 memsum=$3 uid=${4:-}
  [[ -n $uid ]] || uid=$(json_field "vmim/$vmim" '{.metadata.uid}')
  expect_eq "$(migration_state "vmi/$vmi" completed)" true "vmi/$vmi: migrationState.completed"
  expect_eq "$(migration_state "vmi/$vmi" failed)" true "vmi/$vmi: migrationState.failed"
  expect_eq "$(migration_state "vmi/$vmi" migrationUid)" "$uid" \
    "vmi/$vmi: migrationUid is the VMIM's uid"
  expect_eq "$(migration_state "vmi/$vmi" sourceNode)" node01 "vmi/$vmi: sourceNode"
  expect_eq "$(json_field "vmi/$vmi" '{.status.nodeName}')" node01 "vmi/$vmi: status.nodeName is still node01"
  expect_not_contains "$(json_field "vmim/$vmim" '{.metadata.finalizers}')" migrationJobFinalize \
    "vmim/$vmim: the finalizer is removed"
  expect_eq "$(domain_nodes "$vmi")" node01 "the domain of $vmi runs on node01 only"
  expect_eq "$(defined_nodes "$vmi")" node01 "the domain of $vmi is defined on node01 only"
  # What node02's engine prepared for the migration (the VMI's directory: disks, ISO, the
  # incoming QEMU's serial log) goes with it.
  local leftovers
  leftovers=$(node_data node02)/vmis/default_$vmi
  no_leftovers() { [[ ! -e $leftovers ]]; }
  if wait_until 10 no_leftovers; then pass "node02 keeps no files of $vmi"; else
    fail "node02 keeps no files of $vmi" "$(ls -la "$leftovers" 2>&1)"
  fi
  expect_guest_alive "$vmi" node01 "$memsum"
}
