#include "tests/devcluster/protobuf.h"

#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace devcluster {
namespace {

// ---------------------------------------------------------------------------
// Wire format.

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

// Reads one protobuf encoding from a byte range. Every read checks bounds; on
// failure it returns false and leaves `error()` saying why. The range must
// outlive the reader.
class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}

  bool done() const { return pos_ >= data_.size(); }
  const std::string& error() const { return error_; }

  bool ReadVarint(uint64_t* out) {
    uint64_t v = 0;
    // At most 10 bytes carry 64 bits; the tenth may only contribute one bit.
    for (int i = 0; i < 10; ++i) {
      if (pos_ >= data_.size()) return Fail("truncated varint");
      uint8_t b = static_cast<uint8_t>(data_[pos_++]);
      if (i == 9 && b > 1) return Fail("varint overflows 64 bits");
      v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
      if ((b & 0x80) == 0) {
        *out = v;
        return true;
      }
    }
    return Fail("varint overflows 64 bits");
  }

  bool ReadTag(uint32_t* field, uint32_t* wire_type) {
    uint64_t tag = 0;
    if (!ReadVarint(&tag)) return false;
    // Field numbers are 29 bits; 0 is not a field.
    if ((tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) return Fail("invalid field number " + std::to_string(tag >> 3));
    *field = static_cast<uint32_t>(tag >> 3);
    *wire_type = static_cast<uint32_t>(tag & 7);
    return true;
  }

  bool ReadLengthDelimited(std::string_view* out) {
    uint64_t len = 0;
    if (!ReadVarint(&len)) return false;
    // Compared as uint64_t so that a huge length cannot wrap the check.
    if (len > data_.size() - pos_) return Fail("length " + std::to_string(len) + " runs past the end of the data");
    *out = data_.substr(pos_, static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return true;
  }

  bool Skip(uint32_t wire_type) {
    uint64_t ignored = 0;
    std::string_view ignored_bytes;
    switch (wire_type) {
      case kVarint:
        return ReadVarint(&ignored);
      case kFixed64:
        return SkipBytes(8);
      case kLengthDelimited:
        return ReadLengthDelimited(&ignored_bytes);
      case kFixed32:
        return SkipBytes(4);
      case kStartGroup:
      case kEndGroup:
        // Nothing in the Kubernetes API uses groups; their bounds are only
        // known by parsing, so they are refused rather than skipped.
        return Fail("groups (wire type " + std::to_string(wire_type) + ") are not supported");
      default:
        return Fail("invalid wire type " + std::to_string(wire_type));
    }
  }

 private:
  bool SkipBytes(size_t n) {
    if (n > data_.size() - pos_) return Fail("truncated fixed-width field");
    pos_ += n;
    return true;
  }
  bool Fail(std::string why) {
    error_ = std::move(why);
    return false;
  }

  std::string_view data_;
  size_t pos_ = 0;
  std::string error_;
};

base::Status BadRequest(std::string message) {
  base::Status s = base::InvalidArgument(std::move(message));
  s.WithHttp(400, "BadRequest");
  return s;
}

base::Status UnsupportedMediaType(std::string message) {
  base::Status s = base::Unsupported(std::move(message));
  s.WithHttp(415, "UnsupportedMediaType");
  return s;
}

base::Status WireError(const std::string& path, const WireReader& r) {
  return BadRequest("invalid protobuf body: " + path + ": " + r.error());
}

// ---------------------------------------------------------------------------
// Value conversions.

// Go's encoding/json writes each byte of an invalid UTF-8 sequence as U+FFFD;
// doing the same here keeps the JSON documents devcluster stores valid.
std::string SanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    uint8_t b = static_cast<uint8_t>(s[i]);
    size_t len = 0;
    uint32_t min = 0;
    uint32_t cp = 0;
    if (b < 0x80) {
      out.push_back(static_cast<char>(b));
      ++i;
      continue;
    } else if ((b & 0xe0) == 0xc0) {
      len = 2, min = 0x80, cp = b & 0x1f;
    } else if ((b & 0xf0) == 0xe0) {
      len = 3, min = 0x800, cp = b & 0x0f;
    } else if ((b & 0xf8) == 0xf0) {
      len = 4, min = 0x10000, cp = b & 0x07;
    }
    bool valid = len != 0 && i + len <= s.size();
    for (size_t k = 1; valid && k < len; ++k) {
      uint8_t c = static_cast<uint8_t>(s[i + k]);
      if ((c & 0xc0) != 0x80) valid = false;
      cp = (cp << 6) | (c & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF.
    if (valid && (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)) valid = false;
    if (valid) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out.append("\xef\xbf\xbd");
      ++i;
    }
  }
  return out;
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t n =
        (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) | static_cast<uint8_t>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  size_t rest = in.size() - i;
  if (rest > 0) {
    uint32_t n = static_cast<uint8_t>(in[i]) << 16;
    if (rest == 2) n |= static_cast<uint8_t>(in[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// Unix seconds as "2006-01-02T15:04:05Z", the form metav1.Time takes in JSON.
// Go refuses to encode years outside 0-9999, so those are errors here too.
bool FormatRfc3339(int64_t seconds, std::string* out) {
  constexpr int64_t kMin = -62167219200;  // 0000-01-01T00:00:00Z
  constexpr int64_t kMax = 253402300799;  // 9999-12-31T23:59:59Z
  if (seconds < kMin || seconds > kMax) return false;
  int64_t days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400;
  int64_t rem = seconds - days * 86400;
  // Civil date from days since 1970-01-01 in the proleptic Gregorian
  // calendar, counting in 400-year eras that start on March 1st so that the
  // leap day is the last day of each year.
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t day = doy - (153 * mp + 2) / 5 + 1;
  int64_t month = mp < 10 ? mp + 3 : mp - 9;
  int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  // Every part is in range here (the year check above), so ints suffice.
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", static_cast<int>(year), static_cast<int>(month),
                static_cast<int>(day), static_cast<int>(rem / 3600), static_cast<int>(rem / 60 % 60),
                static_cast<int>(rem % 60));
  *out = buf;
  return true;
}

// ---------------------------------------------------------------------------
// Field tables.

enum class Type {
  kString,
  kBool,
  kInt64,
  kInt32,
  kTime,         // meta/v1 Time {1 seconds, 2 nanos}
  kMessage,      // embedded message, `message` describes it
  kStringList,   // repeated string
  kMessageList,  // repeated message
  kStringMap,    // map<string, string>
  kBytesMap,     // map<string, bytes>
  kQuantityMap,  // map<string, resource.Quantity>
};

// When a scalar is written to JSON. Go's encoding/json drops zero values of
// `omitempty` fields; pointer fields are sent on the wire only when set and
// appear in JSON whenever set; plain fields without omitempty always appear.
enum class Emit { kOmitEmpty, kIfPresent, kAlways };

struct MessageDef;

struct Field {
  uint32_t number;
  std::string_view json;
  Type type;
  Emit emit = Emit::kOmitEmpty;
  const MessageDef* message = nullptr;
};

struct MessageDef {
  std::string_view name;
  std::span<const Field> fields;
};

using enum Type;
using enum Emit;

// meta/v1 (k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto).
constexpr Field kOwnerReferenceFields[] = {
    {5, "apiVersion", kString, kAlways},  {1, "kind", kString, kAlways},
    {3, "name", kString, kAlways},        {4, "uid", kString, kAlways},
    {6, "controller", kBool, kIfPresent}, {7, "blockOwnerDeletion", kBool, kIfPresent},
};
constexpr MessageDef kOwnerReference{"OwnerReference", kOwnerReferenceFields};

constexpr Field kObjectMetaFields[] = {
    {1, "name", kString},
    {2, "generateName", kString},
    {3, "namespace", kString},
    {4, "selfLink", kString},
    {5, "uid", kString},
    {6, "resourceVersion", kString},
    {7, "generation", kInt64},
    {8, "creationTimestamp", kTime},
    {9, "deletionTimestamp", kTime},
    {10, "deletionGracePeriodSeconds", kInt64, kIfPresent},
    {11, "labels", kStringMap},
    {12, "annotations", kStringMap},
    {13, "ownerReferences", kMessageList, kOmitEmpty, &kOwnerReference},
    {14, "finalizers", kStringList},
};
constexpr MessageDef kObjectMeta{"ObjectMeta", kObjectMetaFields};

constexpr Field kPreconditionsFields[] = {
    {1, "uid", kString, kIfPresent},
    {2, "resourceVersion", kString, kIfPresent},
};
constexpr MessageDef kPreconditions{"Preconditions", kPreconditionsFields};

constexpr Field kDeleteOptionsFields[] = {
    {1, "gracePeriodSeconds", kInt64, kIfPresent},
    {2, "preconditions", kMessage, kIfPresent, &kPreconditions},
    {3, "orphanDependents", kBool, kIfPresent},
    {4, "propagationPolicy", kString, kIfPresent},
    {5, "dryRun", kStringList},
    {6, "ignoreStoreReadErrorWithClusterBreakingPotential", kBool, kIfPresent},
};
constexpr MessageDef kDeleteOptions{"DeleteOptions", kDeleteOptionsFields};

constexpr Field kLabelSelectorRequirementFields[] = {
    {1, "key", kString, kAlways},
    {2, "operator", kString, kAlways},
    {3, "values", kStringList},
};
constexpr MessageDef kLabelSelectorRequirement{"LabelSelectorRequirement", kLabelSelectorRequirementFields};

constexpr Field kLabelSelectorFields[] = {
    {1, "matchLabels", kStringMap},
    {2, "matchExpressions", kMessageList, kOmitEmpty, &kLabelSelectorRequirement},
};
constexpr MessageDef kLabelSelector{"LabelSelector", kLabelSelectorFields};

// core/v1 (k8s.io/api/core/v1/generated.proto).
constexpr Field kNamespaceConditionFields[] = {
    {1, "type", kString, kAlways}, {2, "status", kString, kAlways}, {4, "lastTransitionTime", kTime},
    {5, "reason", kString},        {6, "message", kString},
};
constexpr MessageDef kNamespaceCondition{"NamespaceCondition", kNamespaceConditionFields};

constexpr Field kNamespaceSpecFields[] = {{1, "finalizers", kStringList}};
constexpr MessageDef kNamespaceSpec{"NamespaceSpec", kNamespaceSpecFields};

constexpr Field kNamespaceStatusFields[] = {
    {1, "phase", kString},
    {2, "conditions", kMessageList, kOmitEmpty, &kNamespaceCondition},
};
constexpr MessageDef kNamespaceStatus{"NamespaceStatus", kNamespaceStatusFields};

constexpr Field kNamespaceFields[] = {
    {1, "metadata", kMessage, kIfPresent, &kObjectMeta},
    {2, "spec", kMessage, kIfPresent, &kNamespaceSpec},
    {3, "status", kMessage, kIfPresent, &kNamespaceStatus},
};
constexpr MessageDef kNamespace{"Namespace", kNamespaceFields};

constexpr Field kConfigMapFields[] = {
    {1, "metadata", kMessage, kIfPresent, &kObjectMeta},
    {4, "immutable", kBool, kIfPresent},
    {2, "data", kStringMap},
    {3, "binaryData", kBytesMap},
};
constexpr MessageDef kConfigMap{"ConfigMap", kConfigMapFields};

constexpr Field kSecretFields[] = {
    {1, "metadata", kMessage, kIfPresent, &kObjectMeta},
    {5, "immutable", kBool, kIfPresent},
    {2, "data", kBytesMap},
    {4, "stringData", kStringMap},
    {3, "type", kString},
};
constexpr MessageDef kSecret{"Secret", kSecretFields};

constexpr Field kObjectReferenceFields[] = {
    {1, "kind", kString},       {2, "namespace", kString},       {3, "name", kString},      {4, "uid", kString},
    {5, "apiVersion", kString}, {6, "resourceVersion", kString}, {7, "fieldPath", kString},
};
constexpr MessageDef kObjectReference{"ObjectReference", kObjectReferenceFields};

constexpr Field kLocalObjectReferenceFields[] = {{1, "name", kString}};
constexpr MessageDef kLocalObjectReference{"LocalObjectReference", kLocalObjectReferenceFields};

constexpr Field kServiceAccountFields[] = {
    {1, "metadata", kMessage, kIfPresent, &kObjectMeta},
    {2, "secrets", kMessageList, kOmitEmpty, &kObjectReference},
    {3, "imagePullSecrets", kMessageList, kOmitEmpty, &kLocalObjectReference},
    {4, "automountServiceAccountToken", kBool, kIfPresent},
};
constexpr MessageDef kServiceAccount{"ServiceAccount", kServiceAccountFields};

constexpr Field kTaintFields[] = {
    {1, "key", kString, kAlways},
    {2, "value", kString},
    {3, "effect", kString, kAlways},
    {4, "timeAdded", kTime},
};
constexpr MessageDef kTaint{"Taint", kTaintFields};

constexpr Field kConfigMapNodeConfigSourceFields[] = {
    {1, "namespace", kString, kAlways},
    {2, "name", kString, kAlways},
    {3, "uid", kString},
    {4, "resourceVersion", kString},
    {5, "kubeletConfigKey", kString, kAlways},
};
constexpr MessageDef kConfigMapNodeConfigSource{"ConfigMapNodeConfigSource", kConfigMapNodeConfigSourceFields};

constexpr Field kNodeConfigSourceFields[] = {
    {2, "configMap", kMessage, kIfPresent, &kConfigMapNodeConfigSource},
};
constexpr MessageDef kNodeConfigSource{"NodeConfigSource", kNodeConfigSourceFields};

constexpr Field kNodeSpecFields[] = {
    {1, "podCIDR", kString},
    {7, "podCIDRs", kStringList},
    {3, "providerID", kString},
    {4, "unschedulable", kBool},
    {5, "taints", kMessageList, kOmitEmpty, &kTaint},
    {6, "configSource", kMessage, kIfPresent, &kNodeConfigSource},
    {2, "externalID", kString},
};
constexpr MessageDef kNodeSpec{"NodeSpec", kNodeSpecFields};

constexpr Field kNodeConditionFields[] = {
    {1, "type", kString, kAlways},    {2, "status", kString, kAlways}, {3, "lastHeartbeatTime", kTime},
    {4, "lastTransitionTime", kTime}, {5, "reason", kString},          {6, "message", kString},
};
constexpr MessageDef kNodeCondition{"NodeCondition", kNodeConditionFields};

constexpr Field kNodeAddressFields[] = {{1, "type", kString, kAlways}, {2, "address", kString, kAlways}};
constexpr MessageDef kNodeAddress{"NodeAddress", kNodeAddressFields};

constexpr Field kDaemonEndpointFields[] = {{1, "Port", kInt32, kAlways}};
constexpr MessageDef kDaemonEndpoint{"DaemonEndpoint", kDaemonEndpointFields};

constexpr Field kNodeDaemonEndpointsFields[] = {{1, "kubeletEndpoint", kMessage, kIfPresent, &kDaemonEndpoint}};
constexpr MessageDef kNodeDaemonEndpoints{"NodeDaemonEndpoints", kNodeDaemonEndpointsFields};

constexpr Field kNodeSwapStatusFields[] = {{1, "capacity", kInt64, kIfPresent}};
constexpr MessageDef kNodeSwapStatus{"NodeSwapStatus", kNodeSwapStatusFields};

constexpr Field kNodeSystemInfoFields[] = {
    {1, "machineID", kString, kAlways},
    {2, "systemUUID", kString, kAlways},
    {3, "bootID", kString, kAlways},
    {4, "kernelVersion", kString, kAlways},
    {5, "osImage", kString, kAlways},
    {6, "containerRuntimeVersion", kString, kAlways},
    {7, "kubeletVersion", kString, kAlways},
    {8, "kubeProxyVersion", kString, kAlways},
    {9, "operatingSystem", kString, kAlways},
    {10, "architecture", kString, kAlways},
    {11, "swap", kMessage, kIfPresent, &kNodeSwapStatus},
};
constexpr MessageDef kNodeSystemInfo{"NodeSystemInfo", kNodeSystemInfoFields};

constexpr Field kContainerImageFields[] = {{1, "names", kStringList}, {2, "sizeBytes", kInt64}};
constexpr MessageDef kContainerImage{"ContainerImage", kContainerImageFields};

constexpr Field kAttachedVolumeFields[] = {{1, "name", kString, kAlways}, {2, "devicePath", kString, kAlways}};
constexpr MessageDef kAttachedVolume{"AttachedVolume", kAttachedVolumeFields};

constexpr Field kNodeRuntimeHandlerFeaturesFields[] = {
    {1, "recursiveReadOnlyMounts", kBool, kIfPresent},
    {2, "userNamespaces", kBool, kIfPresent},
};
constexpr MessageDef kNodeRuntimeHandlerFeatures{"NodeRuntimeHandlerFeatures", kNodeRuntimeHandlerFeaturesFields};

constexpr Field kNodeRuntimeHandlerFields[] = {
    {1, "name", kString, kAlways},
    {2, "features", kMessage, kIfPresent, &kNodeRuntimeHandlerFeatures},
};
constexpr MessageDef kNodeRuntimeHandler{"NodeRuntimeHandler", kNodeRuntimeHandlerFields};

constexpr Field kNodeFeaturesFields[] = {{1, "supplementalGroupsPolicy", kBool, kIfPresent}};
constexpr MessageDef kNodeFeatures{"NodeFeatures", kNodeFeaturesFields};

constexpr Field kNodeStatusFields[] = {
    {1, "capacity", kQuantityMap},
    {2, "allocatable", kQuantityMap},
    {3, "phase", kString},
    {4, "conditions", kMessageList, kOmitEmpty, &kNodeCondition},
    {5, "addresses", kMessageList, kOmitEmpty, &kNodeAddress},
    {6, "daemonEndpoints", kMessage, kIfPresent, &kNodeDaemonEndpoints},
    {7, "nodeInfo", kMessage, kIfPresent, &kNodeSystemInfo},
    {8, "images", kMessageList, kOmitEmpty, &kContainerImage},
    {9, "volumesInUse", kStringList},
    {10, "volumesAttached", kMessageList, kOmitEmpty, &kAttachedVolume},
    {12, "runtimeHandlers", kMessageList, kOmitEmpty, &kNodeRuntimeHandler},
    {13, "features", kMessage, kIfPresent, &kNodeFeatures},
};
constexpr MessageDef kNodeStatus{"NodeStatus", kNodeStatusFields};

constexpr Field kNodeFields[] = {
    {1, "metadata", kMessage, kIfPresent, &kObjectMeta},
    {2, "spec", kMessage, kIfPresent, &kNodeSpec},
    {3, "status", kMessage, kIfPresent, &kNodeStatus},
};
constexpr MessageDef kNode{"Node", kNodeFields};

constexpr Field kVolumeResourceRequirementsFields[] = {{1, "limits", kQuantityMap}, {2, "requests", kQuantityMap}};
constexpr MessageDef kVolumeResourceRequirements{"VolumeResourceRequirements", kVolumeResourceRequirementsFields};

constexpr Field kTypedLocalObjectReferenceFields[] = {
    {1, "apiGroup", kString, kIfPresent},
    {2, "kind", kString, kAlways},
    {3, "name", kString, kAlways},
};
constexpr MessageDef kTypedLocalObjectReference{"TypedLocalObjectReference", kTypedLocalObjectReferenceFields};

constexpr Field kTypedObjectReferenceFields[] = {
    {1, "apiGroup", kString, kIfPresent},
    {2, "kind", kString, kAlways},
    {3, "name", kString, kAlways},
    {4, "namespace", kString, kIfPresent},
};
constexpr MessageDef kTypedObjectReference{"TypedObjectReference", kTypedObjectReferenceFields};

constexpr Field kPersistentVolumeClaimSpecFields[] = {
    {1, "accessModes", kStringList},
    {4, "selector", kMessage, kIfPresent, &kLabelSelector},
    {2, "resources", kMessage, kIfPresent, &kVolumeResourceRequirements},
    {3, "volumeName", kString},
    {5, "storageClassName", kString, kIfPresent},
    {6, "volumeMode", kString, kIfPresent},
    {7, "dataSource", kMessage, kIfPresent, &kTypedLocalObjectReference},
    {8, "dataSourceRef", kMessage, kIfPresent, &kTypedObjectReference},
    {9, "volumeAttributesClassName", kString, kIfPresent},
};
constexpr MessageDef kPersistentVolumeClaimSpec{"PersistentVolumeClaimSpec", kPersistentVolumeClaimSpecFields};

constexpr Field kPersistentVolumeClaimConditionFields[] = {
    {1, "type", kString, kAlways},    {2, "status", kString, kAlways}, {3, "lastProbeTime", kTime},
    {4, "lastTransitionTime", kTime}, {5, "reason", kString},          {6, "message", kString},
};
constexpr MessageDef kPersistentVolumeClaimCondition{"PersistentVolumeClaimCondition",
                                                     kPersistentVolumeClaimConditionFields};

constexpr Field kModifyVolumeStatusFields[] = {
    {1, "targetVolumeAttributesClassName", kString},
    {2, "status", kString, kAlways},
};
constexpr MessageDef kModifyVolumeStatus{"ModifyVolumeStatus", kModifyVolumeStatusFields};

constexpr Field kPersistentVolumeClaimStatusFields[] = {
    {1, "phase", kString},
    {2, "accessModes", kStringList},
    {3, "capacity", kQuantityMap},
    {4, "conditions", kMessageList, kOmitEmpty, &kPersistentVolumeClaimCondition},
    {5, "allocatedResources", kQuantityMap},
    {7, "allocatedResourceStatuses", kStringMap},
    {8, "currentVolumeAttributesClassName", kString, kIfPresent},
    {9, "modifyVolumeStatus", kMessage, kIfPresent, &kModifyVolumeStatus},
};
constexpr MessageDef kPersistentVolumeClaimStatus{"PersistentVolumeClaimStatus", kPersistentVolumeClaimStatusFields};

constexpr Field kPersistentVolumeClaimFields[] = {
    {1, "metadata", kMessage, kIfPresent, &kObjectMeta},
    {2, "spec", kMessage, kIfPresent, &kPersistentVolumeClaimSpec},
    {3, "status", kMessage, kIfPresent, &kPersistentVolumeClaimStatus},
};
constexpr MessageDef kPersistentVolumeClaim{"PersistentVolumeClaim", kPersistentVolumeClaimFields};

struct KindDef {
  ProtobufKind kind;
  const MessageDef* message;
};

constexpr KindDef kKinds[] = {
    {{"v1", "Namespace"}, &kNamespace},
    {{"v1", "ConfigMap"}, &kConfigMap},
    {{"v1", "Secret"}, &kSecret},
    {{"v1", "ServiceAccount"}, &kServiceAccount},
    {{"v1", "Node"}, &kNode},
    {{"v1", "PersistentVolumeClaim"}, &kPersistentVolumeClaim},
    {{"*", "DeleteOptions"}, &kDeleteOptions},
};

// ---------------------------------------------------------------------------
// Decoding.

Json MakeString(std::string_view s, Alloc& a) {
  std::string clean = SanitizeUtf8(s);
  return Json(clean.c_str(), static_cast<rapidjson::SizeType>(clean.size()), a);
}

// Sets obj[key] = value, replacing an earlier value (protobuf: last one wins).
void Put(Json& obj, std::string_view key, Json value, Alloc& a) {
  Json* m = Member(obj, key);
  if (m != nullptr) {
    *m = value;
  } else {
    obj.AddMember(Json(key.data(), static_cast<rapidjson::SizeType>(key.size()), a), value, a);
  }
}

void Drop(Json& obj, std::string_view key) {
  obj.RemoveMember(Json(rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size()))));
}

bool ExpectWireType(uint32_t got, uint32_t want, const std::string& path, base::Status* status) {
  if (got == want) return true;
  *status = BadRequest("invalid protobuf body: " + path + ": wrong wire type " + std::to_string(got) + " (want " +
                       std::to_string(want) + ")");
  return false;
}

// A meta/v1 Time payload. An empty payload is the zero Time (kube-apiserver's
// Time.Unmarshal); otherwise only seconds count, nanos are dropped.
base::Status DecodeTime(std::string_view payload, const std::string& path, std::optional<std::string>* out) {
  if (payload.empty()) {
    out->reset();
    return base::Status::Ok();
  }
  WireReader r(payload);
  int64_t seconds = 0;
  while (!r.done()) {
    uint32_t field = 0, wt = 0;
    if (!r.ReadTag(&field, &wt)) return WireError(path, r);
    if (field == 1 || field == 2) {
      base::Status st;
      if (!ExpectWireType(wt, kVarint, path + (field == 1 ? ".seconds" : ".nanos"), &st)) return st;
      uint64_t v = 0;
      if (!r.ReadVarint(&v)) return WireError(path, r);
      if (field == 1) seconds = static_cast<int64_t>(v);
    } else if (!r.Skip(wt)) {
      return WireError(path, r);
    }
  }
  std::string text;
  if (!FormatRfc3339(seconds, &text)) {
    return BadRequest("invalid protobuf body: " + path + ": time " + std::to_string(seconds) +
                      " is outside the years 0-9999");
  }
  *out = std::move(text);
  return base::Status::Ok();
}

// A map entry {1 key, 2 value}. For Quantity values the value is itself a
// message {1 string}; a missing key or value is the empty string.
base::Status DecodeMapEntry(std::string_view payload, Type type, const std::string& path, std::string* key,
                            std::string* value) {
  WireReader r(payload);
  while (!r.done()) {
    uint32_t field = 0, wt = 0;
    if (!r.ReadTag(&field, &wt)) return WireError(path, r);
    if (field != 1 && field != 2) {
      if (!r.Skip(wt)) return WireError(path, r);
      continue;
    }
    base::Status st;
    if (!ExpectWireType(wt, kLengthDelimited, path + (field == 1 ? " key" : " value"), &st)) return st;
    std::string_view bytes;
    if (!r.ReadLengthDelimited(&bytes)) return WireError(path, r);
    if (field == 1) {
      *key = bytes;
    } else if (type != kQuantityMap) {
      *value = bytes;
    } else {
      WireReader q(bytes);
      while (!q.done()) {
        uint32_t qf = 0, qwt = 0;
        if (!q.ReadTag(&qf, &qwt)) return WireError(path, q);
        if (qf != 1) {
          if (!q.Skip(qwt)) return WireError(path, q);
          continue;
        }
        if (!ExpectWireType(qwt, kLengthDelimited, path + " value.string", &st)) return st;
        std::string_view s;
        if (!q.ReadLengthDelimited(&s)) return WireError(path, q);
        *value = s;
      }
    }
  }
  return base::Status::Ok();
}

uint32_t WantWireType(Type t) {
  switch (t) {
    case kBool:
    case kInt64:
    case kInt32:
      return kVarint;
    default:
      return kLengthDelimited;
  }
}

// Decodes one message into the JSON object `out`. The message's encoding is
// given as segments because protobuf merges repeated occurrences of a
// singular embedded message: decoding the concatenation of their payloads is
// the defined result, and collecting them first keeps the work linear in the
// body size however often a field repeats.
base::Status DecodeMessage(std::span<const std::string_view> segments, const MessageDef& def, const std::string& path,
                           Json& out, Alloc& a) {
  const size_t n = def.fields.size();
  std::vector<std::vector<std::string_view>> messages(n);
  std::vector<bool> message_seen(n, false);
  std::vector<std::map<std::string, std::string>> maps(n);

  for (std::string_view segment : segments) {
    WireReader r(segment);
    while (!r.done()) {
      uint32_t number = 0, wt = 0;
      if (!r.ReadTag(&number, &wt)) return WireError(path, r);
      size_t idx = n;
      for (size_t i = 0; i < n; ++i) {
        if (def.fields[i].number == number) idx = i;
      }
      if (idx == n) {
        if (!r.Skip(wt)) return WireError(path + " field " + std::to_string(number), r);
        continue;
      }
      const Field& f = def.fields[idx];
      const std::string fpath = path + "." + std::string(f.json);
      base::Status st;
      if (!ExpectWireType(wt, WantWireType(f.type), fpath, &st)) return st;

      if (wt == kVarint) {
        uint64_t v = 0;
        if (!r.ReadVarint(&v)) return WireError(fpath, r);
        Json value;
        bool zero = v == 0;
        if (f.type == kBool) {
          value.SetBool(v != 0);
        } else if (f.type == kInt64) {
          value.SetInt64(static_cast<int64_t>(v));
        } else {
          // int32 is sent sign-extended to 64 bits; Go keeps the low 32.
          int32_t v32 = static_cast<int32_t>(static_cast<uint32_t>(v));
          zero = v32 == 0;
          value.SetInt(v32);
        }
        if (zero && f.emit == kOmitEmpty) {
          Drop(out, f.json);
        } else {
          Put(out, f.json, std::move(value), a);
        }
        continue;
      }

      std::string_view bytes;
      if (!r.ReadLengthDelimited(&bytes)) return WireError(fpath, r);
      switch (f.type) {
        case kString:
          if (bytes.empty() && f.emit == kOmitEmpty) {
            Drop(out, f.json);
          } else {
            Put(out, f.json, MakeString(bytes, a), a);
          }
          break;
        case kTime: {
          std::optional<std::string> text;
          if (base::Status ts = DecodeTime(bytes, fpath, &text); !ts.ok()) return ts;
          if (text.has_value()) {
            Put(out, f.json, MakeString(*text, a), a);
          } else {
            Drop(out, f.json);
          }
          break;
        }
        case kMessage:
          message_seen[idx] = true;
          messages[idx].push_back(bytes);
          break;
        case kStringList:
        case kMessageList: {
          Json* list = Member(out, f.json);
          if (list == nullptr || !list->IsArray()) {
            Put(out, f.json, Json(rapidjson::kArrayType), a);
            list = Member(out, f.json);
          }
          if (f.type == kStringList) {
            list->PushBack(MakeString(bytes, a), a);
          } else {
            Json item(rapidjson::kObjectType);
            const std::string ipath = fpath + "[" + std::to_string(list->Size()) + "]";
            if (base::Status is = DecodeMessage(std::span(&bytes, 1), *f.message, ipath, item, a); !is.ok()) {
              return is;
            }
            list->PushBack(item, a);
          }
          break;
        }
        case kStringMap:
        case kBytesMap:
        case kQuantityMap: {
          std::string key, value;
          if (base::Status ms = DecodeMapEntry(bytes, f.type, fpath, &key, &value); !ms.ok()) return ms;
          maps[idx][std::move(key)] = std::move(value);
          break;
        }
        default:
          break;
      }
    }
  }

  for (size_t i = 0; i < n; ++i) {
    const Field& f = def.fields[i];
    if (message_seen[i]) {
      Json* child = Member(out, f.json);
      if (child == nullptr || !child->IsObject()) {
        Put(out, f.json, Json(rapidjson::kObjectType), a);
        child = Member(out, f.json);
      }
      const std::string cpath = path + "." + std::string(f.json);
      if (base::Status cs = DecodeMessage(messages[i], *f.message, cpath, *child, a); !cs.ok()) return cs;
    } else if (!maps[i].empty()) {
      Json obj(rapidjson::kObjectType);
      for (const auto& [key, value] : maps[i]) {
        obj.AddMember(MakeString(key, a), f.type == kBytesMap ? MakeString(Base64(value), a) : MakeString(value, a), a);
      }
      Put(out, f.json, std::move(obj), a);
    } else if (f.emit == kAlways && Member(out, f.json) == nullptr) {
      if (f.type == kString) Put(out, f.json, Json(rapidjson::StringRef("")), a);
      if (f.type == kInt32 || f.type == kInt64) Put(out, f.json, Json(0), a);
      if (f.type == kBool) Put(out, f.json, Json(false), a);
    }
  }
  return base::Status::Ok();
}

// runtime.Unknown (k8s.io/apimachinery/pkg/runtime/generated.proto):
// 1 typeMeta {1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding, 4 contentType.
struct Envelope {
  std::string api_version;
  std::string kind;
  std::string_view raw;
  std::string content_encoding;
  std::string content_type;
};

base::Status DecodeEnvelope(std::string_view data, Envelope* env) {
  WireReader r(data);
  while (!r.done()) {
    uint32_t field = 0, wt = 0;
    if (!r.ReadTag(&field, &wt)) return WireError("Unknown", r);
    if (field < 1 || field > 4) {
      if (!r.Skip(wt)) return WireError("Unknown", r);
      continue;
    }
    base::Status st;
    if (!ExpectWireType(wt, kLengthDelimited, "Unknown field " + std::to_string(field), &st)) return st;
    std::string_view bytes;
    if (!r.ReadLengthDelimited(&bytes)) return WireError("Unknown", r);
    if (field == 1) {
      WireReader t(bytes);
      while (!t.done()) {
        uint32_t tf = 0, twt = 0;
        if (!t.ReadTag(&tf, &twt)) return WireError("Unknown.typeMeta", t);
        if (tf != 1 && tf != 2) {
          if (!t.Skip(twt)) return WireError("Unknown.typeMeta", t);
          continue;
        }
        if (!ExpectWireType(twt, kLengthDelimited, tf == 1 ? "Unknown.typeMeta.apiVersion" : "Unknown.typeMeta.kind",
                            &st)) {
          return st;
        }
        std::string_view s;
        if (!t.ReadLengthDelimited(&s)) return WireError("Unknown.typeMeta", t);
        (tf == 1 ? env->api_version : env->kind) = SanitizeUtf8(s);
      }
    } else if (field == 2) {
      env->raw = bytes;
    } else if (field == 3) {
      env->content_encoding = SanitizeUtf8(bytes);
    } else {
      env->content_type = SanitizeUtf8(bytes);
    }
  }
  return base::Status::Ok();
}

}  // namespace

const std::vector<ProtobufKind>& SupportedProtobufKinds() {
  static const std::vector<ProtobufKind> kList = [] {
    std::vector<ProtobufKind> v;
    for (const KindDef& k : kKinds) v.push_back(k.kind);
    return v;
  }();
  return kList;
}

base::StatusOr<std::unique_ptr<JsonDoc>> DecodeProtobufObject(std::string_view body) {
  static constexpr std::string_view kMagic("k8s\0", 4);
  if (body.substr(0, kMagic.size()) != kMagic) {
    return BadRequest("invalid protobuf body: it does not start with the 4-byte prefix \"k8s\\x00\"");
  }
  Envelope env;
  if (base::Status s = DecodeEnvelope(body.substr(kMagic.size()), &env); !s.ok()) return s;
  if (env.kind.empty()) return BadRequest("Object 'Kind' is missing in the protobuf body");
  if (env.api_version.empty()) return BadRequest("Object 'apiVersion' is missing in the protobuf body");
  if (!env.content_encoding.empty()) {
    return BadRequest("invalid protobuf body: contentEncoding \"" + env.content_encoding + "\" is not supported");
  }
  if (!env.content_type.empty() && env.content_type != kProtobufMediaType) {
    return UnsupportedMediaType("protobuf envelope with contentType \"" + env.content_type +
                                "\" is not supported; send the object as application/json");
  }
  const MessageDef* def = nullptr;
  for (const KindDef& k : kKinds) {
    if (k.kind.kind == env.kind && (k.kind.api_version == "*" || k.kind.api_version == env.api_version)) {
      def = k.message;
    }
  }
  if (def == nullptr) {
    return UnsupportedMediaType("devcluster cannot decode " + env.api_version + ", Kind=" + env.kind +
                                " from protobuf (application/vnd.kubernetes.protobuf); send it as application/json");
  }

  auto doc = std::make_unique<JsonDoc>();
  doc->SetObject();
  Alloc& a = doc->GetAllocator();
  Put(*doc, "apiVersion", MakeString(env.api_version, a), a);
  Put(*doc, "kind", MakeString(env.kind, a), a);
  if (base::Status s = DecodeMessage(std::span(&env.raw, 1), *def, env.kind, *doc, a); !s.ok()) return s;
  return doc;
}

}  // namespace devcluster
