// The kube/ informer against a real devcluster process: 10,000 events in
// order, relist after an expired resourceVersion (410), and reconnection
// across a devcluster restart with the same --dir and port.
//
// Needs $KM_BIN_DIR/devcluster (the build's bin directory).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "kube/client.h"
#include "kube/config.h"
#include "kube/informer.h"
#include "tests/testing/temp_dir.h"

using namespace std::chrono_literals;
namespace fs = std::filesystem;

extern char** environ;

namespace {

const kube::ResourceRef kConfigMaps{"", "v1", "configmaps", true};
const kube::ResourceRef kNamespaces{"", "v1", "namespaces", false};

using kube::testing::TempDir;

// A devcluster child process. The destructor always terminates it (SIGTERM,
// then SIGKILL if it does not exit), so no test path leaks the process.
class DevCluster {
 public:
  DevCluster(const std::string& dir, int port, std::vector<std::string> extra = {}) {
    const char* bin_dir = std::getenv("KM_BIN_DIR");
    std::string bin = std::string(bin_dir ? bin_dir : "build/bin") + "/devcluster";
    INFO("devcluster binary: " << bin);
    REQUIRE(fs::exists(bin));
    std::vector<std::string> args = {bin, "--dir", dir, "--port", std::to_string(port)};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    int rc = posix_spawn(&pid_, bin.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    REQUIRE(rc == 0);
    out_fd_ = fds[0];
    // Read stdout until the ready line (or EOF / 60 s).
    std::string buf;
    auto deadline = std::chrono::steady_clock::now() + 60s;
    const std::string marker = "devcluster ready on https://127.0.0.1:";
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_fd_, POLLIN, 0};
      if (poll(&p, 1, 1000) <= 0) continue;
      char c[512];
      ssize_t n = read(out_fd_, c, sizeof(c));
      if (n <= 0) break;
      buf.append(c, static_cast<size_t>(n));
      auto pos = buf.find(marker);
      if (pos != std::string::npos && buf.find('\n', pos) != std::string::npos) {
        port_ = std::stoi(buf.substr(pos + marker.size()));
        break;
      }
    }
    INFO("devcluster output: " << buf);
    REQUIRE(port_ > 0);
    // Keep draining stdout so the child never blocks on a full pipe.
    drain_ = std::thread([fd = out_fd_] {
      char c[4096];
      while (read(fd, c, sizeof(c)) > 0) {
      }
    });
    kubeconfig_ = dir + "/kubeconfig";
  }
  ~DevCluster() { Terminate(); }

  // SIGTERM and wait for the exit; returns the exit status.
  int Terminate() {
    if (pid_ <= 0) return exit_status_;
    kill(pid_, SIGTERM);
    int status = 0;
    bool exited = false;
    for (int i = 0; i < 200 && !exited; ++i) {
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exited = true;
      } else {
        std::this_thread::sleep_for(50ms);  // waiting for a process exit, not synchronising
      }
    }
    if (!exited) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
    pid_ = -1;
    if (drain_.joinable()) drain_.join();
    close(out_fd_);
    exit_status_ = status;
    return status;
  }

  int port() const { return port_; }
  const std::string& kubeconfig() const { return kubeconfig_; }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int port_ = 0;
  int exit_status_ = 0;
  std::thread drain_;
  std::string kubeconfig_;
};

std::unique_ptr<kube::Client> ClientFor(const DevCluster& dc) {
  kube::KubeconfigOptions o;
  o.explicit_path = dc.kubeconfig();
  auto rc = kube::LoadKubeconfig(o);
  INFO(rc.status().ToString());
  REQUIRE(rc.ok());
  rc->qps = 0;  // the tests measure the informer, not our limiter
  auto c = kube::Client::Create(*rc);
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  return std::move(*c);
}

void CreateNamespace(kube::Client& c, const std::string& ns) {
  auto r = c.Create(kNamespaces, "",
                    "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"" + ns +
                        "\"}}");
  INFO(r.status().ToString());
  REQUIRE((r.ok() || r.status().code() == base::Code::kAlreadyExists));
}

std::string ConfigMap(const std::string& name, const std::string& value) {
  return "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" + name +
         "\"},\"data\":{\"v\":\"" + value + "\"}}";
}

// name -> resourceVersion from a fresh List.
std::map<std::string, std::string> ServerState(kube::Client& c, const std::string& ns) {
  auto l = c.List(kConfigMaps, ns);
  INFO(l.status().ToString());
  REQUIRE(l.ok());
  std::map<std::string, std::string> out;
  for (const auto& o : l->items) out[o.namespace_ + "/" + o.name] = o.resource_version;
  return out;
}

std::map<std::string, std::string> StoreState(kube::Store& s) {
  std::map<std::string, std::string> out;
  for (const auto& o : s.List()) out[o->Key()] = o->resource_version;
  return out;
}

// Handler log with a condition variable to wait on.
struct Log {
  struct Entry {
    char type;  // 'A', 'U', 'D'
    std::string name;
    std::string rv;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Entry> entries;

  kube::EventHandlers Handlers() {
    return {[this](const kube::ObjectPtr& o) { Add('A', *o); },
            [this](const kube::ObjectPtr&, const kube::ObjectPtr& o) { Add('U', *o); },
            [this](const kube::ObjectPtr& o) { Add('D', *o); }};
  }
  void Add(char t, const kube::Object& o) {
    std::lock_guard<std::mutex> l(mu);
    entries.push_back({t, o.name, o.resource_version});
    cv.notify_all();
  }
  bool WaitUntil(const std::function<bool(const std::vector<Entry>&)>& pred,
                 std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, timeout, [&] { return pred(entries); });
  }
  std::vector<Entry> Snapshot() {
    std::lock_guard<std::mutex> l(mu);
    return entries;
  }
};

uint64_t Rv(const std::string& s) { return s.empty() ? 0 : std::stoull(s); }

}  // namespace

TEST_CASE("an informer consumes 10,000 changes in order and ends equal to a fresh list",
          "[integration][informer]") {
  TempDir dir;
  DevCluster dc(dir.path(), 0);
  auto writer = ClientFor(dc);
  auto reader = ClientFor(dc);
  const std::string ns = "informer-10k";
  CreateNamespace(*writer, ns);

  kube::Informer inf(reader.get(), kConfigMaps, ns);
  Log log;
  inf.AddHandler(log.Handlers());
  inf.Start();
  REQUIRE(inf.WaitForSync(30s));

  // 4,000 creates, 3,000 updates, 3,000 deletes = 10,000 events.
  const int kCreates = 4000, kUpdates = 3000, kDeletes = 3000;
  std::string last_rv;
  for (int i = 0; i < kCreates; ++i) {
    auto r = writer->Create(kConfigMaps, ns, ConfigMap("cm-" + std::to_string(i), "0"));
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    last_rv = r->resource_version;
  }
  for (int i = 0; i < kUpdates; ++i) {
    auto r = writer->Patch(kConfigMaps, ns, "cm-" + std::to_string(i), kube::PatchType::kMerge,
                           "{\"data\":{\"v\":\"1\"}}");
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    last_rv = r->resource_version;
  }
  for (int i = kCreates - kDeletes; i < kCreates; ++i) {
    REQUIRE(writer->Delete(kConfigMaps, ns, "cm-" + std::to_string(i)).ok());
  }

  const size_t kTotal = kCreates + kUpdates + kDeletes;
  REQUIRE(log.WaitUntil([&](const auto& e) { return e.size() >= kTotal; }, 120s));
  auto entries = log.Snapshot();
  CHECK(entries.size() == kTotal);
  int adds = 0, updates = 0, deletes = 0;
  uint64_t prev = 0;
  bool ordered = true;
  for (const auto& e : entries) {
    adds += e.type == 'A';
    updates += e.type == 'U';
    deletes += e.type == 'D';
    if (Rv(e.rv) <= prev) ordered = false;
    prev = Rv(e.rv);
  }
  CHECK(adds == kCreates);
  CHECK(updates == kUpdates);
  CHECK(deletes == kDeletes);
  CHECK(ordered);                  // resourceVersions strictly increase
  CHECK(inf.list_count() == 1);    // no relist was needed
  CHECK(StoreState(inf.store()) == ServerState(*writer, ns));
  CHECK(inf.store().Size() == static_cast<size_t>(kCreates - kDeletes));
  inf.Stop();
}

TEST_CASE("a watch from an expired resourceVersion gets 410 and the informer relists exactly",
          "[integration][informer]") {
  TempDir dir;
  DevCluster dc(dir.path(), 0, {"--watch-window", "100"});
  auto c = ClientFor(dc);
  const std::string ns = "informer-410";
  CreateNamespace(*c, ns);
  for (int i = 0; i < 20; ++i) {
    REQUIRE(c->Create(kConfigMaps, ns, ConfigMap("keep-" + std::to_string(i), "0")).ok());
  }
  for (int i = 0; i < 10; ++i) {
    REQUIRE(c->Create(kConfigMaps, ns, ConfigMap("gone-" + std::to_string(i), "0")).ok());
  }

  // A first informer syncs; its store and resourceVersion are kept.
  std::vector<kube::ObjectPtr> saved;
  std::string saved_rv;
  {
    kube::Informer first(c.get(), kConfigMaps, ns);
    first.Start();
    REQUIRE(first.WaitForSync(30s));
    saved = first.store().List();
    saved_rv = first.resource_version();
    first.Stop();
  }
  REQUIRE(saved.size() == 30);

  // 300 changes push saved_rv out of the 100-event window.
  for (int i = 0; i < 10; ++i) {
    REQUIRE(c->Delete(kConfigMaps, ns, "gone-" + std::to_string(i)).ok());
  }
  for (int i = 0; i < 10; ++i) {
    REQUIRE(c->Patch(kConfigMaps, ns, "keep-" + std::to_string(i), kube::PatchType::kMerge,
                     "{\"data\":{\"v\":\"changed\"}}")
                .ok());
  }
  for (int i = 0; i < 280; ++i) {
    REQUIRE(c->Create(kConfigMaps, ns, ConfigMap("new-" + std::to_string(i), "0")).ok());
  }

  // The raw watch from the saved version is refused with 410 → OutOfRange,
  // either when it starts or as its first (ERROR) event.
  {
    kube::WatchOptions wo;
    wo.resource_version = saved_rv;
    auto w = c->Watch(kConfigMaps, ns, wo);
    if (w.ok()) {
      auto ev = (*w)->Next();
      REQUIRE(ev.ok());
      CHECK(ev->type == kube::WatchEvent::Type::kError);
      CHECK(ev->status.code() == base::Code::kOutOfRange);
    } else {
      CHECK(w.status().code() == base::Code::kOutOfRange);
    }
  }

  // A second informer resumes from the saved cache: 410, relist, diff.
  kube::InformerOptions opts;
  opts.resume_resource_version = saved_rv;
  kube::Informer inf(c.get(), kConfigMaps, ns, {}, opts);
  for (const auto& o : saved) inf.store().Upsert(o);
  Log log;
  inf.AddHandler(log.Handlers());
  inf.Start();
  REQUIRE(log.WaitUntil([](const auto& e) { return e.size() >= 300; }, 60s));
  auto entries = log.Snapshot();
  CHECK(entries.size() == 300);
  std::map<std::string, int> adds;
  int updates = 0, deletes = 0;
  for (const auto& e : entries) {
    if (e.type == 'A') ++adds[e.name];
    updates += e.type == 'U';
    deletes += e.type == 'D';
  }
  CHECK(adds.size() == 280);  // every new object once, nothing else
  bool no_duplicates = true;
  for (const auto& [name, n] : adds) no_duplicates = no_duplicates && n == 1 && name.rfind("new-", 0) == 0;
  CHECK(no_duplicates);
  CHECK(updates == 10);
  CHECK(deletes == 10);
  CHECK(inf.list_count() == 1);
  CHECK(StoreState(inf.store()) == ServerState(*c, ns));

  // And it keeps watching after the relist.
  REQUIRE(c->Create(kConfigMaps, ns, ConfigMap("after-relist", "0")).ok());
  CHECK(log.WaitUntil(
      [](const auto& e) { return !e.empty() && e.back().name == "after-relist"; }, 30s));
  inf.Stop();
}

TEST_CASE("after a devcluster restart objects persist and the informer reconnects",
          "[integration][informer]") {
  TempDir dir;
  auto dc = std::make_unique<DevCluster>(dir.path(), 0);
  const int port = dc->port();
  const std::string kubeconfig = dc->kubeconfig();
  auto c = ClientFor(*dc);
  const std::string ns = "informer-restart";
  CreateNamespace(*c, ns);
  for (int i = 0; i < 50; ++i) {
    REQUIRE(c->Create(kConfigMaps, ns, ConfigMap("cm-" + std::to_string(i), "0")).ok());
  }
  auto before = ServerState(*c, ns);
  REQUIRE(before.size() == 50);

  kube::Informer inf(c.get(), kConfigMaps, ns);
  Log log;
  inf.AddHandler(log.Handlers());
  inf.Start();
  REQUIRE(inf.WaitForSync(30s));
  REQUIRE(log.WaitUntil([](const auto& e) { return e.size() >= 50; }, 30s));

  int status = dc->Terminate();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  dc = std::make_unique<DevCluster>(dir.path(), port);
  REQUIRE(dc->port() == port);

  // Same objects, same resourceVersions; the same client keeps working.
  CHECK(ServerState(*c, ns) == before);
  auto created = c->Create(kConfigMaps, ns, ConfigMap("after-restart", "1"));
  REQUIRE(created.ok());
  CHECK(Rv(created->resource_version) > Rv(before.rbegin()->second));
  CHECK(log.WaitUntil(
      [](const auto& e) {
        for (const auto& x : e) {
          if (x.type == 'A' && x.name == "after-restart") return true;
        }
        return false;
      },
      60s));
  CHECK(StoreState(inf.store()) == ServerState(*c, ns));
  int adds_of_old = 0;
  for (const auto& e : log.Snapshot()) adds_of_old += e.type == 'A' && e.name != "after-restart";
  CHECK(adds_of_old == 50);  // a relist after the restart added nothing twice
  inf.Stop();
}
