#include "tests/devcluster/convert.h"

#include <string>
#include <utility>
#include <vector>

namespace devcluster {
namespace {

// {core/v1 name, events.k8s.io/v1 name}
const std::vector<std::pair<const char*, const char*>>& EventFields() {
  static const std::vector<std::pair<const char*, const char*>> kFields = {
      {"involvedObject", "regarding"},
      {"message", "note"},
      {"reportingComponent", "reportingController"},
      {"source", "deprecatedSource"},
      {"firstTimestamp", "deprecatedFirstTimestamp"},
      {"lastTimestamp", "deprecatedLastTimestamp"},
      {"count", "deprecatedCount"},
  };
  return kFields;
}

void Rename(Json& obj, const char* from, const char* to, Alloc& a) {
  Json* v = Member(obj, from);
  if (v == nullptr) return;
  Json moved;
  moved = *v;  // moves the value out
  obj.RemoveMember(from);
  obj.RemoveMember(to);
  obj.AddMember(Json(to, a), moved, a);
}

}  // namespace

void ConvertEventToEventsV1(Json& event, Alloc& a) {
  if (!event.IsObject()) return;
  for (const auto& [core, v1] : EventFields()) Rename(event, core, v1, a);
}

void ConvertEventToCoreV1(Json& event, Alloc& a) {
  if (!event.IsObject()) return;
  for (const auto& [core, v1] : EventFields()) Rename(event, v1, core, a);
}

std::string CoreEventField(const std::string& field) {
  for (const auto& [core, v1] : EventFields()) {
    std::string prefix = std::string(v1);
    if (field == prefix) return core;
    if (field.compare(0, prefix.size() + 1, prefix + ".") == 0) return core + field.substr(prefix.size());
  }
  return field;
}

}  // namespace devcluster
