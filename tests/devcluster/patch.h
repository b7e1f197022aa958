// The three patch formats kube-apiserver accepts on PATCH, with its results
// and its errors:
//   application/merge-patch+json            ApplyMergePatch          (RFC 7386)
//   application/json-patch+json             ApplyJsonPatch           (RFC 6902)
//   application/strategic-merge-patch+json  ApplyStrategicMergePatch (built-in kinds only)
//
// All functions are pure and atomic: on error `target` is left unchanged. The
// returned Status carries the HTTP code and reason kube-apiserver answers with;
// `target` is always the stored object, an object.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "base/status.h"
#include "tests/devcluster/json.h"

namespace devcluster {

// RFC 7386 as kube-apiserver applies it (evanphx/json-patch MergePatch):
// null deletes, objects merge recursively, anything else replaces; nulls inside
// newly added objects are dropped. An array patch replaces the whole document
// (the caller's decode then fails, as on a real server). Errors: a null or
// scalar patch -> 400 BadRequest "Invalid JSON Patch".
base::Status ApplyMergePatch(JsonDoc& target, const Json& patch);

// RFC 6902 as kube-apiserver applies it (evanphx/json-patch v4, which is
// what the apiserver links): add, remove, replace, move, copy, test; JSON
// Pointer with ~0/~1, "-" appends, negative array indices count from the end,
// a missing "value" means null, `test` of an absent path against null passes.
// Errors:
//   - `ops` not an array of objects -> 400 BadRequest
//     ("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
//   - more than 10000 operations -> 413 RequestEntityTooLarge;
//   - any operation that does not apply (unknown op, missing path, failed
//     test, bad index) -> 422 Invalid with the apiserver's fixed message
//     "the server rejected our request due to an error in our request"
//     (the apiserver hides the library's reason). That reason, e.g.
//     `testing value /spec/x failed: test failed`, is stored in `*why` when
//     `why` is not null, for logs and tests.
base::Status ApplyJsonPatch(JsonDoc& target, const Json& ops, std::string* why = nullptr);

// Strategic merge patch metadata: the dotted path of a list field from the
// object's root, list elements adding no component (e.g. "webhooks",
// "metadata.ownerReferences", "webhooks.rules"), mapped to its merge key
// ("name", "uid", "type", ...) or "" for a list of primitives merged as a set.
// A list whose path is absent has the default strategy: the patch replaces it.
using MergeKeys = std::map<std::string, std::string, std::less<>>;

// The patch strategies of the built-in kinds devcluster serves (Namespace,
// Node, PersistentVolumeClaim, PersistentVolume, Event, Lease, ConfigMap,
// Secret, ServiceAccount, ValidatingWebhookConfiguration), shared by all kinds
// since their paths do not collide. Taken from the Go types' patchStrategy tags;
// e.g. Node spec.taints and ServiceAccount imagePullSecrets have none there, so
// they are replaced, as on a real server.
const MergeKeys& BuiltinMergeKeys();

// Kubernetes strategic merge patch with the options kube-apiserver uses
// (MergeParallelList, IgnoreUnmatchedNulls): null deletes a key; maps merge;
// lists with an entry in `keys` merge by key (or as a set of primitives) and
// keep the server's order for items the patch does not mention; other lists
// are replaced. Directives: `$patch: replace|delete` in maps, `$patch:
// replace|delete` items in keyed lists, `$setElementOrder/F`,
// `$deleteFromPrimitiveList/F`, `$retainKeys`.
// Errors, with the apiserver's codes:
//   - patch not an object -> 400 ("json: cannot unmarshal ... map[string]interface {}");
//   - malformed $retainKeys / $setElementOrder / primitive list -> 400 BadRequest;
//   - list of lists -> 422 Invalid;
//   - `$patch: merge`, unknown `$patch`, list item without its merge key, mixed
//     list element types -> 500 with reason "" (the apiserver returns the raw
//     library error for these).
base::Status ApplyStrategicMergePatch(JsonDoc& target, const Json& patch, const MergeKeys& keys);

}  // namespace devcluster
