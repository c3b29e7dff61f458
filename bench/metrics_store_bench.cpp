// Bytes on disk per CloudWatch datapoint, and the cost of MetricStore::compact().
//
//   metrics_store_bench [--series 1000] [--minutes 1440] [--lag-minutes 0]
//                       [--kind mixed|cpu1|cpu2|int|counter|random]
//
// Writes N series x M points (one value per minute per series, the last M minutes before a
// fixed "now", 1 000 datapoints per put() call as PutMetricData would) through MetricStore
// into a fresh data directory, then measures the Metrics keyspace's SST bytes after RocksDB
// flushed and fully compacted it (bottommost level: ZSTD, as Vigil configures it), first raw,
// then after MetricStore::compact() packed the settled points into day blocks. Also times
// compact() and statistics() (24 h at 60 s for one series) before and after, and one steady
// 10-minute compact() run (after 10 more minutes of points for every series). Prints one JSON
// line. The RocksDB options of the Metrics keyspace are repeated here (store.cpp keeps them
// private): keep them in step.
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/clock.h"
#include "services/cloudwatch/metric_store.h"
#include "store/store.h"

using namespace vigil;
using namespace vigil::cloudwatch;

namespace {

rocksdb::ColumnFamilyOptions metrics_options() {
  rocksdb::ColumnFamilyOptions options;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.block_size = 4 * 1024;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  options.compression = rocksdb::kLZ4Compression;
  options.bottommost_compression = rocksdb::kZSTD;
  options.write_buffer_size = 16 << 20;
  return options;
}

// Flushes (by reopening: WAL recovery writes L0 files) and fully compacts the metrics column
// family; returns its SST bytes and file count.
std::pair<uint64_t, size_t> compacted_sst_bytes(const std::string& dir) {
  std::vector<std::string> names;
  auto s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names);
  if (!s.ok()) throw std::runtime_error(s.ToString());
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const auto& n : names) families.emplace_back(n, metrics_options());
  rocksdb::DBOptions options;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  s = rocksdb::DB::Open(options, dir, families, &handles, &db);
  if (!s.ok()) throw std::runtime_error(s.ToString());
  rocksdb::ColumnFamilyHandle* metrics = nullptr;
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == "metrics") metrics = handles[i];
  if (!metrics) throw std::runtime_error("no metrics column family");
  db->Flush(rocksdb::FlushOptions(), metrics);
  rocksdb::CompactRangeOptions cro;
  cro.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  s = db->CompactRange(cro, metrics, nullptr, nullptr);
  if (!s.ok()) throw std::runtime_error(s.ToString());
  rocksdb::ColumnFamilyMetaData meta;
  db->GetColumnFamilyMetaData(metrics, &meta);
  size_t files = 0;
  for (const auto& level : meta.levels) files += level.files.size();
  std::pair<uint64_t, size_t> result{meta.size, files};
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  db->Close();
  delete db;
  return result;
}

double value_for(const std::string& kind, size_t series, int64_t minute, std::mt19937_64& rng, std::vector<double>& state) {
  std::string k = kind;
  if (k == "mixed") {
    static const char* kinds[] = {"cpu1", "cpu2", "int", "counter"};
    k = kinds[series % 4];
  }
  double& v = state[series];
  if (k == "cpu1") {  // CPU %, one decimal, small steps
    v = std::clamp(v + static_cast<double>(static_cast<int>(rng() % 11) - 5) / 10.0, 0.0, 100.0);
    return std::round(v * 10) / 10;
  }
  if (k == "cpu2") {  // CPU %, two decimals, steps up to +-1.00
    v = std::clamp(v + static_cast<double>(static_cast<int>(rng() % 201) - 100) / 100.0, 0.0, 100.0);
    return std::round(v * 100) / 100;
  }
  if (k == "int") {  // an integer gauge (connections, queue depth): +-3 steps
    v = std::max(0.0, v + static_cast<double>(static_cast<int>(rng() % 7) - 3));
    return v;
  }
  if (k == "counter") {  // requests per minute around 600, integer
    return std::round(600 + static_cast<double>(rng() % 41) - 20 + 50 * std::sin(static_cast<double>(minute) / 240.0));
  }
  // random: full-precision doubles (the worst case: no decimal structure)
  return std::uniform_real_distribution<double>(0, 100)(rng);
}

}  // namespace

int main(int argc, char** argv) {
  size_t series = 1000;
  int64_t minutes = 1440;
  int64_t lag_minutes = 0;  // "now" is this long after the last point (120+: all packed)
  std::string kind = "mixed";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--series") series = std::stoul(argv[i + 1]);
    else if (a == "--minutes") minutes = std::stol(argv[i + 1]);
    else if (a == "--kind") kind = argv[i + 1];
    else if (a == "--lag-minutes") lag_minutes = std::stol(argv[i + 1]);
  }
  std::string templ = (std::filesystem::temp_directory_path() / "vigil-metrics-bench-XXXXXX").string();
  if (!::mkdtemp(templ.data())) return 1;
  const std::string dir = templ;
  const int64_t first = 1'700'006'400;  // a UTC day boundary
  const int64_t now_s = first + (minutes + lag_minutes) * 60;
  ManualClock clock(now_s * 1000);
  std::mt19937_64 rng(42);
  std::vector<double> state(series, 40);
  using steady = std::chrono::steady_clock;
  auto ms_since = [](steady::time_point t) { return std::chrono::duration<double, std::milli>(steady::now() - t).count(); };
  const uint64_t points = series * static_cast<uint64_t>(minutes);
  double put_ms = 0, compact_ms = 0, query_raw_ms = 0, query_packed_ms = 0;
  MetricStore::CompactionStats stats;
  SeriesId probe{"Bench", "M0", {{"Host", "h0000"}}};
  {
    auto store = store::Store::open(dir);
    MetricStore metrics(*store, clock);
    metrics.load();
    auto t = steady::now();
    std::vector<PointBatch> batch;
    for (int64_t m = 0; m < minutes; ++m) {
      for (size_t s = 0; s < series; ++s) {
        PointBatch p;
        p.namespace_ = "Bench";
        p.metric_name = "M" + std::to_string(s % 10);
        char host[32];
        std::snprintf(host, sizeof host, "h%04zu", s / 10);
        p.dimensions = {{"Host", host}};
        p.timestamp_ms = (first + m * 60) * 1000;
        p.aggregate.add(value_for(kind, s, m, rng, state));
        batch.push_back(std::move(p));
        if (batch.size() == 1000) {
          metrics.put("000000000000", "us-east-1", batch);
          batch.clear();
        }
      }
    }
    if (!batch.empty()) metrics.put("000000000000", "us-east-1", batch);
    put_ms = ms_since(t);
    t = steady::now();
    for (int i = 0; i < 20; ++i) metrics.statistics("000000000000", "us-east-1", probe, first + minutes * 60 - 86400, first + minutes * 60, 60, std::nullopt);
    query_raw_ms = ms_since(t) / 20;
  }
  auto raw = compacted_sst_bytes(dir);
  {
    auto store = store::Store::open(dir);
    MetricStore metrics(*store, clock);
    metrics.load();
    auto t = steady::now();
    metrics.compact();
    compact_ms = ms_since(t);
    stats = metrics.last_compaction();
    t = steady::now();
    for (int i = 0; i < 20; ++i) metrics.statistics("000000000000", "us-east-1", probe, first + minutes * 60 - 86400, first + minutes * 60, 60, std::nullopt);
    query_packed_ms = ms_since(t) / 20;
  }
  auto packed = compacted_sst_bytes(dir);
  // Steady state: 10 more minutes of every series, then the 10-minute compact() run.
  double steady_compact_ms = 0, query_settled_ms = 0;
  MetricStore::CompactionStats steady_stats;
  {
    auto store = store::Store::open(dir);
    MetricStore metrics(*store, clock);
    metrics.load();
    // The same query once RocksDB dropped the deleted raw records (tombstones compacted away).
    auto tq = steady::now();
    for (int i = 0; i < 20; ++i) metrics.statistics("000000000000", "us-east-1", probe, first + minutes * 60 - 86400, first + minutes * 60, 60, std::nullopt);
    query_settled_ms = ms_since(tq) / 20;
    std::vector<PointBatch> batch;
    for (int64_t m = minutes + lag_minutes; m < minutes + lag_minutes + 10; ++m)
      for (size_t s = 0; s < series; ++s) {
        PointBatch p;
        p.namespace_ = "Bench";
        p.metric_name = "M" + std::to_string(s % 10);
        char host[32];
        std::snprintf(host, sizeof host, "h%04zu", s / 10);
        p.dimensions = {{"Host", host}};
        p.timestamp_ms = (first + m * 60) * 1000;
        p.aggregate.add(value_for(kind, s, m, rng, state));
        batch.push_back(std::move(p));
        if (batch.size() == 1000) {
          metrics.put("000000000000", "us-east-1", batch);
          batch.clear();
        }
      }
    if (!batch.empty()) metrics.put("000000000000", "us-east-1", batch);
    clock.advance(std::chrono::minutes(10));
    auto t = steady::now();
    metrics.compact();
    steady_compact_ms = ms_since(t);
    steady_stats = metrics.last_compaction();
  }
  std::filesystem::remove_all(dir);
  std::printf(
      "{\"kind\": \"%s\", \"series\": %zu, \"minutes\": %lld, \"lag_minutes\": %lld, \"points\": %llu, \"put_points_per_s\": %.0f, "
      "\"raw_sst_bytes\": %llu, \"raw_bytes_per_point\": %.3f, \"packed_sst_bytes\": %llu, \"packed_bytes_per_point\": %.3f, "
      "\"packed_sst_files\": %zu, \"compact_ms\": %.0f, \"compact_points_per_s\": %.0f, \"blocks_written\": %llu, "
      "\"raw_records_read\": %llu, \"statistics_24h_raw_ms\": %.3f, \"statistics_24h_packed_ms\": %.3f, "
      "\"statistics_24h_packed_settled_ms\": %.3f, \"steady_compact_ms\": %.1f, \"steady_raw_records_read\": %llu, \"steady_blocks_read\": %llu}\n",
      kind.c_str(), series, static_cast<long long>(minutes), static_cast<long long>(lag_minutes), static_cast<unsigned long long>(points),
      points / (put_ms / 1000), static_cast<unsigned long long>(raw.first), static_cast<double>(raw.first) / points,
      static_cast<unsigned long long>(packed.first), static_cast<double>(packed.first) / points, packed.second, compact_ms,
      stats.raw_records_read / (compact_ms / 1000), static_cast<unsigned long long>(stats.blocks_written),
      static_cast<unsigned long long>(stats.raw_records_read), query_raw_ms, query_packed_ms, query_settled_ms, steady_compact_ms,
      static_cast<unsigned long long>(steady_stats.raw_records_read), static_cast<unsigned long long>(steady_stats.blocks_read));
  return 0;
}
