// NodeHeartbeat: keeps this engine's Lease (node_lease.h) alive. A thread
// renews it every `interval` with a merge patch, creating it when missing, and
// publishes the node's free memory with each renewal.
//
// Errors never stop the loop: each failed renewal is logged (warning, with the
// lease and the API's error) and counted; Healthy() turns false once no
// renewal has succeeded for a lease duration, which /readyz reports.
//
// Thread safety: all methods may be called from any thread. Stop() (also run
// by the destructor) returns after the thread has ended.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/clock.h"
#include "base/status.h"
#include "engine/node_lease.h"
#include "kube/api.h"
#include "kube/client.h"

namespace engine {

class NodeHeartbeat {
 public:
  struct Options {
    std::string ns;  // the Lease's namespace (the KubeVirt namespace)
    NodeRegistration registration;
    std::chrono::milliseconds interval{10000};
    // Sampled at each renewal; null leaves registration.free_memory_bytes as given.
    std::function<std::optional<uint64_t>()> free_memory;
  };

  // `api` and `clock` must outlive this object.
  NodeHeartbeat(kube::Api* api, base::Clock* clock, Options options);
  ~NodeHeartbeat();
  NodeHeartbeat(const NodeHeartbeat&) = delete;
  NodeHeartbeat& operator=(const NodeHeartbeat&) = delete;

  void Start();
  void Stop();

  // One renewal (a patch, or a create when the Lease is missing); the loop's step.
  base::Status RenewOnce();

  // A renewal succeeded within the lease duration.
  bool Healthy() const;
  uint64_t renewals() const { return renewals_; }
  uint64_t failures() const { return failures_; }

 private:
  void Run();

  kube::Api* const api_;
  base::Clock* const clock_;
  Options options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::optional<std::chrono::steady_clock::time_point> last_success_;
  std::atomic<uint64_t> renewals_{0};
  std::atomic<uint64_t> failures_{0};
  bool failing_ = false;  // the last renewal failed: log the recovery
  std::thread thread_;
};

}  // namespace engine
