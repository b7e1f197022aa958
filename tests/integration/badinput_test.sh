#!/usr/bin/env bash
# Bad input to devcluster, through kubectl and raw HTTPS requests (curl with the admin's client
# certificate): each gets the Status error kube-apiserver gives, and the server keeps serving.
# shellcheck disable=SC2119 source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_devcluster
install_crds

section "credentials for curl from the kubeconfig"
CERTS=$TEST_TMP/certs
admin_credentials "$CERTS"
BASE=https://127.0.0.1:$DEVCLUSTER_PORT
VMIMS=/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancemigrations

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

# expect_status CODE REASON [MESSAGE_SUBSTRING] WHAT: the last api call returned a Status with
# this code and reason (and message).
expect_status() {
  local code=$1 reason=$2 msg=$3 what=$4
  local got
  got=$(jq -r '[.kind, .apiVersion, .status, .reason, (.code | tostring)] | join(" ")' <<<"$BODY" 2>/dev/null)
  if [[ "$CODE" == "$code" && "$got" == "Status v1 Failure $reason $code" && "$(jq -r .message <<<"$BODY")" == *"$msg"* ]]; then
    pass "$what: $code $reason"
  else
    fail "$what: expected $code $reason '$msg'" "HTTP $CODE" "body: $BODY" "curl: $(cat "$TEST_TMP/curl.err")"
  fi
}

# still_serving WHAT: the server answers /version and lists VMIMs after the bad request.
still_serving() {
  api GET /version
  if [[ "$CODE" == "200" ]] && kill -0 "$DEVCLUSTER_PID" 2>/dev/null; then
    pass "still serving after $1"
  else
    fail "still serving after $1" "HTTP $CODE" "$BODY"
  fi
}

JSON=(-H 'Content-Type: application/json')

section "authentication"
CODE=$(curl -sS --max-time 10 --cacert "$CERTS/ca.crt" -o "$TEST_TMP/body" -w '%{http_code}' "$BASE$VMIMS")
BODY=$(cat "$TEST_TMP/body")
expect_status 401 Unauthorized "Unauthorized" "no credentials"
api GET "$VMIMS" -H 'Authorization: Bearer not-a-token'
expect_status 401 Unauthorized "Unauthorized" "a wrong bearer token"
api GET "$VMIMS"
expect_eq "$CODE" "200" "the admin's certificate is accepted"

section "undecodable bodies"
api POST "$VMIMS" "${JSON[@]}" --data-binary '{"apiVersion": "kubevirt.io/v1", "kind": '
expect_status 400 BadRequest "" "truncated JSON"
api POST "$VMIMS" -H 'Content-Type: application/yaml' --data-binary $'apiVersion: kubevirt.io/v1\nkind: [unclosed\n'
expect_status 400 BadRequest "" "malformed YAML"
api POST "$VMIMS" "${JSON[@]}" --data-binary '[]'
expect_status 400 BadRequest "" "a JSON array"
api POST "$VMIMS" "${JSON[@]}" --data-binary ''
expect_status 400 BadRequest "" "an empty body"
head -c 4096 /dev/urandom >"$TEST_TMP/garbage"
api POST "$VMIMS" "${JSON[@]}" --data-binary "@$TEST_TMP/garbage"
expect_status 400 BadRequest "" "random bytes"
printf '%*s' 200000 '' | tr ' ' '[' >"$TEST_TMP/deep.json"
api POST "$VMIMS" "${JSON[@]}" --data-binary "@$TEST_TMP/deep.json"
expect_status 400 BadRequest "" "200,000 nested arrays"
still_serving "deeply nested JSON"
{
  printf '{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceMigration","metadata":{"name":"deep"},"spec":{"vmiName":"x","addedNodeSelector":'
  printf '%*s' 100000 '' | tr ' ' '['
} >"$TEST_TMP/deep2.json"
api POST "$VMIMS" "${JSON[@]}" --data-binary "@$TEST_TMP/deep2.json"
expect_status 400 BadRequest "" "nesting inside an object"
still_serving "nesting inside an object"
api POST "$VMIMS" "${JSON[@]}" --data-binary '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"}}'
expect_status 400 BadRequest "" "an object of another kind"
api POST "$VMIMS" "${JSON[@]}" \
  --data-binary '{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceMigration","metadata":{"name":"ns","namespace":"other"},"spec":{"vmiName":"x"}}'
expect_status 400 BadRequest "the namespace of the provided object does not match the namespace sent on the request" \
  "a namespace that differs from the URL's"
api POST "$VMIMS" "${JSON[@]}" \
  --data-binary '{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceMigration","metadata":{"name":"named"},"spec":{"vmiName":"x"}}'
expect_eq "$CODE" "201" "a well-formed create is 201 Created"
RV=$(jq -r .metadata.resourceVersion <<<"$BODY")
api PUT "$VMIMS/other-name" "${JSON[@]}" \
  --data-binary "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":\"VirtualMachineInstanceMigration\",\"metadata\":{\"name\":\"named\",\"resourceVersion\":\"$RV\"},\"spec\":{\"vmiName\":\"x\"}}"
expect_status 400 BadRequest 'the name of the object (named) does not match the name on the URL (other-name)' \
  "a name that differs from the URL's"
api PUT "$VMIMS/named" "${JSON[@]}" \
  --data-binary '{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceMigration","metadata":{"name":"named"},"spec":{"vmiName":"y"}}'
expect_status 422 Invalid \
  'VirtualMachineInstanceMigration.kubevirt.io "named" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update' \
  "an update of a custom resource without a resourceVersion"
expect_eq "$(jq -r '.details.causes[0].field + " " + .details.causes[0].reason' <<<"$BODY")" \
  "metadata.resourceVersion FieldValueInvalid" "the 422 names the field in details.causes"
api PATCH "$VMIMS/named" -H 'Content-Type: application/merge-patch+json' --data-binary '{"spec":'
expect_status 400 BadRequest "" "a truncated merge patch"
api PATCH "$VMIMS/named" -H 'Content-Type: application/json-patch+json' --data-binary '{"op":"add"}'
expect_status 400 BadRequest "" "a JSON patch that is not an array"
api GET "$VMIMS/named"
expect_eq "$CODE $(jq -r .metadata.resourceVersion <<<"$BODY")" "200 $RV" "the failed writes changed nothing"

echo '{"apiVersion": "kubevirt.io/v1", "kind": ' >"$TEST_TMP/bad.json"
expect_fail k create -f "$TEST_TMP/bad.json"
expect_contains "$ERR" "error" "kubectl refuses a malformed JSON file"
printf 'apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstanceMigration\nmetadata:\n  name: [x\n' >"$TEST_TMP/bad.yaml"
expect_fail k create -f "$TEST_TMP/bad.yaml"
expect_contains "$ERR" "error" "kubectl refuses a malformed YAML file"
still_serving "undecodable bodies"

section "unknown resources, versions and groups"
api GET /apis/kubevirt.io/v1/namespaces/default/nothings
expect_status 404 NotFound "the server could not find the requested resource" "an unknown resource"
api GET /apis/kubevirt.io/v9/namespaces/default/virtualmachineinstancemigrations
expect_status 404 NotFound "the server could not find the requested resource" "an unknown version"
api GET /apis/kubevirt.io/v9
expect_status 404 NotFound "the server could not find the requested resource" "discovery of an unknown version"
api GET /apis/nope.example.com/v1/things
expect_status 404 NotFound "the server could not find the requested resource" "an unknown group"
api GET /api/v2/namespaces
expect_status 404 NotFound "the server could not find the requested resource" "an unknown core version"
api GET "$VMIMS/missing"
expect_status 404 NotFound 'virtualmachineinstancemigrations.kubevirt.io "missing" not found' "a missing object"
expect_eq "$(jq -c '[.details.name, .details.group, .details.kind]' <<<"$BODY")" '["missing","kubevirt.io","virtualmachineinstancemigrations"]' \
  "NotFound details name the object"
expect_fail k get nothings
expect_contains "$ERR" 'the server doesn'"'"'t have a resource type "nothings"' "kubectl reports an unknown resource type"
still_serving "unknown paths"

section "oversized bodies"
{
  printf '{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceMigration","metadata":{"name":"big","annotations":{"a":"'
  head -c $((3 * 1024 * 1024 + 1024)) /dev/zero | tr '\0' 'x'
  printf '"}},"spec":{"vmiName":"x"}}'
} >"$TEST_TMP/big.json"
api POST "$VMIMS" "${JSON[@]}" --data-binary "@$TEST_TMP/big.json"
expect_status 413 RequestEntityTooLarge "Request entity too large: limit is 3145728" "a body over 3 MiB"
still_serving "an oversized body"
head -c $((3 * 1024 * 1024 + 1024)) /dev/zero | tr '\0' 'x' >"$TEST_TMP/big.txt"
expect_fail k create configmap big --from-file="$TEST_TMP/big.txt"
expect_contains "$ERR" "Request entity too large: limit is 3145728" "kubectl shows the 413 message"
api GET /api/v1/namespaces/default/configmaps/big
expect_eq "$CODE" "404" "the oversized object is not stored"

section "wrong content types and verbs"
api POST "$VMIMS" -H 'Content-Type: text/plain' --data-binary '{}'
expect_status 415 UnsupportedMediaType "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml" \
  "text/plain"
api PATCH "$VMIMS/named" "${JSON[@]}" --data-binary '{"spec":{"vmiName":"y"}}'
expect_status 415 UnsupportedMediaType "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json" \
  "a PATCH with application/json"
api PATCH "$VMIMS/named" -H 'Content-Type: application/strategic-merge-patch+json' --data-binary '{"spec":{"vmiName":"y"}}'
expect_status 415 UnsupportedMediaType "the body of the request was in an unknown format" \
  "strategic merge patch of a custom resource"
# Built-in resources are routed by go-restful in kube-apiserver, which answers a method the path
# does not support with 405 MethodNotAllowed.
CONFIGMAPS=/api/v1/namespaces/default/configmaps
api PUT "$CONFIGMAPS" "${JSON[@]}" --data-binary '{}'
expect_status 405 MethodNotAllowed "the server does not allow this method on the requested resource" "PUT on a collection"
api POST "$CONFIGMAPS/x" "${JSON[@]}" --data-binary '{}'
expect_status 405 MethodNotAllowed "the server does not allow this method on the requested resource" "POST on an object"
still_serving "wrong content types and verbs"

section "invalid names"
api POST "$VMIMS" "${JSON[@]}" \
  --data-binary '{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceMigration","metadata":{"name":"Bad_Name"},"spec":{"vmiName":"x"}}'
expect_status 422 Invalid 'VirtualMachineInstanceMigration.kubevirt.io "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters' \
  "Bad_Name"
expect_eq "$(jq -c '[.details.name, .details.group, .details.kind, .details.causes[0].reason, .details.causes[0].field]' <<<"$BODY")" \
  '["Bad_Name","kubevirt.io","VirtualMachineInstanceMigration","FieldValueInvalid","metadata.name"]' "the 422 details"
cat >"$TEST_TMP/badname.yaml" <<'EOF'
apiVersion: kubevirt.io/v1alpha3
kind: VirtualMachineInstanceMigration
metadata:
  name: Bad_Name
spec:
  vmiName: vmi-fedora
EOF
expect_fail k create -f "$TEST_TMP/badname.yaml"
expect_contains "$ERR" 'The VirtualMachineInstanceMigration "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain' \
  "kubectl prints the 422"
api POST "$VMIMS" "${JSON[@]}" \
  --data-binary '{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceMigration","metadata":{},"spec":{"vmiName":"x"}}'
expect_status 422 Invalid "metadata.name: Required value: name or generateName is required" "no name"
LONG=$(printf 'a%.0s' {1..254})
api POST "$VMIMS" "${JSON[@]}" \
  --data-binary "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":\"VirtualMachineInstanceMigration\",\"metadata\":{\"name\":\"$LONG\"},\"spec\":{\"vmiName\":\"x\"}}"
expect_status 422 Invalid "must be no more than 253 characters" "a 254-character name"
expect_fail k create ns Bad.ns
expect_contains "$ERR" 'The Namespace "Bad.ns" is invalid: metadata.name: Invalid value: "Bad.ns": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '"'"'-'"'"'' \
  "a namespace name must be a DNS label"
# kubectl's typed `create configmap` wraps the server's error in its own words.
expect_fail k create configmap cm -n no-such-namespace --from-literal=a=b
expect_contains "$ERR" 'error: failed to create configmap: namespaces "no-such-namespace" not found' \
  "creating in a missing namespace (typed client)"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: no-such-namespace\n' >"$TEST_TMP/cm-missing-ns.yaml"
expect_fail k create -f "$TEST_TMP/cm-missing-ns.yaml"
expect_contains "$ERR" 'Error from server (NotFound): error when creating' \
  "creating in a missing namespace (from a file)"
expect_contains "$ERR" 'namespaces "no-such-namespace" not found' \
  "the error names the missing namespace"
api GET "$VMIMS?labelSelector=a%20in%20(x"
expect_status 400 BadRequest "" "a malformed label selector"
api GET "$VMIMS?fieldSelector=spec.vmiName%3Dx"
expect_status 400 BadRequest '"spec.vmiName" is not a known field selector: only "metadata.name", "metadata.namespace"' \
  "an unsupported field selector"
still_serving "invalid names"

stop_devcluster
finish
