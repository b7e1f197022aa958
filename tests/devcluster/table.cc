#include "tests/devcluster/table.h"

#include <functional>

#include "base/clock.h"
#include "tests/devcluster/jsonpath.h"

namespace devcluster {
namespace {

using Clock = std::chrono::system_clock;

struct Column {
  std::string name, type, format, description;
  int priority = 0;
  // Writes the cell for `obj` into `out`.
  std::function<void(const Json& obj, Json& out, Alloc& a, Clock::time_point now)> cell;
};

std::string Age(const Json& obj, const char* path, Clock::time_point now) {
  auto t = base::ParseRfc3339(StringAt(obj, path));
  if (!t.has_value()) return "<unknown>";
  return HumanDuration(std::chrono::duration_cast<std::chrono::seconds>(now - *t));
}

Column StrCol(std::string name, std::function<std::string(const Json&)> f, int priority = 0) {
  Column c;
  c.name = std::move(name);
  c.type = "string";
  c.priority = priority;
  c.cell = [f](const Json& o, Json& out, Alloc& a, Clock::time_point) { out.SetString(f(o).c_str(), a); };
  return c;
}

Column IntCol(std::string name, std::function<int64_t(const Json&)> f) {
  Column c;
  c.name = std::move(name);
  c.type = "integer";
  c.cell = [f](const Json& o, Json& out, Alloc&, Clock::time_point) { out.SetInt64(f(o)); };
  return c;
}

Column AgeCol(std::string name = "Age", const char* path = "metadata.creationTimestamp") {
  Column c;
  c.name = std::move(name);
  c.type = "string";
  c.cell = [path](const Json& o, Json& out, Alloc& a, Clock::time_point now) {
    out.SetString(Age(o, path, now).c_str(), a);
  };
  return c;
}

std::string Or(const std::string& s, const char* dflt) { return s.empty() ? dflt : s; }

int64_t Count(const Json& o, const char* member) {
  const Json* m = Member(o, member);
  if (m == nullptr) return 0;
  if (m->IsObject()) return m->MemberCount();
  if (m->IsArray()) return m->Size();
  return 0;
}

std::string AccessModes(const Json* modes) {
  std::string out;
  if (modes == nullptr || !modes->IsArray()) return out;
  for (const auto& m : modes->GetArray()) {
    if (!m.IsString()) continue;
    std::string s = m.GetString();
    std::string abbr = s == "ReadWriteOnce"      ? "RWO"
                       : s == "ReadOnlyMany"     ? "ROX"
                       : s == "ReadWriteMany"    ? "RWX"
                       : s == "ReadWriteOncePod" ? "RWOP"
                                                 : s;
    out += (out.empty() ? "" : ",") + abbr;
  }
  return out;
}

std::string NodeStatus(const Json& o) {
  const Json* st = Member(o, "status");
  const Json* conds = st ? Member(*st, "conditions") : nullptr;
  std::string ready = "Unknown";
  if (conds != nullptr && conds->IsArray()) {
    for (const auto& c : conds->GetArray()) {
      if (StringAt(c, "type") == "Ready") {
        std::string s = StringAt(c, "status");
        ready = s == "True" ? "Ready" : s == "False" ? "NotReady" : "Unknown";
      }
    }
  }
  const Json* spec = Member(o, "spec");
  const Json* unsched = spec ? Member(*spec, "unschedulable") : nullptr;
  if (unsched != nullptr && unsched->IsBool() && unsched->GetBool()) ready += ",SchedulingDisabled";
  return ready;
}

std::vector<Column> BuiltinColumns(const ResourceType& t) {
  const std::string& k = t.kind;
  auto name = [](const Json& o) { return StringAt(o, "metadata.name"); };
  if (k == "Namespace") return {StrCol("Name", name), StrCol("Status", [](const Json& o) { return StringAt(o, "status.phase"); }), AgeCol()};
  if (k == "Node") {
    return {StrCol("Name", name), StrCol("Status", NodeStatus),
            StrCol("Roles", [](const Json& o) {
              std::string roles;
              for (const auto& [key, v] : StringMap(Member(*Member(o, "metadata"), "labels"))) {
                const std::string p = "node-role.kubernetes.io/";
                if (key.compare(0, p.size(), p) == 0) roles += (roles.empty() ? "" : ",") + key.substr(p.size());
              }
              return Or(roles, "<none>");
            }),
            AgeCol(), StrCol("Version", [](const Json& o) { return StringAt(o, "status.nodeInfo.kubeletVersion"); })};
  }
  if (k == "PersistentVolumeClaim") {
    return {StrCol("Name", name), StrCol("Status", [](const Json& o) { return StringAt(o, "status.phase"); }),
            StrCol("Volume", [](const Json& o) { return StringAt(o, "spec.volumeName"); }),
            StrCol("Capacity", [](const Json& o) { return StringAt(o, "status.capacity.storage"); }),
            StrCol("Access Modes", [](const Json& o) {
              const Json* st = Member(o, "status");
              return AccessModes(st ? Member(*st, "accessModes") : nullptr);
            }),
            StrCol("StorageClass", [](const Json& o) { return StringAt(o, "spec.storageClassName"); }),
            StrCol("VolumeAttributesClass", [](const Json&) { return std::string("<unset>"); }), AgeCol()};
  }
  if (k == "PersistentVolume") {
    return {StrCol("Name", name), StrCol("Capacity", [](const Json& o) { return StringAt(o, "spec.capacity.storage"); }),
            StrCol("Access Modes", [](const Json& o) {
              const Json* sp = Member(o, "spec");
              return AccessModes(sp ? Member(*sp, "accessModes") : nullptr);
            }),
            StrCol("Reclaim Policy", [](const Json& o) { return StringAt(o, "spec.persistentVolumeReclaimPolicy"); }),
            StrCol("Status", [](const Json& o) { return StringAt(o, "status.phase"); }),
            StrCol("Claim", [](const Json& o) {
              std::string ns = StringAt(o, "spec.claimRef.namespace"), n = StringAt(o, "spec.claimRef.name");
              return n.empty() ? std::string() : ns + "/" + n;
            }),
            StrCol("StorageClass", [](const Json& o) { return StringAt(o, "spec.storageClassName"); }),
            StrCol("VolumeAttributesClass", [](const Json&) { return std::string("<unset>"); }),
            StrCol("Reason", [](const Json& o) { return StringAt(o, "status.reason"); }), AgeCol()};
  }
  if (k == "Event") {
    bool core = t.group.empty();
    Column last = AgeCol("Last Seen", core ? "lastTimestamp" : "eventTime");
    if (core) {
      last.cell = [](const Json& o, Json& out, Alloc& a, Clock::time_point now) {
        const char* p = !StringAt(o, "lastTimestamp").empty() ? "lastTimestamp"
                        : !StringAt(o, "eventTime").empty()   ? "eventTime"
                                                              : "metadata.creationTimestamp";
        out.SetString(Age(o, p, now).c_str(), a);
      };
    }
    return {last, StrCol("Type", [](const Json& o) { return StringAt(o, "type"); }),
            StrCol("Reason", [](const Json& o) { return StringAt(o, "reason"); }),
            StrCol("Object", [core](const Json& o) {
              std::string base = core ? "involvedObject" : "regarding";
              std::string kind = StringAt(o, base + ".kind");
              for (auto& ch : kind) ch = static_cast<char>(tolower(ch));
              return kind + "/" + StringAt(o, base + ".name");
            }),
            StrCol("Message", [core](const Json& o) { return StringAt(o, core ? "message" : "note"); })};
  }
  if (k == "ConfigMap") return {StrCol("Name", name), IntCol("Data", [](const Json& o) { return Count(o, "data") + Count(o, "binaryData"); }), AgeCol()};
  if (k == "Secret") return {StrCol("Name", name), StrCol("Type", [](const Json& o) { return StringAt(o, "type"); }), IntCol("Data", [](const Json& o) { return Count(o, "data"); }), AgeCol()};
  if (k == "ServiceAccount") return {StrCol("Name", name), IntCol("Secrets", [](const Json& o) { return Count(o, "secrets"); }), AgeCol()};
  if (k == "Lease") return {StrCol("Name", name), StrCol("Holder", [](const Json& o) { return StringAt(o, "spec.holderIdentity"); }), AgeCol()};
  if (k == "CustomResourceDefinition") return {StrCol("Name", name), StrCol("Created At", [](const Json& o) { return StringAt(o, "metadata.creationTimestamp"); })};
  if (k == "ValidatingWebhookConfiguration") return {StrCol("Name", name), IntCol("Webhooks", [](const Json& o) { return Count(o, "webhooks"); }), AgeCol()};
  return {StrCol("Name", name), AgeCol()};
}

Column CustomColumn(const PrinterColumn& pc) {
  Column c;
  c.name = pc.name;
  c.type = pc.type == "date" ? "date" : pc.type;
  c.format = pc.format;
  c.description = pc.description;
  c.priority = pc.priority;
  std::string path = pc.json_path;
  std::string type = pc.type;
  c.cell = [path, type](const Json& o, Json& out, Alloc& a, Clock::time_point now) {
    auto vals = EvalJsonPath(o, path);
    if (vals.empty() || vals[0]->IsNull()) {
      out.SetNull();
      return;
    }
    const Json& v = *vals[0];
    if (type == "date") {
      auto t = v.IsString() ? base::ParseRfc3339(v.GetString()) : std::nullopt;
      if (t.has_value()) {
        out.SetString(HumanDuration(std::chrono::duration_cast<std::chrono::seconds>(now - *t)).c_str(), a);
      } else {
        out.SetString("<invalid>", a);
      }
    } else if ((type == "integer" && v.IsInt64()) || (type == "number" && v.IsNumber()) ||
               (type == "boolean" && v.IsBool())) {
      out.CopyFrom(v, a);
    } else if (v.IsString()) {
      out.SetString(v.GetString(), v.GetStringLength(), a);
    } else {
      std::string s = ToJson(v);
      out.SetString(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), a);
    }
  };
  return c;
}

}  // namespace

JsonDoc MakeTable(const ResourceType& t, const std::vector<std::shared_ptr<const JsonDoc>>& objects,
                  const std::string& resource_version, IncludeObject include, Clock::time_point now) {
  std::vector<Column> cols;
  if (t.builtin) {
    cols = BuiltinColumns(t);
  } else {
    Column name = StrCol("Name", [](const Json& o) { return StringAt(o, "metadata.name"); });
    cols.push_back(name);
    for (const auto& pc : t.columns) cols.push_back(CustomColumn(pc));
  }
  if (!cols.empty() && cols[0].name == "Name") {
    cols[0].format = "name";
    cols[0].description = "Name must be unique within a namespace. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
  }
  JsonDoc table(rapidjson::kObjectType);
  auto& a = table.GetAllocator();
  table.AddMember("kind", "Table", a);
  table.AddMember("apiVersion", "meta.k8s.io/v1", a);
  Json meta(rapidjson::kObjectType);
  meta.AddMember("resourceVersion", Json(resource_version.c_str(), a), a);
  table.AddMember("metadata", meta, a);
  Json defs(rapidjson::kArrayType);
  for (const auto& c : cols) {
    Json d(rapidjson::kObjectType);
    d.AddMember("name", Json(c.name.c_str(), a), a);
    d.AddMember("type", Json(c.type == "date" ? "string" : c.type.c_str(), a), a);
    d.AddMember("format", Json(c.format.c_str(), a), a);
    d.AddMember("description", Json(c.description.c_str(), a), a);
    d.AddMember("priority", c.priority, a);
    defs.PushBack(d, a);
  }
  table.AddMember("columnDefinitions", defs, a);
  Json rows(rapidjson::kArrayType);
  for (const auto& obj : objects) {
    Json row(rapidjson::kObjectType);
    Json cells(rapidjson::kArrayType);
    for (const auto& c : cols) {
      Json cell;
      c.cell(*obj, cell, a, now);
      cells.PushBack(cell, a);
    }
    row.AddMember("cells", cells, a);
    if (include == IncludeObject::kObject) {
      Json o;
      o.CopyFrom(*obj, a);
      row.AddMember("object", o, a);
    } else if (include == IncludeObject::kMetadata) {
      Json o(rapidjson::kObjectType);
      o.AddMember("kind", "PartialObjectMetadata", a);
      o.AddMember("apiVersion", "meta.k8s.io/v1", a);
      Json m;
      if (const Json* src = Member(*obj, "metadata")) {
        m.CopyFrom(*src, a);
      } else {
        m.SetObject();
      }
      o.AddMember("metadata", m, a);
      row.AddMember("object", o, a);
    }
    rows.PushBack(row, a);
  }
  table.AddMember("rows", rows, a);
  return table;
}

namespace {

// "<n><unit>", followed by "<rest><rest_unit>" unless rest is 0: "5m", "5m30s".
std::string Units(long long n, const char* unit, long long rest = 0, const char* rest_unit = "") {
  std::string out = std::to_string(n) + unit;
  if (rest != 0) out += std::to_string(rest) + rest_unit;
  return out;
}

}  // namespace

// The thresholds are those of k8s.io/apimachinery's duration.HumanDuration.
std::string HumanDuration(std::chrono::seconds d) {
  long long s = d.count();
  if (s < -1) return "<invalid>";
  if (s < 0) return "0s";
  if (s < 120) return Units(s, "s");
  long long minutes = s / 60;
  if (minutes < 10) return Units(minutes, "m", s % 60, "s");
  if (minutes < 180) return Units(minutes, "m");
  long long hours = s / 3600;
  if (hours < 8) return Units(hours, "h", minutes % 60, "m");
  if (hours < 48) return Units(hours, "h");
  long long days = hours / 24;
  if (hours < 24 * 8) return Units(days, "d", hours % 24, "h");
  if (hours < 24 * 365 * 2) return Units(days, "d");
  long long years = days / 365;
  if (hours < 24 * 365 * 8) return Units(years, "y", days % 365, "d");
  return Units(years, "y");
}

}  // namespace devcluster
