#include "storage/testing/fault_injection_fs.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vigil::storage::testing {
namespace {

class FaultInjectionFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultInjectionFile(std::unique_ptr<rocksdb::FSWritableFile> base, std::string fname,
                     uint64_t length, FaultInjectionFileSystem* fs)
      : rocksdb::FSWritableFileOwnerWrapper(std::move(base)),
        fname_(std::move(fname)),
        length_(length),
        fs_(fs) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    if (fs_->failing()) return fs_->InjectedError();
    rocksdb::IOStatus s = target()->Append(data, options, dbg);
    if (s.ok()) length_ += data.size();
    return s;
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    if (fs_->failing()) return fs_->InjectedError();
    rocksdb::IOStatus s = target()->Append(data, options, info, dbg);
    if (s.ok()) length_ += data.size();
    return s;
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice&, uint64_t, const rocksdb::IOOptions&,
                                     rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::NotSupported("PositionedAppend under fault injection");
  }
  rocksdb::IOStatus Flush(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    if (fs_->failing()) return fs_->InjectedError();
    return target()->Flush(options, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    if (fs_->failing()) return fs_->InjectedError();
    rocksdb::IOStatus s = target()->Sync(options, dbg);
    if (s.ok()) fs_->RecordSynced(fname_, length_);
    return s;
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    if (fs_->failing()) return fs_->InjectedError();
    rocksdb::IOStatus s = target()->Fsync(options, dbg);
    if (s.ok()) fs_->RecordSynced(fname_, length_);
    return s;
  }
  rocksdb::IOStatus RangeSync(uint64_t, uint64_t, const rocksdb::IOOptions&,
                              rocksdb::IODebugContext*) override {
    // Range syncs are hints for the page cache, not durability points: ignore them so that
    // only Sync/Fsync count as synced.
    return rocksdb::IOStatus::OK();
  }
  bool use_direct_io() const override { return false; }

 private:
  const std::string fname_;
  uint64_t length_;
  FaultInjectionFileSystem* const fs_;
};

}  // namespace

FaultInjectionFileSystem::FaultInjectionFileSystem(const std::shared_ptr<rocksdb::FileSystem>& base)
    : rocksdb::FileSystemWrapper(base) {}

rocksdb::IOStatus FaultInjectionFileSystem::Wrap(const std::string& fname, uint64_t initial_length,
                                                 std::unique_ptr<rocksdb::FSWritableFile>* result) {
  {
    absl::MutexLock lock(&mu_);
    synced_length_.try_emplace(fname, initial_length);
  }
  *result = std::make_unique<FaultInjectionFile>(std::move(*result), fname, initial_length, this);
  return rocksdb::IOStatus::OK();
}

rocksdb::IOStatus FaultInjectionFileSystem::NewWritableFile(
    const std::string& fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  if (failing()) return InjectedError();
  rocksdb::FileOptions buffered = options;
  buffered.use_direct_writes = false;
  rocksdb::IOStatus s = target()->NewWritableFile(fname, buffered, result, dbg);
  if (!s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    synced_length_[fname] = 0;
  }
  return Wrap(fname, 0, result);
}

rocksdb::IOStatus FaultInjectionFileSystem::ReopenWritableFile(
    const std::string& fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  if (failing()) return InjectedError();
  uint64_t size = 0;
  rocksdb::IOStatus s = target()->GetFileSize(fname, rocksdb::IOOptions(), &size, dbg);
  if (!s.ok()) size = 0;
  s = target()->ReopenWritableFile(fname, options, result, dbg);
  if (!s.ok()) return s;
  return Wrap(fname, size, result);
}

rocksdb::IOStatus FaultInjectionFileSystem::ReuseWritableFile(
    const std::string& fname, const std::string& old_fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  if (failing()) return InjectedError();
  rocksdb::IOStatus s = target()->ReuseWritableFile(fname, old_fname, options, result, dbg);
  if (!s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    synced_length_.erase(old_fname);
    synced_length_[fname] = 0;
  }
  return Wrap(fname, 0, result);
}

rocksdb::IOStatus FaultInjectionFileSystem::DeleteFile(const std::string& fname,
                                                       const rocksdb::IOOptions& options,
                                                       rocksdb::IODebugContext* dbg) {
  if (failing()) return InjectedError();
  rocksdb::IOStatus s = target()->DeleteFile(fname, options, dbg);
  if (s.ok()) {
    absl::MutexLock lock(&mu_);
    synced_length_.erase(fname);
  }
  return s;
}

rocksdb::IOStatus FaultInjectionFileSystem::RenameFile(const std::string& src,
                                                       const std::string& target_name,
                                                       const rocksdb::IOOptions& options,
                                                       rocksdb::IODebugContext* dbg) {
  if (failing()) return InjectedError();
  rocksdb::IOStatus s = target()->RenameFile(src, target_name, options, dbg);
  if (s.ok()) {
    absl::MutexLock lock(&mu_);
    auto it = synced_length_.find(src);
    if (it != synced_length_.end()) {
      synced_length_[target_name] = it->second;
      synced_length_.erase(src);
    }
  }
  return s;
}

void FaultInjectionFileSystem::RecordSynced(const std::string& fname, uint64_t length) {
  absl::MutexLock lock(&mu_);
  synced_length_[fname] = length;
}

rocksdb::IOStatus FaultInjectionFileSystem::DropUnsyncedData() {
  absl::MutexLock lock(&mu_);
  for (const auto& [fname, length] : synced_length_) {
    if (::truncate(fname.c_str(), static_cast<off_t>(length)) != 0 && errno != ENOENT) {
      return rocksdb::IOStatus::IOError(fname, std::strerror(errno));
    }
  }
  return rocksdb::IOStatus::OK();
}

std::unique_ptr<rocksdb::Env> NewFaultInjectionEnv(
    const std::shared_ptr<FaultInjectionFileSystem>& fs) {
  return rocksdb::NewCompositeEnv(fs);
}

}  // namespace vigil::storage::testing
