#include "plugin/evacuate.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <optional>

#include "api/json.h"
#include "plugin/options.h"
#include "plugin/progress.h"
#include "plugin/view.h"

namespace plugin {

std::vector<Evacuee> PlanEvacuation(const std::vector<kube::Object>& vmis, const std::string& node) {
  std::vector<Evacuee> out;
  for (const kube::Object& o : vmis) {
    if (!o.doc) continue;
    // Read what decides by field, so that a VMI the model cannot parse is
    // still found (and reported) rather than silently left on the node.
    if (kube::StringField(o, "status.nodeName").value_or("") != node) continue;
    if (kube::StringField(o, "status.phase").value_or("") != "Running") continue;
    Evacuee e;
    e.ns = o.namespace_;
    e.name = o.name;
    auto vmi = api::ParseVMI(*o.doc);
    if (!vmi.ok()) {
      e.state = Evacuee::State::kFailed;
      e.reason = "cannot read the VMI: " + vmi.status().message();
    } else {
      for (const api::Condition& c : vmi->status.conditions) {
        if (c.type == "LiveMigratable" && c.status == "False") {
          e.state = Evacuee::State::kNotMigratable;
          e.reason = c.reason + (c.message.empty() ? "" : ": " + c.message);
        }
      }
    }
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(),
            [](const Evacuee& a, const Evacuee& b) { return a.Key() < b.Key(); });
  return out;
}

std::map<std::string, const kube::Object*> UnfinishedMigrations(
    const std::vector<kube::Object>& vmims) {
  std::map<std::string, const kube::Object*> out;
  for (const kube::Object& o : vmims) {
    if (IsFinished(o)) continue;
    std::string key = o.namespace_ + "/" + kube::StringField(o, "spec.vmiName").value_or("");
    auto created = kube::StringField(o, "metadata.creationTimestamp").value_or("");
    auto it = out.find(key);
    if (it == out.end() ||
        kube::StringField(*it->second, "metadata.creationTimestamp").value_or("") < created) {
      out[key] = &o;
    }
  }
  return out;
}

std::string Observe(Evacuee& e, const kube::Object* vmim, const kube::Object* vmi,
                    std::string& last_shown) {
  if (e.state != Evacuee::State::kMigrating) return "";
  const std::string who = e.Key() + ": ";
  if (vmim == nullptr) {
    if (!e.vmim_seen) return "";  // just created, not in the cache yet
    e.state = Evacuee::State::kFailed;
    e.reason = "its migration " + e.vmim + " was deleted (cancelled)";
    return who + "failed: " + e.reason;
  }
  e.vmim_seen = true;
  std::optional<kube::Object> vmi_copy;
  if (vmi != nullptr) vmi_copy = *vmi;
  View v = ViewOf(*vmim, vmi_copy);
  if (auto outcome = FinalOutcome(v, false, vmim->name, std::chrono::seconds(0))) {
    if (outcome->exit_code == kExitOk) {
      e.state = Evacuee::State::kMoved;
      e.target = v.state ? v.state->target_node : "";
      return who + "moved to " + (e.target.empty() ? std::string("another node") : e.target) +
             " (" + vmim->name + ")";
    }
    e.state = Evacuee::State::kFailed;
    std::string line = outcome->line;
    if (line.rfind("error: ", 0) == 0) line.erase(0, 7);
    e.reason = line;
    return who + "failed: " + e.reason;
  }
  ProgressMeter meter = MeterOf(v);
  std::string phase = ShownPhase(v);
  // Shown when the phase changes or the progress moves by 10 points.
  std::string bucket = phase + "/" + (meter.percent() ? std::to_string(*meter.percent() / 10) : "");
  if (bucket == last_shown) return "";
  last_shown = bucket;
  std::string nodes = Nodes(v.state);
  return who + FormatProgressLine(phase, meter, std::nullopt, 0) +
         (nodes.empty() ? "" : " (" + nodes + ")");
}

std::string OnCreate(Evacuee& e, const std::string& created_name, bool limit_denial,
                     const std::string& message) {
  if (!created_name.empty()) {
    e.state = Evacuee::State::kMigrating;
    e.vmim = created_name;
    e.reason.clear();
    return e.Key() + ": migration " + e.vmim + " created";
  }
  if (limit_denial) {
    e.reason = "waiting for a free slot: " + message;
    return e.Key() + ": " + e.reason;
  }
  e.state = Evacuee::State::kFailed;
  e.reason = message;
  return e.Key() + ": failed: " + e.reason;
}

EvacuationSummary Summarize(const std::string& node, const std::vector<Evacuee>& evacuees,
                            bool waited) {
  int moved = 0, migrating = 0, waiting = 0, failed = 0, stuck = 0;
  for (const Evacuee& e : evacuees) {
    switch (e.state) {
      case Evacuee::State::kMoved: ++moved; break;
      case Evacuee::State::kMigrating: ++migrating; break;
      case Evacuee::State::kWaiting: ++waiting; break;
      case Evacuee::State::kFailed: ++failed; break;
      case Evacuee::State::kNotMigratable: ++stuck; break;
    }
  }
  EvacuationSummary s;
  s.text = "node " + node + ": " + std::to_string(moved) + " moved";
  if (!waited || migrating > 0) s.text += ", " + std::to_string(migrating) + " migrating";
  if (waiting > 0) s.text += ", " + std::to_string(waiting) + " not started";
  s.text += ", " + std::to_string(failed) + " failed, " + std::to_string(stuck) +
            " not migratable\n";
  for (const Evacuee& e : evacuees) {
    if (e.state == Evacuee::State::kFailed) {
      s.text += "  failed: " + e.Key() + ": " + e.reason + "\n";
    } else if (e.state == Evacuee::State::kNotMigratable) {
      s.text += "  not migratable: " + e.Key() + ": " + e.reason + "\n";
    } else if (e.state == Evacuee::State::kWaiting) {
      s.text += "  not started: " + e.Key() + (e.reason.empty() ? "" : ": " + e.reason) + "\n";
    } else if (e.state == Evacuee::State::kMigrating && waited) {
      s.text += "  still migrating: " + e.Key() + " (" + e.vmim + ")\n";
    }
  }
  const bool done = failed == 0 && stuck == 0 && waiting == 0 && (!waited || migrating == 0);
  s.exit_code = done ? kExitOk : kExitFailed;
  return s;
}

}  // namespace plugin
