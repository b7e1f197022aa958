#include <rapidjson/document.h>
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>

#include "plugin/yaml_out.h"

namespace {

std::string Yaml(const char* json) {
  rapidjson::Document d;
  d.Parse(json);
  REQUIRE_FALSE(d.HasParseError());
  return plugin::ToYaml(d);
}

}  // namespace

TEST_CASE("YAML output is block style like kubectl's", "[plugin]") {
  CHECK(Yaml(R"({"a":1,"b":{"c":"x","d":[]},"e":["p",{"q":1,"r":2}],"f":{},"g":null,"h":true})") ==
        "a: 1\n"
        "b:\n"
        "  c: x\n"
        "  d: []\n"
        "e:\n"
        "- p\n"
        "- q: 1\n"
        "  r: 2\n"
        "f: {}\n"
        "g: null\n"
        "h: true\n");
}

TEST_CASE("strings YAML would misread are quoted", "[plugin]") {
  struct Case {
    const char* s;
    bool quoted;
  } cases[] = {
      {"vmi-fedora", false},
      {"kubevirt.io/v1", false},
      {"", true},
      {"true", true},
      {"no", true},
      {"123", true},
      {"1.5", true},
      {"-1", true},
      {"a: b", true},
      {"# x", true},
      {"x #y", true},
      {"trailing ", true},
      {"{x}", true},
      {"line\nbreak", true},
      {"2026-01-01T00:00:00Z", true},
      {"node-a", false},
      {"~", true},
      {"*ref", true},
  };
  for (const auto& c : cases) {
    INFO(c.s);
    CHECK(plugin::YamlNeedsQuotes(c.s) == c.quoted);
  }
}

TEST_CASE("YAML output reads back to the same values", "[plugin]") {
  std::string y = Yaml(
      R"({"metadata":{"name":"m","labels":{"kubevirt.io/vmi-name":"vmi"},"uid":"123-abc"},
          "spec":{"vmiName":"yes","n":[[1,2],[]],"s":"a\"b\\c\nd"}})");
  YAML::Node n = YAML::Load(y);
  CHECK(n["metadata"]["labels"]["kubevirt.io/vmi-name"].as<std::string>() == "vmi");
  CHECK(n["metadata"]["uid"].as<std::string>() == "123-abc");
  // yaml-cpp reads a plain `yes` back as the string "yes" too, so the value
  // alone cannot tell: the non-specific tag "!" marks a quoted scalar.
  CHECK(n["spec"]["vmiName"].as<std::string>() == "yes");
  CHECK(n["spec"]["vmiName"].Tag() == "!");
  CHECK(n["metadata"]["name"].Tag() == "?");
  CHECK(n["spec"]["n"][0][1].as<int>() == 2);
  CHECK(n["spec"]["n"][1].size() == 0);
  CHECK(n["spec"]["s"].as<std::string>() == "a\"b\\c\nd");
}
