// Hypervisor: everything the engine asks of the node's hypervisor, behind one
// small interface. LibvirtHypervisor (libvirt_hypervisor.h) is the only code
// that includes libvirt; tests/fakes/fake_hypervisor.h is a scripted stand-in
// for unit tests and the scale simulation.
//
// Domains are named by their libvirt name (`ns_name` for VMI ns/name).
//
// Errors: every method returns base::Status with a canonical code, converted
// once from libvirt's error number (never from its text):
//   NotFound            no such domain (VIR_ERR_NO_DOMAIN), or no job to abort
//   FailedPrecondition  the domain is not in a state for this (VIR_ERR_OPERATION_INVALID)
//   AlreadyExists       a domain of that name/uuid exists (VIR_ERR_DOM_EXIST)
//   Unavailable         the daemon is unreachable or the connection broke
//                       (retry after reconnecting; the implementation reconnects)
//   Aborted             the migration job was cancelled (VIR_ERR_OPERATION_ABORTED)
//   Unsupported         the daemon lacks the feature (VIR_ERR_NO_SUPPORT)
//   InvalidArgument     bad XML or parameters (VIR_ERR_XML_ERROR, VIR_ERR_INVALID_ARG)
//   Internal            anything else, with libvirt's message
//
// Thread safety: every method may be called from any thread at the same time.
// Migrate() blocks until the migration job ends; run it on a worker thread and
// watch it with GetJobStats()/events from another.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace engine {

enum class DomainState {
  kNoState,
  kRunning,
  kBlocked,
  kPaused,
  kShutdown,  // shutting down
  kShutoff,
  kCrashed,
  kSuspended,  // guest power management
};
const char* DomainStateName(DomainState state);

struct DomainInfo {
  std::string name;
  std::string uuid;
  DomainState state = DomainState::kNoState;
  // libvirt's reason for the state (virDomainShutoffReason etc.), e.g. to tell
  // a guest that shut itself down (VIR_DOMAIN_SHUTOFF_SHUTDOWN) from a crash.
  int state_reason = 0;
  bool persistent = false;
  uint64_t memory_bytes = 0;  // current guest memory
  unsigned vcpus = 0;
};

// How to migrate one domain (virDomainMigrateToURI3 parameters and flags).
// Peer-to-peer and live always; persist on the target and undefine on the
// source, so the domain lives on exactly one node afterwards.
struct MigrateParams {
  std::string dest_uri;       // the target's libvirt URI, e.g. qemu+tcp://10.0.0.2:16509/system
  std::string migrate_uri;    // data stream, e.g. tcp://10.0.0.2:49152; empty: libvirt picks
  uint64_t bandwidth_mib = 0;  // MiB/s; 0 = unlimited
  bool copy_storage = false;   // VIR_MIGRATE_NON_SHARED_DISK (block migration)
  std::vector<std::string> copy_disks;  // target devs to copy ("vda"); empty: all non-shared
  bool unsafe = false;         // VIR_MIGRATE_UNSAFE: only for storage an operator declared shared
  bool tls = false;            // VIR_MIGRATE_TLS
  bool auto_converge = false;  // VIR_MIGRATE_AUTO_CONVERGE
  bool allow_post_copy = false;  // VIR_MIGRATE_POSTCOPY: StartPostCopy() may switch later
  std::optional<uint64_t> max_downtime_ms;  // initial allowed downtime
};

// A migration job's statistics (virDomainGetJobStats). Byte counts are bytes;
// a field libvirt did not report stays 0 and its has_ flag false where that
// difference matters.
struct JobStats {
  enum class Type { kNone, kBounded, kUnbounded, kCompleted, kFailed, kCancelled };
  Type type = Type::kNone;
  uint64_t time_elapsed_ms = 0;
  uint64_t data_total = 0;
  uint64_t data_processed = 0;
  uint64_t data_remaining = 0;
  uint64_t memory_total = 0;
  uint64_t memory_processed = 0;
  uint64_t memory_remaining = 0;
  uint64_t memory_bps = 0;              // transfer rate, bytes/s
  uint64_t memory_dirty_rate = 0;       // pages/s
  uint64_t memory_page_size = 0;        // bytes
  uint64_t memory_iteration = 0;        // pre-copy pass
  uint64_t memory_postcopy_requests = 0;
  uint64_t disk_total = 0;
  uint64_t disk_processed = 0;
  uint64_t disk_remaining = 0;
  uint64_t disk_bps = 0;
  bool has_downtime = false;
  uint64_t downtime_ms = 0;  // completed jobs: the measured downtime
  uint64_t setup_time_ms = 0;
  uint64_t auto_converge_throttle = 0;  // percent
  // Dirty rate in bytes/s (memory_dirty_rate × memory_page_size).
  uint64_t DirtyBytesPerSecond() const { return memory_dirty_rate * memory_page_size; }
};

// What the hypervisor reports asynchronously. Delivered on the implementation's
// event thread; a handler copies what it needs and returns at once.
struct DomainEvent {
  enum class Kind {
    kLifecycle,          // started, stopped, suspended, resumed, crashed... (lifecycle/detail)
    kJobCompleted,       // a job ended; `stats` holds its final statistics (downtime included)
    kMigrationIteration, // a pre-copy pass began; `iteration`
    kConnectionLost,     // the daemon went away; the implementation reconnects
    kConnectionRestored, // reconnected: state may have changed meanwhile, re-read it
  };
  Kind kind = Kind::kLifecycle;
  std::string domain;  // empty for connection events
  int lifecycle = 0;   // virDomainEventType
  int detail = 0;      // its detail enum
  JobStats stats;      // kJobCompleted
  uint64_t iteration = 0;
};

class Hypervisor {
 public:
  virtual ~Hypervisor() = default;

  virtual base::StatusOr<DomainInfo> Lookup(const std::string& name) = 0;
  virtual base::StatusOr<std::vector<DomainInfo>> List() = 0;
  // Defines (persistently) a domain from libvirt XML; replaces an existing definition
  // of the same name and uuid.
  virtual base::Status Define(const std::string& xml) = 0;
  virtual base::Status Start(const std::string& name) = 0;
  // Stops at once (virDomainDestroy). NotFound when there is no such domain;
  // OK when it is already stopped.
  virtual base::Status Stop(const std::string& name) = 0;
  virtual base::Status Undefine(const std::string& name) = 0;
  // The domain's XML as libvirt holds it (to find disks to copy, for logs).
  virtual base::StatusOr<std::string> GetXml(const std::string& name) = 0;

  // Runs a live peer-to-peer migration and returns when the job ends: OK when the
  // domain now runs on the target, Aborted when AbortJob() cancelled it (the domain
  // keeps running here), other codes with libvirt's reason.
  virtual base::Status Migrate(const std::string& name, const MigrateParams& params) = 0;
  // The running job's statistics, or with `completed` those of the last finished
  // job (kept by libvirt until read or the next job). kNone when there is no job.
  virtual base::StatusOr<JobStats> GetJobStats(const std::string& name, bool completed) = 0;
  // Cancels the running job (virDomainAbortJob); Migrate() then returns Aborted.
  virtual base::Status AbortJob(const std::string& name) = 0;
  // Measures the guest's page dirtying rate over `seconds` and returns it in
  // bytes/s (virDomainStartDirtyRateCalc, then the domain's dirtyrate stats).
  // Blocks for about `seconds`.
  virtual base::StatusOr<uint64_t> MeasureDirtyRate(const std::string& name, int seconds) = 0;
  // Switches a running migration started with allow_post_copy to post-copy.
  virtual base::Status StartPostCopy(const std::string& name) = 0;
  virtual base::Status SetMaxDowntime(const std::string& name, uint64_t ms) = 0;
  virtual base::Status SetMaxSpeed(const std::string& name, uint64_t mib_per_second) = 0;

  // Installs the one event handler (replacing any earlier one). Called on the
  // implementation's event thread; must not block.
  using EventHandler = std::function<void(const DomainEvent&)>;
  virtual void SetEventHandler(EventHandler handler) = 0;
};

}  // namespace engine
