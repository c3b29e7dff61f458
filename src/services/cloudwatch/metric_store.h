// CloudWatch metrics: series identity and aggregated points in the store's Metrics keyspace.
//
// Keys (all in Keyspace::Metrics; integers big-endian so byte order is numeric order):
//   "S" account \0 region \0 namespace \0 name \0 dims     -> series id (8) + last put ms (8)
//       dims = each "name\x01value\x02", sorted by name: one canonical key per series, and a
//       prefix scan lists a namespace's (or a metric's) series in ListMetrics' order.
//   "P" series id (8) resolution (1) bucket start s (8) unit (1) write seq (8)
//                                                         -> Aggregate (format byte + 4 doubles)
//       A PutMetricData call folds its values per (series, resolution bucket, unit) in memory
//       and writes one record per group: no read-modify-write on the hot path. A query is a
//       range scan of one series' key range [start, end) per resolution that merges records
//       of the same bucket; nothing loads a whole history. Roll-ups/retention (later) rewrite
//       a bucket range into one record and range-delete the originals, the resolution byte
//       before the time lets them drop a resolution's old points with one erase_range.
//   "C"                                                   -> next series id (8)
// Aggregate's format byte leaves room for a mergeable percentile sketch after the doubles.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "store/store.h"

namespace vigil::cloudwatch {

using Dimensions = std::vector<std::pair<std::string, std::string>>;  // sorted by name

struct Aggregate {
  double count = 0, sum = 0, min = 0, max = 0;
  void add(double value, double n = 1);
  void merge(const Aggregate& other);
  std::string encode() const;
  static std::optional<Aggregate> decode(std::string_view bytes);
};

// One datum of PutMetricData after validation: its series, where its points fall, and the
// points already folded into one aggregate (Value, Values/Counts or StatisticValues).
struct PointBatch {
  std::string namespace_, metric_name;
  Dimensions dimensions;
  int64_t timestamp_ms = 0;
  int storage_resolution = 60;  // 1 or 60
  uint8_t unit = 0;             // index into units(); 0 is "None"
  Aggregate aggregate;
};

struct SeriesId {
  std::string namespace_, metric_name;
  Dimensions dimensions;
};

struct StatBucket {
  int64_t start_s = 0;
  uint8_t unit = 0;
  Aggregate aggregate;
};

struct ListedSeries {
  SeriesId id;
  std::string key;  // the store key, for NextToken
};

// The StandardUnit names; a unit is stored as its index.
const std::vector<std::string>& units();
std::optional<uint8_t> unit_index(std::string_view name);

class MetricStore {
 public:
  MetricStore(store::Store& store, const Clock& clock);
  // Reads the series directory (one record per series) into memory: O(series).
  void load();

  // Cost: one hash lookup per datum (a new series adds one put), one record per distinct
  // (series, bucket, unit) of the call, one synced write for the whole call.
  void put(const std::string& account, const std::string& region, const std::vector<PointBatch>& points);

  // Cost: one series lookup, then a range scan of that series over [start, end) for each
  // storage resolution: O(records in range). Buckets are aligned to `period` seconds.
  // unit: filter, or nullopt for all units (buckets of different units stay separate).
  std::vector<StatBucket> statistics(const std::string& account, const std::string& region, const SeriesId& series,
                                     int64_t start_s, int64_t end_s, int64_t period_s, std::optional<uint8_t> unit) const;

  // Cost: a prefix scan of the account/region's series directory (narrowed to a namespace,
  // and a metric name when given) from `after_key`, stopping at `limit` matches.
  struct ListFilter {
    std::optional<std::string> namespace_, metric_name;
    std::vector<std::pair<std::string, std::optional<std::string>>> dimensions;
    std::optional<int64_t> active_since_ms;
  };
  std::vector<ListedSeries> list(const std::string& account, const std::string& region, const ListFilter& filter,
                                 const std::string& after_key, size_t limit, bool* more) const;

  void reset();

 private:
  struct SeriesInfo {
    uint64_t id;
    int64_t last_put_ms;
  };
  store::Store& store_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, SeriesInfo> series_;  // by series key
  uint64_t next_id_ = 1;
  std::atomic<uint64_t> write_seq_;
};

std::string series_key(const std::string& account, const std::string& region, const SeriesId& id);

}  // namespace vigil::cloudwatch
