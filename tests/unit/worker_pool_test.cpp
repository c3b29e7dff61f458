#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "http/worker_pool.h"

using namespace std::chrono_literals;
using vigil::http::WorkerPool;

namespace {
void wait_until_all_idle(WorkerPool& pool) {
  while (pool.idle_threads() != pool.size()) std::this_thread::yield();
}

// Waits (up to a minute, so a lost wake-up fails instead of hanging) until `count` reaches
// `expected` while the pool runs: join() would run what is queued whether or not a thread
// was woken for it.
bool reaches(const std::atomic<int>& count, int expected) {
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (count.load() != expected)
    if (std::chrono::steady_clock::now() > deadline) return false;
    else std::this_thread::sleep_for(1ms);
  return true;
}
}  // namespace

TEST(WorkerPool, RunsEveryTaskPostedFromManyThreadsIncludingMoveOnlyOnes) {
  std::atomic<int> ran{0};
  {
    WorkerPool pool(8);
    std::vector<std::thread> posters;
    for (int p = 0; p < 4; ++p)
      posters.emplace_back([&] {
        for (int i = 0; i < 5000; ++i) {
          auto owned = std::make_unique<int>(1);  // a move-only capture
          pool.post([&ran, owned = std::move(owned)] { ran += *owned; });
        }
      });
    for (auto& t : posters) t.join();
    EXPECT_TRUE(reaches(ran, 20000));
    pool.join();
    pool.join();  // again: nothing to do
  }
  EXPECT_EQ(ran.load(), 20000);
}

TEST(WorkerPool, BlockedTasksDoNotStopOthersFromRunning) {
  // Handlers block on fsyncs: a task queued behind blocked ones must wake another thread.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> ran{0};
  WorkerPool pool(4);  // after what its tasks use: destroyed (joined) first
  for (int i = 0; i < 3; ++i) pool.post([released] { released.wait(); });
  pool.post([&ran] { ++ran; });
  EXPECT_TRUE(reaches(ran, 1));
  release.set_value();
}

TEST(WorkerPool, AQueuedTaskIsTakenByAThreadThatFinishesEvenWithNoneIdle) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> later{0};
  WorkerPool pool(2);
  pool.post([released] { released.wait(); });
  pool.post([released] { released.wait(); });
  for (int i = 0; i < 100; ++i) pool.post([&later] { ++later; });
  release.set_value();
  EXPECT_TRUE(reaches(later, 100));  // the two threads drain the queue when they finish
}

TEST(WorkerPool, WakesTheThreadThatWentIdleLast) {
  // One task at a time, each posted once every thread is asleep: the thread that ran the
  // last task is the warmest and runs them all. (asio's pool rotated through every thread.)
  WorkerPool pool(16);
  std::set<std::thread::id> runners;  // (the promises below outlive their one task each)
  for (int i = 0; i < 200; ++i) {
    wait_until_all_idle(pool);
    std::promise<std::thread::id> who;
    pool.post([&who] { who.set_value(std::this_thread::get_id()); });
    runners.insert(who.get_future().get());
  }
  EXPECT_EQ(runners.size(), 1u);
}
