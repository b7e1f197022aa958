// WorkQueue: the queue between event handlers and the workers of a
// level-triggered reconciler (style.md §3; client-go's workqueue semantics).
// Handlers Add("namespace/name"); workers loop Get → reconcile → Done, and on
// failure AddRateLimited (retry with per-key exponential backoff), on success
// Forget (reset the backoff).
//
// Guarantees:
//  - A key is queued at most once however often it is added before a worker
//    takes it (Add of a queued key does nothing).
//  - A key is processed by at most one worker at a time: a key added while it
//    is being processed is queued again when Done(key) is called, not before.
//  - Keys are handed out in the order they became ready (FIFO).
//  - AddAfter(key, d) makes the key ready d after now on the injected Clock;
//    a key waiting with a later time is moved to the earlier one, and a key
//    already queued stays queued. AddRateLimited(key) is AddAfter(key,
//    Backoff): base_delay × 2^failures, capped at max_delay, where failures
//    counts the key's AddRateLimited calls since its last Forget.
//  - Get() blocks until a key is ready or ShutDown(). After ShutDown, Get()
//    still hands out the keys already queued, and Done still requeues a key
//    added (before ShutDown) while it was processed, so workers can drain;
//    then Get() returns nullopt. Keys still waiting for their delay are
//    dropped, and Add/AddAfter/AddRateLimited do nothing.
//
// Time: every delay is measured on the injected base::Clock. A worker blocked
// in Get() with delayed keys pending waits for the real time left and is woken
// early by the clock's time listener, so a test's FakeClock::Advance makes a
// due key ready at once, with no sleep.
//
// Thread safety: every method may be called from any thread at the same
// time. The clock must outlive the queue; destroy the queue only once no
// thread is inside Get().
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "base/clock.h"

namespace kube {

struct WorkQueueOptions {
  std::chrono::nanoseconds base_delay = std::chrono::milliseconds(5);
  std::chrono::nanoseconds max_delay = std::chrono::seconds(1000);
};

class WorkQueue {
 public:
  explicit WorkQueue(base::Clock* clock, WorkQueueOptions options = {});
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void Add(const std::string& key);
  // d ≤ 0 is Add.
  void AddAfter(const std::string& key, std::chrono::nanoseconds d);
  void AddRateLimited(const std::string& key);
  // Resets the key's backoff (it does not remove the key from the queue).
  void Forget(const std::string& key);
  // AddRateLimited calls since the key's last Forget.
  int NumRequeues(const std::string& key) const;
  // The delay the next AddRateLimited(key) will use.
  std::chrono::nanoseconds Backoff(const std::string& key) const;

  // Blocks until a key is ready (and marks it processing), or returns nullopt
  // once shut down and drained.
  std::optional<std::string> Get();
  // Get without blocking: a ready key (delayed keys that are due included),
  // or nullopt.
  std::optional<std::string> TryGet();
  // Ends processing of a key returned by Get; requeues it if it was added
  // meanwhile. Done of a key not being processed does nothing.
  void Done(const std::string& key);

  void ShutDown();
  bool ShuttingDown() const;
  // Keys ready and waiting for a worker, not those processing or delayed (a
  // delayed key joins when Get or TryGet finds it due).
  size_t Len() const;
  // Keys waiting for their delay.
  size_t NumWaiting() const;
  // Threads blocked inside Get() (for tests and metrics).
  int Waiters() const;

 private:
  using Time = std::chrono::steady_clock::time_point;

  void AddLocked(const std::string& key);
  void AddAfterLocked(const std::string& key, std::chrono::nanoseconds d);
  // Moves keys whose time has come into the queue.
  void PromoteDueLocked(Time now);
  std::chrono::nanoseconds BackoffLocked(const std::string& key) const;
  // Hands out the front key; queue_ must not be empty.
  std::string PopLocked();

  base::Clock* const clock_;
  const WorkQueueOptions options_;
  int listener_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::set<std::string> dirty_;                       // queued, or to requeue at Done
  std::set<std::string> processing_;                  // handed out by Get, not yet Done
  std::map<std::string, Time> waiting_;               // key → ready time
  std::multimap<Time, std::string> waiting_by_time_;  // ready time → key
  std::map<std::string, int> failures_;
  bool shutting_down_ = false;
  int waiters_ = 0;
};

}  // namespace kube
