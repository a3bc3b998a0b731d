// A fixed pool of worker threads with a bounded queue. gRPC reactions must not block, so RPC
// bodies that touch storage (and wait for a group commit's fsync) run here. The number of
// workers bounds how many commits can share one fsync.
#ifndef VIGIL_SERVICES_COMMON_EXECUTOR_H_
#define VIGIL_SERVICES_COMMON_EXECUTOR_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace vigil {

class Executor {
 public:
  // Starts `threads` workers (at least 1); at most `max_queued` tasks wait for a worker.
  Executor(size_t threads, size_t max_queued);
  // Runs every task already queued, then joins the workers.
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Queues `task`. Returns false, without running it, when the queue is full or the executor
  // is shutting down. Thread-safe.
  bool TrySchedule(std::function<void()> task);

  // Stops accepting tasks, runs those queued, joins the workers. Idempotent.
  void Shutdown();

  size_t queued() const;

 private:
  void Work();

  const size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                    // GUARDED_BY(mu_)
  std::vector<std::thread> workers_;
};

}  // namespace vigil

#endif  // VIGIL_SERVICES_COMMON_EXECUTOR_H_
