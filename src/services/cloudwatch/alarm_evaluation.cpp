#include "services/cloudwatch/alarm_evaluation.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace vigil::cloudwatch {
namespace {

struct ComparisonName {
  Comparison op;
  std::string_view name;
};
constexpr ComparisonName kComparisons[] = {
    {Comparison::GreaterThanOrEqualToThreshold, "GreaterThanOrEqualToThreshold"},
    {Comparison::GreaterThanThreshold, "GreaterThanThreshold"},
    {Comparison::LessThanThreshold, "LessThanThreshold"},
    {Comparison::LessThanOrEqualToThreshold, "LessThanOrEqualToThreshold"},
    {Comparison::LessThanLowerOrGreaterThanUpperThreshold, "LessThanLowerOrGreaterThanUpperThreshold"},
    {Comparison::LessThanLowerThreshold, "LessThanLowerThreshold"},
    {Comparison::GreaterThanUpperThreshold, "GreaterThanUpperThreshold"},
};

std::tm utc_tm(int64_t seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

// "23/05/26 16:19:00" — dd/MM/yy HH:mm:ss, as in every AWS threshold reason.
std::string reason_time(int64_t seconds) {
  std::tm tm = utc_tm(seconds);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d/%02d/%02d %02d:%02d:%02d", tm.tm_mday, tm.tm_mon + 1,
                (tm.tm_year + 1900) % 100, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

// "2024-04-23T20:44:00.000+0000" — StateReasonData timestamps.
std::string json_time_ms(int64_t ms) {
  int64_t s = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int milli = static_cast<int>(ms - s * 1000);
  std::tm tm = utc_tm(s);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+0000", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
  return buf;
}

void json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
}

// JSON has no NaN/Infinity; they cannot come from real aggregates but must not break the document.
std::string json_number(double v) { return std::isfinite(v) ? format_aws_double(v) : "null"; }

std::string plural(int n, std::string_view word) {
  std::string s = std::to_string(n) + " " + std::string(word);
  if (n != 1) s += 's';
  return s;
}
const char* was_were(int n) { return n == 1 ? "was" : "were"; }

std::string_view op_words(Comparison c) {
  switch (c) {
    case Comparison::GreaterThanOrEqualToThreshold: return "greater than or equal to";
    case Comparison::GreaterThanThreshold: return "greater than";
    case Comparison::LessThanThreshold: return "less than";
    case Comparison::LessThanOrEqualToThreshold: return "less than or equal to";
    default: return "";
  }
}

// Percentile from an extended statistic such as "p99" or "p99.9"; nullopt if not parseable.
std::optional<double> percentile_of(std::string_view stat) {
  if (stat.size() < 2 || (stat[0] != 'p' && stat[0] != 'P')) return std::nullopt;
  std::string s(stat.substr(1));
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !(v > 0) || v > 100) return std::nullopt;
  return v / 100.0;
}

struct Slot {
  int index;          // 0 = newest period
  int64_t start_s;    // period start, the datapoint's timestamp
  const EvaluatedPoint* point;
};

}  // namespace

std::optional<Comparison> parse_comparison(std::string_view s) {
  for (const auto& c : kComparisons)
    if (c.name == s) return c.op;
  return std::nullopt;
}

std::string_view comparison_name(Comparison op) {
  for (const auto& c : kComparisons)
    if (c.op == op) return c.name;
  return {};
}

bool is_band_comparison(Comparison c) {
  return c == Comparison::LessThanLowerOrGreaterThanUpperThreshold || c == Comparison::LessThanLowerThreshold ||
         c == Comparison::GreaterThanUpperThreshold;
}

int evaluation_range_periods(const AlarmSpec& spec) { return std::max(1, spec.evaluation_periods) + 2; }

std::string format_aws_double(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // e.g. "-1.2345e+07"
  std::string out;
  size_t pos = 0;
  if (sci[0] == '-') {
    out += '-';
    pos = 1;
  }
  size_t e = sci.find('e');
  std::string digits;
  for (size_t i = pos; i < e; ++i)
    if (sci[i] != '.') digits += sci[i];
  int exp = std::atoi(sci.c_str() + e + 1);
  double mag = std::fabs(v);
  if (mag >= 1e-3 && mag < 1e7) {
    if (exp >= 0) {
      std::string ip = digits.substr(0, std::min<size_t>(digits.size(), exp + 1));
      while (ip.size() < static_cast<size_t>(exp + 1)) ip += '0';
      std::string fp = digits.size() > static_cast<size_t>(exp + 1) ? digits.substr(exp + 1) : "0";
      out += ip + "." + fp;
    } else {
      out += "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    }
  } else {
    out += digits.substr(0, 1);
    out += '.';
    out += digits.size() > 1 ? digits.substr(1) : "0";
    out += 'E';
    out += std::to_string(exp);
  }
  return out;
}

Evaluation evaluate_alarm(const AlarmSpec& spec, const std::vector<EvaluatedPoint>& points, int64_t window_end_s,
                          const std::string& current_state, int64_t now_ms) {
  const int n = std::max(1, spec.evaluation_periods);
  const int m = std::clamp(spec.datapoints_to_alarm, 1, n);
  const int64_t period = std::max<int64_t>(1, spec.period_s);
  const int range = evaluation_range_periods(spec);
  const bool band = is_band_comparison(spec.comparison);

  // Place each point in its period of the evaluation range; the first one supplied per period wins.
  std::vector<const EvaluatedPoint*> by_slot(range, nullptr);
  for (const auto& p : points) {
    if (p.timestamp_s >= window_end_s) continue;
    int64_t idx = (window_end_s - p.timestamp_s - 1) / period;
    if (idx >= range) continue;
    if (band && (!p.lower || !p.upper)) continue;  // no band value: the period cannot be evaluated
    if (!by_slot[idx]) by_slot[idx] = &p;
  }
  auto slot_start = [&](int i) { return window_end_s - static_cast<int64_t>(i + 1) * period; };

  std::vector<Slot> real;  // newest first
  for (int i = 0; i < range; ++i)
    if (by_slot[i]) real.push_back({i, slot_start(i), by_slot[i]});
  const int k = static_cast<int>(real.size());
  if (k > n) real.resize(n);  // enough real points: the N most recent ones, missing-data setting unused
  const int evaluated_real = static_cast<int>(real.size());

  auto breaches = [&](const EvaluatedPoint& p) {
    switch (spec.comparison) {
      case Comparison::GreaterThanOrEqualToThreshold: return p.value >= spec.threshold;
      case Comparison::GreaterThanThreshold: return p.value > spec.threshold;
      case Comparison::LessThanThreshold: return p.value < spec.threshold;
      case Comparison::LessThanOrEqualToThreshold: return p.value <= spec.threshold;
      case Comparison::LessThanLowerOrGreaterThanUpperThreshold: return p.value < *p.lower || p.value > *p.upper;
      case Comparison::LessThanLowerThreshold: return p.value < *p.lower;
      case Comparison::GreaterThanUpperThreshold: return p.value > *p.upper;
    }
    return false;
  };

  Evaluation ev;
  auto retain = [&]() {
    ev.state = current_state;
    ev.changed = false;
    return ev;
  };

  // Low-sample percentiles with EvaluateLowSampleCountPercentile=ignore: AWS keeps the state
  // while any evaluated period has fewer than 10/(1-p) (p >= 0.5) or 10/p samples.
  if (spec.is_percentile && spec.evaluate_low_sample_count_percentile == "ignore") {
    if (auto p = percentile_of(spec.statistic); p && *p < 1.0) {
      double needed = *p >= 0.5 ? 10.0 / (1.0 - *p) : 10.0 / *p;
      for (const auto& s : real)
        if (s.point->sample_count < needed) return retain();
    }
  }

  int breaching = 0;
  for (const auto& s : real) breaching += breaches(*s.point) ? 1 : 0;
  const int not_breaching = evaluated_real - breaching;
  const int fill = n - evaluated_real;  // missing slots that TreatMissingData must stand in for
  const std::string& tmd = spec.treat_missing_data;
  const bool fill_breaching = tmd == "breaching";
  const bool fill_not_breaching = tmd == "notBreaching";

  enum class Form { Threshold, Filled, Insufficient } form = Form::Threshold;
  std::string state;
  if (fill == 0) {
    state = breaching >= m ? "ALARM" : "OK";
  } else if (fill_breaching || fill_not_breaching) {
    state = breaching + (fill_breaching ? fill : 0) >= m ? "ALARM" : "OK";
    form = Form::Filled;
  } else if (evaluated_real == 0) {
    if (tmd == "ignore") return retain();
    state = "INSUFFICIENT_DATA";  // missing (and unknown settings, which validation rejects)
    form = Form::Insufficient;
  } else if (breaching >= m) {
    state = "ALARM";
  } else if (not_breaching > 0) {
    state = "OK";
  } else if (tmd == "ignore") {
    return retain();
  } else {
    // Only breaching points, fewer than M. The guide's table: "- - - - X" (newest breaching) stays
    // INSUFFICIENT_DATA but "X - - - -" goes to ALARM ("the oldest evaluated data point is breaching
    // and there aren't any non-breaching data points"): ALARM when that point was found only by
    // looking back beyond the last N periods.
    if (real.back().index >= n) {
      state = "ALARM";
    } else {
      state = "INSUFFICIENT_DATA";
      form = Form::Insufficient;
    }
  }
  ev.state = state;
  ev.changed = state != current_state;

  // ---- StateReason ----
  const bool to_alarm = state == "ALARM";
  std::vector<const Slot*> listed;  // points named in the reason, newest first
  for (const auto& s : real)
    if (breaches(*s.point) == to_alarm) listed.push_back(&s);
  const int minimum = to_alarm ? m : n - m + 1;

  std::string reason;
  if (form == Form::Insufficient) {
    reason = "Insufficient Data: " + plural(n, "datapoint") + " " + was_were(n) + " unknown.";
  } else if (form == Form::Filled) {
    std::string treated = fill_breaching ? "[Breaching]" : "[NonBreaching]";
    reason = "Threshold Crossed: ";
    reason += evaluated_real == 0 ? std::string("no datapoints were")
                                  : plural(evaluated_real, "datapoint") + " " + was_were(evaluated_real);
    reason += " received for " + plural(n, "period") + " and " + plural(fill, "missing datapoint") + " " +
              was_were(fill) + " treated as " + treated + ".";
  } else {
    const int count = static_cast<int>(listed.size());
    std::string values;
    for (size_t i = 0; i < listed.size(); ++i) {
      if (i) values += ", ";
      values += format_aws_double(listed[i]->point->value) + " (" + reason_time(listed[i]->start_s) + ")";
    }
    std::string negation = to_alarm ? "" : "not ";
    reason = band ? "Thresholds Crossed: " : "Threshold Crossed: ";
    if (spec.datapoints_to_alarm_set)
      reason += std::to_string(count) + " out of the last " + std::to_string(n) + " datapoints";
    else
      reason += plural(count, "datapoint");
    reason += " [" + values + "] " + was_were(count) + " " + negation;
    if (band) {
      auto bounds = [&](bool upper) {
        std::string b = "[";
        for (size_t i = 0; i < listed.size(); ++i) {
          if (i) b += ", ";
          b += format_aws_double(upper ? *listed[i]->point->upper : *listed[i]->point->lower);
        }
        return b + "]";
      };
      if (spec.comparison != Comparison::GreaterThanUpperThreshold)
        reason += "less than the lower thresholds " + bounds(false);
      if (spec.comparison == Comparison::LessThanLowerOrGreaterThanUpperThreshold) reason += " or ";
      if (spec.comparison != Comparison::LessThanLowerThreshold)
        reason += "greater than the upper thresholds " + bounds(true);
    } else {
      reason += std::string(op_words(spec.comparison)) + " the threshold (" + format_aws_double(spec.threshold) + ")";
    }
    if (spec.datapoints_to_alarm_set)
      reason += " (minimum " + plural(minimum, "datapoint") + " for " +
                (to_alarm ? "OK -> ALARM" : "ALARM -> OK") + " transition)";
    reason += ".";
  }
  ev.reason = std::move(reason);

  // ---- StateReasonData ----
  std::string j = "{\"version\":\"1.0\",\"queryDate\":\"" + json_time_ms(now_ms) + "\"";
  if (!real.empty()) j += ",\"startDate\":\"" + json_time_ms(real.back().start_s * 1000) + "\"";
  if (!spec.unit.empty()) {
    j += ",\"unit\":";
    json_string(j, spec.unit);
  }
  if (!spec.statistic.empty()) {
    j += ",\"statistic\":";
    json_string(j, spec.statistic);
  }
  j += ",\"period\":" + std::to_string(period);
  j += ",\"recentDatapoints\":[";
  for (int i = evaluated_real - 1; i >= 0; --i) {  // oldest first, as AWS lists them
    j += json_number(real[i].point->value);
    if (i) j += ',';
  }
  j += "]";
  if (!band) j += ",\"threshold\":" + json_number(spec.threshold);
  j += ",\"evaluatedDatapoints\":[";
  bool first = true;
  auto add_point = [&](int64_t start_s, const EvaluatedPoint* p) {
    if (!first) j += ',';
    first = false;
    j += "{\"timestamp\":\"" + json_time_ms(start_s * 1000) + "\"";
    if (p) {
      j += ",\"sampleCount\":" + json_number(p->sample_count) + ",\"value\":" + json_number(p->value);
      if (band) j += ",\"lowerBound\":" + json_number(*p->lower) + ",\"upperBound\":" + json_number(*p->upper);
    }
    j += "}";
  };
  if (form == Form::Threshold) {
    // The datapoints that carried the transition: the listed ones, up to the transition minimum.
    for (size_t i = 0; i < listed.size() && static_cast<int>(i) < minimum; ++i)
      add_point(listed[i]->start_s, listed[i]->point);
  } else {
    // Every evaluated period, newest first; missing ones (unknown or filled) carry only a timestamp.
    int missing_left = fill;
    for (int i = 0; i < range; ++i) {
      const bool in_eval = std::any_of(real.begin(), real.end(), [&](const Slot& s) { return s.index == i; });
      if (in_eval) {
        add_point(slot_start(i), by_slot[i]);
      } else if (missing_left > 0) {
        add_point(slot_start(i), nullptr);
        --missing_left;
      }
    }
  }
  j += "]}";
  ev.reason_data_json = std::move(j);
  return ev;
}

}  // namespace vigil::cloudwatch
