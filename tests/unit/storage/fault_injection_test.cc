// Storage faults: a failing disk makes commits Unavailable and the store fail-stop, with
// nothing half-written; a simulated power loss keeps every acknowledged commit.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
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
    return Store::Open(options);
  }

  vigil::testing::TempDir dir_;
  std::shared_ptr<testing::FaultInjectionFileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;
};

TEST_F(FaultInjectionTest, WriteFailureIsUnavailableAndTheStoreFailsStop) {
  absl::StatusOr<std::unique_ptr<Store>> store = Open(/*faulty=*/true);
  ASSERT_THAT(store.status(), IsOk());
  for (int i = 0; i < 5; ++i) ASSERT_THAT((*store)->Commit(Numbered(i)).status(), IsOk());

  fs_->FailWrites(true);
  EXPECT_THAT((*store)->Commit(Numbered(5)), StatusIs(absl::StatusCode::kUnavailable));
  fs_->FailWrites(false);
  // The disk came back, but whether change 5 reached it is unknown: refuse until reopened.
  EXPECT_THAT((*store)->Commit(Numbered(6)), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ((*store)->EventHead("test"), 5u);
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
  absl::StatusOr<std::vector<FeedEvent>> events = view.ReadEvents("test", 0, 100);
  for (size_t i = 0; i < events->size(); ++i) EXPECT_EQ((*events)[i].sequence, i + 1);
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
