// The supervisor's backlog end to end: a real vigild seeded with the demo force, the backlog
// API compared with a brute-force count of its own item pages, a heat-map cell's drill-down,
// the CLI's table and CSV, the workload's authorisation, snapshots and trend, the HTML report
// rendered in Chromium, and the demo's alerts listed riskiest first and acknowledged.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "vigil/v1/alerts.grpc.pb.h"
#include "vigil/v1/backlog.grpc.pb.h"
#include "vigil/v1/ocait.grpc.pb.h"
#include "vigil/v1/rso.grpc.pb.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
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
    // As ./x run seeds it: as team north's inspector.
    RunResult seeded =
        RunVigil(vigild_->address(), {"demo", "seed", "--offenders", "400", "--referrals", "200"},
                 {"Insp Reid", "supervisor", "wessex", "e2e", "north", "inspector"});
    ASSERT_EQ(seeded.exit_code, 0) << seeded.output;
    seed_output_ = new std::string(seeded.output);
  }
  static void TearDownTestSuite() {
    delete vigild_;
    delete dir_;
    delete seed_output_;
  }

  static RunResult Vigil(std::vector<std::string> args, const std::string& role = "supervisor",
                         const std::string& actor = "Insp Reid") {
    return RunVigil(vigild_->address(), std::move(args), {actor, role, "wessex", "e2e"});
  }

  std::unique_ptr<grpc::ClientContext> Context(const std::string& role = "supervisor",
                                               const std::string& actor = "Insp Reid") {
    auto context = std::make_unique<grpc::ClientContext>();
    testing::AddIdentity(*context, {actor, role, "wessex", "e2e"});
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
  static std::string* seed_output_;  // what `vigil demo seed` printed
};

vigil::testing::TempDir* BacklogEndToEndTest::dir_ = nullptr;
VigildProcess* BacklogEndToEndTest::vigild_ = nullptr;
std::string* BacklogEndToEndTest::seed_output_ = nullptr;

// The demo takes a few alerts on as its caller (team north's inspector, as ./x run seeds it),
// choosing alerts the ladder lets that caller acknowledge: north's, below the superintendent.
TEST_F(BacklogEndToEndTest, DemoAcknowledgesAlertsItsCallerMayTakeOn) {
  ASSERT_NE(seed_output_, nullptr);
  EXPECT_THAT(*seed_output_, ::testing::ContainsRegex("alerts acknowledged: [1-9]"))
      << *seed_output_;
  v1::ListAlertsRequest request;
  request.mutable_filters()->set_state(v1::ALERT_STATE_ACKNOWLEDGED);
  v1::ListAlertsResponse acknowledged;
  ASSERT_TRUE(v1::AlertService::NewStub(vigild_->channel())
                  ->ListAlerts(Context().get(), request, &acknowledged)
                  .ok());
  ASSERT_GT(acknowledged.alerts_size(), 0);
  for (const v1::Alert& alert : acknowledged.alerts()) {
    EXPECT_EQ(alert.obligation().team(), "north") << alert.id();
    ASSERT_GT(alert.acknowledgements_size(), 0);
    EXPECT_EQ(alert.acknowledgements(0).by(), "Insp Reid");
    EXPECT_NE(alert.acknowledgements(0).level(), v1::ESCALATION_LEVEL_SUPERINTENDENT);
  }
}

TEST_F(BacklogEndToEndTest, SummaryEqualsACountOfEveryOverdueItem) {
  for (const std::string& team : {std::string(), std::string("east")}) {
    v1::GetBacklogSummaryRequest request;
    request.set_team(team);
    v1::BacklogSummary summary;
    ASSERT_TRUE(Stub()->GetBacklogSummary(Context().get(), request, &summary).ok());
    // Enough to mean something (the demo's 113 offenders past their period have no clocks).
    ASSERT_GT(summary.total(), 30);
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

// A heat-map cell's drill-down: ListBacklogItems filtered by kind, risk level and age band at
// the summary's as_of lists exactly the cell's count, in either order and across pages; several
// levels and bands list the sum of their cells.
TEST_F(BacklogEndToEndTest, DrillDownFiltersListExactlyEachSummaryCell) {
  v1::GetBacklogSummaryRequest request;
  v1::BacklogSummary summary;
  ASSERT_TRUE(Stub()->GetBacklogSummary(Context().get(), request, &summary).ok());
  ASSERT_GT(summary.rows_size(), 10);
  int64_t largest = 0;
  bool not_assessed = false;
  for (const v1::BacklogRow& row : summary.rows()) {
    largest = std::max(largest, row.count());
    not_assessed = not_assessed || row.risk_level() == v1::RISK_LEVEL_UNSPECIFIED;
    for (v1::BacklogOrder order :
         {v1::BACKLOG_ORDER_OLDEST_FIRST, v1::BACKLOG_ORDER_RISK_THEN_AGE}) {
      v1::ListBacklogItemsRequest cell;
      *cell.mutable_as_of() = summary.as_of();
      cell.add_kinds(row.kind());
      cell.add_risk_levels(row.risk_level());
      cell.add_age_bands(row.age_band());
      cell.set_order(order);
      const std::vector<v1::BacklogItem> items = AllItems(cell);  // 37 a page
      ASSERT_EQ(static_cast<int64_t>(items.size()), row.count())
          << v1::ObligationKind_Name(row.kind()) << " " << v1::RiskLevel_Name(row.risk_level())
          << " " << v1::AgeBand_Name(row.age_band()) << " " << v1::BacklogOrder_Name(order);
      std::set<std::string> ids;
      for (const v1::BacklogItem& item : items) {
        EXPECT_EQ(item.obligation().kind(), row.kind());
        EXPECT_EQ(item.obligation().risk_level(), row.risk_level());
        EXPECT_EQ(item.age_band(), row.age_band());
        ids.insert(item.obligation().id());
      }
      EXPECT_EQ(ids.size(), items.size()) << "no item twice across pages";
      for (size_t i = 1; i < items.size(); ++i) {
        ASSERT_LE(items[i - 1].obligation().due_time().seconds(),
                  items[i].obligation().due_time().seconds());
      }
    }
  }
  EXPECT_GT(largest, 37) << "some cell spans pages";
  EXPECT_TRUE(not_assessed) << "the demo has unassessed subjects";

  v1::ListBacklogItemsRequest several;
  *several.mutable_as_of() = summary.as_of();
  several.add_risk_levels(v1::RISK_LEVEL_VERY_HIGH);
  several.add_risk_levels(v1::RISK_LEVEL_HIGH);
  several.add_age_bands(v1::AGE_BAND_0_7_DAYS);
  several.add_age_bands(v1::AGE_BAND_OVER_365_DAYS);
  several.add_age_bands(v1::AGE_BAND_31_90_DAYS);
  several.set_order(v1::BACKLOG_ORDER_RISK_THEN_AGE);
  int64_t expected = 0;
  for (const v1::BacklogRow& row : summary.rows()) {
    if ((row.risk_level() == v1::RISK_LEVEL_VERY_HIGH || row.risk_level() == v1::RISK_LEVEL_HIGH) &&
        (row.age_band() == v1::AGE_BAND_0_7_DAYS || row.age_band() == v1::AGE_BAND_OVER_365_DAYS ||
         row.age_band() == v1::AGE_BAND_31_90_DAYS)) {
      expected += row.count();
    }
  }
  ASSERT_GT(expected, 0);
  EXPECT_EQ(static_cast<int64_t>(AllItems(several).size()), expected);

  // A page token is bound to its filters; an unknown band is named.
  v1::ListBacklogItemsRequest first;
  first.add_risk_levels(v1::RISK_LEVEL_HIGH);
  first.mutable_page()->set_page_size(1);
  v1::ListBacklogItemsResponse page;
  ASSERT_TRUE(Stub()->ListBacklogItems(Context().get(), first, &page).ok());
  ASSERT_FALSE(page.next_page_token().empty());
  v1::ListBacklogItemsRequest other;
  other.add_risk_levels(v1::RISK_LEVEL_LOW);
  other.mutable_page()->set_page_token(page.next_page_token());
  grpc::Status status = Stub()->ListBacklogItems(Context().get(), other, &page);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_token"));
  v1::ListBacklogItemsRequest unknown;
  unknown.add_age_bands(static_cast<v1::AgeBand>(42));
  status = Stub()->ListBacklogItems(Context().get(), unknown, &page);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("age_bands"));

  // The CLI's flags reach the same cell.
  const v1::BacklogRow* high = nullptr;
  for (const v1::BacklogRow& row : summary.rows()) {
    if (row.kind() == v1::OBLIGATION_KIND_HOME_VISIT && row.risk_level() == v1::RISK_LEVEL_HIGH &&
        (high == nullptr || row.count() > high->count())) {
      high = &row;
    }
  }
  ASSERT_NE(high, nullptr);
  std::string band = v1::AgeBand_Name(high->age_band());  // AGE_BAND_8_30_DAYS -> 8-30
  band = band.substr(9, band.size() - 9 - 5);
  std::replace(band.begin(), band.end(), '_', '-');
  std::string as_of;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(summary.as_of(), &as_of).ok());
  as_of = as_of.substr(1, as_of.size() - 2);
  RunResult cli =
      Vigil({"backlog", "items", "--kind", "home-visit", "--risk", "high", "--age-band",
             absl::AsciiStrToLower(band), "--as-of", as_of, "--page-size", "1000", "-o", "csv"});
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_EQ(std::count(cli.output.begin(), cli.output.end(), '\n'), high->count() + 1)
      << cli.output;
  RunResult bad = Vigil({"backlog", "items", "--age-band", "9-99"});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("--age-band"));
}

// ListAlerts in ALERT_ORDER_RISK: every alert of the oldest-raised listing exactly once, very
// high first and "not assessed" last, oldest raised first within a level, across small pages.
TEST_F(BacklogEndToEndTest, AlertsListRiskOrderPagesThroughEveryAlertRiskiestFirst) {
  auto list_all = [&](v1::AlertOrder order, int page_size) {
    std::vector<v1::Alert> alerts;
    v1::ListAlertsRequest request;
    request.set_order(order);
    request.mutable_page()->set_page_size(page_size);
    for (;;) {
      v1::ListAlertsResponse page;
      const grpc::Status status = v1::AlertService::NewStub(vigild_->channel())
                                      ->ListAlerts(Context().get(), request, &page);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      alerts.insert(alerts.end(), page.alerts().begin(), page.alerts().end());
      if (page.next_page_token().empty()) break;
      request.mutable_page()->set_page_token(page.next_page_token());
    }
    return alerts;
  };
  auto ids = [](const std::vector<v1::Alert>& alerts) {
    std::vector<std::string> out;
    out.reserve(alerts.size());
    for (const v1::Alert& a : alerts) out.push_back(a.id());
    return out;
  };
  auto rank = [](v1::RiskLevel r) {
    return r == v1::RISK_LEVEL_VERY_HIGH ? 0
           : r == v1::RISK_LEVEL_HIGH    ? 1
           : r == v1::RISK_LEVEL_MEDIUM  ? 2
           : r == v1::RISK_LEVEL_LOW     ? 3
                                         : 4;
  };
  // The scanner may still be raising: compare a riskiest-first listing taken between two equal
  // oldest-first ones.
  for (int attempt = 0; attempt < 5; ++attempt) {
    const std::vector<v1::Alert> before = list_all(v1::ALERT_ORDER_UNSPECIFIED, 1000);
    const std::vector<v1::Alert> by_risk = list_all(v1::ALERT_ORDER_RISK, 7);
    if (ids(list_all(v1::ALERT_ORDER_OLDEST_RAISED, 1000)) != ids(before)) continue;
    ASSERT_GT(before.size(), 14u) << "more than two pages";
    std::vector<v1::Alert> want = before;
    std::stable_sort(want.begin(), want.end(), [&](const v1::Alert& a, const v1::Alert& b) {
      return rank(a.obligation().risk_level()) < rank(b.obligation().risk_level());
    });
    ASSERT_EQ(ids(by_risk), ids(want));
    EXPECT_NE(by_risk.front().obligation().risk_level(), by_risk.back().obligation().risk_level());

    // The CLI: --order risk (exit 2 for an order it does not know).
    RunResult cli = Vigil({"alerts", "list", "--order", "risk", "--page-size", "3"});
    ASSERT_EQ(cli.exit_code, 0) << cli.output;
    EXPECT_THAT(cli.output, HasSubstr(want.front().id()));
    EXPECT_THAT(cli.output, HasSubstr("more: --page-token"));
    RunResult age = Vigil({"alerts", "list", "--order", "age", "--page-size", "3"});
    ASSERT_EQ(age.exit_code, 0) << age.output;
    EXPECT_THAT(age.output, HasSubstr(before.front().id()));
    RunResult bad = Vigil({"alerts", "list", "--order", "newest"});
    EXPECT_EQ(bad.exit_code, 2) << bad.output;
    EXPECT_THAT(bad.output, HasSubstr("--order"));
    return;
  }
  FAIL() << "the alerts kept changing";
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

// Each item names its subject as the subject's own record does (the names of a page are read
// together: none may land on another item), in either order.
TEST_F(BacklogEndToEndTest, EveryItemNamesItsSubjectAsTheirRecordDoes) {
  auto offenders = v1::OffenderService::NewStub(vigild_->channel());
  auto referrals = v1::ReferralService::NewStub(vigild_->channel());
  std::map<std::string, std::string> names;  // by subject id, from the records
  std::set<std::string> distinct;
  int checked = 0;
  for (const v1::BacklogOrder order :
       {v1::BACKLOG_ORDER_OLDEST_FIRST, v1::BACKLOG_ORDER_RISK_THEN_AGE}) {
    v1::ListBacklogItemsRequest request;
    request.set_order(order);
    request.mutable_page()->set_page_size(100);
    v1::ListBacklogItemsResponse page;
    const grpc::Status listed = Stub()->ListBacklogItems(Context().get(), request, &page);
    ASSERT_TRUE(listed.ok()) << listed.error_message();
    ASSERT_EQ(page.items_size(), 100);
    for (const v1::BacklogItem& item : page.items()) {
      const std::string& subject = item.obligation().subject_id();
      if (!names.contains(subject)) {
        v1::GetOffenderRequest get;
        get.set_id(subject);
        v1::Offender offender;
        grpc::Status status = offenders->GetOffender(Context().get(), get, &offender);
        if (status.ok()) {
          names[subject] = offender.display_name();
        } else {
          ASSERT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
          v1::GetReferralRequest get_referral;
          get_referral.set_id(subject);
          v1::Referral referral;
          status = referrals->GetReferral(Context().get(), get_referral, &referral);
          ASSERT_TRUE(status.ok()) << subject << ": " << status.error_message();
          names[subject] = referral.subject_display_name();
        }
      }
      EXPECT_EQ(item.subject_display_name(), names[subject]) << item.obligation().id();
      distinct.insert(item.subject_display_name());
      ++checked;
    }
  }
  EXPECT_EQ(checked, 200);
  EXPECT_GT(distinct.size(), 20u) << "the demo's names differ, so a name on the wrong item shows";
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
  // An officer who names no one asks about their own work; naming another officer is refused.
  v1::GetBacklogSummaryRequest own;
  status = Stub()->GetBacklogSummary(Context("officer", "DC 100").get(), own, &summary);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(summary.officer(), "DC 100");
  v1::GetBacklogSummaryRequest someone_else;
  someone_else.set_officer("DC 101");
  status = Stub()->GetBacklogSummary(Context("officer", "DC 100").get(), someone_else, &summary);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("set officer to 'DC 100'"));
}

// The work list of an officer: their own obligations only, due on or before the horizon's last
// local day, riskiest first then earliest due, each in the bucket its due time puts it in, with
// the subject's name, the reason and the policy version; the same obligations as the backlog's
// riskiest-first listing as of the horizon's end, page by page.
TEST_F(BacklogEndToEndTest, WorkListIsTheOfficersOwnRiskiestFirstWithNames) {
  v1::ListBacklogItemsRequest any;
  any.mutable_page()->set_page_size(1);
  v1::ListBacklogItemsResponse first;
  ASSERT_TRUE(Stub()->ListBacklogItems(Context().get(), any, &first).ok());
  ASSERT_EQ(first.items_size(), 1);
  EXPECT_FALSE(first.items(0).subject_display_name().empty()) << "backlog items carry names";
  const std::string officer = first.items(0).obligation().owner_officer();

  v1::ListMyWorkRequest request;  // officer left empty: the caller
  request.mutable_page()->set_page_size(7);
  std::vector<v1::WorkItem> items;
  v1::ListMyWorkResponse page;
  google::protobuf::Timestamp as_of, horizon_end;
  for (int pages = 0;; ++pages) {
    const grpc::Status status =
        Stub()->ListMyWork(Context("officer", officer).get(), request, &page);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(page.officer(), officer);
    if (pages == 0) {
      as_of = page.as_of();
      horizon_end = page.horizon_end();
    }
    EXPECT_EQ(page.as_of().seconds(), as_of.seconds()) << "later pages keep the first's as_of";
    items.insert(items.end(), page.items().begin(), page.items().end());
    if (page.next_page_token().empty()) break;
    request.mutable_page()->set_page_token(page.next_page_token());
  }
  ASSERT_FALSE(items.empty());

  const absl::TimeZone london = [] {
    absl::TimeZone zone;
    EXPECT_TRUE(absl::LoadTimeZone("Europe/London", &zone));
    return zone;
  }();
  const absl::Time now = absl::FromUnixSeconds(as_of.seconds()) + absl::Nanoseconds(as_of.nanos());
  const absl::CivilDay today = absl::ToCivilDay(now, london);
  EXPECT_EQ(absl::FromUnixSeconds(horizon_end.seconds()), absl::FromCivil(today + 8, london))
      << "the horizon ends with the 7th local day after today";
  int overdue = 0;
  auto rank = [](v1::RiskLevel r) {
    return r == v1::RISK_LEVEL_VERY_HIGH ? 0
           : r == v1::RISK_LEVEL_HIGH    ? 1
           : r == v1::RISK_LEVEL_MEDIUM  ? 2
           : r == v1::RISK_LEVEL_LOW     ? 3
                                         : 4;
  };
  for (size_t i = 0; i < items.size(); ++i) {
    const v1::WorkItem& item = items[i];
    const v1::Obligation& o = item.obligation();
    EXPECT_EQ(o.owner_officer(), officer);
    EXPECT_FALSE(item.subject_display_name().empty()) << o.id();
    EXPECT_FALSE(o.reason().empty()) << o.id();
    EXPECT_FALSE(o.policy_version().empty()) << o.id();
    const absl::Time due =
        absl::FromUnixSeconds(o.due_time().seconds()) + absl::Nanoseconds(o.due_time().nanos());
    ASSERT_LE(due, absl::FromUnixSeconds(horizon_end.seconds())) << o.id();
    if (due < now) {
      ++overdue;
      EXPECT_EQ(item.bucket(), v1::WORK_BUCKET_OVERDUE) << o.id();
      absl::Duration rest;
      EXPECT_EQ(item.days_overdue(), absl::IDivDuration(now - due, absl::Hours(24), &rest))
          << o.id();
    } else {
      const absl::CivilDay due_day = absl::ToCivilDay(due - absl::Microseconds(1), london);
      EXPECT_EQ(item.bucket(),
                due_day <= today ? v1::WORK_BUCKET_DUE_TODAY : v1::WORK_BUCKET_DUE_SOON)
          << o.id();
      EXPECT_EQ(item.days_until_due(), due_day <= today ? 0 : due_day - today) << o.id();
    }
    if (i > 0) {
      const v1::Obligation& a = items[i - 1].obligation();
      ASSERT_TRUE(rank(a.risk_level()) < rank(o.risk_level()) ||
                  (rank(a.risk_level()) == rank(o.risk_level()) &&
                   a.due_time().seconds() <= o.due_time().seconds()))
          << i;
    }
  }
  EXPECT_GT(overdue, 0) << "the demo force's officers have overdue work";

  v1::ListBacklogItemsRequest backlog;
  backlog.set_officer(officer);
  backlog.set_order(v1::BACKLOG_ORDER_RISK_THEN_AGE);
  backlog.mutable_as_of()->set_seconds(horizon_end.seconds());
  backlog.mutable_as_of()->set_nanos(1000);
  const std::vector<v1::BacklogItem> expected = AllItems(backlog);
  ASSERT_EQ(items.size(), expected.size());
  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(items[i].obligation().id(), expected[i].obligation().id()) << i;
    EXPECT_EQ(items[i].subject_display_name(), expected[i].subject_display_name()) << i;
  }

  // The CLI's table, as the officer.
  RunResult cli = Vigil({"work"}, "officer", officer);
  EXPECT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_THAT(cli.output, HasSubstr(absl::StrCat("WORK  ", officer)));
  EXPECT_THAT(cli.output, HasSubstr(items.front().subject_display_name()));
  EXPECT_THAT(cli.output, HasSubstr("OVERDUE"));

  // The same rows as CSV for a spreadsheet: the header, then rows only.
  RunResult csv = Vigil({"work", "-o", "csv"}, "officer", officer);
  EXPECT_EQ(csv.exit_code, 0) << csv.output;
  EXPECT_TRUE(absl::StartsWith(csv.output, "WHEN,RISK,SUBJECT,KIND,DUE BY,OWNER,OBLIGATION,WHY\n"))
      << csv.output;
  EXPECT_THAT(csv.output, Not(HasSubstr("WORK  ")));
  EXPECT_THAT(csv.output, HasSubstr(absl::StrCat(",", items.front().obligation().id(), ",")));
}

TEST_F(BacklogEndToEndTest, WorkListScopeAndBadRequests) {
  v1::ListMyWorkResponse page;
  v1::ListMyWorkRequest theirs;
  theirs.set_officer("DC 101");
  grpc::Status status = Stub()->ListMyWork(Context("officer", "DC 100").get(), theirs, &page);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("set it to 'DC 100'"));

  // A supervisor whose credential names no team must say whose work.
  status = Stub()->ListMyWork(Context().get(), v1::ListMyWorkRequest(), &page);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("team"));

  // With a team in the credential, that team's work.
  auto with_team = Context();
  with_team->AddMetadata("x-vigil-team", "east");
  v1::ListMyWorkRequest team_default;
  team_default.set_horizon_days(28);
  status = Stub()->ListMyWork(with_team.get(), team_default, &page);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(page.team(), "east");
  EXPECT_TRUE(page.officer().empty());
  ASSERT_GT(page.items_size(), 0);
  for (const v1::WorkItem& item : page.items()) EXPECT_EQ(item.obligation().team(), "east");

  v1::ListMyWorkRequest too_far;
  too_far.set_officer("DC 100");
  too_far.set_horizon_days(29);
  status = Stub()->ListMyWork(Context().get(), too_far, &page);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("horizon_days"));

  // Today only: nothing listed falls due after today.
  v1::ListMyWorkRequest today_only;
  today_only.set_team("east");
  today_only.set_horizon_days(0);
  status = Stub()->ListMyWork(Context().get(), today_only, &page);
  ASSERT_TRUE(status.ok()) << status.error_message();
  for (const v1::WorkItem& item : page.items()) {
    EXPECT_NE(item.bucket(), v1::WORK_BUCKET_DUE_SOON) << item.obligation().id();
  }

  RunResult bad_days = Vigil({"work", "--officer", "DC 100", "--days", "40"});
  EXPECT_NE(bad_days.exit_code, 0);
  RunResult relative = Vigil({"backlog", "items", "--as-of", "+7d", "--page-size", "3"});
  EXPECT_EQ(relative.exit_code, 0) << relative.output;
  EXPECT_THAT(relative.output, HasSubstr("SUBJECT"));
  RunResult nonsense = Vigil({"backlog", "--as-of", "soon"});
  EXPECT_NE(nonsense.exit_code, 0);
  EXPECT_THAT(nonsense.output, HasSubstr("+7d"));
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
  // The demo load took one snapshot a day for the 90 days before today; with today's, the
  // default range (the 28 local days up to today) has one point a day.
  ASSERT_EQ(trend.points_size(), 28);
  std::map<std::string, int64_t> overdue;
  for (const v1::TrendPoint& p : trend.points()) overdue[p.date()] = p.total_overdue();
  auto on = [&](int days_ago) {
    return overdue[absl::FormatTime("%Y-%m-%d", absl::Now() - absl::Hours(24 * days_ago),
                                    absl::UTCTimeZone())];
  };
  // The backlog ages forward in time: as of earlier days, less was overdue.
  EXPECT_LT(on(21), on(0));
  EXPECT_EQ(trend.change_7_days(), on(0) - on(7));
  EXPECT_EQ(trend.change_28_days(), on(0) - trend.points(0).total_overdue());
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
  EXPECT_THAT(table.output, ::testing::ContainsRegex("KIND +RISK +0-7"));
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
  dump.emplace_back("--dump-dom");
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
