#include "engine/migration_flow.h"

#include <algorithm>
#include <charconv>

#include "base/clock.h"
#include "engine/units.h"

namespace engine {

std::string TargetChoice::Message() const {
  std::string out = node ? "target " + *node : "no node can take the VMI";
  if (rejected.empty()) return node ? out : out + ": no other node runs a migration engine";
  out += node ? " (passed over: " : ": ";
  for (size_t i = 0; i < rejected.size(); ++i) {
    if (i) out += "; ";
    out += rejected[i];
  }
  if (node) out += ")";
  return out;
}

TargetChoice PickTarget(const std::vector<TargetCandidate>& candidates,
                        std::string_view source_node,
                        const std::map<std::string, std::string>& added_node_selector,
                        uint64_t guest_memory_bytes) {
  TargetChoice choice;
  std::vector<const TargetCandidate*> eligible;
  std::vector<const TargetCandidate*> sorted;
  for (const TargetCandidate& c : candidates) sorted.push_back(&c);
  std::sort(sorted.begin(), sorted.end(), [](const TargetCandidate* a, const TargetCandidate* b) {
    return a->engine.node_name < b->engine.node_name;
  });
  for (const TargetCandidate* c : sorted) {
    const std::string& n = c->engine.node_name;
    if (n == source_node) continue;  // not a candidate at all: not worth a line
    std::string why;
    if (!c->fresh) {
      why = "its migration engine has not renewed its lease";
    } else if (c->unschedulable) {
      why = "cordoned (spec.unschedulable)";
    } else if (!added_node_selector.empty() && !c->node_known) {
      why = "no Node object to match spec.addedNodeSelector";
    } else {
      for (const auto& [key, value] : added_node_selector) {
        auto it = c->labels.find(key);
        if (it == c->labels.end() || it->second != value) {
          why = "does not match spec.addedNodeSelector " + key + "=" + value;
          break;
        }
      }
      if (why.empty() && guest_memory_bytes > 0 && c->engine.free_memory_bytes > 0 &&
          c->engine.free_memory_bytes < guest_memory_bytes) {
        why = "not enough free memory (" + FormatBytes(c->engine.free_memory_bytes) + " free, " +
              FormatBytes(guest_memory_bytes) + " needed)";
      }
    }
    if (!why.empty()) {
      choice.rejected.push_back(n + ": " + why);
    } else {
      eligible.push_back(c);
    }
  }
  if (eligible.empty()) return choice;
  auto best = std::min_element(eligible.begin(), eligible.end(),
                               [](const TargetCandidate* a, const TargetCandidate* b) {
                                 if (a->inbound != b->inbound) return a->inbound < b->inbound;
                                 if (a->engine.free_memory_bytes != b->engine.free_memory_bytes) {
                                   return a->engine.free_memory_bytes > b->engine.free_memory_bytes;
                                 }
                                 return a->engine.node_name < b->engine.node_name;
                               });
  choice.node = (*best)->engine.node_name;
  return choice;
}

bool EnterPhase(api::VMIMStatus& status, api::MigrationPhase phase, const std::string& timestamp) {
  if (status.phase == phase) return false;
  status.phase = phase;
  for (const api::PhaseTransition& t : status.phase_transition_timestamps) {
    if (t.phase == phase) return true;
  }
  status.phase_transition_timestamps.push_back({phase, timestamp});
  return true;
}

std::optional<std::chrono::system_clock::time_point> PhaseEnteredAt(const api::VMIMStatus& status,
                                                                    api::MigrationPhase phase) {
  for (const api::PhaseTransition& t : status.phase_transition_timestamps) {
    if (t.phase == phase) return base::ParseRfc3339(t.timestamp);
  }
  return std::nullopt;
}

std::chrono::seconds UnschedulableTimeout(const api::VMIM& vmim, std::chrono::seconds fallback) {
  auto it = vmim.meta.annotations.find(std::string(kAnnotationUnschedulableTimeout));
  if (it == vmim.meta.annotations.end()) return fallback;
  int64_t v = 0;
  const std::string& s = it->second;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) return fallback;
  return std::chrono::seconds(v);
}

std::vector<const api::VMIM*> VMIMsToCollect(const std::vector<api::VMIM>& vmims,
                                             std::string_view ns, std::string_view vmi_name,
                                             int keep) {
  std::vector<const api::VMIM*> finished;
  for (const api::VMIM& m : vmims) {
    if (m.IsFinal() && m.meta.namespace_ == ns && m.spec.vmi_name == vmi_name &&
        !m.meta.deletion_timestamp) {
      finished.push_back(&m);
    }
  }
  std::sort(finished.begin(), finished.end(), [](const api::VMIM* a, const api::VMIM* b) {
    if (a->meta.creation_timestamp != b->meta.creation_timestamp) {
      return a->meta.creation_timestamp < b->meta.creation_timestamp;
    }
    return a->meta.name < b->meta.name;
  });
  if (keep < 0) keep = 0;
  if (static_cast<int>(finished.size()) <= keep) return {};
  finished.resize(finished.size() - static_cast<size_t>(keep));
  return finished;
}

uint64_t GuestMemoryBytes(const api::VMI& vmi) {
  const api::Quantity* q = vmi.GuestMemory();
  if (!q) return 0;
  auto v = q->Bytes();
  return v.ok() && *v > 0 ? static_cast<uint64_t>(*v) : 0;
}

}  // namespace engine
