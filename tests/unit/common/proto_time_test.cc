#include "base/proto_time.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;
using ::vigil::testing::StatusIs;

TEST(ProtoTime, RoundTripsIncludingBefore1970) {
  for (absl::Time t : {absl::UnixEpoch(), absl::UnixEpoch() - absl::Nanoseconds(1),
                       absl::FromUnixSeconds(-2'000'000'000) + absl::Milliseconds(250),
                       absl::FromUnixSeconds(1'700'000'000) + absl::Nanoseconds(7)}) {
    absl::StatusOr<absl::Time> back = FromProtoTime(ToProtoTime(t), "t");
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, t);
    EXPECT_GE(ToProtoTime(t).nanos(), 0);
  }
}

TEST(ProtoTime, OutOfRangeNamesTheField) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(300'000'000'000);
  EXPECT_THAT(FromProtoTime(ts, "visit_time"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("visit_time")));
  ts.set_seconds(0);
  ts.set_nanos(-1);
  EXPECT_THAT(FromProtoTime(ts, "from"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ProtoTime, AbsentOptionalIsNullopt) {
  absl::StatusOr<std::optional<absl::Time>> t =
      OptionalProtoTime(false, google::protobuf::Timestamp(), "from");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->has_value());
}

}  // namespace
}  // namespace vigil
