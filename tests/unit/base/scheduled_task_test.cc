#include "base/scheduled_task.h"

#include <atomic>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace vigil {
namespace {

const absl::Time kStart =
    absl::FromCivil(absl::CivilSecond(2026, 12, 2, 22, 0, 0), absl::UTCTimeZone());

// The next midnight UTC after `now`.
absl::Time NextMidnight(absl::Time now) {
  return absl::FromCivil(absl::ToCivilDay(now, absl::UTCTimeZone()) + 1, absl::UTCTimeZone());
}

class Runs {
 public:
  void Add(absl::Time due) {
    absl::MutexLock lock(&mu_);
    due_.push_back(due);
  }
  // Waits up to 5 s for `n` runs; returns those seen.
  std::vector<absl::Time> WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&] { return due_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(5));
    return due_;
  }

 private:
  absl::Mutex mu_;
  std::vector<absl::Time> due_;
};

TEST(ScheduledTask, RunsWhenTheClockReachesEachScheduledTime) {
  ManualClock clock(kStart);
  Runs runs;
  ScheduledTask task(clock, NextMidnight, [&](absl::Time due) { runs.Add(due); });
  task.Start();
  absl::SleepFor(absl::Milliseconds(50));  // time to run, were it wrongly due
  EXPECT_TRUE(runs.WaitFor(0).empty());    // 22:00: not yet
  clock.Set(kStart + absl::Hours(2));      // midnight
  EXPECT_EQ(runs.WaitFor(1), std::vector<absl::Time>{kStart + absl::Hours(2)});
  clock.Set(kStart + absl::Hours(26) + absl::Minutes(5));  // the next midnight, passed
  const std::vector<absl::Time> seen = runs.WaitFor(2);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1], kStart + absl::Hours(26));
  task.Stop();
}

// The clock passes the next scheduled time while a job is still running (a slow snapshot, a
// step of the clock): that run is late, not skipped.
TEST(ScheduledTask, RunsATimeTheClockPassedWhileTheJobRan) {
  ManualClock clock(kStart);
  Runs runs;
  ScheduledTask task(clock, NextMidnight, [&](absl::Time due) {
    if (due == kStart + absl::Hours(2)) clock.Set(kStart + absl::Hours(26) + absl::Minutes(5));
    runs.Add(due);
  });
  task.Start();
  clock.Set(kStart + absl::Hours(2));
  const std::vector<absl::Time> seen = runs.WaitFor(2);
  task.Stop();
  EXPECT_EQ(seen, (std::vector<absl::Time>{kStart + absl::Hours(2), kStart + absl::Hours(26)}));
}

// Several scheduled times passed in one step each run, in order, with the time each was due.
TEST(ScheduledTask, RunsEachOfSeveralPassedTimesInOrder) {
  ManualClock clock(kStart);
  Runs runs;
  ScheduledTask task(clock, NextMidnight, [&](absl::Time due) { runs.Add(due); });
  task.Start();
  clock.Set(kStart + absl::Hours(49));  // two midnights passed
  const std::vector<absl::Time> seen = runs.WaitFor(2);
  task.Stop();
  EXPECT_EQ(seen, (std::vector<absl::Time>{kStart + absl::Hours(2), kStart + absl::Hours(26)}));
}

TEST(ScheduledTask, RunsAtStartWhenAskedAndStopsPromptly) {
  ManualClock clock(kStart);
  Runs runs;
  ScheduledTask task(
      clock, NextMidnight, [&](absl::Time due) { runs.Add(due); },
      /*run_at_start=*/true);
  task.Start();
  task.Start();  // idempotent
  EXPECT_EQ(runs.WaitFor(1), std::vector<absl::Time>{kStart});
  const absl::Time stopping = absl::Now();
  task.Stop();
  task.Stop();  // idempotent
  EXPECT_LT(absl::Now() - stopping, absl::Seconds(2));
  EXPECT_EQ(runs.WaitFor(1).size(), 1u);
}

}  // namespace
}  // namespace vigil
