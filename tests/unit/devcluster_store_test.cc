#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "tests/devcluster/store.h"
#include "tests/testing/temp_dir.h"

namespace devcluster {
namespace {

std::unique_ptr<JsonDoc> Obj(const std::string& label) {
  auto d = std::make_unique<JsonDoc>();
  d->Parse((R"({"metadata":{"name":"a","labels":{"app":")" + label + R"("}}})").c_str());
  REQUIRE_FALSE(d->HasParseError());
  return d;
}

std::vector<StoreEvent> EventsSince(Store& s, uint64_t from) {
  std::vector<StoreEvent> out;
  REQUIRE(s.WaitEvents(
               &from, [](const StoreEvent&) { return true; }, &out, std::chrono::milliseconds(0),
               nullptr)
              .ok());
  return out;
}

TEST_CASE("a MODIFIED event carries the state before the change, also after a restart",
          "[devcluster][store]") {
  kube::testing::TempDir dir;
  uint64_t start = 0;
  {
    auto s = Store::Open(dir.path(), 100);
    REQUIRE(s.ok());
    start = (*s)->CurrentRv();
    REQUIRE((*s)->Put("/configmaps", "default", "a", Obj("one"), 0).ok());
    REQUIRE((*s)->Put("/configmaps", "default", "a", Obj("two"), std::nullopt).ok());
    std::vector<StoreEvent> ev = EventsSince(**s, start);
    REQUIRE(ev.size() == 2);
    CHECK(ev[0].type == "ADDED");
    CHECK(ev[0].previous == nullptr);
    CHECK(ev[1].type == "MODIFIED");
    REQUIRE(ev[1].previous != nullptr);
    CHECK(StringAt(*ev[1].previous, "metadata.labels.app") == "one");
    CHECK(StringAt(*ev[1].object, "metadata.labels.app") == "two");
  }
  auto reopened = Store::Open(dir.path(), 100);
  REQUIRE(reopened.ok());
  std::vector<StoreEvent> ev = EventsSince(**reopened, start);
  REQUIRE(ev.size() == 2);
  REQUIRE(ev[1].previous != nullptr);
  CHECK(StringAt(*ev[1].previous, "metadata.labels.app") == "one");
}

}  // namespace
}  // namespace devcluster
