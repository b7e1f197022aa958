#!/usr/bin/env bash
# End-to-end: the RBAC of manifests/ proven, not guessed (issue 9 §3). devcluster records every
# request with its user (--audit-log-path); the two engines run under the engine's
# ServiceAccount (system:serviceaccount:kubevirt:migration-engine, a bearer token) and the
# webhook under its own (system:serviceaccount:kubevirt:migration-webhook), through what they do
# in production: a VMI started on node01, six live migrations with `kubectl migrate --wait`
# admitted by the webhook (the sixth finished VMIM makes the engine collect the oldest), and the
# VMI deleted. Then tests/e2e/rbac_check.py checks, for each ServiceAccount, that every request
# it made is allowed by the ClusterRoles/Roles bound to it in `kubectl kustomize manifests/`,
# and that every rule of those roles was used.
#
# Usage: rbac_test.sh
# Environment: as engine_test.sh.
# shellcheck disable=SC2119,SC2317  # functions called through wait_until; e2e_up takes no script args
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$here/../integration/lib.sh"
# shellcheck source=tests/e2e/engine_lib.sh
source "$here/engine_lib.sh"

ENGINE_SA=system:serviceaccount:kubevirt:migration-engine
WEBHOOK_SA=system:serviceaccount:kubevirt:migration-webhook
AUDIT=$TEST_TMP/audit.log

# The webhook's port is known before devcluster starts: --service-endpoint maps its Service.
WEBHOOK_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
CERTS=$TEST_TMP/webhook-certs
"$KM_SOURCE_DIR/certs/gen-certs.sh" --service migration-webhook --namespace kubevirt --out "$CERTS" \
  --ip 127.0.0.1 >/dev/null || { fail "certs/gen-certs.sh"; finish; }
E2E_DEVCLUSTER_ARGS=(--service-endpoint "kubevirt/migration-webhook=127.0.0.1:$WEBHOOK_PORT" --audit-log-path "$AUDIT")
e2e_up

section "service-account identities"
# A static token for the engine's ServiceAccount (devcluster reads DIR/pki/tokens.csv at start
# and keeps lines added by hand); the webhook's is there already (context sa-webhook).
ENGINE_TOKEN=$(openssl rand -hex 24)
echo "$ENGINE_TOKEN,$ENGINE_SA,$(cat /proc/sys/kernel/random/uuid)" >>"$DEVCLUSTER_DIR/pki/tokens.csv"
restart_devcluster
ENGINE_KUBECONFIG=$TEST_TMP/engine.kubeconfig
cp "$KUBECONFIG" "$ENGINE_KUBECONFIG"
expect_ok k --kubeconfig "$ENGINE_KUBECONFIG" config set-credentials sa-engine --token "$ENGINE_TOKEN"
expect_ok k --kubeconfig "$ENGINE_KUBECONFIG" config set-context sa-engine --cluster devcluster --user sa-engine
expect_ok k --kubeconfig "$ENGINE_KUBECONFIG" config use-context sa-engine
WEBHOOK_KUBECONFIG=$TEST_TMP/webhook.kubeconfig
cp "$KUBECONFIG" "$WEBHOOK_KUBECONFIG"
expect_ok k --kubeconfig "$WEBHOOK_KUBECONFIG" config use-context sa-webhook
# /api: discovery, which every authenticated user may read, so that this check adds no request
# the engine's RBAC would have to allow.
expect_ok k --kubeconfig "$ENGINE_KUBECONFIG" get --raw /api
expect_eq "$(tail -1 "$AUDIT" | jq -r '.user.username + " " + (.user.groups | join(","))')" \
  "$ENGINE_SA system:serviceaccounts,system:serviceaccounts:kubevirt,system:authenticated" \
  "the engine's kubeconfig authenticates as its ServiceAccount (the audit log says so)"
export ENGINE_KUBECONFIG

section "the webhook, under its ServiceAccount"
background "$TEST_TMP/webhook.out" "$KM_BIN_DIR/migration-webhook" --tls-cert-file "$CERTS/tls.crt" \
  --tls-private-key-file "$CERTS/tls.key" --bind-address 127.0.0.1 --port "$WEBHOOK_PORT" \
  --kubeconfig "$WEBHOOK_KUBECONFIG" --kubevirt-namespace kubevirt --kubevirt-name kubevirt
WEBHOOK_PID=$BG_PID
WH=https://127.0.0.1:$WEBHOOK_PORT
if wait_until 20 _wh_ready; then pass "the webhook is ready (its caches listed)"; else
  fail "the webhook is ready" "$(tail -20 "$TEST_TMP/webhook.out")"
  finish
fi
expect_ok k apply -f "$CERTS/validatingwebhookconfiguration.yaml"

section "the engines, under their ServiceAccount"
start_engine node01 "$KM_E2E_NODE01_URI"
start_engine node02 "$KM_E2E_NODE02_URI"

section "a VMI starts on node01 and migrates six times through the webhook"
guest_vmi vmi-rbac node01 0
wait_running vmi-rbac
wait_guest vmi-rbac node01
from=node01
for i in 1 2 3 4 5 6; do
  to=node02
  [[ $from == node02 ]] && to=node01
  run kubectl migrate vmi-rbac --wait --timeout 120s
  if [[ $RC == 0 ]]; then pass "migration $i: $from -> $to"; else
    fail "migration $i: $from -> $to" "$(_describe_run kubectl migrate)" "$(tail -30 "$TEST_TMP/engine-$from.log")"
    finish
  fi
  from=$to
done
collected() { [[ $(k get vmim -l kubevirt.io/vmi-name=vmi-rbac -o name | wc -l) == 5 ]]; }
if wait_until 30 collected; then pass "the engine collected the oldest finished VMIM (5 kept)"; else
  fail "the engine collected the oldest finished VMIM (5 kept)" "$(k get vmim)"
fi

section "the VMI is deleted: its engine stops it and removes its finalizer"
expect_ok k delete vmi vmi-rbac --wait=false
gone() { not_found vmi/vmi-rbac; }
if wait_until 60 gone; then pass "vmi-rbac is gone"; else fail "vmi-rbac is gone" "$(k get vmi vmi-rbac -o yaml)"; fi

section "their /metrics after real migrations pass promtool check metrics"
# The same check as tests/monitoring/metrics_test.sh, here with every series filled: migration
# results, histograms with observations, allowed admissions.
if command -v promtool >/dev/null; then
  for n in node01 node02; do
    run promtool check metrics <<<"$(engine_metrics "$n")"
    if [[ $RC == 0 && -z $OUT$ERR ]]; then pass "engine $n: clean"; else fail "engine $n: clean" "$OUT" "$ERR"; fi
  done
  expect_match "$(engine_metrics node01)$(engine_metrics node02)" 'migration_engine_migrations_total\{result="Succeeded"\} [1-9]' \
    "the migrations are counted"
  run promtool check metrics <<<"$(wh_get /metrics)"
  if [[ $RC == 0 && -z $OUT$ERR ]]; then pass "webhook: clean"; else fail "webhook: clean" "$OUT" "$ERR"; fi
else
  fail "promtool is installed (Debian package prometheus: scripts/install-deps.sh)"
fi

section "stop the programs, so that the audit log holds everything they asked"
for n in node01 node02; do kill "${ENGINE_PID[$n]}" 2>/dev/null; wait "${ENGINE_PID[$n]}" 2>/dev/null; done
ENGINE_PID=()
stop_background "$WEBHOOK_PID"
expect_ok k kustomize "$KM_SOURCE_DIR/manifests"
printf '%s\n' "$OUT" >"$TEST_TMP/rendered.yaml"

section "every request of the engines is allowed by manifests/, every rule of theirs used"
run python3 "$here/rbac_check.py" --manifests "$TEST_TMP/rendered.yaml" --audit "$AUDIT" --user "$ENGINE_SA"
printf '%s\n' "$OUT" | sed 's/^/    /'
if [[ $RC == 0 ]]; then pass "engine: RBAC exact"; else fail "engine: RBAC exact" "$ERR"; fi

section "every request of the webhook is allowed by manifests/, every rule of its used"
run python3 "$here/rbac_check.py" --manifests "$TEST_TMP/rendered.yaml" --audit "$AUDIT" --user "$WEBHOOK_SA"
printf '%s\n' "$OUT" | sed 's/^/    /'
if [[ $RC == 0 ]]; then pass "webhook: RBAC exact"; else fail "webhook: RBAC exact" "$ERR"; fi

section "the check can fail: a rule taken away is a denied request, a rule added is unused"
python3 - "$TEST_TMP/rendered.yaml" "$TEST_TMP/mutated.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for d in docs:
    if d["kind"] == "Role" and d["metadata"]["name"] == "migration-engine":
        for r in d["rules"]:
            if r["resources"] == ["leases"]:
                r["verbs"].remove("update")
    if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "migration-engine":
        d["rules"].append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})
yaml.safe_dump_all(docs, open(sys.argv[2], "w"))
PY
run python3 "$here/rbac_check.py" --manifests "$TEST_TMP/mutated.yaml" --audit "$AUDIT" --user "$ENGINE_SA"
expect_eq "$RC" 1 "the mutated RBAC is refused"
expect_contains "$OUT" "DENIED (no rule allows it): update coordination.k8s.io/leases in kubevirt"
expect_contains "$OUT" "UNUSED rule (no request needed it): ClusterRole migration-engine: get secrets"
finish
