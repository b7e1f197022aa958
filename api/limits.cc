#include "api/limits.h"

namespace api {
namespace {

bool Excluded(const VMIM& m, std::string_view exclude_uid, std::string_view exclude_key) {
  if (!exclude_uid.empty() && m.meta.uid == exclude_uid) return true;
  if (!exclude_key.empty()) {
    // Compare "ns/name" without building a string per VMIM.
    const std::string& ns = m.meta.namespace_;
    const std::string& name = m.meta.name;
    if (exclude_key.size() == ns.size() + 1 + name.size() &&
        exclude_key.substr(0, ns.size()) == ns && exclude_key[ns.size()] == '/' &&
        exclude_key.substr(ns.size() + 1) == name) {
      return true;
    }
  }
  return false;
}

}  // namespace

int InFlightCounts::Outbound(std::string_view node) const {
  auto it = outbound_per_node.find(node);
  return it == outbound_per_node.end() ? 0 : it->second;
}

bool IsInFlight(const VMIM& vmim) { return !vmim.IsFinal(); }

InFlightCounts CountInFlight(const std::vector<const VMIM*>& vmims, const VMILookup& vmis,
                             std::string_view exclude_uid, std::string_view exclude_key) {
  InFlightCounts counts;
  for (const VMIM* m : vmims) {
    if (m == nullptr || !IsInFlight(*m) || Excluded(*m, exclude_uid, exclude_key)) continue;
    ++counts.cluster;
    const VMI* vmi = vmis ? vmis(m->meta.namespace_, m->spec.vmi_name) : nullptr;
    if (vmi != nullptr && !vmi->status.node_name.empty())
      ++counts.outbound_per_node[vmi->status.node_name];
  }
  return counts;
}

std::vector<std::string> InFlightHolders(const std::vector<const VMIM*>& vmims,
                                         const VMILookup& vmis, std::string_view node,
                                         std::string_view exclude_uid,
                                         std::string_view exclude_key) {
  std::vector<std::string> out;
  for (const VMIM* m : vmims) {
    if (m == nullptr || !IsInFlight(*m) || Excluded(*m, exclude_uid, exclude_key)) continue;
    if (!node.empty()) {
      const VMI* vmi = vmis ? vmis(m->meta.namespace_, m->spec.vmi_name) : nullptr;
      if (vmi == nullptr || vmi->status.node_name != node) continue;
    }
    out.push_back(m->meta.namespace_ + "/" + m->meta.name);
  }
  return out;
}

std::vector<const VMIM*> InFlightForVMI(const std::vector<const VMIM*>& vmims, std::string_view ns,
                                        std::string_view vmi_name, std::string_view exclude_uid,
                                        std::string_view exclude_key) {
  std::vector<const VMIM*> out;
  for (const VMIM* m : vmims) {
    if (m == nullptr || !IsInFlight(*m) || Excluded(*m, exclude_uid, exclude_key)) continue;
    if (m->meta.namespace_ == ns && m->spec.vmi_name == vmi_name) out.push_back(m);
  }
  return out;
}

}  // namespace api
