#include "clients/cli/csv.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace vigil::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::vigil::testing::StatusIs;

TEST(Csv, QuotedFieldsHoldCommasQuotesAndLineBreaks) {
  absl::StatusOr<std::vector<CsvRecord>> records =
      ParseCsv("a,b,c\r\n\"Smith, J\",\"say \"\"hi\"\"\",\"two\nlines\"\nlast,,\n");
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 3u);
  EXPECT_THAT((*records)[0].fields, ElementsAre("a", "b", "c"));
  EXPECT_THAT((*records)[1].fields, ElementsAre("Smith, J", "say \"hi\"", "two\nlines"));
  EXPECT_EQ((*records)[1].line, 2);
  EXPECT_THAT((*records)[2].fields, ElementsAre("last", "", ""));
  EXPECT_EQ((*records)[2].line, 4);  // the record with a line break counted two lines
}

TEST(Csv, LastLineWithoutNewlineIsARecord) {
  absl::StatusOr<std::vector<CsvRecord>> records = ParseCsv("x,y\n1,2");
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 2u);
  EXPECT_THAT((*records)[1].fields, ElementsAre("1", "2"));
}

TEST(Csv, MalformedQuotingNamesTheLine) {
  EXPECT_THAT(ParseCsv("a\n\"open"), StatusIs(absl::StatusCode::kInvalidArgument,
                                              HasSubstr("line 2: a quoted field is not closed")));
  EXPECT_THAT(ParseCsv("a\nab\"c\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 2")));
  EXPECT_THAT(ParseCsv("\"a\"b\n"), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("text after a closing quote")));
}

TEST(Csv, EmptyInputHasNoRecords) {
  absl::StatusOr<std::vector<CsvRecord>> records = ParseCsv("");
  ASSERT_TRUE(records.ok());
  EXPECT_TRUE(records->empty());
}

}  // namespace
}  // namespace vigil::cli
