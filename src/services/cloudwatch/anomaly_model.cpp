// AnomalyModel: training (robust additive decomposition), evaluation and encoding.
// See anomaly_model.h for the model and its costs.
#include "services/cloudwatch/anomaly_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace vigil::cloudwatch {
namespace {

constexpr int64_t kHourS = 3600;
constexpr int64_t kDayS = 86400;
constexpr int64_t kWeekS = 7 * kDayS;
// Weekly buckets need every hour-of-week seen in two weeks, else one odd day becomes "normal"
// for that weekday; 13 days leaves slack for a late first point or a gap.
constexpr int64_t kWeeklyMinSpanS = 13 * kDayS;
constexpr int64_t kSeasonMinSpanS = 2 * kDayS;   // daily buckets and trend: 2+ observations each
constexpr int64_t kTrendHorizonS = 2 * kDayS;    // trend held flat this long after trained_at
constexpr double kMadToSigma = 1.4826;           // MAD -> std-dev for normal noise
constexpr double kLevelFloorFraction = 0.01;     // spread floor: 1% of the typical |level|
constexpr double kAbsoluteFloor = 1e-6;          // ... or this when the level is 0
constexpr double kShrinkPoints = 12;             // pseudo-points pulling hour spreads to global
// Timestamps are clamped to +-2^40 s (year ~36,800) so offset and trend arithmetic cannot overflow.
constexpr int64_t kMaxTime = int64_t{1} << 40;
// Training ignores values beyond CloudWatch's own cap (2^360 ~ 2.3e108), so squares of spreads
// stay finite; decode rejects fields beyond kMaxValue, so no sum or difference of model parts
// can overflow to inf - inf = NaN.
constexpr double kMaxInput = 1e110;
constexpr double kMaxValue = 1e300;
constexpr int kRounds = 3;                       // backfitting rounds (converges in 2 for clean data)

// Floor division/modulo (timestamps before 1970 or negative offsets must still bucket right).
int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
int64_t floor_mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

// Median by nth_element: O(n), reorders v.
double median(std::vector<double>& v) {
  if (v.empty()) return 0;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  double hi = v[mid];
  if (v.size() % 2) return hi;
  double lo = *std::max_element(v.begin(), v.begin() + mid);
  return lo + (hi - lo) / 2;
}

// Value of a circular profile of `n` buckets `width` seconds wide at local time `local`,
// linearly interpolated between bucket centres. O(1).
double interpolate(const std::vector<double>& p, int64_t width, int64_t local) {
  const int64_t n = static_cast<int64_t>(p.size());
  const int64_t pos = floor_mod(local, n * width) * 2 - width;  // 2x (offset from first centre)
  const int64_t i0 = floor_div(pos, 2 * width);
  const double frac = static_cast<double>(pos - i0 * 2 * width) / static_cast<double>(2 * width);
  const double a = p[static_cast<size_t>(floor_mod(i0, n))];
  const double b = p[static_cast<size_t>(floor_mod(i0 + 1, n))];
  return a + (b - a) * frac;
}

// Local hour of week counted from Monday 00:00 (1970-01-01 was a Thursday, 72 h in).
int64_t hour_of_week(int64_t local) { return floor_mod(floor_div(local, kHourS) + 72, 168); }

bool excluded(int64_t t, const std::vector<std::pair<int64_t, int64_t>>& ranges) {
  for (const auto& r : ranges)  // <= 10 ranges (AWS's limit): linear is cheapest
    if (t >= r.first && t < r.second) return true;
  return false;
}

// Little-endian fixed-width writer/reader for encode()/decode().
void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_i64(std::string& out, int64_t v) { put_u64(out, static_cast<uint64_t>(v)); }
void put_f64(std::string& out, double d) {
  uint64_t v;
  std::memcpy(&v, &d, 8);
  put_u64(out, v);
}
void put_vec(std::string& out, const std::vector<double>& v) {
  out.push_back(static_cast<char>(v.size() & 0xff));
  out.push_back(static_cast<char>(v.size() >> 8));
  for (double d : v) put_f64(out, d);
}

struct Reader {
  std::string_view in;
  size_t pos = 0;
  bool ok = true;
  uint64_t u64() {
    if (in.size() - pos < 8) { ok = false; return 0; }
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(in[pos + i])) << (8 * i);
    pos += 8;
    return v;
  }
  int64_t i64() { return static_cast<int64_t>(u64()); }
  double f64() {
    uint64_t v = u64();
    double d;
    std::memcpy(&d, &v, 8);
    if (!(std::fabs(d) <= kMaxValue)) ok = false;  // also rejects NaN/inf
    return d;
  }
  uint8_t u8() {
    if (pos >= in.size()) { ok = false; return 0; }
    return static_cast<uint8_t>(in[pos++]);
  }
  // A counted vector; the count is checked against `max` before anything is allocated.
  std::vector<double> vec(size_t max) {
    size_t n = u8();
    n |= static_cast<size_t>(u8()) << 8;
    std::vector<double> v;
    if (!ok || n > max || (in.size() - pos) / 8 < n) { ok = false; return v; }
    v.reserve(n);
    for (size_t i = 0; i < n; ++i) v.push_back(f64());
    return v;
  }
};

constexpr char kMagic[3] = {'A', 'D', 1};  // "AD" + format version

}  // namespace

std::optional<AnomalyModel> AnomalyModel::train(const math::Series& history, int64_t period_s,
                                                const AnomalyTrainingOptions& options, int64_t trained_at_s) {
  if (period_s <= 0 || trained_at_s < -kMaxTime || trained_at_s > kMaxTime) return std::nullopt;
  // Usable points: the last 14 days before trained_at, not excluded, finite. O(n * ranges),
  // ranges <= 10 (AWS's limit on ExcludedTimeRanges).
  std::vector<int64_t> ts;
  std::vector<double> ys;
  const size_t n_in = std::min(history.timestamps.size(), history.values.size());
  ts.reserve(n_in);
  ys.reserve(n_in);
  for (size_t i = 0; i < n_in; ++i) {
    const int64_t t = history.timestamps[i];
    const double y = history.values[i];
    if (t < trained_at_s - kTrainingWindowS || t >= trained_at_s || !(std::fabs(y) <= kMaxInput)) continue;
    if (excluded(t, options.excluded_ranges)) continue;
    ts.push_back(t);
    ys.push_back(y);
  }
  const size_t n = ts.size();
  if (n < kMinPoints) return std::nullopt;
  const auto [lo_it, hi_it] = std::minmax_element(ts.begin(), ts.end());  // not trusting order
  const int64_t t_first = *lo_it, span = *hi_it - *lo_it;
  if (span < kMinSpanS) return std::nullopt;

  AnomalyModel m;
  m.period_s_ = period_s;
  m.tz_offset_s_ = std::clamp(options.timezone_offset_s, -kWeekS, kWeekS);  // real ones are within +-14 h
  m.trained_at_s_ = trained_at_s;
  m.t_first_ = t_first;
  m.t_ref_ = t_first + span / 2;
  // Hour-bucket seasonality only makes sense when a period fits in an hour.
  const bool hourly_data = period_s <= kHourS;
  if (hourly_data && span >= kWeeklyMinSpanS) m.seasonality_ = Seasonality::kWeekly;
  else if (hourly_data && span >= kSeasonMinSpanS) m.seasonality_ = Seasonality::kDaily;
  const bool fit_trend = span >= kSeasonMinSpanS;
  // Sub-hour slots one period wide (at least a minute, so at most 60); periods that do not
  // divide an hour have no stable position within it, so no slots.
  if (period_s < kHourS && kHourS % period_s == 0) m.slot_s_ = std::max<int64_t>(period_s, 60);
  const size_t n_slots = m.slot_s_ ? static_cast<size_t>(kHourS / m.slot_s_) : 0;
  m.slots_.assign(n_slots, 0.0);
  if (m.seasonality_ != Seasonality::kNone) m.daily_.assign(24, 0.0);
  if (m.seasonality_ == Seasonality::kWeekly) m.weekly_.assign(168, 0.0);

  // Bucket indexes once: O(n).
  std::vector<uint16_t> how(n), hod(n), slot(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t local = ts[i] + m.tz_offset_s_;
    how[i] = static_cast<uint16_t>(hour_of_week(local));
    hod[i] = static_cast<uint16_t>(how[i] % 24);
    slot[i] = n_slots ? static_cast<uint16_t>(floor_mod(local, kHourS) / m.slot_s_) : 0;
  }

  // Trend slope first, independent of the seasonality: a seasonal Theil-Sen estimator (the
  // median of slopes between hourly medians a whole number of seasons apart, so the seasonal
  // part cancels in each pair). Fitting it inside the backfitting instead converges slowly,
  // as weekly buckets soak up part of the trend. O(n log n) for the hourly medians, O(H^2) for
  // the pairs (H <= 336 hours: ~56k).
  if (fit_trend) {
    std::vector<std::pair<int64_t, double>> by_hour(n);
    for (size_t i = 0; i < n; ++i) by_hour[i] = {floor_div(ts[i], kHourS), ys[i]};
    std::sort(by_hour.begin(), by_hour.end());
    std::vector<std::pair<int64_t, double>> hours;  // (hour index, median)
    std::vector<double> cur;
    for (size_t i = 0; i < n;) {
      size_t j = i;
      cur.clear();
      for (; j < n && by_hour[j].first == by_hour[i].first; ++j) cur.push_back(by_hour[j].second);
      hours.emplace_back(by_hour[i].first, median(cur));
      i = j;
    }
    const int64_t lag = m.seasonality_ == Seasonality::kWeekly ? 168 : m.seasonality_ == Seasonality::kDaily ? 24 : 1;
    std::vector<double> slopes;
    for (size_t x = 0; x < hours.size(); ++x)
      for (size_t y = x + 1; y < hours.size(); ++y)
        if ((hours[y].first - hours[x].first) % lag == 0)
          slopes.push_back((hours[y].second - hours[x].second) / static_cast<double>((hours[y].first - hours[x].first) * kHourS));
    m.slope_ = median(slopes);  // no pairs (gappy data): 0
  }

  // Backfitting of the rest: each part is the median of what the others leave. Each round
  // O(n) (bucket medians by nth_element).
  std::vector<double> r(n);
  std::vector<std::vector<double>> groups;
  auto group_medians = [&](const std::vector<uint16_t>& key, size_t buckets, std::vector<double>& out,
                           std::vector<size_t>* counts) {
    groups.assign(buckets, {});
    for (size_t i = 0; i < n; ++i) groups[key[i]].push_back(r[i]);
    out.assign(buckets, std::nan(""));
    if (counts) counts->assign(buckets, 0);
    for (size_t b = 0; b < buckets; ++b) {
      if (counts) (*counts)[b] = groups[b].size();
      if (!groups[b].empty()) out[b] = median(groups[b]);
    }
  };
  for (int round = 0; round < kRounds; ++round) {
    // Daily: medians per local hour of y - trend - slot - weekly; an hour with no data gets
    // the median of the others.
    if (!m.daily_.empty()) {
      for (size_t i = 0; i < n; ++i)
        r[i] = ys[i] - m.trend(ts[i]) - m.slot(ts[i]) - (m.weekly_.empty() ? 0.0 : m.weekly_[how[i]]);
      group_medians(hod, 24, m.daily_, nullptr);
      std::vector<double> present;
      for (double d : m.daily_)
        if (!std::isnan(d)) present.push_back(d);
      const double fill = median(present);
      for (double& d : m.daily_)
        if (std::isnan(d)) d = fill;
    }
    // Weekly: medians per local hour of week of what the interpolated daily cycle leaves
    // (weekend dips, Monday peaks), centred on 0; no data -> 0.
    if (!m.weekly_.empty()) {
      for (size_t i = 0; i < n; ++i)
        r[i] = ys[i] - m.trend(ts[i]) - m.slot(ts[i]) - interpolate(m.daily_, kHourS, ts[i] + m.tz_offset_s_);
      group_medians(how, 168, m.weekly_, nullptr);
      double sum = 0;
      for (double& d : m.weekly_) sum += (d = std::isnan(d) ? 0 : d);
      for (double& d : m.weekly_) d -= sum / 168;
    }
    // Intercept: the median of what the sloped trend, season and slots leave.
    for (size_t i = 0; i < n; ++i) r[i] = ys[i] - (m.trend(ts[i]) - m.intercept_) - m.season(ts[i]) - m.slot(ts[i]);
    m.intercept_ = median(r);
    // Slots: medians of y - trend - season per sub-hour slot, centred on 0 so the level stays
    // in the intercept.
    if (n_slots) {
      for (size_t i = 0; i < n; ++i) r[i] = ys[i] - m.trend(ts[i]) - m.season(ts[i]);
      group_medians(slot, n_slots, m.slots_, nullptr);
      double sum = 0;
      size_t cnt = 0;
      for (double d : m.slots_)
        if (!std::isnan(d)) sum += d, ++cnt;
      const double mean = cnt ? sum / static_cast<double>(cnt) : 0;
      for (double& d : m.slots_) d = std::isnan(d) ? 0 : d - mean;
    }
  }

  // Spread: robust std-dev of the residuals per local hour of day (or one global value).
  for (size_t i = 0; i < n; ++i) r[i] = std::fabs(ys[i] - m.expected(ts[i]));
  std::vector<double> abs_all = r;
  const double global = kMadToSigma * median(abs_all);
  std::vector<double> level(ys);
  for (double& v : level) v = std::fabs(v);
  const double floor = std::max(kLevelFloorFraction * median(level), kAbsoluteFloor);
  // Degrees-of-freedom correction: in-sample residuals are smaller than the errors on new data.
  // A bucket median of m points carries ~(pi/2)/m of each point's noise (the median's
  // efficiency), so residuals shrink by ~c = (pi/2)*params/n and new errors grow by as much:
  // scale by sqrt((1+c)/(1-c)) (~1.08 for two weeks of 5-minute data).
  const double params = static_cast<double>(m.daily_.size() + m.weekly_.size() + n_slots + 2);
  const double c = std::min(0.5, 1.5708 * params / static_cast<double>(n));
  const double inflate = std::sqrt((1 + c) / (1 - c));
  if (m.seasonality_ == Seasonality::kNone) {
    m.spread_ = {std::max(global * inflate, floor)};
  } else {
    std::vector<double> per_hour;
    std::vector<size_t> counts;
    group_medians(hod, 24, per_hour, &counts);  // medians of |residual|
    m.spread_.assign(24, 0.0);
    for (size_t h = 0; h < 24; ++h) {
      const double s = std::isnan(per_hour[h]) ? global : kMadToSigma * per_hour[h];
      const double cnt = static_cast<double>(counts[h]);
      const double shrunk = std::sqrt((cnt * s * s + kShrinkPoints * global * global) / (cnt + kShrinkPoints));
      m.spread_[h] = std::max(shrunk * inflate, floor);
    }
  }
  return m;
}

double AnomalyModel::trend(int64_t t) const {  // t within [-kMaxTime, kMaxTime]
  const int64_t tc = std::clamp(t, t_first_, std::max(t_first_, trained_at_s_ + kTrendHorizonS));
  return intercept_ + slope_ * static_cast<double>(tc - t_ref_);
}

double AnomalyModel::season(int64_t t) const {
  if (daily_.empty()) return 0.0;
  const int64_t local = t + tz_offset_s_;
  const double week = weekly_.empty() ? 0.0 : weekly_[static_cast<size_t>(hour_of_week(local))];
  return interpolate(daily_, kHourS, local) + week;
}

double AnomalyModel::slot(int64_t t) const {
  return slots_.empty() ? 0.0 : slots_[static_cast<size_t>(floor_mod(t + tz_offset_s_, kHourS) / slot_s_)];
}

double AnomalyModel::expected(int64_t t) const {
  t = std::clamp(t, -kMaxTime, kMaxTime);
  return trend(t) + season(t) + slot(t);
}

double AnomalyModel::spread(int64_t t) const {
  t = std::clamp(t, -kMaxTime, kMaxTime);
  if (spread_.size() == 1) return spread_[0];
  return interpolate(spread_, kHourS, t + tz_offset_s_);
}

std::pair<math::Series, math::Series> AnomalyModel::band(const std::vector<int64_t>& timestamps, double k,
                                                         const std::string& label) const {
  std::pair<math::Series, math::Series> out;
  if (!label.empty()) {
    out.first.label = label + " Lower";
    out.second.label = label + " Upper";
  }
  k = std::fabs(k);
  out.first.timestamps.reserve(timestamps.size());
  out.first.values.reserve(timestamps.size());
  out.second.timestamps.reserve(timestamps.size());
  out.second.values.reserve(timestamps.size());
  for (int64_t t : timestamps) {
    const double e = expected(t), w = k * spread(t);
    // Non-finite bounds (k = inf, overflow) are dropped, as metric math drops such points.
    if (!std::isfinite(e - w) || !std::isfinite(e + w)) continue;
    out.first.timestamps.push_back(t);
    out.first.values.push_back(e - w);
    out.second.timestamps.push_back(t);
    out.second.values.push_back(e + w);
  }
  return out;
}

// Layout: "AD" version(1) | seasonality u8 | period, tz offset, trained_at, t_first, t_ref (i64)
// | intercept, slope (f64) | slot_s (i64) | daily, weekly, slots, spread as u16 count + f64s.
std::string AnomalyModel::encode() const {
  std::string out(kMagic, sizeof kMagic);
  out.push_back(static_cast<char>(seasonality_));
  put_i64(out, period_s_);
  put_i64(out, tz_offset_s_);
  put_i64(out, trained_at_s_);
  put_i64(out, t_first_);
  put_i64(out, t_ref_);
  put_f64(out, intercept_);
  put_f64(out, slope_);
  put_i64(out, slot_s_);
  put_vec(out, daily_);
  put_vec(out, weekly_);
  put_vec(out, slots_);
  put_vec(out, spread_);
  return out;
}

std::optional<AnomalyModel> AnomalyModel::decode(std::string_view bytes) {
  if (bytes.size() < sizeof kMagic || bytes.substr(0, sizeof kMagic) != std::string_view(kMagic, sizeof kMagic))
    return std::nullopt;
  Reader in{bytes, sizeof kMagic};
  AnomalyModel m;
  const uint8_t kind = in.u8();
  if (kind > 2) return std::nullopt;
  m.seasonality_ = static_cast<Seasonality>(kind);
  m.period_s_ = in.i64();
  m.tz_offset_s_ = in.i64();
  m.trained_at_s_ = in.i64();
  m.t_first_ = in.i64();
  m.t_ref_ = in.i64();
  m.intercept_ = in.f64();
  m.slope_ = in.f64();
  m.slot_s_ = in.i64();
  m.daily_ = in.vec(24);
  m.weekly_ = in.vec(168);
  m.slots_ = in.vec(60);
  m.spread_ = in.vec(24);
  if (!in.ok || in.pos != bytes.size()) return std::nullopt;
  // Consistency, so evaluation can index without checks. Times are bounded to +-2^40 s (far
  // beyond any real timestamp) so trend/offset arithmetic cannot overflow.
  for (int64_t v : {m.period_s_, m.trained_at_s_, m.t_first_, m.t_ref_})
    if (v < -kMaxTime || v > kMaxTime) return std::nullopt;
  if (m.period_s_ <= 0 || m.tz_offset_s_ < -kWeekS || m.tz_offset_s_ > kWeekS) return std::nullopt;
  if (m.daily_.size() != (kind == 0 ? 0u : 24u) || m.weekly_.size() != (kind == 2 ? 168u : 0u)) return std::nullopt;
  if (m.slots_.empty() ? m.slot_s_ != 0 : (m.slot_s_ <= 0 || m.slot_s_ > kHourS || static_cast<int64_t>(m.slots_.size()) * m.slot_s_ != kHourS))
    return std::nullopt;
  if (m.spread_.size() != (kind == 0 ? 1u : 24u)) return std::nullopt;
  for (double s : m.spread_)
    if (!(s > 0)) return std::nullopt;
  return m;
}

}  // namespace vigil::cloudwatch
