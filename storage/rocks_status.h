// The one place where rocksdb::Status becomes absl::Status.
#ifndef VIGIL_STORAGE_ROCKS_STATUS_H_
#define VIGIL_STORAGE_ROCKS_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rocksdb/status.h"

namespace vigil::storage {

// The message every DataLoss from the store carries to clients: what happened and what the
// operator does, never a file path (those go to the log).
inline constexpr absl::string_view kDamagedStore =
    "the data store is damaged (a checksum mismatch or other corruption); the affected "
    "services refuse work until an operator restores the store from the latest verified backup "
    "(docs/operations.md, \"Corruption\")";

// Maps a RocksDB status, where `what` says what was being done ("writing commit group"):
//   corruption          -> DataLoss with kDamagedStore;
//   a full disk         -> ResourceExhausted "disk full while <what>";
//   other I/O errors and faults where a retry may succeed -> Unavailable;
//   NotFound stays NotFound; InvalidArgument and NotSupported -> FailedPrecondition.
// Messages name no file: RocksDB's own text, which does, is logged here for the operator
// when it is an I/O error or corruption.
absl::Status FromRocks(const rocksdb::Status& status, absl::string_view what);

// ResourceExhausted "disk full while <what>; nothing was written; ..." as clients see it, for a
// write refused because the data volume is full.
absl::Status DiskFullError(absl::string_view what);

// True for a RocksDB status that says the disk (or a quota) is full.
bool IsDiskFull(const rocksdb::Status& status);

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_ROCKS_STATUS_H_
