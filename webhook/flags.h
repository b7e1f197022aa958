// Command-line flags of migration-webhook. Pure parsing: no files are read.
#pragma once

#include <string>
#include <vector>

#include "base/log.h"
#include "base/status.h"

namespace webhook {

struct Flags {
  std::string tls_cert_file;
  std::string tls_private_key_file;
  std::string client_ca_file;  // empty: client certificates are not requested
  std::string bind_address = "0.0.0.0";
  int port = 8443;         // 0: any free port (printed once listening)
  std::string kubeconfig;  // empty: kube::DefaultConfig (in-cluster first)
  std::string kubevirt_namespace = "kubevirt";
  std::string kubevirt_name = "kubevirt";
  base::log::Options log;  // -v, --log-format
  bool help = false;       // -h/--help: print Usage() and exit 0
};

// The usage text with every flag, its default and its meaning.
std::string Usage();

// Parses `args` (argv without the program name) with base::FlagSet. Returns
// InvalidArgument whose message lists every problem, one per line (unknown
// flags, missing values, bad numbers, missing required flags, stray
// arguments), so that the operator fixes them all at once.
base::StatusOr<Flags> ParseFlags(const std::vector<std::string>& args);

}  // namespace webhook
