// httplib servers on 127.0.0.1 and an ephemeral port, for tests that talk
// real HTTP(S) to an in-process server.
#pragma once

#include <httplib.h>

#include <string>
#include <thread>

namespace kube::testing {

// Serves an httplib::Server (or SSLServer) from a thread of its own. Declare
// it as the last member of the class that owns the server and call Start at
// the end of that class's constructor: members are destroyed in reverse, so
// the server stops before anything its handlers use goes away.
class ServerThread {
 public:
  ServerThread() = default;
  // Stops the server and joins the thread, if started.
  ~ServerThread();
  ServerThread(const ServerThread&) = delete;
  ServerThread& operator=(const ServerThread&) = delete;

  // Binds `server` to 127.0.0.1:0 (REQUIREs success) and serves it from a
  // new thread. Call once; `server` must outlive this object.
  void Start(httplib::Server& server);

  int port() const { return port_; }

 private:
  httplib::Server* server_ = nullptr;
  int port_ = 0;
  std::thread thread_;
};

// A plain-HTTP server, serving from construction on; handlers may be added
// through server() before the first request.
class LocalServer {
 public:
  LocalServer() { thread_.Start(server_); }

  httplib::Server& server() { return server_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(thread_.port()); }

 private:
  httplib::Server server_;
  ServerThread thread_;
};

}  // namespace kube::testing
