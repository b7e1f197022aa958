#include "tests/testing/local_server.h"

#include <catch2/catch.hpp>

namespace kube::testing {

void ServerThread::Start(httplib::Server& server) {
  REQUIRE(server_ == nullptr);
  server_ = &server;
  port_ = server.bind_to_any_port("127.0.0.1");
  REQUIRE(port_ > 0);
  // Connections queue in the listen backlog until the thread accepts, so
  // requests made right after Start are not lost.
  thread_ = std::thread([&server] { server.listen_after_bind(); });
}

ServerThread::~ServerThread() {
  if (!thread_.joinable()) return;
  // stop() is a no-op until listen has started; wait for it first.
  while (!server_->is_running()) std::this_thread::yield();
  server_->stop();
  thread_.join();
}

}  // namespace kube::testing
