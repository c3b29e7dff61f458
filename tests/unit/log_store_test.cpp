// LogStore: retention expiry with injected time, PutLogEvents' acceptance window, and the
// stream reads and merges the Logs handlers page over. Runs against a real store in a
// temporary directory; time only moves when a test moves it (ManualClock).
#include "services/logs/log_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/aws_error.h"
#include "core/clock.h"
#include "store/store.h"
#include "temp_dir.h"

namespace vigil::logs {
namespace {

constexpr int64_t kHour = 3600LL * 1000;
constexpr int64_t kDay = 24 * kHour;
constexpr char kAccount[] = "000000000000";
constexpr char kRegion[] = "us-east-1";

class LogStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = vigil::testing::make_temp_dir("vigil-log-store");
    open();
  }
  void TearDown() override {
    logs_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  // (Re)opens the store and loads the model from it, as a restart does.
  void open() {
    logs_.reset();
    store_.reset();
    store_ = store::Store::open(dir_);
    logs_ = std::make_unique<LogStore>(*store_, clock_);
    logs_->load();
  }

  void make_stream(const std::string& group, const std::string& stream) {
    try {
      logs_->create_group(kAccount, kRegion, group, {}, "", "");
    } catch (const AwsError&) {
      // already there
    }
    logs_->create_stream(kAccount, kRegion, group, stream);
  }

  std::pair<uint64_t, std::vector<uint64_t>> ids(const std::string& group, const std::vector<std::string>& streams) {
    std::pair<uint64_t, std::vector<uint64_t>> out;
    logs_->with_group(kAccount, kRegion, group, [&](const LogGroup& g) {
      out.first = g.id;
      for (const auto& s : streams) out.second.push_back(g.streams.at(s)->id);
    });
    return out;
  }

  // Every message of a stream, oldest first.
  std::vector<std::string> messages(const std::string& group, const std::string& stream) {
    auto [group_id, stream_ids] = ids(group, {stream});
    std::vector<std::string> out;
    for (const auto& e : logs_->read_stream(group_id, stream_ids[0], INT64_MIN, INT64_MAX, std::nullopt, true, 100000, SIZE_MAX))
      out.push_back(e.message);
    return out;
  }

  std::filesystem::path dir_;
  ManualClock clock_{1'700'000'000'000};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<LogStore> logs_;
};

TEST_F(LogStoreTest, RetentionExpiresEventsOlderThanTheGroupsRetention) {
  make_stream("g", "s");
  const int64_t t0 = clock_.now_millis();
  logs_->put_events(kAccount, kRegion, "g", "s", {{t0 - 3 * kDay, "three days"}, {t0 - 2 * kDay - kHour, "two days"}});
  logs_->put_events(kAccount, kRegion, "g", "s", {{t0 - kHour, "an hour"}, {t0, "now"}});
  ASSERT_EQ(messages("g", "s"), (std::vector<std::string>{"three days", "two days", "an hour", "now"}));

  // No retention: nothing expires, however much time passes.
  clock_.advance(std::chrono::hours(24 * 400));
  logs_->enforce_retention();
  ASSERT_EQ(messages("g", "s").size(), 4u);
  clock_.set_millis(t0);

  logs_->set_retention(kAccount, kRegion, "g", 1);
  logs_->enforce_retention();
  EXPECT_EQ(messages("g", "s"), (std::vector<std::string>{"an hour", "now"}));

  // Time passes: what was an hour old is now older than a day.
  clock_.advance(std::chrono::hours(22) + std::chrono::minutes(30));
  logs_->enforce_retention();
  EXPECT_EQ(messages("g", "s"), (std::vector<std::string>{"an hour", "now"}));
  clock_.advance(std::chrono::hours(1));
  logs_->enforce_retention();
  EXPECT_EQ(messages("g", "s"), (std::vector<std::string>{"now"}));
  clock_.advance(std::chrono::hours(1));
  logs_->enforce_retention();
  EXPECT_TRUE(messages("g", "s").empty());
}

TEST_F(LogStoreTest, RetentionOnlyTouchesGroupsWithAPolicyAndSurvivesRestart) {
  make_stream("kept", "s");
  make_stream("short", "s");
  make_stream("short", "other");
  const int64_t t0 = clock_.now_millis();
  for (const char* group : {"kept", "short"}) {
    logs_->put_events(kAccount, kRegion, group, "s", {{t0 - 4 * kDay, "old"}});
    logs_->put_events(kAccount, kRegion, group, "s", {{t0, "new"}});
  }
  logs_->put_events(kAccount, kRegion, "short", "other", {{t0 - 5 * kDay, "older"}});
  logs_->set_retention(kAccount, kRegion, "short", 3);
  logs_->set_retention(kAccount, kRegion, "kept", 3);
  logs_->set_retention(kAccount, kRegion, "kept", std::nullopt);  // DeleteRetentionPolicy

  open();  // the policy is durable, and enforcement works from a reloaded model
  logs_->with_group(kAccount, kRegion, "short", [](const LogGroup& g) { EXPECT_EQ(g.retention_in_days, 3); });
  logs_->with_group(kAccount, kRegion, "kept", [](const LogGroup& g) { EXPECT_FALSE(g.retention_in_days.has_value()); });
  logs_->enforce_retention();
  EXPECT_EQ(messages("short", "s"), (std::vector<std::string>{"new"}));
  EXPECT_TRUE(messages("short", "other").empty());
  EXPECT_EQ(messages("kept", "s"), (std::vector<std::string>{"old", "new"}));
}

TEST_F(LogStoreTest, PutEventsRejectsEventsOutsideTheAcceptanceWindow) {
  make_stream("g", "s");
  logs_->set_retention(kAccount, kRegion, "g", 1);
  const int64_t now = clock_.now_millis();
  RejectedInfo r = logs_->put_events(kAccount, kRegion, "g", "s",
                                     {{now - 15 * kDay, "too old"},
                                      {now - 14 * kDay - 1, "too old by a millisecond"},
                                      {now - 3 * kDay, "expired"},
                                      {now - 20 * kHour, "kept: inside retention"},
                                      {now + 2 * kHour, "kept: exactly two hours ahead"},
                                      {now + 2 * kHour + 1, "too new"}});
  // End indexes are exclusive: [0, 2) too old, [2, 3) expired, [5, 6) too new.
  EXPECT_EQ(r.too_old_end_index, 2);
  EXPECT_EQ(r.expired_end_index, 3);
  EXPECT_EQ(r.too_new_start_index, 5);
  EXPECT_EQ(messages("g", "s"), (std::vector<std::string>{"kept: inside retention", "kept: exactly two hours ahead"}));

  // An event older than 14 days is too old, not expired, whatever the retention.
  r = logs_->put_events(kAccount, kRegion, "g", "s", {{now - 20 * kDay, "x"}});
  EXPECT_EQ(r.too_old_end_index, 1);
  EXPECT_FALSE(r.expired_end_index.has_value());
  EXPECT_FALSE(r.too_new_start_index.has_value());

  // Nothing rejected: nothing reported.
  r = logs_->put_events(kAccount, kRegion, "g", "s", {{now, "fine"}});
  EXPECT_FALSE(r.too_old_end_index || r.expired_end_index || r.too_new_start_index);
}

TEST_F(LogStoreTest, TheTwentyFourHourSpanAppliesToAcceptedEventsOnly) {
  make_stream("g", "s");
  const int64_t now = clock_.now_millis();
  // The too-old event is 20 days before the others: rejected, so the batch is fine.
  RejectedInfo r = logs_->put_events(kAccount, kRegion, "g", "s", {{now - 20 * kDay, "old"}, {now - kDay, "a"}, {now, "b"}});
  EXPECT_EQ(r.too_old_end_index, 1);
  EXPECT_EQ(messages("g", "s"), (std::vector<std::string>{"a", "b"}));
  // Accepted events 24 hours and one millisecond apart: the whole batch fails.
  try {
    logs_->put_events(kAccount, kRegion, "g", "s", {{now - kDay - 1, "c"}, {now, "d"}});
    FAIL() << "a batch spanning more than 24 hours was accepted";
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code(), "InvalidParameterException");
    EXPECT_EQ(e.message(), "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.");
  }
  EXPECT_EQ(messages("g", "s").size(), 2u);
}

TEST_F(LogStoreTest, ReadStreamPagesBackwardAndForwardWithoutGapsOrRepeats) {
  make_stream("g", "s");
  const int64_t now = clock_.now_millis();
  std::vector<InputEvent> batch;
  for (int i = 0; i < 250; ++i) batch.push_back({now - 1000 + i / 3, "e" + std::to_string(i)});  // equal timestamps too
  logs_->put_events(kAccount, kRegion, "g", "s", batch);
  auto [group_id, stream_ids] = ids("g", {"s"});

  // Backward from the end, 40 at a time: each page ascending, pages newest first.
  std::vector<std::string> seen;
  std::optional<StreamPosition> from;
  for (;;) {
    auto page = logs_->read_stream(group_id, stream_ids[0], INT64_MIN, INT64_MAX, from, false, 40, SIZE_MAX);
    if (page.empty()) break;
    ASSERT_LE(page.size(), 40u);
    std::vector<std::string> names;
    for (const auto& e : page) names.push_back(e.message);
    seen.insert(seen.begin(), names.begin(), names.end());
    from = StreamPosition{page.front().timestamp, page.front().sequence};
  }
  ASSERT_EQ(seen.size(), 250u);
  for (int i = 0; i < 250; ++i) EXPECT_EQ(seen[i], "e" + std::to_string(i));

  // Forward from the head with a byte budget: pages stop before exceeding it (26 bytes of
  // overhead per event), but always hold at least one event.
  auto page = logs_->read_stream(group_id, stream_ids[0], INT64_MIN, INT64_MAX, std::nullopt, true, 10000, 3 * (2 + 26) + 5);
  EXPECT_EQ(page.size(), 3u);
  page = logs_->read_stream(group_id, stream_ids[0], INT64_MIN, INT64_MAX, std::nullopt, true, 10000, 1);
  EXPECT_EQ(page.size(), 1u);

  // A time range is [start, end).
  page = logs_->read_stream(group_id, stream_ids[0], now - 1000, now - 998, std::nullopt, true, 10000, SIZE_MAX);
  EXPECT_EQ(page.size(), 6u);
  page = logs_->read_stream(group_id, stream_ids[0], now, now - 10, std::nullopt, true, 10000, SIZE_MAX);
  EXPECT_TRUE(page.empty());
}

TEST_F(LogStoreTest, ScanStreamsInterleavesByTimestampThenIngestionOrder) {
  make_stream("g", "a");
  make_stream("g", "b");
  make_stream("g", "c");
  const int64_t t = clock_.now_millis() - 100;
  logs_->put_events(kAccount, kRegion, "g", "b", {{t + 1, "b1"}, {t + 3, "b3"}});
  logs_->put_events(kAccount, kRegion, "g", "a", {{t + 1, "a1"}, {t + 2, "a2"}, {t + 3, "a3"}});
  logs_->put_events(kAccount, kRegion, "g", "c", {{t + 0, "c0"}, {t + 3, "c3"}});
  auto [group_id, stream_ids] = ids("g", {"a", "b", "c"});

  auto scan = [&](const std::vector<uint64_t>& streams, int64_t start, int64_t end, std::optional<LogStore::MergePosition> after, size_t stop_after) {
    std::vector<std::string> out;
    std::vector<LogStore::MergePosition> positions;
    logs_->scan_streams(group_id, streams, start, end, after, [&](const EventView& e) {
      out.emplace_back(e.message);
      positions.push_back({e.timestamp, e.sequence});
      return out.size() < stop_after;
    });
    return std::make_pair(out, positions);
  };
  // Equal timestamps come in ingestion order (b's batch, then a's, then c's).
  auto [all, positions] = scan(stream_ids, INT64_MIN, INT64_MAX, std::nullopt, 100);
  EXPECT_EQ(all, (std::vector<std::string>{"c0", "b1", "a1", "a2", "b3", "a3", "c3"}));

  // Resuming strictly after any position continues exactly where the scan stopped.
  for (size_t i = 0; i < positions.size(); ++i) {
    auto [rest, unused] = scan(stream_ids, INT64_MIN, INT64_MAX, positions[i], 100);
    EXPECT_EQ(rest, std::vector<std::string>(all.begin() + static_cast<long>(i) + 1, all.end())) << "after " << all[i];
  }
  // Time range [start, end) and a subset of streams.
  auto [ranged, unused1] = scan({stream_ids[0], stream_ids[2]}, t + 1, t + 3, std::nullopt, 100);
  EXPECT_EQ(ranged, (std::vector<std::string>{"a1", "a2"}));
  auto [stopped, unused2] = scan(stream_ids, INT64_MIN, INT64_MAX, std::nullopt, 2);
  EXPECT_EQ(stopped, (std::vector<std::string>{"c0", "b1"}));
}

TEST_F(LogStoreTest, DeletingAStreamOrGroupDropsItsEvents) {
  make_stream("g", "s");
  const int64_t now = clock_.now_millis();
  logs_->put_events(kAccount, kRegion, "g", "s", {{now, "x"}});
  auto [group_id, stream_ids] = ids("g", {"s"});
  logs_->delete_stream(kAccount, kRegion, "g", "s");
  EXPECT_TRUE(logs_->read_stream(group_id, stream_ids[0], INT64_MIN, INT64_MAX, std::nullopt, true, 10, SIZE_MAX).empty());
  try {
    logs_->put_events(kAccount, kRegion, "g", "s", {{now, "y"}});
    FAIL() << "put to a deleted stream";
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code(), "ResourceNotFoundException");
    EXPECT_EQ(e.message(), "The specified log stream does not exist.");
  }
  logs_->delete_group(kAccount, kRegion, "g");
  try {
    logs_->create_stream(kAccount, kRegion, "g", "s");
    FAIL() << "stream created in a deleted group";
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code(), "ResourceNotFoundException");
    EXPECT_EQ(e.message(), "The specified log group does not exist.");
  }
}

}  // namespace
}  // namespace vigil::logs
