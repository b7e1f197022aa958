#include "tests/devcluster/selector.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "tests/devcluster/go_int.h"

namespace devcluster {
namespace {

base::Status BadRequest(std::string m) {
  return base::InvalidArgument(std::move(m)).WithHttp(400, "BadRequest");
}

bool IsAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool MatchesQualifiedNamePart(std::string_view s) {
  if (s.empty() || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool MatchesDns1123Label(std::string_view s) {
  if (s.empty() || !IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsLowerAlnum(c) || c == '-'; });
}

bool MatchesDns1123Subdomain(std::string_view s) {
  while (true) {
    size_t dot = s.find('.');
    if (!MatchesDns1123Label(s.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    s.remove_prefix(dot + 1);
  }
}

// validation.RegexError: "(e.g. 'a',  or 'b', regex used ...)", with the
// library's doubled space between examples.
std::string RegexError(const std::string& msg, const std::string& fmt, std::vector<std::string> examples) {
  if (examples.empty()) return msg + " (regex used for validation is '" + fmt + "')";
  std::string out = msg + " (e.g. ";
  for (size_t i = 0; i < examples.size(); ++i) {
    if (i > 0) out += " or ";
    out += "'" + examples[i] + "', ";
  }
  return out + "regex used for validation is '" + fmt + "')";
}

std::string MaxLenError(int n) { return "must be no more than " + std::to_string(n) + " characters"; }

const char kQualifiedNameFmt[] = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const char kQualifiedNameErrMsg[] =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character";
const char kLabelValueFmt[] = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const char kLabelValueErrMsg[] =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character";
const char kDns1123LabelFmt[] = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const char kDns1123LabelErrMsg[] =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character";
const char kDns1123SubdomainFmt[] = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const char kDns1123SubdomainErrMsg[] =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character";

// field.Error.Error() for an Invalid error: "<path>: Invalid value: %q: detail".
std::string InvalidField(const std::string& path, std::string_view value, const std::string& detail) {
  return path + ": Invalid value: " + GoQuote(value) + ": " + detail;
}

// errors.Aggregate.Error(): one error alone, several in brackets, duplicates once.
std::string Aggregate(const std::vector<std::string>& errs) {
  if (errs.size() == 1) return errs[0];
  std::vector<std::string> seen;
  for (const auto& e : errs) {
    if (std::find(seen.begin(), seen.end(), e) == seen.end()) seen.push_back(e);
  }
  std::string out;
  for (size_t i = 0; i < seen.size(); ++i) out += (i ? ", " : "") + seen[i];
  return seen.size() == 1 ? out : "[" + out + "]";
}

// --- label selector lexer and parser (labels/selector.go) -------------------

enum class Tok {
  kError,
  kEnd,
  kClosedPar,
  kComma,
  kDoesNotExist,
  kDoubleEquals,
  kEquals,
  kGreaterThan,
  kIdentifier,
  kIn,
  kLessThan,
  kNotEquals,
  kNotIn,
  kOpenPar,
};

struct Token {
  Tok tok;
  std::string lit;
};

std::optional<Tok> KeywordToken(std::string_view s) {
  if (s == ")") return Tok::kClosedPar;
  if (s == ",") return Tok::kComma;
  if (s == "!") return Tok::kDoesNotExist;
  if (s == "==") return Tok::kDoubleEquals;
  if (s == "=") return Tok::kEquals;
  if (s == ">") return Tok::kGreaterThan;
  if (s == "in") return Tok::kIn;
  if (s == "<") return Tok::kLessThan;
  if (s == "!=") return Tok::kNotEquals;
  if (s == "notin") return Tok::kNotIn;
  if (s == "(") return Tok::kOpenPar;
  return std::nullopt;
}

bool IsWhitespace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool IsSpecialSymbol(char c) {
  return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

std::vector<Token> Lex(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  while (true) {
    while (i < s.size() && IsWhitespace(s[i])) ++i;
    // Go's lexer reads a NUL byte as the end of input.
    if (i >= s.size() || s[i] == '\0') {
      out.push_back({Tok::kEnd, ""});
      return out;
    }
    if (IsSpecialSymbol(s[i])) {
      // The longest run of special symbols that is still a token.
      std::string buf;
      std::optional<Token> last;
      while (i < s.size() && IsSpecialSymbol(s[i])) {
        buf.push_back(s[i]);
        if (auto t = KeywordToken(buf)) {
          last = Token{*t, buf};
          ++i;
        } else if (last) {
          break;
        } else {
          ++i;
        }
      }
      out.push_back(last ? *last : Token{Tok::kError, "error expected: keyword found '" + buf + "'"});
      continue;
    }
    std::string buf;
    while (i < s.size() && s[i] != '\0' && !IsSpecialSymbol(s[i]) && !IsWhitespace(s[i])) buf.push_back(s[i++]);
    auto t = KeywordToken(buf);
    out.push_back({t ? *t : Tok::kIdentifier, buf});
  }
}

class Parser {
 public:
  explicit Parser(std::string_view s) : tokens_(Lex(s)) {}

  // Returns "" on success.
  std::string Parse(std::vector<LabelRequirement>* out) {
    while (true) {
      Token t = Lookahead(true);
      if (t.tok == Tok::kIdentifier || t.tok == Tok::kDoesNotExist) {
        LabelRequirement r;
        std::string err = ParseRequirement(&r);
        if (!err.empty()) return "unable to parse requirement: " + err;
        out->push_back(std::move(r));
        Token n = Consume(true);
        if (n.tok == Tok::kEnd) return "";
        if (n.tok == Tok::kComma) {
          Token n2 = Lookahead(true);
          if (n2.tok != Tok::kIdentifier && n2.tok != Tok::kDoesNotExist) {
            return "found '" + n2.lit + "', expected: identifier after ','";
          }
          continue;
        }
        return "found '" + n.lit + "', expected: ',' or 'end of string'";
      }
      if (t.tok == Tok::kEnd) return "";
      return "found '" + t.lit + "', expected: !, identifier, or 'end of string'";
    }
  }

 private:
  // In the "values" context the keywords in/notin are plain identifiers.
  Token Lookahead(bool values) const {
    Token t = tokens_[pos_];
    if (values && (t.tok == Tok::kIn || t.tok == Tok::kNotIn)) t.tok = Tok::kIdentifier;
    return t;
  }
  Token Consume(bool values) {
    Token t = Lookahead(values);
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }

  std::string ParseRequirement(LabelRequirement* r) {
    Token t = Consume(true);
    bool does_not_exist = false;
    if (t.tok == Tok::kDoesNotExist) {
      does_not_exist = true;
      t = Consume(true);
    }
    if (t.tok != Tok::kIdentifier) return "found '" + t.lit + "', expected: identifier";
    // The parser validates the key with a nil field path, hence "<nil>".
    auto key_errs = IsQualifiedName(t.lit);
    if (!key_errs.empty()) {
      std::string joined;
      for (size_t i = 0; i < key_errs.size(); ++i) joined += (i ? "; " : "") + key_errs[i];
      return InvalidField("<nil>", t.lit, joined);
    }
    r->key = t.lit;
    Token next = Lookahead(true);
    if (does_not_exist || next.tok == Tok::kEnd || next.tok == Tok::kComma) {
      r->op = does_not_exist ? LabelRequirement::Op::kDoesNotExist : LabelRequirement::Op::kExists;
      return "";
    }
    Token op = Consume(false);
    std::set<std::string> values;
    std::string err;
    switch (op.tok) {
      case Tok::kIn: r->op = LabelRequirement::Op::kIn; break;
      case Tok::kNotIn: r->op = LabelRequirement::Op::kNotIn; break;
      case Tok::kEquals: r->op = LabelRequirement::Op::kEquals; break;
      case Tok::kDoubleEquals: r->op = LabelRequirement::Op::kDoubleEquals; break;
      case Tok::kNotEquals: r->op = LabelRequirement::Op::kNotEquals; break;
      case Tok::kGreaterThan: r->op = LabelRequirement::Op::kGreaterThan; break;
      case Tok::kLessThan: r->op = LabelRequirement::Op::kLessThan; break;
      default: return "found '" + op.lit + "', expected: in, notin, =, ==, !=, gt, lt";
    }
    if (r->op == LabelRequirement::Op::kIn || r->op == LabelRequirement::Op::kNotIn) {
      err = ParseValues(&values);
    } else {
      err = ParseExactValue(&values);
    }
    if (!err.empty()) return err;
    r->values.assign(values.begin(), values.end());
    return ValidateRequirement(*r);
  }

  std::string ParseValues(std::set<std::string>* out) {
    Token t = Consume(true);
    if (t.tok != Tok::kOpenPar) return "found '" + t.lit + "' expected: '('";
    t = Lookahead(true);
    if (t.tok == Tok::kIdentifier || t.tok == Tok::kComma) {
      std::string err = ParseIdentifiersList(out);
      if (!err.empty()) return err;
      if (Consume(true).tok != Tok::kClosedPar) return "found '" + t.lit + "', expected: ')'";
      return "";
    }
    if (t.tok == Tok::kClosedPar) {
      Consume(true);
      out->insert("");
      return "";
    }
    return "found '" + t.lit + "', expected: ',', ')' or identifier";
  }

  std::string ParseIdentifiersList(std::set<std::string>* out) {
    while (true) {
      Token t = Consume(true);
      if (t.tok == Tok::kIdentifier) {
        out->insert(t.lit);
        Token t2 = Lookahead(true);
        if (t2.tok == Tok::kComma) continue;
        if (t2.tok == Tok::kClosedPar) return "";
        return "found '" + t2.lit + "', expected: ',' or ')'";
      }
      if (t.tok == Tok::kComma) {
        if (out->empty()) out->insert("");
        Token t2 = Lookahead(true);
        if (t2.tok == Tok::kClosedPar) {
          out->insert("");
          return "";
        }
        if (t2.tok == Tok::kComma) {
          Consume(true);
          out->insert("");
        }
        continue;
      }
      return "found '" + t.lit + "', expected: ',', or identifier";
    }
  }

  std::string ParseExactValue(std::set<std::string>* out) {
    Token t = Lookahead(true);
    if (t.tok == Tok::kEnd || t.tok == Tok::kComma) {
      out->insert("");
      return "";
    }
    t = Consume(true);
    if (t.tok == Tok::kIdentifier) {
      out->insert(t.lit);
      return "";
    }
    return "found '" + t.lit + "', expected: identifier";
  }

  // labels.NewRequirement's checks of the values (the key was checked above).
  static std::string ValidateRequirement(const LabelRequirement& r) {
    std::vector<std::string> errs;
    if (r.op == LabelRequirement::Op::kGreaterThan || r.op == LabelRequirement::Op::kLessThan) {
      for (size_t i = 0; i < r.values.size(); ++i) {
        long long ignored = 0;
        if (!ParseGoInt(r.values[i], &ignored)) {
          errs.push_back(InvalidField("values[" + std::to_string(i) + "]", r.values[i],
                                      "for 'Gt', 'Lt' operators, the value must be an integer"));
        }
      }
    }
    for (size_t i = 0; i < r.values.size(); ++i) {
      auto msgs = IsValidLabelValue(r.values[i]);
      if (msgs.empty()) continue;
      std::string joined;
      for (size_t j = 0; j < msgs.size(); ++j) joined += (j ? "; " : "") + msgs[j];
      errs.push_back(InvalidField("values[" + std::to_string(i) + "][" + r.key + "]", r.values[i], joined));
    }
    return errs.empty() ? "" : Aggregate(errs);
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

base::Status Invalid422(std::vector<std::string> errs) {
  return base::InvalidArgument(Aggregate(errs)).WithHttp(422, "Invalid");
}

}  // namespace

// --- LabelSelector ----------------------------------------------------------

bool LabelRequirement::Matches(const std::map<std::string, std::string>& labels) const {
  auto it = labels.find(key);
  const bool has = it != labels.end();
  auto in_values = [&] { return has && std::binary_search(values.begin(), values.end(), it->second); };
  switch (op) {
    case Op::kIn:
    case Op::kEquals:
    case Op::kDoubleEquals: return in_values();
    case Op::kNotIn:
    case Op::kNotEquals: return !has || !in_values();
    case Op::kExists: return has;
    case Op::kDoesNotExist: return !has;
    case Op::kGreaterThan:
    case Op::kLessThan: {
      long long have = 0, want = 0;
      if (!has || values.size() != 1 || !ParseGoInt(it->second, &have) || !ParseGoInt(values[0], &want)) {
        return false;
      }
      return op == Op::kGreaterThan ? have > want : have < want;
    }
  }
  return false;
}

base::StatusOr<LabelSelector> LabelSelector::Parse(std::string_view selector) {
  Parser parser(selector);
  LabelSelector out;
  std::string err = parser.Parse(&out.requirements_);
  if (!err.empty()) return BadRequest(err);
  std::stable_sort(out.requirements_.begin(), out.requirements_.end(),
                   [](const LabelRequirement& a, const LabelRequirement& b) { return a.key < b.key; });
  return out;
}

bool LabelSelector::Matches(const std::map<std::string, std::string>& labels) const {
  return std::all_of(requirements_.begin(), requirements_.end(),
                     [&](const LabelRequirement& r) { return r.Matches(labels); });
}

std::string LabelSelector::String() const {
  using Op = LabelRequirement::Op;
  std::string out;
  for (const auto& r : requirements_) {
    if (!out.empty()) out += ",";
    if (r.op == Op::kDoesNotExist) out += "!";
    out += r.key;
    switch (r.op) {
      case Op::kEquals: out += "="; break;
      case Op::kDoubleEquals: out += "=="; break;
      case Op::kNotEquals: out += "!="; break;
      case Op::kIn: out += " in "; break;
      case Op::kNotIn: out += " notin "; break;
      case Op::kGreaterThan: out += ">"; break;
      case Op::kLessThan: out += "<"; break;
      case Op::kExists:
      case Op::kDoesNotExist: continue;
    }
    const bool set = r.op == Op::kIn || r.op == Op::kNotIn;
    if (set) out += "(";
    for (size_t i = 0; i < r.values.size(); ++i) out += (i ? "," : "") + r.values[i];
    if (set) out += ")";
  }
  return out;
}

// --- FieldSelector ----------------------------------------------------------

base::StatusOr<FieldSelector> FieldSelector::Parse(std::string_view selector) {
  // splitTerms: commas split unless backslash-escaped (the escape is kept).
  std::vector<std::string> parts;
  if (!selector.empty()) {
    size_t start = 0;
    bool in_slash = false;
    for (size_t i = 0; i < selector.size(); ++i) {
      char c = selector[i];
      if (in_slash) {
        in_slash = false;
      } else if (c == '\\') {
        in_slash = true;
      } else if (c == ',') {
        parts.emplace_back(selector.substr(start, i - start));
        start = i + 1;
      }
    }
    parts.emplace_back(selector.substr(start));
  }
  std::sort(parts.begin(), parts.end());

  FieldSelector out;
  for (const auto& part : parts) {
    if (part.empty()) continue;
    // splitTerm: the first operator occurrence splits; "!=" and "==" win over "=".
    size_t at = std::string::npos;
    std::string op;
    for (size_t i = 0; i < part.size() && at == std::string::npos; ++i) {
      for (const char* candidate : {"!=", "==", "="}) {
        if (part.compare(i, std::char_traits<char>::length(candidate), candidate) == 0) {
          at = i;
          op = candidate;
          break;
        }
      }
    }
    if (at == std::string::npos) {
      return BadRequest("invalid selector: '" + std::string(selector) + "'; can't understand '" + part + "'");
    }
    std::string rhs = part.substr(at + op.size());
    // UnescapeValue: \\ \, \= are escapes; bare , and = are not allowed.
    std::string value;
    bool in_slash = false;
    for (char c : rhs) {
      if (in_slash) {
        if (c != '\\' && c != ',' && c != '=') {
          return BadRequest(std::string("invalid field selector: invalid escape sequence: \\") + c);
        }
        value.push_back(c);
        in_slash = false;
      } else if (c == '\\') {
        in_slash = true;
      } else if (c == ',' || c == '=') {
        // Go prints the rune with %v, i.e. as its number.
        return BadRequest("invalid field selector: unescaped character in value: " +
                          std::to_string(static_cast<int>(c)));
      } else {
        value.push_back(c);
      }
    }
    if (in_slash) return BadRequest("invalid field selector: invalid escape sequence: \\");
    out.terms_.push_back(Term{part.substr(0, at), std::move(value), op != "!="});
  }
  return out;
}

bool FieldSelector::Matches(const std::function<std::optional<std::string>(std::string_view field)>& get) const {
  for (const auto& t : terms_) {
    std::string have = get(t.field).value_or("");
    if ((have == t.value) != t.equals) return false;
  }
  return true;
}

std::vector<std::string> FieldSelector::Fields() const {
  std::vector<std::string> out;
  for (const auto& t : terms_) out.push_back(t.field);
  return out;
}

base::Status CheckFieldsSupported(const FieldSelector& selector, const std::vector<std::string>& supported,
                                  bool custom_resource) {
  for (const auto& t : selector.terms()) {
    if (std::find(supported.begin(), supported.end(), t.field) != supported.end()) continue;
    if (custom_resource) {
      return BadRequest(GoQuote(t.field) + " is not a known field selector: only \"metadata.name\", \"metadata.namespace\"");
    }
    return BadRequest("field label not supported: " + t.field);
  }
  return base::Status::Ok();
}

// --- validation -------------------------------------------------------------

std::vector<std::string> IsQualifiedName(std::string_view value) {
  std::vector<std::string> errs;
  std::string_view name = value;
  size_t slash = value.find('/');
  if (slash != std::string_view::npos) {
    if (value.find('/', slash + 1) != std::string_view::npos) {
      errs.push_back("a qualified name " +
                     RegexError(kQualifiedNameErrMsg, kQualifiedNameFmt, {"MyName", "my.name", "123-abc"}) +
                     " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
      return errs;
    }
    std::string_view prefix = value.substr(0, slash);
    name = value.substr(slash + 1);
    if (prefix.empty()) {
      errs.push_back("prefix part must be non-empty");
    } else {
      for (const auto& m : IsDNS1123Subdomain(prefix)) errs.push_back("prefix part " + m);
    }
  }
  if (name.empty()) {
    errs.push_back("name part must be non-empty");
  } else if (name.size() > 63) {
    errs.push_back("name part " + MaxLenError(63));
  }
  if (!MatchesQualifiedNamePart(name)) {
    errs.push_back("name part " + RegexError(kQualifiedNameErrMsg, kQualifiedNameFmt, {"MyName", "my.name", "123-abc"}));
  }
  return errs;
}

std::vector<std::string> IsValidLabelValue(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > 63) errs.push_back(MaxLenError(63));
  if (!value.empty() && !MatchesQualifiedNamePart(value)) {
    errs.push_back(RegexError(kLabelValueErrMsg, kLabelValueFmt, {"MyValue", "my_value", "12345"}));
  }
  return errs;
}

std::vector<std::string> IsDNS1123Subdomain(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > 253) errs.push_back(MaxLenError(253));
  if (!MatchesDns1123Subdomain(value)) {
    errs.push_back(RegexError(kDns1123SubdomainErrMsg, kDns1123SubdomainFmt, {"example.com"}));
  }
  return errs;
}

std::vector<std::string> IsDNS1123Label(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > 63) errs.push_back(MaxLenError(63));
  if (!MatchesDns1123Label(value)) {
    if (MatchesDns1123Subdomain(value)) {
      errs.push_back("must not contain dots");
    } else {
      errs.push_back(RegexError(kDns1123LabelErrMsg, kDns1123LabelFmt, {"my-name", "123-abc"}));
    }
  }
  return errs;
}

std::string GoQuote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\a': out += "\\a"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\v': out += "\\v"; break;
        default:
          if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\x%02x", c);
            out += buf;
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    // Multi-byte UTF-8 sequences are copied when well formed; stray bytes
    // are escaped as Go escapes invalid UTF-8.
    size_t len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool ok = len != 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 0x2;
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
      ++i;
    }
  }
  return out + "\"";
}

base::Status ValidateObjectName(std::string_view name, bool dns1123_subdomain) {
  if (name.empty()) {
    return base::InvalidArgument("metadata.name: Required value: name or generateName is required")
        .WithHttp(422, "Invalid");
  }
  std::vector<std::string> errs;
  for (const auto& m : dns1123_subdomain ? IsDNS1123Subdomain(name) : IsDNS1123Label(name)) {
    errs.push_back(InvalidField("metadata.name", name, m));
  }
  return errs.empty() ? base::Status::Ok() : Invalid422(errs);
}

base::Status ValidateLabelKey(std::string_view key) {
  std::vector<std::string> errs;
  for (const auto& m : IsQualifiedName(key)) errs.push_back(InvalidField("metadata.labels", key, m));
  return errs.empty() ? base::Status::Ok() : Invalid422(errs);
}

base::Status ValidateLabelValue(std::string_view value) {
  std::vector<std::string> errs;
  for (const auto& m : IsValidLabelValue(value)) errs.push_back(InvalidField("metadata.labels", value, m));
  return errs.empty() ? base::Status::Ok() : Invalid422(errs);
}

std::optional<WatchEventType> SelectedWatchEvent(bool matched_before, bool matches_now) {
  if (matches_now) return matched_before ? WatchEventType::kModified : WatchEventType::kAdded;
  if (matched_before) return WatchEventType::kDeleted;
  return std::nullopt;
}

const char* WatchEventTypeName(WatchEventType t) {
  switch (t) {
    case WatchEventType::kAdded: return "ADDED";
    case WatchEventType::kModified: return "MODIFIED";
    case WatchEventType::kDeleted: return "DELETED";
  }
  return "ERROR";
}

}  // namespace devcluster
