#!/usr/bin/env bash
# Finalizers hold a deleted object (with deletionTimestamp) until the last one is removed, and
# watchers see MODIFIED then DELETED.
# shellcheck disable=SC2119 source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_devcluster
install_crds

# fin_vmim NAME NAMESPACE FINALIZER...: creates a VMIM carrying the finalizers.
fin_vmim() {
  local name=$1 ns=$2
  shift 2
  {
    cat <<EOF
apiVersion: kubevirt.io/v1alpha3
kind: VirtualMachineInstanceMigration
metadata:
  name: $name
  namespace: $ns
  finalizers:
EOF
    local f
    for f in "$@"; do
      echo "  - $f"
    done
    cat <<EOF
spec:
  vmiName: vmi-fedora
EOF
  } >"$TEST_TMP/$name.yaml"
  expect_ok k create -f "$TEST_TMP/$name.yaml"
}

# is_terminating NAME [kubectl args]: the VMIM exists and has a deletionTimestamp.
# shellcheck disable=SC2317  # called through wait_until
is_terminating() {
  local name=$1
  shift
  [[ -n "$(json_field "vmim/$name" '{.metadata.deletionTimestamp}' "$@")" ]]
}

section "one finalizer"
fin_vmim f1 default kubevirt.io/migrationJobFinalize
expect_eq "$(json_field vmim/f1 '{.metadata.finalizers}')" '["kubevirt.io/migrationJobFinalize"]' "the finalizer is stored"
background "$TEST_TMP/watch.out" timeout 60 "$KUBECTL" get vmim f1 -w --output-watch-events -o 'jsonpath={.type} {.object.metadata.name} {.object.metadata.deletionTimestamp}{"\n"}'
WATCH_PID=$BG_PID
background "$TEST_TMP/events.out" timeout 60 "$KUBECTL" get vmim -w --output-watch-events
EVENTS_PID=$BG_PID
expect_file_eventually_contains "$TEST_TMP/events.out" "ADDED" 10 "the watch lists f1"
expect_file_eventually_contains "$TEST_TMP/watch.out" "f1" 10 "the watch by name lists f1"

expect_ok k delete vmim f1 --wait=false
expect_eq "$OUT" 'virtualmachineinstancemigration.kubevirt.io "f1" deleted'
expect_ok k get vmim f1 -o json
expect_match "$(jq -r '.metadata.deletionTimestamp' <<<"$OUT")" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' \
  "the held object has a deletionTimestamp"
expect_eq "$(jq -r '.metadata.deletionGracePeriodSeconds' <<<"$OUT")" "0" "deletionGracePeriodSeconds is 0"
DELETION_TS=$(jq -r '.metadata.deletionTimestamp' <<<"$OUT")
expect_file_eventually_contains "$TEST_TMP/events.out" "MODIFIED" 10 "the watch sees the deletion as MODIFIED"
expect_file_eventually_contains "$TEST_TMP/watch.out" "$DELETION_TS" 10 \
  "the MODIFIED event carries the deletionTimestamp"
expect_not_contains "$(cat "$TEST_TMP/events.out")" "DELETED" "no DELETED while the finalizer is there"

expect_ok k delete vmim f1 --wait=false
expect_eq "$(json_field vmim/f1 '{.metadata.deletionTimestamp}')" "$DELETION_TS" \
  "a second delete keeps the first deletionTimestamp"
expect_ok k patch vmim f1 --subresource=status --type=merge -p '{"status":{"phase":"Failed"}}'
expect_eq "$(json_field vmim/f1 '{.status.phase}')" "Failed" "status can still be written while terminating"
expect_fail k patch vmim f1 --type=json -p '[{"op":"add","path":"/metadata/finalizers/-","value":"example.com/another"}]'
expect_contains "$ERR" "no new finalizers can be added if the object is being deleted" \
  "no finalizer can be added to a terminating object"
expect_ok k patch vmim f1 --type=merge -p '{"metadata":{"deletionTimestamp":null}}'
expect_eq "$(json_field vmim/f1 '{.metadata.deletionTimestamp}')" "$DELETION_TS" \
  "deletionTimestamp cannot be cleared by a patch"

expect_ok k patch vmim f1 --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]'
expect_file_eventually_contains "$TEST_TMP/events.out" "DELETED" 10 "removing the last finalizer deletes the object"
expect_fail k get vmim f1
expect_contains "$ERR" 'virtualmachineinstancemigrations.kubevirt.io "f1" not found' "the object is gone"
stop_background "$WATCH_PID"
stop_background "$EVENTS_PID"
EVENTS=$(awk '{print $1}' "$TEST_TMP/events.out" | grep -v '^EVENT$' | tr '\n' ' ')
expect_eq "$EVENTS" "ADDED MODIFIED MODIFIED DELETED " \
  "the watch saw ADDED, the deletion, the status write and DELETED, in order, and nothing for no-op writes"

section "two finalizers"
fin_vmim f2 default example.com/a example.com/b
expect_ok k delete vmim f2 --wait=false
expect_ok k patch vmim f2 --type=merge -p '{"metadata":{"finalizers":["example.com/b"]}}'
expect_eq "$(json_field vmim/f2 '{.metadata.finalizers}')" '["example.com/b"]' "removing one finalizer keeps the object"
expect_ok k patch vmim f2 --type=merge -p '{"metadata":{"finalizers":null}}'
expect_fail k get vmim f2
expect_contains "$ERR" "NotFound" "removing the last finalizer (merge patch null) deletes the object"

section "kubectl delete waits for the finalizer by default"
fin_vmim f3 default example.com/slow
background "$TEST_TMP/delete.out" "$KUBECTL" delete vmim f3 --timeout=30s
DELETE_PID=$BG_PID
if wait_until 10 is_terminating f3; then
  pass "kubectl delete marks the object for deletion"
else
  fail "kubectl delete marks the object for deletion" "$(k get vmim f3 -o yaml 2>&1)"
fi
expect_ok k patch vmim f3 --type=json -p '[{"op":"remove","path":"/metadata/finalizers/0"}]'
wait "$DELETE_PID"
expect_eq "$?" "0" "kubectl delete returns once the finalizer is removed"
expect_eq "$(cat "$TEST_TMP/delete.out")" 'virtualmachineinstancemigration.kubevirt.io "f3" deleted'

section "deleting a namespace waits for its objects' finalizers"
expect_ok k create ns fin
fin_vmim f4 fin kubevirt.io/migrationJobFinalize
fin_vmim f5 fin
expect_ok k delete ns fin --wait=false
expect_eq "$(json_field ns/fin '{.status.phase}')" "Terminating" "the namespace is Terminating"
if wait_until 10 not_found vmim f5 -n fin; then
  pass "an object without finalizers in the namespace is deleted"
else
  fail "an object without finalizers in the namespace is deleted" "$(k get vmim -n fin -o yaml 2>&1)"
fi
if wait_until 10 is_terminating f4 -n fin; then
  pass "an object with a finalizer is marked for deletion"
else
  fail "an object with a finalizer is marked for deletion" "$(k get vmim -n fin -o yaml 2>&1)"
fi
expect_ok k get ns fin
expect_fail k create -f "$TEST_TMP/f5.yaml"
expect_contains "$ERR" "because it is being terminated" "nothing new can be created in a terminating namespace"
expect_ok k patch vmim f4 -n fin --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]'
if wait_until 15 not_found ns fin; then
  pass "the namespace goes once its last object is gone"
else
  fail "the namespace goes once its last object is gone" "$(k get ns fin -o yaml 2>&1)"
fi

stop_devcluster
finish
