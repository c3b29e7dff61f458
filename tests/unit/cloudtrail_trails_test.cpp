// Trails and log file delivery without HTTP: name rules, CRUD semantics, and delivery driven by
// a ManualClock and Scheduler::run_due() (no sleeps).
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <regex>

#include "core/aws_error.h"
#include "core/clock.h"
#include "core/encoding.h"
#include "core/event_bus.h"
#include "core/scheduler.h"
#include "protocol/json_codec.h"
#include "services/cloudtrail/cloudtrail_service.h"
#include "services/cloudtrail/event_history.h"
#include "services/cloudtrail/trails.h"
#include "services/logs/log_store.h"
#include "services/logs/logs_service.h"
#include "services/s3/object_store.h"
#include "services/s3/s3_service.h"
#include "store/store.h"
#include "http/gzip_body.h"
#include "temp_dir.h"

namespace vigil::cloudtrail {
namespace {

std::string gunzip(const std::string& in) {
  auto out = http::gunzip(in, 64 << 20);  // the server's own inflater
  EXPECT_TRUE(out.has_value());
  return out.value_or("");
}

std::string code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const AwsError& e) {
    return e.code();
  }
  return "";
}

constexpr const char* kAccount = "000000000000";
constexpr const char* kRegion = "us-east-1";

class TrailsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = vigil::testing::make_temp_dir("vigil-ct");
    open();
  }
  void TearDown() override {
    close();
    std::filesystem::remove_all(dir_);
  }
  void close() {
    scheduler_.reset();
    history_.reset();
    trails_.reset();
    objects_.reset();
    bus_.reset();
    logs_service_.reset();
    log_store_.reset();
    store_.reset();
  }
  void open() {
    close();
    store_ = store::Store::open(dir_ + "/db");
    log_store_ = std::make_unique<logs::LogStore>(*store_, clock_);
    logs_service_ = std::make_unique<logs::LogsService>(*log_store_, clock_);
    bus_ = std::make_unique<EventBus>();
    objects_ = std::make_unique<s3::ObjectStore>(*store_, dir_ + "/s3");
    trails_ = std::make_unique<TrailStore>(*store_, clock_, *objects_);
    trails_->load();
    history_ = std::make_unique<EventHistory>(*store_, clock_, bus_.get());
    bus_->subscribe([this](const BusEvent& e) { trails_->on_event(e); });
    history_->set_data_events_wanted([this](const std::string& a) { return trails_->wants_data_events(a); });
    scheduler_ = std::make_unique<Scheduler>(clock_);
    scheduler_->every("trail-delivery", std::chrono::seconds(300), [this] { trails_->deliver(); });
  }
  void bucket(const std::string& name, const std::string& owner = kAccount) {
    objects_->create_bucket({name, owner, kRegion, clock_.now_seconds()});
  }
  Value create(const std::string& name, const std::string& bucket_name, bool multi = false, const std::string& region = kRegion) {
    Value in = Value::map();
    in.set("Name", name);
    in.set("S3BucketName", bucket_name);
    if (multi) in.set("IsMultiRegionTrail", true);
    return trails_->create(kAccount, region, in);
  }
  // A call's context: the root user of `account` in `region`, now.
  server::CallContext context(const std::string& account = kAccount, const std::string& region = kRegion) {
    server::CallContext ctx;
    ctx.principal = &root_;
    ctx.account_id = account;
    ctx.region = region;
    ctx.request_id = "r";
    ctx.time = clock_.now_seconds();
    return ctx;
  }
  void call(const char* op, const std::string& account = kAccount, const std::string& region = kRegion) {
    server::CallContext ctx = context(account, region);
    ctx.resources.emplace_back("AWS::Logs::LogGroup", "/g");
    Value input = Value::map();
    input.set("logGroupName", "/g");
    Value output = Value::map();
    history_->record({&ctx, logs_service_.get(), op, &input, &output, nullptr});
  }
  // Records an S3 PutObject call (a data event), its object named in the context's resources
  // as S3Service names it, or not.
  void record_put_object(const char* b, const char* key, bool with_resource) {
    s3::MultipartUploads uploads(*store_, *objects_);
    s3::S3Service s3_service(*objects_, uploads);
    server::CallContext ctx = context();
    if (with_resource) ctx.resources.emplace_back("AWS::S3::Object", std::string("arn:aws:s3:::") + b + "/" + key);
    Value input = Value::map();
    input.set("Bucket", b);
    input.set("Key", key);
    Value output = Value::map();
    history_->record({&ctx, &s3_service, "PutObject", &input, &output, nullptr});
  }
  std::vector<s3::ObjectRecord> objects(const std::string& b) {
    s3::ListQuery q;
    std::vector<s3::ObjectRecord> out;
    for (auto& e : objects_->list(b, q).entries) out.push_back(e.object);
    return out;
  }
  Value records_of(const std::string& b, const s3::ObjectRecord& o) {
    return protocol::json_to_value(gunzip(objects_->read(o, 0, o.size)), nullptr);
  }

  std::string dir_;
  ManualClock clock_{1'800'000'000'000};  // 2027-01-15T08:00:00Z
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<EventBus> bus_;
  std::unique_ptr<s3::ObjectStore> objects_;
  std::unique_ptr<TrailStore> trails_;
  std::unique_ptr<EventHistory> history_;
  std::unique_ptr<Scheduler> scheduler_;
  server::Principal root_{kAccount, "root", "test", "test", true};
  // LogsService only classifies operations here (Management vs Data) and names the source.
  std::unique_ptr<logs::LogStore> log_store_;
  std::unique_ptr<logs::LogsService> logs_service_;
};

TEST(TrailNames, AwsRules) {
  for (const char* ok : {"abc", "My_Trail-1.x", "a1b", "trail.2"}) EXPECT_EQ(trail_name_problem(ok), "") << ok;
  for (const char* bad : {"ab", "-abc", "abc-", "a..b", "a_-b", "a b c", "1.2.3.4", "tr@il"}) EXPECT_NE(trail_name_problem(bad), "") << bad;
  EXPECT_NE(trail_name_problem(std::string(129, 'a')), "");
  EXPECT_EQ(trail_name_problem(std::string(128, 'a')), "");
}

TEST_F(TrailsTest, CreateGetDescribeUpdateDelete) {
  bucket("trail-bucket");
  EXPECT_EQ(code_of([&] { create("trail1", "no-such-bucket"); }), "S3BucketDoesNotExistException");
  EXPECT_EQ(code_of([&] { create("tr!", "trail-bucket"); }), "InvalidTrailNameException");
  bucket("other-owner", "111111111111");
  EXPECT_EQ(code_of([&] { create("trail1", "other-owner"); }), "InsufficientS3BucketPolicyException");
  Value out = create("trail1", "trail-bucket");
  EXPECT_EQ(out.str("TrailARN"), "arn:aws:cloudtrail:us-east-1:000000000000:trail/trail1");
  EXPECT_EQ(code_of([&] { create("trail1", "trail-bucket"); }), "TrailAlreadyExistsException");
  create("multi", "trail-bucket", true);

  EXPECT_EQ(trails_->get(kAccount, kRegion, "trail1").get("Trail")->str("HomeRegion"), "us-east-1");
  EXPECT_EQ(trails_->get(kAccount, kRegion, "arn:aws:cloudtrail:us-east-1:000000000000:trail/trail1").get("Trail")->str("Name"), "trail1");
  EXPECT_EQ(code_of([&] { trails_->get(kAccount, kRegion, "nope"); }), "TrailNotFoundException");
  EXPECT_EQ(code_of([&] { trails_->get(kAccount, kRegion, "arn:aws:nope"); }), "CloudTrailARNInvalidException");
  // Another region: only the multi-region trail shows (a shadow trail), and only in its home
  // region can it be changed.
  EXPECT_EQ(code_of([&] { trails_->get(kAccount, "eu-west-1", "trail1"); }), "TrailNotFoundException");
  EXPECT_EQ(trails_->get(kAccount, "eu-west-1", "multi").get("Trail")->str("HomeRegion"), "us-east-1");
  Value d = Value::map();
  EXPECT_EQ(trails_->describe(kAccount, "eu-west-1", d).get("trailList")->size(), 1u);
  d.set("includeShadowTrails", false);
  EXPECT_EQ(trails_->describe(kAccount, "eu-west-1", d).get("trailList")->size(), 0u);
  EXPECT_EQ(trails_->describe(kAccount, kRegion, Value::map()).get("trailList")->size(), 2u);
  EXPECT_EQ(trails_->list(kAccount, "eu-west-1").get("Trails")->size(), 1u);
  EXPECT_EQ(code_of([&] { trails_->set_logging(kAccount, "eu-west-1", "multi", true); }), "InvalidHomeRegionException");

  Value u = Value::map();
  u.set("Name", "trail1");
  u.set("S3KeyPrefix", "pre");
  EXPECT_EQ(trails_->update(kAccount, kRegion, u).str("S3KeyPrefix"), "pre");

  // Survives a restart.
  open();
  EXPECT_EQ(trails_->get(kAccount, kRegion, "trail1").get("Trail")->str("S3KeyPrefix"), "pre");
  trails_->remove(kAccount, kRegion, "trail1");
  EXPECT_EQ(code_of([&] { trails_->get(kAccount, kRegion, "trail1"); }), "TrailNotFoundException");
}

TEST_F(TrailsTest, TagsAndSelectors) {
  bucket("trail-bucket");
  std::string arn(create("trail1", "trail-bucket").str("TrailARN"));
  Value add = protocol::json_to_value(R"({"ResourceId":")" + arn + R"(","TagsList":[{"Key":"k","Value":"v"},{"Key":"x","Value":"y"}]})", nullptr);
  trails_->add_tags(kAccount, kRegion, add);
  Value rm = protocol::json_to_value(R"({"ResourceId":")" + arn + R"(","TagsList":[{"Key":"x"}]})", nullptr);
  trails_->remove_tags(kAccount, kRegion, rm);
  Value lt = protocol::json_to_value(R"({"ResourceIdList":[")" + arn + R"("]})", nullptr);
  Value tags = *trails_->list_tags(kAccount, kRegion, lt).get("ResourceTagList")->as_list()[0].get("TagsList");
  ASSERT_EQ(tags.size(), 1u);
  EXPECT_EQ(tags.as_list()[0].str("Key"), "k");

  Value sel = trails_->get_event_selectors(kAccount, kRegion, "trail1");
  EXPECT_EQ(sel.get("EventSelectors")->as_list()[0].str("ReadWriteType"), "All");
  Value bad = protocol::json_to_value(R"({"TrailName":"trail1","EventSelectors":[{"ReadWriteType":"All","DataResources":[{"Type":"AWS::Nope","Values":["x"]}]}]})", nullptr);
  EXPECT_EQ(code_of([&] { trails_->put_event_selectors(kAccount, kRegion, bad); }), "InvalidEventSelectorsException");
  Value ok = protocol::json_to_value(R"({"TrailName":"trail1","EventSelectors":[{"ReadWriteType":"WriteOnly","IncludeManagementEvents":true}]})", nullptr);
  trails_->put_event_selectors(kAccount, kRegion, ok);
  EXPECT_TRUE(trails_->get(kAccount, kRegion, "trail1").get("Trail")->flag("HasCustomEventSelectors", false));
}

TEST_F(TrailsTest, DeliversGzipFilesOnSchedule) {
  bucket("trail-bucket");
  Value in = protocol::json_to_value(R"({"Name":"trail1","S3BucketName":"trail-bucket","S3KeyPrefix":"audit"})", nullptr);
  trails_->create(kAccount, kRegion, in);
  call("CreateLogGroup");  // not logging yet: not delivered
  trails_->set_logging(kAccount, kRegion, "trail1", true);
  call("CreateLogGroup");
  call("DescribeLogGroups");
  call("CreateLogGroup", "111111111111");  // another account
  call("CreateLogGroup", kAccount, "eu-west-1");  // another region, single-region trail
  call("PutLogEvents");  // a data event, not selected
  EXPECT_EQ(scheduler_->run_due(), 0);
  EXPECT_TRUE(objects("trail-bucket").empty());

  // The pending records survive a restart.
  open();
  clock_.advance(std::chrono::seconds(300));
  EXPECT_EQ(scheduler_->run_due(), 1);
  auto files = objects("trail-bucket");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_TRUE(std::regex_match(files[0].key, std::regex(R"(audit/AWSLogs/000000000000/CloudTrail/us-east-1/2027/01/15/)"
                                                        R"(000000000000_CloudTrail_us-east-1_20270115T0805Z_[A-Za-z0-9]{16}\.json\.gz)")))
      << files[0].key;
  Value doc = records_of("trail-bucket", files[0]);
  const Value* records = doc.get("Records");
  ASSERT_TRUE(records && records->is_list());
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ(records->as_list()[0].str("eventName"), "CreateLogGroup");
  EXPECT_EQ(records->as_list()[1].str("eventName"), "DescribeLogGroups");
  EXPECT_EQ(records->as_list()[0].str("eventSource"), "logs.amazonaws.com");
  EXPECT_EQ(records->as_list()[0].str("recipientAccountId"), kAccount);
  Value st = trails_->status(kAccount, kRegion, "trail1");
  EXPECT_TRUE(st.flag("IsLogging", false));
  EXPECT_EQ(st.get("LatestDeliveryTime")->as_double(), clock_.now_seconds());
  EXPECT_FALSE(st.has("LatestDeliveryError"));

  // Nothing new: no file.
  clock_.advance(std::chrono::seconds(300));
  scheduler_->run_due();
  EXPECT_EQ(objects("trail-bucket").size(), 1u);

  // Stopped: no buffering.
  trails_->set_logging(kAccount, kRegion, "trail1", false);
  call("CreateLogGroup");
  clock_.advance(std::chrono::seconds(300));
  scheduler_->run_due();
  EXPECT_EQ(objects("trail-bucket").size(), 1u);
  EXPECT_TRUE(trails_->status(kAccount, kRegion, "trail1").has("StopLoggingTime"));
}

TEST_F(TrailsTest, OneDeliveryRunDrainsABacklogLargerThanOnePass) {
  // A pass takes at most 10 files of 5 000 records; a run keeps going until nothing is
  // pending, so delivery keeps up with any call rate.
  bucket("busy-bucket");
  Value in = protocol::json_to_value(R"({"Name":"busy","S3BucketName":"busy-bucket"})", nullptr);
  trails_->create(kAccount, kRegion, in);
  trails_->set_logging(kAccount, kRegion, "busy", true);
  for (int i = 0; i < 52'000; ++i) call("CreateLogGroup");
  clock_.advance(std::chrono::seconds(300));
  EXPECT_EQ(scheduler_->run_due(), 1);
  auto files = objects("busy-bucket");
  ASSERT_EQ(files.size(), 11u);  // 10 full files, then 2 000 records
  size_t records = 0;
  for (const auto& f : files) records += records_of("busy-bucket", f).get("Records")->size();
  EXPECT_EQ(records, 52'000u);
}

TEST_F(TrailsTest, MultiRegionWriteOnlyAndDataEvents) {
  bucket("trail-bucket");
  create("all", "trail-bucket", true);
  Value sel = protocol::json_to_value(
      R"({"TrailName":"all","EventSelectors":[{"ReadWriteType":"WriteOnly","IncludeManagementEvents":true,)"
      R"("DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3:::nothing/"]}]}]})",
      nullptr);
  trails_->put_event_selectors(kAccount, kRegion, sel);
  trails_->set_logging(kAccount, kRegion, "all", true);
  call("CreateLogGroup");
  call("DescribeLogGroups");  // read: not selected
  call("DeleteLogGroup", kAccount, "eu-west-1");
  clock_.advance(std::chrono::seconds(300));
  scheduler_->run_due();
  auto files = objects("trail-bucket");
  ASSERT_EQ(files.size(), 2u);  // one per region
  size_t total = 0;
  for (auto& f : files) {
    Value doc = records_of("trail-bucket", f);
    for (const Value& r : doc.get("Records")->as_list()) {
      EXPECT_NE(f.key.find("/CloudTrail/" + std::string(r.str("awsRegion")) + "/"), std::string::npos);
      EXPECT_FALSE(r.flag("readOnly", true));
      ++total;
    }
  }
  EXPECT_EQ(total, 2u);
}

TEST_F(TrailsTest, S3ObjectDataEventsBySelectorPrefix) {
  bucket("trail-bucket");
  create("data", "trail-bucket");
  Value sel = protocol::json_to_value(
      R"({"TrailName":"data","EventSelectors":[{"ReadWriteType":"All","IncludeManagementEvents":false,)"
      R"("DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3:::watched/logs/"]}]}]})",
      nullptr);
  trails_->put_event_selectors(kAccount, kRegion, sel);
  trails_->set_logging(kAccount, kRegion, "data", true);
  EXPECT_TRUE(trails_->wants_data_events(kAccount));
  EXPECT_FALSE(trails_->wants_data_events("111111111111"));
  // No resources in the context: the basic selector finds the object from the parameters.
  auto put = [&](const char* b, const char* key) { record_put_object(b, key, /*with_resource=*/false); };
  put("watched", "logs/a.txt");
  put("watched", "other/b.txt");
  put("unwatched", "logs/c.txt");
  call("CreateLogGroup");  // management events are off
  clock_.advance(std::chrono::seconds(300));
  scheduler_->run_due();
  auto files = objects("trail-bucket");
  ASSERT_EQ(files.size(), 1u);
  Value doc = records_of("trail-bucket", files[0]);
  ASSERT_EQ(doc.get("Records")->size(), 1u);
  const Value& r = doc.get("Records")->as_list()[0];
  EXPECT_EQ(r.str("eventName"), "PutObject");
  EXPECT_EQ(r.get("requestParameters")->str("key"), "logs/a.txt");  // S3 names it as AWS: bucketName, key
  EXPECT_FALSE(r.flag("managementEvent", true));
}

TEST_F(TrailsTest, AdvancedEventSelectorsReplaceBasicOnesAndChooseTheRecords) {
  bucket("trail-bucket");
  create("adv", "trail-bucket");
  Value put = protocol::json_to_value(
      R"({"TrailName":"adv","AdvancedEventSelectors":[)"
      R"({"Name":"writes","FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"readOnly","Equals":["false"]}]},)"
      R"({"Name":"watched objects","FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]},)"
      R"({"Field":"resources.type","Equals":["AWS::S3::Object"]},{"Field":"resources.ARN","StartsWith":["arn:aws:s3:::watched/logs/"]}]}]})",
      nullptr);
  Value answer = trails_->put_event_selectors(kAccount, kRegion, put);
  EXPECT_EQ(answer.get("AdvancedEventSelectors")->size(), 2u);
  Value got = trails_->get_event_selectors(kAccount, kRegion, "adv");
  EXPECT_EQ(got.get("EventSelectors"), nullptr);  // replaced, as in AWS
  ASSERT_NE(got.get("AdvancedEventSelectors"), nullptr);
  EXPECT_EQ(got.get("AdvancedEventSelectors")->as_list()[1].str("Name"), "watched objects");
  EXPECT_TRUE(trails_->get(kAccount, kRegion, "adv").get("Trail")->flag("HasCustomEventSelectors", false));
  EXPECT_FALSE(trails_->wants_data_events(kAccount));  // not logging yet
  trails_->set_logging(kAccount, kRegion, "adv", true);
  EXPECT_TRUE(trails_->wants_data_events(kAccount));

  auto put_object = [&](const char* b, const char* key) { record_put_object(b, key, /*with_resource=*/true); };
  call("CreateLogGroup");
  call("DescribeLogGroups");  // a read: no selector takes it
  put_object("watched", "logs/a.txt");
  put_object("watched", "other/b.txt");
  clock_.advance(std::chrono::seconds(300));
  scheduler_->run_due();
  auto files = objects("trail-bucket");
  ASSERT_EQ(files.size(), 1u);
  std::vector<std::string> names;
  const Value doc = records_of("trail-bucket", files[0]);
  for (const Value& r : doc.get("Records")->as_list()) {
    const Value* params = r.get("requestParameters");
    names.push_back(std::string(r.str("eventName")) + ":" + std::string(params && params->is_map() ? params->str("key") : ""));
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"CreateLogGroup:", "PutObject:logs/a.txt"}));

  // Insights' call rate needs write management events: a reads-only trail cannot have it.
  Value reads = protocol::json_to_value(
      R"({"TrailName":"adv","AdvancedEventSelectors":[{"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"readOnly","Equals":["true"]}]}]})",
      nullptr);
  trails_->put_event_selectors(kAccount, kRegion, reads);
  Value rate = protocol::json_to_value(R"({"TrailName":"adv","InsightSelectors":[{"InsightType":"ApiCallRateInsight"}]})", nullptr);
  EXPECT_EQ(code_of([&] { trails_->put_insight_selectors(kAccount, kRegion, rate); }), "InvalidInsightSelectorsException");

  // Basic selectors replace advanced ones in turn.
  Value basic = protocol::json_to_value(R"({"TrailName":"adv","EventSelectors":[{"ReadWriteType":"All","IncludeManagementEvents":true}]})", nullptr);
  trails_->put_event_selectors(kAccount, kRegion, basic);
  got = trails_->get_event_selectors(kAccount, kRegion, "adv");
  EXPECT_EQ(got.get("AdvancedEventSelectors"), nullptr);
  EXPECT_EQ(got.get("EventSelectors")->size(), 1u);
}

TEST_F(TrailsTest, AdvancedEventSelectorsOfATrailAreCheckedAsAwsDoes) {
  bucket("trail-bucket");
  create("adv", "trail-bucket");
  auto code = [&](const std::string& selectors) {
    Value in = protocol::json_to_value(R"({"TrailName":"adv",)" + selectors + "}", nullptr);
    return code_of([&] { trails_->put_event_selectors(kAccount, kRegion, in); });
  };
  const std::string mgmt = R"({"Field":"eventCategory","Equals":["Management"]})";
  const std::string data = R"({"Field":"eventCategory","Equals":["Data"]})";
  EXPECT_EQ(code(R"("AdvancedEventSelectors":[{"FieldSelectors":[)" + mgmt + R"(,{"Field":"eventSource","NotEquals":["kms.amazonaws.com"]}]}])"), "");
  EXPECT_EQ(code(R"("AdvancedEventSelectors":[{"FieldSelectors":[)" + mgmt + R"(,{"Field":"eventSource","Equals":["kms.amazonaws.com"]}]}])"),
            "InvalidEventSelectorsException");
  EXPECT_EQ(code(R"("AdvancedEventSelectors":[{"FieldSelectors":[)" + mgmt + R"(,{"Field":"eventSource","NotEquals":["logs.amazonaws.com"]}]}])"),
            "InvalidEventSelectorsException");
  EXPECT_EQ(code(R"("AdvancedEventSelectors":[{"FieldSelectors":[)" + mgmt + R"(,{"Field":"eventName","Equals":["CreateLogGroup"]}]}])"),
            "InvalidEventSelectorsException");
  EXPECT_EQ(code(R"("AdvancedEventSelectors":[{"FieldSelectors":[)" + data + R"(,{"Field":"eventName","Equals":["PutObject"]}]}])"),
            "InvalidEventSelectorsException");  // data selectors name their resources.type
  EXPECT_EQ(code(R"("AdvancedEventSelectors":[{"FieldSelectors":[)" + data + R"(,{"Field":"resources.type","Equals":["AWS::S3::Object","AWS::Lambda::Function"]}]}])"),
            "InvalidEventSelectorsException");
  EXPECT_EQ(code(R"("AdvancedEventSelectors":[{"FieldSelectors":[)" + data + R"(,{"Field":"resources.type","StartsWith":["AWS::S3"]}]}])"),
            "InvalidEventSelectorsException");
  EXPECT_EQ(code(R"("AdvancedEventSelectors":[{"FieldSelectors":[)" + data + R"(,{"Field":"resources.type","Equals":["bogus"]}]}])"),
            "InvalidEventSelectorsException");
  EXPECT_EQ(code(R"("AdvancedEventSelectors":[{"FieldSelectors":[)" + data + R"(,{"Field":"resources.type","Equals":["AWS::DynamoDB::Stream"]}]}])"),
            "");  // any AWS resource type: the list grows
  EXPECT_EQ(code(R"("AdvancedEventSelectors":[{"FieldSelectors":[)" + data +
                 R"(,{"Field":"resources.type","Equals":["AWS::S3::Object"]},{"Field":"errorCode","Equals":["AccessDenied"]}]}])"),
            "InvalidEventSelectorsException");  // network activity events only
  EXPECT_EQ(code(R"("AdvancedEventSelectors":[{"FieldSelectors":[{"Field":"eventCategory","Equals":["Insight"]}]}])"), "InvalidEventSelectorsException");
  EXPECT_EQ(code(R"("AdvancedEventSelectors":[{"FieldSelectors":[{"Field":"eventCategory","Equals":["NetworkActivity"]}]}])"),
            "UnsupportedOperationException");
  EXPECT_EQ(code(R"("EventSelectors":[{"ReadWriteType":"All"}],"AdvancedEventSelectors":[{"FieldSelectors":[)" + mgmt + "]}]"),
            "InvalidParameterCombinationException");
  auto with_arns = [&](int n) {  // eventCategory and resources.type count too: n + 2 values
    std::string out = R"("AdvancedEventSelectors":[{"FieldSelectors":[)" + data +
                      R"(,{"Field":"resources.type","Equals":["AWS::S3::Object"]},{"Field":"resources.ARN","StartsWith":[)";
    for (int i = 0; i < n; ++i) out += std::string(i ? "," : "") + "\"arn:aws:s3:::b" + std::to_string(i) + "/\"";
    return out + "]}]}]";
  };
  EXPECT_EQ(code(with_arns(498)), "");
  EXPECT_EQ(code(with_arns(499)), "InvalidEventSelectorsException");
  // Nothing invalid was stored: the trail keeps its last good selectors.
  EXPECT_NE(trails_->get_event_selectors(kAccount, kRegion, "adv").get("AdvancedEventSelectors"), nullptr);
}

TEST_F(TrailsTest, StopLoggingIsItselfDelivered) {
  bucket("trail-bucket");
  create("trail1", "trail-bucket");
  LakeStore lake(*store_, clock_);
  CloudTrailService service(*history_, *trails_, lake);
  auto trail_call = [&](const char* op) {
    server::CallContext ctx;
    ctx.principal = &root_;
    ctx.account_id = kAccount;
    ctx.region = kRegion;
    ctx.request_id = "r";
    ctx.time = clock_.now_seconds();
    Value input = Value::map();
    input.set("Name", "trail1");
    (*service.handler(op))(ctx, input);
    Value output = Value::map();
    history_->record({&ctx, &service, op, &input, &output, nullptr});
  };
  trail_call("StartLogging");
  clock_.advance(std::chrono::seconds(1));
  trail_call("StopLogging");
  clock_.advance(std::chrono::seconds(1));
  trail_call("StopLogging");  // already stopped: not delivered
  call("CreateLogGroup");
  clock_.advance(std::chrono::seconds(300));
  scheduler_->run_due();
  auto files = objects("trail-bucket");
  ASSERT_EQ(files.size(), 1u);
  Value doc = records_of("trail-bucket", files[0]);
  std::vector<std::string> names;
  for (const Value& r : doc.get("Records")->as_list()) names.emplace_back(r.str("eventName"));
  EXPECT_EQ(names, (std::vector<std::string>{"StartLogging", "StopLogging"}));
}

TEST_F(TrailsTest, DeliveryErrorIsReportedAndRetried) {
  bucket("gone-bucket");
  create("trail1", "gone-bucket");
  trails_->set_logging(kAccount, kRegion, "trail1", true);
  call("CreateLogGroup");
  ASSERT_TRUE(objects_->delete_bucket_if_empty("gone-bucket"));
  clock_.advance(std::chrono::seconds(300));
  scheduler_->run_due();
  Value st = trails_->status(kAccount, kRegion, "trail1");
  EXPECT_EQ(st.str("LatestDeliveryError"), "NoSuchBucket");
  EXPECT_FALSE(st.has("LatestDeliveryTime"));
  // The records wait; once the bucket is back they are delivered and the error clears.
  bucket("gone-bucket");
  clock_.advance(std::chrono::seconds(300));
  scheduler_->run_due();
  EXPECT_EQ(objects("gone-bucket").size(), 1u);
  st = trails_->status(kAccount, kRegion, "trail1");
  EXPECT_FALSE(st.has("LatestDeliveryError"));
  EXPECT_TRUE(st.has("LatestDeliveryTime"));
}

// The policy AWS documents for CloudTrail (with the optional aws:SourceAccount condition).
std::string cloudtrail_policy(const std::string& bucket, const std::string& account = kAccount) {
  return R"({"Version":"2012-10-17","Statement":[)"
         R"({"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:GetBucketAcl","Resource":"arn:aws:s3:::)" +
         bucket + R"("},)"
                  R"({"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::)" +
         bucket + "/AWSLogs/" + account + R"(/*","Condition":{"StringEquals":{"s3:x-amz-acl":"bucket-owner-full-control","aws:SourceAccount":")" +
         account + R"("}}}]})";
}

TEST_F(TrailsTest, BucketPolicyIsRequiredAndEnforcedAtDelivery) {
  trails_->set_bucket_policy_required(true);
  bucket("own-bucket");
  EXPECT_EQ(code_of([&] { create("trail1", "own-bucket"); }), "InsufficientS3BucketPolicyException");
  // Another account's bucket whose policy lets CloudTrail write for this account.
  bucket("shared-bucket", "111111111111");
  objects_->put_bucket_policy("shared-bucket", cloudtrail_policy("shared-bucket", "222222222222"));
  EXPECT_EQ(code_of([&] { create("trail1", "shared-bucket"); }), "InsufficientS3BucketPolicyException");
  objects_->put_bucket_policy("shared-bucket", cloudtrail_policy("shared-bucket"));
  create("trail1", "shared-bucket");
  trails_->set_logging(kAccount, kRegion, "trail1", true);
  call("CreateLogGroup");
  clock_.advance(std::chrono::seconds(300));
  scheduler_->run_due();
  EXPECT_EQ(objects("shared-bucket").size(), 1u);
  // The policy withdrawn: nothing written, AccessDenied, records kept for later.
  objects_->delete_bucket_policy("shared-bucket");
  call("CreateLogGroup");
  clock_.advance(std::chrono::seconds(300));
  scheduler_->run_due();
  EXPECT_EQ(objects("shared-bucket").size(), 1u);
  EXPECT_EQ(trails_->status(kAccount, kRegion, "trail1").str("LatestDeliveryError"), "AccessDenied");
  objects_->put_bucket_policy("shared-bucket", cloudtrail_policy("shared-bucket"));
  clock_.advance(std::chrono::seconds(300));
  scheduler_->run_due();
  EXPECT_EQ(objects("shared-bucket").size(), 2u);
  EXPECT_FALSE(trails_->status(kAccount, kRegion, "trail1").has("LatestDeliveryError"));
}

TEST_F(TrailsTest, ABucketPolicysDateConditionsSeeTheDeliveryTime) {
  // A grant to CloudTrail that ends at a date: delivery works until then, AccessDenied after.
  trails_->set_bucket_policy_required(true);
  bucket("dated-bucket");
  std::string policy = cloudtrail_policy("dated-bucket");
  const std::string until = R"("DateLessThan":{"aws:CurrentTime":"2027-01-15T08:30:00Z"},"StringEquals")";
  policy.replace(policy.rfind(R"("StringEquals")"), std::string(R"("StringEquals")").size(), until);
  objects_->put_bucket_policy("dated-bucket", policy);
  create("trail1", "dated-bucket");  // at 08:00
  trails_->set_logging(kAccount, kRegion, "trail1", true);
  call("CreateLogGroup");
  clock_.advance(std::chrono::seconds(300));
  scheduler_->run_due();
  EXPECT_EQ(objects("dated-bucket").size(), 1u);
  clock_.advance(std::chrono::minutes(30));  // 08:35: the grant has ended
  call("CreateLogGroup");
  clock_.advance(std::chrono::seconds(300));
  scheduler_->run_due();
  EXPECT_EQ(objects("dated-bucket").size(), 1u);
  EXPECT_EQ(trails_->status(kAccount, kRegion, "trail1").str("LatestDeliveryError"), "AccessDenied");
}

TEST_F(TrailsTest, NotificationsAndCloudWatchLogsDelivery) {
  struct Published {
    std::string account, region, topic, message;
  };
  std::vector<Published> published;
  struct Put {
    std::string group, stream;
    TrailHooks::LogEvents events;
  };
  std::vector<Put> puts;
  bool topic_alive = true;
  TrailHooks hooks;
  hooks.topic_exists = [&](const std::string&, const std::string&, const std::string& arn) {
    return topic_alive && arn == "arn:aws:sns:us-east-1:000000000000:files";
  };
  hooks.publish = [&](const std::string& a, const std::string& r, const std::string& t, const std::string& m) {
    published.push_back({a, r, t, m});
    return topic_alive;
  };
  hooks.log_group_exists = [](const std::string&, const std::string&, const std::string& g) { return g == "CloudTrail/logs"; };
  hooks.put_log_events = [&](const std::string&, const std::string&, const std::string& g, const std::string& s, const TrailHooks::LogEvents& e) {
    puts.push_back({g, s, e});
    return std::string();
  };
  trails_->set_hooks(hooks);
  bucket("trail-bucket");
  auto with = [&](const char* json) {
    Value in = protocol::json_to_value(json, nullptr);
    in.set("Name", "trail1");
    in.set("S3BucketName", "trail-bucket");
    return in;
  };
  EXPECT_EQ(code_of([&] { trails_->create(kAccount, kRegion, with(R"({"SnsTopicName":"nope"})")); }), "InsufficientSnsTopicPolicyException");
  EXPECT_EQ(code_of([&] { trails_->create(kAccount, kRegion, with(R"({"SnsTopicName":"a b"})")); }), "InvalidSnsTopicNameException");
  EXPECT_EQ(code_of([&] { trails_->create(kAccount, kRegion, with(R"({"SnsTopicName":"arn:aws:sns:eu-west-1:000000000000:files"})")); }),
            "InsufficientSnsTopicPolicyException");
  const char* group = "arn:aws:logs:us-east-1:000000000000:log-group:CloudTrail/logs:*";
  const char* role = "arn:aws:iam::000000000000:role/ct";
  EXPECT_EQ(code_of([&] {
              Value in = with("{}");
              in.set("CloudWatchLogsLogGroupArn", group);
              trails_->create(kAccount, kRegion, in);
            }),
            "InvalidCloudWatchLogsRoleArnException");
  EXPECT_EQ(code_of([&] {
              Value in = with("{}");
              in.set("CloudWatchLogsLogGroupArn", "arn:aws:logs:us-east-1:000000000000:log-group:missing:*");
              in.set("CloudWatchLogsRoleArn", role);
              trails_->create(kAccount, kRegion, in);
            }),
            "InvalidCloudWatchLogsLogGroupArnException");
  Value in = with(R"({"SnsTopicName":"files"})");
  in.set("CloudWatchLogsLogGroupArn", group);
  in.set("CloudWatchLogsRoleArn", role);
  Value out = trails_->create(kAccount, kRegion, in);
  EXPECT_EQ(out.str("SnsTopicName"), "files");
  EXPECT_EQ(out.str("SnsTopicARN"), "arn:aws:sns:us-east-1:000000000000:files");
  EXPECT_EQ(out.str("CloudWatchLogsLogGroupArn"), group);
  Value view = *trails_->get(kAccount, kRegion, "trail1").get("Trail");
  EXPECT_EQ(view.str("CloudWatchLogsRoleArn"), role);

  trails_->set_logging(kAccount, kRegion, "trail1", true);
  call("CreateLogGroup");
  call("DeleteLogGroup");
  clock_.advance(std::chrono::seconds(300));
  scheduler_->run_due();
  auto files = objects("trail-bucket");
  ASSERT_EQ(files.size(), 1u);
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].topic, "arn:aws:sns:us-east-1:000000000000:files");
  EXPECT_EQ(published[0].message, R"({"s3Bucket":"trail-bucket","s3ObjectKey":[")" + files[0].key + R"("]})");
  ASSERT_EQ(puts.size(), 1u);
  EXPECT_EQ(puts[0].group, "CloudTrail/logs");
  EXPECT_EQ(puts[0].stream, "000000000000_CloudTrail_us-east-1");
  ASSERT_EQ(puts[0].events.size(), 2u);
  Value first = protocol::json_to_value(puts[0].events[0].second, nullptr);
  EXPECT_EQ(first.str("eventName"), "CreateLogGroup");
  EXPECT_EQ(puts[0].events[0].first, static_cast<int64_t>(*parse_iso8601(first.str("eventTime")) * 1000));
  // The messages are the records as delivered to S3.
  EXPECT_EQ(protocol::value_to_json(*records_of("trail-bucket", files[0]).get("Records")->as_list().data()), protocol::value_to_json(first));
  Value st = trails_->status(kAccount, kRegion, "trail1");
  EXPECT_EQ(st.get("LatestNotificationTime")->as_double(), clock_.now_seconds());
  EXPECT_EQ(st.get("LatestCloudWatchLogsDeliveryTime")->as_double(), clock_.now_seconds());
  EXPECT_FALSE(st.has("LatestNotificationError"));

  // The topic gone: the file is still written, the notification error shows.
  topic_alive = false;
  call("CreateLogGroup");
  clock_.advance(std::chrono::seconds(300));
  scheduler_->run_due();
  EXPECT_EQ(objects("trail-bucket").size(), 2u);
  EXPECT_EQ(trails_->status(kAccount, kRegion, "trail1").str("LatestNotificationError"), "NotFound");

  // Updates: notifications and log delivery off.
  Value u = protocol::json_to_value(R"({"Name":"trail1","SnsTopicName":"","CloudWatchLogsLogGroupArn":"","CloudWatchLogsRoleArn":""})", nullptr);
  Value updated = trails_->update(kAccount, kRegion, u);
  EXPECT_FALSE(updated.has("SnsTopicARN"));
  EXPECT_FALSE(updated.has("CloudWatchLogsLogGroupArn"));
}

}  // namespace
}  // namespace vigil::cloudtrail
