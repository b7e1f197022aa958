// Label selectors, field selectors and the name/label validation rules of
// kube-apiserver (k8s.io/apimachinery labels, fields and util/validation),
// with the apiserver's grammar and error messages.
//
// Values; thread-compatible.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace devcluster {

// One requirement of a label selector. `values` is sorted and unique.
struct LabelRequirement {
  enum class Op { kIn, kNotIn, kEquals, kDoubleEquals, kNotEquals, kExists, kDoesNotExist, kGreaterThan, kLessThan };
  std::string key;
  Op op = Op::kExists;
  std::vector<std::string> values;

  bool Matches(const std::map<std::string, std::string>& labels) const;
};

class LabelSelector {
 public:
  // labels.Parse: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`,
  // `!k`, `k>5`, `k<5`, comma-separated (all must match), whitespace allowed
  // between tokens. Keys must be qualified names, values valid label values.
  // Errors: 400 BadRequest with labels.Parse's text, e.g.
  //   "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
  //   "unable to parse requirement: values[0][app]: Invalid value: \"a b\": a valid label must be ..."
  static base::StatusOr<LabelSelector> Parse(std::string_view selector);

  // True when every requirement matches; an empty selector matches everything.
  bool Matches(const std::map<std::string, std::string>& labels) const;
  bool Empty() const { return requirements_.empty(); }
  // Sorted by key, as labels.Parse sorts them.
  const std::vector<LabelRequirement>& requirements() const { return requirements_; }
  // Canonical text (labels.Selector.String()), e.g. "a=b,c in (d,e),!f".
  std::string String() const;

 private:
  std::vector<LabelRequirement> requirements_;
};

class FieldSelector {
 public:
  struct Term {
    std::string field;
    std::string value;  // unescaped (\, \= \\ are escapes)
    bool equals = true;  // false for !=
  };

  // fields.ParseSelector: `f=v`, `f==v`, `f!=v`, comma-separated; no
  // whitespace trimming. Errors: 400 BadRequest, e.g.
  //   "invalid selector: 'foo'; can't understand 'foo'"
  //   "invalid field selector: invalid escape sequence: \\x"
  static base::StatusOr<FieldSelector> Parse(std::string_view selector);

  // `get` returns a field's value, nullopt when the object lacks it (which
  // compares as "", as in kube-apiserver).
  bool Matches(const std::function<std::optional<std::string>(std::string_view field)>& get) const;
  bool Empty() const { return terms_.empty(); }
  // The field names used, in term order (terms are sorted like the apiserver's).
  std::vector<std::string> Fields() const;
  const std::vector<Term>& terms() const { return terms_; }

 private:
  std::vector<Term> terms_;
};

// 400 BadRequest when the selector uses a field outside `supported`, worded
// as kube-apiserver words it: for custom resources
//   "\"spec.x\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
// and for built-in kinds "field label not supported: spec.x".
base::Status CheckFieldsSupported(const FieldSelector& selector, const std::vector<std::string>& supported,
                                  bool custom_resource = true);

// What a watch with a label or field selector sends for one stored change,
// as kube-apiserver's watch cache decides it (cacheWatcher.convertToWatchEvent):
// `matched_before` is whether the selector matched the object before the
// change (false for a creation), `matches_now` whether it matches after (false
// for a deletion). An object entering the selection is ADDED, one staying in
// it MODIFIED, one leaving it DELETED (sent with the object's previous state
// and the change's resourceVersion), and one outside before and after is not
// sent (nullopt).
enum class WatchEventType { kAdded, kModified, kDeleted };
std::optional<WatchEventType> SelectedWatchEvent(bool matched_before, bool matches_now);
const char* WatchEventTypeName(WatchEventType t);

// k8s.io/apimachinery/pkg/util/validation: each returns the list of problems
// (empty when valid) in the library's words.
std::vector<std::string> IsQualifiedName(std::string_view value);
std::vector<std::string> IsValidLabelValue(std::string_view value);
std::vector<std::string> IsDNS1123Subdomain(std::string_view value);
std::vector<std::string> IsDNS1123Label(std::string_view value);

// Go's %q of a string (strconv.Quote), as used in field error messages.
std::string GoQuote(std::string_view s);

// 422 Invalid when `name` is not a valid object name: a DNS-1123 subdomain
// (most kinds, custom resources) or, when !dns1123_subdomain, a DNS-1123 label
// (Namespace). The message is the field error list without the
// `Kind "name" is invalid: ` prefix (see schema.h ToInvalidStatus for the whole
// Status), e.g.
//   metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must ...
base::Status ValidateObjectName(std::string_view name, bool dns1123_subdomain);
// 422 Invalid for a bad label key / value, with field "metadata.labels".
base::Status ValidateLabelKey(std::string_view key);
base::Status ValidateLabelValue(std::string_view value);

}  // namespace devcluster
