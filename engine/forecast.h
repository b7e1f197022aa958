// Convergence forecast and honest progress (design.md §4.4, §4.2 step 6), as
// pure functions.
//
//  - Forecast(): before the memory copy starts, from the guest's size, its
//    measured dirty rate and the bandwidth, says whether pre-copy converges,
//    in how long and how many passes, or that it will not, with the figures
//    and what would help (post-copy, auto-converge, a bandwidth of at least X).
//  - TrackProgress(): during the run, from successive JobStats, a percent that
//    never runs backwards and an ETA = remaining ÷ (transfer rate − dirty rate).
//  - ProgressFields(): the `status.migrationState.progress` object the plugin
//    reads (docs/plugin.md, "What the plugin reads").
//
// Thread safety: pure functions on values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/types.h"
#include "engine/hypervisor.h"

namespace engine {

// --- Forecast ---------------------------------------------------------------
//
// The pre-copy model. Let B be the rate (the bandwidth limit, or the link rate
// when unlimited), D the dirty rate, W the working set (the most memory the
// guest can dirty between two passes; the whole memory unless known) and T =
// B × allowed downtime the data that fits in the final pause.
//   setup      a fixed cost: connecting, starting the target QEMU, the handover
//   disks      a block migration mirrors node-local disks first, at B
//   pass 1     sends all memory: M / B seconds, while the guest dirties
//              min(D × M / B, W)
//   pass k     sends what pass k−1 left dirty, while the guest dirties
//              min(D × that time, W)
//   converges  as soon as what is dirty fits in T: one last stop-and-copy
// It does not converge when a pass leaves at least as much dirty as it sent
// (D ≥ B with a working set larger than T), after kMaxForecastPasses, or, when
// a completion timeout is given, it is "too slow" when it would converge only
// after it. Disk writes during the mirror and zero-page compression are not
// modelled: the forecast is for the memory phase, where convergence is decided.
//
// kDefaultSetupSeconds is calibrated on this project's machines (design.md
// §6): a 256 MiB guest at 300 MiB/s migrated in 1.8 s, of which 256/300 =
// 0.85 s is the copy; the rest, about 1 s, is setup and handover.
inline constexpr double kDefaultSetupSeconds = 1.0;
inline constexpr int kMaxForecastPasses = 1000;

struct ForecastInput {
  uint64_t memory_bytes = 0;
  uint64_t disk_bytes = 0;                  // node-local disks a block migration copies
  uint64_t dirty_bytes_per_second = 0;      // measured (Hypervisor::MeasureDirtyRate)
  uint64_t bandwidth_bytes_per_second = 0;  // the limit; 0 = unlimited
  uint64_t link_bytes_per_second = 0;       // the rate assumed when unlimited
  uint64_t max_downtime_ms = 0;             // the most the ramp will allow (DowntimeRamp::max_ms)
  uint64_t working_set_bytes = 0;           // 0: the whole memory
  double setup_seconds = kDefaultSetupSeconds;
  int64_t completion_timeout_seconds = 0;  // 0: none
  bool allow_post_copy = false;            // for the advice only
  bool allow_auto_converge = false;        // for the advice only
};

enum class ForecastVerdict {
  kConverges,
  kWillNotConverge,  // pre-copy alone never finishes
  kTooSlow,          // converges, but after the completion timeout
  kUnknown,          // no rate to forecast with (bandwidth and link both 0)
};

struct Forecast {
  ForecastVerdict verdict = ForecastVerdict::kUnknown;
  double duration_seconds = 0;         // kConverges, kTooSlow: expected total, setup included
  int passes = 0;                      // pre-copy passes before the final stop-and-copy
  uint64_t rate_bytes_per_second = 0;  // B used by the model
  uint64_t dirty_bytes_per_second = 0;
  // Not converging or too slow: the smallest bandwidth, in whole MiB/s (how
  // bandwidthPerMigration is set), at which the model converges in time; 0
  // when no bandwidth would (e.g. the timeout is shorter than the copy at any
  // rate up to 1 TiB/s).
  uint64_t bandwidth_needed_mib = 0;
  bool post_copy_would_help = false;      // not converging: post-copy sends each page once
  bool auto_converge_would_help = false;  // D ≥ B: throttling the vCPUs lowers D
  // One line with the figures in MiB/s, e.g. "will not converge: the guest
  // dirties 150.0 MiB/s, more than the 20.0 MiB/s bandwidth (256.0 MiB of
  // memory, 500 ms allowed downtime); would help: allowPostCopy, ...".
  std::string message;
};

Forecast ForecastConvergence(const ForecastInput& input);

// The VMIM condition that carries a forecast: type kConditionConvergenceForecast,
// status "True" when pre-copy is expected to converge in time, "False" when it
// is not, "Unknown" without a rate; reason kConverges / kDirtyRateTooHigh (the
// working set is re-dirtied faster than it is sent) / kTooManyPasses /
// kExceedsCompletionTimeout / kNoRate; message Forecast::message.
// lastTransitionTime is left empty (api::SetCondition sets it).
inline constexpr std::string_view kConditionConvergenceForecast = "ConvergenceForecast";
inline constexpr std::string_view kForecastConverges = "PreCopyConverges";
inline constexpr std::string_view kForecastDirtyRateTooHigh = "DirtyRateTooHigh";
inline constexpr std::string_view kForecastTooManyPasses = "TooManyPasses";
inline constexpr std::string_view kForecastExceedsCompletionTimeout = "ExceedsCompletionTimeout";
inline constexpr std::string_view kForecastNoRate = "NoRate";
api::Condition ForecastCondition(const Forecast& forecast);

// --- Progress ---------------------------------------------------------------
//
// What is honest about libvirt's figures: data_total is the guest's memory
// (plus disks); data_remaining falls during a pass and jumps up when the next
// pass re-counts the pages dirtied meanwhile; data_processed counts bytes on
// the wire, so zero pages (most of an idle guest) barely count and re-sent
// pages count again. Neither processed/total nor (total − remaining)/total is
// both meaningful and monotonic. So the tracker keeps:
//   done   bytes of guest data dealt with (sent or skipped as zero): starts at
//          total − remaining, grows by every fall of remaining between polls,
//          never decreases (a rise adds nothing)
//   known  done + remaining, the work known so far: it grows when a pass
//          re-counts dirtied pages, which is the "total growing as libvirt
//          re-counts"
// and reports percent = done ÷ known, clamped so that it never decreases
// within one migration and stays below 100 until the job has completed. A
// pre-copy that does not converge therefore shows a percent that stops, which
// is what is happening. The ETA is remaining ÷ (transfer − dirty), with
// transfer = memory_bps + disk_bps and dirty = the dirty rate in bytes/s; when
// dirty ≥ transfer there is no ETA and the report says "not converging".
// (libvirt reports the dirty rate only from the second pass on; during the
// first pass the ETA is remaining ÷ transfer.)
struct ProgressTracker {
  bool started = false;
  uint64_t done = 0;
  uint64_t known = 0;
  uint64_t last_remaining = 0;
  double percent = 0;  // the highest reported
  friend bool operator==(const ProgressTracker&, const ProgressTracker&) = default;
};

struct ProgressReport {
  bool has_figures = false;  // false until a poll carried data figures
  double percent = 0;        // [0, 100], never decreasing; 100 only when completed
  uint64_t done_bytes = 0;
  uint64_t known_bytes = 0;
  uint64_t remaining_bytes = 0;
  uint64_t transfer_bytes_per_second = 0;
  uint64_t dirty_bytes_per_second = 0;
  uint64_t iteration = 0;
  bool converging = true;               // false when dirty ≥ transfer (and transfer > 0)
  std::optional<uint64_t> eta_seconds;  // whole seconds, rounded up
  // "ETA 12 s", "not converging: the guest dirties 150.0 MiB/s, the transfer
  // runs at 20.0 MiB/s", "measuring the transfer rate", or "completed".
  std::string eta_text;
};

struct ProgressUpdate {
  ProgressTracker tracker;  // keep for the next poll
  ProgressReport report;
};

// Folds one poll into the tracker. Polls without figures (no job yet, or
// data_total 0 during setup) leave the tracker as it was. A kCompleted job
// reports 100 %.
ProgressUpdate TrackProgress(const ProgressTracker& tracker, const JobStats& stats);

// status.migrationState.progress (docs/plugin.md). All integers; the plugin's
// percent = dataProcessedBytes ÷ dataTotalBytes, so processed is `done` and
// total is `known` (see above): both never decrease, and their ratio is the
// honest share of the known work (the plugin keeps the highest it has shown).
struct MigrationProgress {
  uint64_t data_total_bytes = 0;
  uint64_t data_processed_bytes = 0;
  uint64_t data_remaining_bytes = 0;
  uint64_t memory_bytes_per_second = 0;
  uint64_t dirty_rate_bytes_per_second = 0;
  uint64_t iteration = 0;
  friend bool operator==(const MigrationProgress&, const MigrationProgress&) = default;
};
MigrationProgress ProgressFields(const ProgressReport& report);

}  // namespace engine
