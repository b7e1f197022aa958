#!/usr/bin/env bash
# bench/evacuate.sh: `kubectl migrate evacuate NODE --wait` against the limit-bound optimum
# (design.md section 7: <= 1.1x), in one run on the two local libvirt nodes (tests/e2e/nodes.sh),
# with devcluster, the webhook and both engines.
#
#   N VMIs (default 4) on one node, parallelOutboundMigrationsPerNode 2, bandwidthPerMigration
#   32Mi (so that the copy, not the machine's noise, is most of each migration). Each run
#   evacuates the node the VMIs are on (node01, then node02, alternating) and uncordons it.
#   The baseline, interleaved: `kubectl migrate VMI --wait` of one of the same VMIs, alone.
#   optimum = ceil(N / limit) x the median single migration; ratio = median evacuation / optimum.
#
# Prints `bench:` lines; the figures go into docs/benchmarks.md by hand ("Evacuate").
#
#   bench/evacuate.sh [RUNS] [N]      RUNS >= 5 (default 5)
#
# Environment: KM_BIN_DIR (default build/bin), the KM_E2E_* variables of tests/e2e/nodes.sh
# (defaults below: ports and migration ranges of its own).
set -u
RUNS=${1:-5}
N=${2:-4}
LIMIT=2
if ! [[ $RUNS =~ ^[0-9]+$ ]] || ((RUNS < 5)); then
  echo "bench: RUNS must be at least 5" >&2
  exit 2
fi
export KM_E2E_NODE01_PORT=${KM_E2E_NODE01_PORT:-17261}
export KM_E2E_NODE02_PORT=${KM_E2E_NODE02_PORT:-17262}
export KM_E2E_NODE01_MIGRATION_PORTS=${KM_E2E_NODE01_MIGRATION_PORTS:-51100-51149}
export KM_E2E_NODE02_MIGRATION_PORTS=${KM_E2E_NODE02_MIGRATION_PORTS:-51150-51199}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export KM_BIN_DIR=${KM_BIN_DIR:-$ROOT/build/bin} KM_SOURCE_DIR=$ROOT
# shellcheck source=tests/integration/lib.sh
source "$ROOT/tests/integration/lib.sh"
# shellcheck source=tests/e2e/engine_lib.sh
source "$ROOT/tests/e2e/engine_lib.sh"
die() {
  echo "bench: evacuate.sh: $*" >&2
  exit 1
}

E2E_WEBHOOK=1 e2e_up "{bandwidthPerMigration: 32Mi, parallelOutboundMigrationsPerNode: $LIMIT}" >/dev/null
start_engine node01 >/dev/null
start_engine node02 >/dev/null
vms=()
for ((i = 1; i <= N; i++)); do vms+=("ev-$i"); done
for v in "${vms[@]}"; do KM_GUEST_SPIN=0 guest_vmi "$v" node01 0 128Mi 16 >/dev/null; done
for v in "${vms[@]}"; do wait_running "$v" >/dev/null; wait_guest "$v" node01 >/dev/null; done
other() { if [[ $1 == node01 ]]; then echo node02; else echo node01; fi; }

# A warm-up evacuation each way (first connections, caches), not recorded.
on=node01
for _ in 1 2; do
  kubectl migrate evacuate "$on" --wait --timeout 300s >/dev/null 2>&1 || die "warm-up evacuate $on"
  kubectl migrate uncordon "$on" >/dev/null || die "uncordon $on"
  on=$(other "$on")
done

evac=() single=()
for ((r = 0; r < RUNS; r++)); do
  t0=$(now_ms)
  kubectl migrate evacuate "$on" --wait --timeout 300s >"$TEST_TMP/evac-$r.out" 2>&1 ||
    die "evacuate $on (run $r): $(tail -5 "$TEST_TMP/evac-$r.out")"
  evac+=($(($(now_ms) - t0)))
  kubectl migrate uncordon "$on" >/dev/null || die "uncordon $on"
  on=$(other "$on")
  # The baseline: one VMI alone, there and back (two samples).
  for _ in 1 2; do
    t0=$(now_ms)
    kubectl migrate ev-1 --wait --timeout 120s >"$TEST_TMP/single-$r.out" 2>&1 ||
      die "kubectl migrate ev-1 (run $r): $(tail -5 "$TEST_TMP/single-$r.out")"
    single+=($(($(now_ms) - t0)))
  done
  echo "  run $r: evacuate ${evac[-1]} ms; single ${single[-2]} ms, ${single[-1]} ms" >&2
done

python3 - "$N" "$LIMIT" "${evac[*]}" "${single[*]}" "$(uptime | sed 's/.*load average: //')" <<'PY'
import math, statistics, sys
n, limit = int(sys.argv[1]), int(sys.argv[2])
evac = [int(x) for x in sys.argv[3].split()]
single = [int(x) for x in sys.argv[4].split()]
m_evac, m_single = statistics.median(evac), statistics.median(single)
waves = math.ceil(n / limit)
optimum = waves * m_single
ratio = m_evac / optimum
print(f"bench: evacuate_ratio value={ratio:.3f} evacuate_median_s={m_evac/1000:.2f} "
      f"optimum_s={optimum/1000:.2f} single_median_s={m_single/1000:.2f} n_vmis={n} "
      f"per_node_limit={limit} waves={waves} runs={len(evac)} "
      f"({'met' if ratio <= 1.1 else 'NOT met'}: <= 1.1 x ceil(N/limit) x one migration)")
print(f"bench: evacuate_runs_s " + " ".join(f"{x/1000:.2f}" for x in evac) +
      " single_s " + " ".join(f"{x/1000:.2f}" for x in single) + f" load_at_end={sys.argv[5]}")
PY
