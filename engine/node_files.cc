#include "engine/node_files.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

extern char** environ;

namespace engine {
namespace fs = std::filesystem;

namespace {

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

base::Status VolumeError(base::Code code, const api::Volume& v, const std::string& what) {
  return base::Status(code, "volume " + v.name + ": " + what);
}

// Volume names become file names: keep them to characters no path can abuse.
base::Status CheckVolumeName(const api::Volume& v) {
  bool ok = !v.name.empty() && v.name.size() <= 253 && v.name.front() != '.';
  for (char c : v.name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.');
  }
  if (!ok) {
    return base::InvalidArgument("volume " + Quote(v.name) +
                                 ": the name must be 1-253 characters of [A-Za-z0-9._-], not "
                                 "starting with '.'");
  }
  return base::Status::Ok();
}

std::string Format(const std::string& path) {
  return path.size() > 6 && path.ends_with(".qcow2") ? "qcow2" : "raw";
}

base::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return base::NotFound("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return base::Internal("error reading " + path);
  return ss.str();
}

// Writes `content` to `path` through a temporary file and a rename, so a
// crash never leaves a half-written file under the final name.
base::Status WriteFileAtomic(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) return base::Internal("cannot write " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return base::Internal("cannot rename " + tmp + " to " + path + ": " + ec.message());
  return base::Status::Ok();
}

// RFC 4648 base64 (standard alphabet); whitespace skipped, padding optional.
base::StatusOr<std::string> DecodeBase64(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  bool padding = false;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else if (c == '=') {
      padding = true;
      continue;
    } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      continue;
    } else {
      return base::InvalidArgument("not base64 (character " + std::to_string(int(uint8_t(c))) +
                                   ")");
    }
    if (padding) return base::InvalidArgument("not base64 (data after '=')");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

// The size the guest sees: a qcow2 image's virtual size (big-endian u64 at
// offset 24 of its header, after the "QFI\xfb" magic), a raw file's length.
base::StatusOr<uint64_t> VirtualSize(const std::string& path, const std::string& format) {
  std::error_code ec;
  uint64_t size = fs::file_size(path, ec);
  if (ec) return base::NotFound("cannot stat " + path + ": " + ec.message());
  if (format != "qcow2") return size;
  std::ifstream in(path, std::ios::binary);
  unsigned char h[32];
  if (!in.read(reinterpret_cast<char*>(h), sizeof h) || std::memcmp(h, "QFI\xfb", 4) != 0) {
    return base::InvalidArgument(path + " is not a qcow2 image");
  }
  uint64_t v = 0;
  for (int i = 24; i < 32; ++i) v = (v << 8) | h[i];
  return v;
}

// Creates a sparse file of `size` bytes unless `path` exists.
base::Status CreateSparse(const std::string& path, uint64_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST) return base::Status::Ok();
    return base::Internal("cannot create " + path + ": " + std::strerror(errno));
  }
  int rc = ::ftruncate(fd, static_cast<off_t>(size));
  int err = errno;
  ::close(fd);
  if (rc != 0) {
    ::unlink(path.c_str());
    return base::Internal("cannot size " + path + ": " + std::strerror(err));
  }
  return base::Status::Ok();
}

bool Exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

// What the NoCloud ISO holds: file name → content.
base::StatusOr<std::vector<std::pair<std::string, std::string>>> CloudInitFiles(
    const api::VMI& vmi, const api::Volume& v) {
  std::string user_data = v.user_data;
  if (!v.user_data_base64.empty()) {
    auto decoded = DecodeBase64(v.user_data_base64);
    if (!decoded.ok()) {
      return VolumeError(base::Code::kInvalidArgument, v,
                         "cloudInitNoCloud.userDataBase64: " + decoded.status().message());
    }
    user_data = *std::move(decoded);
  }
  std::string instance_id =
      vmi.meta.uid.empty() ? vmi.meta.namespace_ + "/" + vmi.meta.name : vmi.meta.uid;
  std::vector<std::pair<std::string, std::string>> files = {
      {"meta-data", "instance-id: " + instance_id + "\nlocal-hostname: " + vmi.meta.name + "\n"},
      {"user-data", user_data},
  };
  if (!v.network_data.empty()) files.emplace_back("network-config", v.network_data);
  return files;
}

// The files above serialized, to tell whether an existing ISO holds them.
std::string Fingerprint(const std::vector<std::pair<std::string, std::string>>& files) {
  std::string out;
  for (const auto& [name, content] : files) {
    out += name + "\n" + std::to_string(content.size()) + "\n" + content + "\n";
  }
  return out;
}

}  // namespace

base::Status RunProgram(const std::vector<std::string>& argv) {
  if (argv.empty()) return base::InvalidArgument("RunProgram: no program");
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    return base::Internal(std::string("pipe: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipefd[1]);
  if (rc != 0) {
    ::close(pipefd[0]);
    if (rc == ENOENT) return base::FailedPrecondition(argv[0] + " not found in PATH");
    return base::Internal("cannot run " + argv[0] + ": " + std::strerror(rc));
  }
  std::string err;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n > 0) {
      if (err.size() < 4096) err.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (err.size() > 4096) err.resize(4096);
  while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return base::Status::Ok();
  std::string how = WIFEXITED(status) ? "exited with " + std::to_string(WEXITSTATUS(status))
                                      : "was killed by signal " + std::to_string(WTERMSIG(status));
  return base::Internal(argv[0] + " " + how + (err.empty() ? "" : ": " + err));
}

NodeFiles::NodeFiles(NodeFilesOptions options, PVCLookup pvcs, PVLookup pvs)
    : options_(std::move(options)), pvcs_(std::move(pvcs)), pvs_(std::move(pvs)) {}

base::StatusOr<std::string> NodeFiles::VMIDir(std::string_view ns, std::string_view name) const {
  auto domain = DomainName(ns, name);
  if (!domain.ok()) return domain.status();
  if (options_.data_dir.empty() || options_.data_dir.front() != '/') {
    return base::InvalidArgument("the data directory must be an absolute path, got " +
                                 Quote(options_.data_dir));
  }
  return (fs::path(options_.data_dir) / "vmis" / *domain).string();
}

base::StatusOr<std::string> NodeFiles::SerialLogPath(std::string_view ns,
                                                     std::string_view name) const {
  auto dir = VMIDir(ns, name);
  if (!dir.ok()) return dir.status();
  return *dir + "/serial.log";
}

base::StatusOr<VolumeSource> NodeFiles::ResolveClaim(const api::VMI& vmi, const api::Volume& v) {
  const std::string& ns = vmi.meta.namespace_;
  const std::string claim = ns + "/" + v.claim_name;
  const api::PVC* pvc = pvcs_ ? pvcs_(ns, v.claim_name) : nullptr;
  if (pvc == nullptr) {
    return VolumeError(base::Code::kFailedPrecondition, v, "PVC " + claim + " does not exist");
  }
  if (pvc->volume_name.empty()) {
    return VolumeError(base::Code::kFailedPrecondition, v,
                       "PVC " + claim + " is not bound to a PersistentVolume");
  }
  const bool pvc_shared = pvc->IsShared();
  const bool pvc_block = pvc->volume_mode == "Block";
  const std::string pv_name = pvc->volume_name;  // pvc is valid only until the next lookup
  std::optional<api::PV> pv = pvs_ ? pvs_(pv_name) : std::nullopt;
  if (!pv) {
    return VolumeError(base::Code::kFailedPrecondition, v,
                       "PersistentVolume " + pv_name + " of PVC " + claim + " does not exist");
  }
  std::string path;
  if (!pv->host_path.empty()) {
    path = pv->host_path;
  } else if (!pv->local_path.empty()) {
    path = pv->local_path;
  } else if (!pv->nfs_server.empty() || !pv->nfs_path.empty()) {
    if (options_.nfs_mount_dir.empty()) {
      return VolumeError(base::Code::kFailedPrecondition, v,
                         "PersistentVolume " + pv_name +
                             " is an NFS export and this node has no NFS mount directory");
    }
    path =
        (fs::path(options_.nfs_mount_dir) / pv->nfs_server / fs::path(pv->nfs_path).relative_path())
            .string();
  } else {
    return VolumeError(
        base::Code::kFailedPrecondition, v,
        "PersistentVolume " + pv_name + " has no hostPath, local or nfs source this node can open");
  }
  if (path.empty() || path.front() != '/' || path.find("/../") != std::string::npos ||
      path.ends_with("/..")) {
    return VolumeError(
        base::Code::kInvalidArgument, v,
        "PersistentVolume " + pv_name + " has path " + Quote(path) + ", not an absolute path");
  }
  VolumeSource src;
  src.shared = pvc_shared || pv->IsShared();
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    return VolumeError(
        base::Code::kNotFound, v,
        "path " + path + " of PersistentVolume " + pv_name + " does not exist on this node");
  }
  if (fs::is_block_file(st)) {
    src.type = VolumeSource::Type::kBlock;
    src.path = path;
    return src;
  }
  if (pvc_block || pv->volume_mode == "Block") {
    return VolumeError(base::Code::kFailedPrecondition, v,
                       "PersistentVolume " + pv_name + " is a Block volume but " + path +
                           " is not a block device");
  }
  if (fs::is_directory(st)) path = (fs::path(path) / "disk.img").string();
  if (!fs::is_regular_file(path, ec)) {
    return VolumeError(
        base::Code::kNotFound, v,
        "disk image " + path + " of PersistentVolume " + pv_name + " does not exist on this node");
  }
  src.path = path;
  src.format = Format(path);
  auto size = VirtualSize(path, src.format);
  if (!size.ok()) return VolumeError(size.status().code(), v, size.status().message());
  src.size_bytes = *size;
  return src;
}

base::StatusOr<VolumeSource> NodeFiles::ResolveContainerDisk(const std::string& dir,
                                                             const api::Volume& v, bool create) {
  auto image_dir =
      ImagePath(options_.image_dir, v.image, "disk", "volume " + v.name + ": containerDisk.image");
  if (!image_dir.ok()) return image_dir.status();
  std::vector<std::string> files;
  std::error_code ec;
  for (auto it = fs::directory_iterator(*image_dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file()) files.push_back(it->path().string());
  }
  if (ec && files.empty()) {
    return VolumeError(
        base::Code::kNotFound, v,
        "image " + Quote(v.image) + ": cannot read " + *image_dir + ": " + ec.message());
  }
  if (files.size() != 1) {
    return VolumeError(base::Code::kNotFound, v,
                       "image " + Quote(v.image) + ": " + *image_dir + " holds " +
                           std::to_string(files.size()) +
                           " regular files, want exactly one (the disk image)");
  }
  const std::string image = files.front();
  const std::string image_format = Format(image);
  auto size = VirtualSize(image, image_format);
  if (!size.ok()) return VolumeError(size.status().code(), v, size.status().message());

  VolumeSource src;
  src.path = dir + "/" + v.name + ".qcow2";
  src.format = "qcow2";
  src.size_bytes = *size;
  if (create && !Exists(src.path)) {
    // Made under a temporary name and renamed, so that an interrupted
    // qemu-img never leaves a broken overlay that later runs would keep.
    const std::string tmp = src.path + ".tmp";
    base::Status s = RunProgram(
        {options_.qemu_img, "create", "-q", "-f", "qcow2", "-F", image_format, "-b", image, tmp});
    if (!s.ok()) {
      return VolumeError(s.code(), v, "cannot create the overlay " + src.path + ": " + s.message());
    }
    fs::rename(tmp, src.path, ec);
    if (ec) return VolumeError(base::Code::kInternal, v, "rename " + tmp + ": " + ec.message());
  }
  return src;
}

base::Status NodeFiles::WriteCloudInit(const api::VMI& vmi, const api::Volume& v,
                                       const std::string& iso) {
  auto files = CloudInitFiles(vmi, v);
  if (!files.ok()) return files.status();
  const std::string fingerprint = Fingerprint(*files);
  const std::string sidecar = iso + ".content";
  if (Exists(iso)) {
    auto previous = ReadFile(sidecar);
    if (previous.ok() && *previous == fingerprint) return base::Status::Ok();
  }
  const std::string staging = iso + ".d";
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::create_directories(staging, ec);
  if (ec) return VolumeError(base::Code::kInternal, v, "mkdir " + staging + ": " + ec.message());
  for (const auto& [name, content] : *files) {
    base::Status s = WriteFileAtomic(staging + "/" + name, content);
    if (!s.ok()) return VolumeError(s.code(), v, s.message());
  }
  const std::string tmp = iso + ".tmp";
  base::Status s = RunProgram({options_.genisoimage, "-quiet", "-output", tmp, "-volid", "cidata",
                               "-joliet", "-rock", staging});
  fs::remove_all(staging, ec);
  if (!s.ok()) {
    return VolumeError(s.code(), v, "cannot write the cloud-init ISO " + iso + ": " + s.message());
  }
  fs::rename(tmp, iso, ec);
  if (ec) return VolumeError(base::Code::kInternal, v, "rename " + tmp + ": " + ec.message());
  // After the ISO: a crash in between only makes the next run write it again.
  s = WriteFileAtomic(sidecar, fingerprint);
  if (!s.ok()) return VolumeError(s.code(), v, s.message());
  return base::Status::Ok();
}

base::StatusOr<DomainSources> NodeFiles::Resolve(const api::VMI& vmi, bool create) {
  auto dir = VMIDir(vmi.meta.namespace_, vmi.meta.name);
  if (!dir.ok()) return dir.status();
  std::error_code ec;
  fs::create_directories(*dir, ec);
  if (ec) return base::Internal("cannot create " + *dir + ": " + ec.message());

  DomainSources out;
  for (const api::Volume& v : vmi.spec.volumes) {
    if (base::Status s = CheckVolumeName(v); !s.ok()) return s;
    VolumeSource src;
    switch (v.kind) {
      case api::VolumeKind::kPersistentVolumeClaim:
      case api::VolumeKind::kDataVolume: {
        auto r = ResolveClaim(vmi, v);
        if (!r.ok()) return r.status();
        src = *std::move(r);
        break;
      }
      case api::VolumeKind::kEmptyDisk: {
        if (!v.capacity) {
          return VolumeError(base::Code::kInvalidArgument, v, "emptyDisk has no capacity");
        }
        auto bytes = v.capacity->Bytes();
        if (!bytes.ok() || *bytes <= 0) {
          return VolumeError(
              base::Code::kInvalidArgument, v,
              "emptyDisk.capacity " + Quote(v.capacity->String()) + " is not a positive size");
        }
        src.path = *dir + "/" + v.name + ".img";
        src.size_bytes = static_cast<uint64_t>(*bytes);
        if (create) {
          base::Status s = CreateSparse(src.path, src.size_bytes);
          if (!s.ok()) return VolumeError(s.code(), v, s.message());
        }
        break;
      }
      case api::VolumeKind::kContainerDisk: {
        auto r = ResolveContainerDisk(*dir, v, create);
        if (!r.ok()) return r.status();
        src = *std::move(r);
        break;
      }
      case api::VolumeKind::kCloudInitNoCloud: {
        src.path = *dir + "/" + v.name + ".iso";
        if (create) {
          base::Status s = WriteCloudInit(vmi, v, src.path);
          if (!s.ok()) return s;
          std::error_code size_ec;
          src.size_bytes = fs::file_size(src.path, size_ec);
        }
        break;
      }
      default:
        return VolumeError(base::Code::kInvalidArgument, v,
                           std::string(api::VolumeKindName(v.kind)) +
                               " volumes cannot be prepared on this node (supported: "
                               "persistentVolumeClaim, dataVolume, emptyDisk, containerDisk, "
                               "cloudInitNoCloud)");
    }
    out.volumes[v.name] = std::move(src);
  }

  if (const auto& kb = vmi.spec.kernel_boot) {
    auto kernel = ImagePath(options_.image_dir, kb->image, kb->kernel_path,
                            "spec.domain.firmware.kernelBoot.container.kernelPath");
    if (!kernel.ok()) return kernel.status();
    if (!fs::is_regular_file(*kernel, ec)) {
      return base::NotFound("kernelBoot: kernel " + *kernel + " does not exist on this node");
    }
    out.kernel_path = *kernel;
    if (!kb->initrd_path.empty()) {
      auto initrd = ImagePath(options_.image_dir, kb->image, kb->initrd_path,
                              "spec.domain.firmware.kernelBoot.container.initrdPath");
      if (!initrd.ok()) return initrd.status();
      if (!fs::is_regular_file(*initrd, ec)) {
        return base::NotFound("kernelBoot: initrd " + *initrd + " does not exist on this node");
      }
      out.initrd_path = *initrd;
    }
  }
  return out;
}

base::StatusOr<DomainSources> NodeFiles::Prepare(const api::VMI& vmi) {
  return Resolve(vmi, /*create=*/true);
}

base::Status NodeFiles::PrepareTarget(const api::VMI& vmi) {
  // Every migration needs the VMI's directory on the target: QEMU there
  // opens the serial log at the same path as on the source.
  {
    auto dir = VMIDir(vmi.meta.namespace_, vmi.meta.name);
    if (!dir.ok()) return dir.status();
    std::error_code ec;
    fs::create_directories(*dir, ec);
    if (ec) return base::Internal("cannot create " + *dir + ": " + ec.message());
  }
  auto sources = Resolve(vmi, /*create=*/false);
  if (!sources.ok()) return sources.status();
  // The ISO's size is known only once written; BlockMigrationTargetFiles
  // wants one for every file it lists.
  for (const api::Volume& v : vmi.spec.volumes) {
    if (v.kind != api::VolumeKind::kCloudInitNoCloud) continue;
    VolumeSource& src = sources->volumes[v.name];
    if (base::Status s = WriteCloudInit(vmi, v, src.path); !s.ok()) return s;
    std::error_code ec;
    src.size_bytes = fs::file_size(src.path, ec);
  }
  auto files = BlockMigrationTargetFiles(vmi, *sources);
  if (!files.ok()) return files.status();
  for (const TargetFile& f : *files) {
    if (f.read_only || Exists(f.path)) continue;  // the ISO is written above
    base::Status s;
    if (f.format == "qcow2") {
      const std::string tmp = f.path + ".tmp";
      s = RunProgram(
          {options_.qemu_img, "create", "-q", "-f", "qcow2", tmp, std::to_string(f.size_bytes)});
      std::error_code ec;
      if (s.ok()) fs::rename(tmp, f.path, ec);
      if (ec) s = base::Internal("rename " + tmp + ": " + ec.message());
    } else {
      s = CreateSparse(f.path, f.size_bytes);
    }
    if (!s.ok()) {
      return base::Status(s.code(),
                          "volume " + f.volume + ": cannot create " + f.path + ": " + s.message());
    }
  }
  return base::Status::Ok();
}

base::Status NodeFiles::Remove(std::string_view ns, std::string_view name) {
  auto dir = VMIDir(ns, name);
  if (!dir.ok()) return dir.status();
  std::error_code ec;
  fs::remove_all(*dir, ec);
  if (ec) return base::Internal("cannot remove " + *dir + ": " + ec.message());
  return base::Status::Ok();
}

}  // namespace engine
