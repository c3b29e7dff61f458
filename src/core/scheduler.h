// Background work (retention, alarm evaluation, trail delivery...) runs as periodic jobs on
// one scheduler. Time comes from the injected Clock: tests call run_due() after advancing a
// ManualClock instead of sleeping; the server runs a thread that calls run_due() as time passes.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"

namespace vigil {

class Scheduler {
 public:
  explicit Scheduler(const Clock& clock) : clock_(clock) {}
  ~Scheduler() { stop(); }

  // Runs `job` every `period`, first at now + period. Jobs must not throw (errors are logged).
  void every(std::string name, std::chrono::milliseconds period, std::function<void()> job);
  // Runs every job whose time has come (by the clock), in due order. Returns how many ran.
  int run_due();
  // Starts a thread that calls run_due() about every `tick` of real time, until stop().
  void start(std::chrono::milliseconds tick = std::chrono::milliseconds(250));
  void stop();
  // Runs `fn` while no job runs (jobs due meanwhile wait): POST /_vigil/reset clears the
  // store this way, so no job writes state from before the reset after it.
  void while_idle(const std::function<void()>& fn);

 private:
  struct Job {
    std::string name;
    std::chrono::milliseconds period;
    int64_t next_due_millis;
    std::function<void()> run;
  };
  const Clock& clock_;
  std::mutex mutex_;
  std::mutex running_;  // held while a job runs (after mutex_ is released)
  std::vector<Job> jobs_;
  std::thread thread_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

}  // namespace vigil
