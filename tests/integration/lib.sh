# shellcheck shell=bash
# Helpers for the integration scripts (tests/integration/*_test.sh): each script sources this
# file, starts its own devcluster, drives it with the real kubectl, and ends with `finish`.
#
# Environment: KM_BIN_DIR (where devcluster and test-webhook live; default build/bin) and
# KM_SOURCE_DIR (the repository root; default derived from this file's path). ctest sets both.
#
# Checks never stop the script: each records a pass or a failure, and `finish` prints
# "N passed, N failed" and exits non-zero when anything failed.

set -u

KM_SOURCE_DIR=${KM_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
KM_BIN_DIR=${KM_BIN_DIR:-$KM_SOURCE_DIR/build/bin}
KUBECTL=${KUBECTL:-/usr/bin/kubectl}
export KM_SOURCE_DIR KM_BIN_DIR

TESTS_PASSED=0
TESTS_FAILED=0
TEST_NAME=$(basename "$0" .sh)

# Scratch space for this script; removed on exit. kubectl's discovery cache lives here too, so
# that a stale cache of an earlier run on the same port cannot hide a discovery bug.
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/km-${TEST_NAME}.XXXXXX")
export KUBECACHEDIR=$TEST_TMP/kubecache

DEVCLUSTER_DIR=""
DEVCLUSTER_PID=""
DEVCLUSTER_PORT=""
DEVCLUSTER_LOG=""
DEVCLUSTER_ARGS=()
DEVCLUSTER_STARTS=0
BACKGROUND_PIDS=()

# ---------------------------------------------------------------------------------------------
# Reporting

pass() {
  TESTS_PASSED=$((TESTS_PASSED + 1))
  echo "ok   - $*"
}

# fail MESSAGE [DETAILS...]: records a failure; details (outputs) are printed indented.
fail() {
  TESTS_FAILED=$((TESTS_FAILED + 1))
  echo "FAIL - $1"
  shift
  local d
  for d in "$@"; do
    printf '%s\n' "$d" | sed 's/^/       | /'
  done
  if [[ -n "$DEVCLUSTER_LOG" && -f "$DEVCLUSTER_LOG" ]]; then
    echo "       devcluster log (last 10 lines):"
    tail -n 10 "$DEVCLUSTER_LOG" | sed 's/^/       > /'
  fi
}

# Marks a section of the script in the output.
section() {
  echo "--- $*"
}

# finish: prints the summary and exits with the script's verdict.
finish() {
  if ((TESTS_FAILED > 0)) && [[ -n "$DEVCLUSTER_LOG" && -f "$DEVCLUSTER_LOG" ]]; then
    echo "devcluster log tail ($DEVCLUSTER_LOG):"
    tail -n 60 "$DEVCLUSTER_LOG" | sed 's/^/  > /'
  fi
  echo "$TEST_NAME: $TESTS_PASSED passed, $TESTS_FAILED failed"
  if ((TESTS_FAILED > 0 || TESTS_PASSED == 0)); then
    exit 1
  fi
  exit 0
}

# ---------------------------------------------------------------------------------------------
# Running commands

# k ARGS...: kubectl with a bounded request time.
k() {
  "$KUBECTL" --request-timeout=10s "$@"
}

# run CMD...: runs CMD, capturing its stdout in OUT, its stderr in ERR and its exit code in RC.
# Never fails by itself.
OUT=""
ERR=""
RC=0
run() {
  local out_file=$TEST_TMP/run.out err_file=$TEST_TMP/run.err
  "$@" >"$out_file" 2>"$err_file"
  RC=$?
  OUT=$(cat "$out_file")
  ERR=$(cat "$err_file")
  return 0
}

_describe_run() {
  printf 'command: %s\nexit code: %s\nstdout: %s\nstderr: %s' "$*" "$RC" "$OUT" "$ERR"
}

# expect_ok CMD...: CMD must exit 0. OUT/ERR/RC are left for further checks.
expect_ok() {
  run "$@"
  if ((RC == 0)); then
    pass "$*"
    return 0
  fi
  fail "expected success: $*" "$(_describe_run "$@")"
  return 1
}

# expect_fail CMD...: CMD must exit non-zero. OUT/ERR/RC are left for further checks.
expect_fail() {
  run "$@"
  if ((RC != 0)); then
    pass "fails as expected: $*"
    return 0
  fi
  fail "expected failure: $*" "$(_describe_run "$@")"
  return 1
}

# expect_eq ACTUAL EXPECTED [WHAT]
expect_eq() {
  local what=${3:-"value is '$2'"}
  if [[ "$1" == "$2" ]]; then
    pass "$what"
    return 0
  fi
  fail "$what" "expected: '$2'" "actual:   '$1'"
  return 1
}

# expect_ne ACTUAL UNEXPECTED [WHAT]
expect_ne() {
  local what=${3:-"value is not '$2'"}
  if [[ "$1" != "$2" ]]; then
    pass "$what"
    return 0
  fi
  fail "$what" "value: '$1'"
  return 1
}

# expect_contains OUTPUT SUBSTRING [WHAT]
expect_contains() {
  local what=${3:-"output contains '$2'"}
  if [[ "$1" == *"$2"* ]]; then
    pass "$what"
    return 0
  fi
  fail "$what" "missing: $2" "in: $1"
  return 1
}

# expect_not_contains OUTPUT SUBSTRING [WHAT]
expect_not_contains() {
  local what=${3:-"output does not contain '$2'"}
  if [[ "$1" != *"$2"* ]]; then
    pass "$what"
    return 0
  fi
  fail "$what" "unexpected: $2" "in: $1"
  return 1
}

# expect_match OUTPUT ERE [WHAT]: OUTPUT matches the extended regular expression.
expect_match() {
  local what=${3:-"output matches /$2/"}
  if [[ "$1" =~ $2 ]]; then
    pass "$what"
    return 0
  fi
  fail "$what" "regex: $2" "in: $1"
  return 1
}

# expect_gt A B [WHAT]: integer A > integer B.
expect_gt() {
  local what=${3:-"$1 > $2"}
  if [[ "$1" =~ ^[0-9]+$ && "$2" =~ ^[0-9]+$ ]] && (($1 > $2)); then
    pass "$what"
    return 0
  fi
  fail "$what" "'$1' is not greater than '$2'"
  return 1
}

# wait_until SECONDS CMD...: re-runs CMD (quietly) until it succeeds or SECONDS pass. This waits
# for a condition; it never sleeps a fixed time to let something happen.
wait_until() {
  local limit=$1
  shift
  local deadline=$((SECONDS + limit))
  while ((SECONDS <= deadline)); do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# file_contains FILE SUBSTRING: for wait_until.
file_contains() {
  [[ -f "$1" ]] && grep -qF -- "$2" "$1"
}

# expect_file_eventually_contains FILE SUBSTRING SECONDS [WHAT]
expect_file_eventually_contains() {
  local what=${4:-"$(basename "$1") eventually contains '$2'"}
  if wait_until "$3" file_contains "$1" "$2"; then
    pass "$what"
    return 0
  fi
  fail "$what" "file contents: $(cat "$1" 2>/dev/null)"
  return 1
}

# background OUTFILE CMD...: runs CMD in the background with stdout+stderr to OUTFILE; its pid
# is in BG_PID and it is killed on exit.
BG_PID=""
background() {
  local out=$1
  shift
  "$@" >"$out" 2>&1 &
  BG_PID=$!
  BACKGROUND_PIDS+=("$BG_PID")
}

# stop_background PID: ends a process started by `background` and reaps it.
stop_background() {
  kill "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  return 0
}

# ---------------------------------------------------------------------------------------------
# devcluster

# _wait_ready LOG PID: waits (at most 20 s) for the ready line; sets DEVCLUSTER_PORT.
_wait_ready() {
  local log=$1 pid=$2 deadline=$((SECONDS + 20)) line
  while ((SECONDS <= deadline)); do
    line=$(grep -m1 -oE 'devcluster ready on https://127\.0\.0\.1:[0-9]+' "$log" 2>/dev/null)
    if [[ -n "$line" ]]; then
      DEVCLUSTER_PORT=${line##*:}
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "devcluster exited before it was ready; its output:" >&2
      sed 's/^/  > /' "$log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "devcluster did not print its ready line within 20 s; its output:" >&2
  sed 's/^/  > /' "$log" >&2
  return 1
}

# _launch PORT: starts devcluster on DEVCLUSTER_DIR with DEVCLUSTER_ARGS and waits for it.
_launch() {
  local port=$1
  DEVCLUSTER_STARTS=$((DEVCLUSTER_STARTS + 1))
  local log=$TEST_TMP/devcluster.$DEVCLUSTER_STARTS.log
  if [[ ! -x "$KM_BIN_DIR/devcluster" ]]; then
    echo "no devcluster binary at $KM_BIN_DIR/devcluster (set KM_BIN_DIR)" >&2
    return 1
  fi
  "$KM_BIN_DIR/devcluster" --dir "$DEVCLUSTER_DIR" --port "$port" "${DEVCLUSTER_ARGS[@]}" \
    >"$log" 2>&1 &
  DEVCLUSTER_PID=$!
  DEVCLUSTER_LOG=$log
  if ! _wait_ready "$log" "$DEVCLUSTER_PID"; then
    return 1
  fi
  export KUBECONFIG=$DEVCLUSTER_DIR/kubeconfig
  export DEVCLUSTER_PORT DEVCLUSTER_PID DEVCLUSTER_DIR
  echo "devcluster ready on port $DEVCLUSTER_PORT (pid $DEVCLUSTER_PID, dir $DEVCLUSTER_DIR)"
  return 0
}

# start_devcluster [EXTRA ARGS...]: starts a fresh devcluster on a free port in a new directory.
# Exports KUBECONFIG, DEVCLUSTER_PORT, DEVCLUSTER_PID, DEVCLUSTER_DIR. Exits the script when it
# cannot start (nothing else can be tested then).
start_devcluster() {
  DEVCLUSTER_DIR=$(mktemp -d "$TEST_TMP/cluster.XXXXXX")
  DEVCLUSTER_ARGS=("$@")
  if ! _launch 0; then
    fail "devcluster starts and prints its ready line"
    finish
  fi
}

# _stop_devcluster: SIGTERM, then wait (at most 10 s) for it to exit. Returns its exit code,
# or 124 if it had to be killed.
_stop_devcluster() {
  local pid=$DEVCLUSTER_PID deadline=$((SECONDS + 10)) rc
  [[ -z "$pid" ]] && return 0
  kill -TERM "$pid" 2>/dev/null
  while kill -0 "$pid" 2>/dev/null && ((SECONDS <= deadline)); do
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    DEVCLUSTER_PID=""
    return 124
  fi
  wait "$pid" 2>/dev/null
  rc=$?
  DEVCLUSTER_PID=""
  return "$rc"
}

# stop_devcluster: stops devcluster with SIGTERM and checks that it exits cleanly (status 0).
stop_devcluster() {
  _stop_devcluster
  expect_eq "$?" 0 "devcluster exits with status 0 on SIGTERM"
}

# restart_devcluster: SIGTERM, wait, start again with the same --dir, --port and extra args.
restart_devcluster() {
  local port=$DEVCLUSTER_PORT
  stop_devcluster
  if ! _launch "$port"; then
    fail "devcluster restarts with the same --dir and --port $port"
    finish
  fi
}

# crash_devcluster: SIGKILL (no chance to flush anything), then start again like
# restart_devcluster.
crash_devcluster() {
  local port=$DEVCLUSTER_PORT
  kill -KILL "$DEVCLUSTER_PID" 2>/dev/null
  wait "$DEVCLUSTER_PID" 2>/dev/null
  DEVCLUSTER_PID=""
  if ! _launch "$port"; then
    fail "devcluster starts again after SIGKILL with the same --dir and --port $port"
    finish
  fi
}

_cleanup() {
  local pid
  for pid in "${BACKGROUND_PIDS[@]}"; do
    kill "$pid" 2>/dev/null
  done
  if [[ -n "$DEVCLUSTER_PID" ]]; then
    _stop_devcluster
  fi
  rm -rf "$TEST_TMP"
}
trap _cleanup EXIT

# ---------------------------------------------------------------------------------------------
# Small helpers shared by several scripts

# Installs the project's CRDs and waits until the API serves them.
install_crds() {
  if expect_ok k apply -f "$KM_SOURCE_DIR/manifests/crds/"; then
    if ! wait_until 10 k get vmim; then
      fail "the CRDs' resources are served after kubectl apply" "$(k get vmim 2>&1)"
    fi
  fi
}

# admin_credentials DIR: writes devcluster's CA (ca.crt) and the admin's client certificate and
# key (admin.crt, admin.key) from the current kubeconfig into DIR, for curl; checks each is there.
admin_credentials() {
  local dir=$1 f
  mkdir -p "$dir"
  k config view --raw -o 'jsonpath={.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$dir/ca.crt"
  k config view --raw -o 'jsonpath={.users[?(@.name=="admin")].user.client-certificate-data}' | base64 -d >"$dir/admin.crt"
  k config view --raw -o 'jsonpath={.users[?(@.name=="admin")].user.client-key-data}' | base64 -d >"$dir/admin.key"
  for f in ca.crt admin.crt admin.key; do
    expect_gt "$(wc -c <"$dir/$f")" 0 "the kubeconfig yields $f"
  done
}

# not_found KUBECTL_GET_ARGS...: `kubectl get ARGS` fails with NotFound (any other failure, such
# as an unreachable server, is not "gone"); for wait_until.
not_found() {
  local err
  err=$(k get "$@" 2>&1 >/dev/null)
  [[ "$err" == *"(NotFound)"* ]]
}

# json_field KIND/NAME JSONPATH [kubectl args...]: prints one field of an object.
json_field() {
  local obj=$1 path=$2
  shift 2
  k get "$obj" -o "jsonpath=$path" "$@" 2>/dev/null
}

# ---------------------------------------------------------------------------------------------
# KubeVirt fixtures (the CRDs must be installed)

# vmi NAME [VOLUMES_YAML [INTERFACE_BINDING]]: creates a VMI with a container disk (or the given
# volumes list) and one pod-network interface (masquerade by default).
vmi() {
  local name=$1 binding=${3:-masquerade}
  local volumes=${2:-"  - name: rootdisk
    containerDisk:
      image: quay.io/kubevirt/fedora-cloud-container-disk-demo"}
  cat >"$TEST_TMP/vmi-$name.yaml" <<EOF
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  name: $name
spec:
  domain:
    memory:
      guest: 1Gi
    resources:
      requests:
        memory: 1Gi
    devices:
      disks:
      - name: rootdisk
        disk:
          bus: virtio
      interfaces:
      - name: default
        $binding: {}
  networks:
  - name: default
    pod: {}
  volumes:
$volumes
EOF
  k apply -f "$TEST_TMP/vmi-$name.yaml" >/dev/null || fail "create VMI $name" "$(k apply -f "$TEST_TMP/vmi-$name.yaml" 2>&1)"
}

# vmi_status NAME PHASE NODE MIGRATABLE [REASON MESSAGE]: writes the status an engine writes.
vmi_status() {
  local name=$1 phase=$2 node=$3 migratable=$4 reason=${5:-Migratable} message=${6:-}
  local patch
  patch=$(jq -cn --arg phase "$phase" --arg node "$node" --arg st "$migratable" --arg reason "$reason" \
    --arg msg "$message" '{status: {phase: $phase, nodeName: $node, migrationMethod: "BlockMigration",
      conditions: [{type: "LiveMigratable", status: $st, reason: $reason, message: $msg,
                    lastTransitionTime: "2026-11-25T10:00:00Z"}]}}')
  k patch vmi "$name" --subresource=status --type=merge -p "$patch" >/dev/null ||
    fail "write the status of VMI $name" "$(k patch vmi "$name" --subresource=status --type=merge -p "$patch" 2>&1)"
}

# ---------------------------------------------------------------------------------------------
# migration-webhook, registered the way it runs in a cluster

# wh_get PATH: GET on the webhook started by start_migration_webhook (TLS verified against its
# CA); prints the body and sets CODE to the HTTP status.
CODE=""
wh_get() {
  CODE=$(curl -sS --max-time 5 --cacert "$CERTS/ca.crt" -o "$TEST_TMP/wh.body" -w '%{http_code}' "$WH$1" 2>&1)
  cat "$TEST_TMP/wh.body" 2>/dev/null
}

_wh_ready() {
  wh_get /readyz >/dev/null
  [[ "$CODE" == 200 ]]
}

# start_migration_webhook: generates certificates with certs/gen-certs.sh (into CERTS), starts a
# devcluster whose Service kubevirt/migration-webhook maps to a free port (WEBHOOK_PORT), installs
# the CRDs, runs build/bin/migration-webhook on that port (pid WEBHOOK_PID, output WEBHOOK_OUT,
# base URL WH), waits until /readyz answers 200 and applies the rendered
# validatingwebhookconfiguration.yaml. Exits the script when any step before the registration
# fails (nothing else can be tested then).
start_migration_webhook() {
  local bin=$KM_BIN_DIR/migration-webhook
  if [[ ! -x "$bin" ]]; then
    fail "the webhook binary exists at $bin (build it first)"
    finish
  fi
  # Known before devcluster starts: --service-endpoint maps the Service to it.
  WEBHOOK_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  CERTS=$TEST_TMP/webhook-certs
  if ! expect_ok "$KM_SOURCE_DIR/certs/gen-certs.sh" --service migration-webhook --namespace kubevirt \
    --out "$CERTS" --ip 127.0.0.1; then
    finish
  fi

  start_devcluster --service-endpoint "kubevirt/migration-webhook=127.0.0.1:$WEBHOOK_PORT"
  install_crds

  section "the webhook starts, syncs its caches and becomes ready"
  WEBHOOK_OUT=$TEST_TMP/webhook.out
  background "$WEBHOOK_OUT" "$bin" --tls-cert-file "$CERTS/tls.crt" \
    --tls-private-key-file "$CERTS/tls.key" --bind-address 127.0.0.1 --port "$WEBHOOK_PORT" \
    --kubeconfig "$KUBECONFIG" --kubevirt-namespace kubevirt --kubevirt-name kubevirt
  # shellcheck disable=SC2034  # for the scripts, e.g. stop_background "$WEBHOOK_PID"
  WEBHOOK_PID=$BG_PID
  if ! expect_file_eventually_contains "$WEBHOOK_OUT" "migration-webhook listening on $WEBHOOK_PORT" 10 \
    "the webhook prints its listening line"; then
    finish
  fi
  WH=https://127.0.0.1:$WEBHOOK_PORT
  if wait_until 20 _wh_ready; then
    pass "/readyz answers 200 once the caches have synced"
  else
    fail "/readyz answers 200 once the caches have synced" "last code: $CODE" "$(cat "$WEBHOOK_OUT")"
    finish
  fi

  section "registration: the configuration gen-certs rendered (clientConfig.service)"
  expect_ok k apply -f "$CERTS/validatingwebhookconfiguration.yaml"
}
