// Status conditions, set the Kubernetes way (style.md §4): one condition per
// type; lastTransitionTime moves only when `status` flips, so a reason or
// message update keeps the time the condition last changed state.
//
// Thread safety: pure functions on values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/types.h"

namespace api {

// Sets `condition` in `conditions`, replacing the one of the same type or
// appending it (order of the others is kept). Its lastTransitionTime becomes
// `now_rfc3339` when the type is new or `status` differs, and stays the stored
// one otherwise; the caller's last_transition_time is ignored. An empty
// last_probe_time keeps the stored one. Returns whether `conditions` changed,
// so a status patch is sent only when something differs. Duplicates of the
// type (from a sloppy writer) are removed, which counts as a change.
bool SetCondition(std::vector<Condition>& conditions, Condition condition,
                  const std::string& now_rfc3339);

// Removes every condition of `type`; returns whether one was there.
bool RemoveCondition(std::vector<Condition>& conditions, std::string_view type);

}  // namespace api
