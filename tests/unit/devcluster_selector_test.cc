#include <catch2/catch.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/devcluster/selector.h"

namespace devcluster {
namespace {

const char kQualifiedNameRule[] =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const char kLabelValueRule[] =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const char kSubdomainRule[] =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const char kLabelRule[] =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

TEST_CASE("label selectors match like kube-apiserver's", "[devcluster][selector]") {
  const std::map<std::string, std::string> labels = {{"app", "web"}, {"tier", "front"}, {"v", "3"}, {"empty", ""}};
  struct Case {
    const char* selector;
    bool matches;
  };
  const std::vector<Case> cases = {
      {"", true},
      {"   ", true},
      {"app=web", true},
      {"app==web", true},
      {"app=db", false},
      {"app!=db", true},
      {"app!=web", false},
      {"missing!=x", true},
      {"app in (web,db)", true},
      {"app in (db)", false},
      {"missing in (x)", false},
      {"app notin (db)", true},
      {"app notin (web)", false},
      {"missing notin (x)", true},
      {"app", true},
      {"missing", false},
      {"!missing", true},
      {"!app", false},
      {"app=web,tier=front", true},
      {"app=web,tier=back", false},
      {"  app = web ,  tier in ( front , back )  ", true},
      {"v>2", true},
      {"v>3", false},
      {"v<4", true},
      {"app>1", false},
      {"app in (web,)", true},
      {"app in ()", false},
      {"empty in ()", true},
      {"app=", false},
      {"empty=", true},
      {"empty", true},
      {"example.com/x!=y", true},
  };
  for (const auto& c : cases) {
    INFO(c.selector);
    auto sel = LabelSelector::Parse(c.selector);
    REQUIRE(sel.ok());
    CHECK(sel->Matches(labels) == c.matches);
  }
}

TEST_CASE("label selector parse errors are 400 with labels.Parse's text", "[devcluster][selector]") {
  struct Case {
    const char* selector;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"},
      {"app=web b", "found 'b', expected: ',' or 'end of string'"},
      {"app=web=x", "found '=', expected: ',' or 'end of string'"},
      {"app in web", "unable to parse requirement: found 'web' expected: '('"},
      {"app in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'"},
      {"app=(", "unable to parse requirement: found '(', expected: identifier"},
      {",", "found ',', expected: !, identifier, or 'end of string'"},
      {"app=web,", "found '', expected: identifier after ','"},
      {"!", "unable to parse requirement: found '', expected: identifier"},
      {"a@b=c", std::string("unable to parse requirement: <nil>: Invalid value: \"a@b\": name part ") + kQualifiedNameRule},
      {"app=a@b",
       std::string("unable to parse requirement: values[0][app]: Invalid value: \"a@b\": ") + kLabelValueRule},
      {"v>x", "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must "
              "be an integer"},
  };
  for (const auto& c : cases) {
    INFO(c.selector);
    auto sel = LabelSelector::Parse(c.selector);
    REQUIRE_FALSE(sel.ok());
    CHECK(sel.status().http_code() == 400);
    CHECK(sel.status().reason() == "BadRequest");
    CHECK(sel.status().message() == c.message);
  }
}

TEST_CASE("label selector prints its canonical form sorted by key", "[devcluster][selector]") {
  auto sel = LabelSelector::Parse("b=2, a in (y,x), !c, d notin (z), e, f!=g");
  REQUIRE(sel.ok());
  CHECK(sel->String() == "a in (x,y),b=2,!c,d notin (z),e,f!=g");
  CHECK_FALSE(sel->Empty());
  auto empty = LabelSelector::Parse("");
  REQUIRE(empty.ok());
  CHECK(empty->Empty());
}

std::function<std::optional<std::string>(std::string_view)> Getter(std::map<std::string, std::string> fields) {
  return [fields](std::string_view f) -> std::optional<std::string> {
    auto it = fields.find(std::string(f));
    if (it == fields.end()) return std::nullopt;
    return it->second;
  };
}

TEST_CASE("field selectors match like kube-apiserver's", "[devcluster][selector]") {
  auto get = Getter({{"metadata.name", "foo"}, {"metadata.namespace", "ns"}, {"odd", "a,b"}});
  struct Case {
    const char* selector;
    bool matches;
  };
  const std::vector<Case> cases = {
      {"", true},
      {"metadata.name=foo", true},
      {"metadata.name==foo", true},
      {"metadata.name!=foo", false},
      {"metadata.name=bar", false},
      {"metadata.name=foo,metadata.namespace=ns", true},
      {"metadata.name=foo,metadata.namespace=other", false},
      {"spec.missing=", true},
      {"spec.missing!=x", true},
      {"odd=a\\,b", true},
      {"metadata.name=foo,", true},
  };
  for (const auto& c : cases) {
    INFO(c.selector);
    auto sel = FieldSelector::Parse(c.selector);
    REQUIRE(sel.ok());
    CHECK(sel->Matches(get) == c.matches);
  }
}

TEST_CASE("field selector parse errors are 400 with fields.ParseSelector's text", "[devcluster][selector]") {
  struct Case {
    const char* selector;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"foo", "invalid selector: 'foo'; can't understand 'foo'"},
      {"a=b,foo", "invalid selector: 'a=b,foo'; can't understand 'foo'"},
      {"a=b\\x", "invalid field selector: invalid escape sequence: \\x"},
      {"a=b\\", "invalid field selector: invalid escape sequence: \\"},
      {"a=b=c", "invalid field selector: unescaped character in value: 61"},
  };
  for (const auto& c : cases) {
    INFO(c.selector);
    auto sel = FieldSelector::Parse(c.selector);
    REQUIRE_FALSE(sel.ok());
    CHECK(sel.status().http_code() == 400);
    CHECK(sel.status().message() == c.message);
  }
}

TEST_CASE("field selector lists its fields and checks support", "[devcluster][selector]") {
  auto sel = FieldSelector::Parse("spec.nodeName=n1,metadata.name!=x");
  REQUIRE(sel.ok());
  CHECK(sel->Fields() == std::vector<std::string>{"metadata.name", "spec.nodeName"});
  const std::vector<std::string> meta = {"metadata.name", "metadata.namespace"};
  base::Status cr = CheckFieldsSupported(*sel, meta);
  CHECK(cr.http_code() == 400);
  CHECK(cr.reason() == "BadRequest");
  CHECK(cr.message() == "\"spec.nodeName\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"");
  base::Status builtin = CheckFieldsSupported(*sel, meta, /*custom_resource=*/false);
  CHECK(builtin.message() == "field label not supported: spec.nodeName");
  CHECK(CheckFieldsSupported(*sel, {"metadata.name", "spec.nodeName"}).ok());
}

TEST_CASE("name and label validators use apimachinery's messages", "[devcluster][selector]") {
  CHECK(IsDNS1123Subdomain("example.com").empty());
  CHECK(IsDNS1123Subdomain("a-b.c-d").empty());
  CHECK(IsDNS1123Subdomain("Bad_Name") == std::vector<std::string>{kSubdomainRule});
  CHECK(IsDNS1123Subdomain("a..b").size() == 1);
  CHECK(IsDNS1123Subdomain("-a").size() == 1);
  CHECK(IsDNS1123Subdomain(std::string(254, 'a')) == std::vector<std::string>{"must be no more than 253 characters"});

  CHECK(IsDNS1123Label("my-ns").empty());
  CHECK(IsDNS1123Label("a.b") == std::vector<std::string>{"must not contain dots"});
  CHECK(IsDNS1123Label("A") == std::vector<std::string>{kLabelRule});
  CHECK(IsDNS1123Label(std::string(64, 'a')) == std::vector<std::string>{"must be no more than 63 characters"});

  CHECK(IsQualifiedName("example.com/MyName").empty());
  CHECK(IsQualifiedName("app").empty());
  CHECK(IsQualifiedName("/a") == std::vector<std::string>{"prefix part must be non-empty"});
  CHECK(IsQualifiedName("Example.com/a") == std::vector<std::string>{std::string("prefix part ") + kSubdomainRule});
  CHECK(IsQualifiedName("") == std::vector<std::string>{"name part must be non-empty",
                                                        std::string("name part ") + kQualifiedNameRule});
  CHECK(IsQualifiedName("a/b/c").size() == 1);
  CHECK(IsQualifiedName(std::string(64, 'a')) == std::vector<std::string>{"name part must be no more than 63 characters"});

  CHECK(IsValidLabelValue("").empty());
  CHECK(IsValidLabelValue("my_value").empty());
  CHECK(IsValidLabelValue("-x") == std::vector<std::string>{kLabelValueRule});
}

TEST_CASE("object name validation answers 422 like kube-apiserver", "[devcluster][selector]") {
  base::Status s = ValidateObjectName("Bad_Name", true);
  CHECK(s.http_code() == 422);
  CHECK(s.reason() == "Invalid");
  CHECK(s.message() == std::string("metadata.name: Invalid value: \"Bad_Name\": ") + kSubdomainRule);
  CHECK(ValidateObjectName("good.name", true).ok());
  CHECK(ValidateObjectName("a.b", false).message() == "metadata.name: Invalid value: \"a.b\": must not contain dots");
  CHECK(ValidateObjectName("", true).message() == "metadata.name: Required value: name or generateName is required");
  CHECK(ValidateLabelKey("a@b").message() ==
        std::string("metadata.labels: Invalid value: \"a@b\": name part ") + kQualifiedNameRule);
  CHECK(ValidateLabelValue("x y").message() == std::string("metadata.labels: Invalid value: \"x y\": ") + kLabelValueRule);
  CHECK(ValidateLabelValue("ok").ok());
}

TEST_CASE("GoQuote quotes like Go's %q", "[devcluster][selector]") {
  CHECK(GoQuote("abc") == "\"abc\"");
  CHECK(GoQuote("a\"b\\c\n\t") == "\"a\\\"b\\\\c\\n\\t\"");
  CHECK(GoQuote(std::string("\x01\x7f", 2)) == "\"\\x01\\x7f\"");
  CHECK(GoQuote("caf\xc3\xa9") == "\"caf\xc3\xa9\"");
  CHECK(GoQuote("\xff") == "\"\\xff\"");
}

}  // namespace
}  // namespace devcluster

namespace devcluster {
namespace {

TEST_CASE("a selective watch sends ADDED on entering, DELETED on leaving, nothing outside",
          "[devcluster][selector]") {
  struct Case {
    bool before, now;
    std::optional<WatchEventType> sent;
  };
  const std::vector<Case> cases = {
      {false, true, WatchEventType::kAdded},    // created matching, or modified into the selection
      {true, true, WatchEventType::kModified},  // stays selected
      {true, false, WatchEventType::kDeleted},  // deleted, or modified out of the selection
      {false, false, std::nullopt},             // never selected
  };
  for (const auto& c : cases) {
    INFO(c.before << " -> " << c.now);
    CHECK(SelectedWatchEvent(c.before, c.now) == c.sent);
  }
  CHECK(std::string(WatchEventTypeName(WatchEventType::kDeleted)) == "DELETED");
  CHECK(std::string(WatchEventTypeName(WatchEventType::kAdded)) == "ADDED");
}

}  // namespace
}  // namespace devcluster
