#!/usr/bin/env bash
# migration-engine's first increment against devcluster and libvirt's test driver: bad flags
# are all reported (exit 2), the node registers a Lease that kube-apiserver's rules accept and
# renews it, /healthz, /readyz and /metrics answer, and SIGTERM exits 0. A dead API server
# turns /readyz to 503 once the lease is stale, and the engine recovers when it is back.
# shellcheck disable=SC2119 source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ENGINE=$KM_BIN_DIR/migration-engine

section "flags: every problem at once, exit 2"
run "$ENGINE" --node-name Bad_Name --domain-type xen --bogus
expect_eq "$RC" 2 "bad flags exit 2"
expect_contains "$ERR" 'migration-engine: --node-name "Bad_Name": must be a DNS-1123 subdomain'
expect_contains "$ERR" 'migration-engine: --domain-type "xen": want kvm or qemu'
expect_contains "$ERR" 'migration-engine: unknown flag: --bogus'
expect_contains "$ERR" 'migration-engine: --advertise-libvirt-uri is required'
expect_ok "$ENGINE" --help
expect_contains "$OUT" "--advertise-libvirt-uri URI"

start_devcluster
expect_ok k create namespace kubevirt
install_crds

section "an unreachable libvirt daemon fails start-up with its reason, exit 1"
run "$ENGINE" --node-name node01 --libvirt-uri "qemu+tcp://127.0.0.1:1/system" \
  --advertise-libvirt-uri "qemu+tcp://127.0.0.1:1/system" --kubeconfig "$KUBECONFIG" \
  --metrics-port 0 --healthz-port 0
expect_eq "$RC" 1 "exit 1 when libvirt cannot be reached"
expect_contains "$ERR" "libvirt qemu+tcp://127.0.0.1:1/system"

section "the engine registers its node"
LOG=$TEST_TMP/engine.log
background "$LOG" "$ENGINE" --node-name node01 --libvirt-uri test:///default \
  --advertise-libvirt-uri "qemu+tcp://127.0.0.2:16509/system" --kubeconfig "$KUBECONFIG" \
  --bind-address 127.0.0.1 --metrics-port 0 --healthz-port 0 --lease-duration 6
ENGINE_PID=$BG_PID
expect_file_eventually_contains "$LOG" "migration-engine node01 healthz" 20 "the engine prints its ports"
HEALTHZ=$(grep -oE 'healthz [0-9]+' "$LOG" | awk '{print $2}')
METRICS=$(grep -oE 'metrics [0-9]+' "$LOG" | awk '{print $2}')
lease_exists() { k get lease -n kubevirt migration-engine-node01; }
if wait_until 20 lease_exists; then pass "the Lease migration-engine-node01 exists"; else
  fail "the Lease migration-engine-node01 exists" "$(cat "$LOG")"; fi
expect_ok k get lease -n kubevirt migration-engine-node01 -o json
expect_eq "$(jq -r .spec.holderIdentity <<<"$OUT")" node01 "holderIdentity is the node"
expect_eq "$(jq -r .spec.leaseDurationSeconds <<<"$OUT")" 6 "leaseDurationSeconds is the flag's"
expect_eq "$(jq -r '.metadata.annotations["kubemigrate.io/libvirt-uri"]' <<<"$OUT")" \
  "qemu+tcp://127.0.0.2:16509/system" "the advertised libvirt URI is published"
expect_eq "$(jq -r '.metadata.annotations["kubemigrate.io/migration-address"]' <<<"$OUT")" \
  "127.0.0.2" "the migration address defaults to the advertised URI's host"
expect_match "$(jq -r '.metadata.annotations["kubemigrate.io/free-memory-bytes"]' <<<"$OUT")" \
  '^[1-9][0-9]*$' "free memory is published in bytes"
expect_match "$(jq -r .spec.renewTime <<<"$OUT")" \
  '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$' "renewTime is a MicroTime"
FIRST=$(jq -r .spec.renewTime <<<"$OUT")
expect_eq "$(k get lease -n kubevirt -l kubemigrate.io/engine-lease=true -o name)" \
  "lease.coordination.k8s.io/migration-engine-node01" "peers find engine leases by their label"
renewed() { [[ "$(k get lease -n kubevirt migration-engine-node01 -o jsonpath='{.spec.renewTime}')" != "$FIRST" ]]; }
if wait_until 10 renewed; then pass "the lease is renewed"; else fail "the lease is renewed"; fi

section "health and metrics"
expect_eq "$(curl -s "http://127.0.0.1:$HEALTHZ/healthz")" ok "/healthz answers ok"
ready() { [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HEALTHZ/readyz")" == 200 ]]; }
if wait_until 10 ready; then pass "/readyz answers 200"; else fail "/readyz answers 200"; fi
expect_ok curl -sf "http://127.0.0.1:$METRICS/metrics"
expect_contains "$OUT" "migration_engine_libvirt_connected 1"
expect_match "$OUT" "migration_engine_lease_renewals_total [1-9]" "renewals are counted"

section "a dead API server: /readyz 503 once the lease is stale, then recovery"
API_PORT=$DEVCLUSTER_PORT
stop_devcluster
not_ready() { [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HEALTHZ/readyz")" == 503 ]]; }
if wait_until 15 not_ready; then pass "/readyz answers 503 without the API server"; else
  fail "/readyz answers 503 without the API server"; fi
expect_contains "$(curl -s "http://127.0.0.1:$HEALTHZ/readyz")" "node lease: not renewed"
expect_file_eventually_contains "$LOG" "node lease not renewed; retrying" 10 "failed renewals are logged"
if ! _launch "$API_PORT"; then fail "devcluster starts again on port $API_PORT"; finish; fi
if wait_until 20 ready; then pass "/readyz answers 200 again after the API server is back"; else
  fail "/readyz answers 200 again after the API server is back" "$(tail -5 "$LOG")"; fi
expect_file_eventually_contains "$LOG" "node lease renewed again" 10 "the recovery is logged"

section "SIGTERM stops it with exit 0"
kill -TERM "$ENGINE_PID"
wait "$ENGINE_PID"
expect_eq "$?" 0 "exit 0 after SIGTERM"
expect_contains "$(cat "$LOG")" "stopping signal=SIGTERM"

finish
