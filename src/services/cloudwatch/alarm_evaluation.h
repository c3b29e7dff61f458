// Metric alarm state evaluation: a pure function from (alarm spec, datapoints, clock) to the
// new state and AWS's StateReason / StateReasonData texts.
//
// Rules (AWS user guide, "Evaluating an alarm" / "How alarm state is evaluated when data is
// missing", both tables reproduced in alarm_evaluation_test.cpp):
//  * CloudWatch looks at an *evaluation range* longer than EvaluationPeriods (N); Vigil uses
//    N + 2 periods (the guide's example retrieves 5 points for N = 3), see evaluation_range_periods.
//  * If at least N real points exist in the range, the N most recent real points are evaluated
//    and TreatMissingData is not used.
//  * Otherwise every real point in the range is evaluated and the remaining N - k slots are
//    filled per TreatMissingData (breaching / notBreaching); ignore keeps the current state
//    unless the real points decide it; missing goes INSUFFICIENT_DATA unless they decide it.
//  * ALARM iff at least DatapointsToAlarm (M) evaluated points breach, else OK.
//
// Cost: O(P log P) for P supplied points (one sort), a few string builds; called once per alarm
// per period by the evaluator, never on a request path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::cloudwatch {

enum class Comparison {
  GreaterThanOrEqualToThreshold,
  GreaterThanThreshold,
  LessThanThreshold,
  LessThanOrEqualToThreshold,
  LessThanLowerOrGreaterThanUpperThreshold,  // anomaly detection band
  LessThanLowerThreshold,
  GreaterThanUpperThreshold,
};

std::optional<Comparison> parse_comparison(std::string_view);
std::string_view comparison_name(Comparison);
bool is_band_comparison(Comparison);

struct AlarmSpec {
  Comparison comparison = Comparison::GreaterThanThreshold;
  double threshold = 0;
  int evaluation_periods = 1;
  int datapoints_to_alarm = 1;
  int64_t period_s = 60;
  std::string treat_missing_data = "missing";         // missing | ignore | breaching | notBreaching
  std::string evaluate_low_sample_count_percentile;   // "" | evaluate | ignore
  bool is_percentile = false;                         // extended statistic alarm
  std::string statistic;                              // "Average", "p99" ... for StateReasonData
  std::string unit;                                   // optional, for StateReasonData
  // Whether PutMetricAlarm carried DatapointsToAlarm. Alarms without it get AWS's short reason
  // form ("Threshold Crossed: 1 datapoint [...] was greater than the threshold (1.0).");
  // with it, the "M out of the last N datapoints ... (minimum M datapoints for ...)" form.
  bool datapoints_to_alarm_set = true;
};

struct EvaluatedPoint {
  int64_t timestamp_s;
  double value;
  double sample_count = 0;
  std::optional<double> lower{}, upper{};  // band bounds for anomaly alarms
};

struct Evaluation {
  std::string state;             // "OK" | "ALARM" | "INSUFFICIENT_DATA"
  std::string reason;            // StateReason; empty when the state is retained (ignore)
  std::string reason_data_json;  // StateReasonData; empty when the state is retained
  bool changed = false;          // state != current_state
};

// Number of periods (ending at window_end_s) whose points the caller should pass.
int evaluation_range_periods(const AlarmSpec& spec);

// points: datapoints of the evaluation range ending at window_end_s (period-aligned, exclusive),
// any order; points outside the range are ignored, a second point in one period replaces none
// (the first one supplied wins). now_ms is the query time written as queryDate.
Evaluation evaluate_alarm(const AlarmSpec& spec, const std::vector<EvaluatedPoint>& points,
                          int64_t window_end_s, const std::string& current_state, int64_t now_ms);

// Java Double.toString rendering used in AWS reasons: 5.0, 0.5, 1.2345E7, 1.0E-4.
std::string format_aws_double(double v);

}  // namespace vigil::cloudwatch
