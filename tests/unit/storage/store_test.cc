#include "storage/store.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/support/closed_store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace vigil::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::vigil::testing::IsOk;
using ::vigil::testing::StatusIs;

// Owns a real store in its own temporary directory (after rocksdb's db_test_util.h).
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  // `index_audit`: StoreOptions::index_audit_in_background.
  void Reopen(bool index_audit = true) {
    store_.reset();
    StoreOptions options;
    options.path = dir_.Sub("data");
    options.index_audit_in_background = index_audit;
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
    ASSERT_THAT(store.status(), IsOk());
    store_ = *std::move(store);
  }

  std::optional<std::string> Get(Family family, const std::string& key) {
    absl::StatusOr<std::optional<std::string>> value = store_->Snapshot().Get(family, key);
    EXPECT_THAT(value.status(), IsOk());
    return value.ok() ? *value : std::nullopt;
  }

  // Records 1-6: odd ones wessex's, even ones mercia's; actor DC (i % 3) and subject
  // offender/(i % 2) for record i + 1.
  void CommitSixRecordsOfTwoForces() {
    for (int i = 0; i < 6; ++i) {
      Change change;
      change.SetAudit(AuditEntry{i % 2 == 0 ? "wessex" : "mercia",
                                 absl::StrCat("DC ", i % 3),
                                 {absl::StrCat("offender/", i % 2)},
                                 absl::StrCat("body ", i)});
      ASSERT_THAT(store_->Commit(change).status(), IsOk());
    }
  }

  static AuditEntry Audit(std::string subject, std::string actor = "DC 1") {
    return AuditEntry{"wessex", std::move(actor), {std::move(subject)}, "body"};
  }

  vigil::testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, CommitWritesEveryPartAndSurvivesReopen) {
  Change change;
  change.Put(Family::kEntities, "offender/1", "record");
  change.Put(Family::kIndex, "by-team/north/1", "");
  change.AddDeadline({DeadlineSpace::kRso, absl::FromUnixSeconds(1000), 1, "ob-1"}, "v");
  change.AddEvent("rso", "opened ob-1");
  change.SetAudit(Audit("offender/1"));
  change.AddToCounter("open/arms/high", 1);
  absl::StatusOr<CommitResult> result = store_->Commit(change);
  ASSERT_THAT(result.status(), IsOk());
  EXPECT_EQ(result->event_sequence, 1u);
  EXPECT_EQ(result->audit_sequence, 1u);

  Reopen();
  EXPECT_EQ(Get(Family::kEntities, "offender/1"), "record");
  EXPECT_EQ(Get(Family::kIndex, "by-team/north/1"), "");
  ReadView view = store_->Snapshot();
  absl::StatusOr<std::optional<Deadline>> earliest = view.EarliestDeadline(DeadlineSpace::kRso);
  ASSERT_THAT(earliest.status(), IsOk());
  ASSERT_TRUE(earliest->has_value());
  EXPECT_EQ((*earliest)->id, "ob-1");
  absl::StatusOr<std::vector<FeedEvent>> events = view.ReadEvents("rso", 0, 10);
  ASSERT_THAT(events.status(), IsOk());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].payload, "opened ob-1");
  EXPECT_EQ(*view.Counter("open/arms/high"), 1);
  EXPECT_EQ(store_->EventHead("rso"), 1u);
  EXPECT_EQ(store_->AuditHead(), 1u);
}

TEST_F(StoreTest, ReservedFamiliesAndKeysAreRefused) {
  Change events;
  events.Put(Family::kEvents, "x", "y");
  EXPECT_THAT(store_->Commit(events), StatusIs(absl::StatusCode::kInvalidArgument));
  Change meta;
  meta.Put(Family::kMeta, "schema_version", "99");
  EXPECT_THAT(store_->Commit(meta), StatusIs(absl::StatusCode::kInvalidArgument));
  Change audit_index;
  audit_index.Put(Family::kIndex, "audit/f/forged", "");
  EXPECT_THAT(store_->Commit(audit_index), StatusIs(absl::StatusCode::kInvalidArgument));
  Change two_audits;
  two_audits.SetAudit(Audit("x"));
  two_audits.SetAudit(Audit("y"));
  EXPECT_THAT(store_->Commit(two_audits),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("use AddAudit")));
  Change bad_context;
  bad_context.AddEvent("Not A Context", "x");
  EXPECT_THAT(store_->Commit(bad_context), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(store_->EventHead("rso"), 0u);
  EXPECT_EQ(store_->AuditHead(), 0u);
}

TEST_F(StoreTest, EventsOfOneChangeTakeConsecutiveSequencesPerContext) {
  Change first;
  first.AddEvent("alerts", "a1");
  ASSERT_THAT(store_->Commit(first).status(), IsOk());
  Change batch;
  batch.AddEvent("alerts", "a2");
  batch.AddEvent("rso", "r1");
  batch.AddEvent("alerts", "a3");
  absl::StatusOr<CommitResult> result = store_->Commit(batch);
  ASSERT_THAT(result.status(), IsOk());
  EXPECT_THAT(result->event_sequences, ElementsAre(2, 1, 3));
  EXPECT_EQ(result->event_sequence, 2u);
  absl::StatusOr<std::vector<FeedEvent>> alerts = store_->Snapshot().ReadEvents("alerts", 0, 10);
  ASSERT_THAT(alerts.status(), IsOk());
  ASSERT_EQ(alerts->size(), 3u);
  EXPECT_EQ((*alerts)[2].payload, "a3");
  EXPECT_EQ(store_->EventHead("alerts"), 3u);
}

TEST_F(StoreTest, FailedPreconditionWritesNothingOfTheChange) {
  Change first;
  first.ExpectAbsent(Family::kIndex, "request/r1");
  first.Put(Family::kIndex, "request/r1", "offender/1");
  first.Put(Family::kEntities, "offender/1", "v1");
  first.AddEvent("rso", "created");
  first.AddToCounter("offenders", 1);
  ASSERT_THAT(store_->Commit(first).status(), IsOk());

  Change retry = first;  // the same request again
  EXPECT_THAT(store_->Commit(retry), StatusIs(absl::StatusCode::kAborted));
  EXPECT_EQ(store_->EventHead("rso"), 1u);
  EXPECT_EQ(*store_->Snapshot().Counter("offenders"), 1);

  Change update;
  update.ExpectValue(Family::kEntities, "offender/1", "v1");
  update.Put(Family::kEntities, "offender/1", "v2");
  ASSERT_THAT(store_->Commit(update).status(), IsOk());
  Change stale = update;  // read v1, but v2 is there now
  EXPECT_THAT(store_->Commit(stale), StatusIs(absl::StatusCode::kAborted));
  EXPECT_EQ(Get(Family::kEntities, "offender/1"), "v2");
}

TEST_F(StoreTest, ConcurrentCompareAndSwapAdmitsExactlyOneWinnerPerRound) {
  constexpr int kThreads = 16;
  constexpr int kRounds = 20;
  std::atomic<int> wins{0};
  for (int round = 0; round < kRounds; ++round) {
    const std::string expected = round == 0 ? "" : std::to_string(round - 1);
    std::vector<std::thread> threads;
    threads.reserve(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        Change change;
        if (round == 0) {
          change.ExpectAbsent(Family::kEntities, "cell");
        } else {
          change.ExpectValue(Family::kEntities, "cell", expected);
        }
        change.Put(Family::kEntities, "cell", std::to_string(round));
        change.AddToCounter("wins", 1);
        absl::StatusOr<CommitResult> result = store_->Commit(change);
        if (result.ok()) {
          wins.fetch_add(1);
        } else {
          EXPECT_THAT(result.status(), StatusIs(absl::StatusCode::kAborted)) << t;
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    ASSERT_EQ(wins.load(), round + 1) << "round " << round;
  }
  EXPECT_EQ(*store_->Snapshot().Counter("wins"), kRounds);
}

TEST_F(StoreTest, WritesToOneKeyApplyInTheirOrderWithinAChangeAndAGroup) {
  // The leader writes a group in key order (SortedByKey): several writes to one key, within a
  // change and across the changes of a group, must still apply in the order made.
  Change first;
  first.Put(Family::kEntities, "z", "1");
  first.Put(Family::kEntities, "a", "put then deleted");
  first.Put(Family::kIndex, "m", "index");
  first.Delete(Family::kEntities, "a");
  first.Put(Family::kEntities, "z", "2");
  first.Delete(Family::kEntities, "b");
  first.Put(Family::kEntities, "b", "deleted then put");
  ASSERT_THAT(store_->Commit(first).status(), IsOk());
  EXPECT_EQ(Get(Family::kEntities, "z"), "2");
  EXPECT_EQ(Get(Family::kEntities, "a"), std::nullopt);
  EXPECT_EQ(Get(Family::kEntities, "b"), "deleted then put");
  EXPECT_EQ(Get(Family::kIndex, "m"), "index");
  EXPECT_EQ(Get(Family::kEntities, "m"), std::nullopt);

  // Many threads each rewrite a shared key and their own, in groups: the shared key ends with
  // the value of the last change committed (its audit record is the chain's last).
  constexpr int kThreads = 16;
  constexpr int kRounds = 30;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        const std::string value = absl::StrCat(t, "/", round);
        Change change;
        change.Put(Family::kEntities, absl::StrCat("own/", t), value);
        change.Put(Family::kEntities, "shared", value);
        change.SetAudit(AuditEntry{"wessex", "DC 1", {value}, value});
        ASSERT_THAT(store_->Commit(change).status(), IsOk());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_GT(store_->stats().largest_group, 1u);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(Get(Family::kEntities, absl::StrCat("own/", t)), absl::StrCat(t, "/", kRounds - 1));
  }
  absl::StatusOr<std::optional<StoredAuditRecord>> last =
      store_->Snapshot().AuditRecord(store_->AuditHead());
  ASSERT_THAT(last.status(), IsOk());
  ASSERT_TRUE(last->has_value());
  EXPECT_EQ(Get(Family::kEntities, "shared"), (*last)->body);
  Reopen();
  EXPECT_EQ(Get(Family::kEntities, "shared"), (*last)->body);
  EXPECT_EQ(Get(Family::kEntities, "z"), "2");
  EXPECT_EQ(Get(Family::kEntities, "a"), std::nullopt);
}

TEST_F(StoreTest, EventSequencesHaveNoGapsUnderConcurrencyAndAcrossRestarts) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  std::mutex mu;
  std::set<uint64_t> assigned;
  auto write = [&] {
    std::vector<std::thread> threads;
    threads.reserve(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < kPerThread; ++i) {
          Change change;
          change.AddEvent("ocait", "e");
          // Every other change in another context, to interleave feeds in one group.
          Change other;
          other.AddEvent("rso", "r");
          absl::StatusOr<CommitResult> a = store_->Commit(change);
          absl::StatusOr<CommitResult> b = store_->Commit(other);
          ASSERT_THAT(a.status(), IsOk());
          ASSERT_THAT(b.status(), IsOk());
          std::lock_guard lock(mu);
          EXPECT_TRUE(assigned.insert(a->event_sequence).second) << a->event_sequence;
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
  };
  write();
  Reopen();
  write();
  const uint64_t total = 2 * kThreads * kPerThread;
  ASSERT_EQ(assigned.size(), total);
  EXPECT_EQ(*assigned.begin(), 1u);
  EXPECT_EQ(*assigned.rbegin(), total);
  EXPECT_EQ(store_->EventHead("ocait"), total);
  EXPECT_EQ(store_->EventHead("rso"), total);

  absl::StatusOr<std::vector<FeedEvent>> events = store_->Snapshot().ReadEvents("ocait", 0, 100000);
  ASSERT_THAT(events.status(), IsOk());
  ASSERT_EQ(events->size(), total);
  for (size_t i = 0; i < events->size(); ++i) EXPECT_EQ((*events)[i].sequence, i + 1);
  // Reading from a cursor returns only later events.
  absl::StatusOr<std::vector<FeedEvent>> tail =
      store_->Snapshot().ReadEvents("ocait", total - 2, 10);
  ASSERT_THAT(tail.status(), IsOk());
  ASSERT_EQ(tail->size(), 2u);
  EXPECT_EQ((*tail)[0].sequence, total - 1);
}

TEST_F(StoreTest, ConcurrentWritersShareFsyncs) {
  constexpr int kThreads = 32;
  constexpr int kPerThread = 40;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Change change;
        change.Put(Family::kEntities, absl::StrCat("e/", t, "/", i), "v");
        change.SetAudit(Audit(absl::StrCat("e/", t)));
        ASSERT_THAT(store_->Commit(change).status(), IsOk());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const StoreStats stats = store_->stats();
  EXPECT_EQ(stats.commits, uint64_t{kThreads * kPerThread});
  // With 32 writers blocked on fsync, groups must carry more than one change on average.
  EXPECT_LT(stats.groups, stats.commits);
  EXPECT_GT(stats.largest_group, 1u);
  absl::StatusOr<AuditChainReport> report = store_->Snapshot().VerifyAuditChain();
  ASSERT_THAT(report.status(), IsOk());
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->records_checked, uint64_t{kThreads * kPerThread});
}

// Collects CommitAsync's answers, one per tag, from whichever thread runs the callbacks.
class Answers {
 public:
  CommitCallback For(std::string tag) {
    return [this, tag = std::move(tag)](absl::StatusOr<CommitResult> result) {
      absl::MutexLock lock(&mu_);
      ++calls_[tag];
      results_.insert_or_assign(tag, std::move(result));
    };
  }
  // Waits until `n` answers came (or 60 s passed); true when they did.
  bool WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    wanted_ = n;
    return mu_.AwaitWithTimeout(absl::Condition(this, &Answers::Enough), absl::Seconds(60));
  }
  std::map<std::string, absl::StatusOr<CommitResult>> results() {
    absl::MutexLock lock(&mu_);
    return results_;
  }
  std::map<std::string, int> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  bool Enough() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return results_.size() >= wanted_; }

  absl::Mutex mu_;
  size_t wanted_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, absl::StatusOr<CommitResult>> results_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> calls_ ABSL_GUARDED_BY(mu_);
};

TEST_F(StoreTest, AsyncCommitsAnswerOnceEachInQueueOrderBesideWaitingCommits) {
  constexpr int kAsyncThreads = 4;
  constexpr int kSyncThreads = 2;
  constexpr int kPerThread = 150;
  Answers answers;
  std::vector<std::thread> threads;
  threads.reserve(kAsyncThreads + kSyncThreads);
  for (int t = 0; t < kAsyncThreads + kSyncThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Change change;
        const std::string id = absl::StrCat(t, "/", i);
        change.Put(Family::kEntities, "e/" + id, "v");
        change.AddEvent(absl::StrCat("thread", t), id);
        change.SetAudit(Audit("e/" + id));
        if (t < kAsyncThreads) {
          store_->CommitAsync(std::move(change), answers.For(id));
        } else {
          ASSERT_THAT(store_->Commit(change).status(), IsOk());
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_TRUE(answers.WaitFor(kAsyncThreads * kPerThread));
  for (const auto& [id, calls] : answers.calls()) EXPECT_EQ(calls, 1) << id;
  const std::map<std::string, absl::StatusOr<CommitResult>> results = answers.results();
  for (int t = 0; t < kAsyncThreads; ++t) {
    // One thread's changes were queued in its order, so its events take sequences 1, 2, ...
    for (int i = 0; i < kPerThread; ++i) {
      const absl::StatusOr<CommitResult>& result = results.at(absl::StrCat(t, "/", i));
      ASSERT_THAT(result.status(), IsOk());
      EXPECT_EQ(result->event_sequence, static_cast<uint64_t>(i + 1));
      EXPECT_GT(result->audit_sequence, 0u);
      EXPECT_TRUE(Get(Family::kEntities, absl::StrCat("e/", t, "/", i)).has_value());
    }
  }
  const StoreStats stats = store_->stats();
  EXPECT_EQ(stats.commits, uint64_t{(kAsyncThreads + kSyncThreads) * kPerThread});
  EXPECT_LT(stats.groups, stats.commits);
  absl::StatusOr<AuditChainReport> report = store_->Snapshot().VerifyAuditChain();
  ASSERT_THAT(report.status(), IsOk());
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->records_checked, stats.commits);
}

TEST_F(StoreTest, AnAsyncCommitAnswersAFailedPreconditionOrAMalformedChangeAndWritesNothing) {
  Change first;
  first.ExpectAbsent(Family::kEntities, "k");
  first.Put(Family::kEntities, "k", "one");
  ASSERT_THAT(store_->Commit(first).status(), IsOk());

  Answers answers;
  Change second;
  second.ExpectAbsent(Family::kEntities, "k");
  second.Put(Family::kEntities, "k", "two");
  second.AddEvent("test", "two");
  store_->CommitAsync(std::move(second), answers.For("conflict"));
  Change malformed;
  malformed.Put(Family::kMeta, "schema_version", "99");
  // Refused before it is queued: answered on this thread, before CommitAsync returns.
  store_->CommitAsync(std::move(malformed), answers.For("malformed"));
  EXPECT_EQ(answers.calls()["malformed"], 1);
  ASSERT_TRUE(answers.WaitFor(2));
  EXPECT_THAT(answers.results().at("conflict"), StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(answers.results().at("malformed"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(Get(Family::kEntities, "k"), "one");
  EXPECT_EQ(store_->EventHead("test"), 0u);
}

TEST_F(StoreTest, ACommitCallbackMayQueueACommitButNotWaitForOne) {
  absl::Notification chained;
  absl::StatusOr<CommitResult> waited;
  absl::StatusOr<CommitResult> queued;
  Change change;
  change.Put(Family::kEntities, "first", "v");
  store_->CommitAsync(std::move(change), [&](const absl::StatusOr<CommitResult>& result) {
    ASSERT_THAT(result.status(), IsOk());
    Change again;
    again.Put(Family::kEntities, "waited", "v");
    waited = store_->Commit(again);
    Change next;
    next.Put(Family::kEntities, "second", "v");
    store_->CommitAsync(std::move(next), [&](absl::StatusOr<CommitResult> r) {
      queued = std::move(r);
      chained.Notify();
    });
  });
  ASSERT_TRUE(chained.WaitForNotificationWithTimeout(absl::Seconds(60)));
  EXPECT_THAT(waited, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(queued.status(), IsOk());
  EXPECT_TRUE(Get(Family::kEntities, "second").has_value());
  EXPECT_FALSE(Get(Family::kEntities, "waited").has_value());
}

TEST_F(StoreTest, CloseAnswersEveryQueuedAsyncCommitBeforeItReturns) {
  constexpr int kChanges = 400;
  std::atomic<int> ok{0};
  std::atomic<int> answered{0};
  for (int i = 0; i < kChanges; ++i) {
    Change change;
    change.Put(Family::kEntities, absl::StrCat("e/", i), "v");
    change.AddEvent("test", absl::StrCat(i));
    store_->CommitAsync(std::move(change), [&](const absl::StatusOr<CommitResult>& result) {
      if (result.ok()) ok.fetch_add(1);
      // Slow callbacks: Close must wait for the last one to return.
      std::this_thread::sleep_for(std::chrono::microseconds(50));
      answered.fetch_add(1);
    });
  }
  ASSERT_THAT(store_->Close(), IsOk());
  EXPECT_EQ(answered.load(), kChanges);
  EXPECT_EQ(ok.load(), kChanges);

  absl::StatusOr<CommitResult> after;
  Change late;
  late.Put(Family::kEntities, "late", "v");
  store_->CommitAsync(std::move(late),
                      [&](absl::StatusOr<CommitResult> r) { after = std::move(r); });
  EXPECT_THAT(after, StatusIs(absl::StatusCode::kUnavailable));  // answered at once
  Reopen();
  EXPECT_EQ(store_->EventHead("test"), uint64_t{kChanges});
  EXPECT_FALSE(Get(Family::kEntities, "late").has_value());
}

TEST_F(StoreTest, CountersAddUpAcrossChangesAndVanishAtZero) {
  for (int delta : {5, -2, 3}) {
    Change change;
    change.AddToCounter("backlog/arms/low", delta);
    change.AddToCounter("backlog/arms/high", 1);
    ASSERT_THAT(store_->Commit(change).status(), IsOk());
  }
  Change close;
  close.AddToCounter("backlog/arms/high", -3);
  ASSERT_THAT(store_->Commit(close).status(), IsOk());
  Reopen();
  ReadView view = store_->Snapshot();
  EXPECT_EQ(*view.Counter("backlog/arms/low"), 6);
  EXPECT_EQ(*view.Counter("backlog/arms/high"), 0);
  std::vector<std::pair<std::string, int64_t>> seen;
  ASSERT_THAT(view.ScanCounters("backlog/",
                                [&](absl::string_view name, int64_t value) {
                                  seen.emplace_back(name, value);
                                  return true;
                                }),
              IsOk());
  EXPECT_THAT(seen, ElementsAre(std::pair<std::string, int64_t>("backlog/arms/low", 6)));
}

TEST_F(StoreTest, DeltasThatCancelWithinAChangeLeaveTheCounterUnwritten) {
  Change open;
  open.AddToCounter("open/team-a/low", 2);
  ASSERT_THAT(store_->Commit(open).status(), IsOk());
  // -1 and +1 to the same counter (a record moved out of a cell and back), +1 to another.
  Change retime;
  retime.AddToCounter("open/team-a/low", -1);
  retime.AddToCounter("open/team-b/low", 1);
  retime.AddToCounter("open/team-a/low", 1);
  EXPECT_THAT(retime.counters(),
              ElementsAre(std::pair<std::string, int64_t>("open/team-b/low", 1)));
  ASSERT_THAT(store_->Commit(retime).status(), IsOk());
  Change only_cancelling;
  only_cancelling.AddToCounter("open/team-a/low", 1);
  only_cancelling.AddToCounter("open/team-a/low", -1);
  EXPECT_TRUE(only_cancelling.counters().empty());
  EXPECT_TRUE(only_cancelling.empty());
  Reopen();
  ReadView view = store_->Snapshot();
  EXPECT_EQ(*view.Counter("open/team-a/low"), 2);
  EXPECT_EQ(*view.Counter("open/team-b/low"), 1);
}

TEST_F(StoreTest, DeadlineScanReturnsDueEntriesInTimeOrder) {
  std::mt19937_64 rng(11);
  std::vector<absl::Time> times;
  Change change;
  for (int i = 0; i < 500; ++i) {
    // From 1950 to 2100, so some are before 1970.
    const absl::Time due =
        absl::FromUnixSeconds(-631'152'000 + static_cast<int64_t>(rng() % 4'733'510'400));
    times.push_back(due);
    change.AddDeadline(
        {DeadlineSpace::kRso, due, static_cast<uint8_t>(1 + i % 3), absl::StrCat("ob-", i)});
  }
  change.AddDeadline({DeadlineSpace::kOcait, absl::InfinitePast(), 5, "other-space"});
  ASSERT_THAT(store_->Commit(change).status(), IsOk());

  const absl::Time cutoff = absl::FromUnixSeconds(0);  // 1970
  std::vector<absl::Time> expected;
  for (absl::Time t : times) {
    if (t < cutoff) expected.push_back(t);
  }
  std::sort(expected.begin(), expected.end());
  std::vector<absl::Time> scanned;
  ASSERT_THAT(store_->Snapshot().ScanDeadlines(DeadlineSpace::kRso, absl::InfinitePast(), cutoff,
                                               [&](const Deadline& d, absl::string_view) {
                                                 EXPECT_EQ(d.space, DeadlineSpace::kRso);
                                                 scanned.push_back(d.due);
                                                 return true;
                                               }),
              IsOk());
  EXPECT_EQ(scanned, expected);
  absl::StatusOr<std::optional<Deadline>> earliest =
      store_->Snapshot().EarliestDeadline(DeadlineSpace::kRso);
  ASSERT_THAT(earliest.status(), IsOk());
  EXPECT_EQ((*earliest)->due, *std::min_element(times.begin(), times.end()));

  // Removing the earliest moves the answer to the next one.
  Change remove;
  remove.RemoveDeadline(**earliest);
  ASSERT_THAT(store_->Commit(remove).status(), IsOk());
  std::sort(times.begin(), times.end());
  EXPECT_EQ((*store_->Snapshot().EarliestDeadline(DeadlineSpace::kRso))->due, times[1]);
  EXPECT_FALSE(store_->Snapshot().EarliestDeadline(DeadlineSpace::kAlerts)->has_value());
}

TEST_F(StoreTest, DeadlineScanFromADeadlineStartsAtItsKeyWithinItsSpace) {
  const absl::Time due = absl::FromUnixSeconds(1'800'000'000);
  Change change;
  for (const char* id : {"a", "b", "c"}) change.AddDeadline({DeadlineSpace::kAlerts, due, 1, id});
  change.AddDeadline({DeadlineSpace::kAlerts, due - absl::Seconds(1), 1, "earlier"});
  change.AddDeadline({DeadlineSpace::kAlerts, due + absl::Seconds(1), 1, "later"});
  change.AddDeadline({DeadlineSpace::kAlerts, due + absl::Hours(1), 1, "too-late"});
  change.AddDeadline({DeadlineSpace::kTesting, due, 1, "other-space"});
  ASSERT_THAT(store_->Commit(change).status(), IsOk());
  auto scan = [&](const Deadline& first) {
    std::vector<std::string> ids;
    EXPECT_THAT(store_->Snapshot().ScanDeadlinesFrom(first, due + absl::Minutes(1),
                                                     [&](const Deadline& d, absl::string_view) {
                                                       ids.push_back(d.id);
                                                       return true;
                                                     }),
                IsOk());
    return ids;
  };
  // Inclusive of the key given, which need not exist.
  EXPECT_THAT(scan({DeadlineSpace::kAlerts, due, 1, "b"}), ElementsAre("b", "c", "later"));
  EXPECT_THAT(scan({DeadlineSpace::kAlerts, due, 1, "bb"}), ElementsAre("c", "later"));
  EXPECT_THAT(scan({DeadlineSpace::kAlerts, absl::InfinitePast(), 0, ""}),
              ElementsAre("earlier", "a", "b", "c", "later"));
  EXPECT_THAT(scan({DeadlineSpace::kAlerts, due + absl::Minutes(1), 0, ""}), ElementsAre());
}

TEST_F(StoreTest, SnapshotDoesNotSeeLaterCommits) {
  Change first;
  first.Put(Family::kEntities, "k", "1");
  ASSERT_THAT(store_->Commit(first).status(), IsOk());
  ReadView before = store_->Snapshot();
  Change second;
  second.Put(Family::kEntities, "k", "2");
  ASSERT_THAT(store_->Commit(second).status(), IsOk());
  EXPECT_EQ(*before.Get(Family::kEntities, "k"), "1");
  EXPECT_EQ(*store_->Snapshot().Get(Family::kEntities, "k"), "2");
}

TEST_F(StoreTest, MultiGetAnswersEachKeyInItsOrderAsOfItsView) {
  Change first;
  first.Put(Family::kEntities, "a", "1");
  first.Put(Family::kEntities, "c", "3");
  first.Put(Family::kIndex, "b", "index, not entities");
  ASSERT_THAT(store_->Commit(first).status(), IsOk());
  ReadView before = store_->Snapshot();
  Change second;
  second.Put(Family::kEntities, "b", "2");
  second.Delete(Family::kEntities, "c");
  second.Put(Family::kEntities, "a", std::string(10000, 'x'));
  ASSERT_THAT(store_->Commit(second).status(), IsOk());

  const std::vector<std::string> keys = {"c", "b", "a", "a", "missing"};
  absl::StatusOr<std::vector<std::optional<std::string>>> then =
      before.MultiGet(Family::kEntities, keys);
  ASSERT_THAT(then.status(), IsOk());
  EXPECT_THAT(*then, ElementsAre(std::optional<std::string>("3"), std::nullopt,
                                 std::optional<std::string>("1"), std::optional<std::string>("1"),
                                 std::nullopt));
  absl::StatusOr<std::vector<std::optional<std::string>>> now =
      store_->Snapshot().MultiGet(Family::kEntities, keys);
  ASSERT_THAT(now.status(), IsOk());
  EXPECT_THAT(*now, ElementsAre(std::nullopt, std::optional<std::string>("2"),
                                std::optional<std::string>(std::string(10000, 'x')),
                                std::optional<std::string>(std::string(10000, 'x')), std::nullopt));
  absl::StatusOr<std::vector<std::optional<std::string>>> none =
      store_->Snapshot().MultiGet(Family::kEntities, {});
  ASSERT_THAT(none.status(), IsOk());
  EXPECT_TRUE(none->empty());
}

TEST_F(StoreTest, APrefixScanEndsWithThePrefixWhateverItsLastBytes) {
  const std::vector<std::string> keys = {"s/a",
                                         "s/a\x01",
                                         "s/a\xff",
                                         "s/a\xff\xff",
                                         "s/a\xff\xffz",
                                         "s/b",
                                         std::string("s/b\0", 4),
                                         "s\xff",
                                         "s\xff\xff",
                                         "t",
                                         "\xff",
                                         "\xff\x01"};
  Change change;
  for (const std::string& key : keys) change.Put(Family::kEntities, key, "v");
  ASSERT_THAT(store_->Commit(change).status(), IsOk());
  auto scan = [&](const std::string& prefix, const std::string& start = "") {
    std::vector<std::string> found;
    EXPECT_THAT(store_->Snapshot().ScanPrefix(Family::kEntities, prefix, start,
                                              [&](absl::string_view key, absl::string_view) {
                                                found.emplace_back(key);
                                                return true;
                                              }),
                IsOk());
    return found;
  };
  EXPECT_THAT(scan("s/a"), ElementsAre("s/a", "s/a\x01", "s/a\xff", "s/a\xff\xff", "s/a\xff\xffz"));
  EXPECT_THAT(scan("s/a\xff"), ElementsAre("s/a\xff", "s/a\xff\xff", "s/a\xff\xffz"));
  EXPECT_THAT(scan("s/a\xff\xff"), ElementsAre("s/a\xff\xff", "s/a\xff\xffz"));
  EXPECT_THAT(scan("s/a", "s/a\xff\xff"), ElementsAre("s/a\xff\xff", "s/a\xff\xffz"));
  EXPECT_THAT(scan("s/b"), ElementsAre("s/b", std::string("s/b\0", 4)));
  EXPECT_THAT(scan("s\xff"), ElementsAre("s\xff", "s\xff\xff"));
  EXPECT_THAT(scan("s\xff\xff"), ElementsAre("s\xff\xff"));
  EXPECT_THAT(scan("u"), ::testing::IsEmpty());
  // A prefix of 0xff bytes alone has no key after it to stop at: the family's end does.
  EXPECT_THAT(scan("\xff"), ElementsAre("\xff", "\xff\x01"));
  EXPECT_THAT(scan("\xff\x01"), ElementsAre("\xff\x01"));
}

std::vector<uint64_t> ScanAudit(const ReadView& view, const std::string& prefix, uint64_t after = 0,
                                size_t at_most = SIZE_MAX) {
  std::vector<uint64_t> sequences;
  EXPECT_THAT(view.ScanAuditIndex(prefix, after,
                                  [&](uint64_t s) {
                                    sequences.push_back(s);
                                    return sequences.size() < at_most;
                                  }),
              IsOk());
  return sequences;
}

TEST_F(StoreTest, AuditIndexFindsRecordsBySubjectAndActorWithinForce) {
  ASSERT_NO_FATAL_FAILURE(CommitSixRecordsOfTwoForces());
  ReadView view = store_->Snapshot();
  EXPECT_THAT(ScanAudit(view, AuditBySubjectPrefix("wessex", "offender/0")), ElementsAre(1, 3, 5));
  EXPECT_THAT(ScanAudit(view, AuditByActorPrefix("mercia", "DC 1")), ElementsAre(2));
  EXPECT_THAT(ScanAudit(view, AuditByForcePrefix("wessex"), 3), ElementsAre(5));
}

TEST_F(StoreTest, NationalSecurityRecordsAreIndexedOnceAcrossForces) {
  AuditEntry probe{"wessex", "DC 1", {"offender/9"}, "probe"};
  probe.national_security = true;
  AuditEntry ordinary{"mercia", "DC 2", {"offender/9"}, "read"};
  AuditEntry unverified{"", "someone", {}, "bad token"};
  unverified.national_security = true;
  for (const AuditEntry& entry : {probe, ordinary, unverified}) {
    Change change;
    change.SetAudit(entry);
    ASSERT_THAT(store_->Commit(change).status(), IsOk());
  }
  auto scan = [&](const std::string& prefix) { return ScanAudit(store_->Snapshot(), prefix); };
  EXPECT_THAT(scan(AuditNationalSecurityPrefix()), ElementsAre(1, 3));
  // The probe is in its force's log too; a record without a force is in no force's log.
  EXPECT_THAT(scan(AuditByForcePrefix("wessex")), ElementsAre(1));
  EXPECT_THAT(scan(AuditByForcePrefix("")), ElementsAre());
  VIGIL_ASSERT_OK_AND_ASSIGN(std::vector<std::string> forces, store_->Snapshot().AuditedForces());
  EXPECT_THAT(forces, ElementsAre("mercia", "wessex"));
  VIGIL_ASSERT_OK_AND_ASSIGN(AuditChainReport report, store_->Snapshot().VerifyAuditChain());
  EXPECT_TRUE(report.ok);
}

TEST_F(StoreTest, OneChangeMayCarryARecordPerForceChainedInOrder) {
  // vigild's own batch of alerts for two forces: one record under each, in one commit, while
  // other writers commit records of their own in the same groups.
  std::vector<std::thread> writers;
  writers.reserve(4);
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < 25; ++i) {
        Change change;
        change.AddAudit(AuditEntry{"wessex", "vigild alerts", {absl::StrCat("w", w, "/", i)}, "a"});
        change.AddAudit(AuditEntry{"mercia", "vigild alerts", {absl::StrCat("m", w, "/", i)}, "b"});
        absl::StatusOr<CommitResult> result = store_->Commit(change);
        ASSERT_THAT(result.status(), IsOk());
        // The result names the change's last record; its first is the one before.
        VIGIL_ASSERT_OK_AND_ASSIGN(std::optional<StoredAuditRecord> last,
                                   store_->Snapshot().AuditRecord(result->audit_sequence));
        ASSERT_TRUE(last.has_value());
        EXPECT_EQ(last->body, "b");
        VIGIL_ASSERT_OK_AND_ASSIGN(std::optional<StoredAuditRecord> first,
                                   store_->Snapshot().AuditRecord(result->audit_sequence - 1));
        ASSERT_TRUE(first.has_value());
        EXPECT_EQ(first->body, "a");
        EXPECT_EQ(last->previous_hash, first->hash);
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  EXPECT_EQ(store_->AuditHead(), 200u);
  auto scan = [&](const std::string& prefix) {
    return static_cast<int>(ScanAudit(store_->Snapshot(), prefix).size());
  };
  EXPECT_EQ(scan(AuditByForcePrefix("wessex")), 100);
  EXPECT_EQ(scan(AuditByForcePrefix("mercia")), 100);
  EXPECT_EQ(scan(AuditBySubjectPrefix("wessex", "w2/7")), 1);
  EXPECT_EQ(scan(AuditBySubjectPrefix("mercia", "w2/7")), 0);
  VIGIL_ASSERT_OK_AND_ASSIGN(AuditChainReport report, store_->Snapshot().VerifyAuditChain());
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records_checked, 200u);
}

// The audit index entries in the index family, as RocksDB holds them.
int AuditIndexKeys(Store& store) {
  int n = 0;
  EXPECT_THAT(store.Snapshot().ScanPrefix(Family::kIndex, kAuditIndexPrefix, {},
                                          [&](absl::string_view, absl::string_view) {
                                            ++n;
                                            return true;
                                          }),
              IsOk());
  return n;
}

TEST_F(StoreTest, TheAuditIndexListsRecordsItsIndexerHasNotReachedYet) {
  Reopen(/*index_audit=*/false);
  ASSERT_NO_FATAL_FAILURE(CommitSixRecordsOfTwoForces());
  // Nothing indexed: every answer comes from the chain.
  EXPECT_EQ(store_->AuditIndexed(), 0u);
  EXPECT_EQ(AuditIndexKeys(*store_), 0);
  const ReadView before = store_->Snapshot();
  EXPECT_THAT(ScanAudit(before, AuditBySubjectPrefix("wessex", "offender/0")),
              ElementsAre(1, 3, 5));
  EXPECT_THAT(ScanAudit(before, AuditByActorPrefix("mercia", "DC 1")), ElementsAre(2));
  EXPECT_THAT(ScanAudit(before, AuditByForcePrefix("wessex"), 3), ElementsAre(5));
  VIGIL_ASSERT_OK_AND_ASSIGN(std::vector<std::string> forces, before.AuditedForces());
  EXPECT_THAT(forces, ElementsAre("mercia", "wessex"));

  // Indexed: force, actor and subject of each record.
  ASSERT_THAT(store_->CatchUpAuditIndex(), IsOk());
  EXPECT_EQ(store_->AuditIndexed(), 6u);
  EXPECT_EQ(AuditIndexKeys(*store_), 18);
  // Two more, not indexed: the answers join the index and the chain in sequence order.
  for (const char* force : {"wessex", "mercia"}) {
    Change change;
    change.SetAudit(AuditEntry{force, "DC 9", {"offender/0"}, "later"});
    ASSERT_THAT(store_->Commit(change).status(), IsOk());
  }
  const ReadView mixed = store_->Snapshot();
  EXPECT_THAT(ScanAudit(mixed, AuditBySubjectPrefix("wessex", "offender/0")),
              ElementsAre(1, 3, 5, 7));
  EXPECT_THAT(ScanAudit(mixed, AuditBySubjectPrefix("wessex", "offender/0"), 3), ElementsAre(5, 7));
  EXPECT_THAT(ScanAudit(mixed, AuditBySubjectPrefix("wessex", "offender/0"), 5), ElementsAre(7));
  EXPECT_THAT(ScanAudit(mixed, AuditBySubjectPrefix("mercia", "offender/0")), ElementsAre(8));
  // A caller that stops in the index part is not called again from the chain.
  EXPECT_THAT(ScanAudit(mixed, AuditByForcePrefix("wessex"), 0, 2), ElementsAre(1, 3));
  // A view from before the catch-up still answers as it did.
  EXPECT_THAT(ScanAudit(before, AuditByForcePrefix("wessex")), ElementsAre(1, 3, 5));
  ASSERT_THAT(store_->CatchUpAuditIndex(), IsOk());
  EXPECT_THAT(ScanAudit(store_->Snapshot(), AuditBySubjectPrefix("wessex", "offender/0")),
              ElementsAre(1, 3, 5, 7));
  EXPECT_EQ(AuditIndexKeys(*store_), 24);
}

TEST_F(StoreTest, AuditIndexEntriesPastTheCursorAreNotListedTwice) {
  Reopen(/*index_audit=*/false);
  for (int i = 0; i < 3; ++i) {
    Change change;
    change.SetAudit(Audit("offender/1"));
    ASSERT_THAT(store_->Commit(change).status(), IsOk());
  }
  ASSERT_THAT(store_->CatchUpAuditIndex(), IsOk());
  store_.reset();
  // The cursor set back below entries that exist (as an indexer that started over lower would
  // leave it), with a plain RocksDB handle.
  vigil::testing::EditClosedStore(
      dir_.Sub("data"),
      [](rocksdb::DB* db, std::map<std::string, rocksdb::ColumnFamilyHandle*>& families) {
        std::string cursor;
        PutFixed64BE(&cursor, 1);
        ASSERT_TRUE(
            db->Put(rocksdb::WriteOptions(), families.at("meta"), "audit_indexed", cursor).ok());
      });
  Reopen(/*index_audit=*/false);
  EXPECT_EQ(store_->AuditIndexed(), 1u);
  EXPECT_EQ(AuditIndexKeys(*store_), 9);
  EXPECT_THAT(ScanAudit(store_->Snapshot(), AuditBySubjectPrefix("wessex", "offender/1")),
              ElementsAre(1, 2, 3));
  EXPECT_THAT(ScanAudit(store_->Snapshot(), AuditByForcePrefix("wessex"), 1), ElementsAre(2, 3));
}

TEST_F(StoreTest, TheAuditIndexerCatchesUpInBatchesInTheBackgroundAndOnClose) {
  // Records of 3,000 subjects each: a batch (4,096 entries) ends after the second.
  Reopen(/*index_audit=*/false);
  for (int r = 0; r < 3; ++r) {
    AuditEntry entry{"wessex", "vigild alerts", {}, absl::StrCat("batch ", r)};
    for (int i = 0; i < 3000; ++i) entry.subject_ids.push_back(absl::StrCat("alert/", r, "/", i));
    Change change;
    change.SetAudit(std::move(entry));
    ASSERT_THAT(store_->Commit(change).status(), IsOk());
  }
  ASSERT_THAT(store_->CatchUpAuditIndex(), IsOk());
  EXPECT_EQ(store_->AuditIndexed(), 3u);
  EXPECT_EQ(AuditIndexKeys(*store_), 3 * 3002);
  EXPECT_THAT(ScanAudit(store_->Snapshot(), AuditBySubjectPrefix("wessex", "alert/2/2999")),
              ElementsAre(3));

  // Closing indexes what the indexer had not reached.
  Change more;
  more.SetAudit(Audit("offender/1"));
  ASSERT_THAT(store_->Commit(more).status(), IsOk());
  Reopen(/*index_audit=*/false);
  EXPECT_EQ(store_->AuditIndexed(), 4u);

  // The indexer's thread follows commits by itself.
  Reopen(/*index_audit=*/true);
  for (int i = 0; i < 50; ++i) {
    Change change;
    change.SetAudit(Audit(absl::StrCat("offender/", i)));
    ASSERT_THAT(store_->Commit(change).status(), IsOk());
  }
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (store_->AuditIndexed() < 54 && absl::Now() < give_up)
    absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(store_->AuditIndexed(), 54u);
  EXPECT_EQ(AuditIndexKeys(*store_), 3 * 3002 + 3 + 50 * 3);
}

// --- Opening: every refusal names the directory and leaves it untouched. ---

// Whether any file under `dir` holds `needle` (tables, logs, the manifest: everything).
bool AnyFileHolds(const std::string& dir, absl::string_view needle) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (absl::StrContains(bytes, needle)) return true;
  }
  return false;
}

TEST_F(StoreTest, ARedactedEventKeepsItsSequenceAndOnlyEventsOnTheFeedMayBeRedacted) {
  for (const char* payload : {"first", "second", "third"}) {
    Change change;
    change.AddEvent("rso", payload);
    ASSERT_THAT(store_->Commit(change).status(), IsOk());
  }
  Change redact;
  redact.RedactEvent("rso", 2, "(redacted)");
  ASSERT_THAT(store_->Commit(redact).status(), IsOk());
  EXPECT_EQ(store_->EventHead("rso"), 3u);
  absl::StatusOr<std::vector<FeedEvent>> events = store_->Snapshot().ReadEvents("rso", 0, 10);
  ASSERT_THAT(events.status(), IsOk());
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[1].sequence, 2u);
  EXPECT_EQ((*events)[1].payload, "(redacted)");
  EXPECT_EQ((*events)[2].payload, "third");

  // Past the head (or on a feed with no events) nothing is written, not even the change's put.
  Change beyond;
  beyond.Put(Family::kEntities, "offender/9", "x");
  beyond.RedactEvent("rso", 4, "(redacted)");
  EXPECT_THAT(store_->Commit(beyond).status(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(Get(Family::kEntities, "offender/9"), std::nullopt);
  Change zero;
  zero.RedactEvent("rso", 0, "(redacted)");
  EXPECT_THAT(store_->Commit(zero).status(), StatusIs(absl::StatusCode::kInvalidArgument));
  // An event added by the same change may be redacted by it (the head it sees includes it).
  Change same;
  same.AddEvent("ocait", "new");
  same.RedactEvent("ocait", 1, "(redacted)");
  ASSERT_THAT(store_->Commit(same).status(), IsOk());
  EXPECT_EQ((*store_->Snapshot().ReadEvents("ocait", 0, 10))[0].payload, "(redacted)");
}

TEST_F(StoreTest, CompactAwayLeavesNoFileHoldingDeletedOrRedactedBytes) {
  const std::string secret = "Zebedee-Quixotic-4711";
  Change write;
  write.Put(Family::kEntities, "offender/1", "name=" + secret);
  write.Put(Family::kEntities, "offender/2", "name=someone else");
  write.AddEvent("rso", "opened for " + secret);
  ASSERT_THAT(store_->Commit(write).status(), IsOk());
  // Flushed to a table file as well as in the WAL, as after a busy day.
  ASSERT_THAT(store_->CompactAway({}), IsOk());
  Change more;
  more.Put(Family::kEntities, "offender/1", "name=" + secret + " (updated)");
  ASSERT_THAT(store_->Commit(more).status(), IsOk());
  ASSERT_TRUE(AnyFileHolds(store_->path(), secret));

  Change erase;
  erase.Delete(Family::kEntities, "offender/1");
  erase.RedactEvent("rso", 1, "(redacted)");
  ASSERT_THAT(store_->Commit(erase).status(), IsOk());
  EXPECT_TRUE(AnyFileHolds(store_->path(), secret)) << "deleting alone leaves the bytes on disk";
  ASSERT_THAT(store_->CompactAway({{Family::kEntities, "offender/1", "offender/1"},
                                   {Family::kEvents, EventKey("rso", 1), EventKey("rso", 1)}}),
              IsOk());
  EXPECT_FALSE(AnyFileHolds(store_->path(), secret));
  EXPECT_EQ(Get(Family::kEntities, "offender/2"), "name=someone else");

  Reopen();
  EXPECT_FALSE(AnyFileHolds(store_->path(), secret));
  EXPECT_EQ(Get(Family::kEntities, "offender/1"), std::nullopt);
  EXPECT_EQ((*store_->Snapshot().ReadEvents("rso", 0, 10))[0].payload, "(redacted)");
}

TEST_F(StoreTest, CompactAwayWaitsForAReaderFromBeforeTheErasure) {
  Change write;
  write.Put(Family::kEntities, "offender/1", "Xylophone-991");
  ASSERT_THAT(store_->Commit(write).status(), IsOk());
  std::optional<ReadView> reader = store_->Snapshot();  // a long export, say
  Change erase;
  erase.Delete(Family::kEntities, "offender/1");
  ASSERT_THAT(store_->Commit(erase).status(), IsOk());
  std::thread release([&] {
    absl::SleepFor(absl::Milliseconds(300));
    reader.reset();
  });
  const absl::Time start = absl::Now();
  EXPECT_THAT(store_->CompactAway({{Family::kEntities, "offender/1", "offender/1"}}), IsOk());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(250));
  release.join();
  EXPECT_FALSE(AnyFileHolds(store_->path(), "Xylophone-991"));
}

class StoreOpenTest : public ::testing::Test {
 protected:
  absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& path, bool create = true) {
    StoreOptions options;
    options.path = path;
    options.create_if_missing = create;
    return Store::Open(options);
  }
  vigil::testing::TempDir dir_;
};

TEST_F(StoreOpenTest, CreatesMissingDirectoryWithParents) {
  const std::string path = dir_.Sub("a/b/data");
  ASSERT_THAT(Open(path).status(), IsOk());
  EXPECT_TRUE(std::filesystem::exists(path + "/CURRENT"));
}

TEST_F(StoreOpenTest, MissingDirectoryWithoutCreateIsNotFound) {
  EXPECT_THAT(Open(dir_.Sub("absent"), /*create=*/false), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(StoreOpenTest, PathThroughAFileIsRefusedClearly) {
  std::ofstream(dir_.Sub("file")) << "x";
  EXPECT_THAT(Open(dir_.Sub("file")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a directory")));
  EXPECT_THAT(Open(dir_.Sub("file/data")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("cannot be")));
}

TEST_F(StoreOpenTest, ForeignDirectoryIsRefusedAndLeftAlone) {
  const std::string path = dir_.Sub("photos");
  std::filesystem::create_directories(path);
  std::ofstream(path + "/holiday.jpg") << "jpeg";
  EXPECT_THAT(Open(path),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a vigil store")));
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(path)) {
    files.push_back(entry.path().filename());
  }
  EXPECT_THAT(files, ElementsAre("holiday.jpg"));
}

TEST_F(StoreOpenTest, PlainRocksDbIsNotAVigilStore) {
  const std::string path = dir_.Sub("other");
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, path, &db).ok());
  ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "k", "v").ok());
  delete db;
  EXPECT_THAT(Open(path),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a vigil store")));
}

TEST_F(StoreOpenTest, NewerSchemaIsRefusedWithoutBeingModified) {
  const std::string path = dir_.Sub("data");
  ASSERT_THAT(Open(path).status(), IsOk());
  // Stamp a future schema version directly.
  const std::string future = absl::StrCat(kSchemaVersion + 1);
  vigil::testing::EditClosedStore(
      path, [&](rocksdb::DB* db, std::map<std::string, rocksdb::ColumnFamilyHandle*>& families) {
        ASSERT_TRUE(
            db->Put(rocksdb::WriteOptions(), families.at("meta"), "schema_version", future).ok());
      });
  EXPECT_THAT(Open(path), StatusIs(absl::StatusCode::kFailedPrecondition,
                                   AllOf(HasSubstr(absl::StrCat("schema version ", future)),
                                         HasSubstr("newer vigild"))));
}

TEST_F(StoreOpenTest, SecondOpenOfTheSameDirectoryIsRefused) {
  const std::string path = dir_.Sub("data");
  absl::StatusOr<std::unique_ptr<Store>> first = Open(path);
  ASSERT_THAT(first.status(), IsOk());
  EXPECT_THAT(Open(path), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("in use")));
}

TEST_F(StoreOpenTest, CorruptCurrentFileIsReportedNotCrashed) {
  const std::string path = dir_.Sub("data");
  ASSERT_THAT(Open(path).status(), IsOk());
  std::ofstream(path + "/CURRENT", std::ios::trunc) << "MANIFEST-999999\n";
  absl::StatusOr<std::unique_ptr<Store>> store = Open(path);
  EXPECT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(path));
}

TEST_F(StoreOpenTest, CommitsAfterCloseAreUnavailable) {
  absl::StatusOr<std::unique_ptr<Store>> store = Open(dir_.Sub("data"));
  ASSERT_THAT(store.status(), IsOk());
  ASSERT_THAT((*store)->Close(), IsOk());
  Change change;
  change.Put(Family::kEntities, "k", "v");
  EXPECT_THAT((*store)->Commit(change), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT((*store)->Close(), IsOk());  // idempotent
}

}  // namespace
}  // namespace vigil::storage
