// A job that runs on its own thread at the times a schedule gives — each local midnight, say —
// until stopped: the backlog's daily snapshots, the daily team findings.
//
// Each next run is scheduled from the time the last one was due, not from the clock when it
// finished: a scheduled time the clock passes while a job runs (or in one step of the clock) is
// run late, never skipped.
//
// The clock may be a manual one (tests step it): the thread looks at it at least every second,
// so a stop or a step of the clock takes effect within a second. Thread-safe.
#ifndef VIGIL_BASE_SCHEDULED_TASK_H_
#define VIGIL_BASE_SCHEDULED_TASK_H_

#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"

namespace vigil {

class ScheduledTask {
 public:
  // The first run strictly after `t` (for a daily task, the next local midnight).
  using Schedule = std::function<absl::Time(absl::Time t)>;
  // Runs with the time it was due; errors are the job's to log.
  using Job = std::function<void(absl::Time due)>;

  // `run_at_start`: run once as soon as started (due now), then on schedule. None owned.
  ScheduledTask(const Clock& clock, Schedule next, Job job, bool run_at_start = false)
      : clock_(clock), next_(std::move(next)), job_(std::move(job)), run_at_start_(run_at_start) {}
  ~ScheduledTask() { Stop(); }
  ScheduledTask(const ScheduledTask&) = delete;
  ScheduledTask& operator=(const ScheduledTask&) = delete;

  // Starts the thread; the first run is due at the first scheduled time after now (or now, with
  // `run_at_start`). Idempotent.
  void Start() ABSL_LOCKS_EXCLUDED(mu_);
  // Stops the thread after the job that is running, if any, returns. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Runs the job from `due` on, until stopped.
  void Run(absl::Time due) ABSL_LOCKS_EXCLUDED(mu_);

  const Clock& clock_;
  const Schedule next_;
  const Job job_;
  const bool run_at_start_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;  // Run awaits it
  std::thread thread_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vigil

#endif  // VIGIL_BASE_SCHEDULED_TASK_H_
