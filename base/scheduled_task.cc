#include "base/scheduled_task.h"

namespace vigil {

void ScheduledTask::Start() {
  absl::MutexLock lock(&mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void ScheduledTask::Stop() {
  std::thread thread;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    thread = std::move(thread_);
  }
  if (thread.joinable()) thread.join();
}

void ScheduledTask::Run() {
  bool first = true;
  while (true) {
    const absl::Time now = clock_.Now();
    const absl::Time due = first && run_at_start_ ? now : next_(now);
    first = false;
    {
      absl::MutexLock lock(&mu_);
      // Short waits: the clock may be a manual one, and a stop must be prompt.
      while (!stopping_ && clock_.Now() < due) {
        mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Seconds(1));
      }
      if (stopping_) return;
    }
    job_(due);
  }
}

}  // namespace vigil
