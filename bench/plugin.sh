#!/usr/bin/env bash
# bench/plugin.sh: `kubectl migrate VMI` (no wait) against its baseline,
# `kubectl create -f vmim.yaml`, on the same devcluster in the same run
# (issue 4). bench/interleave.py times the two interleaved: 3 warm-up rounds,
# then RUNS rounds (default 30, >= 5) of one run each, the order alternating
# (plugin first, then baseline first), so that drift on a shared machine falls
# on both sides. The ratio is of the medians; the per-round ratios give its
# spread. Prints one `bench:` line (interleave.py's summary, with the spread,
# goes to stderr) and writes both to docs/benchmarks.md (section
# "kubectl-migrate").
#
#   bench/plugin.sh [RUNS]
#
# Expects build/bin (scripts/build.sh) and python3.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/build/bin
RUNS=${1:-30}
((RUNS >= 5)) || { echo "bench: RUNS must be at least 5" >&2; exit 2; }
[[ -x $BIN/kubectl-migrate && -x $BIN/devcluster ]] || { echo "bench: build first (scripts/build.sh)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/km-bench-plugin.XXXXXX)
"$BIN/devcluster" --dir "$WORK/dc" --port 0 >"$WORK/devcluster.log" 2>&1 &
DC_PID=$!
trap 'kill $DC_PID 2>/dev/null; wait $DC_PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do grep -q "devcluster ready on" "$WORK/devcluster.log" && break; sleep 0.1; done
export KUBECONFIG=$WORK/dc/kubeconfig KUBECACHEDIR=$WORK/kubecache PATH=$BIN:$PATH
kubectl apply -f "$ROOT/manifests/crds/" >/dev/null
cat >"$WORK/vmim.yaml" <<'YAML'
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstanceMigration
metadata:
  generateName: vmi-fedora-migration-
  labels:
    kubevirt.io/vmi-name: vmi-fedora
spec:
  vmiName: vmi-fedora
YAML
# Both create one VMIM per run through the same API server; kubectl's
# discovery cache is warm for both after the warm-up rounds.
"$ROOT/bench/interleave.py" --warmup 3 --runs "$RUNS" --json "$WORK/runs.json" \
  "kubectl migrate" "kubectl migrate vmi-fedora" \
  "kubectl create -f" "kubectl create -f $WORK/vmim.yaml" >/dev/null
{ read -r LINE; read -r SPREAD; } < <(python3 - "$WORK/runs.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
mig, base = (r["median_s"][n] for n in r["names"])
rr = r["round_ratio"]
print(f"bench: plugin_create_median_ms value={mig * 1e3:.1f} baseline={base * 1e3:.1f} "
      f"ratio={r['ratio_of_medians']:.3f}")
print(f"median {rr['median']:.3f}, IQR {rr['q1']:.3f}-{rr['q3']:.3f}, "
      f"min {rr['min']:.3f}, max {rr['max']:.3f}")
PY
)
echo "$LINE"

DOC=$ROOT/docs/benchmarks.md
[[ -f $DOC ]] || printf '# Benchmarks\n\nMeasured by the scripts in bench/; each compares with its baseline in the same run.\n' >"$DOC"
python3 - "$DOC" "$LINE" "$SPREAD" "$RUNS" "$(date -u +%Y-%m-%d)" "$(nproc)" <<'PY'
import re, sys
doc, line, spread, runs, day, cores = sys.argv[1:]
section = (f"## kubectl-migrate (bench/plugin.sh)\n\n"
           f"{day}, {cores} cores, devcluster on loopback, median of {runs} runs each, interleaved\n"
           f"(bench/interleave.py: 3 warm-up rounds, then {runs} rounds running both commands once, the order\n"
           f"alternating each round, so that drift on the machine falls on both sides).\n"
           f"`kubectl migrate vmi-fedora` (no wait) against the baseline `kubectl create -f vmim.yaml` creating the\n"
           f"same VMIM through the same API server. Target: ratio <= 1.0 (ratio of the medians).\n\n"
           f"    {line}\n\n"
           f"Spread: the ratio within each round (plugin/baseline) has {spread}.\n")
text = open(doc).read()
pat = re.compile(r"## kubectl-migrate \(bench/plugin\.sh\)\n.*?(?=\n## |\Z)", re.S)
text = pat.sub(lambda _: section, text) if pat.search(text) else text.rstrip("\n") + "\n\n" + section
open(doc, "w").write(text)
PY
