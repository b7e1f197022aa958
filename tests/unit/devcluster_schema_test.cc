#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/devcluster/schema.h"

namespace devcluster {
namespace {

JsonDoc ParseSchemaJson(const std::string& text) {
  JsonDoc d;
  d.Parse(text.c_str());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

const char kSchema[] = R"({
  "type": "object",
  "properties": {
    "spec": {
      "type": "object",
      "required": ["replicas"],
      "properties": {
        "replicas": {"type": "integer", "minimum": 1, "maximum": 10},
        "name": {"type": "string", "minLength": 2, "maxLength": 5, "pattern": "^[a-z]+$"},
        "mode": {"type": "string", "enum": ["Fast", "Slow"]},
        "level": {"type": "integer", "enum": [1, 2]},
        "ratio": {"type": "number", "exclusiveMaximum": true, "maximum": 1.5},
        "flag": {"type": "boolean"},
        "tags": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string"}},
        "items": {"type": "array", "items": {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}}},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                 "properties": {"known": {"type": "integer"}}},
        "port": {"x-kubernetes-int-or-string": true},
        "opt": {"type": "string", "nullable": true},
        "def": {"type": "string", "default": "dflt"},
        "embedded": {"type": "object", "x-kubernetes-embedded-resource": true,
                     "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}
      }
    },
    "status": {"type": "object", "properties": {"phase": {"type": "string"}}}
  }
})";

std::vector<std::string> Errors(const SchemaResult& r) {
  std::vector<std::string> out;
  for (const auto& e : r.errors) out.push_back(e.Error());
  return out;
}

TEST_CASE("schema validation reports kube-apiserver's field errors", "[devcluster][schema]") {
  struct Case {
    const char* spec;
    std::vector<std::string> errors;
  };
  const std::vector<Case> cases = {
      {R"({"replicas":3})", {}},
      {R"({"replicas":2.0})", {}},
      {R"({"replicas":"3"})",
       {R"(spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string")"}},
      {R"({"replicas":1.5})",
       {R"(spec.replicas: Invalid value: "number": spec.replicas in body must be of type integer: "number")"}},
      {R"({"replicas":0})", {"spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"}},
      {R"({"replicas":11})", {"spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"}},
      {R"({})", {"spec.replicas: Required value"}},
      {R"({"replicas":1,"name":"a"})",
       {R"(spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long)"}},
      {R"({"replicas":1,"name":"abcdef"})", {"spec.name: Too long: may not be more than 5 bytes"}},
      {R"({"replicas":1,"name":"AB"})", {R"(spec.name: Invalid value: "AB": spec.name in body should match '^[a-z]+$')"}},
      {R"({"replicas":1,"mode":"Medium"})", {R"(spec.mode: Unsupported value: "Medium": supported values: "Fast", "Slow")"}},
      {R"({"replicas":1,"level":3})", {R"(spec.level: Unsupported value: 3: supported values: "1", "2")"}},
      {R"({"replicas":1,"ratio":1.5})", {"spec.ratio: Invalid value: 1.5: spec.ratio in body should be less than 1.5"}},
      {R"({"replicas":1,"ratio":1})", {}},
      {R"({"replicas":1,"flag":"yes"})",
       {R"(spec.flag: Invalid value: "string": spec.flag in body must be of type boolean: "string")"}},
      {R"({"replicas":1,"tags":[]})", {"spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items"}},
      {R"({"replicas":1,"tags":["a","b","c"]})", {"spec.tags: Too many: 3: must have at most 2 items"}},
      {R"({"replicas":1,"tags":["a",1]})",
       {R"(spec.tags[1]: Invalid value: "integer": spec.tags[1] in body must be of type string: "integer")"}},
      {R"({"replicas":1,"items":[{"a":"x"},{}]})", {"spec.items[1].a: Required value"}},
      {R"({"replicas":1,"labels":{"a":"x","b":1}})",
       {R"(spec.labels.b: Invalid value: "integer": spec.labels.b in body must be of type string: "integer")"}},
      {R"({"replicas":1,"port":"http"})", {}},
      {R"({"replicas":1,"port":80})", {}},
      {R"({"replicas":1,"port":true})",
       {R"(spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean")"}},
      {R"({"replicas":1,"opt":null})", {}},
      {R"({"replicas":1,"name":null})", {}},
      {R"({"replicas":null})", {"spec.replicas: Required value"}},
      {R"({"replicas":1,"free":{"known":"x","anything":{"deep":1}}})",
       {R"(spec.free.known: Invalid value: "string": spec.free.known in body must be of type integer: "string")"}},
      {R"({"replicas":"x","mode":"M"})",
       {R"(spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string")",
        R"(spec.mode: Unsupported value: "M": supported values: "Fast", "Slow")"}},
  };
  JsonDoc schema = ParseSchemaJson(kSchema);
  for (const auto& c : cases) {
    INFO(c.spec);
    JsonDoc obj = ParseSchemaJson(std::string(R"({"apiVersion":"x/v1","kind":"K","spec":)") + c.spec + "}");
    SchemaResult r = ValidateAndPrune(obj, schema, obj.GetAllocator(), true);
    auto got = Errors(r);
    auto want = c.errors;
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    CHECK(got == want);
    CHECK(r.unknown_fields.empty());
  }
}

TEST_CASE("date-time and date formats are checked as kube-openapi's strfmt does",
          "[devcluster][schema]") {
  JsonDoc schema =
      ParseSchemaJson(R"({"type":"object","properties":{"status":{"type":"object","properties":{
    "at":{"type":"string","format":"date-time","nullable":true},"day":{"type":"string","format":"date"},
    "n":{"type":"integer","format":"int64"}}}}})");
  struct Case {
    std::string status;
    std::vector<std::string> errors;
  };
  const std::vector<Case> cases = {
      {R"({"at":"2026-12-03T10:00:00Z"})", {}},
      {R"({"at":"2026-12-03T10:00:00.123456+01:00"})", {}},
      {R"({"at":"2026-12-03t10:00:00z"})", {}},
      {R"({"at":null})", {}},
      {R"({"at":"yesterday"})",
       {R"(status.at: Invalid value: "yesterday": status.at in body must be of type date-time: "yesterday")"}},
      {R"({"at":"2026-12-03 10:00:00Z"})",
       {R"(status.at: Invalid value: "2026-12-03 10:00:00Z": status.at in body must be of type date-time: "2026-12-03 10:00:00Z")"}},
      {R"({"at":"2026-12-03T24:00:00Z"})",
       {R"(status.at: Invalid value: "2026-12-03T24:00:00Z": status.at in body must be of type date-time: "2026-12-03T24:00:00Z")"}},
      {R"({"at":"2026-02-30T10:00:00Z"})",
       {R"(status.at: Invalid value: "2026-02-30T10:00:00Z": status.at in body must be of type date-time: "2026-02-30T10:00:00Z")"}},
      {R"({"day":"2026-12-03"})", {}},
      {R"({"day":"2026-13-03"})",
       {R"(status.day: Invalid value: "2026-13-03": status.day in body must be of type date: "2026-13-03")"}},
      {R"({"n":5})", {}},
  };
  for (const auto& c : cases) {
    INFO(c.status);
    JsonDoc obj = ParseSchemaJson(std::string(R"({"apiVersion":"x/v1","kind":"K","status":)") +
                                  c.status + "}");
    SchemaResult r = ValidateAndPrune(obj, schema, obj.GetAllocator(), true);
    CHECK(Errors(r) == c.errors);
  }
  JsonDoc obj = ParseSchemaJson(R"({"status":{"at":"nope"}})");
  SchemaResult r = ValidateAndPrune(obj, schema, obj.GetAllocator(), true);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].type == "FieldValueTypeInvalid");
}

TEST_CASE("schema walk applies defaults and drops non-nullable nulls", "[devcluster][schema]") {
  JsonDoc schema = ParseSchemaJson(kSchema);
  JsonDoc obj = ParseSchemaJson(R"({"spec":{"replicas":1,"name":null,"opt":null}})");
  SchemaResult r = ValidateAndPrune(obj, schema, obj.GetAllocator(), true);
  CHECK(r.errors.empty());
  CHECK(ToJson(obj) == R"({"spec":{"replicas":1,"opt":null,"def":"dflt"}})");

  JsonDoc with_null_default = ParseSchemaJson(R"({"spec":{"replicas":1,"def":null}})");
  r = ValidateAndPrune(with_null_default, schema, with_null_default.GetAllocator(), true);
  CHECK(ToJson(with_null_default) == R"({"spec":{"replicas":1,"def":"dflt"}})");
}

TEST_CASE("schema walk collects unknown fields and prunes them only when asked", "[devcluster][schema]") {
  const std::string text = R"({"apiVersion":"x/v1","kind":"K","metadata":{"name":"n","junk":1},"extra":1,
    "spec":{"replicas":1,"bogus":{"x":1},"items":[{"a":"x","b":1}],"free":{"anything":1,"known":2},
            "labels":{"k":"v"},
            "embedded":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","zzz":1},"spec":{"x":1},"other":1}},
    "status":{"phase":"P","other":1}})";
  std::vector<std::string> want = {"metadata.junk",         "extra", "spec.bogus", "spec.items[0].b",
                                   "spec.embedded.metadata.zzz", "spec.embedded.other", "status.other"};
  std::sort(want.begin(), want.end());
  JsonDoc schema = ParseSchemaJson(kSchema);

  JsonDoc kept = ParseSchemaJson(text);
  SchemaResult r = ValidateAndPrune(kept, schema, kept.GetAllocator(), false);
  CHECK(r.errors.empty());
  auto got = r.unknown_fields;
  std::sort(got.begin(), got.end());
  CHECK(got == want);
  CHECK(kept == ParseSchemaJson(R"({"apiVersion":"x/v1","kind":"K","metadata":{"name":"n","junk":1},"extra":1,
    "spec":{"replicas":1,"bogus":{"x":1},"items":[{"a":"x","b":1}],"free":{"anything":1,"known":2},
            "labels":{"k":"v"},"def":"dflt",
            "embedded":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","zzz":1},"spec":{"x":1},"other":1}},
    "status":{"phase":"P","other":1}})"));

  JsonDoc pruned = ParseSchemaJson(text);
  r = ValidateAndPrune(pruned, schema, pruned.GetAllocator(), true);
  got = r.unknown_fields;
  std::sort(got.begin(), got.end());
  CHECK(got == want);
  CHECK(pruned == ParseSchemaJson(R"({"apiVersion":"x/v1","kind":"K","metadata":{"name":"n"},
    "spec":{"replicas":1,"items":[{"a":"x"}],"free":{"anything":1,"known":2},"labels":{"k":"v"},"def":"dflt",
            "embedded":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"x":1}}},
    "status":{"phase":"P"}})"));
}

TEST_CASE("invalid status has kube-apiserver's message and causes", "[devcluster][schema]") {
  std::vector<FieldError> errs = {
      TypeInvalid("spec.x", "\"string\"", "spec.x in body must be of type integer: \"string\""),
      RequiredValue("spec.y", ""),
  };
  base::Status s = ToInvalidStatus(errs, "example.com", "Foo", "bar");
  CHECK(s.http_code() == 422);
  CHECK(s.reason() == "Invalid");
  CHECK(s.code() == base::Code::kInvalidArgument);
  CHECK(s.message() ==
        "Foo.example.com \"bar\" is invalid: [spec.x: Invalid value: \"string\": spec.x in body must be of type "
        "integer: \"string\", spec.y: Required value]");
  JsonDoc details = ParseSchemaJson(s.details_json());
  CHECK(details == ParseSchemaJson(R"({"name":"bar","group":"example.com","kind":"Foo","causes":[
      {"reason":"FieldValueTypeInvalid","message":"Invalid value: \"string\": spec.x in body must be of type integer: \"string\"","field":"spec.x"},
      {"reason":"FieldValueRequired","message":"Required value","field":"spec.y"}]})"));

  base::Status one = ToInvalidStatus({errs[1]}, "", "Namespace", "ns");
  CHECK(one.message() == "Namespace \"ns\" is invalid: spec.y: Required value");
  CHECK(ParseSchemaJson(one.details_json()) ==
        ParseSchemaJson(R"({"name":"ns","kind":"Namespace","causes":[{"reason":"FieldValueRequired","message":"Required value","field":"spec.y"}]})"));

  base::Status dup = ToInvalidStatus({errs[1], errs[1]}, "", "Namespace", "ns");
  CHECK(dup.message() == "Namespace \"ns\" is invalid: spec.y: Required value");
}

TEST_CASE("strict decoding errors and warnings name the unknown fields", "[devcluster][schema]") {
  base::Status s = ToStrictStatus({"spec.foo", "spec.bar"});
  CHECK(s.http_code() == 400);
  CHECK(s.reason() == "BadRequest");
  CHECK(s.message() == "strict decoding error: unknown field \"spec.foo\", unknown field \"spec.bar\"");
  CHECK(UnknownFieldWarnings({"spec.foo"}) == std::vector<std::string>{"unknown field \"spec.foo\""});
}

TEST_CASE("GoValue prints values as Go prints them in field errors", "[devcluster][schema]") {
  struct Case {
    const char* json;
    const char* want;
  };
  const std::vector<Case> cases = {
      {R"("a\"b")", R"("a\"b")"}, {"5", "5"},       {"-7", "-7"},         {"2.0", "2"},
      {"1.5", "1.5"},             {"1e6", "1e+06"}, {"123456.5", "123456.5"}, {"1234567.5", "1.2345675e+06"},
      {"0.0001", "0.0001"},       {"0.00001", "1e-05"}, {"true", "true"}, {"null", "null"},
      {R"({"a":[1]})", R"({"a":[1]})"},
  };
  for (const auto& c : cases) {
    INFO(c.json);
    JsonDoc v = ParseSchemaJson(std::string("[") + c.json + "]");
    CHECK(GoValue(v[0]) == c.want);
  }
}

TEST_CASE("object metadata validation lists every problem", "[devcluster][schema]") {
  struct Case {
    const char* metadata;
    bool subdomain;
    std::vector<std::string> errors;  // prefixes of FieldError::Error()
  };
  const std::vector<Case> cases = {
      {R"({"name":"ok.name","labels":{"app":"web"},"annotations":{"example.com/x":"y"}})", true, {}},
      {R"({})", true, {"metadata.name: Required value: name or generateName is required"}},
      {R"({"generateName":"foo-"})", true, {}},
      {R"({"generateName":"Foo-"})", true, {"metadata.generateName: Invalid value: \"Foo-\": a lowercase RFC 1123 subdomain"}},
      {R"({"name":"Bad_Name"})", true, {"metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"}},
      {R"({"name":"a.b"})", false, {"metadata.name: Invalid value: \"a.b\": must not contain dots"}},
      {R"({"name":"n","labels":{"a@b":"ok","k":"bad value"}})", true,
       {"metadata.labels: Invalid value: \"a@b\": name part must consist",
        "metadata.labels: Invalid value: \"bad value\": a valid label must be"}},
      {R"({"name":"n","annotations":{"a/b/c":"x"}})", true, {"metadata.annotations: Invalid value: \"a/b/c\": a qualified name"}},
  };
  for (const auto& c : cases) {
    INFO(c.metadata);
    JsonDoc meta = ParseSchemaJson(c.metadata);
    auto errs = ValidateObjectMeta(&meta, c.subdomain);
    REQUIRE(errs.size() == c.errors.size());
    for (size_t i = 0; i < errs.size(); ++i) CHECK_THAT(errs[i].Error(), Catch::StartsWith(c.errors[i]));
  }
  std::string big = R"({"name":"n","annotations":{"a":")" + std::string(256 * 1024, 'x') + R"("}})";
  JsonDoc meta = ParseSchemaJson(big);
  auto errs = ValidateObjectMeta(&meta, true);
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].Error() == "metadata.annotations: Too long: may not be more than 262144 bytes");
}

TEST_CASE("CRD schemas must be structural", "[devcluster][schema]") {
  const std::string p = "spec.versions[0].schema.openAPIV3Schema";
  struct Case {
    const char* schema;
    std::vector<std::string> errors;
  };
  const std::vector<Case> cases = {
      {kSchema, {}},
      {R"({"type":"object","properties":{"spec":{"properties":{"a":{"type":"string"}}}}})",
       {p + ".properties[spec].type: Required value: must not be empty for specified object fields"}},
      {R"({"properties":{}})", {p + ".type: Required value: must not be empty at the root"}},
      {R"({"type":"string"})", {p + ".type: Invalid value: \"string\": must be object at the root"}},
      {R"({"type":"object","properties":{"l":{"type":"array"}}})",
       {p + ".properties[l].items: Required value: must be specified"}},
      {R"({"type":"object","properties":{"l":{"type":"array","items":{}}}})",
       {p + ".properties[l].items.type: Required value: must not be empty for specified array items"}},
      {R"({"type":"object","properties":{"s":{"type":"string","properties":{"x":{"type":"string"}}}}})",
       {p + ".properties[s].properties: Forbidden: must be empty if type is not object"}},
      {R"({"type":"object","properties":{"x":{"type":"foo"}}})",
       {p + ".properties[x].type: Unsupported value: \"foo\": supported values: \"array\", \"boolean\", \"integer\", "
            "\"number\", \"object\", \"string\""}},
      {R"({"type":"object","properties":{"m":{"type":"object","additionalProperties":false}}})",
       {p + ".properties[m].additionalProperties: Forbidden: must not be false"}},
      {R"({"type":"object","properties":{"m":{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":{"type":"string"}}}})",
       {p + ".properties[m].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive"}},
      {R"({"type":"object","properties":{"metadata":{"type":"object","properties":{"name":{"type":"string"},"labels":{"type":"object"}}}}})",
       {p + ".properties[metadata]: Forbidden: must not specify anything other than name and generateName, but "
            "metadata is implicitly specified"}},
      {R"({"type":"object","properties":{"x":{"x-kubernetes-preserve-unknown-fields":false}}})",
       {p + ".properties[x].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined",
        p + ".properties[x].type: Required value: must not be empty for specified object fields"}},
      {R"({"type":"object","properties":{"e":{"x-kubernetes-embedded-resource":true}}})",
       {p + ".properties[e].type: Required value: must be object if x-kubernetes-embedded-resource is true"}},
      {R"({"type":"object","properties":{"i":{"type":"string","x-kubernetes-int-or-string":true}}})",
       {p + ".properties[i].type: Invalid value: \"string\": must be empty if x-kubernetes-int-or-string is true"}},
  };
  for (const auto& c : cases) {
    INFO(c.schema);
    JsonDoc schema = ParseSchemaJson(c.schema);
    std::vector<std::string> got;
    for (const auto& e : ValidateCrdSchema(schema, p)) got.push_back(e.Error());
    auto want = c.errors;
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    CHECK(got == want);
  }
}

}  // namespace
}  // namespace devcluster
