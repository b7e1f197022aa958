#include "engine/health.h"

namespace engine {

std::vector<std::string> ReadinessProblems(const ReadinessInput& in) {
  std::vector<std::string> out;
  if (!in.libvirt_connected) out.push_back("libvirt: not connected");
  if (!in.lease_healthy) out.push_back("node lease: not renewed within its duration");
  if (!in.caches_synced) out.push_back("caches: not yet listed from the API server");
  return out;
}

}  // namespace engine
