// CloudWatch alarm and dashboard operations: AWS's semantic checks and error texts in front of
// the AlarmStore and DashboardStore models.
#include <algorithm>
#include <cmath>

#include "core/encoding.h"
#include "services/cloudwatch/alarm_evaluation.h"
#include "services/cloudwatch/alarm_rule.h"
#include "services/cloudwatch/cloudwatch_service.h"
#include "services/cloudwatch/dashboard_body.h"
#include "services/cloudwatch/extended_statistics.h"

namespace vigil::cloudwatch {

namespace {

using server::CallContext;

AwsError validation(const std::string& message) { return AwsError("ValidationError", message, 400); }
AwsError invalid_value(const std::string& message) { return AwsError("InvalidParameterValue", message, 400); }
AwsError combination(const std::string& message) { return AwsError("InvalidParameterCombination", message, 400); }
AwsError missing(const std::string& parameter) { return AwsError("MissingParameter", "The parameter " + parameter + " is required.", 400); }

bool valid_alarm_period(int64_t p) { return p == 10 || p == 30 || (p >= 60 && p % 60 == 0); }

std::vector<std::string> strings(const Value* list) {
  std::vector<std::string> out;
  if (list)
    for (const Value& v : list->as_list()) out.push_back(v.as_string());
  return out;
}

// Action ARNs AWS accepts on alarms; Vigil executes the SNS ones.
void check_actions(const Value& in) {
  for (const char* list : {"OKActions", "AlarmActions", "InsufficientDataActions"})
    for (const std::string& arn : strings(in.get(list)))
      if (arn.rfind("arn:", 0) != 0 || std::count(arn.begin(), arn.end(), ':') < 5)
        throw validation("Invalid arn syntax: " + arn);
}

}  // namespace

void CloudWatchService::register_alarm_handlers() {
  on("PutMetricAlarm", [this](CallContext& c, const Value& in) { return put_metric_alarm(c, in); });
  on("PutCompositeAlarm", [this](CallContext& c, const Value& in) { return put_composite_alarm(c, in); });
  on("DescribeAlarms", [this](CallContext& c, const Value& in) { return describe_alarms(c, in); });
  on("DescribeAlarmHistory", [this](CallContext& c, const Value& in) { return describe_alarm_history(c, in); });
  on("DescribeAlarmsForMetric", [this](CallContext& c, const Value& in) {
    Value list = Value::list();
    for (Value& a : alarms_.describe_for_metric(c.account_id, c.region, in)) list.push(std::move(a));
    return Value::map().set("MetricAlarms", std::move(list));
  });
  on("DeleteAlarms", [this](CallContext& c, const Value& in) {
    std::vector<std::string> names = strings(in.get("AlarmNames"));
    if (names.size() > 100) throw invalid_value("The collection AlarmNames must not have a size greater than 100.");
    alarms_.delete_alarms(c.account_id, c.region, names);
    return Value::map();
  });
  on("SetAlarmState", [this](CallContext& c, const Value& in) {
    std::optional<std::string> data;
    if (const Value* d = in.get("StateReasonData")) data = d->as_string();
    alarms_.set_state(c.account_id, c.region, std::string(in.str("AlarmName")), std::string(in.str("StateValue")),
                      std::string(in.str("StateReason")), data);
    return Value::map();
  });
  on("EnableAlarmActions", [this](CallContext& c, const Value& in) {
    alarms_.set_actions_enabled(c.account_id, c.region, strings(in.get("AlarmNames")), true);
    return Value::map();
  });
  on("DisableAlarmActions", [this](CallContext& c, const Value& in) {
    alarms_.set_actions_enabled(c.account_id, c.region, strings(in.get("AlarmNames")), false);
    return Value::map();
  });
  on("TagResource", [this](CallContext& c, const Value& in) {
    if (!alarms_.tag(std::string(in.str("ResourceARN")), *in.get("Tags")))
      throw AwsError("ResourceNotFoundException", "Resource " + std::string(in.str("ResourceARN")) + " not found.", 404);
    return Value::map();
  });
  on("UntagResource", [this](CallContext& c, const Value& in) {
    if (!alarms_.untag(std::string(in.str("ResourceARN")), strings(in.get("TagKeys"))))
      throw AwsError("ResourceNotFoundException", "Resource " + std::string(in.str("ResourceARN")) + " not found.", 404);
    return Value::map();
  });
  on("ListTagsForResource", [this](CallContext& c, const Value& in) {
    std::optional<Value> tags = alarms_.tags(std::string(in.str("ResourceARN")));
    if (!tags) throw AwsError("ResourceNotFoundException", "Resource " + std::string(in.str("ResourceARN")) + " not found.", 404);
    return Value::map().set("Tags", std::move(*tags));
  });
}

Value CloudWatchService::put_metric_alarm(CallContext& ctx, const Value& in) {
  const std::string name(in.str("AlarmName"));
  if (!in.has("EvaluationPeriods")) throw missing("EvaluationPeriods");
  if (!in.has("ComparisonOperator")) throw missing("ComparisonOperator");
  std::optional<Comparison> comparison = parse_comparison(in.str("ComparisonOperator"));
  if (!comparison) throw validation("The value " + std::string(in.str("ComparisonOperator")) + " for parameter ComparisonOperator is invalid.");
  const bool band = *comparison == Comparison::LessThanLowerOrGreaterThanUpperThreshold || *comparison == Comparison::LessThanLowerThreshold ||
                    *comparison == Comparison::GreaterThanUpperThreshold;
  const int64_t periods = in.i64("EvaluationPeriods", 1);
  if (periods < 1) throw validation("The value " + std::to_string(periods) + " for parameter EvaluationPeriods is invalid.");
  if (in.has("DatapointsToAlarm")) {
    int64_t m = in.i64("DatapointsToAlarm", 1);
    if (m < 1 || m > periods)
      throw validation("DatapointsToAlarm must be greater than 0 and less than or equal to EvaluationPeriods.");
  }
  const std::string treat(in.str("TreatMissingData", "missing"));
  if (treat != "missing" && treat != "ignore" && treat != "breaching" && treat != "notBreaching")
    throw validation("The value " + treat + " for parameter TreatMissingData is invalid. Valid values: breaching, notBreaching, ignore, missing.");
  if (const Value* e = in.get("EvaluateLowSampleCountPercentile"); e && e->as_string() != "evaluate" && e->as_string() != "ignore")
    throw validation("The value " + e->as_string() + " for parameter EvaluateLowSampleCountPercentile is invalid. Valid values: evaluate, ignore.");
  if (in.has("EvaluationCriteria") || in.has("EvaluationInterval"))
    throw invalid_value("Vigil does not support PromQL alarms (EvaluationCriteria) yet (see docs/coverage.md).");
  check_actions(in);

  const Value* metrics = in.get("Metrics");
  int64_t period = in.i64("Period", 0);
  if (metrics && metrics->size() > 0) {
    for (const char* single : {"MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit"})
      if (in.has(single))
        throw combination("The parameters Metrics and " + std::string(single) + " are mutually exclusive and you have specified both.");
    // The queries must evaluate: the engine checks ids, stats, periods and expressions.
    const int64_t now = clock_.now_millis() / 1000;
    std::vector<QueryResult> results = queries_.run(ctx.account_id, ctx.region, *metrics, now - 60, now, true);
    period = 0;
    int returned = 0;
    const std::string threshold_id(in.str("ThresholdMetricId"));
    for (const Value& q : metrics->as_list())
      if (q.flag("ReturnData", true) && q.str("Id") != threshold_id) {
        ++returned;
        period = q.get("MetricStat") ? q.get("MetricStat")->i64("Period", 60) : q.i64("Period", 60);
      }
    if (returned != 1) throw validation("Metrics list must contain exactly one metric matching the ReturnData parameter.");
    if (band) {
      if (!in.has("ThresholdMetricId")) throw validation("ThresholdMetricId must be specified for anomaly detection alarms.");
      std::string tid(in.str("ThresholdMetricId"));
      bool found = false;
      for (const Value& q : metrics->as_list()) found = found || q.str("Id") == tid;
      if (!found) throw validation("ThresholdMetricId " + tid + " does not match any metric ID in Metrics.");
    }
  } else {
    if (!in.has("MetricName")) throw missing("MetricName");
    if (!in.has("Namespace")) throw missing("Namespace");
    if (in.has("Statistic") == in.has("ExtendedStatistic"))
      throw combination(in.has("Statistic") ? "The parameters Statistic and ExtendedStatistic are mutually exclusive and you have specified both."
                                            : "Either Statistic or ExtendedStatistic must be specified.");
    if (in.has("ExtendedStatistic") && !parse_extended_statistic(in.str("ExtendedStatistic")))
      throw validation("The value " + std::string(in.str("ExtendedStatistic")) + " for parameter ExtendedStatistic is invalid.");
    if (!in.has("Period")) throw missing("Period");
    if (!valid_alarm_period(period)) throw validation("Period must be 10, 30 or a multiple of 60.");
    if (band) throw validation("ThresholdMetricId must be specified for anomaly detection alarms.");
    if (in.has("Unit") && !unit_index(in.str("Unit"))) throw validation("The value " + std::string(in.str("Unit")) + " for parameter Unit is invalid.");
  }
  if (!band && !in.has("Threshold")) throw missing("Threshold");
  if (band && in.has("Threshold")) throw combination("The parameters Threshold and ThresholdMetricId are mutually exclusive and you have specified both.");
  if (!band && in.has("ThresholdMetricId"))
    throw validation("ThresholdMetricId can only be used with the LessThanLowerOrGreaterThanUpperThreshold, LessThanLowerThreshold or GreaterThanUpperThreshold comparison operators.");
  // AWS: the evaluation range is at most one day, or seven days for periods of an hour or more.
  const int64_t limit = period >= 3600 ? 7 * 86400 : 86400;
  if (period > 0 && period * periods > limit)
    throw validation("The evaluation period (Period * EvaluationPeriods) cannot exceed " + std::to_string(limit) + " seconds.");
  if (const Value* tags = in.get("Tags"); tags && tags->size() > 50) throw validation("The maximum number of tags per resource is 50.");
  alarms_.put_metric_alarm(ctx.account_id, ctx.region, in);
  ctx.resources.emplace_back("AWS::CloudWatch::Alarm", "arn:aws:cloudwatch:" + ctx.region + ":" + ctx.account_id + ":alarm:" + name);
  return Value::map();
}

Value CloudWatchService::put_composite_alarm(CallContext& ctx, const Value& in) {
  check_actions(in);
  for (const char* p : {"ActionsSuppressorWaitPeriod", "ActionsSuppressorExtensionPeriod"})
    if (in.has(p) && !in.has("ActionsSuppressor")) throw validation(std::string(p) + " requires ActionsSuppressor.");
  if (in.has("ActionsSuppressor") && (!in.has("ActionsSuppressorWaitPeriod") || !in.has("ActionsSuppressorExtensionPeriod")))
    throw validation("ActionsSuppressorWaitPeriod and ActionsSuppressorExtensionPeriod are required when ActionsSuppressor is specified.");
  alarms_.put_composite_alarm(ctx.account_id, ctx.region, in);
  ctx.resources.emplace_back("AWS::CloudWatch::CompositeAlarm",
                             "arn:aws:cloudwatch:" + ctx.region + ":" + ctx.account_id + ":alarm:" + std::string(in.str("AlarmName")));
  return Value::map();
}

Value CloudWatchService::describe_alarms(CallContext& ctx, const Value& in) {
  AlarmFilter filter;
  filter.names = strings(in.get("AlarmNames"));
  if (filter.names.size() > 100) throw invalid_value("The collection AlarmNames must not have a size greater than 100.");
  if (in.has("AlarmNamePrefix") && !filter.names.empty())
    throw combination("The parameters AlarmNames and AlarmNamePrefix are mutually exclusive and you have specified both.");
  if (const Value* p = in.get("AlarmNamePrefix")) filter.name_prefix = p->as_string();
  if (const Value* s = in.get("StateValue")) filter.state = s->as_string();
  if (const Value* a = in.get("ActionPrefix")) filter.action_prefix = a->as_string();
  if (const Value* c = in.get("ChildrenOfAlarmName")) filter.children_of = c->as_string();
  if (const Value* p = in.get("ParentsOfAlarmName")) filter.parents_of = p->as_string();
  if (filter.children_of && filter.parents_of)
    throw combination("The parameters ChildrenOfAlarmName and ParentsOfAlarmName are mutually exclusive and you have specified both.");
  // AWS: without AlarmTypes only metric alarms are returned; ChildrenOf/ParentsOf imply both.
  if (const Value* types = in.get("AlarmTypes"); types && types->size() > 0) {
    filter.metric = filter.composite = false;
    for (const std::string& t : strings(types)) {
      if (t == "MetricAlarm") filter.metric = true;
      else if (t == "CompositeAlarm") filter.composite = true;
    }
  } else if (filter.children_of || filter.parents_of) {
    filter.composite = true;
  }
  const int64_t max = in.i64("MaxRecords", 50);
  if (max < 1 || max > 100) throw validation("The value " + std::to_string(max) + " for parameter MaxRecords is invalid.");
  std::string after;
  if (const Value* token = in.get("NextToken")) {
    std::optional<std::string> raw = base64_decode(token->as_string());
    if (!raw || raw->rfind("alarm:", 0) != 0) throw AwsError("InvalidNextToken", "The service returned an invalid NextToken.", 400);
    after = raw->substr(6);
  }
  std::string next;
  auto [metric, composite] = alarms_.describe(ctx.account_id, ctx.region, filter, static_cast<size_t>(max), after, &next);
  Value out = Value::map();
  Value m = Value::list(), c = Value::list();
  for (Value& a : metric) m.push(std::move(a));
  for (Value& a : composite) c.push(std::move(a));
  out.set("MetricAlarms", std::move(m));
  out.set("CompositeAlarms", std::move(c));
  if (!next.empty()) out.set("NextToken", base64_encode("alarm:" + next));
  return out;
}

Value CloudWatchService::describe_alarm_history(CallContext& ctx, const Value& in) {
  HistoryQuery q;
  if (const Value* n = in.get("AlarmName")) q.name = n->as_string();
  if (const Value* t = in.get("HistoryItemType")) q.type = t->as_string();
  q.alarm_types = strings(in.get("AlarmTypes"));
  if (const Value* s = in.get("StartDate")) q.start = s->as_timestamp().epoch_seconds;
  if (const Value* e = in.get("EndDate")) q.end = e->as_timestamp().epoch_seconds;
  q.newest_first = in.str("ScanBy", "TimestampDescending") != "TimestampAscending";
  const int64_t max = in.i64("MaxRecords", 100);
  if (max < 1 || max > 100) throw validation("The value " + std::to_string(max) + " for parameter MaxRecords is invalid.");
  q.limit = static_cast<size_t>(max);
  if (const Value* token = in.get("NextToken")) {
    std::optional<std::string> raw = base64_decode(token->as_string());
    if (!raw || raw->rfind("cw:h:", 0) != 0) throw AwsError("InvalidNextToken", "The service returned an invalid NextToken.", 400);
    q.after_key = *raw;
  }
  std::string next;
  Value items = Value::list();
  for (Value& item : alarms_.history(ctx.account_id, ctx.region, q, &next)) items.push(std::move(item));
  Value out = Value::map().set("AlarmHistoryItems", std::move(items));
  if (!next.empty()) out.set("NextToken", base64_encode(next));
  return out;
}

void CloudWatchService::register_dashboard_handlers() {
  on("PutDashboard", [this](CallContext& c, const Value& in) {
    const std::string name(in.str("DashboardName"));
    if (name.empty() || name.size() > 255 ||
        !std::all_of(name.begin(), name.end(), [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_'; }))
      throw AwsError("InvalidParameterInput", "The value for field DashboardName contains invalid characters. It can only contain alphanumerics, dash (-) and underscore (_).", 400);
    const std::string body(in.str("DashboardBody"));
    std::vector<DashboardValidationMessage> problems = validate_dashboard_body(body);
    if (!problems.empty()) {
      // AWS rejects an invalid body, listing its validation errors in the message.
      if (problems.size() == 1 && problems[0].data_path.empty()) throw AwsError("InvalidParameterInput", std::string(kDashboardNotJson), 400);
      throw AwsError("InvalidParameterInput", dashboard_invalid_message(problems), 400);
    }
    dashboards_.put(c.account_id, name, body);
    return Value::map().set("DashboardValidationMessages", Value::list());
  });
  on("GetDashboard", [this](CallContext& c, const Value& in) {
    const std::string name(in.str("DashboardName"));
    std::optional<Dashboard> d = dashboards_.get(c.account_id, name);
    if (!d) throw AwsError("ResourceNotFound", "Dashboard " + name + " does not exist", 404);
    return Value::map()
        .set("DashboardArn", "arn:aws:cloudwatch::" + c.account_id + ":dashboard/" + name)
        .set("DashboardBody", d->body)
        .set("DashboardName", name);
  });
  on("ListDashboards", [this](CallContext& c, const Value& in) {
    std::string after;
    if (const Value* token = in.get("NextToken")) {
      std::optional<std::string> raw = base64_decode(token->as_string());
      if (!raw || raw->rfind("dash:", 0) != 0) throw AwsError("InvalidNextToken", "The service returned an invalid NextToken.", 400);
      after = raw->substr(5);
    }
    bool more = false;
    constexpr size_t kPage = 1000;  // AWS returns up to 1000 dashboards per call
    std::vector<Dashboard> page = dashboards_.list(c.account_id, std::string(in.str("DashboardNamePrefix")), after, kPage, &more);
    Value entries = Value::list();
    for (const Dashboard& d : page)
      entries.push(Value::map()
                       .set("DashboardName", d.name)
                       .set("DashboardArn", "arn:aws:cloudwatch::" + c.account_id + ":dashboard/" + d.name)
                       .set("LastModified", Timestamp{std::floor(d.modified)})
                       .set("Size", static_cast<int64_t>(d.body.size())));
    Value out = Value::map().set("DashboardEntries", std::move(entries));
    if (more && !page.empty()) out.set("NextToken", base64_encode("dash:" + page.back().name));
    return out;
  });
  on("DeleteDashboards", [this](CallContext& c, const Value& in) {
    std::vector<std::string> missing_names = dashboards_.erase(c.account_id, strings(in.get("DashboardNames")));
    if (!missing_names.empty()) throw AwsError("ResourceNotFound", "Dashboard " + missing_names[0] + " does not exist", 404);
    return Value::map();
  });
}

namespace {

// The detector a Put/DeleteAnomalyDetector request names: the top-level members (deprecated)
// or SingleMetricAnomalyDetector.
DetectorId detector_of(const Value& in) {
  if (in.has("MetricMathAnomalyDetector"))
    throw invalid_value("Vigil does not support metric math anomaly detectors yet (see docs/coverage.md).");
  const Value* single = in.get("SingleMetricAnomalyDetector");
  const Value& src = single ? *single : in;
  if (single && (in.has("Namespace") || in.has("MetricName") || in.has("Stat") || in.has("Dimensions")))
    throw combination("The parameters SingleMetricAnomalyDetector and Namespace/MetricName/Dimensions/Stat are mutually exclusive.");
  if (!src.has("Namespace")) throw missing("Namespace");
  if (!src.has("MetricName")) throw missing("MetricName");
  if (!src.has("Stat")) throw missing("Stat");
  DetectorId id;
  id.series.namespace_ = std::string(src.str("Namespace"));
  id.series.metric_name = std::string(src.str("MetricName"));
  if (const Value* dims = src.get("Dimensions"))
    for (const Value& d : dims->as_list()) id.series.dimensions.emplace_back(std::string(d.str("Name")), std::string(d.str("Value")));
  std::sort(id.series.dimensions.begin(), id.series.dimensions.end());
  id.stat = std::string(src.str("Stat"));
  if (!valid_statistic(id.stat)) throw invalid_value("The value " + id.stat + " for parameter Stat is invalid.");
  return id;
}

}  // namespace

void CloudWatchService::register_anomaly_handlers() {
  on("PutAnomalyDetector", [this](CallContext& c, const Value& in) {
    DetectorId id = detector_of(in);
    Value configuration = in.has("Configuration") ? *in.get("Configuration") : Value::map().set("ExcludedTimeRanges", Value::list());
    if (const Value* ranges = configuration.get("ExcludedTimeRanges"))
      for (const Value& r : ranges->as_list())
        if (r.get("StartTime") && r.get("EndTime") && r.get("StartTime")->as_double() >= r.get("EndTime")->as_double())
          throw invalid_value("The start time of an excluded time range must be before its end time.");
    anomalies_.put(c.account_id, c.region, id, configuration, in.has("MetricCharacteristics") ? *in.get("MetricCharacteristics") : Value());
    return Value::map();
  });
  on("DeleteAnomalyDetector", [this](CallContext& c, const Value& in) {
    if (!anomalies_.erase(c.account_id, c.region, detector_of(in)))
      throw AwsError("ResourceNotFoundException", "The anomaly detector does not exist.", 404);
    return Value::map();
  });
  on("DescribeAnomalyDetectors", [this](CallContext& c, const Value& in) {
    std::optional<std::string> ns, name;
    std::optional<Dimensions> dims;
    if (const Value* v = in.get("Namespace")) ns = v->as_string();
    if (const Value* v = in.get("MetricName")) name = v->as_string();
    if (const Value* v = in.get("Dimensions")) {
      dims.emplace();
      for (const Value& d : v->as_list()) dims->emplace_back(std::string(d.str("Name")), std::string(d.str("Value")));
      std::sort(dims->begin(), dims->end());
    }
    std::vector<std::string> types = strings(in.get("AnomalyDetectorTypes"));
    Value list = Value::list();
    if (types.empty() || std::find(types.begin(), types.end(), "SINGLE_METRIC") != types.end())
      for (Value& d : anomalies_.describe(c.account_id, c.region, ns, name, dims)) list.push(std::move(d));
    // One page: AWS's quota of detectors per region is small enough for a single answer here.
    return Value::map().set("AnomalyDetectors", std::move(list));
  });
}

}  // namespace vigil::cloudwatch
