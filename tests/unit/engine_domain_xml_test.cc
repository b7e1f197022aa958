#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "api/json.h"
#include "engine/domain_xml.h"

namespace {

using engine::DomainSettings;
using engine::DomainSources;
using engine::VolumeSource;

api::VMI MustParse(const std::string& json) {
  auto r = api::ParseVMI(json);
  INFO(r.status().message());
  REQUIRE(r.ok());
  return *r;
}

// A VMI with every supported kind of volume, wrapped around `spec_domain`
// and `volumes` when given.
std::string VmiJson(const std::string& domain, const std::string& volumes = "[]",
                    const std::string& meta = R"("name":"vm1","namespace":"prod",)"
                                              R"("uid":"6A2F1C3E-0B9D-4E5F-8A7B-1C2D3E4F5A6B")") {
  return R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance","metadata":{)" + meta +
         R"(},"spec":{"domain":)" + domain + R"(,"volumes":)" + volumes + "}}";
}

DomainSettings Settings() {
  DomainSettings s;
  s.domain_type = "qemu";
  s.serial_log_path = "/var/lib/kubemigrate/prod_vm1.log";
  s.bridge_name = "br0";
  return s;
}

DomainSources AllSources() {
  DomainSources src;
  src.volumes["root"] = {VolumeSource::Type::kFile, "/var/lib/kubemigrate/images/fedora/disk.img",
                         "raw", false, 0};
  src.volumes["scratch"] = {VolumeSource::Type::kFile, "/var/lib/kubemigrate/prod_vm1/scratch.img",
                            "raw", false, 0};
  src.volumes["data"] = {VolumeSource::Type::kFile, "/mnt/nfs/pv-data/disk.img", "raw", true,
                         10ull << 30};
  src.volumes["dv"] = {VolumeSource::Type::kBlock, "/dev/vg0/dv", "raw", true, 0};
  src.volumes["ci"] = {VolumeSource::Type::kFile, "/var/lib/kubemigrate/prod_vm1/cloudinit.iso",
                       "raw", false, 374784};
  src.kernel_path = "/var/lib/kubemigrate/images/guest/vmlinuz";
  src.initrd_path = "/var/lib/kubemigrate/images/guest/initrd.img";
  return src;
}

const char* kAllVolumes = R"([
  {"name":"root","containerDisk":{"image":"fedora"}},
  {"name":"scratch","emptyDisk":{"capacity":"2Gi"}},
  {"name":"data","persistentVolumeClaim":{"claimName":"data-pvc"}},
  {"name":"dv","dataVolume":{"name":"dv1"}},
  {"name":"ci","cloudInitNoCloud":{"userData":"#cloud-config"}}
])";

struct Case {
  const char* name;
  std::string json;
  std::vector<std::string> contains;
  std::vector<std::string> absent;
};

TEST_CASE("domain XML carries what the VMI spec asks for", "[domain_xml]") {
  const std::string mem = R"("memory":{"guest":"256Mi"})";
  const Case cases[] = {
      {"name, uuid from a UUID uid (lowercased), and VMI metadata",
       VmiJson("{" + mem + "}"),
       {"<domain type='qemu'>", "<name>prod_vm1</name>",
        "<uuid>6a2f1c3e-0b9d-4e5f-8a7b-1c2d3e4f5a6b</uuid>",
        "<kubemigrate:vmi xmlns:kubemigrate='https://kubemigrate.io/vmi' namespace='prod' "
        "name='vm1' uid='6A2F1C3E-0B9D-4E5F-8A7B-1C2D3E4F5A6B'/>",
        "<on_crash>destroy</on_crash>", "<serial type='file'>",
        "<source path='/var/lib/kubemigrate/prod_vm1.log'/>", "<console type='file'>",
        "<target type='serial' port='0'/>", "<boot dev='hd'/>"},
       {"<graphics", "<video", "<interface", "<disk", "<kernel>"}},
      {"no uid: no uuid element (libvirt generates one)",
       VmiJson("{" + mem + "}", "[]", R"("name":"vm1","namespace":"prod")"),
       {"<name>prod_vm1</name>", "uid=''"},
       {"<uuid>"}},
      {"a uid that is not a UUID gives a stable version-8 uuid",
       VmiJson("{" + mem + "}", "[]", R"("name":"vm1","namespace":"prod","uid":"u-1")"),
       {"<uuid>", "-8"},
       {}},
      {"memory.guest is rounded up to whole MiB",
       VmiJson(R"({"memory":{"guest":"2.5Mi"}})"),
       {"<memory unit='MiB'>3</memory>"},
       {}},
      {"one byte over a MiB takes the next MiB",
       VmiJson(R"({"memory":{"guest":"1048577"}})"),
       {"<memory unit='MiB'>2</memory>"},
       {}},
      {"decimal units convert exactly: 1G = 953.67 MiB -> 954",
       VmiJson(R"({"memory":{"guest":"1G"}})"),
       {"<memory unit='MiB'>954</memory>"},
       {}},
      {"resources.requests.memory when memory.guest is unset",
       VmiJson(R"({"resources":{"requests":{"memory":"1Gi"}}})"),
       {"<memory unit='MiB'>1024</memory>"},
       {}},
      {"memory.guest wins over the request",
       VmiJson(R"({"memory":{"guest":"512Mi"},"resources":{"requests":{"memory":"1Gi"}}})"),
       {"<memory unit='MiB'>512</memory>"},
       {}},
      {"vCPUs are sockets x cores x threads with a matching topology",
       VmiJson(R"({"memory":{"guest":"1Gi"},"cpu":{"sockets":2,"cores":3,"threads":2}})"),
       {"<vcpu placement='static'>12</vcpu>", "<topology sockets='2' cores='3' threads='2'/>"},
       {}},
      {"unset topology parts count as 1",
       VmiJson(R"({"memory":{"guest":"1Gi"},"cpu":{"cores":4}})"),
       {"<vcpu placement='static'>4</vcpu>", "<topology sockets='1' cores='4' threads='1'/>"},
       {}},
      {"no cpu at all is one vCPU",
       VmiJson("{" + mem + "}"),
       {"<vcpu placement='static'>1</vcpu>", "<topology sockets='1' cores='1' threads='1'/>"},
       {}},
      {"kernelBoot boots the resolved kernel and initrd with the kernel arguments, escaped",
       VmiJson(
           R"({"memory":{"guest":"1Gi"},"firmware":{"kernelBoot":{"kernelArgs":"console=ttyS0 x=\"<a&b>'\"",
           "container":{"image":"guest","kernelPath":"vmlinuz","initrdPath":"initrd.img"}}}})"),
       {"<kernel>/var/lib/kubemigrate/images/guest/vmlinuz</kernel>",
        "<initrd>/var/lib/kubemigrate/images/guest/initrd.img</initrd>",
        "<cmdline>console=ttyS0 x=&quot;&lt;a&amp;b&gt;&apos;&quot;</cmdline>"},
       {"<boot dev="}},
      {"every volume kind: virtio disks, cache=none only on shared storage, a read-only cdrom",
       VmiJson("{" + mem + "}", kAllVolumes),
       {"<disk type='file' device='disk'>\n      <driver name='qemu' type='raw'/>\n      "
        "<source file='/var/lib/kubemigrate/images/fedora/disk.img'/>\n      "
        "<target dev='vda' bus='virtio'/>",
        "<source file='/var/lib/kubemigrate/prod_vm1/scratch.img'/>\n      "
        "<target dev='vdb' bus='virtio'/>",
        "<driver name='qemu' type='raw' cache='none'/>\n      "
        "<source file='/mnt/nfs/pv-data/disk.img'/>\n      <target dev='vdc' bus='virtio'/>",
        "<disk type='block' device='disk'>\n      <driver name='qemu' type='raw' cache='none'/>\n"
        "      <source dev='/dev/vg0/dv'/>\n      <target dev='vdd' bus='virtio'/>",
        "<disk type='file' device='cdrom'>\n      <driver name='qemu' type='raw'/>\n      "
        "<source file='/var/lib/kubemigrate/prod_vm1/cloudinit.iso'/>\n      "
        "<target dev='sda' bus='sata'/>\n      <readonly/>"},
       {}},
      {"disks[] choose bus, order, serial and boot order; unlisted volumes follow",
       VmiJson(
           R"({"memory":{"guest":"1Gi"},"devices":{"disks":[
             {"name":"data","disk":{"bus":"scsi"},"bootOrder":2,"serial":"DATA-1"},
             {"name":"root","bootOrder":1},
             {"name":"ci","cdrom":{"bus":"scsi"}}]}})",
           kAllVolumes),
       {"<target dev='sda' bus='scsi'/>", "<serial>DATA-1</serial>", "<boot order='2'/>",
        "<source file='/var/lib/kubemigrate/images/fedora/disk.img'/>\n      "
        "<target dev='vda' bus='virtio'/>\n      <boot order='1'/>",
        "<target dev='sdb' bus='scsi'/>\n      <readonly/>",
        "<source file='/var/lib/kubemigrate/prod_vm1/scratch.img'/>\n      "
        "<target dev='vdb' bus='virtio'/>"},
       {"<boot dev="}},
      {"masquerade is user-mode networking, bridge uses the node's bridge; MACs lowercased",
       VmiJson(R"({"memory":{"guest":"1Gi"},"devices":{"interfaces":[
             {"name":"default","masquerade":{},"macAddress":"52:54:00:AB:cd:01"},
             {"name":"lan","bridge":{}}]}})"),
       {"<interface type='user'>\n      <mac address='52:54:00:ab:cd:01'/>\n      "
        "<model type='virtio'/>",
        "<interface type='bridge'>\n      <source bridge='br0'/>\n      <model type='virtio'/>"},
       {}},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    api::VMI vmi = MustParse(c.json);
    auto xml = engine::BuildDomainXml(vmi, AllSources(), Settings());
    INFO(xml.status().message());
    REQUIRE(xml.ok());
    INFO(*xml);
    for (const std::string& s : c.contains) CHECK_THAT(*xml, Catch::Contains(s));
    for (const std::string& s : c.absent) CHECK_THAT(*xml, !Catch::Contains(s));
  }
}

TEST_CASE("the uuid is stable for a uid and differs between uids", "[domain_xml]") {
  auto uuid_of = [](const char* uid) {
    api::VMI vmi =
        MustParse(VmiJson(R"({"memory":{"guest":"64Mi"}})", "[]",
                          std::string(R"("name":"a","namespace":"b","uid":")") + uid + "\""));
    auto xml = engine::BuildDomainXml(vmi, {}, Settings());
    REQUIRE(xml.ok());
    const size_t at = xml->find("<uuid>");
    REQUIRE(at != std::string::npos);
    return xml->substr(at + 6, 36);
  };
  CHECK(uuid_of("u-1") == uuid_of("u-1"));
  CHECK(uuid_of("u-1") != uuid_of("u-2"));
  const std::string u = uuid_of("u-1");
  CHECK(u[8] == '-');
  CHECK(u[14] == '8');                                          // version 8
  CHECK(std::string("89ab").find(u[19]) != std::string::npos);  // variant 1
}

struct ErrorCase {
  const char* name;
  std::string json;
  const char* error;
  DomainSources sources = AllSources();
  DomainSettings settings = Settings();
};

TEST_CASE("domain XML is refused with the field named", "[domain_xml]") {
  const std::string mem = R"("memory":{"guest":"256Mi"})";
  DomainSources no_root = AllSources();
  no_root.volumes.erase("root");
  DomainSources relative = AllSources();
  relative.volumes["root"].path = "images/disk.img";
  DomainSources vmdk = AllSources();
  vmdk.volumes["root"].format = "vmdk";
  DomainSources no_kernel = AllSources();
  no_kernel.kernel_path.clear();
  DomainSources no_initrd = AllSources();
  no_initrd.initrd_path.clear();
  DomainSources control = AllSources();
  control.volumes["root"].path = "/x\x01y";
  DomainSettings kvm_typo = Settings();
  kvm_typo.domain_type = "xen";
  DomainSettings no_log = Settings();
  no_log.serial_log_path.clear();
  DomainSettings no_bridge = Settings();
  no_bridge.bridge_name.clear();
  const std::string kernel_boot =
      R"({"memory":{"guest":"1Gi"},"firmware":{"kernelBoot":{"container":{"image":"guest",)"
      R"("kernelPath":"vmlinuz","initrdPath":"initrd.img"}}}})";
  const ErrorCase cases[] = {
      {"no memory", VmiJson("{}"), "spec.domain.memory.guest: no guest memory"},
      {"zero memory", VmiJson(R"({"memory":{"guest":"0"}})"),
       "spec.domain.memory.guest: must be positive"},
      {"negative request", VmiJson(R"({"resources":{"requests":{"memory":"-1Gi"}}})"),
       "spec.domain.resources.requests.memory: quantity -1Gi is negative"},
      {"negative cores", VmiJson(R"({"memory":{"guest":"1Gi"},"cpu":{"cores":-1}})"),
       "spec.domain.cpu.cores: must be 0..4096"},
      {"too many vCPUs",
       VmiJson(R"({"memory":{"guest":"1Gi"},"cpu":{"sockets":64,"cores":64,"threads":2}})"),
       "spec.domain.cpu: sockets×cores×threads = 8192 exceeds 4096"},
      {"a disk that names no volume",
       VmiJson(R"({"memory":{"guest":"1Gi"},"devices":{"disks":[{"name":"nope"}]}})"),
       "spec.domain.devices.disks[0].name: no volume named \"nope\""},
      {"a volume attached twice",
       VmiJson(
           R"({"memory":{"guest":"1Gi"},"devices":{"disks":[{"name":"root"},{"name":"root"}]}})",
           kAllVolumes),
       "spec.domain.devices.disks[1].name: volume \"root\" is attached twice"},
      {"two volumes of one name",
       VmiJson("{" + mem + "}", R"([{"name":"a","emptyDisk":{}},{"name":"a","emptyDisk":{}}])"),
       "spec.volumes[1].name: \"a\" is used by two volumes"},
      {"a volume without a source on this node", VmiJson("{" + mem + "}", kAllVolumes),
       "spec.volumes[0]: volume \"root\" (containerDisk) has no source on this node", no_root},
      {"a relative source path", VmiJson("{" + mem + "}", kAllVolumes),
       "spec.volumes[0]: the source of volume \"root\" must be an absolute path", relative},
      {"an unknown image format", VmiJson("{" + mem + "}", kAllVolumes), "has format \"vmdk\"",
       vmdk},
      {"control characters in a path", VmiJson("{" + mem + "}", kAllVolumes),
       "spec.volumes[0] source path: contains control characters", control},
      {"a configMap volume",
       VmiJson("{" + mem + "}", R"([{"name":"cfg","configMap":{"name":"c"}}])"),
       "spec.volumes[0]: volume \"cfg\" (configMap) cannot be started by this engine"},
      {"a secret volume", VmiJson("{" + mem + "}", R"([{"name":"s","secret":{}}])"),
       "(secret) cannot be started"},
      {"a serviceAccount volume", VmiJson("{" + mem + "}", R"([{"name":"s","serviceAccount":{}}])"),
       "(serviceAccount) cannot be started"},
      {"a downwardAPI volume", VmiJson("{" + mem + "}", R"([{"name":"s","downwardAPI":{}}])"),
       "(downwardAPI) cannot be started"},
      {"a config-drive volume",
       VmiJson("{" + mem + "}", R"([{"name":"s","cloudInitConfigDrive":{}}])"),
       "(cloudInitConfigDrive) cannot be started"},
      {"an ephemeral volume",
       VmiJson("{" + mem + "}",
               R"([{"name":"s","ephemeral":{"persistentVolumeClaim":{"claimName":"c"}}}])"),
       "(ephemeral) cannot be started"},
      {"an unknown volume source", VmiJson("{" + mem + "}", R"([{"name":"s","sysprep":{}}])"),
       "(other) cannot be started"},
      {"a virtio cdrom",
       VmiJson(
           R"({"memory":{"guest":"1Gi"},"devices":{"disks":[{"name":"ci","cdrom":{"bus":"virtio"}}]}})",
           kAllVolumes),
       "spec.domain.devices.disks[0].cdrom.bus: \"virtio\" is not supported for a cdrom"},
      {"an unknown disk bus",
       VmiJson(
           R"({"memory":{"guest":"1Gi"},"devices":{"disks":[{"name":"root","disk":{"bus":"ide"}}]}})",
           kAllVolumes),
       "spec.domain.devices.disks[0].disk.bus: \"ide\" is not supported"},
      {"a lun",
       VmiJson(R"({"memory":{"guest":"1Gi"},"devices":{"disks":[{"name":"dv","lun":{}}]}})",
               kAllVolumes),
       "spec.domain.devices.disks[0].lun: lun disks (SCSI passthrough) are not supported"},
      {"a serial with XML in it",
       VmiJson(R"({"memory":{"guest":"1Gi"},"devices":{"disks":[{"name":"root","serial":"<x>"}]}})",
               kAllVolumes),
       "spec.domain.devices.disks[0].serial: may hold only"},
      {"kernelBoot without a resolved kernel", VmiJson(kernel_boot),
       "spec.domain.firmware.kernelBoot.container.kernelPath: no kernel resolved on this node "
       "for image \"guest\"",
       no_kernel},
      {"kernelBoot without a resolved initrd", VmiJson(kernel_boot),
       "spec.domain.firmware.kernelBoot.container.initrdPath: no initrd resolved", no_initrd},
      {"kernel arguments with a control character",
       VmiJson(R"({"memory":{"guest":"1Gi"},"firmware":{"kernelBoot":{"kernelArgs":"a\u0007b",)"
               R"("container":{"image":"guest","kernelPath":"vmlinuz"}}}})"),
       "spec.domain.firmware.kernelBoot.kernelArgs: contains control characters"},
      {"an sriov interface",
       VmiJson(R"({"memory":{"guest":"1Gi"},"devices":{"interfaces":[{"name":"x","sriov":{}}]}})"),
       "spec.domain.devices.interfaces[0]: interface \"x\" has binding sriov"},
      {"an interface without binding",
       VmiJson(R"({"memory":{"guest":"1Gi"},"devices":{"interfaces":[{"name":"x"}]}})"),
       "interface \"x\" has binding none"},
      {"a bridge without a host bridge",
       VmiJson(R"({"memory":{"guest":"1Gi"},"devices":{"interfaces":[{"name":"x","bridge":{}}]}})"),
       "spec.domain.devices.interfaces[0].bridge: no host bridge is configured", AllSources(),
       no_bridge},
      {"a malformed MAC",
       VmiJson(
           R"({"memory":{"guest":"1Gi"},"devices":{"interfaces":[{"name":"x","masquerade":{},"macAddress":"52:54:00:00:00"}]}})"),
       "spec.domain.devices.interfaces[0].macAddress: \"52:54:00:00:00\" is not a unicast MAC"},
      {"a multicast MAC",
       VmiJson(
           R"({"memory":{"guest":"1Gi"},"devices":{"interfaces":[{"name":"x","masquerade":{},"macAddress":"01:00:5e:00:00:01"}]}})"),
       "is not a unicast MAC"},
      {"a MAC with markup",
       VmiJson(
           R"({"memory":{"guest":"1Gi"},"devices":{"interfaces":[{"name":"x","masquerade":{},"macAddress":"<a>"}]}})"),
       "\"<a>\" is not a unicast MAC"},
      {"a namespace libvirt names cannot carry",
       VmiJson("{" + mem + "}", "[]", R"("name":"vm1","namespace":"a/b")"),
       "metadata.namespace: \"a/b\" is not a DNS-1123 label"},
      {"an uppercase name", VmiJson("{" + mem + "}", "[]", R"("name":"VM_1","namespace":"a")"),
       "metadata.name: \"VM_1\" is not a DNS-1123 subdomain"},
      {"no namespace", VmiJson("{" + mem + "}", "[]", R"("name":"vm1")"),
       "metadata.namespace: \"\" is not a DNS-1123 label"},
      {"a uid with a control character",
       VmiJson("{" + mem + "}", "[]", R"("name":"a","namespace":"b","uid":"x\u0001")"),
       "metadata.uid: contains control characters"},
      {"an unknown domain type", VmiJson("{" + mem + "}"),
       "settings.domain_type: must be kvm or qemu, got \"xen\"", AllSources(), kvm_typo},
      {"no serial log", VmiJson("{" + mem + "}"), "settings.serial_log_path: must be an absolute",
       AllSources(), no_log},
  };
  for (const ErrorCase& c : cases) {
    INFO(c.name);
    api::VMI vmi = MustParse(c.json);
    auto xml = engine::BuildDomainXml(vmi, c.sources, c.settings);
    REQUIRE_FALSE(xml.ok());
    CHECK(xml.status().code() == base::Code::kInvalidArgument);
    CHECK_THAT(xml.status().message(), Catch::Contains(c.error));
  }
}

TEST_CASE("image paths stay inside the image directory", "[domain_xml]") {
  struct PathCase {
    const char* dir;
    const char* image;
    const char* relative;
    const char* want;  // null: refused
  };
  const PathCase cases[] = {
      {"/var/lib/km/images", "guest", "vmlinuz", "/var/lib/km/images/guest/vmlinuz"},
      {"/var/lib/km/images/", "guest", "/boot/vmlinuz", "/var/lib/km/images/guest/boot/vmlinuz"},
      {"/i", "quay.io/org/guest:1.0", "boot//initrd.img",
       "/i/quay.io/org/guest:1.0/boot/initrd.img"},
      {"/i", "guest", "..", nullptr},
      {"/i", "guest", "../../etc/shadow", nullptr},
      {"/i", "guest", "boot/../../x", nullptr},
      {"/i", "..", "vmlinuz", nullptr},
      {"/i", "a/./b", "vmlinuz", nullptr},
      {"/i", "", "vmlinuz", nullptr},
      {"/i", "guest", "vm\nlinuz", nullptr},
      {"relative", "guest", "vmlinuz", nullptr},
      {"", "guest", "vmlinuz", nullptr},
  };
  for (const PathCase& c : cases) {
    INFO(c.dir << " | " << c.image << " | " << c.relative);
    auto p = engine::ImagePath(c.dir, c.image, c.relative, "spec.x");
    if (c.want == nullptr) {
      REQUIRE_FALSE(p.ok());
      CHECK(p.status().code() == base::Code::kInvalidArgument);
      continue;
    }
    REQUIRE(p.ok());
    CHECK(*p == c.want);
  }
  auto dots = engine::ImagePath("/i", "guest", "a/../b", "spec.domain.firmware.kernelBoot");
  CHECK_THAT(dots.status().message(),
             Catch::Contains("spec.domain.firmware.kernelBoot: \"a/../b\" must not contain"));
}

TEST_CASE("domain names are ns_name and map back", "[domain_xml]") {
  struct NameCase {
    const char* ns;
    const char* name;
    const char* want;  // null: refused
  };
  const std::string long_name = std::string(63, 'a') + "." + std::string(189, 'b');  // 253
  const NameCase cases[] = {
      {"default", "vmi-fedora", "default_vmi-fedora"},
      {"kube-system", "a.b.c", "kube-system_a.b.c"},
      {"a", "0", "a_0"},
      {"default", "vm_1", nullptr},  // '_' would make the name ambiguous
      {"de_fault", "vm", nullptr},
      {"default", "a/b", nullptr},  // libvirt forbids '/'
      {"default", "", nullptr},
      {"", "vm", nullptr},
      {"Default", "vm", nullptr},
      {"default", "vm\n", nullptr},
      {"default", "-vm", nullptr},
      {"default", "vm<x>", nullptr},
  };
  for (const NameCase& c : cases) {
    INFO(c.ns << " / " << c.name);
    auto n = engine::DomainName(c.ns, c.name);
    if (c.want == nullptr) {
      CHECK_FALSE(n.ok());
      continue;
    }
    REQUIRE(n.ok());
    CHECK(*n == c.want);
    auto back = engine::ParseDomainName(*n);
    REQUIRE(back.ok());
    CHECK(back->namespace_ == c.ns);
    CHECK(back->name == c.name);
  }
  auto longest = engine::DomainName(std::string(63, 'n'), long_name);
  REQUIRE(longest.ok());
  CHECK(longest->size() == 63 + 1 + 253);
  CHECK(engine::ParseDomainName(*longest)->name == long_name);
  CHECK_FALSE(engine::DomainName(std::string(64, 'n'), "vm").ok());
  CHECK_FALSE(engine::DomainName("ns", long_name + "b").ok());
  for (const char* foreign : {"other-domain", "_vm", "ns_", "NS_vm", "ns_vm/x"}) {
    INFO(foreign);
    auto r = engine::ParseDomainName(foreign);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == base::Code::kNotFound);
  }
}

TEST_CASE("the VMI is read back from the domain's metadata, whatever libvirt writes",
          "[domain_xml]") {
  api::VMI vmi = MustParse(VmiJson(R"({"memory":{"guest":"64Mi"}})", "[]",
                                   R"("name":"vm1","namespace":"prod","uid":"u&'\"<1")"));
  auto xml = engine::BuildDomainXml(vmi, {}, Settings());
  REQUIRE(xml.ok());
  auto ref = engine::VMIRefFromDomainXml(*xml);
  INFO(ref.status().message());
  REQUIRE(ref.ok());
  CHECK(*ref == engine::VMIRef{"prod", "vm1", "u&'\"<1"});

  // libvirt re-serialises metadata: double quotes, its own layout, another
  // prefix is possible, attributes in any order, numeric references.
  const char* libvirt_style = R"(<domain type="qemu" id="3">
  <name>prod_vm1</name>
  <metadata>
    <km:vmi xmlns:km="https://kubemigrate.io/vmi" uid="u&amp;&#39;&quot;&lt;1" name="vm1"
      namespace="prod"/>
  </metadata>
</domain>)";
  auto ref2 = engine::VMIRefFromDomainXml(libvirt_style);
  REQUIRE(ref2.ok());
  CHECK(*ref2 == engine::VMIRef{"prod", "vm1", "u&'\"<1"});

  struct Bad {
    const char* xml;
    base::Code code;
  };
  const Bad bad[] = {
      {"<domain><name>x</name></domain>", base::Code::kNotFound},
      {"<domain><metadata><o:vmi xmlns:o='https://other.example/vmi' namespace='a' "
       "name='b'/></metadata></domain>",
       base::Code::kNotFound},
      {"<domain><metadata><km:vmx xmlns:km='https://kubemigrate.io/vmi'/></metadata></domain>",
       base::Code::kInvalidArgument},
      {"<km:vmi xmlns:km='https://kubemigrate.io/vmi' name='b'/>", base::Code::kInvalidArgument},
      {"<km:vmi xmlns:km='https://kubemigrate.io/vmi' namespace='a' name='b",
       base::Code::kInvalidArgument},
      {"<km:vmi xmlns:km='https://kubemigrate.io/vmi' namespace='a&bogus;' name='b'/>",
       base::Code::kInvalidArgument},
      {"<km:vmi xmlns:km='https://kubemigrate.io/vmi' namespace='' name='b'/>",
       base::Code::kInvalidArgument},
  };
  for (const Bad& b : bad) {
    INFO(b.xml);
    auto r = engine::VMIRefFromDomainXml(b.xml);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == b.code);
  }
}

TEST_CASE("a block migration's target creates the node-local files, not the shared ones",
          "[domain_xml]") {
  api::VMI vmi = MustParse(VmiJson(R"({"memory":{"guest":"1Gi"}})", kAllVolumes));
  DomainSources src = AllSources();
  src.volumes["root"].size_bytes = 5ull << 30;
  src.volumes["root"].format = "qcow2";
  auto files = engine::BlockMigrationTargetFiles(vmi, src);
  INFO(files.status().message());
  REQUIRE(files.ok());
  const std::vector<engine::TargetFile> want = {
      {"root", "vda", "/var/lib/kubemigrate/images/fedora/disk.img", 5ull << 30, "qcow2", false},
      // no size_bytes: the emptyDisk's capacity
      {"scratch", "vdb", "/var/lib/kubemigrate/prod_vm1/scratch.img", 2ull << 30, "raw", false},
      {"ci", "sda", "/var/lib/kubemigrate/prod_vm1/cloudinit.iso", 374784, "raw", true},
  };
  CHECK(*files == want);

  auto only_shared = engine::BlockMigrationTargetFiles(
      MustParse(VmiJson(R"({"memory":{"guest":"1Gi"}})",
                        R"([{"name":"data","persistentVolumeClaim":{"claimName":"c"}}])")),
      src);
  REQUIRE(only_shared.ok());
  CHECK(only_shared->empty());

  DomainSources unknown = AllSources();  // root has no size and containerDisk no capacity
  auto no_size = engine::BlockMigrationTargetFiles(vmi, unknown);
  REQUIRE_FALSE(no_size.ok());
  CHECK_THAT(no_size.status().message(),
             Catch::Contains("spec.volumes[0]: the size of volume \"root\" is unknown"));

  DomainSources local_block = src;
  local_block.volumes["dv"].shared = false;
  auto block = engine::BlockMigrationTargetFiles(vmi, local_block);
  REQUIRE_FALSE(block.ok());
  CHECK_THAT(block.status().message(),
             Catch::Contains("spec.volumes[3]: volume \"dv\" is a node-local block device"));

  auto bad = engine::BlockMigrationTargetFiles(
      MustParse(VmiJson("{}", R"([{"name":"s","secret":{}}])")), src);
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.status().message(), Catch::Contains("(secret) cannot be started"));
}

// Writes a JSON string literal for `s` (quotes, backslashes and control
// characters escaped).
std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

TEST_CASE("hostile text in the spec is escaped or refused, never breaks the XML", "[domain_xml]") {
  const std::string nasty[] = {"'",       "\"",        "<",         ">",         "&",
                               "]]>",     "</domain>", "&amp;",     "a\nb\tc\r", "\x01",
                               "\x7f",    "\xc3\xa9",  "' x='y",    "\" x=\"y",  "<!--",
                               "<?xml?>", "&#0;",      "$(reboot)", "\\",        ""};
  for (const std::string& text : nasty) {
    INFO("text " << JsonString(text));
    // kernelArgs and uid go into the XML as text; the others are validated.
    const std::string json = VmiJson(
        R"({"memory":{"guest":"64Mi"},"firmware":{"kernelBoot":{"kernelArgs":)" + JsonString(text) +
            R"(,"container":{"image":"g","kernelPath":"k"}}},"devices":{"disks":[{"name":"root","serial":)" +
            JsonString(text) + R"(}],"interfaces":[{"name":"x","masquerade":{},"macAddress":)" +
            JsonString(text) + "}]}}",
        R"([{"name":"root","containerDisk":{"image":"fedora"}}])",
        R"("name":"vm1","namespace":"prod","uid":)" + JsonString(text));
    api::VMI vmi = MustParse(json);
    auto xml = engine::BuildDomainXml(vmi, AllSources(), Settings());
    if (!xml.ok()) {
      CHECK(xml.status().code() == base::Code::kInvalidArgument);
      // Only text that is not plain must be refused: a serial or a MAC
      // outside their alphabets, or control characters.
      CHECK(!text.empty());
      continue;
    }
    // Accepted (only possible where every field allows it): the uid must
    // round-trip exactly and no raw markup may appear.
    auto ref = engine::VMIRefFromDomainXml(*xml);
    REQUIRE(ref.ok());
    CHECK(ref->uid == text);
    const bool raw = xml->find("<cmdline>" + text + "</cmdline>") != std::string::npos;
    CHECK_FALSE((raw && text.find_first_of("<>&'\"") != std::string::npos));
  }
  // Each text field alone: kernelArgs and uid accept markup, escaped.
  for (const std::string& text : nasty) {
    if (text.find_first_of("\x01\x7f") != std::string::npos) continue;
    INFO("text " << JsonString(text));
    api::VMI vmi = MustParse(
        VmiJson(R"({"memory":{"guest":"64Mi"},"firmware":{"kernelBoot":{"kernelArgs":)" +
                    JsonString(text) + R"(,"container":{"image":"g","kernelPath":"k"}}}})",
                "[]", R"("name":"vm1","namespace":"prod","uid":)" + JsonString(text)));
    auto xml = engine::BuildDomainXml(vmi, AllSources(), Settings());
    INFO(xml.status().message());
    REQUIRE(xml.ok());
    auto ref = engine::VMIRefFromDomainXml(*xml);
    REQUIRE(ref.ok());
    CHECK(ref->uid == text);
    const size_t open = xml->find("<cmdline>");
    if (text.empty()) {
      CHECK(open == std::string::npos);
      continue;
    }
    REQUIRE(open != std::string::npos);
    const std::string body = xml->substr(open + 9, xml->find("</cmdline>") - open - 9);
    CHECK(body.find_first_of("<>'\"") == std::string::npos);
    // Every '&' starts an entity we wrote.
    for (size_t at = body.find('&'); at != std::string::npos; at = body.find('&', at + 1)) {
      const bool entity = body.compare(at, 5, "&amp;") == 0 || body.compare(at, 4, "&lt;") == 0 ||
                          body.compare(at, 4, "&gt;") == 0 || body.compare(at, 6, "&apos;") == 0 ||
                          body.compare(at, 6, "&quot;") == 0 || body.compare(at, 5, "&#10;") == 0 ||
                          body.compare(at, 5, "&#13;") == 0 || body.compare(at, 4, "&#9;") == 0;
      CHECK(entity);
    }
  }
}

// Runs `virt-xml-validate FILE domain` (Debian's libvirt-clients) on the XML.
TEST_CASE("generated domain XML passes libvirt's schema", "[domain_xml]") {
  if (std::system("command -v virt-xml-validate >/dev/null 2>&1") != 0) {
    WARN("virt-xml-validate is missing (install libvirt-clients): schema check skipped");
    return;
  }
  char dir_template[] = "/tmp/km-domain-xml.XXXXXX";
  const char* dir = mkdtemp(dir_template);
  REQUIRE(dir != nullptr);
  const std::string file = std::string(dir) + "/domain.xml";
  auto validate = [&](const std::string& xml) {
    {
      std::ofstream out(file);
      out << xml;
    }
    const std::string cmd =
        "virt-xml-validate " + file + " domain >" + std::string(dir) + "/out.txt 2>&1";
    const int rc = std::system(cmd.c_str());
    std::ifstream in(std::string(dir) + "/out.txt");
    std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    INFO(xml);
    INFO(out);
    return rc == 0;
  };
  DomainSettings s = Settings();
  s.emulator = "/usr/bin/qemu-system-x86_64";
  s.machine = "pc";
  const std::string full = VmiJson(
      R"({"memory":{"guest":"1Gi"},"cpu":{"sockets":1,"cores":2,"threads":2},
          "firmware":{"kernelBoot":{"kernelArgs":"console=ttyS0 a=\"<&>\"",
            "container":{"image":"guest","kernelPath":"vmlinuz","initrdPath":"initrd.img"}}},
          "devices":{"disks":[{"name":"data","disk":{"bus":"scsi"},"bootOrder":1,"serial":"D-1"},
                              {"name":"ci","cdrom":{"bus":"sata"}}],
                     "interfaces":[{"name":"default","masquerade":{},"macAddress":"52:54:00:00:00:01"},
                                   {"name":"lan","bridge":{}}]}})",
      kAllVolumes);
  CHECK(validate(*engine::BuildDomainXml(MustParse(full), AllSources(), s)));
  CHECK(validate(*engine::BuildDomainXml(
      MustParse(VmiJson(R"({"memory":{"guest":"64Mi"}})", "[]", R"("name":"a","namespace":"b")")),
      {}, Settings())));
  // The check can fail: a domain without its <name> is refused.
  std::string broken = *engine::BuildDomainXml(MustParse(full), AllSources(), s);
  broken.erase(broken.find("<name>"), broken.find("</name>") + 7 - broken.find("<name>"));
  CHECK_FALSE(validate(broken));
  std::remove(file.c_str());
  std::remove((std::string(dir) + "/out.txt").c_str());
  rmdir(dir);
}

}  // namespace
