#include "services/common/metrics.h"

#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil {
namespace {

TEST(MetricsTest, NamesRegisterOnceAndSampleInOrder) {
  Metrics metrics;
  Metric& raised = metrics.Get("b_raised_total", "raised");
  EXPECT_EQ(&metrics.Get("b_raised_total", "ignored the second time"), &raised);
  raised.Add(3);
  metrics.Get("a_backlog_seconds", "backlog").Set(7);
  int64_t head = 41;
  metrics.SetGaugeFunction("c_feed_head", "head", [&head] { return head; });
  head = 42;

  const std::vector<MetricSample> samples = metrics.Snapshot();
  ASSERT_EQ(samples.size(), 3u);
  EXPECT_EQ(samples[0].name, "a_backlog_seconds");
  EXPECT_EQ(samples[0].value, 7);
  EXPECT_EQ(samples[1].name, "b_raised_total");
  EXPECT_EQ(samples[1].help, "raised");
  EXPECT_EQ(samples[1].value, 3);
  EXPECT_EQ(samples[2].value, 42);  // read when sampled
  metrics.ClearGaugeFunction("c_feed_head");
  EXPECT_EQ(metrics.Snapshot()[2].value, 0);
}

TEST(MetricsTest, ConcurrentUpdatesAreAllCounted) {
  Metrics metrics;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&metrics] {
      for (int i = 0; i < 10'000; ++i) metrics.Get("hits_total", "hits").Add(1);
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(metrics.Snapshot().at(0).value, 40'000);
}

}  // namespace
}  // namespace vigil
