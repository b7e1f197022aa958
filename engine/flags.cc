#include "engine/flags.h"

#include "api/names.h"
#include "base/flags.h"

namespace engine {
namespace {

void Register(base::FlagSet& fs, Flags& f) {
  fs.String("node-name", &f.node_name, "NAME",
            "this node's name (its kubernetes.io/hostname label)");
  fs.String("libvirt-uri", &f.libvirt_uri, "URI", "the local libvirt daemon");
  fs.String("advertise-libvirt-uri", &f.advertise_libvirt_uri, "URI",
            "how other nodes' libvirt reaches this one (qemu+tcp://ADDR/system, qemu+tls://...)");
  fs.String("migration-address", &f.migration_address, "ADDR",
            "address other nodes send migration data to (default: the host of "
            "--advertise-libvirt-uri)");
  fs.String("kubeconfig", &f.kubeconfig, "FILE",
            "kubeconfig file (default: KUBECONFIG when set, else the in-cluster service "
            "account, else ~/.kube/config)");
  fs.String("image-dir", &f.image_dir, "DIR",
            "node-local images: containerDisk and kernelBoot `image` name a directory here");
  fs.String("data-dir", &f.data_dir, "DIR", "node-local disk files (emptyDisk, cloud-init)");
  fs.String("domain-type", &f.domain_type, "kvm|qemu",
            "libvirt domain type (default: kvm when /dev/kvm exists, else qemu)");
  fs.String("kubevirt-namespace", &f.kubevirt_namespace, "NS", "namespace of the KubeVirt object");
  fs.String("kubevirt-name", &f.kubevirt_name, "NAME", "name of the KubeVirt object");
  fs.String("bind-address", &f.bind_address, "ADDR", "address of /metrics, /healthz, /readyz");
  fs.Int("metrics-port", &f.metrics_port, 0, 65535, "N", "port of /metrics (0: a free port)");
  fs.Int("healthz-port", &f.healthz_port, 0, 65535, "N",
         "port of /healthz and /readyz (0: a free port)");
  fs.Int("lease-duration", &f.lease_duration_seconds, 5, 3600, "SECONDS",
         "a node lease older than this marks the node's engine as gone");
  fs.Bool("migration-tls", &f.migration_tls,
          "encrypt migration streams with libvirt's TLS (VIR_MIGRATE_TLS)");
  fs.String("bridge", &f.bridge, "NAME",
            "host bridge that `bridge: {}` interfaces join (default: none, such VMIs are refused)");
  fs.String("nfs-mount-dir", &f.nfs_mount_dir, "DIR",
            "where the node mounts NFS exports, as DIR/SERVER/PATH (default: none, NFS volumes "
            "are refused)");
  base::log::AddFlags(fs, &f.log);
  for (const char* name : {"node-name", "libvirt-uri", "advertise-libvirt-uri", "migration-address",
                           "kubeconfig", "image-dir", "data-dir", "domain-type",
                           "kubevirt-namespace", "kubevirt-name", "bind-address"}) {
    fs.NonEmpty(name);
  }
  fs.Require("node-name");
  fs.Require("advertise-libvirt-uri");
  fs.DisallowPositional();
}

// The host part of a libvirt URI ("qemu+tcp://10.0.0.2:16509/system" -> "10.0.0.2").
std::string UriHost(const std::string& uri) {
  size_t start = uri.find("://");
  if (start == std::string::npos) return "";
  start += 3;
  size_t end = uri.find_first_of("/?", start);
  std::string authority = uri.substr(start, end == std::string::npos ? end : end - start);
  if (size_t at = authority.rfind('@'); at != std::string::npos) authority.erase(0, at + 1);
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    return close == std::string::npos ? "" : authority.substr(1, close - 1);
  }
  return authority.substr(0, authority.find(':'));
}

}  // namespace

std::string Usage() {
  Flags defaults;
  base::FlagSet fs;
  Register(fs, defaults);
  return "usage: migration-engine --node-name NAME --advertise-libvirt-uri URI [flags]\n\n" +
         fs.Usage();
}

base::StatusOr<Flags> ParseFlags(const std::vector<std::string>& args, bool have_kvm) {
  Flags f;
  base::FlagSet fs;
  Register(fs, f);
  base::Status parsed = fs.Parse(args);
  if (fs.help_requested()) {
    f.help = true;
    return f;
  }
  std::vector<std::string> problems;
  if (!parsed.ok()) problems.push_back(parsed.message());
  if (!f.node_name.empty() && !api::IsDns1123Subdomain(f.node_name)) {
    problems.push_back("--node-name \"" + f.node_name +
                       "\": must be a DNS-1123 subdomain (lower-case alphanumerics, '-' and '.')");
  }
  if (f.domain_type.empty()) f.domain_type = have_kvm ? "kvm" : "qemu";
  if (f.domain_type != "kvm" && f.domain_type != "qemu") {
    problems.push_back("--domain-type \"" + f.domain_type + "\": want kvm or qemu");
  }
  if (!f.advertise_libvirt_uri.empty()) {
    std::string host = UriHost(f.advertise_libvirt_uri);
    if (host.empty()) {
      problems.push_back("--advertise-libvirt-uri \"" + f.advertise_libvirt_uri +
                         "\": want a remote URI with a host, e.g. qemu+tcp://10.0.0.2/system");
    } else if (f.migration_address.empty()) {
      f.migration_address = host;
    }
  }
  if (!f.nfs_mount_dir.empty() && f.nfs_mount_dir.front() != '/') {
    problems.push_back("--nfs-mount-dir \"" + f.nfs_mount_dir + "\": must be an absolute path");
  }
  if (f.metrics_port != 0 && f.metrics_port == f.healthz_port) {
    problems.push_back("--metrics-port and --healthz-port must differ (both " +
                       std::to_string(f.metrics_port) + ")");
  }
  if (problems.empty()) return f;
  std::string message;
  for (const std::string& p : problems) message += (message.empty() ? "" : "\n") + p;
  return base::InvalidArgument(message);
}

}  // namespace engine
