#include "services/cloudwatch/cloudwatch_service.h"

#include <algorithm>
#include <cmath>

#include "core/encoding.h"
#include "http/gzip_body.h"

namespace vigil::cloudwatch {

namespace {

using server::CallContext;

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
void check_value(double v, const std::string& parameter) {
  double a = std::fabs(v);
  if (std::isnan(v) || std::isinf(v) || a > std::ldexp(1.0, 360) || (a != 0 && a < std::ldexp(1.0, -260)))
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

CloudWatchService::CloudWatchService(MetricStore& store, const Clock& clock)
    : Service(*protocol::embedded_model("cloudwatch")), store_(store), clock_(clock) {
  on("PutMetricData", [this](CallContext& c, const Value& in) { return put_metric_data(c, in); });
  on("ListMetrics", [this](CallContext& c, const Value& in) { return list_metrics(c, in); });
  on("GetMetricStatistics", [this](CallContext& c, const Value& in) { return get_metric_statistics(c, in); });
}

server::AuditClass CloudWatchService::audit_class(std::string_view operation) const {
  // Metric reads and writes are CloudTrail data events, kept out of the event history.
  for (std::string_view op : {"PutMetricData", "GetMetricStatistics", "GetMetricData", "ListMetrics"})
    if (operation == op) return server::AuditClass::Data;
  return server::AuditClass::Management;
}

Value CloudWatchService::audit_parameters(std::string_view operation, const Value& input) const {
  if (operation != "PutMetricData") return input;
  Value out = Value::map();  // which namespace was written, not the data points
  if (const Value* ns = input.get("Namespace")) out.set("namespace", *ns);
  return out;
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
  const std::string ns(in.str("Namespace"));
  if (ns.rfind("AWS/", 0) == 0) throw invalid_value("The value " + ns + " for parameter Namespace is invalid.");
  if (const Value* e = in.get("EntityMetricData"); e && e->size() > 0)
    throw invalid_value("Vigil does not support EntityMetricData yet (see docs/coverage.md).");
  const Value* data = in.get("MetricData");
  if (!data || data->size() == 0) throw missing("MetricData");
  if (data->size() > 1000) throw invalid_value("The collection MetricData must not have a size greater than 1000.");

  const int64_t now_ms = clock_.now_millis();
  std::vector<PointBatch> points;
  points.reserve(data->size());
  size_t index = 0;
  for (const Value& d : data->as_list()) {
    const std::string at = "MetricData.member." + std::to_string(++index);
    PointBatch p;
    p.namespace_ = ns;
    p.metric_name = std::string(d.str("MetricName"));
    p.dimensions = read_dimensions(d.get("Dimensions"));
    for (size_t i = 1; i < p.dimensions.size(); ++i)
      if (p.dimensions[i].first == p.dimensions[i - 1].first)
        throw invalid_value("The value " + p.dimensions[i].first + " for parameter " + at + ".Dimensions is a duplicate dimension name.");

    const Value* value = d.get("Value");
    const Value* values = d.get("Values");
    const Value* counts = d.get("Counts");
    const Value* stats = d.get("StatisticValues");
    if (value && stats)
      throw combination("The parameters " + at + ".Value and " + at + ".StatisticValues are mutually exclusive and you have specified both.");
    if (value && values)
      throw combination("The parameters " + at + ".Value and " + at + ".Values are mutually exclusive and you have specified both.");
    if (values && stats)
      throw combination("The parameters " + at + ".Values and " + at + ".StatisticValues are mutually exclusive and you have specified both.");
    if (counts && !values) throw missing(at + ".Values");

    if (value) {
      check_value(value->as_double(), at + ".Value");
      p.aggregate.add(value->as_double());
    } else if (values) {
      if (values->size() > 150) throw invalid_value("The collection " + at + ".Values must not have a size greater than 150.");
      if (counts && counts->size() != values->size())
        throw invalid_value("The parameters " + at + ".Values and " + at + ".Counts must be of the same size.");
      for (size_t i = 0; i < values->size(); ++i) {
        double v = values->as_list()[i].as_double();
        check_value(v, at + ".Values.member." + std::to_string(i + 1));
        double n = 1;
        if (counts) {
          n = counts->as_list()[i].as_double();
          check_value(n, at + ".Counts.member." + std::to_string(i + 1));
          if (n < 0) throw invalid_value("The value " + format_number(n) + " for parameter " + at + ".Counts.member." + std::to_string(i + 1) + " is invalid.");
          if (n == 0) continue;
        }
        p.aggregate.add(v, n);
      }
      if (p.aggregate.count == 0) continue;  // nothing to record (empty Values, zero Counts)
    } else if (stats) {
      Aggregate a{stats->f64("SampleCount", 0), stats->f64("Sum", 0), stats->f64("Minimum", 0), stats->f64("Maximum", 0)};
      check_value(a.count, at + ".StatisticValues.SampleCount");
      check_value(a.sum, at + ".StatisticValues.Sum");
      check_value(a.min, at + ".StatisticValues.Minimum");
      check_value(a.max, at + ".StatisticValues.Maximum");
      if (a.count <= 0) throw invalid_value("The value " + format_number(a.count) + " for parameter " + at + ".StatisticValues.SampleCount is invalid.");
      if (a.min > a.max)
        throw invalid_value("The parameter " + at + ".StatisticValues.Maximum must be greater than " + at + ".StatisticValues.Minimum.");
      p.aggregate = a;
    } else {
      throw missing(at + ".Value");
    }

    p.storage_resolution = static_cast<int>(d.i64("StorageResolution", 60));
    if (p.storage_resolution != 1 && p.storage_resolution != 60)
      throw invalid_value("The value " + std::to_string(d.i64("StorageResolution", 60)) + " for parameter " + at + ".StorageResolution is invalid.");

    p.timestamp_ms = now_ms;
    if (const Value* ts = d.get("Timestamp")) {
      p.timestamp_ms = static_cast<int64_t>(std::floor(ts->as_timestamp().epoch_seconds * 1000));
      if (p.timestamp_ms < now_ms - 14LL * 24 * 3600 * 1000)
        throw invalid_value("The parameter " + at + ".Timestamp must specify a time within the past two weeks.");
      if (p.timestamp_ms > now_ms + 2LL * 3600 * 1000)
        throw invalid_value("The parameter " + at + ".Timestamp must specify a time no more than two hours in the future.");
    }
    if (const Value* unit = d.get("Unit")) {
      auto u = unit_index(unit->as_string());
      if (!u) throw invalid_value("The value " + unit->as_string() + " for parameter " + at + ".Unit is invalid.");
      p.unit = *u;
    }
    points.push_back(std::move(p));
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
  if ((!stats || stats->size() == 0) && (!extended || extended->size() == 0))
    throw combination("Must specify either Statistics or ExtendedStatistics");
  if (extended && extended->size() > 0)
    throw invalid_value("Vigil does not compute ExtendedStatistics (percentiles) yet (see docs/coverage.md).");

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
  std::vector<StatBucket> buckets = store_.statistics(ctx.account_id, ctx.region, series, start, end, period, unit);

  Value datapoints = Value::list();
  for (const StatBucket& b : buckets) {
    Value p = Value::map();
    p.set("Timestamp", Timestamp{static_cast<double>(b.start_s)});
    for (const Value& s : stats->as_list()) {
      const std::string& name = s.as_string();
      if (name == "SampleCount") p.set(name, b.aggregate.count);
      else if (name == "Sum") p.set(name, b.aggregate.sum);
      else if (name == "Average") p.set(name, b.aggregate.sum / b.aggregate.count);
      else if (name == "Minimum") p.set(name, b.aggregate.min);
      else if (name == "Maximum") p.set(name, b.aggregate.max);
    }
    p.set("Unit", units()[b.unit]);
    datapoints.push(std::move(p));
  }
  Value out = Value::map();
  out.set("Label", series.metric_name);
  out.set("Datapoints", std::move(datapoints));
  return out;
}

}  // namespace vigil::cloudwatch
