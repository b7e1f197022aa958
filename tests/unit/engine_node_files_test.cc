// NodeFiles on a scratch directory per test: every volume kind, idempotence,
// errors naming the volume and path, and the cloud-init ISO's content read
// back with isoinfo (genisoimage's companion).
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include "api/json.h"
#include "engine/node_files.h"
#include "tests/testing/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using engine::NodeFiles;
using engine::VolumeSource;

api::VMI MustParse(const std::string& json) {
  auto r = api::ParseVMI(json);
  INFO(r.status().message());
  REQUIRE(r.ok());
  return *r;
}

std::string Vmi(const std::string& volumes, const std::string& extra_domain = "") {
  return R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",)"
         R"("metadata":{"name":"vm1","namespace":"prod","uid":"uid-1234"},)"
         R"("spec":{"domain":{"devices":{})" +
         extra_domain + R"(,"memory":{"guest":"64Mi"}},"volumes":)" + volumes + "}}";
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A cluster of PVCs and PVs for the lookups.
struct Cluster {
  std::map<std::string, api::PVC> pvcs;  // "ns/name"
  std::map<std::string, api::PV> pvs;

  void Add(const std::string& claim, const std::string& pv_name, const std::string& path,
           const std::string& mode = "ReadWriteOnce") {
    api::PVC pvc;
    pvc.meta.namespace_ = "prod";
    pvc.meta.name = claim;
    pvc.access_modes = {mode};
    pvc.volume_name = pv_name;
    pvcs["prod/" + claim] = pvc;
    if (pv_name.empty()) return;
    api::PV pv;
    pv.meta.name = pv_name;
    pv.access_modes = {mode};
    pv.host_path = path;
    pvs[pv_name] = pv;
  }
};

struct Fixture {
  kube::testing::TempDir tmp{"kubemigrate-node-files-"};
  Cluster cluster;
  std::string images = tmp.path() + "/images";
  std::string data = tmp.path() + "/data";
  NodeFiles files{engine::NodeFilesOptions{images, data, tmp.path() + "/nfs"},
                  [this](std::string_view ns, std::string_view name) -> const api::PVC* {
                    auto it = cluster.pvcs.find(std::string(ns) + "/" + std::string(name));
                    return it == cluster.pvcs.end() ? nullptr : &it->second;
                  },
                  [this](std::string_view name) -> std::optional<api::PV> {
                    auto it = cluster.pvs.find(std::string(name));
                    if (it == cluster.pvs.end()) return std::nullopt;
                    return it->second;
                  }};
  std::string vmi_dir() const { return data + "/vmis/prod_vm1"; }
};

// The programs NodeFiles runs come with scripts/install-deps.sh (genisoimage,
// qemu-utils): a machine without them fails here rather than skipping.
void RequireTool(const char* name) {
  INFO(name << " is not installed (scripts/install-deps.sh installs it)");
  REQUIRE(engine::RunProgram({"sh", "-c", std::string("command -v ") + name}).ok());
}

// isoinfo's file list (-f) and one file's content (-x), Rock Ridge names.
std::string IsoFile(const std::string& iso, const std::string& name) {
  std::string out = iso + "." + name + ".out";
  REQUIRE(engine::RunProgram(
              {"sh", "-c", "isoinfo -R -i '" + iso + "' -x '/" + name + "' > '" + out + "'"})
              .ok());
  return Slurp(out);
}

}  // namespace

TEST_CASE("an emptyDisk is a sparse file of its capacity, made once and never rewritten",
          "[node_files]") {
  Fixture f;
  api::VMI vmi = MustParse(Vmi(R"([{"name":"scratch","emptyDisk":{"capacity":"1Gi"}}])"));
  auto src = f.files.Prepare(vmi);
  INFO(src.status().ToString());
  REQUIRE(src.ok());
  const VolumeSource& v = src->volumes.at("scratch");
  CHECK(v.path == f.vmi_dir() + "/scratch.img");
  CHECK(v.format == "raw");
  CHECK_FALSE(v.shared);
  CHECK(v.size_bytes == (1ull << 30));
  CHECK(fs::file_size(v.path) == (1ull << 30));
  struct stat st {};
  REQUIRE(stat(v.path.c_str(), &st) == 0);
  CHECK(st.st_blocks * 512 < 1024 * 1024);  // sparse

  // The guest wrote to it; a second Prepare (and a bigger capacity) leaves it alone.
  {
    std::fstream out(v.path, std::ios::in | std::ios::out | std::ios::binary);
    out << "guest data";
  }
  api::VMI bigger = MustParse(Vmi(R"([{"name":"scratch","emptyDisk":{"capacity":"2Gi"}}])"));
  REQUIRE(f.files.Prepare(bigger).ok());
  CHECK(fs::file_size(v.path) == (1ull << 30));
  CHECK(Slurp(v.path).substr(0, 10) == "guest data");
}

TEST_CASE("a PVC resolves to its bound PV's path; RWX is shared", "[node_files]") {
  Fixture f;
  std::string dir = f.tmp.path() + "/pv-dir";
  fs::create_directories(dir);
  f.tmp.Write("pv-dir/disk.img", std::string(4096, '\0'));
  f.tmp.Write("pv-file.qcow2", std::string("QFI\xfb", 4) + std::string(20, '\0') +
                                   std::string("\x00\x00\x00\x00\x40\x00\x00\x00", 8));
  f.cluster.Add("shared", "pv-1", dir, "ReadWriteMany");
  f.cluster.Add("local", "pv-2", f.tmp.path() + "/pv-file.qcow2");
  api::VMI vmi = MustParse(Vmi(R"([{"name":"a","persistentVolumeClaim":{"claimName":"shared"}},
                                   {"name":"b","dataVolume":{"name":"local"}}])"));
  auto src = f.files.Prepare(vmi);
  INFO(src.status().ToString());
  REQUIRE(src.ok());
  CHECK(src->volumes.at("a").path == dir + "/disk.img");
  CHECK(src->volumes.at("a").shared);
  CHECK(src->volumes.at("a").format == "raw");
  CHECK(src->volumes.at("a").size_bytes == 4096);
  CHECK(src->volumes.at("b").path == f.tmp.path() + "/pv-file.qcow2");
  CHECK_FALSE(src->volumes.at("b").shared);
  CHECK(src->volumes.at("b").format == "qcow2");
  CHECK(src->volumes.at("b").size_bytes == (1ull << 30));  // the qcow2 header's virtual size
}

TEST_CASE("an NFS PV is read under the NFS mount directory", "[node_files]") {
  Fixture f;
  f.tmp.Write("nfs/filer.example/exports/vm1/disk.img", "x");
  api::PVC pvc;
  pvc.access_modes = {"ReadWriteMany"};
  pvc.volume_name = "pv-nfs";
  f.cluster.pvcs["prod/data"] = pvc;
  api::PV pv;
  pv.access_modes = {"ReadWriteMany"};
  pv.nfs_server = "filer.example";
  pv.nfs_path = "/exports/vm1";
  f.cluster.pvs["pv-nfs"] = pv;
  auto src = f.files.Prepare(
      MustParse(Vmi(R"([{"name":"d","persistentVolumeClaim":{"claimName":"data"}}])")));
  INFO(src.status().ToString());
  REQUIRE(src.ok());
  CHECK(src->volumes.at("d").path == f.tmp.path() + "/nfs/filer.example/exports/vm1/disk.img");
  CHECK(src->volumes.at("d").shared);
}

TEST_CASE("PVC errors name the volume, the claim and the path", "[node_files]") {
  Fixture f;
  auto vmi =
      MustParse(Vmi(R"([{"name":"rootdisk","persistentVolumeClaim":{"claimName":"data"}}])"));
  SECTION("missing claim") {
    auto r = f.files.Prepare(vmi);
    CHECK(r.status().code() == base::Code::kFailedPrecondition);
    CHECK(r.status().message() == "volume rootdisk: PVC prod/data does not exist");
  }
  SECTION("unbound claim") {
    f.cluster.Add("data", "", "");
    auto r = f.files.Prepare(vmi);
    CHECK(r.status().code() == base::Code::kFailedPrecondition);
    CHECK(r.status().message() ==
          "volume rootdisk: PVC prod/data is not bound to a PersistentVolume");
  }
  SECTION("missing PV") {
    f.cluster.Add("data", "pv-9", "/x");
    f.cluster.pvs.clear();
    auto r = f.files.Prepare(vmi);
    CHECK(r.status().code() == base::Code::kFailedPrecondition);
    CHECK_THAT(r.status().message(), Catch::Contains("PersistentVolume pv-9 of PVC prod/data"));
  }
  SECTION("path missing on this node") {
    f.cluster.Add("data", "pv-1", f.tmp.path() + "/nowhere");
    auto r = f.files.Prepare(vmi);
    CHECK(r.status().code() == base::Code::kNotFound);
    CHECK_THAT(r.status().message(), Catch::Contains("volume rootdisk: path " + f.tmp.path() +
                                                     "/nowhere of PersistentVolume pv-1"));
  }
  SECTION("NFS without a mount directory") {
    NodeFiles no_nfs(
        engine::NodeFilesOptions{f.images, f.data, ""},
        [&](std::string_view, std::string_view) -> const api::PVC* {
          static api::PVC pvc;
          pvc.volume_name = "pv-nfs";
          return &pvc;
        },
        [](std::string_view) -> std::optional<api::PV> {
          api::PV pv;
          pv.nfs_server = "filer";
          pv.nfs_path = "/e";
          return pv;
        });
    auto r = no_nfs.Prepare(vmi);
    CHECK(r.status().code() == base::Code::kFailedPrecondition);
    CHECK_THAT(r.status().message(), Catch::Contains("NFS"));
  }
}

TEST_CASE("a containerDisk gets a qcow2 overlay on the image, made once", "[node_files]") {
  RequireTool("qemu-img");
  Fixture f;
  f.tmp.Write("images/registry.example/fedora/disk/fedora.raw", std::string(1 << 20, '\0'));
  auto vmi =
      MustParse(Vmi(R"([{"name":"root","containerDisk":{"image":"registry.example/fedora"}}])"));
  auto src = f.files.Prepare(vmi);
  INFO(src.status().ToString());
  REQUIRE(src.ok());
  const VolumeSource& v = src->volumes.at("root");
  CHECK(v.path == f.vmi_dir() + "/root.qcow2");
  CHECK(v.format == "qcow2");
  CHECK(v.size_bytes == (1u << 20));
  CHECK(Slurp(v.path).substr(0, 4) == std::string("QFI\xfb", 4));
  CHECK_THAT(Slurp(v.path), Catch::Contains(f.images + "/registry.example/fedora/disk/fedora.raw"));
  auto mtime = fs::last_write_time(v.path);
  REQUIRE(f.files.Prepare(vmi).ok());
  CHECK(fs::last_write_time(v.path) == mtime);
}

TEST_CASE("a containerDisk image directory must hold exactly one file", "[node_files]") {
  Fixture f;
  auto vmi = MustParse(Vmi(R"([{"name":"root","containerDisk":{"image":"fedora"}}])"));
  auto missing = f.files.Prepare(vmi);
  CHECK(missing.status().code() == base::Code::kNotFound);
  CHECK_THAT(missing.status().message(), Catch::StartsWith("volume root: image \"fedora\""));
  CHECK_THAT(missing.status().message(), Catch::Contains(f.images + "/fedora/disk"));
  f.tmp.Write("images/fedora/disk/a.img", "a");
  f.tmp.Write("images/fedora/disk/b.img", "b");
  auto two = f.files.Prepare(vmi);
  CHECK(two.status().code() == base::Code::kNotFound);
  CHECK_THAT(two.status().message(), Catch::Contains("holds 2 regular files"));
  auto escape =
      f.files.Prepare(MustParse(Vmi(R"([{"name":"root","containerDisk":{"image":"../x"}}])")));
  CHECK(escape.status().code() == base::Code::kInvalidArgument);
}

TEST_CASE("kernel boot paths resolve inside the image directory", "[node_files]") {
  Fixture f;
  f.tmp.Write("images/guest/boot/vmlinuz", "k");
  f.tmp.Write("images/guest/boot/initrd.img", "i");
  const std::string kb =
      R"(,"firmware":{"kernelBoot":{"kernelArgs":"console=ttyS0","container":{"image":"guest",)"
      R"("kernelPath":"/boot/vmlinuz","initrdPath":"/boot/initrd.img"}}})";
  auto src = f.files.Prepare(MustParse(Vmi("[]", kb)));
  INFO(src.status().ToString());
  REQUIRE(src.ok());
  CHECK(src->kernel_path == f.images + "/guest/boot/vmlinuz");
  CHECK(src->initrd_path == f.images + "/guest/boot/initrd.img");
  fs::remove(f.images + "/guest/boot/vmlinuz");
  auto gone = f.files.Prepare(MustParse(Vmi("[]", kb)));
  CHECK(gone.status().code() == base::Code::kNotFound);
  CHECK_THAT(gone.status().message(), Catch::Contains(f.images + "/guest/boot/vmlinuz"));
}

TEST_CASE("unsupported volumes and bad names are refused with the volume named", "[node_files]") {
  Fixture f;
  auto cm = f.files.Prepare(MustParse(Vmi(R"([{"name":"cfg","configMap":{"name":"x"}}])")));
  CHECK(cm.status().code() == base::Code::kInvalidArgument);
  CHECK_THAT(cm.status().message(), Catch::StartsWith("volume cfg: configMap"));
  auto bad = f.files.Prepare(MustParse(Vmi(R"([{"name":"../x","emptyDisk":{"capacity":"1Mi"}}])")));
  CHECK(bad.status().code() == base::Code::kInvalidArgument);
  CHECK_FALSE(fs::exists(f.data + "/vmis/x.img"));
  auto b64 = f.files.Prepare(
      MustParse(Vmi(R"([{"name":"ci","cloudInitNoCloud":{"userDataBase64":"!!notbase64"}}])")));
  CHECK(b64.status().code() == base::Code::kInvalidArgument);
  CHECK_THAT(b64.status().message(),
             Catch::StartsWith("volume ci: cloudInitNoCloud.userDataBase64"));
}

TEST_CASE("the cloud-init ISO holds user-data, meta-data and network-config", "[node_files]") {
  RequireTool("genisoimage");
  RequireTool("isoinfo");
  Fixture f;
  // "#cloud-config\nhostname: a\n" in base64.
  auto vmi = MustParse(Vmi(R"([{"name":"ci","cloudInitNoCloud":{
      "userDataBase64":"I2Nsb3VkLWNvbmZpZwpob3N0bmFtZTogYQo=",
      "networkData":"version: 2\n"}}])"));
  auto src = f.files.Prepare(vmi);
  INFO(src.status().ToString());
  REQUIRE(src.ok());
  const std::string iso = src->volumes.at("ci").path;
  CHECK(iso == f.vmi_dir() + "/ci.iso");
  CHECK(src->volumes.at("ci").size_bytes == fs::file_size(iso));
  CHECK(IsoFile(iso, "user-data") == "#cloud-config\nhostname: a\n");
  CHECK(IsoFile(iso, "meta-data") == "instance-id: uid-1234\nlocal-hostname: vm1\n");
  CHECK(IsoFile(iso, "network-config") == "version: 2\n");
  std::string list = f.tmp.path() + "/list";
  REQUIRE(engine::RunProgram({"sh", "-c", "isoinfo -d -i '" + iso + "' > '" + list + "'"}).ok());
  CHECK_THAT(Slurp(list), Catch::Contains("Volume id: cidata"));

  // Same content: not rewritten. Other content: rewritten.
  auto mtime = fs::last_write_time(iso);
  REQUIRE(f.files.Prepare(vmi).ok());
  CHECK(fs::last_write_time(iso) == mtime);
  auto changed =
      MustParse(Vmi(R"([{"name":"ci","cloudInitNoCloud":{"userData":"#cloud-config\n"}}])"));
  REQUIRE(f.files.Prepare(changed).ok());
  CHECK(IsoFile(iso, "user-data") == "#cloud-config\n");
}

TEST_CASE("a migration target gets empty copies of the copied disks and the same ISO",
          "[node_files]") {
  RequireTool("genisoimage");
  RequireTool("qemu-img");
  Fixture f;
  f.tmp.Write("images/fedora/disk/disk.img", std::string(1 << 20, '\0'));
  f.tmp.Write("shared/disk.img", "x");
  f.cluster.Add("rwx", "pv-1", f.tmp.path() + "/shared", "ReadWriteMany");
  auto vmi = MustParse(Vmi(R"([{"name":"root","containerDisk":{"image":"fedora"}},
                              {"name":"scratch","emptyDisk":{"capacity":"64Mi"}},
                              {"name":"data","persistentVolumeClaim":{"claimName":"rwx"}},
                              {"name":"ci","cloudInitNoCloud":{"userData":"#cloud-config\n"}}])"));
  auto status = f.files.PrepareTarget(vmi);
  INFO(status.ToString());
  REQUIRE(status.ok());
  CHECK(fs::file_size(f.vmi_dir() + "/scratch.img") == (64u << 20));
  CHECK(Slurp(f.vmi_dir() + "/root.qcow2").substr(0, 4) == std::string("QFI\xfb", 4));
  // A plain qcow2 (no backing file): the block migration copies the whole disk.
  CHECK_THAT(Slurp(f.vmi_dir() + "/root.qcow2"), !Catch::Contains("fedora"));
  CHECK(fs::exists(f.vmi_dir() + "/ci.iso"));
  CHECK(Slurp(f.tmp.path() + "/shared/disk.img") == "x");  // shared: untouched
  REQUIRE(f.files.PrepareTarget(vmi).ok());                // idempotent
}

TEST_CASE("Remove deletes the VMI's directory and nothing else", "[node_files]") {
  Fixture f;
  f.tmp.Write("data/vmis/prod_vm1/scratch.img", "x");
  f.tmp.Write("data/vmis/prod_vm10/scratch.img", "y");
  REQUIRE(f.files.Remove("prod", "vm1").ok());
  CHECK_FALSE(fs::exists(f.vmi_dir()));
  CHECK(fs::exists(f.data + "/vmis/prod_vm10/scratch.img"));
  CHECK(f.files.Remove("prod", "vm1").ok());  // already gone
  CHECK(f.files.Remove("..", "vm1").code() == base::Code::kInvalidArgument);
  auto log = f.files.SerialLogPath("prod", "vm1");
  REQUIRE(log.ok());
  CHECK(*log == f.vmi_dir() + "/serial.log");
}

TEST_CASE("RunProgram reports a failing program with its stderr", "[node_files]") {
  auto s = engine::RunProgram({"sh", "-c", "echo boom >&2; exit 3"});
  CHECK(s.code() == base::Code::kInternal);
  CHECK(s.message() == "sh exited with 3: boom");
  CHECK(engine::RunProgram({"/nonexistent/tool"}).code() == base::Code::kFailedPrecondition);
}
