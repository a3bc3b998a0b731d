// Storage faults: a failing or full disk refuses commits (Unavailable, ResourceExhausted) with
// nothing half-written, and the store writes again by itself once the disk recovers; a damaged
// table file is DataLoss and final; a simulated power loss keeps every acknowledged commit.
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/rocks_status.h"
#include "storage/store.h"
#include "storage/testing/fault_injection_fs.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace vigil::storage {
namespace {

using ::vigil::testing::IsOk;
using ::vigil::testing::StatusIs;

Change Numbered(int i) {
  Change change;
  change.Put(Family::kEntities, absl::StrCat("e/", i), absl::StrCat("value ", i));
  change.Put(Family::kIndex, absl::StrCat("i/", i), "");
  change.AddDeadline({DeadlineSpace::kTesting, absl::FromUnixSeconds(i), 1, absl::StrCat("d", i)});
  change.AddEvent("test", absl::StrCat("event ", i));
  change.SetAudit(AuditEntry{"wessex", "DC 1", {absl::StrCat("e/", i)}, absl::StrCat("audit ", i)});
  change.AddToCounter("n", 1);
  return change;
}

// True when every part of change i is present; false when none is; fails the test if partial.
bool Present(const ReadView& view, int i) {
  const bool entity = view.Get(Family::kEntities, absl::StrCat("e/", i))->has_value();
  const bool index = view.Get(Family::kIndex, absl::StrCat("i/", i))->has_value();
  bool deadline = false;
  EXPECT_THAT(view.ScanDeadlines(DeadlineSpace::kTesting, absl::FromUnixSeconds(i),
                                 absl::FromUnixSeconds(i + 1),
                                 [&](const Deadline&, absl::string_view) {
                                   deadline = true;
                                   return false;
                                 }),
              IsOk());
  EXPECT_EQ(entity, index) << "change " << i << " is half there";
  EXPECT_EQ(entity, deadline) << "change " << i << " is half there";
  return entity;
}

class FaultInjectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = std::make_shared<testing::FaultInjectionFileSystem>(rocksdb::FileSystem::Default());
    env_ = testing::NewFaultInjectionEnv(fs_);
  }

  absl::StatusOr<std::unique_ptr<Store>> Open(bool faulty) {
    StoreOptions options;
    options.path = dir_.Sub("data");
    options.env = faulty ? env_.get() : nullptr;
    options.recovery_interval = absl::Milliseconds(20);
    return Store::Open(options);
  }

  // Waits up to 30 s for the store to reach `health`. RocksDB's own recovery from a full disk
  // polls every 5 s, and the store's answers Busy while it runs.
  static bool Reaches(const Store& store, StoreHealth health) {
    for (int i = 0; i < 3000 && store.condition().health != health; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return store.condition().health == health;
  }

  vigil::testing::TempDir dir_;
  std::shared_ptr<testing::FaultInjectionFileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;
};

TEST_F(FaultInjectionTest, AWriteErrorIsUnavailableUntilTheStoreIsReopened) {
  absl::StatusOr<std::unique_ptr<Store>> store = Open(/*faulty=*/true);
  ASSERT_THAT(store.status(), IsOk());
  std::vector<StoreHealth> seen;
  std::mutex seen_mu;
  (*store)->AddConditionListener([&](const StoreCondition& condition) {
    std::lock_guard lock(seen_mu);
    seen.push_back(condition.health);
  });
  for (int i = 0; i < 5; ++i) ASSERT_THAT((*store)->Commit(Numbered(i)).status(), IsOk());

  fs_->FailWrites(true);
  EXPECT_THAT((*store)->Commit(Numbered(5)), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ((*store)->condition().health, StoreHealth::kWriteFailed);
  // Reads keep working.
  EXPECT_TRUE(Present((*store)->Snapshot(), 4));
  fs_->FailWrites(false);
  // RocksDB does not resume after a WAL it could not write (other than for a full disk):
  // whether change 5 reached the disk is unknown, so the store refuses until reopened.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_THAT((*store)->Commit(Numbered(6)), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ((*store)->EventHead("test"), 5u);
  {
    std::lock_guard lock(seen_mu);
    EXPECT_THAT(seen, ::testing::ElementsAre(StoreHealth::kWriteFailed));
  }
  store->reset();

  absl::StatusOr<std::unique_ptr<Store>> reopened = Open(/*faulty=*/false);
  ASSERT_THAT(reopened.status(), IsOk());
  ReadView view = (*reopened)->Snapshot();
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(Present(view, i)) << i;
  Present(view, 5);  // either whole or absent
  EXPECT_FALSE(Present(view, 6));
  absl::StatusOr<AuditChainReport> report = view.VerifyAuditChain();
  ASSERT_THAT(report.status(), IsOk());
  EXPECT_TRUE(report->ok) << report->problem;
  // The feed continues without a gap.
  absl::StatusOr<CommitResult> next = (*reopened)->Commit(Numbered(7));
  ASSERT_THAT(next.status(), IsOk());
  EXPECT_EQ(next->event_sequence, (*reopened)->EventHead("test"));
  absl::StatusOr<std::vector<FeedEvent>> events =
      (*reopened)->Snapshot().ReadEvents("test", 0, 100);
  ASSERT_THAT(events.status(), IsOk());
  for (size_t i = 0; i < events->size(); ++i) EXPECT_EQ((*events)[i].sequence, i + 1);
}

TEST_F(FaultInjectionTest, AFullDiskIsResourceExhaustedAndWritesResumeWhenSpaceIsFreed) {
  absl::StatusOr<std::unique_ptr<Store>> store = Open(/*faulty=*/true);
  ASSERT_THAT(store.status(), IsOk());
  ASSERT_THAT((*store)->Commit(Numbered(0)).status(), IsOk());
  for (int cycle = 1; cycle <= 3; ++cycle) {
    fs_->FailWrites(true, /*no_space=*/true);
    absl::StatusOr<CommitResult> refused = (*store)->Commit(Numbered(cycle * 10));
    EXPECT_THAT(refused, StatusIs(absl::StatusCode::kResourceExhausted));
    EXPECT_THAT(std::string(refused.status().message()), ::testing::HasSubstr("disk full"));
    EXPECT_THAT(std::string(refused.status().message()),
                ::testing::Not(::testing::HasSubstr(dir_.path())));
    EXPECT_EQ((*store)->condition().health, StoreHealth::kDiskFull);
    EXPECT_TRUE(Present((*store)->Snapshot(), 0));

    fs_->FailWrites(false);
    ASSERT_TRUE(Reaches(**store, StoreHealth::kOk)) << "cycle " << cycle;
    ASSERT_THAT((*store)->Commit(Numbered(cycle * 10 + 1)).status(), IsOk()) << cycle;
  }
  // Refused changes reached no memtable: the chain and the feed go on without them or a gap.
  absl::StatusOr<AuditChainReport> report = (*store)->Snapshot().VerifyAuditChain();
  ASSERT_THAT(report.status(), IsOk());
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->records_checked, 4u);
  EXPECT_EQ((*store)->EventHead("test"), 4u);
  store->reset();
  absl::StatusOr<std::unique_ptr<Store>> reopened = Open(/*faulty=*/false);
  ASSERT_THAT(reopened.status(), IsOk());
  ReadView view = (*reopened)->Snapshot();
  for (int i : {0, 11, 21, 31}) EXPECT_TRUE(Present(view, i)) << i;
  for (int i : {10, 20, 30}) EXPECT_FALSE(Present(view, i)) << i;
}

TEST_F(FaultInjectionTest, AFullDiskAnswersEveryQueuedAsyncCommitOnceAndWritesResume) {
  absl::StatusOr<std::unique_ptr<Store>> store = Open(/*faulty=*/true);
  ASSERT_THAT(store.status(), IsOk());
  constexpr int kChanges = 200;
  absl::Mutex mu;
  std::map<int, std::vector<absl::Status>> answers;
  auto answer = [&](int i) {
    return [&, i](const absl::StatusOr<CommitResult>& result) {
      absl::MutexLock lock(&mu);
      answers[i].push_back(result.status());
    };
  };
  auto all_answered = [&] { return answers.size() == kChanges; };

  fs_->FailWrites(true, /*no_space=*/true);
  for (int i = 0; i < kChanges; ++i) (*store)->CommitAsync(Numbered(i), answer(i));
  {
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all_answered), absl::Seconds(60)));
    for (const auto& [i, statuses] : answers) {
      ASSERT_EQ(statuses.size(), 1u) << "change " << i << " answered twice";
      EXPECT_THAT(statuses[0], StatusIs(absl::StatusCode::kResourceExhausted)) << i;
    }
    answers.clear();
  }
  EXPECT_FALSE(Present((*store)->Snapshot(), 0));

  fs_->FailWrites(false);
  ASSERT_TRUE(Reaches(**store, StoreHealth::kOk));
  for (int i = 0; i < kChanges; ++i) (*store)->CommitAsync(Numbered(kChanges + i), answer(i));
  {
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all_answered), absl::Seconds(60)));
    for (const auto& [i, statuses] : answers) {
      ASSERT_EQ(statuses.size(), 1u) << "change " << i << " answered twice";
      EXPECT_THAT(statuses[0], IsOk()) << i;
    }
  }
  const ReadView view = (*store)->Snapshot();
  for (int i = 0; i < kChanges; ++i) {
    EXPECT_FALSE(Present(view, i)) << i;
    EXPECT_TRUE(Present(view, kChanges + i)) << kChanges + i;
  }
  absl::StatusOr<AuditChainReport> report = view.VerifyAuditChain();
  ASSERT_THAT(report.status(), IsOk());
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->records_checked, uint64_t{kChanges});
}

TEST_F(FaultInjectionTest, ADamagedTableFileIsDataLossWithoutPathsAndFinal) {
  {
    absl::StatusOr<std::unique_ptr<Store>> store = Open(/*faulty=*/false);
    ASSERT_THAT(store.status(), IsOk());
    for (int i = 0; i < 2000; ++i) ASSERT_THAT((*store)->Commit(Numbered(i)).status(), IsOk());
    ASSERT_THAT((*store)->Close(), IsOk());  // flushes every memtable to table files
  }
  ASSERT_FALSE(vigil::testing::FlipByteInLargestFile(dir_.Sub("data"), ".sst").empty());

  absl::StatusOr<VerifyReport> offline = Store::VerifyChecksumsAt(dir_.Sub("data"));
  ASSERT_THAT(offline.status(), IsOk());
  EXPECT_FALSE(offline->ok());
  EXPECT_GT(offline->files_checked, 1u);
  ASSERT_EQ(offline->damaged.size(), 1u);
  EXPECT_THAT(offline->damaged[0].first, ::testing::EndsWith(".sst"));

  absl::StatusOr<std::unique_ptr<Store>> store = Open(/*faulty=*/false);
  ASSERT_THAT(store.status(), IsOk());
  EXPECT_EQ((*store)->condition().health, StoreHealth::kOk);
  // Reading everything meets the damaged block.
  absl::Status read;
  ReadView view = (*store)->Snapshot();
  for (Family family : {Family::kEntities, Family::kIndex, Family::kAudit, Family::kEvents,
                        Family::kDeadlines, Family::kMeta}) {
    absl::Status s =
        view.Scan(family, "", "", [](absl::string_view, absl::string_view) { return true; });
    if (!s.ok()) read = s;
  }
  EXPECT_THAT(read, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(read.message(), kDamagedStore);
  EXPECT_EQ((*store)->condition().health, StoreHealth::kCorrupt);
  EXPECT_THAT((*store)->Commit(Numbered(5000)), StatusIs(absl::StatusCode::kDataLoss));
  // A damaged store never resumes by itself.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ((*store)->condition().health, StoreHealth::kCorrupt);
  absl::StatusOr<VerifyReport> online = (*store)->VerifyChecksums();
  ASSERT_THAT(online.status(), IsOk());
  EXPECT_EQ(online->damaged.size(), 1u);
}

TEST_F(FaultInjectionTest, PowerLossKeepsEveryAcknowledgedCommit) {
  constexpr int kCommits = 200;
  {
    absl::StatusOr<std::unique_ptr<Store>> store = Open(/*faulty=*/true);
    ASSERT_THAT(store.status(), IsOk());
    for (int i = 0; i < kCommits; ++i) ASSERT_THAT((*store)->Commit(Numbered(i)).status(), IsOk());
    // The machine loses power: nothing more reaches the disk, unsynced data is gone.
    fs_->FailWrites(true);
    store->reset();
  }
  ASSERT_TRUE(fs_->DropUnsyncedData().ok());

  absl::StatusOr<std::unique_ptr<Store>> reopened = Open(/*faulty=*/false);
  ASSERT_THAT(reopened.status(), IsOk());
  ReadView view = (*reopened)->Snapshot();
  for (int i = 0; i < kCommits; ++i)
    ASSERT_TRUE(Present(view, i)) << "acknowledged commit " << i << " lost";
  EXPECT_EQ(*view.Counter("n"), kCommits);
  EXPECT_EQ((*reopened)->EventHead("test"), uint64_t{kCommits});
  absl::StatusOr<AuditChainReport> report = view.VerifyAuditChain();
  ASSERT_THAT(report.status(), IsOk());
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->records_checked, uint64_t{kCommits});
}

}  // namespace
}  // namespace vigil::storage
