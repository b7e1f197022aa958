// JSON mapping for the structs of types.h (RapidJSON).
//
// Text is parsed with RapidJSON's iterative parser (no recursion on hostile
// nesting). Parsers accept untrusted input: every field's type is checked before use, so
// no input asserts or crashes. Errors are InvalidArgument and name the field
// path and the problem, e.g. "spec.vmiName: must be a string". Missing or null
// fields keep their defaults. Unknown fields are ignored.
//
// apiVersion, when present, must be kubevirt.io/v1 or kubevirt.io/v1alpha3
// (v1 for PVCs); kind, when present, must match. Both may be absent (list items).
//
// Thread safety: pure functions.
#pragma once

#include <rapidjson/fwd.h>

#include <string>
#include <string_view>

#include "api/types.h"
#include "base/status.h"

namespace api {

base::StatusOr<VMI> ParseVMI(std::string_view json);
base::StatusOr<VMI> ParseVMI(const rapidjson::Value& value);
base::StatusOr<VMIM> ParseVMIM(std::string_view json);
base::StatusOr<VMIM> ParseVMIM(const rapidjson::Value& value);
// The KubeVirt custom resource. Reads migration settings from
// spec.configuration.migrationConfiguration and spec.configuration.migrations;
// when both set a field, `migrations` wins (field by field). Values must have
// the right type (integers for limits and timeouts, a quantity string or number
// for bandwidth) but ranges are not checked here: see ValidateKubeVirt in
// admission.h.
base::StatusOr<KubeVirt> ParseKubeVirt(std::string_view json);
base::StatusOr<KubeVirt> ParseKubeVirt(const rapidjson::Value& value);
base::StatusOr<PVC> ParsePVC(std::string_view json);
base::StatusOr<PVC> ParsePVC(const rapidjson::Value& value);
// A PersistentVolume (core v1): access modes, capacity, volume mode, claimRef,
// and the hostPath, local and nfs sources.
base::StatusOr<PV> ParsePV(std::string_view json);
base::StatusOr<PV> ParsePV(const rapidjson::Value& value);

// A quantity from a JSON string ("64Mi") or number (0, 1.5). `field` prefixes
// the error message.
base::StatusOr<Quantity> ParseQuantityValue(const rapidjson::Value& value, std::string_view field);

// Encoders: compact JSON objects in the API's field names. Empty strings,
// false booleans and unset optionals are omitted (as Go's omitempty does),
// except `completed`/`failed`, which are always written so a merge patch can
// set them back. A MigrationConfig is always written in full (the settings in
// force).
std::string ConditionToJson(const Condition& condition);
std::string MigrationConfigToJson(const MigrationConfig& config);
std::string MigrationStateToJson(const MigrationState& state);
std::string VMIMStatusToJson(const VMIMStatus& status);

// The value serialized compactly with object keys sorted recursively (arrays
// keep their order): equal strings mean semantically equal JSON.
// InvalidArgument when nested deeper than kMaxJsonDepth.
base::StatusOr<std::string> CanonicalJson(const rapidjson::Value& value);

// Deepest nesting any api/ walker accepts (hostile input guard).
inline constexpr int kMaxJsonDepth = 100;

// The greatest nesting depth of arrays and objects in `json` (strings are
// skipped, escapes honoured), found without parsing, so a caller can refuse
// hostile nesting before anything recursive touches the document. Malformed
// text yields a best-effort count; the parser reports the malformation.
int JsonDepth(std::string_view json);

}  // namespace api
