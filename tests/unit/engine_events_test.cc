// EventRecorder against FakeApi: the Event's shape, deduplication of repeats
// within the window, and a dead API server that never fails the caller.
#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <chrono>
#include <string>

#include "engine/events.h"
#include "engine/resources.h"
#include "tests/fakes/fake_api.h"
#include "tests/fakes/fake_clock.h"

using namespace std::chrono_literals;

namespace {

engine::EventObject Vmim() {
  return {"kubevirt.io/v1", "VirtualMachineInstanceMigration", "default", "mig-1", "uid-1"};
}

}  // namespace

TEST_CASE("an event names its object, reason, type and the reporting node") {
  kube::testing::FakeApi api;
  base::testing::FakeClock clock;
  engine::EventRecorder rec(&api, &clock, {"migration-engine", "node01", 600s});
  rec.Warning(Vmim(), "MigrationWaiting", "waiting for a slot: 2 of 2 outbound on node01");
  REQUIRE(rec.written() == 1);
  REQUIRE(api.calls().size() == 1);
  const std::string call = api.calls()[0];
  CHECK(call.rfind("CREATE events default/mig-1.", 0) == 0);
  auto json = api.Peek(engine::kEvents, "default", call.substr(std::string("CREATE events default/").size()));
  REQUIRE(json);
  rapidjson::Document d;
  d.Parse(json->c_str());
  REQUIRE(d.IsObject());
  CHECK(std::string(d["involvedObject"]["kind"].GetString()) == "VirtualMachineInstanceMigration");
  CHECK(std::string(d["involvedObject"]["uid"].GetString()) == "uid-1");
  CHECK(std::string(d["type"].GetString()) == "Warning");
  CHECK(std::string(d["reason"].GetString()) == "MigrationWaiting");
  CHECK(std::string(d["source"]["host"].GetString()) == "node01");
  CHECK(d["count"].GetInt() == 1);
}

TEST_CASE("the same event within the window is written once, again after it") {
  kube::testing::FakeApi api;
  base::testing::FakeClock clock;
  engine::EventRecorder rec(&api, &clock, {"migration-engine", "node01", 600s});
  rec.Normal(Vmim(), "MigrationStarted", "node01 -> node02");
  clock.Advance(1s);
  rec.Normal(Vmim(), "MigrationStarted", "node01 -> node02");
  rec.Normal(Vmim(), "MigrationSucceeded", "in 3.1 s");
  CHECK(rec.written() == 2);
  clock.Advance(600s);
  rec.Normal(Vmim(), "MigrationStarted", "node01 -> node02");
  CHECK(rec.written() == 3);
}

TEST_CASE("a dead API server loses the event, counts it, and does not fail the caller") {
  kube::testing::FakeApi api;
  base::testing::FakeClock clock;
  engine::EventRecorder rec(&api, &clock, {"migration-engine", "node01", 600s});
  api.SetUnavailable(true);
  rec.Warning(Vmim(), "MigrationFailed", "progress timeout");
  CHECK(rec.written() == 0);
  CHECK(rec.failed() == 1);
}
