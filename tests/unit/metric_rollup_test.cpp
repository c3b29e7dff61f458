// CloudWatch metric retention, roll-ups and block packing: the point_block codec round-trips
// bit-exactly, and MetricStore::compact() keeps every statistic of any period that is a
// multiple of the coarser resolution while enforcing AWS's retention windows.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "core/clock.h"
#include "services/cloudwatch/metric_store.h"
#include "services/cloudwatch/point_block.h"
#include "store/store.h"
#include "temp_dir.h"

namespace vigil::cloudwatch {
namespace {

constexpr char kAccount[] = "000000000000";
constexpr char kRegion[] = "us-east-1";
constexpr int64_t kDay = 86400;
constexpr int64_t kStart = 1'700'006'400;  // a UTC day boundary

uint64_t bits(double d) {
  uint64_t b;
  std::memcpy(&b, &d, 8);
  return b;
}

void expect_same(const Aggregate& a, const Aggregate& b) {
  EXPECT_EQ(a.count, b.count);
  EXPECT_EQ(bits(a.sum), bits(b.sum));
  EXPECT_EQ(bits(a.min), bits(b.min));
  EXPECT_EQ(bits(a.max), bits(b.max));
  EXPECT_EQ(a.sketch.total_count(), b.sketch.total_count());
  if (a.sketch.total_count() == 0) return;
  for (double q : {0.01, 0.5, 0.9, 0.99}) EXPECT_EQ(a.sketch.quantile(q), b.sketch.quantile(q)) << q;
}

std::vector<BlockPoint> round_trip(const std::vector<BlockPoint>& points, int64_t start, int64_t res, size_t* size = nullptr) {
  std::string bytes = encode_point_block(start, res, points);
  if (size) *size = bytes.size();
  std::vector<BlockPoint> out;
  EXPECT_TRUE(decode_point_block(bytes, start, res, out));
  EXPECT_EQ(out.size(), points.size());
  for (size_t i = 0; i < std::min(out.size(), points.size()); ++i) {
    EXPECT_EQ(out[i].bucket_s, points[i].bucket_s);
    EXPECT_EQ(out[i].unit, points[i].unit);
    expect_same(out[i].aggregate, points[i].aggregate);
  }
  return out;
}

BlockPoint simple(int64_t t, double v, uint8_t unit = 0) {
  BlockPoint p{t, unit, {}};
  p.aggregate.add(v);
  return p;
}

TEST(MetricRollupBlock, GaugesPackToAboutTheirEntropy) {
  // A CPU-like random walk with one decimal, steps of at most 0.5 (11 possible steps, 3.5
  // bits of entropy): well under a byte per point.
  std::mt19937 rng(7);
  std::vector<BlockPoint> points;
  double v = 40;
  for (int i = 0; i < 1440; ++i) {
    v = std::clamp(v + static_cast<int>(rng() % 11) / 10.0 - 0.5, 0.0, 100.0);
    points.push_back(simple(kStart + i * 60, std::round(v * 10) / 10));
  }
  size_t size = 0;
  round_trip(points, kStart, 60, &size);
  EXPECT_LT(size, 1440u * 6 / 10);
  // Two decimals, steps up to 1.00 (201 possible steps, 7.65 bits): about one byte.
  points.clear();
  for (int i = 0; i < 1440; ++i) {
    v = std::clamp(v + static_cast<int>(rng() % 201) / 100.0 - 1.0, 0.0, 100.0);
    points.push_back(simple(kStart + i * 60, std::round(v * 100) / 100));
  }
  round_trip(points, kStart, 60, &size);
  EXPECT_LT(size, 1440u * 11 / 10);
}

TEST(MetricRollupBlock, IntegersCountersGapsUnitsAndFullAggregates) {
  std::vector<BlockPoint> points;
  for (int i = 0; i < 100; ++i) points.push_back(simple(kStart + i * 60, 1000 + i * 17));  // counter: dod
  points.push_back(simple(kStart + 200 * 60, -3.5, 4));                                     // a gap, another unit
  points.push_back(simple(kStart + 200 * 60, 1.0 / 3.0, 5));                                // same bucket, not decimal
  BlockPoint full{kStart + 300 * 60, 0, {}};
  for (double x : {1.0, 2.0, 7.25, 100.0}) full.aggregate.add(x);
  points.push_back(full);
  BlockPoint stats{kStart + 301 * 60, 0, {}};  // StatisticValues: no sketch
  stats.aggregate = Aggregate{5, 20, 1, 9, {}};
  points.push_back(stats);
  points.push_back(simple(kStart + 302 * 60, -0.0));
  points.push_back(simple(kStart + 303 * 60, 1e300));
  round_trip(points, kStart, 60);
  size_t counter_size = 0;
  round_trip(std::vector<BlockPoint>(points.begin(), points.begin() + 100), kStart, 60, &counter_size);
  EXPECT_LT(counter_size, 30u);  // delta of delta is 0: ~width 0 groups
  round_trip({}, kStart, 60);
  round_trip({full}, kStart, 60);
}

TEST(MetricRollupBlock, RejectsMalformedBytes) {
  std::vector<BlockPoint> points;
  for (int i = 0; i < 50; ++i) points.push_back(simple(kStart + i * 60, i * 0.1));
  std::string bytes = encode_point_block(kStart, 60, points);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    std::vector<BlockPoint> out;
    EXPECT_FALSE(decode_point_block(std::string_view(bytes).substr(0, cut), kStart, 60, out)) << cut;
  }
  std::mt19937 rng(1);
  for (int i = 0; i < 2000; ++i) {  // never crashes on garbage
    std::string junk = bytes;
    junk[rng() % junk.size()] = static_cast<char>(rng());
    std::vector<BlockPoint> out;
    decode_point_block(junk, kStart, 60, out);
  }
}

class MetricRollupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = vigil::testing::make_temp_dir("vigil-rollup");
    open();
  }
  void TearDown() override {
    metrics_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void open() {
    metrics_.reset();
    store_.reset();
    store_ = store::Store::open(dir_);
    metrics_ = std::make_unique<MetricStore>(*store_, clock_);
    metrics_->load();
  }
  PointBatch point(double v, int64_t ts_s, int resolution = 60, std::string host = "a") {
    PointBatch p;
    p.namespace_ = "App";
    p.metric_name = "Lat";
    p.dimensions = {{"Host", host}};
    p.timestamp_ms = ts_s * 1000;
    p.storage_resolution = resolution;
    p.aggregate.add(v);
    return p;
  }
  SeriesId series(std::string host = "a") { return SeriesId{"App", "Lat", {{"Host", host}}}; }
  std::vector<StatBucket> stats(int64_t start, int64_t end, int64_t period, std::string host = "a") {
    return metrics_->statistics(kAccount, kRegion, series(host), start, end, period, std::nullopt);
  }
  static void expect_same(const std::vector<StatBucket>& a, const std::vector<StatBucket>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].start_s, b[i].start_s);
      EXPECT_EQ(a[i].unit, b[i].unit);
      vigil::cloudwatch::expect_same(a[i].aggregate, b[i].aggregate);
    }
  }
  size_t point_records() {
    size_t n = 0;
    auto it = store_->iterate(store::Keyspace::Metrics, "P", "Q");
    for (it->seek("P"); it->valid(); it->next()) ++n;
    return n;
  }

  std::string dir_;
  ManualClock clock_{kStart * 1000};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<MetricStore> metrics_;
};

TEST_F(MetricRollupTest, PacksSettledMinutesIntoDayBlocksWithTheSameStatistics) {
  // Two days of one value per minute (integers and halves: sums are exact in any order), with
  // a second unit and a few duplicates in the same bucket.
  const int64_t t0 = kStart;
  for (int64_t day = 0; day < 2; ++day) {
    std::vector<PointBatch> batch;
    for (int64_t m = 0; m < 1440; ++m) batch.push_back(point(static_cast<double>((m * 7) % 100) / 2, t0 + day * kDay + m * 60));
    metrics_->put(kAccount, kRegion, batch);
  }
  PointBatch seconds = point(3, t0 + 600);
  seconds.unit = 1;
  metrics_->put(kAccount, kRegion, {seconds, point(99, t0 + 630)});
  clock_.set_millis((t0 + 2 * kDay + 3600) * 1000);
  const auto before60 = stats(t0, t0 + 2 * kDay, 60), before3600 = stats(t0, t0 + 2 * kDay, 3600),
             before_day = stats(t0 + 300, t0 + kDay + 300, kDay);
  // Staged points become raw records; the point at +630 s merges into the +600 s minute of
  // the same unit while staged (one record), the unit-1 point stays separate.
  EXPECT_EQ(point_records(), 0u);
  metrics_->flush_staged();
  const size_t raw = point_records();
  EXPECT_EQ(raw, 2 * 1440u + 1);
  metrics_->compact();
  auto st = metrics_->last_compaction();
  EXPECT_EQ(st.raw_records_read, 2 * 1440u + 1 - 60);  // the last 2 hours (60 min put) stay raw
  // Day 0 is settled: one day block. Day 1 is not (it ended 1 h ago): hour blocks for its
  // first 23 hours, the last hour stays raw.
  EXPECT_EQ(st.blocks_written, 1u);
  EXPECT_EQ(st.hour_blocks_written, 23u);
  EXPECT_EQ(point_records(), 1u + 23 + 60);
  expect_same(before60, stats(t0, t0 + 2 * kDay, 60));
  expect_same(before3600, stats(t0, t0 + 2 * kDay, 3600));
  expect_same(before_day, stats(t0 + 300, t0 + kDay + 300, kDay));
  // Late data for a packed day merges at read time and is folded into the block next time.
  metrics_->put(kAccount, kRegion, {point(1000, t0 + 120)});
  auto late = stats(t0 + 120, t0 + 180, 60);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].aggregate.count, 2);
  EXPECT_EQ(late[0].aggregate.max, 1000);
  metrics_->compact();
  EXPECT_EQ(metrics_->last_compaction().blocks_written, 1u);
  EXPECT_EQ(point_records(), 1u + 23 + 60);
  open();  // and after a restart
  late = stats(t0 + 120, t0 + 180, 60);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].aggregate.sum, 1000 + 7);
  // A second compaction with nothing to do writes nothing.
  metrics_->compact();
  EXPECT_EQ(metrics_->last_compaction().chunks, 0u);
  // Once day 1 is settled too, its hour blocks and last raw hour become one day block.
  clock_.set_millis((t0 + 2 * kDay + 2 * 3600) * 1000);
  metrics_->compact();
  EXPECT_EQ(metrics_->last_compaction().blocks_written, 1u);
  EXPECT_EQ(metrics_->last_compaction().hour_blocks_written, 0u);
  EXPECT_EQ(point_records(), 2u);
  late = stats(t0 + 120, t0 + 180, 60);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].aggregate.sum, 1000 + 7);
  auto all = stats(t0, t0 + 2 * kDay, 3600);
  ASSERT_EQ(all.size(), before3600.size());
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].aggregate.count, before3600[i].aggregate.count + (i == 0 ? 1 : 0));
}

TEST_F(MetricRollupTest, HighResolutionRollsUpToMinutesAfterThreeHours) {
  const int64_t t0 = kStart;
  std::vector<PointBatch> batch;
  for (int64_t s = 0; s < 4 * 3600; s += 7) batch.push_back(point(static_cast<double>(s % 13), t0 + s, 1));
  metrics_->put(kAccount, kRegion, batch);
  clock_.set_millis((t0 + 4 * 3600) * 1000);
  const auto before60 = stats(t0, t0 + 4 * 3600, 60), before300 = stats(t0, t0 + 4 * 3600, 300);
  metrics_->compact();
  // Everything before now - 3h is now at 60 s (and packed, being older than 2 h).
  EXPECT_GT(metrics_->last_compaction().rolled_records_written, 0u);
  EXPECT_EQ(metrics_->last_compaction().hour_blocks_written, 1u);  // the day is not settled yet
  expect_same(before60, stats(t0, t0 + 4 * 3600, 60));
  expect_same(before300, stats(t0, t0 + 4 * 3600, 300));
  // 1 s periods are gone for the rolled hour, kept for the last 3 hours.
  auto first_hour = stats(t0, t0 + 3600, 1);
  for (const StatBucket& b : first_hour) EXPECT_EQ(b.start_s % 60, 0);
  auto last_hour = stats(t0 + 3 * 3600, t0 + 4 * 3600, 1);
  EXPECT_EQ(last_hour.size(), 3600u / 7 + 1);
}

TEST_F(MetricRollupTest, RollsToFiveMinutesThenHoursThenDeletes) {
  const int64_t t0 = kStart;
  std::vector<PointBatch> batch;
  for (int64_t m = 0; m < 3 * 1440; ++m) batch.push_back(point(static_cast<double>(m % 50), t0 + m * 60));
  metrics_->put(kAccount, kRegion, batch);
  const int64_t end = t0 + 3 * kDay;
  const auto before300 = stats(t0, end, 300), before3600 = stats(t0, end, 3600), before_day = stats(t0, end, kDay);
  // 16 days later: 60 s data older than 15 days is at 5 minutes.
  clock_.set_millis((end + 16 * kDay) * 1000);
  metrics_->compact();
  expect_same(before300, stats(t0, end, 300));
  expect_same(before3600, stats(t0, end, 3600));
  expect_same(before_day, stats(t0, end, kDay));
  auto minutes = stats(t0, end, 60);
  for (const StatBucket& b : minutes) EXPECT_EQ(b.start_s % 300, 0);
  auto first = stats(t0, t0 + 300, 300);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].aggregate.count, 5);
  EXPECT_EQ(first[0].aggregate.min, 0);
  EXPECT_EQ(first[0].aggregate.max, 4);
  EXPECT_EQ(first[0].aggregate.sketch.total_count(), 5);
  // 64 days later: hours.
  clock_.set_millis((end + 64 * kDay) * 1000);
  metrics_->compact();
  expect_same(before3600, stats(t0, end, 3600));
  expect_same(before_day, stats(t0, end, kDay));
  for (const StatBucket& b : stats(t0, end, 300)) EXPECT_EQ(b.start_s % 3600, 0);
  open();
  expect_same(before_day, stats(t0, end, kDay));
  // 456 days after the first day: that day is gone, the rest stays until its turn.
  clock_.set_millis((t0 + kDay + 455 * kDay) * 1000);
  metrics_->compact();
  EXPECT_TRUE(stats(t0, t0 + kDay, 3600).empty());
  expect_same(std::vector<StatBucket>(before_day.begin() + 1, before_day.end()), stats(t0 + kDay, end, kDay));
  clock_.set_millis((end + 456 * kDay) * 1000);
  metrics_->compact();
  EXPECT_TRUE(stats(t0, end, 3600).empty());
  EXPECT_EQ(point_records(), 0u);
}

TEST_F(MetricRollupTest, SeriesAreIndependentAndReadsDuringCompactionAreConsistent) {
  const int64_t t0 = kStart;
  for (const char* host : {"a", "b", "c"}) {
    std::vector<PointBatch> batch;
    for (int64_t m = 0; m < 600; ++m) batch.push_back(point(static_cast<double>(m % 10), t0 + m * 60, 60, host));
    metrics_->put(kAccount, kRegion, batch);
  }
  clock_.set_millis((t0 + kDay) * 1000);
  const auto before = stats(t0, t0 + 600 * 60, 3600, "b");
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done) {
      auto now = stats(t0, t0 + 600 * 60, 3600, "b");
      ASSERT_EQ(now.size(), before.size());
      for (size_t i = 0; i < now.size(); ++i) ASSERT_EQ(now[i].aggregate.count, before[i].aggregate.count);
    }
  });
  metrics_->compact();
  done = true;
  reader.join();
  EXPECT_EQ(point_records(), 3u * 10);  // 10 hour blocks per series (the day is not settled)
  expect_same(before, stats(t0, t0 + 600 * 60, 3600, "b"));
}

TEST_F(MetricRollupTest, LateHighResolutionPointsAndUnitFiltersAfterPacking) {
  const int64_t t0 = kStart;
  std::vector<PointBatch> batch;
  for (int64_t m = 0; m < 120; ++m) {
    PointBatch p = point(static_cast<double>(m), t0 + m * 60);
    p.unit = m % 2 ? *unit_index("Percent") : 0;
    batch.push_back(p);
  }
  metrics_->put(kAccount, kRegion, batch);
  clock_.set_millis((t0 + kDay + 3 * 3600) * 1000);
  metrics_->compact();
  EXPECT_EQ(point_records(), 1u);  // one day block holding both units
  // A late 1 s point (older than 3 hours) lands raw at 1 s, is readable at once, and the next
  // compaction rolls it into 60 s and folds it into the day block.
  metrics_->put(kAccount, kRegion, {point(1000, t0 + 61, 1)});
  auto minute = stats(t0 + 60, t0 + 120, 60);
  ASSERT_EQ(minute.size(), 2u);  // None (the late point) and Percent (m = 1)
  EXPECT_EQ(minute[0].unit, 0);
  EXPECT_EQ(minute[0].aggregate.sum, 1000);
  EXPECT_EQ(minute[1].aggregate.sum, 1);
  metrics_->compact();
  EXPECT_EQ(point_records(), 1u);
  auto percent = metrics_->statistics(kAccount, kRegion, series(), t0, t0 + 7200, 3600, unit_index("Percent"));
  ASSERT_EQ(percent.size(), 2u);
  EXPECT_EQ(percent[0].aggregate.count, 30);
  EXPECT_EQ(percent[0].aggregate.min, 1);
  EXPECT_EQ(percent[0].aggregate.max, 59);
  auto none = metrics_->statistics(kAccount, kRegion, series(), t0, t0 + 3600, 3600, uint8_t{0});
  ASSERT_EQ(none.size(), 1u);
  EXPECT_EQ(none[0].aggregate.count, 31);
  EXPECT_EQ(none[0].aggregate.max, 1000);
  EXPECT_EQ(none[0].aggregate.sketch.total_count(), 31);
}

TEST_F(MetricRollupTest, SteadyIngestWithCompactionEveryTenMinutes) {
  // As the server runs: one value per minute per series, compact() every 10 minutes, for 27
  // hours; every hour's statistics stay exact and the store ends with few keys.
  const int64_t t0 = kStart;
  std::map<int64_t, double> hourly_sum;
  for (int64_t m = 0; m < 27 * 60; ++m) {
    clock_.set_millis((t0 + m * 60 + 5) * 1000);
    double v = static_cast<double>((m * 13) % 97) / 4;
    metrics_->put(kAccount, kRegion, {point(v, t0 + m * 60, 60, "a"), point(v + 1, t0 + m * 60, 60, "b")});
    hourly_sum[(m * 60) / 3600 * 3600 + t0] += v;
    if (m % 10 == 9) metrics_->compact();
    if (m % 120 == 119) {  // reads stay exact mid-way
      auto hours = stats(t0, t0 + (m + 1) * 60, 3600);
      ASSERT_EQ(hours.size(), static_cast<size_t>((m + 1) / 60));
      for (const StatBucket& b : hours) EXPECT_EQ(b.aggregate.sum, hourly_sum[b.start_s]) << m;
    }
  }
  auto hours = stats(t0, t0 + 27 * 3600, 3600);
  ASSERT_EQ(hours.size(), 27u);
  for (const StatBucket& b : hours) {
    EXPECT_EQ(b.aggregate.count, 60);
    EXPECT_EQ(b.aggregate.sum, hourly_sum[b.start_s]);
  }
  // Day 0 settled into one day block per series; day 1: hour blocks up to 2 h ago, then raw.
  EXPECT_LE(point_records(), 2u * (1 + 1 + 120 + 10));
}

}  // namespace
}  // namespace vigil::cloudwatch

namespace vigil::cloudwatch {
namespace {

// Staging: a put is one "W" record plus in-memory points until flush_staged() writes them out.
class MetricStagingTest : public MetricRollupTest {
 protected:
  size_t staged_records() {
    size_t n = 0;
    auto it = store_->iterate(store::Keyspace::Metrics, "W", "X");
    for (it->seek("W"); it->valid(); it->next()) ++n;
    return n;
  }
  double count(int64_t start, int64_t end) {
    double n = 0;
    for (const StatBucket& b : stats(start, end, 60)) n += b.aggregate.count;
    return n;
  }
};

TEST_F(MetricStagingTest, OneRecordPerCallVisibleBeforeAndAfterTheFlush) {
  std::vector<PointBatch> call;
  for (int i = 0; i < 100; ++i) call.push_back(point(i, kStart + (i % 3) * 60, 60, "h" + std::to_string(i % 10)));
  metrics_->put(kAccount, kRegion, call);
  metrics_->put(kAccount, kRegion, call);
  EXPECT_EQ(staged_records(), 2u);  // one per call
  EXPECT_EQ(point_records(), 0u);
  // 10 hosts x 3 minutes, both calls merged into the same staged buckets.
  EXPECT_EQ(metrics_->staged_entries(), 30u);
  const auto before = stats(kStart, kStart + 180, 60, "h3");
  ASSERT_EQ(before.size(), 3u);
  double total = 0;
  for (const auto& b : before) total += b.aggregate.count;
  EXPECT_EQ(total, 20);
  metrics_->flush_staged();
  EXPECT_EQ(staged_records(), 0u);
  EXPECT_EQ(point_records(), 30u);
  EXPECT_EQ(metrics_->staged_entries(), 0u);
  expect_same(before, stats(kStart, kStart + 180, 60, "h3"));
  metrics_->flush_staged();  // nothing staged: nothing written
  EXPECT_EQ(point_records(), 30u);
}

TEST_F(MetricStagingTest, UnflushedCallsAreReplayedOnceAfterARestart) {
  for (int i = 0; i < 5; ++i) metrics_->put(kAccount, kRegion, {point(i + 1, kStart + i * 60)});
  metrics_->flush_staged();
  for (int i = 5; i < 10; ++i) metrics_->put(kAccount, kRegion, {point(i + 1, kStart + i * 60)});
  const auto before = stats(kStart, kStart + 600, 60);
  ASSERT_EQ(before.size(), 10u);
  EXPECT_EQ(staged_records(), 5u);
  open();  // a stop without a flush: the "W" records are replayed into point records
  EXPECT_EQ(staged_records(), 0u);
  EXPECT_EQ(point_records(), 10u);
  expect_same(before, stats(kStart, kStart + 600, 60));
  open();  // and replaying is not repeated
  expect_same(before, stats(kStart, kStart + 600, 60));
}

TEST_F(MetricStagingTest, AResetDropsWhatAFlushWroteAfterTheStoreWasCleared) {
  // POST /_vigil/reset clears the store, then resets the metric store. A flush already running
  // writes its generation after the clear, under a series id the cleared store hands out
  // again: without the reset's own clear, the next new series showed those points (seen in CI).
  metrics_->put(kAccount, kRegion, {point(10, kStart), point(30, kStart + 60)});
  store_->clear_all();
  metrics_->flush_staged();  // what the running flush did after the clear
  metrics_->reset();
  EXPECT_EQ(point_records(), 0u);
  metrics_->put(kAccount, kRegion, {point(1, kStart, 60, "b"), point(2, kStart + 60, 60, "b")});
  const auto after = stats(kStart, kStart + 120, 60, "b");
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].aggregate.sum, 1);
  EXPECT_EQ(after[1].aggregate.sum, 2);
  EXPECT_TRUE(stats(kStart, kStart + 120, 60, "a").empty());
}

TEST_F(MetricStagingTest, ConcurrentPutsFlushesAndReadsSeeEachPointExactlyOnce) {
  // Writers put one point per call into one bucket; a flusher runs all the time; readers check
  // that what they see never goes backwards and never exceeds what was put.
  constexpr int kWriters = 4, kPerWriter = 300;
  std::atomic<int> acknowledged{0};
  std::atomic<bool> done{false};
  std::atomic<int> violations{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w)
    threads.emplace_back([&] {
      for (int i = 0; i < kPerWriter; ++i) {
        metrics_->put(kAccount, kRegion, {point(1, kStart + 5)});
        acknowledged.fetch_add(1);
      }
    });
  std::thread flusher([&] {
    while (!done) metrics_->flush_staged();
  });
  std::thread reader([&] {
    double last = 0;
    while (!done) {
      const int acked_before = acknowledged.load();
      double seen = count(kStart, kStart + 60);
      if (seen < acked_before || seen < last || seen > kWriters * kPerWriter) violations.fetch_add(1);
      last = seen;
    }
  });
  for (auto& t : threads) t.join();
  done = true;
  flusher.join();
  reader.join();
  EXPECT_EQ(violations.load(), 0);
  EXPECT_EQ(count(kStart, kStart + 60), kWriters * kPerWriter);
  metrics_->flush_staged();
  open();
  EXPECT_EQ(count(kStart, kStart + 60), kWriters * kPerWriter);
}

TEST_F(MetricStagingTest, LatePointsIntoPackedHoursStayVisibleThroughConcurrentCompactions) {
  // Reads skip the raw range a compaction packed (the in-memory watermarks). Late points put
  // into those packed hours, flushed while compactions run, must never be hidden by them:
  // readers see a count that never goes backwards, never below what was acknowledged.
  const int64_t t0 = kStart;
  constexpr int kMinutes = 600;
  std::vector<PointBatch> day;
  for (int m = 0; m < kMinutes; ++m) day.push_back(point(1, t0 + m * 60));
  metrics_->put(kAccount, kRegion, day);
  clock_.set_millis((t0 + 12 * 3600) * 1000);  // all 10 hours older than 2 hours: packed
  metrics_->compact();
  ASSERT_EQ(point_records(), 10u);  // hour blocks only
  ASSERT_EQ(count(t0, t0 + kMinutes * 60), kMinutes);

  constexpr int kWriters = 2, kPerWriter = 400;
  std::atomic<int> acknowledged{0};
  std::atomic<bool> done{false};
  std::atomic<int> violations{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w)
    threads.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        metrics_->put(kAccount, kRegion, {point(1, t0 + ((i * 37 + w * 11) % kMinutes) * 60)});
        acknowledged.fetch_add(1);
      }
    });
  std::thread flusher([&] {
    while (!done) metrics_->flush_staged();
  });
  std::thread compactor([&] {
    while (!done) metrics_->compact();
  });
  std::thread reader([&] {
    double last = 0;
    while (!done) {
      const int acked_before = acknowledged.load();
      double seen = count(t0, t0 + kMinutes * 60) - kMinutes;
      if (seen < acked_before || seen < last || seen > kWriters * kPerWriter) violations.fetch_add(1);
      last = seen;
    }
  });
  for (auto& t : threads) t.join();
  done = true;
  flusher.join();
  compactor.join();
  reader.join();
  EXPECT_EQ(violations.load(), 0);
  EXPECT_EQ(count(t0, t0 + kMinutes * 60), kMinutes + kWriters * kPerWriter);
  metrics_->compact();  // everything packed again, and still all there
  EXPECT_EQ(point_records(), 10u);
  EXPECT_EQ(count(t0, t0 + kMinutes * 60), kMinutes + kWriters * kPerWriter);
  // Late points after that compaction, read from raw records below the watermark, then after
  // a restart (no watermarks: the whole window is scanned).
  metrics_->put(kAccount, kRegion, {point(1, t0 + 60), point(1, t0 + 9 * 3600)});
  metrics_->flush_staged();
  EXPECT_EQ(count(t0, t0 + kMinutes * 60), kMinutes + kWriters * kPerWriter + 2);
  open();
  EXPECT_EQ(count(t0, t0 + kMinutes * 60), kMinutes + kWriters * kPerWriter + 2);
}

}  // namespace
}  // namespace vigil::cloudwatch

namespace vigil::cloudwatch {
namespace {

TEST_F(MetricRollupTest, OlderStartTimesNeedCoarserPeriodsAsInAws) {
  metrics_->put(kAccount, kRegion, {point(5, kStart + 30, 1)});
  auto count = [&](int64_t period) {
    double n = 0;
    for (const StatBucket& b : stats(kStart, kStart + 3600, period)) n += b.aggregate.count;
    return n;
  };
  EXPECT_EQ(count(1), 1);  // within 3 hours: any period
  clock_.set_millis((kStart + 4 * 3600) * 1000);
  EXPECT_EQ(count(1), 0);  // older than 3 hours: whole minutes only
  EXPECT_EQ(count(30), 0);
  EXPECT_EQ(count(60), 1);
  clock_.set_millis((kStart + 20 * kDay) * 1000);
  EXPECT_EQ(count(60), 0);  // older than 15 days: whole 5 minutes
  EXPECT_EQ(count(300), 1);
  clock_.set_millis((kStart + 70 * kDay) * 1000);
  EXPECT_EQ(count(300), 0);  // older than 63 days: whole hours
  EXPECT_EQ(count(3600), 1);
}

}  // namespace
}  // namespace vigil::cloudwatch
