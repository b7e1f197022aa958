// kubectl migrate evacuate: which VMIs leave, how each one goes, the summary and exit code.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "kube/object.h"
#include "plugin/evacuate.h"
#include "plugin/options.h"

using plugin::Evacuee;

namespace {

kube::Object Obj(const std::string& json) {
  auto o = kube::ParseObject(json);
  REQUIRE(o.ok());
  return *o;
}

kube::Object Vmi(const std::string& ns, const std::string& name, const std::string& node,
                 const std::string& phase, const std::string& migratable = "True",
                 const std::string& state = "") {
  return Obj(R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",
    "metadata":{"name":")" + name + R"(","namespace":")" + ns + R"("},
    "status":{"phase":")" + phase + R"(","nodeName":")" + node + R"(",
      "conditions":[{"type":"LiveMigratable","status":")" + migratable +
             R"(","reason":"DisksNotLiveMigratable","message":"PVC data is not shared"}])" +
             (state.empty() ? "" : R"(,"migrationState":)" + state) + "}}");
}

kube::Object Vmim(const std::string& ns, const std::string& name, const std::string& vmi,
                  const std::string& status, const std::string& created = "2026-12-04T10:00:00Z") {
  return Obj(R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceMigration",
    "metadata":{"name":")" + name + R"(","namespace":")" + ns + R"(","uid":"uid-)" + name +
             R"(","creationTimestamp":")" + created + R"("},
    "spec":{"vmiName":")" + vmi + R"("},"status":)" + status + "}");
}

}  // namespace

TEST_CASE("evacuate takes the node's running VMIs of every namespace, sorted", "[plugin]") {
  std::vector<kube::Object> vmis{
      Vmi("prod", "db", "node01", "Running", "False"),
      Vmi("default", "web", "node01", "Running"),
      Vmi("default", "elsewhere", "node02", "Running"),
      Vmi("default", "booting", "node01", "Scheduled"),
      Vmi("default", "done", "node01", "Succeeded"),
      Vmi("dev", "app", "node01", "Running"),
  };
  auto plan = plugin::PlanEvacuation(vmis, "node01");
  REQUIRE(plan.size() == 3);
  CHECK(plan[0].Key() == "default/web");
  CHECK(plan[0].state == Evacuee::State::kWaiting);
  CHECK(plan[1].Key() == "dev/app");
  CHECK(plan[2].Key() == "prod/db");
  CHECK(plan[2].state == Evacuee::State::kNotMigratable);
  CHECK(plan[2].reason == "DisksNotLiveMigratable: PVC data is not shared");
  CHECK(plugin::PlanEvacuation(vmis, "node03").empty());
}

TEST_CASE("a VMI with a migration in progress is followed, the newest unfinished one",
          "[plugin]") {
  std::vector<kube::Object> vmims{
      Vmim("default", "old", "web", R"({"phase":"Failed"})", "2026-12-04T09:00:00Z"),
      Vmim("default", "m1", "web", R"({"phase":"Running"})", "2026-12-04T10:00:00Z"),
      Vmim("default", "m2", "web", R"({"phase":"Pending"})", "2026-12-04T10:01:00Z"),
      Vmim("dev", "x", "app", R"({"phase":"Succeeded"})"),
  };
  auto u = plugin::UnfinishedMigrations(vmims);
  REQUIRE(u.count("default/web") == 1);
  CHECK(u["default/web"]->name == "m2");
  CHECK(u.count("dev/app") == 0);
}

TEST_CASE("an evacuee's migration is observed to its end, one line per change", "[plugin]") {
  Evacuee e;
  e.ns = "default";
  e.name = "web";
  e.state = Evacuee::State::kMigrating;
  e.vmim = "m1";
  std::string shown;
  auto running = Vmim("default", "m1", "web", R"({"phase":"Running"})");
  auto vmi40 = Vmi("default", "web", "node01", "Running", "True",
                   R"({"migrationUid":"uid-m1","sourceNode":"node01","targetNode":"node02",
                       "progress":{"dataTotalBytes":1000,"dataProcessedBytes":400}})");
  std::string line = plugin::Observe(e, &running, &vmi40, shown);
  CHECK(line.rfind("default/web: Running 40%", 0) == 0);
  CHECK(line.find("node01 → node02") != std::string::npos);
  CHECK(plugin::Observe(e, &running, &vmi40, shown).empty());  // nothing new
  auto done = Vmim("default", "m1", "web", R"({"phase":"Succeeded"})");
  auto vmi_done = Vmi("default", "web", "node02", "Running", "True",
                      R"({"migrationUid":"uid-m1","sourceNode":"node01","targetNode":"node02",
                          "completed":true})");
  line = plugin::Observe(e, &done, &vmi_done, shown);
  CHECK(e.state == Evacuee::State::kMoved);
  CHECK(e.target == "node02");
  CHECK(line == "default/web: moved to node02 (m1)");

  Evacuee f = e;
  f.state = Evacuee::State::kMigrating;
  auto failed = Vmim("default", "m1", "web",
                     R"({"phase":"Failed","conditions":[{"type":"Failed","status":"True",
                         "reason":"ProgressTimeout","message":"no progress for 150 s"}]})");
  line = plugin::Observe(f, &failed, nullptr, shown);
  CHECK(f.state == Evacuee::State::kFailed);
  CHECK(f.reason.find("no progress for 150 s") != std::string::npos);

  // Just created, not in the informer's cache yet: not taken for deleted.
  Evacuee fresh{"default", "new", Evacuee::State::kMigrating, "m9", "", ""};
  CHECK(plugin::Observe(fresh, nullptr, nullptr, shown).empty());
  CHECK(fresh.state == Evacuee::State::kMigrating);

  Evacuee g = e;  // seen before, now gone
  g.state = Evacuee::State::kMigrating;
  line = plugin::Observe(g, nullptr, nullptr, shown);
  CHECK(g.state == Evacuee::State::kFailed);
  CHECK(g.reason == "its migration m1 was deleted (cancelled)");
}

TEST_CASE("a creation refused for a limit waits, another refusal fails, a created one migrates",
          "[plugin]") {
  Evacuee e{"default", "web", Evacuee::State::kWaiting, "", "", ""};
  CHECK(plugin::OnCreate(e, "", true, "node node01 has 1/1 outbound migrations in flight") ==
        "default/web: waiting for a free slot: node node01 has 1/1 outbound migrations in flight");
  CHECK(e.state == Evacuee::State::kWaiting);
  CHECK(plugin::OnCreate(e, "web-evacuation-x", false, "") ==
        "default/web: migration web-evacuation-x created");
  CHECK(e.state == Evacuee::State::kMigrating);
  CHECK(e.vmim == "web-evacuation-x");
  CHECK(e.reason.empty());
  Evacuee f{"default", "db", Evacuee::State::kWaiting, "", "", ""};
  CHECK(plugin::OnCreate(f, "", false, "Error from server (Forbidden): no") ==
        "default/db: failed: Error from server (Forbidden): no");
  CHECK(f.state == Evacuee::State::kFailed);
}

TEST_CASE("the summary counts, names each VMI that stays with why, and sets the exit code",
          "[plugin]") {
  Evacuee moved{"default", "web", Evacuee::State::kMoved, "m1", "", "node02"};
  Evacuee stuck{"prod", "db", Evacuee::State::kNotMigratable, "", "DisksNotLiveMigratable: x", ""};
  Evacuee failed{"dev", "app", Evacuee::State::kFailed, "m3", "timed out", ""};
  auto ok = plugin::Summarize("node01", {moved}, true);
  CHECK(ok.exit_code == plugin::kExitOk);
  CHECK(ok.text == "node node01: 1 moved, 0 failed, 0 not migratable\n");
  auto bad = plugin::Summarize("node01", {moved, stuck, failed}, true);
  CHECK(bad.exit_code == plugin::kExitFailed);
  CHECK(bad.text ==
        "node node01: 1 moved, 1 failed, 1 not migratable\n"
        "  not migratable: prod/db: DisksNotLiveMigratable: x\n"
        "  failed: dev/app: timed out\n");
  // Without --wait, an admitted migration is enough.
  Evacuee going{"default", "web", Evacuee::State::kMigrating, "m1", "", ""};
  CHECK(plugin::Summarize("node01", {going}, false).exit_code == plugin::kExitOk);
  CHECK(plugin::Summarize("node01", {going}, true).exit_code == plugin::kExitFailed);
}

TEST_CASE("evacuate and uncordon take a node name; their flags are checked", "[plugin]") {
  auto o = plugin::ParseArgs({"evacuate", "node01", "--wait", "--timeout", "10m"});
  REQUIRE(o.ok());
  CHECK(o->command == plugin::Command::kEvacuate);
  CHECK(o->node == "node01");
  CHECK(plugin::Validate(*o).ok());
  auto u = plugin::ParseArgs({"uncordon", "node01"});
  REQUIRE(u.ok());
  CHECK(u->command == plugin::Command::kUncordon);
  CHECK_FALSE(plugin::ParseArgs({"evacuate"}).ok());
  auto bad = plugin::ParseArgs({"evacuate", "Node_1", "--to", "node02", "--retry-on-limit"});
  REQUIRE(bad.ok());
  auto v = plugin::Validate(*bad);
  REQUIRE_FALSE(v.ok());
  CHECK_THAT(v.message(), Catch::Contains("invalid node name \"Node_1\""));
  CHECK_THAT(v.message(), Catch::Contains("--to applies only to creating a migration"));
  CHECK_THAT(v.message(), Catch::Contains("evacuate always waits for free slots"));
  auto dry = plugin::ParseArgs({"evacuate", "node01", "--dry-run", "--wait"});
  REQUIRE(dry.ok());
  CHECK_THAT(plugin::Validate(*dry).message(), Catch::Contains("--wait cannot be combined"));
  CHECK(plugin::SuggestCommand("evacaute") == "evacuate");
  CHECK_THAT(plugin::HelpText(plugin::Command::kEvacuate), Catch::Contains("kubectl migrate evacuate NODE"));
}
