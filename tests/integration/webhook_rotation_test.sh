#!/usr/bin/env bash
# Certificate rotation of migration-webhook while clients keep sending AdmissionReviews: the
# serving certificate files are replaced (as the kubelet does for a Secret volume) and
#  - no request fails, on new connections or on a keep-alive connection opened before;
#  - new connections get the new certificate within 1 s (issue 3's acceptance criterion);
#  - a broken pair (key of another certificate) is not taken: the old pair keeps serving.
# shellcheck disable=SC2119,SC2317 source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WEBHOOK_BIN=$KM_BIN_DIR/migration-webhook
if [[ ! -x "$WEBHOOK_BIN" ]]; then
  fail "the webhook binary exists at $WEBHOOK_BIN (build it first)"
  finish
fi

CERTS=$TEST_TMP/certs
LIVE=$TEST_TMP/live
mkdir -p "$LIVE"
expect_ok "$KM_SOURCE_DIR/certs/gen-certs.sh" --service migration-webhook --namespace kubevirt --out "$CERTS" --ip 127.0.0.1
cp "$CERTS/tls.crt" "$CERTS/tls.key" "$LIVE/"
serial() { openssl x509 -in "$1" -noout -serial | sed 's/serial=//'; }
OLD_SERIAL=$(serial "$LIVE/tls.crt")

start_devcluster
install_crds
expect_ok k apply -f "$KM_SOURCE_DIR/examples/kubevirt.yaml"

WEBHOOK_OUT=$TEST_TMP/webhook.out
background "$WEBHOOK_OUT" "$WEBHOOK_BIN" --tls-cert-file "$LIVE/tls.crt" --tls-private-key-file "$LIVE/tls.key" \
  --bind-address 127.0.0.1 --port 0 --kubeconfig "$KUBECONFIG"
WEBHOOK_PID=$BG_PID
if ! expect_file_eventually_contains "$WEBHOOK_OUT" "migration-webhook listening on " 10; then
  finish
fi
PORT=$(grep -m1 -oE 'migration-webhook listening on [0-9]+' "$WEBHOOK_OUT" | awk '{print $NF}')

# The client: loops AdmissionReviews until STOP exists, on a fresh connection each time and on
# one keep-alive connection; logs "new SERIAL" lines with the time a serial was first seen, and
# ends with "requests=N failures=F keepalive=K" (failures listed before).
cat >"$TEST_TMP/client.py" <<'EOF'
import http.client, json, os, ssl, sys, time
port, cafile, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3]
body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
    "uid": "11111111-2222-4333-8444-555555555555",
    "kind": {"group": "kubevirt.io", "version": "v1", "kind": "VirtualMachineInstanceMigration"},
    "resource": {"group": "kubevirt.io", "version": "v1", "resource": "virtualmachineinstancemigrations"},
    "name": "m", "namespace": "default", "operation": "CREATE",
    "object": {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
               "metadata": {"name": "m", "namespace": "default"}, "spec": {"vmiName": "vmi-x"}}}})
ctx = ssl.create_default_context(cafile=cafile)
def post(conn):
    conn.request("POST", "/validate-virtualmachineinstancemigrations", body=body,
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    data = json.loads(r.read())
    if r.status != 200 or data["response"]["uid"] != "11111111-2222-4333-8444-555555555555":
        raise RuntimeError("HTTP %d %s" % (r.status, data))
keep = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
seen, n, failures, kept = set(), 0, 0, 0
while not os.path.exists(stop):
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
    try:
        post(conn)
        der = conn.sock.getpeercert(binary_form=True)
        s = ssl.DER_cert_to_PEM_cert(der)
        if s not in seen:
            seen.add(s)
            with open(stop + ".certs", "a") as f:
                f.write(s)
            print("new %.3f" % time.time(), flush=True)
        post(keep)
        kept += 1
    except Exception as e:
        failures += 1
        print("failure: %r" % e, flush=True)
    finally:
        conn.close()
    n += 1
print("requests=%d failures=%d keepalive=%d" % (n, failures, kept), flush=True)
EOF
STOP=$TEST_TMP/stop
CLIENT_OUT=$TEST_TMP/client.out
background "$CLIENT_OUT" python3 "$TEST_TMP/client.py" "$PORT" "$CERTS/ca.crt" "$STOP"
CLIENT_PID=$BG_PID
expect_file_eventually_contains "$CLIENT_OUT" "new " 10 "the client is served the first certificate"

section "a broken pair is not taken"
expect_ok "$KM_SOURCE_DIR/certs/gen-certs.sh" --service migration-webhook --namespace kubevirt --out "$TEST_TMP/other"
cp "$TEST_TMP/other/tls.key" "$LIVE/tls.key.new" && mv "$LIVE/tls.key.new" "$LIVE/tls.key"
expect_ne "$(openssl pkey -in "$LIVE/tls.key" -pubout 2>&1)" "$(openssl x509 -in "$LIVE/tls.crt" -noout -pubkey 2>&1)" \
  "the live key no longer matches the live certificate (the pair is broken)"
# The webhook looks at its files every 200 ms. The broken key stays for 1 s (five looks) while
# the client keeps going: an observation window for something that must not happen, not a wait
# for something to happen. Its requests must all succeed with the old certificate (the client
# counts failures and records every certificate it is served; checked below).
sleep 1
cp "$CERTS/tls.key" "$LIVE/tls.key.new" && mv "$LIVE/tls.key.new" "$LIVE/tls.key"

section "rotation: a new serving certificate from the same CA"
expect_ok "$KM_SOURCE_DIR/certs/gen-certs.sh" --service migration-webhook --namespace kubevirt --out "$CERTS" \
  --ip 127.0.0.1 --dns rotated.example.com
NEW_SERIAL=$(serial "$CERTS/tls.crt")
expect_ne "$NEW_SERIAL" "$OLD_SERIAL" "gen-certs made a new serving certificate"
# As the kubelet does: the new files appear by rename, the key first.
cp "$CERTS/tls.key" "$LIVE/tls.key.new" && cp "$CERTS/tls.crt" "$LIVE/tls.crt.new"
ROTATED_AT=$(python3 -c 'import time; print("%.3f" % time.time())')
mv "$LIVE/tls.key.new" "$LIVE/tls.key" && mv "$LIVE/tls.crt.new" "$LIVE/tls.crt"
new_served() { [[ "$(grep -c '^new ' "$CLIENT_OUT")" -ge 2 ]]; }
if wait_until 10 new_served; then
  SEEN_AT=$(grep '^new ' "$CLIENT_OUT" | sed -n 2p | awk '{print $2}')
  DELAY=$(awk -v a="$SEEN_AT" -v b="$ROTATED_AT" 'BEGIN {printf "%.3f", a - b}')
  echo "       (the new certificate was served ${DELAY}s after the files changed)"
  expect_eq "$(awk -v d="$DELAY" 'BEGIN {print (d <= 1.0) ? "yes" : "no"}')" "yes" \
    "new connections get the new certificate within 1 s (took ${DELAY}s)"
else
  fail "new connections get the new certificate" "$(cat "$CLIENT_OUT")"
fi
LAST_PEM=$(python3 -c 'import sys; t = open(sys.argv[1]).read(); print(t[t.rindex("-----BEGIN CERTIFICATE-----"):])' "$STOP.certs")
expect_eq "$(openssl x509 -noout -serial <<<"$LAST_PEM" | sed 's/serial=//')" "$NEW_SERIAL" \
  "the certificate served is the new one"
expect_eq "$(grep -c '^new ' "$CLIENT_OUT")" "2" "the broken pair was never served"

touch "$STOP"
if wait_until 10 grep -q '^requests=' "$CLIENT_OUT"; then
  LINE=$(grep '^requests=' "$CLIENT_OUT")
  expect_match "$LINE" '^requests=[0-9]+ failures=0 keepalive=[0-9]+$' "no request failed during the rotations"
  [[ "$LINE" =~ requests=([0-9]+).*keepalive=([0-9]+) ]]
  REQUESTS=${BASH_REMATCH[1]:-} KEEPALIVE=${BASH_REMATCH[2]:-}
  expect_gt "$REQUESTS" 50 "the client made a good number of requests"
  expect_eq "$KEEPALIVE" "$REQUESTS" \
    "the keep-alive connection opened before the rotation kept working"
else
  fail "the client stops" "$(cat "$CLIENT_OUT")"
fi
stop_background "$CLIENT_PID"
METRICS=$(curl -sS --cacert "$CERTS/ca.crt" "https://127.0.0.1:$PORT/metrics")
expect_match "$METRICS" 'migration_webhook_certificate_reloads_total [1-9]' "/metrics counts the reload"

section "SIGTERM: a clean exit"
kill -TERM "$WEBHOOK_PID"
wait "$WEBHOOK_PID"
expect_eq "$?" "0" "the webhook exits 0 on SIGTERM"

stop_devcluster
finish
