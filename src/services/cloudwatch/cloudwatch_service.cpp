#include "services/cloudwatch/cloudwatch_service.h"

#include <algorithm>
#include <cmath>

#include "core/encoding.h"
#include "http/gzip_body.h"
#include "services/cloudwatch/extended_statistics.h"
#include "services/cloudwatch/put_metric_data_cbor_decoder.h"
#include "services/cloudwatch/put_metric_data_decoder.h"
#include "services/cloudwatch/put_metric_data_query_decoder.h"

namespace vigil::cloudwatch {

namespace {

using server::CallContext;

constexpr size_t kMaxMetricDataPerCall = 1000;  // AWS's limit of MetricData per PutMetricData

AwsError invalid_value(const std::string& message) { return AwsError("InvalidParameterValue", message, 400); }
AwsError missing(const std::string& parameter) { return AwsError("MissingParameter", "The parameter " + parameter + " is required.", 400); }
AwsError combination(const std::string& message) { return AwsError("InvalidParameterCombination", message, 400); }

std::string format_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// AWS accepts values whose magnitude is 0 or within [2^-260, 2^360]; NaN and ±Inf never.
bool value_in_range(double v) {
  double a = std::fabs(v);
  return !(std::isnan(v) || std::isinf(v) || a > std::ldexp(1.0, 360) || (a != 0 && a < std::ldexp(1.0, -260)));
}
void check_value(double v, const std::string& parameter) {
  if (!value_in_range(v))
    throw invalid_value("The value " + format_number(v) + " for parameter " + parameter + " is invalid.");
}

Dimensions read_dimensions(const Value* list) {
  Dimensions dims;
  if (!list) return dims;
  for (const Value& d : list->as_list()) dims.emplace_back(std::string(d.str("Name")), std::string(d.str("Value")));
  std::sort(dims.begin(), dims.end());
  return dims;
}

std::string with_thousands(int64_t n) {
  std::string s = std::to_string(n), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

CloudWatchService::CloudWatchService(MetricStore& store, const MetricQueryEngine& queries, AlarmStore& alarms,
                                     DashboardStore& dashboards, AnomalyDetectors& anomalies, const Clock& clock)
    : Service(*protocol::embedded_model("cloudwatch")),
      store_(store),
      queries_(queries),
      alarms_(alarms),
      dashboards_(dashboards),
      anomalies_(anomalies),
      clock_(clock) {
  on("PutMetricData", [this](CallContext& c, const Value& in) { return put_metric_data(c, in); });
  // Hand-written decoders for the hot operation, one per protocol (see put_metric_data_decoder.h).
  on_raw("json", "PutMetricData",
         [this](CallContext& c, std::string_view body, Value& audit) { return put_metric_data_raw(c, body, audit, decode_put_metric_data); });
  on_raw("smithy-rpc-v2-cbor", "PutMetricData",
         [this](CallContext& c, std::string_view body, Value& audit) { return put_metric_data_raw(c, body, audit, decode_put_metric_data_cbor); });
  on_raw("query", "PutMetricData",
         [this](CallContext& c, std::string_view body, Value& audit) { return put_metric_data_raw(c, body, audit, decode_put_metric_data_query); });
  on("ListMetrics", [this](CallContext& c, const Value& in) { return list_metrics(c, in); });
  on("GetMetricStatistics", [this](CallContext& c, const Value& in) { return get_metric_statistics(c, in); });
  on("GetMetricData", [this](CallContext& c, const Value& in) { return get_metric_data(c, in); });
  register_alarm_handlers();
  register_dashboard_handlers();
  register_anomaly_handlers();
}

server::AuditClass CloudWatchService::audit_class(std::string_view operation) const {
  // Metric reads and writes are CloudTrail data events, kept out of the event history.
  for (std::string_view op : {"PutMetricData", "GetMetricStatistics", "GetMetricData", "ListMetrics"})
    if (operation == op) return server::AuditClass::Data;
  return server::AuditClass::Management;
}

const Value& CloudWatchService::audit_parameters(std::string_view operation, const Value& input, Value& scratch) const {
  if (operation != "PutMetricData") return input;
  scratch = Value::map();  // which namespace was written, not the data points
  if (const Value* ns = input.get("Namespace")) scratch.set("Namespace", *ns);
  return scratch;
}

std::optional<HttpRequest> CloudWatchService::unwrap_payload(const HttpRequest& request, const auth::AuthResult&) const {
  if (!http::is_gzip_encoded(request.header("content-encoding"))) return std::nullopt;
  std::optional<std::string> body = http::gunzip(request.body, kMaxInflatedBytes);
  if (!body) throw AwsError("InvalidParameterValue", "The request body is not valid gzip or inflates beyond the request size limit.", 400);
  HttpRequest out = request;
  out.body = std::move(*body);
  std::erase_if(out.headers, [](const auto& h) { return h.first == "content-encoding"; });
  return out;
}

Value CloudWatchService::put_metric_data(CallContext& ctx, const Value& in) {
  return store_metric_data(ctx, put_metric_data_input(in));
}

std::optional<Value> CloudWatchService::put_metric_data_raw(CallContext& ctx, std::string_view body, Value& audit_input,
                                                            bool (*decode)(std::string_view, PutMetricDataInput&)) {
  // Per worker thread and protocol, reused across calls: the datum vector and its strings keep
  // their buffers, so a steady stream of calls allocates little here.
  thread_local PutMetricDataInput json_input, cbor_input, query_input;
  PutMetricDataInput& in = decode == decode_put_metric_data ? json_input : decode == decode_put_metric_data_cbor ? cbor_input : query_input;
  struct Trim {  // an oversized call (rejected below) must not pin its buffers in the thread
    PutMetricDataInput& in;
    ~Trim() {
      if (in.metric_data && in.metric_data->size() > kMaxMetricDataPerCall) in = PutMetricDataInput();
    }
  } trim{in};
  if (!decode(body, in)) return std::nullopt;
  audit_input = Value::map();  // what audit_parameters keeps of a PutMetricData input
  audit_input.set("Namespace", in.namespace_);
  return store_metric_data(ctx, in);
}

// AWS's semantic checks of PutMetricData (both wire paths), in AWS's order and words, then one
// MetricStore::put. Cost: O(values) for validation and the aggregates; see MetricStore::put.
Value CloudWatchService::store_metric_data(CallContext& ctx, const PutMetricDataInput& in) {
  const std::string& ns = in.namespace_;
  if (ns.rfind("AWS/", 0) == 0) throw invalid_value("The value " + ns + " for parameter Namespace is invalid.");
  if (in.has_entity_metric_data) throw invalid_value("Vigil does not support EntityMetricData yet (see docs/coverage.md).");
  if (!in.metric_data || in.metric_data->empty()) throw missing("MetricData");
  if (in.metric_data->size() > kMaxMetricDataPerCall) throw invalid_value("The collection MetricData must not have a size greater than 1000.");

  const int64_t now_ms = clock_.now_millis();
  std::vector<PointBatch> points;
  points.reserve(in.metric_data->size());
  size_t index = 0;
  for (const MetricDatumInput& d : *in.metric_data) {
    ++index;
    // The parameter's name, only built for an error message.
    auto at = [&index] { return "MetricData.member." + std::to_string(index); };
    PointBatch& p = points.emplace_back();
    p.namespace_ = ns;
    p.metric_name = d.metric_name;
    p.dimensions.assign(d.dimensions.begin(), d.dimensions.end());
    std::sort(p.dimensions.begin(), p.dimensions.end());
    for (size_t i = 1; i < p.dimensions.size(); ++i)
      if (p.dimensions[i].first == p.dimensions[i - 1].first)
        throw invalid_value("The value " + p.dimensions[i].first + " for parameter " + at() + ".Dimensions is a duplicate dimension name.");

    if (d.value && d.statistic_values)
      throw combination("The parameters " + at() + ".Value and " + at() + ".StatisticValues are mutually exclusive and you have specified both.");
    if (d.value && d.values)
      throw combination("The parameters " + at() + ".Value and " + at() + ".Values are mutually exclusive and you have specified both.");
    if (d.values && d.statistic_values)
      throw combination("The parameters " + at() + ".Values and " + at() + ".StatisticValues are mutually exclusive and you have specified both.");
    if (d.counts && !d.values) throw missing(at() + ".Values");

    if (d.value) {
      if (!value_in_range(*d.value)) check_value(*d.value, at() + ".Value");
      p.aggregate.add(*d.value);
    } else if (d.values) {
      const std::vector<double>& values = *d.values;
      if (values.size() > 150) throw invalid_value("The collection " + at() + ".Values must not have a size greater than 150.");
      if (d.counts && d.counts->size() != values.size())
        throw invalid_value("The parameters " + at() + ".Values and " + at() + ".Counts must be of the same size.");
      for (size_t i = 0; i < values.size(); ++i) {
        double v = values[i];
        if (!value_in_range(v)) check_value(v, at() + ".Values.member." + std::to_string(i + 1));
        double n = 1;
        if (d.counts) {
          n = (*d.counts)[i];
          if (!value_in_range(n)) check_value(n, at() + ".Counts.member." + std::to_string(i + 1));
          if (n < 0) throw invalid_value("The value " + format_number(n) + " for parameter " + at() + ".Counts.member." + std::to_string(i + 1) + " is invalid.");
          if (n == 0) continue;
        }
        p.aggregate.add(v, n);
      }
      if (p.aggregate.count == 0) {  // nothing to record (empty Values, zero Counts)
        points.pop_back();
        continue;
      }
    } else if (d.statistic_values) {
      const StatisticSetInput& st = *d.statistic_values;
      Aggregate a{st.sample_count, st.sum, st.minimum, st.maximum, {}};
      check_value(a.count, at() + ".StatisticValues.SampleCount");
      check_value(a.sum, at() + ".StatisticValues.Sum");
      check_value(a.min, at() + ".StatisticValues.Minimum");
      check_value(a.max, at() + ".StatisticValues.Maximum");
      if (a.count <= 0) throw invalid_value("The value " + format_number(a.count) + " for parameter " + at() + ".StatisticValues.SampleCount is invalid.");
      if (a.min > a.max)
        throw invalid_value("The parameter " + at() + ".StatisticValues.Maximum must be greater than " + at() + ".StatisticValues.Minimum.");
      if (a.min == a.max) a.sketch.add(a.min, a.count);  // all values known: percentiles exist
      p.aggregate = std::move(a);
    } else {
      throw missing(at() + ".Value");
    }

    p.storage_resolution = static_cast<int>(d.storage_resolution.value_or(60));
    if (d.storage_resolution && *d.storage_resolution != 1 && *d.storage_resolution != 60)
      throw invalid_value("The value " + std::to_string(*d.storage_resolution) + " for parameter " + at() + ".StorageResolution is invalid.");

    p.timestamp_ms = now_ms;
    if (d.timestamp_s) {
      p.timestamp_ms = static_cast<int64_t>(std::floor(*d.timestamp_s * 1000));
      if (p.timestamp_ms < now_ms - 14LL * 24 * 3600 * 1000)
        throw invalid_value("The parameter " + at() + ".Timestamp must specify a time within the past two weeks.");
      if (p.timestamp_ms > now_ms + 2LL * 3600 * 1000)
        throw invalid_value("The parameter " + at() + ".Timestamp must specify a time no more than two hours in the future.");
    }
    if (d.unit) {
      auto u = unit_index(*d.unit);
      if (!u) throw invalid_value("The value " + *d.unit + " for parameter " + at() + ".Unit is invalid.");
      p.unit = *u;
    }
  }
  if (!points.empty()) store_.put(ctx.account_id, ctx.region, points);
  return Value::map();
}

Value CloudWatchService::list_metrics(CallContext& ctx, const Value& in) {
  MetricStore::ListFilter filter;
  if (const Value* ns = in.get("Namespace")) filter.namespace_ = ns->as_string();
  if (const Value* name = in.get("MetricName")) filter.metric_name = name->as_string();
  if (const Value* dims = in.get("Dimensions"))
    for (const Value& d : dims->as_list())
      filter.dimensions.emplace_back(std::string(d.str("Name")),
                                     d.has("Value") ? std::optional<std::string>(std::string(d.str("Value"))) : std::nullopt);
  if (in.has("RecentlyActive")) filter.active_since_ms = clock_.now_millis() - 3LL * 3600 * 1000;
  if (in.flag("IncludeLinkedAccounts", false) || in.has("OwningAccount"))
    throw invalid_value("Vigil does not support cross-account observability (IncludeLinkedAccounts, OwningAccount) yet.");

  std::string after;
  if (const Value* token = in.get("NextToken")) {
    std::optional<std::string> key = base64_decode(token->as_string());
    if (!key || key->empty() || (*key)[0] != 'S') throw AwsError("InvalidNextToken", "The service returned an invalid NextToken.", 400);
    after = *key;
  }
  bool more = false;
  constexpr size_t kPageSize = 500;  // AWS's page of ListMetrics
  std::vector<ListedSeries> page = store_.list(ctx.account_id, ctx.region, filter, after, kPageSize, &more);

  Value metrics = Value::list();
  for (const ListedSeries& s : page) {
    Value dims = Value::list();
    for (const auto& [name, value] : s.id.dimensions) dims.push(Value::map().set("Name", name).set("Value", value));
    metrics.push(Value::map().set("Namespace", s.id.namespace_).set("MetricName", s.id.metric_name).set("Dimensions", std::move(dims)));
  }
  Value out = Value::map();
  out.set("Metrics", std::move(metrics));
  if (more && !page.empty()) out.set("NextToken", base64_encode(page.back().key));
  return out;
}

Value CloudWatchService::get_metric_statistics(CallContext& ctx, const Value& in) {
  const int64_t period = in.i64("Period", 60);
  if (period < 60 ? !(period == 1 || period == 5 || period == 10 || period == 30) : period % 60 != 0)
    throw invalid_value("The parameter Period must be 1, 5, 10, 30, or a multiple of 60.");
  const Value* stats = in.get("Statistics");
  const Value* extended = in.get("ExtendedStatistics");
  const bool has_stats = stats && stats->size() > 0, has_extended = extended && extended->size() > 0;
  if (!has_stats && !has_extended) throw combination("Must specify either Statistics or ExtendedStatistics");
  if (has_stats && has_extended) throw combination("Must specify either Statistics or ExtendedStatistics, but not both");
  if (has_extended)
    for (const Value& e : extended->as_list())
      if (!parse_extended_statistic(e.as_string()))
        throw invalid_value("The value " + e.as_string() + " for parameter ExtendedStatistics is not supported.");

  const int64_t start = static_cast<int64_t>(std::floor(in.get("StartTime")->as_timestamp().epoch_seconds));
  const int64_t end = static_cast<int64_t>(std::floor(in.get("EndTime")->as_timestamp().epoch_seconds));
  if (start >= end) throw invalid_value("The parameter StartTime must be less than the parameter EndTime.");
  const int64_t requested = (end - start + period - 1) / period;
  if (requested > 1440)
    throw combination("You have requested up to " + with_thousands(requested) +
                      " datapoints, which exceeds the limit of 1,440. You may reduce the datapoints requested by increasing Period, or decreasing the time range.");

  std::optional<uint8_t> unit;
  if (const Value* u = in.get("Unit")) {
    unit = unit_index(u->as_string());
    if (!unit) throw invalid_value("The value " + u->as_string() + " for parameter Unit is invalid.");
  }
  SeriesId series{std::string(in.str("Namespace")), std::string(in.str("MetricName")), read_dimensions(in.get("Dimensions"))};
  std::vector<StatBucket> buckets = store_.statistics(ctx.account_id, ctx.region, series, start, end, period, unit, has_extended);

  Value datapoints = Value::list();
  for (const StatBucket& b : buckets) {
    Value p = Value::map();
    p.set("Timestamp", Timestamp{static_cast<double>(b.start_s)});
    if (has_stats)
      for (const Value& s : stats->as_list())
        if (auto v = statistic_value(b, s.as_string())) p.set(s.as_string(), *v);
    if (has_extended) {
      Value values = Value::map();
      for (const Value& e : extended->as_list())
        if (auto v = statistic_value(b, e.as_string())) values.set(e.as_string(), *v);
      p.set("ExtendedStatistics", std::move(values));
    }
    p.set("Unit", units()[b.unit]);
    datapoints.push(std::move(p));
  }
  Value out = Value::map();
  out.set("Label", series.metric_name);
  out.set("Datapoints", std::move(datapoints));
  return out;
}

Value CloudWatchService::get_metric_data(CallContext& ctx, const Value& in) {
  const double start_time = in.get("StartTime")->as_timestamp().epoch_seconds;
  const double end_time = in.get("EndTime")->as_timestamp().epoch_seconds;
  if (start_time >= end_time) throw invalid_value("The parameter StartTime must be less than the parameter EndTime.");
  const int64_t max_points = in.i64("MaxDatapoints", 100800);
  if (max_points < 1) throw invalid_value("The value " + std::to_string(max_points) + " for parameter MaxDatapoints is invalid.");
  const bool descending = in.str("ScanBy", "TimestampDescending") != "TimestampAscending";
  int64_t skip = 0;
  if (const Value* token = in.get("NextToken")) {
    std::optional<std::string> raw = base64_decode(token->as_string());
    if (!raw || raw->rfind("gmd:", 0) != 0) throw AwsError("InvalidNextToken", "The service returned an invalid NextToken.", 400);
    skip = std::strtoll(raw->c_str() + 4, nullptr, 10);
  }
  // LabelOptions.Timezone ("+0130", "-0500"): the offset of the *_TIME values of dynamic labels.
  int64_t timezone_offset = 0;
  if (const Value* options = in.get("LabelOptions"))
    if (const Value* tz = options->get("Timezone")) {
      const std::string& z = tz->as_string();
      if (z.size() != 5 || (z[0] != '+' && z[0] != '-') || !std::all_of(z.begin() + 1, z.end(), ::isdigit) || std::stoi(z.substr(3)) > 59)
        throw invalid_value("The value " + z + " for parameter LabelOptions.Timezone is invalid. It must be of the form +HHMM or -HHMM.");
      timezone_offset = (z[0] == '-' ? -1 : 1) * (std::stoi(z.substr(1, 2)) * 3600 + std::stoi(z.substr(3)) * 60);
    }
  // Timestamps are whole seconds; a query window [start, end) of whole seconds covers them.
  const int64_t start = static_cast<int64_t>(std::floor(start_time));
  const int64_t end = static_cast<int64_t>(std::ceil(end_time));
  std::vector<QueryResult> results = queries_.run(ctx.account_id, ctx.region, *in.get("MetricDataQueries"), start, end);

  // Pages cut the flattened (result, point) sequence after MaxDatapoints points; the token is
  // the number of points already returned. Each page re-runs the queries (O(window) each).
  Value out_results = Value::list();
  int64_t position = 0, emitted = 0;
  bool truncated = false;
  for (const QueryResult& r : results) {
    if (!r.return_data) continue;
    static const std::vector<math::Series> kOneEmptySeries(1);  // a result with no series still answers
    const std::vector<math::Series>& series = r.series.empty() ? kOneEmptySeries : r.series;
    for (const math::Series& s : series) {
      Value timestamps = Value::list(), values = Value::list();
      const size_t n = s.timestamps.size();
      timestamps.as_list().reserve(std::min<size_t>(n, static_cast<size_t>(std::max<int64_t>(0, max_points - emitted))));
      values.as_list().reserve(timestamps.as_list().capacity());
      const int64_t series_start = position;
      bool partial = false;
      for (size_t k = 0; k < n; ++k) {
        size_t i = descending ? n - 1 - k : k;
        if (position++ < skip) continue;
        if (emitted == max_points) {
          truncated = partial = true;
          break;
        }
        timestamps.push(Timestamp{static_cast<double>(s.timestamps[i])});
        values.push(s.values[i]);
        ++emitted;
      }
      // Wholly returned on an earlier page (an empty series goes out with the page it starts).
      if (skip > 0 && (n > 0 ? position <= skip : series_start <= skip)) continue;
      Value result = Value::map();
      result.set("Id", r.id);
      auto metric_name = r.properties.find("MetricName");
      const std::string default_label = metric_name != r.properties.end() ? metric_name->second : r.id;
      result.set("Label", expand_dynamic_label(s.label.empty() ? r.label : s.label, default_label, s, r.properties, timezone_offset,
                                               clock_.now_millis() / 1000));
      result.set("Timestamps", std::move(timestamps));
      result.set("Values", std::move(values));
      result.set("StatusCode", partial ? std::string("PartialData") : r.status);
      Value messages = Value::list();
      for (const QueryMessage& m : r.messages) messages.push(Value::map().set("Code", m.code).set("Value", m.value));
      result.set("Messages", std::move(messages));
      out_results.push(std::move(result));
      if (truncated) break;
    }
    if (truncated) break;
  }
  Value out = Value::map();
  out.set("MetricDataResults", std::move(out_results));
  out.set("Messages", Value::list());
  if (truncated) out.set("NextToken", base64_encode("gmd:" + std::to_string(skip + emitted)));
  return out;
}

}  // namespace vigil::cloudwatch
