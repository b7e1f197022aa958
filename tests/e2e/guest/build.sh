#!/usr/bin/env bash
# Builds the end-to-end test guest into OUT_DIR from Debian packages only (no downloads):
#   OUT_DIR/vmlinuz     the kernel of linux-image-cloud-amd64 (/boot/vmlinuz-*-cloud-amd64)
#   OUT_DIR/initrd.img  a gzip'd cpio whose /init is init.c, built static; with the kernel's
#                       virtio_pci and virtio_blk modules (and what they depend on, from
#                       modules.dep) when the kernel has them as modules, listed in load order
#                       in /modules.load for /init to load when km.disk= is given
#   OUT_DIR/guest.env   KERNEL=, INITRD=, DISK_SUPPORT=yes|no (shell assignments)
# Fast and idempotent: nothing is rebuilt when init.c, this script and the kernel are unchanged.
#
# Usage: build.sh OUT_DIR
# Environment: KM_E2E_KERNEL  a kernel image to use instead of the newest *-cloud-amd64 one;
#              its modules are taken from /lib/modules/VERSION (VERSION from its file name).
set -euo pipefail

die() {
  echo "guest/build.sh: $*" >&2
  exit 1
}

(($# == 1)) || die "usage: build.sh OUT_DIR"
out=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

kernel=${KM_E2E_KERNEL:-}
if [[ -z $kernel ]]; then
  kernel=$(find /boot -maxdepth 1 -name 'vmlinuz-*-cloud-amd64' 2>/dev/null | sort -V | tail -n 1)
  [[ -n $kernel ]] || die "no /boot/vmlinuz-*-cloud-amd64 (install linux-image-cloud-amd64)"
fi
[[ -r $kernel ]] || die "cannot read kernel $kernel"
version=${kernel##*/vmlinuz-}
moddir=/lib/modules/$version
for t in gcc cpio gzip; do
  command -v "$t" >/dev/null || die "missing program $t (run scripts/install-deps.sh)"
done

mkdir -p "$out" || die "cannot create $out"
key="$(sha256sum "$here/init.c" "$here/build.sh" | cut -d' ' -f1 | tr '\n' ' ') $(stat -c '%n %s %Y' "$kernel")"
if [[ -f $out/stamp && "$(cat "$out/stamp")" == "$key" && -f $out/initrd.img && -f $out/vmlinuz ]]; then
  exit 0
fi
rm -f "$out/stamp"

stage=$out/initramfs.d
rm -rf "$stage"
mkdir -p "$stage"/{dev,proc,lib/modules}
gcc -static -O2 -Wall -Wextra -Werror -o "$stage/init" "$here/init.c" ||
  die "cannot build init.c (gcc -static needs libc6-dev)"
# The kernel opens /dev/console before /init runs: without the node /init's output is lost
# (init.c also reopens it from devtmpfs, for builds made without root).
if ! mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null; then
  echo "guest/build.sh: cannot create dev/console (not root); /init will reopen the console" >&2
fi

# virtio_blk needs the virtio PCI transport too; modules.dep names each module's dependencies,
# which are loaded first (depth first, each once).
disk_support=no
declare -A seen=()
load_order=()
add_module() { # relative path as in modules.dep
  local m=$1 deps d
  [[ -z ${seen[$m]:-} ]] || return 0
  seen[$m]=1
  deps=$(grep -m1 "^$m:" "$moddir/modules.dep" | cut -d: -f2) ||
    die "$m is not in $moddir/modules.dep"
  for d in $deps; do add_module "$d"; done
  load_order+=("$m")
}
config=/boot/config-$version
if grep -q '^CONFIG_VIRTIO_BLK=y' "$config" 2>/dev/null; then
  disk_support=yes
elif [[ -f $moddir/modules.dep ]]; then
  blk=$(grep -m1 -o '^[^:]*/virtio_blk\.ko[^:]*' "$moddir/modules.dep" || true)
  pci=$(grep -m1 -o '^[^:]*/virtio_pci\.ko[^:]*' "$moddir/modules.dep" || true)
  if [[ -n $blk ]]; then
    [[ -z $pci ]] || add_module "$pci"
    add_module "$blk"
    for m in "${load_order[@]}"; do
      case $m in
        *.ko) cp "$moddir/$m" "$stage/lib/modules/" ;;
        *) die "compressed module $m is not supported (init.c loads plain .ko files)" ;;
      esac
      echo "/lib/modules/${m##*/}" >>"$stage/modules.load"
    done
    disk_support=yes
  fi
fi
[[ $disk_support == yes ]] ||
  echo "guest/build.sh: no virtio_blk in $moddir: guests get no disk support" >&2

(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
  gzip -9 >"$out/initrd.img.tmp"
mv "$out/initrd.img.tmp" "$out/initrd.img"
cp "$kernel" "$out/vmlinuz.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
cat >"$out/guest.env" <<ENV
KERNEL=$out/vmlinuz
INITRD=$out/initrd.img
DISK_SUPPORT=$disk_support
KERNEL_VERSION=$version
ENV
echo "$key" >"$out/stamp"
echo "guest/build.sh: built $out (kernel $version, disk support: $disk_support)" >&2
