#!/usr/bin/env bash
# End-to-end: a libvirt domain built by engine/domain_xml.h from a VMI spec (design.md §4.3)
# boots on node01 and live-migrates to node02, with its node-local emptyDisk copied
# (--copy-storage-all onto the file the target created from BlockMigrationTargetFiles).
#
# The VMI uses direct kernel boot from an image directory (kernelBoot.container.image names
# a directory under the node's image dir, holding guest/build.sh's kernel and initramfs; each
# node has its own copy), an emptyDisk the guest checks (km.disk=/dev/vda), a masquerade
# interface (QEMU user-mode networking) with a fixed MAC, and 2 vCPUs as 1 socket × 2 cores.
# A PVC disk stands for RWX storage: its file is outside the nodes' private directories (both
# see the same file), declared shared, so it gets cache='none', is left out of the target's
# file list and is not copied; libvirt cannot tell that this local path is shared, so the
# migration adds --unsafe (design.md §6: only for operator-declared shared paths).
#
# Usage: domain_xml_test.sh
# Environment:
#   KM_BIN_DIR           where vmi_domain_xml is (default: build/bin of this checkout)
#   KM_E2E_GUEST_DIR     where guest/build.sh puts the guest (default: under the temp dir)
#   KM_E2E_STATE_DIR     the nodes' state dir (default: under the temp dir)
#   KM_E2E_KEEP=1        keep the temp dir even when the test passes
#   KM_E2E_NODE0{1,2}_PORT, KM_E2E_NODE0{1,2}_MIGRATION_PORTS: passed on to nodes.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=${KM_BIN_DIR:-$here/../../build/bin}
tmp=$(mktemp -d /tmp/km-e2e-domxml.XXXXXX)
export KM_E2E_STATE_DIR=${KM_E2E_STATE_DIR:-$tmp/nodes}
guest_dir=${KM_E2E_GUEST_DIR:-$tmp/guest}
ns=e2e vm=dom-vm
name=${ns}_${vm}              # the domain name DomainName() must give
uid=3f0c2a8e-6d4b-4f1a-9c7e-2b5d8e1f0a94
mac=52:54:00:6b:6d:01
data_dir=/var/lib/kubemigrate # KM_E2E_DATA_DIR's default, inside each node's namespace
serial_log=$data_dir/$name.log
disk_path=$data_dir/$name/scratch.img
shared_path=$tmp/shared/data.img # the "bound PV" of claim data-pvc, seen by both nodes
result=1

test_name=domain_xml_test
# shellcheck source=tests/e2e/lib.sh
source "$here/lib.sh"
trap cleanup EXIT

((EUID == 0)) || fail "must run as root (libvirt nodes in mount namespaces)"
[[ -x $bin/vmi_domain_xml ]] || fail "no $bin/vmi_domain_xml (build the target vmi_domain_xml)"
command -v virsh >/dev/null || fail "missing program virsh"

"$here/guest/build.sh" "$guest_dir" || fail "guest/build.sh failed"
# shellcheck disable=SC1091
source "$guest_dir/guest.env"
[[ $DISK_SUPPORT == yes ]] || fail "the guest kernel has no virtio_blk: the disk check cannot run"

"$here/nodes.sh" up || fail "nodes.sh up failed"
eval "$("$here/nodes.sh" env)"
uri1=$KM_E2E_NODE01_URI
uri2=$KM_E2E_NODE02_URI

# The kernelBoot image directory, on each node (as an image would be on every node).
for d in "$KM_E2E_NODE01_DATA" "$KM_E2E_NODE02_DATA"; do
  mkdir -p "$d/images/km-guest"
  cp "$guest_dir/vmlinuz" "$guest_dir/initrd.img" "$d/images/km-guest/"
done

cat >"$tmp/vmi.json" <<EOF
{
  "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
  "metadata": {"name": "$vm", "namespace": "$ns", "uid": "$uid"},
  "spec": {
    "domain": {
      "cpu": {"sockets": 1, "cores": 2, "threads": 1},
      "memory": {"guest": "192Mi"},
      "firmware": {"kernelBoot": {
        "kernelArgs": "console=ttyS0 quiet panic=0 km.size_mib=32 km.dirty_mib_s=0 km.disk=/dev/vda",
        "container": {"image": "km-guest", "kernelPath": "/vmlinuz", "initrdPath": "/initrd.img"}}},
      "devices": {
        "disks": [{"name": "scratch", "disk": {"bus": "virtio"}, "serial": "SCRATCH-1"},
                  {"name": "data", "disk": {"bus": "virtio"}}],
        "interfaces": [{"name": "default", "masquerade": {}, "macAddress": "$mac"}]
      }
    },
    "networks": [{"name": "default", "pod": {}}],
    "volumes": [{"name": "scratch", "emptyDisk": {"capacity": "16Mi"}},
                {"name": "data", "persistentVolumeClaim": {"claimName": "data-pvc"}}]
  }
}
EOF

gen=("$bin/vmi_domain_xml" "$tmp/vmi.json" --type qemu --image-dir "$data_dir/images"
  --serial-log "$serial_log" --volume "scratch=$disk_path" --volume "data=$shared_path,shared")
"${gen[@]}" >"$tmp/domain.xml" || fail "vmi_domain_xml failed"
"${gen[@]}" --target-files >"$tmp/target-files" || fail "vmi_domain_xml --target-files failed"
if command -v virt-xml-validate >/dev/null; then
  virt-xml-validate "$tmp/domain.xml" domain >/dev/null 2>&1 || fail "the domain XML is not valid: $(cat "$tmp/domain.xml")"
fi
grep -q "<name>$name</name>" "$tmp/domain.xml" || fail "the domain is not named $name"
# The target's preparation list: exactly the emptyDisk, at its capacity (16 MiB).
[[ "$(cat "$tmp/target-files")" == "scratch vda $disk_path 16777216 raw rw" ]] ||
  fail "unexpected target files: $(cat "$tmp/target-files")"

grep -q "<driver name='qemu' type='raw' cache='none'/>" "$tmp/domain.xml" ||
  fail "the shared disk has no cache='none'"
mkdir -p "$tmp/shared"
truncate -s 8M "$shared_path"

# The source's emptyDisk, as the engine creates it at start.
mkdir -p "$KM_E2E_NODE01_DATA/$name"
truncate -s 16M "$KM_E2E_NODE01_DATA/$name/scratch.img"

virsh -q -c "$uri1" define "$tmp/domain.xml" >/dev/null || fail "virsh define on node01 failed"
virsh -q -c "$uri1" start "$name" >/dev/null || fail "virsh start on node01 failed"
wait_alive "$(serial node01)" 2 90
boot=$(tr -d '\r' <"$(serial node01)" | grep -m1 '^km: boot ') || fail "no 'km: boot' line on node01"
memsum=$(sed -E 's/.* memsum=([0-9a-f]{16}).*/\1/' <<<"$boot")
while read -r n sum verdict; do
  [[ $sum == "$memsum" && $verdict == "ok disk=ok" ]] ||
    fail "node01: n=$n memsum=$sum '$verdict' (want memsum=$memsum 'ok disk=ok')"
done < <(alive_lines "$(serial node01)")
say "$name runs on node01: $boot"

# What libvirt made of it: 2 vCPUs, the user-mode NIC with our MAC, our metadata.
live=$(virsh -q -c "$uri1" dumpxml "$name") || fail "virsh dumpxml on node01 failed"
grep -q "<vcpu placement='static'>2</vcpu>" <<<"$live" || fail "not 2 vCPUs: $live"
grep -q "<topology sockets='1' dies='1' cores='2' threads='1'/>\|<topology sockets='1' cores='2' threads='1'/>" <<<"$live" ||
  fail "no 1x2x1 topology: $live"
grep -q "<interface type='user'>" <<<"$live" || fail "no user-mode interface: $live"
grep -q "cache='none'" <<<"$live" || fail "libvirt dropped cache='none' from the shared disk: $live"
grep -q "<mac address='$mac'/>" <<<"$live" || fail "the MAC is not $mac: $live"
grep -q "<uuid>$uid</uuid>" <<<"$live" || fail "the uuid is not the VMI's uid: $live"
grep -q "namespace=\"$ns\" name=\"$vm\" uid=\"$uid\"\|namespace='$ns' name='$vm' uid='$uid'" <<<"$live" ||
  fail "no kubemigrate metadata in the live XML: $live"

# The target prepares the files its preparation list names (inside node02's namespace).
migrate_disks=()
while read -r _vol dev path size _format _mode; do
  "$here/nodes.sh" exec node02 sh -c "mkdir -p \"\$(dirname '$path')\" && truncate -s $size '$path'" ||
    fail "cannot create $path on node02"
  migrate_disks+=("$dev")
done <"$tmp/target-files"

if ! timeout 180 virsh -c "$uri1" migrate --live --p2p --persistent --undefinesource \
  --bandwidth 100 --unsafe --copy-storage-all --migrate-disks "$(
    IFS=,
    echo "${migrate_disks[*]}"
  )" "$name" "$uri2" >"$tmp/migrate.out" 2>&1; then
  fail "virsh migrate failed: $(tr '\n' ' ' <"$tmp/migrate.out")"
fi

# The source's console stops at the switch-over; the target's must continue from there.
last_src=$(alive_lines "$(serial node01)" | tail -n 1 | cut -d' ' -f1)
state=$(virsh -q -c "$uri2" domstate "$name" 2>&1) || fail "node02 does not know $name: $state"
[[ $state == running ]] || fail "$name on node02 is '$state', want running"
if virsh -q -c "$uri1" list --all --name | grep -qx "$name"; then
  fail "$name is still defined on node01"
fi
wait_alive "$(serial node02)" 2 60
if grep -q '^km: boot ' "$(serial node02)"; then
  fail "the guest booted again on node02"
fi
first=1
while read -r n sum verdict; do
  if ((first)); then
    ((n > last_src && n <= last_src + 3)) || fail "node02 starts at n=$n after node01's n=$last_src"
    first=0
  fi
  [[ $sum == "$memsum" && $verdict == "ok disk=ok" ]] ||
    fail "node02: n=$n memsum=$sum '$verdict' (want memsum=$memsum 'ok disk=ok')"
done < <(alive_lines "$(serial node02)")
[[ "$(head -c 7 "$KM_E2E_NODE02_DATA/$name/scratch.img")" == KMDISK1 ]] ||
  fail "node02's emptyDisk file has no pattern header: it was not copied"

# The engine on node02 maps the domain back to its VMI from the persistent definition.
def2=$(virsh -q -c "$uri2" dumpxml --inactive "$name") || fail "virsh dumpxml on node02 failed"
echo "$def2" >"$tmp/node02-inactive.xml"
ref=$("$bin/vmi_domain_xml" --vmi-ref "$tmp/node02-inactive.xml") ||
  fail "VMIRefFromDomainXml cannot read node02's definition: $def2"
[[ $ref == "$ns $vm $uid" ]] || fail "node02's definition maps back to '$ref', want '$ns $vm $uid'"

virsh -q -c "$uri2" destroy "$name" >/dev/null || fail "virsh destroy on node02 failed"
virsh -q -c "$uri2" undefine "$name" >/dev/null || fail "virsh undefine on node02 failed"
say "PASS: $name (from VMI $ns/$vm) booted by kernelBoot on node01 and live-migrated with its emptyDisk to node02; memsum=$memsum kept, n $last_src -> $(alive_lines "$(serial node02)" | tail -n 1 | cut -d' ' -f1)"
result=0
