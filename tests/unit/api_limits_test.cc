#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "api/limits.h"

namespace {

using P = api::MigrationPhase;

api::VMIM Mig(const std::string& ns, const std::string& name, const std::string& vmi, P phase,
              bool deleting = false) {
  api::VMIM m;
  m.meta.namespace_ = ns;
  m.meta.name = name;
  m.meta.uid = "uid-" + ns + "-" + name;
  m.spec.vmi_name = vmi;
  m.status.phase = phase;
  if (deleting) m.meta.deletion_timestamp = "2026-11-25T10:00:00Z";
  return m;
}

struct Cluster {
  std::map<std::string, api::VMI> vmis;
  std::vector<api::VMIM> vmims;

  void AddVMI(const std::string& ns, const std::string& name, const std::string& node) {
    api::VMI v;
    v.meta.namespace_ = ns;
    v.meta.name = name;
    v.status.node_name = node;
    vmis[ns + "/" + name] = v;
  }
  api::VMILookup Lookup() const {
    return [this](std::string_view ns, std::string_view name) -> const api::VMI* {
      auto it = vmis.find(std::string(ns) + "/" + std::string(name));
      return it == vmis.end() ? nullptr : &it->second;
    };
  }
  std::vector<const api::VMIM*> Ptrs() const {
    std::vector<const api::VMIM*> out;
    for (const auto& m : vmims) out.push_back(&m);
    return out;
  }
};

TEST_CASE("a migration is in flight from admission until Succeeded or Failed") {
  struct Case {
    P phase;
    bool deleting;
    bool in_flight;
  };
  const Case cases[] = {
      {P::kUnset, false, true},           {P::kPending, false, true},
      {P::kScheduling, false, true},      {P::kScheduled, false, true},
      {P::kPreparingTarget, false, true}, {P::kTargetReady, false, true},
      {P::kRunning, false, true},         {P::kUnknown, false, true},
      {P::kSucceeded, false, false},      {P::kFailed, false, false},
      {P::kRunning, true, true},          {P::kPending, true, true},
      {P::kSucceeded, true, false},       {P::kFailed, true, false},
  };
  for (const Case& c : cases) {
    INFO("phase " << api::PhaseName(c.phase) << " deleting " << c.deleting);
    CHECK(api::IsInFlight(Mig("ns", "m", "v", c.phase, c.deleting)) == c.in_flight);
  }
}

TEST_CASE("in-flight counting per cluster and per source node") {
  Cluster c;
  c.AddVMI("a", "v1", "node01");
  c.AddVMI("a", "v2", "node01");
  c.AddVMI("b", "v1", "node02");
  c.AddVMI("b", "v3", "");  // not scheduled
  c.vmims = {
      Mig("a", "m1", "v1", P::kRunning),
      Mig("a", "m2", "v2", P::kPending),
      Mig("a", "m3", "v2", P::kSucceeded),
      Mig("b", "m1", "v1", P::kScheduling, /*deleting=*/true),
      Mig("b", "m2", "v1", P::kFailed, /*deleting=*/true),
      Mig("b", "m3", "gone", P::kRunning),  // VMI unknown: cluster only
      Mig("b", "m4", "v3", P::kRunning),    // no node: cluster only
  };
  api::InFlightCounts counts = api::CountInFlight(c.Ptrs(), c.Lookup());
  CHECK(counts.cluster == 5);
  CHECK(counts.Outbound("node01") == 2);
  CHECK(counts.Outbound("node02") == 1);
  CHECK(counts.Outbound("node03") == 0);
  CHECK(counts.outbound_per_node.size() == 2);
}

TEST_CASE("in-flight counting excludes the migration under admission and skips nulls") {
  Cluster c;
  c.AddVMI("a", "v1", "node01");
  c.vmims = {Mig("a", "m1", "v1", P::kRunning), Mig("a", "m2", "v1", P::kPending)};
  auto ptrs = c.Ptrs();
  ptrs.push_back(nullptr);
  CHECK(api::CountInFlight(ptrs, c.Lookup()).cluster == 2);
  CHECK(api::CountInFlight(ptrs, c.Lookup(), "uid-a-m1").cluster == 1);
  CHECK(api::CountInFlight(ptrs, c.Lookup(), "", "a/m2").cluster == 1);
  CHECK(api::CountInFlight(ptrs, c.Lookup(), "", "a/m").cluster == 2);  // no prefix match
  CHECK(api::CountInFlight(ptrs, c.Lookup(), "", "a/m22").cluster == 2);
  CHECK(api::CountInFlight(ptrs, c.Lookup(), "", "a/m1").Outbound("node01") == 1);
  CHECK(api::CountInFlight(ptrs, {}).Outbound("node01") == 0);  // no lookup: no nodes known
}

TEST_CASE("in-flight migrations of one VMI are namespace scoped") {
  Cluster c;
  c.vmims = {Mig("a", "m1", "v1", P::kRunning), Mig("b", "m1", "v1", P::kRunning),
             Mig("a", "m2", "v1", P::kSucceeded), Mig("a", "m3", "v2", P::kRunning)};
  auto same = api::InFlightForVMI(c.Ptrs(), "a", "v1");
  REQUIRE(same.size() == 1);
  CHECK(same[0]->meta.name == "m1");
  CHECK(api::InFlightForVMI(c.Ptrs(), "a", "v1", "uid-a-m1").empty());
  CHECK(api::InFlightForVMI(c.Ptrs(), "a", "v1", "", "a/m1").empty());
  CHECK(api::InFlightForVMI(c.Ptrs(), "c", "v1").empty());
}

}  // namespace
