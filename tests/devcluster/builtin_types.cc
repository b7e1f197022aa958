#include "tests/devcluster/builtin_types.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <regex>
#include <set>

#include "tests/devcluster/selector.h"

namespace devcluster {
namespace {

// ---------------------------------------------------------------------------
// Go's time.Parse, for the two fixed layouts. The layouts are spelled out as
// (literal prefix, element) chunks, the way time.nextStdChunk splits them.

enum class Elem { kYear, kMonth, kDay, kHour, kMinute, kSecond, kMicros, kZone, kEnd };

struct Chunk {
  std::string_view prefix;
  std::string_view text;
  Elem elem;
};

constexpr Chunk kRfc3339Chunks[] = {{"", "2006", Elem::kYear},   {"-", "01", Elem::kMonth},
                                    {"-", "02", Elem::kDay},     {"T", "15", Elem::kHour},
                                    {":", "04", Elem::kMinute},  {":", "05", Elem::kSecond},
                                    {"", "Z07:00", Elem::kZone}, {"", "", Elem::kEnd}};
constexpr Chunk kMicroChunks[] = {
    {"", "2006", Elem::kYear},      {"-", "01", Elem::kMonth},   {"-", "02", Elem::kDay},
    {"T", "15", Elem::kHour},       {":", "04", Elem::kMinute},  {":", "05", Elem::kSecond},
    {"", ".000000", Elem::kMicros}, {"", "Z07:00", Elem::kZone}, {"", "", Elem::kEnd}};

// time's quote(): double quotes, with backslash escapes for quotes, backslashes and control bytes.
std::string TimeQuote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

bool IsDigitAt(std::string_view s, size_t i) { return i < s.size() && s[i] >= '0' && s[i] <= '9'; }

// time.getnum: one or two digits (exactly two when `fixed`).
bool GetNum(std::string_view& s, bool fixed, int* out) {
  if (!IsDigitAt(s, 0)) return false;
  if (!IsDigitAt(s, 1)) {
    if (fixed) return false;
    *out = s[0] - '0';
    s.remove_prefix(1);
    return true;
  }
  *out = (s[0] - '0') * 10 + (s[1] - '0');
  s.remove_prefix(2);
  return true;
}

int DaysIn(int month, int year) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) return 29;
  return kDays[month - 1];
}

}  // namespace

std::optional<std::string> GoTimeParseError(std::string_view layout, std::string_view value) {
  const Chunk* chunks = layout == kRfc3339MicroLayout ? kMicroChunks : kRfc3339Chunks;
  const std::string head = "parsing time " + TimeQuote(value);
  auto cannot = [&](std::string_view value_elem, std::string_view layout_elem) {
    return head + " as " + TimeQuote(layout) + ": cannot parse " + TimeQuote(value_elem) + " as " +
           TimeQuote(layout_elem);
  };
  std::string_view v = value;
  int year = 0, month = 0, day = 0;
  for (const Chunk* c = chunks;; ++c) {
    if (v.substr(0, c->prefix.size()) != c->prefix) return cannot(v, c->prefix);
    v.remove_prefix(c->prefix.size());
    if (c->elem == Elem::kEnd) {
      if (!v.empty()) return head + ": extra text: " + TimeQuote(v);
      break;
    }
    const std::string_view hold = v;
    bool ok = true;
    std::string range;
    int n = 0;
    switch (c->elem) {
      case Elem::kYear:
        ok = v.size() >= 4 && IsDigitAt(v, 0) && IsDigitAt(v, 1) && IsDigitAt(v, 2) &&
             IsDigitAt(v, 3);
        if (ok) {
          year = std::stoi(std::string(v.substr(0, 4)));
          v.remove_prefix(4);
        }
        break;
      case Elem::kMonth:
        ok = GetNum(v, true, &month);
        if (ok && (month < 1 || month > 12)) range = "month";
        break;
      case Elem::kDay: ok = GetNum(v, true, &day); break;
      case Elem::kHour:
        ok = GetNum(v, false, &n);
        if (ok && n >= 24) range = "hour";
        break;
      case Elem::kMinute:
        ok = GetNum(v, true, &n);
        if (ok && n >= 60) range = "minute";
        break;
      case Elem::kSecond:
        ok = GetNum(v, true, &n);
        if (ok && n >= 60) {
          range = "second";
        } else if (ok && c[1].elem != Elem::kMicros && v.size() >= 2 &&
                   (v[0] == '.' || v[0] == ',') && IsDigitAt(v, 1)) {
          // A fractional second the layout does not name is accepted (RFC 3339).
          size_t end = 2;
          while (IsDigitAt(v, end)) ++end;
          v.remove_prefix(end);
        }
        break;
      case Elem::kMicros:
        // stdFracSecond0: exactly as many digits as the layout has.
        ok = v.size() >= 7 && (v[0] == '.' || v[0] == ',');
        for (size_t i = 1; ok && i < 7; ++i) ok = IsDigitAt(v, i);
        if (ok) v.remove_prefix(7);
        break;
      case Elem::kZone: {
        if (!v.empty() && v[0] == 'Z') {
          v.remove_prefix(1);
          break;
        }
        ok = v.size() >= 6 && v[3] == ':';
        int hr = 0, mm = 0;
        if (ok) {
          std::string_view h = v.substr(1, 2), m = v.substr(4, 2);
          ok = GetNum(h, true, &hr) && GetNum(m, true, &mm) && (v[0] == '+' || v[0] == '-');
          if (hr > 24) range = "time zone offset hour";
          if (mm > 60) range = "time zone offset minute";
          v.remove_prefix(6);
        }
        break;
      }
      case Elem::kEnd: break;
    }
    if (!range.empty()) return head + ": " + range + " out of range";
    if (!ok) return cannot(hold, c->text);
  }
  if (day < 1 || day > DaysIn(month, year)) return head + ": day out of range";
  return std::nullopt;
}

namespace {

// ---------------------------------------------------------------------------
// The Go types. A GoType is a struct (fields), a map or slice (elem), or a
// scalar with its own decoding rules. `name` is reflect.Type.String(), what
// encoding/json's UnmarshalTypeError prints ("int32", "v1.LeaseSpec").

enum class Kind {
  kString,
  kInt32,
  kInt64,
  kBool,
  kTime,
  kMicroTime,
  kQuantity,
  kBytes,
  kStruct,
  kMap,
  kSlice
};

struct GoType;

struct GoField {
  const char* json;
  const GoType* type;
};

struct GoType {
  Kind kind;
  std::string name;
  std::vector<GoField> fields;   // kStruct
  const GoType* elem = nullptr;  // kMap, kSlice
};

const GoType* Scalar(Kind k, std::string name) {
  return new GoType{k, std::move(name), {}, nullptr};
}
const GoType* Struct(std::string name, std::vector<GoField> fields) {
  return new GoType{Kind::kStruct, std::move(name), std::move(fields), nullptr};
}
const GoType* MapOf(std::string name, const GoType* elem) {
  return new GoType{Kind::kMap, std::move(name), {}, elem};
}
const GoType* SliceOf(const GoType* elem) {
  return new GoType{Kind::kSlice, "[]" + elem->name, {}, elem};
}

struct Types {
  const GoType* lease;
  const GoType* core_event;
  const GoType* events_event;
  const GoType* node;
  const GoType* config_map;
};

// Built once, never freed (the process lives as long as the types are used).
const Types& AllTypes() {
  static const Types kTypes = [] {
    const GoType* str = Scalar(Kind::kString, "string");
    const GoType* i32 = Scalar(Kind::kInt32, "int32");
    const GoType* i64 = Scalar(Kind::kInt64, "int64");
    const GoType* boolean = Scalar(Kind::kBool, "bool");
    const GoType* time = Scalar(Kind::kTime, "v1.Time");
    const GoType* micro = Scalar(Kind::kMicroTime, "v1.MicroTime");
    const GoType* quantity = Scalar(Kind::kQuantity, "resource.Quantity");
    const GoType* bytes = Scalar(Kind::kBytes, "[]uint8");
    auto named = [](const char* n) { return Scalar(Kind::kString, n); };
    // ObjectMeta: only its field names matter here (its values are checked by ValidateMeta).
    const GoType* meta = Struct("v1.ObjectMeta", {});
    const GoType* uid = named("types.UID");

    const GoType* object_ref = Struct("v1.ObjectReference", {{"kind", str},
                                                             {"namespace", str},
                                                             {"name", str},
                                                             {"uid", uid},
                                                             {"apiVersion", str},
                                                             {"resourceVersion", str},
                                                             {"fieldPath", str}});
    const GoType* event_source = Struct("v1.EventSource", {{"component", str}, {"host", str}});
    const GoType* core_series =
        Struct("v1.EventSeries", {{"count", i32}, {"lastObservedTime", micro}});
    const GoType* core_event = Struct("v1.Event", {{"apiVersion", str},
                                                   {"kind", str},
                                                   {"metadata", meta},
                                                   {"involvedObject", object_ref},
                                                   {"reason", str},
                                                   {"message", str},
                                                   {"source", event_source},
                                                   {"firstTimestamp", time},
                                                   {"lastTimestamp", time},
                                                   {"count", i32},
                                                   {"type", str},
                                                   {"eventTime", micro},
                                                   {"series", core_series},
                                                   {"action", str},
                                                   {"related", object_ref},
                                                   {"reportingComponent", str},
                                                   {"reportingInstance", str}});
    const GoType* events_series =
        Struct("v1.EventSeries", {{"count", i32}, {"lastObservedTime", micro}});
    const GoType* events_event = Struct("v1.Event", {{"apiVersion", str},
                                                     {"kind", str},
                                                     {"metadata", meta},
                                                     {"eventTime", micro},
                                                     {"series", events_series},
                                                     {"reportingController", str},
                                                     {"reportingInstance", str},
                                                     {"action", str},
                                                     {"reason", str},
                                                     {"regarding", object_ref},
                                                     {"related", object_ref},
                                                     {"note", str},
                                                     {"type", str},
                                                     {"deprecatedSource", event_source},
                                                     {"deprecatedFirstTimestamp", time},
                                                     {"deprecatedLastTimestamp", time},
                                                     {"deprecatedCount", i32}});

    const GoType* lease_spec =
        Struct("v1.LeaseSpec", {{"holderIdentity", str},
                                {"leaseDurationSeconds", i32},
                                {"acquireTime", micro},
                                {"renewTime", micro},
                                {"leaseTransitions", i32},
                                {"strategy", named("v1.CoordinatedLeaseStrategy")},
                                {"preferredHolder", str}});
    const GoType* lease = Struct(
        "v1.Lease", {{"apiVersion", str}, {"kind", str}, {"metadata", meta}, {"spec", lease_spec}});

    const GoType* config_map =
        Struct("v1.ConfigMap", {{"apiVersion", str},
                                {"kind", str},
                                {"metadata", meta},
                                {"immutable", boolean},
                                {"data", MapOf("map[string]string", str)},
                                {"binaryData", MapOf("map[string][]uint8", bytes)}});

    const GoType* cm_source = Struct("v1.ConfigMapNodeConfigSource", {{"namespace", str},
                                                                      {"name", str},
                                                                      {"uid", uid},
                                                                      {"resourceVersion", str},
                                                                      {"kubeletConfigKey", str}});
    const GoType* config_source = Struct("v1.NodeConfigSource", {{"configMap", cm_source}});
    const GoType* taint = Struct(
        "v1.Taint",
        {{"key", str}, {"value", str}, {"effect", named("v1.TaintEffect")}, {"timeAdded", time}});
    const GoType* node_spec = Struct("v1.NodeSpec", {{"podCIDR", str},
                                                     {"podCIDRs", SliceOf(str)},
                                                     {"providerID", str},
                                                     {"unschedulable", boolean},
                                                     {"taints", SliceOf(taint)},
                                                     {"configSource", config_source},
                                                     {"externalID", str}});
    const GoType* resources = MapOf("v1.ResourceList", quantity);
    const GoType* condition = Struct("v1.NodeCondition", {{"type", named("v1.NodeConditionType")},
                                                          {"status", named("v1.ConditionStatus")},
                                                          {"lastHeartbeatTime", time},
                                                          {"lastTransitionTime", time},
                                                          {"reason", str},
                                                          {"message", str}});
    const GoType* address =
        Struct("v1.NodeAddress", {{"type", named("v1.NodeAddressType")}, {"address", str}});
    const GoType* endpoints =
        Struct("v1.NodeDaemonEndpoints",
               {{"kubeletEndpoint", Struct("v1.DaemonEndpoint", {{"Port", i32}})}});
    const GoType* swap = Struct("v1.NodeSwapStatus", {{"capacity", i64}});
    const GoType* info = Struct("v1.NodeSystemInfo", {{"machineID", str},
                                                      {"systemUUID", str},
                                                      {"bootID", str},
                                                      {"kernelVersion", str},
                                                      {"osImage", str},
                                                      {"containerRuntimeVersion", str},
                                                      {"kubeletVersion", str},
                                                      {"kubeProxyVersion", str},
                                                      {"operatingSystem", str},
                                                      {"architecture", str},
                                                      {"swap", swap}});
    const GoType* image =
        Struct("v1.ContainerImage", {{"names", SliceOf(str)}, {"sizeBytes", i64}});
    const GoType* volume_name = named("v1.UniqueVolumeName");
    const GoType* attached =
        Struct("v1.AttachedVolume", {{"name", volume_name}, {"devicePath", str}});
    const GoType* config_status = Struct("v1.NodeConfigStatus", {{"assigned", config_source},
                                                                 {"active", config_source},
                                                                 {"lastKnownGood", config_source},
                                                                 {"error", str}});
    const GoType* handler_features =
        Struct("v1.NodeRuntimeHandlerFeatures",
               {{"recursiveReadOnlyMounts", boolean}, {"userNamespaces", boolean}});
    const GoType* handler =
        Struct("v1.NodeRuntimeHandler", {{"name", str}, {"features", handler_features}});
    const GoType* features = Struct("v1.NodeFeatures", {{"supplementalGroupsPolicy", boolean}});
    const GoType* node_status = Struct("v1.NodeStatus", {{"capacity", resources},
                                                         {"allocatable", resources},
                                                         {"phase", named("v1.NodePhase")},
                                                         {"conditions", SliceOf(condition)},
                                                         {"addresses", SliceOf(address)},
                                                         {"daemonEndpoints", endpoints},
                                                         {"nodeInfo", info},
                                                         {"images", SliceOf(image)},
                                                         {"volumesInUse", SliceOf(volume_name)},
                                                         {"volumesAttached", SliceOf(attached)},
                                                         {"config", config_status},
                                                         {"runtimeHandlers", SliceOf(handler)},
                                                         {"features", features}});
    const GoType* node = Struct("v1.Node", {{"apiVersion", str},
                                            {"kind", str},
                                            {"metadata", meta},
                                            {"spec", node_spec},
                                            {"status", node_status}});
    return Types{lease, core_event, events_event, node, config_map};
  }();
  return kTypes;
}

const GoType* TypeOf(std::string_view group, std::string_view kind) {
  const Types& t = AllTypes();
  if (group == "coordination.k8s.io" && kind == "Lease") return t.lease;
  if (group == "events.k8s.io" && kind == "Event") return t.events_event;
  if (group.empty() && kind == "Event") return t.core_event;
  if (group.empty() && kind == "Node") return t.node;
  if (group.empty() && kind == "ConfigMap") return t.config_map;
  return nullptr;
}

const std::set<std::string, std::less<>>& ObjectMetaFieldNames() {
  static const std::set<std::string, std::less<>> kFields = {"name",
                                                             "generateName",
                                                             "namespace",
                                                             "selfLink",
                                                             "uid",
                                                             "resourceVersion",
                                                             "generation",
                                                             "creationTimestamp",
                                                             "deletionTimestamp",
                                                             "deletionGracePeriodSeconds",
                                                             "labels",
                                                             "annotations",
                                                             "ownerReferences",
                                                             "finalizers",
                                                             "managedFields"};
  return kFields;
}

// How encoding/json names a JSON value in UnmarshalTypeError.Value.
std::string JsonKind(const Json& v) {
  if (v.IsString()) return "string";
  if (v.IsBool()) return "bool";
  if (v.IsArray()) return "array";
  if (v.IsObject()) return "object";
  return "number";
}

// The number's text as it came in (RapidJSON keeps only the value; this is
// the shortest form that reads back the same).
std::string NumberText(const Json& v) {
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  if (v.IsUint64()) return std::to_string(v.GetUint64());
  char buf[40];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v.GetDouble());
    if (std::strtod(buf, nullptr) == v.GetDouble()) break;
  }
  return buf;
}

// resource.ParseQuantity's errors, for a string (or a number's text).
std::optional<std::string> QuantityError(std::string s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.erase(0, 1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.pop_back();
  static const std::regex kShape("[+-]?[0-9.]+[eEinumkKMGTP]*[-+]?[0-9]*");
  static const std::regex kSuffix(
      "[+-]?[0-9]*\\.?[0-9]*(|[eE][-+]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)");
  if (s.empty() || !std::regex_match(s, kShape)) {
    return "quantities must match the regular expression "
           "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
  }
  if (!std::regex_match(s, kSuffix)) return "unable to parse quantity's suffix";
  return std::nullopt;
}

bool ValidBase64(std::string_view s, size_t* bad_at) {
  // encoding/base64.StdEncoding (padded); CR and LF are skipped as Go does.
  size_t n = 0, pad = 0, i = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\r' || c == '\n') continue;
    bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '+' || c == '/';
    if (c == '=') {
      if (n % 4 < 2) break;
      ++pad;
      ++n;
      continue;
    }
    if (!alpha || pad > 0) break;
    ++n;
  }
  if (i == s.size() && n % 4 == 0) return true;
  *bad_at = i == s.size() ? (n / 4) * 4 : i;
  return false;
}

struct Decoder {
  std::optional<std::string> fatal;  // an Unmarshaler's error: decoding stops
  std::optional<std::string> saved;  // the first UnmarshalTypeError: decoding goes on
  std::vector<std::string> unknown;
  std::vector<std::string> stack;  // JSON field names from the root (errorContext.FieldStack)
  std::string struct_name;         // errorContext.Struct: the struct holding the current field

  std::string Context() const {
    std::string field;
    for (size_t i = 0; i < stack.size(); ++i) field += (i ? "." : "") + stack[i];
    return struct_name + "." + field;
  }
  // UnmarshalTypeError.Error() with its context.
  std::string TypeError(const std::string& value, const std::string& type) const {
    if (stack.empty()) return "json: cannot unmarshal " + value + " into Go value of type " + type;
    return "json: cannot unmarshal " + value + " into Go struct field " + Context() + " of type " +
           type;
  }
  void Save(std::string e) {
    if (!saved.has_value()) saved = std::move(e);
  }

  // Decodes `v` into `t`; `path` is the strict-decoding path ("spec.taints[0]").
  void Value(Json& v, const GoType& t, const std::string& path) {
    if (fatal.has_value() || v.IsNull()) return;  // null decodes to the zero value
    switch (t.kind) {
      case Kind::kString:
        if (!v.IsString()) Save(TypeError(JsonKind(v), t.name));
        return;
      case Kind::kBool:
        if (!v.IsBool()) Save(TypeError(JsonKind(v), t.name));
        return;
      case Kind::kInt32:
      case Kind::kInt64: {
        if (!v.IsNumber()) return Save(TypeError(JsonKind(v), t.name));
        bool fits = v.IsInt64() && (t.kind == Kind::kInt64 ||
                                    (v.GetInt64() >= INT32_MIN && v.GetInt64() <= INT32_MAX));
        if (!fits) Save(TypeError("number " + NumberText(v), t.name));
        return;
      }
      case Kind::kTime:
      case Kind::kMicroTime:
        // metav1.(Micro)Time.UnmarshalJSON: json.Unmarshal into a string, then time.Parse.
        if (!v.IsString()) {
          fatal = TypeError(JsonKind(v), "string");
          return;
        }
        fatal = GoTimeParseError(t.kind == Kind::kTime ? kRfc3339Layout : kRfc3339MicroLayout,
                                 std::string_view(v.GetString(), v.GetStringLength()));
        return;
      case Kind::kQuantity:
        if (v.IsString()) {
          fatal = QuantityError(std::string(v.GetString(), v.GetStringLength()));
        } else if (v.IsNumber()) {
          fatal = QuantityError(NumberText(v));
        } else {
          fatal = QuantityError(v.IsBool() ? (v.GetBool() ? "true" : "false") : "{");
        }
        return;
      case Kind::kBytes: {
        if (!v.IsString()) return Save(TypeError(JsonKind(v), t.name));
        size_t bad = 0;
        if (!ValidBase64(std::string_view(v.GetString(), v.GetStringLength()), &bad)) {
          Save("illegal base64 data at input byte " + std::to_string(bad));
        }
        return;
      }
      case Kind::kSlice:
        if (!v.IsArray()) return Save(TypeError(JsonKind(v), t.name));
        for (rapidjson::SizeType i = 0; i < v.Size() && !fatal.has_value(); ++i) {
          Value(v[i], *t.elem, path + "[" + std::to_string(i) + "]");
        }
        return;
      case Kind::kMap:
        if (!v.IsObject()) return Save(TypeError(JsonKind(v), t.name));
        for (auto it = v.MemberBegin(); it != v.MemberEnd() && !fatal.has_value(); ++it) {
          Value(it->value, *t.elem,
                path + "[" + std::string(it->name.GetString(), it->name.GetStringLength()) + "]");
        }
        return;
      case Kind::kStruct:
        if (!v.IsObject()) return Save(TypeError(JsonKind(v), t.name));
        Object(v, t, path);
        return;
    }
  }

  void Object(Json& v, const GoType& t, const std::string& path) {
    const bool is_meta = t.name == "v1.ObjectMeta";
    for (auto it = v.MemberBegin(); it != v.MemberEnd();) {
      std::string key(it->name.GetString(), it->name.GetStringLength());
      std::string child = path.empty() ? key : path + "." + key;
      const GoField* f = nullptr;
      for (const auto& field : t.fields) {
        if (key == field.json) f = &field;
      }
      bool known = is_meta ? ObjectMetaFieldNames().count(key) > 0 : f != nullptr;
      if (!known) {
        unknown.push_back(child);
        it = v.EraseMember(it);  // decoding into the Go struct drops it
        continue;
      }
      if (f != nullptr) {
        std::string outer = struct_name;
        stack.push_back(key);
        struct_name = t.name.substr(t.name.find('.') + 1);
        Value(it->value, *f->type, child);
        if (fatal.has_value()) return;  // the context stays as it was at the failure
        stack.pop_back();
        struct_name = outer;
      }
      ++it;
    }
  }
};

}  // namespace

bool HasBuiltinType(std::string_view group, std::string_view kind) {
  return TypeOf(group, kind) != nullptr;
}

BuiltinDecodeResult DecodeBuiltin(std::string_view group, std::string_view kind, Json& object) {
  BuiltinDecodeResult r;
  const GoType* t = TypeOf(group, kind);
  if (t == nullptr || !object.IsObject()) return r;
  Decoder d;
  d.Object(object, *t, "");
  if (d.fatal.has_value()) {
    r.error = d.fatal;
  } else if (d.saved.has_value()) {
    r.error = d.saved;
  } else {
    r.unknown_fields = std::move(d.unknown);
  }
  return r;
}

std::string GoMapText(const Json& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType: return "<nil>";
    case rapidjson::kFalseType: return "false";
    case rapidjson::kTrueType: return "true";
    case rapidjson::kStringType: return std::string(v.GetString(), v.GetStringLength());
    case rapidjson::kNumberType: return NumberText(v);
    case rapidjson::kArrayType: {
      std::string out = "[";
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i) out += (i ? " " : "") + GoMapText(v[i]);
      return out + "]";
    }
    case rapidjson::kObjectType: {
      std::map<std::string, const Json*> sorted;
      for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
        sorted[std::string(it->name.GetString(), it->name.GetStringLength())] = &it->value;
      }
      std::string out = "map[";
      bool first = true;
      for (const auto& [k, e] : sorted) {
        out += (first ? "" : " ") + k + ":" + GoMapText(*e);
        first = false;
      }
      return out + "]";
    }
  }
  return "";
}

std::vector<FieldError> ValidateBuiltin(std::string_view group, std::string_view kind,
                                        const Json& object) {
  std::vector<FieldError> errs;
  if (group != "coordination.k8s.io" || kind != "Lease") return errs;
  const Json* spec = Member(object, "spec");
  if (spec == nullptr) return errs;
  const Json* d = Member(*spec, "leaseDurationSeconds");
  if (d != nullptr && d->IsInt64() && d->GetInt64() <= 0) {
    errs.push_back(InvalidValue("spec.leaseDurationSeconds", std::to_string(d->GetInt64()),
                                "must be greater than 0"));
  }
  const Json* n = Member(*spec, "leaseTransitions");
  if (n != nullptr && n->IsInt64() && n->GetInt64() < 0) {
    errs.push_back(InvalidValue("spec.leaseTransitions", std::to_string(n->GetInt64()),
                                "must be greater than or equal to 0"));
  }
  return errs;
}

}  // namespace devcluster
