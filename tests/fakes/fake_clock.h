// FakeClock: a base::Clock whose SleepFor advances time instantly and
// records every requested sleep, so tests can assert backoff schedules.
// Every jump of time (SleepFor, Advance, SetWall) calls the time listeners,
// so that code waiting for a deadline on this clock re-checks Now().
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

#include "base/clock.h"

namespace base::testing {

class FakeClock final : public Clock {
 public:
  FakeClock()
      : now_(std::chrono::steady_clock::time_point() + std::chrono::hours(1000)),
        wall_(std::chrono::system_clock::time_point() + std::chrono::hours(24 * 365 * 50)) {}

  std::chrono::steady_clock::time_point Now() override {
    std::lock_guard<std::mutex> l(mu_);
    return now_;
  }
  std::chrono::system_clock::time_point WallNow() override {
    std::lock_guard<std::mutex> l(mu_);
    return wall_;
  }
  void SleepFor(std::chrono::nanoseconds d) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      sleeps_.push_back(d);
      if (d > std::chrono::nanoseconds::zero()) {
        now_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
        wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
      }
    }
    NotifyListeners();
  }

  int AddTimeListener(std::function<void()> fn) override {
    std::lock_guard<std::mutex> l(listeners_mu_);
    listeners_[++next_listener_] = std::move(fn);
    return next_listener_;
  }
  void RemoveTimeListener(int id) override {
    std::lock_guard<std::mutex> l(listeners_mu_);
    listeners_.erase(id);
  }

  // Moves both clocks forward without recording a sleep.
  void Advance(std::chrono::nanoseconds d) {
    {
      std::lock_guard<std::mutex> l(mu_);
      now_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
      wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
    }
    NotifyListeners();
  }
  void SetWall(std::chrono::system_clock::time_point t) {
    {
      std::lock_guard<std::mutex> l(mu_);
      wall_ = t;
    }
    NotifyListeners();
  }
  std::vector<std::chrono::nanoseconds> Sleeps() const {
    std::lock_guard<std::mutex> l(mu_);
    return sleeps_;
  }
  void ClearSleeps() {
    std::lock_guard<std::mutex> l(mu_);
    sleeps_.clear();
  }

 private:
  // Under listeners_mu_ (not mu_, which listeners take through Now()), so
  // that RemoveTimeListener waits for a running call to finish.
  void NotifyListeners() {
    std::lock_guard<std::mutex> l(listeners_mu_);
    for (auto& [id, fn] : listeners_) fn();
  }

  std::mutex listeners_mu_;
  std::map<int, std::function<void()>> listeners_;
  int next_listener_ = 0;
  mutable std::mutex mu_;
  std::chrono::steady_clock::time_point now_;
  std::chrono::system_clock::time_point wall_;
  std::vector<std::chrono::nanoseconds> sleeps_;
};

}  // namespace base::testing
