#include "services/cloudwatch/metric_query.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <set>

#include "core/aws_error.h"
#include "services/cloudwatch/anomaly_detectors.h"
#include "services/cloudwatch/extended_statistics.h"

namespace vigil::cloudwatch {

namespace {

AwsError validation(const std::string& message) { return AwsError("ValidationError", message, 400); }

bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 255 || !(id[0] >= 'a' && id[0] <= 'z')) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

bool valid_period(int64_t period) { return period == 1 || period == 5 || period == 10 || period == 30 || (period >= 60 && period % 60 == 0); }

Dimensions dimensions_of(const Value* list) {
  Dimensions dims;
  if (!list) return dims;
  for (const Value& d : list->as_list()) dims.emplace_back(std::string(d.str("Name")), std::string(d.str("Value")));
  std::sort(dims.begin(), dims.end());
  return dims;
}

// One parsed term of a SEARCH expression: Key=value (exact) or a bare token (partial match
// against the namespace, metric name, dimension names and values).
struct SearchTerm {
  std::string key, value;
  bool negated = false;
};

bool term_matches(const SearchTerm& t, const SeriesId& id) {
  auto contains = [](const std::string& hay, const std::string& needle) {
    if (needle.empty()) return true;
    auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(),
                          [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b)); });
    return it != hay.end();
  };
  bool hit = false;
  if (t.key.empty()) {
    hit = contains(id.namespace_, t.value) || contains(id.metric_name, t.value);
    for (const auto& d : id.dimensions) hit = hit || contains(d.first, t.value) || contains(d.second, t.value);
  } else if (t.key == "MetricName") {
    hit = id.metric_name == t.value;
  } else if (t.key == "Namespace") {
    hit = id.namespace_ == t.value;
  } else {
    for (const auto& d : id.dimensions) hit = hit || (d.first == t.key && d.second == t.value);
  }
  return hit != t.negated;
}

// Splits the search text into OR-groups of AND-ed terms after the optional {schema}.
struct ParsedSearch {
  std::optional<std::string> namespace_;
  std::optional<std::vector<std::string>> schema_dimensions;  // exact dimension-name set
  std::vector<std::vector<SearchTerm>> any_of;
};

ParsedSearch parse_search(const std::string& text) {
  ParsedSearch out;
  size_t i = 0;
  auto skip_space = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  auto read_token = [&]() -> std::string {
    std::string tok;
    if (i < text.size() && text[i] == '"') {
      ++i;
      while (i < text.size() && text[i] != '"') tok.push_back(text[i++]);
      if (i >= text.size()) throw math::MathError{"ValidationError", "Unterminated quote in SEARCH expression."};
      ++i;
      return tok;
    }
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i])) && text[i] != '=' && text[i] != '(' && text[i] != ')' &&
           text[i] != ',' && text[i] != '{' && text[i] != '}')
      tok.push_back(text[i++]);
    return tok;
  };
  skip_space();
  if (i < text.size() && text[i] == '{') {
    ++i;
    std::vector<std::string> parts;
    while (true) {
      skip_space();
      std::string tok = read_token();
      skip_space();
      parts.push_back(tok);
      if (i < text.size() && text[i] == ',') {
        ++i;
        continue;
      }
      if (i < text.size() && text[i] == '}') {
        ++i;
        break;
      }
      throw math::MathError{"ValidationError", "Invalid schema in SEARCH expression."};
    }
    if (parts.empty() || parts[0].empty()) throw math::MathError{"ValidationError", "Invalid schema in SEARCH expression."};
    out.namespace_ = parts[0];
    out.schema_dimensions = std::vector<std::string>(parts.begin() + 1, parts.end());
    std::sort(out.schema_dimensions->begin(), out.schema_dimensions->end());
  }
  out.any_of.emplace_back();
  bool negate = false;
  while (true) {
    skip_space();
    if (i >= text.size()) break;
    if (text[i] == '(' || text[i] == ')') {  // grouping is flattened: AND within, OR between
      ++i;
      continue;
    }
    std::string tok = read_token();
    if (tok.empty()) throw math::MathError{"ValidationError", "Invalid SEARCH expression."};
    if (tok == "OR") {
      out.any_of.emplace_back();
      continue;
    }
    if (tok == "AND") continue;
    if (tok == "NOT") {
      negate = true;
      continue;
    }
    SearchTerm term;
    skip_space();
    if (i < text.size() && text[i] == '=') {
      ++i;
      skip_space();
      term.key = tok;
      term.value = read_token();
    } else {
      term.value = tok;
    }
    term.negated = negate;
    negate = false;
    out.any_of.back().push_back(std::move(term));
  }
  return out;
}

// The id in "ANOMALY_DETECTION_BAND(m1, 2)", or "" when the first argument is not a bare id.
std::string band_argument_id(const std::string& text) {
  size_t at = text.find("ANOMALY_DETECTION_BAND");
  if (at == std::string::npos) return "";
  size_t i = at + 22;
  auto skip = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  skip();
  if (i >= text.size() || text[i] != '(') return "";
  ++i;
  skip();
  std::string id;
  while (i < text.size() && (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_')) id.push_back(text[i++]);
  skip();
  if (i >= text.size() || (text[i] != ',' && text[i] != ')')) return "";
  return id;
}

std::string search_label(const SeriesId& id) {
  std::string label = id.metric_name;
  for (const auto& d : id.dimensions) label += " " + d.second;
  return label;
}

}  // namespace

namespace {

std::string label_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string label_time(int64_t t, int64_t offset_s) {
  std::time_t shifted = static_cast<std::time_t>(t + offset_s);
  std::tm tm{};
  gmtime_r(&shifted, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (offset_s == 0) return out + "Z";
  const int64_t a = offset_s < 0 ? -offset_s : offset_s;
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", offset_s < 0 ? '-' : '+', static_cast<int>(a / 3600 % 100), static_cast<int>(a % 3600 / 60));
  return out + buf;
}

// "2d 3h 4m 5s" style, as the console shows durations.
std::string label_duration(int64_t seconds) {
  if (seconds < 0) seconds = -seconds;
  std::string out;
  for (auto [unit, size] : {std::pair<const char*, int64_t>{"d", 86400}, {"h", 3600}, {"m", 60}, {"s", 1}}) {
    if (seconds >= size || (size == 1 && out.empty())) {
      if (!out.empty()) out += ' ';
      out += std::to_string(seconds / size) + unit;
      seconds %= size;
    }
  }
  return out;
}

}  // namespace

std::string expand_dynamic_label(const std::string& label, const std::string& default_label, const math::Series& series,
                                 const std::map<std::string, std::string>& properties, int64_t timezone_offset_s, int64_t now_s) {
  if (label.find("${") == std::string::npos) return label;
  const auto& v = series.values;
  const auto& t = series.timestamps;
  size_t first = 0, last = v.empty() ? 0 : v.size() - 1, min_i = 0, max_i = 0;
  double sum = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    sum += v[i];
    if (v[i] < v[min_i]) min_i = i;
    if (v[i] > v[max_i]) max_i = i;
  }
  auto value_of = [&](const std::string& name) -> std::optional<std::string> {
    if (name == "LABEL") return default_label;
    if (name.rfind("PROP('", 0) == 0 && name.size() > 8 && name.compare(name.size() - 2, 2, "')") == 0) {
      auto it = properties.find(name.substr(6, name.size() - 8));
      return it == properties.end() ? std::string() : it->second;
    }
    if (name == "DATAPOINT_COUNT") return std::to_string(v.size());
    if (v.empty()) return std::string();  // no points: the statistic is blank
    if (name == "AVG") return label_number(sum / static_cast<double>(v.size()));
    if (name == "SUM") return label_number(sum);
    if (name == "MIN") return label_number(v[min_i]);
    if (name == "MAX") return label_number(v[max_i]);
    if (name == "FIRST") return label_number(v[first]);
    if (name == "LAST") return label_number(v[last]);
    if (name == "FIRST_LAST_RANGE") return label_number(v[last] - v[first]);
    if (name == "MIN_MAX_RANGE") return label_number(v[max_i] - v[min_i]);
    const std::pair<const char*, size_t> times[] = {{"FIRST", first}, {"LAST", last}, {"MIN", min_i}, {"MAX", max_i}};
    for (const auto& [prefix, index] : times) {
      const std::string p = prefix;
      if (name == p + "_TIME") return label_time(t[index], timezone_offset_s);
      if (name == p + "_TIME_RELATIVE") return label_duration(now_s - t[index]);
    }
    if (name == "FIRST_LAST_TIME_RANGE") return label_duration(t[last] - t[first]);
    if (name == "MIN_MAX_TIME_RANGE") return label_duration(t[max_i] - t[min_i]);
    return std::nullopt;  // unknown: left as written
  };
  std::string out;
  size_t i = 0;
  while (i < label.size()) {
    size_t open = label.find("${", i);
    size_t close = open == std::string::npos ? std::string::npos : label.find('}', open);
    if (close == std::string::npos) {
      out.append(label, i, std::string::npos);
      break;
    }
    out.append(label, i, open - i);
    std::optional<std::string> value = value_of(label.substr(open + 2, close - open - 2));
    out += value ? *value : label.substr(open, close - open + 1);
    i = close + 1;
  }
  return out;
}

bool valid_statistic(const std::string& s) {
  for (const char* standard : {"SampleCount", "Sum", "Average", "Minimum", "Maximum"})
    if (s == standard) return true;
  return parse_extended_statistic(s).has_value();
}

std::optional<double> statistic_value(const StatBucket& b, const std::string& s) {
  const Aggregate& a = b.aggregate;
  if (a.count <= 0) return std::nullopt;
  if (s == "SampleCount") return a.count;
  if (s == "Sum") return a.sum;
  if (s == "Average") return a.sum / a.count;
  if (s == "Minimum") return a.min;
  if (s == "Maximum") return a.max;
  auto extended = parse_extended_statistic(s);
  if (!extended) return std::nullopt;
  return compute_extended_statistic(*extended, a.sketch, a.count, a.sum, a.min, a.max);
}

math::Series MetricQueryEngine::fetch(const std::string& account, const std::string& region, const SeriesId& id, const std::string& statistic,
                                      int64_t period_s, std::optional<uint8_t> unit, int64_t start_s, int64_t end_s) const {
  // The statistic is resolved once, not per bucket (a day at 60 s is 1 440 buckets).
  enum class Basic { None, SampleCount, Sum, Average, Minimum, Maximum };
  Basic kind = statistic == "SampleCount" ? Basic::SampleCount
               : statistic == "Sum"       ? Basic::Sum
               : statistic == "Average"   ? Basic::Average
               : statistic == "Minimum"   ? Basic::Minimum
               : statistic == "Maximum"   ? Basic::Maximum
                                          : Basic::None;
  const bool basic = kind != Basic::None;
  const auto extended = basic ? std::nullopt : parse_extended_statistic(statistic);
  std::vector<StatBucket> buckets = store_.statistics(account, region, id, start_s, end_s, period_s, unit, !basic);
  // Buckets of different units share a timestamp when no unit was asked for: merge them, in
  // place (usually there is nothing to merge and nothing moves).
  size_t kept = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (kept > 0 && buckets[kept - 1].start_s == buckets[i].start_s) {
      buckets[kept - 1].aggregate.merge(buckets[i].aggregate);
    } else {
      if (kept != i) buckets[kept] = std::move(buckets[i]);
      ++kept;
    }
  }
  buckets.resize(kept);
  math::Series series;
  series.label = id.metric_name;
  series.timestamps.reserve(buckets.size());
  series.values.reserve(buckets.size());
  for (const StatBucket& b : buckets) {
    const Aggregate& a = b.aggregate;
    if (a.count <= 0) continue;
    double v;
    switch (kind) {
      case Basic::SampleCount: v = a.count; break;
      case Basic::Sum: v = a.sum; break;
      case Basic::Average: v = a.sum / a.count; break;
      case Basic::Minimum: v = a.min; break;
      case Basic::Maximum: v = a.max; break;
      case Basic::None: {
        if (!extended) continue;
        std::optional<double> e = compute_extended_statistic(*extended, a.sketch, a.count, a.sum, a.min, a.max);
        if (!e) continue;
        v = *e;
        break;
      }
    }
    series.timestamps.push_back(b.start_s);
    series.values.push_back(v);
  }
  return series;
}

std::vector<math::Series> MetricQueryEngine::search(const std::string& account, const std::string& region, const std::string& expression,
                                                    const std::string& statistic, int64_t period_s, int64_t start_s, int64_t end_s) const {
  if (!valid_statistic(statistic)) throw math::MathError{"ValidationError", "Invalid statistic in SEARCH: " + statistic};
  if (!valid_period(period_s)) throw math::MathError{"ValidationError", "Invalid period in SEARCH: " + std::to_string(period_s)};
  ParsedSearch parsed = parse_search(expression);
  MetricStore::ListFilter filter;
  filter.namespace_ = parsed.namespace_;
  std::vector<math::Series> out;
  std::string after;
  // Walks the directory a page at a time so a big account never sits in memory at once.
  while (out.size() < kMaxSearchSeries) {
    bool more = false;
    std::vector<ListedSeries> page = store_.list(account, region, filter, after, 500, &more);
    for (const ListedSeries& s : page) {
      if (parsed.schema_dimensions) {
        std::vector<std::string> names;
        for (const auto& d : s.id.dimensions) names.push_back(d.first);
        if (names != *parsed.schema_dimensions) continue;
      }
      bool any = false;
      for (const auto& group : parsed.any_of) {
        bool all = true;
        for (const SearchTerm& t : group) all = all && term_matches(t, s.id);
        any = any || all;
      }
      if (!any) continue;
      math::Series series = fetch(account, region, s.id, statistic, period_s, std::nullopt, start_s, end_s);
      series.label = search_label(s.id);
      out.push_back(std::move(series));
      if (out.size() == kMaxSearchSeries) break;
    }
    if (!more || page.empty()) break;
    after = page.back().key;
  }
  return out;
}

std::vector<QueryResult> MetricQueryEngine::run(const std::string& account, const std::string& region, const Value& queries,
                                                int64_t start_s, int64_t end_s, bool for_alarm) const {
  const auto& list = queries.as_list();
  if (list.empty()) throw validation("The parameter MetricDataQueries is required.");
  if (list.size() > 500) throw validation("The collection MetricDataQueries must not have a size greater than 500.");

  struct Pending {
    std::optional<math::Expression> expression;
    const Value* query;
  };
  std::vector<QueryResult> results(list.size());
  std::vector<Pending> pending(list.size());
  std::map<std::string, size_t> index_of;
  int64_t min_period = 0;
  size_t returned = 0;
  for (size_t i = 0; i < list.size(); ++i) {
    const Value& q = list[i];
    const std::string at = "MetricDataQueries.member." + std::to_string(i + 1);
    QueryResult& r = results[i];
    r.id = std::string(q.str("Id"));
    if (!valid_id(r.id))
      throw validation("The value " + r.id + " for parameter " + at + ".Id is invalid. Id must start with a lowercase letter and contain only letters, numbers and underscores.");
    if (!index_of.emplace(r.id, i).second) throw validation("The value " + r.id + " for parameter " + at + ".Id is duplicated.");
    r.return_data = q.flag("ReturnData", true);
    if (r.return_data) ++returned;
    const Value* stat = q.get("MetricStat");
    const Value* expr = q.get("Expression");
    if (stat && expr) throw validation("The parameters " + at + ".MetricStat and " + at + ".Expression are mutually exclusive and you have specified both.");
    if (!stat && !expr) throw validation("Exactly one element of the MetricStat or the Expression must be specified in " + at + ".");
    pending[i].query = &q;
    if (stat) {
      int64_t period = stat->i64("Period", 0);
      if (!valid_period(period)) throw validation("The value " + std::to_string(period) + " for parameter " + at + ".MetricStat.Period is invalid.");
      std::string s(stat->str("Stat"));
      if (!valid_statistic(s)) throw validation("The value " + s + " for parameter " + at + ".MetricStat.Stat is invalid.");
      min_period = min_period ? std::min(min_period, period) : period;
    } else {
      try {
        pending[i].expression = math::Expression::parse(expr->as_string());
      } catch (const math::MathError& e) {
        throw validation("Error in expression " + r.id + ": " + e.message);
      }
      if (int64_t period = q.i64("Period", 0); period && !valid_period(period))
        throw validation("The value " + std::to_string(period) + " for parameter " + at + ".Period is invalid.");
    }
    if (const Value* label = q.get("Label")) r.label = label->as_string();
    r.properties["AccountId"] = account;
    r.properties["Region"] = region;
    if (expr) r.properties["MetricExpression"] = expr->as_string();
  }
  // An alarm returns one series, plus its anomaly band (ThresholdMetricId): the handler checks
  // which one is which.
  if (for_alarm && returned > 2)
    throw validation("Metrics list must contain exactly one metric matching the ReturnData parameter.");
  if (returned == 0) throw validation("At least one of the queries must have ReturnData set to true.");
  for (size_t i = 0; i < list.size(); ++i)
    if (pending[i].expression)
      for (const std::string& ref : pending[i].expression->referenced_ids())
        if (!index_of.count(ref)) throw validation("Error in expression " + results[i].id + ": Unrecognized metric or expression id: " + ref);

  // MetricStat queries first: each is one series scan.
  struct StatIdentity {
    SeriesId series;
    std::string stat;
    int64_t period = 60;
  };
  std::vector<std::optional<StatIdentity>> identities(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    const Value* stat = pending[i].query->get("MetricStat");
    if (!stat) continue;
    const Value* metric = stat->get("Metric");
    SeriesId id{metric ? std::string(metric->str("Namespace")) : "", metric ? std::string(metric->str("MetricName")) : "",
                dimensions_of(metric ? metric->get("Dimensions") : nullptr)};
    std::optional<uint8_t> unit;
    if (const Value* u = stat->get("Unit")) {
      unit = unit_index(u->as_string());
      if (!unit) throw validation("The value " + u->as_string() + " for parameter MetricDataQueries.member." + std::to_string(i + 1) + ".MetricStat.Unit is invalid.");
    }
    math::Series s = fetch(account, region, id, std::string(stat->str("Stat")), stat->i64("Period", 60), unit, start_s, end_s);
    identities[i] = StatIdentity{id, std::string(stat->str("Stat")), stat->i64("Period", 60)};
    auto& props = results[i].properties;
    props["MetricName"] = id.metric_name;
    props["Namespace"] = id.namespace_;
    props["Stat"] = std::string(stat->str("Stat"));
    props["Period"] = std::to_string(stat->i64("Period", 60));
    for (const auto& d : id.dimensions) props["Dim." + d.first] = d.second;
    if (results[i].label.empty()) results[i].label = id.metric_name;
    s.label = results[i].label;
    results[i].series.push_back(std::move(s));
  }

  // Expressions in dependency order: repeatedly evaluate those whose references are done.
  std::vector<bool> done(list.size());
  for (size_t i = 0; i < list.size(); ++i) done[i] = !pending[i].expression;
  math::EvalContext ctx;
  ctx.start_s = start_s;
  ctx.end_s = end_s;
  ctx.period_s = min_period ? min_period : 60;
  ctx.lookup = [&](std::string_view id) -> const std::vector<math::Series>* {
    auto it = index_of.find(std::string(id));
    if (it == index_of.end() || !done[it->second]) return nullptr;
    return &results[it->second].series;
  };
  ctx.all_metrics = [&] {
    std::vector<std::pair<std::string, const std::vector<math::Series>*>> all;
    for (size_t i = 0; i < list.size(); ++i)
      if (done[i] && !pending[i].expression) all.emplace_back(results[i].id, &results[i].series);
    return all;
  };
  ctx.search = [&](const std::string& text, const std::string& statistic, int64_t period) {
    return search(account, region, text, statistic, period, start_s, end_s);
  };
  for (bool progress = true; progress;) {
    progress = false;
    for (size_t i = 0; i < list.size(); ++i) {
      if (done[i]) continue;
      bool ready = true;
      for (const std::string& ref : pending[i].expression->referenced_ids()) ready = ready && done[index_of[ref]];
      if (!ready) continue;
      math::EvalContext local = ctx;
      if (int64_t period = pending[i].query->i64("Period", 0)) local.period_s = period;
      // ANOMALY_DETECTION_BAND(m, k) needs the metric and statistic behind m: the model is
      // per (metric, stat). AWS only allows it over a MetricStat query id.
      if (const std::string* band_of = &pending[i].expression->text(); band_of->find("ANOMALY_DETECTION_BAND") != std::string::npos) {
        std::optional<StatIdentity> identity;
        if (auto it = index_of.find(band_argument_id(*band_of)); it != index_of.end()) identity = identities[it->second];
        if (identity && anomalies_) {
          local.anomaly_band = [&, identity](const math::Series& metric, double k) {
            auto band = anomalies_->band(account, region, DetectorId{identity->series, identity->stat}, identity->period,
                                         metric.timestamps, k, metric.label);
            // Until the model has enough history AWS draws no band: empty series.
            if (!band) return std::make_pair(math::Series{metric.label + " Lower", {}, {}}, math::Series{metric.label + " Upper", {}, {}});
            return *band;
          };
        } else {
          local.anomaly_band = [](const math::Series&, double) -> std::pair<math::Series, math::Series> {
            throw math::MathError{"ValidationError", "ANOMALY_DETECTION_BAND must be applied to the id of a MetricStat query."};
          };
        }
      }
      try {
        results[i].series = pending[i].expression->evaluate(local);
        // One series keeps the query's label; several (SEARCH, METRICS()) keep their own.
        if (results[i].series.size() == 1) {
          if (results[i].label.empty()) results[i].label = results[i].series[0].label.empty() ? results[i].id : results[i].series[0].label;
          results[i].series[0].label = results[i].label;
        } else if (!results[i].label.empty()) {
          for (auto& s : results[i].series) s.label = results[i].label + " " + s.label;
        }
      } catch (const math::MathError& e) {
        results[i].status = "InternalError";
        results[i].messages.push_back({e.code.empty() ? "Error" : e.code, e.message});
      }
      if (results[i].label.empty()) results[i].label = results[i].id;
      done[i] = true;
      progress = true;
    }
  }
  for (size_t i = 0; i < list.size(); ++i)
    if (!done[i]) throw validation("Error in expression " + results[i].id + ": Circular dependency between metric queries.");
  return results;
}

}  // namespace vigil::cloudwatch
