#!/usr/bin/env bash
# End-to-end (issue 8 §4, design.md §4.2 step 7): node01's engine is killed with SIGKILL in the
# middle of a migration (5 MiB/s: it runs for a while) and started again. The libvirt job goes on
# without it; the new engine adopts it ("adopting migration after a restart") and never starts
# a second one ("migration started" once for the VMIM). The test raises the job's bandwidth with
# `virsh migrate-setspeed` after the restart so that it ends soon. Then: the VMIM is final
# (Succeeded with status.nodeName node02, or Failed with a reason) with its finalizer gone, the
# VMI's migrationState is completed, the VM runs on exactly one node with its memory intact.
#
# Usage: engine_restart_test.sh (environment as engine_test.sh)
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$here/../integration/lib.sh"
# shellcheck source=tests/e2e/engine_lib.sh
source "$here/engine_lib.sh"

e2e_up "{bandwidthPerMigration: 5Mi}"
start_engine node01
start_engine node02

section "a guest starts on node01; a slow migration runs"
guest_vmi vmi-k node01 0 192Mi 64
wait_running vmi-k
wait_guest vmi-k node01
memsum=$(guest_memsum vmi-k node01)
create_vmim mig-kill vmi-k
wait_migration_running mig-kill vmi-k 30

section "SIGKILL node01's engine mid-migration, start it again"
pid=${ENGINE_PID[node01]}
expect_match "$(readlink "/proc/$pid/exe")" '/migration-engine$' "pid $pid is the engine itself (nsenter exec'd it)"
job_runs() { virsh -c "$KM_E2E_NODE01_URI" domjobinfo default_vmi-k 2>/dev/null | grep -q 'Job type: *Unbounded'; }
expect_ok job_runs
t_kill=$(now_ms)
kill -KILL "$pid"
wait "$pid" 2>/dev/null
pid_gone() { ! kill -0 "$pid" 2>/dev/null; }
if wait_until 5 pid_gone; then pass "the engine is gone"; else fail "the engine is gone"; fi
if job_runs; then pass "the libvirt job goes on without the engine"; else
  fail "the libvirt job goes on without the engine" "$(virsh -c "$KM_E2E_NODE01_URI" domjobinfo default_vmi-k 2>&1)"
fi
expect_eq "$(vmim_phase mig-kill)" Running "the VMIM still says Running"
start_engine node01
t_up=$(now_ms)
echo "    the engine was down for $((t_up - t_kill)) ms"
log=$TEST_TMP/engine-node01.log
expect_file_eventually_contains "$log" "adopting migration after a restart vmim=default/mig-kill" 10 \
  "the restarted engine adopts the job"
if job_runs; then
  expect_ok virsh -c "$KM_E2E_NODE01_URI" migrate-setspeed default_vmi-k 200
else
  echo "    the job ended before the bandwidth could be raised"
fi

section "the migration ends and is recorded"
final() { [[ "$(vmim_phase mig-kill)" =~ ^(Succeeded|Failed)$ ]]; }
if wait_until 90 final; then pass "the VMIM ends final: $(vmim_phase mig-kill)"; else
  fail "the VMIM ends final" "$(k get vmim mig-kill -o yaml)" "$(tail -20 "$log")"
fi
t_end=$(now_ms)
echo "    final $((t_end - t_kill)) ms after the kill: $(vmim_phase mig-kill)" \
  "$(vmim_condition mig-kill Failed reason) $(vmim_condition mig-kill Failed message)"
expect_eq "$(grep -c 'migration started vmim=default/mig-kill ' "$log")" 1 \
  "\"migration started\" appears once for the VMIM: one libvirt migration"
expect_eq "$(grep -c 'adopting migration after a restart vmim=default/mig-kill ' "$log")" 1 \
  "the job was adopted once"
not_finalized() { [[ "$(json_field vmim/mig-kill '{.metadata.finalizers}')" != *migrationJobFinalize* ]]; }
if wait_until 10 not_finalized; then pass "the finalizer is removed"; else
  fail "the finalizer is removed" "$(json_field vmim/mig-kill '{.metadata.finalizers}')"
fi
expect_eq "$(migration_state vmi/vmi-k completed)" true "vmi/vmi-k: migrationState.completed"
expect_eq "$(migration_state vmi/vmi-k migrationUid)" "$(json_field vmim/mig-kill '{.metadata.uid}')" \
  "vmi/vmi-k: migrationUid is the VMIM's uid"
expect_eq "$(migration_state vmi/vmi-k startTimestamp)" "$(migration_state vmim/mig-kill startTimestamp)" \
  "the VMIM mirrors startTimestamp"
expect_eq "$(migration_state vmi/vmi-k endTimestamp)" "$(migration_state vmim/mig-kill endTimestamp)" \
  "the VMIM mirrors endTimestamp"
if [[ "$(vmim_phase mig-kill)" == Succeeded ]]; then
  where=node02
  expect_eq "$(migration_state vmi/vmi-k failed)" false "vmi/vmi-k: not failed"
  expect_eq "$(migration_state vmi/vmi-k targetNode)" node02 "vmi/vmi-k: targetNode"
  expect_eq "$(migration_state vmi/vmi-k targetNodeDomainDetected)" true "vmi/vmi-k: targetNodeDomainDetected"
else
  where=node01
  expect_eq "$(migration_state vmi/vmi-k failed)" true "vmi/vmi-k: failed"
  expect_ne "$(vmim_condition mig-kill Failed reason)" "" "the Failed condition has a reason"
  expect_ne "$(migration_state vmi/vmi-k failureReason)" "" "vmi/vmi-k: failureReason"
fi
expect_eq "$(json_field vmi/vmi-k '{.status.nodeName}')" "$where" "vmi/vmi-k: status.nodeName is $where"
expect_eq "$(domain_nodes vmi-k)" "$where" "the domain runs on $where only"
expect_eq "$(defined_nodes vmi-k)" "$where" "the domain is defined (persistent) on $where only"
expect_guest_alive vmi-k "$where" "$memsum"
expect_eq "$(tr -d '\r' <"$(serial_of vmi-k "$where")" | grep -c '^km: boot')" "$([[ $where == node01 ]] && echo 1 || echo 0)" \
  "the guest did not boot again"

finish
