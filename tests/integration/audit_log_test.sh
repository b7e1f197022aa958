#!/usr/bin/env bash
# devcluster's --audit-log-path with real kubectl: one line per authenticated request, with the
# user and groups, the RBAC verb, group, resource, subresource, namespace and name, written
# before the answer; none for a 401. And tests/e2e/rbac_check.py on such a log, without libvirt:
# a request the webhook's RBAC allows, one it does not (denied), and the rules left unused.
# shellcheck disable=SC2119 source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

AUDIT=$TEST_TMP/audit.log
SA=system:serviceaccount:kubevirt:migration-webhook
start_devcluster --audit-log-path "$AUDIT"
install_crds

section "one line per request, as kube-apiserver's audit Event"
# last_line_for URI_PART: the newest audit line whose requestURI contains URI_PART.
last_line_for() { grep -F "$1" "$AUDIT" | tail -1; }
expect_ok k create namespace ns1
expect_eq "$(last_line_for '/api/v1/namespaces' | jq -c '[.kind, .apiVersion, .level, .stage, .verb, .user.username, .objectRef.resource, .responseStatus.code]')" \
  '["Event","audit.k8s.io/v1","Metadata","ResponseComplete","create","admin","namespaces",201]' "kubectl create namespace"
expect_ok k --context sa-webhook get vmi -A
expect_eq "$(last_line_for '/virtualmachineinstances' | jq -c '[.verb, .user.username, .user.groups, .objectRef.apiGroup, .objectRef.namespace]')" \
  "[\"list\",\"$SA\",[\"system:serviceaccounts\",\"system:serviceaccounts:kubevirt\",\"system:authenticated\"],\"kubevirt.io\",null]" \
  "a cluster-wide list by the webhook's ServiceAccount, with its groups"
expect_ok k apply -f - <<'YAML'
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: a, namespace: ns1}
spec:
  domain:
    memory: {guest: 64Mi}
    devices: {}
YAML
expect_ok k -n ns1 patch vmi a --subresource status --type merge -p '{"status":{"phase":"Running"}}'
expect_eq "$(last_line_for '/namespaces/ns1/virtualmachineinstances/a/status' | jq -c '[.verb, .objectRef.resource, .objectRef.subresource, .objectRef.namespace, .objectRef.name]')" \
  '["patch","virtualmachineinstances","status","ns1","a"]' "a status patch names the subresource and the object"
expect_ok k -n ns1 delete vmi a
expect_eq "$(grep -F '/namespaces/ns1/virtualmachineinstances/a' "$AUDIT" | jq -c 'select(.verb == "delete") | [.objectRef.name, .responseStatus.code]')" \
  '["a",200]' "delete (kubectl then reads it until it is gone: those are gets)"
run k get --raw '/apis/kubevirt.io/v1/namespaces/ns1/virtualmachineinstances?watch=1&timeoutSeconds=1'
expect_eq "$(last_line_for 'watch=1' | jq -c '[.verb, .responseStatus.code]')" '["watch",200]' "a watch"
expect_fail k get --raw /api/v1/namespaces/ns1/configmaps/none
expect_eq "$(last_line_for '/configmaps/none' | jq -c '[.verb, .responseStatus.code]')" '["get",404]' "the code the client got"
before=$(wc -l <"$AUDIT")
expect_fail curl -sk --fail "https://127.0.0.1:$DEVCLUSTER_PORT/api/v1/namespaces"
expect_eq "$(wc -l <"$AUDIT")" "$before" "an anonymous request (401) is not logged"
expect_eq "$(jq -c 'select(.user.username == null)' "$AUDIT" | wc -l)" "0" "every line has a user"

section "rbac_check.py on the log: the webhook's RBAC"
k kustomize "$KM_SOURCE_DIR/manifests" >"$TEST_TMP/rendered.yaml"
run python3 "$KM_SOURCE_DIR/tests/e2e/rbac_check.py" --manifests "$TEST_TMP/rendered.yaml" --audit "$AUDIT" --user "$SA"
expect_eq "$RC" 1 "unused rules fail the check"
expect_contains "$OUT" "UNUSED rule (no request needed it): ClusterRole migration-webhook: watch kubevirt.io/virtualmachineinstances"
expect_not_contains "$OUT" "DENIED" "the list of VMIs is allowed"
expect_ok k --context sa-webhook get configmaps -n kube-system
run python3 "$KM_SOURCE_DIR/tests/e2e/rbac_check.py" --manifests "$TEST_TMP/rendered.yaml" --audit "$AUDIT" --user "$SA"
expect_contains "$OUT" "DENIED (no rule allows it): list configmaps in kube-system (1 times)" \
  "a request outside the rules is reported"
run python3 "$KM_SOURCE_DIR/tests/e2e/rbac_check.py" --manifests "$TEST_TMP/rendered.yaml" --audit "$AUDIT" --user "$SA" \
  --cannot-exercise 'kubevirt.io/no-such:get=why'
expect_contains "$OUT" "STALE --cannot-exercise kubevirt.io/no-such:get: no such rule" "an exemption of no rule is refused"
stop_devcluster
finish
