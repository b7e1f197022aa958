#include "plugin/view.h"

#include <rapidjson/document.h>

#include "api/json.h"
#include "base/clock.h"
#include "plugin/options.h"
#include "plugin/progress.h"

namespace plugin {
namespace {

constexpr const char* kVMIMResource = "virtualmachineinstancemigration.kubevirt.io";

const rapidjson::Value* Progress(const kube::Object& o) {
  if (!o.doc) return nullptr;
  return kube::FieldByPath(*o.doc, "status.migrationState.progress");
}

std::optional<std::chrono::system_clock::time_point> Time(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  return base::ParseRfc3339(*s);
}

}  // namespace

View ViewOf(const kube::Object& vmim_obj, const std::optional<kube::Object>& vmi_obj) {
  View v;
  if (vmim_obj.doc) {
    auto vmim = api::ParseVMIM(*vmim_obj.doc);
    v.phase_text = kube::StringField(vmim_obj, "status.phase").value_or("");
    if (vmim.ok()) {
      v.phase = vmim->status.phase;
      v.state = vmim->status.migration_state;
      for (const auto& c : vmim->status.conditions) {
        if (c.status == "True" && c.type == "Failed") {
          v.failure_message = c.message.empty() ? c.reason : c.message;
        }
        if (c.type == "ConvergenceForecast") {
          v.forecast_status = c.status;
          v.forecast_reason = c.reason;
          v.forecast_message = c.message;
        }
      }
    }
    v.progress = Progress(vmim_obj);
  }
  if (vmi_obj && vmi_obj->doc) {
    auto vmi = api::ParseVMI(*vmi_obj->doc);
    if (vmi.ok() && vmi->status.migration_state &&
        (vmi->status.migration_state->migration_uid.empty() ||
         vmi->status.migration_state->migration_uid == vmim_obj.uid)) {
      v.state = vmi->status.migration_state;
      if (auto* p = Progress(*vmi_obj)) v.progress = p;
    }
  }
  return v;
}

std::string ForecastLine(const View& v) {
  if (v.forecast_status.empty()) return "";
  // The engine's message says the verdict itself ("expected to converge in
  // ...", "will not converge: ..."); the reason is for scripts and alerts.
  std::string line = !v.forecast_message.empty() ? v.forecast_message
                     : v.forecast_status == "True" ? "expected to converge"
                     : v.forecast_status == "False" ? "will not converge"
                                                    : "unknown";
  if (!v.forecast_reason.empty()) line += " [" + v.forecast_reason + "]";
  return line;
}

ProgressMeter MeterOf(const View& v) {
  ProgressMeter meter;
  meter.Update(ProgressFromJson(v.progress));
  if (v.phase == api::MigrationPhase::kSucceeded) meter.Complete();
  return meter;
}

std::string ShownPhase(const View& v) {
  if (!v.phase_text.empty()) return v.phase_text;
  std::string name(api::PhaseName(v.phase));
  return name.empty() ? "<none>" : name;
}

std::string Nodes(const std::optional<api::MigrationState>& s) {
  if (!s) return "";
  const std::string &src = s->source_node, &dst = s->target_node;
  if (!src.empty() && !dst.empty()) return src + " → " + dst;
  if (!src.empty()) return "from " + src;
  if (!dst.empty()) return "to " + dst;
  return "";
}

std::optional<std::chrono::seconds> StateDuration(const std::optional<api::MigrationState>& s) {
  if (!s) return std::nullopt;
  auto a = Time(s->start_timestamp), b = Time(s->end_timestamp);
  if (!a || !b) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::seconds>(*b - *a);
}

bool IsFinished(const kube::Object& vmim) {
  return api::IsFinal(
      api::ParseMigrationPhase(kube::StringField(vmim, "status.phase").value_or("")));
}

const kube::Object* CurrentMigration(const std::vector<kube::Object>& newest_first) {
  if (newest_first.empty()) return nullptr;
  for (const auto& o : newest_first) {
    if (!IsFinished(o)) return &o;
  }
  return &newest_first.front();
}

std::optional<View> VMIOnlyView(const std::optional<kube::Object>& vmi_obj,
                                const std::vector<kube::Object>& vmims) {
  if (!vmi_obj || !vmi_obj->doc) return std::nullopt;
  auto vmi = api::ParseVMI(*vmi_obj->doc);
  if (!vmi.ok() || !vmi->status.migration_state) return std::nullopt;
  const api::MigrationState& st = *vmi->status.migration_state;
  for (const auto& o : vmims) {
    if (!IsFinished(o)) return std::nullopt;
    if (st.migration_uid.empty() || o.uid == st.migration_uid) return std::nullopt;
  }
  View v;
  v.state = st;
  v.progress = Progress(*vmi_obj);
  v.phase = !st.completed ? api::MigrationPhase::kRunning
            : st.failed   ? api::MigrationPhase::kFailed
                          : api::MigrationPhase::kSucceeded;
  return v;
}

std::optional<WaitOutcome> FinalOutcome(const View& v, bool deleted, const std::string& vmim_name,
                                        std::chrono::seconds elapsed) {
  if (!api::IsFinal(v.phase) && !deleted) return std::nullopt;
  std::string who = std::string(kVMIMResource) + "/" + vmim_name;
  const std::string nodes = Nodes(v.state);
  if (v.phase == api::MigrationPhase::kSucceeded) {
    return WaitOutcome{who + " succeeded" + (nodes.empty() ? "" : ": " + nodes) + " in " +
                           FormatDuration(StateDuration(v.state).value_or(elapsed)),
                       kExitOk};
  }
  std::string reason = v.state && !v.state->failure_reason.empty() ? v.state->failure_reason
                       : !v.failure_message.empty()                ? v.failure_message
                       : deleted ? "the migration was deleted (cancelled)"
                                 : "no reason given";
  std::string line = "error: " + who + " failed: " + reason;
  if (v.state && !v.state->abort_status.empty()) {
    line += " (abort status: " + v.state->abort_status + ")";
  }
  line += " [" + (nodes.empty() ? "" : nodes + ", ") + "after " + FormatDuration(elapsed) + "]";
  return WaitOutcome{line, kExitFailed};
}

std::optional<WaitOutcome> AbortOutcome(const std::optional<kube::Object>& vmi,
                                        const std::string& migration_uid, bool vmim_gone) {
  std::optional<api::MigrationState> st;
  if (vmi && vmi->doc) {
    auto parsed = api::ParseVMI(*vmi->doc);
    if (parsed.ok()) st = parsed->status.migration_state;
  }
  const bool ours = st && (st->migration_uid.empty() || st->migration_uid == migration_uid);
  if (ours && st->abort_status == "Succeeded") {
    return WaitOutcome{"abort status: Succeeded", kExitOk};
  }
  if (ours && st->abort_status == "Failed") {
    std::string why = st->failure_reason.empty() ? "" : ": " + st->failure_reason;
    return WaitOutcome{"error: abort status: Failed" + why + " (the migration went on)",
                       kExitFailed};
  }
  if (!vmim_gone) return std::nullopt;
  if (!st || st->migration_uid != migration_uid) {
    return WaitOutcome{"cancelled before it started: the migration was deleted and the VMI did "
                       "not move",
                       kExitOk};
  }
  // Ours but not over: the engine writes the end of the abort to the VMI;
  // wait for it even if the VMIM went first.
  if (!st->completed) return std::nullopt;
  if (!st->failed) {
    return WaitOutcome{"error: the migration completed before it could be cancelled" +
                           (Nodes(st).empty() ? "" : " (" + Nodes(st) + ")"),
                       kExitFailed};
  }
  return WaitOutcome{"cancelled: the migration ended failed" +
                         (st->failure_reason.empty() ? "" : " (" + st->failure_reason + ")"),
                     kExitOk};
}

}  // namespace plugin
