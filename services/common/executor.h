// A fixed pool of worker threads with a bounded queue. gRPC reactions must not block, so RPC
// bodies that touch storage (and wait for a group commit's fsync) run here. The number of
// workers bounds how many commits can share one fsync.
#ifndef VIGIL_SERVICES_COMMON_EXECUTOR_H_
#define VIGIL_SERVICES_COMMON_EXECUTOR_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

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
  bool TrySchedule(std::function<void()> task) ABSL_LOCKS_EXCLUDED(mu_);

  // Stops accepting tasks, runs those queued, joins the workers. Idempotent.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

  size_t queued() const;
  // How many tasks it holds at most: its workers' and its queue's.
  size_t capacity() const { return threads_ + max_queued_; }

 private:
  void Work() ABSL_LOCKS_EXCLUDED(mu_);

  const size_t threads_;
  const size_t max_queued_;
  mutable absl::Mutex mu_;
  absl::CondVar ready_;  // with mu_: a task was queued, or stopping_ set
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace vigil

#endif  // VIGIL_SERVICES_COMMON_EXECUTOR_H_
