// ClusterCache: the parsed api/ view of the objects an admission needs (VMIs,
// VMIMs, the KubeVirt object, PVCs), fed by informer handlers, read by
// admissions without any API request.
//
// Objects are parsed once, when the informer delivers them, and kept as
// shared_ptr<const T> in hash maps keyed "ns/name", so an admission costs the
// same with 10 or 100,000 VMIs cached: it copies out the handful of objects it
// needs (SnapshotFor) and decides outside the lock. Only non-final VMIMs are
// kept (final ones never count for limits or in-flight checks).
//
// Objects that fail to parse are dropped (a stale entry under the same key is
// removed too, so a decision never uses an outdated version), logged as a
// warning with the object and the reason, and counted in parse_errors(). A VMI
// that fails to parse is remembered with the reason, so that an admission says
// "exists but cannot be read: ..." rather than "does not exist".
//
// Thread safety: all methods may be called concurrently (informer threads
// write, server threads read).
#pragma once

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/types.h"
#include "kube/object.h"

namespace webhook {

class ClusterCache {
 public:
  // Only the KubeVirt object `kubevirt_namespace/kubevirt_name` is kept.
  ClusterCache(std::string kubevirt_namespace, std::string kubevirt_name);

  // Informer handlers (adds and updates go to On*, deletes to On*Deleted).
  void OnVMI(const kube::Object& obj);
  void OnVMIDeleted(const kube::Object& obj);
  void OnVMIM(const kube::Object& obj);
  void OnVMIMDeleted(const kube::Object& obj);
  void OnKubeVirt(const kube::Object& obj);
  void OnKubeVirtDeleted(const kube::Object& obj);
  void OnPVC(const kube::Object& obj);
  void OnPVCDeleted(const kube::Object& obj);

  // Direct insertion of parsed objects (tests, benchmarks). A final VMIM
  // removes its key.
  void PutVMI(api::VMI vmi);
  void PutVMIM(api::VMIM vmim);
  void PutKubeVirt(api::KubeVirt kubevirt);
  void PutPVC(api::PVC pvc);

  // What one admission needs, copied out under the lock.
  struct Snapshot {
    std::shared_ptr<const api::VMI> vmi;  // the VMI under admission, null if absent
    std::string vmi_unreadable;           // vmi is null because the stored VMI failed to parse: why
    std::vector<std::shared_ptr<const api::VMIM>> in_flight;  // every non-final VMIM
    // The VMIs of the in-flight VMIMs (and the VMI under admission), "ns/name".
    std::unordered_map<std::string, std::shared_ptr<const api::VMI>> vmis;
    // The PVCs the VMI under admission claims, "ns/name".
    std::unordered_map<std::string, std::shared_ptr<const api::PVC>> pvcs;
    api::KubeVirtConfig config;
    bool kubevirt_found = false;
  };
  Snapshot SnapshotFor(std::string_view ns, std::string_view vmi_name) const;

  struct Sizes {
    size_t vmis = 0, in_flight_vmims = 0, pvcs = 0, kubevirts = 0;
  };
  Sizes sizes() const;
  uint64_t parse_errors() const;
  std::string last_parse_error() const;

 private:
  void ParseError(const kube::Object& obj, const std::string& what);

  const std::string kubevirt_namespace_, kubevirt_name_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const api::VMI>> vmis_;
  std::unordered_map<std::string, std::string> unreadable_vmis_;  // key -> parse error
  std::unordered_map<std::string, std::shared_ptr<const api::VMIM>> in_flight_;
  std::unordered_map<std::string, std::shared_ptr<const api::PVC>> pvcs_;
  std::shared_ptr<const api::KubeVirt> kubevirt_;
  uint64_t parse_errors_ = 0;
  std::string last_parse_error_;
};

// "ns/name", or "name" when ns is empty (kube::Object::Key's convention).
std::string CacheKey(std::string_view ns, std::string_view name);

}  // namespace webhook
