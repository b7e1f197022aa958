#!/usr/bin/env bash
# End-to-end (issue 8 §4, design.md §4.2 step 7): the source node's engine is killed with
# SIGKILL in the middle of a migration (5 MiB/s: it runs for a while) and started again. The
# libvirt job goes on without it; the new engine adopts it ("adopting migration after a
# restart") and never starts a second one ("migration started" once for the VMIM). The test
# raises the job's bandwidth with `virsh migrate-setspeed` so that it ends soon:
#   1. node01 -> node02, raised after the restart: the job is still running when adopted;
#   2. node02 -> node01, raised while the engine is down and waited for: the job has ended
#      (the domain left node02) when the engine comes back, and only its result is adopted.
# Then: the VMIM is final (Succeeded with status.nodeName the target, or Failed with a reason)
# with its finalizer gone, the VMI's migrationState is completed, the VM runs and is defined on
# exactly one node with its memory intact.
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

section "a guest starts on node01"
guest_vmi vmi-k node01 0 192Mi 64
wait_running vmi-k
wait_guest vmi-k node01
memsum=$(guest_memsum vmi-k node01)

# kill_case VMIM FROM TO WHEN: a slow migration FROM -> TO; SIGKILL FROM's engine; WHEN=after:
# restart it, then raise the bandwidth; WHEN=before: raise the bandwidth, wait until the job has
# ended, then restart it. Then every check.
kill_case() {
  local vmim=$1 from=$2 to=$3 when=$4 uri
  uri=$(node_uri "$from")
  local log=$TEST_TMP/engine-$from.log
  boots() { tr -d '\r' 2>/dev/null <"$(serial_of vmi-k "$1")" | grep -c '^km: boot' || true; }
  local -A boots_before=([node01]=$(boots node01) [node02]=$(boots node02))
  create_vmim "$vmim" vmi-k
  wait_migration_running "$vmim" vmi-k 30

  local pid=${ENGINE_PID[$from]}
  expect_match "$(readlink "/proc/$pid/exe")" '/migration-engine$' "pid $pid is $from's engine itself (nsenter exec'd it)"
  job_runs() { virsh -c "$uri" domjobinfo default_vmi-k 2>/dev/null | grep -q 'Job type: *Unbounded'; }
  expect_ok job_runs
  local t_kill t_up
  t_kill=$(now_ms)
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null
  pid_gone() { ! kill -0 "$pid" 2>/dev/null; }
  if wait_until 5 pid_gone; then pass "$from's engine is gone"; else fail "$from's engine is gone"; fi
  if job_runs; then pass "the libvirt job goes on without the engine"; else
    fail "the libvirt job goes on without the engine" "$(virsh -c "$uri" domjobinfo default_vmi-k 2>&1)"
  fi
  expect_eq "$(vmim_phase "$vmim")" Running "the VMIM still says Running"
  if [[ $when == before ]]; then
    expect_ok virsh -c "$uri" migrate-setspeed default_vmi-k 200
    left() { [[ "$(domain_nodes vmi-k)" == "$to" ]]; }
    if wait_until 60 left; then pass "the job ends while the engine is down: the domain runs on $to"; else
      fail "the job ends while the engine is down: the domain runs on $to" "$(domain_nodes vmi-k)"
    fi
    expect_eq "$(vmim_phase "$vmim")" Running "the VMIM still says Running (nobody to record the end)"
  fi
  start_engine "$from"
  t_up=$(now_ms)
  echo "    $from's engine was down for $((t_up - t_kill)) ms"
  expect_file_eventually_contains "$log" "adopting migration after a restart vmim=default/$vmim" 10 \
    "the restarted engine adopts the job"
  if [[ $when == after ]]; then
    if job_runs; then
      expect_ok virsh -c "$uri" migrate-setspeed default_vmi-k 200
    else
      echo "    the job ended before the bandwidth could be raised"
    fi
  fi

  final() { [[ "$(vmim_phase "$vmim")" =~ ^(Succeeded|Failed)$ ]]; }
  if wait_until 90 final; then pass "vmim/$vmim ends final: $(vmim_phase "$vmim")"; else
    fail "vmim/$vmim ends final" "$(k get vmim "$vmim" -o yaml)" "$(tail -20 "$log")"
  fi
  echo "    final $(($(now_ms) - t_kill)) ms after the kill: $(vmim_phase "$vmim")" \
    "$(vmim_condition "$vmim" Failed reason) $(vmim_condition "$vmim" Failed message)"
  expect_eq "$(grep -c "migration started vmim=default/$vmim " "$log")" 1 \
    "\"migration started\" appears once for vmim/$vmim: one libvirt migration"
  expect_eq "$(grep -c "adopting migration after a restart vmim=default/$vmim " "$log")" 1 \
    "the job was adopted once"
  not_finalized() { [[ "$(json_field "vmim/$vmim" '{.metadata.finalizers}')" != *migrationJobFinalize* ]]; }
  if wait_until 10 not_finalized; then pass "the finalizer is removed"; else
    fail "the finalizer is removed" "$(json_field "vmim/$vmim" '{.metadata.finalizers}')"
  fi
  expect_eq "$(migration_state vmi/vmi-k completed)" true "vmi/vmi-k: migrationState.completed"
  expect_eq "$(migration_state vmi/vmi-k migrationUid)" "$(json_field "vmim/$vmim" '{.metadata.uid}')" \
    "vmi/vmi-k: migrationUid is the VMIM's uid"
  expect_eq "$(migration_state vmi/vmi-k startTimestamp)" "$(migration_state "vmim/$vmim" startTimestamp)" \
    "the VMIM mirrors startTimestamp"
  expect_eq "$(migration_state vmi/vmi-k endTimestamp)" "$(migration_state "vmim/$vmim" endTimestamp)" \
    "the VMIM mirrors endTimestamp"
  local where
  if [[ "$(vmim_phase "$vmim")" == Succeeded ]]; then
    where=$to
    expect_eq "$(migration_state vmi/vmi-k failed)" false "vmi/vmi-k: not failed"
    expect_eq "$(migration_state vmi/vmi-k targetNode)" "$to" "vmi/vmi-k: targetNode"
    expect_eq "$(migration_state vmi/vmi-k targetNodeDomainDetected)" true "vmi/vmi-k: targetNodeDomainDetected"
  else
    where=$from
    expect_eq "$(migration_state vmi/vmi-k failed)" true "vmi/vmi-k: failed"
    expect_ne "$(vmim_condition "$vmim" Failed reason)" "" "the Failed condition has a reason"
    expect_ne "$(migration_state vmi/vmi-k failureReason)" "" "vmi/vmi-k: failureReason"
  fi
  expect_eq "$(json_field vmi/vmi-k '{.status.nodeName}')" "$where" "vmi/vmi-k: status.nodeName is $where"
  expect_eq "$(domain_nodes vmi-k)" "$where" "the domain runs on $where only"
  expect_eq "$(defined_nodes vmi-k)" "$where" "the domain is defined (persistent) on $where only"
  expect_guest_alive vmi-k "$where" "$memsum"
  expect_eq "$(boots "$where")" "${boots_before[$where]}" "the guest did not boot again on $where"
}

section "1. node01 -> node02: SIGKILL node01's engine, restart, the running job is adopted"
kill_case mig-kill node01 node02 after
section "2. node02 -> node01: SIGKILL node02's engine, the job ends meanwhile, restart"
kill_case mig-kill-back node02 node01 before

finish
