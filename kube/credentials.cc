#include "kube/credentials.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

extern char** environ;

namespace kube {
namespace {

std::string TrimNewlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string Base64Encode(const std::string& in) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) | static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

struct ProcessResult {
  int exit_code = 0;
  std::string out, err;
};

// Runs argv with extra environment variables, stdin from /dev/null, and
// collects stdout and stderr. posix_spawn avoids running code between fork and
// exec in a multi-threaded process. Returns the spawn errno on failure.
base::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                   const std::vector<std::pair<std::string, std::string>>& env,
                                   int& spawn_errno) {
  spawn_errno = 0;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return base::Internal("pipe: " + std::string(strerror(errno)));
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return base::Internal("pipe: " + std::string(strerror(errno)));
  }
  std::vector<std::string> env_strings;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    bool overridden = false;
    for (const auto& [k, v] : env) overridden = overridden || kv.rfind(k + "=", 0) == 0;
    if (!overridden) env_strings.push_back(kv);
  }
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    spawn_errno = rc;
    return base::Internal("spawn " + argv[0] + ": " + strerror(rc));
  }
  ProcessResult result;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        // Bound what a misbehaving plugin can make us hold.
        if (sinks[i]->size() < (1 << 20)) sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(wstatus)) {
    result.exit_code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    result.exit_code = 128 + WTERMSIG(wstatus);
  }
  // posix_spawnp in glibc reports a missing executable through its return
  // value; an exit code of 127 covers shells and other libcs.
  return result;
}

}  // namespace

TokenFileSource::TokenFileSource(std::string path, base::Clock* clock, std::chrono::nanoseconds refresh)
    : path_(std::move(path)), clock_(clock), refresh_(refresh) {}

base::StatusOr<std::string> TokenFileSource::Token() {
  std::lock_guard<std::mutex> l(mu_);
  struct stat st {};
  int64_t mtime = 0;
  if (stat(path_.c_str(), &st) == 0) {
    mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  }
  auto now = clock_->Now();
  if (have_ && mtime == mtime_ns_ && now - read_at_ < refresh_) return token_;
  std::ifstream in(path_, std::ios::binary);
  std::ostringstream ss;
  if (in) ss << in.rdbuf();
  if (!in || in.bad()) {
    if (have_) return token_;
    return base::Unauthenticated("cannot read bearer token file " + path_);
  }
  token_ = TrimNewlines(ss.str());
  have_ = true;
  read_at_ = now;
  mtime_ns_ = mtime;
  return token_;
}

ExecCredentialProvider::ExecCredentialProvider(ExecConfig config, ExecClusterInfo cluster,
                                               base::Clock* clock)
    : config_(std::move(config)), cluster_(std::move(cluster)), clock_(clock) {}

void ExecCredentialProvider::Invalidate() {
  std::lock_guard<std::mutex> l(mu_);
  cached_.reset();
}

base::StatusOr<ExecCredential> ExecCredentialProvider::Get() {
  std::lock_guard<std::mutex> l(mu_);
  if (cached_ && (!cached_->expiration || clock_->WallNow() < *cached_->expiration)) {
    return *cached_;
  }
  cached_.reset();
  auto cred = Run();
  if (cred.ok()) cached_ = *cred;
  return cred;
}

base::StatusOr<ExecCredential> ExecCredentialProvider::Run() {
  const std::string hint =
      config_.install_hint.empty() ? "" : "\n\n" + TrimNewlines(config_.install_hint);
  if (config_.interactive_mode == "Always") {
    return base::Unauthenticated("exec plugin \"" + config_.command +
                           "\" requires interactive mode (interactiveMode: Always), but this "
                           "program does not give plugins a terminal" +
                           hint);
  }

  rapidjson::StringBuffer sb;
  {
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("apiVersion");
    w.String(config_.api_version.c_str());
    w.Key("kind");
    w.String("ExecCredential");
    w.Key("spec");
    w.StartObject();
    w.Key("interactive");
    w.Bool(false);
    if (config_.provide_cluster_info) {
      w.Key("cluster");
      w.StartObject();
      w.Key("server");
      w.String(cluster_.server.c_str());
      if (!cluster_.tls_server_name.empty()) {
        w.Key("tls-server-name");
        w.String(cluster_.tls_server_name.c_str());
      }
      if (cluster_.insecure_skip_tls_verify) {
        w.Key("insecure-skip-tls-verify");
        w.Bool(true);
      }
      if (!cluster_.ca_pem.empty()) {
        w.Key("certificate-authority-data");
        w.String(Base64Encode(cluster_.ca_pem).c_str());
      }
      w.EndObject();
    }
    w.EndObject();
    w.EndObject();
  }

  std::vector<std::string> argv = {config_.command};
  argv.insert(argv.end(), config_.args.begin(), config_.args.end());
  auto env = config_.env;
  env.emplace_back("KUBERNETES_EXEC_INFO", sb.GetString());
  int spawn_errno = 0;
  auto run = RunProcess(argv, env, spawn_errno);
  if (!run.ok() || run->exit_code == 127) {
    if (spawn_errno == ENOENT || (run.ok() && run->exit_code == 127)) {
      return base::Unauthenticated("exec plugin: executable \"" + config_.command +
                             "\" not found" + hint);
    }
    return base::Unauthenticated("exec plugin \"" + config_.command + "\" could not be started: " +
                           run.status().message() + hint);
  }
  if (run->exit_code != 0) {
    std::string err = TrimNewlines(run->err);
    if (err.size() > 2048) err = "..." + err.substr(err.size() - 2048);
    return base::Unauthenticated("exec plugin \"" + config_.command + "\" failed with exit code " +
                           std::to_string(run->exit_code) + (err.empty() ? "" : ": " + err) +
                           hint);
  }

  const std::string where = "exec plugin \"" + config_.command + "\" returned ";
  rapidjson::Document doc;
  doc.Parse(run->out.data(), run->out.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return base::Unauthenticated(where + "output that is not a JSON object");
  }
  auto str = [](const rapidjson::Value& obj, const char* key) -> std::string {
    if (!obj.IsObject()) return "";
    auto it = obj.FindMember(key);
    if (it == obj.MemberEnd() || !it->value.IsString()) return "";
    return std::string(it->value.GetString(), it->value.GetStringLength());
  };
  if (str(doc, "kind") != "ExecCredential") {
    return base::Unauthenticated(where + "kind \"" + str(doc, "kind") + "\", want ExecCredential");
  }
  if (str(doc, "apiVersion") != config_.api_version) {
    return base::Unauthenticated(where + "apiVersion \"" + str(doc, "apiVersion") + "\", want \"" +
                           config_.api_version + "\"");
  }
  auto status_it = doc.FindMember("status");
  if (status_it == doc.MemberEnd() || !status_it->value.IsObject()) {
    return base::Unauthenticated(where + "no status");
  }
  const rapidjson::Value& status = status_it->value;
  ExecCredential cred;
  cred.token = str(status, "token");
  cred.client_cert_pem = str(status, "clientCertificateData");
  cred.client_key_pem = str(status, "clientKeyData");
  if (cred.token.empty() && cred.client_cert_pem.empty()) {
    return base::Unauthenticated(where + "neither status.token nor status.clientCertificateData");
  }
  if (cred.client_cert_pem.empty() != cred.client_key_pem.empty()) {
    return base::Unauthenticated(where + "a client certificate without a key, or a key without one");
  }
  std::string exp = str(status, "expirationTimestamp");
  if (!exp.empty()) {
    cred.expiration = base::ParseRfc3339(exp);
    if (!cred.expiration) {
      return base::Unauthenticated(where + "an invalid status.expirationTimestamp \"" + exp + "\"");
    }
  }
  return cred;
}

}  // namespace kube
