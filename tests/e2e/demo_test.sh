#!/usr/bin/env bash
# End-to-end: the README's main command, scripts/demo.sh, runs to its end on the built binaries
# (KM_BIN_DIR: nothing installed or built) in a state directory of its own, and shows what
# issue 9 says it shows: vmi-fedora moved node01 -> node02 by the engines, its migrationState,
# the ReadWriteOnce refusal, the forecast that the busy VM will not converge, the cancel; and it
# stops everything it started.
#
# Usage: demo_test.sh (environment: KM_BIN_DIR, KM_SOURCE_DIR, the KM_E2E_* ports of nodes.sh)
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$here/../integration/lib.sh"
((EUID == 0)) || { fail "must run as root (libvirt nodes in mount namespaces)"; finish; }

export KM_DEMO_DIR=$TEST_TMP/demo
out=$TEST_TMP/demo.out
plain() { sed 's/\x1b\[[0-9;]*m//g' "$out"; }
t0=$(date +%s)
bash "$KM_SOURCE_DIR/scripts/demo.sh" >"$out" 2>&1
rc=$?
echo "    scripts/demo.sh took $(($(date +%s) - t0)) s"
if [[ $rc == 0 ]]; then pass "scripts/demo.sh exits 0"; else
  fail "scripts/demo.sh exits 0" "exit code $rc" "$(plain | tail -30)"
fi
text=$(plain)
expect_match "$text" 'migration-engine-node01 +node01' "both engines registered (their Leases are listed)"
expect_match "$text" 'vmi-fedora +[0-9]+s +Running +node01 +True +True' "vmi-fedora runs on node01, Ready, LiveMigratable"
expect_match "$text" 'forecast: expected to converge' "the idle VM's forecast: it converges"
expect_match "$text" 'succeeded: node01 → node02' "kubectl migrate vmi-fedora --wait: node01 → node02"
expect_match "$text" 'vmi-fedora +[0-9]+s +Running +node02' "vmi-fedora then runs on node02"
before=$(grep -m1 "the guest's console on node01" <<<"$text" | grep -oE 'memsum=[0-9a-f]+')
after=$(grep -m1 "the guest's console on node02" <<<"$text" | grep -oE 'memsum=[0-9a-f]+')
expect_ne "$before" "" "the guest printed its memory checksum on node01"
expect_eq "$after" "$before" "the guest's memory checksum on node02 is the one of node01"
for f in completed sourceNode targetNode startTimestamp endTimestamp migrationUid downtimeMs; do
  expect_match "$text" "  $f: " "the printed migrationState has $f"
done
expect_match "$text" '  targetNode: node02' "migrationState.targetNode: node02"
expect_match "$text" 'vmi-database +[0-9]+s +Running +node01 +True +False' "vmi-database runs, LiveMigratable False"
expect_match "$text" 'denied the request: VMI default/vmi-database is not live migratable.*ReadWriteMany' \
  "the ReadWriteOnce VM's migration is refused with the reason"
expect_match "$text" 'forecast: will not converge: the guest dirties' "the busy VM: forecast will not converge"
expect_match "$text" 'abort status: Succeeded' "kubectl migrate cancel --wait: abort status Succeeded"
expect_match "$text" 'vmi-busy +[0-9]+s +Running +node01' "vmi-busy still runs on node01"
expect_match "$text" 'Done: stopping everything' "the demo reaches its end"
# Its processes (devcluster, webhook, engines: their command lines name the state directory)
# and its libvirt nodes (nodes.sh pid fails for a node that is not up).
left() {
  pgrep -f "$KM_DEMO_DIR" >/dev/null && return 1
  local n
  for n in node01 node02; do
    KM_E2E_STATE_DIR=$KM_DEMO_DIR/nodes "$here/nodes.sh" pid "$n" >/dev/null 2>&1 && return 1
  done
  return 0
}
if wait_until 20 left; then pass "nothing the demo started is left running"; else
  fail "nothing the demo started is left running" "$(pgrep -af "$KM_DEMO_DIR")"
fi
finish
