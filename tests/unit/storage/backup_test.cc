// Backups: taken while commits go on, each holds whole commits only with its audit chain
// intact; incremental; verified by checksum; restored only into an empty directory.
#include "storage/backup.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace vigil::storage {
namespace {

using ::testing::HasSubstr;
using ::vigil::testing::IsOk;
using ::vigil::testing::StatusIs;

// A change of four parts; a backup must hold all of them or none.
Change Numbered(int i) {
  Change change;
  change.Put(Family::kEntities, absl::StrCat("e/", i), std::string(200, 'x'));
  change.Put(Family::kIndex, absl::StrCat("i/", i), "");
  change.AddEvent("test", absl::StrCat("event ", i));
  change.SetAudit(AuditEntry{"wessex", "DC 1", {absl::StrCat("e/", i)}, absl::StrCat("audit ", i)});
  return change;
}

bool Present(const ReadView& view, int i) {
  const bool entity = view.Get(Family::kEntities, absl::StrCat("e/", i))->has_value();
  const bool index = view.Get(Family::kIndex, absl::StrCat("i/", i))->has_value();
  EXPECT_EQ(entity, index) << "change " << i << " is half there";
  return entity;
}

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.path = dir_.Sub("data");
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
    ASSERT_THAT(store.status(), IsOk());
    store_ = *std::move(store);
  }

  std::unique_ptr<Store> Reopen(const std::string& path) {
    StoreOptions options;
    options.path = path;
    options.create_if_missing = false;
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
    EXPECT_THAT(store.status(), IsOk());
    return store.ok() ? *std::move(store) : nullptr;
  }

  vigil::testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(BackupTest, ABackupUnderWriteLoadHoldsEveryCommitAcknowledgedBeforeItAndNoHalfCommit) {
  absl::StatusOr<std::unique_ptr<Backups>> backups = Backups::Open(*store_, dir_.Sub("backups"));
  ASSERT_THAT(backups.status(), IsOk());
  for (int i = 0; i < 500; ++i) ASSERT_THAT(store_->Commit(Numbered(i)).status(), IsOk());

  // Eight writers keep committing while the backup is taken.
  std::atomic<bool> stop{false};
  std::atomic<int> next{1000};
  std::atomic<int> acknowledged{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 8; ++w) {
    writers.emplace_back([&] {
      while (!stop.load()) {
        EXPECT_THAT(store_->Commit(Numbered(next++)).status(), IsOk());
        ++acknowledged;
      }
    });
  }
  while (acknowledged.load() < 200) std::this_thread::yield();
  const int acknowledged_before = 500;  // every change below 500 was acknowledged
  const int acknowledged_under_load = acknowledged.load();
  absl::StatusOr<BackupRecord> made = (*backups)->Create();
  stop = true;
  for (std::thread& t : writers) t.join();
  ASSERT_THAT(made.status(), IsOk());
  EXPECT_EQ(made->id, 1u);
  EXPECT_GE(made->audit_head, static_cast<uint64_t>(500 + acknowledged_under_load));
  EXPECT_EQ(made->schema_version, kSchemaVersion);
  EXPECT_GT(made->size_bytes, 100'000u);

  absl::StatusOr<BackupRecord> restored =
      Backups::Restore(dir_.Sub("backups"), std::nullopt, dir_.Sub("restored"));
  ASSERT_THAT(restored.status(), IsOk());
  EXPECT_EQ(restored->id, made->id);
  std::unique_ptr<Store> copy = Reopen(dir_.Sub("restored"));
  ASSERT_NE(copy, nullptr);
  ReadView view = copy->Snapshot();
  for (int i = 0; i < acknowledged_before; ++i) ASSERT_TRUE(Present(view, i)) << i;
  int later = 0;
  for (int i = 1000; i < next.load(); ++i) later += Present(view, i) ? 1 : 0;
  absl::StatusOr<AuditChainReport> chain = view.VerifyAuditChain();
  ASSERT_THAT(chain.status(), IsOk());
  EXPECT_TRUE(chain->ok) << chain->problem;
  // One audit record per change: the chain holds exactly the changes present.
  EXPECT_EQ(chain->records_checked, static_cast<uint64_t>(acknowledged_before + later));
  EXPECT_GE(chain->records_checked, made->audit_head);
  // The restored feed is gapless and its head matches its events.
  absl::StatusOr<std::vector<FeedEvent>> events = view.ReadEvents("test", 0, 100000);
  ASSERT_THAT(events.status(), IsOk());
  EXPECT_EQ(events->size(), chain->records_checked);
  EXPECT_EQ(copy->EventHead("test"), events->size());
}

TEST_F(BackupTest, BackupsAreIncrementalListedVerifiedDeletedAndPurged) {
  absl::StatusOr<std::unique_ptr<Backups>> backups = Backups::Open(*store_, dir_.Sub("backups"));
  ASSERT_THAT(backups.status(), IsOk());
  for (int i = 0; i < 3000; ++i) ASSERT_THAT(store_->Commit(Numbered(i)).status(), IsOk());
  ASSERT_THAT((*backups)->Create().status(), IsOk());
  for (int i = 3000; i < 3010; ++i) ASSERT_THAT(store_->Commit(Numbered(i)).status(), IsOk());
  ASSERT_THAT((*backups)->Create().status(), IsOk());
  ASSERT_THAT((*backups)->Create().status(), IsOk());

  absl::StatusOr<std::vector<BackupRecord>> list = (*backups)->List();
  ASSERT_THAT(list.status(), IsOk());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].id, 1u);
  EXPECT_EQ((*list)[2].id, 3u);
  EXPECT_EQ((*list)[1].audit_head, 3010u);
  EXPECT_THAT((*backups)->Verify(2), IsOk());
  EXPECT_THAT((*backups)->Verify(9), StatusIs(absl::StatusCode::kNotFound));

  EXPECT_THAT((*backups)->Delete(1), IsOk());
  EXPECT_THAT((*backups)->Delete(1), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT((*backups)->Purge(1), ::vigil::testing::IsOkAndHolds(1));
  list = (*backups)->List();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, 3u);
  EXPECT_THAT((*backups)->Purge(0), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(BackupTest, ADamagedBackupFailsVerificationAndIsNotRestored) {
  absl::StatusOr<std::unique_ptr<Backups>> backups = Backups::Open(*store_, dir_.Sub("backups"));
  ASSERT_THAT(backups.status(), IsOk());
  for (int i = 0; i < 2000; ++i) ASSERT_THAT(store_->Commit(Numbered(i)).status(), IsOk());
  ASSERT_THAT(store_->Close(), IsOk());  // the memtables go to table files
  store_.reset();
  SetUp();
  absl::StatusOr<std::unique_ptr<Backups>> again = Backups::Open(*store_, dir_.Sub("backups"));
  ASSERT_THAT(again.status(), IsOk());
  ASSERT_THAT((*again)->Create().status(), IsOk());

  ASSERT_FALSE(vigil::testing::FlipByteInLargestFile(dir_.Sub("backups")).empty());
  EXPECT_THAT((*again)->Verify(1), StatusIs(absl::StatusCode::kDataLoss));
  absl::StatusOr<BackupRecord> restored =
      Backups::Restore(dir_.Sub("backups"), 1, dir_.Sub("restored"));
  EXPECT_THAT(restored, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_TRUE(std::filesystem::is_empty(dir_.Sub("restored")));
}

TEST_F(BackupTest, RefusesABackupDirInsideTheDataDirAndARestoreOverAStore) {
  EXPECT_THAT(Backups::Open(*store_, dir_.Sub("data/backups")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("inside the data dir")));
  EXPECT_THAT(Backups::Open(*store_, dir_.Sub("data")),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  absl::StatusOr<std::unique_ptr<Backups>> backups = Backups::Open(*store_, dir_.Sub("backups"));
  ASSERT_THAT(backups.status(), IsOk());
  EXPECT_THAT(Backups::Restore(dir_.Sub("backups"), std::nullopt, dir_.Sub("elsewhere")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("holds no backups")));
  ASSERT_THAT(store_->Commit(Numbered(1)).status(), IsOk());
  ASSERT_THAT((*backups)->Create().status(), IsOk());
  EXPECT_THAT(Backups::Restore(dir_.Sub("backups"), std::nullopt, dir_.Sub("data")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not empty")));
  EXPECT_THAT(Backups::Restore(dir_.Sub("backups"), 7, dir_.Sub("fresh")),
              StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace vigil::storage
