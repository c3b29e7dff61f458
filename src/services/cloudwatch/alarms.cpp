#include "services/cloudwatch/alarms.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <set>

#include "core/aws_error.h"
#include "core/encoding.h"
#include "core/ids.h"
#include "protocol/json_codec.h"
#include "services/cloudwatch/alarm_evaluation.h"
#include "services/cloudwatch/alarm_rule.h"

namespace vigil::cloudwatch {

namespace {

constexpr std::string_view kAlarmPrefix = "cw:a:";
constexpr std::string_view kHistoryPrefix = "cw:h:";
constexpr int64_t kHistoryRetentionMs = 30LL * 24 * 3600 * 1000;

std::string prefix_end(std::string prefix) {
  prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

std::string history_prefix(const std::string& account, const std::string& region) {
  std::string k(kHistoryPrefix);
  k += account;
  k.push_back('\0');
  k += region;
  k.push_back('\0');
  return k;
}

// AWS's alarm timestamps in history data and notifications: 2026-11-23T10:00:00.000+0000.
std::string aws_time(double epoch_seconds) {
  std::string iso = format_iso8601(std::floor(epoch_seconds * 1000) / 1000);  // ...Z, ms when non-zero
  if (!iso.empty() && iso.back() == 'Z') iso.pop_back();
  if (iso.find('.') == std::string::npos) iso += ".000";
  return iso + "+0000";
}

// Members whose name ends in "Timestamp" come back from JSON as numbers; the codecs want
// Timestamps for timestamp-shaped members.
void restore_timestamps(Value& record) {
  if (!record.is_map()) return;
  for (auto& [k, v] : record.as_map()) {
    const std::string& name = k;
    if (name.size() > 9 && name.compare(name.size() - 9, 9, "Timestamp") == 0 && !v.is_null() && !v.is_map() && !v.is_list() && !v.is_string())
      v = Value(Timestamp{v.as_double()});
  }
}

std::vector<std::string> string_list(const Value* list) {
  std::vector<std::string> out;
  if (list && list->is_list())
    for (const Value& v : list->as_list()) out.push_back(v.as_string());
  return out;
}

std::string region_long_name(const std::string& region) {
  static const std::map<std::string, std::string> names = {
      {"us-east-1", "US East (N. Virginia)"},       {"us-east-2", "US East (Ohio)"},
      {"us-west-1", "US West (N. California)"},     {"us-west-2", "US West (Oregon)"},
      {"eu-west-1", "EU (Ireland)"},                {"eu-west-2", "EU (London)"},
      {"eu-west-3", "EU (Paris)"},                  {"eu-central-1", "EU (Frankfurt)"},
      {"eu-north-1", "EU (Stockholm)"},             {"ap-southeast-1", "Asia Pacific (Singapore)"},
      {"ap-southeast-2", "Asia Pacific (Sydney)"},  {"ap-northeast-1", "Asia Pacific (Tokyo)"},
      {"ap-northeast-2", "Asia Pacific (Seoul)"},   {"ap-south-1", "Asia Pacific (Mumbai)"},
      {"sa-east-1", "South America (Sao Paulo)"},   {"ca-central-1", "Canada (Central)"}};
  auto it = names.find(region);
  return it == names.end() ? region : it->second;
}

bool is_composite(const Value& record) { return record.str("__kind") == "composite"; }

Value public_view(const Value& record) {
  Value out = record;
  for (const char* internal : {"__kind", "__tags", "__previous_state", "__pending_actions_until", "__pending_old_state"})
    if (out.has(internal)) std::erase_if(out.as_map(), [&](const auto& kv) { return kv.first == internal; });
  return out;
}

// The members metric and composite alarms share, from the Put request.
Value common_members(const std::string& account, const std::string& region, const std::string& name, const Value& request, double now) {
  Value record = Value::map();
  record.set("AlarmName", name);
  record.set("AlarmArn", "arn:aws:cloudwatch:" + region + ":" + account + ":alarm:" + name);
  if (const Value* d = request.get("AlarmDescription")) record.set("AlarmDescription", *d);
  record.set("AlarmConfigurationUpdatedTimestamp", Timestamp{now});
  record.set("ActionsEnabled", request.flag("ActionsEnabled", true));
  for (const char* list : {"OKActions", "AlarmActions", "InsufficientDataActions"})
    record.set(list, request.has(list) ? *request.get(list) : Value::list());
  return record;
}

Value parse_json_or_null(std::string_view text) {
  try {
    return protocol::json_to_value(text, nullptr);
  } catch (...) {
    return Value();
  }
}

}  // namespace

AlarmStore::AlarmStore(store::Store& store, const Clock& clock, const MetricQueryEngine& queries, EventBus& bus)
    : store_(store), clock_(clock), queries_(queries), bus_(bus) {}

AlarmStore::Key AlarmStore::key_of(const std::string& account, const std::string& region, const std::string& name) {
  std::string k = account;
  k.push_back('\0');
  k += region;
  k.push_back('\0');
  k += name;
  return k;
}

void AlarmStore::load() {
  std::lock_guard lock(mutex_);
  alarms_.clear();
  history_seq_ = static_cast<uint64_t>(clock_.now_millis()) * 1000;
  auto it = store_.iterate(store::Keyspace::Meta, kAlarmPrefix, prefix_end(std::string(kAlarmPrefix)));
  for (it->seek(kAlarmPrefix); it->valid(); it->next()) {
    std::string key(it->key().substr(kAlarmPrefix.size()));
    size_t a = key.find('\0'), b = key.find('\0', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    Alarm alarm{key.substr(0, a), key.substr(a + 1, b - a - 1), key.substr(b + 1), parse_json_or_null(it->value()), 0};
    if (!alarm.record.is_map()) continue;
    restore_timestamps(alarm.record);
    alarms_.emplace(key, std::move(alarm));
  }
}

void AlarmStore::save(const Alarm& alarm) {
  store::WriteBatch batch(store_);
  batch.put(store::Keyspace::Meta, std::string(kAlarmPrefix) + key_of(alarm.account, alarm.region, alarm.name),
            protocol::value_to_json(alarm.record));
  store_.write(batch);
}

void AlarmStore::add_history(const Alarm& alarm, const std::string& type, const std::string& summary, const std::string& data) {
  const int64_t now = clock_.now_millis();
  std::string key = history_prefix(alarm.account, alarm.region);
  append_u64(key, static_cast<uint64_t>(now));
  append_u64(key, ++history_seq_);
  Value item = Value::map();
  item.set("AlarmName", alarm.name);
  item.set("AlarmType", is_composite(alarm.record) ? "CompositeAlarm" : "MetricAlarm");
  item.set("Timestamp", Timestamp{now / 1000.0});
  item.set("HistoryItemType", type);
  item.set("HistorySummary", summary);
  item.set("HistoryData", data);
  store::WriteBatch batch(store_);
  batch.put(store::Keyspace::Meta, key, protocol::value_to_json(item));
  store_.write(batch);
}

AlarmStore::Alarm& AlarmStore::store_configuration(const std::string& account, const std::string& region, const std::string& name,
                                                   Value record, const Value& request) {
  const double now = clock_.now_millis() / 1000.0;
  auto existing = alarms_.find(key_of(account, region, name));
  Alarm* alarm;
  std::string summary, data;
  if (existing != alarms_.end()) {
    // AWS: an update leaves the state unchanged but overwrites the whole configuration.
    for (const char* kept : {"StateValue", "StateReason", "StateReasonData", "StateUpdatedTimestamp", "StateTransitionedTimestamp", "__tags",
                             "__previous_state"})
      if (const Value* v = existing->second.record.get(kept)) record.set(kept, *v);
    existing->second.record = std::move(record);
    existing->second.next_evaluation_ms = 0;
    alarm = &existing->second;
    summary = "Alarm \"" + name + "\" updated";
    data = "{\"version\":\"1.0\",\"type\":\"Update\",\"updatedAlarm\":" + protocol::value_to_json(public_view(alarm->record)) + "}";
  } else {
    record.set("StateValue", "INSUFFICIENT_DATA");
    record.set("StateReason", "Unchecked: Initial alarm creation");
    record.set("StateUpdatedTimestamp", Timestamp{now});
    record.set("StateTransitionedTimestamp", Timestamp{now});
    if (const Value* tags = request.get("Tags")) record.set("__tags", *tags);
    alarm = &alarms_.emplace(key_of(account, region, name), Alarm{account, region, name, std::move(record), 0}).first->second;
    summary = "Alarm \"" + name + "\" created";
    data = "{\"version\":\"1.0\",\"type\":\"Create\",\"createdAlarm\":" + protocol::value_to_json(public_view(alarm->record)) + "}";
  }
  add_history(*alarm, "ConfigurationUpdate", summary, data);
  save(*alarm);
  return *alarm;
}

void AlarmStore::put_metric_alarm(const std::string& account, const std::string& region, const Value& request) {
  std::lock_guard lock(mutex_);
  const std::string name(request.str("AlarmName"));
  const double now = clock_.now_millis() / 1000.0;
  Key key = key_of(account, region, name);
  auto existing = alarms_.find(key);
  if (existing != alarms_.end() && is_composite(existing->second.record))
    throw AwsError("ValidationError", "An alarm named " + name + " already exists as a composite alarm.", 400);

  Value record = common_members(account, region, name, request, now);
  for (const char* member : {"MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit",
                             "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
                             "EvaluateLowSampleCountPercentile", "Metrics", "ThresholdMetricId"})
    if (const Value* v = request.get(member)) record.set(member, *v);
  if (request.has("MetricName") && !record.has("Dimensions")) record.set("Dimensions", Value::list());
  record.set("__kind", "metric");

  store_configuration(account, region, name, std::move(record), request);
}

void AlarmStore::put_composite_alarm(const std::string& account, const std::string& region, const Value& request) {
  std::lock_guard lock(mutex_);
  const std::string name(request.str("AlarmName"));
  const double now = clock_.now_millis() / 1000.0;
  Key key = key_of(account, region, name);
  auto existing = alarms_.find(key);
  if (existing != alarms_.end() && !is_composite(existing->second.record))
    throw AwsError("ValidationError", "An alarm named " + name + " already exists as a metric alarm.", 400);
  AlarmRule rule = [&] {
    try {
      return AlarmRule::parse(request.str("AlarmRule"));
    } catch (const RuleError& e) {
      throw AwsError("ValidationError", e.message, 400);
    }
  }();
  for (const std::string& child : rule.referenced_alarms()) {
    std::string child_name = child;
    if (size_t colon = child.rfind(":alarm:"); colon != std::string::npos) child_name = child.substr(colon + 7);
    if (child_name == name) throw AwsError("ValidationError", "A composite alarm cannot reference itself in its AlarmRule.", 400);
    if (!alarms_.count(key_of(account, region, child_name)))
      throw AwsError("ValidationError", "Could not save the composite alarm as alarms [" + child + "] in the alarm rule do not exist", 400);
  }

  Value record = common_members(account, region, name, request, now);
  record.set("AlarmRule", std::string(request.str("AlarmRule")));
  if (const Value* s = request.get("ActionsSuppressor")) {
    record.set("ActionsSuppressor", *s);
    record.set("ActionsSuppressorWaitPeriod", request.i64("ActionsSuppressorWaitPeriod", 0));
    record.set("ActionsSuppressorExtensionPeriod", request.i64("ActionsSuppressorExtensionPeriod", 0));
  }
  record.set("__kind", "composite");

  store_configuration(account, region, name, std::move(record), request);
  // A composite alarm is evaluated at once from its children's current states.
  evaluate_composites({key});
}

void AlarmStore::delete_alarms(const std::string& account, const std::string& region, const std::vector<std::string>& names) {
  std::lock_guard lock(mutex_);
  // AWS deletes nothing when any name is wrong.
  for (const std::string& name : names)
    if (!alarms_.count(key_of(account, region, name)))
      throw AwsError("ResourceNotFound", "1 of the alarms in the request were not found: " + name, 404);
  store::WriteBatch batch(store_);
  for (const std::string& name : names) {
    Key key = key_of(account, region, name);
    batch.erase(store::Keyspace::Meta, std::string(kAlarmPrefix) + key);
    alarms_.erase(key);
  }
  store_.write(batch);
}

std::pair<std::vector<Value>, std::vector<Value>> AlarmStore::describe(const std::string& account, const std::string& region,
                                                                       const AlarmFilter& filter, size_t limit,
                                                                       const std::string& after_name, std::string* next) const {
  std::lock_guard lock(mutex_);
  std::vector<Value> metric, composite;
  next->clear();
  std::optional<AlarmRule> parent_rule;
  if (filter.children_of) {
    auto it = alarms_.find(key_of(account, region, *filter.children_of));
    if (it == alarms_.end() || !is_composite(it->second.record)) return {};
    parent_rule = AlarmRule::parse(it->second.record.str("AlarmRule"));
  }
  std::string prefix = key_of(account, region, "");
  size_t count = 0;
  std::string last_name;
  for (auto it = alarms_.lower_bound(prefix + after_name); it != alarms_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    const Alarm& a = it->second;
    if (!after_name.empty() && a.name == after_name) continue;
    bool comp = is_composite(a.record);
    if (comp ? !filter.composite : !filter.metric) continue;
    if (!filter.names.empty() && std::find(filter.names.begin(), filter.names.end(), a.name) == filter.names.end()) continue;
    if (filter.name_prefix && a.name.compare(0, filter.name_prefix->size(), *filter.name_prefix) != 0) continue;
    if (filter.state && a.record.str("StateValue") != *filter.state) continue;
    if (filter.action_prefix) {
      bool hit = false;
      for (const char* list : {"OKActions", "AlarmActions", "InsufficientDataActions"})
        for (const std::string& arn : string_list(a.record.get(list))) hit = hit || arn.compare(0, filter.action_prefix->size(), *filter.action_prefix) == 0;
      if (!hit) continue;
    }
    if (parent_rule) {
      bool child = false;
      for (const std::string& ref : parent_rule->referenced_alarms())
        child = child || ref == a.name || ref == a.record.str("AlarmArn");
      if (!child) continue;
    }
    if (filter.parents_of) {
      if (!comp) continue;
      bool parent = false;
      try {
        for (const std::string& ref : AlarmRule::parse(a.record.str("AlarmRule")).referenced_alarms())
          parent = parent || ref == *filter.parents_of || ref == "arn:aws:cloudwatch:" + region + ":" + account + ":alarm:" + *filter.parents_of;
      } catch (const RuleError&) {
      }
      if (!parent) continue;
    }
    if (count == limit) {
      *next = last_name;
      break;
    }
    (comp ? composite : metric).push_back(public_view(a.record));
    last_name = a.name;
    ++count;
  }
  return {std::move(metric), std::move(composite)};
}

std::vector<Value> AlarmStore::describe_for_metric(const std::string& account, const std::string& region, const Value& request) const {
  std::lock_guard lock(mutex_);
  auto dims_of = [](const Value* list) {
    std::vector<std::pair<std::string, std::string>> dims;
    if (list && list->is_list())
      for (const Value& d : list->as_list()) dims.emplace_back(std::string(d.str("Name")), std::string(d.str("Value")));
    std::sort(dims.begin(), dims.end());
    return dims;
  };
  auto wanted_dims = dims_of(request.get("Dimensions"));
  std::vector<Value> out;
  std::string prefix = key_of(account, region, "");
  for (auto it = alarms_.lower_bound(prefix); it != alarms_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    const Value& r = it->second.record;
    if (is_composite(r)) continue;
    auto matches_metric = [&](const Value& metric_holder) {
      return metric_holder.str("MetricName") == request.str("MetricName") && metric_holder.str("Namespace") == request.str("Namespace") &&
             (!request.has("Dimensions") || dims_of(metric_holder.get("Dimensions")) == wanted_dims);
    };
    bool hit = false;
    if (r.has("MetricName")) {
      hit = matches_metric(r);
      for (const char* m : {"Statistic", "ExtendedStatistic", "Unit"})
        if (request.has(m) && r.str(m) != request.str(m)) hit = false;
      if (request.has("Period") && r.i64("Period", 0) != request.i64("Period", 0)) hit = false;
    } else if (const Value* metrics = r.get("Metrics")) {
      for (const Value& q : metrics->as_list())
        if (const Value* stat = q.get("MetricStat"); stat && stat->get("Metric")) hit = hit || matches_metric(*stat->get("Metric"));
    }
    if (hit) out.push_back(public_view(r));
  }
  return out;
}

std::vector<Value> AlarmStore::history(const std::string& account, const std::string& region, const HistoryQuery& q, std::string* next) const {
  std::lock_guard lock(mutex_);
  next->clear();
  const std::string prefix = history_prefix(account, region);
  std::string lower = prefix, upper = prefix;
  append_u64(lower, static_cast<uint64_t>(std::max(0.0, q.start * 1000)));
  append_u64(upper, static_cast<uint64_t>(q.end > 0 ? q.end * 1000 : static_cast<double>(clock_.now_millis() + 1)));
  auto it = store_.iterate(store::Keyspace::Meta, lower, upper);
  if (q.newest_first) {
    if (!q.after_key.empty()) it->seek(q.after_key), it->valid() ? it->prev() : it->seek_to_last();
    else it->seek_to_last();
  } else {
    if (!q.after_key.empty()) {
      it->seek(q.after_key);
      if (it->valid() && it->key() == q.after_key) it->next();
    } else {
      it->seek(lower);
    }
  }
  std::vector<Value> out;
  // Cost: O(items of the account/region in the range) when filtering by name, capped by limit.
  for (; it->valid(); q.newest_first ? it->prev() : it->next()) {
    if (q.newest_first && !q.after_key.empty() && it->key() >= q.after_key) continue;
    Value item = parse_json_or_null(it->value());
    if (!item.is_map()) continue;
    if (q.name && item.str("AlarmName") != *q.name) continue;
    if (q.type && item.str("HistoryItemType") != *q.type) continue;
    if (!q.alarm_types.empty() &&
        std::find(q.alarm_types.begin(), q.alarm_types.end(), std::string(item.str("AlarmType"))) == q.alarm_types.end())
      continue;
    if (out.size() == q.limit) {
      break;
    }
    restore_timestamps(item);
    out.push_back(std::move(item));
    *next = std::string(it->key());
  }
  if (out.size() < q.limit) next->clear();
  return out;
}

void AlarmStore::set_state(const std::string& account, const std::string& region, const std::string& name, const std::string& state,
                           const std::string& reason, const std::optional<std::string>& reason_data) {
  std::lock_guard lock(mutex_);
  auto it = alarms_.find(key_of(account, region, name));
  if (it == alarms_.end()) throw AwsError("ResourceNotFound", "Alarm " + name + " not found", 404);
  if (reason_data && !parse_json_or_null(*reason_data).is_map())
    throw AwsError("InvalidFormat", "The value of StateReasonData must be a JSON object.", 400);
  std::vector<Key> changed;
  transition(it->second, state, reason, reason_data.value_or(""), changed);
  evaluate_composites(std::move(changed));
}

void AlarmStore::set_actions_enabled(const std::string& account, const std::string& region, const std::vector<std::string>& names, bool enabled) {
  std::lock_guard lock(mutex_);
  for (const std::string& name : names) {
    auto it = alarms_.find(key_of(account, region, name));
    if (it == alarms_.end()) continue;  // AWS ignores names it does not know here
    it->second.record.set("ActionsEnabled", enabled);
    save(it->second);
  }
}

bool AlarmStore::tag(const std::string& arn, const Value& tags) {
  std::lock_guard lock(mutex_);
  for (auto& [key, alarm] : alarms_) {
    if (alarm.record.str("AlarmArn") != arn) continue;
    Value merged = alarm.record.has("__tags") ? *alarm.record.get("__tags") : Value::list();
    for (const Value& t : tags.as_list()) {
      std::string tag_key(t.str("Key"));
      auto& list = merged.as_list();
      std::erase_if(list, [&](const Value& e) { return e.str("Key") == tag_key; });
      merged.push(t);
    }
    if (merged.size() > 50) throw AwsError("InvalidParameterValue", "The maximum number of tags per resource (50) has been exceeded.", 400);
    alarm.record.set("__tags", std::move(merged));
    save(alarm);
    return true;
  }
  return false;
}

bool AlarmStore::untag(const std::string& arn, const std::vector<std::string>& keys) {
  std::lock_guard lock(mutex_);
  for (auto& [key, alarm] : alarms_) {
    if (alarm.record.str("AlarmArn") != arn) continue;
    if (Value* tags = alarm.record.get("__tags"))
      std::erase_if(tags->as_list(), [&](const Value& e) { return std::find(keys.begin(), keys.end(), std::string(e.str("Key"))) != keys.end(); });
    save(alarm);
    return true;
  }
  return false;
}

std::optional<Value> AlarmStore::tags(const std::string& arn) const {
  std::lock_guard lock(mutex_);
  for (const auto& [key, alarm] : alarms_)
    if (alarm.record.str("AlarmArn") == arn) return alarm.record.has("__tags") ? *alarm.record.get("__tags") : Value::list();
  return std::nullopt;
}

void AlarmStore::transition(Alarm& alarm, const std::string& state, const std::string& reason, const std::string& reason_data,
                            std::vector<Key>& changed) {
  Value& r = alarm.record;
  const std::string old_state(r.str("StateValue"));
  const std::string old_reason(r.str("StateReason"));
  const double now = clock_.now_millis() / 1000.0;
  r.set("StateValue", state);
  r.set("StateReason", reason);
  if (reason_data.empty()) std::erase_if(r.as_map(), [](const auto& kv) { return kv.first == "StateReasonData"; });
  else r.set("StateReasonData", reason_data);
  r.set("StateUpdatedTimestamp", Timestamp{now});
  if (old_state != state) {
    r.set("StateTransitionedTimestamp", Timestamp{now});
    r.set("__previous_state", old_state);  // for a suppressor's extension period
  }
  save(alarm);

  std::string data = "{\"version\":\"1.0\",\"oldState\":{\"stateValue\":";
  append_json_string(data, old_state);
  data += ",\"stateReason\":";
  append_json_string(data, old_reason);
  data += "},\"newState\":{\"stateValue\":";
  append_json_string(data, state);
  data += ",\"stateReason\":";
  append_json_string(data, reason);
  if (!reason_data.empty() && parse_json_or_null(reason_data).is_map()) data += ",\"stateReasonData\":" + reason_data;
  data += "}}";
  add_history(alarm, "StateUpdate", "Alarm updated from " + old_state + " to " + state, data);
  if (old_state == state) return;
  changed.push_back(key_of(alarm.account, alarm.region, alarm.name));

  BusEvent event;
  event.source = "aws.cloudwatch";
  event.detail_type = "CloudWatch Alarm State Change";
  event.account = alarm.account;
  event.region = alarm.region;
  event.time = now;
  event.resources.push_back(std::string(r.str("AlarmArn")));
  Value detail = Value::map();
  detail.set("alarmName", alarm.name);
  Value new_state = Value::map().set("value", state).set("reason", reason).set("timestamp", aws_time(now));
  if (!reason_data.empty()) new_state.set("reasonData", reason_data);
  detail.set("state", std::move(new_state));
  detail.set("previousState", Value::map().set("value", old_state).set("reason", old_reason));
  Value configuration = Value::map();
  if (const Value* d = r.get("AlarmDescription")) configuration.set("description", *d);
  if (is_composite(r)) configuration.set("alarmRule", std::string(r.str("AlarmRule")));
  detail.set("configuration", std::move(configuration));
  event.detail = std::move(detail);
  bus_.publish(event);

  run_actions(alarm, old_state);
}

namespace {

void erase_members(Value& record, std::initializer_list<const char*> names) {
  std::erase_if(record.as_map(), [&](const auto& kv) {
    for (const char* n : names)
      if (kv.first == n) return true;
    return false;
  });
}

}  // namespace

void AlarmStore::suppress(Alarm& alarm, const std::string& by, const std::string& reason) {
  alarm.record.set("ActionsSuppressedBy", by);
  alarm.record.set("ActionsSuppressedReason", reason);
  erase_members(alarm.record, {"__pending_actions_until", "__pending_old_state"});
  save(alarm);
  add_history(alarm, "Action", "Actions suppressed: " + reason, "{\"actionState\":\"Suppressed\",\"actionsSuppressedBy\":\"" + by + "\"}");
}

void AlarmStore::run_actions(Alarm& alarm, const std::string& old_state) {
  Value& r = alarm.record;
  if (!r.flag("ActionsEnabled", true)) return;
  const std::string state(r.str("StateValue"));
  if (string_list(r.get(state == "ALARM" ? "AlarmActions" : state == "OK" ? "OKActions" : "InsufficientDataActions")).empty()) return;
  const Value* suppressor = is_composite(r) ? r.get("ActionsSuppressor") : nullptr;
  if (!suppressor) return execute_actions(alarm, old_state);
  // A composite alarm's actions wait while its suppressor is in ALARM, for ExtensionPeriod
  // seconds after the suppressor left ALARM, and up to WaitPeriod seconds for the suppressor
  // to go into ALARM (checked again by evaluate_due).
  const std::string name = suppressor->as_string();
  const double now = clock_.now_millis() / 1000.0;
  auto child = alarms_.find(key_of(alarm.account, alarm.region, name.substr(name.rfind(":alarm:") == std::string::npos ? 0 : name.rfind(":alarm:") + 7)));
  const Value* s = child == alarms_.end() ? nullptr : &child->second.record;
  if (s && s->str("StateValue") == "ALARM") return suppress(alarm, "Alarm", "Alarm " + name + " is in ALARM state");
  if (s && s->str("__previous_state") == "ALARM" && s->get("StateTransitionedTimestamp") &&
      now < s->get("StateTransitionedTimestamp")->as_double() + static_cast<double>(r.i64("ActionsSuppressorExtensionPeriod", 0)))
    return suppress(alarm, "ExtensionPeriod", "Extension period of alarm " + name + " is active");
  if (int64_t wait = r.i64("ActionsSuppressorWaitPeriod", 0); wait > 0) {
    r.set("ActionsSuppressedBy", "WaitPeriod");
    r.set("ActionsSuppressedReason", "Waiting " + std::to_string(wait) + " seconds for alarm " + name + " to go into ALARM state");
    r.set("__pending_actions_until", now + static_cast<double>(wait));
    r.set("__pending_old_state", old_state);
    save(alarm);
    return;
  }
  execute_actions(alarm, old_state);
}

void AlarmStore::release_pending_actions(Alarm& alarm) {
  Value& r = alarm.record;
  const Value* until = r.get("__pending_actions_until");
  if (!until) return;
  const std::string name(r.str("ActionsSuppressor"));
  if (state_of(alarm.account, alarm.region, name) == "ALARM") return suppress(alarm, "Alarm", "Alarm " + name + " is in ALARM state");
  if (clock_.now_millis() / 1000.0 < until->as_double()) return;
  const std::string old_state(r.str("__pending_old_state"));
  erase_members(r, {"__pending_actions_until", "__pending_old_state", "ActionsSuppressedBy", "ActionsSuppressedReason"});
  save(alarm);
  execute_actions(alarm, old_state);
}

void AlarmStore::execute_actions(Alarm& alarm, const std::string& old_state) {
  Value& r = alarm.record;
  const std::string state(r.str("StateValue"));
  const char* list = state == "ALARM" ? "AlarmActions" : state == "OK" ? "OKActions" : "InsufficientDataActions";
  std::vector<std::string> actions = string_list(r.get(list));
  if (actions.empty()) return;
  const double now = clock_.now_millis() / 1000.0;
  // AWS's notification message: the alarm, its old and new state and the trigger.
  std::string message = "{\"AlarmName\":";
  append_json_string(message, alarm.name);
  message += ",\"AlarmDescription\":";
  if (const Value* d = r.get("AlarmDescription")) append_json_string(message, d->as_string());
  else message += "null";
  message += ",\"AWSAccountId\":";
  append_json_string(message, alarm.account);
  message += ",\"AlarmConfigurationUpdatedTimestamp\":";
  append_json_string(message, aws_time(r.get("AlarmConfigurationUpdatedTimestamp") ? r.get("AlarmConfigurationUpdatedTimestamp")->as_double() : now));
  message += ",\"NewStateValue\":";
  append_json_string(message, state);
  message += ",\"NewStateReason\":";
  append_json_string(message, r.str("StateReason"));
  message += ",\"StateChangeTime\":";
  append_json_string(message, aws_time(now));
  message += ",\"Region\":";
  append_json_string(message, region_long_name(alarm.region));
  message += ",\"AlarmArn\":";
  append_json_string(message, r.str("AlarmArn"));
  message += ",\"OldStateValue\":";
  append_json_string(message, old_state);
  for (const char* l : {"OKActions", "AlarmActions", "InsufficientDataActions"}) {
    message += ",\"";
    message += l;
    message += "\":" + protocol::value_to_json(r.has(l) ? *r.get(l) : Value::list());
  }
  if (is_composite(r)) {
    message += ",\"AlarmRule\":";
    append_json_string(message, r.str("AlarmRule"));
  } else {
    message += ",\"Trigger\":{";
    if (r.has("MetricName")) {
      message += "\"MetricName\":";
      append_json_string(message, r.str("MetricName"));
      message += ",\"Namespace\":";
      append_json_string(message, r.str("Namespace"));
      message += ",\"StatisticType\":";
      message += r.has("ExtendedStatistic") ? "\"ExtendedStatistic\",\"ExtendedStatistic\":" : "\"Statistic\",\"Statistic\":";
      std::string stat(r.has("ExtendedStatistic") ? r.str("ExtendedStatistic") : r.str("Statistic"));
      if (!r.has("ExtendedStatistic")) std::transform(stat.begin(), stat.end(), stat.begin(), [](char c) { return static_cast<char>(std::toupper(c)); });
      append_json_string(message, stat);
      message += ",\"Unit\":";
      if (r.has("Unit")) append_json_string(message, r.str("Unit"));
      else message += "null";
      message += ",\"Dimensions\":[";
      bool first = true;
      if (const Value* dims = r.get("Dimensions"))
        for (const Value& d : dims->as_list()) {
          if (!first) message += ",";
          first = false;
          message += "{\"value\":";
          append_json_string(message, d.str("Value"));
          message += ",\"name\":";
          append_json_string(message, d.str("Name"));
          message += "}";
        }
      message += "],\"Period\":" + std::to_string(r.i64("Period", 60)) + ",";
    } else if (const Value* metrics = r.get("Metrics")) {
      message += "\"Metrics\":" + protocol::value_to_json(*metrics) + ",";
    }
    message += "\"EvaluationPeriods\":" + std::to_string(r.i64("EvaluationPeriods", 1));
    message += ",\"DatapointsToAlarm\":" + std::to_string(r.i64("DatapointsToAlarm", r.i64("EvaluationPeriods", 1)));
    message += ",\"ComparisonOperator\":";
    append_json_string(message, r.str("ComparisonOperator"));
    message += ",\"Threshold\":" + (r.has("Threshold") ? format_epoch_number(r.f64("Threshold", 0)) : std::string("null"));
    message += ",\"TreatMissingData\":";
    append_json_string(message, r.str("TreatMissingData", "missing"));
    message += ",\"EvaluateLowSampleCountPercentile\":";
    append_json_string(message, r.str("EvaluateLowSampleCountPercentile"));
    message += "}";
  }
  message += "}";
  const std::string subject = state + ": \"" + alarm.name + "\" in " + region_long_name(alarm.region);

  for (const std::string& arn : actions) {
    std::string error;
    if (arn.rfind("arn:aws:sns:", 0) == 0) {
      error = sns_ ? sns_(alarm.account, alarm.region, arn, subject, message) : "SNS is not available";
    } else {
      error = "Vigil does not execute this kind of alarm action yet (only SNS topics)";
    }
    std::string data = "{\"actionState\":";
    append_json_string(data, error.empty() ? "Succeeded" : "Failed");
    data += ",\"stateUpdateTimestamp\":" + std::to_string(static_cast<int64_t>(now * 1000));
    if (error.empty()) {
      data += ",\"notificationResource\":";
      append_json_string(data, arn);
      data += ",\"publishedMessage\":";
      append_json_string(data, message);
    } else {
      data += ",\"error\":";
      append_json_string(data, error);
    }
    data += "}";
    add_history(alarm, "Action", (error.empty() ? "Published a notification to " : "Failed to execute action ") + arn, data);
  }
}

std::string AlarmStore::state_of(const std::string& account, const std::string& region, std::string_view name_or_arn) const {
  std::string name(name_or_arn);
  if (size_t colon = name.rfind(":alarm:"); colon != std::string::npos) name = name.substr(colon + 7);
  auto it = alarms_.find(key_of(account, region, name));
  return it == alarms_.end() ? "INSUFFICIENT_DATA" : std::string(it->second.record.str("StateValue"));
}

void AlarmStore::evaluate_metric_alarm(Alarm& alarm, std::vector<Key>& changed) {
  const Value& r = alarm.record;
  std::optional<Comparison> comparison = parse_comparison(r.str("ComparisonOperator"));
  if (!comparison) return;
  AlarmSpec spec;
  spec.comparison = *comparison;
  spec.threshold = r.f64("Threshold", 0);
  spec.evaluation_periods = static_cast<int>(r.i64("EvaluationPeriods", 1));
  spec.datapoints_to_alarm = static_cast<int>(r.i64("DatapointsToAlarm", spec.evaluation_periods));
  spec.datapoints_to_alarm_set = r.has("DatapointsToAlarm");  // AWS words the reason differently without it
  spec.treat_missing_data = std::string(r.str("TreatMissingData", "missing"));
  spec.evaluate_low_sample_count_percentile = std::string(r.str("EvaluateLowSampleCountPercentile"));
  spec.unit = std::string(r.str("Unit"));

  const int64_t now_ms = clock_.now_millis();
  const int64_t now_s = now_ms / 1000;
  std::vector<EvaluatedPoint> points;
  int64_t period = r.i64("Period", 60);
  const Value* metrics = r.get("Metrics");
  std::string return_id;
  if (metrics) {
    for (const Value& q : metrics->as_list()) {
      if (!q.flag("ReturnData", true) || (r.has("ThresholdMetricId") && q.str("Id") == r.str("ThresholdMetricId"))) continue;
      return_id = std::string(q.str("Id"));
      if (const Value* stat = q.get("MetricStat")) period = stat->i64("Period", 60);
      else period = q.i64("Period", 60);
    }
    spec.statistic = "";
  } else {
    spec.is_percentile = r.has("ExtendedStatistic");
    spec.statistic = std::string(spec.is_percentile ? r.str("ExtendedStatistic") : r.str("Statistic"));
  }
  if (period <= 0) period = 60;
  spec.period_s = period;

  // The window covers the last N periods up to and including the current one when it has
  // data already; otherwise up to the current period's start, so that the first seconds of a
  // new period do not count as missing data.
  const int64_t current = now_s - now_s % period;
  // AWS reads a range a little longer than N periods, so that with TreatMissingData=missing
  // an alarm can look back past a recent gap (evaluation_range_periods: N + 2).
  const int64_t lookback = static_cast<int64_t>(evaluation_range_periods(spec)) * period;
  std::vector<math::Series> series;
  std::optional<math::Series> lower, upper;
  auto fetch_window = [&](int64_t start, int64_t end) {
    series.clear();
    lower.reset();
    upper.reset();
    if (!metrics) {
      SeriesId id{std::string(r.str("Namespace")), std::string(r.str("MetricName")), {}};
      if (const Value* dims = r.get("Dimensions"))
        for (const Value& d : dims->as_list()) id.dimensions.emplace_back(std::string(d.str("Name")), std::string(d.str("Value")));
      std::sort(id.dimensions.begin(), id.dimensions.end());
      std::optional<uint8_t> unit;
      if (r.has("Unit")) unit = unit_index(r.str("Unit"));
      series.push_back(queries_.fetch(alarm.account, alarm.region, id, spec.statistic, period, unit, start, end));
      return;
    }
    std::vector<QueryResult> results = queries_.run(alarm.account, alarm.region, *metrics, start, end, true);
    for (const QueryResult& q : results) {
      if (q.id == return_id && !q.series.empty()) series.push_back(q.series[0]);
      if (r.has("ThresholdMetricId") && q.id == r.str("ThresholdMetricId") && q.series.size() >= 2) {
        lower = q.series[0];
        upper = q.series[1];
      }
    }
    if (series.empty()) series.emplace_back();
  };
  try {
    fetch_window(current - lookback + period, current + period);
    const math::Series& s = series[0];
    if (s.timestamps.empty() || s.timestamps.back() != current) fetch_window(current - lookback, current);
  } catch (const AwsError&) {
    return;  // the stored configuration no longer evaluates (validated at Put time)
  }
  const math::Series& s = series[0];
  const int64_t window_end = (!s.timestamps.empty() && s.timestamps.back() == current) ? current + period : current;
  for (size_t i = 0; i < s.timestamps.size(); ++i) {
    EvaluatedPoint p{s.timestamps[i], s.values[i]};
    auto band_value = [&](const std::optional<math::Series>& band) -> std::optional<double> {
      if (!band) return std::nullopt;
      for (size_t j = 0; j < band->timestamps.size(); ++j)
        if (band->timestamps[j] == p.timestamp_s) return band->values[j];
      return std::nullopt;
    };
    p.lower = band_value(lower);
    p.upper = band_value(upper);
    points.push_back(p);
  }
  Evaluation e = evaluate_alarm(spec, points, window_end, std::string(r.str("StateValue")), now_ms);
  if (e.changed) transition(alarm, e.state, e.reason, e.reason_data_json, changed);
}

void AlarmStore::evaluate_composites(std::vector<Key> changed) {
  // Re-evaluates composite alarms that are in `changed` themselves or reference an alarm in
  // it; their own changes cascade to their parents. Bounded: an alarm changes at most once
  // per pass per state, and the pass count is capped so a cycle cannot spin.
  for (int pass = 0; pass < 16 && !changed.empty(); ++pass) {
    std::vector<Key> next;
    for (auto& [key, alarm] : alarms_) {
      if (!is_composite(alarm.record)) continue;
      std::optional<AlarmRule> rule;
      try {
        rule = AlarmRule::parse(alarm.record.str("AlarmRule"));
      } catch (const RuleError&) {
        continue;
      }
      bool affected = std::find(changed.begin(), changed.end(), key) != changed.end();
      std::vector<std::string> triggering;
      for (const std::string& ref : rule->referenced_alarms()) {
        std::string child = ref;
        if (size_t colon = child.rfind(":alarm:"); colon != std::string::npos) child = child.substr(colon + 7);
        Key child_key = key_of(alarm.account, alarm.region, child);
        if (std::find(changed.begin(), changed.end(), child_key) != changed.end()) {
          affected = true;
          triggering.push_back(child_key);
        }
      }
      if (!affected) continue;
      const std::string account = alarm.account, region = alarm.region;
      bool fires = rule->evaluate([&](std::string_view name) { return state_of(account, region, name); });
      std::string state = fires ? "ALARM" : "OK";
      if (state == alarm.record.str("StateValue")) continue;
      // AWS's reason names the child alarm whose transition changed the composite's state.
      std::vector<TriggeringAlarm> triggers;
      for (const Key& t : triggering) {
        auto child = alarms_.find(t);
        if (child == alarms_.end()) continue;
        const Value& c = child->second.record;
        const double ts = c.get("StateUpdatedTimestamp") ? c.get("StateUpdatedTimestamp")->as_double() : clock_.now_millis() / 1000.0;
        triggers.push_back(TriggeringAlarm{std::string(c.str("AlarmArn")), std::string(c.str("StateValue")), static_cast<int64_t>(ts * 1000)});
      }
      std::string reason = triggers.empty() ? std::string(fires ? "The alarm rule evaluates to TRUE" : "The alarm rule evaluates to FALSE")
                                            : composite_reason(triggers);
      std::string data = composite_reason_data(triggers);
      transition(alarm, state, reason, data, next);
    }
    changed = std::move(next);
  }
}

void AlarmStore::evaluate_due() {
  std::lock_guard lock(mutex_);
  const int64_t now = clock_.now_millis();
  std::vector<Key> changed;
  for (auto& [key, alarm] : alarms_) {
    if (is_composite(alarm.record)) {
      release_pending_actions(alarm);
      continue;
    }
    if (alarm.next_evaluation_ms > now) continue;
    // AWS evaluates every minute, and every 10 seconds for periods under a minute.
    int64_t period = alarm.record.i64("Period", 60);
    alarm.next_evaluation_ms = now + std::min<int64_t>(period < 60 && period > 0 ? 10'000 : 60'000, evaluation_interval_ms_);
    evaluate_metric_alarm(alarm, changed);
  }
  evaluate_composites(std::move(changed));
}

void AlarmStore::expire_history() {
  std::lock_guard lock(mutex_);
  const int64_t cutoff = clock_.now_millis() - kHistoryRetentionMs;
  if (cutoff <= 0) return;
  // One range delete per account/region present: walk the distinct prefixes.
  std::set<std::string> prefixes;
  for (const auto& [key, alarm] : alarms_) prefixes.insert(history_prefix(alarm.account, alarm.region));
  store::WriteBatch batch(store_);
  for (const std::string& p : prefixes) {
    std::string end = p;
    append_u64(end, static_cast<uint64_t>(cutoff));
    batch.erase_range(store::Keyspace::Meta, p, end);
  }
  if (!batch.empty()) store_.write(batch);
}

}  // namespace vigil::cloudwatch
