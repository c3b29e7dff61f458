// vigil: the command line. See DESIGN.md "Command-line contract".
#include <csignal>
#include <cstdio>
#include <cstring>
#include <pthread.h>
#include <string>
#include <thread>

#include "core/clock.h"
#include "server/app.h"
#include "tools/trail_validate.h"

namespace {

int usage(FILE* out) {
  std::fprintf(out,
               "usage: vigil serve [--listen HOST:PORT] [--data-dir DIR] [--config FILE]\n"
               "                   [--trail-delivery-interval SECONDS] [--trail-digest-interval SECONDS]\n"
               "                   [--alarm-evaluation-interval SECONDS] [--metric-compaction-interval SECONDS]\n"
               "                   [--insights-period SECONDS] [--insights-baseline SECONDS] [--insights-min-history SECONDS]\n"
               "       vigil trail validate --trail-arn ARN --start-time TIME [--end-time TIME] [--verbose]\n"
               "                            (--endpoint URL | --data-dir DIR)   (vigil trail validate --help)\n"
               "       vigil --version\n");
  return out == stderr ? 2 : 0;
}

int parse_seconds(const char* flag, const std::string& value) {
  try {
    size_t used = 0;
    int v = std::stoi(value, &used);
    if (used == value.size() && v > 0) return v;
  } catch (...) {
  }
  std::fprintf(stderr, "vigil: %s needs a positive number of seconds, got '%s'\n", flag, value.c_str());
  std::exit(2);
}

int serve(int argc, char** argv) {
  vigil::server::AppOptions options;
  for (int i = 2; i < argc; ++i) {
    std::string flag = argv[i];
    std::string value;
    if (flag == "--help" || flag == "-h") return usage(stdout);
    std::string name = flag.substr(0, flag.find('='));
    if (name != "--listen" && name != "--data-dir" && name != "--config" && name != "--trail-delivery-interval" && name != "--trail-digest-interval" &&
        name != "--alarm-evaluation-interval" && name != "--metric-compaction-interval" && name != "--insights-period" &&
        name != "--insights-baseline" && name != "--insights-min-history") {
      std::fprintf(stderr, "vigil: unknown flag %s\n", name.c_str());
      usage(stderr);
      return 2;
    }
    size_t eq = flag.find('=');
    if (eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      std::fprintf(stderr, "vigil: %s needs a value\n", flag.c_str());
      return 2;
    }
    if (flag == "--listen") options.listen = value;
    else if (flag == "--data-dir") options.data_dir = value;
    else if (flag == "--config") options.config_path = value;
    else if (flag == "--trail-delivery-interval") options.trail_delivery_interval_seconds = parse_seconds("--trail-delivery-interval", value);
    else if (flag == "--trail-digest-interval") options.trail_digest_interval_seconds = parse_seconds("--trail-digest-interval", value);
    else if (flag == "--insights-period") options.insights_period_seconds = parse_seconds("--insights-period", value);
    else if (flag == "--insights-baseline") options.insights_baseline_seconds = parse_seconds("--insights-baseline", value);
    else if (flag == "--insights-min-history") options.insights_min_history_seconds = parse_seconds("--insights-min-history", value);
    else if (flag == "--metric-compaction-interval") options.metric_compaction_interval_seconds = parse_seconds("--metric-compaction-interval", value);
    else options.alarm_evaluation_interval_seconds = parse_seconds("--alarm-evaluation-interval", value);
  }

  // Signals are taken by one thread with sigwait, so the stop path is ordinary code.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  static vigil::SystemClock clock;
  try {
    vigil::server::App app(options, clock);
    app.listen();
    std::printf("%s\n", app.banner().c_str());
    std::fflush(stdout);
    std::thread waiter([&] {
      int signal = 0;
      sigwait(&signals, &signal);
      app.stop();
    });
    app.run();
    // Wake the waiter if run() ended for another reason.
    pthread_kill(waiter.native_handle(), SIGTERM);
    waiter.join();
    std::fprintf(stderr, "vigil: stopped\n");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vigil: %s\n", e.what());
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && (std::strcmp(argv[1], "--version") == 0 || std::strcmp(argv[1], "version") == 0)) {
    std::printf("vigil %s\n", VIGIL_VERSION);
    return 0;
  }
  if (argc >= 2 && std::strcmp(argv[1], "serve") == 0) return serve(argc, argv);
  if (argc >= 3 && std::strcmp(argv[1], "trail") == 0 && std::strcmp(argv[2], "validate") == 0) return vigil::tools::trail_validate_main(argc, argv);
  if (argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "help") == 0)) return usage(stdout);
  return usage(stderr);
}
