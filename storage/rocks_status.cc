#include "storage/rocks_status.h"

#include "absl/strings/str_cat.h"
#include "base/logging.h"

namespace vigil::storage {

bool IsDiskFull(const rocksdb::Status& status) {
  return status.IsNoSpace() || status.subcode() == rocksdb::Status::kSpaceLimit;
}

absl::Status DiskFullError(absl::string_view what) {
  return absl::ResourceExhaustedError(absl::StrCat(
      "disk full while ", what,
      "; nothing was written; vigild resumes writing by itself once the operator frees space "
      "on the data volume"));
}

absl::Status FromRocks(const rocksdb::Status& status, absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  switch (status.code()) {
    case rocksdb::Status::kNotFound:
      return absl::NotFoundError(absl::StrCat(what, ": not found"));
    case rocksdb::Status::kCorruption:
      VIGIL_LOG(ERROR) << "storage corruption while " << what << ": " << status.ToString();
      return absl::DataLossError(kDamagedStore);
    case rocksdb::Status::kInvalidArgument:
    case rocksdb::Status::kNotSupported:
      return absl::FailedPreconditionError(absl::StrCat(what, ": ", status.ToString()));
    case rocksdb::Status::kIOError:
      if (IsDiskFull(status)) {
        VIGIL_LOG(ERROR) << "disk full while " << what << ": " << status.ToString();
        return DiskFullError(what);
      }
      if (status.IsPathNotFound()) {
        VIGIL_LOG(ERROR) << "storage file missing while " << what << ": " << status.ToString();
        return absl::DataLossError(kDamagedStore);
      }
      VIGIL_LOG(ERROR) << "storage I/O error while " << what << ": " << status.ToString();
      return absl::UnavailableError(
          absl::StrCat("storage I/O error while ", what, "; the server log has the details"));
    case rocksdb::Status::kBusy:
    case rocksdb::Status::kTimedOut:
    case rocksdb::Status::kTryAgain:
    case rocksdb::Status::kIncomplete:
    case rocksdb::Status::kShutdownInProgress:
    case rocksdb::Status::kAborted:
    case rocksdb::Status::kExpired:
    case rocksdb::Status::kMergeInProgress:
      return absl::UnavailableError(absl::StrCat(what, ": ", status.ToString()));
    default:
      return absl::InternalError(absl::StrCat(what, ": ", status.ToString()));
  }
}

}  // namespace vigil::storage
