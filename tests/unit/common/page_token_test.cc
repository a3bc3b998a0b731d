#include "services/common/page_token.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;
using ::vigil::testing::StatusIs;

TEST(PageToken, RoundTripsTheCursorForTheSameQuery) {
  const std::string token = EncodePageToken("q|wessex|team=north", std::string("\x00\x01\xff", 3));
  absl::StatusOr<std::string> cursor = DecodePageToken(token, "q|wessex|team=north");
  ASSERT_TRUE(cursor.ok());
  EXPECT_EQ(*cursor, std::string("\x00\x01\xff", 3));
  EXPECT_EQ(*DecodePageToken("", "anything"), "");
}

TEST(PageToken, TokenFromAnotherQueryIsInvalidArgument) {
  const std::string token = EncodePageToken("q|wessex|team=north", "cursor");
  EXPECT_THAT(DecodePageToken(token, "q|wessex|team=south"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
  EXPECT_THAT(DecodePageToken(token, "q|mercia|team=north"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(PageToken, GarbageIsInvalidArgument) {
  for (const char* token : {"%%%", "AAAA", "not base64!", "AQ"}) {
    EXPECT_THAT(DecodePageToken(token, "q"), StatusIs(absl::StatusCode::kInvalidArgument)) << token;
  }
}

TEST(PageSize, DefaultsCapsAndRejectsNegative) {
  EXPECT_EQ(*EffectivePageSize(0), 50);
  EXPECT_EQ(*EffectivePageSize(20), 20);
  EXPECT_EQ(*EffectivePageSize(5000), 1000);
  EXPECT_THAT(EffectivePageSize(-1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_size")));
}

}  // namespace
}  // namespace vigil
