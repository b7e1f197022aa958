// The engine's readiness (/readyz) as a pure decision: each problem that
// makes the node unfit to run or receive migrations, one line each; none
// means ready. /healthz (liveness) is always ok while the process serves.
#pragma once

#include <string>
#include <vector>

namespace engine {

struct ReadinessInput {
  bool libvirt_connected = false;
  bool lease_healthy = false;  // NodeHeartbeat::Healthy(): renewed within the lease duration
  bool caches_synced = true;   // every list+watch cache has listed once
};

std::vector<std::string> ReadinessProblems(const ReadinessInput& in);

}  // namespace engine
