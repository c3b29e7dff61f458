#include "http/worker_pool.h"

namespace vigil::http {

WorkerPool::WorkerPool(size_t threads) : sleepers_(threads) {
  threads_.reserve(threads);
  idle_.reserve(threads);  // work() never allocates under the lock
  try {
    for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this, i] { work(sleepers_[i]); });
  } catch (...) {
    join();  // the threads already started (a thread limit was hit): the caller gets the error
    throw;
  }
}

WorkerPool::~WorkerPool() { join(); }

// Cost: one lock, a deque push and, when a thread must wake, one condition variable signal
// (a futex wake) issued after the lock is released.
void WorkerPool::enqueue(std::unique_ptr<Task> task) {
  std::unique_lock lock(mutex_);
  queue_.push_back(std::move(task));
  if (queue_.size() <= waking_ || idle_.empty()) return;
  Sleeper* to_wake = idle_.back();
  idle_.pop_back();
  to_wake->woken = true;
  ++waking_;
  // Signalled after unlocking, so the woken thread does not at once block on the lock (the
  // Sleeper outlives every thread: it is the pool's).
  lock.unlock();
  to_wake->wake.notify_one();
}

void WorkerPool::work(Sleeper& me) {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (!queue_.empty()) {
      std::unique_ptr<Task> task = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      // A handler's exception ends the process, as it did with asio's pool: handlers answer
      // errors themselves, so one escaping is a bug to see, not to hide.
      task->run();
      task.reset();  // its captures (a session, a file) are released outside the lock
      lock.lock();
      continue;
    }
    if (stopping_) return;
    idle_.push_back(&me);
    me.wake.wait(lock, [&] { return me.woken; });
    me.woken = false;
    --waking_;  // the waker took `me` off idle_ and counted it
  }
}

size_t WorkerPool::idle_threads() {
  std::lock_guard lock(mutex_);
  return idle_.size();
}

void WorkerPool::join() {
  std::lock_guard joining(join_mutex_);  // stop() may come from a signal thread and the destructor
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (Sleeper* s : idle_) {
      s->woken = true;
      ++waking_;
      s->wake.notify_one();
    }
    idle_.clear();
  }
  for (std::thread& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

}  // namespace vigil::http
