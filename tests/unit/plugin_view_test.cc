#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "kube/object.h"
#include "plugin/options.h"
#include "plugin/progress.h"
#include "plugin/view.h"

using plugin::FinalOutcome;
using plugin::View;
using plugin::ViewOf;
using std::chrono::seconds;

namespace {

kube::Object Obj(const std::string& json) {
  auto o = kube::ParseObject(json);
  REQUIRE(o.ok());
  return *o;
}

kube::Object Vmim(const std::string& name, const std::string& status) {
  return Obj(R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceMigration",
                 "metadata":{"name":")" + name + R"(","namespace":"default","uid":"uid-)" + name +
             R"("},"spec":{"vmiName":"vmi-a"},"status":)" + status + "}");
}

kube::Object Vmi(const std::string& migration_state) {
  return Obj(R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",
                 "metadata":{"name":"vmi-a","namespace":"default","uid":"vmi-uid"},
                 "status":{"migrationState":)" + migration_state + "}}");
}

}  // namespace

TEST_CASE("the VMI's migrationState is used only when it names this migration", "[plugin]") {
  kube::Object vmim = Vmim("m1", R"({"phase":"Running","migrationState":{"sourceNode":"own",
      "progress":{"dataTotalBytes":10,"dataProcessedBytes":1}}})");
  struct Case {
    const char* vmi_uid;
    const char* want_source;
    int64_t want_processed;
  } cases[] = {
      {"uid-m1", "vmi-node", 5},  // ours
      {"", "vmi-node", 5},        // the engine did not say whose: taken as ours
      {"uid-other", "own", 1},    // another migration's state: the VMIM's copy stays
  };
  for (const auto& c : cases) {
    INFO(c.vmi_uid);
    kube::Object vmi = Vmi(std::string(R"({"migrationUid":")") + c.vmi_uid +
                           R"(","sourceNode":"vmi-node",
                              "progress":{"dataTotalBytes":10,"dataProcessedBytes":5}})");
    View v = ViewOf(vmim, vmi);
    CHECK(v.phase == api::MigrationPhase::kRunning);
    REQUIRE(v.state.has_value());
    CHECK(v.state->source_node == c.want_source);
    CHECK(plugin::ProgressFromJson(v.progress).data_processed_bytes == c.want_processed);
  }
  View alone = ViewOf(vmim, std::nullopt);
  CHECK(alone.state->source_node == "own");
}

TEST_CASE("a Failed condition's message is kept as the failure message", "[plugin]") {
  View v = ViewOf(Vmim("m1", R"({"phase":"Failed","conditions":[
      {"type":"Ready","status":"True","message":"not this"},
      {"type":"Failed","status":"True","reason":"Timeout","message":"took too long"}]})"),
                  std::nullopt);
  CHECK(v.failure_message == "took too long");
}

TEST_CASE("status reports the newest unfinished migration, else the newest", "[plugin]") {
  std::vector<kube::Object> none;
  CHECK(plugin::CurrentMigration(none) == nullptr);
  std::vector<kube::Object> items = {Vmim("m3", R"({"phase":"Failed"})"),
                                     Vmim("m2", R"({"phase":"Running"})"),
                                     Vmim("m1", R"({"phase":"Pending"})")};
  CHECK(plugin::CurrentMigration(items)->name == "m2");
  items.erase(items.begin() + 1, items.end());
  items.push_back(Vmim("m0", R"({"phase":"Succeeded"})"));
  CHECK(plugin::CurrentMigration(items)->name == "m3");
  CHECK(plugin::IsFinished(items[0]));
  CHECK_FALSE(plugin::IsFinished(Vmim("m", R"({})")));
}

TEST_CASE("a wait goes on until the phase is final or the VMIM is deleted", "[plugin]") {
  for (auto phase : {api::MigrationPhase::kUnset, api::MigrationPhase::kPending,
                     api::MigrationPhase::kScheduling, api::MigrationPhase::kRunning}) {
    View v;
    v.phase = phase;
    CHECK_FALSE(FinalOutcome(v, false, "m", seconds(1)).has_value());
  }
}

TEST_CASE("a succeeded wait prints nodes and the state's duration, exit 0", "[plugin]") {
  View v;
  v.phase = api::MigrationPhase::kSucceeded;
  v.state.emplace();
  v.state->source_node = "n1";
  v.state->target_node = "n2";
  v.state->start_timestamp = "2026-01-01T00:00:00Z";
  v.state->end_timestamp = "2026-01-01T00:01:05Z";
  auto o = FinalOutcome(v, false, "m", seconds(99));
  REQUIRE(o.has_value());
  CHECK(o->exit_code == plugin::kExitOk);
  CHECK(o->line == "virtualmachineinstancemigration.kubevirt.io/m succeeded: n1 → n2 in 1m05s");
  v.state->end_timestamp.reset();  // no duration in the state: the time waited
  CHECK(FinalOutcome(v, false, "m", seconds(7))->line ==
        "virtualmachineinstancemigration.kubevirt.io/m succeeded: n1 → n2 in 7s");
}

TEST_CASE("a failed wait names the best reason it has, exit 1, with no placeholders",
          "[plugin]") {
  const std::string who = "error: virtualmachineinstancemigration.kubevirt.io/m failed: ";
  View v;
  v.phase = api::MigrationPhase::kFailed;
  CHECK(FinalOutcome(v, false, "m", seconds(3))->line == who + "no reason given [after 3s]");
  View deleted;  // phase still Running when the VMIM disappeared
  deleted.phase = api::MigrationPhase::kRunning;
  auto d = FinalOutcome(deleted, true, "m", seconds(3));
  REQUIRE(d.has_value());
  CHECK(d->exit_code == plugin::kExitFailed);
  CHECK(d->line == who + "the migration was deleted (cancelled) [after 3s]");
  v.failure_message = "condition says";
  CHECK(FinalOutcome(v, false, "m", seconds(3))->line == who + "condition says [after 3s]");
  v.state.emplace();
  v.state->source_node = "n1";
  v.state->failure_reason = "state says";
  v.state->abort_status = "Succeeded";
  auto f = FinalOutcome(v, false, "m", seconds(3));
  CHECK(f->exit_code == plugin::kExitFailed);
  CHECK(f->line == who + "state says (abort status: Succeeded) [from n1, after 3s]");
  View ok;
  ok.phase = api::MigrationPhase::kSucceeded;
  CHECK(FinalOutcome(ok, false, "m", seconds(4))->line ==
        "virtualmachineinstancemigration.kubevirt.io/m succeeded in 4s");
}

TEST_CASE("the phase is shown as stored, <none> while unset, as kubectl get vmim shows it",
          "[plugin]") {
  CHECK(plugin::ShownPhase(View{}) == "<none>");
  CHECK(plugin::ShownPhase(ViewOf(Vmim("m1", R"({"phase":"Running"})"), std::nullopt)) ==
        "Running");
  CHECK(plugin::ShownPhase(ViewOf(Vmim("m1", R"({"phase":"Evacuating"})"), std::nullopt)) ==
        "Evacuating");
}

TEST_CASE("cancel --wait ends on our migration's final abort status", "[plugin]") {
  struct Case {
    const char* state;
    bool ends;
    int exit_code;
  } cases[] = {
      {R"({"migrationUid":"uid-m1","abortStatus":"Succeeded"})", true, plugin::kExitOk},
      {R"({"abortStatus":"Succeeded"})", true, plugin::kExitOk},
      {R"({"migrationUid":"uid-m1","abortStatus":"Failed"})", true, plugin::kExitFailed},
      {R"({"migrationUid":"uid-m1","abortStatus":"Aborting"})", false, 0},
      {R"({"migrationUid":"uid-m1"})", false, 0},
      {R"({"migrationUid":"uid-other","abortStatus":"Succeeded"})", false, 0},
      {R"(null)", false, 0},
  };
  for (const auto& c : cases) {
    INFO(c.state);
    auto o = plugin::AbortOutcome(Vmi(c.state), "uid-m1", false);
    REQUIRE(o.has_value() == c.ends);
    if (o) {
      CHECK(o->exit_code == c.exit_code);
      CHECK_THAT(o->line, Catch::StartsWith(c.exit_code == plugin::kExitOk
                                                ? "abort status: Succeeded"
                                                : "error: abort status: Failed"));
    }
  }
  CHECK_FALSE(plugin::AbortOutcome(std::nullopt, "uid-m1", false).has_value());
}

TEST_CASE("cancel --wait ends when the VMIM is gone, also for a migration that never started",
          "[plugin]") {
  struct Case {
    const char* state;  // the VMI's migrationState once the VMIM is gone
    int exit_code;
    const char* line_start;
  } cases[] = {
      // Deleted before Running: the engine leaves no migrationState.
      {R"(null)", plugin::kExitOk, "cancelled before it started"},
      // An older migration's state stays on the VMI.
      {R"({"migrationUid":"uid-old","completed":true})", plugin::kExitOk,
       "cancelled before it started"},
      // Deleted while Running: aborted (the abort status arrived with the deletion).
      {R"({"migrationUid":"uid-m1","completed":true,"failed":true,"abortRequested":true,
           "abortStatus":"Succeeded"})",
       plugin::kExitOk, "abort status: Succeeded"},
      // It finished first.
      {R"({"migrationUid":"uid-m1","completed":true,"failed":false,"sourceNode":"a",
           "targetNode":"b"})",
       plugin::kExitFailed, "error: the migration completed before it could be cancelled (a → b)"},
      {R"({"migrationUid":"uid-m1","completed":true,"failed":true,"failureReason":"boom"})",
       plugin::kExitOk, "cancelled: the migration ended failed (boom)"},
  };
  for (const auto& c : cases) {
    INFO(c.state);
    auto o = plugin::AbortOutcome(Vmi(c.state), "uid-m1", true);
    REQUIRE(o.has_value());
    CHECK(o->exit_code == c.exit_code);
    CHECK_THAT(o->line, Catch::StartsWith(c.line_start));
  }
  // Ours and still running when the VMIM went: wait for the VMI's end.
  CHECK_FALSE(plugin::AbortOutcome(Vmi(R"({"migrationUid":"uid-m1","abortRequested":true})"),
                                   "uid-m1", true)
                  .has_value());
  // The VMI itself is gone too: nothing was migrating.
  auto gone = plugin::AbortOutcome(std::nullopt, "uid-m1", true);
  REQUIRE(gone.has_value());
  CHECK(gone->exit_code == plugin::kExitOk);
}

TEST_CASE("status falls back to the VMI's migrationState when its VMIM is gone", "[plugin]") {
  kube::Object aborted = Vmi(R"({"migrationUid":"uid-m2","completed":true,"failed":true,
      "abortRequested":true,"abortStatus":"Succeeded","sourceNode":"a","targetNode":"b"})");
  // No VMIM left (the cancelled one was deleted).
  auto v = plugin::VMIOnlyView(aborted, {});
  REQUIRE(v.has_value());
  CHECK(v->phase == api::MigrationPhase::kFailed);
  CHECK(v->state->abort_status == "Succeeded");
  // An older, finished VMIM is listed, but the VMI's state is a later migration's.
  std::vector<kube::Object> older = {Vmim("m1", R"({"phase":"Succeeded"})")};
  CHECK(plugin::VMIOnlyView(aborted, older).has_value());
  // The state is the listed VMIM's: the VMIM is shown.
  std::vector<kube::Object> same = {Vmim("m2", R"({"phase":"Failed"})")};
  CHECK_FALSE(plugin::VMIOnlyView(aborted, same).has_value());
  // A migration in progress is always the one shown.
  std::vector<kube::Object> running = {Vmim("m3", R"({"phase":"Running"})")};
  CHECK_FALSE(plugin::VMIOnlyView(aborted, running).has_value());
  // Without a migrationState there is nothing to show.
  CHECK_FALSE(plugin::VMIOnlyView(Vmi("null"), {}).has_value());
  auto succeeded = plugin::VMIOnlyView(Vmi(R"({"completed":true})"), {});
  REQUIRE(succeeded.has_value());
  CHECK(succeeded->phase == api::MigrationPhase::kSucceeded);
}

TEST_CASE("a one-look meter shows the sample's percent, 100% once Succeeded", "[plugin]") {
  kube::Object running = Vmim("m1", R"({"phase":"Running","migrationState":{
      "progress":{"dataTotalBytes":10,"dataProcessedBytes":4}}})");
  CHECK(plugin::MeterOf(ViewOf(running, std::nullopt)).percent() == 40);
  kube::Object done = Vmim("m1", R"({"phase":"Succeeded","migrationState":{
      "progress":{"dataTotalBytes":10,"dataProcessedBytes":4}}})");
  CHECK(plugin::MeterOf(ViewOf(done, std::nullopt)).percent() == 100);
  CHECK_FALSE(plugin::MeterOf(View{}).percent().has_value());
}

TEST_CASE("the engine's convergence forecast is shown as one line", "[plugin]") {
  View none = ViewOf(Vmim("m1", R"({"phase":"Running"})"), std::nullopt);
  CHECK(plugin::ForecastLine(none).empty());
  View no = ViewOf(Vmim("m1", R"({"phase":"Running","conditions":[
      {"type":"ConvergenceForecast","status":"False","reason":"DirtyRateTooHigh",
       "message":"will not converge: the guest dirties 40 MiB/s"}]})"),
                   std::nullopt);
  CHECK(plugin::ForecastLine(no) ==
        "will not converge: the guest dirties 40 MiB/s [DirtyRateTooHigh]");
  View yes = ViewOf(Vmim("m1", R"({"phase":"Running","conditions":[
      {"type":"ConvergenceForecast","status":"True","reason":"Converges","message":"about 8 s"}]})"),
                    std::nullopt);
  CHECK(plugin::ForecastLine(yes) == "about 8 s [Converges]");
  View bare = ViewOf(Vmim("m1", R"({"phase":"Running","conditions":[
      {"type":"ConvergenceForecast","status":"Unknown","reason":"NoDirtyRate"}]})"),
                     std::nullopt);
  CHECK(plugin::ForecastLine(bare) == "unknown [NoDirtyRate]");
}
