#include "kube/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace kube {
namespace {

namespace fs = std::filesystem;

base::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return base::NotFound("cannot read file " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return base::Internal("error reading file " + path);
  return ss.str();
}

// Standard and URL-safe alphabets; whitespace is skipped, padding optional.
base::StatusOr<std::string> Base64Decode(const std::string& in) {
  std::string out;
  unsigned int acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+' || c == '-') v = 62;
    else if (c == '/' || c == '_') v = 63;
    else if (c == '=') break;
    else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    else return base::InvalidArgument(std::string("invalid base64 character '") + c + "'");
    acc = (acc << 6) | static_cast<unsigned int>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::string Resolve(const std::string& path, const fs::path& dir) {
  if (path.empty()) return path;
  fs::path p(path);
  if (p.is_absolute()) return path;
  return (dir / p).lexically_normal().string();
}

// One named entry (cluster, user or context) with the file it came from.
struct Entry {
  YAML::Node node;
  std::string file;
};

struct Merged {
  std::map<std::string, Entry> clusters, users, contexts;
  std::string current_context;
  std::string current_context_file;
  std::vector<std::string> files;  // the files that were read, in order
};

std::string FileList(const Merged& m) {
  std::string s;
  for (const auto& f : m.files) {
    if (!s.empty()) s += ", ";
    s += f;
  }
  return s.empty() ? "(none)" : s;
}

std::string Scalar(const YAML::Node& n, const char* key) {
  if (!n || !n.IsMap()) return "";
  YAML::Node v = n[key];
  if (!v || !v.IsScalar()) return "";
  return v.Scalar();
}

bool Bool(const YAML::Node& n, const char* key) {
  std::string s = Scalar(n, key);
  return s == "true" || s == "True" || s == "TRUE";
}

base::Status MergeSection(const YAML::Node& root, const char* section, const char* inner,
                    const std::string& file, std::map<std::string, Entry>& into) {
  YAML::Node list = root[section];
  if (!list || list.IsNull()) return base::Status::Ok();
  if (!list.IsSequence()) {
    return base::InvalidArgument(file + ": '" + section + "' must be a list");
  }
  for (const auto& item : list) {
    std::string name = Scalar(item, "name");
    if (name.empty()) {
      return base::InvalidArgument(file + ": an entry of '" + section + "' has no name");
    }
    YAML::Node body = item[inner];
    if (body && !body.IsNull() && !body.IsMap()) {
      return base::InvalidArgument(file + ": " + section + " \"" + name + "\": '" + inner +
                             "' must be a map");
    }
    into.emplace(name, Entry{body ? body : YAML::Node(YAML::NodeType::Map), file});
  }
  return base::Status::Ok();
}

base::Status MergeFile(const std::string& file, Merged& m) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::Exception& e) {
    return base::InvalidArgument("cannot parse kubeconfig " + file + ": " + e.what());
  }
  m.files.push_back(file);
  if (root.IsNull()) return base::Status::Ok();  // an empty file is a valid, empty kubeconfig
  if (!root.IsMap()) return base::InvalidArgument("kubeconfig " + file + " is not a YAML map");
  for (auto [section, inner] : {std::pair{"clusters", "cluster"}, std::pair{"users", "user"},
                                std::pair{"contexts", "context"}}) {
    auto& into = std::string(section) == "clusters" ? m.clusters
                 : std::string(section) == "users"  ? m.users
                                                    : m.contexts;
    base::Status s = MergeSection(root, section, inner, file, into);
    if (!s.ok()) return s;
  }
  if (m.current_context.empty()) {
    m.current_context = Scalar(root, "current-context");
    if (!m.current_context.empty()) m.current_context_file = file;
  }
  return base::Status::Ok();
}

// Reads "<key>-data" (base64) or "<key>" (a path relative to the entry's file).
// The -data form wins when both are set, as in client-go.
base::StatusOr<std::string> DataOrFile(const Entry& e, const std::string& key, const std::string& what) {
  std::string data = Scalar(e.node, (key + "-data").c_str());
  if (!data.empty()) {
    auto decoded = Base64Decode(data);
    if (!decoded.ok()) {
      return base::InvalidArgument(e.file + ": " + what + ": " + key + "-data: " +
                             decoded.status().message());
    }
    return decoded;
  }
  std::string path = Scalar(e.node, key.c_str());
  if (path.empty()) return std::string();
  std::string resolved = Resolve(path, fs::path(e.file).parent_path());
  auto content = ReadWholeFile(resolved);
  if (!content.ok()) {
    return base::InvalidArgument(e.file + ": " + what + ": " + key + " " + resolved +
                           " cannot be read");
  }
  return content;
}

base::Status ParseExec(const Entry& e, const std::string& user, ExecConfig& out) {
  YAML::Node ex = e.node["exec"];
  std::string where = e.file + ": user \"" + user + "\": exec";
  out.api_version = Scalar(ex, "apiVersion");
  if (out.api_version != "client.authentication.k8s.io/v1" &&
      out.api_version != "client.authentication.k8s.io/v1beta1") {
    return base::InvalidArgument(where + ": unsupported apiVersion \"" + out.api_version +
                           "\" (want client.authentication.k8s.io/v1 or v1beta1)");
  }
  out.command = Scalar(ex, "command");
  if (out.command.empty()) return base::InvalidArgument(where + ": command is empty");
  // client-go resolves only commands that name a relative path, not bare names
  // looked up in PATH.
  if (out.command.find('/') != std::string::npos) {
    out.command = Resolve(out.command, fs::path(e.file).parent_path());
  }
  if (YAML::Node args = ex["args"]; args && args.IsSequence()) {
    for (const auto& a : args) {
      if (!a.IsScalar()) return base::InvalidArgument(where + ": args must be strings");
      out.args.push_back(a.Scalar());
    }
  }
  if (YAML::Node env = ex["env"]; env && env.IsSequence()) {
    for (const auto& kv : env) {
      std::string name = Scalar(kv, "name");
      if (name.empty()) return base::InvalidArgument(where + ": an env entry has no name");
      out.env.emplace_back(name, Scalar(kv, "value"));
    }
  }
  out.install_hint = Scalar(ex, "installHint");
  out.interactive_mode = Scalar(ex, "interactiveMode");
  if (out.api_version == "client.authentication.k8s.io/v1" && out.interactive_mode.empty()) {
    return base::InvalidArgument(where + ": interactiveMode must be set for " + out.api_version);
  }
  if (!out.interactive_mode.empty() && out.interactive_mode != "Never" &&
      out.interactive_mode != "IfAvailable" && out.interactive_mode != "Always") {
    return base::InvalidArgument(where + ": invalid interactiveMode \"" + out.interactive_mode + "\"");
  }
  out.provide_cluster_info = Bool(ex, "provideClusterInfo");
  return base::Status::Ok();
}

base::StatusOr<RestConfig> Build(const Merged& m, const KubeconfigOptions& options) {
  std::string ctx_name = options.context.empty() ? m.current_context : options.context;
  if (ctx_name.empty()) {
    return base::InvalidArgument("no context chosen: current-context is not set in " + FileList(m) +
                           " and no --context was given");
  }
  auto ctx_it = m.contexts.find(ctx_name);
  if (ctx_it == m.contexts.end()) {
    return base::InvalidArgument("context \"" + ctx_name + "\" not found in kubeconfig " + FileList(m));
  }
  const Entry& ctx = ctx_it->second;
  std::string cluster_name = Scalar(ctx.node, "cluster");
  if (cluster_name.empty()) {
    return base::InvalidArgument(ctx.file + ": context \"" + ctx_name + "\" names no cluster");
  }
  auto cl_it = m.clusters.find(cluster_name);
  if (cl_it == m.clusters.end()) {
    return base::InvalidArgument("context \"" + ctx_name + "\" (" + ctx.file + ") refers to cluster \"" +
                           cluster_name + "\", which is not defined in " + FileList(m));
  }
  const Entry& cl = cl_it->second;

  RestConfig rc;
  rc.server = Scalar(cl.node, "server");
  if (rc.server.empty()) {
    return base::InvalidArgument(cl.file + ": cluster \"" + cluster_name + "\" has no server");
  }
  while (!rc.server.empty() && rc.server.back() == '/') rc.server.pop_back();
  auto ca = DataOrFile(cl, "certificate-authority", "cluster \"" + cluster_name + "\"");
  if (!ca.ok()) return ca.status();
  rc.ca_pem = *ca;
  rc.insecure_skip_tls_verify = Bool(cl.node, "insecure-skip-tls-verify");
  rc.tls_server_name = Scalar(cl.node, "tls-server-name");

  std::string user_name = Scalar(ctx.node, "user");
  if (!user_name.empty()) {
    auto u_it = m.users.find(user_name);
    if (u_it == m.users.end()) {
      return base::InvalidArgument("context \"" + ctx_name + "\" (" + ctx.file + ") refers to user \"" +
                             user_name + "\", which is not defined in " + FileList(m));
    }
    const Entry& u = u_it->second;
    std::string what = "user \"" + user_name + "\"";
    rc.bearer_token = Scalar(u.node, "token");
    std::string token_file = Scalar(u.node, "tokenFile");
    if (!token_file.empty()) {
      rc.bearer_token_file = Resolve(token_file, fs::path(u.file).parent_path());
    }
    auto cert = DataOrFile(u, "client-certificate", what);
    if (!cert.ok()) return cert.status();
    auto key = DataOrFile(u, "client-key", what);
    if (!key.ok()) return key.status();
    rc.client_cert_pem = *cert;
    rc.client_key_pem = *key;
    if (rc.client_cert_pem.empty() != rc.client_key_pem.empty()) {
      return base::InvalidArgument(u.file + ": " + what +
                             " has a client certificate without a key, or a key without a "
                             "certificate");
    }
    if (u.node["exec"] && !u.node["exec"].IsNull()) {
      ExecConfig ex;
      base::Status s = ParseExec(u, user_name, ex);
      if (!s.ok()) return s;
      rc.exec = std::move(ex);
    }
  }

  rc.namespace_ = Scalar(ctx.node, "namespace");
  if (!options.namespace_override.empty()) rc.namespace_ = options.namespace_override;
  if (rc.namespace_.empty()) rc.namespace_ = "default";
  return rc;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

}  // namespace

base::StatusOr<RestConfig> LoadKubeconfigFrom(const KubeconfigOptions& options,
                                        const std::string& kubeconfig_env,
                                        const std::string& home) {
  Merged m;
  if (!options.explicit_path.empty()) {
    // An explicit file must exist (kubectl fails rather than falling back).
    std::error_code ec;
    if (!fs::exists(options.explicit_path, ec)) {
      return base::NotFound("kubeconfig " + options.explicit_path + " (--kubeconfig) does not exist");
    }
    base::Status s = MergeFile(options.explicit_path, m);
    if (!s.ok()) return s;
  } else if (!kubeconfig_env.empty()) {
    // Missing entries of the KUBECONFIG list are skipped, as kubectl does.
    std::stringstream ss(kubeconfig_env);
    std::string path;
    std::vector<std::string> seen;
    while (std::getline(ss, path, ':')) {
      if (path.empty()) continue;
      bool dup = false;
      for (const auto& p : seen) dup = dup || p == path;
      if (dup) continue;
      seen.push_back(path);
      std::error_code ec;
      if (!fs::exists(path, ec)) continue;
      base::Status s = MergeFile(path, m);
      if (!s.ok()) return s;
    }
    if (m.files.empty()) {
      return base::NotFound("none of the files in KUBECONFIG (" + kubeconfig_env + ") exists");
    }
  } else {
    if (home.empty()) return base::NotFound("no kubeconfig: KUBECONFIG and HOME are not set");
    std::string path = (fs::path(home) / ".kube" / "config").string();
    std::error_code ec;
    if (!fs::exists(path, ec)) return base::NotFound("no kubeconfig: " + path + " does not exist");
    base::Status s = MergeFile(path, m);
    if (!s.ok()) return s;
  }
  return Build(m, options);
}

base::StatusOr<RestConfig> LoadKubeconfig(const KubeconfigOptions& options) {
  return LoadKubeconfigFrom(options, Env("KUBECONFIG"), Env("HOME"));
}

base::StatusOr<RestConfig> InClusterConfig(const std::string& root) {
  std::string host = Env("KUBERNETES_SERVICE_HOST");
  std::string port = Env("KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty()) {
    return base::FailedPrecondition(
        "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be "
        "set");
  }
  std::string dir = root + "/var/run/secrets/kubernetes.io/serviceaccount";
  RestConfig rc;
  rc.server = "https://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
              port;
  auto token = ReadWholeFile(dir + "/token");
  if (!token.ok()) {
    return base::FailedPrecondition("in-cluster config: cannot read the service account token " + dir +
                              "/token");
  }
  rc.bearer_token = *token;
  while (!rc.bearer_token.empty() &&
         (rc.bearer_token.back() == '\n' || rc.bearer_token.back() == '\r')) {
    rc.bearer_token.pop_back();
  }
  rc.bearer_token_file = dir + "/token";
  auto ca = ReadWholeFile(dir + "/ca.crt");
  if (!ca.ok()) {
    return base::FailedPrecondition("in-cluster config: cannot read the cluster CA " + dir + "/ca.crt");
  }
  rc.ca_pem = *ca;
  auto ns = ReadWholeFile(dir + "/namespace");
  if (ns.ok()) {
    std::string n = *ns;
    while (!n.empty() && (n.back() == '\n' || n.back() == ' ' || n.back() == '\r')) n.pop_back();
    if (!n.empty()) rc.namespace_ = n;
  }
  return rc;
}

base::StatusOr<RestConfig> DefaultConfig(const KubeconfigOptions& options) {
  if (options.explicit_path.empty() && Env("KUBECONFIG").empty() &&
      !Env("KUBERNETES_SERVICE_HOST").empty()) {
    auto rc = InClusterConfig();
    if (!rc.ok()) return rc.status();
    if (!options.namespace_override.empty()) rc->namespace_ = options.namespace_override;
    return rc;
  }
  return LoadKubeconfig(options);
}

}  // namespace kube
