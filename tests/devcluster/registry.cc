#include "tests/devcluster/registry.h"

#include <algorithm>
#include <set>

namespace devcluster {
namespace {

struct BuiltinSpec {
  const char* group;
  const char* version;
  const char* resource;
  const char* singular;
  const char* kind;
  bool namespaced;
  bool has_status;
  std::vector<std::string> short_names;
  std::vector<std::string> field_selectors;
};

std::vector<BuiltinSpec> BuiltinSpecs() {
  const std::vector<std::string> event_fields = {
      "involvedObject.kind",      "involvedObject.namespace",
      "involvedObject.name",      "involvedObject.uid",
      "involvedObject.apiVersion", "involvedObject.resourceVersion",
      "involvedObject.fieldPath", "reason",
      "reportingComponent",       "source",
      "type"};
  return {
      {"", "v1", "namespaces", "namespace", "Namespace", false, true, {"ns"}, {"status.phase"}},
      {"", "v1", "nodes", "node", "Node", false, true, {"no"}, {"spec.unschedulable"}},
      {"", "v1", "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim",
       true, true, {"pvc"}, {}},
      {"", "v1", "persistentvolumes", "persistentvolume", "PersistentVolume", false, true,
       {"pv"}, {}},
      {"", "v1", "events", "event", "Event", true, false, {"ev"}, event_fields},
      {"", "v1", "configmaps", "configmap", "ConfigMap", true, false, {"cm"}, {}},
      {"", "v1", "secrets", "secret", "Secret", true, false, {}, {"type"}},
      {"", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, false, {"sa"}, {}},
      {"events.k8s.io", "v1", "events", "event", "Event", true, false, {"ev"},
       {"reason", "regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid",
        "type", "reportingController"}},
      {"coordination.k8s.io", "v1", "leases", "lease", "Lease", true, false, {}, {}},
      {"apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
       "CustomResourceDefinition", false, true, {"crd", "crds"}, {}},
      {"admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
       "validatingwebhookconfiguration", "ValidatingWebhookConfiguration", false, false, {}, {}},
  };
}

std::string Str(const Json* v) {
  return v != nullptr && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : "";
}

std::vector<std::string> StrList(const Json* v) {
  std::vector<std::string> out;
  if (v == nullptr || !v->IsArray()) return out;
  for (const auto& e : v->GetArray()) {
    if (e.IsString()) out.emplace_back(e.GetString(), e.GetStringLength());
  }
  return out;
}

// Kubernetes version priority: GA > beta > alpha, higher numbers first.
int VersionRank(const std::string& v, int* major, int* minor) {
  // "v1" -> (3,1,0); "v1beta2" -> (2,1,2); "v1alpha3" -> (1,1,3); other -> 0
  *major = 0;
  *minor = 0;
  if (v.size() < 2 || v[0] != 'v' || !isdigit(static_cast<unsigned char>(v[1]))) return 0;
  size_t i = 1;
  while (i < v.size() && isdigit(static_cast<unsigned char>(v[i]))) {
    *major = *major * 10 + (v[i] - '0');
    ++i;
  }
  if (i == v.size()) return 3;
  int rank = 0;
  if (v.compare(i, 4, "beta") == 0) {
    rank = 2;
    i += 4;
  } else if (v.compare(i, 5, "alpha") == 0) {
    rank = 1;
    i += 5;
  } else {
    return 0;
  }
  if (i == v.size()) return 0;
  for (; i < v.size(); ++i) {
    if (!isdigit(static_cast<unsigned char>(v[i]))) return 0;
    *minor = *minor * 10 + (v[i] - '0');
  }
  return rank;
}

bool VersionLess(const std::string& a, const std::string& b) {  // true if a has priority
  int ama, ami, bma, bmi;
  int ar = VersionRank(a, &ama, &ami);
  int br = VersionRank(b, &bma, &bmi);
  if (ar != br) return ar > br;
  if (ama != bma) return ama > bma;
  if (ami != bmi) return ami > bmi;
  return a < b;
}

}  // namespace

Registry::Registry() {
  for (const auto& s : BuiltinSpecs()) {
    auto t = std::make_shared<ResourceType>();
    t->group = s.group;
    t->version = s.version;
    t->resource = s.resource;
    t->singular = s.singular;
    t->kind = s.kind;
    t->list_kind = t->kind + "List";
    t->namespaced = s.namespaced;
    t->has_status = s.has_status;
    t->builtin = true;
    t->short_names = s.short_names;
    t->served_versions = {s.version};
    t->storage_version = s.version;
    t->field_selectors = s.field_selectors;
    builtin_.push_back(t);
  }
}

TypePtr Registry::Find(const std::string& group, const std::string& version,
                       const std::string& resource) const {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto* list : {&builtin_, &custom_}) {
    for (const auto& t : *list) {
      if (t->group == group && t->version == version && t->resource == resource) return t;
    }
  }
  return nullptr;
}

TypePtr Registry::FindKind(const std::string& group, const std::string& version,
                           const std::string& kind) const {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto* list : {&builtin_, &custom_}) {
    for (const auto& t : *list) {
      if (t->group == group && t->version == version && t->kind == kind) return t;
    }
  }
  return nullptr;
}

std::vector<TypePtr> Registry::All() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<TypePtr> out = builtin_;
  out.insert(out.end(), custom_.begin(), custom_.end());
  return out;
}

std::vector<std::pair<std::string, std::vector<std::string>>> Registry::Groups() const {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (const auto& t : All()) {
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& g) { return g.first == t->group; });
    if (it == out.end()) {
      out.push_back({t->group, t->served_versions});
    } else {
      for (const auto& v : t->served_versions) {
        if (std::find(it->second.begin(), it->second.end(), v) == it->second.end()) {
          it->second.push_back(v);
        }
      }
      std::sort(it->second.begin(), it->second.end(), VersionLess);
    }
  }
  return out;
}

base::Status Registry::ValidateCrd(const Json& crd) {
  std::vector<std::string> errs;
  std::string name = StringAt(crd, "metadata.name");
  const Json* spec = Member(crd, "spec");
  std::string group = spec ? Str(Member(*spec, "group")) : "";
  const Json* names = spec ? Member(*spec, "names") : nullptr;
  std::string plural = names ? Str(Member(*names, "plural")) : "";
  std::string kind = names ? Str(Member(*names, "kind")) : "";
  std::string scope = spec ? Str(Member(*spec, "scope")) : "";
  if (group.empty()) errs.push_back("spec.group: Required value");
  if (plural.empty()) errs.push_back("spec.names.plural: Required value");
  if (kind.empty()) errs.push_back("spec.names.kind: Required value");
  if (scope != "Namespaced" && scope != "Cluster") {
    errs.push_back("spec.scope: Unsupported value: \"" + scope +
                   "\": supported values: \"Cluster\", \"Namespaced\"");
  }
  if (!plural.empty() && !group.empty() && name != plural + "." + group) {
    errs.push_back("metadata.name: Invalid value: \"" + name + "\": must be spec.names.plural+\".\"+spec.group");
  }
  const Json* versions = spec ? Member(*spec, "versions") : nullptr;
  int storage = 0;
  if (versions == nullptr || !versions->IsArray() || versions->Empty()) {
    errs.push_back("spec.versions: Invalid value: null: must have exactly one version marked as storage version");
  } else {
    for (rapidjson::SizeType i = 0; i < versions->Size(); ++i) {
      const Json& v = (*versions)[i];
      std::string p = "spec.versions[" + std::to_string(i) + "]";
      if (Str(Member(v, "name")).empty()) errs.push_back(p + ".name: Required value");
      const Json* st = Member(v, "storage");
      if (st != nullptr && st->IsBool() && st->GetBool()) ++storage;
      const Json* schema = Member(v, "schema");
      const Json* oas = schema ? Member(*schema, "openAPIV3Schema") : nullptr;
      if (oas == nullptr || !oas->IsObject()) {
        errs.push_back(p + ".schema.openAPIV3Schema: Required value: schemas are required");
      }
    }
    if (storage != 1) {
      errs.push_back("spec.versions: Invalid value: " + std::to_string(storage) +
                     ": must have exactly one version marked as storage version");
    }
  }
  if (errs.empty()) return base::Status::Ok();
  std::string msg = "CustomResourceDefinition.apiextensions.k8s.io \"" + name + "\" is invalid: ";
  if (errs.size() == 1) {
    msg += errs[0];
  } else {
    msg += "[";
    for (size_t i = 0; i < errs.size(); ++i) msg += (i ? ", " : "") + errs[i];
    msg += "]";
  }
  base::Status s = base::InvalidArgument(msg);
  s.WithHttp(422, "Invalid");
  return s;
}

void Registry::SetCrds(const std::vector<std::shared_ptr<const JsonDoc>>& crds) {
  std::vector<TypePtr> custom;
  for (const auto& crd : crds) {
    if (!ValidateCrd(*crd).ok()) continue;
    const Json& spec = *Member(*crd, "spec");
    const Json& names = *Member(spec, "names");
    std::vector<std::string> served;
    std::string storage;
    for (const auto& v : (*Member(spec, "versions")).GetArray()) {
      const Json* s = Member(v, "served");
      bool is_served = s == nullptr || !s->IsBool() || s->GetBool();
      if (is_served) served.push_back(Str(Member(v, "name")));
      const Json* st = Member(v, "storage");
      if (st != nullptr && st->IsBool() && st->GetBool()) storage = Str(Member(v, "name"));
    }
    std::sort(served.begin(), served.end(), VersionLess);
    for (const auto& v : (*Member(spec, "versions")).GetArray()) {
      std::string vname = Str(Member(v, "name"));
      if (std::find(served.begin(), served.end(), vname) == served.end()) continue;
      auto t = std::make_shared<ResourceType>();
      t->group = Str(Member(spec, "group"));
      t->version = vname;
      t->resource = Str(Member(names, "plural"));
      t->singular = Str(Member(names, "singular"));
      if (t->singular.empty()) {
        t->singular = Str(Member(names, "kind"));
        std::transform(t->singular.begin(), t->singular.end(), t->singular.begin(), ::tolower);
      }
      t->kind = Str(Member(names, "kind"));
      t->list_kind = Str(Member(names, "listKind"));
      if (t->list_kind.empty()) t->list_kind = t->kind + "List";
      t->namespaced = Str(Member(spec, "scope")) == "Namespaced";
      t->builtin = false;
      t->short_names = StrList(Member(names, "shortNames"));
      t->categories = StrList(Member(names, "categories"));
      t->served_versions = served;
      t->storage_version = storage;
      const Json* sub = Member(v, "subresources");
      t->has_status = sub != nullptr && Member(*sub, "status") != nullptr;
      const Json* cols = Member(v, "additionalPrinterColumns");
      if (cols != nullptr && cols->IsArray()) {
        for (const auto& c : cols->GetArray()) {
          PrinterColumn pc;
          pc.name = Str(Member(c, "name"));
          pc.type = Str(Member(c, "type"));
          pc.format = Str(Member(c, "format"));
          pc.description = Str(Member(c, "description"));
          pc.json_path = Str(Member(c, "jsonPath"));
          const Json* pr = Member(c, "priority");
          if (pr != nullptr && pr->IsInt()) pc.priority = pr->GetInt();
          if (!pc.name.empty()) t->columns.push_back(pc);
        }
      } else {
        PrinterColumn age;
        age.name = "Age";
        age.type = "date";
        age.json_path = ".metadata.creationTimestamp";
        t->columns.push_back(age);
      }
      const Json* schema = Member(v, "schema");
      const Json* oas = schema ? Member(*schema, "openAPIV3Schema") : nullptr;
      if (oas != nullptr) {
        auto doc = std::make_shared<JsonDoc>();
        doc->CopyFrom(*oas, doc->GetAllocator());
        t->schema = doc;
      }
      custom.push_back(t);
    }
  }
  std::lock_guard<std::mutex> l(mu_);
  custom_ = std::move(custom);
}

}  // namespace devcluster
