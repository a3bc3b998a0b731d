// The supervisor's backlog end to end: a real vigild seeded with the demo force, the backlog
// API compared with a brute-force count of its own item pages, the CLI's table and CSV, the
// workload's authorisation, snapshots and trend, and the HTML report rendered in Chromium.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "vigil/v1/backlog.grpc.pb.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;
using ::vigil::testing::IsOk;
using ::vigil::testing::RunResult;
using ::vigil::testing::RunVigil;
using ::vigil::testing::VigildProcess;

class BacklogEndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new vigil::testing::TempDir();
    vigild_ = new VigildProcess(dir_->path());
    ASSERT_THAT(vigild_->Start(), IsOk());
    RunResult seeded = Vigil({"demo", "seed", "--offenders", "400", "--referrals", "200"});
    ASSERT_EQ(seeded.exit_code, 0) << seeded.output;
  }
  static void TearDownTestSuite() {
    delete vigild_;
    delete dir_;
  }

  static RunResult Vigil(std::vector<std::string> args, const std::string& role = "supervisor",
                         const std::string& actor = "Insp Reid") {
    return RunVigil(vigild_->address(), std::move(args), {actor, role, "wessex", "e2e"});
  }

  std::unique_ptr<grpc::ClientContext> Context(const std::string& role = "supervisor",
                                               const std::string& actor = "Insp Reid") {
    auto context = std::make_unique<grpc::ClientContext>();
    context->AddMetadata("x-vigil-actor", actor);
    context->AddMetadata("x-vigil-role", role);
    context->AddMetadata("x-vigil-force", "wessex");
    context->AddMetadata("x-vigil-purpose", "e2e");
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return context;
  }

  std::unique_ptr<v1::BacklogService::Stub> Stub() {
    return v1::BacklogService::NewStub(vigild_->channel());
  }

  // Every overdue item, page by page.
  std::vector<v1::BacklogItem> AllItems(v1::ListBacklogItemsRequest request) {
    std::vector<v1::BacklogItem> items;
    request.mutable_page()->set_page_size(37);
    for (;;) {
      v1::ListBacklogItemsResponse page;
      const grpc::Status status = Stub()->ListBacklogItems(Context().get(), request, &page);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      items.insert(items.end(), page.items().begin(), page.items().end());
      if (page.next_page_token().empty()) break;
      request.mutable_page()->set_page_token(page.next_page_token());
    }
    return items;
  }

  static vigil::testing::TempDir* dir_;
  static VigildProcess* vigild_;
};

vigil::testing::TempDir* BacklogEndToEndTest::dir_ = nullptr;
VigildProcess* BacklogEndToEndTest::vigild_ = nullptr;

TEST_F(BacklogEndToEndTest, SummaryEqualsACountOfEveryOverdueItem) {
  for (const std::string& team : {std::string(), std::string("east")}) {
    v1::GetBacklogSummaryRequest request;
    request.set_team(team);
    v1::BacklogSummary summary;
    ASSERT_TRUE(Stub()->GetBacklogSummary(Context().get(), request, &summary).ok());
    ASSERT_GT(summary.total(), 50);
    v1::ListBacklogItemsRequest items_request;
    items_request.set_team(team);
    *items_request.mutable_as_of() = summary.as_of();
    const std::vector<v1::BacklogItem> items = AllItems(items_request);
    ASSERT_EQ(static_cast<int64_t>(items.size()), summary.total()) << "team " << team;
    std::map<std::tuple<int, int, int>, int64_t> counted;
    for (const v1::BacklogItem& item : items) {
      ++counted[{item.obligation().kind(), item.obligation().risk_level(), item.age_band()}];
    }
    std::map<std::tuple<int, int, int>, int64_t> reported;
    for (const v1::BacklogRow& row : summary.rows())
      reported[{row.kind(), row.risk_level(), row.age_band()}] = row.count();
    EXPECT_EQ(counted, reported) << "team " << team;
    // Oldest first, and the summary's oldest is the first item.
    for (size_t i = 1; i < items.size(); ++i) {
      ASSERT_LE(items[i - 1].obligation().due_time().seconds(),
                items[i].obligation().due_time().seconds());
    }
    EXPECT_EQ(items.front().obligation().id(), summary.oldest().id());
    if (!team.empty()) {
      for (const auto& item : items) ASSERT_EQ(item.obligation().team(), team);
    }
  }
}

TEST_F(BacklogEndToEndTest, RiskThenAgeOrdersRiskiestFirst) {
  v1::ListBacklogItemsRequest request;
  request.set_order(v1::BACKLOG_ORDER_RISK_THEN_AGE);
  const std::vector<v1::BacklogItem> items = AllItems(request);
  auto rank = [](v1::RiskLevel r) {
    return r == v1::RISK_LEVEL_VERY_HIGH ? 0
           : r == v1::RISK_LEVEL_HIGH    ? 1
           : r == v1::RISK_LEVEL_MEDIUM  ? 2
           : r == v1::RISK_LEVEL_LOW     ? 3
                                         : 4;
  };
  ASSERT_FALSE(items.empty());
  EXPECT_EQ(items.front().obligation().risk_level(), v1::RISK_LEVEL_VERY_HIGH);
  for (size_t i = 1; i < items.size(); ++i) {
    const auto& a = items[i - 1].obligation();
    const auto& b = items[i].obligation();
    ASSERT_TRUE(rank(a.risk_level()) < rank(b.risk_level()) ||
                (rank(a.risk_level()) == rank(b.risk_level()) &&
                 a.due_time().seconds() <= b.due_time().seconds()))
        << i;
  }
}

TEST_F(BacklogEndToEndTest, BadQueriesGetTheRightStatus) {
  v1::GetBacklogSummaryRequest early;
  early.mutable_as_of()->set_seconds(
      absl::ToUnixSeconds(absl::FromCivil(absl::CivilSecond(2001, 1, 1), absl::UTCTimeZone())));
  v1::BacklogSummary summary;
  grpc::Status status = Stub()->GetBacklogSummary(Context().get(), early, &summary);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("as_of: 2001-01-01 is before the earliest data"));

  v1::GetBacklogSummaryRequest nobody;
  nobody.set_team("no-such-team");
  ASSERT_TRUE(Stub()->GetBacklogSummary(Context().get(), nobody, &summary).ok());
  EXPECT_EQ(summary.total(), 0);

  v1::ListBacklogItemsRequest first;
  first.mutable_page()->set_page_size(5);
  v1::ListBacklogItemsResponse page;
  ASSERT_TRUE(Stub()->ListBacklogItems(Context().get(), first, &page).ok());
  v1::ListBacklogItemsRequest other;
  other.set_team("north");
  other.mutable_page()->set_page_token(page.next_page_token());
  status = Stub()->ListBacklogItems(Context().get(), other, &page);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_token"));

  v1::GetWorkloadRequest theirs;
  theirs.set_officer("DC 101");
  v1::GetWorkloadResponse workload;
  status = Stub()->GetWorkload(Context("officer", "DC 100").get(), theirs, &workload);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  theirs.set_officer("DC 100");
  ASSERT_TRUE(Stub()->GetWorkload(Context("officer", "DC 100").get(), theirs, &workload).ok());
  for (const auto& w : workload.officers()) EXPECT_EQ(w.officer(), "DC 100");
  v1::GetBacklogSummaryRequest force_wide;
  status = Stub()->GetBacklogSummary(Context("officer", "DC 100").get(), force_wide, &summary);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(BacklogEndToEndTest, NothingOverdueYetIsAnEmptySummaryNotAnError) {
  const std::string today = absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone());
  RunResult created = Vigil({"offender", "create", "--id", "NEW1", "--name", "New Registrant",
                             "--registered", today, "--owner", "DC 999", "--team", "west"});
  ASSERT_EQ(created.exit_code, 0) << created.output;
  v1::GetBacklogSummaryRequest request;
  request.set_officer("DC 999");
  v1::BacklogSummary summary;
  const grpc::Status status = Stub()->GetBacklogSummary(Context().get(), request, &summary);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(summary.total(), 0);
  EXPECT_GT(summary.total_open(), 0);
}

TEST_F(BacklogEndToEndTest, WorkloadSharesAddUpPerTeam) {
  v1::GetWorkloadResponse workload;
  ASSERT_TRUE(Stub()->GetWorkload(Context().get(), v1::GetWorkloadRequest(), &workload).ok());
  std::map<std::string, double> shares;
  for (const auto& w : workload.officers()) {
    shares[w.team()] += w.team_share_percent();
    EXPECT_GT(w.weighted_load(), 0);
    EXPECT_EQ(w.open(), w.open_by_risk(0) + w.open_by_risk(1) + w.open_by_risk(2) +
                            w.open_by_risk(3) + w.open_by_risk(4));
  }
  ASSERT_GE(shares.size(), 4u);  // four offender teams and the OCAIT team
  for (const auto& [team, total] : shares) EXPECT_NEAR(total, 100.0, 0.01) << team;
}

TEST_F(BacklogEndToEndTest, SnapshotsMakeATrendWithAForecast) {
  for (int days_ago : {21, 14, 7, 0}) {
    RunResult r =
        Vigil({"backlog", "snapshot", "--as-of",
               absl::FormatTime("%Y-%m-%dT12:00:00Z", absl::Now() - absl::Hours(24 * days_ago),
                                absl::UTCTimeZone())});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  v1::GetBacklogTrendResponse trend;
  ASSERT_TRUE(Stub()->GetBacklogTrend(Context().get(), v1::GetBacklogTrendRequest(), &trend).ok());
  ASSERT_EQ(trend.points_size(), 4);
  // The backlog ages forward in time: as of earlier days, less was overdue.
  EXPECT_LT(trend.points(0).total_overdue(), trend.points(3).total_overdue());
  EXPECT_EQ(trend.change_7_days(),
            trend.points(3).total_overdue() - trend.points(2).total_overdue());
  // 28 days back is before the first snapshot: the change is from the first one.
  EXPECT_EQ(trend.change_28_days(),
            trend.points(3).total_overdue() - trend.points(0).total_overdue());
  bool growing = false;
  for (const auto& f : trend.forecasts()) growing = growing || f.growing();
  EXPECT_TRUE(growing);
  v1::GetBacklogTrendRequest too_early;
  too_early.mutable_from()->set_seconds(absl::ToUnixSeconds(absl::Now() - absl::Hours(24 * 400)));
  const grpc::Status status = Stub()->GetBacklogTrend(Context().get(), too_early, &trend);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("before the first snapshot"));
  RunResult shown = Vigil({"backlog", "trend"});
  EXPECT_THAT(shown.output, HasSubstr("GROWING"));
}

TEST_F(BacklogEndToEndTest, CliTableAndCsvCarryTheApiNumbers) {
  RunResult json = Vigil({"backlog", "-o", "json"});
  v1::BacklogSummary summary;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json.output, &summary).ok())
      << json.output;
  RunResult table = Vigil(
      {"backlog", "--as-of",
       absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(summary.as_of().seconds()),
                        absl::UTCTimeZone())});
  EXPECT_THAT(table.output, HasSubstr(absl::StrCat(summary.total(), " overdue of ",
                                                   summary.total_open(), " open")));
  EXPECT_THAT(table.output, HasSubstr("KIND             RISK"));
  RunResult csv = Vigil({"backlog", "--format", "csv"});
  std::istringstream lines(csv.output);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "kind,risk_level,age_band,count");
  int64_t sum = 0;
  int rows = 0;
  while (std::getline(lines, line)) {
    sum += std::stoll(line.substr(line.rfind(',') + 1));
    ++rows;
  }
  EXPECT_EQ(rows, summary.rows_size());
  EXPECT_NEAR(static_cast<double>(sum), static_cast<double>(summary.total()), 3);  // seconds apart
}

TEST_F(BacklogEndToEndTest, HtmlReportRendersInChromiumWithTheApiNumbers) {
  const char* candidates[] = {"/usr/bin/chromium", "/usr/bin/chromium-browser"};
  std::string chromium;
  for (const char* c : candidates) {
    if (std::filesystem::exists(c)) chromium = c;
  }
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (./x test installs it)";
  const std::string html = dir_->Sub("report.html");
  RunResult written = Vigil({"report", "--out", html});
  ASSERT_EQ(written.exit_code, 0) << written.output;
  v1::BacklogSummary summary;
  ASSERT_TRUE(
      Stub()->GetBacklogSummary(Context().get(), v1::GetBacklogSummaryRequest(), &summary).ok());

  const std::string artefacts = absl::StrCat(
      getenv("VIGIL_BUILD_DIR") ? getenv("VIGIL_BUILD_DIR") : "/tmp", "/test-artifacts");
  std::filesystem::create_directories(artefacts);
  const std::string png = artefacts + "/backlog-report.png";
  std::filesystem::remove(png);
  const std::vector<std::string> flags = {chromium,
                                          "--headless",
                                          "--no-sandbox",
                                          "--disable-gpu",
                                          "--disable-quic",
                                          "--no-first-run",
                                          "--disable-background-networking",
                                          "--disable-component-update",
                                          "--disable-sync",
                                          "--user-data-dir=" + dir_->Sub("chromium"),
                                          "--window-size=1200,2200"};
  std::vector<std::string> shot = flags;
  shot.push_back("--screenshot=" + png);
  shot.push_back("file://" + html);
  absl::StatusOr<RunResult> rendered = vigil::testing::Run(shot, absl::Seconds(120));
  ASSERT_THAT(rendered.status(), IsOk());
  ASSERT_TRUE(std::filesystem::exists(png)) << rendered->output;
  EXPECT_GT(std::filesystem::file_size(png), 20000u);  // a page with tables and charts, not blank

  std::vector<std::string> dump = flags;
  dump.push_back("--dump-dom");
  dump.push_back("file://" + html);
  absl::StatusOr<RunResult> dom = vigil::testing::Run(dump, absl::Seconds(120));
  ASSERT_THAT(dom.status(), IsOk());
  // The page as Chromium parsed it carries the totals (the report's own summary, taken moments
  // earlier, may differ by what fell due in between: compare with a small tolerance).
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dom->output, m, std::regex("data-total-overdue=\"(\\d+)\"")))
      << dom->output.substr(0, 500);
  EXPECT_NEAR(std::stod(m[1]), static_cast<double>(summary.total()), 3);
  ASSERT_TRUE(std::regex_search(dom->output, m, std::regex("data-total-open=\"(\\d+)\"")));
  EXPECT_EQ(std::stoll(m[1]), summary.total_open());
  EXPECT_THAT(dom->output, HasSubstr("<svg id=\"by-kind\""));
  EXPECT_THAT(dom->output, HasSubstr("The oldest 20 overdue items"));
}

}  // namespace
}  // namespace vigil
