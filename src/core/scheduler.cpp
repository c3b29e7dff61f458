#include "core/scheduler.h"

#include <cstdio>
#include <exception>

namespace vigil {

void Scheduler::every(std::string name, std::chrono::milliseconds period, std::function<void()> job) {
  std::lock_guard lock(mutex_);
  jobs_.push_back(Job{std::move(name), period, clock_.now_millis() + period.count(), std::move(job)});
}

int Scheduler::run_due() {
  int ran = 0;
  for (;;) {
    std::function<void()> run;
    std::string name;
    {
      std::lock_guard lock(mutex_);
      int64_t now = clock_.now_millis();
      Job* due = nullptr;
      for (auto& job : jobs_)
        if (job.next_due_millis <= now && (!due || job.next_due_millis < due->next_due_millis)) due = &job;
      if (!due) return ran;
      // Catch up without replaying every missed period: the next run is one period after now.
      due->next_due_millis = now + due->period.count();
      run = due->run;
      name = due->name;
    }
    try {
      std::lock_guard running(running_);
      run();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "vigil: scheduled job %s failed: %s\n", name.c_str(), e.what());
    }
    ++ran;
  }
}

void Scheduler::start(std::chrono::milliseconds tick) {
  thread_ = std::thread([this, tick] {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      run_due();
      lock.lock();
      wake_.wait_for(lock, tick, [this] { return stopping_; });
    }
  });
}

void Scheduler::while_idle(const std::function<void()>& fn) {
  std::lock_guard running(running_);
  fn();
}

void Scheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace vigil
