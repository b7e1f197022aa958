#include "tests/devcluster/patch.h"

#include <algorithm>
#include <set>
#include <string_view>
#include <vector>

#include "tests/devcluster/go_int.h"

namespace devcluster {
namespace {

using rapidjson::SizeType;

base::Status BadRequest(std::string m) {
  return base::InvalidArgument(std::move(m)).WithHttp(400, "BadRequest");
}

// kube-apiserver turns errors of the patch libraries that it does not map
// itself into a 500 whose reason is the empty StatusReasonUnknown.
base::Status ServerError(std::string m) { return base::Internal(std::move(m)).WithHttp(500, ""); }

// NewGenericServerResponse(422, ...): the library's reason is not shown.
base::Status Rejected422() {
  return base::InvalidArgument("the server rejected our request due to an error in our request")
      .WithHttp(422, "Invalid");
}

std::string_view Str(const Json& v) { return std::string_view(v.GetString(), v.GetStringLength()); }

Json Key(std::string_view k, Alloc& a) { return Json(k.data(), static_cast<SizeType>(k.size()), a); }

void SetMember(Json& obj, std::string_view key, Json& value, Alloc& a) {
  if (Json* m = Member(obj, key)) {
    *m = value;
  } else {
    obj.AddMember(Key(key, a), value, a);
  }
}

void EraseMember(Json& obj, std::string_view key) {
  auto it = obj.FindMember(rapidjson::StringRef(key.data(), key.size()));
  if (it != obj.MemberEnd()) obj.EraseMember(it);  // EraseMember keeps the order.
}

// The name Go's encoding/json gives a JSON value's type in its errors.
const char* GoJsonKind(const Json& v) {
  switch (v.GetType()) {
    case rapidjson::kObjectType: return "object";
    case rapidjson::kArrayType: return "array";
    case rapidjson::kStringType: return "string";
    case rapidjson::kNumberType: return "number";
    case rapidjson::kNullType: return "null";
    default: return "bool";
  }
}

// Drops null members of objects, recursively, also inside arrays (whose null
// elements stay): evanphx's pruneNulls and strategicpatch's
// discardNullValuesFromPatch agree on this.
void PruneNulls(Json& v) {
  if (v.IsObject()) {
    for (auto it = v.MemberBegin(); it != v.MemberEnd();) {
      if (it->value.IsNull()) {
        it = v.EraseMember(it);
      } else {
        PruneNulls(it->value);
        ++it;
      }
    }
  } else if (v.IsArray()) {
    for (auto& e : v.GetArray()) PruneNulls(e);
  }
}

// ---------------------------------------------------------------------------
// Merge patch.

void MergeObjects(Json& cur, const Json& patch, Alloc& a) {
  for (auto it = patch.MemberBegin(); it != patch.MemberEnd(); ++it) {
    std::string_view key = Str(it->name);
    if (it->value.IsNull()) {
      EraseMember(cur, key);
      continue;
    }
    Json* c = Member(cur, key);
    if (c == nullptr || c->IsNull()) {
      Json v(it->value, a);
      PruneNulls(v);
      SetMember(cur, key, v, a);
    } else if (c->IsObject() && it->value.IsObject()) {
      MergeObjects(*c, it->value, a);
    } else if (c->IsObject()) {
      // evanphx returns the patch value untouched when it is not an object.
      *c = Json(it->value, a);
    } else {
      Json v(it->value, a);
      PruneNulls(v);
      *c = v;
    }
  }
}

// ---------------------------------------------------------------------------
// JSON patch, following evanphx/json-patch v4 (what kube-apiserver links).

constexpr size_t kMaxJsonPatchOperations = 10000;

struct OpFailed {
  std::string why;
};

std::string AtoiError(std::string_view key) {
  return "strconv.Atoi: parsing \"" + std::string(key) + "\": invalid syntax";
}

std::string InvalidIndex(long long idx) {
  return "Unable to access invalid index: " + std::to_string(idx) + ": invalid index referenced";
}

std::string DecodePatchKey(std::string_view part) {
  std::string s(part);
  for (size_t p = 0; (p = s.find("~1", p)) != std::string::npos; ++p) s.replace(p, 2, "/");
  for (size_t p = 0; (p = s.find("~0", p)) != std::string::npos; ++p) s.replace(p, 2, "~");
  return s;
}

// Resolves an array index for get/replace/remove (idx < size) or add
// (idx <= size); negative indices count from the end as v4 allows.
bool ArrayIndex(const Json& arr, const std::string& key, bool for_add, size_t* idx, std::string* err) {
  long long i = 0;
  if (!ParseGoInt(key, &i)) {
    *err = for_add ? "value was not a proper array index: '" + key + "': " + AtoiError(key) : AtoiError(key);
    return false;
  }
  const long long size = static_cast<long long>(arr.Size()) + (for_add ? 1 : 0);
  if (i >= size) {
    *err = InvalidIndex(i);
    return false;
  }
  if (i < 0) {
    if (i < -size) {
      *err = InvalidIndex(i);
      return false;
    }
    i += size;
  }
  *idx = static_cast<size_t>(i);
  return true;
}

// The container holding the last token of `path` and that token, decoded;
// nullptr when the path is malformed or an intermediate node is missing.
// Like v4, only the tokens after the first "/" count ("a/b" means "/b").
Json* FindContainer(Json& doc, std::string_view path, std::string* key) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    parts.push_back(path.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (parts.size() < 2) return nullptr;
  Json* cur = &doc;
  for (size_t i = 1; i + 1 < parts.size(); ++i) {
    std::string part = DecodePatchKey(parts[i]);
    Json* next = nullptr;
    if (cur->IsObject()) {
      next = Member(*cur, part);
    } else if (cur->IsArray()) {
      size_t idx = 0;
      std::string ignored;
      if (ArrayIndex(*cur, part, false, &idx, &ignored)) next = &(*cur)[static_cast<SizeType>(idx)];
    }
    if (next == nullptr || !(next->IsObject() || next->IsArray())) return nullptr;
    cur = next;
  }
  *key = DecodePatchKey(parts.back());
  return cur;
}

// Reads a string field of an operation; v4 reports a missing or non-string
// field the same way.
bool OpString(const Json& op, const char* field, std::string* out) {
  const Json* v = Member(op, field);
  if (v == nullptr || !v->IsString()) return false;
  *out = std::string(Str(*v));
  return true;
}

class JsonPatcher {
 public:
  explicit JsonPatcher(JsonDoc& doc) : doc_(doc), a_(doc.GetAllocator()) {}

  // Returns "" on success, else the library's reason.
  std::string Apply(const Json& op) {
    std::string kind = "unknown";
    OpString(op, "op", &kind);
    if (kind == "add") return Add(op);
    if (kind == "remove") return Remove(op);
    if (kind == "replace") return Replace(op);
    if (kind == "move") return Move(op);
    if (kind == "copy") return Copy(op);
    if (kind == "test") return Test(op);
    return "Unexpected kind: " + kind;
  }

 private:
  static Json ValueOf(const Json& op, Alloc& a) {
    const Json* v = Member(op, "value");
    return v == nullptr ? Json() : Json(*v, a);
  }

  // Inserts `val` under `key` of container `con` (object set or array insert).
  std::string AddAt(Json& con, const std::string& key, Json& val) {
    if (con.IsObject()) {
      SetMember(con, key, val, a_);
      return "";
    }
    if (key == "-") {
      con.PushBack(val, a_);
      return "";
    }
    size_t idx = 0;
    std::string err;
    if (!ArrayIndex(con, key, true, &idx, &err)) return err;
    con.PushBack(Json(), a_);
    for (size_t i = con.Size() - 1; i > idx; --i) {
      con[static_cast<SizeType>(i)] = con[static_cast<SizeType>(i - 1)];
    }
    con[static_cast<SizeType>(idx)] = val;
    return "";
  }

  // Removes `key` from `con`, moving the removed value to *out when given.
  std::string RemoveAt(Json& con, const std::string& key, Json* out) {
    if (con.IsObject()) {
      auto it = con.FindMember(rapidjson::StringRef(key.data(), key.size()));
      if (it == con.MemberEnd()) return "Unable to remove nonexistent key: " + key + ": missing value";
      if (out != nullptr) *out = it->value;
      con.EraseMember(it);
      return "";
    }
    size_t idx = 0;
    std::string err;
    if (!ArrayIndex(con, key, false, &idx, &err)) return err;
    if (out != nullptr) *out = con[static_cast<SizeType>(idx)];
    con.Erase(con.Begin() + idx);
    return "";
  }

  // The value at `key` of `con`: nullptr for an absent object member;
  // *err set for a bad array index.
  Json* GetAt(Json& con, const std::string& key, std::string* err) {
    if (con.IsObject()) return Member(con, key);
    size_t idx = 0;
    if (!ArrayIndex(con, key, false, &idx, err)) return nullptr;
    return &con[static_cast<SizeType>(idx)];
  }

  std::string Add(const Json& op) {
    std::string path, key;
    if (!OpString(op, "path", &path)) return "add operation failed to decode path: missing value";
    Json* con = FindContainer(doc_, path, &key);
    if (con == nullptr) return "add operation does not apply: doc is missing path: \"" + path + "\": missing value";
    Json val = ValueOf(op, a_);
    std::string err = AddAt(*con, key, val);
    return err.empty() ? "" : "error in add for path: '" + path + "': " + err;
  }

  std::string Remove(const Json& op) {
    std::string path, key;
    if (!OpString(op, "path", &path)) return "remove operation failed to decode path: missing value";
    Json* con = FindContainer(doc_, path, &key);
    if (con == nullptr) return "remove operation does not apply: doc is missing path: \"" + path + "\": missing value";
    std::string err = RemoveAt(*con, key, nullptr);
    return err.empty() ? "" : "error in remove for path: '" + path + "': " + err;
  }

  // v4 replaces an absent object member by adding it; only array indices
  // must exist.
  std::string Replace(const Json& op) {
    std::string path, key;
    if (!OpString(op, "path", &path)) return "replace operation failed to decode path: missing value";
    Json* con = FindContainer(doc_, path, &key);
    if (con == nullptr) return "replace operation does not apply: doc is missing path: " + path + ": missing value";
    std::string err;
    Json* cur = GetAt(*con, key, &err);
    if (!err.empty()) return "replace operation does not apply: doc is missing key: " + path + ": missing value";
    Json val = ValueOf(op, a_);
    if (cur != nullptr) {
      *cur = val;
    } else {
      SetMember(*con, key, val, a_);
    }
    return "";
  }

  std::string Move(const Json& op) {
    std::string from, path, key;
    if (!OpString(op, "from", &from)) return "move operation failed to decode from: missing value";
    Json* con = FindContainer(doc_, from, &key);
    if (con == nullptr) return "move operation does not apply: doc is missing from path: " + from + ": missing value";
    Json val;
    std::string err = RemoveAt(*con, key, &val);
    if (!err.empty()) return "error in move for path: '" + key + "': " + err;
    if (!OpString(op, "path", &path)) return "move operation failed to decode path: missing value";
    con = FindContainer(doc_, path, &key);
    if (con == nullptr) {
      return "move operation does not apply: doc is missing destination path: " + path + ": missing value";
    }
    err = AddAt(*con, key, val);
    return err.empty() ? "" : "error in move for path: '" + path + "': " + err;
  }

  std::string Copy(const Json& op) {
    std::string from, path, key;
    if (!OpString(op, "from", &from)) return "copy operation failed to decode from: missing value";
    Json* con = FindContainer(doc_, from, &key);
    if (con == nullptr) return "copy operation does not apply: doc is missing from path: " + from + ": missing value";
    std::string err;
    Json* src = GetAt(*con, key, &err);
    if (!err.empty()) return "error in copy for from: '" + from + "': " + err;
    if (src == nullptr) return "copy operation does not apply: doc is missing from path: " + from + ": missing value";
    Json val(*src, a_);
    if (!OpString(op, "path", &path)) return "copy operation failed to decode path: missing value";
    con = FindContainer(doc_, path, &key);
    if (con == nullptr) {
      return "copy operation does not apply: doc is missing destination path: " + path + ": missing value";
    }
    err = AddAt(*con, key, val);
    return err.empty() ? "" : "error in copy for path: '" + path + "': " + err;
  }

  // An absent member and a null member both read as null.
  std::string Test(const Json& op) {
    std::string path, key;
    if (!OpString(op, "path", &path)) return "test operation failed to decode path: missing value";
    Json* con = FindContainer(doc_, path, &key);
    if (con == nullptr) return "test operation does not apply: is missing path: " + path + ": missing value";
    std::string err;
    Json* cur = GetAt(*con, key, &err);
    if (!err.empty()) return "error in test for path: '" + path + "': " + err;
    const Json* want = Member(op, "value");
    const bool cur_null = cur == nullptr || cur->IsNull();
    const bool want_null = want == nullptr || want->IsNull();
    if (cur_null && want_null) return "";
    if (!cur_null && !want_null && *cur == *want) return "";
    return "testing value " + path + " failed: test failed";
  }

  JsonDoc& doc_;
  Alloc& a_;
};

// ---------------------------------------------------------------------------
// Strategic merge patch.

constexpr std::string_view kDirective = "$patch";
constexpr std::string_view kRetainKeys = "$retainKeys";
constexpr std::string_view kSetElementOrderPrefix = "$setElementOrder/";
constexpr std::string_view kDeleteFromPrimitiveListPrefix = "$deleteFromPrimitiveList/";

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

// Go's reflect.Type equality between decoded JSON values: numbers are one
// type, booleans one.
int TypeClass(const Json& v) {
  switch (v.GetType()) {
    case rapidjson::kFalseType:
    case rapidjson::kTrueType: return 1;
    case rapidjson::kNumberType: return 2;
    case rapidjson::kStringType: return 3;
    case rapidjson::kObjectType: return 4;
    case rapidjson::kArrayType: return 5;
    default: return 0;
  }
}

// Identity of a list item for ordering and matching: its merge key's value
// (maps) or itself (primitives), as canonical JSON text; "" if the map lacks
// the key.
std::string ItemKey(const Json& item, const std::string& merge_key, bool maps) {
  if (!maps) return ToJson(item);
  const Json* k = Member(item, merge_key);
  return k == nullptr ? "" : ToJson(*k);
}

int IndexOf(const std::vector<std::string>& order, const std::string& key) {
  auto it = std::find(order.begin(), order.end(), key);
  return it == order.end() ? -1 : static_cast<int>(it - order.begin());
}

base::Status NoMergeKey(const Json& m, const std::string& merge_key) {
  return ServerError("map: " + ToJson(m) + " does not contain declared merge key: " + merge_key);
}

class SmpMerger {
 public:
  SmpMerger(const MergeKeys& keys, Alloc& a) : keys_(keys), a_(a) {}

  // mergeMap: merges object `patch` into object `orig`.
  base::Status MergeMap(Json& orig, const Json& patch, const std::string& path) {
    if (const Json* d = Member(patch, kDirective)) {
      if (d->IsString() && Str(*d) == "replace") {
        Json fresh(rapidjson::kObjectType);
        base::Status s = MergeMapBody(fresh, patch, path);
        if (!s.ok()) return s;
        orig = fresh;
        return base::Status::Ok();
      }
      if (d->IsString() && Str(*d) == "delete") {
        orig.SetObject();
        return base::Status::Ok();
      }
      return ServerError("unknown patch type: " + (d->IsString() ? std::string(Str(*d)) : ToJson(*d)) +
                         " in map: " + ToJson(patch));
    }
    return MergeMapBody(orig, patch, path);
  }

 private:
  // The patch value as it lands where nothing was: directives applied against
  // an empty value, nulls dropped.
  base::Status Prepare(const Json& v, const std::string& path, Json* out) {
    if (v.IsObject()) {
      Json fresh(rapidjson::kObjectType);
      base::Status s = MergeMap(fresh, v, path);
      if (!s.ok()) return s;
      *out = fresh;
      return base::Status::Ok();
    }
    if (v.IsArray() && keys_.count(path) != 0) {
      Json fresh(rapidjson::kArrayType);
      base::Status s = MergeSlice(fresh, v, path, keys_.find(path)->second, false);
      if (!s.ok()) return s;
      *out = fresh;
      return base::Status::Ok();
    }
    *out = Json(v, a_);
    PruneNulls(*out);
    return base::Status::Ok();
  }

  base::Status MergeMapBody(Json& orig, const Json& patch, const std::string& path) {
    if (!orig.IsObject()) orig.SetObject();

    if (const Json* rk = Member(patch, kRetainKeys)) {
      if (!rk->IsArray()) return BadRequest("invalid patch format of retainKeys");
      std::set<std::string> retain;
      for (const auto& e : rk->GetArray()) retain.insert(ToJson(e));
      auto retained = [&](std::string_view k) {
        return retain.count(ToJson(Json(rapidjson::StringRef(k.data(), k.size())))) != 0;
      };
      for (auto it = patch.MemberBegin(); it != patch.MemberEnd(); ++it) {
        std::string_view k = Str(it->name);
        if (it->value.IsNull() || k == kRetainKeys || k == kDirective || StartsWith(k, kDeleteFromPrimitiveListPrefix) ||
            StartsWith(k, kSetElementOrderPrefix)) {
          continue;
        }
        if (!retained(k)) return BadRequest("invalid patch format of retainKeys");
      }
      for (auto it = orig.MemberBegin(); it != orig.MemberEnd();) {
        if (retained(Str(it->name))) {
          ++it;
        } else {
          it = orig.EraseMember(it);
        }
      }
    }

    std::set<std::string, std::less<>> handled;
    for (auto it = patch.MemberBegin(); it != patch.MemberEnd(); ++it) {
      std::string_view k = Str(it->name);
      if (!StartsWith(k, kSetElementOrderPrefix)) continue;
      std::string list_key(k.substr(kSetElementOrderPrefix.size()));
      base::Status s = ApplySetElementOrder(orig, patch, it->value, list_key, path);
      if (!s.ok()) return s;
      handled.insert(list_key);
    }

    for (auto it = patch.MemberBegin(); it != patch.MemberEnd(); ++it) {
      std::string_view name = Str(it->name);
      if (name == kDirective || name == kRetainKeys || StartsWith(name, kSetElementOrderPrefix) ||
          handled.count(name) != 0) {
        continue;
      }
      const bool is_delete_list = StartsWith(name, kDeleteFromPrimitiveListPrefix);
      std::string key(is_delete_list ? name.substr(kDeleteFromPrimitiveListPrefix.size()) : name);
      const Json& pv = it->value;
      if (pv.IsNull()) {
        EraseMember(orig, key);
        continue;
      }
      const std::string child = Join(path, key);
      Json* ov = Member(orig, key);
      if (ov == nullptr || TypeClass(*ov) != TypeClass(pv)) {
        if (is_delete_list) continue;
        Json v;
        base::Status s = Prepare(pv, child, &v);
        if (!s.ok()) return s;
        SetMember(orig, key, v, a_);
        continue;
      }
      base::Status s;
      if (pv.IsObject()) {
        s = MergeMap(*ov, pv, child);
      } else if (pv.IsArray()) {
        s = MergeSliceHandler(*ov, pv, child, is_delete_list);
      } else {
        *ov = Json(pv, a_);
      }
      if (!s.ok()) return s;
    }
    return base::Status::Ok();
  }

  base::Status MergeSliceHandler(Json& orig, const Json& patch, const std::string& path, bool is_delete_list) {
    auto it = keys_.find(path);
    if (it == keys_.end() && !is_delete_list) {
      Json v(patch, a_);
      PruneNulls(v);
      orig = v;
      return base::Status::Ok();
    }
    return MergeSlice(orig, patch, path, it == keys_.end() ? "" : it->second, is_delete_list);
  }

  // sliceElementType over both lists: *maps says whether they hold objects.
  base::Status ElementType(const Json& a, const Json* b, bool* maps, bool* any) {
    int cls = -1;
    for (const Json* list : {&a, b}) {
      if (list == nullptr || !list->IsArray()) continue;
      for (const auto& e : list->GetArray()) {
        int c = TypeClass(e);
        if (cls == -1) {
          // kube-apiserver maps ErrNoListOfLists to its generic 422.
          if (c == 5) return Rejected422();
          cls = c;
        } else if (c != cls) {
          return ServerError("list element types are not identical: " + ToJson(a) + " " + (b ? ToJson(*b) : "[]"));
        }
      }
    }
    *any = cls != -1;
    *maps = cls == 4;
    return base::Status::Ok();
  }

  // mergeSlice for a list with the merge strategy (or a deletion list).
  base::Status MergeSlice(Json& orig, const Json& patch, const std::string& path, const std::string& merge_key,
                          bool is_delete_list) {
    if (orig.Empty() && patch.Empty()) return base::Status::Ok();
    bool maps = false, any = false;
    base::Status s = ElementType(orig, &patch, &maps, &any);
    if (!s.ok()) return s;

    std::vector<std::string> server_order;  // the original's identities (post $patch: delete)
    std::vector<std::string> patch_order;   // the patch's identities, directives left out
    if (!maps) {
      std::set<std::string> in_patch;
      for (const auto& e : patch.GetArray()) in_patch.insert(ToJson(e));
      if (is_delete_list) {
        for (SizeType i = 0; i < orig.Size();) {
          if (in_patch.count(ToJson(orig[i])) != 0) {
            orig.Erase(orig.Begin() + i);
          } else {
            ++i;
          }
        }
        return base::Status::Ok();
      }
      std::set<std::string> seen;
      Json merged(rapidjson::kArrayType);
      for (auto& e : orig.GetArray()) {
        server_order.push_back(ToJson(e));
        if (seen.insert(server_order.back()).second) merged.PushBack(Json(e, a_), a_);
      }
      for (const auto& e : patch.GetArray()) {
        patch_order.push_back(ToJson(e));
        if (seen.insert(patch_order.back()).second) merged.PushBack(Json(e, a_), a_);
      }
      orig = merged;
      return Order(orig, "", false, patch_order, server_order);
    }

    if (merge_key.empty()) return ServerError("cannot merge lists without merge key for " + path);
    std::vector<const Json*> plain;
    bool replace = false;
    for (const auto& p : patch.GetArray()) {
      const Json* d = Member(p, kDirective);
      if (d == nullptr) {
        plain.push_back(&p);
        continue;
      }
      std::string_view dir = d->IsString() ? Str(*d) : std::string_view();
      if (dir == "delete") {
        const Json* mv = Member(p, merge_key);
        if (mv == nullptr) return NoMergeKey(p, merge_key);
        const std::string want = ToJson(*mv);
        for (SizeType i = 0; i < orig.Size();) {
          if (!orig[i].IsObject()) return ServerError("value for key " + std::to_string(i) + " is not a map.");
          if (ItemKey(orig[i], merge_key, true) == want) {
            orig.Erase(orig.Begin() + i);
          } else {
            ++i;
          }
        }
      } else if (dir == "replace") {
        replace = true;
      } else if (dir == "merge") {
        return ServerError("merging lists cannot yet be specified in the patch");
      } else {
        return ServerError("unknown patch type: " + (d->IsString() ? std::string(dir) : ToJson(*d)) +
                           " in map: " + ToJson(p));
      }
    }
    if (replace) {
      Json fresh(rapidjson::kArrayType);
      for (const Json* p : plain) {
        Json v;
        s = Prepare(*p, path, &v);
        if (!s.ok()) return s;
        fresh.PushBack(v, a_);
      }
      orig = fresh;
      plain.clear();
    }
    for (const auto& e : orig.GetArray()) {
      if (Member(e, merge_key) == nullptr) return NoMergeKey(e, merge_key);
      server_order.push_back(ItemKey(e, merge_key, true));
    }
    for (const Json* p : plain) {
      const Json* mv = Member(*p, merge_key);
      if (mv == nullptr) return NoMergeKey(*p, merge_key);
      const std::string want = ToJson(*mv);
      patch_order.push_back(want);
      Json* found = nullptr;
      for (auto& e : orig.GetArray()) {
        if (ItemKey(e, merge_key, true) == want) {
          found = &e;
          break;
        }
      }
      if (found != nullptr) {
        s = MergeMap(*found, *p, path);
      } else {
        Json v;
        s = Prepare(*p, path, &v);
        if (s.ok()) orig.PushBack(v, a_);
      }
      if (!s.ok()) return s;
    }
    return Order(orig, merge_key, true, patch_order, server_order);
  }

  // normalizeElementOrder: items named in `patch_order` follow its order,
  // the others ("server-only") keep the server's relative order, and the two
  // runs are interleaved by the server's order where both are known.
  base::Status Order(Json& list, const std::string& merge_key, bool maps, const std::vector<std::string>& patch_order,
                     const std::vector<std::string>& server_order) {
    struct Item {
      std::string key;
      SizeType pos;
    };
    std::vector<Item> from_patch, server_only;
    for (SizeType i = 0; i < list.Size(); ++i) {
      if (maps && Member(list[i], merge_key) == nullptr) return NoMergeKey(list[i], merge_key);
      Item item{ItemKey(list[i], merge_key, maps), i};
      (IndexOf(patch_order, item.key) >= 0 ? from_patch : server_only).push_back(item);
    }
    auto sort_by = [](std::vector<Item>& items, const std::vector<std::string>& order) {
      std::stable_sort(items.begin(), items.end(), [&](const Item& l, const Item& r) {
        int li = IndexOf(order, l.key), ri = IndexOf(order, r.key);
        return (li < 0 ? INT_MAX : li) < (ri < 0 ? INT_MAX : ri);
      });
    };
    sort_by(from_patch, patch_order);
    sort_by(server_only, server_order);

    std::vector<SizeType> out;
    size_t i = 0, j = 0;
    while (i < server_only.size() || j < from_patch.size()) {
      if (j >= from_patch.size()) {
        out.push_back(server_only[i++].pos);
      } else if (i >= server_only.size()) {
        out.push_back(from_patch[j++].pos);
      } else {
        int li = IndexOf(server_order, server_only[i].key), ri = IndexOf(server_order, from_patch[j].key);
        if (li >= 0 && ri >= 0 && li < ri) {
          out.push_back(server_only[i++].pos);
        } else {
          out.push_back(from_patch[j++].pos);
        }
      }
    }
    Json sorted(rapidjson::kArrayType);
    for (SizeType pos : out) sorted.PushBack(list[pos], a_);  // moves
    list = sorted;
    return base::Status::Ok();
  }

  // validatePatchWithSetOrderList: the patch list must follow the order list.
  base::Status CheckOrder(const Json& patch_list, const Json& order, const std::string& merge_key, bool maps) {
    std::vector<const Json*> items;
    for (const auto& p : patch_list.GetArray()) {
      if (maps) {
        const Json* d = Member(p, kDirective);
        if (d != nullptr) continue;  // deletions and other directives are not ordered
      }
      items.push_back(&p);
    }
    size_t pi = 0, oi = 0;
    while (pi < items.size() && oi < order.Size()) {
      if (ItemKey(*items[pi], merge_key, maps) == ItemKey(order[static_cast<SizeType>(oi)], merge_key, maps)) ++pi;
      ++oi;
    }
    if (pi < items.size()) {
      return ServerError("The order in patch list:\n" + ToJson(patch_list) + "\n doesn't match " +
                         std::string(kSetElementOrderPrefix.substr(0, kSetElementOrderPrefix.size() - 1)) +
                         " list:\n" + ToJson(order) + "\n");
    }
    return base::Status::Ok();
  }

  // mergePatchIntoOriginal for one `$setElementOrder/<list_key>`.
  base::Status ApplySetElementOrder(Json& orig, const Json& patch, const Json& order, const std::string& list_key,
                                    const std::string& path) {
    if (!order.IsArray()) return ServerError(std::string("expected a slice, but received a ") + GoJsonKind(order));
    Json* ol = Member(orig, list_key);
    const Json* pl = Member(patch, list_key);
    if (ol != nullptr && !ol->IsArray()) return ServerError(std::string("expected a slice, but received a ") + GoJsonKind(*ol));
    if (pl != nullptr && !pl->IsArray()) return ServerError(std::string("expected a slice, but received a ") + GoJsonKind(*pl));
    if (ol == nullptr && pl == nullptr) return base::Status::Ok();

    const std::string child = Join(path, list_key);
    auto it = keys_.find(child);
    const std::string merge_key = it == keys_.end() ? "" : it->second;
    bool maps = false, any = false;
    Json empty(rapidjson::kArrayType);
    base::Status s = ElementType(ol != nullptr ? *ol : empty, pl, &maps, &any);
    if (!s.ok()) return s;
    if (maps && merge_key.empty()) return ServerError("cannot merge lists without merge key for " + child);
    if (pl != nullptr) {
      s = CheckOrder(*pl, order, merge_key, maps);
      if (!s.ok()) return s;
    }
    std::vector<std::string> server_order;
    if (ol != nullptr) {
      for (const auto& e : ol->GetArray()) server_order.push_back(ItemKey(e, merge_key, maps));
    }
    Json merged(rapidjson::kArrayType);
    if (ol != nullptr) merged = *ol;  // moves; orig[list_key] is replaced below
    if (pl != nullptr) {
      s = ol != nullptr ? MergeSliceHandler(merged, *pl, child, false) : Prepare(*pl, child, &merged);
      if (!s.ok()) return s;
    }
    if (any) {
      std::vector<std::string> order_keys;
      for (const auto& e : order.GetArray()) {
        if (maps && Member(e, merge_key) == nullptr) return NoMergeKey(e, merge_key);
        order_keys.push_back(ItemKey(e, merge_key, maps));
      }
      s = Order(merged, merge_key, maps, order_keys, server_order);
      if (!s.ok()) return s;
    }
    SetMember(orig, list_key, merged, a_);
    return base::Status::Ok();
  }

  const MergeKeys& keys_;
  Alloc& a_;
};

}  // namespace

base::Status ApplyMergePatch(JsonDoc& target, const Json& patch) {
  if (patch.IsObject()) {
    if (!target.IsObject()) target.SetObject();
    MergeObjects(target, patch, target.GetAllocator());
    return base::Status::Ok();
  }
  if (patch.IsArray()) {
    Json v(patch, target.GetAllocator());
    PruneNulls(v);
    static_cast<Json&>(target) = v;
    return base::Status::Ok();
  }
  return BadRequest("Invalid JSON Patch");
}

base::Status ApplyJsonPatch(JsonDoc& target, const Json& ops, std::string* why) {
  if (ops.IsNull()) return base::Status::Ok();  // Go decodes null as an empty patch
  if (!ops.IsArray()) {
    return BadRequest(std::string("json: cannot unmarshal ") + GoJsonKind(ops) +
                      " into Go value of type jsonpatch.Patch");
  }
  for (const auto& op : ops.GetArray()) {
    if (!op.IsObject() && !op.IsNull()) {
      return BadRequest(std::string("json: cannot unmarshal ") + GoJsonKind(op) +
                        " into Go value of type jsonpatch.Operation");
    }
  }
  if (ops.Size() > kMaxJsonPatchOperations) {
    return base::InvalidArgument("Request entity too large: The allowed maximum operations in a JSON patch is " +
                                 std::to_string(kMaxJsonPatchOperations) + ", got " + std::to_string(ops.Size()))
        .WithHttp(413, "RequestEntityTooLarge");
  }
  JsonDoc scratch;
  scratch.CopyFrom(target, scratch.GetAllocator());
  JsonPatcher patcher(scratch);
  for (const auto& op : ops.GetArray()) {
    std::string err = op.IsObject() ? patcher.Apply(op) : "Unexpected kind: unknown";
    if (!err.empty()) {
      if (why != nullptr) *why = err;
      return Rejected422();
    }
  }
  // Copied back rather than swapped so that target keeps its allocator.
  target.CopyFrom(scratch, target.GetAllocator());
  return base::Status::Ok();
}

base::Status ApplyStrategicMergePatch(JsonDoc& target, const Json& patch, const MergeKeys& keys) {
  if (patch.IsNull()) return base::Status::Ok();  // Go unmarshals null into an empty map
  if (!patch.IsObject()) {
    return BadRequest(std::string("json: cannot unmarshal ") + GoJsonKind(patch) +
                      " into Go value of type map[string]interface {}");
  }
  JsonDoc scratch;
  scratch.CopyFrom(target, scratch.GetAllocator());
  if (!scratch.IsObject()) scratch.SetObject();
  SmpMerger merger(keys, scratch.GetAllocator());
  base::Status s = merger.MergeMap(scratch, patch, "");
  if (!s.ok()) return s;
  target.CopyFrom(scratch, target.GetAllocator());
  return base::Status::Ok();
}

const MergeKeys& BuiltinMergeKeys() {
  static const MergeKeys kKeys = {
      {"metadata.ownerReferences", "uid"},  // ObjectMeta
      {"metadata.finalizers", ""},          // ObjectMeta
      {"status.conditions", "type"},        // Node, Namespace, PersistentVolumeClaim
      {"status.addresses", "type"},         // Node
      {"spec.podCIDRs", ""},                // Node
      {"secrets", "name"},                  // ServiceAccount
      {"webhooks", "name"},                 // ValidatingWebhookConfiguration
  };
  return kKeys;
}

}  // namespace devcluster
