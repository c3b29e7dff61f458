#include "services/cloudwatch/extended_statistics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace vigil::cloudwatch {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// digits [ '.' digits{1,max_decimals} ], optionally with a leading '-'. No exponents, no
// leading '.', no '+': the grammar AWS documents is plain decimals.
std::optional<double> parse_number(std::string_view s, int max_decimals, bool allow_sign) {
  std::string_view body = s;
  if (allow_sign && !body.empty() && body.front() == '-') body.remove_prefix(1);
  size_t i = 0;
  while (i < body.size() && is_digit(body[i])) ++i;
  if (i == 0 || i > 30) return std::nullopt;
  if (i < body.size()) {
    if (body[i] != '.') return std::nullopt;
    size_t decimals = body.size() - i - 1;
    if (decimals == 0 || decimals > static_cast<size_t>(max_decimals)) return std::nullopt;
    for (size_t j = i + 1; j < body.size(); ++j)
      if (!is_digit(body[j])) return std::nullopt;
  }
  std::string text(s);
  return std::strtod(text.c_str(), nullptr);
}

constexpr int kBoundDecimals = 10;  // "up to 10 decimal places"

std::optional<ExtendedKind> range_kind(std::string_view prefix) {
  if (prefix == "TM" || prefix == "tm") return ExtendedKind::TrimmedMean;
  if (prefix == "WM" || prefix == "wm") return ExtendedKind::WinsorizedMean;
  if (prefix == "TC" || prefix == "tc") return ExtendedKind::TrimmedCount;
  if (prefix == "TS" || prefix == "ts") return ExtendedKind::TrimmedSum;
  if (prefix == "PR") return ExtendedKind::PercentileRank;
  return std::nullopt;
}

// AWS's percentile pattern: p(\d{1,2}(\.\d{0,2})?|100).
std::optional<double> parse_percentile(std::string_view r) {
  if (r == "100") return 100.0;
  size_t i = 0;
  while (i < r.size() && is_digit(r[i])) ++i;
  if (i < 1 || i > 2) return std::nullopt;
  if (i < r.size()) {
    if (r[i] != '.' || r.size() - i - 1 > 2) return std::nullopt;
    for (size_t j = i + 1; j < r.size(); ++j)
      if (!is_digit(r[j])) return std::nullopt;
  }
  std::string text(r);
  return std::strtod(text.c_str(), nullptr);
}

std::string format_number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10f", v);
  std::string s(buf);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// One bound inside parentheses: empty (open), "X%" or "X".
struct Bound {
  std::optional<double> value;
  bool percent = false;
};
std::optional<Bound> parse_bound(std::string_view s) {
  Bound b;
  if (s.empty()) return b;
  if (s.back() == '%') {
    b.percent = true;
    b.value = parse_number(s.substr(0, s.size() - 1), kBoundDecimals, false);
    if (!b.value || *b.value > 100) return std::nullopt;
  } else {
    b.value = parse_number(s, kBoundDecimals, true);
    if (!b.value) return std::nullopt;
  }
  return b;
}

}  // namespace

std::optional<ExtendedStatistic> parse_extended_statistic(std::string_view name) {
  ExtendedStatistic st;
  st.name = std::string(name);
  if (name == "IQM") {
    st.kind = ExtendedKind::TrimmedMean;
    st.lower = 25;
    st.upper = 75;
    return st;
  }
  if (name.size() >= 2 && name[0] == 'p') {
    auto p = parse_percentile(name.substr(1));
    if (!p) return std::nullopt;
    st.percentile = *p;
    return st;
  }
  if (name.size() < 3) return std::nullopt;
  auto kind = range_kind(name.substr(0, 2));
  if (!kind) return std::nullopt;
  st.kind = *kind;
  std::string_view rest = name.substr(2);
  bool lower_case = name[0] == 't' || name[0] == 'w';
  if (lower_case) {
    // tm90: one percentage, no parentheses; the range 0%..90%.
    auto x = parse_number(rest, kBoundDecimals, false);
    if (!x || *x > 100) return std::nullopt;
    st.upper = *x;
    return st;
  }
  if (rest.size() < 3 || rest.front() != '(' || rest.back() != ')') return std::nullopt;
  std::string_view inner = rest.substr(1, rest.size() - 2);
  size_t colon = inner.find(':');
  if (colon == std::string_view::npos || inner.find(':', colon + 1) != std::string_view::npos) return std::nullopt;
  auto lo = parse_bound(inner.substr(0, colon));
  auto hi = parse_bound(inner.substr(colon + 1));
  if (!lo || !hi || (!lo->value && !hi->value)) return std::nullopt;
  if (lo->value && hi->value && (lo->percent != hi->percent || !(*lo->value < *hi->value))) return std::nullopt;
  st.percent = lo->value ? lo->percent : hi->percent;
  if (st.kind == ExtendedKind::PercentileRank && st.percent) return std::nullopt;  // PR takes values
  st.lower = lo->value;
  st.upper = hi->value;
  return st;
}

std::string canonical_name(const ExtendedStatistic& st) {
  if (st.kind == ExtendedKind::Percentile) return "p" + format_number(st.percentile);
  const char* prefix = "TM";
  switch (st.kind) {
    case ExtendedKind::WinsorizedMean: prefix = "WM"; break;
    case ExtendedKind::TrimmedCount: prefix = "TC"; break;
    case ExtendedKind::TrimmedSum: prefix = "TS"; break;
    case ExtendedKind::PercentileRank: prefix = "PR"; break;
    default: break;
  }
  const char* pct = st.percent ? "%" : "";
  std::string out = std::string(prefix) + "(";
  if (st.lower) out += format_number(*st.lower) + pct;
  out += ":";
  if (st.upper) out += format_number(*st.upper) + pct;
  return out + ")";
}

std::optional<double> compute_extended_statistic(const ExtendedStatistic& st, const QuantileSketch& sketch,
                                                 double count, double sum, double min, double max) {
  if (!(count > 0)) return std::nullopt;
  // Percentile-family statistics need raw values. A sketch missing part of the count means some
  // data came as a StatisticValues set; unless all values are equal that has no answer.
  const QuantileSketch* s = &sketch;
  QuantileSketch uniform;
  bool complete = !sketch.empty() && sketch.total_count() >= count * (1 - 1e-9);
  if (!complete) {
    if (min != max) return std::nullopt;
    uniform.add(min, count);
    s = &uniform;
    sum = min * count;
  }
  const double n = s->total_count();
  const double lo_v = s->min(), hi_v = s->max();

  if (st.kind == ExtendedKind::Percentile) return s->quantile(st.percentile / 100);

  double tc = 0, ts = 0;  // mass and sum of values inside the range
  if (st.percent) {
    const double a = st.lower.value_or(0) / 100, b = st.upper.value_or(100) / 100;
    const double lo_rank = a * n, hi_rank = b * n;
    if (a <= 0 && b >= 1) {
      tc = n;
      ts = sum;  // the whole range: exact
    } else {
      // Fractional overlap of each bucket's mass [cum, cum + c) with [lo_rank, hi_rank]: the
      // interpolation AWS mentions for trimmed counts.
      double cum = 0;
      s->for_each_bucket([&](double v, double c) {
        double w = std::min(cum + c, hi_rank) - std::max(cum, lo_rank);
        cum += c;
        if (w > 0) {
          tc += w;
          ts += w * v;
        }
        return cum < hi_rank;
      });
    }
    switch (st.kind) {
      case ExtendedKind::TrimmedCount: return tc;
      case ExtendedKind::TrimmedSum: return ts;
      case ExtendedKind::TrimmedMean:
        if (!(tc > 0)) return std::nullopt;
        return ts / tc;
      case ExtendedKind::WinsorizedMean: {
        // Mass below the range counts as the value at the lower percentile, above as the upper.
        double below = a > 0 ? lo_rank * s->quantile(a) : 0;
        double above = b < 1 ? (n - hi_rank) * s->quantile(b) : 0;
        return (ts + below + above) / n;
      }
      default: return std::nullopt;
    }
  }

  // Absolute bounds: the range (lower, upper].
  auto inside = [&](double v) { return (!st.lower || v > *st.lower) && (!st.upper || v <= *st.upper); };
  bool all = (!st.lower || *st.lower < lo_v) && (!st.upper || *st.upper >= hi_v);
  bool none = (st.lower && *st.lower >= hi_v) || (st.upper && *st.upper < lo_v);
  if (st.kind == ExtendedKind::WinsorizedMean) {
    if (all) return sum / n;
    // Values outside are taken as the bound they crossed.
    double total = 0;
    s->for_each_bucket([&](double v, double c) {
      double x = v;
      if (st.lower && x < *st.lower) x = *st.lower;
      if (st.upper && x > *st.upper) x = *st.upper;
      total += c * x;
      return true;
    });
    return total / n;
  }
  if (all) {
    tc = n;
    ts = sum;
  } else if (!none) {
    s->for_each_bucket([&](double v, double c) {
      if (inside(v)) {
        tc += c;
        ts += c * v;
      }
      return !st.upper || v <= *st.upper;
    });
  }
  switch (st.kind) {
    case ExtendedKind::TrimmedCount: return tc;
    case ExtendedKind::TrimmedSum: return ts;
    case ExtendedKind::PercentileRank: return 100 * tc / n;
    case ExtendedKind::TrimmedMean:
      if (!(tc > 0)) return std::nullopt;
      return ts / tc;
    default: return std::nullopt;
  }
}

}  // namespace vigil::cloudwatch
