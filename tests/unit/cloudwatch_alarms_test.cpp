// CloudWatch alarms: the AlarmStore model driven by a ManualClock against a real store —
// evaluation as time passes, composite re-evaluation, actions (SNS publisher and suppressor
// wait period), the "CloudWatch Alarm State Change" bus event, restart without spurious
// transitions, history order and expiry.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/aws_error.h"
#include "core/clock.h"
#include "core/event_bus.h"
#include "services/cloudwatch/alarms.h"
#include "services/cloudwatch/metric_query.h"
#include "services/cloudwatch/metric_store.h"
#include "store/store.h"
#include "temp_dir.h"

namespace vigil::cloudwatch {
namespace {

constexpr char kAccount[] = "000000000000";
constexpr char kRegion[] = "us-east-1";
constexpr int64_t kStartMs = 1'700'000'040'000;  // a minute boundary

struct Published {
  std::string topic, subject, message;
};

class AlarmStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = vigil::testing::make_temp_dir("vigil-alarms");
    bus_.subscribe([this](const BusEvent& e) { events_.push_back(e); });
    open();
  }
  void TearDown() override {
    close();
    std::filesystem::remove_all(dir_);
  }
  void close() {
    alarms_.reset();
    queries_.reset();
    metrics_.reset();
    store_.reset();
  }
  void open() {
    close();
    store_ = store::Store::open(dir_);
    metrics_ = std::make_unique<MetricStore>(*store_, clock_);
    metrics_->load();
    queries_ = std::make_unique<MetricQueryEngine>(*metrics_);
    alarms_ = std::make_unique<AlarmStore>(*store_, clock_, *queries_, bus_);
    alarms_->load();
    alarms_->set_sns_publisher([this](const std::string&, const std::string&, const std::string& topic, const std::string& subject,
                                      const std::string& message) {
      if (topic.find("missing") != std::string::npos) return std::string("Topic does not exist");
      published_.push_back({topic, subject, message});
      return std::string();
    });
  }
  void put(const std::string& metric, double value, int64_t seconds_ago = 0) {
    PointBatch p;
    p.namespace_ = "App";
    p.metric_name = metric;
    p.timestamp_ms = clock_.now_millis() - seconds_ago * 1000;
    p.aggregate.add(value);
    metrics_->put(kAccount, kRegion, {p});
  }
  static Value metric_alarm(const std::string& name, const std::string& metric, double threshold, Value::List actions = {}) {
    return Value::map()
        .set("AlarmName", name)
        .set("Namespace", "App")
        .set("MetricName", metric)
        .set("Statistic", "Maximum")
        .set("Period", int64_t{60})
        .set("EvaluationPeriods", int64_t{1})
        .set("Threshold", threshold)
        .set("ComparisonOperator", "GreaterThanThreshold")
        .set("AlarmActions", Value(std::move(actions)));
  }
  Value describe_one(const std::string& name) {
    AlarmFilter filter;
    filter.names = {name};
    filter.composite = true;
    std::string next;
    auto [metric, composite] = alarms_->describe(kAccount, kRegion, filter, 100, "", &next);
    if (!metric.empty()) return metric[0];
    if (!composite.empty()) return composite[0];
    ADD_FAILURE() << "no alarm " << name;
    return Value();
  }
  std::string state(const std::string& name) { return std::string(describe_one(name).str("StateValue")); }
  void tick(int seconds) {
    clock_.advance(std::chrono::seconds(seconds));
    alarms_->evaluate_due();
  }
  std::vector<Value> history(const std::string& name) {
    HistoryQuery q;
    q.name = name;
    std::string next;
    return alarms_->history(kAccount, kRegion, q, &next);
  }

  std::string dir_;
  ManualClock clock_{kStartMs};
  EventBus bus_;
  std::vector<BusEvent> events_;
  std::vector<Published> published_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<MetricStore> metrics_;
  std::unique_ptr<MetricQueryEngine> queries_;
  std::unique_ptr<AlarmStore> alarms_;
};

TEST_F(AlarmStoreTest, EvaluatesAsTimePassesAndPublishesTheStateChange) {
  const std::string topic = "arn:aws:sns:us-east-1:000000000000:ops";
  alarms_->put_metric_alarm(kAccount, kRegion, metric_alarm("hot", "Temp", 50, {topic}));
  EXPECT_EQ(state("hot"), "INSUFFICIENT_DATA");
  put("Temp", 80);
  tick(1);
  EXPECT_EQ(state("hot"), "ALARM");
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_EQ(published_[0].topic, topic);
  EXPECT_EQ(published_[0].subject, "ALARM: \"hot\" in US East (N. Virginia)");
  EXPECT_NE(published_[0].message.find("\"NewStateValue\":\"ALARM\""), std::string::npos);
  EXPECT_NE(published_[0].message.find("\"OldStateValue\":\"INSUFFICIENT_DATA\""), std::string::npos);

  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].source, "aws.cloudwatch");
  EXPECT_EQ(events_[0].detail_type, "CloudWatch Alarm State Change");
  EXPECT_EQ(events_[0].resources, std::vector<std::string>{"arn:aws:cloudwatch:us-east-1:000000000000:alarm:hot"});
  EXPECT_EQ(events_[0].detail.str("alarmName"), "hot");
  EXPECT_EQ(events_[0].detail.get("state")->str("value"), "ALARM");
  EXPECT_EQ(events_[0].detail.get("previousState")->str("value"), "INSUFFICIENT_DATA");

  // Not due again for a minute: a cooler point is not seen until then.
  clock_.advance(std::chrono::seconds(60));
  put("Temp", 10);
  alarms_->evaluate_due();
  EXPECT_EQ(state("hot"), "OK");
  EXPECT_EQ(events_.size(), 2u);
  EXPECT_EQ(published_.size(), 1u);  // no OKActions
}

TEST_F(AlarmStoreTest, StateSurvivesRestartWithoutSpuriousTransition) {
  alarms_->put_metric_alarm(kAccount, kRegion, metric_alarm("hot", "Temp", 50));
  put("Temp", 80);
  tick(1);
  ASSERT_EQ(state("hot"), "ALARM");
  const size_t items = history("hot").size();
  open();
  EXPECT_EQ(state("hot"), "ALARM");
  tick(1);
  EXPECT_EQ(state("hot"), "ALARM");
  EXPECT_EQ(history("hot").size(), items);
  EXPECT_EQ(events_.size(), 1u);
}

TEST_F(AlarmStoreTest, CompositeFollowsChildrenAndCascades) {
  alarms_->put_metric_alarm(kAccount, kRegion, metric_alarm("a", "A", 1));
  alarms_->put_metric_alarm(kAccount, kRegion, metric_alarm("b", "B", 1));
  alarms_->put_composite_alarm(kAccount, kRegion, Value::map().set("AlarmName", "both").set("AlarmRule", "ALARM(a) AND ALARM(b)"));
  alarms_->put_composite_alarm(kAccount, kRegion, Value::map().set("AlarmName", "top").set("AlarmRule", "ALARM(both) AND NOT OK(\"b\")"));
  EXPECT_EQ(state("both"), "OK");
  put("A", 5);
  tick(1);
  EXPECT_EQ(state("a"), "ALARM");
  EXPECT_EQ(state("both"), "OK");
  alarms_->set_state(kAccount, kRegion, "b", "ALARM", "forced", std::nullopt);
  EXPECT_EQ(state("both"), "ALARM");
  EXPECT_EQ(state("top"), "ALARM");  // the parent's change cascades to its parent
  EXPECT_NE(std::string(describe_one("both").str("StateReason")).find("alarm:b transitioned to ALARM"), std::string::npos);
}

TEST_F(AlarmStoreTest, SuppressorWaitPeriodHoldsThenReleasesActions) {
  const std::string topic = "arn:aws:sns:us-east-1:000000000000:ops";
  alarms_->put_metric_alarm(kAccount, kRegion, metric_alarm("child", "C", 1));
  alarms_->put_metric_alarm(kAccount, kRegion, metric_alarm("maintenance", "M", 1));
  alarms_->put_composite_alarm(kAccount, kRegion,
                               Value::map()
                                   .set("AlarmName", "svc")
                                   .set("AlarmRule", "ALARM(child)")
                                   .set("AlarmActions", Value(Value::List{topic}))
                                   .set("ActionsSuppressor", "maintenance")
                                   .set("ActionsSuppressorWaitPeriod", int64_t{120})
                                   .set("ActionsSuppressorExtensionPeriod", int64_t{60}));
  alarms_->set_state(kAccount, kRegion, "child", "ALARM", "forced", std::nullopt);
  EXPECT_EQ(state("svc"), "ALARM");
  EXPECT_EQ(describe_one("svc").str("ActionsSuppressedBy"), "WaitPeriod");
  EXPECT_TRUE(published_.empty());
  clock_.advance(std::chrono::seconds(121));
  alarms_->evaluate_due();
  EXPECT_EQ(published_.size(), 1u);  // the suppressor never went into ALARM
  EXPECT_FALSE(describe_one("svc").has("ActionsSuppressedBy"));

  // While the suppressor is in ALARM the actions are suppressed outright.
  alarms_->set_state(kAccount, kRegion, "child", "OK", "forced", std::nullopt);
  alarms_->set_state(kAccount, kRegion, "maintenance", "ALARM", "window", std::nullopt);
  alarms_->set_state(kAccount, kRegion, "child", "ALARM", "forced", std::nullopt);
  EXPECT_EQ(describe_one("svc").str("ActionsSuppressedBy"), "Alarm");
  // ...and for the extension period after it leaves ALARM.
  alarms_->set_state(kAccount, kRegion, "child", "OK", "forced", std::nullopt);
  alarms_->set_state(kAccount, kRegion, "maintenance", "OK", "done", std::nullopt);
  alarms_->set_state(kAccount, kRegion, "child", "ALARM", "forced", std::nullopt);
  EXPECT_EQ(describe_one("svc").str("ActionsSuppressedBy"), "ExtensionPeriod");
  EXPECT_EQ(published_.size(), 1u);
}

TEST_F(AlarmStoreTest, FailedActionIsRecordedAndDisabledActionsDoNothing) {
  alarms_->put_metric_alarm(kAccount, kRegion, metric_alarm("x", "X", 1, {"arn:aws:sns:us-east-1:000000000000:missing"}));
  alarms_->set_state(kAccount, kRegion, "x", "ALARM", "forced", std::nullopt);
  std::vector<Value> items = history("x");
  ASSERT_FALSE(items.empty());
  EXPECT_EQ(items[0].str("HistoryItemType"), "Action");
  EXPECT_EQ(items[0].str("HistorySummary"), "Failed to execute action arn:aws:sns:us-east-1:000000000000:missing");
  alarms_->set_actions_enabled(kAccount, kRegion, {"x"}, false);
  alarms_->set_state(kAccount, kRegion, "x", "OK", "forced", std::nullopt);
  alarms_->set_state(kAccount, kRegion, "x", "ALARM", "forced", std::nullopt);
  EXPECT_EQ(history("x")[0].str("HistoryItemType"), "StateUpdate");
}

TEST_F(AlarmStoreTest, HistoryIsNewestFirstAndExpiresAfterThirtyDays) {
  alarms_->put_metric_alarm(kAccount, kRegion, metric_alarm("h", "H", 1));
  clock_.advance(std::chrono::seconds(5));
  alarms_->set_state(kAccount, kRegion, "h", "ALARM", "one", std::nullopt);
  std::vector<Value> items = history("h");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].str("HistoryItemType"), "StateUpdate");
  EXPECT_EQ(items[1].str("HistoryItemType"), "ConfigurationUpdate");
  clock_.advance(std::chrono::hours(24 * 31));
  alarms_->expire_history();
  EXPECT_TRUE(history("h").empty());
}

TEST_F(AlarmStoreTest, SetStateRejectsUnknownAlarmAndBadReasonData) {
  alarms_->put_metric_alarm(kAccount, kRegion, metric_alarm("h", "H", 1));
  EXPECT_THROW(alarms_->set_state(kAccount, kRegion, "nope", "OK", "r", std::nullopt), AwsError);
  try {
    alarms_->set_state(kAccount, kRegion, "h", "OK", "r", std::string("[1,2]"));
    FAIL();
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code(), "InvalidFormat");
  }
}

}  // namespace
}  // namespace vigil::cloudwatch
