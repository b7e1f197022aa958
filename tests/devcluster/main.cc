// devcluster: a local Kubernetes API server for tests and the demo.
//
//   devcluster --dir DIR [--port N] [--service-endpoint NAMESPACE/NAME=HOST:PORT ...]
//              [--watch-window N] [--audit-log-path FILE]
//
// Prints "devcluster ready on https://127.0.0.1:PORT" once it serves and
// stops cleanly on SIGTERM or SIGINT.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "tests/devcluster/server.h"

namespace {

int Usage(const char* why) {
  fprintf(stderr,
          "error: %s\nusage: devcluster --dir DIR [--port N] "
          "[--service-endpoint NAMESPACE/NAME=HOST:PORT ...] [--watch-window N] "
          "[--audit-log-path FILE]\n",
          why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  devcluster::ServerOptions opts;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* flag) -> const char* {
      if (i + 1 >= argc) return nullptr;
      (void)flag;
      return argv[++i];
    };
    if (a == "--dir") {
      const char* v = value("--dir");
      if (v == nullptr) return Usage("--dir needs a value");
      opts.dir = v;
    } else if (a == "--port") {
      const char* v = value("--port");
      char* end = nullptr;
      long p = v ? strtol(v, &end, 10) : -1;
      if (v == nullptr || *end != '\0' || p < 0 || p > 65535) return Usage("--port needs a number 0-65535");
      opts.port = static_cast<int>(p);
    } else if (a == "--service-endpoint") {
      const char* v = value("--service-endpoint");
      std::string s = v ? v : "";
      size_t eq = s.find('=');
      if (eq == std::string::npos || s.find('/') > eq || s.find(':', eq) == std::string::npos) {
        return Usage("--service-endpoint needs NAMESPACE/NAME=HOST:PORT");
      }
      opts.service_endpoints[s.substr(0, eq)] = s.substr(eq + 1);
    } else if (a == "--watch-window") {
      const char* v = value("--watch-window");
      char* end = nullptr;
      long n = v ? strtol(v, &end, 10) : -1;
      if (v == nullptr || *end != '\0' || n < 1) return Usage("--watch-window needs a positive number");
      opts.watch_window = static_cast<size_t>(n);
    } else if (a == "--audit-log-path") {
      const char* v = value("--audit-log-path");
      if (v == nullptr || *v == '\0') return Usage("--audit-log-path needs a file name");
      opts.audit_log_path = v;
    } else if (a == "-h" || a == "--help") {
      Usage("help requested");
      return 0;
    } else {
      return Usage(("unknown argument " + a).c_str());
    }
  }
  if (opts.dir.empty()) return Usage("--dir is required");

  // Signals are taken synchronously by a dedicated thread.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto server = devcluster::ApiServer::Create(opts);
  if (!server.ok()) {
    fprintf(stderr, "devcluster: %s\n", server.status().ToString().c_str());
    return 1;
  }
  devcluster::ApiServer* srv = server->get();
  // Stop() ends watches within a second, but httplib lets idle keep-alive
  // connections linger until their timeout. Every write is already flushed
  // to the state log, so after a short grace period the process just exits.
  std::thread signals([srv, set] {
    int sig = 0;
    sigwait(&set, &sig);
    srv->Stop();
    std::this_thread::sleep_for(std::chrono::seconds(2));
    fprintf(stderr, "devcluster: stopped (idle connections closed)\n");
    fflush(stderr);
    _exit(0);
  });
  signals.detach();
  printf("devcluster ready on https://127.0.0.1:%d\n", srv->port());
  fflush(stdout);
  bool ok = srv->Run();
  fprintf(stderr, "devcluster: stopped\n");
  return ok ? 0 : 1;
}
