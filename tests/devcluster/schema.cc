// GCC 12 warns about libstdc++'s own <regex> internals when optimizing with
// sanitizers (-Wmaybe-uninitialized, GCC bug 105562, a false positive). The
// pragma must precede every include to reach those template instantiations.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "tests/devcluster/schema.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <set>

#include "tests/devcluster/selector.h"

namespace devcluster {
namespace {

using rapidjson::SizeType;

std::string StrOf(const Json& v) { return std::string(v.GetString(), v.GetStringLength()); }

std::string StringField(const Json& schema, std::string_view key) {
  const Json* v = Member(schema, key);
  return v != nullptr && v->IsString() ? StrOf(*v) : "";
}

bool BoolField(const Json& schema, std::string_view key) {
  const Json* v = Member(schema, key);
  return v != nullptr && v->IsBool() && v->GetBool();
}

const Json* NumberField(const Json& schema, std::string_view key) {
  const Json* v = Member(schema, key);
  return v != nullptr && v->IsNumber() ? v : nullptr;
}

bool IsIntegral(const Json& v) {
  if (v.IsInt64() || v.IsUint64()) return true;
  if (!v.IsDouble()) return false;
  double d = v.GetDouble();
  return std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.2e18;
}

// Go's %v of a float64: shortest round-trip digits, %e form when the
// exponent is < -4 or >= 6 (strconv uses precision 6 for that decision when
// printing the shortest form, hence 1e+06 but 123456).
std::string GoFloat(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  char buf[40];
  int prec = 1;
  for (; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof(buf), "%.*e", prec - 1, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  std::string e(buf);
  size_t epos = e.find('e');
  int exp = std::atoi(e.c_str() + epos + 1);
  std::string mant = e.substr(0, epos);
  bool neg = !mant.empty() && mant[0] == '-';
  if (neg) mant.erase(0, 1);
  std::string digits;
  for (char c : mant) {
    if (c != '.') digits.push_back(c);
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out;
  if (exp < -4 || exp >= 6) {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof(eb), "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    out += eb;
  } else if (exp < 0) {
    out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
  } else if (static_cast<size_t>(exp) + 1 >= digits.size()) {
    out = digits + std::string(static_cast<size_t>(exp) + 1 - digits.size(), '0');
  } else {
    out = digits.substr(0, static_cast<size_t>(exp) + 1) + "." + digits.substr(static_cast<size_t>(exp) + 1);
  }
  return neg ? "-" + out : out;
}

// kube-apiserver decodes a JSON number as int64 when its text is an integer
// that fits, else as float64 (so 2.0 prints as 2 and 1e6 as 1e+06).
std::string GoNumber(const Json& v) {
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  return GoFloat(v.GetDouble());
}

double AsDouble(const Json& v) { return v.GetDouble(); }  // RapidJSON converts ints too

// The JSON-schema type name of a value, as kube-openapi reports it.
std::string DataType(const Json& v) {
  switch (v.GetType()) {
    case rapidjson::kObjectType: return "object";
    case rapidjson::kArrayType: return "array";
    case rapidjson::kStringType: return "string";
    case rapidjson::kNumberType: return IsIntegral(v) && !v.IsDouble() ? "integer" : "number";
    case rapidjson::kNullType: return "null";
    default: return "boolean";
  }
}

bool TypeMatches(const std::string& type, const Json& v) {
  if (type == "object") return v.IsObject();
  if (type == "array") return v.IsArray();
  if (type == "string") return v.IsString();
  if (type == "integer") return v.IsNumber() && IsIntegral(v);
  if (type == "number") return v.IsNumber();
  if (type == "boolean") return v.IsBool();
  return true;  // unknown type names are rejected when the CRD is validated
}

size_t RuneCount(const Json& s) {
  size_t n = 0;
  const char* p = s.GetString();
  for (SizeType i = 0; i < s.GetStringLength(); ++i) {
    if ((static_cast<unsigned char>(p[i]) & 0xC0) != 0x80) ++n;
  }
  return n;
}

// ObjectMeta's JSON fields: everything else under metadata is unknown.
const std::set<std::string, std::less<>>& ObjectMetaFields() {
  static const std::set<std::string, std::less<>> kFields = {
      "name",     "generateName",      "namespace",         "selfLink",
      "uid",      "resourceVersion",   "generation",        "creationTimestamp",
      "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
      "ownerReferences",   "finalizers",        "managedFields"};
  return kFields;
}

// kube-openapi strfmt's IsDate: time.Parse("2006-01-02", s) succeeds.
bool IsDateFormat(std::string_view s) {
  auto digits = [&](size_t at, size_t n) {
    for (size_t i = at; i < at + n; ++i) {
      if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
    }
    return true;
  };
  if (s.size() != 10 || !digits(0, 4) || s[4] != '-' || !digits(5, 2) || s[7] != '-' ||
      !digits(8, 2))
    return false;
  const int year = std::atoi(std::string(s.substr(0, 4)).c_str());
  const int month = (s[5] - '0') * 10 + (s[6] - '0');
  const int day = (s[8] - '0') * 10 + (s[9] - '0');
  if (month < 1 || month > 12 || day < 1) return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
  return day <= (month == 2 && leap ? 29 : kDays[month - 1]);
}

// kube-openapi strfmt's IsDateTime: lower-cased and split at "t", a date, then
// DateTimePattern (whose `.` matches any character) with hour <= 23, minute
// and second <= 59 compared as text.
bool IsDateTimeFormat(std::string_view str) {
  if (str.size() < 4) return false;
  std::string lower(str);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t t = lower.find('t'); t != std::string::npos; t = lower.find('t', start)) {
    parts.push_back(lower.substr(start, t - start));
    start = t + 1;
  }
  parts.push_back(lower.substr(start));
  if (parts.size() < 2 || !IsDateFormat(parts[0])) return false;
  static const std::regex kTime(
      "^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$");
  std::smatch m;
  if (!std::regex_search(parts[1], m, kTime)) return false;
  return m[1].str() <= "23" && m[2].str() <= "59" && m[3].str() <= "59";
}

std::string Child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

class Walker {
 public:
  Walker(Alloc& a, bool prune, SchemaResult* result) : a_(a), prune_(prune), result_(result) {}

  void Walk(Json& v, const Json& s, const std::string& path, bool root) {
    const std::string type = StringField(s, "type");
    if (v.IsNull()) {
      // A null that survived defaulting: fine when nullable or untyped.
      if (!type.empty() && !BoolField(s, "nullable")) {
        result_->errors.push_back(TypeInvalid(path, "\"null\"", path + " in body must be of type " + type + ": \"null\""));
      }
      return;
    }
    if (BoolField(s, "x-kubernetes-int-or-string")) {
      if (!(v.IsString() || (v.IsNumber() && IsIntegral(v)))) {
        std::string got = DataType(v);
        result_->errors.push_back(TypeInvalid(path, GoQuote(got),
                                              path + " in body must be of type integer,string: " + GoQuote(got)));
        return;
      }
    } else if (!type.empty() && !TypeMatches(type, v)) {
      std::string got = DataType(v);
      result_->errors.push_back(
          TypeInvalid(path, GoQuote(got), path + " in body must be of type " + type + ": " + GoQuote(got)));
      return;
    }

    if (v.IsObject()) WalkObject(v, s, path, root);
    if (v.IsArray()) WalkArray(v, s, path);
    if (v.IsString()) CheckString(v, s, path);
    if (v.IsNumber()) CheckNumber(v, s, path);
    CheckEnum(v, s, path);
  }

 private:
  void Unknown(const std::string& path) { result_->unknown_fields.push_back(path); }

  void PruneMetadata(Json& meta, const std::string& path) {
    if (!meta.IsObject()) return;
    for (auto it = meta.MemberBegin(); it != meta.MemberEnd();) {
      if (ObjectMetaFields().count(std::string_view(it->name.GetString(), it->name.GetStringLength())) != 0) {
        ++it;
        continue;
      }
      Unknown(Child(path, StrOf(it->name)));
      it = prune_ ? meta.EraseMember(it) : it + 1;
    }
  }

  void WalkObject(Json& v, const Json& s, const std::string& path, bool root) {
    const Json* props = Member(s, "properties");
    if (props != nullptr && !props->IsObject()) props = nullptr;
    const Json* additional = Member(s, "additionalProperties");
    const bool preserve = BoolField(s, "x-kubernetes-preserve-unknown-fields") ||
                          (additional != nullptr && additional->IsBool() && additional->GetBool());
    const bool embedded = BoolField(s, "x-kubernetes-embedded-resource");

    // Defaulting: kube-apiserver drops non-nullable nulls without a default
    // and fills defaults before it validates.
    if (props != nullptr) {
      for (auto p = props->MemberBegin(); p != props->MemberEnd(); ++p) {
        std::string_view key(p->name.GetString(), p->name.GetStringLength());
        const Json* def = Member(p->value, "default");
        Json* cur = Member(v, key);
        if (cur != nullptr && cur->IsNull() && !BoolField(p->value, "nullable")) {
          if (def != nullptr) {
            *cur = Json(*def, a_);
          } else {
            v.EraseMember(v.FindMember(rapidjson::StringRef(key.data(), key.size())));
          }
        } else if (cur == nullptr && def != nullptr) {
          v.AddMember(Json(key.data(), static_cast<SizeType>(key.size()), a_), Json(*def, a_), a_);
        }
      }
    }

    for (auto it = v.MemberBegin(); it != v.MemberEnd();) {
      std::string key = StrOf(it->name);
      const std::string child = Child(path, key);
      const Json* ps = props != nullptr ? Member(*props, key) : nullptr;
      if ((root || embedded) && (key == "apiVersion" || key == "kind")) {
        ++it;
        continue;
      }
      if ((root || embedded) && key == "metadata") {
        PruneMetadata(it->value, child);
        ++it;
        continue;
      }
      if (ps != nullptr) {
        Walk(it->value, *ps, child, false);
      } else if (additional != nullptr && additional->IsObject()) {
        Walk(it->value, *additional, child, false);
      } else if (!preserve) {
        Unknown(child);
        if (prune_) {
          it = v.EraseMember(it);
          continue;
        }
      }
      ++it;
    }

    if (const Json* req = Member(s, "required"); req != nullptr && req->IsArray()) {
      for (const auto& r : req->GetArray()) {
        if (r.IsString() && Member(v, std::string_view(r.GetString(), r.GetStringLength())) == nullptr) {
          result_->errors.push_back(RequiredValue(Child(path, StrOf(r)), ""));
        }
      }
    }
  }

  void WalkArray(Json& v, const Json& s, const std::string& path) {
    const Json* items = Member(s, "items");
    if (items != nullptr && items->IsObject()) {
      for (SizeType i = 0; i < v.Size(); ++i) Walk(v[i], *items, path + "[" + std::to_string(i) + "]", false);
    }
    const long long n = v.Size();
    if (const Json* mn = NumberField(s, "minItems"); mn != nullptr && n < static_cast<long long>(AsDouble(*mn))) {
      result_->errors.push_back(InvalidValue(
          path, std::to_string(n), path + " in body should have at least " + std::to_string(static_cast<long long>(AsDouble(*mn))) + " items"));
    }
    if (const Json* mx = NumberField(s, "maxItems"); mx != nullptr && n > static_cast<long long>(AsDouble(*mx))) {
      result_->errors.push_back(TooMany(path, n, static_cast<long long>(AsDouble(*mx))));
    }
  }

  void CheckString(const Json& v, const Json& s, const std::string& path) {
    const size_t runes = RuneCount(v);
    if (const Json* mx = NumberField(s, "maxLength"); mx != nullptr && runes > static_cast<size_t>(AsDouble(*mx))) {
      result_->errors.push_back(TooLong(path, static_cast<long long>(AsDouble(*mx))));
    }
    if (const Json* mn = NumberField(s, "minLength"); mn != nullptr && runes < static_cast<size_t>(AsDouble(*mn))) {
      result_->errors.push_back(
          InvalidValue(path, GoValue(v), path + " in body should be at least " + std::to_string(static_cast<long long>(AsDouble(*mn))) +
                                 " chars long"));
    }
    const std::string pattern = StringField(s, "pattern");
    if (!pattern.empty()) {
      bool matched = false;
      try {
        matched = std::regex_search(StrOf(v), std::regex(pattern, std::regex::ECMAScript));
      } catch (const std::regex_error&) {
        matched = false;  // an unusable pattern rejects, as a failed compile does in Go
      }
      if (!matched) {
        result_->errors.push_back(InvalidValue(path, GoValue(v), path + " in body should match '" + pattern + "'"));
      }
    }
    // Formats of kube-openapi's strfmt registry that timestamps use; other
    // format names are not checked.
    const std::string format = StringField(s, "format");
    if ((format == "date-time" && !IsDateTimeFormat(StrOf(v))) ||
        (format == "date" && !IsDateFormat(StrOf(v)))) {
      result_->errors.push_back(TypeInvalid(
          path, GoValue(v), path + " in body must be of type " + format + ": " + GoValue(v)));
    }
  }

  void CheckNumber(const Json& v, const Json& s, const std::string& path) {
    const double d = AsDouble(v);
    // Bounds print as integers for integer data, as kube-openapi converts them.
    auto bound = [&](const Json& b) {
      return IsIntegral(v) && IsIntegral(b) ? std::to_string(static_cast<long long>(AsDouble(b))) : GoFloat(AsDouble(b));
    };
    if (const Json* mn = NumberField(s, "minimum")) {
      const bool excl = BoolField(s, "exclusiveMinimum");
      if (excl ? d <= AsDouble(*mn) : d < AsDouble(*mn)) {
        result_->errors.push_back(InvalidValue(path, GoValue(v),
                                               path + " in body should be greater than " +
                                                   (excl ? "" : "or equal to ") + bound(*mn)));
      }
    }
    if (const Json* mx = NumberField(s, "maximum")) {
      const bool excl = BoolField(s, "exclusiveMaximum");
      if (excl ? d >= AsDouble(*mx) : d > AsDouble(*mx)) {
        result_->errors.push_back(InvalidValue(path, GoValue(v),
                                               path + " in body should be less than " +
                                                   (excl ? "" : "or equal to ") + bound(*mx)));
      }
    }
  }

  void CheckEnum(const Json& v, const Json& s, const std::string& path) {
    const Json* e = Member(s, "enum");
    if (e == nullptr || !e->IsArray()) return;
    std::vector<std::string> allowed;
    for (const auto& opt : e->GetArray()) {
      if (opt == v) return;
      allowed.push_back(opt.IsString() ? StrOf(opt) : ToJson(opt));
    }
    result_->errors.push_back(NotSupported(path, GoValue(v), allowed));
  }

  Alloc& a_;
  bool prune_;
  SchemaResult* result_;
};

void CheckSchemaNode(const Json& s, const std::string& path, int level, std::vector<FieldError>* errs) {
  enum { kRoot = 0, kItem = 1, kField = 2 };
  if (!s.IsObject()) {
    errs->push_back(InvalidValue(path, GoValue(s), "must be an object"));
    return;
  }
  const std::string type = StringField(s, "type");
  const bool int_or_string = BoolField(s, "x-kubernetes-int-or-string");
  const bool embedded = BoolField(s, "x-kubernetes-embedded-resource");
  const Json* preserve = Member(s, "x-kubernetes-preserve-unknown-fields");
  const bool preserves = preserve != nullptr && preserve->IsBool() && preserve->GetBool();

  if (preserve != nullptr && !preserves) {
    errs->push_back(InvalidValue(path + ".x-kubernetes-preserve-unknown-fields", GoValue(*preserve),
                                 "must be true or undefined"));
  }
  if (embedded && type != "object") {
    if (type.empty()) {
      errs->push_back(RequiredValue(path + ".type", "must be object if x-kubernetes-embedded-resource is true"));
    } else {
      errs->push_back(InvalidValue(path + ".type", GoQuote(type), "must be object if x-kubernetes-embedded-resource is true"));
    }
  } else if (type.empty() && !int_or_string && !preserves) {
    const char* where = level == kRoot   ? "must not be empty at the root"
                        : level == kItem ? "must not be empty for specified array items"
                                         : "must not be empty for specified object fields";
    errs->push_back(RequiredValue(path + ".type", where));
  }
  if (int_or_string && !type.empty()) {
    errs->push_back(InvalidValue(path + ".type", GoQuote(type), "must be empty if x-kubernetes-int-or-string is true"));
  }
  static const std::vector<std::string> kTypes = {"array", "boolean", "integer", "number", "object", "string"};
  if (!type.empty() && std::find(kTypes.begin(), kTypes.end(), type) == kTypes.end()) {
    errs->push_back(NotSupported(path + ".type", GoQuote(type), kTypes));
  } else if (level == kRoot && !type.empty() && type != "object") {
    errs->push_back(InvalidValue(path + ".type", GoQuote(type), "must be object at the root"));
  }

  const Json* props = Member(s, "properties");
  const Json* additional = Member(s, "additionalProperties");
  const Json* items = Member(s, "items");
  if (props != nullptr && props->IsObject() && props->MemberCount() > 0 && !type.empty() && type != "object") {
    errs->push_back(Forbidden(path + ".properties", "must be empty if type is not object"));
  }
  if (type == "array" && items == nullptr) errs->push_back(RequiredValue(path + ".items", "must be specified"));
  if (additional != nullptr && additional->IsBool() && !additional->GetBool()) {
    errs->push_back(Forbidden(path + ".additionalProperties", "must not be false"));
  }
  if (additional != nullptr && props != nullptr && props->IsObject() && props->MemberCount() > 0) {
    errs->push_back(Forbidden(path + ".additionalProperties", "additionalProperties and properties are mutual exclusive"));
  }

  if (props != nullptr && props->IsObject()) {
    for (auto p = props->MemberBegin(); p != props->MemberEnd(); ++p) {
      const std::string name = StrOf(p->name);
      const std::string child = path + ".properties[" + name + "]";
      if (level == kRoot && name == "metadata" && p->value.IsObject()) {
        const Json* mp = Member(p->value, "properties");
        bool other = false;
        if (mp != nullptr && mp->IsObject()) {
          for (auto m = mp->MemberBegin(); m != mp->MemberEnd(); ++m) {
            std::string_view k(m->name.GetString(), m->name.GetStringLength());
            other = other || (k != "name" && k != "generateName");
          }
        }
        if (other) {
          errs->push_back(Forbidden(
              child, "must not specify anything other than name and generateName, but metadata is implicitly specified"));
        }
      }
      CheckSchemaNode(p->value, child, kField, errs);
    }
  }
  if (items != nullptr) CheckSchemaNode(*items, path + ".items", kItem, errs);
  if (additional != nullptr && additional->IsObject()) {
    CheckSchemaNode(*additional, path + ".additionalProperties", kField, errs);
  }
}

void WriteString(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view s) {
  w.String(s.data(), static_cast<SizeType>(s.size()));
}

}  // namespace

// --- FieldError builders ----------------------------------------------------

FieldError InvalidValue(std::string field, std::string go_value, std::string_view detail) {
  std::string msg = "Invalid value: " + go_value;
  if (!detail.empty()) msg += ": " + std::string(detail);
  return {std::move(field), "FieldValueInvalid", std::move(msg)};
}

FieldError TypeInvalid(std::string field, std::string go_value, std::string_view detail) {
  FieldError e = InvalidValue(std::move(field), std::move(go_value), detail);
  e.type = "FieldValueTypeInvalid";
  return e;
}

FieldError RequiredValue(std::string field, std::string_view detail) {
  std::string msg = "Required value";
  if (!detail.empty()) msg += ": " + std::string(detail);
  return {std::move(field), "FieldValueRequired", std::move(msg)};
}

FieldError NotSupported(std::string field, std::string go_value, const std::vector<std::string>& supported) {
  std::string msg = "Unsupported value: " + go_value;
  if (!supported.empty()) {
    msg += ": supported values: ";
    for (size_t i = 0; i < supported.size(); ++i) msg += (i ? ", " : "") + GoQuote(supported[i]);
  }
  return {std::move(field), "FieldValueNotSupported", std::move(msg)};
}

FieldError Forbidden(std::string field, std::string_view detail) {
  std::string msg = "Forbidden";
  if (!detail.empty()) msg += ": " + std::string(detail);
  return {std::move(field), "FieldValueForbidden", std::move(msg)};
}

FieldError TooLong(std::string field, long long max_bytes) {
  std::string msg = "Too long: may not be more than " + std::to_string(max_bytes) + (max_bytes == 1 ? " byte" : " bytes");
  return {std::move(field), "FieldValueTooLong", std::move(msg)};
}

FieldError TooMany(std::string field, long long actual, long long max_items) {
  std::string msg = "Too many: " + std::to_string(actual) + ": must have at most " + std::to_string(max_items) + " items";
  return {std::move(field), "FieldValueTooMany", std::move(msg)};
}

std::string GoValue(const Json& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType: return "null";
    case rapidjson::kFalseType: return "false";
    case rapidjson::kTrueType: return "true";
    case rapidjson::kStringType: return GoQuote(std::string_view(v.GetString(), v.GetStringLength()));
    case rapidjson::kNumberType: return GoNumber(v);
    default: return ToJson(v);
  }
}

// --- schema walk ------------------------------------------------------------

SchemaResult ValidateAndPrune(Json& object, const Json& schema, Alloc& a, bool prune) {
  SchemaResult result;
  Walker walker(a, prune, &result);
  if (!object.IsObject()) {
    const std::string got = GoQuote(DataType(object));
    result.errors.push_back(TypeInvalid("<nil>", got, "body must be of type object: " + got));
    return result;
  }
  walker.Walk(object, schema, "", true);
  return result;
}

base::Status ToInvalidStatus(const std::vector<FieldError>& errors, std::string_view group, std::string_view kind,
                             std::string_view name) {
  std::string qualified(kind);
  if (!group.empty()) qualified += "." + std::string(group);
  std::string message = qualified + " " + GoQuote(name) + " is invalid";
  // errors.Aggregate: one error alone, several bracketed, duplicates once.
  std::vector<std::string> seen;
  for (const auto& e : errors) {
    std::string text = e.Error();
    if (std::find(seen.begin(), seen.end(), text) == seen.end()) seen.push_back(text);
  }
  if (!seen.empty()) {
    std::string joined;
    for (size_t i = 0; i < seen.size(); ++i) joined += (i ? ", " : "") + seen[i];
    message += ": " + (errors.size() == 1 || seen.size() == 1 ? joined : "[" + joined + "]");
  }

  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  if (!name.empty()) {
    w.Key("name");
    WriteString(w, name);
  }
  if (!group.empty()) {
    w.Key("group");
    WriteString(w, group);
  }
  w.Key("kind");
  WriteString(w, kind);
  if (!errors.empty()) {
    w.Key("causes");
    w.StartArray();
    for (const auto& e : errors) {
      w.StartObject();
      w.Key("reason");
      WriteString(w, e.type);
      w.Key("message");
      WriteString(w, e.message);
      w.Key("field");
      WriteString(w, e.field);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  base::Status s = base::InvalidArgument(std::move(message));
  s.WithHttp(422, "Invalid").WithDetails(std::string(buf.GetString(), buf.GetSize()));
  return s;
}

base::Status ToStrictStatus(const std::vector<std::string>& unknown_fields) {
  std::string message = "strict decoding error: ";
  auto warnings = UnknownFieldWarnings(unknown_fields);
  for (size_t i = 0; i < warnings.size(); ++i) message += (i ? ", " : "") + warnings[i];
  return base::InvalidArgument(std::move(message)).WithHttp(400, "BadRequest");
}

std::vector<std::string> UnknownFieldWarnings(const std::vector<std::string>& unknown_fields) {
  std::vector<std::string> out;
  for (const auto& f : unknown_fields) out.push_back("unknown field " + GoQuote(f));
  return out;
}

std::vector<FieldError> ValidateObjectMeta(const Json* metadata, bool dns1123_subdomain) {
  std::vector<FieldError> errs;
  auto name_errors = [&](std::string_view n) { return dns1123_subdomain ? IsDNS1123Subdomain(n) : IsDNS1123Label(n); };
  const std::string name = metadata != nullptr ? StringAt(*metadata, "name") : "";
  const std::string generate = metadata != nullptr ? StringAt(*metadata, "generateName") : "";
  if (!generate.empty()) {
    // NameIsDNSSubdomain(prefix=true) masks one trailing dash: a suffix follows.
    std::string masked = generate;
    if (masked.size() > 1 && masked.back() == '-') masked.back() = 'a';
    for (const auto& m : name_errors(masked)) errs.push_back(InvalidValue("metadata.generateName", GoQuote(generate), m));
  }
  if (name.empty()) {
    if (generate.empty()) errs.push_back(RequiredValue("metadata.name", "name or generateName is required"));
  } else {
    for (const auto& m : name_errors(name)) errs.push_back(InvalidValue("metadata.name", GoQuote(name), m));
  }
  if (metadata == nullptr) return errs;
  for (const auto& [k, v] : StringMap(Member(*metadata, "labels"))) {
    for (const auto& m : IsQualifiedName(k)) errs.push_back(InvalidValue("metadata.labels", GoQuote(k), m));
    for (const auto& m : IsValidLabelValue(v)) errs.push_back(InvalidValue("metadata.labels", GoQuote(v), m));
  }
  size_t total = 0;
  for (const auto& [k, v] : StringMap(Member(*metadata, "annotations"))) {
    std::string lower = k;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    for (const auto& m : IsQualifiedName(lower)) errs.push_back(InvalidValue("metadata.annotations", GoQuote(k), m));
    total += k.size() + v.size();
  }
  constexpr size_t kTotalAnnotationSizeLimit = 256 * 1024;
  if (total > kTotalAnnotationSizeLimit) errs.push_back(TooLong("metadata.annotations", kTotalAnnotationSizeLimit));
  return errs;
}

std::vector<FieldError> ValidateCrdSchema(const Json& schema, std::string_view path) {
  std::vector<FieldError> errs;
  CheckSchemaNode(schema, std::string(path), 0, &errs);
  return errs;
}

}  // namespace devcluster
