// The readiness decision: one line per problem, none when ready.
#include <catch2/catch.hpp>

#include "engine/health.h"

TEST_CASE("readiness lists every problem and nothing when ready") {
  CHECK(engine::ReadinessProblems({true, true, true}).empty());
  CHECK(engine::ReadinessProblems({false, true, true}) ==
        std::vector<std::string>{"libvirt: not connected"});
  CHECK(engine::ReadinessProblems({false, false, false}) ==
        std::vector<std::string>{"libvirt: not connected",
                                 "node lease: not renewed within its duration",
                                 "caches: not yet listed from the API server"});
}
