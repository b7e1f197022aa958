// A token bucket: at most `burst` requests at once, refilled at `qps` per
// second, measured and waited on through an injected Clock.
//
// Thread safety: Wait() may be called from many threads; each caller reserves
// its slot under a lock and sleeps outside it, so waiters are served in order.
#pragma once

#include <chrono>
#include <mutex>

#include "base/clock.h"

namespace kube {

class RateLimiter {
 public:
  // qps <= 0 disables limiting. burst < 1 is treated as 1.
  RateLimiter(double qps, int burst, base::Clock* clock);

  // Takes one token, sleeping (clock->SleepFor) until it is available.
  // Returns how long the caller was made to wait.
  std::chrono::nanoseconds Wait();

 private:
  const double qps_;
  const double burst_;
  base::Clock* const clock_;
  std::mutex mu_;
  double tokens_;  // may go negative: tokens already promised to sleeping callers
  std::chrono::steady_clock::time_point last_;
};

}  // namespace kube
