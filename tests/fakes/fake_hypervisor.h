// FakeHypervisor: a scripted, in-memory Hypervisor for unit tests and the
// scale simulation (design.md §7: 1,000 nodes of it in one process).
//
// Domains live in a map. Migrate() starts a job and blocks until the test (or
// the job's script) ends it: CompleteMigration() moves the domain to the
// target fake, FailMigration() returns the given error, AbortJob() returns
// Aborted and leaves the domain running here. The job's statistics advance
// when the test says so (Step(), AdvanceTo()) or by themselves on each
// GetJobStats() read (MigrationScript::advance_on_read), so a monitor that
// polls can drive a whole migration without the test's help.
//
// Targets: a migration's dest_uri is looked up in the FakeFabric the fake was
// registered with, else the fake set with LinkTarget(); with neither the
// migration fails with Unavailable, as libvirt does for an unreachable peer.
// Targets must outlive the migrations that reach them.
//
// Every call is recorded (Calls(), CallsOf()) with its time on the injected
// clock, for assertions on flags, downtime, post-copy switches, abort times.
// Errors can be injected per method (FailNext()).
//
// Events go to the handler synchronously, on the thread whose action caused
// them (the test's thread for CompleteMigration, the Migrate() thread for a
// scripted end), one at a time, never under the fake's lock; so a handler may
// call back into the fake (but not SetEventHandler).
//
// Thread safety: every method may be called from any thread. No sleeps:
// waiting uses condition variables; the Wait* helpers take a real-time limit
// only so that a broken test fails instead of hanging.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "engine/hypervisor.h"

namespace engine::testing {

class FakeHypervisor;

// The URIs of a set of fakes, so that a migration to "qemu+tcp://node-7/system"
// reaches node 7's fake. Thread-safe.
class FakeFabric {
 public:
  void Register(const std::string& uri, FakeHypervisor* hypervisor);
  void Unregister(const std::string& uri);
  FakeHypervisor* Find(const std::string& uri) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, FakeHypervisor*> by_uri_;
};

// How a migration job unfolds.
struct MigrationScript {
  // Successive statistics of the running job; the first is in force as soon as
  // the job starts. Empty: one step of zeros (type kUnbounded).
  std::vector<JobStats> steps;
  // Each GetJobStats(name, false) returns the current step and then moves one
  // further; reading past the last step ends the job as `end` says.
  bool advance_on_read = false;
  enum class End {
    kWait,      // stay on the last step until the test ends the job
    kComplete,  // succeed (as CompleteMigration() with the last step's figures)
    kFail,      // fail with `failure`
  };
  End end = End::kWait;
  base::Status failure = base::Internal("scripted migration failure");
  // The completed job's downtime (kComplete and CompleteMigration()).
  uint64_t downtime_ms = 50;
};

class FakeHypervisor final : public Hypervisor {
 public:
  enum class Method {
    kLookup,
    kList,
    kDefine,
    kStart,
    kStop,
    kUndefine,
    kGetXml,
    kMigrate,
    kGetJobStats,
    kAbortJob,
    kMeasureDirtyRate,
    kStartPostCopy,
    kSetMaxDowntime,
    kSetMaxSpeed,
  };
  static const char* MethodName(Method method);

  struct Options {
    std::string uri = "fake:///node";  // the name this fake has in `fabric`
    FakeFabric* fabric = nullptr;      // not owned; may be null
    // Call times come from it; MeasureDirtyRate sleeps `seconds` on it (a fake
    // clock advances instead). Null: base::RealClock(), and no sleeping.
    base::Clock* clock = nullptr;
  };

  struct Call {
    Method method = Method::kLookup;
    std::string domain;
    std::chrono::steady_clock::time_point at;
    MigrateParams migrate;   // kMigrate
    uint64_t value = 0;      // kSetMaxDowntime ms, kSetMaxSpeed MiB/s, kMeasureDirtyRate seconds
    bool completed = false;  // kGetJobStats
    std::string xml;         // kDefine
  };

  FakeHypervisor();
  explicit FakeHypervisor(Options options);
  ~FakeHypervisor() override;
  FakeHypervisor(const FakeHypervisor&) = delete;
  FakeHypervisor& operator=(const FakeHypervisor&) = delete;

  const std::string& uri() const { return options_.uri; }

  // --- Hypervisor ---
  base::StatusOr<DomainInfo> Lookup(const std::string& name) override;
  base::StatusOr<std::vector<DomainInfo>> List() override;
  // Reads <name>, <uuid>, <memory> (KiB unless unit= says otherwise) and <vcpu>
  // from the XML; InvalidArgument without a name.
  base::Status Define(const std::string& xml) override;
  base::Status Start(const std::string& name) override;
  // Stopping a domain that is migrating fails its migration (Internal).
  base::Status Stop(const std::string& name) override;
  base::Status Undefine(const std::string& name) override;
  base::StatusOr<std::string> GetXml(const std::string& name) override;
  base::Status Migrate(const std::string& name, const MigrateParams& params) override;
  base::StatusOr<JobStats> GetJobStats(const std::string& name, bool completed) override;
  base::Status AbortJob(const std::string& name) override;
  // The rate set with SetDirtyRate (0 if none).
  base::StatusOr<uint64_t> MeasureDirtyRate(const std::string& name, int seconds) override;
  // FailedPrecondition unless a job started with allow_post_copy is running.
  base::Status StartPostCopy(const std::string& name) override;
  base::Status SetMaxDowntime(const std::string& name, uint64_t ms) override;
  base::Status SetMaxSpeed(const std::string& name, uint64_t mib_per_second) override;
  void SetEventHandler(EventHandler handler) override;

  // --- Setup ---
  // Adds or replaces a domain (no event, no call recorded). An empty uuid gets
  // one made from the name; empty xml gets a minimal one.
  void AddDomain(DomainInfo info, std::string xml = "");
  // The default target for dest_uris the fabric does not know.
  void LinkTarget(FakeHypervisor* target);
  void SetDirtyRate(const std::string& name, uint64_t bytes_per_second);
  // The script of the next migration of `name` (used once), and of any
  // migration without its own.
  void SetMigrationScript(const std::string& name, MigrationScript script);
  void SetDefaultMigrationScript(MigrationScript script);
  // The next `times` calls of `method` fail with `status` (times < 0: all).
  void FailNext(Method method, base::Status status, int times = 1);
  void ClearFailures();

  // --- Driving a running job (NotFound-like false when no job runs) ---
  bool Step(const std::string& name);                              // next scripted step
  bool AdvanceTo(const std::string& name, const JobStats& stats);  // set the figures
  bool CompleteMigration(const std::string& name);
  bool FailMigration(const std::string& name, base::Status status);
  // Sends an event to the handler as if the hypervisor had (e.g. connection loss).
  void Emit(const DomainEvent& event);

  // --- Observing ---
  bool HasDomain(const std::string& name) const;
  std::optional<DomainInfo> Domain(const std::string& name) const;
  bool Migrating(const std::string& name) const;
  // The allowed downtime / speed last set for `name` (by Migrate's params or the
  // setters), nullopt if never set.
  std::optional<uint64_t> MaxDowntime(const std::string& name) const;
  std::optional<uint64_t> MaxSpeed(const std::string& name) const;
  bool PostCopyStarted(const std::string& name) const;
  std::vector<Call> Calls() const;
  std::vector<Call> CallsOf(Method method) const;
  size_t CountOf(Method method) const;
  // Block until a migration job of `name` runs / `method` was called `n` times;
  // false after `limit` (a broken test, not a synchronisation by time).
  bool WaitForMigration(const std::string& name,
                        std::chrono::milliseconds limit = std::chrono::seconds(10));
  bool WaitForCalls(Method method, size_t n,
                    std::chrono::milliseconds limit = std::chrono::seconds(10));

 private:
  struct Dom {
    DomainInfo info;
    std::string xml;
    std::optional<JobStats> completed;  // the last finished job, until read
  };
  struct Job {
    MigrateParams params;
    MigrationScript script;
    size_t step = 0;
    JobStats current;
    bool post_copy = false;
    bool done = false;
    base::Status result;
  };
  struct Failure {
    base::Status status;
    int times;
  };

  // Records the call and returns the injected failure for it, if any. mu_ held.
  std::optional<base::Status> RecordLocked(Call call);
  base::Status Lost(const std::string& name) const;
  // Ends the job of `name` (mu_ held by `l`, released on return): on success
  // moves the domain to the target; then wakes Migrate() and emits the events.
  void FinishLocked(std::unique_lock<std::mutex>& l, const std::string& name, base::Status result);
  // Takes a migrated domain (the target side of a migration).
  base::Status Receive(const DomainInfo& info, const std::string& xml, const JobStats& stats);
  FakeHypervisor* TargetFor(const std::string& dest_uri) const;
  void EmitAll(const std::vector<DomainEvent>& events);
  void ApplyStepLocked(Job& job);

  const Options options_;
  base::Clock* clock_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Dom> domains_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;  // running jobs
  int migrate_calls_in_flight_ = 0;
  std::map<std::string, MigrationScript> scripts_;
  MigrationScript default_script_;
  std::map<std::string, uint64_t> dirty_rates_;
  std::map<std::string, uint64_t> max_downtime_;
  std::map<std::string, uint64_t> max_speed_;
  std::map<std::string, bool> post_copy_;
  std::map<Method, Failure> failures_;
  std::vector<Call> calls_;
  FakeHypervisor* target_ = nullptr;

  std::mutex handler_mu_;  // held while the handler runs
  EventHandler handler_;
};

}  // namespace engine::testing
