// DirtyRateSampler: a recent dirty-rate sample of every running VM on this
// node, so that a migration's convergence forecast (forecast.h) is ready the
// moment the migration is asked for, instead of costing a 1 s measurement
// before the copy can start (design.md §4.4: the forecast must not lengthen
// the migration).
//
// One thread measures each running domain named by DomainName (ours), one
// after the other (Hypervisor::MeasureDirtyRate over `seconds`), then waits
// `interval` before the next round; domains marked busy (a migration runs)
// are skipped, and so is a VM in its first `settle` after it started: a guest
// that boots rewrites much of its memory, a rate that says nothing of the
// running guest (seen in the demo: an idle guest measured at 64 MiB/s during
// boot, 0 a minute later). Its first sample is taken once the settle time is
// over. A failed measurement is logged at -v 2 and retried next round.
//
// Thread safety: all methods may be called from any thread. Stop (also run by
// the destructor) returns once the thread has ended.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "base/clock.h"
#include "engine/hypervisor.h"

namespace engine {

// What a libvirt lifecycle event means for the sampler: a domain that booted
// is measured once it has settled (kStarted); one that arrived by migration
// runs as on its source and is measured as soon as it resumes here (kPoke; it
// is started paused while the copy comes in, and the start event says
// "migrated"); anything else: nothing.
enum class SamplerAction { kNone, kStarted, kPoke };
SamplerAction SamplerActionFor(const DomainEvent& e);

class DirtyRateSampler {
 public:
  struct Options {
    std::chrono::milliseconds interval{30000};
    int seconds = 1;
    std::chrono::milliseconds settle{10000};
  };
  struct Sample {
    uint64_t bytes_per_second = 0;
    std::chrono::steady_clock::time_point at;  // on the clock
  };

  // `hv` and `clock` must outlive the sampler.
  DirtyRateSampler(Hypervisor* hv, base::Clock* clock, Options options);
  ~DirtyRateSampler();
  DirtyRateSampler(const DirtyRateSampler&) = delete;
  DirtyRateSampler& operator=(const DirtyRateSampler&) = delete;

  void Start();
  void Stop();
  // Wakes the thread for a round now.
  void Poke();
  // `domain` just booted: not measured before `settle` has passed, then
  // measured at once. (One that arrived by migration is running as before:
  // Poke, not Started.)
  void Started(const std::string& domain);

  // The newest sample of `domain` no older than `max_age`, or nullopt.
  std::optional<Sample> Latest(const std::string& domain, std::chrono::milliseconds max_age) const;
  // Busy domains are not measured (their migration's job statistics say more);
  // one that stops being busy is measured in the next round, at once.
  void SetBusy(const std::string& domain, bool busy);

  // One round, on the caller's thread (the loop's step; for tests).
  void SampleOnce();

 private:
  void Run();

  Hypervisor* const hv_;
  base::Clock* const clock_;
  const Options options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Sample> samples_;
  std::set<std::string> busy_;
  std::map<std::string, std::chrono::steady_clock::time_point> started_;  // on the clock
  bool stop_ = false;
  bool poked_ = false;
  std::thread thread_;
};

}  // namespace engine
