// The object store of devcluster: every object by group/resource, namespace
// and name, one global resourceVersion, a window of recent events for
// watches, and an append-only log under DIR so a restart keeps everything
// (objects, resourceVersions and the recent event window).
//
// Thread safety: all methods are safe to call concurrently. Stored documents
// are immutable once stored (shared_ptr<const JsonDoc>).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "tests/devcluster/json.h"

namespace devcluster {

using DocPtr = std::shared_ptr<const JsonDoc>;

struct StoreEvent {
  uint64_t rv = 0;
  std::string type;  // ADDED, MODIFIED, DELETED
  std::string gr;    // "group/resource", e.g. "/configmaps", "kubevirt.io/virtualmachineinstances"
  std::string ns;
  std::string name;
  DocPtr object;     // the object after the change (for DELETED: its last state)
  DocPtr previous;   // MODIFIED: the object before the change; null otherwise
};

class Store {
 public:
  // Opens (or creates) the store in `dir`, replaying its log. `window` is
  // how many recent events are kept for watches.
  static base::StatusOr<std::unique_ptr<Store>> Open(const std::string& dir, size_t window);
  ~Store();

  uint64_t CurrentRv() const;

  // The stored object or null.
  DocPtr Get(const std::string& gr, const std::string& ns, const std::string& name) const;
  // Objects of `gr` in `ns` ("" = all namespaces), sorted by namespace/name,
  // and the resourceVersion the list is consistent with.
  std::vector<DocPtr> List(const std::string& gr, const std::string& ns, uint64_t* rv) const;

  // Stores `doc` (its metadata.resourceVersion is set to the new version).
  // expect_rv: nullopt = unconditional; 0 = must not exist (AlreadyExists);
  // N = must exist with version N (NotFound / Aborted on mismatch).
  base::StatusOr<DocPtr> Put(const std::string& gr, const std::string& ns,
                             const std::string& name, std::unique_ptr<JsonDoc> doc,
                             std::optional<uint64_t> expect_rv);
  // Removes the object; expect_rv as for Put (0 is not allowed). The DELETED
  // event carries the last state with a new resourceVersion.
  base::StatusOr<DocPtr> Remove(const std::string& gr, const std::string& ns,
                                const std::string& name, std::optional<uint64_t> expect_rv);

  // Collects events with rv > *from for which `filter` is true, waiting up
  // to `timeout` for the first one, and advances *from past every event it
  // examined (matching or not), so a selective watcher never falls out of
  // the window. OutOfRange when *from is older than the window (the caller
  // answers 410 Expired). Returns early when *stop is set.
  base::Status WaitEvents(uint64_t* from, const std::function<bool(const StoreEvent&)>& filter,
                          std::vector<StoreEvent>* out, std::chrono::milliseconds timeout,
                          const std::atomic<bool>* stop);
  // The oldest resourceVersion a watch may start from.
  uint64_t OldestWatchableRv() const;

  // Wakes every waiting watch (used at shutdown).
  void WakeAll();

 private:
  Store(std::string dir, size_t window);
  base::Status Replay();
  void AppendLocked(const StoreEvent& ev);
  void RecordLocked(StoreEvent ev);

  struct Entry {
    uint64_t rv;
    DocPtr doc;
  };

  const std::string dir_;
  const size_t window_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> objects_;  // key: gr \x1f ns \x1f name
  std::deque<StoreEvent> events_;
  uint64_t rv_ = 0;
  uint64_t oldest_rv_ = 0;  // watches from rv >= oldest_rv_ are served
  FILE* log_ = nullptr;
};

}  // namespace devcluster
