#include "services/cloudwatch/metric_store.h"

#include "services/cloudwatch/point_block.h"

#include "core/ids.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <map>
#include <tuple>

namespace vigil::cloudwatch {

namespace {

void put_u64(std::string& out, uint64_t v) {  // big-endian: one append, not eight push_backs (hot)
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
  out.append(reinterpret_cast<const char*>(&v), 8);
}
uint64_t get_u64(std::string_view in, size_t at) {  // big-endian (hot: every stored point)
  uint64_t v;
  std::memcpy(&v, in.data() + at, 8);
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
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

void Aggregate::add_plain(double value) {
  if (count == 0) {
    min = max = value;
  } else {
    min = std::min(min, value);
    max = std::max(max, value);
  }
  count += 1;
  sum += value;
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

bool Aggregate::decode_plain(std::string_view bytes, double& count, double& sum, double& min, double& max) {
  if (bytes.size() < 33 || bytes[0] < 1 || bytes[0] > 2) return false;
  double* d[4] = {&count, &sum, &min, &max};
  for (int i = 0; i < 4; ++i) {
    uint64_t bits = get_u64(bytes, 1 + i * 8);
    std::memcpy(d[i], &bits, 8);
  }
  return true;
}

void Aggregate::merge_plain(double o_count, double o_sum, double o_min, double o_max) {
  if (o_count == 0) return;
  if (count == 0) {
    count = o_count, sum = o_sum, min = o_min, max = o_max;
    return;
  }
  count += o_count;
  sum += o_sum;
  min = std::min(min, o_min);
  max = std::max(max, o_max);
}

std::optional<Aggregate> Aggregate::decode(std::string_view bytes, bool with_sketch) {
  Aggregate a;
  if (!decode_plain(bytes, a.count, a.sum, a.min, a.max)) return std::nullopt;
  if (!with_sketch) return a;
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
  // Not while a compaction runs (reset): its pending watermarks name series ids that a cleared
  // store hands out again.
  std::lock_guard compacting(compact_mutex_);
  load_locked();
}

void MetricStore::load_locked() {
  pending_packed_.clear();
  pending_rolled_.clear();
  {
    std::lock_guard lock(mutex_);
    series_.clear();
    next_id_ = 1;
    if (auto c = store_.get(store::Keyspace::Metrics, "C"); c && c->size() == 8) next_id_ = get_u64(*c, 0);
    auto it = store_.iterate(store::Keyspace::Metrics, "S", "T");
    for (it->seek("S"); it->valid(); it->next()) {
      std::string_view v = it->value();
      if (v.size() < 16) continue;
      SeriesInfo info{get_u64(v, 0), static_cast<int64_t>(get_u64(v, 8))};
      // Concurrent calls may land their counter records out of order: never reuse an id.
      next_id_ = std::max(next_id_, info.id + 1);
      series_.emplace(std::string(it->key()), info);
    }
  }
  {
    std::lock_guard lock(staging_mutex_);
    flushing_.clear();
    current_ = std::make_shared<Generation>();
  }
  {
    std::unique_lock publishing(publish_mutex_);
    raw_watermarks_.clear();
  }
  replay_staged();
}

size_t MetricStore::level_of_raw_code(uint8_t code) {
  for (size_t i = 0; i < std::size(kLevels); ++i)
    if (kLevels[i].raw_code == code) return i;
  return 0;
}

void MetricStore::apply_pending_watermarks() {
  for (const RolledRecord& r : pending_rolled_) {
    RawWatermark& wm = raw_watermarks_[r.id][r.level];
    wm.late_min = std::min(wm.late_min, r.bucket);
    if (wm.in_window) wm.window_min = std::min(wm.window_min, r.bucket);
  }
  for (const PackedLevel& p : pending_packed_) {
    RawWatermark& wm = raw_watermarks_[p.id][p.level];
    if (p.raw_limit > 0) {
      // Every raw record below raw_limit that existed when the window opened was read and
      // deleted by the batches now committed; records written since may not have been.
      wm.packed_below = p.raw_limit;
      wm.late_min = wm.window_min < p.raw_limit ? wm.window_min : INT64_MAX;
    } else {
      wm.late_min = std::min(wm.late_min, wm.window_min);  // some records were kept: nothing is known
    }
    wm.in_window = false;
    wm.window_min = INT64_MAX;
  }
  pending_rolled_.clear();
  pending_packed_.clear();
}

void MetricStore::reset() {
  // The store was cleared before this call, but a flush or compaction that was already running
  // may have written its points after that clear, under series ids the cleared store hands out
  // again (a new series would then show an old series' points). With both held none runs:
  // clear this keyspace once more and reload.
  std::lock_guard flushing(flush_mutex_);
  std::lock_guard compacting(compact_mutex_);
  store::WriteBatch batch(store_);
  batch.erase_range(store::Keyspace::Metrics, std::string_view("", 0), std::string_view("\xff\xff\xff\xff\xff\xff\xff\xff", 8));
  store_.write(batch, store::Durability::Sync);
  load_locked();
}

namespace {
std::string staged_key(uint64_t generation, uint64_t seq) {
  std::string k = "W";
  put_u64(k, generation);
  put_u64(k, seq);
  return k;
}
constexpr size_t kStagedEntryHeader = 8 + 1 + 8 + 1;
// A staged entry's aggregate: tag 0 + the 8-byte value for a single value (the common case of
// a 1 000-datum call: a third of the bytes of the full form), else tag 1 + length + encode().
void put_staged_aggregate(std::string& out, const Aggregate& a, std::string& scratch) {
  if (a.count == 1 && a.min == a.max && a.sum == a.min && a.sketch.total_count() == 1) {
    out.push_back('\0');
    uint64_t bits;
    std::memcpy(&bits, &a.min, 8);
    put_u64(out, bits);
    return;
  }
  out.push_back('\1');
  scratch = a.encode();
  append_varint(out, scratch.size());
  out += scratch;
}
std::optional<Aggregate> get_staged_aggregate(std::string_view in, size_t& at) {
  if (at >= in.size()) return std::nullopt;
  const char tag = in[at++];
  if (tag == 0) {
    if (in.size() - at < 8) return std::nullopt;
    uint64_t bits = get_u64(in, at);
    at += 8;
    double v;
    std::memcpy(&v, &bits, 8);
    Aggregate a;
    a.add(v);
    return a;
  }
  uint64_t length = 0;
  if (tag != 1 || !read_varint(in, at, length) || length > in.size() - at) return std::nullopt;
  std::optional<Aggregate> a = Aggregate::decode(in.substr(at, length));
  at += length;
  return a;
}
}  // namespace

std::shared_ptr<MetricStore::Generation> MetricStore::enter_generation() {
  std::lock_guard lock(staging_mutex_);
  ++current_->in_flight;
  return current_;
}

void MetricStore::leave_generation(const std::shared_ptr<Generation>& generation) {
  std::lock_guard lock(staging_mutex_);
  if (--generation->in_flight == 0 && generation != current_) generation_idle_.notify_all();
}

void MetricStore::put(const std::string& account, const std::string& region, const std::vector<PointBatch>& points) {
  // Group by (series, resolution, bucket, unit) so the call stages one entry per group: sort
  // indexes to the points (no copies of aggregates unless a group has several points).
  struct Group {
    uint64_t series;
    uint8_t code;
    int64_t bucket;
    uint8_t unit;
    uint32_t point;
    bool operator<(const Group& o) const {
      return std::tie(series, code, bucket, unit, point) < std::tie(o.series, o.code, o.bucket, o.unit, o.point);
    }
    bool same(const Group& o) const { return series == o.series && code == o.code && bucket == o.bucket && unit == o.unit; }
  };
  std::vector<Group> groups;
  groups.reserve(points.size());
  store::WriteBatch batch(store_);
  const int64_t now = clock_.now_millis();
  std::string key, value;  // reused buffers
  {
    std::lock_guard lock(mutex_);
    bool new_series = false;
    for (uint32_t i = 0; i < points.size(); ++i) {
      const PointBatch& p = points[i];
      key = directory_prefix(account, region);
      key += p.namespace_;
      key.push_back('\0');
      key += p.metric_name;
      key.push_back('\0');
      for (const auto& dim : p.dimensions) {
        key += dim.first;
        key.push_back('\x01');
        key += dim.second;
        key.push_back('\x02');
      }
      auto it = series_.find(key);
      bool inserted = false;
      if (it == series_.end()) {
        it = series_.emplace(key, SeriesInfo{next_id_++, 0}).first;
        inserted = new_series = true;
      }
      // The directory's last-put time serves ListMetrics' RecentlyActive (3 hours): refreshing
      // it at most every 5 minutes keeps a steady series from writing it on every call.
      if (inserted || now - it->second.last_put_ms > 5 * 60 * 1000) {
        it->second.last_put_ms = now;
        value.clear();
        put_u64(value, it->second.id);
        put_u64(value, static_cast<uint64_t>(now));
        batch.put(store::Keyspace::Metrics, it->first, value);
      }
      const int resolution = p.storage_resolution == 1 ? 1 : 60;
      int64_t ts_s = p.timestamp_ms / 1000;
      groups.push_back(Group{it->second.id, raw_code_of(resolution), ts_s - ts_s % resolution, p.unit, i});
    }
    if (new_series) {
      value.clear();
      put_u64(value, next_id_);
      batch.put(store::Keyspace::Metrics, "C", value);
    }
  }
  std::sort(groups.begin(), groups.end());
  // Merge each group once; the merged aggregates go to the "W" record and then to staging.
  // (second: the merged aggregate of a group of several points; a single point is used as is.)
  std::vector<std::pair<const Group*, std::optional<Aggregate>>> entries;
  entries.reserve(groups.size());
  for (size_t g = 0; g < groups.size();) {
    size_t end = g + 1;
    while (end < groups.size() && groups[end].same(groups[g])) ++end;
    if (end == g + 1) {
      entries.emplace_back(&groups[g], std::nullopt);
    } else {
      Aggregate merged = points[groups[g].point].aggregate;
      for (size_t j = g + 1; j < end; ++j) merged.merge(points[groups[j].point].aggregate);
      entries.emplace_back(&groups[g], std::move(merged));
    }
    g = end;
  }
  auto aggregate_of = [&](const std::pair<const Group*, std::optional<Aggregate>>& e) -> const Aggregate& {
    return e.second ? *e.second : points[e.first->point].aggregate;
  };

  // Between enter and leave, a flush waits for this call: its "W" record and its staged
  // points then belong to the same generation, written out (and deleted) together.
  std::shared_ptr<Generation> generation = enter_generation();
  try {
    value.clear();
    std::string encoded;
    for (const auto& e : entries) {
      put_u64(value, e.first->series);
      value.push_back(static_cast<char>(e.first->code));
      put_u64(value, static_cast<uint64_t>(e.first->bucket));
      value.push_back(static_cast<char>(e.first->unit));
      put_staged_aggregate(value, aggregate_of(e), encoded);
    }
    batch.put(store::Keyspace::Metrics, staged_key(generation->number, write_seq_++), value);
    store_.write(batch, store::Durability::Sync);  // durable: the call may be acknowledged

    for (auto& e : entries) {
      StagingShard& shard = generation->shards[e.first->series % Generation::kShards];
      std::lock_guard lock(shard.mutex);
      auto& buckets = shard.series[e.first->series];
      auto [slot, fresh] = buckets.try_emplace(StagedBucket{e.first->code, e.first->bucket, e.first->unit});
      if (fresh) {
        slot->second = e.second ? std::move(*e.second) : points[e.first->point].aggregate;
        generation->entries.fetch_add(1, std::memory_order_relaxed);
      } else {
        slot->second.merge(aggregate_of(e));
      }
    }
  } catch (...) {
    leave_generation(generation);
    throw;
  }
  leave_generation(generation);
  // A burst of distinct buckets (a backfill) is written out before staging grows unbounded.
  if (generation->entries.load(std::memory_order_relaxed) > kMaxStagedEntries) flush_staged();
}

size_t MetricStore::staged_entries() const {
  std::lock_guard lock(staging_mutex_);
  size_t n = current_->entries.load(std::memory_order_relaxed);
  for (const auto& g : flushing_) n += g->entries.load(std::memory_order_relaxed);
  return n;
}

void MetricStore::flush_staged() {
  std::lock_guard flushing(flush_mutex_);
  std::shared_ptr<Generation> old;
  {
    std::unique_lock lock(staging_mutex_);
    if (current_->entries.load() == 0 && current_->in_flight == 0) return;  // nothing staged
    old = current_;
    auto next = std::make_shared<Generation>();
    next->number = old->number + 1;
    current_ = next;
    flushing_.push_back(old);
    generation_idle_.wait(lock, [&] { return old->in_flight == 0; });
  }
  write_generation(*old);
}

void MetricStore::write_generation(Generation& generation) {
  // One batch: the points as raw records and the deletion of the generation's "W" records.
  // If it never lands, load() replays the "W" records; if it lands, they are gone: each point
  // is counted once either way. Buffered is enough: the "W" records were synced, and RocksDB
  // applies a batch whole or not at all.
  store::WriteBatch batch(store_);
  std::string key;
  // The earliest bucket written per (series, raw code), for the watermarks (few per series:
  // a series' buckets are ordered by code first).
  std::vector<std::tuple<uint64_t, uint8_t, int64_t>> earliest;
  for (StagingShard& shard : generation.shards) {
    // No put() uses this generation any more (in_flight reached 0), but statistics() may be
    // copying from it: read under the shard lock.
    std::lock_guard lock(shard.mutex);
    for (const auto& [series, buckets] : shard.series) {
      for (const auto& [b, aggregate] : buckets) {
        if (earliest.empty() || std::get<0>(earliest.back()) != series || std::get<1>(earliest.back()) != b.code)
          earliest.emplace_back(series, b.code, b.bucket);
        key = point_prefix(series, b.code);
        put_u64(key, static_cast<uint64_t>(b.bucket));
        key.push_back(static_cast<char>(b.unit));
        put_u64(key, write_seq_++);
        batch.put(store::Keyspace::Metrics, key, aggregate.encode());
      }
    }
  }
  batch.erase_range(store::Keyspace::Metrics, staged_key(generation.number, 0), staged_key(generation.number + 1, 0));
  std::unique_lock publishing(publish_mutex_);
  store_.write(batch, store::Durability::Buffered);
  if (!raw_watermarks_.empty())
    for (const auto& [series, code, bucket] : earliest) {
      auto found = raw_watermarks_.find(series);
      if (found == raw_watermarks_.end()) continue;
      RawWatermark& wm = found->second[level_of_raw_code(code)];
      if (bucket < wm.packed_below) wm.late_min = std::min(wm.late_min, bucket);
      if (wm.in_window) wm.window_min = std::min(wm.window_min, bucket);
    }
  std::lock_guard lock(staging_mutex_);
  std::erase_if(flushing_, [&](const std::shared_ptr<Generation>& g) { return g.get() == &generation; });
}

void MetricStore::replay_staged() {
  // "W" records left by a stop before their flush (any generation numbers: they are from a
  // previous run). Merged per (series, bucket, unit) and written like a flush, bounded by
  // kMaxStagedEntries per batch: a batch deletes exactly the "W" records it folded.
  std::map<std::tuple<uint64_t, uint8_t, int64_t, uint8_t>, Aggregate> merged;
  std::vector<std::string> folded;
  auto write_out = [&] {
    if (folded.empty()) return;
    store::WriteBatch batch(store_);
    std::string key;
    for (const auto& [k, aggregate] : merged) {
      key = point_prefix(std::get<0>(k), std::get<1>(k));
      put_u64(key, static_cast<uint64_t>(std::get<2>(k)));
      key.push_back(static_cast<char>(std::get<3>(k)));
      put_u64(key, write_seq_++);
      batch.put(store::Keyspace::Metrics, key, aggregate.encode());
    }
    for (const std::string& w : folded) batch.erase(store::Keyspace::Metrics, w);
    store_.write(batch, store::Durability::Sync);
    merged.clear();
    folded.clear();
  };
  auto it = store_.iterate(store::Keyspace::Metrics, "W", "X");
  for (it->seek("W"); it->valid(); it->next()) {
    std::string_view v = it->value();
    for (size_t at = 0; at + kStagedEntryHeader <= v.size();) {
      uint64_t series = get_u64(v, at);
      auto code = static_cast<uint8_t>(v[at + 8]);
      auto bucket = static_cast<int64_t>(get_u64(v, at + 9));
      auto unit = static_cast<uint8_t>(v[at + 17]);
      at += kStagedEntryHeader;
      std::optional<Aggregate> aggregate = get_staged_aggregate(v, at);
      if (!aggregate) break;  // a record cut short (cannot happen: records are written whole)
      auto [slot, fresh] = merged.try_emplace({series, code, bucket, unit});
      if (fresh)
        slot->second = std::move(*aggregate);
      else
        slot->second.merge(*aggregate);
    }
    folded.emplace_back(it->key());
    if (merged.size() > kMaxStagedEntries) write_out();
  }
  write_out();
}

std::vector<StatBucket> MetricStore::statistics(const std::string& account, const std::string& region, const SeriesId& series,
                                                int64_t start_s, int64_t end_s, int64_t period_s, std::optional<uint8_t> unit,
                                                bool with_sketch) const {
  uint64_t id;
  {
    std::lock_guard lock(mutex_);
    auto it = series_.find(series_key(account, region, series));
    if (it == series_.end()) return {};
    id = it->second.id;
  }
  if (end_s <= start_s || period_s <= 0) return {};
  // AWS: a StartTime older than 3 hours needs a period of whole minutes, older than 15 days
  // whole 5 minutes, older than 63 days whole hours, "or no data points in that time range
  // are returned" (the finer points no longer exist: see the roll-ups in the header).
  const int64_t age_s = clock_.now_millis() / 1000 - start_s;
  for (auto it = std::rbegin(kLevels); it != std::rend(kLevels); ++it) {
    const Level* finer = it + 1 == std::rend(kLevels) ? nullptr : &*(it + 1);
    if (finer && age_s > finer->keep_s) {
      if (period_s % it->resolution_s != 0) return {};
      break;
    }
  }
  // Records come in (bucket, unit) order within each resolution's range: fold each into the
  // last period when it matches (the common case: no map, no copies), else append; one sort
  // and merge at the end only when several resolutions or units interleave.
  std::vector<StatBucket> out;
  out.reserve(static_cast<size_t>(std::min<int64_t>((end_s - start_s) / period_s + 1, 1440)));
  bool sorted = true;
  // Folds one point: an aggregate, (agg == nullptr) one simple value of a block, or (plain)
  // a record's count/sum/min/max when no sketch is wanted (no Aggregate built per record).
  struct Plain {
    double count, sum, min, max;
  };
  auto fold = [&](int64_t bucket, uint8_t u, Aggregate* agg, double value, const Plain* plain = nullptr) {
    if (bucket < start_s || bucket >= end_s) return;  // a coarser bucket straddling start
    if (unit && u != *unit) return;
    int64_t aligned = start_s + (bucket - start_s) / period_s * period_s;
    if (out.empty() || out.back().start_s != aligned || out.back().unit != u) {
      if (!out.empty() && std::make_pair(aligned, u) < std::make_pair(out.back().start_s, out.back().unit)) sorted = false;
      if (agg) {
        out.push_back(StatBucket{aligned, u, std::move(*agg)});
        return;
      }
      out.push_back(StatBucket{aligned, u, {}});
    }
    Aggregate& last = out.back().aggregate;
    if (agg)
      last.merge(*agg);
    else if (plain)
      last.merge_plain(plain->count, plain->sum, plain->min, plain->max);
    else if (with_sketch)
      last.add(value);
    else
      last.add_plain(value);
  };
  // One snapshot for every range read below (see the header), taken together with the copy of
  // the series' staged points, so that no flush publishes between the two: each point is
  // either staged or in the snapshot, never both, never neither. Each range gets its own
  // tightly bounded iterator: a seek then never steps over another range's deleted records
  // (one iterator over the whole series crossed every tombstone compaction left below).
  std::unique_ptr<store::Snapshot> snapshot;
  std::vector<std::pair<StagedBucket, Aggregate>> staged;
  std::array<int64_t, std::size(kLevels)> raw_floor{};  // where each level's raw records can start (see RawWatermark)
  {
    std::shared_lock publishing(publish_mutex_);
    snapshot = store_.snapshot();
    if (auto found = raw_watermarks_.find(id); found != raw_watermarks_.end())
      for (size_t i = 0; i < raw_floor.size(); ++i) raw_floor[i] = std::min(found->second[i].packed_below, found->second[i].late_min);
    std::vector<std::shared_ptr<Generation>> generations;
    {
      std::lock_guard lock(staging_mutex_);
      generations = flushing_;
      generations.push_back(current_);
    }
    for (const auto& generation : generations) {
      StagingShard& shard = generation->shards[id % Generation::kShards];
      std::lock_guard lock(shard.mutex);
      auto found = shard.series.find(id);
      if (found == shard.series.end()) continue;
      for (const auto& [b, aggregate] : found->second)
        if (b.bucket >= align_down(start_s, b.code == 1 ? 1 : 60) && b.bucket < end_s) staged.emplace_back(b, aggregate);
    }
  }
  DecodedBlock block;
  std::string upper;
  for (size_t li = 0; li < std::size(kLevels); ++li) {
    const Level& level = kLevels[li];
    const int64_t res = level.resolution_s;
    // Blocks first, then raw records: blocks hold the older points, so the buckets usually
    // arrive in order and need no sort.
    if (level.block_code) {
      for (auto [code, span] : {std::pair<uint8_t, int64_t>{level.block_code, kBlockSpanS}, {level.hour_code, 3600}}) {
        const std::string lower = point_key(id, code, align_down(start_s, span));
        upper = point_key(id, code, end_s);
        if (lower >= upper) continue;
        auto it = store_.iterate(store::Keyspace::Metrics, lower, upper, snapshot.get());
        for (it->seek(lower); it->valid(); it->next()) {
          std::string_view k = it->key();
          if (k.size() != kBlockKeySize) continue;
          if (!decode_point_block(it->value(), static_cast<int64_t>(get_u64(k, kPrefixSize)), res, block)) continue;
          for (size_t i = 0; i < block.size(); ++i)
            fold(block.bucket_s[i], block.unit[i],
                 block.full[i] < 0 ? nullptr : &block.full_aggregates[static_cast<size_t>(block.full[i])], block.value[i]);
        }
      }
    }
    const std::string lower = point_key(id, level.raw_code, std::max(align_down(start_s, res), raw_floor[li]));
    upper = point_key(id, level.raw_code, end_s);
    if (lower >= upper) continue;
    auto it = store_.iterate(store::Keyspace::Metrics, lower, upper, snapshot.get());
    for (it->seek(lower); it->valid(); it->next()) {
      std::string_view k = it->key();
      if (k.size() != kRawKeySize) continue;
      const auto bucket = static_cast<int64_t>(get_u64(k, kPrefixSize));
      const auto record_unit = static_cast<uint8_t>(k[kPrefixSize + 8]);
      if (!with_sketch) {
        Plain p;
        if (Aggregate::decode_plain(it->value(), p.count, p.sum, p.min, p.max)) fold(bucket, record_unit, nullptr, 0, &p);
        continue;
      }
      auto agg = Aggregate::decode(it->value(), with_sketch);
      if (!agg) continue;
      fold(bucket, record_unit, &*agg, 0);
    }
  }
  for (auto& [b, aggregate] : staged) fold(b.bucket, b.unit, &aggregate, 0);
  if (sorted) return out;
  std::stable_sort(out.begin(), out.end(), [](const StatBucket& a, const StatBucket& b) {
    return std::make_pair(a.start_s, a.unit) < std::make_pair(b.start_s, b.unit);
  });
  std::vector<StatBucket> merged;
  merged.reserve(out.size());
  for (StatBucket& b : out) {
    if (!merged.empty() && merged.back().start_s == b.start_s && merged.back().unit == b.unit)
      merged.back().aggregate.merge(b.aggregate);
    else
      merged.push_back(std::move(b));
  }
  return merged;
}

const MetricStore::Level MetricStore::kLevels[4] = {
    {1, 3 * 3600, 1, 0, 0, 3600},
    {60, 15 * 86400, 60, 61, 62, kBlockSpanS},
    {300, 63 * 86400, 150, 151, 152, kBlockSpanS},
    {3600, 455 * 86400, 240, 241, 242, kBlockSpanS},
};

MetricStore::CompactionStats MetricStore::last_compaction() const {
  std::lock_guard lock(compact_mutex_);
  return last_compaction_;
}

void MetricStore::compact() {
  flush_staged();  // roll-ups and retention see every acknowledged point
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
  std::optional<store::WriteBatch> batch(std::in_place, store_);
  for (uint64_t id : ids) compact_series(id, now_s, batch, stats);
  flush_compaction(batch, true);
  last_compaction_ = stats;
}

void MetricStore::flush_compaction(std::optional<store::WriteBatch>& batch, bool force) {
  if (batch->empty() && !force) return;
  if (!batch->empty() && !force && batch->size_bytes() < (4u << 20)) return;
  // Exclusive: a reader's snapshot and the watermarks it reads must agree (see RawWatermark).
  std::unique_lock publishing(publish_mutex_);
  if (!batch->empty()) store_.write(*batch, store::Durability::Sync);
  apply_pending_watermarks();
  publishing.unlock();
  batch.emplace(store_);
}

namespace {
// The first key's time in [from, below) of one code's range of a series, if any.
std::optional<int64_t> first_time(const store::Store& store, uint64_t id, uint8_t code, int64_t from, int64_t below,
                                  size_t key_size) {
  if (from >= below) return std::nullopt;
  std::string lower = point_key(id, code, from), upper = point_key(id, code, below);
  auto it = store.iterate(store::Keyspace::Metrics, lower, upper);
  for (it->seek(lower); it->valid(); it->next())
    if (it->key().size() == key_size) return static_cast<int64_t>(get_u64(it->key(), kPrefixSize));
  return std::nullopt;
}
}  // namespace

void MetricStore::compact_series(uint64_t id, int64_t now_s, std::optional<store::WriteBatch>& batch, CompactionStats& stats) {
  for (size_t li = 0; li < std::size(kLevels); ++li) {
    const Level& level = kLevels[li];
    const bool last = li + 1 == std::size(kLevels);
    // Points before `cutoff` leave this level: rolled into the next one, or deleted from the
    // last. Aligned to the next level's resolution so a coarse bucket is rolled whole.
    const int64_t cutoff = align_down(now_s - level.keep_s, last ? level.resolution_s : kLevels[li + 1].resolution_s);
    const int64_t pack_cutoff = level.block_code ? now_s - kPackAfterS : 0;
    const int64_t raw_limit = std::max(cutoff, pack_cutoff);  // raw records before it are folded
    // Days before this are settled: their hour blocks and raw records become one day block.
    const int64_t settled_limit = level.block_code ? align_down(pack_cutoff, kBlockSpanS) : 0;
    int64_t pos = 0;
    const uint64_t rolled_before = stats.rolled_records_written;
    {
      // Open the window before the first read: a record written from here on lands in
      // window_min, one written before is seen by the reads below.
      std::unique_lock publishing(publish_mutex_);
      RawWatermark& wm = raw_watermarks_[id][li];
      wm.in_window = true;
      wm.window_min = INT64_MAX;
    }
    bool packed = true;
    while (true) {
      // The next chunk holding a raw record to fold, a day block to roll up, or an hour block
      // of a settled day (or one to roll up).
      std::optional<int64_t> next = first_time(store_, id, level.raw_code, pos, raw_limit, kRawKeySize);
      auto earliest = [&](std::optional<int64_t> t) {
        if (t && (!next || *t < *next)) next = t;
      };
      if (level.block_code) {
        earliest(first_time(store_, id, level.block_code, pos, cutoff, kBlockKeySize));
        earliest(first_time(store_, id, level.hour_code, pos, std::max(cutoff, settled_limit), kBlockKeySize));
      }
      if (!next) break;
      const int64_t lo = align_down(*next, level.chunk_s);
      packed = compact_chunk(id, li, lo, lo + level.chunk_s, cutoff, raw_limit, settled_limit, batch, stats) && packed;
      flush_compaction(batch, false);
      pos = lo + level.chunk_s;
    }
    // Applied with the commit of the batch holding this level's last chunk (0: not packed).
    pending_packed_.push_back({id, li, packed ? raw_limit : 0});
    // Rolled records must be visible to the next level's step of this same run.
    if (stats.rolled_records_written != rolled_before) flush_compaction(batch, true);
  }
}

bool MetricStore::compact_chunk(uint64_t id, size_t li, int64_t lo, int64_t hi, int64_t cutoff, int64_t raw_limit,
                                int64_t settled_limit, std::optional<store::WriteBatch>& batch, CompactionStats& stats) {
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
  // A settled day (or one reaching the roll-up cutoff) becomes one day block: read its day
  // block and every hour block. Otherwise only the hour blocks of the hours touched.
  const bool whole_day = level.block_code && (lo < settled_limit || lo < cutoff);
  std::vector<std::string> blocks_read;  // keys of the blocks merged into `points`
  bool had_day_block = false;
  auto read_block = [&](const std::string& key, int64_t start) {
    auto bytes = store_.get(store::Keyspace::Metrics, key);
    if (!bytes) return true;
    std::vector<BlockPoint> block;
    if (!decode_point_block(*bytes, start, level.resolution_s, block)) return false;
    ++stats.blocks_read;
    for (BlockPoint& p : block) points[{p.bucket_s, p.unit}].merge(p.aggregate);
    blocks_read.push_back(key);
    return true;
  };
  if (whole_day) {
    std::string day_key = point_key(id, level.block_code, lo);
    size_t before = blocks_read.size();
    if (!read_block(day_key, lo)) return consumed.empty();  // never drop what we cannot read
    had_day_block = blocks_read.size() > before;
    std::vector<int64_t> hours;
    {
      std::string lower = point_key(id, level.hour_code, lo), upper = point_key(id, level.hour_code, hi);
      auto it = store_.iterate(store::Keyspace::Metrics, lower, upper);
      for (it->seek(lower); it->valid(); it->next())
        if (it->key().size() == kBlockKeySize) hours.push_back(static_cast<int64_t>(get_u64(it->key(), kPrefixSize)));
    }
    for (int64_t h : hours)
      if (!read_block(point_key(id, level.hour_code, h), h)) return consumed.empty();
  } else if (level.block_code) {
    std::vector<int64_t> hours;
    for (const auto& entry : points) {
      int64_t h = align_down(entry.first.first, 3600);
      if (hours.empty() || hours.back() != h) hours.push_back(h);
    }
    for (int64_t h : hours)
      if (!read_block(point_key(id, level.hour_code, h), h)) return consumed.empty();
  }
  if (consumed.empty() && blocks_read.empty()) return true;
  ++stats.chunks;
  std::map<std::pair<int64_t, uint8_t>, Aggregate> rolled;
  std::vector<BlockPoint> keep;
  bool changed = !consumed.empty() || (whole_day && blocks_read.size() > (had_day_block ? 1u : 0u));
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
  if (!changed) return true;  // (nothing was consumed)
  if (!level.block_code && !keep.empty()) return consumed.empty();  // cannot happen (raw_limit == cutoff): keep the records
  for (const std::string& k : consumed) batch->erase(store::Keyspace::Metrics, k);
  for (const std::string& k : blocks_read) batch->erase(store::Keyspace::Metrics, k);
  stats.blocks_deleted += blocks_read.size();
  if (whole_day) {
    if (!keep.empty()) {
      batch->put(store::Keyspace::Metrics, point_key(id, level.block_code, lo), encode_point_block(lo, level.resolution_s, keep));
      ++stats.blocks_written;
      if (had_day_block) --stats.blocks_deleted;  // rewritten, not deleted
    }
  } else if (level.block_code) {
    for (size_t i = 0; i < keep.size();) {  // one block per hour
      const int64_t h = align_down(keep[i].bucket_s, 3600);
      size_t j = i;
      while (j < keep.size() && align_down(keep[j].bucket_s, 3600) == h) ++j;
      std::vector<BlockPoint> hour(std::make_move_iterator(keep.begin() + static_cast<std::ptrdiff_t>(i)),
                                   std::make_move_iterator(keep.begin() + static_cast<std::ptrdiff_t>(j)));
      std::string key = point_key(id, level.hour_code, h);
      batch->put(store::Keyspace::Metrics, key, encode_point_block(h, level.resolution_s, hour));
      ++stats.hour_blocks_written;
      if (std::find(blocks_read.begin(), blocks_read.end(), key) != blocks_read.end()) --stats.blocks_deleted;
      i = j;
    }
  }
  for (const auto& [key, agg] : rolled) {
    std::string k = point_key(id, kLevels[li + 1].raw_code, key.first);
    k.push_back(static_cast<char>(key.second));
    put_u64(k, write_seq_++);
    batch->put(store::Keyspace::Metrics, k, agg.encode());
  }
  if (!rolled.empty()) pending_rolled_.push_back({id, li + 1, rolled.begin()->first.first});  // the earliest bucket
  stats.rolled_records_written += rolled.size();
  return true;
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
