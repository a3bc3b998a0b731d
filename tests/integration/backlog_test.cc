// The supervisor's backlog (services/backlog/backlog.cc) over real owners: a real store in a
// temporary directory holding the obligations of two owning contexts, rso and ocait, committed
// by the ledger as their RecordStores commit them; each context's OverdueIndex; the
// ObligationFeed service hosting both on a real gRPC server; and the backlog calling it over
// the in-process channel, as a co-hosted vigild does. Every figure is checked against a count
// made by hand from the table of obligations below.
#include "services/backlog/backlog.h"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/proto_time.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "services/backlog/feed_client.h"
#include "services/common/auth.h"
#include "services/common/executor.h"
#include "services/common/feed_stream.h"
#include "services/common/read_limiter.h"
#include "services/common/server.h"
#include "services/obligations/ledger.h"
#include "services/obligations/obligation_feed_service.h"
#include "services/obligations/overdue_index.h"
#include "tests/support/status_matchers.h"
#include "tests/support/store_fixture.h"

namespace vigil::backlog {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::vigil::testing::IsOk;
using ::vigil::testing::StatusIs;

constexpr absl::string_view kForce = "cheshire";

// One open obligation of the table: `hours_overdue` before the fixture's now (negative: not
// yet due), and the age band a hand count puts it in (UNSPECIFIED: not overdue).
struct Row {
  const char* context;
  const char* id;  // subject/clock
  v1::ObligationKind kind;
  v1::RiskLevel risk;
  const char* team;
  const char* officer;
  int hours_overdue;
  v1::AgeBand band;
};

constexpr v1::ObligationKind kVisit = v1::OBLIGATION_KIND_HOME_VISIT;
constexpr v1::ObligationKind kArms = v1::OBLIGATION_KIND_ARMS_ASSESSMENT;
constexpr v1::ObligationKind kRmp = v1::OBLIGATION_KIND_RMP_REVIEW;
constexpr v1::ObligationKind kAction = v1::OBLIGATION_KIND_REFERRAL_ACTION;
constexpr v1::ObligationKind kIntel = v1::OBLIGATION_KIND_INTEL_REFRESH;
constexpr v1::ObligationKind kCsc = v1::OBLIGATION_KIND_CSC_CHECK;
constexpr v1::RiskLevel kVeryHigh = v1::RISK_LEVEL_VERY_HIGH;
constexpr v1::RiskLevel kHigh = v1::RISK_LEVEL_HIGH;
constexpr v1::RiskLevel kMedium = v1::RISK_LEVEL_MEDIUM;
constexpr v1::RiskLevel kLow = v1::RISK_LEVEL_LOW;
constexpr const char* kQueue = "(unallocated)";  // kUnallocatedOwner

const Row kTable[] = {
    // rso: 8 overdue, 2 not yet due.
    {"rso", "R1/visit", kVisit, kHigh, "north", "DC 1", 3 * 24 + 1, v1::AGE_BAND_0_7_DAYS},
    {"rso", "R1/arms", kArms, kHigh, "north", "DC 1", 10 * 24 + 1, v1::AGE_BAND_8_30_DAYS},
    {"rso", "R2/visit", kVisit, kHigh, "north", "DC 2", 10 * 24 + 2, v1::AGE_BAND_8_30_DAYS},
    {"rso", "R2/arms", kArms, kMedium, "north", "DC 2", 45 * 24, v1::AGE_BAND_31_90_DAYS},
    {"rso", "R3/visit", kVisit, kLow, "south", "DC 3", 200 * 24, v1::AGE_BAND_181_365_DAYS},
    {"rso", "R3/rmp", kRmp, kLow, "south", "DC 3", 400 * 24, v1::AGE_BAND_OVER_365_DAYS},
    {"rso", "R4/visit", kVisit, kVeryHigh, "south", "DC 3", -5 * 24, v1::AGE_BAND_UNSPECIFIED},
    {"rso", "R4/arms", kArms, kVeryHigh, "south", "DC 3", -40 * 24, v1::AGE_BAND_UNSPECIFIED},
    // 7 days and 23 hours: still the first band (whole days, rounded down).
    {"rso", "R5/visit", kVisit, kMedium, "north", "DC 1", 7 * 24 + 23, v1::AGE_BAND_0_7_DAYS},
    {"rso", "R6/visit", kVisit, kHigh, "north", "DC 2", 2 * 24, v1::AGE_BAND_0_7_DAYS},
    // ocait: 3 overdue (one in the team's unallocated queue), 1 not yet due.
    {"ocait", "F1/action", kAction, kHigh, "north", "DC 1", 3 * 24 + 2, v1::AGE_BAND_0_7_DAYS},
    {"ocait", "F2/action", kAction, kHigh, "north", kQueue, 100 * 24, v1::AGE_BAND_91_180_DAYS},
    // Exactly 8 days: the second band.
    {"ocait", "F3/intel", kIntel, kMedium, "south", "DC 3", 8 * 24, v1::AGE_BAND_8_30_DAYS},
    {"ocait", "F4/csc", kCsc, kLow, "north", "DC 2", -2 * 24, v1::AGE_BAND_UNSPECIFIED},
};

// Each test runs twice: with the backlog asking the owners over their gRPC channel, and with
// it calling them in process (FeedClients::SetLocal), as vigild does when co-hosted: the
// answers, the refusals and the audit records must not depend on the way.
class BacklogTest : public vigil::testing::StoreFixture,
                    public ::testing::WithParamInterface<bool> {
 protected:
  bool in_process() const { return GetParam(); }

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StoreFixture::SetUp());
    for (const char* context : {"rso", "ocait"}) {
      indexes_[context] = std::make_unique<OverdueIndex>(Space(context));
      ASSERT_THAT(indexes_[context]->Attach(*store_, context), IsOk());
    }
    RpcRuntimeOptions options;
    options.audit_store = store_.get();
    runtime_ = std::make_unique<RpcRuntime>(auth_, executor_, clock_, options);
    feed_ = std::make_unique<ObligationFeedImpl>(
        *runtime_, *store_, notifier_,
        std::map<std::string, FeedContext>{{"rso", {indexes_["rso"].get(), nullptr}},
                                           {"ocait", {indexes_["ocait"].get(), nullptr}}});
    ServerOptions server;
    server.listen = "127.0.0.1:0";
    VIGIL_ASSERT_OK_AND_ASSIGN(
        host_, ServerHost::Start(server, {{v1::ObligationFeed::service_full_name(), feed_.get()}}));
    feeds_.Add("rso", host_->InProcessChannel());
    feeds_.Add("ocait", host_->InProcessChannel());
    if (in_process()) feeds_.SetLocal(feed_.get());
    backlog_ = std::make_unique<Backlog>(*store_, feeds_, *policies_, clock_, zone_);
    for (const Row& row : kTable) open_[{row.context, Subject(row.id)}].push_back(Obligation(row));
    for (const auto& [key, clocks] : open_) Commit(key.first, key.second, clocks);
  }

  void TearDown() override {
    backlog_.reset();
    if (host_ != nullptr) host_->Shutdown(absl::ZeroDuration());
    executor_.Shutdown();
  }

  static storage::DeadlineSpace Space(absl::string_view context) {
    return context == "rso" ? storage::DeadlineSpace::kRso : storage::DeadlineSpace::kOcait;
  }
  static std::string Subject(absl::string_view id) { return std::string(id.substr(0, 2)); }

  v1::Obligation Obligation(const Row& row) const {
    v1::Obligation o;
    o.set_id(row.id);
    o.set_subject_id(Subject(row.id));
    o.set_kind(row.kind);
    o.set_risk_level(row.risk);
    *o.mutable_due_time() = ToProtoTime(clock_.Now() - absl::Hours(row.hours_overdue));
    o.set_owner_officer(row.officer);
    o.set_team(row.team);
    o.set_force(std::string(kForce));
    o.set_policy_version("v1");
    o.set_reason("backlog test");
    return o;
  }

  // The clocks of `subject` in `context` become `after` now, committed as RecordStore commits
  // an edit: the ledger's writes and the context's feed event in one change.
  void Commit(const std::string& context, const std::string& subject,
              const std::vector<v1::Obligation>& after) {
    std::vector<v1::Obligation>& before = committed_[{context, subject}];
    google::protobuf::RepeatedPtrField<v1::Obligation> was(before.begin(), before.end());
    google::protobuf::RepeatedPtrField<v1::Obligation> stamped(after.begin(), after.end());
    StampSince(was, stamped, clock_.Now(), /*new_record=*/before.empty());
    storage::Change change;
    v1::ObligationEventBatch events;
    ObligationLedger(context, Space(context))
        .Reconcile(before, {stamped.begin(), stamped.end()}, clock_.Now(), change, events);
    change.AddEvent(context, events.SerializeAsString());
    ASSERT_THAT(store_->Commit(change).status(), IsOk());
    before.assign(stamped.begin(), stamped.end());
  }

  CallContext Call(Role role = Role::kSupervisor, std::string actor = "Insp Reid",
                   std::string team = "north") const {
    CallContext call;
    call.principal = Principal{std::move(actor), role, std::string(kForce), std::move(team)};
    call.purpose = "backlog test";
    call.method = "test";
    call.now = clock_.Now();
    return call;
  }

  // Every page of a listing, in order.
  std::vector<std::string> AllItems(v1::ListBacklogItemsRequest request, int page_size,
                                    int* pages = nullptr) {
    return AllItems(std::move(request), page_size, *backlog_, pages);
  }
  std::vector<std::string> AllItems(v1::ListBacklogItemsRequest request, int page_size,
                                    Backlog& backlog, int* pages = nullptr) {
    std::vector<std::string> ids;
    request.mutable_page()->set_page_size(page_size);
    for (int n = 1;; ++n) {
      absl::StatusOr<v1::ListBacklogItemsResponse> page = backlog.Items(Call(), request);
      EXPECT_THAT(page.status(), IsOk());
      if (!page.ok()) break;
      EXPECT_LE(page->items_size(), page_size);
      for (const v1::BacklogItem& item : page->items()) ids.push_back(item.obligation().id());
      if (pages != nullptr) *pages = n;
      if (page->next_page_token().empty() || n > 20) break;
      request.mutable_page()->set_page_token(page->next_page_token());
    }
    return ids;
  }

  DevHeaderAuthenticator auth_;
  Executor executor_{2, 100};
  FeedNotifier notifier_;
  std::map<std::string, std::unique_ptr<OverdueIndex>> indexes_;
  std::unique_ptr<RpcRuntime> runtime_;
  std::unique_ptr<ObligationFeedImpl> feed_;
  std::unique_ptr<ServerHost> host_;
  FeedClients feeds_;
  std::unique_ptr<Backlog> backlog_;
  std::map<std::pair<std::string, std::string>, std::vector<v1::Obligation>> open_;
  std::map<std::pair<std::string, std::string>, std::vector<v1::Obligation>> committed_;
};

INSTANTIATE_TEST_SUITE_P(Owners, BacklogTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param) {
                           return param.param ? "InProcess" : "OverGrpc";
                         });

using Cell = std::tuple<v1::ObligationKind, v1::RiskLevel, v1::AgeBand>;

std::map<Cell, int64_t> Cells(const v1::BacklogSummary& summary) {
  std::map<Cell, int64_t> cells;
  for (const v1::BacklogRow& row : summary.rows()) {
    cells[{row.kind(), row.risk_level(), row.age_band()}] += row.count();
  }
  return cells;
}

TEST_P(BacklogTest, SummaryCountsEachKindRiskAndAgeBandOfBothContextsAsCountedByHand) {
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::BacklogSummary summary,
                             backlog_->Summary(Call(), v1::GetBacklogSummaryRequest()));
  // By hand from kTable: two high-risk home visits 0-7 days overdue (R1, R6), one of each other.
  const std::map<Cell, int64_t> expected = {
      {{kArms, kHigh, v1::AGE_BAND_8_30_DAYS}, 1},      // R1/arms
      {{kArms, kMedium, v1::AGE_BAND_31_90_DAYS}, 1},   // R2/arms
      {{kRmp, kLow, v1::AGE_BAND_OVER_365_DAYS}, 1},    // R3/rmp
      {{kVisit, kHigh, v1::AGE_BAND_0_7_DAYS}, 2},      // R1/visit, R6/visit
      {{kVisit, kHigh, v1::AGE_BAND_8_30_DAYS}, 1},     // R2/visit
      {{kVisit, kMedium, v1::AGE_BAND_0_7_DAYS}, 1},    // R5/visit
      {{kVisit, kLow, v1::AGE_BAND_181_365_DAYS}, 1},   // R3/visit
      {{kAction, kHigh, v1::AGE_BAND_0_7_DAYS}, 1},     // F1/action
      {{kAction, kHigh, v1::AGE_BAND_91_180_DAYS}, 1},  // F2/action
      {{kIntel, kMedium, v1::AGE_BAND_8_30_DAYS}, 1},   // F3/intel
  };
  EXPECT_EQ(Cells(summary), expected);
  EXPECT_EQ(summary.total(), 11);
  EXPECT_EQ(summary.total_open(), 14);
  EXPECT_EQ(summary.oldest().id(), "R3/rmp");
  EXPECT_EQ(summary.force(), kForce);
  EXPECT_EQ(TimeOf(summary.as_of()), clock_.Now());

  // The table's band column, counted the other way round, agrees.
  std::map<Cell, int64_t> from_table;
  for (const Row& row : kTable) {
    if (row.band != v1::AGE_BAND_UNSPECIFIED) ++from_table[{row.kind, row.risk, row.band}];
  }
  EXPECT_EQ(from_table, expected);
}

TEST_P(BacklogTest, SummaryFiltersByTeamOfficerAndKind) {
  v1::GetBacklogSummaryRequest south;
  south.set_team("south");
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::BacklogSummary s, backlog_->Summary(Call(), south));
  EXPECT_EQ(s.total(), 3);       // R3/visit, R3/rmp, F3/intel
  EXPECT_EQ(s.total_open(), 5);  // and R4's two clocks
  EXPECT_EQ(s.team(), "south");

  v1::GetBacklogSummaryRequest dc1;
  dc1.set_officer("DC 1");
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::BacklogSummary o, backlog_->Summary(Call(), dc1));
  EXPECT_EQ(o.total(), 4);  // R1's two, R5/visit, F1/action
  EXPECT_EQ(o.total_open(), 4);

  v1::GetBacklogSummaryRequest visits;
  visits.add_kinds(kVisit);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::BacklogSummary v, backlog_->Summary(Call(), visits));
  EXPECT_EQ(v.total(), 5);  // R1, R2, R3, R5, R6
  EXPECT_EQ(v.total_open(), 6);

  // An officer who names no one asks about their own obligations.
  VIGIL_ASSERT_OK_AND_ASSIGN(
      v1::BacklogSummary own,
      backlog_->Summary(Call(Role::kOfficer, "DC 2"), v1::GetBacklogSummaryRequest()));
  EXPECT_EQ(own.officer(), "DC 2");
  EXPECT_EQ(own.total(), 3);       // R2's two, R6/visit
  EXPECT_EQ(own.total_open(), 4);  // and F4/csc
}

TEST_P(BacklogTest, ItemsComeOldestFirstAcrossBothContextsPageByPage) {
  int pages = 0;
  EXPECT_THAT(AllItems(v1::ListBacklogItemsRequest(), 4, &pages),
              ElementsAre("R3/rmp", "R3/visit", "F2/action", "R2/arms", "R2/visit", "R1/arms",
                          "F3/intel", "R5/visit", "F1/action", "R1/visit", "R6/visit"));
  EXPECT_EQ(pages, 3);

  // One page holding everything has no token.
  v1::ListBacklogItemsRequest all;
  all.mutable_page()->set_page_size(50);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListBacklogItemsResponse page, backlog_->Items(Call(), all));
  ASSERT_EQ(page.items_size(), 11);
  EXPECT_THAT(page.next_page_token(), IsEmpty());
  EXPECT_EQ(page.view(), v1::AS_OF_VIEW_CURRENT);
  for (const v1::BacklogItem& item : page.items()) {
    for (const Row& row : kTable) {
      if (item.obligation().id() != row.id) continue;
      EXPECT_EQ(item.age_band(), row.band) << row.id;
      EXPECT_EQ(item.days_overdue(), row.hours_overdue / 24) << row.id;
    }
  }
}

TEST_P(BacklogTest, ItemsRiskiestFirstThenOldest) {
  v1::ListBacklogItemsRequest request;
  request.set_order(v1::BACKLOG_ORDER_RISK_THEN_AGE);
  EXPECT_THAT(AllItems(request, 3),
              ElementsAre("F2/action", "R2/visit", "R1/arms", "F1/action", "R1/visit",
                          "R6/visit",                         // high
                          "R2/arms", "F3/intel", "R5/visit",  // medium
                          "R3/rmp", "R3/visit"));             // low
}

TEST_P(BacklogTest, ItemsFilteredByTeamOfficerRiskAndAgeBand) {
  v1::ListBacklogItemsRequest south;
  south.set_team("south");
  EXPECT_THAT(AllItems(south, 2), ElementsAre("R3/rmp", "R3/visit", "F3/intel"));

  v1::ListBacklogItemsRequest dc1;
  dc1.set_officer("DC 1");
  EXPECT_THAT(AllItems(dc1, 2), ElementsAre("R1/arms", "R5/visit", "F1/action", "R1/visit"));

  v1::ListBacklogItemsRequest recent_high;
  recent_high.add_risk_levels(kHigh);
  recent_high.add_age_bands(v1::AGE_BAND_0_7_DAYS);
  EXPECT_THAT(AllItems(recent_high, 10), ElementsAre("F1/action", "R1/visit", "R6/visit"));
}

TEST_P(BacklogTest, AsOfInTheFutureCountsWhatWillBeOverdueThen) {
  v1::GetBacklogSummaryRequest request;
  *request.mutable_as_of() = ToProtoTime(clock_.Now() + absl::Hours(24 * 30));
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::BacklogSummary summary, backlog_->Summary(Call(), request));
  // Today's open obligations, judged thirty days on: R4/visit and F4/csc have fallen due by then,
  // R4/arms (due in 40 days) has not.
  EXPECT_EQ(summary.total(), 13);
  EXPECT_EQ(summary.total_open(), 14);
  const std::map<Cell, int64_t> cells = Cells(summary);
  EXPECT_EQ(cells.at(Cell(kVisit, kVeryHigh, v1::AGE_BAND_8_30_DAYS)), 1);  // R4/visit, 25 days
  EXPECT_EQ(cells.at(Cell(kCsc, kLow, v1::AGE_BAND_8_30_DAYS)), 1);         // F4/csc, 28 days
}

TEST_P(BacklogTest, WorkloadSumsBothContextsPerOfficerWeightedByThePolicy) {
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::GetWorkloadResponse workload,
                             backlog_->Workload(Call(), v1::GetWorkloadRequest()));
  const v1::WorkloadWeights& w = policies_->Current(std::string(kForce))->workload();
  EXPECT_EQ(workload.policy_version(), policies_->Current(std::string(kForce))->version());
  std::map<std::pair<std::string, std::string>, v1::OfficerWorkload> by_officer;
  for (const v1::OfficerWorkload& o : workload.officers()) by_officer[{o.team(), o.officer()}] = o;
  ASSERT_EQ(by_officer.size(), 4u);

  const v1::OfficerWorkload& dc2 = by_officer[{"north", "DC 2"}];
  EXPECT_EQ(dc2.open(), 4);                                       // R2's two, R6/visit, F4/csc
  EXPECT_EQ(dc2.overdue(), 3);                                    // not F4
  const double dc2_load = w.home_visit() * w.high_multiplier() +  // R2/visit
                          w.arms_assessment() * w.medium_multiplier() +  // R2/arms
                          w.home_visit() * w.high_multiplier() +         // R6/visit
                          w.csc_check() * w.low_multiplier();            // F4/csc
  EXPECT_DOUBLE_EQ(dc2.weighted_load(), dc2_load);
  EXPECT_DOUBLE_EQ(dc2.capacity_used_percent(), 100.0 * dc2_load / w.officer_capacity());

  const v1::OfficerWorkload& dc1 = by_officer[{"north", "DC 1"}];
  EXPECT_EQ(dc1.open(), 4);
  EXPECT_EQ(dc1.overdue(), 4);
  const double dc1_load = w.home_visit() * w.high_multiplier() +       // R1/visit
                          w.arms_assessment() * w.high_multiplier() +  // R1/arms
                          w.home_visit() * w.medium_multiplier() +     // R5/visit
                          w.referral_action() * w.high_multiplier();   // F1/action
  EXPECT_DOUBLE_EQ(dc1.weighted_load(), dc1_load);
  // North's officers share its load; its unallocated queue is not an officer's.
  EXPECT_DOUBLE_EQ(dc1.team_share_percent(), 100.0 * dc1_load / (dc1_load + dc2_load));
  EXPECT_DOUBLE_EQ(dc1.team_share_percent() + dc2.team_share_percent(), 100.0);

  const v1::OfficerWorkload& queue = by_officer[{"north", ""}];
  EXPECT_TRUE(queue.unallocated_queue());
  EXPECT_EQ(queue.open(), 1);  // F2/action
  EXPECT_EQ(queue.overdue(), 1);
  EXPECT_EQ(queue.capacity_used_percent(), 0.0);

  const v1::OfficerWorkload& dc3 = by_officer[{"south", "DC 3"}];
  EXPECT_EQ(dc3.open(), 5);
  EXPECT_EQ(dc3.overdue(), 3);
  EXPECT_DOUBLE_EQ(dc3.team_share_percent(), 100.0);  // alone in south

  v1::GetWorkloadRequest south;
  south.set_team("south");
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::GetWorkloadResponse only_south, backlog_->Workload(Call(), south));
  ASSERT_EQ(only_south.officers_size(), 1);
  EXPECT_EQ(only_south.officers(0).officer(), "DC 3");
}

TEST_P(BacklogTest, ClosingObligationsShowsInTheNextSnapshotAndTheTrend) {
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::TakeBacklogSnapshotResponse first,
                             backlog_->TakeSnapshot(Call(), v1::TakeBacklogSnapshotRequest()));
  ASSERT_FALSE(first.snapshots().empty());
  EXPECT_EQ(first.snapshots(0).team(), "");  // the force's first
  EXPECT_EQ(first.snapshots(0).total_overdue(), 11);
  clock_.Set(clock_.Now() + absl::Hours(24));
  // R3 leaves the register's care: both of its clocks close.
  Commit("rso", "R3", {});
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::TakeBacklogSnapshotResponse second,
                             backlog_->TakeSnapshot(Call(), v1::TakeBacklogSnapshotRequest()));
  // A day on, R4/visit and F4/csc are still not due; R3's two are gone.
  EXPECT_EQ(second.snapshots(0).total_overdue(), 9);
  EXPECT_EQ(second.snapshots(0).total_open(), 12);

  VIGIL_ASSERT_OK_AND_ASSIGN(v1::GetBacklogTrendResponse trend,
                             backlog_->Trend(Call(), v1::GetBacklogTrendRequest()));
  ASSERT_EQ(trend.points_size(), 2);
  EXPECT_EQ(trend.points(0).total_overdue(), 11);
  EXPECT_EQ(trend.points(1).total_overdue(), 9);
  EXPECT_EQ(trend.change_7_days(), -2);
}

// The owners are asked at once; an owner that cannot answer fails the whole answer, named,
// rather than leave out its part of the backlog: one with no channel yet, and one whose
// channel leads nowhere (its error comes back from the asynchronous call).
TEST_P(BacklogTest, AnOwnerThatCannotAnswerFailsTheAnswerNamingIt) {
  FeedClients unready;
  unready.Add("rso", host_->InProcessChannel());
  unready.Add("ocait");
  Backlog partial(*store_, unready, *policies_, clock_, zone_);
  EXPECT_THAT(partial.Summary(Call(), v1::GetBacklogSummaryRequest()).status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("ocait")));
  EXPECT_THAT(partial.Items(Call(), v1::ListBacklogItemsRequest()).status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("ocait")));
  EXPECT_THAT(partial.Workload(Call(), v1::GetWorkloadRequest()).status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("ocait")));

  FeedClients nowhere;
  nowhere.Add("rso", host_->InProcessChannel());
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  nowhere.Add("ocait", grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()));
  Backlog unreachable(*store_, nowhere, *policies_, clock_, zone_);
  EXPECT_THAT(unreachable.Summary(Call(), v1::GetBacklogSummaryRequest()).status(),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(unreachable.Items(Call(), v1::ListBacklogItemsRequest()).status(),
              StatusIs(absl::StatusCode::kUnavailable));

  // One owner served here, one over a channel: both answer together, and the remote owner's
  // error fails the answer as well.
  ObligationFeedImpl rso_here(*runtime_, *store_, notifier_,
                              std::map<std::string, FeedContext>{{"rso", {indexes_["rso"].get()}}});
  FeedClients mixed;
  mixed.Add("rso");
  mixed.Add("ocait", host_->InProcessChannel());
  mixed.SetLocal(&rso_here);
  Backlog both(*store_, mixed, *policies_, clock_, zone_);
  v1::ListBacklogItemsRequest all;
  const std::vector<std::string> items = AllItems(all, 100, both);
  EXPECT_THAT(items, Not(IsEmpty()));
  EXPECT_EQ(items, AllItems(all, 100, *backlog_));
  EXPECT_EQ(AllItems(all, 2, both), items);
  all.set_order(v1::BACKLOG_ORDER_RISK_THEN_AGE);
  EXPECT_EQ(AllItems(all, 3, both), AllItems(all, 100, *backlog_));
  FeedClients broken;
  broken.Add("rso");
  broken.Add("ocait", grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()));
  broken.SetLocal(&rso_here);
  Backlog half(*store_, broken, *policies_, clock_, zone_);
  EXPECT_THAT(half.Items(Call(), v1::ListBacklogItemsRequest()).status(),
              StatusIs(absl::StatusCode::kUnavailable));

  // And with both owners answering, the same backlog object answers again.
  VIGIL_EXPECT_OK(backlog_->Summary(Call(), v1::GetBacklogSummaryRequest()).status());
}

// Each owner records what it disclosed under the caller, with the backlog's hop as `via` and
// the caller's purpose: in process as over gRPC. In process both owners' records share one
// commit.
TEST_P(BacklogTest, TheOwnersAuditTheirDisclosureUnderTheCaller) {
  const uint64_t head = store_->AuditHead();
  const uint64_t commits = store_->stats().commits;
  v1::ListBacklogItemsRequest request;
  request.mutable_page()->set_page_size(100);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListBacklogItemsResponse page, backlog_->Items(Call(), request));
  ASSERT_GT(page.items_size(), 0);
  std::multiset<std::string> shown;
  for (const v1::BacklogItem& item : page.items()) shown.insert(item.obligation().subject_id());

  std::multiset<std::string> recorded;
  ASSERT_EQ(store_->AuditHead(), head + 2) << "one record per owner";
  for (uint64_t sequence = head + 1; sequence <= store_->AuditHead(); ++sequence) {
    const v1::AuditRecord record = AuditRecordAt(sequence);
    EXPECT_EQ(record.actor(), "Insp Reid");
    EXPECT_EQ(record.role(), "supervisor");
    EXPECT_EQ(record.via(), "vigild");
    EXPECT_EQ(record.purpose(), "backlog test");
    EXPECT_EQ(record.rpc(), "vigil.v1.ObligationFeed/ListOverdue");
    EXPECT_EQ(record.action(), v1::AUDIT_ACTION_CONSULTATION);
    recorded.insert(record.subject_ids().begin(), record.subject_ids().end());
  }
  EXPECT_EQ(recorded, shown);
  EXPECT_EQ(store_->stats().commits - commits, in_process() ? 1u : 2u);

  // Pages of 2: every item shown is recorded on its page. Over gRPC each owner reads and
  // discloses a page of its own (4 obligations); in process only those among the merged
  // page's 2, and at least one of each owner's (its page token is the sign that more are to
  // come): at most 3.
  request.mutable_page()->set_page_size(2);
  for (int n = 0; n < 20; ++n) {
    const uint64_t before_page = store_->AuditHead();
    VIGIL_ASSERT_OK_AND_ASSIGN(page, backlog_->Items(Call(), request));
    std::multiset<std::string> on_page;
    for (uint64_t sequence = before_page + 1; sequence <= store_->AuditHead(); ++sequence) {
      const v1::AuditRecord record = AuditRecordAt(sequence);
      on_page.insert(record.subject_ids().begin(), record.subject_ids().end());
    }
    std::multiset<std::string> left = on_page;
    for (const v1::BacklogItem& item : page.items()) {
      auto it = left.find(item.obligation().subject_id());
      ASSERT_NE(it, left.end()) << item.obligation().id() << " shown, not recorded";
      left.erase(it);
    }
    if (n == 0) {
      EXPECT_EQ(on_page.size(), in_process() ? 3u : 4u);
    }
    if (in_process()) {
      EXPECT_LE(on_page.size(), 3u);
    }
    if (page.next_page_token().empty()) break;
    request.mutable_page()->set_page_token(page.next_page_token());
  }
}

// Due times a fraction of a second apart in both owners: each page continues exactly where the
// last left off, in time order (the index once counted a due time's nanoseconds twice, and its
// order then differed from the backlog's).
TEST_P(BacklogTest, DueTimesApartByLessThanASecondPageInTimeOrder) {
  const absl::Time base = absl::FromUnixSeconds(absl::ToUnixSeconds(clock_.Now()) - 24 * 3600);
  auto due = [&](const char* context, const char* id, int after_ms) {
    v1::Obligation o = Obligation(Row{context, id, kVisit, kHigh, "east", "DC 9", 0, {}});
    *o.mutable_due_time() = ToProtoTime(base + absl::Milliseconds(after_ms));
    return o;
  };
  Commit("rso", "S1", {due("rso", "S1/w", 11200), due("rso", "S1/x", 10900)});
  Commit("ocait", "S2", {due("ocait", "S2/y", 10950)});
  v1::ListBacklogItemsRequest east;
  east.set_team("east");
  EXPECT_THAT(AllItems(east, 100), ElementsAre("S1/x", "S2/y", "S1/w"));
  EXPECT_THAT(AllItems(east, 2), ElementsAre("S1/x", "S2/y", "S1/w"));
  EXPECT_THAT(AllItems(east, 1), ElementsAre("S1/x", "S2/y", "S1/w"));
}

// The daily snapshot asks the owners for each force they hold, as vigild's own principal.
TEST_P(BacklogTest, TheDailySnapshotCoversEveryForceTheOwnersHold) {
  VIGIL_ASSERT_OK_AND_ASSIGN(const int forces, backlog_->SnapshotAllForces(clock_.Now()));
  EXPECT_EQ(forces, 1);
}

// An owner's read limit and its drain hold in process as over gRPC: a caller past the limit is
// refused (RESOURCE_EXHAUSTED, audited), and an owner that stopped admitting refuses everyone.
TEST_P(BacklogTest, AnOwnersReadLimitAndDrainHoldInProcessAsOverGrpc) {
  ReadLimits limits;
  limits.records_per_second = 0.001;  // the fixture's clock stands still: no refill
  limits.burst = 3;
  ReadLimiter limiter(limits);
  RpcRuntimeOptions options;
  options.read_limiter = &limiter;
  options.audit_store = store_.get();
  RpcRuntime limited(auth_, executor_, clock_, options);
  ObligationFeedImpl feed(limited, *store_, notifier_,
                          std::map<std::string, FeedContext>{{"rso", {indexes_["rso"].get()}},
                                                             {"ocait", {indexes_["ocait"].get()}}});
  ServerOptions server;
  server.listen = "127.0.0.1:0";
  VIGIL_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<ServerHost> host,
      ServerHost::Start(server, {{v1::ObligationFeed::service_full_name(), &feed}}));
  FeedClients clients;
  clients.Add("rso", host->InProcessChannel());
  clients.Add("ocait", host->InProcessChannel());
  if (in_process()) clients.SetLocal(&feed);
  Backlog backlog(*store_, clients, *policies_, clock_, zone_);

  v1::ListBacklogItemsRequest request;
  request.mutable_page()->set_page_size(2);
  VIGIL_EXPECT_OK(backlog.Items(Call(), request).status());  // within the burst of 3
  const uint64_t head = store_->AuditHead();
  EXPECT_THAT(backlog.Items(Call(), request).status(),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("records/s")));
  ASSERT_GT(store_->AuditHead(), head);
  const v1::AuditRecord record = AuditRecordAt(head + 1);
  EXPECT_EQ(record.refusal(), v1::AUDIT_REFUSAL_RATE_LIMITED);
  EXPECT_EQ(record.actor(), "Insp Reid");

  limited.StopAdmitting();
  EXPECT_THAT(backlog.Summary(Call(Role::kSupervisor, "Insp Other"), {}).status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("shutting down")));
  host->Shutdown(absl::ZeroDuration());
}

// A caller an owner would refuse over gRPC is refused in process too, and the refusal audited.
TEST_P(BacklogTest, AnOwnerRefusesWhomItWouldRefuseOverGrpc) {
  const uint64_t head = store_->AuditHead();
  EXPECT_THAT(
      backlog_->Items(Call(Role::kAuditor, "Ms Audit"), v1::ListBacklogItemsRequest()).status(),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("ListOverdue")));
  ASSERT_GT(store_->AuditHead(), head);
  const v1::AuditRecord record = AuditRecordAt(head + 1);
  EXPECT_EQ(record.actor(), "Ms Audit");
  EXPECT_EQ(record.refusal(), v1::AUDIT_REFUSAL_ROLE);
  EXPECT_THAT(record.outcome(), HasSubstr("refused"));
}

TEST_P(BacklogTest, RefusesWhatItCannotAnswerNamingTheField) {
  // A page token it did not issue, and one issued for another query.
  v1::ListBacklogItemsRequest forged;
  forged.mutable_page()->set_page_token("not-a-token");
  EXPECT_THAT(backlog_->Items(Call(), forged).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
  v1::ListBacklogItemsRequest north;
  north.set_team("north");
  north.mutable_page()->set_page_size(2);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListBacklogItemsResponse first, backlog_->Items(Call(), north));
  ASSERT_FALSE(first.next_page_token().empty());
  v1::ListBacklogItemsRequest south;
  south.set_team("south");
  south.mutable_page()->set_page_token(first.next_page_token());
  EXPECT_THAT(backlog_->Items(Call(), south).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));

  v1::ListBacklogItemsRequest order;
  order.set_order(static_cast<v1::BacklogOrder>(99));
  EXPECT_THAT(backlog_->Items(Call(), order).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("order")));

  v1::GetBacklogSummaryRequest kind;
  kind.add_kinds(static_cast<v1::ObligationKind>(999));
  EXPECT_THAT(backlog_->Summary(Call(), kind).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("kinds")));

  v1::GetBacklogSummaryRequest ancient;
  *ancient.mutable_as_of() = ToProtoTime(vigil::testing::Day(1850, 1, 1));
  EXPECT_THAT(backlog_->Summary(Call(), ancient).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("as_of")));

  // Before the first obligation was recorded nothing is known: not an empty backlog.
  v1::GetBacklogSummaryRequest before_history;
  *before_history.mutable_as_of() = ToProtoTime(clock_.Now() - absl::Hours(24 * 365));
  EXPECT_THAT(backlog_->Summary(Call(), before_history).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("before the earliest data")));

  // An officer sees only their own.
  v1::GetBacklogSummaryRequest other;
  other.set_officer("DC 1");
  EXPECT_THAT(backlog_->Summary(Call(Role::kOfficer, "DC 2"), other).status(),
              StatusIs(absl::StatusCode::kPermissionDenied));
  v1::GetWorkloadRequest others_load;
  others_load.set_officer("DC 1");
  EXPECT_THAT(backlog_->Workload(Call(Role::kOfficer, "DC 2"), others_load).status(),
              StatusIs(absl::StatusCode::kPermissionDenied));

  v1::ListMyWorkRequest far;
  far.set_horizon_days(29);
  EXPECT_THAT(backlog_->MyWork(Call(), far).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("horizon_days")));
  EXPECT_THAT(
      backlog_->MyWork(Call(Role::kSupervisor, "Insp Reid", ""), v1::ListMyWorkRequest()).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("team")));

  v1::GetBacklogTrendRequest backwards;
  *backwards.mutable_from() = ToProtoTime(clock_.Now());
  *backwards.mutable_to() = ToProtoTime(clock_.Now() - absl::Hours(24 * 3));
  EXPECT_THAT(backlog_->Trend(Call(), backwards).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("to")));
}

}  // namespace
}  // namespace vigil::backlog
