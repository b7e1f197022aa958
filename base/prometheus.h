// The Prometheus text exposition format (version 0.0.4), written for every
// program's /metrics: families with HELP and TYPE, samples with escaped label
// values, histograms. Checked with `promtool check metrics` in the tests.
//
// Thread safety: a TextWriter and a Histogram are values; callers that share
// one between threads lock around it.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace base::prom {

struct Label {
  std::string_view name;
  std::string_view value;
};
using Labels = std::initializer_list<Label>;

// Escapes a label value: backslash, double quote and newline.
std::string EscapeLabelValue(std::string_view v);
// The shortest text that reads back as the same double; "+Inf", "-Inf", "NaN".
std::string FormatValue(double v);

// Bucket counts for one histogram series; Observe() is O(buckets).
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds)
      : bounds_(std::move(upper_bounds)), counts_(bounds_.size(), 0) {}
  void Observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  const std::vector<uint64_t>& counts() const { return counts_; }  // not cumulative
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  double sum_ = 0;
};

class TextWriter {
 public:
  // "# HELP name help" and "# TYPE name type" (counter, gauge, histogram).
  void Family(std::string_view name, std::string_view type, std::string_view help);
  void Sample(std::string_view name, Labels labels, double value);
  void Sample(std::string_view name, Labels labels, uint64_t value);
  void Sample(std::string_view name, Labels labels, int64_t value);
  // name_bucket{...,le="b"} (cumulative) for every bound and +Inf, name_sum, name_count.
  void HistogramSeries(std::string_view name, Labels labels, const Histogram& h);

  const std::string& text() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void Series(std::string_view name, Labels labels, std::string_view le = {});
  std::string out_;
};

}  // namespace base::prom
