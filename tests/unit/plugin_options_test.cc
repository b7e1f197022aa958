#include <catch2/catch.hpp>

#include "plugin/options.h"

using plugin::Command;
using plugin::DryRun;
using plugin::OutputFormat;
using plugin::ParseArgs;
using std::chrono::milliseconds;

namespace {

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ' ') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

}  // namespace

TEST_CASE("durations parse as kubectl takes them", "[plugin]") {
  struct Case {
    const char* text;
    long long ms;  // -1: error
  } cases[] = {
      {"30", 30000},  {"30s", 30000},     {"5m", 300000}, {"1h", 3600000},  {"1h30m", 5400000},
      {"1.5s", 1500}, {"300ms", 300},     {"0", 0},       {"2m3s", 123000}, {"", -1},
      {"5x", -1},     {"-5s", -1},        {"s", -1},      {"1..5s", -1},    {"1h 2m", -1},
      {"10d", -1},    {"9999999999", -1},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto d = plugin::ParseDuration(c.text);
    if (c.ms < 0) {
      CHECK_FALSE(d.ok());
    } else {
      REQUIRE(d.ok());
      CHECK(d->count() == c.ms);
    }
  }
}

TEST_CASE("VMI names are checked by the API server's rule, a DNS-1123 subdomain", "[plugin]") {
  struct Case {
    std::string name;
    bool ok;
  } cases[] = {
      {"vmi-fedora", true},
      {"a", true},
      {"0abc", true},
      {"vmi.fedora", true},  // the API server and the webhook accept it
      {std::string(64, 'a'), true},
      {std::string(253, 'a'), true},
      {std::string(254, 'a'), false},
      {"Vmi", false},
      {"vmi_fedora", false},
      {"-vmi", false},
      {"vmi-", false},
      {"vmi..fedora", false},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    plugin::Options o;
    o.vmi = c.name;
    for (auto cmd : {Command::kMigrate, Command::kCancel, Command::kStatus}) {
      o.command = cmd;
      CHECK(plugin::Validate(o).ok() == c.ok);
    }
  }
  plugin::Options o;
  o.vmi = "vmi-a";
  o.to_node = "node-b.example.com";
  CHECK(plugin::Validate(o).ok());
  o.to_node = "node-b..example";
  CHECK_FALSE(plugin::Validate(o).ok());
}

TEST_CASE("command lines parse into options", "[plugin]") {
  SECTION("migrate with every flag") {
    auto o =
        ParseArgs(Split("vmi-a --to node-b -o yaml --wait --timeout 5m --retry-on-limit "
                        "--cancel-on-interrupt -n ns1 --context c1 --kubeconfig /k "
                        "--request-timeout=10s --dry-run=server"));
    REQUIRE(o.ok());
    CHECK(o->command == Command::kMigrate);
    CHECK(o->vmi == "vmi-a");
    CHECK(o->to_node == "node-b");
    CHECK(o->output == OutputFormat::kYaml);
    CHECK(o->wait);
    CHECK(o->timeout == milliseconds(300000));
    CHECK(o->retry_on_limit);
    CHECK(o->cancel_on_interrupt);
    CHECK(o->namespace_ == "ns1");
    CHECK(o->context == "c1");
    CHECK(o->kubeconfig == "/k");
    CHECK(o->request_timeout == milliseconds(10000));
    CHECK(o->dry_run == DryRun::kServer);
  }
  SECTION("short forms and = forms") {
    auto o = ParseArgs(Split("-nns2 -ojson --namespace=ns3 vmi-a --wait=false"));
    REQUIRE(o.ok());
    CHECK(o->namespace_ == "ns3");
    CHECK(o->output == OutputFormat::kJson);
    CHECK_FALSE(o->wait);
  }
  SECTION("subcommands") {
    CHECK(ParseArgs(Split("cancel vmi-a --wait"))->command == Command::kCancel);
    CHECK(ParseArgs(Split("status vmi-a"))->command == Command::kStatus);
    auto l = ParseArgs(Split("list -A"));
    REQUIRE(l.ok());
    CHECK(l->command == Command::kList);
    CHECK(l->all_namespaces);
    CHECK(ParseArgs(Split("version"))->command == Command::kVersion);
    CHECK(ParseArgs(Split("vmi-a --bogus -h"))->command == Command::kHelp);
  }
  SECTION("a VMI may be named like a flag value after --") {
    auto o = ParseArgs(Split("-- status"));
    REQUIRE(o.ok());
    CHECK(o->command == Command::kMigrate);
    CHECK(o->vmi == "status");
  }
}

TEST_CASE("bad command lines are usage errors naming the problem", "[plugin]") {
  struct Case {
    const char* args;
    const char* message_part;
  } cases[] = {
      {"", "a VMI name is required"},
      {"a b", "unexpected argument \"b\""},
      {"list a", "unexpected argument \"a\""},
      {"cancel", "a VMI name is required"},
      {"a --bogus", "unknown flag: --bogus"},
      {"a -o table", "output format \"table\""},
      {"a --timeout", "flag needs an argument: --timeout"},
      {"a --timeout 5x", "invalid duration"},
      {"a --dry-run=maybe", "invalid dry-run value"},
      {"a --wait=maybe", "want true or false"},
      {"a --bogus --timeout 5x -o table", "unknown flag: --bogus\ninvalid argument \"5x\" for \"--timeout\" flag: invalid duration"},
      {"a -n", "flag needs an argument: -n"},
  };
  for (const auto& c : cases) {
    INFO(c.args);
    auto o = ParseArgs(Split(c.args));
    REQUIRE_FALSE(o.ok());
    CHECK(o.status().code() == base::Code::kInvalidArgument);
    CHECK_THAT(o.status().message(), Catch::Contains(c.message_part));
  }
}

TEST_CASE("each subcommand has its own help", "[plugin]") {
  struct Case {
    const char* args;
    Command help_for;
  } cases[] = {
      {"--help", Command::kMigrate},     {"vmi-a -h", Command::kMigrate},
      {"cancel --help", Command::kCancel}, {"status vmi-a -h", Command::kStatus},
      {"list --help", Command::kList},   {"help list", Command::kList},
      {"help cancel", Command::kCancel}, {"completion -h", Command::kCompletion},
      {"help", Command::kMigrate},
  };
  for (const auto& c : cases) {
    INFO(c.args);
    auto o = ParseArgs(Split(c.args));
    REQUIRE(o.ok());
    CHECK(o->command == Command::kHelp);
    CHECK(o->help_for == c.help_for);
  }
  CHECK_FALSE(ParseArgs(Split("help lsit")).ok());
  const std::string cancel = plugin::HelpText(Command::kCancel);
  CHECK_THAT(cancel, Catch::Contains("kubectl migrate cancel VMI [--wait [--timeout D]]"));
  CHECK_THAT(cancel, !Catch::Contains("--to NODE"));
  CHECK_THAT(plugin::HelpText(Command::kList), Catch::Contains("-o, --output name|json|yaml"));
  CHECK_THAT(plugin::HelpText(Command::kStatus), !Catch::Contains("--wait"));
}

TEST_CASE("a mistyped subcommand gets a suggestion", "[plugin]") {
  CHECK(plugin::SuggestCommand("lsit") == "list");
  CHECK(plugin::SuggestCommand("lst") == "list");
  CHECK(plugin::SuggestCommand("cancle") == "cancel");
  CHECK(plugin::SuggestCommand("stauts") == "status");
  CHECK(plugin::SuggestCommand("versoin") == "version");
  CHECK(plugin::SuggestCommand("list").empty());
  CHECK(plugin::SuggestCommand("vmi-fedora").empty());
  CHECK(plugin::SuggestCommand("vm1").empty());
}

TEST_CASE("validation rejects bad values and flags that do not fit the command", "[plugin]") {
  struct Case {
    const char* args;
    const char* message_part;  // nullptr: valid
  } cases[] = {
      {"vmi-a --wait --timeout 1m", nullptr},
      {"vmi-a --to node-b.example", nullptr},
      {"list -A", nullptr},
      {"cancel vmi-a --wait", nullptr},
      {"Vmi_A", "invalid VMI name \"Vmi_A\""},
      {"vmi-a -n Bad_NS", "invalid namespace"},
      {"vmi-a --to Node_B", "invalid --to node name"},
      {"status vmi-a --wait", "--wait applies only"},
      {"cancel vmi-a --to n", "--to applies only"},
      {"status vmi-a -A", "-A/--all-namespaces applies only to list"},
      {"vmi-a --wait --dry-run=server", "--wait cannot be combined with --dry-run"},
      {"vmi-a --cancel-on-interrupt", "--cancel-on-interrupt needs --wait"},
      {"vmi-a --wait --timeout 0", "--timeout must be positive"},
      {"list -o json", nullptr},
      {"list -o yaml -A", nullptr},
      {"status vmi-a -o json", "-o applies only"},
  };
  for (const auto& c : cases) {
    INFO(c.args);
    auto o = ParseArgs(Split(c.args));
    REQUIRE(o.ok());
    base::Status s = plugin::Validate(*o);
    if (c.message_part == nullptr) {
      CHECK(s.ok());
    } else {
      REQUIRE_FALSE(s.ok());
      CHECK_THAT(s.message(), Catch::Contains(c.message_part));
    }
  }
}

TEST_CASE("validation lists every problem at once", "[plugin]") {
  auto o = ParseArgs(Split("status Bad_Name --to n -A"));
  REQUIRE(o.ok());
  base::Status s = plugin::Validate(*o);
  CHECK_THAT(s.message(), Catch::Contains("invalid VMI name"));
  CHECK_THAT(s.message(), Catch::Contains("--to applies only"));
  CHECK_THAT(s.message(), Catch::Contains("-A/--all-namespaces"));
}
