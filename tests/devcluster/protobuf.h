// Decoding of Kubernetes protobuf request bodies
// (Content-Type: application/vnd.kubernetes.protobuf) into the JSON object
// kube-apiserver would have decoded, so that devcluster's JSON code paths
// serve clients that write protobuf. Real kubectl (1.32) sends its typed
// creates this way: `kubectl create namespace|configmap|secret|serviceaccount`.
//
// Only the kinds below are understood, each with a hand-written field table
// taken from the kinds' generated.proto; there is no protobuf library behind
// this. Decoding is pure (no I/O, no globals that change) and thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tests/devcluster/json.h"

namespace devcluster {

// The media type of Kubernetes protobuf bodies.
inline constexpr std::string_view kProtobufMediaType = "application/vnd.kubernetes.protobuf";

// A kind DecodeProtobufObject understands. `api_version` is the exact
// apiVersion the envelope must name, or "*" when any apiVersion is accepted
// (meta/v1 DeleteOptions is registered in every group version).
struct ProtobufKind {
  std::string_view api_version;
  std::string_view kind;
};

// v1 Namespace, ConfigMap, Secret, ServiceAccount, Node, PersistentVolumeClaim,
// and DeleteOptions (any apiVersion).
const std::vector<ProtobufKind>& SupportedProtobufKinds();

// Decodes a Kubernetes protobuf body: the 4-byte magic "k8s\0" followed by a
// runtime.Unknown message whose typeMeta names apiVersion/kind and whose raw
// field holds the object. Returns the object as JSON with "apiVersion" and
// "kind" set from the envelope, fields named and shaped as in the kinds' Go
// JSON encoding (omitempty fields that are empty are left out; bytes are
// base64; meta/v1 Time is RFC 3339 in UTC to the second, nanos dropped as
// kube-apiserver does; a zero Time is left out; Quantity is its string).
// Unknown fields are skipped; ObjectMeta.managedFields and
// NodeStatus.config are not decoded. Invalid UTF-8 in strings is replaced by
// U+FFFD, as Go's JSON encoder would. A repeated non-repeated field takes the
// last value; a repeated embedded message is merged, as protobuf specifies.
//
// Errors (message names the field path, e.g. "ConfigMap.metadata.labels"):
//   400 BadRequest (InvalidArgument): missing magic, truncated or malformed
//     wire data, groups, wrong wire type for a known field, missing kind or
//     apiVersion, a non-empty contentEncoding, a Time outside years 0-9999.
//   415 UnsupportedMediaType (Unsupported): a kind (or apiVersion) not in
//     SupportedProtobufKinds(), or a contentType other than protobuf; the
//     message names the kind and says to send JSON instead.
base::StatusOr<std::unique_ptr<JsonDoc>> DecodeProtobufObject(std::string_view body);

}  // namespace devcluster
