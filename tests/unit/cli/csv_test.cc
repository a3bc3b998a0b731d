#include "clients/cli/csv.h"

#include <random>

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

TEST(Csv, WrittenLinesReadBackAsTheSameFields) {
  std::mt19937 rng(7);
  const std::string alphabet = "ab,\"\r\n x";
  std::string text;
  std::vector<std::vector<std::string>> written;
  for (int r = 0; r < 200; ++r) {
    std::vector<std::string> fields(1 + rng() % 5);
    for (std::string& f : fields) {
      for (int n = rng() % 6; n > 0; --n) f += alphabet[rng() % alphabet.size()];
    }
    // A lone empty field is a blank line, which readers skip: not a record worth writing.
    if (fields.size() == 1 && fields[0].empty()) fields[0] = "x";
    text += CsvLine(fields);
    written.push_back(fields);
  }
  absl::StatusOr<std::vector<CsvRecord>> records = ParseCsv(text);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), written.size());
  for (size_t i = 0; i < written.size(); ++i) EXPECT_EQ((*records)[i].fields, written[i]) << i;
  EXPECT_EQ(CsvLine({"plain", "Smith, J", "say \"hi\""}),
            "plain,\"Smith, J\",\"say \"\"hi\"\"\"\n");
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
