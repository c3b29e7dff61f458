// CloudTrail storage benchmarks in-process (run by bench/cloudtrail_bench.py; usable alone):
//
//   audit_history_bench load --data-dir DIR --events N
//       Records N management events through EventHistory::record (the recorder every API
//       call goes through), spread over the last 80 days, into a server data directory that
//       `vigil serve --data-dir DIR` then serves. 10 IAM users, 8 CloudWatch Logs operations;
//       one call in 1 000 is DeleteLogGroup by user "auditor" (the rare attribute a lookup
//       asks for). Prints JSON: events, seconds, events_per_s, bytes_on_disk.
//   audit_history_bench deliver --events N [--work DIR]
//       One logging trail; N recorded events reach it through the event bus, then ONE
//       TrailStore::deliver() writes them as gzip log files to its bucket. Prints JSON: events,
//       record_seconds, deliver_seconds, files, bytes (compressed), events_per_s.
//   audit_history_bench record-cost --events N [--threads T] [--work DIR]
//       The recorder's CPU cost per call, the steady figure behind the HTTP benchmark's noisy
//       on/off ratio: N read-only management calls (DescribeLogGroups by the root user, as the
//       HTTP benchmark sends) go through EventHistory::record with the bus subscribers the
//       server has (trails and Lake, none configured). Prints JSON: caller_us_per_call (the
//       request thread's CPU) and total_us_per_call (the whole process: also the store's
//       background writer and flushes). With T threads (default 1) the calls are recorded by T
//       threads at once, as the server's worker pool does: caller_us_per_call is their CPU.
//
// Why in-process: loading 10 M events through HTTP would take the benchmark's whole budget;
// what the figures are about (the store's write path, the lookup index, delivery) is the same.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/event_bus.h"
#include "server/accounts.h"
#include "services/cloudtrail/event_history.h"
#include "services/cloudtrail/lake.h"
#include "services/cloudtrail/trails.h"
#include "services/logs/log_store.h"
#include "services/logs/logs_service.h"
#include "services/s3/object_store.h"
#include "store/store.h"

namespace {

using namespace vigil;
constexpr const char* kAccount = "000000000000";
constexpr const char* kRegion = "us-east-1";

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

uint64_t bytes_under(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file()) total += e.file_size();
  return total;
}

struct Recorder {
  std::vector<server::Principal> users;
  server::Principal auditor{kAccount, "auditor", "AKIAAUDITOR", "x", false};
  logs::LogsService* logs = nullptr;
  cloudtrail::EventHistory* history = nullptr;

  void record(uint64_t i, double time) {
    static const char* const kOps[] = {"CreateLogGroup",  "PutRetentionPolicy", "CreateLogStream",    "TagLogGroup",
                                       "DescribeLogGroups", "DescribeLogStreams", "PutSubscriptionFilter", "DeleteRetentionPolicy"};
    const bool rare = i % 1000 == 999;
    server::CallContext ctx;
    ctx.principal = rare ? &auditor : &users[i % users.size()];
    ctx.account_id = kAccount;
    ctx.region = kRegion;
    ctx.request_id = "r" + std::to_string(i);
    ctx.source_ip = "10.0." + std::to_string(i % 250) + ".7";
    ctx.user_agent = "aws-cli/1.43.0 Python/3.11";
    ctx.time = time;
    const std::string group = "/app/service-" + std::to_string(i % 5000);
    ctx.resources.emplace_back("AWS::Logs::LogGroup", group);
    Value input = Value::map();
    input.set("logGroupName", group);
    Value output = Value::map();
    history->record({&ctx, logs, rare ? "DeleteLogGroup" : kOps[(i / 7) % std::size(kOps)], &input, &output, nullptr});
  }
};

int load(const std::string& dir, uint64_t events) {
  SystemClock clock;
  auto store = store::Store::open(dir);
  logs::LogStore log_store(*store, clock);
  logs::LogsService logs(log_store, clock);
  cloudtrail::EventHistory history(*store, clock, nullptr);
  Recorder r;
  r.logs = &logs;
  r.history = &history;
  for (int u = 0; u < 10; ++u) r.users.push_back(server::Principal{kAccount, "user" + std::to_string(u), "AKIAUSER" + std::to_string(u), "x", false});
  const double now = clock.now_seconds();
  const double span = 80.0 * 86400;
  auto t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < events; ++i) r.record(i, now - span + span * static_cast<double>(i) / static_cast<double>(events));
  store->sync();
  const double s = seconds_since(t0);
  store.reset();
  std::printf("{\"events\": %llu, \"seconds\": %.2f, \"events_per_s\": %.0f, \"bytes_on_disk\": %llu}\n",
              static_cast<unsigned long long>(events), s, static_cast<double>(events) / s, static_cast<unsigned long long>(bytes_under(dir)));
  return 0;
}

// The models a server wires together for recording and trail delivery, over `dir`.
struct Services {
  explicit Services(const std::string& dir)
      : store(store::Store::open(dir + "/db")),
        log_store(*store, clock),
        logs(log_store, clock),
        objects(*store, dir + "/s3"),
        trails(*store, clock, objects),
        history(*store, clock, &bus) {
    trails.load();
    bus.subscribe([this](const BusEvent& e) { trails.on_event(e); });
  }
  SystemClock clock;
  std::unique_ptr<store::Store> store;
  logs::LogStore log_store;
  logs::LogsService logs;
  EventBus bus;
  s3::ObjectStore objects;
  cloudtrail::TrailStore trails;
  cloudtrail::EventHistory history;
};

int deliver(const std::string& dir, uint64_t events) {
  std::filesystem::create_directories(dir);
  Services services(dir);
  SystemClock& clock = services.clock;
  auto& logs = services.logs;
  auto& objects = services.objects;
  auto& trails = services.trails;
  auto& history = services.history;
  objects.create_bucket({"bench-trail-bucket", kAccount, kRegion, clock.now_seconds()});
  Value in = Value::map();
  in.set("Name", "bench");
  in.set("S3BucketName", "bench-trail-bucket");
  trails.create(kAccount, kRegion, in);
  trails.set_logging(kAccount, kRegion, "bench", true);
  Recorder r;
  r.logs = &logs;
  r.history = &history;
  for (int u = 0; u < 10; ++u) r.users.push_back(server::Principal{kAccount, "user" + std::to_string(u), "AKIAUSER" + std::to_string(u), "x", false});
  auto t0 = std::chrono::steady_clock::now();
  const double now = clock.now_seconds();
  for (uint64_t i = 0; i < events; ++i) r.record(i, now);
  const double record_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  int files = trails.deliver();
  const double deliver_s = seconds_since(t0);
  uint64_t bytes = 0, listed = 0;
  s3::ListQuery q;
  while (true) {
    s3::ListResult page = objects.list("bench-trail-bucket", q);
    for (const auto& e : page.entries) {
      bytes += e.object.size;
      ++listed;
      q.after = e.object.key;
    }
    if (!page.truncated) break;
  }
  std::printf("{\"events\": %llu, \"record_seconds\": %.2f, \"deliver_seconds\": %.2f, \"files\": %d, \"objects\": %llu, "
              "\"bytes\": %llu, \"events_per_s\": %.0f, \"files_per_s\": %.1f}\n",
              static_cast<unsigned long long>(events), record_s, deliver_s, files, static_cast<unsigned long long>(listed),
              static_cast<unsigned long long>(bytes), static_cast<double>(events) / deliver_s, files / deliver_s);
  return 0;
}

double cpu_seconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

int record_cost(const std::string& dir, uint64_t events, unsigned threads) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  Services services(dir);  // trails subscribed, as in the server
  SystemClock& clock = services.clock;
  auto& store = services.store;
  auto& logs = services.logs;
  auto& history = services.history;
  cloudtrail::LakeStore lake(*store, clock);
  services.bus.subscribe([&](const BusEvent& e) { lake.on_event(e); });
  server::Principal root{kAccount, "", "AKIAROOT", "x", true};
  Value input = Value::map();
  Value output = Value::map();
  output.set("logGroups", Value::list());
  std::atomic<uint64_t> next{0};
  std::vector<double> thread_cpu(threads, 0);
  auto record_some = [&](unsigned t) {
    const double cpu0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    for (uint64_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < events;) {
      server::CallContext ctx;
      ctx.principal = &root;
      ctx.account_id = kAccount;
      ctx.region = kRegion;
      ctx.request_id = "0f5c2a4e-3b1d-4c8e-9a7f-" + std::to_string(100000000000 + i);
      ctx.source_ip = "127.0.0.1";
      ctx.user_agent = "Boto3/1.43.0 md/Botocore#1.43.0 ua/2.1 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.7 cfg/retry-mode#legacy Botocore/1.43.0";
      ctx.time = clock.now_seconds();
      history.record({&ctx, &logs, "DescribeLogGroups", &input, &output, nullptr});
    }
    thread_cpu[t] = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu0;
  };
  const double total0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
  auto t0 = std::chrono::steady_clock::now();
  if (threads <= 1) {
    record_some(0);
  } else {
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) pool.emplace_back(record_some, t);
    for (auto& th : pool) th.join();
  }
  double caller = 0;
  for (double c : thread_cpu) caller += c;
  store->wait_for_deferred();
  const double total = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - total0;
  // And with the background work those writes left: memtable flushes and compactions.
  store->settle();
  const double settled = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - total0;
  const double s = seconds_since(t0);
  const double n = static_cast<double>(events);
  std::printf("{\"events\": %llu, \"seconds\": %.2f, \"caller_us_per_call\": %.2f, \"total_us_per_call\": %.2f, \"settled_us_per_call\": %.2f}\n",
              static_cast<unsigned long long>(events), s, caller / n * 1e6, total / n * 1e6, settled / n * 1e6);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: audit_history_bench load --data-dir DIR --events N | deliver --events N [--work DIR]\n");
    return 2;
  }
  std::string mode = argv[1], dir = "/tmp/vigil-audit-bench";
  uint64_t events = 1'000'000;
  unsigned threads = 1;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--data-dir" || flag == "--work")
      dir = argv[i + 1];
    else if (flag == "--events")
      events = std::strtoull(argv[i + 1], nullptr, 10);
    else if (flag == "--threads")
      threads = std::max(1u, static_cast<unsigned>(std::strtoul(argv[i + 1], nullptr, 10)));
  }
  if (mode == "load") return load(dir, events);
  if (mode == "deliver") return deliver(dir, events);
  if (mode == "record-cost") return record_cost(dir, events, threads);
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
