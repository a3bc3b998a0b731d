// vigild's backups: the backup directory, the schedule (--backup-every, --backup-keep), and
// the figures operators watch (backup age, failures). Backups taken on request
// (AdminService.CreateBackup) and on schedule go through the same CreateNow.
#ifndef VIGIL_SERVICES_ADMIN_BACKUP_KEEPER_H_
#define VIGIL_SERVICES_ADMIN_BACKUP_KEEPER_H_

#include <atomic>
#include <cstdint>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/backup.h"

namespace vigil::admin {

class BackupKeeper {
 public:
  // `every`: how often Start's thread takes a backup (ZeroDuration: only on request).
  // `keep`: how many backups to keep after each (>= 1). `backups` must outlive this.
  BackupKeeper(storage::Backups& backups, absl::Duration every, uint32_t keep);
  ~BackupKeeper();
  BackupKeeper(const BackupKeeper&) = delete;
  BackupKeeper& operator=(const BackupKeeper&) = delete;

  // Takes a backup now, then deletes the oldest beyond `keep`. Thread-safe.
  absl::StatusOr<storage::BackupRecord> CreateNow() ABSL_LOCKS_EXCLUDED(mu_);

  // Starts taking a backup every `every` (the first one `every` after the newest backup
  // already there, or now when there is none). Stop ends it; both idempotent.
  void Start();
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  storage::Backups& backups() { return backups_; }

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);

  storage::Backups& backups_;
  const absl::Duration every_;
  const uint32_t keep_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;  // Loop awaits it
  std::thread thread_;
  // Unix seconds of the newest backup made or found; 0 when none.
  std::atomic<int64_t> last_success_{0};
};

}  // namespace vigil::admin

#endif  // VIGIL_SERVICES_ADMIN_BACKUP_KEEPER_H_
