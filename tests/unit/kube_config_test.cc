// Kubeconfig loading, in-cluster config, exec credential plugins and token
// file rotation.
#include <fcntl.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "kube/config.h"
#include "kube/credentials.h"
#include "tests/fakes/fake_clock.h"
#include "tests/testing/temp_dir.h"

namespace fs = std::filesystem;

namespace {

using kube::testing::TempDir;

// "hello" etc. in base64, so -data fields are checked byte for byte.
const char kCaData[] = "Q0EtREFUQQ==";        // CA-DATA
const char kCertData[] = "Q0VSVC1EQVRB";      // CERT-DATA
const char kKeyData[] = "S0VZLURBVEE=";       // KEY-DATA

std::string ClusterYaml(const std::string& name, const std::string& server,
                        const std::string& extra = "") {
  return "- name: " + name + "\n  cluster:\n    server: " + server + "\n" + extra;
}

base::StatusOr<kube::RestConfig> Load(const std::string& kubeconfig_env,
                                      kube::KubeconfigOptions o = {}) {
  return kube::LoadKubeconfigFrom(o, kubeconfig_env, "/nonexistent-home");
}

}  // namespace

TEST_CASE("KUBECONFIG list merges files with the first file winning per name", "[kube][config]") {
  TempDir d;
  std::string a = d.Write("a.yaml",
                          "apiVersion: v1\nkind: Config\ncurrent-context: ctx-a\n"
                          "clusters:\n" +
                              ClusterYaml("shared", "https://from-a:6443") +
                              "contexts:\n- name: ctx-a\n  context: {cluster: shared, user: u}\n"
                              "users:\n- name: u\n  user: {token: token-a}\n");
  std::string b = d.Write("b.yaml",
                          "current-context: ctx-b\n"
                          "clusters:\n" +
                              ClusterYaml("shared", "https://from-b:6443") +
                              ClusterYaml("only-b", "https://only-b:6443") +
                              "contexts:\n- name: ctx-b\n  context: {cluster: only-b, user: u, "
                              "namespace: nb}\n"
                              "users:\n- name: u\n  user: {token: token-b}\n");
  auto rc = Load(a + ":" + b);
  REQUIRE(rc.ok());
  CHECK(rc->server == "https://from-a:6443");
  CHECK(rc->bearer_token == "token-a");
  CHECK(rc->namespace_ == "default");

  SECTION("--context picks a context defined only in the second file") {
    kube::KubeconfigOptions o;
    o.context = "ctx-b";
    auto rc2 = Load(a + ":" + b, o);
    REQUIRE(rc2.ok());
    CHECK(rc2->server == "https://only-b:6443");
    CHECK(rc2->bearer_token == "token-a");  // user "u" comes from the first file
    CHECK(rc2->namespace_ == "nb");
  }
  SECTION("current-context comes from the first file that sets it") {
    std::string c = d.Write("c.yaml", "clusters: []\n");
    auto rc3 = Load(c + ":" + b + ":" + a);
    REQUIRE(rc3.ok());
    CHECK(rc3->server == "https://only-b:6443");
    CHECK(rc3->bearer_token == "token-b");
  }
  SECTION("missing files in the list are skipped") {
    auto rc4 = Load(d.path() + "/missing.yaml:" + a);
    REQUIRE(rc4.ok());
    CHECK(rc4->server == "https://from-a:6443");
  }
  SECTION("the namespace override beats the context's namespace") {
    kube::KubeconfigOptions o;
    o.context = "ctx-b";
    o.namespace_override = "forced";
    auto rc5 = Load(a + ":" + b, o);
    REQUIRE(rc5.ok());
    CHECK(rc5->namespace_ == "forced");
  }
}

TEST_CASE("an explicit --kubeconfig path wins over KUBECONFIG", "[kube][config]") {
  TempDir d;
  std::string a = d.Write("a.yaml", "current-context: c\nclusters:\n" +
                                        ClusterYaml("k", "https://a:1") +
                                        "contexts:\n- name: c\n  context: {cluster: k}\n");
  std::string b = d.Write("b.yaml", "current-context: c\nclusters:\n" +
                                        ClusterYaml("k", "https://b:2") +
                                        "contexts:\n- name: c\n  context: {cluster: k}\n");
  kube::KubeconfigOptions o;
  o.explicit_path = b;
  auto rc = Load(a, o);
  REQUIRE(rc.ok());
  CHECK(rc->server == "https://b:2");

  o.explicit_path = d.path() + "/nope.yaml";
  auto missing = Load(a, o);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == base::Code::kNotFound);
  CHECK_THAT(missing.status().message(), Catch::Contains("nope.yaml"));
}

TEST_CASE("the home directory kubeconfig (~/.kube/config) is used when KUBECONFIG is unset",
          "[kube][config]") {
  TempDir d;
  d.Write("home/.kube/config", "current-context: c\nclusters:\n" +
                                   ClusterYaml("k", "https://home:443/") +
                                   "contexts:\n- name: c\n  context: {cluster: k, namespace: "
                                   "home-ns}\n");
  auto rc = kube::LoadKubeconfigFrom({}, "", d.path() + "/home");
  REQUIRE(rc.ok());
  CHECK(rc->server == "https://home:443");  // trailing slash dropped
  CHECK(rc->namespace_ == "home-ns");
}

TEST_CASE("inline -data fields and file paths, with paths relative to the kubeconfig", "[kube][config]") {
  TempDir d;
  d.Write("conf/certs/ca.pem", "CA-FILE");
  d.Write("conf/certs/client.crt", "CERT-FILE");
  d.Write("conf/certs/client.key", "KEY-FILE");
  d.Write("conf/token", "file-token\n");
  std::string files = d.Write(
      "conf/files.yaml",
      "current-context: c\nclusters:\n" +
          ClusterYaml("k", "https://k:6443",
                      "    certificate-authority: certs/ca.pem\n    tls-server-name: api.local\n") +
          "contexts:\n- name: c\n  context: {cluster: k, user: u}\n"
          "users:\n- name: u\n  user:\n    client-certificate: certs/client.crt\n"
          "    client-key: certs/client.key\n    tokenFile: token\n");
  auto rc = Load(files);
  REQUIRE(rc.ok());
  CHECK(rc->ca_pem == "CA-FILE");
  CHECK(rc->client_cert_pem == "CERT-FILE");
  CHECK(rc->client_key_pem == "KEY-FILE");
  CHECK(rc->tls_server_name == "api.local");
  CHECK(rc->bearer_token_file == d.path() + "/conf/token");
  CHECK_FALSE(rc->insecure_skip_tls_verify);

  std::string data = d.Write(
      "data.yaml",
      "current-context: c\nclusters:\n" +
          ClusterYaml("k", "https://k:6443",
                      std::string("    certificate-authority-data: ") + kCaData +
                          "\n    certificate-authority: does-not-exist.pem\n"
                          "    insecure-skip-tls-verify: true\n") +
          "contexts:\n- name: c\n  context: {cluster: k, user: u}\n"
          "users:\n- name: u\n  user:\n    client-certificate-data: " +
          kCertData + "\n    client-key-data: " + kKeyData + "\n");
  auto rd = Load(data);
  REQUIRE(rd.ok());
  CHECK(rd->ca_pem == "CA-DATA");  // -data wins over the (missing) file
  CHECK(rd->client_cert_pem == "CERT-DATA");
  CHECK(rd->client_key_pem == "KEY-DATA");
  CHECK(rd->insecure_skip_tls_verify);
}

TEST_CASE("kubeconfig errors name what is missing and where", "[kube][config]") {
  TempDir d;
  struct Case {
    const char* name;
    std::string yaml;
    std::string context;
    std::vector<std::string> want;
  };
  const std::string users = "users:\n- name: u\n  user: {token: t}\n";
  std::vector<Case> cases = {
      {"no current context", "clusters:\n" + ClusterYaml("k", "https://k"), "",
       {"current-context is not set", "--context"}},
      {"unknown context", "current-context: nope\n", "", {"context \"nope\" not found"}},
      {"override names unknown context",
       "current-context: c\ncontexts:\n- name: c\n  context: {cluster: k}\n", "other",
       {"context \"other\" not found"}},
      {"missing cluster", "current-context: c\ncontexts:\n- name: c\n  context: {cluster: gone}\n",
       "", {"cluster \"gone\"", "not defined"}},
      {"missing user",
       "current-context: c\nclusters:\n" + ClusterYaml("k", "https://k") +
           "contexts:\n- name: c\n  context: {cluster: k, user: ghost}\n" + users,
       "", {"user \"ghost\"", "not defined"}},
      {"cluster without server",
       "current-context: c\nclusters:\n- name: k\n  cluster: {}\ncontexts:\n- name: c\n  "
       "context: {cluster: k}\n",
       "", {"cluster \"k\" has no server"}},
      {"unreadable CA file",
       "current-context: c\nclusters:\n" +
           ClusterYaml("k", "https://k", "    certificate-authority: missing-ca.pem\n") +
           "contexts:\n- name: c\n  context: {cluster: k}\n",
       "", {"missing-ca.pem", "cannot be read"}},
      {"malformed yaml", "clusters: [\n", "", {"cannot parse kubeconfig"}},
      {"bad exec apiVersion",
       "current-context: c\nclusters:\n" + ClusterYaml("k", "https://k") +
           "contexts:\n- name: c\n  context: {cluster: k, user: u}\n"
           "users:\n- name: u\n  user:\n    exec: {apiVersion: client.authentication.k8s.io/v1alpha1, "
           "command: x}\n",
       "", {"unsupported apiVersion"}},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    std::string f = d.Write(std::string(c.name) + ".yaml", c.yaml);
    kube::KubeconfigOptions o;
    o.context = c.context;
    auto rc = Load(f, o);
    REQUIRE_FALSE(rc.ok());
    CHECK(rc.status().code() == base::Code::kInvalidArgument);
    for (const auto& w : c.want) CHECK_THAT(rc.status().message(), Catch::Contains(w));
    if (std::string(c.name) != "malformed yaml") {
      CHECK_THAT(rc.status().message(), Catch::Contains(f));
    }
  }
}

TEST_CASE("in-cluster config reads the service account from a root directory",
          "[kube][config]") {
  TempDir d;
  const std::string sa = "/var/run/secrets/kubernetes.io/serviceaccount/";
  d.Write(sa + "token", "sa-token\n");
  d.Write(sa + "ca.crt", "SA-CA");
  d.Write(sa + "namespace", "kube-system");
  setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto rc = kube::InClusterConfig(d.path());
  REQUIRE(rc.ok());
  CHECK(rc->server == "https://10.0.0.1:443");
  CHECK(rc->bearer_token == "sa-token");
  CHECK(rc->bearer_token_file == d.path() + sa + "token");
  CHECK(rc->ca_pem == "SA-CA");
  CHECK(rc->namespace_ == "kube-system");

  setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  auto v6 = kube::InClusterConfig(d.path());
  REQUIRE(v6.ok());
  CHECK(v6->server == "https://[fd00::1]:443");

  auto no_files = kube::InClusterConfig(d.path() + "/elsewhere");
  REQUIRE_FALSE(no_files.ok());
  CHECK_THAT(no_files.status().message(), Catch::Contains("token"));

  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
  auto outside = kube::InClusterConfig(d.path());
  REQUIRE_FALSE(outside.ok());
  CHECK(outside.status().code() == base::Code::kFailedPrecondition);
}

TEST_CASE("a token file is re-read when its mtime changes or a minute has passed",
          "[kube][credentials]") {
  TempDir d;
  base::testing::FakeClock clock;
  std::string path = d.Write("token", "one\n");
  kube::TokenFileSource src(path, &clock);
  REQUIRE(src.Token().ok());
  CHECK(*src.Token() == "one");

  // Same mtime (forced) and less than a minute: the cached token is kept.
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  d.Write("token", "two\n");
  timespec times[2] = {st.st_atim, st.st_mtim};
  REQUIRE(utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
  clock.Advance(std::chrono::seconds(30));
  CHECK(*src.Token() == "one");
  // A minute after the last read it is read again.
  clock.Advance(std::chrono::seconds(31));
  CHECK(*src.Token() == "two");

  // A new mtime is noticed at once.
  d.Write("token", "three");
  times[1].tv_sec += 10;
  REQUIRE(utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
  CHECK(*src.Token() == "three");

  // A vanished file keeps the last token.
  fs::remove(path);
  clock.Advance(std::chrono::minutes(2));
  CHECK(*src.Token() == "three");

  kube::TokenFileSource never(d.path() + "/absent", &clock);
  CHECK(never.Token().status().code() == base::Code::kUnauthenticated);
}

namespace {

// An exec plugin written at test time: counts its runs, checks its
// environment, prints an ExecCredential of the requested apiVersion.
std::string WritePlugin(TempDir& d, const std::string& api_version, const std::string& expiry) {
  return d.Write("plugin.sh",
                 "#!/bin/sh\n"
                 "echo run >> \"" + d.path() + "/runs\"\n"
                 "echo \"$KUBERNETES_EXEC_INFO\" > \"" + d.path() + "/exec_info\"\n"
                 "echo \"$1 $PLUGIN_ENV\" > \"" + d.path() + "/args\"\n"
                 "cat <<JSON\n"
                 "{\"apiVersion\":\"" + api_version + "\",\"kind\":\"ExecCredential\","
                 "\"status\":{\"token\":\"tok-$(wc -l < \"" + d.path() + "/runs\" | tr -d ' ')\""
                 + (expiry.empty() ? "" : ",\"expirationTimestamp\":\"" + expiry + "\"") +
                 "}}\nJSON\n",
                 true);
}

int Runs(TempDir& d) {
  std::ifstream in(d.path() + "/runs");
  int n = 0;
  std::string line;
  while (std::getline(in, line)) ++n;
  return n;
}

std::string ReadFile(const std::string& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("exec plugin credentials are cached until expirationTimestamp", "[kube][credentials]") {
  for (std::string api : {"client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"}) {
    INFO(api);
    TempDir d;
    base::testing::FakeClock clock;
    clock.SetWall(*base::ParseRfc3339("2030-01-01T00:00:00Z"));
    kube::ExecConfig ec;
    ec.api_version = api;
    ec.command = WritePlugin(d, api, "2030-01-01T01:00:00Z");
    ec.args = {"first-arg"};
    ec.env = {{"PLUGIN_ENV", "env-value"}};
    ec.interactive_mode = "Never";
    ec.provide_cluster_info = true;
    kube::ExecCredentialProvider p(ec, {"https://k:6443", "CA", false, ""}, &clock);

    auto c1 = p.Get();
    REQUIRE(c1.ok());
    CHECK(c1->token == "tok-1");
    REQUIRE(c1->expiration.has_value());
    CHECK(ReadFile(d.path() + "/args") == "first-arg env-value\n");
    std::string info = ReadFile(d.path() + "/exec_info");
    CHECK_THAT(info, Catch::Contains("\"apiVersion\":\"" + api + "\""));
    CHECK_THAT(info, Catch::Contains("\"interactive\":false"));
    CHECK_THAT(info, Catch::Contains("\"server\":\"https://k:6443\""));
    CHECK_THAT(info, Catch::Contains("\"certificate-authority-data\":\"Q0E=\""));

    clock.Advance(std::chrono::minutes(59));
    CHECK(p.Get()->token == "tok-1");
    CHECK(Runs(d) == 1);
    clock.Advance(std::chrono::minutes(2));
    CHECK(p.Get()->token == "tok-2");
    CHECK(Runs(d) == 2);
    p.Invalidate();
    CHECK(p.Get()->token == "tok-3");
  }
}

TEST_CASE("exec plugin without expiry is cached until invalidated", "[kube][credentials]") {
  TempDir d;
  base::testing::FakeClock clock;
  kube::ExecConfig ec;
  ec.api_version = "client.authentication.k8s.io/v1beta1";
  ec.command = WritePlugin(d, ec.api_version, "");
  kube::ExecCredentialProvider p(ec, {}, &clock);
  CHECK(p.Get()->token == "tok-1");
  clock.Advance(std::chrono::hours(24 * 30));
  CHECK(p.Get()->token == "tok-1");
  CHECK(Runs(d) == 1);
}

TEST_CASE("exec plugin failures are clear and carry the installHint", "[kube][credentials]") {
  TempDir d;
  base::testing::FakeClock clock;
  kube::ExecConfig ec;
  ec.api_version = "client.authentication.k8s.io/v1";
  ec.interactive_mode = "IfAvailable";
  ec.install_hint = "install it with: apt-get install the-plugin";

  SECTION("missing executable") {
    ec.command = "kubemigrate-no-such-plugin";
    auto c = kube::ExecCredentialProvider(ec, {}, &clock).Get();
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().code() == base::Code::kUnauthenticated);
    CHECK_THAT(c.status().message(), Catch::Contains("\"kubemigrate-no-such-plugin\" not found"));
    CHECK_THAT(c.status().message(), Catch::Contains("apt-get install the-plugin"));
  }
  SECTION("non-zero exit with stderr") {
    ec.command = d.Write("fail.sh", "#!/bin/sh\necho 'token expired, log in again' >&2\nexit 3\n", true);
    auto c = kube::ExecCredentialProvider(ec, {}, &clock).Get();
    REQUIRE_FALSE(c.ok());
    CHECK_THAT(c.status().message(), Catch::Contains("exit code 3"));
    CHECK_THAT(c.status().message(), Catch::Contains("token expired, log in again"));
    CHECK_THAT(c.status().message(), Catch::Contains("apt-get install the-plugin"));
  }
  SECTION("wrong apiVersion in the output") {
    ec.command = WritePlugin(d, "client.authentication.k8s.io/v1beta1", "");
    auto c = kube::ExecCredentialProvider(ec, {}, &clock).Get();
    REQUIRE_FALSE(c.ok());
    CHECK_THAT(c.status().message(), Catch::Contains("apiVersion"));
  }
  SECTION("output that is not JSON") {
    ec.command = d.Write("garbage.sh", "#!/bin/sh\necho hello\n", true);
    auto c = kube::ExecCredentialProvider(ec, {}, &clock).Get();
    REQUIRE_FALSE(c.ok());
    CHECK_THAT(c.status().message(), Catch::Contains("not a JSON object"));
  }
}

TEST_CASE("exec plugin config is parsed from kubeconfig with a relative command",
          "[kube][config]") {
  TempDir d;
  std::string f = d.Write(
      "kc/config",
      "current-context: c\nclusters:\n" + ClusterYaml("k", "https://k") +
          "contexts:\n- name: c\n  context: {cluster: k, user: u}\n"
          "users:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
          "      command: ./bin/plugin\n      args: [a, b]\n      env:\n      - {name: X, value: Y}\n"
          "      installHint: get it\n      interactiveMode: Never\n");
  auto rc = Load(f);
  REQUIRE(rc.ok());
  REQUIRE(rc->exec.has_value());
  CHECK(rc->exec->command == d.path() + "/kc/bin/plugin");
  CHECK(rc->exec->args == std::vector<std::string>{"a", "b"});
  REQUIRE(rc->exec->env.size() == 1);
  CHECK(rc->exec->env[0].first == "X");
  CHECK(rc->exec->install_hint == "get it");
  CHECK(rc->exec->interactive_mode == "Never");
}

TEST_CASE("RFC 3339 timestamps parse and format", "[kube][clock]") {
  using namespace std::chrono;
  struct Case {
    const char* in;
    bool ok;
    int64_t unix_seconds;
  };
  std::vector<Case> cases = {
      {"1970-01-01T00:00:00Z", true, 0},
      {"2030-01-01T01:00:00Z", true, 1893459600},
      {"2030-01-01T02:00:00+01:00", true, 1893459600},
      {"2030-01-01T00:30:00-00:30", true, 1893459600},
      {"2030-01-01T01:00:00.123456Z", true, 1893459600},
      {"2030-01-01 01:00:00", false, 0},
      {"2030-13-01T01:00:00Z", false, 0},
      {"garbage", false, 0},
      {"2030-01-01T01:00:00Zjunk", false, 0},
  };
  for (const auto& c : cases) {
    INFO(c.in);
    auto t = base::ParseRfc3339(c.in);
    REQUIRE(t.has_value() == c.ok);
    if (c.ok) CHECK(duration_cast<seconds>(t->time_since_epoch()).count() == c.unix_seconds);
  }
  CHECK(base::FormatRfc3339(system_clock::from_time_t(1893459600)) == "2030-01-01T01:00:00Z");
}
