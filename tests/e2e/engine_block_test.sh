#!/usr/bin/env bash
# End-to-end (issue 8 §4): a block migration. A VMI with a node-local emptyDisk (16Mi) is
# migrated with `kubectl migrate --wait`: status.migrationMethod is BlockMigration, the VMIM
# Succeeds, the disk's content survives (the guest re-reads its pattern from the disk every
# second: "disk=ok" on the target), the VM runs on exactly one node with its memory intact.
#
# Usage: engine_block_test.sh (environment as engine_test.sh)
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$here/../integration/lib.sh"
# shellcheck source=tests/e2e/engine_lib.sh
source "$here/engine_lib.sh"

e2e_up "{bandwidthPerMigration: 100Mi}"
start_engine node01
start_engine node02

section "a VMI with an emptyDisk starts on node01"
guest_vmi vmi-disk node01 0 192Mi 32 emptydisk
wait_running vmi-disk
expect_eq "$(json_field vmi/vmi-disk '{.status.migrationMethod}')" BlockMigration "migrationMethod is BlockMigration"
expect_eq "$(json_field vmi/vmi-disk '{.status.conditions[?(@.type=="LiveMigratable")].status}')" True \
  "LiveMigratable"
wait_guest vmi-disk node01
memsum=$(guest_memsum vmi-disk node01)
disk_ok_on() { tr -d '\r' <"$(serial_of vmi-disk "$1")" | grep '^km: alive' | grep -c 'disk=ok' || true; }
expect_gt "$(disk_ok_on node01)" 0 "the guest checks its disk on node01 (disk=ok)"

section "kubectl migrate --wait: node01 -> node02, the disk copied"
t0=$(now_ms)
run kubectl migrate vmi-disk --wait --timeout 180s
t1=$(now_ms)
if [[ $RC == 0 ]]; then pass "kubectl migrate vmi-disk --wait exits 0"; else
  fail "kubectl migrate vmi-disk --wait exits 0" "$(_describe_run kubectl migrate)" \
    "$(tail -30 "$TEST_TMP/engine-node01.log")"
fi
echo "    kubectl migrate --wait took $((t1 - t0)) ms"
vmim=$(last_vmim vmi-disk)
expect_eq "$(json_field "$vmim" '{.status.phase}')" Succeeded "the VMIM Succeeded"
expect_eq "$(json_field vmi/vmi-disk '{.status.nodeName}')" node02 "status.nodeName is node02"
expect_eq "$(migration_state vmi/vmi-disk completed)" true "completed"
expect_eq "$(migration_state vmi/vmi-disk failed)" false "not failed"
expect_eq "$(migration_state vmi/vmi-disk targetNode)" node02 "targetNode"
expect_not_contains "$(json_field "$vmim" '{.metadata.finalizers}')" migrationJobFinalize "the finalizer is removed"
expect_contains "$(grep 'migration started' "$TEST_TMP/engine-node01.log" | tail -1)" 'copy_storage=true' \
  "the engine asked libvirt to copy the storage"
expect_eq "$(domain_nodes vmi-disk)" node02 "the domain runs on node02 only"
expect_eq "$(defined_nodes vmi-disk)" node02 "the domain is defined (persistent) on node02 only"
expect_guest_alive vmi-disk node02 "$memsum"
expect_gt "$(disk_ok_on node02)" 1 "the guest reads its disk's pattern on node02 (disk=ok)"
expect_eq "$(tr -d '\r' <"$(serial_of vmi-disk node02)" | grep -c 'disk=BAD')" 0 "no disk=BAD on node02"
expect_eq "$(tr -d '\r' <"$(serial_of vmi-disk node02)" | grep -c '^km: boot')" 0 \
  "the guest did not boot again on node02"
echo "    node02's console: $(tr -d '\r' <"$(serial_of vmi-disk node02)" | grep '^km: alive' | tail -1)"

finish
