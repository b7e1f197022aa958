#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tests/devcluster/patch.h"

namespace devcluster {
namespace {

JsonDoc ParsePatchJson(const std::string& text) {
  JsonDoc d;
  d.Parse(text.c_str());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

// Equal as JSON values (object member order does not matter, array order does).
bool SameJson(const Json& got, const std::string& want) { return got == ParsePatchJson(want); }

struct PatchCase {
  const char* name;
  const char* target;
  const char* patch;
  const char* want;
};

TEST_CASE("merge patch follows RFC 7386 as kube-apiserver applies it", "[devcluster][patch]") {
  const std::vector<PatchCase> cases = {
      {"null deletes the key", R"({"a":1,"b":2})", R"({"b":null})", R"({"a":1})"},
      {"null of an absent key is a no-op", R"({"a":1})", R"({"z":null})", R"({"a":1})"},
      {"objects merge recursively", R"({"a":{"x":1,"y":2}})", R"({"a":{"y":null,"z":3}})", R"({"a":{"x":1,"z":3}})"},
      {"arrays are replaced", R"({"a":[1,2]})", R"({"a":[3]})", R"({"a":[3]})"},
      {"scalar becomes object without its nulls", R"({"a":"s"})", R"({"a":{"b":null,"c":1}})", R"({"a":{"c":1}})"},
      {"new nested object drops nulls", R"({})", R"({"a":{"b":{"c":null}}})", R"({"a":{"b":{}}})"},
      {"object replaced by array keeps the array as sent", R"({"a":{"b":1}})", R"({"a":[{"x":null}]})",
       R"({"a":[{"x":null}]})"},
      {"new array keeps null elements but prunes its objects", R"({"a":1})", R"({"b":[{"x":null,"y":1},null]})",
       R"({"a":1,"b":[{"y":1},null]})"},
      {"RFC 7386 appendix example",
       R"({"title":"Goodbye!","author":{"givenName":"John","familyName":"Doe"},"tags":["example","sample"],"content":"This will be unchanged"})",
       R"({"title":"Hello!","phoneNumber":"+01-123-456-7890","author":{"familyName":null},"tags":["example"]})",
       R"({"title":"Hello!","author":{"givenName":"John"},"tags":["example"],"content":"This will be unchanged","phoneNumber":"+01-123-456-7890"})"},
      {"empty patch changes nothing", R"({"a":{"b":1}})", R"({})", R"({"a":{"b":1}})"},
      {"array patch replaces the whole document", R"({"a":1})", R"([1,{"b":null}])", R"([1,{}])"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      JsonDoc target = ParsePatchJson(c.target);
      JsonDoc patch = ParsePatchJson(c.patch);
      base::Status s = ApplyMergePatch(target, patch);
      REQUIRE(s.ok());
      CHECK(ToJson(target) == ToJson(ParsePatchJson(c.want)));
      CHECK(SameJson(target, c.want));
    }
  }
}

TEST_CASE("merge patch rejects a null or scalar patch with 400 Invalid JSON Patch", "[devcluster][patch]") {
  for (const char* p : {"null", "\"x\"", "5", "true"}) {
    JsonDoc target = ParsePatchJson(R"({"a":1})");
    base::Status s = ApplyMergePatch(target, ParsePatchJson(p));
    CHECK(s.http_code() == 400);
    CHECK(s.reason() == "BadRequest");
    CHECK(s.message() == "Invalid JSON Patch");
    CHECK(SameJson(target, R"({"a":1})"));
  }
}

TEST_CASE("json patch applies RFC 6902 operations", "[devcluster][patch]") {
  const std::vector<PatchCase> cases = {
      {"add a member", R"({"a":1})", R"([{"op":"add","path":"/b","value":2}])", R"({"a":1,"b":2})"},
      {"add replaces an existing member", R"({"a":1})", R"([{"op":"add","path":"/a","value":[1]}])", R"({"a":[1]})"},
      {"add inserts into an array", R"({"l":[1,3]})", R"([{"op":"add","path":"/l/1","value":2}])", R"({"l":[1,2,3]})"},
      {"add with - appends", R"({"l":[1]})", R"([{"op":"add","path":"/l/-","value":2}])", R"({"l":[1,2]})"},
      {"add at the array length appends", R"({"l":[1]})", R"([{"op":"add","path":"/l/1","value":2}])",
       R"({"l":[1,2]})"},
      {"add at index -1 appends (v4 negative indices)", R"({"l":[1,3]})", R"([{"op":"add","path":"/l/-1","value":9}])",
       R"({"l":[1,3,9]})"},
      {"add without value adds null", R"({})", R"([{"op":"add","path":"/a"}])", R"({"a":null})"},
      {"remove a member", R"({"a":1,"b":2})", R"([{"op":"remove","path":"/a"}])", R"({"b":2})"},
      {"remove an array element", R"({"l":[1,2,3]})", R"([{"op":"remove","path":"/l/0"}])", R"({"l":[2,3]})"},
      {"remove index -1 removes the last element", R"({"l":[1,2,3]})", R"([{"op":"remove","path":"/l/-1"}])",
       R"({"l":[1,2]})"},
      {"replace a member", R"({"a":1})", R"([{"op":"replace","path":"/a","value":"x"}])", R"({"a":"x"})"},
      {"replace of an absent member adds it (v4)", R"({"a":1})", R"([{"op":"replace","path":"/b","value":2}])",
       R"({"a":1,"b":2})"},
      {"replace through an array", R"({"l":[{"x":1}]})", R"([{"op":"replace","path":"/l/0/x","value":2}])",
       R"({"l":[{"x":2}]})"},
      {"move a member", R"({"a":{"b":1},"c":{}})", R"([{"op":"move","from":"/a/b","path":"/c/d"}])",
       R"({"a":{},"c":{"d":1}})"},
      {"copy a member", R"({"a":[1]})", R"([{"op":"copy","from":"/a","path":"/b"}])", R"({"a":[1],"b":[1]})"},
      {"test then add", R"({"a":1})", R"([{"op":"test","path":"/a","value":1},{"op":"add","path":"/b","value":2}])",
       R"({"a":1,"b":2})"},
      {"test compares numbers by value", R"({"a":1})", R"([{"op":"test","path":"/a","value":1.0}])", R"({"a":1})"},
      {"test compares objects deeply", R"({"a":{"x":[1,{"y":2}]}})",
       R"([{"op":"test","path":"/a","value":{"x":[1,{"y":2}]}}])", R"({"a":{"x":[1,{"y":2}]}})"},
      {"test of an absent member against null passes", R"({"a":1})", R"([{"op":"test","path":"/b","value":null}])",
       R"({"a":1})"},
      {"~1 and ~0 escapes", R"({"a/b":1,"m~n":2})",
       R"([{"op":"test","path":"/a~1b","value":1},{"op":"remove","path":"/m~0n"}])", R"({"a/b":1})"},
      {"operations apply in order", R"({})",
       R"([{"op":"add","path":"/a","value":{}},{"op":"add","path":"/a/b","value":1},{"op":"move","from":"/a/b","path":"/c"}])",
       R"({"a":{},"c":1})"},
      {"null patch changes nothing", R"({"a":1})", "null", R"({"a":1})"},
      {"empty patch changes nothing", R"({"a":1})", "[]", R"({"a":1})"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      JsonDoc target = ParsePatchJson(c.target);
      std::string why;
      base::Status s = ApplyJsonPatch(target, ParsePatchJson(c.patch), &why);
      INFO(why);
      REQUIRE(s.ok());
      CHECK(SameJson(target, c.want));
    }
  }
}

struct JsonPatchErrorCase {
  const char* name;
  const char* target;
  const char* patch;
  const char* why;  // substring of the library's reason
};

TEST_CASE("json patch operations that do not apply get 422 and leave the object unchanged", "[devcluster][patch]") {
  const std::vector<JsonPatchErrorCase> cases = {
      {"remove of an absent member", R"({"a":1})", R"([{"op":"remove","path":"/b"}])",
       "error in remove for path: '/b': Unable to remove nonexistent key: b: missing value"},
      {"remove below a missing parent", R"({"a":1})", R"([{"op":"remove","path":"/x/y"}])",
       "remove operation does not apply: doc is missing path: \"/x/y\": missing value"},
      {"failed test", R"({"a":1})", R"([{"op":"add","path":"/z","value":1},{"op":"test","path":"/a","value":2}])",
       "testing value /a failed: test failed"},
      {"test of an absent member against a value", R"({"a":1})", R"([{"op":"test","path":"/b","value":1}])",
       "testing value /b failed"},
      {"unknown op", R"({})", R"([{"op":"frob","path":"/a"}])", "Unexpected kind: frob"},
      {"missing op", R"({})", R"([{"path":"/a"}])", "Unexpected kind: unknown"},
      {"null operation", R"({})", R"([null])", "Unexpected kind: unknown"},
      {"missing path", R"({})", R"([{"op":"add","value":1}])", "add operation failed to decode path"},
      {"array index past the end", R"({"l":[1]})", R"([{"op":"add","path":"/l/5","value":2}])",
       "Unable to access invalid index: 5"},
      {"array index not a number", R"({"l":[1]})", R"([{"op":"add","path":"/l/x","value":2}])",
       "value was not a proper array index: 'x'"},
      {"replace past the end", R"({"l":[1]})", R"([{"op":"replace","path":"/l/1","value":2}])",
       "replace operation does not apply: doc is missing key: /l/1"},
      {"empty path", R"({"a":1})", R"([{"op":"add","path":"","value":{}}])", "doc is missing path"},
      {"move from an absent member", R"({"a":1})", R"([{"op":"move","from":"/b","path":"/c"}])",
       "Unable to remove nonexistent key: b"},
      {"copy from an absent member", R"({"a":1})", R"([{"op":"copy","from":"/b","path":"/c"}])",
       "copy operation does not apply: doc is missing from path: /b"},
      {"path through a scalar", R"({"a":1})", R"([{"op":"add","path":"/a/b","value":1}])",
       "add operation does not apply: doc is missing path: \"/a/b\""},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      JsonDoc target = ParsePatchJson(c.target);
      std::string why;
      base::Status s = ApplyJsonPatch(target, ParsePatchJson(c.patch), &why);
      CHECK(s.http_code() == 422);
      CHECK(s.reason() == "Invalid");
      CHECK(s.code() == base::Code::kInvalidArgument);
      CHECK(s.message() == "the server rejected our request due to an error in our request");
      CHECK_THAT(why, Catch::Contains(c.why));
      CHECK(SameJson(target, c.target));
    }
  }
}

TEST_CASE("json patch that is not an array of objects gets 400", "[devcluster][patch]") {
  struct Case {
    const char* patch;
    const char* message;
  };
  const std::vector<Case> cases = {
      {R"({"op":"add"})", "json: cannot unmarshal object into Go value of type jsonpatch.Patch"},
      {R"("x")", "json: cannot unmarshal string into Go value of type jsonpatch.Patch"},
      {R"([1])", "json: cannot unmarshal number into Go value of type jsonpatch.Operation"},
      {R"([[]])", "json: cannot unmarshal array into Go value of type jsonpatch.Operation"},
  };
  for (const auto& c : cases) {
    JsonDoc target = ParsePatchJson(R"({"a":1})");
    base::Status s = ApplyJsonPatch(target, ParsePatchJson(c.patch));
    CHECK(s.http_code() == 400);
    CHECK(s.reason() == "BadRequest");
    CHECK(s.message() == c.message);
  }
}

TEST_CASE("json patch with more than 10000 operations gets 413", "[devcluster][patch]") {
  std::string ops = "[";
  for (int i = 0; i <= 10000; ++i) ops += std::string(i ? "," : "") + R"({"op":"test","path":"/a","value":1})";
  ops += "]";
  JsonDoc target = ParsePatchJson(R"({"a":1})");
  base::Status s = ApplyJsonPatch(target, ParsePatchJson(ops));
  CHECK(s.http_code() == 413);
  CHECK(s.reason() == "RequestEntityTooLarge");
  CHECK_THAT(s.message(), Catch::Contains("The allowed maximum operations in a JSON patch is 10000, got 10001"));
}

TEST_CASE("strategic merge patch merges like kube-apiserver", "[devcluster][patch]") {
  const std::vector<PatchCase> cases = {
      {"null deletes a key and maps merge", R"({"data":{"a":"1","b":"2"},"x":1})", R"({"data":{"a":null,"c":"3"}})",
       R"({"data":{"b":"2","c":"3"},"x":1})"},
      {"new keys drop their nulls", R"({})", R"({"data":{"a":null,"b":"1"}})", R"({"data":{"b":"1"}})"},
      {"a list without a strategy is replaced", R"({"spec":{"taints":[{"key":"a","effect":"NoSchedule"}]}})",
       R"({"spec":{"taints":[{"key":"b","effect":"NoSchedule"}]}})",
       R"({"spec":{"taints":[{"key":"b","effect":"NoSchedule"}]}})"},
      {"primitive set lists merge without duplicates", R"({"metadata":{"finalizers":["a","b"]}})",
       R"({"metadata":{"finalizers":["b","c"]}})", R"({"metadata":{"finalizers":["a","b","c"]}})"},
      // mergeSortedSlice takes the patch's item whenever the server's item
      // cannot be compared with it, so a new item lands before the old ones...
      {"a new primitive item lands before the server's items", R"({"metadata":{"finalizers":["b","a"]}})",
       R"({"metadata":{"finalizers":["c"]}})", R"({"metadata":{"finalizers":["c","b","a"]}})"},
      // ...unless a patch item already on the server comes first.
      {"server items before a known patch item keep their place", R"({"metadata":{"finalizers":["a","b","c"]}})",
       R"({"metadata":{"finalizers":["c","d"]}})", R"({"metadata":{"finalizers":["a","b","c","d"]}})"},
      {"primitive lists follow the patch's order for mentioned items", R"({"metadata":{"finalizers":["a","b","c"]}})",
       R"({"metadata":{"finalizers":["b","a"]}})", R"({"metadata":{"finalizers":["b","a","c"]}})"},
      {"$deleteFromPrimitiveList removes items", R"({"metadata":{"finalizers":["a","b","c"]}})",
       R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["b","zz"]}})", R"({"metadata":{"finalizers":["a","c"]}})"},
      {"$deleteFromPrimitiveList of an absent list is a no-op", R"({"metadata":{}})",
       R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["b"]}})", R"({"metadata":{}})"},
      {"keyed lists merge items by key", R"({"webhooks":[{"name":"a","x":1},{"name":"b","x":2}]})",
       R"({"webhooks":[{"name":"b","x":3},{"name":"c"}]})",
       R"({"webhooks":[{"name":"a","x":1},{"name":"b","x":3},{"name":"c"}]})"},
      {"null inside a keyed item deletes that field", R"({"webhooks":[{"name":"a","x":1,"y":2}]})",
       R"({"webhooks":[{"name":"a","y":null}]})", R"({"webhooks":[{"name":"a","x":1}]})"},
      {"$patch delete removes a keyed item", R"({"webhooks":[{"name":"a"},{"name":"b"}]})",
       R"({"webhooks":[{"name":"a","$patch":"delete"}]})", R"({"webhooks":[{"name":"b"}]})"},
      {"$patch replace item replaces the keyed list", R"({"webhooks":[{"name":"a"},{"name":"b"}]})",
       R"({"webhooks":[{"name":"c"},{"$patch":"replace"}]})", R"({"webhooks":[{"name":"c"}]})"},
      {"$patch replace in a map replaces the map", R"({"data":{"a":"1","b":"2"}})",
       R"({"data":{"$patch":"replace","c":"3"}})", R"({"data":{"c":"3"}})"},
      {"$patch delete in a map empties it", R"({"data":{"a":"1"},"x":1})", R"({"data":{"$patch":"delete"}})",
       R"({"data":{},"x":1})"},
      {"ownerReferences merge by uid",
       R"({"metadata":{"ownerReferences":[{"uid":"1","name":"a"},{"uid":"2","name":"b"}]}})",
       R"({"metadata":{"ownerReferences":[{"uid":"2","name":"B"}]}})",
       R"({"metadata":{"ownerReferences":[{"uid":"1","name":"a"},{"uid":"2","name":"B"}]}})"},
      {"$setElementOrder reorders a primitive list", R"({"metadata":{"finalizers":["a","b","c"]}})",
       R"({"metadata":{"$setElementOrder/finalizers":["c","a","b"]}})", R"({"metadata":{"finalizers":["c","a","b"]}})"},
      {"$setElementOrder orders a keyed list with a new item",
       R"({"status":{"conditions":[{"type":"A","status":"x"},{"type":"B"}]}})",
       R"({"status":{"$setElementOrder/conditions":[{"type":"B"},{"type":"C"},{"type":"A"}],"conditions":[{"type":"C","status":"y"}]}})",
       R"({"status":{"conditions":[{"type":"B"},{"type":"C","status":"y"},{"type":"A","status":"x"}]}})"},
      {"$retainKeys drops keys not listed", R"({"spec":{"a":1,"b":2,"c":3}})",
       R"({"spec":{"$retainKeys":["a","d"],"d":4}})", R"({"spec":{"a":1,"d":4}})"},
      {"a type change replaces the value", R"({"a":{"b":1}})", R"({"a":"s"})", R"({"a":"s"})"},
      {"null patch changes nothing", R"({"a":1})", "null", R"({"a":1})"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      JsonDoc target = ParsePatchJson(c.target);
      base::Status s = ApplyStrategicMergePatch(target, ParsePatchJson(c.patch), BuiltinMergeKeys());
      INFO(s.ToString());
      REQUIRE(s.ok());
      INFO(ToJson(target));
      CHECK(ToJson(target) == ToJson(ParsePatchJson(c.want)));
    }
  }
}

struct SmpErrorCase {
  const char* name;
  const char* target;
  const char* patch;
  int http_code;
  const char* message;  // substring
};

TEST_CASE("strategic merge patch errors carry the apiserver's codes and leave the object unchanged",
          "[devcluster][patch]") {
  const std::vector<SmpErrorCase> cases = {
      {"patch is not an object", R"({"a":1})", R"([1])", 400,
       "json: cannot unmarshal array into Go value of type map[string]interface {}"},
      {"$retainKeys is not a list", R"({"spec":{"a":1}})", R"({"spec":{"$retainKeys":"a"}})", 400,
       "invalid patch format of retainKeys"},
      {"patch key missing from $retainKeys", R"({"spec":{"a":1}})", R"({"spec":{"$retainKeys":["a"],"b":1}})", 400,
       "invalid patch format of retainKeys"},
      {"list of lists", R"({"metadata":{}})", R"({"metadata":{"finalizers":[["x"]]}})", 422,
       "the server rejected our request due to an error in our request"},
      {"$patch merge in a map", R"({"data":{"a":"1"}})", R"({"data":{"$patch":"merge"}})", 500,
       "unknown patch type: merge"},
      {"$patch merge in a list", R"({"webhooks":[{"name":"a"}]})", R"({"webhooks":[{"$patch":"merge"}]})", 500,
       "merging lists cannot yet be specified in the patch"},
      {"keyed item without its key", R"({"webhooks":[{"name":"a"}]})", R"({"webhooks":[{"x":1}]})", 500,
       "does not contain declared merge key: name"},
      {"mixed element types", R"({"metadata":{"finalizers":["a"]}})", R"({"metadata":{"finalizers":[1]}})", 500,
       "list element types are not identical"},
      {"patch list out of $setElementOrder order", R"({"metadata":{"finalizers":["a","b"]}})",
       R"({"metadata":{"$setElementOrder/finalizers":["a","b"],"finalizers":["b","a"]}})", 500,
       "doesn't match $setElementOrder list"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      JsonDoc target = ParsePatchJson(c.target);
      base::Status s = ApplyStrategicMergePatch(target, ParsePatchJson(c.patch), BuiltinMergeKeys());
      CHECK(s.http_code() == c.http_code);
      CHECK_THAT(s.message(), Catch::Contains(c.message));
      CHECK(SameJson(target, c.target));
    }
  }
}

TEST_CASE("strategic merge patch uses the caller's merge keys by path", "[devcluster][patch]") {
  MergeKeys keys = {{"spec.ports", "port"}, {"spec.ports.tags", ""}};
  JsonDoc target = ParsePatchJson(R"({"spec":{"ports":[{"port":1,"tags":["a"]},{"port":2}]}})");
  base::Status s = ApplyStrategicMergePatch(target, ParsePatchJson(R"({"spec":{"ports":[{"port":1,"tags":["b"]}]}})"),
                                            keys);
  REQUIRE(s.ok());
  CHECK(ToJson(target) == R"({"spec":{"ports":[{"port":1,"tags":["b","a"]},{"port":2}]}})");
}

TEST_CASE("builtin merge keys cover the built-in kinds' merge lists", "[devcluster][patch]") {
  const MergeKeys& k = BuiltinMergeKeys();
  CHECK(k.at("metadata.ownerReferences") == "uid");
  CHECK(k.at("metadata.finalizers").empty());
  CHECK(k.at("status.conditions") == "type");
  CHECK(k.at("status.addresses") == "type");
  CHECK(k.at("webhooks") == "name");
  CHECK(k.at("secrets") == "name");
  CHECK(k.count("spec.taints") == 0);  // NodeSpec.Taints has no patch strategy
}

}  // namespace
}  // namespace devcluster
