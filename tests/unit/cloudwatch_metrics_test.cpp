// CloudWatch metrics: the MetricStore model (aggregation per bucket, range reads, the series
// directory, restart) and the handlers' semantic checks, against a real store in a temporary
// directory with injected time; plus gzip request bodies.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>

#include "core/aws_error.h"
#include "core/clock.h"
#include "http/gzip_body.h"
#include "services/cloudwatch/cloudwatch_service.h"
#include "services/cloudwatch/metric_store.h"
#include "store/store.h"
#include "temp_dir.h"

namespace vigil::cloudwatch {
namespace {

constexpr char kAccount[] = "000000000000";
constexpr char kRegion[] = "us-east-1";
constexpr int64_t kNowMs = 1'700'000'040'000;  // a minute boundary
constexpr int64_t kNow = kNowMs / 1000;

class CloudWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = vigil::testing::make_temp_dir("vigil-cw");
    open();
  }
  void TearDown() override {
    service_.reset();
    alarms_.reset();
    dashboards_.reset();
    anomalies_.reset();
    queries_.reset();
    metrics_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void open() {
    service_.reset();
    alarms_.reset();
    dashboards_.reset();
    anomalies_.reset();
    queries_.reset();
    metrics_.reset();
    store_.reset();
    store_ = store::Store::open(dir_);
    metrics_ = std::make_unique<MetricStore>(*store_, clock_);
    metrics_->load();
    queries_ = std::make_unique<MetricQueryEngine>(*metrics_);
    alarms_ = std::make_unique<AlarmStore>(*store_, clock_, *queries_, bus_);
    alarms_->load();
    dashboards_ = std::make_unique<DashboardStore>(*store_, clock_);
    anomalies_ = std::make_unique<AnomalyDetectors>(*store_, clock_);
    anomalies_->load();
    service_ = std::make_unique<CloudWatchService>(*metrics_, *queries_, *alarms_, *dashboards_, *anomalies_, clock_);
  }
  Value call(const std::string& op, const Value& in) {
    server::CallContext ctx;
    ctx.account_id = kAccount;
    ctx.region = kRegion;
    return (*service_->handler(op))(ctx, in);
  }
  std::string error_of(const std::string& op, const Value& in) {
    try {
      call(op, in);
    } catch (const AwsError& e) {
      return e.code() + ": " + e.message();
    }
    return "no error";
  }
  static Value datum(double value, int64_t ts_s) {
    return Value::map().set("MetricName", "M").set("Value", value).set("Timestamp", Timestamp{static_cast<double>(ts_s)});
  }
  static Value put(Value datum) { return Value::map().set("Namespace", "App").set("MetricData", Value::List{std::move(datum)}); }

  PointBatch point(double v, int64_t ts_s, int resolution = 60, std::string host = "a") {
    PointBatch p;
    p.namespace_ = "App";
    p.metric_name = "Lat";
    p.dimensions = {{"Host", host}};
    p.timestamp_ms = ts_s * 1000;
    p.storage_resolution = resolution;
    p.aggregate.add(v);
    return p;
  }
  SeriesId series(std::string host = "a") { return SeriesId{"App", "Lat", {{"Host", host}}}; }

  std::string dir_;
  ManualClock clock_{kNowMs};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<MetricStore> metrics_;
  EventBus bus_;
  std::unique_ptr<MetricQueryEngine> queries_;
  std::unique_ptr<AlarmStore> alarms_;
  std::unique_ptr<DashboardStore> dashboards_;
  std::unique_ptr<AnomalyDetectors> anomalies_;
  std::unique_ptr<CloudWatchService> service_;
};

TEST_F(CloudWatchTest, AggregatesPerBucketAcrossCallsAndRestart) {
  metrics_->put(kAccount, kRegion, {point(1, kNow - 600), point(3, kNow - 590), point(10, kNow - 500)});
  metrics_->put(kAccount, kRegion, {point(5, kNow - 599)});
  open();  // a restart: everything comes back from the store
  auto buckets = metrics_->statistics(kAccount, kRegion, series(), kNow - 600, kNow, 60, std::nullopt);
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets[0].start_s, kNow - 600);
  EXPECT_EQ(buckets[0].aggregate.count, 3);
  EXPECT_EQ(buckets[0].aggregate.sum, 9);
  EXPECT_EQ(buckets[0].aggregate.min, 1);
  EXPECT_EQ(buckets[0].aggregate.max, 5);
  EXPECT_EQ(buckets[1].aggregate.sum, 10);
  // One 10-minute period folds both; another series or account sees nothing.
  buckets = metrics_->statistics(kAccount, kRegion, series(), kNow - 600, kNow, 600, std::nullopt);
  ASSERT_EQ(buckets.size(), 1u);
  EXPECT_EQ(buckets[0].aggregate.count, 4);
  EXPECT_TRUE(metrics_->statistics(kAccount, kRegion, series("b"), kNow - 600, kNow, 60, std::nullopt).empty());
  EXPECT_TRUE(metrics_->statistics("111111111111", kRegion, series(), kNow - 600, kNow, 60, std::nullopt).empty());
  // Nothing after the last bucket (the 10 at now-500 falls in the bucket of now-540).
  EXPECT_TRUE(metrics_->statistics(kAccount, kRegion, series(), kNow - 480, kNow, 60, std::nullopt).empty());
}

TEST_F(CloudWatchTest, HighResolutionBucketsAndUnits) {
  PointBatch p = point(2, kNow - 59, 1);
  p.unit = *unit_index("Seconds");
  metrics_->put(kAccount, kRegion, {point(1, kNow - 60, 1), p, point(4, kNow - 50, 1)});
  auto buckets = metrics_->statistics(kAccount, kRegion, series(), kNow - 60, kNow, 10, std::nullopt);
  ASSERT_EQ(buckets.size(), 3u);  // [0,10) None, [0,10) Seconds, [10,20) None
  EXPECT_EQ(buckets[0].aggregate.sum, 1);
  EXPECT_EQ(units()[buckets[1].unit], "Seconds");
  buckets = metrics_->statistics(kAccount, kRegion, series(), kNow - 60, kNow, 60, unit_index("Seconds"));
  ASSERT_EQ(buckets.size(), 1u);
  EXPECT_EQ(buckets[0].aggregate.sum, 2);
}

TEST_F(CloudWatchTest, ListsWithFiltersAndPages) {
  std::vector<PointBatch> points;
  for (int i = 0; i < 25; ++i) points.push_back(point(1, kNow, 60, "h" + std::to_string(100 + i)));
  metrics_->put(kAccount, kRegion, points);
  MetricStore::ListFilter filter;
  filter.namespace_ = "App";
  bool more = false;
  std::string after;
  size_t total = 0;
  do {
    auto page = metrics_->list(kAccount, kRegion, filter, after, 10, &more);
    total += page.size();
    if (!page.empty()) after = page.back().key;
  } while (more);
  EXPECT_EQ(total, 25u);
  filter.dimensions = {{"Host", std::string("h107")}};
  auto one = metrics_->list(kAccount, kRegion, filter, "", 10, &more);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].id.dimensions[0].second, "h107");
  filter.dimensions = {{"Zone", std::nullopt}};
  EXPECT_TRUE(metrics_->list(kAccount, kRegion, filter, "", 10, &more).empty());
  // RecentlyActive: a series last written more than three hours ago drops out.
  clock_.advance(std::chrono::hours(4));
  filter.dimensions.clear();
  filter.active_since_ms = clock_.now_millis() - 3 * 3600 * 1000;
  EXPECT_TRUE(metrics_->list(kAccount, kRegion, filter, "", 10, &more).empty());
}

TEST_F(CloudWatchTest, PutMetricDataErrors) {
  EXPECT_EQ(error_of("PutMetricData", put(datum(1, kNow - 15 * 86400))).substr(0, 21), "InvalidParameterValue");
  EXPECT_EQ(error_of("PutMetricData", put(datum(1, kNow + 3 * 3600))).substr(0, 21), "InvalidParameterValue");
  EXPECT_EQ(error_of("PutMetricData", put(datum(std::nan(""), kNow))),
            "InvalidParameterValue: The value NaN for parameter MetricData.member.1.Value is invalid.");
  EXPECT_EQ(error_of("PutMetricData", put(datum(std::numeric_limits<double>::infinity(), kNow))).substr(0, 21), "InvalidParameterValue");
  Value both = datum(1, kNow);
  both.set("Values", Value::List{Value(1.0)});
  EXPECT_EQ(error_of("PutMetricData", put(both)),
            "InvalidParameterCombination: The parameters MetricData.member.1.Value and MetricData.member.1.Values are mutually exclusive and you have specified both.");
  Value counts = Value::map().set("MetricName", "M").set("Values", Value::List{Value(1.0), Value(2.0)}).set("Counts", Value::List{Value(1.0)});
  EXPECT_EQ(error_of("PutMetricData", put(counts)).substr(0, 21), "InvalidParameterValue");
  Value resolution = datum(1, kNow);
  resolution.set("StorageResolution", 30);
  EXPECT_EQ(error_of("PutMetricData", put(resolution)),
            "InvalidParameterValue: The value 30 for parameter MetricData.member.1.StorageResolution is invalid.");
  EXPECT_EQ(error_of("PutMetricData", put(Value::map().set("MetricName", "M"))),
            "MissingParameter: The parameter MetricData.member.1.Value is required.");
  EXPECT_EQ(error_of("PutMetricData", Value::map().set("Namespace", "App")), "MissingParameter: The parameter MetricData is required.");
  Value stats = Value::map().set("MetricName", "M").set(
      "StatisticValues", Value::map().set("SampleCount", 2.0).set("Sum", 3.0).set("Minimum", 5.0).set("Maximum", 1.0));
  EXPECT_EQ(error_of("PutMetricData", put(stats)).substr(0, 21), "InvalidParameterValue");
  // Nothing was stored by any of them.
  bool more;
  EXPECT_TRUE(metrics_->list(kAccount, kRegion, {}, "", 10, &more).empty());
}

TEST_F(CloudWatchTest, GetMetricStatisticsThroughTheHandler) {
  Value values = Value::map().set("MetricName", "M").set("Timestamp", Timestamp{static_cast<double>(kNow - 120)})
                     .set("Values", Value::List{Value(1.0), Value(9.0)}).set("Counts", Value::List{Value(3.0), Value(1.0)});
  call("PutMetricData", put(values));
  auto request = [&](int64_t period, int64_t start) {
    return Value::map().set("Namespace", "App").set("MetricName", "M").set("Period", period)
        .set("StartTime", Timestamp{static_cast<double>(start)}).set("EndTime", Timestamp{static_cast<double>(kNow)})
        .set("Statistics", Value::List{Value("Average"), Value("SampleCount"), Value("Maximum")});
  };
  Value out = call("GetMetricStatistics", request(60, kNow - 600));
  ASSERT_EQ(out.get("Datapoints")->size(), 1u);
  const Value& p = out.get("Datapoints")->as_list()[0];
  EXPECT_EQ(p.f64("Average", 0), 3.0);
  EXPECT_EQ(p.f64("SampleCount", 0), 4.0);
  EXPECT_EQ(p.f64("Maximum", 0), 9.0);
  EXPECT_FALSE(p.has("Sum"));
  EXPECT_EQ(p.str("Unit"), "None");
  EXPECT_EQ(error_of("GetMetricStatistics", request(60, kNow - 1441 * 60)),
            "InvalidParameterCombination: You have requested up to 1,441 datapoints, which exceeds the limit of 1,440. "
            "You may reduce the datapoints requested by increasing Period, or decreasing the time range.");
  EXPECT_EQ(error_of("GetMetricStatistics", request(60, kNow - 1440 * 60)), "no error");
  EXPECT_EQ(error_of("GetMetricStatistics", request(45, kNow - 600)).substr(0, 21), "InvalidParameterValue");
  EXPECT_EQ(error_of("GetMetricStatistics", request(30, kNow - 600)), "no error");
}

std::string gzip_of(const std::string& text) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, text.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = text.size();
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = out.size();
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

TEST(GzipBody, InflatesAndRefusesGarbageTruncationAndBombs) {
  std::string text(200000, 'x');
  std::string packed = gzip_of(text);
  EXPECT_EQ(http::gunzip(packed, 1 << 20), text);
  EXPECT_EQ(http::gunzip(packed, 1000), std::nullopt);  // inflates beyond the limit
  EXPECT_EQ(http::gunzip(packed.substr(0, packed.size() / 2), 1 << 20), std::nullopt);
  EXPECT_EQ(http::gunzip("not gzip at all", 1 << 20), std::nullopt);
  EXPECT_EQ(http::gunzip("", 1 << 20), std::nullopt);
  EXPECT_TRUE(http::is_gzip_encoded("GZIP"));
  EXPECT_FALSE(http::is_gzip_encoded("identity"));
}

}  // namespace
}  // namespace vigil::cloudwatch
