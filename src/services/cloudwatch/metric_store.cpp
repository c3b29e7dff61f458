#include "services/cloudwatch/metric_store.h"

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
std::string point_prefix(uint64_t series, uint8_t resolution) {
  std::string k = "P";
  put_u64(k, series);
  k.push_back(static_cast<char>(resolution));
  return k;
}
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
}

std::string Aggregate::encode() const {
  std::string out(1, '\x01');  // format 1: count, sum, min, max (a sketch may follow in format 2)
  for (double d : {count, sum, min, max}) {
    uint64_t bits;
    std::memcpy(&bits, &d, 8);
    put_u64(out, bits);
  }
  return out;
}

std::optional<Aggregate> Aggregate::decode(std::string_view bytes) {
  if (bytes.size() < 33 || bytes[0] < 1) return std::nullopt;
  double d[4];
  for (int i = 0; i < 4; ++i) {
    uint64_t bits = get_u64(bytes, 1 + i * 8);
    std::memcpy(&d[i], &bits, 8);
  }
  return Aggregate{d[0], d[1], d[2], d[3]};
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
      int64_t ts_s = p.timestamp_ms / 1000;
      int64_t bucket = ts_s - ts_s % p.storage_resolution;
      groups[{it->second.id, static_cast<uint8_t>(p.storage_resolution), bucket, p.unit}].merge(p.aggregate);
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
  for (uint8_t resolution : {uint8_t{1}, uint8_t{60}}) {
    std::string prefix = point_prefix(id, resolution);
    std::string lower = prefix, upper = prefix;
    put_u64(lower, static_cast<uint64_t>(std::max<int64_t>(0, start_s - start_s % resolution)));
    put_u64(upper, static_cast<uint64_t>(std::max<int64_t>(0, end_s)));
    auto it = store_.iterate(store::Keyspace::Metrics, lower, upper);
    for (it->seek(lower); it->valid(); it->next()) {
      std::string_view k = it->key();
      if (k.size() != prefix.size() + 17) continue;
      int64_t bucket = static_cast<int64_t>(get_u64(k, prefix.size()));
      uint8_t u = static_cast<uint8_t>(k[prefix.size() + 8]);
      if (bucket < start_s || bucket >= end_s) continue;  // a 60 s bucket straddling start
      if (unit && u != *unit) continue;
      auto agg = Aggregate::decode(it->value());
      if (!agg) continue;
      int64_t aligned = start_s + (bucket - start_s) / period_s * period_s;
      out[{aligned, u}].merge(*agg);
    }
  }
  std::vector<StatBucket> result;
  result.reserve(out.size());
  for (const auto& [k, agg] : out) result.push_back(StatBucket{k.first, k.second, agg});
  return result;
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
