// migration-engine's flags: defaults, derived values, every problem at once.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "api/names.h"
#include "engine/flags.h"

using engine::ParseFlags;

TEST_CASE("engine flags have the documented defaults and derive the migration address") {
  auto f = ParseFlags(
      {"--node-name", "node01", "--advertise-libvirt-uri", "qemu+tcp://10.0.0.1:16509/system"},
      /*have_kvm=*/true);
  REQUIRE(f.ok());
  CHECK(f->libvirt_uri == "qemu:///system");
  CHECK(f->migration_address == "10.0.0.1");
  CHECK(f->domain_type == "kvm");
  CHECK(f->image_dir == "/var/lib/kubemigrate/images");
  CHECK(f->kubevirt_namespace == "kubevirt");
  CHECK(f->metrics_port == 9100);
  CHECK(f->lease_duration_seconds == 40);
  CHECK_FALSE(f->migration_tls);
  CHECK(f->bridge.empty());
  CHECK(f->nfs_mount_dir.empty());
}

TEST_CASE("the host bridge and the NFS mount directory are settings of the node") {
  auto f = ParseFlags({"--node-name=n", "--advertise-libvirt-uri=qemu+tcp://h/system",
                       "--bridge=br0", "--nfs-mount-dir=/mnt/nfs"},
                      true);
  REQUIRE(f.ok());
  CHECK(f->bridge == "br0");
  CHECK(f->nfs_mount_dir == "/mnt/nfs");
  auto bad = ParseFlags({"--node-name=n", "--advertise-libvirt-uri=qemu+tcp://h/system",
                         "--nfs-mount-dir=mnt/nfs", "--bridge="},
                        true);
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.status().message(), Catch::Contains("--nfs-mount-dir \"mnt/nfs\": must be an absolute path"));
}

TEST_CASE("the domain type defaults to qemu (TCG) where /dev/kvm is missing") {
  auto f = ParseFlags({"--node-name=n", "--advertise-libvirt-uri=qemu+tcp://[::1]:1/system"},
                      /*have_kvm=*/false);
  REQUIRE(f.ok());
  CHECK(f->domain_type == "qemu");
  CHECK(f->migration_address == "::1");
}

TEST_CASE("engine flags list every problem at once") {
  auto f = ParseFlags(
      {"--node-name", "Node_1", "--domain-type", "xen", "--metrics-port=9", "--healthz-port=9",
       "--advertise-libvirt-uri", "qemu:///system", "--lease-duration=1", "--bogus", "stray"},
      true);
  REQUIRE_FALSE(f.ok());
  const std::string& m = f.status().message();
  CHECK_THAT(m, Catch::Contains("--node-name \"Node_1\": must be a DNS-1123 subdomain"));
  CHECK_THAT(m, Catch::Contains("--domain-type \"xen\": want kvm or qemu"));
  CHECK_THAT(m, Catch::Contains("--metrics-port and --healthz-port must differ"));
  CHECK_THAT(m, Catch::Contains("want a remote URI with a host"));
  CHECK_THAT(m, Catch::Contains("invalid argument \"1\" for \"--lease-duration\" flag"));
  CHECK_THAT(m, Catch::Contains("unknown flag: --bogus"));
  CHECK_THAT(m, Catch::Contains("unexpected argument \"stray\""));
}

TEST_CASE("the engine needs its node name and advertised URI") {
  auto f = ParseFlags({}, true);
  REQUIRE_FALSE(f.ok());
  CHECK_THAT(f.status().message(), Catch::Contains("--node-name is required") &&
                                       Catch::Contains("--advertise-libvirt-uri is required"));
  auto help = ParseFlags({"--help", "--bogus"}, true);
  REQUIRE(help.ok());
  CHECK(help->help);
  CHECK_THAT(engine::Usage(), Catch::Contains("--advertise-libvirt-uri URI"));
}

TEST_CASE("names follow the API server's DNS-1123 rules") {
  struct Case {
    std::string name;
    bool label, subdomain;
  } cases[] = {
      {"vmi-fedora", true, true},
      {"a", true, true},
      {"vmi.fedora", false, true},
      {"node01.example.com", false, true},
      {"a..b", false, false},
      {"a.-b", false, false},
      {"-a", false, false},
      {"a-", false, false},
      {"A", false, false},
      {"a_b", false, false},
      {"", false, false},
      {std::string(63, 'a'), true, true},
      {std::string(64, 'a'), false, true},
      {std::string(253, 'a'), false, true},
      {std::string(254, 'a'), false, false},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    CHECK(api::IsDns1123Label(c.name) == c.label);
    CHECK(api::IsDns1123Subdomain(c.name) == c.subdomain);
  }
}
