// CloudWatch anomaly detection: the model behind PutAnomalyDetector, the metric-math function
// ANOMALY_DETECTION_BAND(m, k) and alarms with LessThanLowerOrGreaterThanUpperThreshold /
// LessThanLowerThreshold / GreaterThanUpperThreshold.
//
// Self-contained (standard library only; math::Series is a plain struct): the service fetches
// the metric's history at the detector's period and keeps the encoded model.
//
// What AWS documents and a user therefore expects:
// - training on up to two weeks of the metric's history, learning its trend and its hourly,
//   daily and weekly seasonality;
// - a band of expected values whose width k is in standard deviations (default 2);
// - ExcludedTimeRanges left out of training (deployments, incidents);
// - MetricTimezone shifting daily/weekly seasonality (the caller turns it into a fixed offset,
//   retraining when the offset changes, e.g. at a DST switch);
// - no band until there is enough history.
//
// The model (robust and cheap; an additive decomposition fitted with medians, so a few
// anomalies in the training data barely move it):
//   value(t) ~ intercept + slope*(t - t_ref) + daily(local hour, interpolated)
//              + weekly(local hour of week, step) + slot(position within the hour)
// - Which seasonality: weekly when the usable history spans 13+ days (every hour of week seen
//   in two weeks, so one odd day does not become "normal" for its weekday), daily with 2+ days,
//   none with less or when the period is over an hour (hour buckets would be mostly empty).
// - daily: 24 medians of the local hour of day, taken as the value at the hour's centre and
//   linearly interpolated between centres, so a smooth daily cycle is not a staircase (a
//   1-hour step on a daily sine is off by up to 13% of its amplitude; interpolated, under 1%).
// - weekly: 168 medians per local hour of week (Monday 00:00 first) of what the daily cycle
//   leaves, step-wise, so a weekend that starts at midnight starts at midnight in the band.
// - slot: medians per sub-hour slot (one period wide, at most 60 slots), the "hourly"
//   seasonality (cron jobs at :00); step-wise since such patterns are sharp.
// - trend: seasonal Theil-Sen, the median slope between hourly medians a whole number of
//   seasons (168 h / 24 h) apart, so seasonality cancels in every pair; only with 2+ days
//   (with less a daily cycle would look like a trend). Held flat outside
//   [first training point, trained_at + 2 days] so an old model does not run away.
// - daily, weekly, slots and intercept are fitted by alternating (backfitting) three rounds.
// - spread: 1.4826 * median |residual| (a robust std-dev) per local hour of day (interpolated),
//   shrunk toward the global value for thin hours, scaled up for the medians fitted (in-sample
//   residuals understate new errors), and floored at 1% of the typical |value| (1e-6 when
//   that is 0) so a flat series still gets a non-zero band. On Gaussian noise the band then
//   holds the nominal share: ~4.6% of normal points outside k=2, ~0.3% outside k=3.
// Limitations: sparse/spiky metrics (mostly 0 with occasional bursts) get a tight band around
// the typical value; AWS's PeriodicSpikes characteristic is not modelled.
//
// Costs: train O(n log n) time (n <= 14 days of points; 4,032 at a 300 s period train in
// ~2 ms, 20,160 at 60 s in ~10 ms) plus O(H^2) for the trend pairs (H <= 336 hours), O(n)
// memory; expected()/spread() O(1) per timestamp; the model is at most
// (24 + 168 + 60 + 24) doubles plus a header, ~2.3 KB encoded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "services/cloudwatch/metric_math.h"

namespace vigil::cloudwatch {

struct AnomalyTrainingOptions {
  std::vector<std::pair<int64_t, int64_t>> excluded_ranges;  // [start, end) epoch seconds, from Configuration.ExcludedTimeRanges
  int64_t timezone_offset_s = 0;                              // fixed offset; MetricTimezone handling is the caller's
};

class AnomalyModel {
 public:
  enum class Seasonality : uint8_t { kNone = 0, kDaily = 1, kWeekly = 2 };

  // AWS trains on up to two weeks; older history is ignored.
  static constexpr int64_t kTrainingWindowS = 14 * 86400;
  // "Enough" history: usable (not excluded, finite) points spanning at least 24 hours and at
  // least 12 of them. Less than a day cannot tell a daily cycle from an anomaly or a trend, so
  // a band from it would either alarm on the first evening or be uselessly wide; 12 points is
  // the least for a stable median/MAD.
  static constexpr int64_t kMinSpanS = 86400;
  static constexpr size_t kMinPoints = 12;

  // history: the metric's values at its period (e.g. 300 s) for up to 14 days before
  // `trained_at`, ascending. Points outside [trained_at - 14 days, trained_at), in an excluded
  // range, or non-finite (or beyond CloudWatch's +-2^360 value range) are ignored. Returns
  // nullopt when there is not enough history (see kMinSpanS/kMinPoints) or period_s <= 0.
  static std::optional<AnomalyModel> train(const math::Series& history, int64_t period_s,
                                           const AnomalyTrainingOptions& options, int64_t trained_at_s);

  // Expected value and the band's half-width unit (a robust std-dev estimate) at time t. O(1).
  double expected(int64_t t) const;
  double spread(int64_t t) const;

  // The band for timestamps: lower = expected - k*spread, upper = expected + k*spread
  // (k is taken as |k|). Labels are "<label> Lower" / "<label> Upper" (what metric_math
  // names them too); empty when label is empty, so metric_math fills them in. O(timestamps).
  std::pair<math::Series, math::Series> band(const std::vector<int64_t>& timestamps, double k,
                                             const std::string& label) const;

  // Compact serialization so a trained model can be kept: versioned little-endian fixed-width
  // fields; decode checks every length, count and value and returns nullopt on anything else.
  std::string encode() const;
  static std::optional<AnomalyModel> decode(std::string_view bytes);

  Seasonality seasonality() const { return seasonality_; }
  int64_t period_s() const { return period_s_; }
  int64_t trained_at_s() const { return trained_at_s_; }
  int64_t timezone_offset_s() const { return tz_offset_s_; }
  double slope_per_day() const { return slope_ * 86400.0; }

 private:
  AnomalyModel() = default;
  double trend(int64_t t) const;
  double season(int64_t t) const;
  double slot(int64_t t) const;

  Seasonality seasonality_ = Seasonality::kNone;
  int64_t period_s_ = 0;
  int64_t tz_offset_s_ = 0;
  int64_t trained_at_s_ = 0;
  int64_t t_first_ = 0;  // first training point: the trend is held flat before it
  int64_t t_ref_ = 0;    // trend reference time (intercept is the level there)
  double intercept_ = 0, slope_ = 0;  // slope per second
  std::vector<double> daily_;         // 0 or 24 local hours, values at hour centres (interpolated)
  std::vector<double> weekly_;        // 0 or 168 local hours of week (from Monday), step-wise
  int64_t slot_s_ = 0;                // width of a sub-hour slot; slots_.size() * slot_s_ == 3600
  std::vector<double> slots_;         // sub-hour ("hourly") seasonality, mean 0
  std::vector<double> spread_;        // 1 or 24 (local hour of day), all > 0
};

}  // namespace vigil::cloudwatch
