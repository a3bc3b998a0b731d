// RankedDues against a std::multimap doing the same: tens of thousands of random insertions
// and erasures (so chunks split, empty and merge), due times drawn from a very narrow range
// (thousands at one instant, over many chunks), a narrow one and a wide one, every count
// compared at random instants and every item walked in order at the end.
#include "services/obligations/ranked_dues.h"

#include <cstdint>
#include <iterator>
#include <limits>
#include <map>
#include <random>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace vigil {
namespace {

void Compare(const RankedDues<int>& dues, const std::multimap<int64_t, int>& truth,
             std::mt19937_64& rng, int64_t range) {
  ASSERT_EQ(dues.size(), truth.size());
  ASSERT_EQ(dues.empty(), truth.empty());
  if (!truth.empty()) {
    ASSERT_EQ(dues.front().due, truth.begin()->first);
  }
  for (int i = 0; i < 20; ++i) {
    const int64_t x = static_cast<int64_t>(rng() % (range + 2)) - 1;
    ASSERT_EQ(dues.CountBefore(x),
              static_cast<size_t>(std::distance(truth.begin(), truth.lower_bound(x))))
        << "x " << x;
    ASSERT_EQ(dues.CountAtOrBefore(x),
              static_cast<size_t>(std::distance(truth.begin(), truth.upper_bound(x))))
        << "x " << x;
  }
}

void RunRandom(int64_t range, uint64_t seed) {
  std::mt19937_64 rng(seed);
  RankedDues<int> dues;
  std::multimap<int64_t, int> truth;
  std::vector<std::pair<int64_t, int>> held;
  for (int step = 0; step < 60000; ++step) {
    // Grows to about 20,000 items, then mostly shrinks to empty, then grows again.
    const bool growing = (step / 20000) % 2 == 0;
    if (held.empty() || rng() % 10 < (growing ? 7u : 3u)) {
      const int64_t due = static_cast<int64_t>(rng() % range);
      const int value = static_cast<int>(rng() % 50);
      dues.Insert(due, value);
      truth.emplace(due, value);
      held.emplace_back(due, value);
    } else {
      const size_t i = rng() % held.size();
      const auto [due, value] = held[i];
      ASSERT_TRUE(dues.Erase(due, value)) << "step " << step;
      for (auto it = truth.lower_bound(due); it != truth.end(); ++it) {
        if (it->second == value) {
          truth.erase(it);
          break;
        }
      }
      held[i] = held.back();
      held.pop_back();
    }
    if (step % 101 == 0) {
      ASSERT_NO_FATAL_FAILURE(Compare(dues, truth, rng, range)) << "step " << step;
    }
  }
  // Everything, walked in order from the start.
  std::vector<int64_t> walked;
  for (auto at = dues.LowerBound(std::numeric_limits<int64_t>::min()); !at.done(); at.Next()) {
    walked.push_back(at->due);
  }
  std::vector<int64_t> want;
  for (const auto& [due, value] : truth) want.push_back(due);
  EXPECT_EQ(walked, want);
}

TEST(RankedDues, AgreesWithAMultimapWhenManyFallDueAtOnce) { RunRandom(300, 1); }

TEST(RankedDues, AgreesWithAMultimapWhenMostFallDueAtOnce) { RunRandom(3, 3); }

TEST(RankedDues, AgreesWithAMultimapOverAWideRange) { RunRandom(int64_t{1} << 50, 2); }

TEST(RankedDues, ErasesOnlyWhatItHolds) {
  RankedDues<int> dues;
  EXPECT_FALSE(dues.Erase(5, 1));
  for (int i = 0; i < 3000; ++i) dues.Insert(7, i);  // one instant, over several chunks
  dues.Insert(9, 0);
  EXPECT_FALSE(dues.Erase(7, 3000));  // the instant is held, the value is not
  EXPECT_FALSE(dues.Erase(8, 0));
  EXPECT_TRUE(dues.Erase(7, 2999));  // the last of the instant, in the last of its chunks
  EXPECT_TRUE(dues.Erase(9, 0));
  EXPECT_EQ(dues.size(), 2999u);
  EXPECT_EQ(dues.CountBefore(7), 0u);
  EXPECT_EQ(dues.CountAtOrBefore(7), 2999u);
  for (int i = 0; i < 2999; ++i) ASSERT_TRUE(dues.Erase(7, i));
  EXPECT_TRUE(dues.empty());
  EXPECT_EQ(dues.CountAtOrBefore(100), 0u);
}

TEST(RankedDues, AssignedInOrderCountsLikeInserted) {
  std::vector<RankedDues<int>::Item> items;
  RankedDues<int> inserted;
  for (int i = 0; i < 5000; ++i) {
    items.push_back({i / 3, i});
    inserted.Insert(i / 3, i);
  }
  RankedDues<int> assigned;
  assigned.Assign(items);
  EXPECT_EQ(assigned.size(), 5000u);
  for (int64_t x : {-1, 0, 1, 500, 1665, 1666, 1667, 4000}) {
    EXPECT_EQ(assigned.CountBefore(x), inserted.CountBefore(x)) << x;
    EXPECT_EQ(assigned.CountAtOrBefore(x), inserted.CountAtOrBefore(x)) << x;
  }
  EXPECT_TRUE(assigned.Erase(1000, 3001));
  EXPECT_EQ(assigned.CountAtOrBefore(1000), 3002u);
}

}  // namespace
}  // namespace vigil
