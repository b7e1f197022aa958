#!/usr/bin/env bash
# End-to-end (issue 8 §4): the per-node limit holds without the webhook. Three small VMIs on
# node01, parallelOutboundMigrationsPerNode 2, 10 MiB/s each (so that the migrations overlap);
# three VMIMs are created at once with kubectl apply (no admission webhook runs here: the
# engine alone enforces the limit). While they run, a sampler records every 200 ms how many
# libvirt migration jobs node01 has (virsh domjobinfo: "Job type: Unbounded") and the phases:
#   - never more than 2 jobs at once, and 2 at some point (they did overlap);
#   - the third VMIM waits Pending with condition WaitingForSlot, reason
#     ParallelOutboundMigrationsPerNodeReached, its message naming the two holders;
#   - in the end all three Succeeded, each VM on node02 only, its memory intact.
#
# Usage: engine_parallel_test.sh (environment as engine_test.sh)
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$here/../integration/lib.sh"
# shellcheck source=tests/e2e/engine_lib.sh
source "$here/engine_lib.sh"

e2e_up "{bandwidthPerMigration: 10Mi, parallelOutboundMigrationsPerNode: 2}"
start_engine node01
start_engine node02

vms=(vmi-p1 vmi-p2 vmi-p3)
section "three small guests start on node01"
# Without km.spin: three vCPUs spinning on this machine's two CPUs would slow everything down;
# the guests do not dirty memory, so the TCG problem km.spin narrows (README.md) hardly applies.
for v in "${vms[@]}"; do KM_GUEST_SPIN=0 guest_vmi "$v" node01 0 128Mi 16; done
declare -A memsum=()
for v in "${vms[@]}"; do
  wait_running "$v"
  wait_guest "$v" node01
  memsum[$v]=$(guest_memsum "$v" node01)
done

section "three VMIMs at once with kubectl apply"
for v in "${vms[@]}"; do
  cat <<YAML
---
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstanceMigration
metadata: {name: mig-${v#vmi-}, namespace: default}
spec: {vmiName: $v}
YAML
done >"$TEST_TMP/vmims.yaml"
# Two samplers, every 200 ms (plus the time virsh or kubectl takes): node01's libvirt jobs, and
# the VMIMs' phases.
samples=$TEST_TMP/samples phases=$TEST_TMP/phases
sample_jobs() { while true; do libvirt_job_count node01; sleep 0.2; done; }
sample_phases() {
  while true; do k get vmim -o jsonpath='{range .items[*]}{.status.phase},{end}{"\n"}' 2>/dev/null; sleep 0.2; done
}
background "$samples" sample_jobs
sampler=$BG_PID
background "$phases" sample_phases
phase_sampler=$BG_PID
t0=$(now_ms)
expect_ok k apply -f "$TEST_TMP/vmims.yaml"

# two_run_one_waits: two VMIMs Running, the third Pending with WaitingForSlot.
waiting=""
two_run_one_waits() {
  local m running=() w=""
  for m in mig-p1 mig-p2 mig-p3; do
    case "$(vmim_phase "$m")" in
      Running) running+=("$m") ;;
      Pending) [[ "$(vmim_condition "$m" WaitingForSlot status)" == True ]] && w=$m ;;
    esac
  done
  ((${#running[@]} == 2)) && [[ -n $w ]] && waiting="$w ${running[*]}"
}
if wait_until 60 two_run_one_waits; then
  pass "two VMIMs run while the third waits Pending"
  read -r w r1 r2 <<<"$waiting"
  expect_eq "$(vmim_condition "$w" WaitingForSlot reason)" ParallelOutboundMigrationsPerNodeReached \
    "vmim/$w: WaitingForSlot reason ParallelOutboundMigrationsPerNodeReached"
  msg=$(vmim_condition "$w" WaitingForSlot message)
  echo "    vmim/$w waits: $msg"
  expect_contains "$msg" "$r1" "the message names the holder $r1"
  expect_contains "$msg" "$r2" "the message names the holder $r2"
  expect_contains "$msg" "2 of 2" "the message gives the counts"
else
  fail "two VMIMs run while the third waits Pending" "$(k get vmim -o yaml)"
fi

all_final() {
  local m
  for m in mig-p1 mig-p2 mig-p3; do [[ "$(vmim_phase "$m")" =~ ^(Succeeded|Failed)$ ]] || return 1; done
}
wait_until 120 all_final
t1=$(now_ms)
stop_background "$sampler"
stop_background "$phase_sampler"
echo "    all three final $((t1 - t0)) ms after kubectl apply"
max_jobs=$(awk 'BEGIN {m = 0} $1 + 0 > m {m = $1 + 0} END {print m}' "$samples")
echo "    $(wc -l <"$samples") samples; libvirt jobs on node01 at once: at most $max_jobs;" \
  "histogram: $(awk '{c[$1]++} END {for (j in c) printf "%s jobs: %d  ", j, c[j]}' "$samples")"
if [[ $max_jobs =~ ^[0-9]+$ ]] && ((max_jobs <= 2)); then pass "never more than 2 libvirt jobs on node01"; else
  fail "never more than 2 libvirt jobs on node01" "$(cat "$samples")"
fi
expect_eq "$max_jobs" 2 "two migrations did run at once"
running_max=$(awk '{print gsub(/Running/, "")}' "$phases" | sort -n | tail -1)
echo "    $(wc -l <"$phases") samples of the phases; VMIMs Running at once: at most $running_max"
expect_eq "$running_max" 2 "at most 2 VMIMs Running in any sample"

for v in "${vms[@]}"; do
  m=mig-${v#vmi-}
  expect_eq "$(vmim_phase "$m")" Succeeded "vmim/$m Succeeded"
  echo "    vmim/$m: running $(migration_state "vmim/$m" startTimestamp) .. $(migration_state "vmim/$m" endTimestamp)," \
    "libvirt job $(migration_state "vmim/$m" durationMs) ms, downtime $(migration_state "vmim/$m" downtimeMs) ms"
  expect_eq "$(json_field "vmi/$v" '{.status.nodeName}')" node02 "vmi/$v: status.nodeName is node02"
  expect_eq "$(domain_nodes "$v")" node02 "the domain of $v runs on node02 only"
  expect_eq "$(defined_nodes "$v")" node02 "the domain of $v is defined on node02 only"
  expect_guest_alive "$v" node02 "${memsum[$v]}"
done

finish
