// base::prom: the text exposition format.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <string>

#include "base/prometheus.h"

TEST_CASE("families, samples and escaped labels in the text format") {
  base::prom::TextWriter w;
  w.Family("km_things_total", "counter", "Things.\nWith a \\ backslash.");
  w.Sample("km_things_total", {{"kind", "a\"b"}, {"node", "n\\1\n"}}, uint64_t{3});
  w.Sample("km_plain", {}, int64_t{-2});
  w.Sample("km_ratio", {{"x", "y"}}, 0.1);
  CHECK(w.text() ==
        "# HELP km_things_total Things.\\nWith a \\\\ backslash.\n"
        "# TYPE km_things_total counter\n"
        "km_things_total{kind=\"a\\\"b\",node=\"n\\\\1\\n\"} 3\n"
        "km_plain -2\n"
        "km_ratio{x=\"y\"} 0.1\n");
}

TEST_CASE("special values are written as Prometheus spells them") {
  CHECK(base::prom::FormatValue(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(base::prom::FormatValue(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(base::prom::FormatValue(std::nan("")) == "NaN");
  CHECK(base::prom::FormatValue(2.5e-7) == "2.5e-07");
  CHECK(base::prom::FormatValue(1e6) == "1000000");
}

TEST_CASE("a histogram is cumulative, ends with +Inf, and carries its labels") {
  base::prom::Histogram h({1, 10});
  h.Observe(0.5);
  h.Observe(1);
  h.Observe(5);
  h.Observe(100);
  base::prom::TextWriter w;
  w.HistogramSeries("km_d_seconds", {{"result", "ok"}}, h);
  CHECK(w.text() ==
        "km_d_seconds_bucket{result=\"ok\",le=\"1\"} 2\n"
        "km_d_seconds_bucket{result=\"ok\",le=\"10\"} 3\n"
        "km_d_seconds_bucket{result=\"ok\",le=\"+Inf\"} 4\n"
        "km_d_seconds_sum{result=\"ok\"} 106.5\n"
        "km_d_seconds_count{result=\"ok\"} 4\n");
}
