#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/clock.h"
#include "core/scheduler.h"

using namespace std::chrono_literals;

TEST(Scheduler, RunsJobsWhenTheInjectedClockSaysSo) {
  vigil::ManualClock clock;
  vigil::Scheduler scheduler(clock);
  int minutely = 0, hourly = 0;
  scheduler.every("minutely", 1min, [&] { ++minutely; });
  scheduler.every("hourly", 1h, [&] { ++hourly; });
  EXPECT_EQ(scheduler.run_due(), 0);
  clock.advance(59s);
  EXPECT_EQ(scheduler.run_due(), 0);
  clock.advance(1s);
  EXPECT_EQ(scheduler.run_due(), 1);
  EXPECT_EQ(minutely, 1);
  clock.advance(1h);
  scheduler.run_due();
  // A long gap runs a job once, not once per missed period.
  EXPECT_EQ(minutely, 2);
  EXPECT_EQ(hourly, 1);
}

TEST(Scheduler, AFailingJobDoesNotStopOthers) {
  vigil::ManualClock clock;
  vigil::Scheduler scheduler(clock);
  int ran = 0;
  scheduler.every("throws", 1s, [] { throw std::runtime_error("boom"); });
  scheduler.every("counts", 1s, [&] { ++ran; });
  clock.advance(1s);
  EXPECT_EQ(scheduler.run_due(), 2);
  EXPECT_EQ(ran, 1);
}

TEST(Scheduler, WhileIdleWaitsForTheRunningJobAndHoldsBackTheNext) {
  vigil::ManualClock clock;
  vigil::Scheduler scheduler(clock);
  std::atomic<bool> job_running{false}, job_may_finish{false}, in_idle{false}, idle_done{false};
  std::atomic<int> overlaps{0}, runs{0};
  scheduler.every("slow", 1s, [&] {
    if (in_idle) ++overlaps;
    job_running = true;
    while (!job_may_finish) std::this_thread::yield();
    job_running = false;
    ++runs;
  });
  clock.advance(1s);
  std::thread first([&] { scheduler.run_due(); });
  while (!job_running) std::this_thread::yield();
  std::thread next;
  std::thread reset([&] {
    scheduler.while_idle([&] {
      in_idle = true;
      if (job_running) ++overlaps;
      clock.advance(1s);
      next = std::thread([&] { scheduler.run_due(); });  // due now, but waits for the reset
      std::this_thread::sleep_for(50ms);
      in_idle = false;
      idle_done = true;
    });
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(idle_done.load());  // the reset waits for the running job
  job_may_finish = true;
  first.join();
  reset.join();
  next.join();
  EXPECT_TRUE(idle_done.load());
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(runs.load(), 2);
}
