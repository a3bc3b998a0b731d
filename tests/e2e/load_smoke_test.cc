// A small run of the load driver (clients/load) against the real vigild, so that the tool
// behind docs/performance.md cannot rot: it loads a synthetic force, drives every RPC of its
// mix, and reports each with no errors. And the synthetic data generator's CSV output, which
// the importers must take whole.
#include <algorithm>
#include <cstring>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;
using ::vigil::testing::IsOk;
using ::vigil::testing::ReadFile;
using ::vigil::testing::RunResult;
using ::vigil::testing::RunVigil;
using ::vigil::testing::VigildProcess;

TEST(LoadDriverSmokeTest, LoadsAForceAndDrivesEveryRpcWithoutErrors) {
  vigil::testing::TempDir dir;
  VigildProcess vigild(dir.path());
  ASSERT_THAT(vigild.Start(), IsOk());
  auto load = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {vigil::testing::VigilLoadPath(), "--server", vigild.address()});
    absl::StatusOr<RunResult> result = vigil::testing::Run(args, absl::Seconds(120));
    EXPECT_THAT(result.status(), IsOk());
    return result.ok() ? *result : RunResult{};
  };

  const RunResult loaded = load({"--offenders", "300", "--referrals", "100", "--load_only"});
  ASSERT_EQ(loaded.exit_code, 0) << loaded.output;
  EXPECT_THAT(loaded.output, HasSubstr("load: offenders: 300 imported"));
  EXPECT_THAT(loaded.output, HasSubstr("load: referrals: 100 imported"));

  const std::string every_rpc =
      "record-visit=1,record-arms=1,create-referral=1,get-offender=1,backlog-summary=1,"
      "backlog-items=1,list-alerts=1";
  const RunResult driven =
      load({"--offenders", "300", "--clients", "8", "--calls", "400", "--mix", every_rpc});
  ASSERT_EQ(driven.exit_code, 0) << driven.output;
  EXPECT_THAT(driven.output, HasSubstr("load: offenders: 0 imported"));  // found again
  int rows = 0;
  int64_t calls = 0;
  for (absl::string_view line : absl::StrSplit(driven.output, '\n')) {
    std::vector<std::string> cells = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (cells.size() == 8 && absl::StrContains(cells[0], "Service/")) {
      ++rows;
      int64_t n = 0, errors = -1;
      ASSERT_TRUE(absl::SimpleAtoi(cells[1], &n) && absl::SimpleAtoi(cells[2], &errors)) << line;
      EXPECT_GT(n, 0) << line;
      EXPECT_EQ(errors, 0) << line;
      calls += n;
    }
  }
  EXPECT_EQ(rows, 7) << driven.output;
  EXPECT_EQ(calls, 400);

  // Paced (a background load for another driver's figures): 200 calls/s for 2 s is 400 calls
  // started on schedule, not as many as 4 clients could make.
  const RunResult paced = load({"--offenders", "300", "--clients", "4", "--rate", "200",
                                "--seconds", "2", "--mix", "record-visit=1,backlog-summary=1"});
  ASSERT_EQ(paced.exit_code, 0) << paced.output;
  int64_t paced_calls = -1;
  double paced_rate = -1;
  for (absl::string_view line : absl::StrSplit(paced.output, '\n')) {
    std::vector<std::string> cells = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (cells.size() == 4 && cells[0] == "all") {
      ASSERT_TRUE(absl::SimpleAtoi(cells[1], &paced_calls) &&
                  absl::SimpleAtod(cells[3], &paced_rate))
          << line;
    }
  }
  // A slot every client is too busy for (a slow call on a loaded machine) is skipped and
  // counted, never made up later: made plus skipped is the schedule, exactly.
  int64_t skipped = 0;
  if (const size_t at = paced.output.find("paced: "); at != std::string::npos) {
    const size_t from = at + std::strlen("paced: ");
    ASSERT_TRUE(
        absl::SimpleAtoi(paced.output.substr(from, paced.output.find(' ', from) - from), &skipped))
        << paced.output;
  }
  EXPECT_EQ(paced_calls + skipped, 400) << paced.output;
  EXPECT_LE(skipped, 40) << paced.output;
  EXPECT_LE(paced_rate, 205) << paced.output;

  // Budgeted and paced: exactly the calls asked for.
  const RunResult budget =
      load({"--clients", "2", "--rate", "100", "--calls", "30", "--mix", "backlog-summary=1"});
  ASSERT_EQ(budget.exit_code, 0) << budget.output;
  EXPECT_THAT(budget.output, ::testing::ContainsRegex("\nall +30 +0 "));
  // A rate one client cannot reach: the slots it misses are skipped and counted, not made up
  // in a burst, and the run still ends on time.
  const RunResult behind =
      load({"--clients", "1", "--rate", "50000", "--seconds", "1", "--mix", "backlog-summary=1"});
  ASSERT_EQ(behind.exit_code, 0) << behind.output;
  EXPECT_THAT(behind.output, HasSubstr("scheduled calls skipped, every client busy"));
  double took = 0;
  ASSERT_TRUE(absl::SimpleAtod(
      behind.output.substr(behind.output.find(", ") + 2,
                           behind.output.find(" s\n") - behind.output.find(", ") - 2),
      &took))
      << behind.output;
  EXPECT_LT(took, 1.5) << behind.output;

  const RunResult bad = load({"--mix", "record-visit=x"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.output, HasSubstr("--mix: 'record-visit=x' is not NAME=WEIGHT"));
  const RunResult negative = load({"--rate", "-5"});
  EXPECT_EQ(negative.exit_code, 2);
  EXPECT_THAT(negative.output, HasSubstr("--rate must be 0"));
  // A subset of the offenders, as a larger force's run meets each offender as often as a
  // smaller one's.
  const RunResult subset = load({"--offenders", "300", "--act_on", "5", "--clients", "2", "--calls",
                                 "20", "--mix", "record-arms=1"});
  ASSERT_EQ(subset.exit_code, 0) << subset.output;
  EXPECT_THAT(subset.output, ::testing::ContainsRegex("acting on 5 of the [0-9]+ offenders"));
  EXPECT_THAT(subset.output, ::testing::ContainsRegex("\nall +20 +0 "));
  const RunResult none = load({"--act_on", "-1"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_THAT(none.output, HasSubstr("--act_on must be 0"));
  const RunResult when = load({"--visit_times", "noon"});
  EXPECT_EQ(when.exit_code, 2);
  EXPECT_THAT(when.output, HasSubstr("--visit_times must be spread or recent (got 'noon')"));
}

TEST(DemoGenerateTest, CsvFilesAreDeterministicAndImportCompletely) {
  vigil::testing::TempDir dir;
  auto vigil = [&](std::vector<std::string> args, const std::string& server = "127.0.0.1:1") {
    return RunVigil(server, std::move(args), {"Insp Reid", "supervisor", "wessex", "e2e"});
  };
  for (const char* out : {"a", "b"}) {
    const RunResult generated =
        vigil({"demo", "generate", "--out", dir.path() + "/" + out, "--offenders", "250",
               "--referrals", "120", "--as-of", "2026-11-01"});
    ASSERT_EQ(generated.exit_code, 0) << generated.output;
    EXPECT_THAT(generated.output, HasSubstr("wrote 250 offenders"));
  }
  const std::string offenders = ReadFile(dir.path() + "/a/offenders.csv");
  EXPECT_EQ(offenders, ReadFile(dir.path() + "/b/offenders.csv"));
  EXPECT_EQ(ReadFile(dir.path() + "/a/referrals.csv"), ReadFile(dir.path() + "/b/referrals.csv"));
  EXPECT_EQ(std::count(offenders.begin(), offenders.end(), '\n'), 251);

  VigildProcess vigild(dir.path());
  ASSERT_THAT(vigild.Start(), IsOk());
  const RunResult o =
      vigil({"import", "offenders", dir.path() + "/a/offenders.csv"}, vigild.address());
  EXPECT_EQ(o.exit_code, 0) << o.output;
  EXPECT_THAT(o.output, HasSubstr("250 rows, 250 imported, 0 already present, 0 refused"));
  const RunResult r =
      vigil({"import", "referrals", dir.path() + "/a/referrals.csv"}, vigild.address());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("120 rows, 120 imported, 0 already present, 0 refused"));
}

}  // namespace
}  // namespace vigil
