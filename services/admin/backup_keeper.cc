#include "services/admin/backup_keeper.h"

#include "base/logging.h"
#include "services/common/metrics.h"

namespace vigil::admin {

namespace {

// Registered when the keeper is made, so that they read 0 before the first backup.
struct BackupMetrics {
  Metric& created = Metrics::Default().Get("backups_created_total", "Backups taken");
  Metric& failed =
      Metrics::Default().Get("backups_failed_total", "Backups that failed (see the log)");
  Metric& bytes =
      Metrics::Default().Get("backup_last_size_bytes", "Size of the newest backup's files");
  Metric& millis =
      Metrics::Default().Get("backup_last_duration_ms", "How long the newest backup took");
};

BackupMetrics& Figures() {
  static BackupMetrics* const figures = new BackupMetrics();
  return *figures;
}

}  // namespace

BackupKeeper::BackupKeeper(storage::Backups& backups, absl::Duration every, uint32_t keep)
    : backups_(backups), every_(every), keep_(std::max<uint32_t>(1, keep)) {
  if (absl::StatusOr<std::vector<storage::BackupRecord>> list = backups_.List();
      list.ok() && !list->empty()) {
    last_success_ = absl::ToUnixSeconds(list->back().created);
  }
  Metrics::Default().SetGaugeFunction(
      "backup_last_success_unixtime",
      "When the newest backup in --backup-dir was taken (Unix seconds; 0: none yet)",
      [this] { return last_success_.load(); });
  (void)Figures();
}

BackupKeeper::~BackupKeeper() {
  Stop();
  Metrics::Default().ClearGaugeFunction("backup_last_success_unixtime");
}

absl::StatusOr<storage::BackupRecord> BackupKeeper::CreateNow() {
  Metric& created = Figures().created;
  Metric& failed = Figures().failed;
  Metric& bytes = Figures().bytes;
  Metric& millis = Figures().millis;
  const absl::Time start = absl::Now();
  absl::StatusOr<storage::BackupRecord> made = backups_.Create();
  if (!made.ok()) {
    failed.Add(1);
    VIGIL_LOG(ERROR) << "backup failed: " << made.status();
    return made;
  }
  created.Add(1);
  bytes.Set(static_cast<int64_t>(made->size_bytes));
  millis.Set(absl::ToInt64Milliseconds(absl::Now() - start));
  last_success_ = absl::ToUnixSeconds(made->created);
  if (absl::StatusOr<int> purged = backups_.Purge(keep_); !purged.ok()) {
    VIGIL_LOG(ERROR) << "deleting backups beyond --backup-keep " << keep_ << ": "
                     << purged.status();
  } else if (*purged > 0) {
    VIGIL_LOG(INFO) << "deleted the " << *purged << " oldest backups (--backup-keep " << keep_
                    << ")";
  }
  return made;
}

void BackupKeeper::Start() {
  if (every_ <= absl::ZeroDuration() || thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void BackupKeeper::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;  // wakes Loop's Await when mu_ is released
  }
  if (thread_.joinable()) thread_.join();
}

void BackupKeeper::Loop() {
  mu_.Lock();
  while (!stopping_) {
    const absl::Time last = absl::FromUnixSeconds(last_success_.load());
    const absl::Time due = last_success_.load() == 0 ? absl::Now() : last + every_;
    if (absl::Now() < due) {
      // Wake at the due time; a failed attempt retries after a tenth of the interval.
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), due - absl::Now());
      continue;
    }
    mu_.Unlock();
    const bool ok = CreateNow().ok();
    mu_.Lock();
    if (!ok) {
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), std::max(every_ / 10, absl::Seconds(10)));
    }
  }
  mu_.Unlock();
}

}  // namespace vigil::admin
