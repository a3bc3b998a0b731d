// The one mapping from absl::Status to grpc::Status, and the helpers that build the errors
// clients see. Messages are meant for a person: "visit_time: 2031-01-03 is in the future".
#ifndef VIGIL_SERVICES_COMMON_ERRORS_H_
#define VIGIL_SERVICES_COMMON_ERRORS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "base/field_error.h"
#include "grpcpp/support/status.h"

namespace vigil {

// Canonical codes map one to one (absl and gRPC share the numbering); the message is kept.
// Internal and Unknown messages are logged and replaced by a generic text, and DataLoss by
// storage::kDamagedStore (what the operator does), so that storage internals never reach a
// client.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace vigil

#endif  // VIGIL_SERVICES_COMMON_ERRORS_H_
