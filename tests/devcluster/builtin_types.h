// The Go types of the built-in kinds devcluster checks field by field
// (coordination.k8s.io/v1 Lease, v1 Event, events.k8s.io/v1 Event, v1 Node,
// v1 ConfigMap), and what kube-apiserver's JSON decoding into those types
// does with a request body: type errors in encoding/json's words, the
// Unmarshal errors of metav1.Time, metav1.MicroTime and resource.Quantity,
// base64 for []byte, and the unknown fields strict decoding reports. Also the
// semantic validation of Lease (pkg/apis/coordination/validation).
//
// Pure functions; thread-compatible.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/devcluster/json.h"
#include "tests/devcluster/schema.h"

namespace devcluster {

struct BuiltinDecodeResult {
  // The error decoding stops with, as Go's json.Unmarshal returns it, e.g.
  //   `json: cannot unmarshal string into Go struct field LeaseSpec.spec.leaseDurationSeconds of
  //   type int32` `parsing time "2026-01-01T00:00:00Z" as "2006-01-02T15:04:05.000000Z07:00":
  //   cannot parse "Z" as ".000000"`
  // nullopt when the body decodes.
  std::optional<std::string> error;
  // Fields the Go type does not have, in document order ("spec.foo",
  // "spec.taints[0].bar", "metadata.bogus"); only meaningful without error.
  std::vector<std::string> unknown_fields;
};

// True for the kinds DecodeBuiltin knows (group "" is the core group).
bool HasBuiltinType(std::string_view group, std::string_view kind);

// Decodes `object` (a whole Lease, Event, Node or ConfigMap in the version
// named by group/kind, events.k8s.io/v1 for Event in that group) as
// kube-apiserver does, and removes the unknown fields from it, as decoding
// into a Go struct drops them. Objects of other kinds are left alone.
BuiltinDecodeResult DecodeBuiltin(std::string_view group, std::string_view kind, Json& object);

// A decoded JSON value as Go's %+v prints it (how kube-apiserver quotes a
// strategic merge patch in errors): objects as map[k:v ...] with sorted keys,
// arrays as [a b], strings bare, null as <nil>.
std::string GoMapText(const Json& v);

// Validation after decoding, beyond object metadata: for Lease,
// spec.leaseDurationSeconds > 0 and spec.leaseTransitions >= 0
// (ValidateLeaseSpec). Empty for the other kinds.
std::vector<FieldError> ValidateBuiltin(std::string_view group, std::string_view kind,
                                        const Json& object);

// Go's time.Parse(layout, value) for the two layouts Kubernetes uses:
// time.RFC3339 (metav1.Time) and "2006-01-02T15:04:05.000000Z07:00"
// (metav1.MicroTime). Returns nullopt when `value` parses, else Go's
// *time.ParseError text.
inline constexpr std::string_view kRfc3339Layout = "2006-01-02T15:04:05Z07:00";
inline constexpr std::string_view kRfc3339MicroLayout = "2006-01-02T15:04:05.000000Z07:00";
std::optional<std::string> GoTimeParseError(std::string_view layout, std::string_view value);

}  // namespace devcluster
