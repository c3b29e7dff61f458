#include "services/cloudwatch/metric_store.h"

#include "services/cloudwatch/point_block.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <tuple>

namespace vigil::cloudwatch {

namespace {

void put_u64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}
uint64_t get_u64(std::string_view in, size_t at) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[at + i]);
  return v;
}
// Bucket starts are non-negative epoch seconds (timestamps are validated to be recent).
std::string point_prefix(uint64_t series, uint8_t code) {
  std::string k = "P";
  put_u64(k, series);
  k.push_back(static_cast<char>(code));
  return k;
}
std::string point_key(uint64_t series, uint8_t code, int64_t time_s) {
  std::string k = point_prefix(series, code);
  put_u64(k, static_cast<uint64_t>(std::max<int64_t>(0, time_s)));
  return k;
}
constexpr size_t kPrefixSize = 10;                 // "P" id code
constexpr size_t kRawKeySize = kPrefixSize + 17;   // + bucket unit seq
constexpr size_t kBlockKeySize = kPrefixSize + 8;  // + day
int64_t align_down(int64_t t, int64_t step) { return t - ((t % step) + step) % step; }
uint8_t raw_code_of(int resolution) { return resolution == 1 ? 1 : 60; }
std::string directory_prefix(const std::string& account, const std::string& region) {
  std::string k = "S";
  k += account;
  k.push_back('\0');
  k += region;
  k.push_back('\0');
  return k;
}
SeriesId parse_series_key(std::string_view rest) {
  // rest: namespace \0 name \0 dims
  SeriesId id;
  size_t a = rest.find('\0');
  id.namespace_ = std::string(rest.substr(0, a));
  size_t b = rest.find('\0', a + 1);
  id.metric_name = std::string(rest.substr(a + 1, b - a - 1));
  std::string_view dims = rest.substr(b + 1);
  while (!dims.empty()) {
    size_t n = dims.find('\x01'), v = dims.find('\x02');
    id.dimensions.emplace_back(std::string(dims.substr(0, n)), std::string(dims.substr(n + 1, v - n - 1)));
    dims.remove_prefix(v + 1);
  }
  return id;
}

}  // namespace

void Aggregate::add(double value, double n) {
  if (count == 0) {
    min = max = value;
  } else {
    min = std::min(min, value);
    max = std::max(max, value);
  }
  count += n;
  sum += value * n;
  sketch.add(value, n);
}

void Aggregate::merge(const Aggregate& o) {
  if (o.count == 0) return;
  if (count == 0) {
    *this = o;
    return;
  }
  count += o.count;
  sum += o.sum;
  min = std::min(min, o.min);
  max = std::max(max, o.max);
  sketch.merge(o.sketch);
}

std::string Aggregate::encode() const {
  // All values equal (one value per bucket, the common gauge case): the sketch is implied.
  const bool implied = min == max && sketch.total_count() == count;
  std::string out(1, implied ? '\x01' : '\x02');
  for (double d : {count, sum, min, max}) {
    uint64_t bits;
    std::memcpy(&bits, &d, 8);
    put_u64(out, bits);
  }
  if (!implied) sketch.encode(out);
  return out;
}

std::optional<Aggregate> Aggregate::decode(std::string_view bytes) {
  if (bytes.size() < 33 || bytes[0] < 1 || bytes[0] > 2) return std::nullopt;
  double d[4];
  for (int i = 0; i < 4; ++i) {
    uint64_t bits = get_u64(bytes, 1 + i * 8);
    std::memcpy(&d[i], &bits, 8);
  }
  Aggregate a{d[0], d[1], d[2], d[3], {}};
  if (bytes[0] == 1) {
    if (a.count > 0 && a.min == a.max) a.sketch.add(a.min, a.count);
  } else {
    std::string_view rest = bytes.substr(33);
    std::optional<QuantileSketch> sketch = QuantileSketch::decode(rest);
    if (!sketch) return std::nullopt;
    a.sketch = std::move(*sketch);
  }
  return a;
}

const std::vector<std::string>& units() {
  static const std::vector<std::string> names = {
      "None", "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
      "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second", "Kilobytes/Second",
      "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second",
      "Gigabits/Second", "Terabits/Second", "Count/Second"};
  return names;
}

std::optional<uint8_t> unit_index(std::string_view name) {
  const auto& u = units();
  for (size_t i = 0; i < u.size(); ++i)
    if (u[i] == name) return static_cast<uint8_t>(i);
  return std::nullopt;
}

std::string series_key(const std::string& account, const std::string& region, const SeriesId& id) {
  std::string k = directory_prefix(account, region);
  k += id.namespace_;
  k.push_back('\0');
  k += id.metric_name;
  k.push_back('\0');
  for (const auto& [name, value] : id.dimensions) {
    k += name;
    k.push_back('\x01');
    k += value;
    k.push_back('\x02');
  }
  return k;
}

MetricStore::MetricStore(store::Store& store, const Clock& clock)
    : store_(store), clock_(clock), write_seq_(static_cast<uint64_t>(clock.now_millis()) * 1000) {}

void MetricStore::load() {
  std::lock_guard lock(mutex_);
  series_.clear();
  next_id_ = 1;
  if (auto c = store_.get(store::Keyspace::Metrics, "C"); c && c->size() == 8) next_id_ = get_u64(*c, 0);
  auto it = store_.iterate(store::Keyspace::Metrics, "S", "T");
  for (it->seek("S"); it->valid(); it->next()) {
    std::string_view v = it->value();
    if (v.size() < 16) continue;
    series_.emplace(std::string(it->key()), SeriesInfo{get_u64(v, 0), static_cast<int64_t>(get_u64(v, 8))});
  }
}

void MetricStore::reset() { load(); }

void MetricStore::put(const std::string& account, const std::string& region, const std::vector<PointBatch>& points) {
  // Group by (series, resolution, bucket, unit) so one call writes one record per group.
  std::map<std::tuple<uint64_t, uint8_t, int64_t, uint8_t>, Aggregate> groups;
  store::WriteBatch batch(store_);
  const int64_t now = clock_.now_millis();
  {
    std::lock_guard lock(mutex_);
    bool new_series = false;
    for (const PointBatch& p : points) {
      std::string key = series_key(account, region, SeriesId{p.namespace_, p.metric_name, p.dimensions});
      auto [it, inserted] = series_.try_emplace(std::move(key), SeriesInfo{0, 0});
      if (inserted) {
        it->second.id = next_id_++;
        new_series = true;
      }
      // The directory's last-put time serves ListMetrics' RecentlyActive (3 hours): refreshing
      // it at most every 5 minutes keeps a steady series from writing it on every call.
      if (inserted || now - it->second.last_put_ms > 5 * 60 * 1000) {
        it->second.last_put_ms = now;
        std::string v;
        put_u64(v, it->second.id);
        put_u64(v, static_cast<uint64_t>(now));
        batch.put(store::Keyspace::Metrics, it->first, v);
      }
      const int resolution = p.storage_resolution == 1 ? 1 : 60;
      int64_t ts_s = p.timestamp_ms / 1000;
      int64_t bucket = ts_s - ts_s % resolution;
      groups[{it->second.id, raw_code_of(resolution), bucket, p.unit}].merge(p.aggregate);
    }
    if (new_series) {
      std::string v;
      put_u64(v, next_id_);
      batch.put(store::Keyspace::Metrics, "C", v);
    }
    // Written under the lock so a new series' directory record and counter are ordered.
    for (const auto& [k, agg] : groups) {
      auto [series, resolution, bucket, unit] = k;
      std::string key = point_prefix(series, resolution);
      put_u64(key, static_cast<uint64_t>(bucket));
      key.push_back(static_cast<char>(unit));
      put_u64(key, write_seq_++);
      batch.put(store::Keyspace::Metrics, key, agg.encode());
    }
  }
  store_.write(batch, store::Durability::Sync);
}

std::vector<StatBucket> MetricStore::statistics(const std::string& account, const std::string& region, const SeriesId& series,
                                                int64_t start_s, int64_t end_s, int64_t period_s, std::optional<uint8_t> unit) const {
  uint64_t id;
  {
    std::lock_guard lock(mutex_);
    auto it = series_.find(series_key(account, region, series));
    if (it == series_.end()) return {};
    id = it->second.id;
  }
  std::map<std::pair<int64_t, uint8_t>, Aggregate> out;
  if (end_s <= start_s || period_s <= 0) return {};
  auto fold = [&](int64_t bucket, uint8_t u, const Aggregate& agg) {
    if (bucket < start_s || bucket >= end_s) return;  // a coarser bucket straddling start
    if (unit && u != *unit) return;
    int64_t aligned = start_s + (bucket - start_s) / period_s * period_s;
    out[{aligned, u}].merge(agg);
  };
  // One iterator (one snapshot) over the series' whole key range: see the header.
  auto it = store_.iterate(store::Keyspace::Metrics, point_prefix(id, 0), point_prefix(id + 1, 0));
  std::vector<BlockPoint> block;
  for (const Level& level : kLevels) {
    const int64_t res = level.resolution_s;
    std::string upper = point_key(id, level.raw_code, end_s);
    for (it->seek(point_key(id, level.raw_code, align_down(start_s, res))); it->valid() && it->key() < upper; it->next()) {
      std::string_view k = it->key();
      if (k.size() != kRawKeySize) continue;
      auto agg = Aggregate::decode(it->value());
      if (!agg) continue;
      fold(static_cast<int64_t>(get_u64(k, kPrefixSize)), static_cast<uint8_t>(k[kPrefixSize + 8]), *agg);
    }
    if (!level.block_code) continue;
    upper = point_key(id, level.block_code, end_s);
    for (it->seek(point_key(id, level.block_code, align_down(start_s, kBlockSpanS))); it->valid() && it->key() < upper;
         it->next()) {
      std::string_view k = it->key();
      if (k.size() != kBlockKeySize) continue;
      block.clear();
      if (!decode_point_block(it->value(), static_cast<int64_t>(get_u64(k, kPrefixSize)), res, block)) continue;
      for (const BlockPoint& p : block) fold(p.bucket_s, p.unit, p.aggregate);
    }
  }
  std::vector<StatBucket> result;
  result.reserve(out.size());
  for (const auto& [k, agg] : out) result.push_back(StatBucket{k.first, k.second, agg});
  return result;
}

const MetricStore::Level MetricStore::kLevels[4] = {
    {1, 3 * 3600, 1, 0, 3600},
    {60, 15 * 86400, 60, 61, kBlockSpanS},
    {300, 63 * 86400, 150, 151, kBlockSpanS},
    {3600, 455 * 86400, 240, 241, kBlockSpanS},
};

MetricStore::CompactionStats MetricStore::last_compaction() const {
  std::lock_guard lock(compact_mutex_);
  return last_compaction_;
}

void MetricStore::compact() {
  std::lock_guard compacting(compact_mutex_);
  const int64_t now_s = clock_.now_millis() / 1000;
  std::vector<uint64_t> ids;
  {
    std::lock_guard lock(mutex_);
    ids.reserve(series_.size());
    for (const auto& entry : series_) ids.push_back(entry.second.id);
  }
  std::sort(ids.begin(), ids.end());  // key order: the store reads sequentially
  CompactionStats stats;
  for (uint64_t id : ids) compact_series(id, now_s, stats);
  last_compaction_ = stats;
}

void MetricStore::compact_series(uint64_t id, int64_t now_s, CompactionStats& stats) {
  for (size_t li = 0; li < std::size(kLevels); ++li) {
    const Level& level = kLevels[li];
    const bool last = li + 1 == std::size(kLevels);
    // Points before `cutoff` leave this level: rolled into the next one, or deleted from the
    // last. Aligned to the next level's resolution so a coarse bucket is rolled whole.
    const int64_t cutoff = align_down(now_s - level.keep_s, last ? level.resolution_s : kLevels[li + 1].resolution_s);
    const int64_t pack_cutoff = level.block_code ? now_s - kPackAfterS : 0;
    const int64_t raw_limit = std::max(cutoff, pack_cutoff);  // raw records before it are folded
    int64_t pos = 0;
    while (true) {
      // The next chunk holding a raw record before raw_limit or a block starting before cutoff.
      std::optional<int64_t> next;
      if (pos < raw_limit) {
        std::string lower = point_key(id, level.raw_code, pos), upper = point_key(id, level.raw_code, raw_limit);
        auto it = store_.iterate(store::Keyspace::Metrics, lower, upper);
        for (it->seek(lower); it->valid(); it->next())
          if (it->key().size() == kRawKeySize) {
            next = static_cast<int64_t>(get_u64(it->key(), kPrefixSize));
            break;
          }
      }
      if (level.block_code && pos < cutoff) {
        std::string lower = point_key(id, level.block_code, pos), upper = point_key(id, level.block_code, cutoff);
        auto it = store_.iterate(store::Keyspace::Metrics, lower, upper);
        for (it->seek(lower); it->valid(); it->next())
          if (it->key().size() == kBlockKeySize) {
            int64_t day = static_cast<int64_t>(get_u64(it->key(), kPrefixSize));
            next = next ? std::min(*next, day) : day;
            break;
          }
      }
      if (!next) break;
      const int64_t lo = align_down(*next, level.chunk_s);
      compact_chunk(id, li, lo, lo + level.chunk_s, cutoff, raw_limit, stats);
      pos = lo + level.chunk_s;
    }
  }
}

void MetricStore::compact_chunk(uint64_t id, size_t li, int64_t lo, int64_t hi, int64_t cutoff, int64_t raw_limit,
                                CompactionStats& stats) {
  const Level& level = kLevels[li];
  const bool last = li + 1 == std::size(kLevels);
  std::map<std::pair<int64_t, uint8_t>, Aggregate> points;
  std::vector<std::string> consumed;  // exactly the raw keys read: a concurrent put's survive
  {
    std::string lower = point_key(id, level.raw_code, lo), upper = point_key(id, level.raw_code, std::min(hi, raw_limit));
    auto it = store_.iterate(store::Keyspace::Metrics, lower, upper);
    for (it->seek(lower); it->valid(); it->next()) {
      std::string_view k = it->key();
      if (k.size() != kRawKeySize) continue;
      auto agg = Aggregate::decode(it->value());
      if (!agg) continue;  // left alone, as reads skip it
      points[{static_cast<int64_t>(get_u64(k, kPrefixSize)), static_cast<uint8_t>(k[kPrefixSize + 8])}].merge(*agg);
      consumed.emplace_back(k);
    }
  }
  stats.raw_records_read += consumed.size();
  bool had_block = false;
  std::string block_key;
  if (level.block_code) {
    block_key = point_key(id, level.block_code, lo);
    if (auto bytes = store_.get(store::Keyspace::Metrics, block_key)) {
      std::vector<BlockPoint> block;
      if (!decode_point_block(*bytes, lo, level.resolution_s, block)) return;  // never drop what we cannot read
      had_block = true;
      ++stats.blocks_read;
      for (BlockPoint& p : block) points[{p.bucket_s, p.unit}].merge(p.aggregate);
    }
  }
  if (consumed.empty() && !had_block) return;
  ++stats.chunks;
  std::map<std::pair<int64_t, uint8_t>, Aggregate> rolled;
  std::vector<BlockPoint> keep;
  bool changed = !consumed.empty();
  for (auto& [key, agg] : points) {
    if (key.first < cutoff) {
      changed = true;
      if (last)
        ++stats.points_dropped;
      else
        rolled[{align_down(key.first, kLevels[li + 1].resolution_s), key.second}].merge(agg);
    } else {
      keep.push_back(BlockPoint{key.first, key.second, std::move(agg)});
    }
  }
  if (!changed) return;
  store::WriteBatch batch(store_);
  for (const std::string& k : consumed) batch.erase(store::Keyspace::Metrics, k);
  if (level.block_code) {
    if (!keep.empty()) {
      batch.put(store::Keyspace::Metrics, block_key, encode_point_block(lo, level.resolution_s, keep));
      ++stats.blocks_written;
    } else if (had_block) {
      batch.erase(store::Keyspace::Metrics, block_key);
      ++stats.blocks_deleted;
    }
  } else if (!keep.empty()) {
    return;  // cannot happen (raw_limit == cutoff without blocks): keep the records as they are
  }
  for (const auto& [key, agg] : rolled) {
    std::string k = point_key(id, kLevels[li + 1].raw_code, key.first);
    k.push_back(static_cast<char>(key.second));
    put_u64(k, write_seq_++);
    batch.put(store::Keyspace::Metrics, k, agg.encode());
  }
  stats.rolled_records_written += rolled.size();
  store_.write(batch, store::Durability::Sync);
}

std::vector<ListedSeries> MetricStore::list(const std::string& account, const std::string& region, const ListFilter& filter,
                                            const std::string& after_key, size_t limit, bool* more) const {
  std::string prefix = directory_prefix(account, region);
  if (filter.namespace_) {
    prefix += *filter.namespace_;
    prefix.push_back('\0');
    if (filter.metric_name) {
      prefix += *filter.metric_name;
      prefix.push_back('\0');
    }
  }
  std::string upper = prefix;
  upper.back() = static_cast<char>(upper.back() + 1);  // prefix ends in \0: the next byte bounds it
  std::vector<ListedSeries> result;
  *more = false;
  auto it = store_.iterate(store::Keyspace::Metrics, prefix, upper);
  std::string start = after_key.empty() || after_key < prefix ? prefix : after_key;
  for (it->seek(start); it->valid(); it->next()) {
    std::string_view key = it->key();
    if (!after_key.empty() && key == after_key) continue;
    SeriesId id = parse_series_key(key.substr(directory_prefix(account, region).size()));
    if (filter.metric_name && id.metric_name != *filter.metric_name) continue;
    if (filter.active_since_ms) {
      std::string_view v = it->value();
      if (v.size() < 16 || static_cast<int64_t>(get_u64(v, 8)) < *filter.active_since_ms) continue;
    }
    bool match = true;
    for (const auto& [name, value] : filter.dimensions) {
      const std::string& wanted = name;  // clang 14 cannot capture structured bindings
      auto d = std::find_if(id.dimensions.begin(), id.dimensions.end(), [&](const auto& p) { return p.first == wanted; });
      if (d == id.dimensions.end() || (value && d->second != *value)) {
        match = false;
        break;
      }
    }
    if (!match) continue;
    if (result.size() == limit) {
      *more = true;
      break;
    }
    result.push_back(ListedSeries{std::move(id), std::string(key)});
  }
  return result;
}

}  // namespace vigil::cloudwatch
