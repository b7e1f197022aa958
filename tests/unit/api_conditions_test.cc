#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "api/conditions.h"

namespace {

using api::Condition;

constexpr const char* kThen = "2026-12-03T10:00:00Z";
constexpr const char* kNow = "2026-12-03T11:00:00Z";

Condition C(const char* type, const char* status, const char* reason = "", const char* message = "",
            const char* time = "", const char* probe = "") {
  return Condition{type, status, reason, message, time, probe};
}

TEST_CASE("SetCondition: lastTransitionTime moves only when status flips") {
  struct Case {
    const char* name;
    std::vector<Condition> before;
    Condition set;
    bool changed;
    std::vector<Condition> after;
  };
  const Case cases[] = {
      {"a new type is appended with now",
       {C("Ready", "True", "Up", "", kThen)},
       C("LiveMigratable", "False", "DisksNotLiveMigratable", "claim data is RWO"),
       true,
       {C("Ready", "True", "Up", "", kThen),
        C("LiveMigratable", "False", "DisksNotLiveMigratable", "claim data is RWO", kNow)}},
      {"a status flip takes now",
       {C("LiveMigratable", "True", "", "", kThen)},
       C("LiveMigratable", "False", "DisksNotLiveMigratable", "m"),
       true,
       {C("LiveMigratable", "False", "DisksNotLiveMigratable", "m", kNow)}},
      {"a reason and message update keeps the time",
       {C("LiveMigratable", "False", "DisksNotLiveMigratable", "old", kThen)},
       C("LiveMigratable", "False", "InterfaceNotLiveMigratable", "new"),
       true,
       {C("LiveMigratable", "False", "InterfaceNotLiveMigratable", "new", kThen)}},
      {"the same condition again changes nothing",
       {C("LiveMigratable", "False", "DisksNotLiveMigratable", "m", kThen)},
       C("LiveMigratable", "False", "DisksNotLiveMigratable", "m"),
       false,
       {C("LiveMigratable", "False", "DisksNotLiveMigratable", "m", kThen)}},
      {"the caller's transition time is ignored",
       {C("Ready", "True", "", "", kThen)},
       C("Ready", "True", "", "", "1999-01-01T00:00:00Z"),
       false,
       {C("Ready", "True", "", "", kThen)}},
      {"an empty probe time keeps the stored one",
       {C("Ready", "True", "", "", kThen, kThen)},
       C("Ready", "True"),
       false,
       {C("Ready", "True", "", "", kThen, kThen)}},
      {"a new probe time is a change",
       {C("Ready", "True", "", "", kThen, kThen)},
       C("Ready", "True", "", "", "", kNow),
       true,
       {C("Ready", "True", "", "", kThen, kNow)}},
      {"other conditions keep their place",
       {C("A", "True", "", "", kThen), C("B", "True", "", "", kThen),
        C("C", "True", "", "", kThen)},
       C("B", "False"),
       true,
       {C("A", "True", "", "", kThen), C("B", "False", "", "", kNow),
        C("C", "True", "", "", kThen)}},
      {"duplicates of the type are dropped",
       {C("B", "True", "", "", kThen), C("A", "True", "", "", kThen),
        C("B", "False", "", "", kThen)},
       C("B", "True"),
       true,
       {C("B", "True", "", "", kThen), C("A", "True", "", "", kThen)}},
      {"an empty list gets the condition",
       {},
       C("Ready", "Unknown"),
       true,
       {C("Ready", "Unknown", "", "", kNow)}},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    std::vector<Condition> conditions = c.before;
    CHECK(api::SetCondition(conditions, c.set, kNow) == c.changed);
    CHECK(conditions == c.after);
  }
}

TEST_CASE("RemoveCondition removes every condition of the type and says so") {
  std::vector<Condition> conditions = {C("A", "True"), C("B", "True"), C("A", "False")};
  CHECK(api::RemoveCondition(conditions, "A"));
  CHECK(conditions == std::vector<Condition>{C("B", "True")});
  CHECK_FALSE(api::RemoveCondition(conditions, "A"));
  CHECK(conditions.size() == 1);
}

}  // namespace
