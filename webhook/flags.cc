#include "webhook/flags.h"

#include "base/flags.h"

namespace webhook {
namespace {

// One table for parsing and for the usage text.
void Register(base::FlagSet& fs, Flags& f) {
  fs.String("tls-cert-file", &f.tls_cert_file, "FILE",
            "serving certificate chain (PEM); reloaded when it changes");
  fs.String("tls-private-key-file", &f.tls_private_key_file, "FILE",
            "its private key (PEM, ECDSA or RSA); reloaded with it");
  fs.String("client-ca-file", &f.client_ca_file, "FILE",
            "require client certificates signed by this CA (mTLS)");
  fs.String("bind-address", &f.bind_address, "ADDR", "address to listen on");
  fs.Int("port", &f.port, 0, 65535, "N", "HTTPS port (0 picks a free port)");
  fs.String("kubeconfig", &f.kubeconfig, "FILE",
            "kubeconfig file (default: KUBECONFIG when set, else the in-cluster service account, else "
            "~/.kube/config)");
  fs.String("kubevirt-namespace", &f.kubevirt_namespace, "NS", "namespace of the KubeVirt object");
  fs.String("kubevirt-name", &f.kubevirt_name, "NAME", "name of the KubeVirt object");
  base::log::AddFlags(fs, &f.log);
  for (const char* name : {"tls-cert-file", "tls-private-key-file", "client-ca-file",
                           "bind-address", "kubeconfig", "kubevirt-namespace", "kubevirt-name"}) {
    fs.NonEmpty(name);
  }
  fs.Require("tls-cert-file");
  fs.Require("tls-private-key-file");
  fs.DisallowPositional();
}

}  // namespace

std::string Usage() {
  Flags defaults;
  base::FlagSet fs;
  Register(fs, defaults);
  return "usage: migration-webhook --tls-cert-file FILE --tls-private-key-file FILE [flags]\n\n" +
         fs.Usage();
}

base::StatusOr<Flags> ParseFlags(const std::vector<std::string>& args) {
  Flags f;
  base::FlagSet fs;
  Register(fs, f);
  base::Status parsed = fs.Parse(args);
  if (fs.help_requested()) {
    f.help = true;
    return f;
  }
  if (!parsed.ok()) return parsed;
  return f;
}

}  // namespace webhook
