#!/usr/bin/env bash
# End-to-end (issue 9 §2): `kubectl migrate evacuate node01` on the two local nodes, with the
# webhook admitting the migrations and parallelOutboundMigrationsPerNode 1. Three VMIs run on
# node01; one of them has a ReadWriteOnce disk (LiveMigratable False):
#   - --dry-run lists what would happen and changes nothing (no cordon, no VMIM);
#   - evacuate --wait cordons node01, migrates the two others one after the other (the second
#     is refused for the limit and created again once the slot is free), prints a line per VMI
#     and a summary naming the one that cannot leave with its reason, exit code 1 (the node is
#     not empty); never more than one migration at a time; both VMs on node02 with their memory;
#   - a second evacuate finds nothing more to move but the one that cannot leave;
#   - uncordon makes node01 schedulable again.
#
# Usage: evacuate_test.sh (environment as engine_test.sh)
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$here/../integration/lib.sh"
# shellcheck source=tests/e2e/engine_lib.sh
source "$here/engine_lib.sh"

E2E_WEBHOOK=1 e2e_up "{bandwidthPerMigration: 0, parallelOutboundMigrationsPerNode: 1}"
start_engine node01
start_engine node02

section "three VMIs on node01, one with a ReadWriteOnce disk"
vms=(ev-a ev-b)
for v in "${vms[@]}"; do KM_GUEST_SPIN=0 guest_vmi "$v" node01 0 128Mi 16; done
mkdir -p "$(node_data node01)/pvs"
truncate -s 16M "$(node_data node01)/pvs/ev-db.img"
cat >"$TEST_TMP/ev-db.yaml" <<YAML
apiVersion: v1
kind: PersistentVolume
metadata: {name: ev-db}
spec:
  capacity: {storage: 16Mi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: $NODE_DATA_DIR/pvs/ev-db.img}
  claimRef: {namespace: default, name: ev-db}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: ev-db, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 16Mi}}
  volumeName: ev-db
---
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: ev-db, namespace: default}
spec:
  nodeSelector: {kubernetes.io/hostname: node01}
  domain:
    memory: {guest: 128Mi}
    firmware:
      kernelBoot:
        kernelArgs: "console=ttyS0 quiet panic=0 km.spin=0 km.size_mib=16 km.dirty_mib_s=0"
        container: {image: km-guest, kernelPath: /vmlinuz, initrdPath: /initrd.img}
    devices:
      disks: [{name: data, disk: {bus: virtio}}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: ev-db}}]
YAML
expect_ok k apply -f "$TEST_TMP/ev-db.yaml"
declare -A memsum=()
for v in "${vms[@]}"; do
  wait_running "$v"
  wait_guest "$v" node01
  memsum[$v]=$(guest_memsum "$v" node01)
done
wait_running ev-db
expect_eq "$(json_field vmi/ev-db '{.status.conditions[?(@.type=="LiveMigratable")].status}')" False \
  "ev-db is not live migratable"

section "evacuate --dry-run changes nothing"
run kubectl migrate evacuate node01 --dry-run
expect_eq "$RC" 0 "exit code 0"
expect_contains "$OUT" "node/node01 would be cordoned (dry run)" "it says it would cordon"
expect_contains "$OUT" "would migrate default/ev-a" "it would migrate ev-a"
expect_contains "$OUT" "would migrate default/ev-b" "it would migrate ev-b"
expect_match "$OUT" "cannot migrate default/ev-db: DisksNotLiveMigratable" "ev-db cannot leave, with the reason"
expect_eq "$(json_field node/node01 '{.spec.unschedulable}')" "" "node01 is not cordoned"
expect_eq "$(k get vmim -A -o name | wc -l)" 0 "no VMIM was created"

section "evacuate --wait"
samples=$TEST_TMP/jobs
sample_jobs() { while true; do libvirt_job_count node01; sleep 0.2; done; }
background "$samples" sample_jobs
sampler=$BG_PID
t0=$(now_ms)
run kubectl migrate evacuate node01 --wait --timeout 240s
took=$(($(now_ms) - t0))
stop_background "$sampler"
echo "    evacuate took $took ms"
echo "$ERR" | sed 's/^/    | /'
expect_eq "$RC" 1 "exit code 1: ev-db cannot leave"
expect_contains "$OUT" "node/node01 cordoned" "stdout: the node is cordoned"
expect_eq "$(json_field node/node01 '{.spec.unschedulable}')" true "node01 is cordoned"
expect_contains "$ERR" "default/ev-a: moved to node02" "ev-a moved (its line)"
expect_contains "$ERR" "default/ev-b: moved to node02" "ev-b moved (its line)"
expect_match "$ERR" "waiting for a free slot: .*" "one of them waited for the per-node limit"
expect_contains "$ERR" "node node01: 2 moved, 0 failed, 1 not migratable" "the summary counts"
expect_match "$ERR" "not migratable: default/ev-db: DisksNotLiveMigratable: .*ReadWriteMany" \
  "the summary names ev-db and why"
max_jobs=$(sort -n "$samples" | tail -1)
expect_eq "$max_jobs" 1 "never more than one libvirt job on node01 at a time (parallelOutboundMigrationsPerNode 1)"
for v in "${vms[@]}"; do
  expect_eq "$(json_field "vmi/$v" '{.status.nodeName}')" node02 "vmi/$v: status.nodeName node02"
  expect_eq "$(domain_nodes "$v")" node02 "the domain of $v runs on node02 only"
  expect_guest_alive "$v" node02 "${memsum[$v]}"
done
expect_eq "$(json_field vmi/ev-db '{.status.nodeName}')" node01 "ev-db stays on node01"
expect_eq "$(k get vmim -l kubemigrate.io/evacuated-node=node01 -o name | wc -l)" 2 \
  "two VMIMs carry the label kubemigrate.io/evacuated-node=node01"

section "a second evacuate: nothing left to move but ev-db"
run kubectl migrate evacuate node01 --wait --timeout 60s
expect_eq "$RC" 1 "exit code 1"
expect_contains "$ERR" "node node01: 0 moved, 0 failed, 1 not migratable" "only ev-db is left"

section "uncordon"
run kubectl migrate uncordon node01
expect_eq "$RC" 0 "exit code 0"
expect_contains "$OUT" "node/node01 uncordoned" "it says so"
expect_eq "$(json_field node/node01 '{.spec.unschedulable}')" "" "node01 is schedulable again"

section "bad input"
run kubectl migrate evacuate no-such-node
expect_eq "$RC" 1 "a node that does not exist: exit code 1"
expect_contains "$ERR" "not found" "and says so"

finish
