// DirtyRateSampler on the fake hypervisor: running VMs of ours are sampled,
// busy and foreign ones are not, samples age out.
#include <catch2/catch.hpp>

#include <chrono>

#include "engine/dirty_rate_sampler.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_hypervisor.h"

using namespace std::chrono_literals;
using engine::testing::FakeHypervisor;

TEST_CASE("the sampler keeps a recent dirty rate of each running VM of ours") {
  base::testing::FakeClock clock;
  FakeHypervisor hv;
  auto add = [&](const std::string& name, engine::DomainState state) {
    engine::DomainInfo d;
    d.name = name;
    d.state = state;
    hv.AddDomain(d);
  };
  add("default_vm1", engine::DomainState::kRunning);
  add("default_vm2", engine::DomainState::kRunning);
  add("default_off", engine::DomainState::kShutoff);
  add("not-ours", engine::DomainState::kRunning);
  hv.SetDirtyRate("default_vm1", 40 << 20);
  hv.SetDirtyRate("default_vm2", 1 << 20);
  engine::DirtyRateSampler sampler(&hv, &clock, {30000ms, 1});
  sampler.SetBusy("default_vm2", true);
  sampler.SampleOnce();
  auto s = sampler.Latest("default_vm1", 60s);
  REQUIRE(s);
  CHECK(s->bytes_per_second == 40u << 20);
  CHECK_FALSE(sampler.Latest("default_vm2", 60s));  // busy: migrating
  CHECK_FALSE(sampler.Latest("default_off", 60s));
  CHECK_FALSE(sampler.Latest("not-ours", 60s));
  CHECK(hv.CountOf(FakeHypervisor::Method::kMeasureDirtyRate) == 1);
  clock.Advance(61s);
  CHECK_FALSE(sampler.Latest("default_vm1", 60s));  // too old
  sampler.SetBusy("default_vm2", false);
  sampler.SampleOnce();
  CHECK(sampler.Latest("default_vm2", 60s));
}

TEST_CASE("a VM that just started is measured only once it has settled (boot is not its rate)") {
  base::testing::FakeClock clock;
  FakeHypervisor hv;
  engine::DomainInfo d;
  d.name = "default_vm1";
  d.state = engine::DomainState::kRunning;
  hv.AddDomain(d);
  hv.SetDirtyRate("default_vm1", 64 << 20);
  engine::DirtyRateSampler::Options o;
  o.interval = 30000ms;
  o.settle = 10000ms;
  engine::DirtyRateSampler sampler(&hv, &clock, o);
  sampler.SampleOnce();
  REQUIRE(sampler.Latest("default_vm1", 60s));
  // Restarted: the old sample goes, and no new one is taken while it boots.
  sampler.Started("default_vm1");
  CHECK_FALSE(sampler.Latest("default_vm1", 60s));
  clock.Advance(9s);
  sampler.SampleOnce();
  CHECK_FALSE(sampler.Latest("default_vm1", 60s));
  CHECK(hv.CountOf(FakeHypervisor::Method::kMeasureDirtyRate) == 1);
  clock.Advance(1s);
  hv.SetDirtyRate("default_vm1", 0);
  sampler.SampleOnce();
  auto s = sampler.Latest("default_vm1", 60s);
  REQUIRE(s);
  CHECK(s->bytes_per_second == 0);
  CHECK(hv.CountOf(FakeHypervisor::Method::kMeasureDirtyRate) == 2);
}

TEST_CASE("a booted VM settles first; one that arrived by migration is measured when it resumes") {
  using engine::DomainEvent;
  using engine::SamplerAction;
  auto ev = [](int lifecycle, int detail) {
    DomainEvent e;
    e.kind = DomainEvent::Kind::kLifecycle;
    e.lifecycle = lifecycle;
    e.detail = detail;
    return e;
  };
  CHECK(engine::SamplerActionFor(ev(DomainEvent::kStarted, DomainEvent::kStartedBooted)) ==
        SamplerAction::kStarted);
  // Started paused for the incoming copy: not running yet, nothing to measure.
  CHECK(engine::SamplerActionFor(ev(DomainEvent::kStarted, DomainEvent::kStartedMigrated)) ==
        SamplerAction::kNone);
  CHECK(engine::SamplerActionFor(ev(DomainEvent::kResumed, DomainEvent::kResumedMigrated)) ==
        SamplerAction::kPoke);
  CHECK(engine::SamplerActionFor(ev(DomainEvent::kStopped, DomainEvent::kStoppedMigrated)) ==
        SamplerAction::kNone);
  DomainEvent lost;
  lost.kind = DomainEvent::Kind::kConnectionLost;
  CHECK(engine::SamplerActionFor(lost) == SamplerAction::kNone);
}
