#include "services/cloudtrail/insights.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>

#include "core/aws_error.h"
#include "core/encoding.h"
#include "core/ids.h"
#include "protocol/json_codec.h"

namespace vigil::cloudtrail {

namespace {

constexpr std::string_view kEnabledPrefix = "ct:ie:";
constexpr std::string_view kSeriesPrefix = "ct:is:";
constexpr std::string_view kPeriodPrefix = "ct:in:";
constexpr std::string_view kLastClosedKey = "ct:il:";
constexpr size_t kTop = 5;                       // values kept per attribution
constexpr uint64_t kBaselineShareLimit = 100000;  // baseline attribution counters halve beyond
constexpr const char* kAttributeNames[] = {"userIdentityArn", "userAgent", "errorCode"};

std::string end_of(std::string_view prefix) {
  std::string end(prefix);
  end.back() = static_cast<char>(end.back() + 1);
  return end;
}

std::string period_suffix(int64_t period) {
  std::string s(1, '\0');
  append_u64(s, order_i64(period));
  return s;
}

std::vector<std::string> split_nul(std::string_view s) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t z = s.find('\0', start);
    parts.emplace_back(s.substr(start, z == std::string_view::npos ? std::string_view::npos : z - start));
    if (z == std::string_view::npos) break;
    start = z + 1;
  }
  return parts;
}

std::string enabled_key(std::string_view account, InsightType type) {
  std::string k(account);
  k += '\0';
  k += static_cast<char>('0' + type);
  return k;
}

Value top_json(const std::vector<std::pair<std::string, uint64_t>>& values) {
  Value list = Value::list();
  for (const auto& [v, n] : values) {
    Value e = Value::list();
    e.push(v);
    e.push(static_cast<int64_t>(n));
    list.push(std::move(e));
  }
  return list;
}

}  // namespace

std::string_view insight_type_name(InsightType type) { return type == kApiErrorRate ? "ApiErrorRateInsight" : "ApiCallRateInsight"; }

void InsightDetector::TopValues::add(std::string_view value, uint64_t n) {
  for (auto& [v, c] : values)
    if (v == value) {
      c += n;
      return;
    }
  if (values.size() < kTop) {
    values.emplace_back(value, n);
    return;
  }
  // Full: a value heavier than the lightest one kept takes its place.
  auto lightest = std::min_element(values.begin(), values.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  if (n > lightest->second) *lightest = {std::string(value), n};
}

uint64_t InsightDetector::TopValues::total() const {
  uint64_t t = 0;
  for (const auto& [v, c] : values) t += c;
  return t;
}

InsightDetector::InsightDetector(store::Store& store, const Clock& clock, InsightsOptions options)
    : store_(store), clock_(clock), options_(options) {
  options_.period_seconds = std::max<int64_t>(1, options_.period_seconds);
  last_closed_ = period_of(clock_.now_seconds()) - 1;
}

int64_t InsightDetector::period_of(double seconds) const {
  return static_cast<int64_t>(std::floor(seconds / static_cast<double>(options_.period_seconds)));
}

std::optional<InsightDetector::Series> InsightDetector::series_from_key(const std::string& key) {
  std::vector<std::string> parts = split_nul(key);
  if (parts.size() != 6 || parts[2].size() != 1) return std::nullopt;
  Series s;
  s.account = parts[0];
  s.region = parts[1];
  s.type = parts[2][0] == '0' + kApiErrorRate ? kApiErrorRate : kApiCallRate;
  s.source = parts[3];
  s.name = parts[4];
  s.error_code = parts[5];
  return s;
}

std::string InsightDetector::series_key(std::string_view account, std::string_view region, InsightType type, std::string_view source,
                                        std::string_view name, std::string_view error_code) {
  std::string k;
  k.reserve(account.size() + region.size() + source.size() + name.size() + error_code.size() + 8);
  k += account;
  k += '\0';
  k += region;
  k += '\0';
  k += static_cast<char>('0' + type);
  k += '\0';
  k += source;
  k += '\0';
  k += name;
  k += '\0';
  k += error_code;
  return k;
}

double InsightDetector::threshold(double mean, double sigma) const {
  return std::max({mean + options_.sigmas * sigma, options_.ratio * mean, mean + options_.floor});
}

void InsightDetector::enable(const std::string& account, InsightType type) {
  std::lock_guard lock(mutex_);
  std::string k = enabled_key(account, type);
  if (since_.count(k)) return;
  double now = clock_.now_seconds();
  since_[k] = now;
  store::WriteBatch batch(store_);
  batch.put(store::Keyspace::Meta, std::string(kEnabledPrefix) + k, std::to_string(now));
  store_.write(batch);
}

void InsightDetector::disable(const std::string& account, InsightType type) {
  std::lock_guard lock(mutex_);
  std::string k = enabled_key(account, type);
  if (!since_.erase(k)) return;
  store::WriteBatch batch(store_);
  batch.erase(store::Keyspace::Meta, std::string(kEnabledPrefix) + k);
  for (auto it = series_.begin(); it != series_.end();) {
    if (it->second.account != account || it->second.type != type) {
      ++it;
      continue;
    }
    batch.erase(store::Keyspace::Meta, std::string(kSeriesPrefix) + it->first);
    std::string periods = std::string(kPeriodPrefix) + it->first;
    batch.erase_range(store::Keyspace::Meta, periods + '\0', periods + '\1');
    it = series_.erase(it);
  }
  std::erase_if(pending_, [&](const auto& kv) {
    std::vector<std::string> parts = split_nul(std::string_view(kv.first).substr(0, kv.first.size() - 9));
    return parts.size() == 6 && parts[0] == account && parts[2].size() == 1 && parts[2][0] == static_cast<char>('0' + type);
  });
  store_.write(batch);
}

bool InsightDetector::enabled(const std::string& account, InsightType type) const {
  std::lock_guard lock(mutex_);
  return since_.count(enabled_key(account, type)) > 0;
}

void InsightDetector::count(const InsightCall& call, uint8_t types) {
  bool rate = (types & kApiCallRate) && !call.read_only;
  bool errors = (types & kApiErrorRate) && !call.error_code.empty();
  if (!rate && !errors) return;
  int64_t period = period_of(call.time);
  std::string rate_key, error_key;
  if (rate) rate_key = series_key(call.account, call.region, kApiCallRate, call.event_source, call.event_name, "");
  if (errors) error_key = series_key(call.account, call.region, kApiErrorRate, call.event_source, call.event_name, call.error_code);
  std::lock_guard lock(mutex_);
  // A call of an already closed period (a slow request) counts in the open one.
  period = std::max(period, last_closed_ + 1);
  if (rate) bump(rate_key, period, call);
  if (errors) bump(error_key, period, call);
}

void InsightDetector::bump(const std::string& series, int64_t period, const InsightCall& call) {
  Pending& p = pending_[series + period_suffix(period)];
  ++p.count;
  p.attributes[0].add(call.user_arn, 1);
  p.attributes[1].add(call.user_agent, 1);
  p.attributes[2].add(call.error_code.empty() ? std::string_view("null") : call.error_code, 1);
}

std::vector<InsightEvent> InsightDetector::tick() {
  std::vector<InsightEvent> events;
  int64_t now_period = period_of(clock_.now_seconds());
  std::lock_guard lock(mutex_);
  if (now_period - 1 <= last_closed_) return events;
  int64_t window = std::max<int64_t>(1, options_.baseline_seconds / options_.period_seconds);
  // After a long stop, periods older than the window change nothing but evictions: start at
  // the first that matters (open Insights end there, their counts being zero).
  int64_t first = std::max(last_closed_ + 1, now_period - 1 - window - 1);
  store::WriteBatch batch(store_);
  for (int64_t m = first; m <= now_period - 1; ++m) close_period(m, batch, events);
  last_closed_ = now_period - 1;
  std::string last;
  append_u64(last, order_i64(last_closed_));
  batch.put(store::Keyspace::Meta, kLastClosedKey, last);
  // In the WAL without waiting for fsync (count() waits on this mutex): a kill -9 loses
  // nothing, a power cut at most the last periods, which then count as quiet.
  store_.write(batch, store::Durability::Buffered);
  return events;
}

void InsightDetector::close_period(int64_t m, store::WriteBatch& batch, std::vector<InsightEvent>& events) {
  // The period's counts leave the open ones.
  std::map<std::string, Pending> closing;
  std::string suffix = period_suffix(m);
  for (auto it = pending_.begin(); it != pending_.end();) {
    const std::string& k = it->first;
    if (k.size() > suffix.size() && k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0) {
      closing.emplace(k.substr(0, k.size() - suffix.size()), std::move(it->second));
      it = pending_.erase(it);
    } else if (k.size() > suffix.size() && unorder_i64(read_u64(k, k.size() - 8)) < m) {
      it = pending_.erase(it);  // cannot happen (count() clamps), but never keep what cannot close
    } else {
      ++it;
    }
  }
  for (const auto& [key, p] : closing) {
    if (series_.count(key)) continue;
    std::optional<Series> s = series_from_key(key);
    if (!s || !since_.count(enabled_key(s->account, s->type))) continue;  // disabled meanwhile
    series_.emplace(key, std::move(*s));
  }

  const int64_t window = std::max<int64_t>(1, options_.baseline_seconds / options_.period_seconds);
  const int64_t min_history = options_.min_history_seconds / options_.period_seconds;
  static const TopValues kNone[kAttributes];
  for (auto it = series_.begin(); it != series_.end();) {
    const std::string& key = it->first;
    Series& s = it->second;
    auto since = since_.find(enabled_key(s.account, s.type));
    if (since == since_.end()) {
      ++it;
      continue;
    }
    auto found = closing.find(key);
    uint64_t c = found == closing.end() ? 0 : found->second.count;
    const TopValues* attributes = found == closing.end() ? kNone : found->second.attributes;
    bool changed = false;
    while (!s.periods.empty() && s.periods.front().period < m - window) {
      const Period& old = s.periods.front();
      if (old.excluded) {
        --s.excluded;
      } else {
        s.sum -= static_cast<double>(old.count);
        s.sum_squares -= static_cast<double>(old.count) * static_cast<double>(old.count);
      }
      batch.erase(store::Keyspace::Meta, std::string(kPeriodPrefix) + key + period_suffix(old.period));
      s.periods.pop_front();
      changed = true;
    }
    if (s.periods.empty()) s.sum = s.sum_squares = 0;  // no drift from the subtractions
    int64_t learnt = m - period_of(since->second);
    int64_t covered = std::min(window, std::max<int64_t>(0, learnt));
    int64_t n = covered - s.excluded;
    double mean = n > 0 ? s.sum / static_cast<double>(n) : 0;
    double sigma = n > 0 ? std::sqrt(std::max(0.0, s.sum_squares / static_cast<double>(n) - mean * mean)) : 0;
    bool anomalous = false;
    if (!s.active) {
      if (learnt >= min_history && n > 0 && static_cast<double>(c) > threshold(mean, sigma)) {
        s.active = true;
        s.shared_id = new_uuid();
        s.start = m;
        s.base_mean = mean;
        s.base_sigma = sigma;
        s.base_periods = covered;
        s.total = c;
        for (size_t a = 0; a < kAttributes; ++a) s.insight_attributes[a] = attributes[a];
        events.push_back({s.account, s.region, make_record(s, true, m, static_cast<double>(c), 1, s.insight_attributes, mean, covered)});
        anomalous = true;
      }
    } else if (static_cast<double>(c) > threshold(s.base_mean, s.base_sigma)) {
      s.total += c;
      for (size_t a = 0; a < kAttributes; ++a)
        for (const auto& [v, k] : attributes[a].values) s.insight_attributes[a].add(v, k);
      anomalous = true;
    } else {
      int64_t duration = std::max<int64_t>(1, m - s.start);
      events.push_back({s.account, s.region,
                        make_record(s, false, m, static_cast<double>(s.total) / static_cast<double>(duration), duration, s.insight_attributes,
                                    s.base_mean, s.base_periods)});
      s.active = false;
      s.shared_id.clear();
      s.total = 0;
      for (auto& a : s.insight_attributes) a.values.clear();
      changed = true;
    }
    if (anomalous || c > 0) {
      s.periods.push_back({m, c, anomalous});
      if (anomalous) {
        ++s.excluded;
      } else {
        s.sum += static_cast<double>(c);
        s.sum_squares += static_cast<double>(c) * static_cast<double>(c);
        for (size_t a = 0; a < kAttributes; ++a) {
          TopValues& shares = s.baseline_attributes[a];
          for (const auto& [v, k] : attributes[a].values) shares.add(v, k);
          if (shares.total() > kBaselineShareLimit) {
            for (auto& [v, k] : shares.values) k /= 2;
            std::erase_if(shares.values, [](const auto& e) { return e.second == 0; });
          }
        }
      }
      std::string value;
      append_u64(value, c);
      value += anomalous ? '\1' : '\0';
      batch.put(store::Keyspace::Meta, std::string(kPeriodPrefix) + key + period_suffix(m), value);
      changed = true;
    }
    if (!s.active && s.periods.empty()) {
      batch.erase(store::Keyspace::Meta, std::string(kSeriesPrefix) + key);
      it = series_.erase(it);
      continue;
    }
    if (changed) batch.put(store::Keyspace::Meta, std::string(kSeriesPrefix) + key, protocol::value_to_json(state_json(s)));
    ++it;
  }
}

Value InsightDetector::make_record(const Series& s, bool start, int64_t at_period, double insight_average, int64_t duration,
                                   const TopValues (&insight_attributes)[kAttributes], double baseline_mean, int64_t baseline_periods) const {
  Value statistics = Value::map();
  Value baseline = Value::map();
  baseline.set("average", baseline_mean);
  statistics.set("baseline", std::move(baseline));
  Value insight = Value::map();
  insight.set("average", insight_average);
  statistics.set("insight", std::move(insight));
  statistics.set("insightDuration", duration);
  statistics.set("baselineDuration", baseline_periods);

  // Attributions: the top values of each attribute during the Insight (average per period)
  // and their share of the baseline. The error rate type is about one errorCode already.
  Value attributions = Value::list();
  size_t count = s.type == kApiErrorRate ? 2 : kAttributes;
  for (size_t a = 0; a < count; ++a) {
    auto by_count = [](std::vector<std::pair<std::string, uint64_t>> v) {
      std::stable_sort(v.begin(), v.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
      return v;
    };
    Value in = Value::list();
    for (const auto& [v, n] : by_count(insight_attributes[a].values)) {
      Value e = Value::map();
      e.set("value", v);
      e.set("average", static_cast<double>(n) / static_cast<double>(std::max<int64_t>(1, duration)));
      in.push(std::move(e));
    }
    Value base = Value::list();
    uint64_t total = s.baseline_attributes[a].total();
    for (const auto& [v, n] : by_count(s.baseline_attributes[a].values)) {
      Value e = Value::map();
      e.set("value", v);
      e.set("average", total > 0 ? baseline_mean * static_cast<double>(n) / static_cast<double>(total) : 0.0);
      base.push(std::move(e));
    }
    Value attribution = Value::map();
    attribution.set("attribute", kAttributeNames[a]);
    attribution.set("insight", std::move(in));
    attribution.set("baseline", std::move(base));
    attributions.push(std::move(attribution));
  }
  Value context = Value::map();
  context.set("statistics", std::move(statistics));
  context.set("attributions", std::move(attributions));

  Value details = Value::map();
  details.set("state", start ? "Start" : "End");
  details.set("eventSource", s.source);
  details.set("eventName", s.name);
  details.set("insightType", std::string(insight_type_name(s.type)));
  if (s.type == kApiErrorRate) details.set("errorCode", s.error_code);
  details.set("insightContext", std::move(context));

  Value r = Value::map();
  r.set("eventVersion", "1.08");
  r.set("eventTime", format_iso8601(static_cast<double>(at_period * options_.period_seconds)));
  r.set("awsRegion", s.region);
  r.set("eventID", new_uuid());
  r.set("eventType", "AwsCloudTrailInsight");
  r.set("recipientAccountId", s.account);
  r.set("sharedEventID", s.shared_id);
  r.set("insightDetails", std::move(details));
  r.set("eventCategory", "Insight");
  return r;
}

Value InsightDetector::state_json(const Series& s) const {
  Value v = Value::map();
  Value base = Value::list();
  for (const auto& a : s.baseline_attributes) base.push(top_json(a.values));
  v.set("baselineAttributions", std::move(base));
  if (s.active) {
    v.set("sharedEventID", s.shared_id);
    v.set("start", s.start);
    v.set("baselineMean", s.base_mean);
    v.set("baselineSigma", s.base_sigma);
    v.set("baselinePeriods", s.base_periods);
    v.set("total", static_cast<int64_t>(s.total));
    Value in = Value::list();
    for (const auto& a : s.insight_attributes) in.push(top_json(a.values));
    v.set("insightAttributions", std::move(in));
  }
  return v;
}

void InsightDetector::state_from_json(Series& s, const Value& v) const {
  auto read_top = [](const Value* lists, TopValues (&out)[kAttributes]) {
    if (!lists || !lists->is_list()) return;
    for (size_t a = 0; a < kAttributes && a < lists->size(); ++a) {
      const Value& l = lists->as_list()[a];
      if (!l.is_list()) continue;
      for (const Value& e : l.as_list())
        if (e.is_list() && e.size() == 2 && e.as_list()[0].is_string())
          out[a].values.emplace_back(e.as_list()[0].as_string(), static_cast<uint64_t>(e.as_list()[1].as_int()));
    }
  };
  read_top(v.get("baselineAttributions"), s.baseline_attributes);
  if (!v.str("sharedEventID").empty()) {
    s.active = true;
    s.shared_id = std::string(v.str("sharedEventID"));
    s.start = v.i64("start", 0);
    s.base_mean = v.f64("baselineMean", 0);
    s.base_sigma = v.f64("baselineSigma", 0);
    s.base_periods = v.i64("baselinePeriods", 0);
    s.total = static_cast<uint64_t>(v.i64("total", 0));
    read_top(v.get("insightAttributions"), s.insight_attributes);
  }
}

void InsightDetector::load() {
  std::lock_guard lock(mutex_);
  since_.clear();
  pending_.clear();
  series_.clear();
  last_closed_ = period_of(clock_.now_seconds()) - 1;
  if (auto last = store_.get(store::Keyspace::Meta, kLastClosedKey); last && last->size() == 8) last_closed_ = unorder_i64(read_u64(*last));
  {
    auto it = store_.iterate(store::Keyspace::Meta, kEnabledPrefix, end_of(kEnabledPrefix));
    for (it->seek(kEnabledPrefix); it->valid(); it->next()) {
      try {
        since_[std::string(it->key().substr(kEnabledPrefix.size()))] = std::stod(std::string(it->value()));
      } catch (...) {
      }
    }
  }
  auto series_of = [&](const std::string& key) -> Series* {
    if (auto found = series_.find(key); found != series_.end()) return &found->second;
    std::optional<Series> s = series_from_key(key);
    if (!s) return nullptr;
    return &series_.emplace(key, std::move(*s)).first->second;
  };
  {
    auto it = store_.iterate(store::Keyspace::Meta, kSeriesPrefix, end_of(kSeriesPrefix));
    for (it->seek(kSeriesPrefix); it->valid(); it->next()) {
      Series* s = series_of(std::string(it->key().substr(kSeriesPrefix.size())));
      if (!s) continue;
      try {
        state_from_json(*s, protocol::json_to_value(it->value(), nullptr));
      } catch (...) {
      }
    }
  }
  {
    auto it = store_.iterate(store::Keyspace::Meta, kPeriodPrefix, end_of(kPeriodPrefix));
    for (it->seek(kPeriodPrefix); it->valid(); it->next()) {
      std::string_view key = it->key().substr(kPeriodPrefix.size());
      std::string_view value = it->value();
      if (key.size() < 10 || value.size() != 9) continue;
      Series* s = series_of(std::string(key.substr(0, key.size() - 9)));
      if (!s) continue;
      Period p{unorder_i64(read_u64(key, key.size() - 8)), read_u64(value), value[8] != '\0'};
      s->periods.push_back(p);
      if (p.excluded) {
        ++s->excluded;
      } else {
        s->sum += static_cast<double>(p.count);
        s->sum_squares += static_cast<double>(p.count) * static_cast<double>(p.count);
      }
    }
  }
}

void InsightDetector::reset() { load(); }

Value InsightDetector::metric_data(const std::string& account, const std::string& region, const Value& input) const {
  auto invalid = [](const std::string& message) { return AwsError("InvalidParameterException", message, 400); };
  std::string source(input.str("EventSource")), name(input.str("EventName")), type_name(input.str("InsightType"));
  if (source.empty() || name.empty() || type_name.empty()) throw invalid("EventSource, EventName and InsightType are required.");
  InsightType type;
  if (type_name == "ApiCallRateInsight") type = kApiCallRate;
  else if (type_name == "ApiErrorRateInsight") type = kApiErrorRate;
  else throw invalid("InsightType must be ApiCallRateInsight or ApiErrorRateInsight.");
  std::string error_code = type == kApiErrorRate ? std::string(input.str("ErrorCode")) : std::string();
  if (type == kApiErrorRate && error_code.empty()) throw invalid("ErrorCode is required when InsightType is ApiErrorRateInsight.");
  int64_t period = input.i64("Period", 3600);
  if (period != 60 && period != 300 && period != 3600) throw invalid("Period must be 60, 300 or 3600 seconds.");
  if (period % options_.period_seconds != 0)
    throw invalid("Period must be a multiple of the " + std::to_string(options_.period_seconds) + "-second period this server counts calls in.");
  std::string data_type = input.has("DataType") ? std::string(input.str("DataType")) : "NonZeroData";
  if (data_type != "NonZeroData" && data_type != "FillWithZeros") throw invalid("DataType must be NonZeroData or FillWithZeros.");
  int64_t max = input.i64("MaxResults", 21600);
  if (max < 1 || max > 21600) throw invalid("MaxResults must be between 1 and 21600.");
  double now = clock_.now_seconds();
  auto seconds = [&](std::string_view member, double fallback) {
    const Value* v = input.get(member);
    return v && (v->kind() == Value::Kind::Timestamp || v->kind() == Value::Kind::Double || v->kind() == Value::Kind::Int) ? v->as_double() : fallback;
  };
  double start = seconds("StartTime", now - 90 * 86400.0), end = seconds("EndTime", now);
  if (start >= end) throw invalid("StartTime must be before EndTime.");
  // Points are at multiples of Period: the first at or after StartTime, the last before EndTime.
  int64_t first = static_cast<int64_t>(std::ceil(start / static_cast<double>(period))) * period;
  int64_t stop = static_cast<int64_t>(std::ceil(end / static_cast<double>(period))) * period;
  int64_t cursor = first;
  if (input.has("NextToken")) {
    auto decoded = base64_decode(input.str("NextToken"));
    char* parse_end = nullptr;
    long long t = decoded && !decoded->empty() && decoded->size() < 20 ? std::strtoll(decoded->c_str(), &parse_end, 10) : 0;
    if (!decoded || decoded->empty() || decoded->size() >= 20 || *parse_end != '\0' || t < first || t >= stop || t % period != 0)
      throw invalid("NextToken is not valid for this request.");
    cursor = t;
  }

  // The stored periods of the series from the cursor on, summed per point (a week of minutes at
  // most: the store keeps nothing older).
  std::map<int64_t, double> sums;
  {
    std::string prefix = std::string(kPeriodPrefix) + series_key(account, region, type, source, name, error_code);
    int64_t ps = options_.period_seconds;
    int64_t from_period = cursor / ps, to_period = stop / ps;  // cursor and stop are multiples of ps
    std::string from = prefix + period_suffix(from_period), to = prefix + period_suffix(to_period);
    auto it = store_.iterate(store::Keyspace::Meta, from, to);
    for (it->seek(from); it->valid(); it->next()) {
      std::string_view key = it->key(), value = it->value();
      if (key.size() != prefix.size() + 9 || value.size() != 9) continue;
      int64_t m = unorder_i64(read_u64(key, key.size() - 8));
      int64_t at = m * ps;
      if (at < cursor || at >= stop) continue;
      sums[at - at % period] += static_cast<double>(read_u64(value));
    }
  }
  Value timestamps = Value::list(), values = Value::list();
  int64_t next = -1;
  auto add = [&](int64_t at, double v) {
    if (static_cast<int64_t>(timestamps.size()) == max) {
      next = at;
      return false;
    }
    timestamps.push(Timestamp{static_cast<double>(at)});
    values.push(v);
    return true;
  };
  if (data_type == "FillWithZeros") {
    for (int64_t at = cursor; at < stop; at += period) {
      auto found = sums.find(at);
      if (!add(at, found == sums.end() ? 0.0 : found->second)) break;
    }
  } else {
    for (const auto& [at, v] : sums)
      if (v != 0 && !add(at, v)) break;
  }
  Value out = Value::map();
  out.set("EventSource", source);
  out.set("EventName", name);
  out.set("InsightType", type_name);
  if (type == kApiErrorRate) out.set("ErrorCode", error_code);
  out.set("Timestamps", std::move(timestamps));
  out.set("Values", std::move(values));
  if (next >= 0) out.set("NextToken", base64_encode(std::to_string(next)));
  return out;
}

}  // namespace vigil::cloudtrail
