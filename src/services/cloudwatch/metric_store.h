// CloudWatch metrics: series identity and aggregated points in the store's Metrics keyspace.
//
// Keys (all in Keyspace::Metrics; integers big-endian so byte order is numeric order):
//   "S" account \0 region \0 namespace \0 name \0 dims     -> series id (8) + last put ms (8)
//       dims = each "name\x01value\x02", sorted by name: one canonical key per series, and a
//       prefix scan lists a namespace's (or a metric's) series in ListMetrics' order.
//   "P" series id (8) resolution code (1) bucket start s (8) unit (1) write seq (8)
//                                                         -> Aggregate (format byte + 4 doubles)
//       A raw record. A PutMetricData call folds its values per (series, resolution bucket,
//       unit) in memory and writes one record per group: no read-modify-write on the hot path.
//       Resolution codes: 1 = 1 s, 60 = 60 s, 150 = 5 min, 240 = 1 h (see kLevels).
//   "P" series id (8) day block code (1) day start s (8)        -> point_block
//   "P" series id (8) hour block code (1) hour start s (8)      -> point_block
//       Blocks (encode_point_block): the settled points of one series and resolution, packed
//       by compact(). Points older than 2 hours are folded into their hour's block (so a
//       compaction run rewrites at most an hour of points per series, not a growing day);
//       once the whole UTC day is older than 2 hours its hour blocks, raw records and any late
//       points become one day block (the dense, long-lived form: ~1 key per series per day).
//       Codes: day block = resolution code + 1, hour block = resolution code + 2, so raw
//       records, hour blocks and day blocks are three key ranges of the series' range and
//       compaction finds its work with bounded seeks, without stepping over blocks.
//   A query reads the series' whole key range through ONE iterator (one snapshot), seeking to
//   [start, end) in each resolution's raw and block ranges and merging records of the same
//   bucket: compaction rewrites records atomically (one batch), so a reader sees either the
//   records before a compaction step or after it, never both. Nothing loads a whole history.
//   Retention and roll-ups (compact(), as AWS): 1 s points are kept 3 hours, then rolled up
//   into 60 s buckets; 60 s kept 15 days, then 5 min; 5 min kept 63 days, then 1 h; 1 h kept
//   455 days, then deleted. Raw 60 s/5 min/1 h records older than 2 hours are packed into
//   blocks (above). Compaction deletes exactly the raw keys it read (point deletes, never a
//   range), so a late PutMetricData into a range being compacted is never lost.
//   "C"                                                   -> next series id (8)
//   "W" generation (8) write seq (8)                      -> staged entries of one put() call
//       The write-ahead form of acknowledged points (see "Staging" below): each entry is
//       series id (8) code (1) bucket start s (8) unit (1) then 0 + value (8) for a single
//       value, or 1 + length (varint) + Aggregate.
// Staging (why: a 1 000-datum call used to insert 1 000 records into the memtable inside its
// synced write, a third of the CPU at 380 000 datapoints/s): put() writes ONE "W" record per
// call (synced: the call is durable when acknowledged) and folds its points into an in-memory
// generation, keyed by (series, resolution, bucket, unit), where repeated puts to the same
// bucket merge. flush_staged() (the scheduler, every second; compact(); a full generation)
// swaps in a new generation, waits for the old one's in-flight calls, and writes its merged
// points as "P" raw records together with the deletion of that generation's "W" range, in one
// atomic batch. load() replays leftover "W" records the same way, so a crash loses nothing
// and never counts a point twice. statistics() merges the staged points of the series with
// the stored ones; it reads staging and opens its snapshot under the same lock the flush holds
// while publishing, so a point is seen exactly once.
// Aggregate's format byte: 1 = the four doubles (all values were equal: the sketch is
// rebuilt from min and count on decode), 2 = the doubles then the percentile sketch.
#pragma once

#include <array>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "services/cloudwatch/quantile_sketch.h"
#include "store/store.h"

namespace vigil::cloudwatch {

using Dimensions = std::vector<std::pair<std::string, std::string>>;  // sorted by name

struct Aggregate {
  double count = 0, sum = 0, min = 0, max = 0;
  // Values for percentiles and the other extended statistics (1% relative error). Empty for
  // data put as StatisticValues with Minimum != Maximum: AWS has no percentiles for those.
  QuantileSketch sketch;
  void add(double value, double n = 1);
  // count/sum/min/max only, for reads that need no extended statistic (the sketch is the
  // costly part of reading a bucket: a log and an allocation).
  void add_plain(double value);
  void merge(const Aggregate& other);
  std::string encode() const;
  static std::optional<Aggregate> decode(std::string_view bytes, bool with_sketch = true);
  // The four doubles of an encoded aggregate only (false when malformed), and their merge:
  // the read path of basic statistics, which needs no sketch.
  static bool decode_plain(std::string_view bytes, double& count, double& sum, double& min, double& max);
  void merge_plain(double count, double sum, double min, double max);
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

  // Cost: one hash lookup per datum (a new series adds one directory put), one staged-map
  // merge per distinct (series, bucket, unit) of the call, ONE record and one synced write for
  // the whole call.
  void put(const std::string& account, const std::string& region, const std::vector<PointBatch>& points);

  // Writes the staged points as point records (see "Staging" above). Cost: one map walk and
  // one batch write of one record per distinct staged (series, bucket, unit). Calls are
  // serialized; safe with concurrent put() and statistics().
  void flush_staged();
  size_t staged_entries() const;

  // Cost: one series lookup, then a range scan of that series over [start, end) in each
  // resolution's raw and block ranges (blocks from the day holding `start`): O(records in
  // range + points of the blocks touched). Buckets are aligned to `period` seconds.
  // unit: filter, or nullopt for all units (buckets of different units stay separate).
  // with_sketch: false when no extended statistic is wanted (the buckets' sketches stay empty).
  std::vector<StatBucket> statistics(const std::string& account, const std::string& region, const SeriesId& series,
                                     int64_t start_s, int64_t end_s, int64_t period_s, std::optional<uint8_t> unit,
                                     bool with_sketch = true) const;

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

  // Roll-ups, retention and packing (see the top of this file), as of the injected clock:
  // one series, resolution and chunk (one hour of 1 s records, one day otherwise) at a time;
  // chunks are written in synced batches of at most ~4 MB (a chunk never spans two batches),
  // so memory is bounded by one chunk plus one batch. A chunk's keys (one series' raw records
  // and blocks of one day) are touched by no other chunk of the same run. Concurrent put() and
  // statistics() are safe: a chunk deletes exactly the raw records it read (never a range a
  // concurrent late put could write into) and replaces them atomically. Cost per call: a few
  // seeks per series and resolution when there is nothing to do; otherwise proportional to
  // the records folded plus one block (at most one day of points) read and written per day
  // touched. Calls are serialized.
  struct CompactionStats {
    uint64_t chunks = 0, raw_records_read = 0, blocks_read = 0, blocks_written = 0, blocks_deleted = 0,
             hour_blocks_written = 0, rolled_records_written = 0, points_dropped = 0;
  };
  void compact();
  CompactionStats last_compaction() const;

  // Resolution levels (storage resolution in seconds, how long it is kept, key codes).
  struct Level {
    int64_t resolution_s;
    int64_t keep_s;
    uint8_t raw_code, block_code, hour_code;  // block codes 0: never packed (1 s points live 3 hours)
    int64_t chunk_s;
  };
  static const Level kLevels[4];
  static constexpr int64_t kPackAfterS = 2 * 3600;
  static constexpr int64_t kBlockSpanS = 86400;

 private:
  void compact_series(uint64_t id, int64_t now_s, std::optional<store::WriteBatch>& batch, CompactionStats& stats);
  // Writes `batch` (synced) once it holds ~4 MB, or whenever `force`; then starts a new one.
  void flush_compaction(std::optional<store::WriteBatch>& batch, bool force);
  // False when raw records it read were left in place (an unreadable block): the level is then
  // not known to be packed below raw_limit.
  bool compact_chunk(uint64_t id, size_t level, int64_t lo, int64_t hi, int64_t cutoff, int64_t raw_limit,
                     int64_t settled_limit, std::optional<store::WriteBatch>& batch, CompactionStats& stats);

  // Staging: one generation receives put()'s points until flush_staged() swaps it out.
  struct StagedBucket {
    uint8_t code;
    int64_t bucket;
    uint8_t unit;
    bool operator<(const StagedBucket& o) const { return std::tie(code, bucket, unit) < std::tie(o.code, o.bucket, o.unit); }
  };
  struct StagingShard {
    std::mutex mutex;
    std::unordered_map<uint64_t, std::map<StagedBucket, Aggregate>> series;
  };
  struct Generation {
    static constexpr size_t kShards = 16;  // puts of different series rarely meet on a lock
    uint64_t number = 0;
    StagingShard shards[kShards];
    std::atomic<size_t> entries{0};
    size_t in_flight = 0;  // puts that took this generation and have not merged yet (staging_mutex_)
  };
  std::shared_ptr<Generation> enter_generation();
  void leave_generation(const std::shared_ptr<Generation>& generation);
  // Writes `generation`'s points and deletes its "W" records in one atomic batch.
  void write_generation(Generation& generation);
  void replay_staged();
  void load_locked();  // compact_mutex_ held
  static constexpr size_t kMaxStagedEntries = 200'000;  // bounds memory (~100 B each) and one flush batch

  mutable std::mutex staging_mutex_;
  std::condition_variable generation_idle_;
  std::shared_ptr<Generation> current_;
  std::vector<std::shared_ptr<Generation>> flushing_;  // swapped out, not yet published
  // Held exclusively while a flush publishes (writes its batch and drops the generation);
  // shared by statistics() while it copies staged points and opens its snapshot.
  mutable std::shared_mutex publish_mutex_;
  std::mutex flush_mutex_;

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
  mutable std::mutex compact_mutex_;
  CompactionStats last_compaction_;

  // Raw-record watermarks, in memory (why: compaction deletes the raw records it packs with
  // point deletes, and until RocksDB drops those tombstones a read that seeks to the start of
  // its window steps over every one of them: a packed day read twice as slow as an unpacked
  // one). Per series and level: below `packed_below` no raw record exists except late ones
  // written since, all at or above `late_min`; a read seeks its raw range from
  // min(packed_below, late_min). `window_min` collects the buckets written while a compaction
  // of the series and level is between its first read and its commit (those records may not
  // have been packed). Guarded by publish_mutex_: written exclusively together with the write
  // they describe, read by statistics() with its snapshot. Empty after a restart (reads then
  // scan the whole window until the first compaction). O(series) memory.
  struct RawWatermark {
    int64_t packed_below = 0;
    int64_t late_min = INT64_MAX;
    int64_t window_min = INT64_MAX;
    bool in_window = false;
  };
  std::unordered_map<uint64_t, std::array<RawWatermark, 4>> raw_watermarks_;
  // Compaction's watermark changes, applied when the batch holding their chunks commits
  // (compact_mutex_): a level fully packed below raw_limit, or a rolled record written into a
  // coarser level.
  struct PackedLevel {
    uint64_t id;
    size_t level;
    int64_t raw_limit;
  };
  struct RolledRecord {
    uint64_t id;
    size_t level;
    int64_t bucket;
  };
  std::vector<PackedLevel> pending_packed_;
  std::vector<RolledRecord> pending_rolled_;
  void apply_pending_watermarks();  // publish_mutex_ held exclusively
  static size_t level_of_raw_code(uint8_t code);
};

std::string series_key(const std::string& account, const std::string& region, const SeriesId& id);

}  // namespace vigil::cloudwatch
