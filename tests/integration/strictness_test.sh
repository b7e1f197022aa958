#!/usr/bin/env bash
# devcluster is as strict as kube-apiserver 1.32 where the engine writes: /status writes of custom
# resources are validated and pruned like main writes, the built-in kinds the engine writes
# (Lease, Event, Node, ConfigMap) are decoded into their Go types (type errors, unknown fields,
# Lease validation), selective watches see objects enter and leave the selection, deletion with
# finalizers bumps generation, creates carrying a resourceVersion are refused, deletes answer
# what kube-apiserver answers, and namespaces carry kubernetes.io/metadata.name.
# shellcheck disable=SC2119 source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_devcluster
install_crds

CERTS=$TEST_TMP/certs
admin_credentials "$CERTS"
BASE=https://127.0.0.1:$DEVCLUSTER_PORT

# api METHOD PATH [CURL ARGS...]: a request as admin; sets CODE (HTTP status) and BODY.
CODE=""
BODY=""
api() {
  local method=$1 path=$2
  shift 2
  rm -f "$TEST_TMP/body"
  CODE=$(curl -sS --max-time 20 --cacert "$CERTS/ca.crt" --cert "$CERTS/admin.crt" --key "$CERTS/admin.key" \
    -H 'Expect:' -X "$method" -o "$TEST_TMP/body" -w '%{http_code}' "$@" "$BASE$path" 2>"$TEST_TMP/curl.err")
  BODY=$(cat "$TEST_TMP/body" 2>/dev/null)
}

# ---------------------------------------------------------------------------------------------
section "status writes of custom resources are validated like main writes"
vmi st1
expect_fail k patch vmi st1 --subresource=status --type=merge -p '{"status":{"conditions":[{"type":"Ready"}]}}'
expect_contains "$ERR" 'The VirtualMachineInstance "st1" is invalid: status.conditions[0].status: Required value' \
  "a condition without status is refused (merge patch of /status)"
expect_fail k patch vmi st1 --subresource=status --type=merge -p '{"status":{"phase":5}}'
expect_contains "$ERR" 'status.phase: Invalid value: "integer": status.phase in body must be of type string: "integer"' \
  "a wrong type in status is refused"
expect_fail k patch vmi st1 --subresource=status --type=merge \
  -p '{"status":{"conditions":[{"type":"Ready","status":"True","lastTransitionTime":"yesterday"}]}}'
expect_contains "$ERR" 'status.conditions[0].lastTransitionTime in body must be of type date-time: "yesterday"' \
  "a bad date-time in status is refused"
k get vmi st1 -o json | jq '.status = {"phase":"Running","conditions":[{"type":"Ready"}]}' >"$TEST_TMP/st1-bad.json"
expect_fail k replace --subresource=status -f "$TEST_TMP/st1-bad.json"
expect_contains "$ERR" 'status.conditions[0].status: Required value' "a PUT of /status is validated"
expect_ok k patch vmi st1 --subresource=status --type=merge \
  -p '{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2026-12-03T10:00:00Z"}]}}'
expect_eq "$(json_field vmi/st1 '{.status.phase}')" "Running" "a valid status write is stored"
expect_ok k label vmi st1 touched=yes
# status itself preserves unknown fields in these CRDs; a condition does not.
VMI_STATUS=/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances/st1/status
BOGUS='{"status":{"conditions":[{"type":"Ready","status":"True","bogus":1}]}}'
api PATCH "$VMI_STATUS?fieldValidation=Strict" -H 'Content-Type: application/merge-patch+json' -d "$BOGUS"
expect_eq "$CODE" "400" "fieldValidation=Strict refuses an unknown status field"
expect_eq "$(jq -r .message <<<"$BODY")" 'strict decoding error: unknown field "status.conditions[0].bogus"' \
  "... naming it"
expect_ok k patch vmi st1 --subresource=status --type=merge -p "$BOGUS"
expect_contains "$ERR" 'Warning: unknown field "status.conditions[0].bogus"' \
  "kubectl patch (the server's default, Warn) is warned about an unknown status field"
expect_eq "$(k get vmi st1 -o json | jq -cS '.status.conditions')" '[{"status":"True","type":"Ready"}]' \
  "... which is pruned"
api PATCH "$VMI_STATUS?fieldValidation=Ignore" -H 'Content-Type: application/merge-patch+json' -D "$TEST_TMP/headers" \
  -d '{"status":{"conditions":[{"type":"Ready","status":"False","other":2}]}}'
expect_eq "$CODE" "200" "fieldValidation=Ignore accepts an unknown status field"
expect_not_contains "$(cat "$TEST_TMP/headers")" 'Warning' "... silently"
expect_eq "$(jq -cS '.status.conditions' <<<"$BODY")" '[{"status":"False","type":"Ready"}]' "... and prunes it"
cat >"$TEST_TMP/vmim-typo.yaml" <<'EOF'
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstanceMigration
metadata:
  name: typo
spec:
  vmiNmae: st1
EOF
expect_fail k create -f "$TEST_TMP/vmim-typo.yaml"
expect_contains "$ERR" 'VirtualMachineInstanceMigration in version "v1" cannot be handled as a VirtualMachineInstanceMigration: strict decoding error: unknown field "spec.vmiNmae"' \
  "a custom resource's strict decoding error on create carries transformDecodeError's prefix"
k get vmi st1 -o json | jq '.status.conditions[0].extra = 1' >"$TEST_TMP/st1-extra.json"
expect_fail k replace --subresource=status -f "$TEST_TMP/st1-extra.json"
expect_contains "$ERR" 'unknown field "status.conditions[0].extra"' "kubectl replace of /status (Strict) refuses it"

# ---------------------------------------------------------------------------------------------
section "built-in kinds are decoded into their Go types"
lease() {  # lease NAME SPEC_JSON: writes a Lease manifest
  printf '{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"%s"},"spec":%s}' "$1" "$2" \
    >"$TEST_TMP/lease-$1.json"
}
lease l1 '{"holderIdentity":"node-a","leaseDurationSeconds":"15"}'
expect_fail k create -f "$TEST_TMP/lease-l1.json"
expect_contains "$ERR" 'Error from server (BadRequest): error when creating' "a Lease of the wrong type is a BadRequest"
expect_contains "$ERR" 'Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal string into Go struct field LeaseSpec.spec.leaseDurationSeconds of type int32' \
  "... in encoding/json's words"
lease l2 '{"holderIdentity":"node-a","renewTime":"2026-12-03T10:00:00Z"}'
expect_fail k create -f "$TEST_TMP/lease-l2.json"
expect_contains "$ERR" 'parsing time "2026-12-03T10:00:00Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "Z" as ".000000"' \
  "renewTime must be a MicroTime (microseconds)"
lease l3 '{"holderIdentity":"node-a","leaseDurationSeconds":0,"leaseTransitions":-1}'
expect_fail k create -f "$TEST_TMP/lease-l3.json"
expect_contains "$ERR" 'The Lease "l3" is invalid: 
* spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0
* spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0' \
  "Lease validation as pkg/apis/coordination/validation words it"
api POST /apis/coordination.k8s.io/v1/namespaces/default/leases -H 'Content-Type: application/json' \
  --data-binary "@$TEST_TMP/lease-l3.json"
expect_eq "$CODE $(jq -r '.reason + " " + .message' <<<"$BODY")" \
  '422 Invalid Lease.coordination.k8s.io "l3" is invalid: [spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0, spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0]' \
  "... as a 422 Invalid Status"
lease l4 '{"holderIdentity":"node-a","leaseDurationSeconds":15,"foo":1}'
expect_fail k create -f "$TEST_TMP/lease-l4.json"
expect_contains "$ERR" 'Lease in version "v1" cannot be handled as a Lease: strict decoding error: unknown field "spec.foo"' \
  "an unknown Lease field is refused under kubectl's Strict validation"
expect_ok k create -f "$TEST_TMP/lease-l4.json" --validate=warn
expect_contains "$ERR" 'unknown field "spec.foo"' "fieldValidation=Warn warns"
expect_eq "$(k get lease l4 -o json | jq -c '.spec')" '{"holderIdentity":"node-a","leaseDurationSeconds":15}' \
  "... and drops the unknown field"
lease l5 '{"holderIdentity":"node-a","leaseDurationSeconds":15,"acquireTime":"2026-12-03T10:00:00.000000Z","renewTime":"2026-12-03T10:00:05.123456Z","leaseTransitions":2}'
expect_ok k create -f "$TEST_TMP/lease-l5.json"
expect_fail k patch lease l5 --type=merge -p '{"spec":{"leaseTransitions":"3"}}'
expect_contains "$ERR" 'is invalid: patch: Invalid value:' "a patch that mistypes a Lease field is Invalid"
expect_contains "$ERR" 'json: cannot unmarshal string into Go struct field LeaseSpec.spec.leaseTransitions of type int32' \
  "... with the decoding error"
expect_ok k patch lease l5 --type=merge -p '{"spec":{"bar":true}}'
expect_contains "$ERR" 'Warning: unknown field "spec.bar"' "kubectl patch (Warn) is warned about an unknown Lease field"
expect_contains "$OUT" 'patched (no change)' "... which is dropped"
api PATCH "/apis/coordination.k8s.io/v1/namespaces/default/leases/l5?fieldValidation=Strict" \
  -H 'Content-Type: application/merge-patch+json' -d '{"spec":{"bar":true}}'
expect_eq "$CODE $(jq -r '.message' <<<"$BODY")" '400 strict decoding error: unknown field "spec.bar"' \
  "a Strict patch adding an unknown Lease field is refused"
api PATCH "/apis/coordination.k8s.io/v1/namespaces/default/leases/l5?fieldValidation=Strict" \
  -H 'Content-Type: application/strategic-merge-patch+json' -d '{"spec":{"bar":true}}'
expect_eq "$CODE $(jq -r '.reason + " " + .message' <<<"$BODY")" \
  '422 Invalid  "" is invalid: patch: Invalid value: "map[spec:map[bar:true]]": strict decoding error: unknown field "spec.bar"' \
  "a Strict strategic merge patch is Invalid, quoting the patch as a Go map"
expect_fail k patch lease l5 --type=merge -p '{"spec":{"leaseDurationSeconds":-5}}'
expect_contains "$ERR" 'spec.leaseDurationSeconds: Invalid value: -5: must be greater than 0' "updates are validated"

cat >"$TEST_TMP/cm.json" <<'EOF'
{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm1"},"data":{"a":"1","b":2}}
EOF
expect_fail k create -f "$TEST_TMP/cm.json"
expect_contains "$ERR" 'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type string' \
  "ConfigMap data values must be strings"
cat >"$TEST_TMP/cm.json" <<'EOF'
{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm1"},"binaryData":{"a":"not base64!"}}
EOF
expect_fail k create -f "$TEST_TMP/cm.json"
expect_contains "$ERR" 'cannot be handled as a ConfigMap: illegal base64 data at input byte 3' "binaryData must be base64"
cat >"$TEST_TMP/node.json" <<'EOF'
{"apiVersion":"v1","kind":"Node","metadata":{"name":"n-bad"},"spec":{"unschedulable":"yes"}}
EOF
expect_fail k create -f "$TEST_TMP/node.json"
expect_contains "$ERR" 'json: cannot unmarshal string into Go struct field NodeSpec.spec.unschedulable of type bool' \
  "Node fields are typed"
cat >"$TEST_TMP/event.json" <<'EOF'
{"apiVersion":"v1","kind":"Event","metadata":{"name":"e1"},"involvedObject":{"kind":"Node","name":"n"},"count":"2"}
EOF
expect_fail k create -f "$TEST_TMP/event.json"
expect_contains "$ERR" 'json: cannot unmarshal string into Go struct field Event.count of type int32' "Event fields are typed"
cat >"$TEST_TMP/event.json" <<'EOF'
{"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"e2"},"eventTime":"2026-12-03T10:00:00Z","reason":"R"}
EOF
expect_fail k create -f "$TEST_TMP/event.json"
expect_contains "$ERR" 'cannot parse "Z" as ".000000"' "events.k8s.io/v1 eventTime is a MicroTime"

# ---------------------------------------------------------------------------------------------
section "selective watches see objects enter and leave the selection"
background "$TEST_TMP/watch-label.out" timeout 60 "$KUBECTL" get cm -l app=sel -w --output-watch-events -o json
expect_ok k create configmap sel1
expect_ok k label cm sel1 app=sel
expect_file_eventually_contains "$TEST_TMP/watch-label.out" '"type":"ADDED"' 10 "a label change into the selection is ADDED"
expect_ok k label cm sel1 app=other --overwrite
expect_file_eventually_contains "$TEST_TMP/watch-label.out" '"type":"DELETED"' 10 \
  "a label change out of the selection is DELETED"
expect_ok k label cm sel1 app=sel --overwrite
expect_ok k label cm sel1 extra=1
expect_file_eventually_contains "$TEST_TMP/watch-label.out" '"type":"MODIFIED"' 10 "a change inside the selection is MODIFIED"
EVENTS=$(jq -rc '[.type, .object.metadata.labels.app] | join(" ")' "$TEST_TMP/watch-label.out" | tr '\n' ',')
expect_eq "$EVENTS" "ADDED sel,DELETED sel,ADDED sel,MODIFIED sel," \
  "entering, leaving (with the last selected state), re-entering and changing"
stop_background "$BG_PID"

expect_ok k create -f - <<<'{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}}'
background "$TEST_TMP/watch-field.out" timeout 60 "$KUBECTL" get nodes --field-selector spec.unschedulable=false -w \
  --output-watch-events -o json
expect_file_eventually_contains "$TEST_TMP/watch-field.out" '"type":"ADDED"' 10 "a schedulable node is listed"
expect_ok k cordon n1
expect_file_eventually_contains "$TEST_TMP/watch-field.out" '"type":"DELETED"' 10 "a cordoned node leaves a field selection"
expect_ok k uncordon n1
EVENTS=""
wait_until 10 bash -c "[[ \$(jq -r .type '$TEST_TMP/watch-field.out' | wc -l) -ge 3 ]]"
EVENTS=$(jq -rc '.type' "$TEST_TMP/watch-field.out" | tr '\n' ',')
expect_eq "$EVENTS" "ADDED,DELETED,ADDED," "an uncordoned node enters it again as ADDED"
stop_background "$BG_PID"

# ---------------------------------------------------------------------------------------------
section "deletion with finalizers bumps generation"
vmi gen1
expect_ok k patch vmi gen1 --type=merge -p '{"metadata":{"finalizers":["example.com/hold"]}}'
GEN=$(json_field vmi/gen1 '{.metadata.generation}')
api DELETE /apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances/gen1
expect_eq "$CODE" "200" "the delete of an object with finalizers is accepted"
expect_eq "$(jq -r '.kind' <<<"$BODY")" "VirtualMachineInstance" "... and answers with the object"
expect_ne "$(jq -r '.metadata.deletionTimestamp // ""' <<<"$BODY")" "" "... which has its deletionTimestamp"
expect_eq "$(jq -r '.metadata.generation' <<<"$BODY")" "$((GEN + 1))" "... and the next generation"
expect_eq "$(json_field vmi/gen1 '{.metadata.generation}')" "$((GEN + 1))" "the stored generation is bumped once"
api DELETE /apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances/gen1
expect_eq "$(jq -r '.metadata.generation' <<<"$BODY")" "$((GEN + 1))" "a second delete does not bump it again"
expect_ok k patch vmi gen1 --type=merge -p '{"metadata":{"finalizers":null}}'

# ---------------------------------------------------------------------------------------------
section "a create carrying a resourceVersion is refused"
k create configmap rvsrc >/dev/null
k get cm rvsrc -o json | jq '.metadata.name = "rvcopy" | del(.metadata.uid)' >"$TEST_TMP/rvcopy.json"
api POST /api/v1/namespaces/default/configmaps -H 'Content-Type: application/json' --data-binary "@$TEST_TMP/rvcopy.json"
expect_eq "$CODE" "500" "the storage layer's refusal is a 500"
expect_eq "$(jq -c '[.kind, .status, .message, .reason, .code]' <<<"$BODY")" \
  '["Status","Failure","resourceVersion should not be set on objects to be created",null,500]' \
  "... with etcd3 store's message and no reason (StatusReasonUnknown)"
expect_fail k get cm rvcopy
api POST "/api/v1/namespaces/default/configmaps?dryRun=All" -H 'Content-Type: application/json' \
  --data-binary "@$TEST_TMP/rvcopy.json"
expect_eq "$CODE" "201" "a dry run never reaches storage and passes"
jq '.metadata.resourceVersion = "0"' "$TEST_TMP/rvcopy.json" >"$TEST_TMP/rv0.json"
api POST /api/v1/namespaces/default/configmaps -H 'Content-Type: application/json' --data-binary "@$TEST_TMP/rv0.json"
expect_eq "$CODE" "201" "resourceVersion \"0\" is no version and passes"

# ---------------------------------------------------------------------------------------------
section "delete answers"
api DELETE /api/v1/namespaces/default/configmaps/rvcopy
expect_eq "$CODE" "200" "deleting a configmap succeeds"
expect_eq "$(jq -c '[.kind, .status, .details.name, .details.kind, (.details.uid | length > 0), .details.group]' <<<"$BODY")" \
  '["Status","Success","rvcopy","configmaps",true,null]' "an immediate delete answers with a Success Status"
vmi del1
UID1=$(json_field vmi/del1 '{.metadata.uid}')
api DELETE /apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances/del1
expect_eq "$(jq -c '[.kind, .status, .details.name, .details.group, .details.kind, .details.uid]' <<<"$BODY")" \
  "[\"Status\",\"Success\",\"del1\",\"kubevirt.io\",\"virtualmachineinstances\",\"$UID1\"]" \
  "a custom resource's delete answers with a Status naming it and its uid"
k create -f - <<<'{"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"pv-del"},"spec":{"capacity":{"storage":"1Gi"},"accessModes":["ReadWriteOnce"],"hostPath":{"path":"/tmp"}}}' >/dev/null
api DELETE /api/v1/persistentvolumes/pv-del
expect_eq "$(jq -r '.kind' <<<"$BODY")" "PersistentVolume" "registries with ReturnDeletedObject answer with the object"
expect_ok k create configmap del2
expect_ok k delete configmap del2 --wait=true
expect_contains "$OUT" 'configmap "del2" deleted' "kubectl delete --wait works with the Status answer"

# ---------------------------------------------------------------------------------------------
section "namespaces are labelled with their name"
expect_ok k create namespace nslabel
expect_eq "$(json_field ns/nslabel '{.metadata.labels.kubernetes\.io/metadata\.name}')" "nslabel" \
  "a new namespace carries kubernetes.io/metadata.name"
expect_ok k create -f - <<<'{"apiVersion":"v1","kind":"Namespace","metadata":{"generateName":"gen-"}}'
GENNS=$(k get ns -o json | jq -r '.items[] | select(.metadata.generateName == "gen-") | .metadata.name')
expect_eq "$(json_field "ns/$GENNS" '{.metadata.labels.kubernetes\.io/metadata\.name}')" "$GENNS" \
  "... also with a generated name"
expect_ok k label ns nslabel kubernetes.io/metadata.name=other --overwrite
expect_eq "$(json_field ns/nslabel '{.metadata.labels.kubernetes\.io/metadata\.name}')" "nslabel" \
  "an update cannot change it (it is set again)"
expect_ok k label ns nslabel kubernetes.io/metadata.name-
expect_eq "$(json_field ns/nslabel '{.metadata.labels.kubernetes\.io/metadata\.name}')" "nslabel" \
  "... nor remove it"

finish
