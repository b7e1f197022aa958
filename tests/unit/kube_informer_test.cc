// Informer against a scripted local API server: paged list, watch, relist
// after 410 (both as an ERROR event and as HTTP 410) with a diff that fires
// exactly the handlers needed, and the store's indexes.
#include <httplib.h>

#include <catch2/catch.hpp>

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "kube/informer.h"
#include "tests/fakes/fake_clock.h"
#include "tests/testing/local_server.h"

using namespace std::chrono_literals;

namespace {

// A tiny API server for configmaps in namespace "ns": an object map, a global
// resourceVersion, an event log, and a compaction point below which watches
// get 410.
class FakeApi {
 public:
  FakeApi() {
    svr_.Get("/api/v1/namespaces/ns/configmaps", [this](const httplib::Request& req,
                                                        httplib::Response& res) {
      if (req.get_param_value("watch") == "1") {
        Watch(req, res);
      } else {
        List(req, res);
      }
    });
    thread_.Start(svr_);
  }
  ~FakeApi() {
    {
      std::lock_guard<std::mutex> l(mu_);
      shutting_down_ = true;
    }
    cv_.notify_all();
    // thread_, the last member, then stops the server and waits for the
    // handlers woken here.
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(thread_.port()); }

  // Writes an object (create or update) and logs the event. A hidden write
  // is not logged: no watch will ever deliver it (as if compacted away).
  void Put(const std::string& name, const std::string& app, const std::string& node = "",
           bool hidden = false) {
    std::lock_guard<std::mutex> l(mu_);
    const char* type = objects_.count(name) ? "MODIFIED" : "ADDED";
    objects_[name] = Json(name, ++rv_, app, node);
    if (!hidden) log_.emplace_back(rv_, Event(type, objects_[name]));
    cv_.notify_all();
  }
  void Delete(const std::string& name, bool hidden = false) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = objects_.find(name);
    REQUIRE(it != objects_.end());
    ++rv_;
    if (!hidden) log_.emplace_back(rv_, Event("DELETED", Json(name, rv_, "", "")));
    objects_.erase(it);
    cv_.notify_all();
  }
  // Forgets all events so far: watches from an older version get 410, as an
  // ERROR event or as an HTTP 410 response. Open watches are closed.
  void Compact(bool http_410) {
    std::lock_guard<std::mutex> l(mu_);
    log_.clear();
    oldest_watchable_ = rv_;
    http_410_ = http_410;
    ++generation_;
    cv_.notify_all();
  }
  // name -> resourceVersion, the truth the informer's store must equal.
  std::map<std::string, std::string> Snapshot() {
    std::lock_guard<std::mutex> l(mu_);
    std::map<std::string, std::string> out;
    for (const auto& [name, json] : objects_) out["ns/" + name] = RvOf(json);
    return out;
  }
  int lists() {
    std::lock_guard<std::mutex> l(mu_);
    return lists_;
  }
  int gone_responses() {
    std::lock_guard<std::mutex> l(mu_);
    return gone_;
  }

 private:
  static std::string Json(const std::string& name, int rv, const std::string& app,
                          const std::string& node) {
    return "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" + name +
           "\",\"namespace\":\"ns\",\"uid\":\"uid-" + name + "\",\"resourceVersion\":\"" +
           std::to_string(rv) + "\",\"labels\":{\"app\":\"" + app + "\"}},\"data\":{\"node\":\"" +
           node + "\"}}";
  }
  static std::string RvOf(const std::string& json) {
    auto p = json.find("\"resourceVersion\":\"") + 19;
    return json.substr(p, json.find('"', p) - p);
  }
  static std::string Event(const std::string& type, const std::string& obj) {
    return "{\"type\":\"" + type + "\",\"object\":" + obj + "}\n";
  }

  void List(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> l(mu_);
    ++lists_;
    size_t limit = req.has_param("limit") ? std::stoul(req.get_param_value("limit")) : 0;
    std::string after = req.get_param_value("continue");
    std::string items, next;
    size_t n = 0;
    for (auto it = objects_.upper_bound(after); it != objects_.end(); ++it) {
      if (limit > 0 && n == limit) {
        next = std::prev(it)->first;
        break;
      }
      items += (n++ ? "," : "") + it->second;
    }
    // Items carry no apiVersion/kind in real lists; the client fills them in.
    res.set_content("{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":{"
                    "\"resourceVersion\":\"" + std::to_string(rv_) + "\",\"continue\":\"" +
                        next + "\"},\"items\":[" + items + "]}",
                    "application/json");
  }

  void Watch(const httplib::Request& req, httplib::Response& res) {
    int since = std::stoi(req.get_param_value("resourceVersion"));
    std::unique_lock<std::mutex> l(mu_);
    if (since < oldest_watchable_) {
      ++gone_;
      const std::string status =
          "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"code\":410,"
          "\"reason\":\"Expired\",\"message\":\"too old resource version\"}";
      if (http_410_) {
        res.status = 410;
        res.set_content(status, "application/json");
        return;
      }
      std::string line = "{\"type\":\"ERROR\",\"object\":" + status + "}\n";
      res.set_chunked_content_provider("application/json",
                                       [line](size_t, httplib::DataSink& sink) {
                                         sink.write(line.data(), line.size());
                                         sink.done();
                                         return true;
                                       });
      return;
    }
    int generation = generation_;
    auto sent = std::make_shared<int>(since);
    res.set_chunked_content_provider(
        "application/json", [this, generation, sent](size_t, httplib::DataSink& sink) {
          std::unique_lock<std::mutex> l(mu_);
          for (const auto& [rv, line] : log_) {
            if (rv <= *sent) continue;
            sink.write(line.data(), line.size());
            *sent = rv;
          }
          if (generation != generation_ || shutting_down_) {
            sink.done();
            return true;
          }
          cv_.wait_for(l, 50ms);
          return sink.is_writable();
        });
  }

  httplib::Server svr_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::string> objects_;
  std::vector<std::pair<int, std::string>> log_;
  int rv_ = 100;
  int oldest_watchable_ = 0;
  bool http_410_ = false;
  int generation_ = 0;
  bool shutting_down_ = false;
  int lists_ = 0;
  int gone_ = 0;
  kube::testing::ServerThread thread_;  // last: the server stops before the state above goes
};

// Records handler calls ("add a", "update b 104", "delete c") for assertions.
class Recorder {
 public:
  kube::EventHandlers Handlers() {
    return {[this](const kube::ObjectPtr& o) { Record("add " + o->name); },
            [this](const kube::ObjectPtr& a, const kube::ObjectPtr& b) {
              CHECK(a->name == b->name);
              Record("update " + b->name + " " + b->resource_version);
            },
            [this](const kube::ObjectPtr& o) { Record("delete " + o->name); }};
  }
  // Waits (on a condition variable, not a sleep) until n calls were recorded.
  std::vector<std::string> WaitFor(size_t n) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, 10s, [&] { return log_.size() >= n; });
    return log_;
  }
  void Clear() {
    std::lock_guard<std::mutex> l(mu_);
    log_.clear();
  }

 private:
  void Record(std::string s) {
    std::lock_guard<std::mutex> l(mu_);
    log_.push_back(std::move(s));
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> log_;
};

std::map<std::string, std::string> StoreSnapshot(kube::Store& s) {
  std::map<std::string, std::string> out;
  for (const auto& o : s.List()) out[o->Key()] = o->resource_version;
  return out;
}

}  // namespace

TEST_CASE("informer lists in pages, watches, and relists after 410 with an exact diff",
          "[kube][informer]") {
  FakeApi api;
  api.Put("a", "web");
  api.Put("b", "web");
  api.Put("c", "db");

  base::testing::FakeClock clock;
  kube::RestConfig rc;
  rc.server = api.url();
  rc.qps = 0;
  auto client = kube::Client::Create(rc, &clock);
  REQUIRE(client.ok());
  kube::InformerOptions opts;
  opts.page_size = 2;
  opts.clock = &clock;
  kube::Informer inf(client->get(), {"", "v1", "configmaps", true}, "ns", {}, opts);
  Recorder rec;
  inf.AddHandler(rec.Handlers());
  inf.store().AddIndexer("app", kube::LabelIndexFunc("app"));
  inf.store().AddIndexer("node", kube::FieldIndexFunc("data.node"));
  inf.Start();
  REQUIRE(inf.WaitForSync(10s));
  CHECK(rec.WaitFor(3) == std::vector<std::string>{"add a", "add b", "add c"});
  CHECK(api.lists() == 2);  // two pages of at most 2
  CHECK(inf.resource_version() == "103");
  REQUIRE(inf.store().Get("ns/a"));
  CHECK(inf.store().Get("ns/a")->kind == "ConfigMap");  // filled in from the list kind

  // Live events arrive in order through the watch.
  api.Put("b", "web", "node-1");
  api.Delete("c");
  api.Put("d", "db", "node-1");
  CHECK(rec.WaitFor(6) == std::vector<std::string>{"add a", "add b", "add c", "update b 104",
                                                   "delete c", "add d"});
  CHECK(inf.store().ByIndex("node", "node-1").size() == 2);
  CHECK(inf.store().ByIndex("app", "db").size() == 1);
  CHECK(inf.store().ByIndex("app", "web").size() == 2);

  struct Round {
    bool http_410;
    std::function<void()> hidden_changes;
    std::vector<std::string> want;  // in list order (a, b, d, e), then deletions
  };
  std::vector<Round> rounds = {
      {false,
       [&] {
         api.Delete("a", true);
         api.Put("b", "web", "node-2", true);
         api.Put("e", "batch", "", true);
       },
       {"update b 108", "add e", "delete a"}},
      {true,
       [&] {
         api.Delete("e", true);
         api.Put("b", "web", "node-3", true);
         api.Put("a", "web", "", true);
       },
       {"add a", "update b 111", "delete e"}},
  };
  for (const auto& round : rounds) {
    INFO((round.http_410 ? "HTTP 410 at watch start" : "ERROR event with code 410"));
    rec.Clear();
    int gone_before = api.gone_responses();
    int lists_before = api.lists();
    round.hidden_changes();
    // The log is compacted and the open watch closed: the informer resumes
    // from its last resourceVersion, gets 410 and must relist.
    api.Compact(round.http_410);
    // d is unchanged: no handler fires for it (no duplicate add).
    CHECK(rec.WaitFor(3) == round.want);
    CHECK(api.gone_responses() == gone_before + 1);
    CHECK(api.lists() == lists_before + 2);  // one relist of two pages
    CHECK(StoreSnapshot(inf.store()) == api.Snapshot());
  }
  // Live events flow again after the relist.
  rec.Clear();
  api.Put("g", "web");
  CHECK(rec.WaitFor(1) == std::vector<std::string>{"add g"});
  CHECK(inf.store().ByIndex("node", "node-1").size() == 1);  // only d
  inf.Stop();
  CHECK(inf.HasSynced());
}

TEST_CASE("the store keeps indexes in step with upserts and removals", "[kube][informer]") {
  kube::Store s;
  s.AddIndexer(kube::kNamespaceIndex, kube::NamespaceIndexFunc());
  auto make = [](const std::string& ns, const std::string& name, const std::string& app) {
    auto o = kube::ParseObject("{\"metadata\":{\"name\":\"" + name + "\",\"namespace\":\"" + ns +
                               "\",\"labels\":{\"app\":\"" + app + "\"}},\"status\":{"
                               "\"nodeName\":\"n-" + app + "\"}}");
    REQUIRE(o.ok());
    return std::make_shared<const kube::Object>(*o);
  };
  CHECK(s.Upsert(make("a", "x", "web")) == nullptr);
  CHECK(s.Upsert(make("b", "x", "web")) == nullptr);
  s.AddIndexer("app", kube::LabelIndexFunc("app"));  // indexes existing objects
  s.AddIndexer("node", kube::FieldIndexFunc("status.nodeName"));
  CHECK(s.ByIndex("app", "web").size() == 2);
  CHECK(s.ByIndex(kube::kNamespaceIndex, "a").size() == 1);
  CHECK(s.ByIndex("node", "n-web").size() == 2);

  auto old = s.Upsert(make("a", "x", "db"));
  REQUIRE(old);
  CHECK(old->labels.at("app") == "web");  // the old object is untouched
  CHECK(s.ByIndex("app", "web").size() == 1);
  CHECK(s.ByIndex("app", "db").size() == 1);
  CHECK(s.Remove("b/x") != nullptr);
  CHECK(s.Remove("b/x") == nullptr);
  CHECK(s.ByIndex("app", "web").empty());
  CHECK(s.ByIndex("missing-index", "v").empty());
  CHECK(s.Keys() == std::vector<std::string>{"a/x"});
}
