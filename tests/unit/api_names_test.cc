// The API server's name rules (api/names.h), the one copy every component uses.
#include <catch2/catch.hpp>

#include <string>

#include "api/names.h"

TEST_CASE("object names, label keys and label values follow the API server's rules", "[names]") {
  struct Case {
    std::string s;
    bool label, subdomain, qualified, value;
  } cases[] = {
      {"vmi-fedora", true, true, true, true},
      {"vmi.fedora", false, true, true, true},
      {"a", true, true, true, true},
      {std::string(63, 'a'), true, true, true, true},
      {std::string(64, 'a'), false, true, false, false},
      {std::string(253, 'a'), false, true, false, false},
      {std::string(254, 'a'), false, false, false, false},
      {"", false, false, false, true},
      {"Vmi", false, false, true, true},
      {"vmi_fedora", false, false, true, true},
      {"a..b", false, false, true, true},
      {".a", false, false, false, false},
      {"-vmi", false, false, false, false},
      {"vmi-", false, false, false, false},
      {"example.com/zone", false, false, true, false},
      {"Example.com/zone", false, false, false, false},
      {"example.com/", false, false, false, false},
      {"/zone", false, false, false, false},
      {"a b", false, false, false, false},
  };
  for (const auto& c : cases) {
    INFO(c.s);
    CHECK(api::IsDns1123Label(c.s) == c.label);
    CHECK(api::IsDns1123Subdomain(c.s) == c.subdomain);
    CHECK(api::IsQualifiedName(c.s) == c.qualified);
    CHECK(api::IsLabelValue(c.s) == c.value);
  }
}
