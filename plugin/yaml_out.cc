#include "plugin/yaml_out.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>

namespace plugin {
namespace {

std::string Scalar(const rapidjson::Value& v) {
  if (v.IsNull()) return "null";
  if (v.IsBool()) return v.GetBool() ? "true" : "false";
  if (v.IsString()) {
    std::string_view s(v.GetString(), v.GetStringLength());
    if (!YamlNeedsQuotes(s)) return std::string(s);
  }
  // Numbers, and strings that need quotes: JSON's spelling is valid YAML
  // (double-quoted scalars use the same escapes).
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return buf.GetString();
}

bool IsEmptyContainer(const rapidjson::Value& v) {
  return (v.IsObject() && v.MemberCount() == 0) || (v.IsArray() && v.Empty());
}

void Emit(const rapidjson::Value& v, int indent, std::string& out);

// Writes the value that follows "key:" or "- ".
void EmitAfterKey(const rapidjson::Value& v, int indent, std::string& out) {
  if (v.IsObject() && v.MemberCount() > 0) {
    out += "\n";
    Emit(v, indent + 2, out);
  } else if (v.IsArray() && !v.Empty()) {
    out += "\n";
    Emit(v, indent, out);
  } else if (IsEmptyContainer(v)) {
    out += v.IsObject() ? " {}\n" : " []\n";
  } else {
    out += " " + Scalar(v) + "\n";
  }
}

void Emit(const rapidjson::Value& v, int indent, std::string& out) {
  std::string pad(static_cast<size_t>(indent), ' ');
  if (v.IsObject()) {
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      out += pad + Scalar(it->name) + ":";
      EmitAfterKey(it->value, indent, out);
    }
  } else if (v.IsArray()) {
    for (const auto& item : v.GetArray()) {
      if (item.IsObject() && item.MemberCount() > 0) {
        // The first member shares the "- " line; the rest align under it.
        std::string sub;
        Emit(item, indent + 2, sub);
        out += pad + "- " + sub.substr(static_cast<size_t>(indent) + 2);
      } else if (item.IsArray() && !item.Empty()) {
        std::string sub;
        Emit(item, indent + 2, sub);
        out += pad + "- " + sub.substr(static_cast<size_t>(indent) + 2);
      } else {
        out += pad + "-";
        EmitAfterKey(item, indent, out);
      }
    }
  } else {
    out += pad + Scalar(v) + "\n";
  }
}

}  // namespace

bool YamlNeedsQuotes(std::string_view s) {
  if (s.empty()) return true;
  static const char* kWords[] = {"true", "false", "null", "yes", "no", "on", "off",
                                 "True", "False", "Null", "Yes", "No", "On", "Off",
                                 "TRUE", "FALSE", "NULL", "YES", "NO", "ON", "OFF",
                                 "~",    "y",     "n",    "Y",   "N"};
  for (const char* w : kWords) {
    if (s == w) return true;
  }
  // Anything that starts like a number could be read as one.
  unsigned char c0 = static_cast<unsigned char>(s[0]);
  if (std::isdigit(c0) || c0 == '.' || ((c0 == '-' || c0 == '+') && s.size() > 1)) return true;
  if (std::string_view("!&*-?{}[],#|>@`\"'%: ").find(s[0]) != std::string_view::npos) return true;
  if (s.back() == ' ' || s.back() == ':') return true;
  if (s.find(": ") != s.npos || s.find(" #") != s.npos) return true;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

std::string ToYaml(const rapidjson::Value& value) {
  std::string out;
  Emit(value, 0, out);
  return out;
}

}  // namespace plugin
