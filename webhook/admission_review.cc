#include "webhook/admission_review.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <cstring>
#include <utility>


namespace webhook {
namespace {

using Value = rapidjson::Value;

const char* TypeName(const Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType: return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType: return "a boolean";
    case rapidjson::kObjectType: return "an object";
    case rapidjson::kArrayType: return "an array";
    case rapidjson::kStringType: return "a string";
    case rapidjson::kNumberType: return "a number";
  }
  return "unknown";
}

// A review's document with the first 16 KiB of its nodes in the same
// allocation: a review is 1-5 KiB of JSON, and RapidJSON's default is a
// separate 64 KiB chunk per document. (The parser's and the document's
// stacks still allocate.)
struct ReviewDocument {
  ReviewDocument() {}  // user-provided: make_shared must not zero the buffer
  alignas(16) char first_chunk[16 * 1024];
  rapidjson::MemoryPoolAllocator<> pool{first_chunk, sizeof first_chunk};
  rapidjson::Document doc{&pool};
};

// RapidJSON SAX events forwarded into a Document, refusing nesting deeper
// than `max_depth` as soon as it is reached.
struct DepthLimitedHandler {
  int max_depth;
  rapidjson::Document* doc = nullptr;
  int depth = 0;
  bool too_deep = false;
  bool bad_escape = false;

  bool Enter() {
    if (++depth <= max_depth) return true;
    too_deep = true;
    return false;
  }
  bool Null() { return doc->Null(); }
  bool Bool(bool b) { return doc->Bool(b); }
  bool Int(int i) { return doc->Int(i); }
  bool Uint(unsigned u) { return doc->Uint(u); }
  bool Int64(int64_t i) { return doc->Int64(i); }
  bool Uint64(uint64_t u) { return doc->Uint64(u); }
  bool Double(double d) { return doc->Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) { return doc->RawNumber(s, n, copy); }
  // RapidJSON turns a lone surrogate escape ("\udc00") into bytes that are
  // not UTF-8; the raw-text check cannot see it, so strings are checked too.
  bool Utf8(const char* s, rapidjson::SizeType n) {
    if (FirstInvalidUtf8(std::string_view(s, n)) == n) return true;
    bad_escape = true;
    return false;
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) {
    return Utf8(s, n) && doc->String(s, n, copy);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) {
    return Utf8(s, n) && doc->Key(s, n, copy);
  }
  bool StartObject() { return Enter() && doc->StartObject(); }
  bool EndObject(rapidjson::SizeType members) {
    --depth;
    return doc->EndObject(members);
  }
  bool StartArray() { return Enter() && doc->StartArray(); }
  bool EndArray(rapidjson::SizeType elements) {
    --depth;
    return doc->EndArray(elements);
  }
};

// Collects every problem so that one response names them all.
class Problems {
 public:
  void Add(const std::string& path, const std::string& what) { list_.push_back(path + ": " + what); }
  void WrongType(const std::string& path, const char* want, const Value& got) {
    Add(path, std::string("want ") + want + ", got " + TypeName(got));
  }
  bool empty() const { return list_.empty(); }
  std::string Join() const {
    std::string out;
    for (const std::string& p : list_) {
      if (!out.empty()) out += "; ";
      out += p;
    }
    return out;
  }

 private:
  std::vector<std::string> list_;
};

const Value* Member(const Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

std::string Str(const Value& v) { return std::string(v.GetString(), v.GetStringLength()); }

// "path.name", built only when a problem is reported.
std::string FieldPath(const std::string& path, const char* name) {
  return path.empty() ? std::string(name) : path + "." + name;
}

// Reads an optional string member into *out. Absent and null leave *out
// unchanged; any other non-string is a problem. `required` makes an absent,
// null or empty value a problem.
void ReadString(const Value& obj, const char* name, const std::string& path, bool required,
                std::string* out, Problems& p) {
  const Value* v = Member(obj, name);
  if (v == nullptr || v->IsNull()) {
    if (required) p.Add(FieldPath(path, name), "required");
    return;
  }
  if (!v->IsString()) {
    p.WrongType(FieldPath(path, name), "a string", *v);
    return;
  }
  out->assign(v->GetString(), v->GetStringLength());
  if (required && out->empty()) p.Add(FieldPath(path, name), "must not be empty");
}

void ReadStringList(const Value& v, const std::string& path, std::vector<std::string>* out,
                    Problems& p) {
  if (v.IsNull()) return;
  if (!v.IsArray()) {
    p.WrongType(path, "an array of strings", v);
    return;
  }
  for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
    if (v[i].IsString()) {
      out->push_back(Str(v[i]));
    } else {
      p.WrongType(path + "[" + std::to_string(i) + "]", "a string", v[i]);
    }
  }
}

// Returns the member when it is an object; null when absent or JSON null
// (then `required` makes it a problem); a problem for any other type.
const Value* ObjectMember(const Value& obj, const char* name, const std::string& path,
                          bool required, Problems& p) {
  const Value* v = Member(obj, name);
  if (v == nullptr || v->IsNull()) {
    if (required) p.Add(FieldPath(path, name), "required");
    return nullptr;
  }
  if (!v->IsObject()) {
    p.WrongType(FieldPath(path, name), "an object", *v);
    return nullptr;
  }
  return v;
}

// Reads request.<name> = {group, version, <last>} (a GroupVersionKind when
// `last` is "kind", a GroupVersionResource when it is "resource"). The group
// may be empty (the core group); `required` applies to the rest.
void ReadGroupVersion(const Value& req, const char* name, const char* last, bool required,
                      std::string* group, std::string* version, std::string* last_out,
                      Problems& p) {
  static const std::string kRequest = "request";
  const Value* v = ObjectMember(req, name, kRequest, required, p);
  if (v == nullptr) return;
  const std::string path = FieldPath(kRequest, name);
  ReadString(*v, "group", path, false, group, p);
  ReadString(*v, "version", path, required, version, p);
  ReadString(*v, last, path, required, last_out, p);
}

void ReadGvk(const Value& req, const char* name, bool required, GroupVersionKind* out,
             Problems& p) {
  ReadGroupVersion(req, name, "kind", required, &out->group, &out->version, &out->kind, p);
}

void ReadGvr(const Value& req, const char* name, bool required, GroupVersionResource* out,
             Problems& p) {
  ReadGroupVersion(req, name, "resource", required, &out->group, &out->version, &out->resource,
                   p);
}

void ReadUserInfo(const Value& req, UserInfo* out, Problems& p) {
  const Value* u = ObjectMember(req, "userInfo", "request", false, p);
  if (u == nullptr) return;
  ReadString(*u, "username", "request.userInfo", false, &out->username, p);
  ReadString(*u, "uid", "request.userInfo", false, &out->uid, p);
  if (const Value* g = Member(*u, "groups")) {
    ReadStringList(*g, "request.userInfo.groups", &out->groups, p);
  }
  const Value* extra = ObjectMember(*u, "extra", "request.userInfo", false, p);
  if (extra == nullptr) return;
  for (auto it = extra->MemberBegin(); it != extra->MemberEnd(); ++it) {
    std::string key = Str(it->name);
    ReadStringList(it->value, "request.userInfo.extra." + key, &out->extra[key], p);
  }
}

std::optional<Operation> ParseOperation(std::string_view s) {
  if (s == "CREATE") return Operation::kCreate;
  if (s == "UPDATE") return Operation::kUpdate;
  if (s == "DELETE") return Operation::kDelete;
  if (s == "CONNECT") return Operation::kConnect;
  return std::nullopt;
}

base::Status BadRequest(std::string message) {
  base::Status s = base::InvalidArgument("invalid AdmissionReview: " + std::move(message));
  s.WithHttp(400, "BadRequest");
  return s;
}

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Key(Writer& w, const char* k) { w.Key(k); }
void String(Writer& w, const std::string& s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

}  // namespace

// ASCII runs are checked eight bytes at a time.
size_t FirstInvalidUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, p + i, 8);
      if ((word & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;  // the allowed range of the second byte
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0) lo = 0xa0;  // overlong
      if (c == 0xed) hi = 0x9f;  // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0) lo = 0x90;  // overlong
      if (c == 0xf4) hi = 0x8f;  // above U+10FFFF
    } else {
      return i;
    }
    if (n - i < len || p[i + 1] < lo || p[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xbf) return i;
    }
    i += len;
  }
  return n;
}

const char* OperationName(Operation op) {
  switch (op) {
    case Operation::kCreate: return "CREATE";
    case Operation::kUpdate: return "UPDATE";
    case Operation::kDelete: return "DELETE";
    case Operation::kConnect: return "CONNECT";
  }
  return "UNKNOWN";
}

base::StatusOr<AdmissionRequest> DecodeAdmissionReview(std::string_view body) {
  if (body.empty()) return BadRequest("empty body");
  // Valid UTF-8 (here in the raw text, and in every decoded string below)
  // keeps invalid byte sequences out of echoed strings. Checked here rather
  // than by RapidJSON's per-character validation (several times slower on
  // the mostly-ASCII reviews).
  if (size_t bad = FirstInvalidUtf8(body); bad != body.size()) {
    return BadRequest("not JSON: invalid UTF-8 at offset " + std::to_string(bad));
  }
  // A NUL byte is never valid JSON, and RapidJSON's streams would take it for
  // the end of the text (accepting whatever follows).
  if (size_t nul = body.find('\0'); nul != std::string_view::npos) {
    return BadRequest("not JSON: NUL byte at offset " + std::to_string(nul));
  }
  auto holder = std::make_shared<ReviewDocument>();
  std::shared_ptr<rapidjson::Document> doc(holder, &holder->doc);
  // One pass parses and bounds the nesting (which bounds the recursion of
  // everything that later walks the document: copies, writers, the api/
  // parsers); iterative parsing keeps the parser itself off the stack.
  DepthLimitedHandler handler{kMaxJsonDepth};
  rapidjson::ParseResult parsed;
  auto generate = [&](rapidjson::Document& d) {
    handler.doc = &d;
    rapidjson::MemoryStream stream(body.data(), body.size());
    rapidjson::Reader reader;
    parsed = reader.Parse<rapidjson::kParseIterativeFlag>(stream, handler);
    return !parsed.IsError();
  };
  doc->Populate(generate);
  if (handler.too_deep) {
    return BadRequest("JSON nests more than " + std::to_string(kMaxJsonDepth) + " levels deep");
  }
  if (handler.bad_escape) {
    return BadRequest("not JSON: a string escapes to invalid UTF-8 (a lone surrogate) before offset " +
                      std::to_string(parsed.Offset()));
  }
  if (parsed.IsError()) {
    return BadRequest(std::string("not JSON: ") + rapidjson::GetParseError_En(parsed.Code()) +
                      " at offset " + std::to_string(parsed.Offset()));
  }
  if (!doc->IsObject()) {
    return BadRequest(std::string("want a JSON object, got ") + TypeName(*doc));
  }
  Problems p;
  std::string api_version, kind;
  ReadString(*doc, "apiVersion", "", true, &api_version, p);
  ReadString(*doc, "kind", "", true, &kind, p);
  if (!api_version.empty() && api_version != kAdmissionApiVersion) {
    p.Add("apiVersion", "want \"" + std::string(kAdmissionApiVersion) + "\", got \"" +
                             api_version + "\"");
  }
  if (!kind.empty() && kind != kAdmissionReviewKind) {
    p.Add("kind", "want \"" + std::string(kAdmissionReviewKind) + "\", got \"" + kind + "\"");
  }
  AdmissionRequest out;
  const Value* req = ObjectMember(*doc, "request", "", true, p);
  if (req == nullptr) return BadRequest(p.Join());

  ReadString(*req, "uid", "request", true, &out.uid, p);
  ReadGvk(*req, "kind", true, &out.kind, p);
  ReadGvr(*req, "resource", true, &out.resource, p);
  GroupVersionKind request_kind;
  ReadGvk(*req, "requestKind", false, &request_kind, p);
  GroupVersionResource request_resource;
  ReadGvr(*req, "requestResource", false, &request_resource, p);
  ReadString(*req, "subResource", "request", false, &out.sub_resource, p);
  std::string request_sub_resource;
  ReadString(*req, "requestSubResource", "request", false, &request_sub_resource, p);
  ReadString(*req, "namespace", "request", false, &out.namespace_, p);
  ReadString(*req, "name", "request", false, &out.name, p);

  std::string op;
  ReadString(*req, "operation", "request", true, &op, p);
  if (!op.empty()) {
    if (auto parsed = ParseOperation(op)) {
      out.operation = *parsed;
    } else {
      p.Add("request.operation", "want one of CREATE, UPDATE, DELETE, CONNECT, got \"" + op + "\"");
    }
  }
  ReadUserInfo(*req, &out.user_info, p);
  out.object = ObjectMember(*req, "object", "request", false, p);
  out.old_object = ObjectMember(*req, "oldObject", "request", false, p);
  ObjectMember(*req, "options", "request", false, p);
  if (const Value* dry = Member(*req, "dryRun"); dry != nullptr && !dry->IsNull()) {
    if (dry->IsBool()) {
      out.dry_run = dry->GetBool();
    } else {
      p.WrongType("request.dryRun", "a boolean", *dry);
    }
  }
  if (!p.empty()) return BadRequest(p.Join());
  out.doc = std::move(doc);
  return out;
}

std::string EncodeAdmissionReview(const AdmissionResponse& r) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Key(w, "apiVersion");
  w.String(kAdmissionApiVersion);
  Key(w, "kind");
  w.String(kAdmissionReviewKind);
  Key(w, "response");
  w.StartObject();
  Key(w, "uid");
  String(w, r.uid);
  Key(w, "allowed");
  w.Bool(r.allowed);
  if (!r.allowed) {
    Key(w, "status");
    w.StartObject();
    Key(w, "metadata");
    w.StartObject();
    w.EndObject();
    Key(w, "status");
    w.String("Failure");
    if (!r.message.empty()) {
      Key(w, "message");
      String(w, r.message);
    }
    if (!r.reason.empty()) {
      Key(w, "reason");
      String(w, r.reason);
    }
    if (!r.causes.empty() || r.retry_after_seconds) {
      Key(w, "details");
      w.StartObject();
      if (!r.causes.empty()) {
        Key(w, "causes");
        w.StartArray();
        for (const StatusCause& c : r.causes) {
          w.StartObject();
          if (!c.reason.empty()) {
            Key(w, "reason");
            String(w, c.reason);
          }
          if (!c.message.empty()) {
            Key(w, "message");
            String(w, c.message);
          }
          if (!c.field.empty()) {
            Key(w, "field");
            String(w, c.field);
          }
          w.EndObject();
        }
        w.EndArray();
      }
      if (r.retry_after_seconds) {
        Key(w, "retryAfterSeconds");
        w.Int(*r.retry_after_seconds);
      }
      w.EndObject();
    }
    if (r.code != 0) {
      Key(w, "code");
      w.Int(r.code);
    }
    w.EndObject();
  }
  if (!r.warnings.empty()) {
    Key(w, "warnings");
    w.StartArray();
    for (const std::string& warning : r.warnings) String(w, warning);
    w.EndArray();
  }
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace webhook
