#include "services/common/errors.h"

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "storage/rocks_status.h"

namespace vigil {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  switch (status.code()) {
    case absl::StatusCode::kDataLoss:
      // Damage to the store: the operator's fix, never what was damaged or where.
      VIGIL_LOG(ERROR) << "data loss returned to a client: " << status.ToString();
      return grpc::Status(grpc::StatusCode::DATA_LOSS, std::string(storage::kDamagedStore));
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
      VIGIL_LOG(ERROR) << "internal error returned to a client: " << status.ToString();
      return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                          "internal error; the server log has the details");
    default:
      return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                          std::string(status.message()));
  }
}

}  // namespace vigil
