#include "base/scheduled_task.h"

namespace vigil {

void ScheduledTask::Start() {
  absl::MutexLock lock(&mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  // The first due time is taken here, not on the thread: a run is due from the moment Start
  // returns, however late the thread gets going.
  const absl::Time now = clock_.Now();
  const absl::Time first = run_at_start_ ? now : next_(now);
  thread_ = std::thread([this, first] { Run(first); });
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

void ScheduledTask::Run(absl::Time due) {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      // Short waits: the clock may be a manual one, and a stop must be prompt.
      while (!stopping_ && clock_.Now() < due) {
        mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Seconds(1));
      }
      if (stopping_) return;
    }
    job_(due);
    // From the time just run, so that one the clock has passed meanwhile still runs. A schedule
    // that does not move forward would run the job in a loop: take the next after now instead.
    const absl::Time next = next_(due);
    due = next > due ? next : next_(clock_.Now());
  }
}

}  // namespace vigil
