// Command-line flags of migration-engine. Pure parsing and checking: no files
// are read (whether /dev/kvm exists is passed in).
#pragma once

#include <string>
#include <vector>

#include "base/log.h"
#include "base/status.h"

namespace engine {

struct Flags {
  std::string node_name;                       // this node (kubernetes.io/hostname); required
  std::string libvirt_uri = "qemu:///system";  // the local libvirt daemon
  std::string advertise_libvirt_uri;           // how peers reach it; required
  std::string migration_address;               // address for the migration data stream
  std::string kubeconfig;                      // empty: KUBECONFIG, in-cluster, ~/.kube/config
  std::string image_dir = "/var/lib/kubemigrate/images";  // containerDisk/kernelBoot images
  std::string data_dir = "/var/lib/kubemigrate/disks";    // emptyDisk and cloud-init files
  std::string domain_type;  // "kvm" or "qemu"; empty: kvm when /dev/kvm exists
  std::string kubevirt_namespace = "kubevirt";
  std::string kubevirt_name = "kubevirt";
  std::string bind_address = "0.0.0.0";  // of the metrics and health endpoints
  int metrics_port = 9100;               // 0: any free port
  int healthz_port = 9101;               // 0: any free port
  int lease_duration_seconds = 40;       // a node whose lease is older is not a target
  bool migration_tls = false;            // VIR_MIGRATE_TLS (libvirt's TLS between daemons)
  std::string bridge;                    // host bridge of `bridge: {}` NICs; empty: refused
  std::string nfs_mount_dir;             // NFS exports mounted as DIR/SERVER/PATH; empty: refused
  base::log::Options log;
  bool help = false;
};

std::string Usage();

// Parses and checks `args` (argv without the program name): every problem is
// listed, one per line, in the one InvalidArgument. `have_kvm` decides the
// default of --domain-type.
base::StatusOr<Flags> ParseFlags(const std::vector<std::string>& args, bool have_kvm);

}  // namespace engine
