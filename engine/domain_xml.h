// The libvirt domain a VMI runs as (design.md §4.3): a pure translation of the
// VMI's spec plus the node-local facts the engine resolved, to libvirt domain
// XML. No I/O: the engine resolves paths (image directory, bound PVs, the
// cloud-init ISO it wrote) into DomainSources first, then calls BuildDomainXml
// and hands the result to Hypervisor::Define.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/types.h"
#include "base/status.h"

namespace engine {

// Where one volume's bytes are on this node.
struct VolumeSource {
  enum class Type { kFile, kBlock };
  Type type = Type::kFile;
  std::string path;            // absolute; a regular file (kFile) or a block device (kBlock)
  std::string format = "raw";  // the image format QEMU opens: "raw" or "qcow2"
  // On storage every node sees (an RWX PV, an operator-declared shared path):
  // the disk gets cache='none' (libvirt refuses a live migration of a shared
  // disk with host caching) and is never copied by a block migration.
  bool shared = false;
  // The size a block migration's target needs (bytes); 0 = unknown, then an
  // emptyDisk's or hostDisk's spec capacity is used.
  uint64_t size_bytes = 0;
};

// The node-local facts for one VMI. Keys of `volumes` are spec.volumes[].name.
// For containerDisk: the image file under the image directory; emptyDisk and
// hostDisk: the file the engine created; persistentVolumeClaim/dataVolume: the
// bound PV's path (hostPath, local or an NFS mount); cloudInitNoCloud: the
// NoCloud ISO the engine wrote (attached read-only).
struct DomainSources {
  std::map<std::string, VolumeSource> volumes;
  // kernelBoot: kernelPath/initrdPath resolved under the image directory of
  // kernelBoot.container.image. Required when spec.domain.firmware.kernelBoot
  // is set (initrd may be empty when initrdPath is).
  std::string kernel_path;
  std::string initrd_path;
};

// Per-node settings (engine flags).
struct DomainSettings {
  std::string domain_type = "kvm";  // "kvm" or "qemu" (TCG)
  std::string serial_log_path;      // absolute; required: the console goes to this file
  std::string bridge_name;          // the host bridge for `bridge: {}` interfaces
  std::string emulator;             // e.g. /usr/bin/qemu-system-x86_64; empty: libvirt's default
  std::string arch = "x86_64";
  std::string machine;  // e.g. "pc", "q35"; empty: libvirt's default for the arch
};

// IMAGE_DIR/IMAGE/RELATIVE for kernelBoot.container.{kernelPath,initrdPath}
// and containerDisk images (design.md §4.3: an image names a directory under
// the engine's --image-dir). `image` may hold '/' (registry-style names);
// `relative` may start with '/' (KubeVirt writes "/boot/vmlinuz"): both stay
// inside the image directory. InvalidArgument naming `field` when image is
// empty, a component is "." or "..", or text has control characters.
base::StatusOr<std::string> ImagePath(std::string_view image_dir, std::string_view image,
                                      std::string_view relative, std::string_view field);

// The libvirt domain name of VMI ns/name: "ns_name" (design.md §4.2).
// Kubernetes names are DNS-1123 (namespace: label of [a-z0-9-], at most 63;
// VMI: subdomain of [a-z0-9.-], at most 253), so the name uses only
// [a-z0-9._-], is at most 317 characters, and '_' (in neither part) makes it
// reversible. libvirt forbids only '/' (and control characters) and has no
// length limit of its own; QEMU's per-domain paths use libvirt's shortened
// name. InvalidArgument when ns or name is not a valid Kubernetes name, so no
// name libvirt dislikes can come out.
base::StatusOr<std::string> DomainName(std::string_view ns, std::string_view name);

struct VMIRef {
  std::string namespace_;
  std::string name;
  std::string uid;  // may be empty
  friend bool operator==(const VMIRef&, const VMIRef&) = default;
};

// The inverse of DomainName by the name alone: splits at the first '_' and
// checks both parts. NotFound for names that are not ours ("other-domain").
base::StatusOr<VMIRef> ParseDomainName(std::string_view domain_name);

// The XML namespace of our <metadata> element.
inline constexpr std::string_view kMetadataNamespace = "https://kubemigrate.io/vmi";

// The VMI a domain belongs to, from the <kubemigrate:vmi namespace= name= uid=/>
// element BuildDomainXml writes into <metadata> (found by its namespace URI,
// whatever prefix libvirt writes back). NotFound when the XML has none (a
// domain we did not create); InvalidArgument when it is malformed.
base::StatusOr<VMIRef> VMIRefFromDomainXml(std::string_view xml);

// The domain XML for `vmi`. Decisions (documented in domain_xml.cc):
// memory = guest memory rounded up to whole MiB; vCPUs = sockets×cores×threads
// (each 0 counts as 1) with a matching <topology>; every spec.volumes entry is
// attached (a volume without a disks[] entry as a virtio disk, a cloud-init one
// as a SATA cdrom); disks are virtio unless disks[].bus says otherwise.
// InvalidArgument, naming the field, when: neither memory.guest nor
// resources.requests.memory is set (or it is not positive); a disk names no
// volume; a volume has no entry in `sources`; a volume's kind cannot be
// started here (configMap, secret, serviceAccount, downwardAPI,
// cloudInitConfigDrive, ephemeral, other); a bus or interface binding is not
// supported; a MAC address is malformed; settings are incomplete.
base::StatusOr<std::string> BuildDomainXml(const api::VMI& vmi, const DomainSources& sources,
                                           const DomainSettings& settings);

// A file the target of a block migration must create before the copy starts
// (design.md §4.2 step 4): every non-shared, file-backed disk. Shared disks
// are left out: the engine passes the listed writable devs as
// MigrateParams::copy_disks, so that a shared disk is never copied onto itself.
// `path` is the source's path (each node has its own file at the same path).
// Read-only attachments (the cloud-init ISO) are not copied by libvirt; they
// are listed with read_only = true and the target must produce the same
// content itself (write the same ISO) rather than an empty file.
struct TargetFile {
  std::string volume;
  std::string dev;  // the disk's target device ("vda"): MigrateParams::copy_disks
  std::string path;
  uint64_t size_bytes = 0;
  std::string format;  // "raw": create sparse (truncate); "qcow2": qemu-img create
  bool read_only = false;
  friend bool operator==(const TargetFile&, const TargetFile&) = default;
};

// The files above, in spec.volumes order. Same validation as BuildDomainXml
// for the volumes it lists; InvalidArgument when a file's size is unknown
// (no size_bytes and no capacity in the spec) or when a node-local disk is a
// block device (it cannot be created on the target).
base::StatusOr<std::vector<TargetFile>> BlockMigrationTargetFiles(const api::VMI& vmi,
                                                                  const DomainSources& sources);

}  // namespace engine
