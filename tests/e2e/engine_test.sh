#!/usr/bin/env bash
# End-to-end: the whole product on two real libvirt nodes (design.md §6, issue 8 §4).
# devcluster + the CRDs + two migration-engines, each in its node's mount namespace (so each
# has its own data directory, as on two machines), real QEMU guests under TCG, and the real
# kubectl with the kubectl-migrate plugin:
#   - a VMI scheduled to node01 is started by node01's engine: Running, Ready, LiveMigratable;
#   - `kubectl migrate --wait` moves it to node02 and back, every status field right, the VM on
#     exactly one node, its memory checksum unchanged (the guest checks it every second);
#   - deleting the VMI removes its domain.
#
# Usage: engine_test.sh
# Environment: KM_BIN_DIR, KM_SOURCE_DIR (integration lib.sh), KM_E2E_* (nodes.sh),
# KM_E2E_GUEST_DIR (guest/build.sh output; default under the test's temp dir).
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$here/../integration/lib.sh"
# shellcheck source=tests/e2e/engine_lib.sh
source "$here/engine_lib.sh"

e2e_up
start_engine node01 "$KM_E2E_NODE01_URI"
start_engine node02 "$KM_E2E_NODE02_URI"

section "a VMI scheduled to node01 starts there"
guest_vmi vmi-fedora node01 0
wait_running vmi-fedora
expect_eq "$(json_field vmi/vmi-fedora '{.status.nodeName}')" node01 "it runs on node01"
expect_eq "$(json_field vmi/vmi-fedora '{.status.conditions[?(@.type=="Ready")].status}')" True "Ready"
expect_eq "$(json_field vmi/vmi-fedora '{.status.conditions[?(@.type=="LiveMigratable")].status}')" True \
  "LiveMigratable"
expect_eq "$(json_field vmi/vmi-fedora '{.status.migrationMethod}')" LiveMigration "migrationMethod"
wait_guest vmi-fedora node01
memsum=$(guest_memsum vmi-fedora node01)

# migrate_to TO FROM: one migration with the plugin, then every check.
migrate_to() {
  local to=$1 from=$2
  run kubectl migrate vmi-fedora --wait --timeout 180s
  if [[ $RC == 0 ]]; then pass "kubectl migrate vmi-fedora --wait: $from -> $to"; else
    fail "kubectl migrate vmi-fedora --wait: $from -> $to" "$(_describe_run kubectl migrate)" \
      "$(k get vmi vmi-fedora -o jsonpath='{.status.migrationState}')" "$(tail -30 "$TEST_TMP/engine-$from.log")"
  fi
  local vmim
  vmim=$(last_vmim vmi-fedora)
  expect_eq "$(json_field "$vmim" '{.status.phase}')" Succeeded "the VMIM Succeeded"
  expect_eq "$(json_field vmi/vmi-fedora '{.status.nodeName}')" "$to" "status.nodeName is $to"
  local ms='{.status.migrationState'
  expect_eq "$(json_field vmi/vmi-fedora "$ms.sourceNode}")" "$from" "sourceNode"
  expect_eq "$(json_field vmi/vmi-fedora "$ms.targetNode}")" "$to" "targetNode"
  expect_eq "$(json_field vmi/vmi-fedora "$ms.targetNodeAddress}")" 127.0.0.2 "targetNodeAddress"
  expect_eq "$(json_field vmi/vmi-fedora "$ms.completed}")" true "completed"
  expect_eq "$(json_field vmi/vmi-fedora "$ms.failed}")" false "not failed"
  expect_eq "$(json_field vmi/vmi-fedora "$ms.mode}")" PreCopy "mode"
  expect_eq "$(json_field vmi/vmi-fedora "$ms.targetNodeDomainDetected}")" true "targetNodeDomainDetected"
  expect_match "$(json_field vmi/vmi-fedora "$ms.targetNodeDomainReadyTimestamp}")" '^20[0-9-]+T' \
    "targetNodeDomainReadyTimestamp"
  expect_eq "$(json_field vmi/vmi-fedora "$ms.migrationUid}")" "$(json_field "$vmim" '{.metadata.uid}')" \
    "migrationUid is the VMIM's uid"
  expect_eq "$(json_field vmi/vmi-fedora "$ms.startTimestamp}")" "$(json_field "$vmim" "$ms.startTimestamp}")" \
    "the VMIM mirrors startTimestamp"
  expect_eq "$(json_field vmi/vmi-fedora "$ms.endTimestamp}")" "$(json_field "$vmim" "$ms.endTimestamp}")" \
    "the VMIM mirrors endTimestamp"
  expect_eq "$(json_field "$vmim" "$ms.completed}")" true "the VMIM mirrors completed"
  expect_match "$(json_field vmi/vmi-fedora "$ms.downtimeMs}")" '^[0-9]+$' "the measured downtime is recorded"
  expect_not_contains "$(json_field "$vmim" '{.metadata.finalizers}')" migrationJobFinalize "the finalizer is removed"
  expect_eq "$(json_field "$vmim" '{.status.conditions[?(@.type=="ConvergenceForecast")].status}')" True \
    "the forecast said it converges"
  expect_eq "$(domain_nodes vmi-fedora)" "$to" "the domain runs on $to only"
  local before
  before=$(alive_count vmi-fedora "$to")
  if wait_until 30 guest_alive_since vmi-fedora "$to" $((before + 2)); then
    pass "the guest keeps running on $to"
  else
    fail "the guest keeps running on $to" "$(tail -5 "$(serial_of vmi-fedora "$to")" 2>&1)"
  fi
  expect_eq "$(bad_memsum_lines vmi-fedora "$to" "$memsum")" "" "the guest's memory checksum is unchanged on $to"
}

section "kubectl migrate: node01 -> node02"
migrate_to node02 node01
section "kubectl migrate: node02 -> node01"
migrate_to node01 node02

section "deleting the VMI removes its domain"
expect_ok k delete vmi vmi-fedora --wait=false
gone() { not_found vmi vmi-fedora; }
if wait_until 30 gone; then pass "the VMI is deleted"; else fail "the VMI is deleted" "$(k get vmi vmi-fedora -o yaml)"; fi
expect_eq "$(domain_nodes vmi-fedora)" "" "the domain is gone from both nodes"

finish
