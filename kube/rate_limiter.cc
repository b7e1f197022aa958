#include "kube/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace kube {

RateLimiter::RateLimiter(double qps, int burst, base::Clock* clock)
    : qps_(qps), burst_(std::max(1, burst)), clock_(clock), tokens_(burst_), last_(clock->Now()) {}

std::chrono::nanoseconds RateLimiter::Wait() {
  if (qps_ <= 0) return std::chrono::nanoseconds::zero();
  std::chrono::nanoseconds wait{0};
  {
    std::lock_guard<std::mutex> l(mu_);
    auto now = clock_->Now();
    double elapsed = std::chrono::duration<double>(now - last_).count();
    if (elapsed > 0) {
      tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
      last_ = now;
    }
    tokens_ -= 1;
    if (tokens_ < 0) {
      wait = std::chrono::nanoseconds(static_cast<int64_t>(std::ceil(-tokens_ / qps_ * 1e9)));
    }
  }
  if (wait > std::chrono::nanoseconds::zero()) clock_->SleepFor(wait);
  return wait;
}

}  // namespace kube
