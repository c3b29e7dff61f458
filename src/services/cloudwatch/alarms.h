// CloudWatch alarms: metric alarms (on one metric or a math expression) and composite alarms,
// their state, evaluation on the scheduler, history and actions.
//
// Keys (Keyspace::Meta):
//   "cw:a:" account \0 region \0 name          -> the alarm as DescribeAlarms shows it (JSON),
//        plus "__tags" and "__kind" ("metric"/"composite"); every change is a synced write, so
//        state survives a restart and evaluation resumes from it (no spurious transition).
//   "cw:h:" account \0 region \0 time ms (8, big-endian) seq (8) -> one AlarmHistoryItem (JSON).
//        Newest-last per account/region; DescribeAlarmHistory scans the time range backwards or
//        forwards with a limit; items older than 30 days are range-deleted (AWS keeps 30 days).
//
// Memory: every alarm's record is kept in memory (AWS's quota is 5 000 alarms per region;
// 10 000 records of ~1 KB is 10 MB). Evaluation cost: one series scan of the evaluation window
// per metric alarm (N periods), or one MetricQueryEngine run for a math alarm; composite alarms
// are re-evaluated only when a child changes state, O(rule size).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/event_bus.h"
#include "core/value.h"
#include "services/cloudwatch/metric_query.h"
#include "store/store.h"

namespace vigil::cloudwatch {

// Publishes an alarm notification to an SNS topic ARN; returns an error text, or "" on success.
using SnsPublisher = std::function<std::string(const std::string& account, const std::string& region, const std::string& topic_arn,
                                               const std::string& subject, const std::string& message)>;

struct AlarmFilter {
  std::vector<std::string> names;
  std::optional<std::string> name_prefix, state, action_prefix, children_of, parents_of;
  bool metric = true, composite = false;
};

struct HistoryQuery {
  std::optional<std::string> name, type;
  std::vector<std::string> alarm_types;  // MetricAlarm / CompositeAlarm; empty: both
  double start = 0, end = 0;             // epoch seconds; end 0: now
  bool newest_first = true;
  size_t limit = 100;
  std::string after_key;  // NextToken
};

class AlarmStore {
 public:
  AlarmStore(store::Store& store, const Clock& clock, const MetricQueryEngine& queries, EventBus& bus);
  void load();
  void reset() { load(); }
  void set_sns_publisher(SnsPublisher publisher) { sns_ = std::move(publisher); }

  // The handlers validate AWS's rules first and pass the request members here.
  void put_metric_alarm(const std::string& account, const std::string& region, const Value& request);
  void put_composite_alarm(const std::string& account, const std::string& region, const Value& request);
  void delete_alarms(const std::string& account, const std::string& region, const std::vector<std::string>& names);
  // Returns (metric alarms, composite alarms) in name order, from after `after_name`, with
  // `*next` set to the last name when more remain.
  std::pair<std::vector<Value>, std::vector<Value>> describe(const std::string& account, const std::string& region, const AlarmFilter& filter,
                                                             size_t limit, const std::string& after_name, std::string* next) const;
  std::vector<Value> describe_for_metric(const std::string& account, const std::string& region, const Value& request) const;
  std::vector<Value> history(const std::string& account, const std::string& region, const HistoryQuery& query, std::string* next) const;
  void set_state(const std::string& account, const std::string& region, const std::string& name, const std::string& state,
                 const std::string& reason, const std::optional<std::string>& reason_data);
  void set_actions_enabled(const std::string& account, const std::string& region, const std::vector<std::string>& names, bool enabled);

  // Tags by alarm ARN; false when no alarm has that ARN.
  bool tag(const std::string& arn, const Value& tags);
  bool untag(const std::string& arn, const std::vector<std::string>& keys);
  std::optional<Value> tags(const std::string& arn) const;

  // Evaluates every metric alarm that is due (each period; every 10 s for periods under a
  // minute), then the composite alarms whose children changed. Called by the scheduler.
  void evaluate_due();
  // Caps the time between two evaluations of an alarm (vigil serve --alarm-evaluation-interval,
  // for tests and demos that cannot wait a minute).
  void set_evaluation_interval(int64_t ms) { evaluation_interval_ms_ = std::max<int64_t>(ms, 1); }
  // Deletes history items older than 30 days.
  void expire_history();

 private:
  struct Alarm {
    std::string account, region, name;
    Value record;                 // the DescribeAlarms shape + internal members
    int64_t next_evaluation_ms = 0;
  };
  using Key = std::string;  // account \0 region \0 name
  static Key key_of(const std::string& account, const std::string& region, const std::string& name);

  void save(const Alarm& alarm);
  // Creates the alarm (INSUFFICIENT_DATA, "Unchecked: Initial alarm creation") or replaces its
  // configuration keeping its state and tags, with the ConfigurationUpdate history item.
  Alarm& store_configuration(const std::string& account, const std::string& region, const std::string& name, Value record,
                             const Value& request);
  void add_history(const Alarm& alarm, const std::string& type, const std::string& summary, const std::string& data);
  // Applies a state change: record, history, actions, bus event; then parents re-evaluate.
  void transition(Alarm& alarm, const std::string& state, const std::string& reason, const std::string& reason_data,
                  std::vector<Key>& changed);
  // Runs the actions of the alarm's new state, or holds/suppresses them for a composite
  // alarm's ActionsSuppressor.
  void run_actions(Alarm& alarm, const std::string& old_state);
  void execute_actions(Alarm& alarm, const std::string& old_state);
  void suppress(Alarm& alarm, const std::string& by, const std::string& reason);
  void release_pending_actions(Alarm& alarm);
  void evaluate_metric_alarm(Alarm& alarm, std::vector<Key>& changed);
  void evaluate_composites(std::vector<Key> changed);
  std::string state_of(const std::string& account, const std::string& region, std::string_view name_or_arn) const;

  store::Store& store_;
  const Clock& clock_;
  const MetricQueryEngine& queries_;
  EventBus& bus_;
  SnsPublisher sns_;
  mutable std::recursive_mutex mutex_;
  std::map<Key, Alarm> alarms_;
  uint64_t history_seq_ = 0;
  int64_t evaluation_interval_ms_ = 60'000;
};

}  // namespace vigil::cloudwatch
