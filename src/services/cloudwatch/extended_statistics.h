// CloudWatch's extended statistics: parsing the names AWS accepts and computing them from a
// bucket's QuantileSketch (plus its exact count/sum/min/max).
//
// Names (AWS "CloudWatch statistics definitions", Syntax section):
//   p99, p99.9, p0 .. p100        percentile; AWS's pattern p(\d{1,2}(\.\d{0,2})?|100)
//   tm90 / wm90 / tc90 / ts90     lowercase with one number = the range 0%..X%, X in [0,100]
//                                 with up to 10 decimals (tm99 == TM(:99%))
//   TM(a%:b%) TM(a%:) TM(:b%)     uppercase with parentheses: percentile bounds (same for WM,
//   TM(a:b)   TM(a:)  TM(:b)      TC, TS), or absolute value bounds (a, b]: lower exclusive,
//                                 upper inclusive; bounds not mixed, at least one given, a < b
//   PR(a:b) PR(:b) PR(a:)         percent of values in (a, b]; absolute bounds only
//   IQM                           == TM(25%:75%)
// Lowercase only takes a single number and uppercase only takes parentheses, as AWS documents.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "services/cloudwatch/quantile_sketch.h"

namespace vigil::cloudwatch {

enum class ExtendedKind { Percentile, TrimmedMean, WinsorizedMean, TrimmedCount, TrimmedSum, PercentileRank };

struct ExtendedStatistic {
  ExtendedKind kind = ExtendedKind::Percentile;
  double percentile = 0;  // Percentile only: 0..100
  // Range kinds: bounds, nullopt = open end. `percent`: bounds are percentiles (0..100) over the
  // value order; otherwise absolute values and the range is (lower, upper].
  bool percent = true;
  std::optional<double> lower, upper;
  std::string name;  // as requested: AWS echoes it as the result key
};

// nullopt for a name AWS rejects (the caller answers InvalidParameterValue).
std::optional<ExtendedStatistic> parse_extended_statistic(std::string_view name);

// A normalized spelling ("p99", "TM(10%:90%)", "PR(:300)"); tm90 -> "TM(:90%)", IQM -> "TM(25%:75%)".
std::string canonical_name(const ExtendedStatistic& stat);

// The statistic for one bucket. count/sum/min/max are the bucket's exact Aggregate; `sketch`
// holds its raw values. The caller adds a StatisticValues set with Min == Max to the sketch as
// add(min, count); sets with Min != Max can't be added, and then (sketch missing part of
// `count`) AWS reports no value: nullopt, unless min == max (every value is that value).
// nullopt also when count is 0 and for TM with an empty range; TC/TS of an empty range are 0,
// PR of an empty range is 0.
// Cost: O(sketch key range) (a walk over the buckets; percentile bounds add two quantile walks).
std::optional<double> compute_extended_statistic(const ExtendedStatistic& stat, const QuantileSketch& sketch,
                                                 double count, double sum, double min, double max);

}  // namespace vigil::cloudwatch
