#include "tests/devcluster/jsonpath.h"

#include <string>

namespace devcluster {
namespace {

bool IsIdent(char c) { return isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '$'; }

std::string Trim(std::string_view s) {
  while (!s.empty() && isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// Follows a dotted relative path ("@.a.b") from `v`; null when absent.
const Json* Follow(const Json& v, std::string_view rel) {
  const Json* cur = &v;
  while (!rel.empty()) {
    if (rel.front() == '.') rel.remove_prefix(1);
    size_t end = 0;
    while (end < rel.size() && rel[end] != '.') ++end;
    cur = Member(*cur, rel.substr(0, end));
    if (cur == nullptr) return nullptr;
    rel.remove_prefix(end);
  }
  return cur;
}

std::string ScalarText(const Json& v) {
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  if (v.IsBool()) return v.GetBool() ? "true" : "false";
  if (v.IsNumber()) return ToJson(v);
  return "";
}

bool FilterMatches(const Json& item, std::string_view expr) {
  // expr: @.a.b == 'value'  |  @.a.b != "value"  |  @.a.b (exists)
  size_t op = expr.find("==");
  bool negate = false;
  if (op == std::string_view::npos) {
    op = expr.find("!=");
    negate = op != std::string_view::npos;
  }
  if (op == std::string_view::npos) {
    std::string lhs = Trim(expr);
    if (lhs.empty() || lhs[0] != '@') return false;
    return Follow(item, std::string_view(lhs).substr(1)) != nullptr;
  }
  std::string lhs = Trim(expr.substr(0, op));
  std::string rhs = Trim(expr.substr(op + 2));
  if (lhs.empty() || lhs[0] != '@') return false;
  if (rhs.size() >= 2 && (rhs.front() == '\'' || rhs.front() == '"') && rhs.back() == rhs.front()) {
    rhs = rhs.substr(1, rhs.size() - 2);
  }
  const Json* v = Follow(item, std::string_view(lhs).substr(1));
  bool eq = v != nullptr && ScalarText(*v) == rhs;
  return negate ? !eq : eq;
}

}  // namespace

std::vector<const Json*> EvalJsonPath(const Json& root, std::string_view path) {
  std::string p = Trim(path);
  if (p.size() >= 2 && p.front() == '{' && p.back() == '}') p = Trim(std::string_view(p).substr(1, p.size() - 2));
  std::string_view s = p;
  if (!s.empty() && s.front() == '$') s.remove_prefix(1);
  std::vector<const Json*> cur = {&root};
  while (!s.empty() && !cur.empty()) {
    std::vector<const Json*> next;
    if (s.front() == '.') {
      s.remove_prefix(1);
      size_t end = 0;
      while (end < s.size() && IsIdent(s[end])) ++end;
      std::string_view name = s.substr(0, end);
      s.remove_prefix(end);
      if (name.empty()) {
        if (!s.empty() && s.front() == '[') continue;  // ".[0]" style
        return {};
      }
      for (const Json* v : cur) {
        if (name == "*") {
          if (v->IsObject()) for (auto it = v->MemberBegin(); it != v->MemberEnd(); ++it) next.push_back(&it->value);
        } else if (const Json* m = Member(*v, name)) {
          next.push_back(m);
        }
      }
    } else if (s.front() == '[') {
      size_t close = s.find(']');
      if (close == std::string_view::npos) return {};
      std::string inner = Trim(s.substr(1, close - 1));
      s.remove_prefix(close + 1);
      if (inner.size() >= 3 && inner[0] == '?' && inner[1] == '(' && inner.back() == ')') {
        std::string expr = inner.substr(2, inner.size() - 3);
        for (const Json* v : cur) {
          if (!v->IsArray()) continue;
          for (const auto& e : v->GetArray()) {
            if (FilterMatches(e, expr)) next.push_back(&e);
          }
        }
      } else if (inner == "*") {
        for (const Json* v : cur) {
          if (v->IsArray()) for (const auto& e : v->GetArray()) next.push_back(&e);
          if (v->IsObject()) for (auto it = v->MemberBegin(); it != v->MemberEnd(); ++it) next.push_back(&it->value);
        }
      } else if (!inner.empty() && (inner.front() == '\'' || inner.front() == '"')) {
        std::string key = inner.substr(1, inner.size() >= 2 ? inner.size() - 2 : 0);
        for (const Json* v : cur) {
          if (const Json* m = Member(*v, key)) next.push_back(m);
        }
      } else {
        char* end = nullptr;
        long idx = strtol(inner.c_str(), &end, 10);
        if (end == inner.c_str() || *end != '\0') return {};
        for (const Json* v : cur) {
          if (!v->IsArray()) continue;
          long n = static_cast<long>(v->Size());
          long i = idx < 0 ? n + idx : idx;
          if (i >= 0 && i < n) next.push_back(&(*v)[static_cast<rapidjson::SizeType>(i)]);
        }
      }
    } else {
      return {};
    }
    cur = std::move(next);
  }
  return cur;
}

}  // namespace devcluster
