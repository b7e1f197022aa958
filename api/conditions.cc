#include "api/conditions.h"

#include <algorithm>

namespace api {

bool SetCondition(std::vector<Condition>& conditions, Condition condition,
                  const std::string& now_rfc3339) {
  const std::string type = condition.type;  // `condition` is moved from below
  auto same_type = [&](const Condition& c) { return c.type == type; };
  auto it = std::find_if(conditions.begin(), conditions.end(), same_type);
  if (it == conditions.end()) {
    condition.last_transition_time = now_rfc3339;
    conditions.push_back(std::move(condition));
    return true;
  }
  condition.last_transition_time =
      it->status == condition.status ? it->last_transition_time : now_rfc3339;
  if (condition.last_probe_time.empty()) condition.last_probe_time = it->last_probe_time;
  bool changed = !(*it == condition);
  *it = std::move(condition);
  // Later duplicates of the type: keep the first, drop the rest.
  auto dup = std::remove_if(std::next(it), conditions.end(), same_type);
  if (dup != conditions.end()) {
    conditions.erase(dup, conditions.end());
    changed = true;
  }
  return changed;
}

bool RemoveCondition(std::vector<Condition>& conditions, std::string_view type) {
  auto end = std::remove_if(conditions.begin(), conditions.end(),
                            [&](const Condition& c) { return c.type == type; });
  bool removed = end != conditions.end();
  conditions.erase(end, conditions.end());
  return removed;
}

}  // namespace api
