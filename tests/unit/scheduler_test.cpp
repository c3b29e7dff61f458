#include <gtest/gtest.h>

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
