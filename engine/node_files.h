// NodeFiles: the node-local files of the VMIs on this node (design.md §4.3).
// Resolves every volume of a VMI to a file or device on this node, creating
// the files the engine owns, so that BuildDomainXml (domain_xml.h) can name
// them:
//
//   persistentVolumeClaim, dataVolume
//       the bound PV's path (the PVC's spec.volumeName): hostPath.path,
//       local.path, or for nfs NFS_MOUNT_DIR/SERVER/PATH (a mount the operator
//       made; the engine mounts nothing). A directory holds the disk as
//       `disk.img` (KubeVirt's convention for Filesystem volumes), a regular
//       file is the disk, a block device is attached as one. Format qcow2 when
//       the file name ends in ".qcow2", else raw. shared = the PVC or the PV
//       is ReadWriteMany.
//   emptyDisk
//       DATA_DIR/vmis/NS_NAME/VOLUME.img, a sparse raw file of `capacity`,
//       created when missing; an existing file is left as it is (never
//       truncated, never rewritten: it holds the guest's data).
//   containerDisk
//       the image is the single regular file in IMAGE_DIR/IMAGE/disk/ (qcow2
//       by its ".qcow2" extension, else raw). The guest does not write to it:
//       DATA_DIR/vmis/NS_NAME/VOLUME.qcow2 is a qcow2 overlay backed by it
//       (`qemu-img create -b`), made when missing, and is what the domain
//       opens. An image is shared by every VMI using it, and a block
//       migration copies the disk onto the target's file of the same path,
//       so writing to the image itself would corrupt other guests and the
//       target's image.
//   cloudInitNoCloud
//       DATA_DIR/vmis/NS_NAME/VOLUME.iso, volume id `cidata`, with user-data
//       (userData, or userDataBase64 decoded), meta-data (instance-id = the
//       VMI's uid, local-hostname = its name) and network-config when
//       networkData is set; made with `genisoimage` and rewritten only when
//       its content changed (a sidecar VOLUME.iso.content keeps what it holds).
//   firmware.kernelBoot
//       kernel_path / initrd_path via ImagePath under IMAGE_DIR.
//   anything else (hostDisk included: api::Volume does not carry its path)
//       InvalidArgument.
//
// The serial console log is DATA_DIR/vmis/NS_NAME/serial.log (SerialLogPath);
// Prepare creates its directory.
//
// Errors name the volume and the path:
//   InvalidArgument     the spec cannot work on any node (unsupported volume
//                       kind, bad base64, bad image name, no capacity)
//   FailedPrecondition  waiting on the cluster: the PVC is missing or not
//                       bound, its PV is missing or has no source this node
//                       can open (retry later)
//   NotFound            a path the PV or image names does not exist here
//   Internal            I/O or a helper program (genisoimage, qemu-img) failed,
//                       with its stderr
//
// Thread safety: the methods may be called from several threads for
// different VMIs; calls for the same VMI must not overlap (the controllers
// reconcile one key at a time).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/migratability.h"
#include "api/types.h"
#include "base/status.h"
#include "engine/domain_xml.h"

namespace engine {

struct NodeFilesOptions {
  std::string image_dir;      // --image-dir; absolute
  std::string data_dir;       // --data-dir; absolute; VMI files live in DATA_DIR/vmis/
  std::string nfs_mount_dir;  // where NFS exports are mounted as SERVER/PATH; empty: no NFS
  std::string genisoimage = "genisoimage";  // program names, looked up in PATH
  std::string qemu_img = "qemu-img";
};

class NodeFiles {
 public:
  // Returns the PVC ns/name or null (the pointer is used only during the call).
  using PVCLookup = api::PVCLookup;
  using PVLookup = std::function<std::optional<api::PV>(std::string_view name)>;

  NodeFiles(NodeFilesOptions options, PVCLookup pvcs, PVLookup pvs);

  // Resolves (and for emptyDisk, containerDisk and cloud-init creates,
  // idempotently) every volume's file on this node. See the file comment.
  base::StatusOr<DomainSources> Prepare(const api::VMI& vmi);

  // On a migration target: the files a block migration needs before it
  // starts (BlockMigrationTargetFiles of the sources this node resolves):
  // copied disks as empty files of the source's size (raw: sparse; qcow2:
  // `qemu-img create`), an existing file is left as it is; the cloud-init ISO
  // written with the same content as on the source. Idempotent.
  base::Status PrepareTarget(const api::VMI& vmi);

  // Removes DATA_DIR/vmis/NS_NAME and everything in it (never anything
  // outside it). OK when absent. InvalidArgument when ns/name are not valid
  // Kubernetes names (so no path can escape).
  base::Status Remove(std::string_view ns, std::string_view name);

  // DATA_DIR/vmis/NS_NAME (NS_NAME = DomainName(ns, name)).
  base::StatusOr<std::string> VMIDir(std::string_view ns, std::string_view name) const;
  // DATA_DIR/vmis/NS_NAME/serial.log
  base::StatusOr<std::string> SerialLogPath(std::string_view ns, std::string_view name) const;

 private:
  // Resolves every volume; with `create` false, files the engine makes are
  // named but not made (PrepareTarget makes them its own way).
  base::StatusOr<DomainSources> Resolve(const api::VMI& vmi, bool create);
  base::StatusOr<VolumeSource> ResolveClaim(const api::VMI& vmi, const api::Volume& volume);
  base::StatusOr<VolumeSource> ResolveContainerDisk(const std::string& dir,
                                                    const api::Volume& volume, bool create);
  base::Status WriteCloudInit(const api::VMI& vmi, const api::Volume& volume,
                              const std::string& iso);

  const NodeFilesOptions options_;
  const PVCLookup pvcs_;
  const PVLookup pvs_;
};

// Runs `argv` (argv[0] looked up in PATH; no shell), stdout discarded, and
// waits for it. Internal with the program's stderr (first 4 KiB) when it
// fails or exits non-zero; FailedPrecondition when the program is not found.
base::Status RunProgram(const std::vector<std::string>& argv);

}  // namespace engine
