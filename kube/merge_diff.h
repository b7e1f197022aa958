// MergePatchDiff: the JSON merge patch (RFC 7386) that brings `current` to
// what `desired` says, for a writer that owns only some fields of an object.
//
// Only members present in `desired` are considered: a member missing from
// `current` or with a different value is put into the patch (objects are
// compared member by member and recursed into; arrays and scalars are
// replaced whole, as a merge patch does). Members of `current` that `desired`
// does not name are left alone; to remove one, put null in `desired` (it is
// emitted only when the member exists). So a status writer builds the
// fragment it owns, diffs it against the object it last read, and patches
// only when something changed (style.md §4).
//
// Thread safety: pure function.
#pragma once

#include <rapidjson/document.h>

#include <optional>
#include <string>

namespace kube {

// nullopt when applying `desired` to `current` would change nothing; else the
// patch as compact JSON. A non-object `current` counts as an empty object.
std::optional<std::string> MergePatchDiff(const rapidjson::Value& current,
                                          const rapidjson::Value& desired);

}  // namespace kube
