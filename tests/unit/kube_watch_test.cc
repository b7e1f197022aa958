// Watch streams: line parsing (including ERROR 410 → OutOfRange), chunk
// boundaries, end-of-stream codes, HTTP 410 at watch start, Stop() from
// another thread.
#include <httplib.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "kube/client.h"
#include "kube/watch.h"
#include "tests/fakes/fake_clock.h"
#include "tests/testing/local_server.h"

using namespace std::chrono_literals;

namespace {

using kube::testing::LocalServer;

std::unique_ptr<kube::Client> MakeClient(const std::string& url, base::Clock* clock) {
  kube::RestConfig rc;
  rc.server = url;
  rc.qps = 0;
  auto c = kube::Client::Create(rc, clock);
  REQUIRE(c.ok());
  return std::move(*c);
}

const kube::ResourceRef kConfigMaps{"", "v1", "configmaps", true};

std::string Cm(const std::string& type, const std::string& name, int rv) {
  return "{\"type\":\"" + type + "\",\"object\":{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\","
         "\"metadata\":{\"name\":\"" + name + "\",\"namespace\":\"ns\",\"resourceVersion\":\"" +
         std::to_string(rv) + "\"}}}\n";
}

const char kExpired[] =
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":"
    "\"Failure\",\"message\":\"too old resource version: 1 (50)\",\"reason\":\"Expired\","
    "\"code\":410}}\n";

}  // namespace

TEST_CASE("watch event lines parse into typed events", "[kube][watch]") {
  using T = kube::WatchEvent::Type;
  struct Case {
    std::string line;
    bool ok;
    T type;
    std::string name_or_rv;
    base::Code error_code;
  };
  std::vector<Case> cases = {
      {Cm("ADDED", "a", 5), true, T::kAdded, "a", base::Code::kOk},
      {Cm("MODIFIED", "b", 6), true, T::kModified, "b", base::Code::kOk},
      {Cm("DELETED", "c", 7), true, T::kDeleted, "c", base::Code::kOk},
      {"{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":"
       "{\"resourceVersion\":\"99\"}}}",
       true, T::kBookmark, "99", base::Code::kOk},
      {kExpired, true, T::kError, "", base::Code::kOutOfRange},
      {"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500,\"message\":\"x\"}}",
       true, T::kError, "", base::Code::kUnavailable},
      {"{\"type\":\"ADDED\"}", false, T::kAdded, "", base::Code::kInvalidArgument},
      {"{\"type\":\"EXPLODED\",\"object\":{}}", false, T::kAdded, "", base::Code::kInvalidArgument},
      {"{\"type\":5,\"object\":{}}", false, T::kAdded, "", base::Code::kInvalidArgument},
      {"[1,2]", false, T::kAdded, "", base::Code::kInvalidArgument},
      {"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":7}}}", false, T::kAdded, "",
       base::Code::kInvalidArgument},
      {"not json", false, T::kAdded, "", base::Code::kInvalidArgument},
  };
  for (const auto& c : cases) {
    INFO(c.line);
    auto ev = kube::ParseWatchEvent(c.line);
    REQUIRE(ev.ok() == c.ok);
    if (!c.ok) {
      CHECK(ev.status().code() == c.error_code);
      continue;
    }
    CHECK(ev->type == c.type);
    if (c.type == T::kError) {
      CHECK(ev->status.code() == c.error_code);
    } else if (c.type == T::kBookmark) {
      CHECK(ev->object.resource_version == c.name_or_rv);
    } else {
      CHECK(ev->object.name == c.name_or_rv);
      CHECK(ev->object.namespace_ == "ns");
      CHECK(ev->status.ok());
    }
  }
  auto expired = kube::ParseWatchEvent(kExpired);
  CHECK(expired->status.reason() == "Expired");
  CHECK(expired->status.http_code() == 410);
}

TEST_CASE("a watch stream split across chunks yields events in order, then ends",
          "[kube][watch]") {
  LocalServer srv;
  std::string query_watch, query_rv, query_bookmarks;
  srv.server().Get("/api/v1/namespaces/ns/configmaps", [&](const httplib::Request& req,
                                                           httplib::Response& res) {
    query_watch = req.get_param_value("watch");
    query_rv = req.get_param_value("resourceVersion");
    query_bookmarks = req.get_param_value("allowWatchBookmarks");
    std::string all = Cm("ADDED", "a", 5) + Cm("MODIFIED", "a", 6) +
                      "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":"
                      "\"8\"}}}\n" +
                      kExpired;
    res.set_chunked_content_provider("application/json",
                                     [all](size_t, httplib::DataSink& sink) {
                                       // Odd-sized pieces cut lines in the middle.
                                       for (size_t i = 0; i < all.size(); i += 7) {
                                         std::string piece = all.substr(i, 7);
                                         sink.write(piece.data(), piece.size());
                                       }
                                       sink.done();
                                       return true;
                                     });
  });
  base::testing::FakeClock clock;
  auto client = MakeClient(srv.url(), &clock);
  kube::WatchOptions wo;
  wo.resource_version = "4";
  auto w = client->Watch(kConfigMaps, "ns", wo);
  REQUIRE(w.ok());
  using T = kube::WatchEvent::Type;
  std::vector<std::pair<T, std::string>> got;
  while (true) {
    auto ev = (*w)->Next();
    if (!ev.ok()) {
      CHECK(ev.status().code() == base::Code::kDeadlineExceeded);
      break;
    }
    got.emplace_back(ev->type, ev->type == T::kError ? base::CodeName(ev->status.code())
                                                     : ev->object.resource_version);
  }
  std::vector<std::pair<T, std::string>> want = {
      {T::kAdded, "5"}, {T::kModified, "6"}, {T::kBookmark, "8"}, {T::kError, "OutOfRange"}};
  CHECK(got == want);
  CHECK(query_watch == "1");
  CHECK(query_rv == "4");
  CHECK(query_bookmarks == "true");
}

TEST_CASE("HTTP 410 when a watch starts is OutOfRange and not retried", "[kube][watch]") {
  LocalServer srv;
  std::atomic<int> calls{0};
  srv.server().Get("/api/v1/configmaps", [&](const httplib::Request&, httplib::Response& res) {
    ++calls;
    res.status = 410;
    res.set_content("{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\",\"message\":"
                    "\"too old\"}",
                    "application/json");
  });
  base::testing::FakeClock clock;
  auto client = MakeClient(srv.url(), &clock);
  auto w = client->Watch(kConfigMaps, "");
  REQUIRE_FALSE(w.ok());
  CHECK(w.status().code() == base::Code::kOutOfRange);
  CHECK(w.status().message() == "too old");
  CHECK(calls == 1);
  CHECK(clock.Sleeps().empty());
}

TEST_CASE("watch establishment is retried on 503", "[kube][watch]") {
  LocalServer srv;
  std::atomic<int> calls{0};
  srv.server().Get("/api/v1/configmaps", [&](const httplib::Request&, httplib::Response& res) {
    if (++calls < 3) {
      res.status = 503;
      res.set_content("busy", "text/plain");
      return;
    }
    std::string body = Cm("ADDED", "x", 1);
    res.set_chunked_content_provider("application/json", [body](size_t, httplib::DataSink& sink) {
      sink.write(body.data(), body.size());
      sink.done();
      return true;
    });
  });
  base::testing::FakeClock clock;
  auto client = MakeClient(srv.url(), &clock);
  auto w = client->Watch(kConfigMaps, "");
  REQUIRE(w.ok());
  auto ev = (*w)->Next();
  REQUIRE(ev.ok());
  CHECK(ev->object.name == "x");
  CHECK(calls == 3);
  CHECK(clock.Sleeps().size() == 2);
}

TEST_CASE("Stop() from another thread unblocks Next() on an idle stream", "[kube][watch]") {
  LocalServer srv;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  srv.server().Get("/api/v1/configmaps", [&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("application/json", [&](size_t offset,
                                                             httplib::DataSink& sink) {
      if (offset == 0) {
        std::string first = Cm("ADDED", "only", 1);
        sink.write(first.data(), first.size());
        return true;
      }
      // Keep the stream open and idle until the client goes away.
      std::unique_lock<std::mutex> l(mu);
      cv.wait_for(l, 50ms, [&] { return release; });
      if (release || !sink.is_writable()) {
        sink.done();
        return false;
      }
      return true;
    });
  });
  base::testing::FakeClock clock;
  auto client = MakeClient(srv.url(), &clock);
  auto w = client->Watch(kConfigMaps, "");
  REQUIRE(w.ok());
  auto first = (*w)->Next();
  REQUIRE(first.ok());
  CHECK(first->object.name == "only");
  std::thread stopper([&] { (*w)->Stop(); });
  auto next = (*w)->Next();
  stopper.join();
  REQUIRE_FALSE(next.ok());
  CHECK(next.status().code() == base::Code::kAborted);
  w->reset();
  {
    std::lock_guard<std::mutex> l(mu);
    release = true;
  }
  cv.notify_all();
}
