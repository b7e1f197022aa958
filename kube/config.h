// Client configuration: where the API server is and how to authenticate.
//
// Sources, following kubectl and client-go:
//   - LoadKubeconfig: --kubeconfig path, else the KUBECONFIG list (merged,
//     first file wins per key), else ~/.kube/config.
//   - InClusterConfig: the pod's service account.
//   - DefaultConfig: explicit kubeconfig > in-cluster > KUBECONFIG/~/.kube/config.
// Errors name the file and the missing context/cluster/user precisely.
// All functions are safe to call from any thread (they read the environment
// and files; they do not modify state).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace kube {

// A kubeconfig `users[].user.exec` credential plugin.
struct ExecConfig {
  std::string api_version;  // client.authentication.k8s.io/v1 or v1beta1
  std::string command;      // resolved against the kubeconfig's directory if it contains '/'
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string install_hint;
  std::string interactive_mode;  // Never, IfAvailable, Always ("" = IfAvailable for v1beta1)
  bool provide_cluster_info = false;
};

struct RestConfig {
  std::string server;  // https://host:port (http:// only for tests)
  std::string ca_pem;  // empty: the system's trust store
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;
  std::string bearer_token;
  std::string bearer_token_file;  // re-read when it changes (see TokenFileSource)
  std::string client_cert_pem;
  std::string client_key_pem;
  std::optional<ExecConfig> exec;
  std::string namespace_ = "default";  // from the context, or the service account
  double qps = 50;                     // <= 0 disables client-side rate limiting
  int burst = 100;
  std::chrono::milliseconds timeout{30000};  // connect and read timeout of one request
  std::string user_agent = "kubemigrate";
};

struct KubeconfigOptions {
  std::string explicit_path;       // --kubeconfig
  std::string context;             // --context
  std::string namespace_override;  // -n/--namespace
};

// Loads and merges kubeconfig files as kubectl does. Relative paths inside a
// file resolve against that file's directory. Returns InvalidArgument for
// malformed files or missing entries, NotFound when no file exists.
base::StatusOr<RestConfig> LoadKubeconfig(const KubeconfigOptions& options);

// Same as LoadKubeconfig, with the KUBECONFIG value and home directory given
// explicitly (for tests and for callers that already read the environment).
base::StatusOr<RestConfig> LoadKubeconfigFrom(const KubeconfigOptions& options,
                                              const std::string& kubeconfig_env,
                                              const std::string& home);

// The pod's service-account config. `root` replaces "/" as the prefix of
// /var/run/secrets/kubernetes.io/serviceaccount (for tests). Returns
// FailedPrecondition when KUBERNETES_SERVICE_HOST/PORT are not set.
base::StatusOr<RestConfig> InClusterConfig(const std::string& root = "");

// Explicit --kubeconfig > in-cluster (when KUBERNETES_SERVICE_HOST is set and
// no KUBECONFIG is set) > KUBECONFIG/~/.kube/config. A namespace override
// applies to every source.
base::StatusOr<RestConfig> DefaultConfig(const KubeconfigOptions& options);

}  // namespace kube
