#include "services/common/errors.h"

#include "gtest/gtest.h"

namespace vigil {
namespace {

TEST(ToGrpcStatus, KeepsCodeAndMessage) {
  const grpc::Status s =
      ToGrpcStatus(absl::FailedPreconditionError("referral is CLOSED; it cannot be allocated"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "referral is CLOSED; it cannot be allocated");
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_EQ(ToGrpcStatus(absl::UnavailableError("x")).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ToGrpcStatus(absl::AbortedError("x")).error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(ToGrpcStatus(absl::UnauthenticatedError("x")).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST(ToGrpcStatus, HidesInternalDetails) {
  const grpc::Status s = ToGrpcStatus(absl::InternalError("rocksdb: /data/000012.sst checksum"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(s.error_message().find("sst"), std::string::npos);
}

TEST(FieldError, NamesTheField) {
  const absl::Status s = FieldError("visit_time", "2031-01-03 is in the future");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "visit_time: 2031-01-03 is in the future");
}

}  // namespace
}  // namespace vigil
