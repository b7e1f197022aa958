#!/usr/bin/env bash
# migration-webhook registered in devcluster the way it runs in a cluster (clientConfig.service,
# certificates and caBundle from certs/gen-certs.sh), driven with real kubectl: every denial
# reason of design.md §4.1 with its HTTP code and text, limits (429), UPDATE rules, server dry
# run, warnings, metrics, and /validate-kubevirt.
#
# VMIs get their status the way the engine writes it (kubectl patch --subresource=status); no
# engine runs here, so nothing moves a VMIM along by itself.
#
# The webhook answers from watch-fed caches, so a change made through the API reaches its
# decisions a moment later (as in a real cluster). Before a check that depends on a change, the
# script waits until the webhook itself (probed directly with an AdmissionReview) reports the new
# state; the check then goes through kubectl and the API server.
# shellcheck disable=SC2119,SC2317 source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HOOK=virtualmachineinstancemigrations.migration-webhook.kubevirt.io
KV_HOOK=kubevirts.migration-webhook.kubevirt.io
start_migration_webhook
wh_get /healthz >/dev/null
expect_eq "$CODE" "200" "/healthz answers 200"
expect_eq "$(json_field validatingwebhookconfiguration/migration-webhook '{.webhooks[*].name}')" "$HOOK $KV_HOOK"

section "certificates from certs/gen-certs.sh"
for f in ca.key tls.key secret.yaml; do
  expect_eq "$(stat -c %a "$CERTS/$f" 2>&1)" "600" "$f is mode 0600"
done
expect_eq "$(openssl x509 -in "$CERTS/tls.crt" -noout -ext subjectAltName 2>&1 | tail -n +2 | tr -d ' ')" \
  "DNS:migration-webhook,DNS:migration-webhook.kubevirt,DNS:migration-webhook.kubevirt.svc,DNS:migration-webhook.kubevirt.svc.cluster.local,IPAddress:127.0.0.1" \
  "the serving certificate has the Service's names and the IP as SANs"
expect_contains "$(openssl x509 -in "$CERTS/tls.crt" -noout -text 2>&1)" "NIST CURVE: P-256" "the key is ECDSA P-256"
expect_ok openssl verify -CAfile "$CERTS/ca.crt" "$CERTS/tls.crt"
CA_BUNDLE=$(base64 -w0 <"$CERTS/ca.crt")
expect_eq "$(grep -c "caBundle: $CA_BUNDLE\$" "$CERTS/validatingwebhookconfiguration.yaml")" "2" \
  "both webhooks of the rendered configuration carry the CA as caBundle"
SERIAL=$(openssl x509 -in "$CERTS/tls.crt" -noout -serial)
expect_ok "$KM_SOURCE_DIR/certs/gen-certs.sh" --service migration-webhook --namespace kubevirt \
  --out "$CERTS" --ip 127.0.0.1
expect_eq "$(openssl x509 -in "$CERTS/tls.crt" -noout -serial)" "$SERIAL" "a second run keeps current certificates"

section "the KubeVirt object passes /validate-kubevirt"
expect_ok k apply -f "$KM_SOURCE_DIR/examples/kubevirt.yaml"
expect_contains "$OUT" "kubevirt.kubevirt.io/kubevirt created" "a valid KubeVirt object passes /validate-kubevirt"

# ---------------------------------------------------------------------------------------------
# Fixtures: VMIs as an engine leaves them.

# vmi and vmi_status (lib.sh) create the VMIs and write their status.

RWO_MSG="PVC disk-rwo is not shared, live migration requires that all PVCs must be shared (using ReadWriteMany access mode)"
BRIDGE_MSG="interface default uses bridge binding on the pod network, which cannot be live migrated (use masquerade)"

section "fixtures: VMIs with the status an engine writes"
cat >"$TEST_TMP/pvc.yaml" <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: disk-rwo
spec:
  accessModes: ["ReadWriteOnce"]
  resources:
    requests:
      storage: 5Gi
EOF
expect_ok k apply -f "$TEST_TMP/pvc.yaml"
PVC_VOLUME="  - name: rootdisk
    persistentVolumeClaim:
      claimName: disk-rwo"
for n in a1 a2 a3 b1 b2 c1; do
  vmi "vmi-$n"
  vmi_status "vmi-$n" Running "node-${n:0:1}" True
done
vmi vmi-pending
vmi_status vmi-pending Scheduling "" Unknown Pending "the VMI is not running yet"
vmi vmi-done
vmi_status vmi-done Succeeded node-a True
vmi vmi-failed
vmi_status vmi-failed Failed node-a True
vmi vmi-rwo "$PVC_VOLUME"
vmi_status vmi-rwo Running node-b False DisksNotLiveMigratable "$RWO_MSG"
vmi vmi-bridge "" bridge
vmi_status vmi-bridge Running node-b False InterfaceNotLiveMigratable "$BRIDGE_MSG"
vmi vmi-both "$PVC_VOLUME" bridge
vmi_status vmi-both Running node-c False DisksNotLiveMigratable "$RWO_MSG; $BRIDGE_MSG"
expect_ok k get vmi
expect_eq "$(k get vmi -o name | wc -l)" "12" "12 VMIs exist"

# ---------------------------------------------------------------------------------------------
# Helpers: VMIM files, direct probes of the webhook, and the API server's Status.

# vmim_file NAME VMI [API_VERSION [LABEL_VALUE]]: writes $TEST_TMP/vmim-NAME.yaml, prints its path.
vmim_file() {
  local name=$1 vmi_name=$2 version=${3:-kubevirt.io/v1} label=${4:-}
  local f=$TEST_TMP/vmim-$name.yaml
  {
    echo "apiVersion: $version"
    echo "kind: VirtualMachineInstanceMigration"
    echo "metadata:"
    echo "  name: $name"
    if [[ -n "$label" ]]; then
      echo "  labels:"
      echo "    kubevirt.io/vmi-name: $label"
    fi
    echo "spec:"
    echo "  vmiName: $vmi_name"
  } >"$f"
  echo "$f"
}

# probe VMIM_NAME VMI_NAME: sends a CREATE AdmissionReview straight to the webhook and prints
# its response (the AdmissionReview's .response).
PROBE_UID=0
probe() {
  PROBE_UID=$((PROBE_UID + 1))
  local uid
  uid=$(printf '00000000-0000-4000-8000-%012d' "$PROBE_UID")
  jq -cn --arg uid "$uid" --arg name "$1" --arg vmi "$2" '{
    apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview",
    request: {uid: $uid,
      kind: {group: "kubevirt.io", version: "v1", kind: "VirtualMachineInstanceMigration"},
      resource: {group: "kubevirt.io", version: "v1", resource: "virtualmachineinstancemigrations"},
      requestKind: {group: "kubevirt.io", version: "v1", kind: "VirtualMachineInstanceMigration"},
      requestResource: {group: "kubevirt.io", version: "v1", resource: "virtualmachineinstancemigrations"},
      name: $name, namespace: "default", operation: "CREATE",
      userInfo: {username: "probe", groups: ["system:authenticated"]},
      object: {apiVersion: "kubevirt.io/v1", kind: "VirtualMachineInstanceMigration",
               metadata: {name: $name, namespace: "default"}, spec: {vmiName: $vmi}},
      oldObject: null, dryRun: true,
      options: {apiVersion: "meta.k8s.io/v1", kind: "CreateOptions"}}}' |
    curl -sS --max-time 5 --cacert "$CERTS/ca.crt" -H 'Content-Type: application/json' \
      --data-binary @- "$WH/validate-virtualmachineinstancemigrations" 2>&1 | jq -c '.response' 2>&1
}

# probe_has VMIM VMI JQ_TEST: the webhook's response satisfies the jq test.
probe_has() {
  [[ "$(probe "$1" "$2" | jq -r "$3" 2>/dev/null)" == "true" ]]
}

# await VMIM VMI JQ_TEST WHAT: waits (10 s at most) until the webhook's own verdict satisfies
# the test, i.e. until its caches have caught up with the changes made above.
await() {
  if ! wait_until 10 probe_has "$1" "$2" "$3"; then
    fail "the webhook's caches catch up: $4" "last response: $(probe "$1" "$2")"
    return 1
  fi
  return 0
}

# The causes' reason codes, comma-separated in order: of an AdmissionReview response (CAUSES)
# and of an API server Status (API_CAUSES).
CAUSES='[.status.details.causes[]?.reason] | join(",")'
API_CAUSES='[.details.causes[]?.reason] | join(",")'

KC_DIR=$TEST_TMP/kube-creds
admin_credentials "$KC_DIR"

# api_create FILE: POSTs the object (as JSON) to the API server as admin with curl; sets CODE
# and STATUS (the body: the created object or a Status).
STATUS=""
api_create() {
  local json
  json=$(python3 -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' "$1")
  CODE=$(curl -sS --max-time 20 --cacert "$KC_DIR/ca.crt" --cert "$KC_DIR/admin.crt" --key "$KC_DIR/admin.key" \
    -H 'Content-Type: application/json' -o "$TEST_TMP/api.body" -w '%{http_code}' --data-binary "$json" \
    "https://127.0.0.1:$DEVCLUSTER_PORT/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancemigrations${2:-}" 2>&1)
  STATUS=$(cat "$TEST_TMP/api.body" 2>/dev/null)
}

# denied_by_kubectl FILE CODE REASON CAUSES MESSAGE_PARTS...: the API server refuses FILE with
# the webhook's Status (code, reason, the causes' reason codes, every message part), and
# `kubectl create -f FILE` prints exactly that Status's message as kube-apiserver words it.
denied_by_kubectl() {
  local file=$1 code=$2 reason=$3 causes=$4
  shift 4
  local part msg
  api_create "$file"
  expect_eq "$CODE" "$code" "HTTP $code for $(basename "$file")"
  expect_eq "$(jq -r '[.kind, .status, .reason] | join(" ")' <<<"$STATUS" 2>&1)" "Status Failure $reason" \
    "a Status with reason $reason"
  expect_eq "$(jq -r "$API_CAUSES" <<<"$STATUS" 2>&1)" "$causes" "causes: $causes"
  msg=$(jq -r .message <<<"$STATUS" 2>&1)
  expect_match "$msg" "^admission webhook \"$HOOK\" denied the request: [^
]+$" "the message is one line and names the webhook"
  for part in "$@"; do
    expect_contains "$msg" "$part"
  done
  expect_fail k create -f "$file"
  expect_eq "$ERR" "Error from server ($reason): error when creating \"$file\": $msg" \
    "kubectl prints the denial exactly"
  expect_eq "$(k get vmim "$(basename "$file" .yaml | sed 's/^vmim-//')" -o name 2>&1)" \
    "Error from server (NotFound): virtualmachineinstancemigrations.kubevirt.io \"$(basename "$file" .yaml | sed 's/^vmim-//')\" not found" \
    "the denied VMIM is not stored"
}

# ---------------------------------------------------------------------------------------------
section "a running, migratable VMI is admitted, with warnings"
# The VMIs reach the webhook through one watch, in order: once it has seen the last status
# written above, it has seen all of them.
await m-both vmi-both '[.status.details.causes[]?.reason] == ["NotLiveMigratable"]' "every VMI status is cached"
await m-a1 vmi-a1 '.allowed == true' "vmi-a1 running and migratable"
F=$(vmim_file m-a1 vmi-a1 kubevirt.io/v1alpha3)
expect_ok k create -f "$F"
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/m-a1 created"
expect_contains "$ERR" "Warning: " "kubectl prints the webhook's warnings"
expect_eq "$(probe m-x vmi-a2 | jq -c '.warnings | length > 0')" "true" "an admitted migration comes with warnings"
expect_eq "$(json_field vmim/m-a1 '{.spec.vmiName}')" "vmi-a1" "the admitted VMIM is stored"

section "a migration already in flight for the VMI"
await m-a1-again vmi-a1 '.allowed == false' "m-a1 is in flight"
denied_by_kubectl "$(vmim_file m-a1-again vmi-a1)" 403 Forbidden MigrationInFlight \
  "in-flight migration detected" "m-a1"

section "the VMI does not exist, is not running, is final"
denied_by_kubectl "$(vmim_file m-nope vmi-nope)" 403 Forbidden VMINotFound "vmi-nope"
denied_by_kubectl "$(vmim_file m-pending vmi-pending)" 403 Forbidden VMINotRunning "vmi-pending" "Scheduling"
denied_by_kubectl "$(vmim_file m-done vmi-done)" 403 Forbidden VMIFinal "vmi-done" "Succeeded"
denied_by_kubectl "$(vmim_file m-failed vmi-failed)" 403 Forbidden VMIFinal "vmi-failed" "Failed"

section "the VMI is not live-migratable: the condition's reason and message are quoted"
denied_by_kubectl "$(vmim_file m-rwo vmi-rwo)" 403 Forbidden NotLiveMigratable \
  "DisksNotLiveMigratable" "$RWO_MSG" "disk-rwo"
denied_by_kubectl "$(vmim_file m-bridge vmi-bridge)" 403 Forbidden NotLiveMigratable \
  "InterfaceNotLiveMigratable" "$BRIDGE_MSG"
denied_by_kubectl "$(vmim_file m-both vmi-both)" 403 Forbidden NotLiveMigratable "$RWO_MSG" "$BRIDGE_MSG"

section "the feature gate is off: every reason is reported together"
expect_ok k patch kubevirt kubevirt -n kubevirt --type=json \
  -p '[{"op": "replace", "path": "/spec/configuration/developerConfiguration/featureGates", "value": ["Snapshot"]}]'
await m-gate vmi-a2 '.allowed == false' "the feature gate is off"
denied_by_kubectl "$(vmim_file m-gate vmi-a2)" 403 Forbidden FeatureGateDisabled \
  "LiveMigration feature gate is not enabled"
denied_by_kubectl "$(vmim_file m-gate-done vmi-done)" 403 Forbidden FeatureGateDisabled,VMIFinal \
  "LiveMigration feature gate is not enabled" "vmi-done"
expect_ok k patch kubevirt kubevirt -n kubevirt --type=json \
  -p '[{"op": "replace", "path": "/spec/configuration/developerConfiguration/featureGates", "value": ["LiveMigration"]}]'
await m-gate vmi-a2 '.allowed == true' "the feature gate is on again"

section "--dry-run=server: the same verdict, nothing stored"
F=$(vmim_file m-dry vmi-a2)
expect_ok k create -f "$F" --dry-run=server
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/m-dry created (server dry run)"
expect_contains "$ERR" "Warning: " "a dry run gets the warnings too"
expect_fail k get vmim m-dry
expect_contains "$ERR" "NotFound" "an admitted dry run stores nothing"
F=$(vmim_file m-dry-rwo vmi-rwo)
expect_fail k create -f "$F"
REAL_ERR=$ERR
expect_contains "$REAL_ERR" "denied the request: " "a VMIM of a VMI with a ReadWriteOnce volume is denied"
expect_fail k create -f "$F" --dry-run=server
expect_eq "$ERR" "$REAL_ERR" "a denied dry run prints the same denial"
expect_fail k apply -f "$F" --dry-run=server
expect_contains "$ERR" "denied the request: " "kubectl apply --dry-run=server is denied too"
expect_eq "$(k get vmim -o name | wc -l)" "1" "only m-a1 is stored"

section "UPDATE: spec is immutable, labels are not (except kubevirt.io/vmi-name)"
F=$(vmim_file m-a2 vmi-a2 kubevirt.io/v1 vmi-a2)
await m-a2 vmi-a2 '.allowed == true' "vmi-a2 is admissible"
expect_ok k create -f "$F"
expect_ok k label vmim m-a2 team=blue
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/m-a2 labeled" "a label-only update passes"
expect_ok k annotate vmim m-a2 note=hello
# denied_update NAME MERGE_PATCH CAUSE WHAT: the API server refuses the patch with 422 Invalid and
# the cause; kubectl patch prints the cause's message; the object is unchanged.
denied_update() {
  local name=$1 patch=$2 cause=$3 what=$4 before
  before=$(k get vmim "$name" -o json | jq -c '{spec, labels: .metadata.labels}')
  CODE=$(curl -sS --max-time 20 --cacert "$KC_DIR/ca.crt" --cert "$KC_DIR/admin.crt" --key "$KC_DIR/admin.key" \
    -X PATCH -H 'Content-Type: application/merge-patch+json' -o "$TEST_TMP/api.body" -w '%{http_code}' \
    --data-binary "$patch" \
    "https://127.0.0.1:$DEVCLUSTER_PORT/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancemigrations/$name" 2>&1)
  STATUS=$(cat "$TEST_TMP/api.body" 2>/dev/null)
  expect_eq "$CODE $(jq -r '[.reason, (.details.causes // [] | map(.reason) | join(","))] | join(" ")' <<<"$STATUS" 2>&1)" \
    "422 Invalid $cause" "$what: 422 Invalid, cause $cause"
  expect_fail k patch vmim "$name" --type=merge -p "$patch"
  expect_contains "$ERR" "$(jq -r '.details.causes[0].message' <<<"$STATUS" 2>&1)" "$what: kubectl prints the cause"
  expect_eq "$(k get vmim "$name" -o json | jq -c '{spec, labels: .metadata.labels}')" "$before" "$what: nothing changed"
}
denied_update m-a2 '{"spec":{"vmiName":"vmi-b1"}}' SpecImmutable "changing spec.vmiName"
REAL_ERR=$ERR
denied_update m-a2 '{"spec":{"addedNodeSelector":{"zone":"x"}}}' SpecImmutable "adding spec.addedNodeSelector"
denied_update m-a2 '{"metadata":{"labels":{"kubevirt.io/vmi-name":null}}}' SelectorLabelImmutable \
  "removing the kubevirt.io/vmi-name label"
denied_update m-a2 '{"metadata":{"labels":{"kubevirt.io/vmi-name":"vmi-b1"}}}' SelectorLabelImmutable \
  "changing the kubevirt.io/vmi-name label"
# kubectl prints a 422 as "The request is invalid: FIELD: MESSAGE" for each cause.
expect_fail k label vmim m-a2 kubevirt.io/vmi-name-
expect_eq "$ERR" "The request is invalid: metadata.labels[kubevirt.io/vmi-name]: label kubevirt.io/vmi-name must not be removed while the migration is not finished" \
  "kubectl label is refused too, and prints the cause with its field"
expect_fail k patch vmim m-a2 --type=merge -p '{"spec":{"vmiName":"vmi-b1"}}' --dry-run=server
expect_eq "$ERR" "$REAL_ERR" "a dry-run spec update gets the same denial"
expect_eq "$(json_field vmim/m-a2 '{.spec.vmiName}')" "vmi-a2" "and changes nothing"
expect_ok k patch vmim m-a2 --subresource=status --type=merge -p '{"status":{"phase":"Succeeded"}}'
expect_ok k label vmim m-a2 kubevirt.io/vmi-name-
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/m-a2 unlabeled" \
  "the selector label may go once the migration is final"

section "limits: 5 in flight in the cluster, the 6th is refused with 429"
expect_ok k delete vmim --all
# m-a1 (node-a) is gone; in flight: a1, a2 (node-a), b1, b2 (node-b), c1 (node-c).
for n in a1 a2 b1 b2 c1; do
  await "m-$n" "vmi-$n" '.allowed == true' "vmi-$n is admissible"
  expect_ok k create -f "$(vmim_file "m-$n" "vmi-$n")"
done
await m-a3 vmi-a3 '.status.code == 429' "5 migrations in flight"
RESP=$(probe m-a3 vmi-a3)
expect_eq "$(jq -r "$CAUSES" <<<"$RESP")" "ClusterLimitReached,NodeLimitReached" \
  "vmi-a3 (node-a, 2 outbound) hits both limits"
expect_eq "$(probe m-c-extra vmi-bridge | jq -r '.status.code')" "403" \
  "a refusal that a retry cannot fix is not 429, even with the cluster full"
vmi vmi-c2
vmi_status vmi-c2 Running node-c True
await m-c2 vmi-c2 '.status.code == 429' "vmi-c2 is known"
F=$(vmim_file m-c2 vmi-c2)
api_create "$F"
expect_eq "$CODE" "429" "the API server answers 429"
expect_eq "$(jq -r '[.reason, (.code|tostring), (.details | has("retryAfterSeconds") | tostring)] | join(" ")' <<<"$STATUS")" \
  "TooManyRequests 429 false" "reason TooManyRequests, without details.retryAfterSeconds (kubectl would retry it silently)"
expect_eq "$(jq -r "$API_CAUSES" <<<"$STATUS")" "ClusterLimitReached" "the cause is ClusterLimitReached"
MSG=$(jq -r .message <<<"$STATUS")
expect_contains "$MSG" "cluster has 5/5 migrations in flight (parallelMigrationsPerCluster=5); held by " \
  "the message names the limit, its value and the count"
expect_match "$MSG" 'held by ([a-z0-9-]+/[a-z0-9.-]+, ){4}[a-z0-9-]+/[a-z0-9.-]+; retry when one finishes' \
  "the message names the 5 migrations holding the slots (namespace/name)"
# kubectl (client-go) retries a 429 that carries Retry-After up to 10 times; without it the
# refusal is printed at once.
START=$SECONDS
run "$KUBECTL" create -f "$F"
ELAPSED=$((SECONDS - START))
expect_ne "$RC" "0" "kubectl create is refused"
if ((ELAPSED < 3)); then
  pass "kubectl prints the limit refusal at once (${ELAPSED}s)"
else
  fail "kubectl prints the limit refusal at once" "took ${ELAPSED}s"
fi
expect_eq "$ERR" "Error from server (TooManyRequests): error when creating \"$F\": $MSG" \
  "kubectl prints Error from server (TooManyRequests) with the counts"
METRICS=$(wh_get /metrics)
expect_match "$METRICS" 'migration_webhook_admissions_total\{[^}]*reason="ClusterLimitReached"[^}]*\} [1-9]' \
  "/metrics counts the refusals by reason"
expect_match "$METRICS" 'migration_webhook_admission_duration_seconds_count [1-9]' "/metrics has the latency histogram"
expect_match "$METRICS" 'migration_webhook_cache_objects\{[^}]*\} [0-9]' "/metrics has the cache sizes"

section "a finished migration frees its slot"
expect_ok k patch vmim m-c1 --subresource=status --type=merge -p '{"status":{"phase":"Succeeded"}}'
await m-c2 vmi-c2 '.allowed == true' "m-c1 is final"
expect_ok k create -f "$F"
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/m-c2 created" "the 6th is admitted once one finished"

section "limits: 2 outbound from a node, the 3rd is refused with 429"
expect_ok k delete vmim m-b1 m-b2 m-c1
# In flight now: m-a1, m-a2 (node-a), m-c2 (node-c): 3 of 5 in the cluster.
await m-a3 vmi-a3 '.status.code == 429 and ([.status.details.causes[].reason] == ["NodeLimitReached"])' \
  "3 in flight, 2 from node-a"
F=$(vmim_file m-a3 vmi-a3)
api_create "$F"
expect_eq "$CODE" "429" "the API server answers 429"
expect_eq "$(jq -r "$API_CAUSES" <<<"$STATUS")" "NodeLimitReached" "the cause is NodeLimitReached"
MSG=$(jq -r .message <<<"$STATUS")
expect_contains "$MSG" "node-a" "the message names the node"
expect_contains "$MSG" "2/2" "the message has the count"
expect_contains "$MSG" "parallelOutboundMigrationsPerNode=2" "the message names the limit and its value"
expect_ok k create -f "$(vmim_file m-b1 vmi-b1)"
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/m-b1 created" "another node's VMI is admitted"

section "/validate-kubevirt"
expect_fail k patch kubevirt kubevirt -n kubevirt --type=merge \
  -p '{"spec":{"configuration":{"migrationConfiguration":{"parallelMigrationsPerCluster":0}}}}'
expect_contains "$ERR" "spec.configuration.migrationConfiguration.parallelMigrationsPerCluster" \
  "parallelMigrationsPerCluster: 0 is refused with its field path"
expect_eq "$(json_field kubevirt/kubevirt '{.spec.configuration.migrationConfiguration.parallelMigrationsPerCluster}' -n kubevirt)" \
  "5" "the KubeVirt object is unchanged"
expect_fail k patch kubevirt kubevirt -n kubevirt --type=merge \
  -p '{"spec":{"configuration":{"migrations":{"progressTimeout":0,"completionTimeoutPerGiB":0}}}}'
expect_contains "$ERR" "spec.configuration.migrations.progressTimeout" "progressTimeout: 0 is refused (migrations)"
expect_contains "$ERR" "spec.configuration.migrations.completionTimeoutPerGiB" "every problem is reported"
expect_ok k patch kubevirt kubevirt -n kubevirt --type=merge \
  -p '{"spec":{"configuration":{"migrationConfiguration":{"parallelMigrationsPerCluster":3}}}}'
await m-b2 vmi-b2 '.status.code == 429' "the cluster limit is now 3"
F=$(vmim_file m-b2 vmi-b2)
api_create "$F"
expect_contains "$(jq -r .message <<<"$STATUS")" "cluster has 4/3 migrations in flight (parallelMigrationsPerCluster=3)" \
  "a lowered limit applies at once, with the real count"

section "the webhook down: failurePolicy Fail refuses"
stop_background "$WEBHOOK_PID"
expect_fail k create -f "$(vmim_file m-down vmi-b2)"
expect_contains "$ERR" "failed calling webhook \"$HOOK\"" "no webhook, no migration"
expect_fail k get vmim m-down

stop_devcluster
finish
