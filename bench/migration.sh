#!/usr/bin/env bash
# bench/migration.sh: the migration engine on two real libvirt nodes against its targets
# (design.md section 7, issue 8 section 5), in one run, medians of RUNS runs (default 5, >= 5):
#
#   full path    `kubectl migrate VMI --wait` (wall time of the command) against the baseline
#                `virsh migrate --live --p2p --persistent --undefinesource` of an identical domain
#                (the engine's domain XML, renamed) that the engine does not manage; the two are
#                interleaved, the order alternating each round, both VMs moving the same way.
#   job start    VMIM created -> the source engine's "migration started" log line (the libvirt
#                call follows it on the runner's thread), from the wall clock around the command
#                that created the VMIM (the VMIM's creationTimestamp has whole seconds only).
#   cancel       a slow migration (5 MiB/s, dirtying guest): `kubectl delete vmim` -> the VMI's
#                migrationState.abortStatus Succeeded (kubectl watch, each line timestamped), and
#                in the engine log "aborting migration" (AbortJob) -> "migration ended".
#   bandwidth    the libvirt job's memory bytes over time (virsh domjobinfo on the source every
#                0.25 s) against bandwidthPerMigration 50Mi and 100Mi.
#   timeouts     completion (completionTimeoutPerGiB 5: T = 5 s for a 512 MiB guest) and progress
#                (progressTimeout 5, a guest dirtying faster than the limit): when the engine
#                logged "aborting migration" against its deadline.
#   writes       status writes per migration: migration_engine_status_writes_total of both
#                engines (delta), and the write requests devcluster counted on VMIs and VMIMs.
#   forecast     the VMI's migrationState.forecast.durationSeconds against durationMs.
#
# Prints one `bench:` line per figure and writes them into docs/benchmarks.md (section
# "Migration (engine)", replaced on each run). Runs as root (nodes.sh: mount namespaces).
#
#   bench/migration.sh [RUNS]
#
# Environment: the KM_E2E_* variables of tests/e2e/nodes.sh (defaults below: ports and migration
# ranges of their own, so that it can run beside the e2e tests), KM_BENCH_KEEP=DIR to copy the raw
# samples and logs there (also on failure), KM_BENCH_PHASES to run only some of "full bandwidth
# cancel completion progress" (the report then has only their lines; for trying the script out).
set -u
RUNS=${1:-5}
if ! [[ $RUNS =~ ^[0-9]+$ ]] || ((RUNS < 5)); then
  echo "bench: RUNS must be at least 5" >&2
  exit 2
fi
export KM_E2E_NODE01_PORT=${KM_E2E_NODE01_PORT:-17291}
export KM_E2E_NODE02_PORT=${KM_E2E_NODE02_PORT:-17292}
export KM_E2E_NODE01_MIGRATION_PORTS=${KM_E2E_NODE01_MIGRATION_PORTS:-52900-52949}
export KM_E2E_NODE02_MIGRATION_PORTS=${KM_E2E_NODE02_MIGRATION_PORTS:-52950-52999}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tests/integration/lib.sh
source "$ROOT/tests/integration/lib.sh"
# shellcheck source=tests/e2e/engine_lib.sh
source "$ROOT/tests/e2e/engine_lib.sh"
for b in migration-engine kubectl-migrate devcluster; do
  [[ -x $KM_BIN_DIR/$b ]] || { echo "bench: build first ($KM_BIN_DIR/$b is missing)" >&2; exit 2; }
done

SAMPLES=$TEST_TMP/samples.jsonl
: >"$SAMPLES"
die() {
  echo "bench: migration.sh: $*" >&2
  exit 1
}
keep() { [[ -z ${KM_BENCH_KEEP:-} ]] || { mkdir -p "$KM_BENCH_KEEP" && cp -r "$TEST_TMP"/*.log "$SAMPLES" "$TEST_TMP"/raw "$KM_BENCH_KEEP"/ 2>/dev/null; }; }
mkdir -p "$TEST_TMP/raw"
trap 'keep; e2e_cleanup' EXIT
PHASES=" ${KM_BENCH_PHASES:-full bandwidth cancel completion progress} "
phase() { [[ $PHASES == *" $1 "* ]]; }
now() { echo "$EPOCHREALTIME"; }
other() { if [[ $1 == node01 ]]; then echo node02; else echo node01; fi; }
record() { printf '%s\n' "$1" >>"$SAMPLES"; }

# bench_vmi NAME NODE MEMORY SIZE_MIB DIRTY_MIB_S: a VMI of the test guest (guest/init.c fills
# SIZE_MIB of its memory with a random pattern, the rest stays zero pages, and dirties
# DIRTY_MIB_S of it); the kernel arguments are engine_lib.sh's guest_vmi's.
bench_vmi() {
  cat >"$TEST_TMP/vmi-$1.yaml" <<YAML
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: $1, namespace: default}
spec:
  nodeSelector: {kubernetes.io/hostname: $2}
  domain:
    memory: {guest: $3}
    firmware:
      kernelBoot:
        kernelArgs: "console=ttyS0 quiet panic=0 pti=on km.spin=1 km.size_mib=$4 km.dirty_mib_s=$5"
        container: {image: km-guest, kernelPath: /vmlinuz, initrdPath: /initrd.img}
    devices:
      interfaces: [{name: default, masquerade: {}}]
  networks: [{name: default, pod: {}}]
YAML
  k apply -f "$TEST_TMP/vmi-$1.yaml" >/dev/null || die "cannot create VMI $1"
  wait_running "$1"
  wait_guest "$1" "$2"
}

# migrations SETTINGS_JSON: the KubeVirt object's spec.configuration.migrations (merged).
migrations() {
  k patch kubevirt kubevirt -n kubevirt --type merge \
    -p "{\"spec\":{\"configuration\":{\"migrations\":$1}}}" >/dev/null || die "cannot patch KubeVirt"
  # The engines read it from their informer caches: give the watch event time to arrive.
  sleep 1
}

# snapshot FILE: both engines' status-write counters and devcluster's write requests on VMIs
# and VMIMs, one "name value" a line.
snapshot() {
  {
    local n
    for n in node01 node02; do
      engine_metrics "$n" | awk -v n="$n" '/^migration_engine_status_writes_total /{print "engine_" n, $2}'
    done
    k get --raw /metrics | awk '/^apiserver_request_total\{/ && /resource="virtualmachineinstance(migration)?s"/ &&
      /verb="(PATCH|UPDATE|APPLY|POST|DELETE)"/ {
        match($0, /verb="[A-Z]+"/); v = substr($0, RSTART + 6, RLENGTH - 7)
        match($0, /resource="[a-z]+"/); r = substr($0, RSTART + 10, RLENGTH - 11)
        s = "main"; if (match($0, /subresource="[a-z]+"/)) s = substr($0, RSTART + 13, RLENGTH - 14)
        sum[r "/" s "/" v] += $NF } END { for (x in sum) print "api_" x, sum[x] }'
  } >"$1"
}

# vmim_settled NAME: the VMIM is gone or has no finalizer left (the engine's last step).
vmim_settled() {
  local out
  out=$(k get vmim "$1" -o 'jsonpath={.status.phase} {.metadata.finalizers}' 2>&1) || [[ $out == *NotFound* ]] || return 1
  [[ $out == *NotFound* || ($out =~ ^(Succeeded|Failed) && $out != *migrationJobFinalize*) ]]
}

# jobinfo_sampler URI DOMAIN FILE: `virsh domjobinfo` every 0.25 s, each block after "@@ TIME".
jobinfo_sampler() {
  while :; do
    echo "@@ $EPOCHREALTIME"
    virsh -c "$1" domjobinfo "$2" 2>/dev/null
    sleep 0.25
  done >"$3"
}

# create_vmim VMI: creates a VMIM with kubectl create (timed); sets VMIM, T_CREATE0, T_CREATE1.
create_vmim() {
  cat >"$TEST_TMP/vmim.yaml" <<YAML
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstanceMigration
metadata: {generateName: $1-, namespace: default}
spec: {vmiName: $1}
YAML
  T_CREATE0=$(now)
  VMIM=$("$KUBECTL" create -f "$TEST_TMP/vmim.yaml" -o name) || die "kubectl create vmim"
  T_CREATE1=$(now)
  VMIM=${VMIM##*/}
}

# vmim_run ID VMI FROM [WAIT_SECONDS]: one migration started with kubectl create, sampled with
# domjobinfo on FROM until the VMIM settles; records it as "run" ID.
vmim_run() {
  local id=$1 vmi=$2 from=$3 limit=${4:-180}
  snapshot "$TEST_TMP/raw/$id.before"
  create_vmim "$vmi"
  background "$TEST_TMP/raw/$id.sampler.err" jobinfo_sampler "$(node_uri "$from")" "default_$vmi" "$TEST_TMP/raw/$id.jobinfo"
  local sampler=$BG_PID
  wait_until "$limit" vmim_settled "$VMIM" || die "$VMIM did not end within ${limit}s: $(k get vmim "$VMIM" -o yaml)"
  stop_background "$sampler"
  snapshot "$TEST_TMP/raw/$id.after"
  k get vmi "$vmi" -o json >"$TEST_TMP/raw/$id.vmi.json"
  record "{\"id\":\"$id\",\"vmim\":\"default/$VMIM\",\"domain\":\"default_$vmi\",\"t_create0\":$T_CREATE0,\"t_create1\":$T_CREATE1}"
}

e2e_up "{bandwidthPerMigration: 0}" >&2
start_engine node01 >&2
start_engine node02 >&2

# --- full path: kubectl migrate --wait against virsh migrate of an identical domain ---------
engine_full() {
  local r=$1 from=$2 t0 t1 id=full-$1
  snapshot "$TEST_TMP/raw/$id.before"
  t0=$(now)
  kubectl migrate bench-a --wait --timeout 180s >"$TEST_TMP/raw/$id.out" 2>&1 || die "kubectl migrate --wait (round $r): $(cat "$TEST_TMP/raw/$id.out")"
  t1=$(now)
  local vmim
  vmim=$(last_vmim bench-a)
  wait_until 30 vmim_settled "${vmim##*/}" || die "$vmim keeps its finalizer"
  snapshot "$TEST_TMP/raw/$id.after"
  k get vmi bench-a -o json >"$TEST_TMP/raw/$id.vmi.json"
  [[ $(json_field vmi/bench-a '{.status.nodeName}') == "$(other "$from")" ]] || die "bench-a did not move (round $r)"
  record "{\"id\":\"$id\",\"kind\":\"full\",\"vmim\":\"default/${vmim##*/}\",\"domain\":\"default_bench-a\",\"t_create0\":$t0,\"t_done\":$t1}"
}
virsh_full() {
  local r=$1 from=$2 t0 t1
  t0=$(now)
  virsh_migrate bench-virsh "$from" "$TEST_TMP/raw/virsh-$r.out" || die "virsh migrate (round $r): $(cat "$TEST_TMP/raw/virsh-$r.out")"
  t1=$(now)
  record "{\"id\":\"virsh-$r\",\"kind\":\"virsh\",\"t0\":$t0,\"t1\":$t1}"
}
virsh_alive() { [[ $(tr -d '\r' <"$(node_data "$2")/$1.log" | grep -c '^km: alive .* ok') -ge 2 ]]; }
# clone_domain VMI NAME: the baseline domain NAME on node01: the engine's own domain XML of VMI
# (on node01) under another name and uuid, its console in the node's data directory (the same
# path on both nodes, each node its own file); started, and booted.
clone_domain() {
  virsh -c "$KM_E2E_NODE01_URI" dumpxml --inactive "default_$1" |
    sed -e "s|<name>default_$1</name>|<name>$2</name>|" -e '/<uuid>/d' \
      -e "s|$NODE_DATA_DIR/vmis/default_$1/serial.log|$NODE_DATA_DIR/$2.log|g" >"$TEST_TMP/$2.xml"
  ! grep -q "default_$1" "$TEST_TMP/$2.xml" || die "the engine's domain XML names its VMI elsewhere: $TEST_TMP/$2.xml"
  virsh -c "$KM_E2E_NODE01_URI" define "$TEST_TMP/$2.xml" >/dev/null || die "virsh define $2"
  virsh -c "$KM_E2E_NODE01_URI" start "$2" >/dev/null || die "virsh start $2"
  wait_until 120 virsh_alive "$2" node01 || die "$2 did not boot"
}
# virsh_migrate DOMAIN FROM OUT [ARGS...]: the baseline's migration of DOMAIN from FROM to the
# other node.
virsh_migrate() {
  local dom=$1 from=$2 out=$3
  shift 3
  virsh -c "$(node_uri "$from")" migrate --live --p2p --persistent --undefinesource "$@" "$dom" \
    "$(node_uri "$(other "$from")")" tcp://127.0.0.2 >"$out" 2>&1
}
gone() { not_found vmi "$1"; }

phase_full() {
  echo "bench: migration.sh: full path, $RUNS rounds" >&2
  bench_vmi bench-a node01 192Mi 32 0 >&2
  clone_domain bench-a bench-virsh
  # One warm-up round each way (not recorded: first connections, caches), then RUNS rounds.
  local from=node01 r
  for ((r = -2; r < RUNS; r++)); do
    if ((r < 0)); then
      kubectl migrate bench-a --wait --timeout 180s >/dev/null 2>&1 || die "warm-up kubectl migrate"
      wait_until 30 vmim_settled "$(last_vmim bench-a | sed 's|.*/||')"
      virsh_migrate bench-virsh "$from" /dev/null || die "warm-up virsh migrate"
    elif ((r % 2 == 0)); then
      engine_full "$r" "$from"
      virsh_full "$r" "$from"
    else
      virsh_full "$r" "$from"
      engine_full "$r" "$from"
    fi
    from=$(other "$from")
  done
  virsh -c "$(node_uri "$from")" destroy bench-virsh >/dev/null 2>&1
  virsh -c "$(node_uri "$from")" undefine bench-virsh >/dev/null 2>&1
  k delete vmi bench-a --wait=false >/dev/null
  wait_until 30 gone bench-a || die "bench-a is not deleted"
}

# --- the 512 MiB guest, 384 MiB of it random, dirtying 4 MiB/s, and its virsh twin ----------
BIG_ON="" VBIG_ON="" # where they run
big_vmi() {
  [[ -n $BIG_ON ]] && return
  bench_vmi bench-big node01 512Mi 384 4 >&2
  BIG_ON=node01
  clone_domain bench-big bench-virsh-big
  VBIG_ON=node01
}
# virsh_bw_run ID BW: the baseline of a bandwidth run: virsh migrate --bandwidth BW of the twin.
virsh_bw_run() {
  local id=$1 bw=$2 t0 t1 sampler
  background "$TEST_TMP/raw/$id.sampler.err" jobinfo_sampler "$(node_uri "$VBIG_ON")" bench-virsh-big "$TEST_TMP/raw/$id.jobinfo"
  sampler=$BG_PID
  t0=$(now)
  virsh_migrate bench-virsh-big "$VBIG_ON" "$TEST_TMP/raw/$id.out" --bandwidth "$bw" || die "virsh migrate ($id): $(cat "$TEST_TMP/raw/$id.out")"
  t1=$(now)
  stop_background "$sampler"
  VBIG_ON=$(other "$VBIG_ON")
  record "{\"id\":\"$id\",\"kind\":\"virsh_bw\",\"t0\":$t0,\"t1\":$t1}"
}

phase_bandwidth() {
  echo "bench: migration.sh: bandwidth 50Mi and 100Mi, $RUNS runs each" >&2
  big_vmi
  local bw r
  for bw in 50 100; do
    migrations "{\"bandwidthPerMigration\": \"${bw}Mi\", \"completionTimeoutPerGiB\": 800, \"progressTimeout\": 150}"
    for ((r = 0; r < RUNS; r++)); do
      ((r % 2 == 1)) && virsh_bw_run "virsh-bw$bw-$r" "$bw"
      vmim_run "bw$bw-$r" bench-big "$BIG_ON"
      [[ $(json_field vmi/bench-big '{.status.nodeName}') == "$(other "$BIG_ON")" ]] ||
        die "bench-big did not move (bw $bw run $r)"
      BIG_ON=$(other "$BIG_ON")
      ((r % 2 == 0)) && virsh_bw_run "virsh-bw$bw-$r" "$bw"
    done
  done
}

# --- cancel: 5 MiB/s (the guest's 384 MiB would take 77 s), delete the VMIM 2 s into Running --
vmim_running() { [[ $(json_field "vmim/$1" '{.status.phase}') == Running ]]; }
job_running() { virsh -c "$(node_uri "$VBIG_ON")" domjobinfo bench-virsh-big 2>/dev/null | grep -q Unbounded; }
# virsh_cancel_run ID: the baseline of a cancel: virsh migrate --bandwidth 5 of the twin,
# `virsh domjobabort` 2 s after its job shows, until `virsh migrate` exits.
virsh_cancel_run() {
  local id=$1 pid t0 t1 t2
  virsh_migrate bench-virsh-big "$VBIG_ON" "$TEST_TMP/raw/$id.out" --bandwidth 5 &
  pid=$!
  wait_until 60 job_running || die "no migration job for bench-virsh-big"
  sleep 2
  t0=$(now)
  virsh -c "$(node_uri "$VBIG_ON")" domjobabort bench-virsh-big >/dev/null || die "virsh domjobabort"
  t1=$(now)
  wait "$pid" && die "virsh migrate succeeded despite domjobabort"
  t2=$(now)
  [[ $(virsh -c "$(node_uri "$VBIG_ON")" domstate bench-virsh-big) == running ]] || die "bench-virsh-big is not running after the abort"
  record "{\"id\":\"$id\",\"kind\":\"virsh_cancel\",\"t0\":$t0,\"t_abort_ret\":$t1,\"t1\":$t2}"
}
watch_has() { grep -q " $2\$" "$1" 2>/dev/null; }
phase_cancel() {
  echo "bench: migration.sh: cancel, $RUNS runs" >&2
  big_vmi
  migrations '{"bandwidthPerMigration": "5Mi", "completionTimeoutPerGiB": 800, "progressTimeout": 150}'
  local r id watch_pid t_del0 t_del1
  for ((r = 0; r < RUNS; r++)); do
    ((r % 2 == 1)) && virsh_cancel_run "virsh-cancel-$r"
    id=cancel-$r
    snapshot "$TEST_TMP/raw/$id.before"
    create_vmim bench-big
    wait_until 60 vmim_running "$VMIM" || die "$VMIM is not Running"
    sleep 2
    # Every watch event of the VMI's abortStatus, timestamped as it arrives.
    "$KUBECTL" get vmi bench-big -w -o 'jsonpath={.status.migrationState.abortStatus}{"\n"}' \
      > >(while IFS= read -r l; do echo "$EPOCHREALTIME ${l:--}"; done >"$TEST_TMP/raw/$id.watch") 2>/dev/null &
    watch_pid=$!
    BACKGROUND_PIDS+=("$watch_pid")
    wait_until 10 test -s "$TEST_TMP/raw/$id.watch" || die "kubectl get -w printed nothing"
    t_del0=$(now)
    k delete vmim "$VMIM" --wait=false >/dev/null || die "kubectl delete vmim"
    t_del1=$(now)
    wait_until 30 watch_has "$TEST_TMP/raw/$id.watch" Succeeded ||
      die "abortStatus did not become Succeeded: $(cat "$TEST_TMP/raw/$id.watch")"
    stop_background "$watch_pid"
    wait_until 30 not_found vmim "$VMIM" || die "$VMIM is not deleted"
    snapshot "$TEST_TMP/raw/$id.after"
    [[ $(domain_nodes bench-big) == "$BIG_ON" ]] ||
      die "after the cancel, bench-big runs on '$(domain_nodes bench-big)', not $BIG_ON"
    record "{\"id\":\"$id\",\"vmim\":\"default/$VMIM\",\"domain\":\"default_bench-big\",\"t_create0\":$T_CREATE0,\"t_create1\":$T_CREATE1,\"t_delete0\":$t_del0,\"t_delete1\":$t_del1}"
    ((r % 2 == 0)) && virsh_cancel_run "virsh-cancel-$r"
  done
  virsh -c "$(node_uri "$VBIG_ON")" destroy bench-virsh-big >/dev/null 2>&1
  virsh -c "$(node_uri "$VBIG_ON")" undefine bench-virsh-big >/dev/null 2>&1
}

# --- completion timeout: 5 s per GiB, a 512 MiB guest (1 GiB rounded up): T = 5 s ------------
phase_completion() {
  echo "bench: migration.sh: completion timeout, $RUNS runs" >&2
  big_vmi
  migrations '{"bandwidthPerMigration": "5Mi", "completionTimeoutPerGiB": 5, "progressTimeout": 150}'
  local r
  for ((r = 0; r < RUNS; r++)); do
    vmim_run "completion-$r" bench-big "$BIG_ON" 60
    [[ $(json_field "vmim/$VMIM" '{.status.phase}') == Failed ]] || die "$VMIM did not fail"
  done
}

# --- progress timeout: 256 MiB guest dirtying 64 MiB at 60 MiB/s, limit 20 MiB/s, T = 5 s ---
phase_progress() {
  echo "bench: migration.sh: progress timeout, $RUNS runs" >&2
  if [[ -n $BIG_ON ]]; then
    k delete vmi bench-big --wait=false >/dev/null
    wait_until 30 gone bench-big || die "bench-big is not deleted"
    BIG_ON=""
  fi
  bench_vmi bench-dirty node01 256Mi 64 60 >&2
  migrations '{"bandwidthPerMigration": "20Mi", "completionTimeoutPerGiB": 800, "progressTimeout": 5}'
  local r
  for ((r = 0; r < RUNS; r++)); do
    vmim_run "progress-$r" bench-dirty node01 120
    [[ $(json_field "vmim/$VMIM" '{.status.phase}') == Failed ]] || die "$VMIM did not fail"
  done
}

for p in full bandwidth cancel completion progress; do
  if phase "$p"; then
    # The machine's load while it ran (other work on a shared machine slows both sides).
    record "{\"id\":\"load-$p\",\"load\":\"$(cut -d' ' -f1 /proc/loadavg)\"}"
    "phase_$p"
  fi
done

python3 "$ROOT/bench/migration_report.py" --samples "$SAMPLES" --raw "$TEST_TMP/raw" \
  --engine-log "$TEST_TMP/engine-node01.log" --engine-log "$TEST_TMP/engine-node02.log" \
  --runs "$RUNS" ${KM_BENCH_PHASES:+--no-doc} --doc "$ROOT/docs/benchmarks.md" || die "migration_report.py failed"
