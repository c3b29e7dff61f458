#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <set>
#include <thread>

#include "core/aws_error.h"
#include "core/clock.h"
#include "protocol/json_codec.h"
#include "services/cloudtrail/event_history.h"
#include "services/logs/log_store.h"
#include "services/logs/logs_service.h"
#include "store/store.h"

namespace {

struct Fixture : ::testing::Test {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("vigil-eh-" + std::to_string(::getpid()) + "-" +
                                                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
  vigil::ManualClock clock{1'800'000'000'000};
  std::unique_ptr<vigil::store::Store> store = vigil::store::Store::open(dir.string());
  vigil::logs::LogStore log_store{*store, clock};
  vigil::logs::LogsService logs{log_store, clock};
  vigil::server::Principal root{"000000000000", "root", "test", "test", true};

  ~Fixture() override {
    store.reset();
    std::filesystem::remove_all(dir);
  }

  void record(vigil::cloudtrail::EventHistory& history, const char* op, std::optional<double> time = std::nullopt) {
    vigil::server::CallContext ctx;
    ctx.principal = &root;
    ctx.account_id = "000000000000";
    ctx.region = "us-east-1";
    ctx.request_id = "r";
    ctx.time = time.value_or(clock.now_seconds());
    ctx.resources.emplace_back("AWS::Logs::LogGroup", "/g");
    vigil::Value input = vigil::Value::map();
    input.set("logGroupName", "/g");
    vigil::Value output = vigil::Value::map();
    history.record({&ctx, &logs, op, &input, &output, nullptr});
  }
};

// `query` with one LookupAttributes entry.
vigil::Value with_attribute(vigil::Value query, const std::string& key, const std::string& value) {
  vigil::Value attr = vigil::Value::map();
  attr.set("AttributeKey", key);
  attr.set("AttributeValue", value);
  vigil::Value attrs = vigil::Value::list();
  attrs.push(std::move(attr));
  query.set("LookupAttributes", std::move(attrs));
  return query;
}

}  // namespace

TEST_F(Fixture, RecordsManagementEventsAndPublishesAll) {
  vigil::EventBus bus;
  std::vector<std::string> published;
  bus.subscribe([&](const vigil::BusEvent& e) {
    vigil::Value parsed;
    published.push_back(std::string(vigil::cloudtrail::call_record(e, parsed).str("eventName")));
  });
  vigil::cloudtrail::EventHistory history(*store, clock, &bus);
  record(history, "CreateLogGroup");
  record(history, "PutLogEvents");
  EXPECT_EQ(published, (std::vector<std::string>{"CreateLogGroup", "PutLogEvents"}));
  vigil::Value result = history.lookup("000000000000", "us-east-1", vigil::Value::map());
  ASSERT_EQ(result.get("Events")->size(), 1u);
  EXPECT_EQ(result.get("Events")->as_list()[0].str("EventName"), "CreateLogGroup");
  EXPECT_EQ(history.lookup("111111111111", "us-east-1", vigil::Value::map()).get("Events")->size(), 0u);
}

TEST_F(Fixture, ExpiresAfterNinetyDays) {
  vigil::cloudtrail::EventHistory history(*store, clock, nullptr);
  record(history, "CreateLogGroup");
  clock.advance(std::chrono::hours(24 * 89));
  record(history, "DeleteLogGroup");
  history.expire();
  vigil::Value query = vigil::Value::map();
  query.set("StartTime", vigil::Timestamp{0});
  EXPECT_EQ(history.lookup("000000000000", "us-east-1", query).get("Events")->size(), 2u);
  clock.advance(std::chrono::hours(24 * 2));
  history.expire();
  auto events = history.lookup("000000000000", "us-east-1", query).get("Events")->as_list();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].str("EventName"), "DeleteLogGroup");
  // The index entries went too: an attribute lookup finds only the survivor.
  vigil::Value by_resource = with_attribute(query, "ResourceName", "/g");
  EXPECT_EQ(history.lookup("000000000000", "us-east-1", by_resource).get("Events")->size(), 1u);
}

namespace {
// Records, not the templates among them (their values begin with 0x02).
size_t stored_records(vigil::store::Store& store) {
  size_t n = 0;
  auto it = store.iterate(vigil::store::Keyspace::Audit);
  for (it->seek_to_first(); it->valid(); it->next()) n += it->value().substr(0, 1) != "\x02";
  return n;
}
size_t stored_templates(vigil::store::Store& store) {
  size_t n = 0;
  auto it = store.iterate(vigil::store::Keyspace::Audit);
  for (it->seek_to_first(); it->valid(); it->next()) n += it->value().substr(0, 1) == "\x02";
  return n;
}
}  // namespace

TEST_F(Fixture, AChangesRecordIsStoredBeforeRecordReturnsAndLookupsSeeQueuedReads) {
  vigil::cloudtrail::EventHistory history(*store, clock, nullptr);
  // Reads in between keep the background writer busy, so a change's record that did not wait
  // for it would often still be queued when record() returns.
  for (int i = 0; i < 200; ++i) {
    for (int r = 0; r < 5; ++r) record(history, "DescribeLogGroups");
    record(history, "CreateLogGroup");
    ASSERT_EQ(stored_records(*store), static_cast<size_t>(6 * (i + 1))) << "after change " << i;
  }
  // Read-your-writes for LookupEvents: the reads just recorded are found.
  for (int r = 0; r < 20; ++r) record(history, "DescribeLogGroups");
  vigil::Value query = with_attribute(vigil::Value::map(), "EventName", "DescribeLogGroups");
  query.set("MaxResults", 50);
  EXPECT_EQ(history.lookup("000000000000", "us-east-1", query).get("Events")->size(), 50u);
  EXPECT_EQ(stored_records(*store), 6u * 200 + 20);
}

TEST_F(Fixture, LookupByEventIdFindsTheRecordFromItsTimeOrderedId) {
  vigil::cloudtrail::EventHistory history(*store, clock, nullptr);
  for (int i = 0; i < 30; ++i) {
    record(history, i % 2 ? "CreateLogGroup" : "DescribeLogGroups");
    clock.advance(std::chrono::seconds(1));
  }
  auto all = history.lookup("000000000000", "us-east-1", vigil::Value::map()).get("Events")->as_list();
  ASSERT_EQ(all.size(), 30u);
  auto by_id = [&](const std::string& id, std::optional<double> start = std::nullopt) {
    vigil::Value query = with_attribute(vigil::Value::map(), "EventId", id);
    if (start) query.set("StartTime", vigil::Timestamp{*start});
    return history.lookup("000000000000", "us-east-1", query).get("Events")->as_list();
  };
  for (const auto& e : all) {
    std::string id(e.str("EventId"));
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id[14], '4');  // still shaped as a v4 UUID
    auto found = by_id(id);
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].str("CloudTrailEvent"), e.str("CloudTrailEvent"));
  }
  // An id of another event's time, an id of nothing, and a time range that excludes it.
  std::string other(all[0].str("EventId"));
  other[35] = other[35] == '0' ? '1' : '0';
  EXPECT_TRUE(by_id(other).empty());
  EXPECT_TRUE(by_id("not-an-event-id").empty());
  EXPECT_TRUE(by_id(std::string(all[29].str("EventId")), clock.now_seconds() - 5).empty());  // the oldest, 30 s ago
}

namespace {
// The event's time in milliseconds: the first 12 hex digits of its (time-ordered) id.
int64_t id_millis(const vigil::Value& event) {
  std::string id(event.str("EventId"));
  return std::stoll(id.substr(0, 8) + id.substr(9, 4), nullptr, 16);
}
}  // namespace

TEST_F(Fixture, AttributeLookupsPageThroughPackedPostingsNewestFirstWithoutGapsOrRepeats) {
  vigil::cloudtrail::EventHistory history(*store, clock, nullptr);
  // Four threads record out of time order (a call's time is when it started, its record comes
  // when it ends), across many 256 ms index windows, while the background writer packs the
  // postings of each group write.
  const double base = clock.now_seconds() - 100;
  constexpr int kThreads = 4, kPerThread = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) record(history, i % 3 ? "DescribeLogGroups" : "CreateLogGroup", base + ((i * 7919 + t * 13) % 20000) / 1000.0);
    });
  for (auto& th : threads) th.join();
  for (const char* name : {"DescribeLogGroups", "CreateLogGroup"}) {
    vigil::Value query = with_attribute(vigil::Value::map(), "EventName", name);
    query.set("MaxResults", 37);
    std::vector<vigil::Value> got;
    for (;;) {
      vigil::Value page = history.lookup("000000000000", "us-east-1", query);
      for (const auto& e : page.get("Events")->as_list()) got.push_back(e);
      if (!page.has("NextToken")) break;
      query.set("NextToken", std::string(page.str("NextToken")));
    }
    const size_t expected = std::string(name) == "CreateLogGroup" ? kThreads * ((kPerThread + 2) / 3) : kThreads * (kPerThread - (kPerThread + 2) / 3);
    ASSERT_EQ(got.size(), expected) << name;
    std::set<std::string> ids;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].str("EventName"), name);
      ids.insert(std::string(got[i].str("EventId")));
      if (i > 0) {
        EXPECT_GE(id_millis(got[i - 1]), id_millis(got[i])) << "newest first, at " << i;
      }
    }
    EXPECT_EQ(ids.size(), got.size());  // no repeats
  }
  // A time range cuts inside windows: exactly the events in it.
  vigil::Value query = with_attribute(vigil::Value::map(), "EventName", "CreateLogGroup");
  query.set("StartTime", vigil::Timestamp{base + 5.1});
  query.set("EndTime", vigil::Timestamp{base + 5.3});
  query.set("MaxResults", 50);
  auto events = history.lookup("000000000000", "us-east-1", query).get("Events")->as_list();
  size_t in_range = 0;
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kPerThread; i += 3) {
      int64_t ms = (i * 7919 + t * 13) % 20000;
      in_range += ms >= 5100 && ms <= 5300;
    }
  EXPECT_EQ(events.size(), in_range);
  EXPECT_GT(in_range, 0u);
}

TEST_F(Fixture, IndexEntriesOfOlderVersionsAreStillFound) {
  vigil::cloudtrail::EventHistory history(*store, clock, nullptr);
  record(history, "CreateLogGroup");
  // Replace the index with the older layout: one key per record with an empty value.
  const std::string scope("000000000000\0us-east-1\0", 23);
  std::string suffix;
  {
    auto it = store->iterate(vigil::store::Keyspace::Audit);
    it->seek_to_first();
    while (it->valid() && it->value().substr(0, 1) == "\x02") it->next();  // the day's template
    ASSERT_TRUE(it->valid());
    suffix = std::string(it->key().substr(scope.size()));
  }
  vigil::store::WriteBatch batch(*store);
  batch.erase_range(vigil::store::Keyspace::AuditIndex, std::string(1, '\0'), std::string(8, '\xff'));
  batch.put(vigil::store::Keyspace::AuditIndex, scope + std::string("EventName\0CreateLogGroup\0", 25) + suffix, "");
  store->write(batch);
  auto events = history.lookup("000000000000", "us-east-1", with_attribute(vigil::Value::map(), "EventName", "CreateLogGroup")).get("Events")->as_list();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].str("EventName"), "CreateLogGroup");
  EXPECT_TRUE(history.lookup("000000000000", "us-east-1", with_attribute(vigil::Value::map(), "ResourceName", "/g")).get("Events")->as_list().empty());
}

TEST_F(Fixture, TheRecordIsAwsJsonWithItsMembersInOrderAndHugeParametersOmitted) {
  vigil::server::Principal user{"000000000000", "alice", "AKIAALICE", "x", false};
  vigil::server::CallContext ctx;
  ctx.principal = &user;
  ctx.account_id = "000000000000";
  ctx.region = "eu-west-1";
  ctx.request_id = "req-1";
  ctx.source_ip = "10.0.0.7";
  ctx.user_agent = "agent \"quoted\"";
  ctx.time = 1'800'000'000.75;
  vigil::Value input = vigil::Value::map();
  input.set("logGroupName", "/g");
  vigil::Value output = vigil::Value::map();
  vigil::AwsError error("ResourceNotFoundException", "The specified log group does not exist.", 400);
  const std::string json = vigil::cloudtrail::record_json({&ctx, &logs, "DeleteLogGroup", &input, nullptr, &error}, "id-1", ctx.time);
  EXPECT_EQ(json,
            "{\"eventVersion\":\"1.09\",\"userIdentity\":{\"type\":\"IAMUser\",\"principalId\":\"" + std::string(user.principal_id()) +
                "\",\"arn\":\"arn:aws:iam::000000000000:user/alice\",\"accountId\":\"000000000000\",\"accessKeyId\":\"AKIAALICE\","
                "\"userName\":\"alice\"},\"eventTime\":\"2027-01-15T08:00:00Z\",\"eventSource\":\"logs.amazonaws.com\","
                "\"eventName\":\"DeleteLogGroup\",\"awsRegion\":\"eu-west-1\",\"sourceIPAddress\":\"10.0.0.7\",\"userAgent\":\"agent \\\"quoted\\\"\","
                "\"errorCode\":\"ResourceNotFoundException\",\"errorMessage\":\"The specified log group does not exist.\","
                "\"requestParameters\":{\"logGroupName\":\"/g\"},\"responseElements\":null,\"requestID\":\"req-1\",\"eventID\":\"id-1\","
                "\"readOnly\":false,\"eventType\":\"AwsApiCall\",\"managementEvent\":true,\"recipientAccountId\":\"000000000000\","
                "\"eventCategory\":\"Management\"}");
  // A data event lists its resources; parameters over 100 KB become null.
  ctx.resources.emplace_back("AWS::Logs::LogGroup", "log-group:/g");
  input.set("nextToken", std::string(110 * 1024, 'x'));
  vigil::Value record = vigil::cloudtrail::make_record({&ctx, &logs, "GetLogEvents", &input, &output, nullptr}, "id-2", ctx.time);
  EXPECT_TRUE(record.get("requestParameters")->is_null());
  ASSERT_TRUE(record.get("resources"));
  EXPECT_EQ(record.get("resources")->as_list()[0].str("ARN"), "arn:aws:logs:eu-west-1:000000000000:log-group:/g");
  EXPECT_EQ(record.str("eventCategory"), "Data");
  EXPECT_FALSE(record.flag("managementEvent", true));
}

// record_json reuses, per thread, the JSON it wrote for the last caller and origin: it must
// follow every change of principal, key, region, address or agent, and come back unchanged.
TEST_F(Fixture, TheCallersPartsOfARecordFollowEachCallersOwnValues) {
  vigil::server::Principal alice{"000000000000", "alice", "AKIAALICE", "x", false};
  vigil::server::Principal alice_other_key{"000000000000", "alice", "AKIAALICE2", "x", false};
  vigil::server::Principal bob{"111111111111", "bob", "AKIABOB", "x", false};
  vigil::server::Principal robert{"111111111111", "robert", "AKIABOB", "x", false};  // only the name differs
  vigil::server::Principal anonymous{"111111111111", "", "", "", false, /*is_anonymous=*/true};
  auto context = [](const vigil::server::Principal& who, std::string region, std::string ip, std::string agent) {
    vigil::server::CallContext ctx;
    ctx.principal = &who;
    ctx.account_id = who.account_id;
    ctx.region = std::move(region);
    ctx.request_id = "req";
    ctx.source_ip = std::move(ip);
    ctx.user_agent = std::move(agent);
    ctx.time = 1'800'000'000;
    return ctx;
  };
  vigil::Value input = vigil::Value::map();
  auto record = [&](const vigil::server::CallContext& ctx) {
    return vigil::cloudtrail::record_json({&ctx, &logs, "DescribeLogGroups", &input, nullptr, nullptr}, "id", ctx.time);
  };
  const auto a = context(alice, "eu-west-1", "10.0.0.1", "agent-a");
  const std::string first = record(a);
  struct Case {
    vigil::server::CallContext ctx;
    std::string arn, key, region, ip, agent;
  };
  const std::vector<Case> cases = {
      {context(root, "eu-west-1", "10.0.0.1", "agent-a"), "arn:aws:iam::000000000000:root", "test", "eu-west-1", "10.0.0.1", "agent-a"},
      {context(alice_other_key, "eu-west-1", "10.0.0.1", "agent-a"), "arn:aws:iam::000000000000:user/alice", "AKIAALICE2", "eu-west-1", "10.0.0.1", "agent-a"},
      {context(bob, "us-east-2", "10.0.0.1", "agent-a"), "arn:aws:iam::111111111111:user/bob", "AKIABOB", "us-east-2", "10.0.0.1", "agent-a"},
      {context(bob, "us-east-2", "10.0.0.9", "agent-a"), "arn:aws:iam::111111111111:user/bob", "AKIABOB", "us-east-2", "10.0.0.9", "agent-a"},
      {context(bob, "us-east-2", "10.0.0.9", "agent \"b\""), "arn:aws:iam::111111111111:user/bob", "AKIABOB", "us-east-2", "10.0.0.9", "agent \"b\""},
      {context(robert, "us-east-2", "10.0.0.9", "agent \"b\""), "arn:aws:iam::111111111111:user/robert", "AKIABOB", "us-east-2", "10.0.0.9", "agent \"b\""},
      {context(anonymous, "us-east-2", "10.0.0.9", "agent \"b\""), "", "", "us-east-2", "10.0.0.9", "agent \"b\""},
      {context(bob, "us-east-2", "10.0.0.9", "agent \"b\""), "arn:aws:iam::111111111111:user/bob", "AKIABOB", "us-east-2", "10.0.0.9", "agent \"b\""},
  };
  for (const Case& c : cases) {
    const vigil::Value r = vigil::protocol::json_to_value(record(c.ctx), nullptr);
    const vigil::Value* identity = r.get("userIdentity");
    ASSERT_TRUE(identity);
    EXPECT_EQ(identity->str("arn"), c.arn);
    EXPECT_EQ(identity->str("accessKeyId"), c.key);
    const bool anonymous_call = c.ctx.principal->is_anonymous;
    EXPECT_EQ(identity->str("accountId"), anonymous_call ? "anonymous" : c.ctx.account_id);
    EXPECT_EQ(identity->str("type"), anonymous_call ? "AWSAccount" : c.ctx.principal->is_root ? "Root" : "IAMUser");
    EXPECT_EQ(identity->has("userName"), !c.ctx.principal->is_root && !anonymous_call);
    if (!anonymous_call && !c.ctx.principal->is_root) {
      EXPECT_EQ(identity->str("userName"), c.ctx.principal->user_name);
    }
    EXPECT_EQ(r.str("awsRegion"), c.region);
    EXPECT_EQ(r.str("sourceIPAddress"), c.ip);
    EXPECT_EQ(r.str("userAgent"), c.agent);
    EXPECT_EQ(r.str("recipientAccountId"), c.ctx.account_id);
  }
  EXPECT_EQ(record(a), first);
}

namespace {
// Every stored record's value, in key order (templates left out).
std::vector<std::string> stored_values(vigil::store::Store& store) {
  std::vector<std::string> values;
  auto it = store.iterate(vigil::store::Keyspace::Audit);
  for (it->seek_to_first(); it->valid(); it->next())
    if (it->value().substr(0, 1) != "\x02") values.emplace_back(it->value());
  return values;
}
}  // namespace

TEST_F(Fixture, RecordsKeepTheirOwnValuesAndShareATemplateYetReadBackWhole) {
  vigil::EventBus bus;
  std::vector<std::string> published;  // the whole JSON of each call, as trails see it
  bus.subscribe([&](const vigil::BusEvent& e) { published.push_back(e.detail_json); });
  vigil::cloudtrail::EventHistory history(*store, clock, &bus);
  vigil::server::Principal alice{"000000000000", "alice", "AKIAALICE", "x", false};
  vigil::AwsError error("ResourceNotFoundException", "The specified log group \"/x\" does not exist.", 400);
  for (int i = 0; i < 20; ++i) {
    vigil::server::CallContext ctx;
    ctx.principal = i % 2 ? &alice : &root;
    ctx.account_id = "000000000000";
    ctx.region = "us-east-1";
    ctx.request_id = "req-" + std::to_string(i);
    ctx.source_ip = "10.0.0.7";
    ctx.user_agent = "Boto3/1.43.0 md/Botocore#1.43.0 ua/2.1 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.7 cfg/retry-mode#legacy";
    ctx.time = clock.now_seconds() + i * 0.25;
    vigil::Value input = vigil::Value::map();
    input.set("logGroupName", "/g-\"" + std::to_string(i) + "\"");
    vigil::Value output = vigil::Value::map();
    history.record({&ctx, &logs, i % 3 ? "DescribeLogGroups" : "DeleteLogGroup", &input, &output, i % 4 == 0 ? &error : nullptr});
  }
  // Three shapes of record (root with and without an error, alice), each stored once for the day.
  EXPECT_EQ(stored_templates(*store), 3u);
  for (const std::string& value : stored_values(*store)) {
    EXPECT_EQ(value[0], '\x01');
    EXPECT_LT(value.size() * 2, published[0].size()) << "a record keeps only its own values";
  }
  // LookupEvents gives back each call's whole record, byte for byte.
  clock.advance(std::chrono::seconds(10));
  vigil::Value query = vigil::Value::map();
  query.set("StartTime", vigil::Timestamp{0});
  std::vector<std::string> looked_up;
  const vigil::Value all = history.lookup("000000000000", "us-east-1", query);
  for (const vigil::Value& e : all.get("Events")->as_list()) looked_up.emplace_back(e.str("CloudTrailEvent"));
  std::reverse(looked_up.begin(), looked_up.end());  // newest first
  EXPECT_EQ(looked_up, published);
  // And through the index and by event id.
  auto by_user = history.lookup("000000000000", "us-east-1", with_attribute(query, "Username", "alice")).get("Events")->as_list();
  ASSERT_EQ(by_user.size(), 10u);
  EXPECT_EQ(by_user[0].str("CloudTrailEvent"), published[19]);
  std::string id(vigil::Value(by_user[3]).str("EventId"));
  auto by_id = history.lookup("000000000000", "us-east-1", with_attribute(query, "EventId", id)).get("Events")->as_list();
  ASSERT_EQ(by_id.size(), 1u);
  EXPECT_EQ(by_id[0].str("CloudTrailEvent"), published[13]);
}

TEST_F(Fixture, AnIdWhoseKeyHoldsAnotherTemplateKeepsTheWholeRecord) {
  vigil::cloudtrail::EventHistory history(*store, clock, nullptr);
  record(history, "CreateLogGroup");
  // Make the stored template another one (as if two shapes hashed to the same id), and let
  // the thread look again.
  std::string template_key;
  {
    auto it = store->iterate(vigil::store::Keyspace::Audit);
    for (it->seek_to_first(); it->valid(); it->next())
      if (it->value().substr(0, 1) == "\x02") template_key = std::string(it->key());
  }
  ASSERT_FALSE(template_key.empty());
  vigil::store::WriteBatch batch(*store);
  batch.put(vigil::store::Keyspace::Audit, template_key, std::string("\x02\x03{x}", 5));
  store->write(batch);
  history.forget_templates();
  clock.advance(std::chrono::seconds(1));
  record(history, "CreateLogGroup");
  auto values = stored_values(*store);
  ASSERT_EQ(values.size(), 2u);
  EXPECT_EQ(values[0][0], '{') << "the newer record is whole JSON";
  vigil::Value query = vigil::Value::map();
  query.set("StartTime", vigil::Timestamp{0});
  auto events = history.lookup("000000000000", "us-east-1", query).get("Events")->as_list();
  // The newer record reads whole; the older one, whose template was overwritten, is not shown
  // as garbage: its JSON would not parse, so it is dropped.
  ASSERT_GE(events.size(), 1u);
  EXPECT_EQ(events[0].str("EventName"), "CreateLogGroup");
  EXPECT_NE(std::string(events[0].str("CloudTrailEvent")).find("\"eventName\":\"CreateLogGroup\""), std::string::npos);
}

TEST_F(Fixture, TemplatesExpireWithTheLastRecordOfTheirDayAndComeBackAfterAClear) {
  vigil::cloudtrail::EventHistory history(*store, clock, nullptr);
  record(history, "CreateLogGroup");
  clock.advance(std::chrono::hours(24 * 2));
  record(history, "DeleteLogGroup");
  EXPECT_EQ(stored_templates(*store), 2u) << "one per day";
  clock.advance(std::chrono::hours(24 * 89));
  history.expire();
  EXPECT_EQ(stored_records(*store), 1u);
  EXPECT_EQ(stored_templates(*store), 1u) << "the first day's went with its record";
  clock.advance(std::chrono::hours(24 * 2));
  history.expire();
  EXPECT_EQ(stored_records(*store) + stored_templates(*store), 0u);
  // A store cleared under the history (POST /_vigil/reset): templates are written again.
  record(history, "CreateLogGroup");
  store->clear_all();
  history.forget_templates();
  record(history, "DeleteLogGroup");
  auto events = history.lookup("000000000000", "us-east-1", vigil::Value::map()).get("Events")->as_list();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].str("EventName"), "DeleteLogGroup");
}
