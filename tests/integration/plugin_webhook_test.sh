#!/usr/bin/env bash
# kubectl-migrate (through the real kubectl, plugin on PATH) against devcluster with the real
# migration-webhook registered: a webhook denial reaches the user verbatim, as `kubectl create -f`
# of the same VMIM prints it (403 for a VMI that does not exist or is not running, 429 for a node
# at its outbound limit, sent once and not retried silently), and `--retry-on-limit` waits
# visibly at a limit and is admitted once a migration finishes.
#
# Setup as in webhook_admission_test.sh: certificates from certs/gen-certs.sh, the Service
# kubevirt/migration-webhook mapped to the webhook's port, the rendered webhook configuration.
# No engine runs: the script writes VMI and VMIM status itself (kubectl patch
# --subresource=status). The webhook answers from watch-fed caches, so before each check that
# depends on a change the script waits until the webhook, probed directly, reports the new state.
# shellcheck disable=SC2119,SC2317 source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HOOK=virtualmachineinstancemigrations.migration-webhook.kubevirt.io
export PATH=$KM_BIN_DIR:$PATH

for bin in migration-webhook kubectl-migrate; do
  if [[ ! -x "$KM_BIN_DIR/$bin" ]]; then
    fail "$bin is built in $KM_BIN_DIR"
    finish
  fi
done

start_migration_webhook
expect_ok k apply -f "$KM_SOURCE_DIR/examples/kubevirt.yaml"

# ---------------------------------------------------------------------------------------------
# Fixtures and helpers

# engine_vmi NAME PHASE NODE: lib.sh's VMI fixture, with the status an engine writes
# (LiveMigratable True).
engine_vmi() {
  vmi "$1"
  vmi_status "$1" "$2" "$3" True
}

# vmim_file NAME VMI: writes $TEST_TMP/vmim-NAME.yaml and prints its path.
vmim_file() {
  local f=$TEST_TMP/vmim-$1.yaml
  printf 'apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstanceMigration\nmetadata:\n  name: %s\nspec:\n  vmiName: %s\n' \
    "$1" "$2" >"$f"
  echo "$f"
}

# probe VMI: the webhook's verdict (AdmissionReview .response) on a dry-run CREATE of a VMIM
# for VMI, asked directly.
PROBE_UID=0
probe() {
  PROBE_UID=$((PROBE_UID + 1))
  jq -cn --arg uid "$(printf '00000000-0000-4000-8000-%012d' "$PROBE_UID")" --arg vmi "$1" '{
    apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview",
    request: {uid: $uid,
      kind: {group: "kubevirt.io", version: "v1", kind: "VirtualMachineInstanceMigration"},
      resource: {group: "kubevirt.io", version: "v1", resource: "virtualmachineinstancemigrations"},
      name: "probe", namespace: "default", operation: "CREATE",
      userInfo: {username: "probe"},
      object: {apiVersion: "kubevirt.io/v1", kind: "VirtualMachineInstanceMigration",
               metadata: {name: "probe", namespace: "default"}, spec: {vmiName: $vmi}},
      oldObject: null, dryRun: true}}' |
    curl -sS --max-time 5 --cacert "$CERTS/ca.crt" -H 'Content-Type: application/json' \
      --data-binary @- "$WH/validate-virtualmachineinstancemigrations" 2>&1 | jq -c '.response' 2>&1
}
probe_has() {
  [[ "$(probe "$1" | jq -r "$2" 2>/dev/null)" == "true" ]]
}
# await VMI JQ_TEST WHAT: waits (10 s at most) until the webhook's verdict satisfies the test.
await() {
  if ! wait_until 10 probe_has "$1" "$2"; then
    fail "the webhook's caches catch up: $3" "last response: $(probe "$1")"
    return 1
  fi
  return 0
}

count_vmims() {
  k get vmim -o json | jq '.items | length'
}

# same_denial VMI CODE_REASON MESSAGE [KUBECTL_ARGS...]: `kubectl migrate VMI` exits 1 at once
# with `Error from server (REASON): <the webhook's denial>`, MESSAGE being the denial after the
# API server's prefix, and `kubectl create -f` of a VMIM for VMI prints the same denial (after
# its `error when creating "FILE": `). Nothing is stored.
same_denial() {
  local vmi_name=$1 reason=$2 message=$3
  shift 3
  local denial="admission webhook \"$HOOK\" denied the request: $message" f before start elapsed
  before=$(count_vmims)
  start=$SECONDS
  run "$KUBECTL" migrate "$vmi_name"
  elapsed=$((SECONDS - start))
  expect_eq "$RC" "1" "kubectl migrate $vmi_name exits 1"
  expect_eq "$OUT" "" "kubectl migrate $vmi_name prints nothing on stdout"
  expect_eq "$ERR" "Error from server ($reason): $denial" "kubectl migrate $vmi_name prints the denial verbatim"
  local plugin_err=$ERR
  if ((elapsed < 5)); then
    pass "kubectl migrate $vmi_name answers at once (${elapsed}s): the create is sent once"
  else
    fail "kubectl migrate $vmi_name answers at once" "took ${elapsed}s"
  fi
  f=$(vmim_file "m-$vmi_name" "$vmi_name")
  start=$SECONDS
  run "$KUBECTL" "$@" create -f "$f"
  elapsed=$((SECONDS - start))
  expect_ne "$RC" "0" "kubectl create -f of a VMIM for $vmi_name is refused"
  if ((elapsed < 5)); then
    pass "kubectl create of a VMIM for $vmi_name prints the refusal at once (${elapsed}s)"
  else
    fail "kubectl create of a VMIM for $vmi_name prints the refusal at once" "took ${elapsed}s"
  fi
  local prefix="Error from server ($reason): error when creating \"$f\": "
  expect_eq "$ERR" "$prefix$denial" "kubectl create prints the same denial"
  if [[ "$ERR" == "$prefix"* ]]; then
    expect_eq "$plugin_err" "Error from server ($reason): ${ERR#"$prefix"}" \
      "the plugin's stderr is kubectl's, without kubectl's 'error when creating' part"
  else
    fail "kubectl create's refusal has the form $prefix..." "$ERR"
  fi
  expect_eq "$(count_vmims)" "$before" "no VMIM was stored for $vmi_name"
}

section "fixtures: VMIs with the status an engine writes"
for n in a1 a2 a3; do
  engine_vmi "vmi-$n" Running node-a
done
engine_vmi vmi-b1 Running node-b
engine_vmi vmi-pending Scheduling ""
expect_eq "$(k get vmi -o name | wc -l)" "5" "5 VMIs exist"
# The VMIs reach the webhook through one watch, in order: once it has seen the last one, it has
# seen them all.
await vmi-pending '[.status.details.causes[]?.reason] == ["VMINotRunning"]' "every VMI is cached"
await vmi-a1 '.allowed == true' "vmi-a1 is admissible"

# ---------------------------------------------------------------------------------------------
section "403: the plugin prints the webhook's denial as kubectl does"
same_denial vmi-pending Forbidden "VMI default/vmi-pending is not running (phase Scheduling)"
same_denial vmi-nope Forbidden "VMI default/vmi-nope does not exist"

section "the plugin is admitted like kubectl"
expect_ok "$KUBECTL" migrate vmi-b1
expect_match "$OUT" '^virtualmachineinstancemigration\.kubevirt\.io/vmi-b1-migration-[a-z0-9]+ created$' \
  "an admissible VMI gets its migration"

section "429: a node at its outbound limit"
expect_ok k create -f "$(vmim_file m-a1 vmi-a1)"
await vmi-a2 '.allowed == true' "vmi-a2 is admissible with 1 outbound from node-a"
expect_ok k create -f "$(vmim_file m-a2 vmi-a2)"
LIMIT_MSG="node node-a has 2/2 outbound migrations in flight (parallelOutboundMigrationsPerNode=2); held by default/m-a1, default/m-a2; retry when one finishes"
await vmi-a3 '.status.code == 429 and ([.status.details.causes[].reason] == ["NodeLimitReached"])' \
  "node-a has 2/2 outbound"
# The limit denial carries no Retry-After: kubectl prints it at once instead of retrying it
# silently about 10 times (same_denial times both).
same_denial vmi-a3 TooManyRequests "$LIMIT_MSG"

# ---------------------------------------------------------------------------------------------
section "--retry-on-limit waits visibly and is admitted when a slot frees"
KM_OUT=$TEST_TMP/retry.out
KM_ERR=$TEST_TMP/retry.err
KM_RC=$TEST_TMP/retry.rc
("$KUBECTL" migrate vmi-a3 --retry-on-limit --timeout 40s >"$KM_OUT" 2>"$KM_ERR"; echo "$?" >"$KM_RC") &
KM_PID=$!
BACKGROUND_PIDS+=("$KM_PID")
expect_file_eventually_contains "$KM_ERR" \
  "Refused (TooManyRequests): admission webhook \"$HOOK\" denied the request: $LIMIT_MSG; retrying in " 10 \
  "the plugin says on stderr that it was refused and is retrying"
expect_match "$(head -n1 "$KM_ERR")" '; retrying in [0-9]+s \(--retry-on-limit\)$' \
  "the line gives the pause and names --retry-on-limit"
# Still at the limit: nothing is created until a slot frees.
expect_eq "$(cat "$KM_OUT")" "" "nothing is created while node-a is at its limit"
if kill -0 "$KM_PID" 2>/dev/null && [[ ! -s "$KM_RC" ]]; then
  pass "the plugin keeps waiting"
else
  fail "the plugin keeps waiting" "rc: $(cat "$KM_RC" 2>/dev/null)" "$(cat "$KM_ERR")"
fi
expect_eq "$(k get vmim -o json | jq -r '[.items[] | select(.spec.vmiName == "vmi-a3")] | length')" "0" \
  "no VMIM for vmi-a3 exists yet"
expect_ok k patch vmim m-a1 --subresource=status --type=merge -p '{"status":{"phase":"Succeeded"}}'
if wait_until 20 test -s "$KM_RC"; then
  pass "the plugin ends once a slot is free"
else
  fail "the plugin ends once a slot is free" "stderr: $(cat "$KM_ERR")"
fi
wait "$KM_PID" 2>/dev/null
expect_eq "$(cat "$KM_RC" 2>/dev/null)" "0" "kubectl migrate --retry-on-limit exits 0"
KM_STDOUT=$(cat "$KM_OUT")
expect_match "$KM_STDOUT" '^virtualmachineinstancemigration\.kubevirt\.io/vmi-a3-migration-[a-z0-9]+ created$' \
  "the plugin prints what kubectl create prints"
NAME=${KM_STDOUT#*/}
NAME=${NAME% created}
expect_eq "$(json_field "vmim/$NAME" '{.spec.vmiName}')" "vmi-a3" "the admitted VMIM is stored for vmi-a3"
expect_gt "$(grep -c 'Refused (TooManyRequests)' "$KM_ERR")" 0 "it was refused at least once before"

stop_devcluster
finish
