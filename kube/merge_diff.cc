#include "kube/merge_diff.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace kube {
namespace {

// Fills `patch` (an object) with what `desired` changes in `current`;
// returns whether anything was added.
bool Diff(const rapidjson::Value& current, const rapidjson::Value& desired, rapidjson::Value& patch,
          rapidjson::Document::AllocatorType& alloc) {
  static const rapidjson::Value kEmpty(rapidjson::kObjectType);
  const rapidjson::Value& cur = current.IsObject() ? current : kEmpty;
  bool changed = false;
  for (const auto& m : desired.GetObject()) {
    auto it = cur.FindMember(m.name);
    if (m.value.IsNull()) {
      if (it == cur.MemberEnd()) continue;  // already absent
      patch.AddMember(rapidjson::Value(m.name, alloc), rapidjson::Value(), alloc);
      changed = true;
      continue;
    }
    if (it != cur.MemberEnd() && it->value == m.value) continue;
    if (m.value.IsObject() && it != cur.MemberEnd() && it->value.IsObject()) {
      rapidjson::Value sub(rapidjson::kObjectType);
      if (Diff(it->value, m.value, sub, alloc)) {
        patch.AddMember(rapidjson::Value(m.name, alloc), sub, alloc);
        changed = true;
      }
      continue;
    }
    // New or replaced. A desired object holding nulls means "remove" inside a
    // member that does not exist yet: drop those members.
    rapidjson::Value copy(m.value, alloc);
    if (copy.IsObject()) {
      rapidjson::Value sub(rapidjson::kObjectType);
      Diff(kEmpty, m.value, sub, alloc);
      copy = sub;
    }
    patch.AddMember(rapidjson::Value(m.name, alloc), copy, alloc);
    changed = true;
  }
  return changed;
}

}  // namespace

std::optional<std::string> MergePatchDiff(const rapidjson::Value& current,
                                          const rapidjson::Value& desired) {
  if (!desired.IsObject()) return std::nullopt;
  rapidjson::Document patch(rapidjson::kObjectType);
  if (!Diff(current, desired, patch, patch.GetAllocator())) return std::nullopt;
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  patch.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace kube
