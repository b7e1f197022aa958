#include "api/quantity.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace api {
namespace {

using i128 = __int128;

constexpr i128 kNanosPerUnit = 1'000'000'000;
// Kubernetes caps a quantity's magnitude at the largest int64.
constexpr i128 kMaxNanos = static_cast<i128>(std::numeric_limits<int64_t>::max()) * kNanosPerUnit;
// kMaxNanos has 28 decimal digits; any value with more exceeds it.
constexpr int kMaxNanosDigits = 28;

constexpr std::string_view kFormatError =
    "quantities must match the regular expression "
    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
constexpr std::string_view kSuffixError = "unable to parse quantity's suffix";

base::Status QuantityError(std::string_view what, std::string_view text) {
  // Quote a bounded prefix: the input is untrusted and may be huge.
  std::string shown(text.substr(0, 64));
  if (text.size() > 64) shown += "...";
  return base::InvalidArgument(std::string(what) + ", got \"" + shown + "\"");
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

struct Suffix {
  int base = 10;         // 10 or 2
  int64_t exponent = 0;  // power of `base`
  Quantity::Format format = Quantity::Format::kDecimalSI;
};

bool InterpretSuffix(std::string_view s, Suffix& out) {
  struct Entry {
    std::string_view text;
    int base;
    int exponent;
  };
  static constexpr Entry kTable[] = {
      {"", 10, 0},   {"n", 10, -9}, {"u", 10, -6}, {"m", 10, -3}, {"k", 10, 3},  {"M", 10, 6},
      {"G", 10, 9},  {"T", 10, 12}, {"P", 10, 15}, {"E", 10, 18}, {"Ki", 2, 10}, {"Mi", 2, 20},
      {"Gi", 2, 30}, {"Ti", 2, 40}, {"Pi", 2, 50}, {"Ei", 2, 60},
  };
  for (const Entry& e : kTable) {
    if (e.text == s) {
      out.base = e.base;
      out.exponent = e.exponent;
      out.format = e.base == 2 ? Quantity::Format::kBinarySI : Quantity::Format::kDecimalSI;
      return true;
    }
  }
  // "e"/"E" followed by a signed integer: a decimal exponent. A lone "E" is
  // exa (matched above); a lone "e" is an error, as in Kubernetes.
  if (s.size() > 1 && (s[0] == 'e' || s[0] == 'E')) {
    std::string_view num = s.substr(1);
    bool negative = false;
    if (num[0] == '+' || num[0] == '-') {
      negative = num[0] == '-';
      num.remove_prefix(1);
    }
    if (num.empty() || num.size() > 9) return false;  // beyond int32-ish range: reject
    int64_t v = 0;
    for (char c : num) {
      if (!IsDigit(c)) return false;
      v = v * 10 + (c - '0');
    }
    out.base = 10;
    out.exponent = negative ? -v : v;
    out.format = Quantity::Format::kDecimalExponent;
    return true;
  }
  return false;
}

// Multiplies a big decimal (most significant digit first) by a small factor.
void MultiplySmall(std::vector<uint8_t>& digits, uint32_t factor) {
  uint64_t carry = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    uint64_t v = uint64_t{*it} * factor + carry;
    *it = static_cast<uint8_t>(v % 10);
    carry = v / 10;
  }
  while (carry > 0) {
    digits.insert(digits.begin(), static_cast<uint8_t>(carry % 10));
    carry /= 10;
  }
}

std::string Int128ToString(i128 v) {
  if (v == 0) return "0";
  bool negative = v < 0;
  // Magnitudes here are far below the int128 minimum, so negation is safe.
  if (negative) v = -v;
  std::string out;
  while (v > 0) {
    out.push_back(static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  if (negative) out.push_back('-');
  std::reverse(out.begin(), out.end());
  return out;
}

// a / b rounded away from zero (b > 0).
i128 DivAwayFromZero(i128 a, i128 b) {
  i128 q = a / b;
  if (a % b != 0) q += a > 0 ? 1 : -1;
  return q;
}

}  // namespace

base::StatusOr<Quantity> Quantity::Parse(std::string_view text) {
  if (text.empty()) return QuantityError(kFormatError, text);
  size_t pos = 0;
  bool negative = false;
  if (text[0] == '+' || text[0] == '-') {
    negative = text[0] == '-';
    pos = 1;
  }
  size_t int_start = pos;
  while (pos < text.size() && IsDigit(text[pos])) ++pos;
  std::string_view int_digits = text.substr(int_start, pos - int_start);
  std::string_view frac_digits;
  if (pos < text.size() && text[pos] == '.') {
    size_t frac_start = ++pos;
    while (pos < text.size() && IsDigit(text[pos])) ++pos;
    frac_digits = text.substr(frac_start, pos - frac_start);
  }
  if (int_digits.empty() && frac_digits.empty()) return QuantityError(kFormatError, text);

  // The suffix: letters from the suffix alphabet, an optional sign, digits.
  size_t suffix_start = pos;
  while (pos < text.size() &&
         std::string_view("eEinumkKMGTP").find(text[pos]) != std::string_view::npos) {
    ++pos;
  }
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) ++pos;
  while (pos < text.size() && IsDigit(text[pos])) ++pos;
  if (pos != text.size()) return QuantityError(kFormatError, text);
  Suffix suffix;
  if (!InterpretSuffix(text.substr(suffix_start), suffix)) return QuantityError(kSuffixError, text);

  // Exact arithmetic on the digit string: value = N × 10^p, where N holds the
  // significant digits times 2^binary_exponent. Multiplying by a power of two
  // never adds fraction digits, so N stays an integer.
  std::vector<uint8_t> digits;
  digits.reserve(int_digits.size() + frac_digits.size());
  for (char c : int_digits) digits.push_back(static_cast<uint8_t>(c - '0'));
  for (char c : frac_digits) digits.push_back(static_cast<uint8_t>(c - '0'));
  int64_t p = -static_cast<int64_t>(frac_digits.size());
  // Trailing zeros only lengthen N; fold them into the exponent.
  while (!digits.empty() && digits.back() == 0) {
    digits.pop_back();
    ++p;
  }
  auto first_nonzero = std::find_if(digits.begin(), digits.end(), [](uint8_t d) { return d != 0; });
  digits.erase(digits.begin(), first_nonzero);

  Quantity q;
  q.format_ = suffix.format;
  if (digits.empty()) return q;  // zero, whatever the suffix

  if (suffix.base == 2) {
    for (int64_t i = 0; i < suffix.exponent / 10; ++i) MultiplySmall(digits, 1024);
    while (digits.back() == 0) {  // keep N free of trailing zeros (see below)
      digits.pop_back();
      ++p;
    }
  } else {
    p += suffix.exponent;
  }

  // nanos = ceil(N × 10^(p+9)), rounding away from zero like Kubernetes.
  const int64_t shift = p + 9;
  const int64_t n = static_cast<int64_t>(digits.size());
  i128 nanos = 0;
  bool capped = false;
  if (n + shift > kMaxNanosDigits) {
    capped = true;
  } else if (shift >= 0) {
    for (uint8_t d : digits) nanos = nanos * 10 + d;
    for (int64_t i = 0; i < shift; ++i) nanos *= 10;
  } else {
    const int64_t int_len = n + shift;  // digits left of the nano point; may be ≤ 0
    for (int64_t i = 0; i < int_len; ++i) nanos = nanos * 10 + digits[static_cast<size_t>(i)];
    // N has no trailing zeros, so the dropped digits are never all zero.
    nanos += 1;
  }
  if (capped || nanos > kMaxNanos) {
    nanos = kMaxNanos;
    capped = true;
  }
  q.nanos_ = negative ? -nanos : nanos;
  q.capped_ = capped;
  // Kubernetes prints binary quantities below one in decimal form.
  if (q.format_ == Format::kBinarySI && nanos < kNanosPerUnit) q.format_ = Format::kDecimalSI;
  return q;
}

Quantity Quantity::FromInt64(int64_t value, Format format) {
  Quantity q;
  q.nanos_ = static_cast<i128>(value) * kNanosPerUnit;
  q.format_ = format;
  return q;
}

Quantity Quantity::FromMilli(int64_t milli, Format format) {
  Quantity q;
  q.nanos_ = static_cast<i128>(milli) * 1'000'000;
  q.format_ = format;
  return q;
}

int64_t Quantity::Value() const {
  // |nanos_| ≤ kMaxNanos, so the result always fits.
  return static_cast<int64_t>(DivAwayFromZero(nanos_, kNanosPerUnit));
}

int64_t Quantity::MilliValue() const {
  i128 v = DivAwayFromZero(nanos_, 1'000'000);
  if (v > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
  if (v < std::numeric_limits<int64_t>::min()) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

base::StatusOr<int64_t> Quantity::Bytes() const {
  if (nanos_ < 0) return base::InvalidArgument("quantity " + String() + " is negative");
  if (capped_) return base::OutOfRange("quantity exceeds " + String() + " bytes");
  return Value();
}

int Quantity::Compare(const Quantity& other) const {
  return nanos_ < other.nanos_ ? -1 : (nanos_ > other.nanos_ ? 1 : 0);
}

std::string Quantity::String() const {
  if (nanos_ == 0) return "0";
  Format format = format_;
  if (format == Format::kBinarySI) {
    // Small or fractional binary values print in decimal, so that nothing is
    // rounded (Kubernetes does the same).
    if ((nanos_ > -1024 * kNanosPerUnit && nanos_ < 1024 * kNanosPerUnit) ||
        nanos_ % kNanosPerUnit != 0) {
      format = Format::kDecimalSI;
    }
  }
  if (format == Format::kBinarySI) {
    i128 mantissa = nanos_ / kNanosPerUnit;
    int exponent = 0;
    while (exponent < 6 && mantissa % 1024 == 0) {
      mantissa /= 1024;
      ++exponent;
    }
    static constexpr std::string_view kBinary[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    return Int128ToString(mantissa) + std::string(kBinary[exponent]);
  }
  // Decimal: strip factors of ten, then lower the exponent to a multiple of 3.
  i128 mantissa = nanos_;
  int exponent = -9;
  while (mantissa % 10 == 0) {
    mantissa /= 10;
    ++exponent;
  }
  int r = ((exponent % 3) + 3) % 3;
  for (int i = 0; i < r; ++i) mantissa *= 10;
  exponent -= r;
  std::string number = Int128ToString(mantissa);
  if (format == Format::kDecimalExponent) {
    return exponent == 0 ? number : number + "e" + std::to_string(exponent);
  }
  // |value| ≤ 2^63-1 and ≥ 1n keeps the exponent within n..E.
  static constexpr std::string_view kDecimal[] = {"n", "u", "m", "", "k", "M", "G", "T", "P", "E"};
  return number + std::string(kDecimal[(exponent + 9) / 3]);
}

}  // namespace api
