#!/usr/bin/env bash
# Object semantics through real kubectl: patch, status subresource, delete, watch, wait, edit,
# conflicts, AlreadyExists/NotFound, generateName, selectors, namespaces, built-in kinds, client-side
# apply, server dry-run and the raw discovery endpoints.
# shellcheck disable=SC2119 source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_devcluster
install_crds

# vmim NAME [VMI] [NAMESPACE]: a VMIM manifest on stdout.
vmim() {
  cat <<EOF
apiVersion: kubevirt.io/v1alpha3
kind: VirtualMachineInstanceMigration
metadata:
  name: $1
  namespace: ${3:-default}
spec:
  vmiName: ${2:-vmi-fedora}
EOF
}

# Creates VMIM NAME (in NAMESPACE) from a manifest file.
make_vmim() {
  vmim "$@" >"$TEST_TMP/$1.yaml"
  expect_ok k create -f "$TEST_TMP/$1.yaml"
}

section "merge patch"
make_vmim mj
expect_eq "$(json_field vmim/mj '{.metadata.generation}')" "1" "generation starts at 1"
expect_ok k patch vmim mj --type=merge -p '{"metadata":{"labels":{"a":"b"}},"spec":{"addedNodeSelector":{"zone":"z1"}}}'
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/mj patched"
expect_eq "$(json_field vmim/mj '{.metadata.labels.a} {.spec.addedNodeSelector.zone}')" "b z1" "merge patch sets label and spec"
expect_eq "$(json_field vmim/mj '{.metadata.generation}')" "2" "a spec change bumps generation"
expect_ok k patch vmim mj --type=merge -p '{"metadata":{"labels":{"c":"d"}}}'
expect_eq "$(json_field vmim/mj '{.metadata.generation}')" "2" "a metadata-only change keeps generation"
expect_eq "$(json_field vmim/mj '{.metadata.labels.a},{.metadata.labels.c}')" "b,d" "merge patch merges maps"
expect_ok k patch vmim mj --type=merge -p '{"spec":{"addedNodeSelector":null}}'
expect_ok k get vmim mj -o json
expect_eq "$(jq -c '.spec' <<<"$OUT")" '{"vmiName":"vmi-fedora"}' "merge patch with null deletes the key"
expect_ok k patch vmim mj --type=merge -p '{"spec":{"vmiName":"vmi-fedora"}}'
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/mj patched (no change)" "a no-op patch reports no change"
RV_BEFORE=$(json_field vmim/mj '{.metadata.resourceVersion}')
expect_ok k label vmim mj e=f
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/mj labeled"
expect_ok k annotate vmim mj note=hello
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/mj annotated"
RV_AFTER=$(json_field vmim/mj '{.metadata.resourceVersion}')
expect_gt "$RV_AFTER" "$RV_BEFORE" "resourceVersion increases with each write"

section "JSON patch"
expect_ok k patch vmim mj --type=json -p '[{"op":"replace","path":"/spec/vmiName","value":"vmi-other"},{"op":"add","path":"/metadata/labels/g","value":"h"}]'
expect_eq "$(json_field vmim/mj '{.spec.vmiName} {.metadata.labels.g}')" "vmi-other h" "JSON patch replace and add"
expect_ok k patch vmim mj --type=json -p '[{"op":"test","path":"/spec/vmiName","value":"vmi-other"},{"op":"remove","path":"/metadata/labels/g"}]'
expect_eq "$(json_field vmim/mj '{.metadata.labels.g}')" "" "a passing test op lets the patch apply"
RV_BEFORE=$(json_field vmim/mj '{.metadata.resourceVersion}')
expect_fail k patch vmim mj --type=json -p '[{"op":"test","path":"/spec/vmiName","value":"nope"},{"op":"replace","path":"/spec/vmiName","value":"changed"}]'
expect_contains "$ERR" "The request is invalid" "a failing test op is a 422 Invalid"
expect_eq "$(json_field vmim/mj '{.spec.vmiName} {.metadata.resourceVersion}')" "vmi-other $RV_BEFORE" \
  "a failing test op changes nothing"
expect_fail k patch vmim mj --type=json -p '[{"op":"remove","path":"/spec/nothere"}]'
expect_contains "$ERR" "The request is invalid" "removing a missing path is a 422 Invalid"
expect_fail k patch vmim mj --type=json -p '{"op":"remove"}'
expect_contains "$ERR" "Error from server (BadRequest)" "a JSON patch that is not an array is a BadRequest"

section "status subresource"
expect_ok k patch vmim mj --type=merge -p '{"status":{"phase":"Running"}}'
expect_eq "$(json_field vmim/mj '{.status.phase}')" "" "status is ignored on the main resource"
expect_ok k patch vmim mj --subresource=status --type=merge -p '{"spec":{"vmiName":"ignored"},"status":{"phase":"Scheduling"}}'
expect_eq "$(json_field vmim/mj '{.spec.vmiName} {.status.phase}')" "vmi-other Scheduling" \
  "spec is ignored on the status subresource"
GEN=$(json_field vmim/mj '{.metadata.generation}')
expect_ok k patch vmim mj --subresource=status --type=json -p '[{"op":"add","path":"/status/phase","value":"Scheduled"}]'
expect_eq "$(json_field vmim/mj '{.status.phase} {.metadata.generation}')" "Scheduled $GEN" \
  "a status change does not bump generation"
expect_ok k get vmim mj --subresource=status -o 'jsonpath={.status.phase}'
expect_eq "$OUT" "Scheduled" "kubectl get --subresource=status"

section "conflicts, AlreadyExists, NotFound"
expect_ok k get vmim mj -o yaml
printf '%s\n' "$OUT" >"$TEST_TMP/stale.yaml"
expect_ok k label vmim mj bump=1
sed -i 's/vmiName: vmi-other/vmiName: vmi-stale/' "$TEST_TMP/stale.yaml"
expect_fail k replace -f "$TEST_TMP/stale.yaml"
expect_contains "$ERR" "Error from server (Conflict)" "a stale resourceVersion is a Conflict"
expect_contains "$ERR" 'Operation cannot be fulfilled on virtualmachineinstancemigrations.kubevirt.io "mj": the object has been modified; please apply your changes to the latest version and try again'
expect_eq "$(json_field vmim/mj '{.spec.vmiName}')" "vmi-other" "the stale update is not stored"
expect_ok k get vmim mj -o yaml
printf '%s\n' "$OUT" | sed 's/vmiName: vmi-other/vmiName: vmi-fresh/' >"$TEST_TMP/fresh.yaml"
expect_ok k replace -f "$TEST_TMP/fresh.yaml"
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/mj replaced"
expect_eq "$(json_field vmim/mj '{.spec.vmiName}')" "vmi-fresh" "replace with the current resourceVersion works"

expect_fail k create -f "$TEST_TMP/mj.yaml"
expect_contains "$ERR" "Error from server (AlreadyExists): error when creating \"$TEST_TMP/mj.yaml\": virtualmachineinstancemigrations.kubevirt.io \"mj\" already exists"
expect_fail k get vmim x
expect_eq "$ERR" 'Error from server (NotFound): virtualmachineinstancemigrations.kubevirt.io "x" not found'
expect_fail k delete vmim x
expect_eq "$ERR" 'Error from server (NotFound): virtualmachineinstancemigrations.kubevirt.io "x" not found'
expect_fail k get vmim x -n nosuchns
expect_contains "$ERR" 'Error from server (NotFound)' "a get in a missing namespace is NotFound"

section "generateName"
cat >"$TEST_TMP/gen.yaml" <<'EOF'
apiVersion: kubevirt.io/v1alpha3
kind: VirtualMachineInstanceMigration
metadata:
  generateName: gen-
spec:
  vmiName: vmi-fedora
EOF
expect_ok k create -f "$TEST_TMP/gen.yaml"
expect_match "$OUT" '^virtualmachineinstancemigration\.kubevirt\.io/gen-[a-z0-9]{5} created$' "generateName gets a random suffix"
FIRST=$OUT
expect_ok k create -f "$TEST_TMP/gen.yaml"
expect_ne "$OUT" "$FIRST" "two creates get two names"

section "namespaces and selectors"
expect_ok k create ns sel
expect_eq "$OUT" "namespace/sel created"
expect_ok k get ns sel -o 'jsonpath={.status.phase}'
expect_eq "$OUT" "Active" "a new namespace is Active"
expect_ok k get ns
expect_contains "$OUT" "default" "the default namespace exists"
for spec in "l1 a=b" "l2 a=x" "l3 a=y" "l4 c=d"; do
  read -r name label <<<"$spec"
  make_vmim "$name" vmi-fedora sel
  expect_ok k label -n sel vmim "$name" "$label"
done
names() {
  k get vmim -n sel "$@" -o 'jsonpath={range .items[*]}{.metadata.name}{" "}{end}' | sed 's/ $//'
}
expect_eq "$(names -l a=b)" "l1" "-l a=b"
expect_eq "$(names -l a==b)" "l1" "-l a==b"
expect_eq "$(names -l 'a in (x,y)')" "l2 l3" "-l 'a in (x,y)'"
expect_eq "$(names -l 'a notin (x)')" "l1 l3 l4" "-l 'a notin (x)' includes objects without the label"
expect_eq "$(names -l 'a!=b')" "l2 l3 l4" "-l a!=b includes objects without the label"
expect_eq "$(names -l '!a')" "l4" "-l '!a'"
expect_eq "$(names -l a)" "l1 l2 l3" "-l a (exists)"
expect_eq "$(names -l 'a,c')" "" "-l a,c (both exist: none)"
expect_eq "$(names -l 'a in (x,y),a!=x')" "l3" "requirements are ANDed"
expect_eq "$(names --field-selector metadata.name=l2)" "l2" "--field-selector metadata.name=l2"
expect_eq "$(names --field-selector metadata.name!=l2)" "l1 l3 l4" "--field-selector metadata.name!=l2"
expect_eq "$(names --field-selector metadata.namespace=sel,metadata.name=l3)" "l3" "two field selectors"
expect_fail k get vmim -n sel --field-selector spec.vmiName=vmi-fedora
expect_contains "$ERR" '"spec.vmiName" is not a known field selector: only "metadata.name", "metadata.namespace"' \
  "an unsupported field label is refused"
expect_fail k get vmim -n sel -l 'a in (x'
expect_contains "$ERR" "unable to parse requirement" "a malformed label selector is refused"
expect_ok k get vmim -A
expect_contains "$OUT" "sel " "-A lists the namespace sel"
expect_contains "$OUT" "default " "-A lists the namespace default"
expect_eq "$(k get vmim -A -l a -o 'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{" "}{end}')" \
  "default/mj sel/l1 sel/l2 sel/l3 " "-A with a label selector (mj got a=b above)"
expect_ok k create ns empty
expect_ok k get vmim -n empty
expect_contains "$ERR" "No resources found in empty namespace." "an empty namespace lists nothing"

section "built-in kinds"
expect_ok k create configmap cm1 -n sel --from-literal=k=v
expect_eq "$OUT" "configmap/cm1 created"
expect_eq "$(json_field cm/cm1 '{.data.k}' -n sel)" "v" "configmap data"
expect_ok k create secret generic s1 -n sel --from-literal=p=q
expect_eq "$OUT" "secret/s1 created"
expect_eq "$(json_field secret/s1 '{.data.p} {.type}' -n sel)" "cQ== Opaque" "secret data is base64"
expect_ok k create serviceaccount sa1 -n sel
expect_eq "$OUT" "serviceaccount/sa1 created"
cat >"$TEST_TMP/builtins.yaml" <<'EOF'
apiVersion: v1
kind: Node
metadata:
  name: node01
  labels:
    kubernetes.io/hostname: node01
status:
  addresses:
  - type: InternalIP
    address: 127.0.0.1
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: slot-0
  namespace: sel
spec:
  holderIdentity: node01
  leaseDurationSeconds: 15
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv1
spec:
  capacity:
    storage: 1Gi
  accessModes: [ReadWriteMany]
  hostPath:
    path: /tmp/pv1
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: pvc1
  namespace: sel
spec:
  accessModes: [ReadWriteMany]
  resources:
    requests:
      storage: 1Gi
---
apiVersion: v1
kind: Event
metadata:
  name: ev1
  namespace: sel
involvedObject:
  apiVersion: kubevirt.io/v1
  kind: VirtualMachineInstanceMigration
  name: l1
  namespace: sel
reason: MigrationStarted
message: migration started
type: Normal
EOF
expect_ok k apply -f "$TEST_TMP/builtins.yaml"
expect_contains "$OUT" "node/node01 created"
expect_contains "$OUT" "lease.coordination.k8s.io/slot-0 created"
expect_contains "$OUT" "persistentvolume/pv1 created"
expect_contains "$OUT" "persistentvolumeclaim/pvc1 created"
expect_contains "$OUT" "event/ev1 created"
expect_eq "$(json_field node/node01 '{.metadata.labels.kubernetes\.io/hostname}')" "node01" "node labels"
expect_ok k get nodes
expect_eq "$(head -n1 <<<"$OUT" | tr -s ' ')" "NAME STATUS ROLES AGE VERSION" "kubectl get nodes shows the node columns"
expect_eq "$(json_field lease/slot-0 '{.spec.holderIdentity}' -n sel)" "node01" "lease holder"
expect_ok k get lease -n sel
expect_eq "$(head -n1 <<<"$OUT" | tr -s ' ')" "NAME HOLDER AGE" "kubectl get lease shows the holder"
expect_eq "$(json_field pvc/pvc1 '{.spec.accessModes[0]}' -n sel)" "ReadWriteMany" "pvc access mode"
expect_eq "$(json_field pv/pv1 '{.spec.capacity.storage}')" "1Gi" "pv capacity"
expect_ok k get pv -o name
expect_eq "$OUT" "persistentvolume/pv1" "pv is cluster-scoped"
expect_eq "$(json_field event/ev1 '{.reason}' -n sel)" "MigrationStarted" "event reason"
expect_ok k get events.v1.events.k8s.io -n sel ev1 -o json
expect_eq "$(jq -r '.note + "/" + .reason + "/" + .regarding.name' <<<"$OUT")" "migration started/MigrationStarted/l1" \
  "the event reads back as events.k8s.io/v1"
expect_ok k get configmaps,secrets,serviceaccounts,leases,pvc,events -n sel -o name
for n in configmap/cm1 secret/s1 serviceaccount/sa1 lease.coordination.k8s.io/slot-0 \
  persistentvolumeclaim/pvc1 event/ev1; do
  expect_contains "$OUT" "$n"
done

section "client-side apply (three-way merge)"
cat >"$TEST_TMP/apply1.yaml" <<'EOF'
apiVersion: kubevirt.io/v1alpha3
kind: VirtualMachineInstanceMigration
metadata:
  name: applied
  labels:
    keep: "yes"
    drop: "yes"
spec:
  vmiName: vmi-fedora
  addedNodeSelector:
    zone: z1
EOF
cat >"$TEST_TMP/apply2.yaml" <<'EOF'
apiVersion: kubevirt.io/v1alpha3
kind: VirtualMachineInstanceMigration
metadata:
  name: applied
  labels:
    keep: "yes"
spec:
  vmiName: vmi-fedora
EOF
expect_ok k apply -f "$TEST_TMP/apply1.yaml"
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/applied created"
expect_ok k label vmim applied manual=1
expect_ok k apply -f "$TEST_TMP/apply2.yaml"
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/applied configured"
expect_ok k get vmim applied -o json
expect_eq "$(jq -c '.metadata.labels' <<<"$OUT")" '{"keep":"yes","manual":"1"}' \
  "a label removed from the file is removed; one set by hand stays"
expect_eq "$(jq -c '.spec' <<<"$OUT")" '{"vmiName":"vmi-fedora"}' "a field removed from the file is removed"
expect_ok k apply -f "$TEST_TMP/apply2.yaml"
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/applied unchanged"
run k diff -f "$TEST_TMP/apply1.yaml"
expect_eq "$RC" "1" "kubectl diff exits 1 when the file differs from the object"
expect_contains "$OUT" "+    zone: z1" "kubectl diff shows the field the file would add"
run k diff -f "$TEST_TMP/apply2.yaml"
expect_eq "$RC" "0" "kubectl diff exits 0 when the object matches the file"

section "server-side dry run"
vmim dry >"$TEST_TMP/dry.yaml"
expect_ok k create -f "$TEST_TMP/dry.yaml" --dry-run=server
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/dry created (server dry run)"
expect_fail k get vmim dry
expect_contains "$ERR" "NotFound" "a dry-run create stores nothing"
expect_ok k apply -f "$TEST_TMP/dry.yaml" --dry-run=server
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/dry created (server dry run)"
expect_fail k get vmim dry
expect_contains "$ERR" "NotFound" "a dry-run apply stores nothing"
RV_BEFORE=$(json_field vmim/mj '{.metadata.resourceVersion}')
expect_ok k patch vmim mj --type=merge -p '{"spec":{"vmiName":"dry-patched"}}' --dry-run=server -o 'jsonpath={.spec.vmiName}'
expect_eq "$OUT" "dry-patched" "a dry-run patch returns the patched object"
expect_eq "$(json_field vmim/mj '{.spec.vmiName} {.metadata.resourceVersion}')" "vmi-fresh $RV_BEFORE" \
  "a dry-run patch stores nothing"
expect_ok k delete vmim mj --dry-run=server
expect_eq "$OUT" 'virtualmachineinstancemigration.kubevirt.io "mj" deleted (server dry run)'
expect_ok k get vmim mj
expect_contains "$OUT" "mj" "a dry-run delete deletes nothing"

section "raw discovery"
expect_ok k get --raw /version
expect_match "$(jq -r '.gitVersion' <<<"$OUT")" '^v1\.[0-9]+\.[0-9]+' "/version has a gitVersion"
expect_ok k get --raw /api
expect_eq "$(jq -r '.kind + " " + (.versions | join(","))' <<<"$OUT")" "APIVersions v1" "/api lists v1"
expect_ok k get --raw /api/v1
expect_eq "$(jq -r '[.resources[] | select(.name=="configmaps" and .namespaced==true)] | length' <<<"$OUT")" "1" \
  "/api/v1 lists configmaps"
expect_ok k get --raw /apis
APIS=$(jq -r '[.groups[].name] | join(" ")' <<<"$OUT")
for g in kubevirt.io apiextensions.k8s.io coordination.k8s.io events.k8s.io admissionregistration.k8s.io; do
  expect_contains "$APIS" "$g" "/apis lists $g"
done

section "request metrics (/metrics)"
# series TEXT SERIES: the value of one series in a /metrics text (0 when absent).
series() {
  awk -v s="$2" '$1 == s { v = $2 } END { print v + 0 }' <<<"$1"
}
# requests TEXT: the sum of every apiserver_request_total series.
requests() {
  awk '/^apiserver_request_total\{/ { s += $2 } END { print s + 0 }' <<<"$1"
}
# resource_requests TEXT: the sum of the apiserver_request_total series of resource requests.
resource_requests() {
  awk '/^apiserver_request_total\{/ && /component="apiserver"/ { s += $2 } END { print s + 0 }' <<<"$1"
}
# req VERB GROUP VERSION RESOURCE SCOPE CODE: one apiserver_request_total series.
req() {
  printf 'apiserver_request_total{code="%s",component="apiserver",dry_run="",group="%s",resource="%s",scope="%s",subresource="",verb="%s",version="%s"}' \
    "$6" "$2" "$4" "$5" "$1" "$3"
}
WATCH_VMIS='apiserver_longrunning_requests{component="apiserver",group="kubevirt.io",resource="virtualmachineinstances",scope="namespace",subresource="",verb="WATCH",version="v1"}'
LIST_VMIS=$(req LIST kubevirt.io v1 virtualmachineinstances namespace 200)
CREATE_VMI=$(req POST kubevirt.io v1 virtualmachineinstances resource 201)
CREATE_VMI_EXISTS=$(req POST kubevirt.io v1 virtualmachineinstances resource 409)
DELETE_VMI=$(req DELETE kubevirt.io v1 virtualmachineinstances resource 200)
WATCH_VMIS_COUNT=$(req WATCH kubevirt.io v1 virtualmachineinstances namespace 200)

admin_credentials "$TEST_TMP/certs"
CODE=$(curl -sS --max-time 10 --cacert "$TEST_TMP/certs/ca.crt" -o /dev/null -w '%{http_code}' \
  "https://127.0.0.1:$DEVCLUSTER_PORT/metrics")
expect_eq "$CODE" "401" "/metrics without credentials is 401, as with kube-apiserver"
CTYPE=$(curl -sS --max-time 10 --cacert "$TEST_TMP/certs/ca.crt" --cert "$TEST_TMP/certs/admin.crt" \
  --key "$TEST_TMP/certs/admin.key" -o /dev/null -w '%{content_type}' "https://127.0.0.1:$DEVCLUSTER_PORT/metrics")
expect_eq "$CTYPE" "text/plain; version=0.0.4; charset=utf-8" "/metrics is Prometheus text format 0.0.4"

expect_ok k get --raw /metrics
M0=$OUT
expect_contains "$M0" "# TYPE apiserver_request_total counter"
expect_contains "$M0" "# TYPE apiserver_longrunning_requests gauge"
expect_ok k get vmi
expect_ok k create -f "$KM_SOURCE_DIR/examples/vmi.yaml"
expect_fail k create -f "$KM_SOURCE_DIR/examples/vmi.yaml"
expect_ok k get --raw /metrics
M1=$OUT
expect_eq "$(($(series "$M1" "$LIST_VMIS") - $(series "$M0" "$LIST_VMIS")))" 1 "kubectl get vmi: one LIST"
expect_eq "$(($(series "$M1" "$CREATE_VMI") - $(series "$M0" "$CREATE_VMI")))" 1 "kubectl create: one POST, 201"
expect_eq "$(($(series "$M1" "$CREATE_VMI_EXISTS") - $(series "$M0" "$CREATE_VMI_EXISTS")))" 1 \
  "the second kubectl create: one POST, 409"
METRICS_GET='apiserver_request_total{code="200",component="",dry_run="",group="",resource="",scope="",subresource="/metrics",verb="GET",version=""}'
expect_eq "$(($(series "$M1" "$METRICS_GET") - $(series "$M0" "$METRICS_GET")))" 1 \
  "a scrape is counted in the next one, not in itself"

# Between two scrapes the counters grow by the requests made in between plus the first scrape.
# With curl (one request each): this kubectl (gcloud's dispatcher) also asks for /version first.
curl_get() {
  curl -sS --max-time 10 --cacert "$TEST_TMP/certs/ca.crt" --cert "$TEST_TMP/certs/admin.crt" \
    --key "$TEST_TMP/certs/admin.key" "https://127.0.0.1:$DEVCLUSTER_PORT$1"
}
C1=$(curl_get /metrics)
curl_get /api/v1/namespaces/default/configmaps >/dev/null
curl_get /apis >/dev/null
C2=$(curl_get /metrics)
expect_eq "$(($(requests "$C2") - $(requests "$C1")))" 3 \
  "two requests and the scrape before them: the total grows by exactly 3"
# Resource requests alone (component="apiserver"): scrapes and discovery do not count.
expect_ok k get --raw /api/v1/namespaces/default/configmaps
expect_ok k get --raw /apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances
expect_ok k get --raw /metrics
M2=$OUT
expect_eq "$(($(resource_requests "$M2") - $(resource_requests "$C2")))" 2 \
  "two raw kubectl lists: resource requests grow by exactly 2"
expect_eq "$(($(series "$M2" "$LIST_VMIS") - $(series "$M1" "$LIST_VMIS")))" 1 "a raw list is a LIST too"
expect_ok k delete vmi vmi-fedora --wait=false
expect_ok k get --raw /metrics
M3=$OUT
expect_eq "$(($(series "$M3" "$DELETE_VMI") - $(series "$M2" "$DELETE_VMI")))" 1 "kubectl delete: one DELETE"

vmi_watches_are() {
  [[ "$(k get --raw /metrics | awk -v s="$WATCH_VMIS" '$1 == s { v = $2 } END { print v + 0 }')" == "$1" ]]
}
background "$TEST_TMP/metrics-watch.out" timeout 60 "$KUBECTL" get vmi -w
WATCH_PID=$BG_PID
if wait_until 10 vmi_watches_are 1; then
  pass "an open watch shows in apiserver_longrunning_requests"
else
  fail "an open watch shows in apiserver_longrunning_requests" "$(k get --raw /metrics | grep longrunning)"
fi
expect_ok k get --raw /metrics
expect_eq "$(($(series "$OUT" "$WATCH_VMIS_COUNT") - $(series "$M3" "$WATCH_VMIS_COUNT")))" 1 \
  "a watch is counted once, when it starts, with code 200"
stop_background "$WATCH_PID"
# devcluster notices that a client has gone at its next write to it (within about 6 s).
if wait_until 20 vmi_watches_are 0; then
  pass "the gauge goes back to 0 when the watch ends"
else
  fail "the gauge goes back to 0 when the watch ends" "$(k get --raw /metrics | grep longrunning)"
fi

section "watch"
make_vmim w1 vmi-fedora sel
background "$TEST_TMP/watch.out" timeout 60 "$KUBECTL" get vmim -n sel -w --output-watch-events
WATCH_PID=$BG_PID
expect_file_eventually_contains "$TEST_TMP/watch.out" "w1" 10 "the watch lists the existing object first"
expect_ok k patch vmim w1 -n sel --subresource=status --type=merge -p '{"status":{"phase":"Pending"}}'
expect_file_eventually_contains "$TEST_TMP/watch.out" "MODIFIED" 10 "the watch sees MODIFIED"
expect_ok k delete vmim w1 -n sel
expect_eq "$OUT" 'virtualmachineinstancemigration.kubevirt.io "w1" deleted'
expect_file_eventually_contains "$TEST_TMP/watch.out" "DELETED" 10 "the watch sees DELETED"
make_vmim w1b vmi-fedora sel
expect_file_eventually_contains "$TEST_TMP/watch.out" "w1b" 10 "the watch sees a later ADDED"
WATCHED=$(tr -s ' ' <"$TEST_TMP/watch.out")
expect_contains "$WATCHED" "EVENT NAME PHASE VMI SOURCE TARGET AGE" "the watch prints the table header"
expect_match "$WATCHED" 'MODIFIED w1 Pending vmi-fedora' "the MODIFIED row carries the new phase"
expect_match "$WATCHED" 'ADDED w1b ' "the ADDED row"
stop_background "$WATCH_PID"

background "$TEST_TMP/watch-json.out" timeout 60 "$KUBECTL" get vmim -n sel -w --output-watch-events -o json
WATCH_PID=$BG_PID
# kubectl 1.32 prints one compact JSON event per line.
expect_file_eventually_contains "$TEST_TMP/watch-json.out" '{"type":"ADDED","object":{' 10 "-o json watch prints typed events"
expect_file_eventually_contains "$TEST_TMP/watch-json.out" '"name":"w1b"' 10 "the initial events carry the objects"
make_vmim w2 vmi-fedora sel
expect_file_eventually_contains "$TEST_TMP/watch-json.out" '"name":"w2"' 10 "-o json watch sees a new object"
stop_background "$WATCH_PID"

section "wait"
background "$TEST_TMP/wait.out" "$KUBECTL" wait -n sel vmim/w2 --for=jsonpath='{.status.phase}'=Running --timeout=30s
WAIT_PID=$BG_PID
expect_ok k patch vmim w2 -n sel --subresource=status --type=merge -p '{"status":{"phase":"Running"}}'
wait "$WAIT_PID"
expect_eq "$?" "0" "kubectl wait --for=jsonpath returns when the phase is Running"
expect_eq "$(cat "$TEST_TMP/wait.out")" "virtualmachineinstancemigration.kubevirt.io/w2 condition met"
run "$KUBECTL" wait -n sel vmim/w2 --for=jsonpath='{.status.phase}'=Succeeded --timeout=2s
expect_ne "$RC" "0" "kubectl wait times out when the value never comes"
expect_contains "$ERR" "timed out waiting for the condition" "kubectl wait reports the timeout"

# Delete only once kubectl wait is watching (its -v=6 log shows the watch
# request): deleting earlier makes it find nothing and print nothing.
"$KUBECTL" wait -n sel vmim/w2 --for=delete --timeout=30s -v=6 >"$TEST_TMP/waitdel.out" 2>"$TEST_TMP/waitdel.log" &
WAIT_PID=$!
BACKGROUND_PIDS+=("$WAIT_PID")
expect_file_eventually_contains "$TEST_TMP/waitdel.log" 'watch=true' 10 "kubectl wait --for=delete is watching"
expect_ok k delete vmim w2 -n sel --wait=false
wait "$WAIT_PID"
expect_eq "$?" "0" "kubectl wait --for=delete returns when the object is gone"
expect_eq "$(cat "$TEST_TMP/waitdel.out")" "virtualmachineinstancemigration.kubevirt.io/w2 condition met"

section "edit"
cat >"$TEST_TMP/editor.sh" <<'EOF'
#!/bin/sh
sed -i 's/vmiName: vmi-fresh/vmiName: vmi-edited/' "$1"
EOF
chmod +x "$TEST_TMP/editor.sh"
expect_ok env KUBE_EDITOR="$TEST_TMP/editor.sh" "$KUBECTL" --request-timeout=10s edit vmim mj
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/mj edited"
expect_eq "$(json_field vmim/mj '{.spec.vmiName}')" "vmi-edited" "kubectl edit stores the change"
cat >"$TEST_TMP/noop-editor.sh" <<'EOF'
#!/bin/sh
exit 0
EOF
chmod +x "$TEST_TMP/noop-editor.sh"
expect_ok env KUBE_EDITOR="$TEST_TMP/noop-editor.sh" "$KUBECTL" --request-timeout=10s edit vmim mj
expect_contains "$OUT$ERR" "Edit cancelled, no changes made." "an unchanged edit changes nothing"

section "delete"
expect_ok k delete vmim mj
expect_eq "$OUT" 'virtualmachineinstancemigration.kubevirt.io "mj" deleted'
expect_fail k get vmim mj
expect_contains "$ERR" 'virtualmachineinstancemigrations.kubevirt.io "mj" not found'
expect_ok k delete vmim -n sel -l a
expect_eq "$(names)" "l4 w1b" "delete -l removes exactly the selected objects"
expect_ok k delete ns empty
expect_eq "$OUT" 'namespace "empty" deleted'
expect_fail k get ns empty
expect_contains "$ERR" 'namespaces "empty" not found' "a deleted empty namespace is gone"

stop_devcluster
finish
