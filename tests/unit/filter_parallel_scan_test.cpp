// FilterLogEvents split over two threads must page exactly like the single-threaded scan.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "core/clock.h"
#include "services/logs/log_store.h"
#include "services/logs/logs_service.h"
#include "store/store.h"

namespace {

using vigil::Value;

struct ParallelScan : ::testing::Test {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("vigil-ps-" + std::to_string(::getpid()));
  vigil::ManualClock clock{1'800'000'000'000};
  std::unique_ptr<vigil::store::Store> store = vigil::store::Store::open(dir.string());
  vigil::logs::LogStore logs{*store, clock};
  vigil::logs::LogsService serial{logs, clock, INT64_MAX};
  vigil::logs::LogsService parallel{logs, clock, 0};
  vigil::server::Principal root{"000000000000", "root", "test", "test", true};

  ~ParallelScan() override {
    store.reset();
    std::filesystem::remove_all(dir);
  }

  Value call(vigil::logs::LogsService& service, const char* op, Value input) {
    vigil::server::CallContext ctx;
    ctx.principal = &root;
    ctx.account_id = "000000000000";
    ctx.region = "us-east-1";
    return (*service.handler(op))(ctx, input);
  }

  // Pages through FilterLogEvents; returns every page's event ids, and how many pages.
  std::pair<std::vector<std::string>, int> page_through(vigil::logs::LogsService& service, int64_t limit, const char* pattern) {
    std::vector<std::string> ids;
    int pages = 0;
    std::string token;
    do {
      Value in = Value::map();
      in.set("logGroupName", "g");
      in.set("limit", limit);
      in.set("filterPattern", pattern);
      if (!token.empty()) in.set("nextToken", token);
      Value out = call(service, "FilterLogEvents", in);
      for (const auto& e : out.get("events")->as_list()) ids.emplace_back(e.str("eventId"));
      token = std::string(out.str("nextToken"));
      ++pages;
    } while (!token.empty() && pages < 10'000);
    return {ids, pages};
  }
};

TEST_F(ParallelScan, PagesLikeTheSerialScan) {
  Value group = Value::map();
  group.set("logGroupName", "g");
  call(serial, "CreateLogGroup", group);
  for (const char* name : {"a", "b", "c"}) {
    Value stream = group;
    stream.set("logStreamName", name);
    call(serial, "CreateLogStream", stream);
  }
  // 3 streams x 10 batches x 100 events over ~3 minutes, with repeated timestamps.
  int64_t t0 = clock.now_millis() - 3 * 60 * 1000;
  for (int batch = 0; batch < 10; ++batch) {
    for (const char* name : {"a", "b", "c"}) {
      Value put = group;
      put.set("logStreamName", name);
      Value events = Value::list();
      for (int i = 0; i < 100; ++i) {
        Value e = Value::map();
        e.set("timestamp", t0 + batch * 18'000 + i * 150);
        e.set("message", std::string(i % 7 == 0 ? "ERROR " : "INFO ") + name + " " + std::to_string(batch * 100 + i));
        events.push(e);
      }
      put.set("logEvents", events);
      call(serial, "PutLogEvents", put);
    }
  }
  for (int64_t limit : {1, 7, 50, 10'000}) {
    for (const char* pattern : {"", "ERROR", "NOTHING_MATCHES"}) {
      auto [expected, expected_pages] = page_through(serial, limit, pattern);
      auto [got, pages] = page_through(parallel, limit, pattern);
      EXPECT_EQ(got, expected) << "limit " << limit << " pattern '" << pattern << "'";
      std::set<std::string> unique(got.begin(), got.end());
      EXPECT_EQ(unique.size(), got.size());
    }
  }
  EXPECT_EQ(page_through(parallel, 10'000, "").first.size(), 3000u);
}

}  // namespace
