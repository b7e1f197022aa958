// LibvirtHypervisor: the Hypervisor of a real node, over one libvirt connection.
// The only code in the project that includes libvirt's headers (they stay in the .cc).
//
// Lifecycle: Create() registers libvirt's default event loop implementation
// (once per process: libvirt allows exactly one, before the first connection)
// and starts the thread that runs it, connects to `uri`, turns on keepalive
// and registers a close callback plus the domain event callbacks. A broken
// connection (daemon restart, keepalive timeout) is noticed on the event thread,
// reported as kConnectionLost, and re-opened by this object's reconnect thread
// with exponential backoff on the injected clock, then reported as
// kConnectionRestored. While disconnected every method returns Unavailable.
// The destructor deregisters the callbacks, closes the connection and joins
// the reconnect thread; after it returns the handler is never called again.
// The event loop thread is process-wide and runs until the process exits
// (libvirt offers no way to unregister the implementation).
//
// Errors: libvirt's error number, read on the failing thread right after the
// failing call, mapped as engine/hypervisor.h says; the message is libvirt's.
// libvirt's default error printer is replaced by a no-op, so nothing goes to stderr.
//
// Thread safety: every method may be called from any thread at the same time
// (libvirt connections are thread-safe; calls run concurrently, each on the
// caller's thread). Events are delivered on the event loop thread
// (kConnectionLost on whichever libvirt thread noticed the break, and
// kConnectionRestored on the reconnect thread), never two at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "engine/hypervisor.h"

namespace engine {

class LibvirtHypervisor final : public Hypervisor {
 public:
  struct Options {
    std::string uri = "qemu:///system";
    // virConnectSetKeepAlive: a probe after `keepalive_interval` seconds of
    // silence; the connection is closed after `keepalive_count` unanswered
    // probes. Interval 0 turns keepalive off. Drivers without a daemon (test://)
    // have no keepalive; that is not an error.
    int keepalive_interval_s = 5;
    unsigned keepalive_count = 5;
    // Delay before the n-th reconnect attempt after the first failed one:
    // initial × 2^(n-1), at most max. The first attempt is made at once.
    std::chrono::milliseconds reconnect_initial_backoff{500};
    std::chrono::milliseconds reconnect_max_backoff{30000};
    // MeasureDirtyRate polls the finished measurement this often.
    std::chrono::milliseconds dirty_rate_poll_interval{100};
    base::Clock* clock = nullptr;  // null: base::RealClock()
  };

  // InvalidArgument listing every bad option; otherwise the error of the first
  // connection attempt (Unavailable when the daemon is unreachable).
  static base::StatusOr<std::unique_ptr<LibvirtHypervisor>> Create(Options options);
  ~LibvirtHypervisor() override;
  LibvirtHypervisor(const LibvirtHypervisor&) = delete;
  LibvirtHypervisor& operator=(const LibvirtHypervisor&) = delete;

  base::StatusOr<DomainInfo> Lookup(const std::string& name) override;
  base::StatusOr<std::vector<DomainInfo>> List() override;
  base::Status Define(const std::string& xml) override;
  base::Status Start(const std::string& name) override;
  base::Status Stop(const std::string& name) override;
  base::Status Undefine(const std::string& name) override;
  base::StatusOr<std::string> GetXml(const std::string& name) override;
  // Sets max_downtime_ms (virDomainMigrateSetMaxDowntime; the value holds for
  // the job that follows), then blocks in virDomainMigrateToURI3 on a connection
  // opened for this migration only, so that GetJobStats/AbortJob from other
  // threads are not held up behind it. Unavailable when that connection cannot
  // be opened.
  base::Status Migrate(const std::string& name, const MigrateParams& params) override;
  base::StatusOr<JobStats> GetJobStats(const std::string& name, bool completed) override;
  base::Status AbortJob(const std::string& name) override;
  // `seconds` in [1, 60] (QEMU's limit); page-sampling mode. DeadlineExceeded
  // when no result arrives within 2 × seconds + 5 s.
  base::StatusOr<uint64_t> MeasureDirtyRate(const std::string& name, int seconds) override;
  base::Status StartPostCopy(const std::string& name) override;
  base::Status SetMaxDowntime(const std::string& name, uint64_t ms) override;
  base::Status SetMaxSpeed(const std::string& name, uint64_t mib_per_second) override;
  void SetEventHandler(EventHandler handler) override;

  // Whether the connection is up now (false between a loss and the reconnect).
  bool Connected() const;

  struct Core;  // the state shared with libvirt's callbacks (defined in the .cc)

 private:
  explicit LibvirtHypervisor(std::shared_ptr<Core> core);
  std::shared_ptr<Core> core_;
};

// The delay before reconnect attempt `attempt` (0 = the first, made at once).
std::chrono::milliseconds ReconnectDelay(unsigned attempt,
                                         const LibvirtHypervisor::Options& options);

}  // namespace engine
