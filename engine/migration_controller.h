// MigrationController: the migration flow of design.md §4.2 on one node, as a
// level-triggered reconciler of VirtualMachineInstanceMigrations (style.md §3).
//
// Each engine reconciles every VMIM; its role comes from the objects:
//   source  the VMI runs on this node (status.nodeName; for a final VMIM,
//           migrationState.sourceNode): it owns the migration, from the
//           finalizer to the outcome, and is the only writer of the phase
//           except TargetReady;
//   target  migrationState.targetNode is this node: in PreparingTarget it
//           creates the files a block migration copies and publishes its
//           address (phase TargetReady); while Running it reports when the
//           incoming domain appears (targetNodeDomainDetected).
//
// Source steps, each idempotent (a restart resumes from the stored phase):
//   ""/Pending       finalizer + kubevirt.io/vmi-name label; checks (VMI exists
//                    and runs here, LiveMigratable, one migration per VMI,
//                    feature gate); a slot (SlotLimiter): blocked → stays
//                    Pending with a WaitingForSlot condition naming the limit
//   Scheduling       a target (PickTarget): none → stays Scheduling with a
//                    Schedulable=False condition and a Warning event, Failed
//                    after the unschedulable timeout (300 s or the annotation)
//   Scheduled, PreparingTarget
//                    written together with sourceNode/targetNode/migrationUid;
//                    the guest's dirty rate is measured meanwhile
//   TargetReady      the forecast is written with phase Running and the VMI's
//                    migrationState (startTimestamp...) BEFORE libvirt is
//                    called, so a restart never starts a second job; then a
//                    MigrationRunner runs the job
//   Running          found without a runner (the engine restarted): the job
//                    is adopted, never restarted
//   final            the runner writes the outcome to the VMIM and the VMI
//                    (nodeName = target on success); then the slot is
//                    released, the finalizer removed, and finished VMIMs of
//                    the VMI beyond the newest 5 deleted
// A VMIM deleted before Running ends without a migrationState, the VMI where
// it was. A VMIM whose VMI is missing or on no node is failed by the
// coordinator (the engine with the lowest node name among the fresh ones). Deleted while Running: the runner aborts the job (cancel).
//
// Thread safety: Reconcile may run on several worker threads at once for
// different keys (the work queue never hands one key to two workers);
// OnDomainEvent is called from the hypervisor's event thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "api/types.h"
#include "base/clock.h"
#include "base/prometheus.h"
#include "base/status.h"
#include "engine/domain_xml.h"
#include "engine/events.h"
#include "engine/hypervisor.h"
#include "engine/migration_runner.h"
#include "engine/monitor.h"
#include "engine/slots.h"
#include "kube/api.h"
#include "kube/informer.h"

namespace engine {

// The limits of design.md §2, enforced across engines: LeaseSlotLimiter
// (slots.h's SlotManager) in the daemon, a stand-in in tests.
struct SlotGrant {
  bool acquired = false;
  std::string reason;   // blocked: CamelCase, e.g. "ParallelOutboundMigrationsPerNodeReached"
  std::string message;  // blocked: which limit, the counts, who holds the slots
};
class SlotLimiter {
 public:
  virtual ~SlotLimiter() = default;
  // Idempotent: a VMIM that holds its slots gets them again.
  virtual base::StatusOr<SlotGrant> Acquire(const SlotRequest& request) = 0;
  // Frees whatever the VMIM holds; OK when nothing.
  virtual base::Status Release(const std::string& vmim_uid) = 0;
};

// SlotLimiter on slot Leases (slots.h) for the engine of `node`. A holder is
// alive while its VMIM (from `vmims`) exists and is not final and its engine's
// Lease (from `engine_leases`) is fresh (HolderAlive).
class LeaseSlotLimiter final : public SlotLimiter {
 public:
  LeaseSlotLimiter(SlotManager* slots, std::string node, kube::Store* vmims,
                   kube::Store* engine_leases, base::Clock* clock);
  base::StatusOr<SlotGrant> Acquire(const SlotRequest& request) override;
  base::Status Release(const std::string& vmim_uid) override;

 private:
  SlotManager* const slots_;
  const std::string node_;
  kube::Store* const vmims_;
  kube::Store* const engine_leases_;
  base::Clock* const clock_;
};

struct MigrationControllerSettings {
  std::string node_name;
  std::string migration_address;  // published as targetNodeAddress when this node is the target
  std::string kubevirt_namespace = "kubevirt";
  std::string kubevirt_name = "kubevirt";
  bool migration_tls = false;
  std::chrono::milliseconds poll_interval{500};
  std::chrono::milliseconds progress_interval{2000};
  std::chrono::seconds unschedulable_timeout{300};
  // The rate a forecast assumes when the bandwidth is unlimited.
  uint64_t link_bytes_per_second = uint64_t{1} << 30;
  int dirty_rate_seconds = 1;
  DowntimeRamp downtime;
};

struct MigrationControllerDeps {
  kube::Api* api = nullptr;
  kube::Store* vmims = nullptr;
  kube::Store* vmis = nullptr;
  kube::Store* engine_leases = nullptr;  // engine Leases (kubemigrate.io/engine-lease=true)
  kube::Store* nodes = nullptr;
  kube::Store* kubevirts = nullptr;
  Hypervisor* hv = nullptr;
  SlotLimiter* slots = nullptr;
  EventRecorder* events = nullptr;
  base::Clock* clock = nullptr;
  // This node's files of a VMI (node_files.h): the sources (to know which
  // disks a block migration copies) and the target's preparation.
  std::function<base::StatusOr<DomainSources>(const api::VMI&)> volume_sources;
  std::function<base::Status(const api::VMI&)> prepare_target;
  // Removes a VMI's node-local files (NodeFiles::Remove): on the source
  // after it moved away.
  std::function<base::Status(const std::string& ns, const std::string& name)> remove_files;
  // A recent dirty-rate sample of a domain (DirtyRateSampler), when there is
  // one: the forecast then costs nothing; without, it is measured while the
  // target prepares. And marks a domain as migrating (not to be sampled).
  std::function<std::optional<uint64_t>(const std::string& domain)> recent_dirty_rate;
  std::function<void(const std::string& domain, bool busy)> set_migrating;
  // Reconcile `key` again after `delay` (the work queue's AddAfter).
  std::function<void(const std::string& key, std::chrono::nanoseconds delay)> requeue;
};

class MigrationController {
 public:
  MigrationController(MigrationControllerDeps deps, MigrationControllerSettings settings);
  ~MigrationController();  // Shutdown()
  MigrationController(const MigrationController&) = delete;
  MigrationController& operator=(const MigrationController&) = delete;

  // Errors mean "retry with backoff" (API unreachable, conflicts).
  base::Status Reconcile(const std::string& key);
  void OnDomainEvent(const DomainEvent& event);
  // Stops watching running jobs without aborting them (they are adopted at
  // the next start) and joins the workers. Returns how many jobs were left.
  int Shutdown();

  void WriteMetrics(base::prom::TextWriter& w) const;
  int active_runners() const;

 private:
  struct Context;
  struct Running;
  base::Status Source(Context& c);
  base::Status Target(Context& c);
  base::Status Cleanup(Context& c);
  // On the target, for a migration that will not bring the VMI here (failed,
  // cancelled, deleted): removes the files prepared for it, unless the VMI
  // runs here after all, a domain of it exists here, or another migration to
  // this node is under way.
  void RemoveTargetLeftovers(const std::string& key);
  base::Status StartRunner(Context& c, bool adopt);
  base::Status Fail(Context& c, const std::string& reason, const std::string& message);
  base::Status WriteVMIMStatus(Context& c, const std::string& extra_state_json = "");
  base::Status EnsureFinalizerAndLabel(Context& c);
  base::Status RemoveFinalizer(Context& c);
  // Deletes the VMI's finished VMIMs beyond the newest kFinishedVMIMsKept.
  void CollectFinished(const std::string& ns, const std::string& vmi_name);
  void OnRunnerDone(const std::string& key, const std::string& uid, const RunnerResult& r);
  void Calibrate(const RunnerResult& r);  // mu_ held
  base::Status PatchVMI(const std::string& ns, const std::string& name, const std::string& patch);
  std::optional<api::KubeVirtConfig> Config() const;
  // The engine with the lowest node name among the fresh engine Leases: it
  // answers VMIMs that no source engine can own (their VMI is missing or on
  // no node).
  bool IsCoordinator() const;
  std::string Now() const;

  const MigrationControllerDeps deps_;
  const MigrationControllerSettings settings_;

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Running>> running_;  // by VMIM uid
  std::map<std::string, std::shared_future<base::StatusOr<uint64_t>>> dirty_rates_;  // by VMIM uid
  // Migrations this node prepared files for as their target, by VMIM key:
  // the VMIM's uid and the VMI. Kept in memory only (after a restart of the
  // engine, files of a migration that failed meanwhile stay: docs/engine.md).
  struct PreparedTarget {
    std::string uid, vmi_ns, vmi_name;
  };
  std::map<std::string, PreparedTarget> prepared_targets_;
  bool shutting_down_ = false;

  // Metrics.
  std::map<std::string, uint64_t> results_;  // "Succeeded", "Failed", "Cancelled"
  uint64_t started_ = 0;
  uint64_t status_writes_ = 0;
  uint64_t adopted_ = 0;
  // The forecast's calibration from this node's finished migrations
  // (exponentially weighted, weight 1/2 for the newest): the fixed cost of a
  // migration (setup, starting the target's QEMU, handover) and the rate an
  // unlimited migration reached. Unset until a migration has succeeded.
  std::optional<double> learned_setup_seconds_;
  std::optional<double> learned_link_bytes_per_second_;
  base::prom::Histogram duration_{{1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800}};
  base::prom::Histogram downtime_{{0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5}};
};

}  // namespace engine
