#include "engine/hypervisor.h"

namespace engine {

const char* DomainStateName(DomainState state) {
  switch (state) {
    case DomainState::kNoState: return "NoState";
    case DomainState::kRunning: return "Running";
    case DomainState::kBlocked: return "Blocked";
    case DomainState::kPaused: return "Paused";
    case DomainState::kShutdown: return "ShuttingDown";
    case DomainState::kShutoff: return "Shutoff";
    case DomainState::kCrashed: return "Crashed";
    case DomainState::kSuspended: return "PMSuspended";
  }
  return "Unknown";
}

}  // namespace engine
