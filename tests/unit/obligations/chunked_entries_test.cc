// ChunkedEntries against a std::set of (due, id) doing the same: tens of thousands of random
// insertions and erasures (so chunks split, empty and join), due times from a very narrow
// range (hundreds at one instant, over several chunks), a narrow one and a wide one; every
// count, rank and position compared at random, and every entry walked in order at the end. A
// bulk load (appended out of order) is then worked on the same way.
#include "services/obligations/chunked_entries.h"

#include <cstdint>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace vigil {
namespace {

struct Entry {
  int64_t due_micros = 0;
  std::string id;
};

using Truth = std::set<std::pair<int64_t, std::string>>;

void Compare(const ChunkedEntries<Entry>& entries, const Truth& truth, std::mt19937_64& rng,
             int64_t range) {
  ASSERT_EQ(entries.size(), truth.size());
  ASSERT_EQ(entries.empty(), truth.empty());
  if (truth.empty()) return;
  ASSERT_EQ(entries.front().due_micros, truth.begin()->first);
  ASSERT_EQ(entries.front().id, truth.begin()->second);
  ASSERT_EQ(entries.front_due(), truth.begin()->first);
  for (int i = 0; i < 20; ++i) {
    const int64_t x = static_cast<int64_t>(rng() % (range + 2)) - 1;
    const auto below = truth.lower_bound({x, ""});
    ASSERT_EQ(entries.CountBefore(x), static_cast<size_t>(std::distance(truth.begin(), below)))
        << "x " << x;
    const auto at_or_below = truth.lower_bound({x + 1, ""});
    ASSERT_EQ(entries.CountAtOrBefore(x),
              static_cast<size_t>(std::distance(truth.begin(), at_or_below)))
        << "x " << x;
    // A cursor between or on entries: the rank of the first entry after it.
    const std::string id = absl::StrCat("o", rng() % 2000);
    ASSERT_EQ(entries.CountAtOrBeforeEntry(Entry{x, id}),
              static_cast<size_t>(std::distance(truth.begin(), truth.upper_bound({x, id}))))
        << "x " << x << " id " << id;
    // The entry at a random rank, and the one after it.
    const size_t rank = rng() % truth.size();
    auto want = std::next(truth.begin(), static_cast<std::ptrdiff_t>(rank));
    auto at = entries.At(rank);
    ASSERT_FALSE(at.done());
    ASSERT_EQ(at.due(), want->first);
    ASSERT_EQ(at->id, want->second);
    at.Next();
    ++want;
    ASSERT_EQ(at.done(), want == truth.end());
    if (want != truth.end()) {
      ASSERT_EQ(at->id, want->second);
    }
  }
  EXPECT_TRUE(entries.At(truth.size()).done());
}

void Walk(const ChunkedEntries<Entry>& entries, const Truth& truth) {
  std::vector<std::pair<int64_t, std::string>> walked;
  for (auto at = entries.At(0); !at.done(); at.Next()) walked.emplace_back(at.due(), at->id);
  std::vector<std::pair<int64_t, std::string>> each;
  entries.ForEach([&](const Entry& e) { each.emplace_back(e.due_micros, e.id); });
  const std::vector<std::pair<int64_t, std::string>> want(truth.begin(), truth.end());
  EXPECT_EQ(walked, want);
  EXPECT_EQ(each, want);
}

// Random insertions and erasures on `entries` (holding `truth` already).
void Churn(ChunkedEntries<Entry>& entries, Truth& truth, int64_t range, std::mt19937_64& rng,
           int steps) {
  std::vector<std::pair<int64_t, std::string>> held(truth.begin(), truth.end());
  int next_id = static_cast<int>(truth.size());
  for (int step = 0; step < steps; ++step) {
    // Grows by about 2,400 entries, then mostly shrinks to empty, then grows again.
    const bool growing = (step / 6000) % 2 == 0;
    if (held.empty() || rng() % 10 < (growing ? 7u : 3u)) {
      const int64_t due = static_cast<int64_t>(rng() % range);
      ++next_id;
      const std::string id = absl::StrCat("o", next_id % 2000, "-", next_id);
      entries.Insert(Entry{due, id});
      truth.emplace(due, id);
      held.emplace_back(due, id);
    } else {
      const size_t i = rng() % held.size();
      const auto [due, id] = held[i];
      // Not at another due time, nor an id it does not hold.
      ASSERT_FALSE(entries.Erase(due + 1, id));
      ASSERT_FALSE(entries.Erase(due, id + "x"));
      if (rng() % 8 == 0) {
        ASSERT_EQ(entries.EraseAnywhere(id), due) << "step " << step;
      } else {
        ASSERT_TRUE(entries.Erase(due, id)) << "step " << step;
      }
      truth.erase({due, id});
      held[i] = held.back();
      held.pop_back();
    }
    if (step % 97 == 0) {
      ASSERT_NO_FATAL_FAILURE(Compare(entries, truth, rng, range));
    }
  }
  ASSERT_NO_FATAL_FAILURE(Compare(entries, truth, rng, range));
  Walk(entries, truth);
  EXPECT_FALSE(entries.EraseAnywhere("absent").has_value());
}

void RunRandom(int64_t range, uint64_t seed) {
  std::mt19937_64 rng(seed);
  ChunkedEntries<Entry> entries;
  Truth truth;
  Churn(entries, truth, range, rng, 18000);
}

TEST(ChunkedEntries, AgreesWithASetWhenManyFallDueAtOnce) { RunRandom(20, 1); }

TEST(ChunkedEntries, AgreesWithASetOverANarrowRange) { RunRandom(3000, 2); }

TEST(ChunkedEntries, AgreesWithASetOverAWideRange) { RunRandom(int64_t{1} << 40, 3); }

TEST(ChunkedEntries, AppendedToEntriesInOrderStaysInOrder) {
  ChunkedEntries<Entry> entries;
  Truth truth;
  for (int i = 0; i < 700; ++i) {
    entries.Insert(Entry{i % 90, absl::StrCat("in", i)});
    truth.emplace(i % 90, absl::StrCat("in", i));
  }
  for (int i = 0; i < 700; ++i) {
    entries.Append(Entry{(i * 7) % 90, absl::StrCat("app", i)});
    truth.emplace((i * 7) % 90, absl::StrCat("app", i));
  }
  entries.FinishAppending();
  std::mt19937_64 rng(6);
  ASSERT_NO_FATAL_FAILURE(Compare(entries, truth, rng, 90));
  Walk(entries, truth);
}

TEST(ChunkedEntries, LoadsInBulkOutOfOrderThenTakesChanges) {
  std::mt19937_64 rng(4);
  ChunkedEntries<Entry> entries;
  Truth truth;
  EXPECT_TRUE(entries.empty());
  for (int i = 0; i < 5000; ++i) {
    const int64_t due = static_cast<int64_t>(rng() % 400);
    const std::string id = absl::StrCat("load-", i);
    entries.Append(Entry{due, id});
    truth.emplace(due, id);
  }
  EXPECT_FALSE(entries.empty());  // appended, not yet in order
  entries.FinishAppending();
  ASSERT_NO_FATAL_FAILURE(Compare(entries, truth, rng, 400));
  Walk(entries, truth);
  Churn(entries, truth, 400, rng, 12000);
}

TEST(ChunkedEntries, InsertsAtTheEndsAndAtOneInstant) {
  ChunkedEntries<Entry> entries;
  Truth truth;
  // Ascending, descending, and a thousand at one instant with ids in both directions: every
  // split at an end of the order, and chunks whose last due times are equal.
  for (int i = 0; i < 1500; ++i) {
    entries.Insert(Entry{1000 + i, absl::StrCat("up", i)});
    truth.emplace(1000 + i, absl::StrCat("up", i));
    entries.Insert(Entry{999 - i, absl::StrCat("down", i)});
    truth.emplace(999 - i, absl::StrCat("down", i));
  }
  for (int i = 0; i < 1000; ++i) {
    const std::string a = absl::StrCat("same", 5000 + i), b = absl::StrCat("same", 4999 - i);
    entries.Insert(Entry{777, a});
    entries.Insert(Entry{777, b});
    truth.emplace(777, a);
    truth.emplace(777, b);
  }
  std::mt19937_64 rng(5);
  ASSERT_NO_FATAL_FAILURE(Compare(entries, truth, rng, 3000));
  Walk(entries, truth);
  // "down" 0-1499 fall due at 999 to -500: 223-1499 before 777, "down222" at it.
  EXPECT_EQ(entries.CountBefore(777), 1277u);
  EXPECT_EQ(entries.CountAtOrBefore(777), 1277u + 2001u);
  // Cursors at that instant, where several chunks end at the same due time.
  for (const std::string id : {"", "down222", "same4000", "same5000", "same5999", "z"}) {
    EXPECT_EQ(entries.CountAtOrBeforeEntry(Entry{777, id}),
              static_cast<size_t>(std::distance(truth.begin(), truth.upper_bound({777, id}))))
        << id;
  }
  // Erased from the last: each found past the chunks that end at the same instant before it.
  for (auto it = truth.rbegin(); it != truth.rend(); ++it) {
    ASSERT_TRUE(entries.Erase(it->first, it->second)) << it->first << " " << it->second;
    if (it->first == 777 && it->second == "same5000") {
      ASSERT_NO_FATAL_FAILURE(
          Compare(entries, Truth(truth.begin(), std::next(it).base()), rng, 3000));
    }
  }
  truth.clear();
  EXPECT_TRUE(entries.empty());
  EXPECT_EQ(entries.size(), 0u);
  EXPECT_TRUE(entries.At(0).done());
}

}  // namespace
}  // namespace vigil
