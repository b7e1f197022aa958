#!/usr/bin/env bash
# Prints the libvirt domain XML of an end-to-end test guest (built by build.sh) on stdout.
#
# Usage: domain-xml.sh --name NAME --guest-dir DIR --serial-log PATH
#                      [--memory-mib 256] [--size-mib 64] [--dirty-mib-s 0] [--disk PATH]
#                      [--vcpus 1] [--type qemu]
#   --guest-dir    build.sh's OUT_DIR (kernel and initramfs; the same path on every node)
#   --serial-log   the guest's console (ttyS0) as a file, opened by QEMU in its node's
#                  namespace: put it under the node's data directory so that each node writes
#                  its own file (after a migration, the target's file continues the story)
#   --size-mib     memory buffer /init fills, checks and dirties (km.size_mib)
#   --dirty-mib-s  dirty rate (km.dirty_mib_s)
#   --disk         a raw file attached as virtio disk vda; /init writes and checks a pattern
#   --type         qemu (TCG, the default: KVM hangs Linux guests on these machines,
#                  design.md section 6) or kvm; a qemu guest boots with pti=on km.spin=1 (see below)
set -euo pipefail

die() {
  echo "guest/domain-xml.sh: $*" >&2
  exit 1
}

name="" guest_dir="" serial_log="" memory_mib=256 size_mib=64 dirty=0 disk="" vcpus=1 type=qemu
while (($#)); do
  (($# >= 2)) || die "option $1 needs a value"
  case $1 in
    --name) name=$2 ;;
    --guest-dir) guest_dir=$2 ;;
    --serial-log) serial_log=$2 ;;
    --memory-mib) memory_mib=$2 ;;
    --size-mib) size_mib=$2 ;;
    --dirty-mib-s) dirty=$2 ;;
    --disk) disk=$2 ;;
    --vcpus) vcpus=$2 ;;
    --type) type=$2 ;;
    *) die "unknown option $1" ;;
  esac
  shift 2
done
[[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || die "--name must be [A-Za-z0-9_.-]+, got '$name'"
[[ -n $guest_dir ]] || die "--guest-dir is required"
[[ -f $guest_dir/vmlinuz && -f $guest_dir/initrd.img ]] ||
  die "$guest_dir has no vmlinuz/initrd.img (run guest/build.sh $guest_dir)"
[[ $serial_log == /* ]] || die "--serial-log must be an absolute path, got '$serial_log'"
for v in memory_mib size_mib dirty vcpus; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "--${v//_/-} must be a number, got '${!v}'"
done
((size_mib + 64 <= memory_mib)) ||
  die "--size-mib $size_mib leaves the kernel too little of --memory-mib $memory_mib (keep 64 MiB)"
[[ $type == qemu || $type == kvm ]] || die "--type must be qemu or kvm, got '$type'"
[[ -z $disk || $disk == /* ]] || die "--disk must be an absolute path, got '$disk'"
guest_dir=$(cd "$guest_dir" && pwd)

cmdline="console=ttyS0 quiet panic=0 km.size_mib=$size_mib km.dirty_mib_s=$dirty"
# TCG only: pti=on km.spin=1, the workaround for QEMU 7.2 losing guest writes during a live
# migration. QEMU's migration bitmap sync (the 64-pages-at-a-time path of
# cpu_physical_memory_sync_dirty_bitmap) clears the dirty bits without re-arming the TCG TLB
# (TLB_NOTDIRTY), so a page whose TLB entry stays cached keeps being written without being marked
# dirty again, and its last writes never reach the target (fixed upstream in QEMU 9.0 by
# "physmem: Fix migration dirty bitmap coherency with TCG memory access"; not in Debian 12's
# 7.2). The kernel's own hot pages (its stacks, timer queues) are such pages: the guest crashes
# on the target. QEMU flushes its whole TLB at every CR3 write; with page table isolation the
# guest writes CR3 at every kernel entry and exit, and with km.spin=1 /init waits in a loop of
# system calls instead of sleeping: the TLB is flushed every few microseconds, so a stale entry
# hardly outlives a sync. It narrows the window, it does not close it (tests/e2e/README.md).
if [[ $type == qemu ]]; then cmdline+=" pti=on km.spin=1"; fi
disk_xml=""
if [[ -n $disk ]]; then
  cmdline+=" km.disk=/dev/vda"
  disk_xml="
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$disk'/>
      <target dev='vda' bus='virtio'/>
    </disk>"
fi

cat <<XML
<domain type='$type'>
  <name>$name</name>
  <memory unit='MiB'>$memory_mib</memory>
  <vcpu>$vcpus</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$guest_dir/vmlinuz</kernel>
    <initrd>$guest_dir/initrd.img</initrd>
    <cmdline>$cmdline</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>$disk_xml
    <serial type='file'>
      <source path='$serial_log'/>
      <target port='0'/>
    </serial>
    <console type='file'>
      <source path='$serial_log'/>
      <target type='serial' port='0'/>
    </console>
    <memballoon model='none'/>
  </devices>
</domain>
XML
