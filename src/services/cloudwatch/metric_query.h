// The query engine behind GetMetricData and metric-math alarms: turns MetricDataQueries
// (MetricStat fetches and Expression queries) into time series over a window.
//
// Cost: each MetricStat is one series lookup + one range scan of that series over the window
// (MetricStore::statistics); expressions are evaluated once each, in dependency order, over
// the already-fetched series: O(queries × points in window). SEARCH() scans the account's
// series directory for the namespace (capped at kMaxSearchSeries matches, as AWS caps at 500).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/value.h"
#include "services/cloudwatch/metric_math.h"
#include "services/cloudwatch/metric_store.h"

namespace vigil::cloudwatch {

struct QueryMessage {
  std::string code, value;
};

struct QueryResult {
  std::string id, label;
  bool return_data = true;
  std::string status = "Complete";  // Complete | PartialData | InternalError
  std::vector<math::Series> series;  // a MetricStat gives one; an expression may give several
  std::vector<QueryMessage> messages;
  // What ${PROP('...')} of a dynamic label reads: MetricName, Namespace, Dim.<name>, Period,
  // Stat (MetricStat queries), MetricExpression (expressions), AccountId, Region.
  std::map<std::string, std::string> properties;
};

// Expands the dynamic values of a label (${AVG}, ${MAX}, ${LAST_TIME}, ${PROP('Dim.Host')},
// ${LABEL}...) from the series' points. `timezone_offset_s` is LabelOptions.Timezone's offset
// for the *_TIME values; `now_s` anchors the *_RELATIVE ones. Cost: O(points).
std::string expand_dynamic_label(const std::string& label, const std::string& default_label, const math::Series& series,
                                 const std::map<std::string, std::string>& properties, int64_t timezone_offset_s, int64_t now_s);

// The value of one statistic ("Average", "p99", "tm(10%:90%)"...) for a bucket; nullopt when
// the bucket has no value for it (an extended statistic over summary-only data).
std::optional<double> statistic_value(const StatBucket& bucket, const std::string& statistic);
// Whether AWS accepts `statistic` as a Stat: a standard statistic or an extended one.
bool valid_statistic(const std::string& statistic);

class AnomalyDetectors;

class MetricQueryEngine {
 public:
  explicit MetricQueryEngine(const MetricStore& store) : store_(store) {}
  // The models behind ANOMALY_DETECTION_BAND (optional: without them the function errors).
  void set_anomaly_detectors(AnomalyDetectors* detectors) { anomalies_ = detectors; }

  // Checks the queries as AWS does (ids, exactly one of MetricStat/Expression, periods,
  // statistics, expression syntax, one ReturnData for alarms when `for_alarm`) and throws
  // AwsError(ValidationError/InvalidParameterValue...) on the first problem. Then evaluates:
  // runtime errors of an expression go into that result's Messages, as AWS reports them.
  // `queries` is the MetricDataQueries list as the codec decoded it.
  std::vector<QueryResult> run(const std::string& account, const std::string& region, const Value& queries,
                               int64_t start_s, int64_t end_s, bool for_alarm = false) const;

  // One series for a metric + statistic over [start, end) at `period_s` (alarms on a single
  // metric use this directly). Points with no value for the statistic are left out.
  math::Series fetch(const std::string& account, const std::string& region, const SeriesId& id, const std::string& statistic,
                     int64_t period_s, std::optional<uint8_t> unit, int64_t start_s, int64_t end_s) const;

  static constexpr size_t kMaxSearchSeries = 500;

 private:
  std::vector<math::Series> search(const std::string& account, const std::string& region, const std::string& expression,
                                   const std::string& statistic, int64_t period_s, int64_t start_s, int64_t end_s) const;
  const MetricStore& store_;
  AnomalyDetectors* anomalies_ = nullptr;
};

}  // namespace vigil::cloudwatch
