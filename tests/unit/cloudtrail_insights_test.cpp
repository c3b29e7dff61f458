// CloudTrail Insights without HTTP: the detector driven by a ManualClock (baseline, burst,
// Start/End pairs, error rate, restarts), and trails' Insights selectors and delivery.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <regex>

#include "core/aws_error.h"
#include "core/clock.h"
#include "core/encoding.h"
#include "core/event_bus.h"
#include "http/gzip_body.h"
#include "protocol/json_codec.h"
#include "services/cloudtrail/event_history.h"
#include "services/cloudtrail/insights.h"
#include "services/cloudtrail/trails.h"
#include "services/logs/log_store.h"
#include "services/logs/logs_service.h"
#include "services/s3/object_store.h"
#include "store/store.h"
#include "temp_dir.h"

namespace vigil::cloudtrail {
namespace {

constexpr const char* kAccount = "000000000000";
constexpr const char* kRegion = "us-east-1";

std::string code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const AwsError& e) {
    return e.code();
  }
  return "";
}

using vigil::testing::TempDir;

class InsightDetectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.period_seconds = 60;
    options_.baseline_seconds = 3600;     // 60 periods
    options_.min_history_seconds = 600;   // 10 periods
    store_ = store::Store::open(dir_.path + "/db");
    open();
  }
  void open() {
    detector_ = std::make_unique<InsightDetector>(*store_, clock_, options_);
    detector_->load();
  }
  void restart() {
    detector_.reset();
    store_.reset();
    store_ = store::Store::open(dir_.path + "/db");
    open();
  }
  // n calls of the API now.
  void calls(int n, const char* name = "PutRetentionPolicy", const char* error = "", bool read_only = false, uint8_t types = kApiCallRate | kApiErrorRate) {
    for (int i = 0; i < n; ++i) {
      InsightCall c;
      c.account = kAccount;
      c.region = kRegion;
      c.event_source = "logs.amazonaws.com";
      c.event_name = name;
      c.error_code = error;
      c.user_arn = i % 2 ? "arn:aws:iam::000000000000:user/a" : "arn:aws:iam::000000000000:user/b";
      c.user_agent = "Boto3/1.0";
      c.read_only = read_only;
      c.time = clock_.now_seconds();
      detector_->count(c, types);
    }
  }
  // Moves to the next period and closes the current one.
  std::vector<InsightEvent> next() {
    clock_.advance(std::chrono::seconds(60));
    return detector_->tick();
  }
  // `periods` periods of `per_period` calls each; expects no Insights events.
  void steady(int periods, int per_period) {
    for (int i = 0; i < periods; ++i) {
      calls(per_period + (i % 3) - 1);  // per_period ± 1
      auto events = next();
      EXPECT_TRUE(events.empty()) << "period " << i << ": " << protocol::value_to_json(events.front().record);
    }
  }
  static const Value& details(const InsightEvent& e) { return *e.record.get("insightDetails"); }
  static const Value& stats(const InsightEvent& e) { return *details(e).get("insightContext")->get("statistics"); }

  TempDir dir_;
  ManualClock clock_{1'800'000'000'000};  // 2027-01-15T08:00:00Z, a period boundary
  InsightsOptions options_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<InsightDetector> detector_;
};

TEST_F(InsightDetectorTest, SteadyBaselineProducesNothing) {
  detector_->enable(kAccount, kApiCallRate);
  steady(40, 5);
  // A rise within the margin (threshold = max(μ + 3σ, 2μ, μ + 10) ≈ 15) is no Insight.
  calls(12);
  EXPECT_TRUE(next().empty());
}

TEST_F(InsightDetectorTest, BurstStartsAndReturnToNormalEnds) {
  detector_->enable(kAccount, kApiCallRate);
  steady(20, 5);
  double burst_start = clock_.now_seconds();
  calls(50);
  auto start = next();
  ASSERT_EQ(start.size(), 1u);
  const Value& r = start[0].record;
  EXPECT_EQ(r.str("eventType"), "AwsCloudTrailInsight");
  EXPECT_EQ(r.str("eventCategory"), "Insight");
  EXPECT_EQ(r.str("awsRegion"), kRegion);
  EXPECT_EQ(r.str("recipientAccountId"), kAccount);
  EXPECT_EQ(r.str("eventTime"), format_iso8601(burst_start));
  EXPECT_FALSE(r.str("sharedEventID").empty());
  EXPECT_NE(r.str("sharedEventID"), r.str("eventID"));
  EXPECT_EQ(details(start[0]).str("state"), "Start");
  EXPECT_EQ(details(start[0]).str("eventSource"), "logs.amazonaws.com");
  EXPECT_EQ(details(start[0]).str("eventName"), "PutRetentionPolicy");
  EXPECT_EQ(details(start[0]).str("insightType"), "ApiCallRateInsight");
  EXPECT_NEAR(stats(start[0]).get("baseline")->get("average")->as_double(), 5.0, 0.1);
  EXPECT_DOUBLE_EQ(stats(start[0]).get("insight")->get("average")->as_double(), 50);
  EXPECT_EQ(stats(start[0]).i64("insightDuration", 0), 1);
  EXPECT_EQ(stats(start[0]).i64("baselineDuration", 0), 20);
  const Value* attributions = details(start[0]).get("insightContext")->get("attributions");
  ASSERT_TRUE(attributions && attributions->is_list());
  ASSERT_EQ(attributions->size(), 3u);
  EXPECT_EQ(attributions->as_list()[0].str("attribute"), "userIdentityArn");
  EXPECT_EQ(attributions->as_list()[0].get("insight")->size(), 2u);
  EXPECT_EQ(attributions->as_list()[2].get("insight")->as_list()[0].str("value"), "null");

  // Still unusual: no new event.
  calls(60);
  EXPECT_TRUE(next().empty());
  // Back to normal: the End, same sharedEventID, the Insight's average over its 2 periods.
  double end_at = clock_.now_seconds();
  calls(5);
  auto end = next();
  ASSERT_EQ(end.size(), 1u);
  EXPECT_EQ(details(end[0]).str("state"), "End");
  EXPECT_EQ(end[0].record.str("sharedEventID"), r.str("sharedEventID"));
  EXPECT_EQ(end[0].record.str("eventTime"), format_iso8601(end_at));
  EXPECT_EQ(stats(end[0]).i64("insightDuration", 0), 2);
  EXPECT_DOUBLE_EQ(stats(end[0]).get("insight")->get("average")->as_double(), 55);
  EXPECT_NEAR(stats(end[0]).get("baseline")->get("average")->as_double(), 5.0, 0.1);
  // The burst did not become the baseline: the same burst starts a new Insight.
  steady(3, 5);
  calls(50);
  auto again = next();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_NE(again[0].record.str("sharedEventID"), r.str("sharedEventID"));
}

TEST_F(InsightDetectorTest, NothingBeforeTheMinimumHistoryNorForReads) {
  detector_->enable(kAccount, kApiCallRate);
  steady(5, 5);
  calls(100);
  EXPECT_TRUE(next().empty());  // 6 periods learnt, 10 needed
  steady(10, 5);
  calls(100, "DescribeLogGroups", "", /*read_only=*/true);  // reads are not the call rate
  EXPECT_TRUE(next().empty());
  // Not enabled for the account: nothing counted.
  detector_->disable(kAccount, kApiCallRate);
  EXPECT_FALSE(detector_->enabled(kAccount, kApiCallRate));
  calls(100);
  EXPECT_TRUE(next().empty());
}

TEST_F(InsightDetectorTest, ErrorRatePerErrorCode) {
  detector_->enable(kAccount, kApiErrorRate);
  for (int i = 0; i < 15; ++i) {
    calls(20);                                                    // successes: not errors
    calls(i % 2, "DeleteLogGroup", "ResourceNotFoundException");  // 0-1 errors a period
    EXPECT_TRUE(next().empty());
  }
  calls(40, "DeleteLogGroup", "AccessDeniedException", /*read_only=*/false, kApiErrorRate);
  auto start = next();
  ASSERT_EQ(start.size(), 1u);
  EXPECT_EQ(details(start[0]).str("insightType"), "ApiErrorRateInsight");
  EXPECT_EQ(details(start[0]).str("eventName"), "DeleteLogGroup");
  EXPECT_EQ(details(start[0]).str("errorCode"), "AccessDeniedException");
  EXPECT_DOUBLE_EQ(stats(start[0]).get("baseline")->get("average")->as_double(), 0);
  // The call rate type is not enabled: no ApiCallRateInsight for the 40 write calls.
  auto end = next();
  ASSERT_EQ(end.size(), 1u);
  EXPECT_EQ(details(end[0]).str("state"), "End");
  EXPECT_EQ(end[0].record.str("sharedEventID"), start[0].record.str("sharedEventID"));
}

TEST_F(InsightDetectorTest, MetricDataFromTheStoredCounts) {
  detector_->enable(kAccount, kApiCallRate);
  detector_->enable(kAccount, kApiErrorRate);
  // 08:00 3 calls, 08:01 none, 08:02 5 calls and 2 errors, 08:03 open (not stored yet).
  calls(3);
  next();
  next();
  calls(5);
  calls(2, "PutRetentionPolicy", "AccessDenied");
  next();
  calls(7);
  auto query = [&](Value extra) {
    extra.set("EventSource", "logs.amazonaws.com");
    extra.set("EventName", "PutRetentionPolicy");
    if (!extra.has("InsightType")) extra.set("InsightType", "ApiCallRateInsight");
    extra.set("StartTime", Timestamp{1'800'000'000.0});
    if (!extra.has("Period")) extra.set("Period", 60);
    return detector_->metric_data(kAccount, kRegion, extra);
  };
  auto points = [](const Value& out) {
    std::vector<std::pair<int64_t, double>> p;
    for (size_t i = 0; i < out.get("Timestamps")->size(); ++i)
      p.emplace_back(static_cast<int64_t>(out.get("Timestamps")->as_list()[i].as_double()), out.get("Values")->as_list()[i].as_double());
    return p;
  };
  using Points = std::vector<std::pair<int64_t, double>>;
  Value out = query(Value::map());
  EXPECT_EQ(out.str("InsightType"), "ApiCallRateInsight");
  EXPECT_EQ(points(out), (Points{{1'800'000'000, 3}, {1'800'000'120, 7}}));  // write calls, errors included
  Value fill = Value::map();
  fill.set("DataType", "FillWithZeros");
  fill.set("EndTime", Timestamp{1'800'000'180.0});
  EXPECT_EQ(points(query(fill)), (Points{{1'800'000'000, 3}, {1'800'000'060, 0}, {1'800'000'120, 7}}));
  Value five = Value::map();
  five.set("Period", 300);
  EXPECT_EQ(points(query(five)), (Points{{1'800'000'000, 10}}));
  Value errors = Value::map();
  errors.set("InsightType", "ApiErrorRateInsight");
  errors.set("ErrorCode", "AccessDenied");
  Value error_out = query(errors);
  EXPECT_EQ(error_out.str("ErrorCode"), "AccessDenied");
  EXPECT_EQ(points(error_out), (Points{{1'800'000'120, 2}}));
  // Paging: one point a page, NextToken to the next.
  Value paged = fill;
  paged.set("MaxResults", 2);
  Value page1 = query(paged);
  EXPECT_EQ(points(page1), (Points{{1'800'000'000, 3}, {1'800'000'060, 0}}));
  ASSERT_TRUE(page1.has("NextToken"));
  paged.set("NextToken", std::string(page1.str("NextToken")));
  Value page2 = query(paged);
  EXPECT_EQ(points(page2), (Points{{1'800'000'120, 7}}));
  EXPECT_FALSE(page2.has("NextToken"));
  // The counts are the store's: a restart keeps them.
  restart();
  EXPECT_EQ(points(query(Value::map())), (Points{{1'800'000'000, 3}, {1'800'000'120, 7}}));

  // Errors.
  auto code = [&](std::function<void(Value&)> change) {
    Value in = Value::map();
    change(in);
    return code_of([&] { query(in); });
  };
  EXPECT_EQ(code([](Value& in) { in.set("Period", 120); }), "InvalidParameterException");
  EXPECT_EQ(code([](Value& in) { in.set("InsightType", "ApiErrorRateInsight"); }), "InvalidParameterException");  // no ErrorCode
  EXPECT_EQ(code([](Value& in) { in.set("InsightType", "Nope"); }), "InvalidParameterException");
  EXPECT_EQ(code([](Value& in) { in.set("DataType", "All"); }), "InvalidParameterException");
  EXPECT_EQ(code([](Value& in) { in.set("MaxResults", 0); }), "InvalidParameterException");
  EXPECT_EQ(code([](Value& in) { in.set("EndTime", Timestamp{1'700'000'000.0}); }), "InvalidParameterException");
  EXPECT_EQ(code([](Value& in) { in.set("NextToken", "garbage"); }), "InvalidParameterException");
  EXPECT_EQ(code_of([&] { detector_->metric_data(kAccount, kRegion, Value::map()); }), "InvalidParameterException");
}

TEST_F(InsightDetectorTest, RestartKeepsBaselineAndOpenInsight) {
  detector_->enable(kAccount, kApiCallRate);
  steady(15, 5);
  restart();
  EXPECT_TRUE(detector_->enabled(kAccount, kApiCallRate));
  calls(50);
  auto start = next();  // the baseline and the learning time survived
  ASSERT_EQ(start.size(), 1u);
  EXPECT_NEAR(stats(start[0]).get("baseline")->get("average")->as_double(), 5.0, 0.1);
  EXPECT_EQ(stats(start[0]).i64("baselineDuration", 0), 15);
  restart();
  calls(5);
  auto end = next();  // the open Insight survived
  ASSERT_EQ(end.size(), 1u);
  EXPECT_EQ(details(end[0]).str("state"), "End");
  EXPECT_EQ(end[0].record.str("sharedEventID"), start[0].record.str("sharedEventID"));
  EXPECT_DOUBLE_EQ(stats(end[0]).get("insight")->get("average")->as_double(), 50);
}

TEST_F(InsightDetectorTest, DowntimeEndsOpenInsightsAndOldPeriodsLeave) {
  detector_->enable(kAccount, kApiCallRate);
  steady(15, 5);
  calls(50);
  ASSERT_EQ(next().size(), 1u);
  restart();
  clock_.advance(std::chrono::hours(5));  // longer than the 1-hour baseline
  auto events = detector_->tick();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(details(events[0]).str("state"), "End");
  // The old baseline is gone (all zero now): a burst well above the floor is an Insight again.
  calls(30);
  auto start = next();
  ASSERT_EQ(start.size(), 1u);
  EXPECT_DOUBLE_EQ(stats(start[0]).get("baseline")->get("average")->as_double(), 0);
}

// Trails: selectors, validation, and an Insights event delivered under CloudTrail-Insight/.
class TrailInsightsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::Store::open(dir_.path + "/db");
    objects_ = std::make_unique<s3::ObjectStore>(*store_, dir_.path + "/s3");
    InsightsOptions o;
    o.period_seconds = 60;
    o.baseline_seconds = 3600;
    o.min_history_seconds = 300;
    detector_ = std::make_unique<InsightDetector>(*store_, clock_, o);
    detector_->load();
    trails_ = std::make_unique<TrailStore>(*store_, clock_, *objects_);
    trails_->set_insights(detector_.get());
    trails_->load();
    log_store_ = std::make_unique<logs::LogStore>(*store_, clock_);
    logs_service_ = std::make_unique<logs::LogsService>(*log_store_, clock_);
    history_ = std::make_unique<EventHistory>(*store_, clock_, &bus_);
    bus_.subscribe([this](const BusEvent& e) { trails_->on_event(e); });
    objects_->create_bucket({"trail-bucket", kAccount, kRegion, clock_.now_seconds()});
    trails_->create(kAccount, kRegion, json(R"({"Name":"trail1","S3BucketName":"trail-bucket","S3KeyPrefix":"audit"})"));
  }
  static Value json(const std::string& text) { return protocol::json_to_value(text, nullptr); }
  void call(const char* op, const AwsError* error = nullptr) {
    server::CallContext ctx;
    ctx.principal = &root_;
    ctx.account_id = kAccount;
    ctx.region = kRegion;
    ctx.request_id = "r";
    ctx.time = clock_.now_seconds();
    ctx.user_agent = "test-agent";
    Value input = Value::map();
    input.set("logGroupName", "/g");
    Value output = Value::map();
    history_->record({&ctx, logs_service_.get(), op, &input, error ? nullptr : &output, error});
  }
  // A baseline of two calls a minute, a burst of 40 and a quiet minute: a Start and an End.
  void burst() {
    for (int i = 0; i < 8; ++i) {
      call("PutRetentionPolicy");
      call("PutRetentionPolicy");
      clock_.advance(std::chrono::seconds(60));
      tick();
    }
    for (int i = 0; i < 40; ++i) call("PutRetentionPolicy");
    clock_.advance(std::chrono::seconds(60));
    tick();
    call("PutRetentionPolicy");
    clock_.advance(std::chrono::seconds(60));
    tick();
  }
  // ListInsightsData as the service runs it.
  Value list(const std::string& trail_arn, const std::string& extra = "") {
    Value in = json(R"({"InsightSource":")" + trail_arn + R"(","DataType":"InsightsEvents")" + extra + "}");
    return history_->list_insights_data(kAccount, kRegion, trails_->insight_source(kAccount, kRegion, trail_arn), in);
  }
  static constexpr const char* kTrail1 = "arn:aws:cloudtrail:us-east-1:000000000000:trail/trail1";
  // What the server's scheduler job does with each tick's events.
  void tick() {
    for (InsightEvent& e : detector_->tick()) {
      history_->record_insight(e.account, e.region, e.record);
      BusEvent event;
      event.source = "aws.cloudtrail";
      event.detail_type = std::string(kInsightDetailType);
      event.account = e.account;
      event.region = e.region;
      event.time = clock_.now_seconds();
      event.detail = e.record;
      bus_.publish(event);
    }
  }

  TempDir dir_;
  ManualClock clock_{1'800'000'000'000};
  EventBus bus_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<s3::ObjectStore> objects_;
  std::unique_ptr<InsightDetector> detector_;
  std::unique_ptr<TrailStore> trails_;
  std::unique_ptr<logs::LogStore> log_store_;
  std::unique_ptr<logs::LogsService> logs_service_;
  std::unique_ptr<EventHistory> history_;
  server::Principal root_{kAccount, "root", "test", "test", true};
};

TEST_F(TrailInsightsTest, SelectorsValidationAndErrors) {
  EXPECT_EQ(code_of([&] { trails_->get_insight_selectors(kAccount, kRegion, json(R"({"TrailName":"trail1"})")); }), "InsightNotEnabledException");
  EXPECT_EQ(code_of([&] { trails_->put_insight_selectors(kAccount, kRegion, json(R"({"TrailName":"trail1","InsightSelectors":[{"InsightType":"Nope"}]})")); }),
            "InvalidInsightSelectorsException");
  EXPECT_EQ(code_of([&] { trails_->put_insight_selectors(kAccount, kRegion, json(R"({"TrailName":"nope","InsightSelectors":[]})")); }),
            "TrailNotFoundException");
  EXPECT_EQ(code_of([&] {
              trails_->put_insight_selectors(kAccount, kRegion, json(R"({"EventDataStore":"x","InsightsDestination":"y","InsightSelectors":[]})"));
            }),
            "UnsupportedOperationException");
  EXPECT_EQ(code_of([&] { trails_->put_insight_selectors(kAccount, "eu-west-1", json(R"({"TrailName":"trail1","InsightSelectors":[]})")); }),
            "TrailNotFoundException");
  // A trail that logs only read management events cannot have the call rate, but the error rate.
  trails_->put_event_selectors(kAccount, kRegion, json(R"({"TrailName":"trail1","EventSelectors":[{"ReadWriteType":"ReadOnly"}]})"));
  EXPECT_EQ(code_of([&] {
              trails_->put_insight_selectors(kAccount, kRegion, json(R"({"TrailName":"trail1","InsightSelectors":[{"InsightType":"ApiCallRateInsight"}]})"));
            }),
            "InvalidInsightSelectorsException");
  trails_->put_insight_selectors(kAccount, kRegion, json(R"({"TrailName":"trail1","InsightSelectors":[{"InsightType":"ApiErrorRateInsight"}]})"));
  EXPECT_TRUE(detector_->enabled(kAccount, kApiErrorRate));
  EXPECT_FALSE(detector_->enabled(kAccount, kApiCallRate));
  trails_->put_event_selectors(kAccount, kRegion, json(R"({"TrailName":"trail1","EventSelectors":[{"ReadWriteType":"All"}]})"));
  Value out = trails_->put_insight_selectors(
      kAccount, kRegion,
      json(R"({"TrailName":"arn:aws:cloudtrail:us-east-1:000000000000:trail/trail1","InsightSelectors":[{"InsightType":"ApiCallRateInsight"},{"InsightType":"ApiErrorRateInsight"}]})"));
  EXPECT_EQ(out.str("TrailARN"), "arn:aws:cloudtrail:us-east-1:000000000000:trail/trail1");
  Value got = trails_->get_insight_selectors(kAccount, kRegion, json(R"({"TrailName":"trail1"})"));
  ASSERT_EQ(got.get("InsightSelectors")->size(), 2u);
  EXPECT_EQ(got.get("InsightSelectors")->as_list()[0].str("InsightType"), "ApiCallRateInsight");
  EXPECT_TRUE(trails_->get(kAccount, kRegion, "trail1").get("Trail")->flag("HasInsightSelectors", false));
  EXPECT_TRUE(detector_->enabled(kAccount, kApiCallRate));
  // An empty list turns Insights off.
  trails_->put_insight_selectors(kAccount, kRegion, json(R"({"TrailName":"trail1","InsightSelectors":[]})"));
  EXPECT_FALSE(trails_->get(kAccount, kRegion, "trail1").get("Trail")->flag("HasInsightSelectors", true));
  EXPECT_FALSE(detector_->enabled(kAccount, kApiCallRate));
  EXPECT_EQ(code_of([&] { trails_->get_insight_selectors(kAccount, kRegion, json(R"({"TrailName":"trail1"})")); }), "InsightNotEnabledException");
}

TEST_F(TrailInsightsTest, BurstDeliversStartAndEndUnderTheInsightsPrefix) {
  trails_->put_insight_selectors(kAccount, kRegion, json(R"({"TrailName":"trail1","InsightSelectors":[{"InsightType":"ApiCallRateInsight"}]})"));
  trails_->set_logging(kAccount, kRegion, "trail1", true);
  burst();
  trails_->deliver();

  s3::ListQuery q;
  std::vector<Value> records;
  std::regex layout(R"(^audit/AWSLogs/000000000000/CloudTrail-Insight/us-east-1/\d{4}/\d{2}/\d{2}/000000000000_CloudTrail-Insight_us-east-1_\d{8}T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz$)");
  int insight_files = 0;
  for (auto& e : objects_->list("trail-bucket", q).entries) {
    if (e.object.key.find("CloudTrail-Insight") == std::string::npos) continue;
    ++insight_files;
    EXPECT_TRUE(std::regex_match(e.object.key, layout)) << e.object.key;
    auto body = http::gunzip(objects_->read(e.object, 0, e.object.size), 1 << 20);
    ASSERT_TRUE(body);
    Value file = protocol::json_to_value(*body, nullptr);
    for (const Value& r : file.get("Records")->as_list()) records.push_back(r);
  }
  EXPECT_EQ(insight_files, 1);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].get("insightDetails")->str("state"), "Start");
  EXPECT_EQ(records[1].get("insightDetails")->str("state"), "End");
  EXPECT_EQ(records[0].str("sharedEventID"), records[1].str("sharedEventID"));
  EXPECT_EQ(records[0].get("insightDetails")->str("eventName"), "PutRetentionPolicy");

  // LookupEvents: only with EventCategory=insight, filterable by EventName.
  Value lookup = history_->lookup(kAccount, kRegion, json(R"({"EventCategory":"insight"})"));
  ASSERT_EQ(lookup.get("Events")->size(), 2u);
  const Value& newest = lookup.get("Events")->as_list()[0];
  EXPECT_EQ(newest.str("EventName"), "PutRetentionPolicy");
  EXPECT_EQ(newest.str("EventSource"), "logs.amazonaws.com");
  Value newest_record = protocol::json_to_value(newest.str("CloudTrailEvent"), nullptr);
  ASSERT_TRUE(newest_record.get("insightDetails")) << newest.str("CloudTrailEvent");
  EXPECT_EQ(newest_record.get("insightDetails")->str("state"), "End");
  Value by_name = history_->lookup(
      kAccount, kRegion, json(R"({"EventCategory":"insight","LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"PutRetentionPolicy"}]})"));
  EXPECT_EQ(by_name.get("Events")->size(), 2u);
  Value plain = history_->lookup(kAccount, kRegion, Value::map());
  for (const Value& e : plain.get("Events")->as_list()) EXPECT_EQ(e.str("CloudTrailEvent").find("AwsCloudTrailInsight"), std::string::npos);
}

// ListInsightsData: the events the named trail took for delivery, newest first, with AWS's
// dimensions, time range, paging and errors.
TEST_F(TrailInsightsTest, ListInsightsDataListsTheTrailsEvents) {
  trails_->put_insight_selectors(kAccount, kRegion, json(R"({"TrailName":"trail1","InsightSelectors":[{"InsightType":"ApiCallRateInsight"}]})"));
  trails_->set_logging(kAccount, kRegion, "trail1", true);
  // trail2 logs but selects no Insights during the burst: it took none of its events.
  trails_->create(kAccount, kRegion, json(R"({"Name":"trail2","S3BucketName":"trail-bucket","S3KeyPrefix":"audit"})"));
  trails_->set_logging(kAccount, kRegion, "trail2", true);
  burst();
  const std::string trail2 = "arn:aws:cloudtrail:us-east-1:000000000000:trail/trail2";
  trails_->put_insight_selectors(kAccount, kRegion, json(R"({"TrailName":"trail2","InsightSelectors":[{"InsightType":"ApiCallRateInsight"}]})"));

  Value all = list(kTrail1);
  ASSERT_EQ(all.get("Events")->size(), 2u) << protocol::value_to_json(all);
  EXPECT_FALSE(all.has("NextToken"));
  const Value& end = all.get("Events")->as_list()[0];
  const Value& start = all.get("Events")->as_list()[1];
  Value end_record = protocol::json_to_value(end.str("CloudTrailEvent"), nullptr);
  Value start_record = protocol::json_to_value(start.str("CloudTrailEvent"), nullptr);
  EXPECT_EQ(end_record.get("insightDetails")->str("state"), "End");
  EXPECT_EQ(start_record.get("insightDetails")->str("state"), "Start");
  EXPECT_EQ(end.str("EventName"), "PutRetentionPolicy");
  EXPECT_EQ(end.str("EventSource"), "logs.amazonaws.com");
  EXPECT_EQ(end.str("EventId"), end_record.str("eventID"));
  EXPECT_EQ(end.get("EventTime")->as_double(), parse_iso8601(end_record.str("eventTime")).value());
  EXPECT_GT(end.get("EventTime")->as_double(), start.get("EventTime")->as_double());
  EXPECT_EQ(list(trail2).get("Events")->size(), 0u);
  // The account's events are still all in LookupEvents.
  EXPECT_EQ(history_->lookup(kAccount, kRegion, json(R"({"EventCategory":"insight"})")).get("Events")->size(), 2u);

  // Dimensions: one of EventId, EventName, EventSource.
  EXPECT_EQ(list(kTrail1, R"(,"Dimensions":{"EventName":"PutRetentionPolicy"})").get("Events")->size(), 2u);
  EXPECT_EQ(list(kTrail1, R"(,"Dimensions":{"EventName":"DeleteLogGroup"})").get("Events")->size(), 0u);
  EXPECT_EQ(list(kTrail1, R"(,"Dimensions":{"EventSource":"logs.amazonaws.com"})").get("Events")->size(), 2u);
  Value by_id = list(kTrail1, R"(,"Dimensions":{"EventId":")" + std::string(start.str("EventId")) + R"("})");
  ASSERT_EQ(by_id.get("Events")->size(), 1u);
  EXPECT_EQ(by_id.get("Events")->as_list()[0].str("EventId"), start.str("EventId"));
  EXPECT_EQ(list(trail2, R"(,"Dimensions":{"EventId":")" + std::string(start.str("EventId")) + R"("})").get("Events")->size(), 0u);

  // Time range, both ends inclusive.
  const std::string at_start = format_epoch_number(start.get("EventTime")->as_double());
  const std::string at_end = format_epoch_number(end.get("EventTime")->as_double());
  EXPECT_EQ(list(kTrail1, R"(,"StartTime":)" + at_end).get("Events")->size(), 1u);
  EXPECT_EQ(list(kTrail1, R"(,"EndTime":)" + at_start).get("Events")->size(), 1u);
  EXPECT_EQ(list(kTrail1, R"(,"StartTime":)" + at_start + R"(,"EndTime":)" + at_end).get("Events")->size(), 2u);
  EXPECT_EQ(list(kTrail1, R"(,"EndTime":)" + format_epoch_number(start.get("EventTime")->as_double() - 1)).get("Events")->size(), 0u);

  // Pages of one, the token bound to the parameters.
  const std::string dims = R"(,"Dimensions":{"EventSource":"logs.amazonaws.com"},"MaxResults":1)";
  Value first = list(kTrail1, dims);
  ASSERT_EQ(first.get("Events")->size(), 1u);
  ASSERT_TRUE(first.has("NextToken"));
  EXPECT_EQ(first.get("Events")->as_list()[0].str("EventId"), end.str("EventId"));
  const std::string token(first.str("NextToken"));
  Value second = list(kTrail1, dims + R"(,"NextToken":")" + token + R"(")");
  ASSERT_EQ(second.get("Events")->size(), 1u);
  EXPECT_EQ(second.get("Events")->as_list()[0].str("EventId"), start.str("EventId"));
  EXPECT_FALSE(second.has("NextToken"));
  EXPECT_EQ(code_of([&] { list(kTrail1, R"(,"MaxResults":1,"NextToken":")" + token + R"(")"); }), "InvalidParameterException");
  EXPECT_EQ(code_of([&] { list(trail2, dims + R"(,"NextToken":")" + token + R"(")"); }), "InvalidParameterException");
  EXPECT_EQ(code_of([&] { list(kTrail1, dims + R"(,"NextToken":"bm90IGEgdG9rZW4=")"); }), "InvalidParameterException");

  // AWS's errors: the operation documents InvalidParameterException, OperationNotPermittedException
  // and UnsupportedOperationException only.
  EXPECT_EQ(code_of([&] { list(kTrail1, R"(,"StartTime":)" + at_end + R"(,"EndTime":)" + at_start); }), "InvalidParameterException");
  EXPECT_EQ(code_of([&] { list(kTrail1, R"(,"MaxResults":51)"); }), "InvalidParameterException");
  EXPECT_EQ(code_of([&] { list(kTrail1, R"(,"Dimensions":{"Username":"root"})"); }), "InvalidParameterException");
  EXPECT_EQ(code_of([&] { list(kTrail1, R"(,"Dimensions":{"EventName":"A","EventSource":"B"})"); }), "InvalidParameterException");
  EXPECT_EQ(code_of([&] {
              history_->list_insights_data(kAccount, kRegion, kTrail1, json(R"({"InsightSource":"x","DataType":"ManagementEvents"})"));
            }),
            "InvalidParameterException");
  EXPECT_EQ(code_of([&] { list("trail1"); }), "InvalidParameterException");
  EXPECT_EQ(code_of([&] { list("arn:aws:cloudtrail:us-east-1:000000000000:trail/missing"); }), "InvalidParameterException");
  EXPECT_EQ(code_of([&] { list("arn:aws:cloudtrail:us-east-1:111111111111:trail/trail1"); }), "InvalidParameterException");
  EXPECT_EQ(code_of([&] { trails_->insight_source(kAccount, "eu-west-1", kTrail1); }), "InvalidParameterException");
  EXPECT_EQ(code_of([&] { list("arn:aws:cloudtrail:us-east-1:000000000000:eventdatastore/0123456789ab"); }), "UnsupportedOperationException");
}

// The trail's log group gets its Insights events too (AWS: "your trail delivers management and
// Insights events to your CloudWatch Logs log group"); its SNS topic hears of log files only.
TEST_F(TrailInsightsTest, InsightsEventsGoToTheTrailsLogGroup) {
  struct Put {
    std::string group, stream;
    TrailHooks::LogEvents events;
  };
  std::vector<Put> puts;
  std::vector<std::string> published;
  TrailHooks hooks;
  hooks.topic_exists = [](const std::string&, const std::string&, const std::string&) { return true; };
  hooks.publish = [&](const std::string&, const std::string&, const std::string&, const std::string& m) {
    published.push_back(m);
    return true;
  };
  hooks.log_group_exists = [](const std::string&, const std::string&, const std::string& g) { return g == "CloudTrail/logs"; };
  hooks.put_log_events = [&](const std::string&, const std::string&, const std::string& g, const std::string& s, const TrailHooks::LogEvents& e) {
    puts.push_back({g, s, e});
    return std::string();
  };
  trails_->set_hooks(hooks);
  trails_->update(kAccount, kRegion,
                  json(R"({"Name":"trail1","SnsTopicName":"files","CloudWatchLogsLogGroupArn":"arn:aws:logs:us-east-1:000000000000:log-group:CloudTrail/logs:*",)"
                       R"("CloudWatchLogsRoleArn":"arn:aws:iam::000000000000:role/ct"})"));
  trails_->put_insight_selectors(kAccount, kRegion, json(R"({"TrailName":"trail1","InsightSelectors":[{"InsightType":"ApiCallRateInsight"}]})"));
  trails_->set_logging(kAccount, kRegion, "trail1", true);
  burst();
  trails_->deliver();

  std::vector<Value> insight_events;
  size_t api_calls = 0;
  for (const Put& p : puts) {
    EXPECT_EQ(p.group, "CloudTrail/logs");
    EXPECT_EQ(p.stream, "000000000000_CloudTrail_us-east-1");
    for (const auto& [millis, message] : p.events) {
      Value record = protocol::json_to_value(message, nullptr);
      if (record.str("eventType") == "AwsCloudTrailInsight") {
        EXPECT_EQ(millis, static_cast<int64_t>(parse_iso8601(record.str("eventTime")).value() * 1000));
        insight_events.push_back(std::move(record));
      } else {
        ++api_calls;
      }
    }
  }
  EXPECT_GT(api_calls, 0u);
  ASSERT_EQ(insight_events.size(), 2u);
  EXPECT_EQ(insight_events[0].get("insightDetails")->str("state"), "Start");
  EXPECT_EQ(insight_events[1].get("insightDetails")->str("state"), "End");
  Value status = trails_->status(kAccount, kRegion, "trail1");
  EXPECT_TRUE(status.has("LatestCloudWatchLogsDeliveryTime"));
  EXPECT_FALSE(status.has("LatestCloudWatchLogsDeliveryError"));
  // One notification per log file; none names an Insights file.
  EXPECT_FALSE(published.empty());
  for (const std::string& m : published) EXPECT_EQ(m.find("CloudTrail-Insight"), std::string::npos) << m;
}

// A trail deleted and created again under the same name does not list its predecessor's events.
TEST_F(TrailInsightsTest, ListInsightsDataForgetsADeletedTrail) {
  trails_->put_insight_selectors(kAccount, kRegion, json(R"({"TrailName":"trail1","InsightSelectors":[{"InsightType":"ApiCallRateInsight"}]})"));
  trails_->set_logging(kAccount, kRegion, "trail1", true);
  burst();
  ASSERT_EQ(list(kTrail1).get("Events")->size(), 2u);
  trails_->remove(kAccount, kRegion, "trail1");
  EXPECT_EQ(code_of([&] { list(kTrail1); }), "InvalidParameterException");
  trails_->create(kAccount, kRegion, json(R"({"Name":"trail1","S3BucketName":"trail-bucket","S3KeyPrefix":"audit"})"));
  trails_->put_insight_selectors(kAccount, kRegion, json(R"({"TrailName":"trail1","InsightSelectors":[{"InsightType":"ApiCallRateInsight"}]})"));
  EXPECT_EQ(list(kTrail1).get("Events")->size(), 0u);
  // ...and the internal id does not show.
  EXPECT_FALSE(trails_->get(kAccount, kRegion, "trail1").get("Trail")->has("InsightsIndexId"));
}

// A multi-region trail lists, in each region, the Insights events of that region.
TEST_F(TrailInsightsTest, ListInsightsDataIsRegional) {
  trails_->update(kAccount, kRegion, json(R"({"Name":"trail1","IsMultiRegionTrail":true})"));
  trails_->put_insight_selectors(kAccount, kRegion, json(R"({"TrailName":"trail1","InsightSelectors":[{"InsightType":"ApiCallRateInsight"}]})"));
  trails_->set_logging(kAccount, kRegion, "trail1", true);
  burst();
  EXPECT_EQ(list(kTrail1).get("Events")->size(), 2u);
  Value in = json(R"({"InsightSource":"arn:aws:cloudtrail:us-east-1:000000000000:trail/trail1","DataType":"InsightsEvents"})");
  Value elsewhere = history_->list_insights_data(kAccount, "eu-west-1", trails_->insight_source(kAccount, "eu-west-1", kTrail1), in);
  EXPECT_EQ(elsewhere.get("Events")->size(), 0u);
}

TEST_F(TrailInsightsTest, StoppedTrailCountsNothing) {
  trails_->put_insight_selectors(kAccount, kRegion, json(R"({"TrailName":"trail1","InsightSelectors":[{"InsightType":"ApiCallRateInsight"}]})"));
  for (int i = 0; i < 8; ++i) {
    clock_.advance(std::chrono::seconds(60));
    tick();
  }
  for (int i = 0; i < 40; ++i) call("PutRetentionPolicy");
  clock_.advance(std::chrono::seconds(60));
  tick();
  EXPECT_EQ(history_->lookup(kAccount, kRegion, json(R"({"EventCategory":"insight"})")).get("Events")->size(), 0u);
}

}  // namespace
}  // namespace vigil::cloudtrail
