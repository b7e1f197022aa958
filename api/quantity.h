// Quantity: a Kubernetes resource quantity ("64Mi", "1.5Gi", "500M", "100m",
// "1e3"), parsed with the full Kubernetes grammar and held exactly.
//
//   <quantity>     ::= <sign>? <number> <suffix>
//   <number>       ::= <digits> | <digits>. | .<digits> | <digits>.<digits>
//   <suffix>       ::= Ki | Mi | Gi | Ti | Pi | Ei            (binary SI)
//                    | n | u | m | "" | k | M | G | T | P | E (decimal SI)
//                    | e<sign>?<digits> | E<sign>?<digits>    (decimal exponent)
//
// Like Kubernetes, the value is rounded away from zero to a whole number of
// nano units (so "0.1n" is 1n) and its magnitude is capped at 2^63-1; capped()
// says when the cap applied. The format (binary SI, decimal SI, decimal
// exponent) is taken from the suffix and used by String(), which prints the
// canonical form Kubernetes prints: "1.5Gi" -> "1536Mi", "0.5" -> "500m",
// "1000" -> "1k", "1e3" -> "1e3", "0.5Ki" -> "512".
//
// Comparison and equality are by value only ("1Ki" == "1024").
// Thread safety: a value type.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace api {

class Quantity {
 public:
  enum class Format { kBinarySI, kDecimalSI, kDecimalExponent };

  // Zero, decimal SI.
  Quantity() = default;

  // InvalidArgument for anything outside the grammar, with Kubernetes' message
  // "quantities must match the regular expression '...'" (plus the input).
  static base::StatusOr<Quantity> Parse(std::string_view text);

  // Exact integer quantities.
  static Quantity FromInt64(int64_t value, Format format = Format::kDecimalSI);
  static Quantity FromMilli(int64_t milli, Format format = Format::kDecimalSI);

  // The value rounded away from zero to an integer, like Kubernetes' Value().
  int64_t Value() const;
  // The value in thousandths, rounded away from zero; saturates at the int64
  // range (only values beyond ~9.2e15 saturate).
  int64_t MilliValue() const;
  // The value as a byte count: Value(), but InvalidArgument when negative and
  // OutOfRange when the input exceeded 2^63-1 (Kubernetes silently caps).
  base::StatusOr<int64_t> Bytes() const;

  bool IsZero() const { return nanos_ == 0; }
  int Sign() const { return nanos_ < 0 ? -1 : (nanos_ > 0 ? 1 : 0); }
  bool capped() const { return capped_; }
  Format format() const { return format_; }

  // Canonical Kubernetes text; "0" for zero.
  std::string String() const;

  // -1, 0, 1.
  int Compare(const Quantity& other) const;
  friend bool operator==(const Quantity& a, const Quantity& b) { return a.nanos_ == b.nanos_; }
  friend std::strong_ordering operator<=>(const Quantity& a, const Quantity& b) {
    return a.nanos_ <=> b.nanos_;
  }

 private:
  __int128 nanos_ = 0;  // value × 10^9; |value| ≤ 2^63-1 always fits
  Format format_ = Format::kDecimalSI;
  bool capped_ = false;
};

// 2^30.
inline constexpr int64_t kGiB = int64_t{1} << 30;

}  // namespace api
