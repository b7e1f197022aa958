#!/usr/bin/env bash
# End-to-end: plain `virsh migrate --live --p2p` of the test guest between the two local libvirt
# nodes of nodes.sh (design.md section 6), proving that the guest kept running and that its
# memory (and, with --disk, its node-local disk copied by --copy-storage-all) survived.
#
# Usage: migrate_test.sh [--disk]
# Environment:
#   KM_E2E_GUEST_DIR      where guest/build.sh puts the guest (default: under the temp dir)
#   KM_E2E_DIRTY_MIB_S    the guest's dirty rate during the migration (default 0; see README:
#                         QEMU 7.2 under TCG loses writes during a live migration; the guest's
#                         pti=on from guest/domain-xml.sh works around it)
#   KM_E2E_KEEP=1         keep the temp dir (logs, serial consoles) even when the test passes
#   KM_E2E_NODE0{1,2}_PORT, KM_E2E_NODE0{1,2}_MIGRATION_PORTS: passed on to nodes.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
disk=0
case ${1:-} in
  --disk) disk=1 ;;
  "") ;;
  *)
    echo "usage: migrate_test.sh [--disk]" >&2
    exit 2
    ;;
esac

tmp=$(mktemp -d /tmp/km-e2e-migrate.XXXXXX)
export KM_E2E_STATE_DIR=$tmp/nodes
guest_dir=${KM_E2E_GUEST_DIR:-$tmp/guest}
dirty=${KM_E2E_DIRTY_MIB_S:-0}
name=km-e2e-$([[ $disk == 1 ]] && echo disk || echo mem)
data_dir=/var/lib/kubemigrate # KM_E2E_DATA_DIR's default, inside each node's namespace
result=1

now() { echo $(($(date +%s%N) / 1000000)); } # milliseconds
secs() { printf '%d.%02d' $((($2 - $1) / 1000)) $((($2 - $1) % 1000 / 10)); }
test_name=migrate_test
# shellcheck source=tests/e2e/lib.sh
source "$here/lib.sh"
trap cleanup EXIT

((EUID == 0)) || fail "must run as root (libvirt nodes in mount namespaces)"
for t in virsh truncate; do command -v $t >/dev/null || fail "missing program $t"; done

t_start=$(now)
"$here/guest/build.sh" "$guest_dir" || fail "guest/build.sh failed"
# shellcheck disable=SC1091
source "$guest_dir/guest.env"
if ((disk)) && [[ $DISK_SUPPORT != yes ]]; then
  fail "kernel $KERNEL_VERSION has no virtio_blk: the disk test cannot run"
fi
t_built=$(now)

"$here/nodes.sh" up || fail "nodes.sh up failed"
eval "$("$here/nodes.sh" env)"
t_up=$(now)
uri1=$KM_E2E_NODE01_URI
uri2=$KM_E2E_NODE02_URI

disk_args=()
copy_storage=()
if ((disk)); then
  # Each node has its own file at the same path (its own data directory): the target's is
  # created empty, as the target engine will do, and must receive the source's content.
  truncate -s 16M "$KM_E2E_NODE01_DATA/$name.img" "$KM_E2E_NODE02_DATA/$name.img"
  disk_args=(--disk "$data_dir/$name.img")
  copy_storage=(--copy-storage-all)
fi
"$here/guest/domain-xml.sh" --name "$name" --guest-dir "$guest_dir" \
  --serial-log "$data_dir/$name.log" --memory-mib 192 --size-mib 32 --dirty-mib-s "$dirty" \
  "${disk_args[@]}" >"$tmp/$name.xml"
virsh -q -c "$uri1" define "$tmp/$name.xml" >/dev/null || fail "virsh define on node01 failed"
virsh -q -c "$uri1" start "$name" >/dev/null || fail "virsh start on node01 failed"
t_started=$(now)
wait_alive "$(serial node01)" 1 60
t_alive=$(now)
wait_alive "$(serial node01)" 2 30

boot=$(tr -d '\r' <"$(serial node01)" | grep -m1 '^km: boot ') || fail "no 'km: boot' line on node01"
memsum=$(sed -E 's/.* memsum=([0-9a-f]{16}).*/\1/' <<<"$boot")
want="ok"
((disk)) && want="ok disk=ok"
while read -r n sum verdict; do
  [[ $sum == "$memsum" && $verdict == "$want" ]] ||
    fail "node01 before the migration: n=$n memsum=$sum '$verdict' (want memsum=$memsum '$want')"
done < <(alive_lines "$(serial node01)")
say "guest $name runs on node01: $boot"

t_mig=$(now)
if ! timeout 180 virsh -c "$uri1" migrate --live --p2p --persistent --undefinesource \
  --bandwidth 100 "${copy_storage[@]}" "$name" "$uri2" >"$tmp/migrate.out" 2>&1; then
  fail "virsh migrate failed: $(tr '\n' ' ' <"$tmp/migrate.out")"
fi
t_migrated=$(now)
last_src=$(alive_lines "$(serial node01)" | tail -n 1 | cut -d' ' -f1)

# The domain exists on node02 only: running and persistent there, gone from node01.
state=$(virsh -q -c "$uri2" domstate "$name" 2>&1) || fail "node02 does not know $name: $state"
[[ $state == running ]] || fail "$name on node02 is '$state', want running"
info=$(virsh -q -c "$uri2" dominfo "$name") || fail "virsh dominfo on node02 failed"
grep -qE '^Persistent: +yes' <<<"$info" || fail "$name on node02 is not persistent"
names=$(virsh -q -c "$uri1" list --all --name) || fail "virsh list on node01 failed"
if grep -qx "$name" <<<"$names"; then
  fail "$name is still defined on node01 after --undefinesource"
fi

# The guest goes on where it was: node02's console continues the count, no reboot, same memory.
wait_alive "$(serial node02)" 2 30
t_alive2=$(now)
if grep -q '^km: boot ' "$(serial node02)"; then
  fail "the guest booted again on node02 (its memory was not migrated)"
fi
first=1
while read -r n sum verdict; do
  if ((first)); then
    ((n > last_src && n <= last_src + 3)) ||
      fail "node02's first alive line has n=$n; node01's last had n=$last_src (the count must go on)"
    first=0
  fi
  [[ $sum == "$memsum" ]] || fail "node02: memsum=$sum at n=$n, want $memsum (memory changed)"
  [[ $verdict == "$want" ]] || fail "node02: '$verdict' at n=$n, want '$want'"
done < <(alive_lines "$(serial node02)")
if ((disk)); then
  # The verdicts above read the disk through O_DIRECT; check the target file itself too.
  [[ "$(head -c 7 "$KM_E2E_NODE02_DATA/$name.img")" == KMDISK1 ]] ||
    fail "node02's disk file has no pattern header: the disk was not copied"
fi

virsh -q -c "$uri2" destroy "$name" >/dev/null || fail "virsh destroy on node02 failed"
virsh -q -c "$uri2" undefine "$name" >/dev/null || fail "virsh undefine on node02 failed"
t_end=$(now)

say "PASS: $name migrated node01 -> node02$( ((disk)) && echo ' with --copy-storage-all'), memsum=$memsum kept, n $last_src -> $(alive_lines "$(serial node02)" | tail -n 1 | cut -d' ' -f1)"
say "timing: guest build $(secs "$t_start" "$t_built") s, nodes up $(secs "$t_built" "$t_up") s," \
  "start to first alive line $(secs "$t_started" "$t_alive") s," \
  "virsh migrate $(secs "$t_mig" "$t_migrated") s, first lines on node02 after $(secs "$t_migrated" "$t_alive2") s," \
  "total $(secs "$t_start" "$t_end") s (dirty rate $dirty MiB/s, bandwidth 100 MiB/s)"
result=0
