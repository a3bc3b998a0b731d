// A FileSystem wrapper for storage tests (after leveldb's fault_injection_test and rocksdb's
// utilities/fault_injection_fs.h, which Debian does not install). It can
//   - fail every write and sync from a chosen moment (a dying disk, a full disk), and
//   - simulate a power loss: every file written through it is cut back to the length it had
//     at its last successful Sync/Fsync, as if unsynced data never left the page cache.
// Thread-safe.
#ifndef VIGIL_STORAGE_TESTING_FAULT_INJECTION_FS_H_
#define VIGIL_STORAGE_TESTING_FAULT_INJECTION_FS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

namespace vigil::storage::testing {

class FaultInjectionFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit FaultInjectionFileSystem(const std::shared_ptr<rocksdb::FileSystem>& base);

  static const char* kClassName() { return "VigilFaultInjectionFileSystem"; }
  const char* Name() const override { return kClassName(); }

  // From now on, every Append, Sync, Fsync and Flush of a writable file fails with IOError
  // (or, with no_space, the IOError a full disk gives).
  void FailWrites(bool fail, bool no_space = false) {
    no_space_.store(no_space);
    fail_writes_.store(fail);
  }
  bool failing() const { return fail_writes_.load(); }
  rocksdb::IOStatus InjectedError() const {
    return no_space_.load() ? rocksdb::IOStatus::NoSpace("injected: no space left on device")
                            : rocksdb::IOStatus::IOError("injected write failure");
  }

  // Truncates every file written through this wrapper to its last synced length. Call only
  // after the DB using it has been closed or abandoned (FailWrites(true) first).
  rocksdb::IOStatus DropUnsyncedData();

  rocksdb::IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& fname,
                                       const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& fname, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& target,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;

  // Called by the wrapped files.
  void RecordSynced(const std::string& fname, uint64_t length);

 private:
  rocksdb::IOStatus Wrap(const std::string& fname, uint64_t initial_length,
                         std::unique_ptr<rocksdb::FSWritableFile>* result);

  std::atomic<bool> fail_writes_{false};
  std::atomic<bool> no_space_{false};
  absl::Mutex mu_;
  std::map<std::string, uint64_t> synced_length_ ABSL_GUARDED_BY(mu_);
};

// An Env whose file system is `fs`; keep it alive as long as the store that uses it.
std::unique_ptr<rocksdb::Env> NewFaultInjectionEnv(
    const std::shared_ptr<FaultInjectionFileSystem>& fs);

}  // namespace vigil::storage::testing

#endif  // VIGIL_STORAGE_TESTING_FAULT_INJECTION_FS_H_
