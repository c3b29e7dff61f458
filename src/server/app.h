// The whole server assembled: store, clock, scheduler, bus, services, dispatcher, listener.
// main() parses flags into AppOptions; tests build an App on a temporary directory.
#pragma once

#include <memory>
#include <string>

#include "core/clock.h"

namespace vigil::server {

struct AppOptions {
  std::string listen = "127.0.0.1:4566";
  std::string data_dir = "./vigil-data";
  std::string config_path;  // empty: development defaults
  int trail_delivery_interval_seconds = 300;
  int trail_digest_interval_seconds = 3600;
  // Longest time between two evaluations of an alarm (AWS: 60; shorter for tests and demos).
  int alarm_evaluation_interval_seconds = 60;
  // How often metric roll-ups, retention and packing run (MetricStore::compact; shorter for
  // tests and benchmarks that want settled data now).
  int metric_compaction_interval_seconds = 600;
  // CloudTrail Insights (services/cloudtrail/insights.h): the counting period (AWS: a minute),
  // the baseline window (AWS: 7 days) and the learning time before the first Insights event;
  // shorter for tests and demos.
  int insights_period_seconds = 60;
  int insights_baseline_seconds = 7 * 24 * 3600;
  int insights_min_history_seconds = 36 * 3600;
};

class App {
 public:
  // Opens the store and builds every service. Throws std::runtime_error with a clear message.
  App(AppOptions options, const Clock& clock);
  ~App();
  // Binds the listener (throws if the port is in use) and returns the bound port.
  unsigned short listen();
  // Serves until stop(); flushes and syncs the store before returning.
  void run();
  void stop();
  std::string banner() const;  // endpoint and credentials, printed at start

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::server
