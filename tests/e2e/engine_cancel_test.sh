#!/usr/bin/env bash
# End-to-end (issue 8 §4): cancelling a migration mid-flight. A slow migration (5 MiB/s, a guest
# dirtying 10 MiB/s of 64 MiB) is cancelled once it runs and its progress shows:
#   (a) `kubectl delete vmim NAME`;
#   (b) `kubectl migrate cancel VMI --wait` (exit code 0, "abort status: Succeeded");
#   (c) `kubectl delete vmim NAME` while it waits for a target (node02 cordoned): it goes, no
#       migrationState is written, no libvirt job.
# Each time: the VMI's migrationState says abortRequested, abortStatus Succeeded, completed and
# failed; the VMIM is gone (its finalizer removed); the VM still runs on node01 only with its
# memory intact. The time from the delete to the abort being seen is printed.
#
# Usage: engine_cancel_test.sh (environment as engine_test.sh)
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$here/../integration/lib.sh"
# shellcheck source=tests/e2e/engine_lib.sh
source "$here/engine_lib.sh"

e2e_up "{bandwidthPerMigration: 5Mi}"
start_engine node01
start_engine node02

section "a guest dirtying 10 MiB/s starts on node01"
# It never leaves node01 (both migrations are cancelled): no km.spin (README.md, "Known
# problem"), to spare the CPUs.
KM_GUEST_SPIN=0 guest_vmi vmi-c node01 10 192Mi 64
wait_running vmi-c
wait_guest vmi-c node01
memsum=$(guest_memsum vmi-c node01)

abort_succeeded() { [[ "$(migration_state vmi/vmi-c abortStatus)" == Succeeded ]]; }

# expect_cancelled VMIM UID T_DELETE_MS: the checks after a cancel.
expect_cancelled() {
  local vmim=$1 uid=$2 t_del=$3 t_seen
  if wait_until 30 abort_succeeded; then
    t_seen=$(now_ms)
    pass "vmi/vmi-c: abortStatus Succeeded"
  else
    t_seen=$(now_ms)
    fail "vmi/vmi-c: abortStatus Succeeded" "$(k get vmi vmi-c -o jsonpath='{.status.migrationState}')" \
      "$(tail -20 "$TEST_TMP/engine-node01.log")"
  fi
  local end
  end=$(migration_state vmi/vmi-c endTimestamp)
  echo "    delete -> abortStatus Succeeded seen: $((t_seen - t_del)) ms (polled every 0.1 s);" \
    "endTimestamp $end is $(($(epoch_ms "$end") - t_del)) ms after the delete (whole seconds)"
  local log=$TEST_TMP/engine-node01.log aborting ended
  aborting=$(grep 'aborting migration domain=default_vmi-c reason=Cancelled' "$log" | tail -1 | cut -d' ' -f1)
  ended=$(grep "migration ended vmim=default/$vmim " "$log" | tail -1 | cut -d' ' -f1)
  echo "    delete -> the engine calls virDomainAbortJob: $(($(epoch_ms "$aborting") - t_del)) ms;" \
    "-> outcome written (\"migration ended\"): $(($(epoch_ms "$ended") - t_del)) ms"
  expect_eq "$(migration_state vmi/vmi-c abortRequested)" true "vmi/vmi-c: abortRequested"
  expect_match "$(migration_state vmi/vmi-c failureReason)" 'cancelled' "vmi/vmi-c: failureReason says cancelled"
  gone() { not_found vmim "$vmim"; }
  if wait_until 20 gone; then pass "vmim/$vmim is gone (finalizer removed)"; else
    fail "vmim/$vmim is gone (finalizer removed)" "$(k get vmim "$vmim" -o yaml)"
  fi
  expect_stayed_on_source vmi-c "$vmim" "$memsum" "$uid"
}

section "(a) kubectl delete vmim while it runs"
create_vmim mig-delete vmi-c
wait_migration_running mig-delete vmi-c 30
uid=$(json_field vmim/mig-delete '{.metadata.uid}')
t_del=$(now_ms)
expect_ok k delete vmim mig-delete --wait=false
expect_cancelled mig-delete "$uid" "$t_del"

section "(b) kubectl migrate cancel --wait while it runs"
create_vmim mig-cancel vmi-c
wait_migration_running mig-cancel vmi-c 30
uid=$(json_field vmim/mig-cancel '{.metadata.uid}')
t_del=$(now_ms)
run kubectl migrate cancel vmi-c --wait --timeout 60s
t_done=$(now_ms)
if [[ $RC == 0 ]]; then pass "kubectl migrate cancel vmi-c --wait exits 0"; else
  fail "kubectl migrate cancel vmi-c --wait exits 0" "$(_describe_run kubectl migrate cancel)"
fi
# The outcome line goes to stderr (stdout carries only requested output: docs/plugin.md).
expect_contains "$ERR" "abort status: Succeeded" "kubectl migrate cancel prints the abort status (stderr)"
echo "    kubectl migrate cancel --wait took $((t_done - t_del)) ms"
expect_cancelled mig-cancel "$uid" "$t_del"

section "(c) kubectl delete vmim before the migration started (node02 cordoned: it waits in Scheduling)"
expect_ok k patch node node02 --type merge -p '{"spec": {"unschedulable": true}}'
create_vmim mig-early vmi-c
unschedulable() { [[ "$(vmim_condition mig-early Schedulable status)" == False ]]; }
if wait_until 30 unschedulable; then pass "vmim/mig-early waits: $(vmim_phase mig-early), Schedulable False"; else
  fail "vmim/mig-early waits in Scheduling" "$(k get vmim mig-early -o yaml)"
fi
echo "    $(vmim_condition mig-early Schedulable message)"
uid=$(json_field vmim/mig-early '{.metadata.uid}')
expect_ok k delete vmim mig-early --wait=false
early_gone() { not_found vmim mig-early; }
if wait_until 20 early_gone; then pass "vmim/mig-early is gone"; else
  fail "vmim/mig-early is gone" "$(k get vmim mig-early -o yaml)"
fi
expect_ne "$(migration_state vmi/vmi-c migrationUid)" "$uid" "no migrationState was written for it"
expect_eq "$(grep -c "migration started vmim=default/mig-early " "$TEST_TMP/engine-node01.log")" 0 \
  "no libvirt migration was started for it"
expect_eq "$(json_field vmi/vmi-c '{.status.nodeName}')" node01 "vmi/vmi-c: status.nodeName is still node01"
expect_eq "$(domain_nodes vmi-c)" node01 "the domain runs on node01 only"
expect_eq "$(libvirt_job_count node01)" 0 "no libvirt job is left on node01"

finish
