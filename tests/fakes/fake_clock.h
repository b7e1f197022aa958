// FakeClock: a base::Clock whose SleepFor advances time instantly and
// records every requested sleep, so tests can assert backoff schedules.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <chrono>
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
    std::lock_guard<std::mutex> l(mu_);
    sleeps_.push_back(d);
    if (d > std::chrono::nanoseconds::zero()) {
      now_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
      wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
    }
  }

  // Moves both clocks forward without recording a sleep.
  void Advance(std::chrono::nanoseconds d) {
    std::lock_guard<std::mutex> l(mu_);
    now_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
    wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
  }
  void SetWall(std::chrono::system_clock::time_point t) {
    std::lock_guard<std::mutex> l(mu_);
    wall_ = t;
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
  mutable std::mutex mu_;
  std::chrono::steady_clock::time_point now_;
  std::chrono::system_clock::time_point wall_;
  std::vector<std::chrono::nanoseconds> sleeps_;
};

}  // namespace base::testing
