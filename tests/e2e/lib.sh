# Shared by the e2e test scripts (sourced): messages, teardown, and reading the test guest's
# serial console. The script sets, before sourcing: here (this folder), test_name, tmp (its temp
# dir), name (the domain), result (1 until the test passes), and exports KM_E2E_STATE_DIR.
# shellcheck shell=bash

say() { echo "$test_name: $*"; }
fail() {
  echo "$test_name: FAIL: $*" >&2
  exit 1
}

# On failure prints the consoles and daemon logs of both nodes; always stops the nodes; removes
# the temp dir when the test passed (unless KM_E2E_KEEP=1).
cleanup() {
  set +e
  if ((result != 0)); then
    for n in node01 node02; do
      for f in "$KM_E2E_STATE_DIR/$n/data/$name.log" "$KM_E2E_STATE_DIR/$n/log/libvirtd.log" \
        "$KM_E2E_STATE_DIR/$n/log/qemu/$name.log"; do
        [[ -f $f ]] || continue
        echo "----- $n: ${f#"$KM_E2E_STATE_DIR/"} (last 15 lines)" >&2
        tail -n 15 "$f" >&2
      done
    done
  fi
  "$here/nodes.sh" down >/dev/null 2>&1 || echo "$test_name: nodes.sh down failed" >&2
  if ((result == 0)) && [[ ${KM_E2E_KEEP:-0} != 1 ]]; then
    rm -rf "$tmp"
  else
    echo "$test_name: kept $tmp" >&2
  fi
}

# The serial console of the domain on NODE (a file in the node's data directory).
serial() { echo "$KM_E2E_STATE_DIR/$1/data/$name.log"; }

# Complete "alive" lines of a serial log as "N MEMSUM VERDICT" (a line cut by the switch-over
# is ignored; the kernel's messages are not alive lines).
alive_lines() {
  # The guest's tty ends lines with CR LF.
  tr -d '\r' <"$1" 2>/dev/null | sed -n -E 's/^km: alive n=([0-9]+) memsum=([0-9a-f]{16}) (.*)$/\1 \2 \3/p' || true
}

# wait_alive FILE COUNT SECONDS: until FILE has COUNT alive lines; fails at once when the guest
# reports trouble, and after SECONDS.
wait_alive() {
  local file=$1 count=$2 timeout=$3 deadline=$((SECONDS + $3))
  while :; do
    if grep -qE 'BUG|Kernel panic|km: FATAL' "$file" 2>/dev/null; then
      fail "the guest reported a failure in ${file#"$tmp/"}: $(grep -m1 -E 'BUG|Kernel panic|km: FATAL' "$file")"
    fi
    (($(alive_lines "$file" | wc -l) >= count)) && return 0
    ((SECONDS <= deadline)) || fail "no $count alive lines in ${file#"$tmp/"} within ${timeout}s"
    sleep 0.2
  done
}
