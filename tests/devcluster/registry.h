// The resource types devcluster serves: the built-in kinds and every
// established CustomResourceDefinition. Thread safety: Registry is guarded
// by its own mutex; the ResourceType values it hands out are immutable.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tests/devcluster/json.h"
#include "base/status.h"

namespace devcluster {

struct PrinterColumn {
  std::string name, type, format, description, json_path;
  int priority = 0;
};

struct ResourceType {
  std::string group;  // "" for the core group
  std::string version;
  std::string resource;  // plural, lower case
  std::string singular;
  std::string kind;
  std::string list_kind;
  bool namespaced = true;
  bool has_status = false;  // status subresource
  bool builtin = true;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  std::vector<std::string> served_versions;  // all served versions, preferred first
  std::string storage_version;
  std::vector<PrinterColumn> columns;  // CRD additionalPrinterColumns
  std::vector<std::string> field_selectors;  // beyond metadata.name/namespace
  std::shared_ptr<const JsonDoc> schema;  // CRD openAPIV3Schema; null for built-ins

  std::string ApiVersion() const { return group.empty() ? version : group + "/" + version; }
  // "configmaps" or "virtualmachineinstances.kubevirt.io": how errors name it.
  std::string QualifiedResource() const {
    return group.empty() ? resource : resource + "." + group;
  }
  std::string QualifiedKind() const { return group.empty() ? kind : kind + "." + group; }
};

using TypePtr = std::shared_ptr<const ResourceType>;

class Registry {
 public:
  Registry();

  // The type served at group/version/resource, or null.
  TypePtr Find(const std::string& group, const std::string& version,
               const std::string& resource) const;
  // The type of group/version/kind, or null.
  TypePtr FindKind(const std::string& group, const std::string& version,
                   const std::string& kind) const;
  // Every served type, built-ins first, in a stable order.
  std::vector<TypePtr> All() const;
  // Groups in discovery order with their served versions (preferred first).
  std::vector<std::pair<std::string, std::vector<std::string>>> Groups() const;

  // Rebuilds the custom types from the stored CRD objects.
  void SetCrds(const std::vector<std::shared_ptr<const JsonDoc>>& crds);

  // Validates a CRD object before it is stored (422 with field paths).
  static base::Status ValidateCrd(const Json& crd);

 private:
  mutable std::mutex mu_;
  std::vector<TypePtr> builtin_;
  std::vector<TypePtr> custom_;
};

}  // namespace devcluster
