// Go's strconv.ParseInt(s, 10, 64) (and strconv.Atoi on 64-bit), whose
// acceptance kube-apiserver's selectors and JSON patch indices inherit.
#pragma once

#include <climits>
#include <string_view>

namespace devcluster {

// An optional sign and decimal digits, within int64; false otherwise.
inline bool ParseGoInt(std::string_view s, long long* out) {
  size_t i = 0;
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    i = 1;
  }
  if (i == s.size()) return false;
  unsigned long long v = 0;
  const unsigned long long limit = neg ? static_cast<unsigned long long>(LLONG_MAX) + 1 : LLONG_MAX;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    unsigned d = static_cast<unsigned>(s[i] - '0');
    if (v > (limit - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = neg ? static_cast<long long>(0 - v) : static_cast<long long>(v);
  return true;
}

}  // namespace devcluster
