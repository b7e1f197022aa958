// Clock: the time source of every program, injected so that retries,
// backoff, rate limiting and credential expiry are tested without waiting.
//
// Thread safety: implementations must be safe to call from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace base {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time, for intervals and deadlines.
  virtual std::chrono::steady_clock::time_point Now() = 0;
  // Wall-clock time, for comparing with timestamps from servers
  // (e.g. an ExecCredential's expirationTimestamp).
  virtual std::chrono::system_clock::time_point WallNow() = 0;
  // Blocks the calling thread for `d` (a fake clock advances instead).
  virtual void SleepFor(std::chrono::nanoseconds d) = 0;

  // For code that waits on a condition variable until a deadline on this
  // clock (kube::WorkQueue): it waits for the real duration left, which is
  // right for the real clock, and registers `fn` so that a clock whose time
  // jumps (a fake) can wake it to re-check Now(). `fn` is called after each
  // jump, on the thread that moved the time, without the clock's own lock
  // held; it must not add or remove listeners. The real clock never calls it
  // and returns 0. RemoveTimeListener returns once no call of `fn` is running.
  virtual int AddTimeListener(std::function<void()> fn) {
    (void)fn;
    return 0;
  }
  virtual void RemoveTimeListener(int id) { (void)id; }
};

// The process-wide real clock; never null, never destroyed.
Clock* RealClock();

// RFC 3339 timestamps as Kubernetes writes them ("2026-11-25T19:18:00Z",
// optionally with fractional seconds and a numeric offset). nullopt when malformed.
std::optional<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view s);
// "2026-11-25T19:18:00Z" (whole seconds, UTC), the form of metav1.Time.
std::string FormatRfc3339(std::chrono::system_clock::time_point t);
// "2026-11-25T19:18:00.123456Z" (microseconds, UTC), the form of metav1.MicroTime
// (a Lease's acquireTime and renewTime).
std::string FormatRfc3339Micro(std::chrono::system_clock::time_point t);

}  // namespace base
