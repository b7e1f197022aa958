#!/usr/bin/env bash
# Validating admission webhooks called by devcluster as kube-apiserver calls them, seen through
# real kubectl: denials, warnings, the AdmissionReview sent, failurePolicy, matchPolicy,
# objectSelector, timeouts and custom denial codes.
#
# Uses tests/tools test-webhook: --cert --key --port --deny MESSAGE --code N --reason REASON
# --warn TEXT --log FILE --delay-ms N; prints "test-webhook listening on PORT"; --log receives
# every AdmissionReview it is sent (JSON documents, one after the other).
#
# kube-apiserver passes a denying webhook's status (code, reason, message) through, prefixing the
# message with `admission webhook "NAME" denied the request: `; kubectl prints the reason in
# "Error from server (REASON)". The denying webhooks here therefore set both code and reason.
# shellcheck disable=SC2119 source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VMIM_FILE=$KM_SOURCE_DIR/examples/vmim.yaml
HOOK=vmim.test.kubevirt.io

section "certificates for the webhook (ECDSA P-256, SAN IP:127.0.0.1)"
PKI=$TEST_TMP/pki
mkdir -p "$PKI"
if ! {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/ca.key" &&
    openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=test-webhook-ca" -days 1 -out "$PKI/ca.crt" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" &&
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/tls.key" &&
    openssl req -new -key "$PKI/tls.key" -subj "/CN=127.0.0.1" -out "$PKI/tls.csr" &&
    printf '%s\n' "subjectAltName=IP:127.0.0.1" "extendedKeyUsage=serverAuth" \
      "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" >"$PKI/ext.cnf" &&
    openssl x509 -req -in "$PKI/tls.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
      -days 1 -extfile "$PKI/ext.cnf" -out "$PKI/tls.crt"
} >"$TEST_TMP/openssl.log" 2>&1; then
  fail "openssl creates the webhook's certificates" "$(cat "$TEST_TMP/openssl.log")"
  finish
fi
pass "openssl creates the webhook's certificates"
CA_BUNDLE=$(base64 -w0 <"$PKI/ca.crt")

WEBHOOK_PID=""
WEBHOOK_PORT=""
WEBHOOK_LOG=""
WEBHOOK_STARTS=0

# start_webhook ARGS...: starts test-webhook with the certificates, a fresh request log and ARGS;
# sets WEBHOOK_PID, WEBHOOK_PORT and WEBHOOK_LOG. Exits the script when it cannot start.
start_webhook() {
  WEBHOOK_STARTS=$((WEBHOOK_STARTS + 1))
  WEBHOOK_LOG=$TEST_TMP/webhook.$WEBHOOK_STARTS.requests
  local out=$TEST_TMP/webhook.$WEBHOOK_STARTS.out line deadline=$((SECONDS + 10))
  : >"$WEBHOOK_LOG"
  background "$out" "$KM_BIN_DIR/test-webhook" --cert "$PKI/tls.crt" --key "$PKI/tls.key" --port 0 \
    --log "$WEBHOOK_LOG" "$@"
  WEBHOOK_PID=$BG_PID
  while ((SECONDS <= deadline)); do
    line=$(grep -m1 -oE 'test-webhook listening on [0-9]+' "$out" 2>/dev/null)
    if [[ -n "$line" ]]; then
      WEBHOOK_PORT=${line##* }
      return 0
    fi
    kill -0 "$WEBHOOK_PID" 2>/dev/null || break
    sleep 0.1
  done
  fail "test-webhook starts ($*)" "$(cat "$out")"
  finish
}

stop_webhook() {
  stop_background "$WEBHOOK_PID"
  WEBHOOK_PID=""
}

# register_webhook FAILURE_POLICY [MATCH_POLICY [OBJECT_SELECTOR_YAML [TIMEOUT]]]: (re)applies
# the ValidatingWebhookConfiguration for VMIM CREATE/UPDATE (rule version v1 only) pointing at
# the current WEBHOOK_PORT.
register_webhook() {
  local failure=$1 match=${2:-Equivalent} selector=${3:-"{}"} timeout=${4:-5}
  cat >"$TEST_TMP/vwc.yaml" <<EOF
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: vmim-test
webhooks:
- name: $HOOK
  clientConfig:
    url: https://127.0.0.1:$WEBHOOK_PORT/validate
    caBundle: $CA_BUNDLE
  rules:
  - apiGroups: ["kubevirt.io"]
    apiVersions: ["v1"]
    resources: ["virtualmachineinstancemigrations"]
    operations: ["CREATE", "UPDATE"]
    scope: Namespaced
  failurePolicy: $failure
  matchPolicy: $match
  objectSelector: $selector
  sideEffects: None
  timeoutSeconds: $timeout
  admissionReviewVersions: ["v1"]
EOF
  expect_ok k apply -f "$TEST_TMP/vwc.yaml"
}

# requests: how many AdmissionReviews the current webhook has received.
requests() {
  jq -s 'length' "$WEBHOOK_LOG" 2>/dev/null || echo "unreadable"
}

# last_request JQ_FILTER: applies the filter to the `request` of the last AdmissionReview logged.
last_request() {
  jq -s -c ".[-1] | (if has(\"request\") then .request else . end) | $1" "$WEBHOOK_LOG" 2>&1
}

start_devcluster
install_crds
expect_ok k apply -f "$KM_SOURCE_DIR/examples/vmi.yaml"

section "a webhook that denies"
start_webhook --deny "no migrations today" --reason Forbidden
register_webhook Fail
expect_ok k get validatingwebhookconfigurations vmim-test -o name
expect_eq "$OUT" "validatingwebhookconfiguration.admissionregistration.k8s.io/vmim-test"
expect_fail k apply -f "$VMIM_FILE"
expect_eq "$ERR" "Error from server (Forbidden): error when creating \"$VMIM_FILE\": admission webhook \"$HOOK\" denied the request: no migrations today" \
  "kubectl prints the denial as kube-apiserver words it"
expect_ok k get vmim
expect_eq "$OUT" "" "nothing is stored"
expect_eq "$ERR" "No resources found in default namespace."
expect_fail k create -f "$VMIM_FILE"
expect_contains "$ERR" "admission webhook \"$HOOK\" denied the request: no migrations today" "kubectl create is denied too"

section "the AdmissionReview the webhook receives"
expect_eq "$(jq -s -c '.[-1] | [.apiVersion, .kind]' "$WEBHOOK_LOG" 2>&1)" '["admission.k8s.io/v1","AdmissionReview"]' \
  "an admission.k8s.io/v1 AdmissionReview"
expect_match "$(last_request '.uid')" '^"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"$' "request.uid is a UUID"
expect_eq "$(jq -s -c '[.[] | (if has("request") then .request else . end) | .uid] | [(unique | length), length]' "$WEBHOOK_LOG")" \
  "[$(requests),$(requests)]" "each request has its own uid"
expect_gt "$(requests)" 1 "the webhook has been called more than once (so the uid check compares something)"
expect_eq "$(last_request '.kind')" '{"group":"kubevirt.io","version":"v1","kind":"VirtualMachineInstanceMigration"}' \
  "kind is the version the rule names (matchPolicy Equivalent)"
expect_eq "$(last_request '.resource')" '{"group":"kubevirt.io","version":"v1","resource":"virtualmachineinstancemigrations"}'
expect_eq "$(last_request '.requestKind')" '{"group":"kubevirt.io","version":"v1alpha3","kind":"VirtualMachineInstanceMigration"}' \
  "requestKind is the version kubectl sent"
expect_eq "$(last_request '.requestResource')" '{"group":"kubevirt.io","version":"v1alpha3","resource":"virtualmachineinstancemigrations"}'
expect_eq "$(last_request '.subResource')" 'null' "no subResource for the main resource"
expect_eq "$(last_request '[.name, .namespace, .operation]')" '["migration-job","default","CREATE"]'
expect_eq "$(last_request '.userInfo.username')" '"admin"' "userInfo.username is the client certificate's CN"
expect_eq "$(last_request '.userInfo.groups | (index("system:masters") != null) and (index("system:authenticated") != null)')" \
  'true' "userInfo.groups has system:masters and system:authenticated"
expect_eq "$(last_request '[.object.apiVersion, .object.kind, .object.spec.vmiName, .object.metadata.name]')" \
  '["kubevirt.io/v1","VirtualMachineInstanceMigration","vmi-fedora","migration-job"]' \
  "the object is converted to the webhook's version"
expect_eq "$(last_request '.oldObject')" 'null' "no oldObject on CREATE"
expect_eq "$(last_request '.dryRun')" 'false'
expect_eq "$(last_request '[.options.apiVersion, .options.kind]')" '["meta.k8s.io/v1","CreateOptions"]'
expect_fail k create -f "$VMIM_FILE" --dry-run=server
expect_contains "$ERR" "admission webhook \"$HOOK\" denied the request: no migrations today" \
  "a server dry run is validated the same way"
expect_eq "$(last_request '.dryRun')" 'true' "dryRun is true for --dry-run=server"
expect_eq "$(last_request '.options.dryRun')" '["All"]'
COUNT=$(requests)
expect_gt "$COUNT" 0 "the webhook's request log is readable and not empty"
expect_ok k create configmap unrelated --from-literal=a=b
expect_eq "$(requests)" "$COUNT" "a request no rule matches does not call the webhook"
expect_ok k --context alice get --raw /version
run k --context alice create -f "$VMIM_FILE"
expect_eq "$(last_request '.userInfo.username')" '"alice"' "userInfo follows the caller (alice)"
run k --context token-user create -f "$VMIM_FILE"
expect_eq "$(last_request '.userInfo.username')" '"token-user"' "userInfo follows the caller (a bearer token)"
stop_webhook

section "a webhook that allows with a warning"
start_webhook --warn "this is a warning"
register_webhook Fail
expect_ok k apply -f "$VMIM_FILE"
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/migration-job created"
expect_contains "$ERR" "Warning: this is a warning" "kubectl prints the webhook's warning"
expect_eq "$(json_field vmim/migration-job '{.spec.vmiName}')" "vmi-fedora" "the allowed object is stored"
expect_ok k label vmim migration-job reviewed=yes
expect_contains "$ERR" "Warning: this is a warning" "updates are reviewed too"
expect_eq "$(last_request '[.operation, .oldObject.metadata.labels.reviewed, .object.metadata.labels.reviewed]')" \
  '["UPDATE",null,"yes"]' "UPDATE carries the old and the new object"
expect_eq "$(last_request '[.options.kind, .requestKind.version]')" '["UpdateOptions","v1"]' \
  "a patch is reviewed as UPDATE with UpdateOptions"
COUNT=$(requests)
expect_gt "$COUNT" 0 "the allowing webhook has logged its requests"
expect_ok k patch vmim migration-job --subresource=status --type=merge -p '{"status":{"phase":"Pending"}}'
expect_eq "$(requests)" "$COUNT" "the status subresource is not matched by a rule for the main resource"
expect_ok k delete vmim migration-job
expect_eq "$(requests)" "$COUNT" "DELETE is not matched by a rule for CREATE and UPDATE"

section "matchPolicy Exact"
stop_webhook
start_webhook --deny "no migrations today" --reason Forbidden
register_webhook Fail Exact
expect_ok k apply -f "$VMIM_FILE"
expect_eq "$(requests)" "0" "a v1alpha3 request is not sent to a v1-only rule with matchPolicy Exact"
expect_ok k delete vmim migration-job
sed 's|kubevirt.io/v1alpha3|kubevirt.io/v1|' "$VMIM_FILE" >"$TEST_TMP/vmim-v1.yaml"
expect_fail k apply -f "$TEST_TMP/vmim-v1.yaml"
expect_contains "$ERR" "denied the request: no migrations today" "a v1 request is"

section "objectSelector"
register_webhook Fail Equivalent '{"matchLabels": {"check": "yes"}}'
expect_ok k apply -f "$VMIM_FILE"
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/migration-job created" \
  "an object without the selected label is not sent"
expect_fail k label vmim migration-job check=yes
expect_contains "$ERR" "denied the request: no migrations today" "adding the selected label is reviewed (and denied)"
expect_eq "$(json_field vmim/migration-job '{.metadata.labels.check}')" "" "the denied update is not stored"
expect_ok k delete vmim migration-job

section "custom denial code"
stop_webhook
start_webhook --deny "too many migrations in flight" --code 429 --reason TooManyRequests
register_webhook Fail
expect_fail k create -f "$VMIM_FILE"
expect_eq "$ERR" "Error from server (TooManyRequests): error when creating \"$VMIM_FILE\": admission webhook \"$HOOK\" denied the request: too many migrations in flight" \
  "the webhook's code 429 and reason TooManyRequests reach kubectl"

section "webhook down"
DEAD_PORT=$WEBHOOK_PORT
stop_webhook
register_webhook Fail
expect_fail k create -f "$VMIM_FILE"
expect_contains "$ERR" "Error from server (InternalError): error when creating \"$VMIM_FILE\": Internal error occurred: failed calling webhook \"$HOOK\": failed to call webhook: Post \"https://127.0.0.1:$DEAD_PORT/validate?timeout=5s\"" \
  "failurePolicy Fail refuses when the webhook is down"
expect_contains "$ERR" "connection refused"
expect_fail k get vmim migration-job
expect_contains "$ERR" "NotFound" "nothing is stored"
register_webhook Ignore
expect_ok k create -f "$VMIM_FILE"
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/migration-job created" \
  "failurePolicy Ignore admits when the webhook is down"
expect_ok k delete vmim migration-job

section "webhook too slow"
start_webhook --delay-ms 3000
register_webhook Fail Equivalent "{}" 1
expect_fail k create -f "$VMIM_FILE"
expect_contains "$ERR" "failed calling webhook \"$HOOK\"" "a webhook slower than timeoutSeconds fails the call"
expect_contains "$ERR" "?timeout=1s" "the timeout is passed to the webhook"
register_webhook Ignore Equivalent "{}" 1
expect_ok k create -f "$VMIM_FILE"
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/migration-job created" \
  "with failurePolicy Ignore a slow webhook is skipped"
stop_webhook

section "removing the configuration stops admission"
# failurePolicy Fail with the webhook stopped refuses everything while the configuration exists,
# so the create that succeeds afterwards shows that the deletion took effect.
expect_ok k delete vmim migration-job
register_webhook Fail
expect_fail k create -f "$VMIM_FILE"
expect_contains "$ERR" "failed calling webhook \"$HOOK\"" "the configuration is in force before it is removed"
expect_ok k delete validatingwebhookconfiguration vmim-test
expect_ok k create -f "$VMIM_FILE"

stop_devcluster
finish
