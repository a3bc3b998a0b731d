// Backups of a store, with RocksDB's BackupEngine: incremental (table files are shared between
// backups, named by checksum, so each backup copies only what is new), checksummed, and taken
// while commits go on. A backup is the store as of one instant: the table files and the live
// WAL are copied together, so it holds whole commit groups only and its audit chain is intact.
//
//   auto backups = Backups::Open(store, "/var/backups/vigil");
//   absl::StatusOr<BackupRecord> made = (*backups)->Create();
//   ...
//   Backups::Restore("/var/backups/vigil", std::nullopt, "/var/lib/vigil/restored");
#ifndef VIGIL_STORAGE_BACKUP_H_
#define VIGIL_STORAGE_BACKUP_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/store.h"

namespace rocksdb {
class BackupEngine;
}  // namespace rocksdb

namespace vigil::storage {

// One backup in a backup directory.
struct BackupRecord {
  uint32_t id = 0;
  absl::Time created = absl::InfinitePast();
  // Bytes of the backup's files (files shared with other backups counted in each).
  uint64_t size_bytes = 0;
  uint32_t files = 0;
  // The store's schema version and audit chain head when the backup began: every commit
  // acknowledged before then is in the backup, and its chain has at least this many records.
  int schema_version = 0;
  uint64_t audit_head = 0;
};

class Backups {
 public:
  // Opens the backup directory `dir` for `store`, creating it (0700) when missing.
  // FailedPrecondition naming the fix: `dir` is the data directory or inside it, or is not a
  // writable directory. DataLoss: the directory's backup index is damaged.
  static absl::StatusOr<std::unique_ptr<Backups>> Open(Store& store, const std::string& dir);

  ~Backups();
  Backups(const Backups&) = delete;
  Backups& operator=(const Backups&) = delete;

  // Takes a backup now, while commits continue. ResourceExhausted: the backup volume is full
  // (the partial backup is removed). Thread-safe: concurrent calls run one after the other.
  absl::StatusOr<BackupRecord> Create();
  // Every backup, oldest first.
  absl::StatusOr<std::vector<BackupRecord>> List();
  // Re-reads every file of backup `id` and checks its size and checksum. NotFound: no such
  // backup. DataLoss naming the damaged file: the backup must not be restored.
  absl::Status Verify(uint32_t id);
  // Deletes backup `id` (files shared with other backups stay). NotFound: no such backup.
  absl::Status Delete(uint32_t id);
  // Deletes the oldest backups until at most `keep` (>= 1) remain; returns how many went.
  absl::StatusOr<int> Purge(uint32_t keep);

  const std::string& dir() const { return dir_; }

  // Restores backup `id` (the newest when nullopt) from `backup_dir` into `data_dir`, which
  // must be missing or empty: a restore never overwrites a store. Checks every file's checksum
  // while copying. Offline: no vigild may be using `data_dir`. NotFound: no such backup, or no
  // backups. FailedPrecondition: `data_dir` is not empty. DataLoss: the backup is damaged
  // (the partial restore is removed).
  static absl::StatusOr<BackupRecord> Restore(const std::string& backup_dir,
                                              std::optional<uint32_t> id,
                                              const std::string& data_dir);

 private:
  Backups(Store& store, std::string dir, rocksdb::BackupEngine* engine)
      : store_(store), dir_(std::move(dir)), engine_(engine) {}

  Store& store_;
  const std::string dir_;
  absl::Mutex mu_;                                               // serialises every use of engine_
  rocksdb::BackupEngine* const engine_ ABSL_PT_GUARDED_BY(mu_);  // owned
};

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_BACKUP_H_
