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
//   FailedPrecondition  the domain is not in a state for this (VIR_ERR_OPERATION_INVALID);
//                       storage not shared for a plain live migration (VIR_ERR_MIGRATE_UNSAFE)
//   AlreadyExists       a domain of that name/uuid exists (VIR_ERR_DOM_EXIST)
//   Unavailable         the daemon is unreachable or the connection broke
//                       (retry after reconnecting; the implementation reconnects);
//                       the domain's job lock is busy (VIR_ERR_OPERATION_TIMEOUT)
//   Aborted             the migration job was cancelled (VIR_ERR_OPERATION_ABORTED)
//   Unsupported         the daemon lacks the feature (VIR_ERR_NO_SUPPORT,
//                       VIR_ERR_OPERATION_UNSUPPORTED, VIR_ERR_ARGUMENT_UNSUPPORTED)
//   InvalidArgument     bad XML or parameters (VIR_ERR_XML_ERROR, VIR_ERR_XML_DETAIL,
//                       VIR_ERR_INVALID_ARG, VIR_ERR_XML_INVALID_SCHEMA,
//                       VIR_ERR_CONFIG_UNSUPPORTED)
//   PermissionDenied    VIR_ERR_ACCESS_DENIED; Unauthenticated: VIR_ERR_AUTH_*
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
  std::string dest_uri;        // the target's libvirt URI, e.g. qemu+tcp://10.0.0.2:16509/system
  std::string migrate_uri;     // data stream, e.g. tcp://10.0.0.2:49152; empty: libvirt picks
  uint64_t bandwidth_mib = 0;  // MiB/s; 0 = unlimited
  bool copy_storage = false;   // VIR_MIGRATE_NON_SHARED_DISK (block migration)
  std::vector<std::string> copy_disks;  // target devs to copy ("vda"); empty: all non-shared
  bool unsafe = false;           // VIR_MIGRATE_UNSAFE: only for storage an operator declared shared
  bool tls = false;              // VIR_MIGRATE_TLS
  bool auto_converge = false;    // VIR_MIGRATE_AUTO_CONVERGE
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
  uint64_t memory_bps = 0;         // transfer rate, bytes/s
  uint64_t memory_dirty_rate = 0;  // pages/s
  uint64_t memory_page_size = 0;   // bytes
  uint64_t memory_iteration = 0;   // pre-copy pass
  uint64_t memory_postcopy_requests = 0;
  uint64_t disk_total = 0;
  uint64_t disk_processed = 0;
  uint64_t disk_remaining = 0;
  uint64_t disk_bps = 0;
  bool has_downtime = false;
  uint64_t downtime_ms = 0;  // completed jobs: the measured downtime
  // Completed jobs that failed (VIR_DOMAIN_JOB_SUCCESS false): libvirt's reason
  // (VIR_DOMAIN_JOB_ERRMSG); such a job has type kFailed.
  std::string error_message;
  uint64_t setup_time_ms = 0;
  uint64_t auto_converge_throttle = 0;  // percent
  // Dirty rate in bytes/s (memory_dirty_rate × memory_page_size).
  uint64_t DirtyBytesPerSecond() const { return memory_dirty_rate * memory_page_size; }
};

// What the hypervisor reports asynchronously. Delivered on the implementation's
// event thread; a handler copies what it needs and returns at once.
struct DomainEvent {
  // Values of `lifecycle` (libvirt's virDomainEventType) and the details that
  // matter to migration, so that callers need no libvirt header. The libvirt
  // implementation checks them against libvirt's enums at compile time.
  static constexpr int kDefined = 0;
  static constexpr int kUndefined = 1;
  static constexpr int kStarted = 2;
  static constexpr int kSuspended = 3;
  static constexpr int kResumed = 4;
  static constexpr int kStopped = 5;
  static constexpr int kShutdown = 6;
  static constexpr int kPMSuspended = 7;
  static constexpr int kCrashed = 8;
  static constexpr int kStartedBooted = 0;      // detail of kStarted
  static constexpr int kStartedMigrated = 1;    // detail of kStarted: incoming migration
  static constexpr int kSuspendedMigrated = 1;  // detail of kSuspended: end of pre-copy
  static constexpr int kSuspendedPostCopy = 7;  // detail of kSuspended: switched to post-copy
  static constexpr int kResumedMigrated = 1;    // detail of kResumed: migration completed
  static constexpr int kResumedPostCopy = 3;    // detail of kResumed: running, post-copy goes on
  static constexpr int kStoppedDestroyed = 1;   // detail of kStopped
  static constexpr int kStoppedMigrated = 3;    // detail of kStopped: migrated away
  static constexpr int kStoppedFailed = 5;      // detail of kStopped: emulator failed

  enum class Kind {
    kLifecycle,           // started, stopped, suspended, resumed, crashed... (lifecycle/detail)
    kJobCompleted,        // a job ended; `stats` holds its final statistics (downtime included)
    kMigrationIteration,  // a pre-copy pass began; `iteration`
    kConnectionLost,      // the daemon went away; the implementation reconnects
    kConnectionRestored,  // reconnected: state may have changed meanwhile, re-read it
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
  // of the same name and uuid. InvalidArgument for XML libvirt cannot parse.
  // A name already taken by a domain with another uuid comes back as Internal:
  // libvirt reports it as VIR_ERR_OPERATION_FAILED, which also covers other failures.
  virtual base::Status Define(const std::string& xml) = 0;
  virtual base::Status Start(const std::string& name) = 0;
  // Stops at once (virDomainDestroy). NotFound when there is no such domain;
  // OK when it is already stopped.
  virtual base::Status Stop(const std::string& name) = 0;
  // Removes the persistent definition, with its managed-save image, snapshot and
  // checkpoint metadata and NVRAM file. A running domain keeps running, transient.
  virtual base::Status Undefine(const std::string& name) = 0;
  // The domain's XML as libvirt holds it (to find disks to copy, for logs).
  virtual base::StatusOr<std::string> GetXml(const std::string& name) = 0;

  // Runs a live peer-to-peer migration and returns when the job ends: OK when the
  // domain now runs on the target, Aborted when AbortJob() cancelled it (the domain
  // keeps running here), other codes with libvirt's reason.
  virtual base::Status Migrate(const std::string& name, const MigrateParams& params) = 0;
  // The running job's statistics, or with `completed` those of the last finished
  // job (kept by libvirt until read or the next job). kNone when there is no job.
  // A cancelled migration leaves no completed statistics on the source (libvirt
  // 9.0); a successful one leaves them on the target, and the source's come with
  // the kJobCompleted event.
  virtual base::StatusOr<JobStats> GetJobStats(const std::string& name, bool completed) = 0;
  // Cancels the running job (virDomainAbortJob); Migrate() then returns Aborted.
  // NotFound when the domain has no job (yet or any more).
  virtual base::Status AbortJob(const std::string& name) = 0;
  // Measures the guest's page dirtying rate over `seconds` and returns it in
  // bytes/s (virDomainStartDirtyRateCalc, then the domain's dirtyrate stats).
  // Blocks for about `seconds`.
  virtual base::StatusOr<uint64_t> MeasureDirtyRate(const std::string& name, int seconds) = 0;
  // Switches a running migration started with allow_post_copy to post-copy.
  virtual base::Status StartPostCopy(const std::string& name) = 0;
  virtual base::Status SetMaxDowntime(const std::string& name, uint64_t ms) = 0;
  // MiB/s; 0 = unlimited. Works during a migration and before one.
  virtual base::Status SetMaxSpeed(const std::string& name, uint64_t mib_per_second) = 0;

  // Installs the one event handler (replacing any earlier one). Called on the
  // implementation's event thread, one event at a time; must not block and must
  // not call SetEventHandler itself. Once SetEventHandler returns, the previous
  // handler is not running and will not be called again.
  using EventHandler = std::function<void(const DomainEvent&)>;
  virtual void SetEventHandler(EventHandler handler) = 0;
};

}  // namespace engine
