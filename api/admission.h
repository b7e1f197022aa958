// The admission decisions of design.md §4.1, as pure functions.
//
// DecideMigration judges a VMIM CREATE or UPDATE; ValidateKubeVirt judges a
// KubeVirt object. Both report every applicable reason at once, each as a
// Cause with a stable reason code, and a one-line message joining them.
//
// HTTP code when several causes apply: the most fundamental wins:
//   400 BadRequest       the object could not be decoded (MalformedObject)
//   422 Invalid          the spec is invalid or an immutable field changed
//                        (InvalidSpec, SpecImmutable, SelectorLabelImmutable)
//   403 Forbidden        policy refusals (FeatureGateDisabled, VMINotFound, VMIUnreadable,
//                        VMINotRunning, VMIFinal, NotLiveMigratable,
//                        MigrationInFlight, TargetIsSource)
//   429 TooManyRequests  limits only (ClusterLimitReached, NodeLimitReached):
//                        the same request passes once a migration finishes.
// Causes are listed in rule order regardless of the chosen code.
//
// Thread safety: pure functions; the lookups are called on the caller's thread.
#pragma once

#include <rapidjson/fwd.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/limits.h"
#include "api/migratability.h"
#include "api/types.h"

namespace api {

// Cause reason codes (stable; clients match on them).
inline constexpr std::string_view kCauseMalformedObject = "MalformedObject";
inline constexpr std::string_view kCauseInvalidSpec = "InvalidSpec";
inline constexpr std::string_view kCauseFeatureGateDisabled = "FeatureGateDisabled";
inline constexpr std::string_view kCauseVMINotFound = "VMINotFound";
// The VMI exists but its stored object cannot be read (the webhook's cache says why).
inline constexpr std::string_view kCauseVMIUnreadable = "VMIUnreadable";
inline constexpr std::string_view kCauseVMINotRunning = "VMINotRunning";
inline constexpr std::string_view kCauseVMIFinal = "VMIFinal";
inline constexpr std::string_view kCauseNotLiveMigratable = "NotLiveMigratable";
inline constexpr std::string_view kCauseMigrationInFlight = "MigrationInFlight";
// spec.addedNodeSelector's kubernetes.io/hostname is the node the VMI runs on.
inline constexpr std::string_view kCauseTargetIsSource = "TargetIsSource";
inline constexpr std::string_view kCauseClusterLimitReached = "ClusterLimitReached";
inline constexpr std::string_view kCauseNodeLimitReached = "NodeLimitReached";
inline constexpr std::string_view kCauseSpecImmutable = "SpecImmutable";
inline constexpr std::string_view kCauseSelectorLabelImmutable = "SelectorLabelImmutable";

// A limit denial (429) carries no retry advice (no details.retryAfterSeconds,
// so kube-apiserver sends no Retry-After): kubectl (client-go) silently
// retries a 429 with Retry-After up to 10 times, which kept a person waiting
// about 10 s before seeing the refusal. Clients that want to wait for a slot
// (`kubectl migrate --retry-on-limit`) recognise the denial by its causes'
// reasons (kCauseClusterLimitReached, kCauseNodeLimitReached) and retry.

struct Cause {
  std::string reason;   // one of kCause*
  std::string message;  // one sentence, no trailing period
  std::string field;    // JSON path of the offending field, may be empty

  friend bool operator==(const Cause&, const Cause&) = default;
};

struct AdmissionDecision {
  bool allowed = true;
  int code = 200;             // HTTP status for the AdmissionReview's response.status
  std::string status_reason;  // "", "BadRequest", "Invalid", "Forbidden", "TooManyRequests"
  std::string message;        // "" when allowed; else every cause's message joined by "; "
  std::vector<Cause> causes;
  // Advice for an admitted request (kubectl prints it): predicted completion
  // timeout, block-migration size, missing LiveMigratable condition; KubeVirt
  // validation warnings. Empty on denial, where it would only add noise.
  std::vector<std::string> warnings;

  bool HasCause(std::string_view reason) const;
};

struct AdmissionInput {
  std::string operation;   // "CREATE" or "UPDATE"; anything else is allowed untouched
  std::string namespace_;  // request.namespace; used when the object has none

  // The decoded request.object / request.oldObject (UPDATE). When decoding
  // failed, leave the optional empty and put the error text in *_error: the
  // decision is then 400 MalformedObject.
  std::optional<VMIM> object;
  std::string object_error;
  std::optional<VMIM> old_object;
  std::string old_object_error;

  // There is no dryRun input: a dry-run request gets the same verdict, so the
  // decision cannot depend on it.

  // The VMI named by object->spec.vmiName, or null when it does not exist. If
  // null and vmi_lookup is set, DecideMigration looks the VMI up itself.
  const VMI* vmi = nullptr;
  // When the VMI exists but could not be parsed (vmi is then null): why. The
  // denial then says so instead of "does not exist".
  std::string vmi_unreadable;
  // Every VMIM in the cluster (from the cache); null entries are skipped. The
  // VMIM under admission is excluded by uid and by namespace/name.
  std::vector<const VMIM*> vmims;
  // For outbound-per-node counting (each in-flight VMIM's VMI). May be empty.
  VMILookup vmi_lookup;
  // Optional: used only when the VMI has no LiveMigratable condition yet, to
  // compute migratability from its volumes and interfaces.
  PVCLookup pvc_lookup;

  // Settings from the KubeVirt object; defaults when kubevirt_found is false
  // (and then the feature gate counts as off).
  KubeVirtConfig config;
  bool kubevirt_found = false;
};

AdmissionDecision DecideMigration(const AdmissionInput& input);

// The validation of a KubeVirt object for /validate-kubevirt.
using KubeVirtValidation = AdmissionDecision;

// Checks spec.configuration.migrationConfiguration and
// spec.configuration.migrations (both, independently): parallelMigrationsPerCluster,
// parallelOutboundMigrationsPerNode, completionTimeoutPerGiB and progressTimeout
// must be integers, in [1, 2^31-1] for the parallel limits and [1, 2^63-1] for
// the timeouts; bandwidthPerMigration must be a quantity ≥ 0; allowAutoConverge and
// allowPostCopy booleans; developerConfiguration.featureGates an array of
// strings. Every problem is a cause (InvalidSpec, 422) with its field path,
// e.g. "spec.configuration.migrations.parallelMigrationsPerCluster: must be > 0, got 0".
// Undecodable JSON or a non-object is 400 MalformedObject. Warnings: outbound
// per node above per cluster; a `migrations` field overriding a different
// `migrationConfiguration` value. DELETE of a KubeVirt is not judged here.
KubeVirtValidation ValidateKubeVirt(std::string_view json);
KubeVirtValidation ValidateKubeVirt(const rapidjson::Value& object);

}  // namespace api
