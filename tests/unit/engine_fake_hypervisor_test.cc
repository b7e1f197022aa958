// FakeHypervisor's own behaviour: the engine's unit tests and the scale
// simulation trust it to behave like libvirt where the engine can tell.
#include <catch2/catch.hpp>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_hypervisor.h"

namespace engine::testing {
namespace {

using Method = FakeHypervisor::Method;

DomainInfo Running(const std::string& name) {
  DomainInfo info;
  info.name = name;
  info.state = DomainState::kRunning;
  info.persistent = true;
  info.memory_bytes = 256ull << 20;
  info.vcpus = 1;
  return info;
}

MigrateParams To(const std::string& uri) {
  MigrateParams p;
  p.dest_uri = uri;
  p.bandwidth_mib = 64;
  return p;
}

// Collects events from any thread.
class Events {
 public:
  Hypervisor::EventHandler Handler() {
    return [this](const DomainEvent& e) {
      std::lock_guard<std::mutex> l(mu_);
      events_.push_back(e);
    };
  }
  std::vector<DomainEvent> Get() {
    std::lock_guard<std::mutex> l(mu_);
    return events_;
  }
  std::vector<DomainEvent> Of(DomainEvent::Kind kind) {
    std::vector<DomainEvent> out;
    for (const DomainEvent& e : Get()) {
      if (e.kind == kind) out.push_back(e);
    }
    return out;
  }
  bool Has(int lifecycle, int detail) {
    for (const DomainEvent& e : Of(DomainEvent::Kind::kLifecycle)) {
      if (e.lifecycle == lifecycle && e.detail == detail) return true;
    }
    return false;
  }

 private:
  std::mutex mu_;
  std::vector<DomainEvent> events_;
};

// Runs Migrate on its own thread, as the engine does.
class MigrateThread {
 public:
  MigrateThread(Hypervisor& h, std::string name, MigrateParams params)
      : thread_([this, &h, name, params] { result_ = h.Migrate(name, params); }) {}
  ~MigrateThread() {
    if (thread_.joinable()) thread_.join();
  }
  base::Status Join() {
    thread_.join();
    return result_;
  }

 private:
  base::Status result_;
  std::thread thread_;
};

TEST_CASE("fake hypervisor: a completed migration moves the domain to the target with its downtime",
          "[engine][fake]") {
  FakeHypervisor source, target;
  source.LinkTarget(&target);
  source.AddDomain(Running("ns_vm"));
  Events source_events, target_events;
  source.SetEventHandler(source_events.Handler());
  target.SetEventHandler(target_events.Handler());

  MigrateThread m(source, "ns_vm", To("qemu+tcp://b/system"));
  REQUIRE(source.WaitForMigration("ns_vm"));
  JobStats progress;
  progress.data_total = 300;
  progress.data_processed = 100;
  progress.data_remaining = 200;
  REQUIRE(source.AdvanceTo("ns_vm", progress));
  auto stats = source.GetJobStats("ns_vm", false);
  REQUIRE(stats.ok());
  CHECK(stats->type == JobStats::Type::kUnbounded);
  CHECK(stats->data_remaining == 200);

  REQUIRE(source.CompleteMigration("ns_vm"));
  REQUIRE(m.Join().ok());

  CHECK_FALSE(source.HasDomain("ns_vm"));
  auto moved = target.Domain("ns_vm");
  REQUIRE(moved.has_value());
  CHECK(moved->state == DomainState::kRunning);
  CHECK(moved->persistent);
  CHECK(moved->memory_bytes == 256ull << 20);
  CHECK(source.Lookup("ns_vm").status().code() == base::Code::kNotFound);

  auto done = source_events.Of(DomainEvent::Kind::kJobCompleted);
  REQUIRE(done.size() == 1);
  CHECK(done[0].domain == "ns_vm");
  CHECK(done[0].stats.type == JobStats::Type::kCompleted);
  CHECK(done[0].stats.has_downtime);
  CHECK(done[0].stats.downtime_ms == 50);
  CHECK(done[0].stats.data_remaining == 0);
  CHECK(done[0].stats.data_processed == 300);
  CHECK(source_events.Has(DomainEvent::kStopped, DomainEvent::kStoppedMigrated));
  CHECK(target_events.Has(DomainEvent::kStarted, DomainEvent::kStartedMigrated));

  // The target keeps the finished job's statistics until they are read once.
  auto completed = target.GetJobStats("ns_vm", true);
  REQUIRE(completed.ok());
  CHECK(completed->type == JobStats::Type::kCompleted);
  CHECK(completed->downtime_ms == 50);
  CHECK(target.GetJobStats("ns_vm", true)->type == JobStats::Type::kNone);
}

TEST_CASE("fake hypervisor: AbortJob makes Migrate return Aborted and the domain stays running",
          "[engine][fake]") {
  base::testing::FakeClock clock;
  FakeHypervisor::Options o;
  o.clock = &clock;
  FakeHypervisor source(o), target;
  source.LinkTarget(&target);
  source.AddDomain(Running("ns_vm"));

  CHECK(source.AbortJob("ns_vm").code() == base::Code::kNotFound);  // no job yet
  MigrateThread m(source, "ns_vm", To("qemu+tcp://b/system"));
  REQUIRE(source.WaitForMigration("ns_vm"));
  clock.Advance(std::chrono::seconds(7));
  REQUIRE(source.AbortJob("ns_vm").ok());
  CHECK(m.Join().code() == base::Code::kAborted);

  REQUIRE(source.Domain("ns_vm").has_value());
  CHECK(source.Domain("ns_vm")->state == DomainState::kRunning);
  CHECK_FALSE(target.HasDomain("ns_vm"));
  CHECK_FALSE(source.Migrating("ns_vm"));
  CHECK(source.GetJobStats("ns_vm", true)->type == JobStats::Type::kNone);  // as libvirt
  CHECK(source.AbortJob("ns_vm").code() == base::Code::kNotFound);          // nothing left to abort

  auto aborts = source.CallsOf(Method::kAbortJob);
  REQUIRE(aborts.size() == 3);
  auto migrate = source.CallsOf(Method::kMigrate);
  REQUIRE(migrate.size() == 1);
  CHECK(aborts[1].at - migrate[0].at == std::chrono::seconds(7));
}

TEST_CASE("fake hypervisor: a script read by polling advances and completes by itself",
          "[engine][fake]") {
  FakeHypervisor source, target;
  source.LinkTarget(&target);
  source.AddDomain(Running("ns_vm"));
  MigrationScript script;
  for (uint64_t processed : {0, 100, 200, 300}) {
    JobStats s;
    s.data_total = 300;
    s.data_processed = processed;
    s.data_remaining = 300 - processed;
    s.memory_iteration = processed / 100 + 1;
    script.steps.push_back(s);
  }
  script.advance_on_read = true;
  script.end = MigrationScript::End::kComplete;
  script.downtime_ms = 12;
  source.SetMigrationScript("ns_vm", script);

  MigrateThread m(source, "ns_vm", To("qemu+tcp://b/system"));
  REQUIRE(source.WaitForMigration("ns_vm"));
  std::vector<uint64_t> remaining;
  for (;;) {
    auto s = source.GetJobStats("ns_vm", false);
    if (!s.ok() || s->type == JobStats::Type::kNone) break;
    remaining.push_back(s->data_remaining);
  }
  REQUIRE(m.Join().ok());
  CHECK(remaining == std::vector<uint64_t>{300, 200, 100, 0});
  CHECK(target.GetJobStats("ns_vm", true)->downtime_ms == 12);
}

TEST_CASE("fake hypervisor: Step walks the script and a failing end returns the scripted error",
          "[engine][fake]") {
  FakeHypervisor source, target;
  source.LinkTarget(&target);
  source.AddDomain(Running("ns_vm"));
  MigrationScript script;
  script.steps.resize(2);
  script.steps[0].memory_iteration = 1;
  script.steps[1].memory_iteration = 2;
  script.end = MigrationScript::End::kFail;
  script.failure = base::Internal("migration failed: target went away");
  source.SetDefaultMigrationScript(script);

  MigrateThread m(source, "ns_vm", To("qemu+tcp://b/system"));
  REQUIRE(source.WaitForMigration("ns_vm"));
  CHECK(source.GetJobStats("ns_vm", false)->memory_iteration == 1);
  CHECK(source.GetJobStats("ns_vm", false)->memory_iteration == 1);  // reads do not advance
  REQUIRE(source.Step("ns_vm"));
  CHECK(source.GetJobStats("ns_vm", false)->memory_iteration == 2);
  REQUIRE(source.Step("ns_vm"));
  base::Status result = m.Join();
  CHECK(result.code() == base::Code::kInternal);
  CHECK(result.message() == "migration failed: target went away");
  CHECK(source.Domain("ns_vm")->state == DomainState::kRunning);
  CHECK(source.GetJobStats("ns_vm", true)->type == JobStats::Type::kNone);
  CHECK_FALSE(source.Step("ns_vm"));
}

TEST_CASE("fake hypervisor: records flags, downtime, speed and the post-copy switch",
          "[engine][fake]") {
  FakeHypervisor source, target;
  source.LinkTarget(&target);
  source.AddDomain(Running("ns_vm"));
  Events events;
  source.SetEventHandler(events.Handler());
  MigrateParams p = To("qemu+tcp://b/system");
  p.allow_post_copy = true;
  p.auto_converge = true;
  p.max_downtime_ms = 300;

  MigrateThread m(source, "ns_vm", p);
  REQUIRE(source.WaitForMigration("ns_vm"));
  CHECK(source.MaxDowntime("ns_vm") == 300u);
  CHECK(source.MaxSpeed("ns_vm") == 64u);
  REQUIRE(source.SetMaxDowntime("ns_vm", 1000).ok());
  REQUIRE(source.SetMaxSpeed("ns_vm", 128).ok());
  CHECK_FALSE(source.PostCopyStarted("ns_vm"));
  REQUIRE(source.StartPostCopy("ns_vm").ok());
  CHECK(source.PostCopyStarted("ns_vm"));
  CHECK(source.StartPostCopy("ns_vm").code() == base::Code::kFailedPrecondition);
  // libvirt cannot abort a migration in post-copy: the guest runs on the target.
  CHECK(source.AbortJob("ns_vm").code() == base::Code::kFailedPrecondition);
  CHECK(events.Has(DomainEvent::kSuspended, DomainEvent::kSuspendedPostCopy));
  REQUIRE(source.CompleteMigration("ns_vm"));
  REQUIRE(m.Join().ok());

  auto migrate = source.CallsOf(Method::kMigrate);
  REQUIRE(migrate.size() == 1);
  CHECK(migrate[0].migrate.allow_post_copy);
  CHECK(migrate[0].migrate.auto_converge);
  CHECK_FALSE(migrate[0].migrate.copy_storage);
  CHECK(migrate[0].migrate.bandwidth_mib == 64);
  CHECK(source.MaxDowntime("ns_vm") == 1000u);
  CHECK(source.MaxSpeed("ns_vm") == 128u);
  auto downtimes = source.CallsOf(Method::kSetMaxDowntime);
  REQUIRE(downtimes.size() == 1);
  CHECK(downtimes[0].value == 1000);
  CHECK(source.CountOf(Method::kStartPostCopy) == 2);
}

TEST_CASE("fake hypervisor: post-copy is refused to a migration started without it",
          "[engine][fake]") {
  FakeHypervisor source, target;
  source.LinkTarget(&target);
  source.AddDomain(Running("ns_vm"));
  CHECK(source.StartPostCopy("ns_vm").code() == base::Code::kFailedPrecondition);  // no job
  MigrateThread m(source, "ns_vm", To("qemu+tcp://b/system"));
  REQUIRE(source.WaitForMigration("ns_vm"));
  CHECK(source.StartPostCopy("ns_vm").code() == base::Code::kFailedPrecondition);
  CHECK_FALSE(source.PostCopyStarted("ns_vm"));
  REQUIRE(source.AbortJob("ns_vm").ok());
  CHECK(m.Join().code() == base::Code::kAborted);
}

TEST_CASE("fake hypervisor: an injected error answers the next calls, then the call works",
          "[engine][fake]") {
  FakeHypervisor h;
  h.AddDomain(Running("ns_vm"));
  h.FailNext(Method::kLookup, base::Unavailable("connection reset"), 2);
  CHECK(h.Lookup("ns_vm").status().code() == base::Code::kUnavailable);
  CHECK(h.Lookup("ns_vm").status().message() == "connection reset");
  CHECK(h.Lookup("ns_vm").ok());
  CHECK(h.CountOf(Method::kLookup) == 3);

  h.FailNext(Method::kMigrate, base::FailedPrecondition("Unsafe migration"), -1);
  for (int i = 0; i < 3; ++i) {
    CHECK(h.Migrate("ns_vm", To("x")).code() == base::Code::kFailedPrecondition);
  }
  CHECK_FALSE(h.Migrating("ns_vm"));
  h.ClearFailures();
  CHECK(h.Migrate("ns_vm", To("x")).code() == base::Code::kUnavailable);  // no target linked
}

TEST_CASE("fake hypervisor: the fabric routes a migration by its destination URI",
          "[engine][fake]") {
  FakeFabric fabric;
  FakeHypervisor::Options oa, ob, oc;
  oa.uri = "qemu+tcp://node-a/system";
  ob.uri = "qemu+tcp://node-b/system";
  oc.uri = "qemu+tcp://node-c/system";
  oa.fabric = ob.fabric = oc.fabric = &fabric;
  FakeHypervisor a(oa), b(ob), c(oc);
  a.AddDomain(Running("ns_vm"));

  CHECK(a.Migrate("ns_vm", To("qemu+tcp://node-z/system")).code() == base::Code::kUnavailable);
  CHECK(a.Migrate("ns_vm", To(oa.uri)).code() == base::Code::kFailedPrecondition);
  MigrateThread m(a, "ns_vm", To(oc.uri));
  REQUIRE(a.WaitForMigration("ns_vm"));
  REQUIRE(a.CompleteMigration("ns_vm"));
  REQUIRE(m.Join().ok());
  CHECK_FALSE(b.HasDomain("ns_vm"));
  CHECK(c.HasDomain("ns_vm"));
}

TEST_CASE("fake hypervisor: a migration onto a node where the domain runs fails and keeps it here",
          "[engine][fake]") {
  FakeHypervisor source, target;
  source.LinkTarget(&target);
  source.AddDomain(Running("ns_vm"));
  target.AddDomain(Running("ns_vm"));
  MigrateThread m(source, "ns_vm", To("qemu+tcp://b/system"));
  REQUIRE(source.WaitForMigration("ns_vm"));
  REQUIRE(source.CompleteMigration("ns_vm"));
  CHECK(m.Join().code() == base::Code::kAlreadyExists);
  CHECK(source.HasDomain("ns_vm"));
}

TEST_CASE("fake hypervisor: two nodes migrating to each other at once both finish",
          "[engine][fake]") {
  FakeHypervisor x, y;
  x.LinkTarget(&y);
  y.LinkTarget(&x);
  x.AddDomain(Running("ns_a"));
  y.AddDomain(Running("ns_b"));
  MigrateThread ma(x, "ns_a", To("y"));
  MigrateThread mb(y, "ns_b", To("x"));
  REQUIRE(x.WaitForMigration("ns_a"));
  REQUIRE(y.WaitForMigration("ns_b"));
  std::thread complete_a([&] { CHECK(x.CompleteMigration("ns_a")); });
  CHECK(y.CompleteMigration("ns_b"));
  complete_a.join();
  CHECK(ma.Join().ok());
  CHECK(mb.Join().ok());
  CHECK(y.HasDomain("ns_a"));
  CHECK(x.HasDomain("ns_b"));
}

TEST_CASE("fake hypervisor: define, start, stop and undefine behave like libvirt",
          "[engine][fake]") {
  FakeHypervisor h;
  Events events;
  h.SetEventHandler(events.Handler());
  const std::string xml =
      "<domain type='kvm'><name>ns_vm</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>"
      "<memory unit='MiB'>512</memory><vcpu placement='static'>2</vcpu></domain>";
  REQUIRE(h.Define(xml).ok());
  auto info = h.Lookup("ns_vm");
  REQUIRE(info.ok());
  CHECK(info->state == DomainState::kShutoff);
  CHECK(info->persistent);
  CHECK(info->memory_bytes == 512ull << 20);
  CHECK(info->vcpus == 2);
  CHECK(info->uuid == "6695eb01-f6a4-8304-79aa-97f2502e193f");
  CHECK(h.GetXml("ns_vm").value() == xml);
  REQUIRE(h.Define(xml).ok());  // same name and uuid: replaces

  CHECK(h.Define("<domain><memory>1</memory></domain>").code() == base::Code::kInvalidArgument);
  CHECK(h.Define("<domain><name>ns_vm</name><uuid>00000000-0000-0000-0000-000000000001</uuid>"
                 "</domain>")
            .code() == base::Code::kInternal);

  REQUIRE(h.Start("ns_vm").ok());
  CHECK(h.Start("ns_vm").code() == base::Code::kFailedPrecondition);
  CHECK(h.Lookup("ns_vm")->state == DomainState::kRunning);
  REQUIRE(h.Undefine("ns_vm").ok());  // running: becomes transient
  CHECK_FALSE(h.Lookup("ns_vm")->persistent);
  REQUIRE(h.Stop("ns_vm").ok());
  REQUIRE(h.Stop("ns_vm").ok());  // already stopped: OK
  REQUIRE(h.Undefine("ns_vm").ok());
  CHECK_FALSE(h.HasDomain("ns_vm"));
  CHECK(h.Start("ns_vm").code() == base::Code::kNotFound);
  CHECK(h.Stop("ns_vm").code() == base::Code::kNotFound);
  CHECK(h.GetXml("ns_vm").status().code() == base::Code::kNotFound);
  CHECK(h.List()->empty());

  CHECK(events.Has(DomainEvent::kDefined, 0));
  CHECK(events.Has(DomainEvent::kDefined, 1));
  CHECK(events.Has(DomainEvent::kStarted, DomainEvent::kStartedBooted));
  CHECK(events.Has(DomainEvent::kStopped, DomainEvent::kStoppedDestroyed));
  CHECK(events.Has(DomainEvent::kUndefined, 0));
}

TEST_CASE("fake hypervisor: stopping a migrating domain fails its migration", "[engine][fake]") {
  FakeHypervisor source, target;
  source.LinkTarget(&target);
  source.AddDomain(Running("ns_vm"));
  MigrateThread m(source, "ns_vm", To("qemu+tcp://b/system"));
  REQUIRE(source.WaitForMigration("ns_vm"));
  REQUIRE(source.Stop("ns_vm").ok());
  CHECK(m.Join().code() == base::Code::kInternal);
  CHECK(source.Domain("ns_vm")->state == DomainState::kShutoff);
  CHECK_FALSE(target.HasDomain("ns_vm"));
  CHECK(source.Migrate("ns_vm", To("b")).code() == base::Code::kFailedPrecondition);
}

TEST_CASE("fake hypervisor: MeasureDirtyRate returns the set rate and spends its seconds",
          "[engine][fake]") {
  base::testing::FakeClock clock;
  FakeHypervisor::Options o;
  o.clock = &clock;
  FakeHypervisor h(o);
  h.AddDomain(Running("ns_vm"));
  h.SetDirtyRate("ns_vm", 100ull << 20);
  auto rate = h.MeasureDirtyRate("ns_vm", 1);
  REQUIRE(rate.ok());
  CHECK(*rate == 100ull << 20);
  REQUIRE(clock.Sleeps().size() == 1);
  CHECK(clock.Sleeps()[0] == std::chrono::seconds(1));
  CHECK(h.MeasureDirtyRate("ns_vm", 0).status().code() == base::Code::kInvalidArgument);
  CHECK(h.MeasureDirtyRate("ns_other", 1).status().code() == base::Code::kNotFound);
}

TEST_CASE("fake hypervisor: destroying it releases a Migrate still blocked", "[engine][fake]") {
  FakeHypervisor target;
  base::Status result;
  std::thread t;
  {
    FakeHypervisor source;
    source.LinkTarget(&target);
    source.AddDomain(Running("ns_vm"));
    t = std::thread([&] { result = source.Migrate("ns_vm", To("b")); });
    CHECK(source.WaitForMigration("ns_vm"));  // not REQUIRE: `t` must be joined
  }
  t.join();
  CHECK(result.code() == base::Code::kAborted);
}

}  // namespace
}  // namespace engine::testing
