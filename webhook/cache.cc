#include "webhook/cache.h"

#include <rapidjson/document.h>

#include <mutex>
#include <utility>

#include "api/json.h"
#include "base/log.h"
#include "api/limits.h"

namespace webhook {

std::string CacheKey(std::string_view ns, std::string_view name) {
  std::string key;
  key.reserve(ns.size() + name.size() + 1);
  if (!ns.empty()) {
    key += ns;
    key += '/';
  }
  key += name;
  return key;
}

ClusterCache::ClusterCache(std::string kubevirt_namespace, std::string kubevirt_name)
    : kubevirt_namespace_(std::move(kubevirt_namespace)), kubevirt_name_(std::move(kubevirt_name)) {}

void ClusterCache::ParseError(const kube::Object& obj, const std::string& what) {
  base::log::Warning("object cannot be parsed; admissions that need it will say so",
                     {{"kind", obj.kind}, {"object", obj.Key()}, {"error", what}});
  std::unique_lock lock(mu_);
  ++parse_errors_;
  last_parse_error_ = obj.kind + " " + obj.Key() + ": " + what;
}

void ClusterCache::OnVMI(const kube::Object& obj) {
  if (obj.doc == nullptr) return;
  auto vmi = api::ParseVMI(*obj.doc);
  if (!vmi.ok()) {
    {
      std::unique_lock lock(mu_);
      vmis_.erase(obj.Key());
      unreadable_vmis_[obj.Key()] = vmi.status().message();
    }
    ParseError(obj, vmi.status().message());
    return;
  }
  PutVMI(std::move(vmi).value());
}

void ClusterCache::OnVMIDeleted(const kube::Object& obj) {
  std::unique_lock lock(mu_);
  vmis_.erase(obj.Key());
  unreadable_vmis_.erase(obj.Key());
}

void ClusterCache::OnVMIM(const kube::Object& obj) {
  if (obj.doc == nullptr) return;
  auto vmim = api::ParseVMIM(*obj.doc);
  if (!vmim.ok()) {
    OnVMIMDeleted(obj);
    ParseError(obj, vmim.status().message());
    return;
  }
  PutVMIM(std::move(vmim).value());
}

void ClusterCache::OnVMIMDeleted(const kube::Object& obj) {
  std::unique_lock lock(mu_);
  in_flight_.erase(obj.Key());
}

void ClusterCache::OnKubeVirt(const kube::Object& obj) {
  if (obj.namespace_ != kubevirt_namespace_ || obj.name != kubevirt_name_ || obj.doc == nullptr) {
    return;
  }
  auto kv = api::ParseKubeVirt(*obj.doc);
  if (!kv.ok()) {
    OnKubeVirtDeleted(obj);
    ParseError(obj, kv.status().message());
    return;
  }
  PutKubeVirt(std::move(kv).value());
}

void ClusterCache::OnKubeVirtDeleted(const kube::Object& obj) {
  if (obj.namespace_ != kubevirt_namespace_ || obj.name != kubevirt_name_) return;
  std::unique_lock lock(mu_);
  kubevirt_.reset();
}

void ClusterCache::OnPVC(const kube::Object& obj) {
  if (obj.doc == nullptr) return;
  auto pvc = api::ParsePVC(*obj.doc);
  if (!pvc.ok()) {
    OnPVCDeleted(obj);
    ParseError(obj, pvc.status().message());
    return;
  }
  PutPVC(std::move(pvc).value());
}

void ClusterCache::OnPVCDeleted(const kube::Object& obj) {
  std::unique_lock lock(mu_);
  pvcs_.erase(obj.Key());
}

void ClusterCache::PutVMI(api::VMI vmi) {
  std::string key = CacheKey(vmi.meta.namespace_, vmi.meta.name);
  auto ptr = std::make_shared<const api::VMI>(std::move(vmi));
  std::unique_lock lock(mu_);
  unreadable_vmis_.erase(key);
  vmis_[key] = std::move(ptr);
}

void ClusterCache::PutVMIM(api::VMIM vmim) {
  std::string key = CacheKey(vmim.meta.namespace_, vmim.meta.name);
  // Only in-flight migrations count against limits; a finished one leaves.
  if (!api::IsInFlight(vmim)) {
    std::unique_lock lock(mu_);
    in_flight_.erase(key);
    return;
  }
  auto ptr = std::make_shared<const api::VMIM>(std::move(vmim));
  std::unique_lock lock(mu_);
  in_flight_[key] = std::move(ptr);
}

void ClusterCache::PutKubeVirt(api::KubeVirt kubevirt) {
  auto ptr = std::make_shared<const api::KubeVirt>(std::move(kubevirt));
  std::unique_lock lock(mu_);
  kubevirt_ = std::move(ptr);
}

void ClusterCache::PutPVC(api::PVC pvc) {
  std::string key = CacheKey(pvc.meta.namespace_, pvc.meta.name);
  auto ptr = std::make_shared<const api::PVC>(std::move(pvc));
  std::unique_lock lock(mu_);
  pvcs_[key] = std::move(ptr);
}

ClusterCache::Snapshot ClusterCache::SnapshotFor(std::string_view ns,
                                                 std::string_view vmi_name) const {
  Snapshot s;
  std::shared_lock lock(mu_);
  if (kubevirt_ != nullptr) {
    s.config = kubevirt_->config;
    s.kubevirt_found = true;
  }
  auto find_vmi = [&](const std::string& key) {
    if (s.vmis.count(key) != 0) return;
    if (auto it = vmis_.find(key); it != vmis_.end()) s.vmis.emplace(key, it->second);
  };
  if (!vmi_name.empty()) {
    std::string key = CacheKey(ns, vmi_name);
    if (auto it = vmis_.find(key); it != vmis_.end()) {
      s.vmi = it->second;
      s.vmis.emplace(key, it->second);
      for (const api::Volume& v : s.vmi->spec.volumes) {
        if (v.claim_name.empty()) continue;
        std::string pvc_key = CacheKey(s.vmi->meta.namespace_, v.claim_name);
        if (auto p = pvcs_.find(pvc_key); p != pvcs_.end()) s.pvcs.emplace(pvc_key, p->second);
      }
    } else if (auto u = unreadable_vmis_.find(key); u != unreadable_vmis_.end()) {
      s.vmi_unreadable = u->second;
    }
  }
  s.in_flight.reserve(in_flight_.size());
  for (const auto& [key, vmim] : in_flight_) {
    s.in_flight.push_back(vmim);
    find_vmi(CacheKey(vmim->meta.namespace_, vmim->spec.vmi_name));
  }
  return s;
}

ClusterCache::Sizes ClusterCache::sizes() const {
  std::shared_lock lock(mu_);
  Sizes s;
  s.vmis = vmis_.size();
  s.in_flight_vmims = in_flight_.size();
  s.pvcs = pvcs_.size();
  s.kubevirts = kubevirt_ != nullptr ? 1 : 0;
  return s;
}

uint64_t ClusterCache::parse_errors() const {
  std::shared_lock lock(mu_);
  return parse_errors_;
}

std::string ClusterCache::last_parse_error() const {
  std::shared_lock lock(mu_);
  return last_parse_error_;
}

}  // namespace webhook
