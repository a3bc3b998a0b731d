#include "storage/backup.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "rocksdb/utilities/backup_engine.h"
#include "storage/rocks_status.h"

namespace vigil::storage {
namespace {

namespace fs = std::filesystem;

constexpr absl::string_view kMetadataTag = "vigil-backup";

std::string Metadata(int schema_version, uint64_t audit_head) {
  return absl::StrCat(kMetadataTag, " schema=", schema_version, " audit_head=", audit_head);
}

BackupRecord ToRecord(const rocksdb::BackupInfo& info) {
  BackupRecord record;
  record.id = info.backup_id;
  record.created = absl::FromUnixSeconds(info.timestamp);
  record.size_bytes = info.size;
  record.files = info.number_files;
  for (absl::string_view field : absl::StrSplit(info.app_metadata, ' ')) {
    if (absl::ConsumePrefix(&field, "schema=")) {
      (void)absl::SimpleAtoi(field, &record.schema_version);
    } else if (absl::ConsumePrefix(&field, "audit_head=")) {
      (void)absl::SimpleAtoi(field, &record.audit_head);
    }
  }
  return record;
}

absl::StatusOr<rocksdb::BackupEngine*> OpenEngine(const std::string& dir) {
  rocksdb::BackupEngineOptions options(dir);
  options.share_table_files = true;
  options.share_files_with_checksum = true;
  options.sync = true;
  rocksdb::BackupEngine* engine = nullptr;
  rocksdb::IOStatus s = rocksdb::BackupEngine::Open(options, rocksdb::Env::Default(), &engine);
  if (!s.ok()) return FromRocks(s, absl::StrCat("opening the backup directory ", dir));
  return engine;
}

absl::Status BackupNotFound(uint32_t id, const std::string& dir) {
  return absl::NotFoundError(
      absl::StrCat("no backup ", id, " in ", dir, " (vigil admin backup list shows them)"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Backups>> Backups::Open(Store& store, const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("backup dir: a path is required");
  std::error_code ec;
  const fs::path data = fs::weakly_canonical(store.path(), ec);
  const fs::path backup = fs::weakly_canonical(dir, ec);
  const std::string data_text = data.string() + "/";
  if (backup == data || (backup.string() + "/").rfind(data_text, 0) == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("backup dir ", dir, " is inside the data dir ", store.path(),
                     ": a backup must live apart from what it protects (another volume, ideally)"));
  }
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) {
      return absl::FailedPreconditionError(
          absl::StrCat("backup dir ", dir, " cannot be created: ", ec.message()));
    }
    ::chmod(dir.c_str(), 0700);
  } else if (!fs::is_directory(dir, ec)) {
    return absl::FailedPreconditionError(absl::StrCat("backup dir ", dir, " is not a directory"));
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("backup dir ", dir, " is not writable: ", std::strerror(errno)));
  }
  VIGIL_ASSIGN_OR_RETURN(rocksdb::BackupEngine * engine, OpenEngine(dir));
  return std::unique_ptr<Backups>(new Backups(store, dir, engine));
}

Backups::~Backups() { delete engine_; }

absl::StatusOr<BackupRecord> Backups::Create() {
  absl::MutexLock lock(&mu_);
  // Read before the copy starts: every commit acknowledged by now is in the backup.
  const uint64_t audit_head = store_.AuditHead();
  rocksdb::CreateBackupOptions options;
  // The memtables go to table files first (writes go on meanwhile), so that a restore opens
  // from table files instead of replaying a long WAL; whatever WAL is still live is copied
  // with them, and the backup holds whole commit groups either way.
  options.flush_before_backup = true;
  rocksdb::BackupID id = 0;
  const absl::Time start = absl::Now();
  rocksdb::IOStatus s = engine_->CreateNewBackupWithMetadata(
      options, store_.db_, Metadata(store_.schema_version(), audit_head), &id);
  if (!s.ok()) {
    // A partial backup leaves files no backup names; collect them now.
    (void)engine_->GarbageCollect();
    return FromRocks(s, absl::StrCat("creating a backup in ", dir_));
  }
  rocksdb::BackupInfo info;
  VIGIL_RETURN_IF_ERROR(FromRocks(engine_->GetBackupInfo(id, &info), "reading the new backup"));
  BackupRecord record = ToRecord(info);
  VIGIL_LOG(INFO) << "backup " << id << " created in " << dir_ << ": " << record.files << " files, "
                  << record.size_bytes << " bytes, audit head " << audit_head << ", in "
                  << absl::Now() - start;
  return record;
}

absl::StatusOr<std::vector<BackupRecord>> Backups::List() {
  absl::MutexLock lock(&mu_);
  std::vector<rocksdb::BackupInfo> infos;
  engine_->GetBackupInfo(&infos);
  std::vector<BackupRecord> records;
  records.reserve(infos.size());
  for (const rocksdb::BackupInfo& info : infos) records.push_back(ToRecord(info));
  return records;
}

absl::Status Backups::Verify(uint32_t id) {
  absl::MutexLock lock(&mu_);
  rocksdb::BackupInfo info;
  if (!engine_->GetBackupInfo(id, &info).ok()) return BackupNotFound(id, dir_);
  rocksdb::IOStatus s = engine_->VerifyBackup(id, /*verify_with_checksum=*/true);
  if (s.ok()) return absl::OkStatus();
  VIGIL_LOG(ERROR) << "backup " << id << " in " << dir_ << " failed verification: " << s.ToString();
  if (s.IsNotFound() || s.IsCorruption() || s.IsIOError()) {
    return absl::DataLossError(absl::StrCat(
        "backup ", id, " in ", dir_, " is damaged and must not be restored: ", s.ToString()));
  }
  return FromRocks(s, absl::StrCat("verifying backup ", id));
}

absl::Status Backups::Delete(uint32_t id) {
  absl::MutexLock lock(&mu_);
  rocksdb::BackupInfo info;
  if (!engine_->GetBackupInfo(id, &info).ok()) return BackupNotFound(id, dir_);
  VIGIL_RETURN_IF_ERROR(FromRocks(engine_->DeleteBackup(id), absl::StrCat("deleting backup ", id)));
  VIGIL_LOG(INFO) << "backup " << id << " deleted from " << dir_;
  return absl::OkStatus();
}

absl::StatusOr<int> Backups::Purge(uint32_t keep) {
  if (keep < 1) return absl::InvalidArgumentError("keep: at least 1 backup must be kept");
  absl::MutexLock lock(&mu_);
  std::vector<rocksdb::BackupInfo> infos;
  engine_->GetBackupInfo(&infos);
  if (infos.size() <= keep) return 0;
  VIGIL_RETURN_IF_ERROR(FromRocks(engine_->PurgeOldBackups(keep), "purging old backups"));
  return static_cast<int>(infos.size() - keep);
}

absl::StatusOr<BackupRecord> Backups::Restore(const std::string& backup_dir,
                                              std::optional<uint32_t> id,
                                              const std::string& data_dir) {
  std::error_code ec;
  if (!fs::is_directory(backup_dir, ec)) {
    return absl::NotFoundError(absl::StrCat("backup dir ", backup_dir, " does not exist"));
  }
  if (fs::exists(data_dir, ec)) {
    if (!fs::is_directory(data_dir, ec) || !fs::is_empty(data_dir, ec)) {
      return absl::FailedPreconditionError(
          absl::StrCat("--data-dir ", data_dir,
                       " is not empty: a restore never overwrites a store; give a new directory"));
    }
  } else {
    fs::create_directories(data_dir, ec);
    if (ec) {
      return absl::FailedPreconditionError(
          absl::StrCat("--data-dir ", data_dir, " cannot be created: ", ec.message()));
    }
  }
  ::chmod(data_dir.c_str(), 0700);
  VIGIL_ASSIGN_OR_RETURN(rocksdb::BackupEngine * opened, OpenEngine(backup_dir));
  std::unique_ptr<rocksdb::BackupEngine> engine(opened);
  std::vector<rocksdb::BackupInfo> infos;
  engine->GetBackupInfo(&infos);
  if (infos.empty()) {
    return absl::NotFoundError(absl::StrCat("backup dir ", backup_dir, " holds no backups"));
  }
  const rocksdb::BackupInfo* chosen = &infos.back();
  if (id.has_value()) {
    chosen = nullptr;
    for (const rocksdb::BackupInfo& info : infos) {
      if (info.backup_id == *id) chosen = &info;
    }
    if (chosen == nullptr) return BackupNotFound(*id, backup_dir);
  }
  const BackupRecord record = ToRecord(*chosen);
  rocksdb::IOStatus s = engine->RestoreDBFromBackup(record.id, data_dir, data_dir);
  engine.reset();  // its copying threads are done before what they wrote is removed
  if (!s.ok()) {
    // Nothing half-restored is left to be mistaken for a store.
    VIGIL_LOG(ERROR) << "restoring backup " << record.id << " from " << backup_dir
                     << " failed: " << s.ToString() << "; removing the partial copy in "
                     << data_dir;
    std::vector<fs::path> written;
    for (const auto& entry : fs::directory_iterator(data_dir, ec)) written.push_back(entry.path());
    for (const fs::path& path : written) fs::remove_all(path, ec);
    if (s.IsCorruption() || s.IsNotFound()) {
      return absl::DataLossError(absl::StrCat("backup ", record.id, " in ", backup_dir,
                                              " is damaged: ", s.ToString(),
                                              "; restore an older backup (--backup-id)"));
    }
    return FromRocks(s, absl::StrCat("restoring backup ", record.id));
  }
  return record;
}

}  // namespace vigil::storage
