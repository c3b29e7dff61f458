#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "core/aws_error.h"
#include "core/clock.h"
#include "core/encoding.h"
#include "protocol/json_codec.h"
#include "http/gzip_body.h"
#include "services/cloudtrail/lake.h"
#include "services/cloudtrail/lake_delivery.h"
#include "services/cloudtrail/lake_selectors.h"
#include "services/cloudtrail/lake_sql.h"
#include "store/store.h"

using vigil::Value;
using namespace vigil::cloudtrail;

namespace {

Value json(const std::string& text) { return vigil::protocol::json_to_value(text, nullptr); }

// Resolves any target to itself, recording nothing else.
LakeSql rewrite(std::string_view sql) {
  return rewrite_lake_sql(sql, [](std::string_view target) { return std::string(target); });
}

std::string error_code(const std::function<void()>& f) {
  try {
    f();
  } catch (const vigil::AwsError& e) {
    return e.code();
  }
  return "";
}

}  // namespace

// ---- the SQL rewrite ----

TEST(LakeSql, FromTargetBecomesTableAndIdsAreRecorded) {
  LakeSql r = rewrite("SELECT eventName FROM 0a1b2c3d-aaaa-bbbb-cccc-1234567890ab WHERE eventName = 'x'");
  EXPECT_EQ(r.sql, "SELECT eventName FROM eds_0 WHERE eventName = 'x'");
  ASSERT_EQ(r.targets.size(), 1u);
  EXPECT_EQ(r.targets[0], "0a1b2c3d-aaaa-bbbb-cccc-1234567890ab");
}

TEST(LakeSql, ArnTargetsJoinsAndCommaListsResolveEach) {
  LakeSql r = rewrite(
      "SELECT a.eventName FROM arn:aws:cloudtrail:us-east-1:000000000000:eventdatastore/abc a JOIN def b ON a.eventId = b.eventId, abc c");
  // The resolver's answer identifies a store: the same answer twice is one table.
  EXPECT_EQ(r.sql, "SELECT a.eventName FROM eds_0 a JOIN eds_1 b ON a.eventId = b.eventId, eds_2 c");
  EXPECT_EQ(r.targets, (std::vector<std::string>{"arn:aws:cloudtrail:us-east-1:000000000000:eventdatastore/abc", "def", "abc"}));
  LakeSql same = rewrite("SELECT 1 FROM def x JOIN def y ON 1");
  EXPECT_EQ(same.sql, "SELECT 1 FROM eds_0 x JOIN eds_0 y ON 1");
}

TEST(LakeSql, SubqueriesKeepTheirOwnFrom) {
  LakeSql r = rewrite("SELECT n FROM (SELECT eventName AS n FROM abc) WHERE n IS DISTINCT FROM 'x'");
  EXPECT_EQ(r.sql, "SELECT n FROM (SELECT eventName AS n FROM eds_0) WHERE n IS DISTINCT FROM 'x'");
}

TEST(LakeSql, FromInsideExtractIsNotATable) {
  LakeSql r = rewrite("SELECT extract(year FROM eventTime), trim(BOTH 'x' FROM eventName) FROM abc");
  EXPECT_EQ(r.sql, "SELECT extract(year FROM eventTime), trim(BOTH 'x' FROM eventName) FROM eds_0");
}

TEST(LakeSql, NestedFieldsBecomeJsonPaths) {
  LakeSql r = rewrite("SELECT userIdentity.arn, e.requestParameters.logGroupName, e.eventName FROM abc e");
  EXPECT_EQ(r.sql,
            "SELECT json_extract(userIdentity, '$.\"arn\"'), json_extract(e.requestParameters, '$.\"logGroupName\"'), e.eventName FROM eds_0 e");
  ASSERT_EQ(r.derived_names.size(), 2u);
  EXPECT_EQ(r.derived_names[0].second, "arn");
  LakeSql deep = rewrite("SELECT userIdentity.sessionContext.sessionIssuer.userName FROM abc");
  EXPECT_EQ(deep.sql, "SELECT json_extract(userIdentity, '$.\"sessionContext\".\"sessionIssuer\".\"userName\"') FROM eds_0");
}

TEST(LakeSql, TimestampLiteralsAreNormalized) {
  LakeSql r = rewrite("SELECT 1 FROM abc WHERE eventTime > TIMESTAMP '2024-01-02 03:04:05' AND eventTime < '2024-01-02T05:00:00Z'"
                      " AND eventTime >= '2024-01-02T05:00:00+02:00' AND eventName <> 'not 2024'");
  EXPECT_EQ(r.sql,
            "SELECT 1 FROM eds_0 WHERE eventTime > '2024-01-02 03:04:05.000' AND eventTime < '2024-01-02 05:00:00.000'"
            " AND eventTime >= '2024-01-02 03:00:00.000' AND eventName <> 'not 2024'");
  EXPECT_THROW(rewrite("SELECT 1 FROM abc WHERE eventTime > TIMESTAMP 'yesterday'"), LakeSqlError);
}

TEST(LakeSql, IntervalArithmeticBecomesDateAdd) {
  EXPECT_EQ(rewrite("SELECT 1 FROM abc WHERE eventTime > now() - interval '1' day").sql,
            "SELECT 1 FROM eds_0 WHERE eventTime > date_add('day', -1, now())");
  EXPECT_EQ(rewrite("SELECT 1 FROM abc WHERE eventTime BETWEEN current_timestamp - INTERVAL '7' DAYS AND date_trunc('hour', now()) + interval '-2' hour").sql,
            "SELECT 1 FROM eds_0 WHERE eventTime BETWEEN date_add('day', -7, now()) AND date_add('hour', -2, date_trunc('hour', now()))");
  EXPECT_EQ(rewrite("SELECT (eventTime) + interval '30' minute, TIMESTAMP '2024-01-01 00:00:00' - interval '1' month FROM abc").sql,
            "SELECT date_add('minute', 30, (eventTime)), date_add('month', -1, '2024-01-01 00:00:00.000') FROM eds_0");
  for (const char* bad : {"SELECT - interval '1' day FROM abc", "SELECT now() - interval 1 day FROM abc", "SELECT now() - interval '1' fortnight FROM abc",
                          "SELECT now() - interval 'x' day FROM abc", "SELECT now() - interval '1.5' day FROM abc"})
    EXPECT_THROW(rewrite(bad), LakeSqlError) << bad;
  EXPECT_EQ(rewrite("SELECT 3 - 1, a - b FROM abc").sql, "SELECT 3 - 1, a - b FROM eds_0");
}

TEST(LakeSql, StringsCommentsAndFunctionsPassThrough) {
  LakeSql r = rewrite("SELECT 'FROM x; DROP', current_timestamp, cardinality(resources) -- FROM y\nFROM abc /* FROM z */;");
  EXPECT_EQ(r.sql, "SELECT 'FROM x; DROP', now(), json_array_length(resources) -- FROM y\nFROM eds_0 /* FROM z */");
  EXPECT_EQ(rewrite("SELECT 'it''s' FROM abc").sql, "SELECT 'it''s' FROM eds_0");
}

TEST(LakeSql, OnlyOneSelectIsAccepted) {
  for (const char* bad : {"DELETE FROM abc", "PRAGMA writable_schema=1", "ATTACH DATABASE 'x' AS y", "SELECT 1 FROM abc; DROP TABLE eds_0",
                          "INSERT INTO abc VALUES (1)", "", "   -- only a comment", "SELECT 'open", "SELECT /* open", "SELECT \"open"})
    EXPECT_THROW(rewrite(bad), LakeSqlError) << bad;
  LakeSql with = rewrite("WITH x AS (SELECT eventName FROM abc), y AS (SELECT * FROM x) SELECT * FROM y JOIN x ON 1");
  EXPECT_EQ(with.sql, "WITH x AS (SELECT eventName FROM eds_0), y AS (SELECT * FROM x) SELECT * FROM y JOIN x ON 1");
  EXPECT_EQ(with.targets, (std::vector<std::string>{"abc"}));
  EXPECT_EQ(rewrite("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c JOIN abc ON 1").sql,
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c JOIN eds_0 ON 1");
}

TEST(LakeSql, ParametersShowInPlaceOfPlaceholdersOnlyOutsideLiterals) {
  EXPECT_EQ(lake_statement_with_parameters("SELECT '?', \"a?\" FROM x -- ?\nWHERE a = ? /* ? */ AND b = ? AND c = ?", {"it's", "b"}),
            "SELECT '?', \"a?\" FROM x -- ?\nWHERE a = 'it''s' /* ? */ AND b = 'b' AND c = ?");
  EXPECT_EQ(lake_parameter_value("2024-01-02T03:04:05Z"), "2024-01-02 03:04:05.000");
  EXPECT_EQ(lake_parameter_value("CreateLogGroup"), "CreateLogGroup");
}

TEST(LakeSql, ResolverErrorsPropagate) {
  auto resolver = [](std::string_view target) -> std::string { throw vigil::AwsError("EventDataStoreNotFoundException", std::string(target), 400); };
  EXPECT_THROW(rewrite_lake_sql("SELECT 1 FROM nope", resolver), vigil::AwsError);
}

TEST(LakeSql, TimeParsingAndFormatting) {
  EXPECT_EQ(parse_lake_time("1970-01-01 00:00:00.000"), 0);
  EXPECT_EQ(parse_lake_time("1970-01-01"), 0);
  EXPECT_EQ(parse_lake_time("2024-02-29T12:00:00.5Z"), 1709208000500);
  EXPECT_EQ(parse_lake_time("2024-02-29T13:00:00+01:00"), 1709208000000);
  EXPECT_EQ(parse_lake_time("2024-02-29 12:00"), 1709208000000);
  for (const char* bad : {"", "2024", "2024-13-01", "2024-01-01X", "2024-01-01 25:00", "2024-01-01T00:00:00+5", "2024-01-01 00:00:00."})
    EXPECT_FALSE(parse_lake_time(bad).has_value()) << bad;
  EXPECT_EQ(format_lake_time(1709208000500), "2024-02-29 12:00:00.500");
  EXPECT_EQ(format_lake_time(-1), "1969-12-31 23:59:59.999");
}

// ---- selectors ----

namespace {

Value management_record(const std::string& name, const std::string& source, bool read_only) {
  Value r = json(R"({"eventCategory":"Management","userIdentity":{"arn":"arn:aws:iam::000000000000:root"}})");
  r.set("eventName", name);
  r.set("eventSource", source);
  r.set("readOnly", read_only);
  return r;
}

}  // namespace

TEST(LakeSelectors, MatchByCategoryReadOnlyAndSource) {
  Value record = management_record("CreateLogGroup", "logs.amazonaws.com", false);
  EXPECT_TRUE(lake_selectors_match(default_lake_selectors(), record));
  Value writes = json(R"([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"readOnly","Equals":["false"]}]}])");
  EXPECT_TRUE(lake_selectors_match(writes, record));
  EXPECT_FALSE(lake_selectors_match(writes, management_record("DescribeLogGroups", "logs.amazonaws.com", true)));
  Value not_logs = json(R"([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"eventSource","NotStartsWith":["logs."]}]}])");
  EXPECT_FALSE(lake_selectors_match(not_logs, record));
  EXPECT_TRUE(lake_selectors_match(not_logs, management_record("PutMetricAlarm", "monitoring.amazonaws.com", false)));
  Value names = json(R"([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"eventName","Equals":["A","CreateLogGroup"]},{"Field":"eventName2","Equals":["x"]}]}])");
  EXPECT_FALSE(lake_selectors_match(names, record));  // an unknown field has no value in the record
  Value data = json(R"([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]}]}])");
  EXPECT_FALSE(lake_selectors_match(data, record));
  EXPECT_TRUE(lake_selectors_want_data(data));
  EXPECT_FALSE(lake_selectors_want_data(default_lake_selectors()));
}

TEST(LakeSelectors, Validation) {
  EXPECT_NO_THROW(validate_lake_selectors(default_lake_selectors()));
  for (const char* bad : {R"([])", R"([{"FieldSelectors":[]}])", R"([{"FieldSelectors":[{"Field":"eventName","Equals":["x"]}]}])",
                          R"([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Nope"]}]}])",
                          R"([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"bogus","Equals":["x"]}]}])",
                          R"([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"readOnly","Equals":["maybe"]}]}])",
                          R"([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"resources.type","Equals":["x"]}]}])",
                          R"([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]},{"Field":"resources.type","StartsWith":["AWS::S3"]}]}])",
                          R"([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]}]}])",  // data events name their resources.type
                          R"([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]},{"Field":"resources.type","Equals":["bogus"]}]}])"}) {
    EXPECT_EQ(error_code([&] { validate_lake_selectors(json(bad)); }), "InvalidEventSelectorsException") << bad;
  }
  EXPECT_EQ(error_code([&] { validate_lake_selectors(json(R"([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Insight"]}]}])")); }),
            "UnsupportedOperationException");
  EXPECT_NO_THROW(validate_lake_selectors(json(
      R"([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]},{"Field":"resources.type","Equals":["AWS::S3::Object","AWS::Lambda::Function"]}]}])")));
  EXPECT_EQ(error_code([&] {
              validate_lake_selectors(json(
                  R"([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"sessionCredentialFromConsole","Equals":["true"]}]}])"));
            }),
            "UnsupportedOperationException");
}

// ---- event data stores and queries ----

namespace {

struct LakeFixture : ::testing::Test {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("vigil-lake-" + std::to_string(::getpid()) + "-" +
                                                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
  vigil::ManualClock clock{1'800'000'000'000};
  std::unique_ptr<vigil::store::Store> store = vigil::store::Store::open(dir.string());
  std::unique_ptr<LakeStore> lake = std::make_unique<LakeStore>(*store, clock);
  const std::string account = "000000000000", region = "us-east-1";
  int events = 0;

  ~LakeFixture() override {
    lake.reset();
    store.reset();
    std::filesystem::remove_all(dir);
  }

  std::string create(const std::string& name, Value extra = Value::map()) {
    extra.set("Name", name);
    extra.set("TerminationProtectionEnabled", false);
    Value out = lake->create(account, region, extra);
    std::string arn(out.str("EventDataStoreArn"));
    return arn.substr(arn.find('/') + 1);
  }

  void event(const std::string& name, const std::string& source, bool read_only, const std::string& event_region = "us-east-1") {
    Value r = management_record(name, source, read_only);
    r.set("eventID", "ev-" + std::to_string(++events));
    r.set("eventTime", vigil::format_iso8601(clock.now_seconds()));
    r.set("awsRegion", event_region);
    r.set("requestParameters", json(R"({"logGroupName":"/app/)" + std::to_string(events) + R"("})"));
    vigil::BusEvent e;
    e.detail_type = "AWS API Call via CloudTrail";
    e.account = account;
    e.region = event_region;
    e.time = clock.now_seconds();
    e.detail = r;
    lake->on_event(e);
  }

  std::string start(const std::string& sql) {
    Value in = Value::map();
    in.set("QueryStatement", sql);
    return std::string(lake->start_query(account, region, in).str("QueryId"));
  }

  Value query_input(const std::string& id) {
    Value in = Value::map();
    in.set("QueryId", id);
    return in;
  }

  // Runs the query to completion; returns every row as "col=value,col=value".
  std::vector<std::string> run(const std::string& sql, Value* describe = nullptr) {
    std::string id = start(sql);
    while (lake->run_next()) {
    }
    Value d = lake->describe_query(account, region, query_input(id));
    EXPECT_EQ(d.str("QueryStatus"), "FINISHED") << sql << ": " << d.str("ErrorMessage");
    if (describe) *describe = d;
    std::vector<std::string> rows;
    std::string token;
    do {
      Value in = query_input(id);
      in.set("MaxQueryResults", 2);
      if (!token.empty()) in.set("NextToken", token);
      Value page = lake->get_query_results(account, region, in);
      for (const Value& row : page.get("QueryResultRows")->as_list()) {
        std::string text;
        for (const Value& col : row.as_list()) {
          if (!text.empty()) text += ",";
          text += col.as_map()[0].first + "=" + col.as_map()[0].second.as_string();
        }
        rows.push_back(text);
      }
      token = std::string(page.str("NextToken"));
    } while (!token.empty());
    return rows;
  }
};

}  // namespace

TEST_F(LakeFixture, CollectsSelectedEventsFromCreationAndAnswersQueries) {
  event("Before", "logs.amazonaws.com", false);  // before the store: not collected (as AWS)
  std::string id = create("audit");
  event("CreateLogGroup", "logs.amazonaws.com", false);
  clock.advance(std::chrono::seconds(10));
  event("CreateLogGroup", "logs.amazonaws.com", false);
  event("PutMetricAlarm", "monitoring.amazonaws.com", false);
  event("DescribeLogGroups", "logs.amazonaws.com", true, "eu-west-1");  // multi-region by default

  EXPECT_EQ(run("SELECT eventName, count(*) AS n FROM " + id + " GROUP BY eventName ORDER BY n DESC, eventName"),
            (std::vector<std::string>{"eventName=CreateLogGroup,n=2", "eventName=DescribeLogGroups,n=1", "eventName=PutMetricAlarm,n=1"}));
  EXPECT_EQ(run("SELECT count(*) FROM " + id + " WHERE eventSource = 'logs.amazonaws.com' AND readOnly = false"),
            (std::vector<std::string>{"_col0=2"}));
  EXPECT_EQ(run("SELECT element_at(requestParameters, 'logGroupName') AS g, userIdentity.arn, readOnly FROM " + id +
                " WHERE eventName = 'PutMetricAlarm'"),
            (std::vector<std::string>{"g=/app/4,arn=arn:aws:iam::000000000000:root,readOnly=false"}));
  EXPECT_EQ(run("SELECT DISTINCT awsRegion FROM arn:aws:cloudtrail:us-east-1:000000000000:eventdatastore/" + id + " ORDER BY awsRegion"),
            (std::vector<std::string>{"awsRegion=eu-west-1", "awsRegion=us-east-1"}));
  EXPECT_EQ(run("SELECT date_trunc('minute', eventTime) AS m, count(*) AS n FROM " + id + " GROUP BY 1 HAVING count(*) > 0 ORDER BY 1 LIMIT 1"),
            (std::vector<std::string>{"m=2027-01-15 08:00:00.000,n=4"}));
}

TEST_F(LakeFixture, TimeRangeIsPushedDownToTheScan) {
  std::string id = create("audit");
  for (int i = 0; i < 20; ++i) {
    event("CreateLogGroup", "logs.amazonaws.com", false);
    clock.advance(std::chrono::minutes(1));
  }
  // Events at 08:00 ... 08:19; the window [08:05, 08:07] holds 3.
  Value d;
  EXPECT_EQ(run("SELECT count(*) AS n FROM " + id + " WHERE eventTime >= '2027-01-15 08:05:00' AND eventTime <= '2027-01-15T08:07:00Z'", &d),
            (std::vector<std::string>{"n=3"}));
  EXPECT_LE(d.get("QueryStatistics")->i64("EventsScanned", 99), 4);  // a seek, not 20 rows
  EXPECT_EQ(run("SELECT count(*) AS n FROM " + id + " WHERE eventTime > from_iso8601_timestamp('2027-01-15T08:17:00Z')"),
            (std::vector<std::string>{"n=2"}));
  EXPECT_EQ(run("SELECT count(*) AS n FROM " + id + " WHERE eventTime < date_add('minute', -18, now())"), (std::vector<std::string>{"n=2"}));
  EXPECT_EQ(run("SELECT count(*) AS n FROM " + id + " WHERE eventTime >= now() - interval '3' minute"), (std::vector<std::string>{"n=3"}));
}

TEST_F(LakeFixture, SelectorsAndSingleRegionChooseWhatIsCollected) {
  Value in = json(R"({"MultiRegionEnabled":false,"AdvancedEventSelectors":[{"Name":"writes","FieldSelectors":[
      {"Field":"eventCategory","Equals":["Management"]},{"Field":"readOnly","Equals":["false"]}]}]})");
  std::string id = create("writes", in);
  event("CreateLogGroup", "logs.amazonaws.com", false);
  event("DescribeLogGroups", "logs.amazonaws.com", true);
  event("CreateLogGroup", "logs.amazonaws.com", false, "eu-west-1");
  EXPECT_EQ(run("SELECT eventName, awsRegion FROM " + id), (std::vector<std::string>{"eventName=CreateLogGroup,awsRegion=us-east-1"}));
}

TEST_F(LakeFixture, RetentionHidesAndPurgesOldEvents) {
  std::string id = create("short", json(R"({"RetentionPeriod":7})"));
  event("Old", "logs.amazonaws.com", false);
  clock.advance(std::chrono::hours(24 * 8));
  event("New", "logs.amazonaws.com", false);
  EXPECT_EQ(run("SELECT eventName FROM " + id), (std::vector<std::string>{"eventName=New"}));
  lake->expire();
  auto it = store->iterate(vigil::store::Keyspace::Lake, lake_event_prefix(id), lake_event_prefix(id) + "\xff");
  int left = 0;
  for (it->seek(lake_event_prefix(id)); it->valid(); it->next()) ++left;
  EXPECT_EQ(left, 1);
}

TEST_F(LakeFixture, StoreLifecycleAndErrors) {
  Value protected_in = Value::map();
  protected_in.set("Name", "kept");
  Value created = lake->create(account, region, protected_in);
  std::string arn(created.str("EventDataStoreArn"));
  EXPECT_EQ(created.str("Status"), "CREATED");
  EXPECT_TRUE(created.flag("TerminationProtectionEnabled", false));
  EXPECT_EQ(created.i64("RetentionPeriod", 0), 366);
  Value by_arn = Value::map();
  by_arn.set("EventDataStore", arn);
  EXPECT_EQ(error_code([&] { lake->remove(account, region, by_arn); }), "EventDataStoreTerminationProtectedException");
  EXPECT_EQ(error_code([&] { lake->create(account, region, protected_in); }), "EventDataStoreAlreadyExistsException");
  EXPECT_EQ(error_code([&] { lake->get(account, "eu-west-1", by_arn); }), "EventDataStoreNotFoundException");
  Value bad = Value::map();
  bad.set("EventDataStore", "arn:aws:cloudtrail:us-east-1:000000000000:trail/x");
  EXPECT_EQ(error_code([&] { lake->get(account, region, bad); }), "EventDataStoreARNInvalidException");

  Value update = by_arn;
  update.set("TerminationProtectionEnabled", false);
  update.set("RetentionPeriod", 30);
  EXPECT_EQ(lake->update(account, region, update).i64("RetentionPeriod", 0), 30);
  lake->remove(account, region, by_arn);
  EXPECT_EQ(lake->get(account, region, by_arn).str("Status"), "PENDING_DELETION");
  EXPECT_EQ(error_code([&] { lake->remove(account, region, by_arn); }), "InactiveEventDataStoreException");
  EXPECT_EQ(error_code([&] { start("SELECT 1 FROM " + arn); }), "InactiveEventDataStoreException");
  EXPECT_EQ(lake->restore(account, region, by_arn).str("Status"), "ENABLED");
  EXPECT_EQ(error_code([&] { lake->restore(account, region, by_arn); }), "InvalidEventDataStoreStatusException");

  // Seven days after deletion the store is gone for good.
  lake->remove(account, region, by_arn);
  clock.advance(std::chrono::hours(24 * 7));
  lake->expire();
  EXPECT_EQ(error_code([&] { lake->get(account, region, by_arn); }), "EventDataStoreNotFoundException");

  // Reload from the store: the same stores come back.
  std::string id = create("persisted");
  lake = std::make_unique<LakeStore>(*store, clock);
  lake->load();
  Value get = Value::map();
  get.set("EventDataStore", id);
  EXPECT_EQ(lake->get(account, region, get).str("Name"), "persisted");
}

TEST_F(LakeFixture, QueryErrors) {
  std::string id = create("audit");
  event("CreateLogGroup", "logs.amazonaws.com", false);
  EXPECT_EQ(error_code([&] { start("SELEC eventName FROM " + id); }), "InvalidQueryStatementException");
  EXPECT_EQ(error_code([&] { start("SELECT nosuchcolumn FROM " + id); }), "InvalidQueryStatementException");
  EXPECT_EQ(error_code([&] { start("SELECT \"eventname2\" FROM " + id); }), "InvalidQueryStatementException");
  EXPECT_EQ(error_code([&] { start("DELETE FROM " + id); }), "InvalidQueryStatementException");
  EXPECT_EQ(error_code([&] { start("SELECT 1"); }), "InvalidQueryStatementException");
  EXPECT_EQ(error_code([&] { start("EXPLAIN SELECT 1 FROM " + id); }), "InvalidQueryStatementException");
  EXPECT_EQ(error_code([&] { start("SELECT 1 FROM " + id + "; ATTACH 'x' AS y"); }), "InvalidQueryStatementException");
  EXPECT_EQ(error_code([&] { start("SELECT * FROM sqlite_master"); }), "EventDataStoreNotFoundException");
  std::string extension = start("SELECT load_extension('/tmp/x') FROM " + id);
  while (lake->run_next()) {
  }
  EXPECT_EQ(lake->describe_query(account, region, query_input(extension)).str("QueryStatus"), "FAILED");
  EXPECT_EQ(error_code([&] { start("SELECT 1 FROM 00000000-0000-0000-0000-000000000000"); }), "EventDataStoreNotFoundException");
  EXPECT_EQ(error_code([&] { lake->describe_query(account, region, query_input("nope")); }), "QueryIdNotFoundException");

  // Out-of-range timestamp arithmetic is an error, not a wrapped-around date.
  std::string far = start("SELECT now() - interval '999999999' year FROM " + id);
  while (lake->run_next()) {
  }
  EXPECT_EQ(lake->describe_query(account, region, query_input(far)).str("QueryStatus"), "FAILED");

  // A runtime error fails the query with SQLite's message.
  std::string failing = start("SELECT from_iso8601_timestamp(eventName) FROM " + id);
  while (lake->run_next()) {
  }
  Value d = lake->describe_query(account, region, query_input(failing));
  EXPECT_EQ(d.str("QueryStatus"), "FAILED");
  EXPECT_NE(d.str("ErrorMessage").find("cannot be cast"), std::string_view::npos);

  // Cancel: a queued query is cancelled; a finished one is inactive.
  std::string queued = start("SELECT eventName FROM " + id);
  EXPECT_EQ(lake->cancel_query(account, region, query_input(queued)).str("QueryStatus"), "CANCELLED");
  EXPECT_FALSE(lake->run_next());
  EXPECT_EQ(lake->describe_query(account, region, query_input(queued)).str("QueryStatus"), "CANCELLED");
  EXPECT_EQ(error_code([&] { lake->cancel_query(account, region, query_input(queued)); }), "InactiveQueryException");

  // Ten active queries at most.
  for (int i = 0; i < 10; ++i) start("SELECT 1 FROM " + id);
  EXPECT_EQ(error_code([&] { start("SELECT 1 FROM " + id); }), "MaxConcurrentQueriesException");
  Value list = Value::map();
  list.set("EventDataStore", id);
  list.set("QueryStatus", "QUEUED");
  EXPECT_EQ(lake->list_queries(account, region, list).get("Queries")->size(), 10u);
}

TEST_F(LakeFixture, ManyResultRowsArePagedFromTheStore) {
  std::string id = create("audit");
  for (int i = 0; i < 7; ++i) event("E" + std::to_string(i), "logs.amazonaws.com", false);
  std::vector<std::string> rows = run("SELECT eventName FROM " + id + " ORDER BY eventName DESC");
  ASSERT_EQ(rows.size(), 7u);
  EXPECT_EQ(rows.front(), "eventName=E6");
  EXPECT_EQ(rows.back(), "eventName=E0");
  Value in = Value::map();
  in.set("QueryId", "x");
  in.set("NextToken", "!!");
  EXPECT_EQ(error_code([&] { lake->get_query_results(account, region, in); }), "QueryIdNotFoundException");
}

TEST_F(LakeFixture, RunningQueriesAreCancelledOrTimedOut) {
  std::string id = create("audit");
  event("CreateLogGroup", "logs.amazonaws.com", false);
  // Never ends on its own: only the progress handler stops it.
  const std::string endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c JOIN " + id + " ON 1";
  lake->start_worker();
  std::string running = start(endless);
  std::string status;
  for (int i = 0; i < 2000 && status != "RUNNING"; ++i) {
    status = std::string(lake->describe_query(account, region, query_input(running)).str("QueryStatus"));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(status, "RUNNING");
  EXPECT_EQ(lake->cancel_query(account, region, query_input(running)).str("QueryStatus"), "CANCELLED");
  for (int i = 0; i < 2000 && status == "RUNNING"; ++i) {
    status = std::string(lake->describe_query(account, region, query_input(running)).str("QueryStatus"));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(status, "CANCELLED");
  lake->stop_worker();

  // A deadline already passed: the first progress check stops the query.
  lake->set_query_timeout(std::chrono::milliseconds(-1));
  std::string slow = start(endless);
  while (lake->run_next()) {
  }
  Value d = lake->describe_query(account, region, query_input(slow));
  EXPECT_EQ(d.str("QueryStatus"), "TIMED_OUT");
  EXPECT_EQ(lake->get_query_results(account, region, query_input(slow)).get("QueryResultRows")->size(), 0u);
}

TEST_F(LakeFixture, QueryParametersAreBoundToPlaceholders) {
  std::string id = create("audit");
  event("CreateLogGroup", "logs.amazonaws.com", false);
  clock.advance(std::chrono::minutes(5));
  event("PutMetricAlarm", "monitoring.amazonaws.com", false);
  auto start_with = [&](const std::string& sql, std::vector<std::string> params) {
    Value in = Value::map();
    in.set("QueryStatement", sql);
    Value list = Value::list();
    for (auto& p : params) list.push(p);
    in.set("QueryParameters", std::move(list));
    return std::string(lake->start_query(account, region, in).str("QueryId"));
  };
  auto rows_of = [&](const std::string& qid) {
    while (lake->run_next()) {
    }
    Value r = lake->get_query_results(account, region, query_input(qid));
    EXPECT_EQ(r.str("QueryStatus"), "FINISHED") << r.str("ErrorMessage");
    std::vector<std::string> out;
    for (const Value& row : r.get("QueryResultRows")->as_list()) out.push_back(row.as_list()[0].as_map()[0].second.as_string());
    return out;
  };
  std::string sql = "SELECT eventName FROM " + id + " WHERE eventSource = ? AND eventName <> ? ORDER BY eventTime";
  std::string q = start_with(sql, {"logs.amazonaws.com", "x"});
  EXPECT_EQ(rows_of(q), (std::vector<std::string>{"CreateLogGroup"}));
  // DescribeQuery shows what ran, with the parameters as literals.
  EXPECT_EQ(lake->describe_query(account, region, query_input(q)).str("QueryString"),
            "SELECT eventName FROM " + id + " WHERE eventSource = 'logs.amazonaws.com' AND eventName <> 'x' ORDER BY eventTime");
  // A parameter is a value, never SQL: a quote in it cannot change the statement.
  EXPECT_TRUE(rows_of(start_with(sql, {"x' OR '1'='1", "y"})).empty());
  EXPECT_TRUE(rows_of(start_with("SELECT eventName FROM " + id + " WHERE eventName = ?", {"') UNION SELECT sql FROM sqlite_master --"})).empty());
  // A timestamp parameter compares as the timestamp literal would.
  EXPECT_EQ(rows_of(start_with("SELECT eventName FROM " + id + " WHERE eventTime > ?", {"2027-01-15T08:02:00Z"})),
            (std::vector<std::string>{"PutMetricAlarm"}));

  // Counts must match; only `?` placeholders; the model's limits.
  EXPECT_EQ(error_code([&] { start_with(sql, {"logs.amazonaws.com"}); }), "InvalidQueryStatementException");
  EXPECT_EQ(error_code([&] { start_with(sql, {"a", "b", "c"}); }), "InvalidQueryStatementException");
  EXPECT_EQ(error_code([&] { start(sql); }), "InvalidQueryStatementException");
  EXPECT_EQ(error_code([&] { start_with("SELECT eventName FROM " + id + " WHERE eventName = :name", {"a"}); }), "InvalidQueryStatementException");
  EXPECT_EQ(error_code([&] { start_with("SELECT eventName FROM " + id + " WHERE eventName = ?1", {"a"}); }), "InvalidQueryStatementException");
  EXPECT_EQ(error_code([&] { start_with(sql, std::vector<std::string>(11, "a")); }), "InvalidParameterException");
  EXPECT_EQ(error_code([&] { start_with(sql, {"", "b"}); }), "InvalidParameterException");
  EXPECT_EQ(error_code([&] { start_with(sql, {std::string(1025, 'a'), "b"}); }), "InvalidParameterException");
  EXPECT_EQ(error_code([&] {
              Value in = Value::map();
              in.set("QueryAlias", "dashboard");
              lake->start_query(account, region, in);
            }),
            "UnsupportedOperationException");

  // The parameters are part of the stored query: a restart re-runs it with them.
  std::string queued = start_with(sql, {"monitoring.amazonaws.com", "x"});
  lake = std::make_unique<LakeStore>(*store, clock);
  lake->load();
  EXPECT_EQ(rows_of(queued), (std::vector<std::string>{"PutMetricAlarm"}));
}

TEST_F(LakeFixture, QueuedQueriesSurviveARestart) {
  std::string id = create("audit");
  event("CreateLogGroup", "logs.amazonaws.com", false);
  std::string queued = start("SELECT eventName FROM " + id);
  lake = std::make_unique<LakeStore>(*store, clock);
  lake->load();
  EXPECT_EQ(lake->describe_query(account, region, query_input(queued)).str("QueryStatus"), "QUEUED");
  EXPECT_TRUE(lake->run_next());
  Value results = lake->get_query_results(account, region, query_input(queued));
  EXPECT_EQ(results.str("QueryStatus"), "FINISHED");
  ASSERT_EQ(results.get("QueryResultRows")->size(), 1u);
  EXPECT_EQ(results.get("QueryResultRows")->as_list()[0].as_list()[0].str("eventName"), "CreateLogGroup");
}

TEST_F(LakeFixture, EndlessResultsFailAtTheCap) {
  std::string id = create("audit");
  event("CreateLogGroup", "logs.amazonaws.com", false);
  lake->set_max_result_bytes(64 << 10);
  std::string endless = start("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 1000000) SELECT x, eventName FROM " + id + " JOIN c ON 1");
  while (lake->run_next()) {
  }
  Value d = lake->describe_query(account, region, query_input(endless));
  EXPECT_EQ(d.str("QueryStatus"), "FAILED");
  EXPECT_NE(d.str("ErrorMessage").find("exceed"), std::string_view::npos);
  // Nothing of the partial results stays behind.
  auto it = store->iterate(vigil::store::Keyspace::Lake, "r", "s");
  it->seek("r");
  EXPECT_FALSE(it->valid());
}

TEST_F(LakeFixture, RunawayMemoryFailsTheQuery) {
  std::string id = create("audit");
  event("CreateLogGroup", "logs.amazonaws.com", false);
  LakeEngine::set_memory_limit(32 << 20);
  // The recursive WITH is materialized before the join: it grows until the heap limit.
  std::string endless = start("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c JOIN " + id + " ON 1");
  while (lake->run_next()) {
  }
  LakeEngine::set_memory_limit(512LL << 20);
  Value d = lake->describe_query(account, region, query_input(endless));
  EXPECT_EQ(d.str("QueryStatus"), "FAILED");
  EXPECT_NE(d.str("ErrorMessage").find("memory"), std::string_view::npos) << d.str("ErrorMessage");
}

// ---- DeliveryS3Uri ----

TEST(LakeDelivery, UrisFoldersAndCsvFields) {
  DeliveryTarget t = parse_delivery_uri("s3://my-results/a/b/");
  EXPECT_EQ(t.bucket, "my-results");
  EXPECT_EQ(t.prefix, "a/b");
  EXPECT_EQ(parse_delivery_uri("s3://my-results").prefix, "");
  EXPECT_EQ(delivery_folder(t, "000000000000", "q-1", 1'800'000'000), "a/b/AWSLogs/000000000000/CloudTrail-Lake/Query/2027/01/15/q-1/");
  EXPECT_EQ(delivery_folder(DeliveryTarget{"b", ""}, "1", "q", 0), "AWSLogs/1/CloudTrail-Lake/Query/1970/01/01/q/");
  EXPECT_EQ(error_code([] { parse_delivery_uri("s3://Bad_Bucket/x"); }), "InvalidS3BucketNameException");
  EXPECT_EQ(error_code([] { parse_delivery_uri("https://bucket/x"); }), "InvalidS3BucketNameException");
  EXPECT_EQ(error_code([] { parse_delivery_uri("s3://bucket/" + std::string(1000, 'p')); }), "InvalidS3PrefixException");
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
}

namespace {

std::string unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

struct LakeDeliveryFixture : LakeFixture {
  std::filesystem::path s3_dir = dir.string() + "-s3";
  std::unique_ptr<vigil::s3::ObjectStore> objects = std::make_unique<vigil::s3::ObjectStore>(*store, s3_dir.string());
  std::unique_ptr<SigningKeys> keys = std::make_unique<SigningKeys>(*store, clock);

  LakeDeliveryFixture() {
    objects->create_bucket(vigil::s3::BucketRecord{"results", account, region, 1});
    lake->set_delivery(objects.get(), keys.get(), /*policy_required=*/false);
  }
  ~LakeDeliveryFixture() override {
    lake.reset();
    keys.reset();
    objects.reset();
    std::filesystem::remove_all(s3_dir);
  }

  std::string start_delivering(const std::string& sql, const std::string& uri) {
    Value in = Value::map();
    in.set("QueryStatement", sql);
    in.set("DeliveryS3Uri", uri);
    return std::string(lake->start_query(account, region, in).str("QueryId"));
  }
  Value describe(const std::string& id) { return lake->describe_query(account, region, query_input(id)); }
  std::string object(const std::string& bucket, const std::string& key) {
    auto o = objects->head(bucket, key);
    return o ? objects->read(*o, 0, o->size) : "<missing>";
  }
  size_t objects_in(const std::string& bucket) {
    vigil::s3::ListQuery all;
    return objects->list(bucket, all).entries.size();
  }
  void run_all() {
    while (lake->run_next()) {
    }
  }
};

}  // namespace

TEST_F(LakeDeliveryFixture, DeliversGzipCsvAndASignedSignFile) {
  std::string id = create("audit");
  event("CreateLogGroup", "logs.amazonaws.com", false);
  event("PutMetricAlarm", "monitoring.amazonaws.com", false);
  std::string q = start_delivering("SELECT eventName, requestParameters AS params FROM " + id + " ORDER BY eventTime, eventName", "s3://results/exports/lake/");
  EXPECT_EQ(describe(q).str("DeliveryStatus"), "PENDING");
  run_all();
  Value d = describe(q);
  EXPECT_EQ(d.str("QueryStatus"), "FINISHED");
  EXPECT_EQ(d.str("DeliveryStatus"), "SUCCESS");
  EXPECT_EQ(d.str("DeliveryS3Uri"), "s3://results/exports/lake/");

  std::string folder = "exports/lake/AWSLogs/000000000000/CloudTrail-Lake/Query/2027/01/15/" + q + "/";
  std::string gz = object("results", folder + "result_1.csv.gz");
  auto csv = vigil::http::gunzip(gz, 1 << 20);
  ASSERT_TRUE(csv) << gz;
  EXPECT_EQ(*csv, "eventName,params\r\nCreateLogGroup,\"{\"\"logGroupName\"\":\"\"/app/1\"\"}\"\r\nPutMetricAlarm,\"{\"\"logGroupName\"\":\"\"/app/2\"\"}\"\r\n");
  EXPECT_EQ(objects_in("results"), 2u);  // the result file and the sign file

  Value sign = json(object("results", folder + "result_sign.json"));
  EXPECT_EQ(sign.str("version"), "1.0");
  EXPECT_EQ(sign.str("region"), "us-east-1");
  EXPECT_EQ(sign.str("hashAlgorithm"), "SHA-256");
  EXPECT_EQ(sign.str("signatureAlgorithm"), "SHA256withRSA");
  EXPECT_EQ(sign.str("queryCompleteTime"), "2027-01-15T08:00:00Z");
  ASSERT_EQ(sign.get("files")->size(), 1u);
  const Value& file = sign.get("files")->as_list()[0];
  EXPECT_EQ(file.str("fileName"), "result_1.csv.gz");
  EXPECT_EQ(file.str("fileHashValue"), sha256_hex(gz));  // of the compressed bytes, as AWS
  SigningKey key = keys->current(account, region);
  EXPECT_EQ(sign.str("publicKeyFingerprint"), key.fingerprint);
  EXPECT_TRUE(SigningKeys::verify(key.public_der, sha256_hex(gz), unhex(sign.str("hashSignature"))));
  EXPECT_FALSE(SigningKeys::verify(key.public_der, sha256_hex(gz + "x"), unhex(sign.str("hashSignature"))));
}

TEST_F(LakeDeliveryFixture, LargeResultsSpanSeveralFilesSignedInOrder) {
  lake->set_delivery_file_bytes(40);
  std::string id = create("audit");
  for (int i = 0; i < 7; ++i) event("CreateLogGroup", "logs.amazonaws.com", false);
  std::string q = start_delivering("SELECT eventName, eventID FROM " + id + " ORDER BY eventID", "s3://results");
  run_all();
  EXPECT_EQ(describe(q).str("DeliveryStatus"), "SUCCESS");
  std::string folder = "AWSLogs/000000000000/CloudTrail-Lake/Query/2027/01/15/" + q + "/";
  Value sign = json(object("results", folder + "result_sign.json"));
  const Value::List& files = sign.get("files")->as_list();
  ASSERT_GE(files.size(), 3u);
  std::string hashes, rows;
  for (size_t i = 0; i < files.size(); ++i) {
    EXPECT_EQ(files[i].str("fileName"), "result_" + std::to_string(i + 1) + ".csv.gz");
    std::string gz = object("results", folder + std::string(files[i].str("fileName")));
    EXPECT_EQ(files[i].str("fileHashValue"), sha256_hex(gz));
    hashes += (i ? " " : "") + sha256_hex(gz);
    auto csv = vigil::http::gunzip(gz, 1 << 20);
    ASSERT_TRUE(csv);
    ASSERT_EQ(csv->rfind("eventName,eventId\r\n", 0), 0u) << *csv;  // every file has the header
    rows += csv->substr(std::string("eventName,eventId\r\n").size());
  }
  EXPECT_EQ(rows, "CreateLogGroup,ev-1\r\nCreateLogGroup,ev-2\r\nCreateLogGroup,ev-3\r\nCreateLogGroup,ev-4\r\nCreateLogGroup,ev-5\r\n"
                  "CreateLogGroup,ev-6\r\nCreateLogGroup,ev-7\r\n");
  SigningKey key = keys->current(account, region);
  EXPECT_TRUE(SigningKeys::verify(key.public_der, hashes, unhex(sign.str("hashSignature"))));
}

TEST_F(LakeDeliveryFixture, BucketChecksAndDeliveryStatuses) {
  std::string id = create("audit");
  event("CreateLogGroup", "logs.amazonaws.com", false);
  std::string sql = "SELECT eventName FROM " + id;
  EXPECT_EQ(error_code([&] { start_delivering(sql, "s3://no-such-bucket/x"); }), "S3BucketDoesNotExistException");
  EXPECT_EQ(error_code([&] { start_delivering(sql, "s3://Bad_Bucket/x"); }), "InvalidS3BucketNameException");
  // Another account's bucket without a policy letting CloudTrail write.
  objects->create_bucket(vigil::s3::BucketRecord{"others", "111111111111", region, 1});
  EXPECT_EQ(error_code([&] { start_delivering(sql, "s3://others/x"); }), "InsufficientS3BucketPolicyException");
  // A policy that grants CloudTrail nothing.
  const std::string unrelated = R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},)"
                                R"("Action":"s3:GetObject","Resource":"arn:aws:s3:::results/*"}]})";
  objects->put_bucket_policy("results", unrelated);
  EXPECT_EQ(error_code([&] { start_delivering(sql, "s3://results/x"); }), "InsufficientS3BucketPolicyException");
  // The policy CloudTrail's documentation gives lets it deliver.
  const std::string allowed = R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},)"
                              R"("Action":["s3:PutObject*","s3:Abort*"],"Resource":["arn:aws:s3:::results","arn:aws:s3:::results/*"],)"
                              R"("Condition":{"StringLike":{"aws:SourceAccount":"000000000000","aws:SourceArn":"arn:aws:cloudtrail:us-east-1:000000000000:eventdatastore/*"}}},)"
                              R"({"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:GetBucketAcl","Resource":"arn:aws:s3:::results"}]})";
  objects->put_bucket_policy("results", allowed);
  std::string ok = start_delivering(sql, "s3://results/x");
  run_all();
  EXPECT_EQ(describe(ok).str("DeliveryStatus"), "SUCCESS");

  // The policy changes between StartQuery and the delivery: nothing is written.
  size_t before = objects_in("results");
  std::string denied = start_delivering(sql, "s3://results/denied");
  objects->put_bucket_policy("results", unrelated);
  run_all();
  EXPECT_EQ(describe(denied).str("QueryStatus"), "FINISHED");
  EXPECT_EQ(describe(denied).str("DeliveryStatus"), "ACCESS_DENIED");
  EXPECT_EQ(objects_in("results"), before);

  // The bucket is gone by then.
  objects->create_bucket(vigil::s3::BucketRecord{"gone", account, region, 1});
  std::string lost = start_delivering(sql, "s3://gone");
  ASSERT_TRUE(objects->delete_bucket_if_empty("gone"));
  run_all();
  EXPECT_EQ(describe(lost).str("DeliveryStatus"), "RESOURCE_NOT_FOUND");

  // A query that does not finish delivers nothing.
  objects->delete_bucket_policy("results");
  std::string cancelled = start_delivering(sql, "s3://results/c");
  lake->cancel_query(account, region, query_input(cancelled));
  std::string failed = start_delivering("SELECT from_iso8601_timestamp(eventName) FROM " + id, "s3://results/f");
  run_all();
  EXPECT_EQ(describe(cancelled).str("DeliveryStatus"), "CANCELLED");
  EXPECT_EQ(describe(failed).str("QueryStatus"), "FAILED");
  EXPECT_EQ(describe(failed).str("DeliveryStatus"), "FAILED");
  EXPECT_EQ(objects_in("results"), before);

  // Without S3 (an embedder's LakeStore), DeliveryS3Uri is not served.
  lake->set_delivery(nullptr, nullptr, true);
  EXPECT_EQ(error_code([&] { start_delivering(sql, "s3://results/x"); }), "UnsupportedOperationException");
}

TEST_F(LakeDeliveryFixture, APendingDeliveryResumesAfterARestart) {
  std::string id = create("audit");
  event("CreateLogGroup", "logs.amazonaws.com", false);
  std::string q = start_delivering("SELECT eventName FROM " + id, "s3://results");
  run_all();
  ASSERT_EQ(describe(q).str("DeliveryStatus"), "SUCCESS");
  // As if the process had stopped after the run and before the delivery: the stored query says
  // FINISHED, delivery PENDING, and nothing is in the bucket.
  std::string folder = "AWSLogs/000000000000/CloudTrail-Lake/Query/2027/01/15/" + q + "/";
  objects->remove("results", folder + "result_1.csv.gz");
  objects->remove("results", folder + "result_sign.json");
  Value doc = json(*store->get(vigil::store::Keyspace::Meta, "ct:q:" + q));
  doc.set("DeliveryStatus", "PENDING");
  vigil::store::WriteBatch batch(*store);
  batch.put(vigil::store::Keyspace::Meta, "ct:q:" + q, vigil::protocol::value_to_json(doc));
  store->write(batch);
  lake = std::make_unique<LakeStore>(*store, clock);
  lake->set_delivery(objects.get(), keys.get(), false);
  lake->load();
  EXPECT_EQ(describe(q).str("DeliveryStatus"), "PENDING");
  EXPECT_TRUE(lake->run_next());
  EXPECT_EQ(describe(q).str("QueryStatus"), "FINISHED");
  EXPECT_EQ(describe(q).str("DeliveryStatus"), "SUCCESS");
  auto csv = vigil::http::gunzip(object("results", folder + "result_1.csv.gz"), 1 << 20);
  ASSERT_TRUE(csv);
  EXPECT_EQ(*csv, "eventName\r\nCreateLogGroup\r\n");
}
