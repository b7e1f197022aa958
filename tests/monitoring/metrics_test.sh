#!/usr/bin/env bash
# Every program's /metrics passes `promtool check metrics` (Prometheus' exposition linter: HELP
# and TYPE, counter names ending in _total, base units, no reserved suffixes): the webhook after
# admissions of each kind (allowed, denied), the engine (against libvirt's test driver, as
# tests/integration/engine_registration_test.sh runs it) and devcluster. Scraped from the real
# running programs with curl. The metric names the PrometheusRule's alerts use are among them.
# shellcheck disable=SC2119,SC2317 source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

if ! command -v promtool >/dev/null; then
  fail "promtool is installed (Debian package prometheus: scripts/install-deps.sh)"
  finish
fi

# lint NAME TEXT: promtool check metrics on TEXT; it prints nothing and exits 0 when clean.
lint() {
  local name=$1 text=$2
  run promtool check metrics <<<"$text"
  if [[ $RC == 0 && -z $OUT$ERR ]]; then pass "$name: promtool check metrics is clean"; else
    fail "$name: promtool check metrics is clean" "$OUT" "$ERR"
  fi
}

start_migration_webhook

section "the webhook after admissions"
expect_ok k create namespace kubevirt
expect_ok k apply -f - <<'YAML'
apiVersion: kubevirt.io/v1
kind: KubeVirt
metadata: {name: kubevirt, namespace: kubevirt}
spec:
  configuration:
    developerConfiguration: {featureGates: [LiveMigration]}
YAML
# Denied (the VMI does not exist): counts a denial with its cause.
run k apply -f - <<'YAML'
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstanceMigration
metadata: {name: m1, namespace: default}
spec: {vmiName: no-such-vmi}
YAML
expect_contains "$ERR" "denied the request" "a migration of a missing VMI is denied"
WEBHOOK_METRICS=$(wh_get /metrics)
expect_eq "$CODE" 200 "the webhook serves /metrics"
expect_match "$WEBHOOK_METRICS" 'migration_webhook_admission_duration_seconds_bucket\{le="0.25"\} [1-9]' \
  "the admission histogram (MigrationWebhookSlow) has the 0.25 s bucket and counts"
expect_match "$WEBHOOK_METRICS" 'migration_webhook_admissions_total\{[^}]*result="denied"' \
  "denials are counted"
lint webhook "$WEBHOOK_METRICS"

section "the engine (libvirt's test driver)"
LOG=$TEST_TMP/engine.log
background "$LOG" "$KM_BIN_DIR/migration-engine" --node-name node01 --libvirt-uri test:///default \
  --advertise-libvirt-uri "qemu+tcp://127.0.0.2:16509/system" --kubeconfig "$KUBECONFIG" \
  --bind-address 127.0.0.1 --metrics-port 0 --healthz-port 0
ENGINE_PID=$BG_PID
expect_file_eventually_contains "$LOG" "migration-engine node01 healthz" 20 "the engine prints its ports"
METRICS_PORT=$(grep -oE 'metrics [0-9]+' "$LOG" | awk '{print $2}')
renewed() { curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | grep -qE '^migration_engine_lease_renewals_total [1-9]'; }
if wait_until 20 renewed; then pass "the engine has renewed its Lease"; else fail "the engine has renewed its Lease" "$(cat "$LOG")"; fi
ENGINE_METRICS=$(curl -s "http://127.0.0.1:$METRICS_PORT/metrics")
for m in migration_engine_libvirt_connected migration_engine_migrations_total \
  migration_engine_migration_data_processed_bytes migration_engine_migration_duration_seconds; do
  expect_contains "$ENGINE_METRICS" "# TYPE $m " "the engine exposes $m (an alert uses it)"
done
lint engine "$ENGINE_METRICS"
stop_background "$ENGINE_PID"

section "devcluster"
expect_ok k get --raw /metrics
lint devcluster "$OUT"
finish
