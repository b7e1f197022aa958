#include "engine/reconcile_loop.h"

#include <exception>

#include "base/log.h"

namespace engine {

ReconcileLoop::ReconcileLoop(std::string name, base::Clock* clock, Reconcile reconcile,
                             int workers)
    : name_(std::move(name)),
      reconcile_(std::move(reconcile)),
      workers_(workers),
      // Retries from 200 ms up to 30 s: an API server that is down for a while
      // is retried often enough that status catches up soon after it returns.
      queue_(clock, kube::WorkQueueOptions{std::chrono::milliseconds(200), std::chrono::seconds(30)}) {}

ReconcileLoop::~ReconcileLoop() { Stop(); }

void ReconcileLoop::Start() {
  for (int i = 0; i < workers_; ++i) threads_.emplace_back([this] { Work(); });
}

void ReconcileLoop::Stop() {
  queue_.ShutDown();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void ReconcileLoop::Work() {
  while (auto key = queue_.Get()) {
    base::Status s;
    try {
      s = reconcile_(*key);
    } catch (const std::exception& e) {
      s = base::Internal(std::string("exception: ") + e.what());
    }
    if (s.ok()) {
      queue_.Forget(*key);
    } else {
      base::log::Warning("reconcile failed; retrying",
                         {{"controller", name_}, {"key", *key}, {"error", s.ToString()},
                          {"retries", queue_.NumRequeues(*key)}});
      queue_.AddRateLimited(*key);
    }
    queue_.Done(*key);
  }
}

}  // namespace engine
