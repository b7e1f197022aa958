#!/usr/bin/env bash
# kubectl-migrate through the real kubectl (plugin found on PATH) against devcluster: create in
# every output format, dry runs, --wait to success and to failure with the test writing status as
# the engine would, cancel with and without --wait, status, list, exit codes, Ctrl-C, and the live
# progress line under a real pseudo-terminal (script(1)), wide and narrow.
# shellcheck disable=SC2119,SC2317 source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export PATH=$KM_BIN_DIR:$PATH
if [[ ! -x "$KM_BIN_DIR/kubectl-migrate" ]]; then
  fail "kubectl-migrate is built in $KM_BIN_DIR"
  finish
fi

start_devcluster
install_crds
expect_ok k apply -f "$KM_SOURCE_DIR/examples/vmi.yaml"

VMIM_RE='virtualmachineinstancemigration\.kubevirt\.io/(vmi-fedora-migration-[a-z0-9]+)'

# km ARGS...: the plugin as users run it, through kubectl.
km() {
  "$KUBECTL" migrate "$@"
}

count_vmims() {
  k get vmim -o json | jq '.items | length'
}

vmim_status() {
  k patch vmim "$1" --subresource=status --type=merge -p "$2" >/dev/null
}

vmi_status() {
  k patch vmi vmi-fedora --subresource=status --type=merge -p "$1" >/dev/null
}

# start_km OUTFILE ARGS...: runs `kubectl migrate ARGS` in the background, its output and then
# "rc=N" in OUTFILE; the pid is in KM_PID.
KM_PID=""
start_km() {
  local out=$1
  shift
  ("$KUBECTL" migrate "$@" >"$out" 2>&1; echo "rc=$?" >>"$out") &
  KM_PID=$!
  BACKGROUND_PIDS+=("$KM_PID")
}

# created_name OUTFILE: waits for the "created" line and prints the VMIM's name.
created_name() {
  wait_until 20 grep -qE "$VMIM_RE" "$1"
  grep -oE "$VMIM_RE" "$1" | head -n1 | sed 's|.*/||'
}

# delete_all_vmims: a clean slate between scenarios.
delete_all_vmims() {
  k delete vmim --all >/dev/null 2>&1
  vmi_status '{"status":{"migrationState":null}}'
}

section "version and help"
expect_ok km version
expect_match "$OUT" '^kubectl-migrate v[0-9]+\.[0-9]+\.[0-9]+$'
expect_ok km --help
expect_contains "$OUT" "Examples:"
expect_contains "$OUT" "kubectl migrate cancel VMI"
expect_contains "$OUT" "3  timed out while waiting"

section "usage errors exit 2 before any request"
for args in "Bad_Name" "--bogus vmi-fedora" "" "vmi-fedora extra" "vmi-fedora -o table" \
  "vmi-fedora --timeout 5x" "vmi-fedora --dry-run=maybe" "cancel" "list vmi-fedora" \
  "status vmi-fedora --to node-b" "vmi-fedora --wait --dry-run=server" \
  "list --request-timeout=abc" "completion"; do
  # shellcheck disable=SC2086
  run km $args
  expect_eq "$RC" 2 "kubectl migrate $args exits 2"
  expect_match "$ERR" '^error: ' "kubectl migrate $args prints error:"
done
BEFORE=$(count_vmims)
# An unreachable server proves no request is made for an invalid name.
run km NotADNSName --kubeconfig /nonexistent
expect_eq "$RC" 2 "an invalid name fails before the kubeconfig is even read"
expect_contains "$ERR" 'invalid VMI name "NotADNSName"'

section "create"
expect_ok km vmi-fedora
expect_match "$OUT" "^${VMIM_RE} created$" "prints what kubectl create prints"
NAME=$(grep -oE "$VMIM_RE" <<<"$OUT" | sed 's|.*/||')
expect_eq "$(json_field "vmim/$NAME" '{.spec.vmiName}')" "vmi-fedora" "spec.vmiName is the VMI"
expect_eq "$(json_field "vmim/$NAME" '{.metadata.labels.kubevirt\.io/vmi-name}')" "vmi-fedora" \
  "the kubevirt.io/vmi-name label is set"
expect_eq "$(json_field "vmim/$NAME" '{.metadata.generateName}')" "vmi-fedora-migration-" \
  "the name is generated from vmi-fedora-migration-"
expect_ok km vmi-fedora --to node-b -o name
expect_match "$OUT" "^${VMIM_RE}$" "-o name prints only RESOURCE/NAME"
NAME=${OUT##*/}
expect_eq "$(json_field "vmim/$NAME" '{.spec.addedNodeSelector.kubernetes\.io/hostname}')" "node-b" \
  "--to sets spec.addedNodeSelector kubernetes.io/hostname"
expect_ok km vmi-fedora -o json
expect_eq "$(jq -r '.kind + " " + .spec.vmiName + " " + (.metadata.name | startswith("vmi-fedora-migration-") | tostring)' <<<"$OUT")" \
  "VirtualMachineInstanceMigration vmi-fedora true" "-o json prints the created object"
expect_ok km vmi-fedora -o yaml --namespace default
expect_eq "$(python3 -c 'import sys, yaml; d = yaml.safe_load(sys.stdin); print(d["kind"], d["spec"]["vmiName"], d["metadata"]["labels"]["kubevirt.io/vmi-name"], d["metadata"]["uid"] != "")' <<<"$OUT")" \
  "VirtualMachineInstanceMigration vmi-fedora vmi-fedora True" "-o yaml is YAML of the created object"

section "dry runs store nothing"
BEFORE=$(count_vmims)
expect_ok km vmi-fedora --dry-run=server
expect_match "$OUT" "^${VMIM_RE} created \\(server dry run\\)$"
expect_ok km vmi-fedora --dry-run=client -o yaml
expect_contains "$OUT" "generateName: vmi-fedora-migration-"
expect_ok km vmi-fedora --dry-run=server -o json
expect_eq "$(jq -r .spec.vmiName <<<"$OUT")" "vmi-fedora" "server dry run -o json returns the object"
expect_eq "$(count_vmims)" "$BEFORE" "--dry-run=server and =client create no VMIM"

section "errors print as kubectl prints them"
run km vmi-fedora -n nonexistent
expect_eq "$RC" 1 "a refused create exits 1"
expect_eq "$ERR" 'Error from server (NotFound): namespaces "nonexistent" not found' \
  "the server's refusal is printed as kubectl prints it"
KUBECTL_ERR=$(k create -n nonexistent -f "$KM_SOURCE_DIR/examples/vmim.yaml" 2>&1)
expect_contains "$KUBECTL_ERR" "Error from server (NotFound): " "kubectl prints the same reason"
expect_contains "$KUBECTL_ERR" ': namespaces "nonexistent" not found' "kubectl prints the same message"

section "namespace from the context and from -n"
expect_ok k create namespace other
expect_ok km vmi-fedora -n other -o name
expect_eq "$(k get vmim -n other -o name | wc -l)" 1 "-n creates in that namespace"
KCFG2=$TEST_TMP/kubeconfig-other
cp "$KUBECONFIG" "$KCFG2"
KUBECONFIG=$KCFG2 k config set-context --current --namespace=other >/dev/null
expect_ok env KUBECONFIG="$KCFG2" "$KUBECTL" migrate vmi-fedora -o name
expect_eq "$(k get vmim -n other -o name | wc -l)" 2 "the context's namespace is the default"
expect_ok env KUBECONFIG=/nonexistent "$KUBECTL" migrate vmi-fedora -o name --kubeconfig "$KCFG2"
expect_eq "$(k get vmim -n other -o name | wc -l)" 3 "--kubeconfig wins over KUBECONFIG"

section "a dead API server: the error says what happened"
# A kubeconfig whose server is a port nothing listens on (taken, then freed).
DEAD_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
KCFG_DEAD=$TEST_TMP/kubeconfig-dead
cp "$KUBECONFIG" "$KCFG_DEAD"
KUBECONFIG=$KCFG_DEAD k config set-cluster "$(KUBECONFIG=$KCFG_DEAD k config view --minify -o jsonpath='{.clusters[0].name}')" \
  --server "https://127.0.0.1:$DEAD_PORT" >/dev/null
run env KUBECONFIG="$KCFG_DEAD" "$KUBECTL" migrate status vmi-fedora
expect_eq "$RC" 1 "a refused connection exits 1"
expect_contains "$ERR" "error: cannot connect to https://127.0.0.1:$DEAD_PORT (127.0.0.1:$DEAD_PORT): connection refused" \
  "a refused connection is named, with the address (was: failed: Connection)"
expect_not_contains "$ERR" "failed: Connection" "no bare httplib error name"

section "list and status"
expect_ok km list
expect_match "$(head -n1 <<<"$OUT")" '^NAME +VMI +PHASE +SOURCE +TARGET +PROGRESS +AGE$' "list has kubectl-like columns"
expect_eq "$(awk '{ print NF }' <<<"$OUT" | sort -u)" "7" "every list row has as many fields as the header (no spaces in a cell)"
expect_eq "$(LC_ALL=C grep -c '[^ -~]' <<<"$OUT")" "0" "list is ASCII"
expect_match "$(sed -n 2p <<<"$OUT")" '^vmi-fedora-migration-[a-z0-9]+ +vmi-fedora +<none> +<none> +<none> +<none> +[0-9]+[smhd]$' \
  "empty cells are <none>, as kubectl prints them"
expect_eq "$(k get vmim "$(awk 'NR == 2 { print $1 }' <<<"$OUT")" --no-headers -o custom-columns=PHASE:.status.phase)" "<none>" \
  "kubectl get vmim names an unset phase the same way"
run km list -o json
expect_eq "$RC" 0 "list -o json"
expect_eq "$(jq -r '.kind + " " + (.items | length | tostring)' <<<"$OUT")" "List $(count_vmims)" \
  "list -o json prints a List of the VMIMs"
run km list -o yaml
expect_eq "$(python3 -c 'import sys, yaml; d = yaml.safe_load(sys.stdin); print(d["kind"], d["items"][0]["kind"])' <<<"$OUT")" \
  "List VirtualMachineInstanceMigration" "list -o yaml prints the List as YAML"
run km list -o name
expect_match "$(head -n1 <<<"$OUT")" "^${VMIM_RE}$" "list -o name prints RESOURCE/NAME"
expect_gt "$(grep -c vmi-fedora-migration- <<<"$OUT")" 3 "list shows the migrations of the namespace"
expect_not_contains "$OUT" "other" 
expect_ok km list --request-timeout 5s
expect_ok km list -A
expect_match "$(head -n1 <<<"$OUT")" '^NAMESPACE +NAME +VMI' "list -A adds NAMESPACE"
expect_contains "$OUT" "other "
run km list -n empty-ns
expect_eq "$RC" 0 "an empty list succeeds"
expect_eq "$ERR" "No resources found in empty-ns namespace." "an empty list says so like kubectl"

section "status and cancel find a VMIM written by hand (no kubevirt.io/vmi-name label)"
delete_all_vmims
printf 'apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstanceMigration\nmetadata:\n  name: by-hand\nspec:\n  vmiName: vmi-fedora\n' >"$TEST_TMP/by-hand.yaml"
expect_ok k apply -f "$TEST_TMP/by-hand.yaml"
run km status vmi-fedora
expect_eq "$RC" 0 "status finds the applied VMIM"
expect_contains "$OUT" "Migration:       by-hand"
run km cancel vmi-fedora
expect_eq "$RC" 0 "cancel finds the applied VMIM"
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/by-hand deleted" "cancel deletes it"
expect_eq "$(count_vmims)" 0 "the applied VMIM is gone"
for i in 1 2 3; do expect_ok km vmi-fedora -o name; done

section "cancel without --wait"
expect_ok km cancel vmi-fedora
expect_match "$OUT" "^${VMIM_RE} deleted" "cancel prints what it deleted"
expect_eq "$(count_vmims)" 0 "cancel deleted the VMI's migrations in progress"
run km cancel vmi-fedora
expect_eq "$RC" 1 "cancel with no migration in progress exits 1"
expect_eq "$ERR" 'error: no migration in progress for VMI "vmi-fedora"'
run km status vmi-fedora
expect_eq "$RC" 1 "status with no migration exits 1"

section "--wait to success (non-terminal output)"
delete_all_vmims
start_km "$TEST_TMP/wait-ok.out" vmi-fedora --wait --timeout 60s
NAME=$(created_name "$TEST_TMP/wait-ok.out")
expect_ne "$NAME" "" "the waiting plugin printed the created name"
UID_=$(json_field "vmim/$NAME" '{.metadata.uid}')
vmim_status "$NAME" '{"status":{"phase":"Scheduling"}}'
vmi_status '{"status":{"migrationState":{"migrationUid":"'"$UID_"'","sourceNode":"node-a","targetNode":"node-b","startTimestamp":"2026-01-01T00:00:00Z","progress":{"dataTotalBytes":1073741824,"dataProcessedBytes":429496730,"memoryBytesPerSecond":104857600,"dirtyRateBytesPerSecond":1048576,"iteration":2}}}}'
vmim_status "$NAME" '{"status":{"phase":"Running"}}'
expect_file_eventually_contains "$TEST_TMP/wait-ok.out" "Running 40% 409.6MiB/1.0GiB 100.0MiB/s dirty 1.0MiB/s iter 2 ETA 7s" 20 \
  "a progress line shows phase, percent, bytes, rate, dirty rate, iteration and ETA"
expect_ok km status vmi-fedora
expect_contains "$OUT" "Phase:           Running"
expect_contains "$OUT" "Source node:     node-a"
expect_contains "$OUT" "Progress:        Running 40%"
expect_ok km list
expect_match "$OUT" "$NAME +vmi-fedora +Running +node-a +node-b +40% " "list shows phase, nodes and progress"
expect_eq "$(k get vmim "$NAME" --no-headers | awk '{ print $2 }')" "Running" "kubectl get vmim shows the same phase"
vmi_status '{"status":{"migrationState":{"endTimestamp":"2026-01-01T00:00:12Z","completed":true}}}'
vmim_status "$NAME" '{"status":{"phase":"Succeeded"}}'
wait "$KM_PID"
OUT=$(cat "$TEST_TMP/wait-ok.out")
expect_contains "$OUT" "virtualmachineinstancemigration.kubevirt.io/$NAME succeeded: node-a → node-b in 12s" \
  "the summary names source, target and duration"
expect_contains "$OUT" "rc=0" "--wait exits 0 on success"
expect_not_contains "$OUT" $'\r' "no carriage returns when stdout is not a terminal"
expect_ok km status vmi-fedora
expect_contains "$OUT" "Duration:        12s"
expect_contains "$OUT" "Progress:        Succeeded 100%"

section "-o json --wait: stdout is the JSON alone, progress and outcome on stderr"
delete_all_vmims
("$KUBECTL" migrate vmi-fedora -o json --wait --timeout 60s >"$TEST_TMP/wj.out" 2>"$TEST_TMP/wj.err"; echo "$?" >"$TEST_TMP/wj.rc") &
KM_PID=$!
BACKGROUND_PIDS+=("$KM_PID")
wait_until 20 test -s "$TEST_TMP/wj.out"
NAME=$(k get vmim -o json | jq -r '.items[0].metadata.name')
vmim_status "$NAME" '{"status":{"phase":"Running"}}'
expect_file_eventually_contains "$TEST_TMP/wj.err" "Running" 20 "the progress line is on stderr"
vmim_status "$NAME" '{"status":{"phase":"Succeeded"}}'
wait "$KM_PID"
expect_eq "$(cat "$TEST_TMP/wj.rc")" "0" "-o json --wait exits 0"
expect_eq "$(jq -r .metadata.name <"$TEST_TMP/wj.out")" "$NAME" "stdout is one valid JSON document"
expect_contains "$(cat "$TEST_TMP/wj.err")" "$NAME succeeded" "the outcome line is on stderr"
expect_not_contains "$(cat "$TEST_TMP/wj.out")" "succeeded" "no outcome line on stdout"
run km vmi-fedora -o name --wait --timeout 1s
expect_eq "$RC" 3 "-o name --wait times out"
expect_match "$OUT" "^${VMIM_RE}$" "-o name --wait: stdout is the name alone"

section "--wait to failure"
delete_all_vmims
start_km "$TEST_TMP/wait-fail.out" vmi-fedora --wait --timeout 60s
NAME=$(created_name "$TEST_TMP/wait-fail.out")
vmi_status '{"status":{"migrationState":{"sourceNode":"node-a","targetNode":"node-b","failed":true,"failureReason":"target node unreachable","abortStatus":"Failed"}}}'
vmim_status "$NAME" '{"status":{"phase":"Failed"}}'
wait "$KM_PID"
OUT=$(cat "$TEST_TMP/wait-fail.out")
expect_contains "$OUT" "error: virtualmachineinstancemigration.kubevirt.io/$NAME failed: target node unreachable (abort status: Failed)" \
  "the summary gives the failure reason and abort status"
expect_not_contains "$OUT" "?" "no placeholders in the failure line"
expect_contains "$OUT" "rc=1" "--wait exits 1 on failure"

section "--timeout exits 3"
delete_all_vmims
run km vmi-fedora --wait --timeout 1s
expect_eq "$RC" 3 "a wait that times out exits 3"
expect_contains "$ERR" "error: timed out after"
expect_contains "$ERR" "kubectl migrate cancel vmi-fedora"

# interrupt_wait OUTFILE [FLAGS...]: starts `migrate vmi-fedora --wait` on a clean
# namespace, sends SIGINT to the plugin once it shows Pending, waits for it, and
# sets NAME (the VMIM) and OUT (what it printed, ending "rc=N").
interrupt_wait() {
  local out=$1
  shift
  delete_all_vmims
  start_km "$out" vmi-fedora --wait --timeout 60s "$@"
  NAME=$(created_name "$out")
  expect_file_eventually_contains "$out" "<none> elapsed" 10
  # kubectl execs the plugin, so the subshell's child is the plugin itself.
  kill -INT "$(pgrep -P "$KM_PID" | head -n1)"
  wait "$KM_PID"
  OUT=$(cat "$out")
}

section "Ctrl-C while waiting"
interrupt_wait "$TEST_TMP/int.out"
expect_contains "$OUT" "rc=130" "SIGINT while waiting exits 130"
expect_contains "$OUT" "To cancel it: kubectl migrate cancel vmi-fedora -n default"
expect_eq "$(json_field "vmim/$NAME" '{.metadata.name}')" "$NAME" "the migration goes on"
interrupt_wait "$TEST_TMP/int2.out" --cancel-on-interrupt
expect_contains "$OUT" "rc=130" "SIGINT with --cancel-on-interrupt exits 130"
expect_contains "$OUT" "cancelled the migration: virtualmachineinstancemigration.kubevirt.io/$NAME deleted"
expect_eq "$(count_vmims)" 0 "--cancel-on-interrupt deleted the migration"

section "cancel --wait"
delete_all_vmims
expect_ok km vmi-fedora -o name
NAME=${OUT##*/}
UID_=$(json_field "vmim/$NAME" '{.metadata.uid}')
vmi_status '{"status":{"migrationState":{"migrationUid":"'"$UID_"'","sourceNode":"node-a","targetNode":"node-b"}}}'
start_km "$TEST_TMP/cancel.out" cancel vmi-fedora --wait --timeout 60s
expect_file_eventually_contains "$TEST_TMP/cancel.out" "$NAME deleted" 10
vmi_status '{"status":{"migrationState":{"abortRequested":true,"abortStatus":"Succeeded","completed":true,"failed":true}}}'
wait "$KM_PID"
OUT=$(cat "$TEST_TMP/cancel.out")
expect_contains "$OUT" "abort status: Succeeded" "cancel --wait prints the abort status"
expect_contains "$OUT" "rc=0" "cancel --wait exits 0 when the abort succeeded"
expect_ok km status vmi-fedora
expect_contains "$OUT" "Abort status:    Succeeded" "status shows the VMI's last migration after the cancel"
expect_contains "$OUT" "Phase:           Failed" "a cancelled migration ended Failed"
expect_contains "$OUT" "Migration:       <deleted> (uid $UID_" "status says the VMIM is gone"
delete_all_vmims

section "cancel --wait of a migration that never started ends when the VMIM is gone"
expect_ok km vmi-fedora -o name
NAME=${OUT##*/}
# The engine's finalizer holds the VMIM until the engine lets go of it.
expect_ok k patch vmim "$NAME" --type=merge -p '{"metadata":{"finalizers":["kubevirt.io/migrationJobFinalize"]}}'
start_km "$TEST_TMP/cancel-early.out" cancel vmi-fedora --wait --timeout 60s
expect_file_eventually_contains "$TEST_TMP/cancel-early.out" "$NAME deleted" 10
expect_not_contains "$(cat "$TEST_TMP/cancel-early.out")" "rc=" "it waits while the finalizer holds the VMIM"
expect_ok k patch vmim "$NAME" --type=merge -p '{"metadata":{"finalizers":null}}'
wait "$KM_PID"
OUT=$(cat "$TEST_TMP/cancel-early.out")
expect_contains "$OUT" "cancelled before it started" "cancel --wait says the migration never started"
expect_contains "$OUT" "rc=0" "and exits 0"
expect_ok km vmi-fedora -o name
NAME=${OUT##*/}
expect_ok k patch vmim "$NAME" --type=merge -p '{"metadata":{"finalizers":["kubevirt.io/migrationJobFinalize"]}}'
run km cancel vmi-fedora --wait --timeout 1s
expect_eq "$RC" 3 "cancel --wait times out with exit 3 while the VMIM stays and no abort status comes"
expect_ok k patch vmim "$NAME" --type=merge -p '{"metadata":{"finalizers":null}}'

section "terminal rendering under a pseudo-terminal"
# term_km COLS OUTFILE: the waiting plugin in a pty of COLS columns (script(1)).
term_km() {
  local cols=$1 out=$2
  (script -qfec "stty cols $cols rows 24; $KUBECTL migrate vmi-fedora --wait --timeout 60s" /dev/null \
    </dev/null >"$out" 2>&1; echo "rc=$?" >>"$out") &
  KM_PID=$!
  BACKGROUND_PIDS+=("$KM_PID")
}
for cols in 200 40; do
  delete_all_vmims
  term_km "$cols" "$TEST_TMP/tty$cols.out"
  NAME=$(created_name "$TEST_TMP/tty$cols.out")
  UID_=$(json_field "vmim/$NAME" '{.metadata.uid}')
  vmim_status "$NAME" '{"status":{"phase":"Running"}}'
  vmi_status '{"status":{"migrationState":{"migrationUid":"'"$UID_"'","sourceNode":"node-a","targetNode":"node-b","progress":{"dataTotalBytes":1000,"dataProcessedBytes":600,"memoryBytesPerSecond":100,"iteration":1}}}}'
  expect_file_eventually_contains "$TEST_TMP/tty$cols.out" "Running 60%" 20 "($cols cols) the live line shows 60%"
  # A new iteration re-sends dirty pages: the engine's percent drops, the shown one must not.
  vmi_status '{"status":{"migrationState":{"progress":{"dataProcessedBytes":200,"iteration":2}}}}'
  expect_file_eventually_contains "$TEST_TMP/tty$cols.out" "iter 2" 20 "($cols cols) the line follows the new iteration"
  vmim_status "$NAME" '{"status":{"phase":"Succeeded"}}'
  wait "$KM_PID"
  RAW=$(cat "$TEST_TMP/tty$cols.out")
  expect_contains "$RAW" "rc=0" "($cols cols) --wait on a terminal exits 0"
  expect_contains "$RAW" $'\r' "($cols cols) the line is rewritten with carriage returns"
  expect_contains "$RAW" $'\e[K' "($cols cols) the line is cleared before rewriting"
  expect_not_contains "$RAW" "Running 20%" "($cols cols) the percent never goes backwards"
  # Each redraw is the text between a \r and the clear-to-end-of-line sequence.
  LONGEST=$(printf '%s' "$RAW" | tr '\r' '\n' | sed -n 's/\x1b\[K.*//p' | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
  if ((LONGEST < cols)); then
    pass "($cols cols) every redraw fits in the terminal (longest $LONGEST)"
  else
    fail "($cols cols) a redraw is wider than the terminal" "longest: $LONGEST" "$RAW"
  fi
  expect_contains "$RAW" "$NAME succeeded: node-a → node-b" "($cols cols) the summary follows the live line"
done
expect_contains "$(cat "$TEST_TMP/tty200.out")" "Running 60% 200B/1000B 100B/s iter 2 ETA 8s elapsed" \
  "(200 cols) the wide line is not truncated"

section "shell completion"
expect_ok "$KUBECTL" __complete migrate ""
expect_contains "$OUT" "vmi-fedora" "kubectl migrate <TAB> offers VMI names (via kubectl_complete-migrate)"
expect_contains "$OUT" "cancel" "kubectl migrate <TAB> offers subcommands"
expect_eq "$(tail -n1 <<<"$OUT")" ":4" "the directive turns file completion off"
expect_ok "$KUBECTL" __complete migrate status vm
expect_eq "$(head -n1 <<<"$OUT")" "vmi-fedora" "status <TAB> completes the VMI name"
expect_ok "$KUBECTL" __complete migrate vmi-fedora -o ""
expect_eq "$(sed '$d' <<<"$OUT" | tr '\n' ' ')" "json name yaml " "-o <TAB> offers the formats"
expect_ok km completion bash
expect_contains "$OUT" "complete -F _kubectl_migrate kubectl-migrate"
run bash -c 'source <(kubectl-migrate completion bash); COMP_WORDS=(kubectl-migrate sta); COMP_CWORD=1; _kubectl_migrate; echo "${COMPREPLY[*]}"'
expect_eq "$OUT" "status" "the bash script completes through the plugin"
expect_ok km completion zsh
expect_contains "$OUT" "compdef _kubectl_migrate kubectl-migrate"
run km completion fish
expect_eq "$RC" 2 "an unknown shell is a usage error"

stop_devcluster
finish
