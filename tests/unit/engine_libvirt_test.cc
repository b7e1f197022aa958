// LibvirtHypervisor against libvirt's built-in test driver (test:///default:
// no daemon; one running domain "test"; its state is shared by every
// connection of this process, so each test uses domains of its own).
// Migration, job statistics and dirty rates need QEMU: see
// engine_libvirt_real_test.cc ([.real]).
#include <algorithm>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "engine/libvirt_hypervisor.h"

namespace engine {
namespace {

constexpr char kTestUri[] = "test:///default";

std::unique_ptr<LibvirtHypervisor> Connect() {
  LibvirtHypervisor::Options o;
  o.uri = kTestUri;
  auto h = LibvirtHypervisor::Create(o);
  REQUIRE(h.ok());
  return std::move(h.value());
}

std::string DomainXml(const std::string& name) {
  return "<domain type='test'><name>" + name +
         "</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>"
         "<os><type arch='x86_64'>hvm</type></os></domain>";
}

// Collects events from libvirt's event thread; the test waits on them.
class Events {
 public:
  Hypervisor::EventHandler Handler() {
    return [this](const DomainEvent& e) {
      std::lock_guard<std::mutex> l(mu_);
      events_.push_back(e);
      cv_.notify_all();
    };
  }
  // Waits (at most 10 s, which only a broken test reaches) for a lifecycle event.
  bool WaitFor(const std::string& domain, int lifecycle, int detail) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, std::chrono::seconds(10), [&] {
      return std::any_of(events_.begin(), events_.end(), [&](const DomainEvent& e) {
        return e.kind == DomainEvent::Kind::kLifecycle && e.domain == domain &&
               e.lifecycle == lifecycle && e.detail == detail;
      });
    });
  }
  size_t Count() {
    std::lock_guard<std::mutex> l(mu_);
    return events_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<DomainEvent> events_;
};

TEST_CASE("libvirt hypervisor: lists and looks up the test driver's running domain",
          "[engine][libvirt]") {
  auto h = Connect();
  CHECK(h->Connected());
  auto all = h->List();
  REQUIRE(all.ok());
  auto it =
      std::find_if(all->begin(), all->end(), [](const DomainInfo& d) { return d.name == "test"; });
  REQUIRE(it != all->end());
  CHECK(it->state == DomainState::kRunning);

  auto info = h->Lookup("test");
  REQUIRE(info.ok());
  CHECK(info->name == "test");
  CHECK(info->uuid == "6695eb01-f6a4-8304-79aa-97f2502e193f");
  CHECK(info->state == DomainState::kRunning);
  CHECK(info->persistent);
  CHECK(info->vcpus == 2);
  CHECK(info->memory_bytes == 2048ull << 20);

  auto xml = h->GetXml("test");
  REQUIRE(xml.ok());
  CHECK(xml->find("<name>test</name>") != std::string::npos);
}

TEST_CASE("libvirt hypervisor: a missing domain is NotFound for every method",
          "[engine][libvirt]") {
  auto h = Connect();
  const std::string name = "km_no_such_domain";
  CHECK(h->Lookup(name).status().code() == base::Code::kNotFound);
  CHECK(h->Lookup(name).status().message().find(name) != std::string::npos);
  CHECK(h->Start(name).code() == base::Code::kNotFound);
  CHECK(h->Stop(name).code() == base::Code::kNotFound);
  CHECK(h->Undefine(name).code() == base::Code::kNotFound);
  CHECK(h->GetXml(name).status().code() == base::Code::kNotFound);
  CHECK(h->GetJobStats(name, false).status().code() == base::Code::kNotFound);
  CHECK(h->AbortJob(name).code() == base::Code::kNotFound);
  MigrateParams p;
  p.dest_uri = "test:///default";
  CHECK(h->Migrate(name, p).code() == base::Code::kNotFound);
}

TEST_CASE("libvirt hypervisor: define, start, stop and undefine, with lifecycle events",
          "[engine][libvirt]") {
  auto h = Connect();
  Events events;
  h->SetEventHandler(events.Handler());
  const std::string name = "km_lifecycle";

  REQUIRE(h->Define(DomainXml(name)).ok());
  CHECK(events.WaitFor(name, DomainEvent::kDefined, 0));
  auto info = h->Lookup(name);
  REQUIRE(info.ok());
  CHECK(info->state == DomainState::kShutoff);
  CHECK(info->persistent);
  CHECK(info->memory_bytes == 128ull << 20);
  CHECK(info->vcpus == 1);

  REQUIRE(h->Start(name).ok());
  CHECK(events.WaitFor(name, DomainEvent::kStarted, DomainEvent::kStartedBooted));
  CHECK(h->Lookup(name)->state == DomainState::kRunning);
  base::Status again = h->Start(name);
  CHECK(again.code() == base::Code::kFailedPrecondition);
  CHECK(again.message().find("already") != std::string::npos);

  REQUIRE(h->Stop(name).ok());
  CHECK(events.WaitFor(name, DomainEvent::kStopped, DomainEvent::kStoppedDestroyed));
  CHECK(h->Lookup(name)->state == DomainState::kShutoff);
  CHECK(h->Stop(name).ok());  // already stopped

  REQUIRE(h->Undefine(name).ok());
  CHECK(events.WaitFor(name, DomainEvent::kUndefined, 0));
  CHECK(h->Lookup(name).status().code() == base::Code::kNotFound);
}

TEST_CASE("libvirt hypervisor: undefining a running domain leaves it running, transient",
          "[engine][libvirt]") {
  auto h = Connect();
  const std::string name = "km_transient";
  REQUIRE(h->Define(DomainXml(name)).ok());
  REQUIRE(h->Start(name).ok());
  REQUIRE(h->Undefine(name).ok());
  auto info = h->Lookup(name);
  REQUIRE(info.ok());
  CHECK(info->state == DomainState::kRunning);
  CHECK_FALSE(info->persistent);
  REQUIRE(h->Stop(name).ok());  // a stopped transient domain is gone
  CHECK(h->Lookup(name).status().code() == base::Code::kNotFound);
}

TEST_CASE("libvirt hypervisor: bad domain XML is InvalidArgument with libvirt's reason",
          "[engine][libvirt]") {
  auto h = Connect();
  base::Status s = h->Define("<domain type='test'><name>km_bad");
  CHECK(s.code() == base::Code::kInvalidArgument);
  CHECK_FALSE(s.message().empty());
  CHECK(h->Define("").code() == base::Code::kInvalidArgument);
}

TEST_CASE("libvirt hypervisor: a name taken by another uuid is refused", "[engine][libvirt]") {
  auto h = Connect();
  base::Status s = h->Define(
      "<domain type='test'><name>test</name><uuid>11111111-2222-3333-4444-555555555555</uuid>"
      "<memory>1024</memory><os><type>hvm</type></os></domain>");
  CHECK(s.code() == base::Code::kInternal);
  CHECK(s.message().find("already exists") != std::string::npos);
  CHECK(h->Lookup("test")->uuid == "6695eb01-f6a4-8304-79aa-97f2502e193f");
}

TEST_CASE("libvirt hypervisor: what the driver cannot do is Unsupported", "[engine][libvirt]") {
  auto h = Connect();
  // The test driver keeps no migration jobs and measures no dirty rate.
  CHECK(h->GetJobStats("test", false).status().code() == base::Code::kUnsupported);
  CHECK(h->AbortJob("test").code() == base::Code::kUnsupported);
  CHECK(h->MeasureDirtyRate("test", 1).status().code() == base::Code::kUnsupported);
  CHECK(h->StartPostCopy("test").code() == base::Code::kUnsupported);
  CHECK(h->SetMaxDowntime("test", 100).code() == base::Code::kUnsupported);
  // ... nor peer-to-peer migration (VIR_ERR_ARGUMENT_UNSUPPORTED).
  MigrateParams p;
  p.dest_uri = "test:///default";
  CHECK(h->Migrate("test", p).code() == base::Code::kUnsupported);
  CHECK(h->Lookup("test")->state == DomainState::kRunning);
}

TEST_CASE("libvirt hypervisor: bad arguments are refused before libvirt is asked",
          "[engine][libvirt]") {
  auto h = Connect();
  MigrateParams p;
  CHECK(h->Migrate("test", p).code() == base::Code::kInvalidArgument);  // no dest_uri
  p.dest_uri = "qemu+tcp://127.0.0.1:1/system";
  p.copy_disks = {"vda"};
  CHECK(h->Migrate("test", p).code() == base::Code::kInvalidArgument);  // disks without copy
  CHECK(h->MeasureDirtyRate("test", 0).status().code() == base::Code::kInvalidArgument);
  CHECK(h->MeasureDirtyRate("test", 61).status().code() == base::Code::kInvalidArgument);
}

TEST_CASE("libvirt hypervisor: two connections share the one event loop", "[engine][libvirt]") {
  auto a = Connect();
  auto b = Connect();
  Events ea, eb;
  a->SetEventHandler(ea.Handler());
  b->SetEventHandler(eb.Handler());
  const std::string name = "km_shared_events";
  REQUIRE(a->Define(DomainXml(name)).ok());
  CHECK(ea.WaitFor(name, DomainEvent::kDefined, 0));
  CHECK(eb.WaitFor(name, DomainEvent::kDefined, 0));

  // After the handler is replaced (and after destruction) the old one is not called.
  b->SetEventHandler(nullptr);
  const size_t before = eb.Count();
  REQUIRE(a->Undefine(name).ok());
  CHECK(ea.WaitFor(name, DomainEvent::kUndefined, 0));
  b.reset();
  CHECK(eb.Count() == before);
}

TEST_CASE("libvirt hypervisor: options are checked, every problem at once", "[engine][libvirt]") {
  LibvirtHypervisor::Options o;
  o.uri = "";
  o.keepalive_interval_s = 5;
  o.keepalive_count = 0;
  o.reconnect_initial_backoff = std::chrono::milliseconds(0);
  auto h = LibvirtHypervisor::Create(o);
  REQUIRE_FALSE(h.ok());
  CHECK(h.status().code() == base::Code::kInvalidArgument);
  const std::string& m = h.status().message();
  CHECK(m.find("uri is empty") != std::string::npos);
  CHECK(m.find("keepalive count") != std::string::npos);
  CHECK(m.find("initial backoff") != std::string::npos);
}

TEST_CASE("libvirt hypervisor: an unreachable daemon is Unavailable", "[engine][libvirt]") {
  LibvirtHypervisor::Options o;
  o.uri = "qemu+tcp://127.0.0.1:1/system";  // nothing listens on port 1
  auto h = LibvirtHypervisor::Create(o);
  REQUIRE_FALSE(h.ok());
  CHECK(h.status().code() == base::Code::kUnavailable);
  CHECK(h.status().message().find("127.0.0.1") != std::string::npos);
}

TEST_CASE("libvirt hypervisor: reconnect backoff doubles from the initial delay up to the max",
          "[engine][libvirt]") {
  LibvirtHypervisor::Options o;
  o.reconnect_initial_backoff = std::chrono::milliseconds(500);
  o.reconnect_max_backoff = std::chrono::milliseconds(30000);
  const std::pair<unsigned, int64_t> cases[] = {
      {0, 0}, {1, 500}, {2, 1000}, {3, 2000}, {7, 30000}, {8, 30000}, {1000, 30000},
  };
  for (const auto& [attempt, ms] : cases) {
    INFO("attempt " << attempt);
    CHECK(ReconnectDelay(attempt, o).count() == ms);
  }
}

}  // namespace
}  // namespace engine
