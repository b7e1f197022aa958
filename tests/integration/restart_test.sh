#!/usr/bin/env bash
# devcluster restarted with the same --dir keeps every object (uid, resourceVersion, timestamps,
# status, finalizers), resourceVersions keep increasing, old kubeconfigs keep working, and
# watches work after the restart.
# shellcheck disable=SC2119 source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_devcluster
install_crds
EX=$KM_SOURCE_DIR/examples
VMIMS=/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancemigrations

section "objects before the restart"
expect_ok k apply -f "$EX/kubevirt.yaml"
expect_ok k apply -f "$EX/vmi.yaml"
expect_ok k apply -f "$EX/vmim.yaml"
expect_ok k patch vmim migration-job --subresource=status --type=merge \
  -p '{"status":{"phase":"Running","migrationState":{"sourceNode":"node01","targetNode":"node02"}}}'
expect_ok k label vmim migration-job kubevirt.io/vmi-name=vmi-fedora
expect_ok k create configmap cm1 --from-literal=k=v
cat >"$TEST_TMP/held.yaml" <<'EOF'
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstanceMigration
metadata:
  name: held
  finalizers: [kubevirt.io/migrationJobFinalize]
spec:
  vmiName: vmi-fedora
EOF
expect_ok k create -f "$TEST_TMP/held.yaml"
expect_ok k delete vmim held --wait=false
cp "$KUBECONFIG" "$TEST_TMP/kubeconfig.before"

SNAPSHOT_QUERY='{range .items[*]}{.metadata.name} {.metadata.uid} {.metadata.resourceVersion} {.metadata.creationTimestamp} {.metadata.generation} {.metadata.deletionTimestamp} {.metadata.labels} {.spec} {.status}{"\n"}{end}'
snapshot() {
  k get vmim,vmi -A -o "jsonpath=$SNAPSHOT_QUERY"
  k get kv -A -o "jsonpath=$SNAPSHOT_QUERY"
  k get configmap cm1 -o 'jsonpath={.metadata.uid} {.metadata.resourceVersion} {.data}'
  k get ns kubevirt -o 'jsonpath={.metadata.uid} {.status.phase}'
}
BEFORE=$(snapshot)
expect_contains "$BEFORE" "migration-job" "the snapshot has the VMIM"
LIST_RV=$(k get --raw "$VMIMS" | jq -r .metadata.resourceVersion)
expect_match "$LIST_RV" '^[0-9]+$' "the list resourceVersion before the restart"
OLD_PORT=$DEVCLUSTER_PORT

section "restart"
restart_devcluster
expect_eq "$DEVCLUSTER_PORT" "$OLD_PORT" "devcluster serves on the same port again"
AFTER=$(snapshot)
expect_eq "$AFTER" "$BEFORE" "every object is unchanged: uid, resourceVersion, timestamps, labels, spec, status"
expect_ok k api-resources --api-group=kubevirt.io -o name
expect_contains "$OUT" "virtualmachineinstancemigrations.kubevirt.io" "the CRDs are served after the restart"
expect_ok k --kubeconfig "$TEST_TMP/kubeconfig.before" get vmim migration-job -o name
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/migration-job" "a kubeconfig saved before the restart still works"
expect_ok k get vmim
expect_match "$(sed -n '/^migration-job/p' <<<"$OUT" | tr -s ' ')" '^migration-job Running vmi-fedora node01 node02 ' \
  "kubectl get shows the status after the restart"
expect_ok k get --raw "$VMIMS"
expect_eq "$(jq -r .metadata.resourceVersion <<<"$OUT")" "$LIST_RV" "the list resourceVersion is unchanged"

section "resourceVersion keeps increasing"
expect_ok k label vmim migration-job after=restart
NEW_RV=$(json_field vmim/migration-job '{.metadata.resourceVersion}')
expect_gt "$NEW_RV" "$LIST_RV" "the first write after the restart gets a larger resourceVersion"
expect_ok k create configmap cm2 --from-literal=k=v
expect_gt "$(json_field cm/cm2 '{.metadata.resourceVersion}')" "$NEW_RV" "and the next one a larger one still"

section "watches after the restart"
background "$TEST_TMP/watch.out" timeout 60 "$KUBECTL" get vmim -w --output-watch-events
WATCH_PID=$BG_PID
expect_file_eventually_contains "$TEST_TMP/watch.out" "migration-job" 10 "a watch started after the restart lists the objects"
expect_ok k patch vmim migration-job --subresource=status --type=merge -p '{"status":{"phase":"Succeeded"}}'
expect_file_eventually_contains "$TEST_TMP/watch.out" "MODIFIED" 10 "the watch sees a change"
stop_background "$WATCH_PID"
RV_NOW=$(k get --raw "$VMIMS" | jq -r .metadata.resourceVersion)
background "$TEST_TMP/rawwatch.out" timeout 60 "$KUBECTL" get --raw "$VMIMS?watch=1&resourceVersion=$RV_NOW"
WATCH_PID=$BG_PID

section "the terminating object is still held"
expect_match "$(json_field vmim/held '{.metadata.deletionTimestamp}')" '^[0-9]{4}-' "deletionTimestamp survives the restart"
expect_ok k patch vmim held --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]'
expect_fail k get vmim held
expect_contains "$ERR" "NotFound" "removing the finalizer after the restart deletes it"
expect_file_eventually_contains "$TEST_TMP/rawwatch.out" '"type":"DELETED"' 10 \
  "a raw watch from the current resourceVersion sees the deletion"
stop_background "$WATCH_PID"

section "a second restart keeps what was written after the first"
BEFORE=$(snapshot)
expect_contains "$BEFORE" '"after":"restart"' "the snapshot has the label written after the first restart"
restart_devcluster
expect_eq "$(snapshot)" "$BEFORE" "objects written after the first restart survive the second"
expect_eq "$(json_field cm/cm2 '{.data.k}')" "v" "cm2 survives"

section "a crash (SIGKILL) keeps acknowledged writes"
expect_ok k create configmap crash --from-literal=k=v
CRASH_UID=$(json_field cm/crash '{.metadata.uid}')
expect_match "$CRASH_UID" '^[0-9a-f-]{36}$' "the object to survive the crash exists"
crash_devcluster
expect_eq "$(json_field cm/crash '{.metadata.uid}')" "$CRASH_UID" "an object created just before SIGKILL is there after the restart"
expect_ok k create configmap crash2 --from-literal=k=v
expect_gt "$(json_field cm/crash2 '{.metadata.resourceVersion}')" "$(json_field cm/crash '{.metadata.resourceVersion}')" \
  "resourceVersions keep increasing after a crash"

stop_devcluster
finish
