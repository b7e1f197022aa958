#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/devcluster/builtin_types.h"

namespace devcluster {
namespace {

JsonDoc Parse(const std::string& text) {
  JsonDoc d;
  d.Parse(text.c_str());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

TEST_CASE("Go time parsing of MicroTime and Time values, with Go's error texts",
          "[devcluster][builtin]") {
  struct Case {
    std::string_view layout;
    std::string value;
    std::string error;  // "" = parses
  };
  const std::string micro = "\"2006-01-02T15:04:05.000000Z07:00\"";
  const std::string rfc = "\"2006-01-02T15:04:05Z07:00\"";
  const std::vector<Case> cases = {
      {kRfc3339MicroLayout, "2026-12-03T10:00:00.123456Z", ""},
      {kRfc3339MicroLayout, "2026-12-03T10:00:00.123456+01:00", ""},
      {kRfc3339MicroLayout, "2026-12-03T10:00:00Z",
       "parsing time \"2026-12-03T10:00:00Z\" as " + micro + ": cannot parse \"Z\" as \".000000\""},
      {kRfc3339MicroLayout, "2026-12-03T10:00:00.123Z",
       "parsing time \"2026-12-03T10:00:00.123Z\" as " + micro +
           ": cannot parse \".123Z\" as \".000000\""},
      {kRfc3339MicroLayout, "yesterday",
       "parsing time \"yesterday\" as " + micro + ": cannot parse \"yesterday\" as \"2006\""},
      {kRfc3339MicroLayout, "2026-13-03T10:00:00.000000Z",
       "parsing time \"2026-13-03T10:00:00.000000Z\": month out of range"},
      {kRfc3339MicroLayout, "2026-02-30T10:00:00.000000Z",
       "parsing time \"2026-02-30T10:00:00.000000Z\": day out of range"},
      {kRfc3339MicroLayout, "2026-12-03T10:00:00.000000Zjunk",
       "parsing time \"2026-12-03T10:00:00.000000Zjunk\": extra text: \"junk\""},
      {kRfc3339MicroLayout, "2026-12-03 10:00:00.000000Z",
       "parsing time \"2026-12-03 10:00:00.000000Z\" as " + micro +
           ": cannot parse \" 10:00:00.000000Z\" as \"T\""},
      {kRfc3339MicroLayout, "",
       "parsing time \"\" as " + micro + ": cannot parse \"\" as \"2006\""},
      {kRfc3339Layout, "2026-12-03T10:00:00Z", ""},
      {kRfc3339Layout, "2026-12-03T10:00:00.5Z", ""},  // Go accepts a fraction the layout lacks
      {kRfc3339Layout, "2024-02-29T23:59:59-07:00", ""},
      {kRfc3339Layout, "2026-12-03T25:00:00Z",
       "parsing time \"2026-12-03T25:00:00Z\": hour out of range"},
      {kRfc3339Layout, "2026-12-03T10:00:00",
       "parsing time \"2026-12-03T10:00:00\" as " + rfc + ": cannot parse \"\" as \"Z07:00\""},
  };
  for (const auto& c : cases) {
    INFO(c.value);
    auto err = GoTimeParseError(c.layout, c.value);
    if (c.error.empty()) {
      CHECK_FALSE(err.has_value());
    } else {
      REQUIRE(err.has_value());
      CHECK(*err == c.error);
    }
  }
}

TEST_CASE("a Lease with a wrong type at each field fails to decode with encoding/json's message",
          "[devcluster][builtin]") {
  struct Case {
    std::string spec;
    std::string error;
  };
  const std::vector<Case> cases = {
      {R"({"holderIdentity": 5})",
       "json: cannot unmarshal number into Go struct field LeaseSpec.spec.holderIdentity of type "
       "string"},
      {R"({"leaseDurationSeconds": "15"})",
       "json: cannot unmarshal string into Go struct field LeaseSpec.spec.leaseDurationSeconds of "
       "type int32"},
      {R"({"leaseDurationSeconds": 1.5})",
       "json: cannot unmarshal number 1.5 into Go struct field LeaseSpec.spec.leaseDurationSeconds "
       "of type int32"},
      {R"({"leaseTransitions": 3000000000})",
       "json: cannot unmarshal number 3000000000 into Go struct field "
       "LeaseSpec.spec.leaseTransitions of type int32"},
      {R"({"acquireTime": 12})",
       "json: cannot unmarshal number into Go struct field LeaseSpec.spec.acquireTime of type "
       "string"},
      {R"({"renewTime": "2026-12-03T10:00:00Z"})",
       "parsing time \"2026-12-03T10:00:00Z\" as \"2006-01-02T15:04:05.000000Z07:00\": cannot "
       "parse \"Z\" as "
       "\".000000\""},
  };
  for (const auto& c : cases) {
    INFO(c.spec);
    JsonDoc d = Parse(
        R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"l"},"spec":)" +
        c.spec + "}");
    BuiltinDecodeResult r = DecodeBuiltin("coordination.k8s.io", "Lease", d);
    REQUIRE(r.error.has_value());
    CHECK(*r.error == c.error);
  }
  JsonDoc whole = Parse(R"({"spec": "x"})");
  CHECK(DecodeBuiltin("coordination.k8s.io", "Lease", whole).error ==
        std::optional<std::string>(
            "json: cannot unmarshal string into Go struct field Lease.spec of type v1.LeaseSpec"));
}

TEST_CASE("the first type error wins, but a time that does not parse stops decoding at once",
          "[devcluster][builtin]") {
  JsonDoc d = Parse(R"({"spec": {"holderIdentity": 1, "leaseDurationSeconds": "x"}})");
  CHECK(DecodeBuiltin("coordination.k8s.io", "Lease", d).error ==
        std::optional<std::string>("json: cannot unmarshal number into Go struct field "
                                   "LeaseSpec.spec.holderIdentity of type string"));
  JsonDoc t = Parse(R"({"spec": {"holderIdentity": 1, "renewTime": "now"}})");
  auto err = DecodeBuiltin("coordination.k8s.io", "Lease", t).error;
  REQUIRE(err.has_value());
  CHECK(err->rfind("parsing time \"now\"", 0) == 0);
}

TEST_CASE("a valid Lease decodes; unknown fields are reported with their paths and dropped",
          "[devcluster][builtin]") {
  JsonDoc d = Parse(R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
    "metadata":{"name":"l","bogus":1},
    "spec":{"holderIdentity":"node-a","leaseDurationSeconds":15,"acquireTime":"2026-12-03T10:00:00.000000Z",
            "renewTime":"2026-12-03T10:00:05.123456Z","leaseTransitions":0,"foo":{"x":1}},"extra":true})");
  BuiltinDecodeResult r = DecodeBuiltin("coordination.k8s.io", "Lease", d);
  CHECK_FALSE(r.error.has_value());
  CHECK(r.unknown_fields == std::vector<std::string>{"metadata.bogus", "spec.foo", "extra"});
  CHECK(Member(d, "extra") == nullptr);
  CHECK(Member(*Member(d, "spec"), "foo") == nullptr);
  CHECK(Member(*Member(d, "metadata"), "bogus") == nullptr);
  CHECK(Member(*Member(d, "spec"), "holderIdentity") != nullptr);
}

TEST_CASE("Node, ConfigMap and both Event versions are typed field by field",
          "[devcluster][builtin]") {
  struct Case {
    std::string group, kind, body, error;  // error "" = decodes
    std::vector<std::string> unknown = {};
  };
  const std::vector<Case> cases = {
      {"", "ConfigMap", R"({"data":{"a":"1","b":2}})",
       "json: cannot unmarshal number into Go struct field ConfigMap.data of type string"},
      {"", "ConfigMap", R"({"binaryData":{"a":"aGVsbG8="}})", ""},
      {"", "ConfigMap", R"({"binaryData":{"a":"not base64!"}})",
       "illegal base64 data at input byte 3"},
      {"", "ConfigMap", R"({"immutable":"yes"})",
       "json: cannot unmarshal string into Go struct field ConfigMap.immutable of type bool"},
      {"", "ConfigMap", R"({"data":{"a":"1"},"spec":{}})", "", {"spec"}},
      {"",
       "Node",
       R"({"spec":{"unschedulable":true,"taints":[{"key":"k","effect":"NoSchedule","foo":1}]}})",
       "",
       {"spec.taints[0].foo"}},
      {"", "Node", R"({"spec":{"taints":[{"key":"k","effect":3}]}})",
       "json: cannot unmarshal number into Go struct field Taint.spec.taints.effect of type "
       "v1.TaintEffect"},
      {"", "Node", R"({"status":{"capacity":{"memory":"8Gi","cpu":4}}})", ""},
      {"", "Node", R"({"status":{"capacity":{"memory":"lots"}}})",
       "quantities must match the regular expression "
       "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"},
      {"", "Node",
       R"({"status":{"conditions":[{"type":"Ready","status":"True","lastHeartbeatTime":"soon"}]}})",
       "parsing time \"soon\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"soon\" as \"2006\""},
      {"", "Node", R"({"status":{"daemonEndpoints":{"kubeletEndpoint":{"Port":"10250"}}}})",
       "json: cannot unmarshal string into Go struct field "
       "DaemonEndpoint.status.daemonEndpoints.kubeletEndpoint.Port "
       "of type int32"},
      {"", "Event", R"({"involvedObject":{"kind":"Pod","name":"p"},"count":"2"})",
       "json: cannot unmarshal string into Go struct field Event.count of type int32"},
      {"",
       "Event",
       R"({"eventTime":"2026-12-03T10:00:00.000000Z","firstTimestamp":"2026-12-03T10:00:00Z","note":"x"})",
       "",
       {"note"}},
      {"events.k8s.io", "Event", R"({"note":"x","regarding":{"kind":"Pod"},"deprecatedCount":1})",
       ""},
      {"events.k8s.io", "Event",
       R"({"series":{"count":1,"lastObservedTime":"2026-12-03T10:00:00Z"}})",
       "parsing time \"2026-12-03T10:00:00Z\" as \"2006-01-02T15:04:05.000000Z07:00\": cannot "
       "parse \"Z\" as "
       "\".000000\""},
      {"events.k8s.io", "Event", R"({"message":"x"})", "", {"message"}},
  };
  for (const auto& c : cases) {
    INFO(c.kind << " " << c.body);
    JsonDoc d = Parse(c.body);
    BuiltinDecodeResult r = DecodeBuiltin(c.group, c.kind, d);
    if (c.error.empty()) {
      CHECK_FALSE(r.error.has_value());
      CHECK(r.unknown_fields == c.unknown);
    } else {
      REQUIRE(r.error.has_value());
      CHECK(*r.error == c.error);
    }
  }
  CHECK(HasBuiltinType("", "Node"));
  CHECK_FALSE(HasBuiltinType("", "Secret"));
}

TEST_CASE("GoMapText prints a decoded patch as Go's %+v does", "[devcluster][builtin]") {
  JsonDoc d = Parse(R"({"spec":{"z":[1,"a",null],"b":true,"a":1.5},"metadata":{}})");
  CHECK(GoMapText(d) == "map[metadata:map[] spec:map[a:1.5 b:true z:[1 a <nil>]]]");
}

TEST_CASE("Lease validation: duration > 0 and transitions >= 0, in ValidateLeaseSpec's words",
          "[devcluster][builtin]") {
  JsonDoc bad = Parse(R"({"spec":{"leaseDurationSeconds":0,"leaseTransitions":-1}})");
  std::vector<FieldError> errs = ValidateBuiltin("coordination.k8s.io", "Lease", bad);
  REQUIRE(errs.size() == 2);
  CHECK(errs[0].Error() == "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0");
  CHECK(errs[1].Error() ==
        "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0");
  JsonDoc good = Parse(R"({"spec":{"leaseDurationSeconds":1,"leaseTransitions":0}})");
  CHECK(ValidateBuiltin("coordination.k8s.io", "Lease", good).empty());
}

}  // namespace
}  // namespace devcluster
