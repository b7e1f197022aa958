// ReconcileLoop: the workers of a level-triggered reconciler (style.md §3).
// Event handlers Add keys to queue(); `workers` threads take them one at a
// time and call `reconcile`; an error is logged and the key retried with the
// queue's per-key backoff, success resets it (Forget).
//
// Thread safety: queue() may be used from any thread. Start once; Stop (also
// run by the destructor) shuts the queue down and joins the workers after
// the reconciles in progress return.
#pragma once

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "kube/workqueue.h"

namespace engine {

class ReconcileLoop {
 public:
  using Reconcile = std::function<base::Status(const std::string& key)>;
  ReconcileLoop(std::string name, base::Clock* clock, Reconcile reconcile, int workers);
  ~ReconcileLoop();
  ReconcileLoop(const ReconcileLoop&) = delete;
  ReconcileLoop& operator=(const ReconcileLoop&) = delete;

  kube::WorkQueue& queue() { return queue_; }
  void Start();
  void Stop();

 private:
  void Work();

  const std::string name_;
  const Reconcile reconcile_;
  const int workers_;
  kube::WorkQueue queue_;
  std::vector<std::thread> threads_;
};

}  // namespace engine
