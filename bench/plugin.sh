#!/usr/bin/env bash
# bench/plugin.sh: `kubectl migrate VMI` (no wait) against its baseline,
# `kubectl create -f vmim.yaml`, on the same devcluster in the same run
# (issue 4). hyperfine runs each command RUNS times (default 30, >= 5) after
# warm-up; the ratio is of the medians. Prints one `bench:` line and writes
# the result to docs/benchmarks.md (section "kubectl-migrate").
#
#   bench/plugin.sh [RUNS]
#
# Expects build/bin (scripts/build.sh) and hyperfine (scripts/install-deps.sh).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/build/bin
RUNS=${1:-30}
command -v hyperfine >/dev/null || { echo "bench: hyperfine is not installed (scripts/install-deps.sh)" >&2; exit 2; }
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
# discovery cache is warm for both after the warm-up runs.
hyperfine --warmup 3 --runs "$RUNS" --export-json "$WORK/h.json" --style basic \
  -n "kubectl migrate" "kubectl migrate vmi-fedora" \
  -n "kubectl create -f" "kubectl create -f $WORK/vmim.yaml" >"$WORK/hyperfine.txt"
read -r MIG BASE < <(python3 - "$WORK/h.json" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))["results"]
print(statistics.median(r[0]["times"]), statistics.median(r[1]["times"]))
PY
)
RATIO=$(python3 -c "print(f'{$MIG/$BASE:.3f}')")
MIG_MS=$(python3 -c "print(f'{$MIG*1000:.1f}')")
BASE_MS=$(python3 -c "print(f'{$BASE*1000:.1f}')")
LINE="bench: plugin_create_median_ms value=$MIG_MS baseline=$BASE_MS ratio=$RATIO"
echo "$LINE"

DOC=$ROOT/docs/benchmarks.md
[[ -f $DOC ]] || printf '# Benchmarks\n\nMeasured by the scripts in bench/; each compares with its baseline in the same run.\n' >"$DOC"
python3 - "$DOC" "$LINE" "$RUNS" "$(date -u +%Y-%m-%d)" "$(nproc)" <<'PY'
import re, sys
doc, line, runs, day, cores = sys.argv[1:]
section = (f"## kubectl-migrate (bench/plugin.sh)\n\n"
           f"{day}, {cores} cores, devcluster on loopback, median of {runs} runs each (hyperfine, 3 warm-up runs).\n"
           f"`kubectl migrate vmi-fedora` (no wait) against the baseline `kubectl create -f vmim.yaml` creating the\n"
           f"same VMIM through the same API server. Target: ratio <= 1.0.\n\n    {line}\n")
text = open(doc).read()
pat = re.compile(r"## kubectl-migrate \(bench/plugin\.sh\)\n.*?(?=\n## |\Z)", re.S)
text = pat.sub(section.rstrip("\n"), text) if pat.search(text) else text.rstrip("\n") + "\n\n" + section
open(doc, "w").write(text)
PY
