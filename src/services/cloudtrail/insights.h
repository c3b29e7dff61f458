// CloudTrail Insights' detector, without HTTP and without trails: it learns, per account,
// region and API, how many calls a period (a minute by default) are normal and reports unusual
// bursts as Insights event pairs (Start, End) in AWS's record format.
//
// What counts (AWS's definitions, management events only):
//   ApiCallRateInsight   write management calls, per (eventSource, eventName), failed or not;
//   ApiErrorRateInsight  management calls with an errorCode, per (eventSource, eventName,
//                        errorCode) (ListInsightsMetricData's ErrorCode dimension).
//
// The rule. For a closed period m of a series, the baseline is the periods of the last
// `baseline_seconds` before m (never before learning began: enable()), zero periods included,
// anomalous periods excluded (so a burst does not raise its own bar). With mean μ and standard
// deviation σ of that baseline:
//     threshold = max(μ + sigmas·σ, ratio·μ, μ + floor)        (defaults 3, 2, 10)
// A series that is not in an Insight starts one (Start event, eventTime = the period's start)
// when it has learnt for at least `min_history_seconds` and its count is above the threshold.
// The Insight ends (End event, same sharedEventID, eventTime = the end of the last unusual
// period) with the first period whose count is at or below the threshold of the baseline frozen
// at Start. Durations (insightDuration, baselineDuration) are in periods: minutes, as AWS
// reports them, with the default period.
//
// Costs. count() (every analysed API call): the series key built (a short string, per type
// that applies) and one hash-map increment under a mutex, plus up to 3 scans of at most 5 short
// strings for the attributions; no store write. tick() (the scheduler, every second; work only
// when a period closed): O(series) per closed period, and one buffered WriteBatch holding the
// closed period's count of each series that had calls, the changed series states and the
// evicted periods. Insights events themselves are rare.
// Memory: per series, one 16-byte entry per period with calls (or anomalous) in the baseline
// window, plus a few attribution counters; series with nothing in the window are dropped.
//
// State in the store's Meta keyspace (survives restarts; the open period's counts do not):
//   ct:ie: account \0 type                -> learning start (epoch seconds, text)
//   ct:is: series                          -> series state JSON (open Insight, attributions)
//   ct:in: series \0 period(8)             -> count(8) excluded(1)
//   ct:il:                                 -> last closed period (8)
// where series = account \0 region \0 type \0 eventSource \0 eventName \0 errorCode.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/value.h"
#include "store/store.h"

namespace vigil::cloudtrail {

enum InsightType : uint8_t { kApiCallRate = 1, kApiErrorRate = 2 };
std::string_view insight_type_name(InsightType type);

struct InsightsOptions {
  int64_t period_seconds = 60;                // AWS counts calls per minute
  int64_t baseline_seconds = 7 * 24 * 3600;   // AWS: a 7-day baseline
  int64_t min_history_seconds = 36 * 3600;    // AWS: first Insights up to 36 h after enabling
  double sigmas = 3;
  double ratio = 2;
  double floor = 10;  // calls (or errors) a period above the mean, at least
};

// One API call as the detector sees it (fields of its CloudTrail record).
struct InsightCall {
  std::string_view account, region, event_source, event_name, error_code, user_arn, user_agent;
  bool read_only = false;
  double time = 0;  // epoch seconds
};

struct InsightEvent {
  std::string account, region;
  Value record;  // the Insights event, AWS's format
};

class InsightDetector {
 public:
  InsightDetector(store::Store& store, const Clock& clock, InsightsOptions options = {});

  void load();   // reads the state from the store (startup)
  void reset();  // after the store was cleared
  const InsightsOptions& options() const { return options_; }

  // Learning for the account and type begins now (kept if it already began). Trails call this
  // when an Insights selector of the type exists in the account...
  void enable(const std::string& account, InsightType type);
  // ...and this when none is left: the account's learnt state for the type is forgotten.
  void disable(const std::string& account, InsightType type);
  bool enabled(const std::string& account, InsightType type) const;

  // The hot path: counts a management call for the types in `types` (a mask of InsightType)
  // that apply to it (write calls for ApiCallRate, calls with an errorCode for ApiErrorRate).
  void count(const InsightCall& call, uint8_t types);

  // Closes every period that ended before now and returns the Insights events it produced.
  std::vector<InsightEvent> tick();

  // ListInsightsMetricData for the caller's account and region (management events): the stored
  // counts of one series summed into Period-second points (60, 300 or 3600; a multiple of
  // period_seconds), StartTime inclusive, EndTime exclusive, NonZeroData or FillWithZeros,
  // MaxResults/NextToken. What is stored is what the baseline needs: the closed periods of the
  // last baseline_seconds (7 days by default; AWS keeps 15 days of 1-minute points, 63 of
  // 5-minute and 90 of hourly ones), only while the account analyses the type, and not the
  // period still open. InvalidParameterException for bad input.
  Value metric_data(const std::string& account, const std::string& region, const Value& input) const;

 private:
  // Top values of one attribution (userIdentityArn, userAgent, errorCode), at most kTop.
  struct TopValues {
    std::vector<std::pair<std::string, uint64_t>> values;
    void add(std::string_view value, uint64_t n);
    uint64_t total() const;
  };
  static constexpr size_t kAttributes = 3;
  struct Pending {  // one series in the open period
    uint64_t count = 0;
    TopValues attributes[kAttributes];
  };
  struct Period {
    int64_t period;
    uint64_t count;
    bool excluded;  // anomalous: not part of the baseline
  };
  struct Series {
    std::string account, region, source, name, error_code;
    InsightType type = kApiCallRate;
    std::deque<Period> periods;  // periods with calls or anomalous, oldest first, in the window
    double sum = 0, sum_squares = 0;  // of the baseline periods in `periods`
    int64_t excluded = 0;
    // Baseline attributions: shares of each value (halved as they grow, so recent ones weigh).
    TopValues baseline_attributes[kAttributes];
    // The open Insight, if any.
    bool active = false;
    std::string shared_id;
    int64_t start = 0;
    double base_mean = 0, base_sigma = 0;
    int64_t base_periods = 0;
    uint64_t total = 0;
    TopValues insight_attributes[kAttributes];
  };

  // The series a key of series_key() names (nullopt for a malformed key); no periods yet.
  static std::optional<Series> series_from_key(const std::string& key);
  static std::string series_key(std::string_view account, std::string_view region, InsightType type, std::string_view source,
                                std::string_view name, std::string_view error_code);
  void bump(const std::string& series, int64_t period, const InsightCall& call);
  void close_period(int64_t period, store::WriteBatch& batch, std::vector<InsightEvent>& events);
  double threshold(double mean, double sigma) const;
  Value make_record(const Series& s, bool start, int64_t at_period, double insight_average, int64_t duration,
                    const TopValues (&insight_attributes)[kAttributes], double baseline_mean, int64_t baseline_periods) const;
  Value state_json(const Series& s) const;
  void state_from_json(Series& s, const Value& v) const;
  int64_t period_of(double seconds) const;

  store::Store& store_;
  const Clock& clock_;
  InsightsOptions options_;
  mutable std::mutex mutex_;
  std::map<std::string, double> since_;  // account \0 type -> learning start
  // Open periods' counts: series \0 period(8) -> counts. Holds the current period (and the
  // previous one until the next tick closes it).
  std::unordered_map<std::string, Pending> pending_;
  std::map<std::string, Series> series_;
  int64_t last_closed_ = 0;
};

}  // namespace vigil::cloudtrail
