#include "kube/workqueue.h"

namespace kube {

WorkQueue::WorkQueue(base::Clock* clock, WorkQueueOptions options)
    : clock_(clock), options_(options) {
  // A jump of a fake clock must wake a Get() waiting for a delayed key. Taking
  // mu_ before notifying closes the gap between a waiter reading Now() and
  // starting to wait.
  listener_ = clock_->AddTimeListener([this] {
    std::lock_guard<std::mutex> l(mu_);
    cv_.notify_all();
  });
}

WorkQueue::~WorkQueue() { clock_->RemoveTimeListener(listener_); }

void WorkQueue::Add(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  if (shutting_down_) return;
  AddLocked(key);
}

void WorkQueue::AddLocked(const std::string& key) {
  if (!dirty_.insert(key).second) return;   // already queued (or due at Done)
  if (processing_.count(key) != 0) return;  // Done() queues it
  queue_.push_back(key);
  cv_.notify_one();
}

void WorkQueue::AddAfter(const std::string& key, std::chrono::nanoseconds d) {
  std::lock_guard<std::mutex> l(mu_);
  if (shutting_down_) return;
  AddAfterLocked(key, d);
}

void WorkQueue::AddAfterLocked(const std::string& key, std::chrono::nanoseconds d) {
  if (d <= std::chrono::nanoseconds::zero()) {
    AddLocked(key);
    return;
  }
  const Time ready = clock_->Now() + std::chrono::duration_cast<Time::duration>(d);
  auto it = waiting_.find(key);
  if (it != waiting_.end()) {
    if (it->second <= ready) return;  // already due earlier
    auto range = waiting_by_time_.equal_range(it->second);
    for (auto w = range.first; w != range.second; ++w) {
      if (w->second == key) {
        waiting_by_time_.erase(w);
        break;
      }
    }
    it->second = ready;
  } else {
    waiting_.emplace(key, ready);
  }
  waiting_by_time_.emplace(ready, key);
  // A worker waiting for a later deadline must wait less now.
  cv_.notify_all();
}

std::chrono::nanoseconds WorkQueue::BackoffLocked(const std::string& key) const {
  auto it = failures_.find(key);
  const int failures = it == failures_.end() ? 0 : it->second;
  const int64_t base = options_.base_delay.count();
  const int64_t cap = options_.max_delay.count();
  if (base <= 0) return std::chrono::nanoseconds::zero();
  // base × 2^failures without overflow: stop doubling at the cap.
  int64_t d = base;
  for (int i = 0; i < failures && d < cap; ++i) {
    d = d > cap / 2 ? cap : d * 2;
  }
  return std::chrono::nanoseconds(d < cap ? d : cap);
}

void WorkQueue::AddRateLimited(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  if (shutting_down_) return;
  const std::chrono::nanoseconds d = BackoffLocked(key);
  ++failures_[key];
  AddAfterLocked(key, d);
}

void WorkQueue::Forget(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  failures_.erase(key);
}

int WorkQueue::NumRequeues(const std::string& key) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

std::chrono::nanoseconds WorkQueue::Backoff(const std::string& key) const {
  std::lock_guard<std::mutex> l(mu_);
  return BackoffLocked(key);
}

void WorkQueue::PromoteDueLocked(Time now) {
  while (!waiting_by_time_.empty() && waiting_by_time_.begin()->first <= now) {
    std::string key = waiting_by_time_.begin()->second;
    waiting_by_time_.erase(waiting_by_time_.begin());
    waiting_.erase(key);
    AddLocked(key);
  }
}

std::string WorkQueue::PopLocked() {
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  dirty_.erase(key);
  processing_.insert(key);
  return key;
}

std::optional<std::string> WorkQueue::Get() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    const Time now = clock_->Now();
    PromoteDueLocked(now);
    if (!queue_.empty()) return PopLocked();
    if (shutting_down_) return std::nullopt;
    ++waiters_;
    if (waiting_by_time_.empty()) {
      cv_.wait(l);
    } else {
      // The real time left; a fake clock's jump wakes us earlier.
      cv_.wait_for(l, waiting_by_time_.begin()->first - now);
    }
    --waiters_;
  }
}

std::optional<std::string> WorkQueue::TryGet() {
  std::lock_guard<std::mutex> l(mu_);
  PromoteDueLocked(clock_->Now());
  if (queue_.empty()) return std::nullopt;
  return PopLocked();
}

void WorkQueue::Done(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  if (processing_.erase(key) == 0) return;
  if (dirty_.count(key) != 0) {
    queue_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::ShutDown() {
  std::lock_guard<std::mutex> l(mu_);
  shutting_down_ = true;
  waiting_.clear();
  waiting_by_time_.clear();
  cv_.notify_all();
}

bool WorkQueue::ShuttingDown() const {
  std::lock_guard<std::mutex> l(mu_);
  return shutting_down_;
}

size_t WorkQueue::Len() const {
  std::lock_guard<std::mutex> l(mu_);
  return queue_.size();
}

int WorkQueue::Waiters() const {
  std::lock_guard<std::mutex> l(mu_);
  return waiters_;
}

size_t WorkQueue::NumWaiting() const {
  std::lock_guard<std::mutex> l(mu_);
  return waiting_.size();
}

}  // namespace kube
