#include "services/common/executor.h"

#include <atomic>
#include <latch>

#include "gtest/gtest.h"

namespace vigil {
namespace {

TEST(Executor, RunsEveryAcceptedTaskBeforeShutdownReturns) {
  std::atomic<int> ran{0};
  {
    Executor executor(4, 1000);
    for (int i = 0; i < 500; ++i) ASSERT_TRUE(executor.TrySchedule([&] { ran.fetch_add(1); }));
  }
  EXPECT_EQ(ran.load(), 500);
}

TEST(Executor, RefusesWhenTheQueueIsFull) {
  Executor executor(1, 2);
  std::latch release(1);
  std::latch started(1);
  ASSERT_TRUE(executor.TrySchedule([&] {
    started.count_down();
    release.wait();
  }));
  started.wait();  // the only worker is busy; the queue holds two more
  EXPECT_TRUE(executor.TrySchedule([] {}));
  EXPECT_TRUE(executor.TrySchedule([] {}));
  EXPECT_FALSE(executor.TrySchedule([] {}));
  release.count_down();
  executor.Shutdown();
  EXPECT_FALSE(executor.TrySchedule([] {}));
}

}  // namespace
}  // namespace vigil
