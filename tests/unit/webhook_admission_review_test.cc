// AdmissionReview v1 codec: decoding with full type checks, encoding with the
// uid echoed and every status field.
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <string>

#include "webhook/admission_review.h"

namespace {

using webhook::AdmissionResponse;
using webhook::DecodeAdmissionReview;
using webhook::EncodeAdmissionReview;
using webhook::Operation;

// A complete, valid VMIM CREATE review; `request_extra` is spliced into the
// request object (a JSON fragment starting with ',').
std::string Review(const std::string& request_extra = "") {
  return R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{)"
         R"("uid":"u-1","kind":{"group":"kubevirt.io","version":"v1","kind":"VirtualMachineInstanceMigration"},)"
         R"("resource":{"group":"kubevirt.io","version":"v1","resource":"virtualmachineinstancemigrations"},)"
         R"("operation":"CREATE","namespace":"default","name":"mig",)"
         R"("userInfo":{"username":"alice","uid":"a1","groups":["dev","system:authenticated"],"extra":{"scopes":["x"]}},)"
         R"("object":{"metadata":{"name":"mig"},"spec":{"vmiName":"vm"}},"oldObject":null,"dryRun":true)" +
         request_extra + "}}";
}

// Replaces the first occurrence of `from` in `s` (which must be present).
std::string Replace(std::string s, const std::string& from, const std::string& to) {
  size_t at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("decodes every field of a valid AdmissionReview request") {
  auto r = DecodeAdmissionReview(Review());
  REQUIRE(r.ok());
  CHECK(r->uid == "u-1");
  CHECK(r->kind.group == "kubevirt.io");
  CHECK(r->kind.version == "v1");
  CHECK(r->kind.kind == "VirtualMachineInstanceMigration");
  CHECK(r->resource.resource == "virtualmachineinstancemigrations");
  CHECK(r->operation == Operation::kCreate);
  CHECK(r->namespace_ == "default");
  CHECK(r->name == "mig");
  CHECK(r->dry_run);
  CHECK(r->user_info.username == "alice");
  CHECK(r->user_info.uid == "a1");
  CHECK(r->user_info.groups == std::vector<std::string>{"dev", "system:authenticated"});
  CHECK(r->user_info.extra.at("scopes") == std::vector<std::string>{"x"});
  REQUIRE(r->object != nullptr);
  CHECK((*r->object)["spec"]["vmiName"] == "vm");
  CHECK(r->old_object == nullptr);
}

TEST_CASE("decodes each operation and an UPDATE's oldObject") {
  struct Case {
    const char* op;
    Operation want;
  } cases[] = {{"CREATE", Operation::kCreate},
               {"UPDATE", Operation::kUpdate},
               {"DELETE", Operation::kDelete},
               {"CONNECT", Operation::kConnect}};
  for (const Case& c : cases) {
    INFO(c.op);
    std::string body = Replace(Review(), R"("operation":"CREATE")",
                               std::string(R"("operation":")") + c.op + "\"");
    body = Replace(body, R"("oldObject":null)", R"("oldObject":{"spec":{"vmiName":"old"}})");
    auto r = DecodeAdmissionReview(body);
    REQUIRE(r.ok());
    CHECK(r->operation == c.want);
    REQUIRE(r->old_object != nullptr);
    CHECK((*r->old_object)["spec"]["vmiName"] == "old");
    CHECK(std::string(webhook::OperationName(r->operation)) == c.op);
  }
}

TEST_CASE("optional request fields may be absent") {
  std::string body =
      R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x",)"
      R"("kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"version":"v1","resource":"pods"},)"
      R"("operation":"DELETE"}})";
  auto r = DecodeAdmissionReview(body);
  REQUIRE(r.ok());
  CHECK(r->object == nullptr);
  CHECK_FALSE(r->dry_run);
  CHECK(r->namespace_.empty());
  CHECK(r->resource.group.empty());
}

TEST_CASE("undecodable AdmissionReviews are 400 errors naming the problem") {
  struct Case {
    std::string name, body, want;  // `want` must appear in the message
  } cases[] = {
      {"empty", "", "empty body"},
      {"garbage", "hello", "not JSON"},
      {"truncated", Review().substr(0, 120), "not JSON"},
      {"trailing garbage", Review() + "x", "not JSON"},
      {"array", "[1,2]", "want a JSON object, got an array"},
      {"string", "\"x\"", "want a JSON object, got a string"},
      {"invalid UTF-8", Replace(Review(), "alice", "al\xff\xfe"), "not JSON"},
      {"too deep", std::string(100, '[') + std::string(100, ']'), "levels deep"},
      {"wrong apiVersion", Replace(Review(), "admission.k8s.io/v1", "admission.k8s.io/v1beta1"),
       "apiVersion: want \"admission.k8s.io/v1\""},
      {"wrong kind", Replace(Review(), R"("kind":"AdmissionReview")", R"("kind":"Pod")"),
       "kind: want \"AdmissionReview\""},
      {"apiVersion number", Replace(Review(), R"("admission.k8s.io/v1")", "1"),
       "apiVersion: want a string, got a number"},
      {"no request", R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"})",
       "request: required"},
      {"request is a string",
       R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":"x"})",
       "request: want an object, got a string"},
      {"missing uid", Replace(Review(), R"("uid":"u-1",)", ""), "request.uid: required"},
      {"empty uid", Replace(Review(), R"("uid":"u-1")", R"("uid":"")"),
       "request.uid: must not be empty"},
      {"uid number", Replace(Review(), R"("uid":"u-1")", R"("uid":7)"),
       "request.uid: want a string, got a number"},
      {"kind is a string",
       Replace(Review(),
               R"({"group":"kubevirt.io","version":"v1","kind":"VirtualMachineInstanceMigration"})",
               "\"VMIM\""),
       "request.kind: want an object, got a string"},
      {"kind.group bool", Replace(Review(), R"("group":"kubevirt.io","version":"v1","kind")",
                                  R"("group":true,"version":"v1","kind")"),
       "request.kind.group: want a string, got a boolean"},
      {"resource missing",
       Replace(Review(),
               R"("resource":{"group":"kubevirt.io","version":"v1","resource":"virtualmachineinstancemigrations"},)",
               ""),
       "request.resource: required"},
      {"resource.resource array",
       Replace(Review(), R"("resource":"virtualmachineinstancemigrations")", R"("resource":[])"),
       "request.resource.resource: want a string, got an array"},
      {"unknown operation", Replace(Review(), R"("operation":"CREATE")", R"("operation":"PATCH")"),
       "request.operation: want one of"},
      {"operation null", Replace(Review(), R"("operation":"CREATE")", R"("operation":null)"),
       "request.operation: required"},
      {"namespace number", Replace(Review(), R"("namespace":"default")", R"("namespace":1)"),
       "request.namespace: want a string"},
      {"name object", Replace(Review(), R"("name":"mig")", R"("name":{})"),
       "request.name: want a string, got an object"},
      {"object is an array",
       Replace(Review(), R"("object":{"metadata":{"name":"mig"},"spec":{"vmiName":"vm"}})",
               R"("object":[])"),
       "request.object: want an object, got an array"},
      {"oldObject is a number", Replace(Review(), R"("oldObject":null)", R"("oldObject":3)"),
       "request.oldObject: want an object, got a number"},
      {"dryRun string", Replace(Review(), R"("dryRun":true)", R"("dryRun":"true")"),
       "request.dryRun: want a boolean, got a string"},
      {"userInfo string", Replace(Review(), R"("userInfo":{"username":"alice")",
                                  R"("userInfo":"alice","x":{"username":"alice")"),
       "request.userInfo: want an object, got a string"},
      {"groups element number", Replace(Review(), R"(["dev",)", R"([5,)"),
       "request.userInfo.groups[0]: want a string, got a number"},
      {"extra value string", Replace(Review(), R"({"scopes":["x"]})", R"({"scopes":"x"})"),
       "request.userInfo.extra.scopes: want an array of strings, got a string"},
      {"options array", Review(R"(,"options":[])"), "request.options: want an object"},
      {"requestKind number", Review(R"(,"requestKind":1)"), "request.requestKind: want an object"},
      {"subResource number", Review(R"(,"subResource":1)"), "request.subResource: want a string"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    auto r = DecodeAdmissionReview(c.body);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == base::Code::kInvalidArgument);
    CHECK(r.status().http_code() == 400);
    CHECK_THAT(r.status().message(), Catch::Contains(c.want));
  }
}

TEST_CASE("a review with several problems names them all") {
  std::string body = Replace(Review(), R"("dryRun":true)", R"("dryRun":1)");
  body = Replace(body, R"("namespace":"default")", R"("namespace":false)");
  auto r = DecodeAdmissionReview(body);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("request.dryRun") &&
                                       Catch::Contains("request.namespace"));
}

TEST_CASE("a review nested up to the limit decodes and one level more is refused") {
  // The review and its request are two levels; "x" adds the rest.
  auto nested = [](int levels) {
    return Review(R"(,"x":)" + std::string(levels - 2, '[') + std::string(levels - 2, ']'));
  };
  CHECK(DecodeAdmissionReview(nested(webhook::kMaxJsonDepth)).ok());
  auto r = DecodeAdmissionReview(nested(webhook::kMaxJsonDepth + 1));
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("levels deep"));
}

TEST_CASE("an allowed response echoes the uid and carries warnings") {
  AdmissionResponse resp;
  resp.uid = "abc-\"1\"";
  resp.warnings = {"block migration will copy 2Gi", "second"};
  rapidjson::Document d;
  d.Parse(EncodeAdmissionReview(resp).c_str());
  REQUIRE_FALSE(d.HasParseError());
  CHECK(d["apiVersion"] == "admission.k8s.io/v1");
  CHECK(d["kind"] == "AdmissionReview");
  CHECK(d["response"]["uid"] == "abc-\"1\"");
  CHECK(d["response"]["allowed"].IsTrue());
  CHECK_FALSE(d["response"].HasMember("status"));
  REQUIRE(d["response"]["warnings"].Size() == 2);
  CHECK(d["response"]["warnings"][0] == "block migration will copy 2Gi");
}

TEST_CASE("a denial carries code, reason, message, causes and retryAfterSeconds") {
  AdmissionResponse resp;
  resp.uid = "u";
  resp.allowed = false;
  resp.code = 429;
  resp.reason = "TooManyRequests";
  resp.message = "cluster has 5/5 migrations in flight";
  resp.causes = {{"ClusterLimitReached", "cluster has 5/5", ""},
                 {"NodeLimitReached", "node n1 has 2/2", "spec.vmiName"}};
  resp.retry_after_seconds = 10;
  rapidjson::Document d;
  d.Parse(EncodeAdmissionReview(resp).c_str());
  REQUIRE_FALSE(d.HasParseError());
  const auto& st = d["response"]["status"];
  CHECK(d["response"]["allowed"].IsFalse());
  CHECK(st["code"].GetInt() == 429);
  CHECK(st["status"] == "Failure");
  CHECK(st["reason"] == "TooManyRequests");
  CHECK(st["message"] == "cluster has 5/5 migrations in flight");
  CHECK(st["details"]["retryAfterSeconds"].GetInt() == 10);
  REQUIRE(st["details"]["causes"].Size() == 2);
  CHECK(st["details"]["causes"][0]["reason"] == "ClusterLimitReached");
  CHECK_FALSE(st["details"]["causes"][0].HasMember("field"));
  CHECK(st["details"]["causes"][1]["field"] == "spec.vmiName");
  CHECK(st["details"]["causes"][1]["message"] == "node n1 has 2/2");
  CHECK_FALSE(d["response"].HasMember("warnings"));
}

TEST_CASE("a denial without causes or retry has no details") {
  AdmissionResponse resp;
  resp.uid = "u";
  resp.allowed = false;
  resp.code = 403;
  rapidjson::Document d;
  d.Parse(EncodeAdmissionReview(resp).c_str());
  REQUIRE_FALSE(d.HasParseError());
  CHECK(d["response"]["status"]["code"].GetInt() == 403);
  CHECK_FALSE(d["response"]["status"].HasMember("details"));
}

TEST_CASE("decode then encode echoes the request uid") {
  auto r = DecodeAdmissionReview(Replace(Review(), R"("uid":"u-1")", R"("uid":"705ab4f5-6393")"));
  REQUIRE(r.ok());
  AdmissionResponse resp;
  resp.uid = r->uid;
  rapidjson::Document d;
  d.Parse(EncodeAdmissionReview(resp).c_str());
  CHECK(d["response"]["uid"] == "705ab4f5-6393");
}

TEST_CASE("FirstInvalidUtf8 finds the first byte outside well-formed UTF-8") {
  struct Case {
    const char* name;
    std::string text;
    size_t want;  // text.size() when valid
  };
  const std::string ascii(20, 'a');
  const Case cases[] = {
      {"empty", "", 0},
      {"ASCII longer than a word", ascii, 20},
      {"two-byte é", "caf\xc3\xa9", 5},
      {"three-byte €", ascii + "\xe2\x82\xac", 23},
      {"four-byte emoji", "\xf0\x9f\x98\x80", 4},
      {"U+10FFFF", "\xf4\x8f\xbf\xbf", 4},
      {"continuation byte alone", ascii + "\x80", 20},
      {"overlong two-byte", "ab\xc0\xaf", 2},
      {"overlong three-byte", "\xe0\x80\xaf", 0},
      {"overlong four-byte", "\xf0\x8f\xbf\xbf", 0},
      {"surrogate U+D800", "x\xed\xa0\x80", 1},
      {"above U+10FFFF", "\xf4\x90\x80\x80", 0},
      {"0xff", "abc\xff", 3},
      {"truncated sequence at the end", ascii + "\xe2\x82", 20},
      {"bad continuation", "\xe2\x28\xa1", 0},
      {"invalid byte after a valid multibyte one", "\xc3\xa9\xfe", 2},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    CHECK(webhook::FirstInvalidUtf8(c.text) == c.want);
  }
}

TEST_CASE("a review with a NUL byte after the object is refused, not truncated") {
  std::string body = Review();
  body.push_back('\0');
  body += "trailing";
  auto r = DecodeAdmissionReview(body);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("NUL byte"));
}

TEST_CASE("a review whose string escapes decode to a lone surrogate is refused") {
  for (const char* escape : {R"(\udc00)", R"(\ud800x)"}) {
    INFO(escape);
    auto r = DecodeAdmissionReview(Review(std::string(R"(,"x":")") + escape + "\""));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("not JSON"));
  }
  // A valid pair decodes.
  CHECK(DecodeAdmissionReview(Review(R"(,"x":"\ud83d\ude00")")).ok());
}
