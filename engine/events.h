// EventRecorder: core/v1 Events about the objects the engine works on (what
// `kubectl describe` and `kubectl get events` show): migration started,
// waiting for a slot, forecast, succeeded, failed, aborted; VMI started,
// failed to start, stopped.
//
// An event is written at once (one POST). A failed write is logged (warning,
// with the object and the reason) and never fails the caller: events are
// advice, the object's status is the record. Repeats of the same
// (object, reason, message) within `dedupe_window` are dropped, so a
// reconciler that runs again does not flood the namespace.
//
// Thread safety: Record may be called from any thread.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "base/clock.h"
#include "kube/api.h"

namespace engine {

struct EventObject {
  std::string api_version;  // "kubevirt.io/v1"
  std::string kind;         // "VirtualMachineInstanceMigration"
  std::string namespace_;
  std::string name;
  std::string uid;
};

class EventRecorder {
 public:
  struct Options {
    std::string component = "migration-engine";
    std::string host;  // the node name
    std::chrono::seconds dedupe_window{600};
  };
  // `api` and `clock` must outlive the recorder.
  EventRecorder(kube::Api* api, base::Clock* clock, Options options);

  void Normal(const EventObject& object, const std::string& reason, const std::string& message);
  void Warning(const EventObject& object, const std::string& reason, const std::string& message);

  uint64_t written() const;
  uint64_t failed() const;

 private:
  void Record(const EventObject& object, const char* type, const std::string& reason,
              const std::string& message);

  kube::Api* const api_;
  base::Clock* const clock_;
  const Options options_;
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, std::string>, std::chrono::steady_clock::time_point>
      recent_;  // (uid or ns/name, reason, message) → when written
  uint64_t written_ = 0;
  uint64_t failed_ = 0;
};

}  // namespace engine
