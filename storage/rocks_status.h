// The one place where rocksdb::Status becomes absl::Status.
#ifndef VIGIL_STORAGE_ROCKS_STATUS_H_
#define VIGIL_STORAGE_ROCKS_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rocksdb/status.h"

namespace vigil::storage {

// I/O errors, a full disk and other faults where a retry may succeed become Unavailable;
// corruption becomes DataLoss; NotFound stays NotFound. `what` says what was being done
// ("writing commit group") and prefixes the message.
absl::Status FromRocks(const rocksdb::Status& status, absl::string_view what);

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_ROCKS_STATUS_H_
