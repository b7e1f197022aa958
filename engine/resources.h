// The Kubernetes resources the engine reads and writes, in one place.
#pragma once

#include "kube/client.h"

namespace engine {

inline const kube::ResourceRef kVMIs{"kubevirt.io", "v1", "virtualmachineinstances", true};
inline const kube::ResourceRef kVMIMs{"kubevirt.io", "v1", "virtualmachineinstancemigrations",
                                      true};
inline const kube::ResourceRef kKubeVirts{"kubevirt.io", "v1", "kubevirts", true};
inline const kube::ResourceRef kLeases{"coordination.k8s.io", "v1", "leases", true};
inline const kube::ResourceRef kEvents{"", "v1", "events", true};
inline const kube::ResourceRef kNodes{"", "v1", "nodes", false};
inline const kube::ResourceRef kPVCs{"", "v1", "persistentvolumeclaims", true};
inline const kube::ResourceRef kPVs{"", "v1", "persistentvolumes", false};

}  // namespace engine
