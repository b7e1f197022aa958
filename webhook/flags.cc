#include "webhook/flags.h"

#include <charconv>

namespace webhook {

const char kUsage[] =
    "usage: migration-webhook --tls-cert-file FILE --tls-private-key-file FILE\n"
    "                         [--client-ca-file FILE] [--bind-address ADDR] [--port N]\n"
    "                         [--kubeconfig FILE] [--kubevirt-namespace NS]\n"
    "                         [--kubevirt-name NAME]\n"
    "\n"
    "  --tls-cert-file         serving certificate chain (PEM); reloaded when it changes\n"
    "  --tls-private-key-file  its private key (PEM, ECDSA or RSA); reloaded with it\n"
    "  --client-ca-file        require client certificates signed by this CA (mTLS)\n"
    "  --bind-address          address to listen on (default 0.0.0.0)\n"
    "  --port                  HTTPS port (default 8443; 0 picks a free port)\n"
    "  --kubeconfig            kubeconfig file (default: in-cluster service account,\n"
    "                          then KUBECONFIG, then ~/.kube/config)\n"
    "  --kubevirt-namespace    namespace of the KubeVirt object (default kubevirt)\n"
    "  --kubevirt-name         name of the KubeVirt object (default kubevirt)\n";

base::StatusOr<Flags> ParseFlags(const std::vector<std::string>& args) {
  Flags f;
  std::vector<std::string> problems;
  auto string_flags = [&f](const std::string& name) -> std::string* {
    if (name == "--tls-cert-file") return &f.tls_cert_file;
    if (name == "--tls-private-key-file") return &f.tls_private_key_file;
    if (name == "--client-ca-file") return &f.client_ca_file;
    if (name == "--bind-address") return &f.bind_address;
    if (name == "--kubeconfig") return &f.kubeconfig;
    if (name == "--kubevirt-namespace") return &f.kubevirt_namespace;
    if (name == "--kubevirt-name") return &f.kubevirt_name;
    return nullptr;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    if (name == "-h" || name == "--help") {
      f.help = true;
      continue;
    }
    if (name.rfind("--", 0) != 0) {
      problems.push_back("unexpected argument \"" + name + "\"");
      continue;
    }
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    std::string* target = string_flags(name);
    if (target == nullptr && name != "--port") {
      problems.push_back("unknown flag " + name);
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        problems.push_back(name + ": missing value");
        continue;
      }
      value = args[++i];
    }
    if (target != nullptr) {
      if (value.empty()) problems.push_back(name + ": must not be empty");
      *target = value;
      continue;
    }
    int port = -1;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), port);
    if (ec != std::errc() || end != value.data() + value.size() || port < 0 || port > 65535) {
      problems.push_back("--port: want an integer in [0, 65535], got \"" + value + "\"");
    } else {
      f.port = port;
    }
  }
  if (f.help) return f;
  if (f.tls_cert_file.empty()) problems.push_back("--tls-cert-file is required");
  if (f.tls_private_key_file.empty()) problems.push_back("--tls-private-key-file is required");
  if (problems.empty()) return f;
  std::string message;
  for (const std::string& p : problems) message += p + "\n";
  message.pop_back();
  return base::InvalidArgument(message);
}

}  // namespace webhook
