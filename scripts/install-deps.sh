#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the demo need.
# Idempotent: packages already present are left alone. Needs root.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config
  # libraries
  libcpp-httplib-dev libssl-dev rapidjson-dev libyaml-cpp-dev catch2 libvirt-dev
  libspdlog-dev libcli11-dev
  # tools the tests and scripts use
  openssl ca-certificates curl procps python3
  # webhook tests (jq, YAML → JSON) and bench/webhook.sh (nginx baseline, load generator)
  jq python3-yaml nginx-light wrk
  # the libFuzzer run of tests/fuzz/run.sh (clang's fuzzer runtime)
  clang libclang-rt-14-dev
  # end-to-end tests (tests/e2e): two libvirt daemons as two nodes (libvirtd, its QEMU driver,
  # virsh), QEMU to run the guests (TCG), the guest's kernel and virtio_blk module
  # (linux-image-cloud-amd64), cpio + gzip for its initramfs, unshare/nsenter/mount for the
  # nodes' mount namespaces
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86
  linux-image-cloud-amd64 cpio gzip util-linux mount
  # the engine's node files (engine/node_files.h): cloud-init NoCloud ISOs (genisoimage, whose
  # isoinfo the unit tests read them back with) and containerDisk overlays (qemu-img)
  genisoimage qemu-utils
  # monitoring tests (tests/monitoring): promtool (`check metrics`, `check rules`, `test rules`)
  prometheus
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi

if ! command -v kubectl >/dev/null; then
  echo "install-deps: kubectl is not on PATH; it comes with the machine image (/usr/bin/kubectl)" >&2
  exit 1
fi
