// The point-in-time backlog: an as_of in the past answers what was open and overdue then, from
// the ledger's history of obligation versions (services/obligations/ledger.h), whatever has been
// re-timed or closed since; and the schema-3 migration gives a store's open obligations their
// history. A real store in a temporary directory, the ledger committing as RecordStore does, and
// the ObligationFeed's domain calls.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "base/proto_time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/common/auth.h"
#include "services/common/executor.h"
#include "services/common/feed_stream.h"
#include "services/obligations/ledger.h"
#include "services/obligations/obligation_feed_service.h"
#include "services/obligations/overdue_index.h"
#include "storage/store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/store_fixture.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;
using ::vigil::testing::IsOk;
using ::vigil::testing::StatusIs;

absl::Time Day(int y, int m, int d) {
  return absl::FromCivil(absl::CivilDay(y, m, d), absl::UTCTimeZone());
}

// Every force's history of the rso context (ledger.h).
constexpr absl::string_view kAllHistory = "rso/hist/";

bool Same(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

class PointInTimeTest : public vigil::testing::StoreFixture {
 protected:
  PointInTimeTest() { migrations_ = LedgerMigrations(); }

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StoreFixture::SetUp());
    clock_.Set(Day(2026, 1, 1));
    OpenFeed();
  }

  void TearDown() override { executor_.Shutdown(); }

  // Reopens the store (running the ledger's migrations) and the feed over it.
  void Open() {
    feed_.reset();
    index_.reset();
    ASSERT_NO_FATAL_FAILURE(OpenStore());
    OpenFeed();
  }

  void OpenFeed() {
    index_ = std::make_unique<OverdueIndex>(storage::DeadlineSpace::kRso);
    ASSERT_THAT(index_->Attach(*store_, "rso"), IsOk());
    runtime_ = std::make_unique<RpcRuntime>(auth_, executor_, clock_);
    feed_ = std::make_unique<ObligationFeedImpl>(
        *runtime_, *store_, notifier_,
        std::map<std::string, FeedContext>{{"rso", {index_.get(), nullptr}}});
  }

  CallContext Call() const {
    CallContext call;
    call.principal = Principal{"Insp Reid", Role::kSupervisor, "cheshire", "north"};
    call.purpose = "point-in-time test";
    call.method = "test";
    call.now = clock_.Now();
    return call;
  }

  // One record's clocks become `after` now, committed as RecordStore commits an edit.
  void Commit(const std::string& subject, std::vector<v1::Obligation> after,
              bool new_record = false) {
    google::protobuf::RepeatedPtrField<v1::Obligation> before(open_[subject].begin(),
                                                              open_[subject].end());
    google::protobuf::RepeatedPtrField<v1::Obligation> stamped(after.begin(), after.end());
    StampSince(before, stamped, clock_.Now(), new_record);
    storage::Change change;
    v1::ObligationEventBatch events;
    ledger_.Reconcile(open_[subject], {stamped.begin(), stamped.end()}, clock_.Now(), change,
                      events);
    change.AddEvent("rso", events.SerializeAsString());
    ASSERT_THAT(store_->Commit(change).status(), IsOk());
    open_[subject].assign(stamped.begin(), stamped.end());
  }

  static v1::Obligation Clock(const std::string& id, absl::Time due,
                              v1::RiskLevel risk = v1::RISK_LEVEL_MEDIUM,
                              const std::string& officer = "DC 1",
                              const std::string& policy = "v1") {
    v1::Obligation o;
    o.set_id(id);
    o.set_subject_id(id.substr(0, id.find('/')));
    o.set_kind(v1::OBLIGATION_KIND_HOME_VISIT);
    o.set_risk_level(risk);
    *o.mutable_due_time() = ToProtoTime(due);
    o.set_owner_officer(officer);
    o.set_team("north");
    o.set_force("cheshire");
    o.set_policy_version(policy);
    o.set_reason("test");
    return o;
  }

  v1::OverdueSummary Summary(absl::Time as_of) {
    v1::SummarizeOverdueRequest request;
    request.set_context("rso");
    *request.mutable_as_of() = ToProtoTime(as_of);
    absl::StatusOr<v1::OverdueSummary> summary = feed_->Summarize(Call(), request);
    EXPECT_THAT(summary.status(), IsOk());
    return summary.value_or(v1::OverdueSummary());
  }

  std::vector<v1::Obligation> Listed(absl::Time as_of, v1::BacklogOrder order) {
    std::vector<v1::Obligation> all;
    v1::ListOverdueRequest request;
    request.set_context("rso");
    *request.mutable_as_of() = ToProtoTime(as_of);
    request.set_order(order);
    request.mutable_page()->set_page_size(7);
    for (;;) {
      absl::StatusOr<v1::ListOverdueResponse> page = feed_->List(Call(), request);
      EXPECT_THAT(page.status(), IsOk());
      if (!page.ok()) break;
      all.insert(all.end(), page->obligations().begin(), page->obligations().end());
      if (page->next_page_token().empty()) break;
      request.mutable_page()->set_page_token(page->next_page_token());
    }
    return all;
  }

  v1::WorkloadResponse Workload(absl::Time as_of) {
    v1::WorkloadRequest request;
    request.set_context("rso");
    *request.mutable_as_of() = ToProtoTime(as_of);
    absl::StatusOr<v1::WorkloadResponse> workload = feed_->Workload(Call(), request);
    EXPECT_THAT(workload.status(), IsOk());
    return workload.value_or(v1::WorkloadResponse());
  }

  int64_t HistoryEntries() {
    int64_t n = 0;
    EXPECT_THAT(store_->Snapshot().ScanPrefix(storage::Family::kIndex, kAllHistory, {},
                                              [&](absl::string_view, absl::string_view) {
                                                ++n;
                                                return true;
                                              }),
                IsOk());
    return n;
  }

  std::unique_ptr<OverdueIndex> index_;
  FeedNotifier notifier_;
  DevHeaderAuthenticator auth_;
  Executor executor_{2, 100};
  std::unique_ptr<RpcRuntime> runtime_;
  std::unique_ptr<ObligationFeedImpl> feed_;
  const ObligationLedger ledger_{"rso", storage::DeadlineSpace::kRso};
  std::map<std::string, std::vector<v1::Obligation>> open_;  // by subject
};

// The issue's proof: a force's history recorded over months, half of it closed today, and the
// backlog as of last month shows the old figures exactly (summary, every page, workload), while
// as of now it shows the change.
TEST_F(PointInTimeTest, ClosedTodayStillOpenLastMonth) {
  // Sixty offenders registered through January and February, each with a visit clock and an
  // ARMS clock falling due between December and April; a third re-timed in March.
  for (int i = 0; i < 60; ++i) {
    clock_.Set(Day(2026, 1, 1) + absl::Hours(24) * i);
    const std::string subject = absl::StrCat("R", i);
    v1::Obligation visit = Clock(subject + "/visit", Day(2025, 12, 1) + absl::Hours(48) * i,
                                 static_cast<v1::RiskLevel>(1 + i % 4), absl::StrCat("DC ", i % 5));
    v1::Obligation arms = visit;
    arms.set_id(subject + "/arms");
    arms.set_kind(v1::OBLIGATION_KIND_ARMS_ASSESSMENT);
    *arms.mutable_due_time() = ToProtoTime(Day(2026, 2, 1) + absl::Hours(24) * i);
    Commit(subject, {visit, arms}, /*new_record=*/true);
  }
  for (int i = 0; i < 60; i += 3) {
    clock_.Set(Day(2026, 3, 1) + absl::Hours(i));
    std::vector<v1::Obligation> after = open_[absl::StrCat("R", i)];
    *after[0].mutable_due_time() = ToProtoTime(Day(2026, 6, 1));
    Commit(absl::StrCat("R", i), after);
  }
  clock_.Set(Day(2026, 4, 28));
  const absl::Time last_month = Day(2026, 3, 28);
  const v1::OverdueSummary then = Summary(last_month);
  EXPECT_EQ(then.view(), v1::AS_OF_VIEW_HISTORY);
  EXPECT_EQ(then.total_open(), 120);
  EXPECT_GT(then.total_overdue(), 20);
  EXPECT_LT(then.total_overdue(), 120);
  const std::vector<v1::Obligation> oldest_first =
      Listed(last_month, v1::BACKLOG_ORDER_OLDEST_FIRST);
  const std::vector<v1::Obligation> riskiest = Listed(last_month, v1::BACKLOG_ORDER_RISK_THEN_AGE);
  EXPECT_EQ(static_cast<int64_t>(oldest_first.size()), then.total_overdue());
  const v1::WorkloadResponse load_then = Workload(last_month);
  const v1::OverdueSummary now_before = Summary(clock_.Now());

  // Today: half the offenders are visited and assessed (both clocks close), a quarter of the
  // rest re-timed.
  for (int i = 0; i < 60; i += 2) Commit(absl::StrCat("R", i), {});
  for (int i = 1; i < 60; i += 4) {
    std::vector<v1::Obligation> after = open_[absl::StrCat("R", i)];
    *after[1].mutable_due_time() = ToProtoTime(Day(2027, 4, 28));
    after[1].set_risk_level(v1::RISK_LEVEL_VERY_HIGH);
    Commit(absl::StrCat("R", i), after);
  }

  const v1::OverdueSummary again = Summary(last_month);
  EXPECT_TRUE(Same(then, again)) << then.DebugString() << "\n---\n" << again.DebugString();
  EXPECT_TRUE(Same(load_then, Workload(last_month)));
  const std::vector<v1::Obligation> oldest_again =
      Listed(last_month, v1::BACKLOG_ORDER_OLDEST_FIRST);
  const std::vector<v1::Obligation> riskiest_again =
      Listed(last_month, v1::BACKLOG_ORDER_RISK_THEN_AGE);
  ASSERT_EQ(oldest_again.size(), oldest_first.size());
  ASSERT_EQ(riskiest_again.size(), riskiest.size());
  for (size_t i = 0; i < oldest_first.size(); ++i) {
    EXPECT_TRUE(Same(oldest_first[i], oldest_again[i])) << i;
    EXPECT_TRUE(Same(riskiest[i], riskiest_again[i])) << i;
  }
  // As of now the backlog is another: half the clocks are closed.
  const v1::OverdueSummary now_after = Summary(clock_.Now());
  EXPECT_EQ(now_after.view(), v1::AS_OF_VIEW_CURRENT);
  EXPECT_EQ(now_before.total_open(), 120);
  EXPECT_EQ(now_after.total_open(), 60);
  EXPECT_LT(now_after.total_overdue(), now_before.total_overdue());
  // And the history as of an instant after today's closings agrees with today's index.
  clock_.Set(Day(2026, 4, 29));
  const v1::OverdueSummary history_now = Summary(Day(2026, 4, 28) + absl::Hours(1));
  v1::SummarizeOverdueRequest current;
  current.set_context("rso");
  *current.mutable_as_of() = ToProtoTime(Day(2026, 4, 28) + absl::Hours(1));
  current.set_view(v1::AS_OF_VIEW_CURRENT);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::OverdueSummary index_now, feed_->Summarize(Call(), current));
  EXPECT_EQ(history_now.view(), v1::AS_OF_VIEW_HISTORY);
  index_now.set_view(v1::AS_OF_VIEW_HISTORY);
  EXPECT_TRUE(Same(history_now, index_now)) << history_now.DebugString() << "\n---\n"
                                            << index_now.DebugString();
}

// A clock re-timed by a regrade keeps, for any instant before the regrade, the due time, risk
// and policy version it had then: the policy that applied then.
TEST_F(PointInTimeTest, RetimeKeepsOldDueBeforeRegrade) {
  clock_.Set(Day(2026, 1, 1));
  Commit("R1", {Clock("R1/arms", Day(2026, 2, 1), v1::RISK_LEVEL_LOW, "DC 1", "v1")});
  clock_.Set(Day(2026, 3, 15));
  Commit("R1", {Clock("R1/arms", Day(2026, 3, 1), v1::RISK_LEVEL_HIGH, "DC 2", "v2")});
  clock_.Set(Day(2026, 6, 1));

  auto oldest = [&](absl::Time as_of) { return Summary(as_of).oldest(); };
  // Before it opened: nothing (and the history says where it begins).
  const v1::OverdueSummary before = Summary(Day(2025, 12, 1));
  EXPECT_EQ(before.total_open(), 0);
  EXPECT_EQ(TimeOf(before.history_begins()), Day(2026, 1, 1));
  // Open, not yet due.
  EXPECT_EQ(Summary(Day(2026, 1, 15)).total_overdue(), 0);
  EXPECT_EQ(Summary(Day(2026, 1, 15)).total_open(), 1);
  // Overdue by the first grading, up to the instant of the regrade.
  for (absl::Time t : {Day(2026, 2, 15), Day(2026, 3, 15) - absl::Microseconds(1)}) {
    const v1::Obligation o = oldest(t);
    EXPECT_EQ(TimeOf(o.due_time()), Day(2026, 2, 1));
    EXPECT_EQ(o.risk_level(), v1::RISK_LEVEL_LOW);
    EXPECT_EQ(o.owner_officer(), "DC 1");
    EXPECT_EQ(o.policy_version(), "v1");
  }
  const v1::OverdueSummary mid_march = Summary(Day(2026, 3, 10));
  ASSERT_EQ(mid_march.rows_size(), 1);
  EXPECT_EQ(mid_march.rows(0).age_band(), v1::AGE_BAND_31_90_DAYS);  // 37 days
  EXPECT_EQ(mid_march.rows(0).risk_level(), v1::RISK_LEVEL_LOW);
  // From the regrade on, the new due time, risk, officer and policy.
  for (absl::Time t : {Day(2026, 3, 15), Day(2026, 5, 1)}) {
    const v1::Obligation o = oldest(t);
    EXPECT_EQ(TimeOf(o.due_time()), Day(2026, 3, 1));
    EXPECT_EQ(o.risk_level(), v1::RISK_LEVEL_HIGH);
    EXPECT_EQ(o.owner_officer(), "DC 2");
    EXPECT_EQ(o.policy_version(), "v2");
    EXPECT_EQ(TimeOf(o.since_time()), Day(2026, 3, 15));
  }
  // The officer's workload then is DC 1's, not DC 2's.
  const v1::WorkloadResponse load = Workload(Day(2026, 2, 15));
  ASSERT_EQ(load.officers_size(), 1);
  EXPECT_EQ(load.officers(0).officer(), "DC 1");
  EXPECT_EQ(load.officers(0).overdue(), 1);
}

// The history holds ended versions only: opening a clock writes no history key, a re-time
// one (the version it ends), a close one; the version open now is read from the deadline index.
TEST_F(PointInTimeTest, OnlyEndedVersionsAreWrittenToTheHistory) {
  clock_.Set(Day(2026, 1, 1));
  Commit("R1", {Clock("R1/visit", Day(2026, 2, 1))}, /*new_record=*/true);
  EXPECT_EQ(HistoryEntries(), 0);
  clock_.Set(Day(2026, 2, 10));
  Commit("R1", {Clock("R1/visit", Day(2026, 5, 1))});
  EXPECT_EQ(HistoryEntries(), 1);
  clock_.Set(Day(2026, 3, 10));
  Commit("R1", {});
  EXPECT_EQ(HistoryEntries(), 2);
  clock_.Set(Day(2026, 6, 1));
  EXPECT_EQ(Summary(Day(2026, 2, 5)).total_overdue(), 1);
  EXPECT_EQ(TimeOf(Summary(Day(2026, 2, 20)).earliest_due()), Day(2026, 5, 1));
  EXPECT_EQ(Summary(Day(2026, 2, 20)).total_overdue(), 0);
  EXPECT_EQ(Summary(Day(2026, 4, 1)).total_open(), 0);
}

// A schema-5 store (each open version also in the history, end INT64_MAX) opened by this
// build: schema 6 deletes those entries, in several commits and again after a crash part-way,
// and every past instant reads as it did.
TEST_F(PointInTimeTest, SchemaSixDropsTheOpenIntervalsAndThePastReadsTheSame) {
  constexpr int kRecords = 2600;  // 5200 open obligations: three migration commits
  for (int i = 0; i < kRecords; ++i) {
    clock_.Set(Day(2026, 1, 1) + absl::Minutes(i));
    const std::string subject = absl::StrCat("R", i);
    v1::Obligation visit = Clock(subject + "/visit", Day(2026, 2, 1) + absl::Minutes(i));
    v1::Obligation arms = Clock(subject + "/arms", Day(2026, 3, 1) + absl::Minutes(i));
    arms.set_kind(v1::OBLIGATION_KIND_ARMS_ASSESSMENT);
    Commit(subject, {visit, arms}, /*new_record=*/true);
  }
  clock_.Set(Day(2026, 2, 15));
  for (int i = 0; i < kRecords; i += 5) {  // a fifth re-timed: one ended version each
    std::vector<v1::Obligation> after = open_[absl::StrCat("R", i)];
    *after[0].mutable_due_time() = ToProtoTime(Day(2026, 8, 1));
    Commit(absl::StrCat("R", i), after);
  }
  constexpr int64_t kEnded = kRecords / 5;
  ASSERT_EQ(HistoryEntries(), kEnded);
  clock_.Set(Day(2026, 6, 1));
  const std::vector<absl::Time> instants = {Day(2025, 12, 1), Day(2026, 1, 1) + absl::Hours(12),
                                            Day(2026, 2, 10), Day(2026, 3, 10)};
  std::vector<v1::OverdueSummary> before;
  before.reserve(instants.size());
  for (absl::Time t : instants) before.push_back(Summary(t));
  EXPECT_EQ(before[2].total_overdue(), kRecords);
  EXPECT_EQ(before[3].total_overdue(), 2 * kRecords - kEnded);

  // As schemas 3-5 also kept them.
  const std::vector<LedgerOwner> owners = {{"rso", storage::DeadlineSpace::kRso}};
  VIGIL_ASSERT_OK_AND_ASSIGN(const int64_t given, MigrateHistoryToV3(*store_, owners));
  ASSERT_EQ(given, 2 * kRecords);
  ASSERT_EQ(HistoryEntries(), kEnded + 2 * kRecords);
  for (size_t i = 0; i < instants.size(); ++i) {
    EXPECT_TRUE(Same(before[i], Summary(instants[i]))) << i;
  }
  for (int run = 0; run < 2; ++run) {
    VIGIL_ASSERT_OK_AND_ASSIGN(const int64_t dropped, DropOpenIntervals(*store_, owners));
    EXPECT_EQ(dropped, 2 * kRecords);
    EXPECT_EQ(HistoryEntries(), kEnded);
  }
  for (size_t i = 0; i < instants.size(); ++i) {
    EXPECT_TRUE(Same(before[i], Summary(instants[i]))) << i;
  }
  // The open set is still the deadline index: today's backlog is untouched.
  EXPECT_EQ(Summary(clock_.Now()).total_open(), 2 * kRecords);
}

// A clock of a record imported today with its past (start_time: the last visit) is open since
// that start; one opened later by an edit, or re-timed, begins when it was written; an unchanged
// clock keeps its since_time.
TEST_F(PointInTimeTest, ImportedClocksBeginAtTheirStartAndEditsWhenWritten) {
  clock_.Set(Day(2026, 4, 1));
  v1::Obligation visit = Clock("R1/visit", Day(2026, 3, 1));
  *visit.mutable_start_time() = ToProtoTime(Day(2025, 12, 1));
  Commit("R1", {visit}, /*new_record=*/true);
  EXPECT_EQ(TimeOf(open_["R1"][0].since_time()), Day(2025, 12, 1));
  clock_.Set(Day(2026, 4, 10));
  v1::Obligation arms = Clock("R1/arms", Day(2026, 3, 1));
  *arms.mutable_start_time() = ToProtoTime(Day(2025, 1, 1));
  v1::Obligation same_visit = visit;  // as MergeClocks keeps it, but without since_time
  Commit("R1", {same_visit, arms});
  EXPECT_EQ(TimeOf(open_["R1"][0].since_time()), Day(2025, 12, 1));
  EXPECT_EQ(TimeOf(open_["R1"][1].since_time()), Day(2026, 4, 10));
  // Mid-March: the imported visit clock was overdue; the ARMS clock did not exist.
  clock_.Set(Day(2026, 5, 1));
  const v1::OverdueSummary march = Summary(Day(2026, 3, 15));
  EXPECT_EQ(march.total_open(), 1);
  EXPECT_EQ(march.total_overdue(), 1);
  EXPECT_EQ(march.oldest().id(), "R1/visit");
  EXPECT_EQ(Summary(Day(2026, 4, 15)).total_open(), 2);
}

// A schema-2 store (obligations open, no history) opened by this build: every open obligation
// gets its open interval, in several commits, from its start_time (or from the beginning of
// time when it has none), and the past is answered at once.
TEST_F(PointInTimeTest, MigrationBackfillsOpenObligations) {
  clock_.Set(Day(2026, 1, 1));
  constexpr int kRecords = 2600;  // 5200 obligations: three migration commits
  for (int i = 0; i < kRecords; ++i) {
    v1::Obligation visit = Clock(absl::StrCat("R", i, "/visit"), Day(2026, 2, 1));
    *visit.mutable_start_time() = ToProtoTime(Day(2025, 11, 1) + absl::Minutes(i));
    v1::Obligation legacy = Clock(absl::StrCat("R", i, "/arms"), Day(2026, 3, 1));
    Commit(absl::StrCat("R", i), {visit, legacy});
  }
  // As schema 2 wrote them: no since_time, no history.
  {
    storage::Change change;
    for (auto& [subject, clocks] : open_) {
      std::vector<v1::Obligation> legacy = clocks;
      for (v1::Obligation& o : legacy) o.clear_since_time();
      v1::ObligationEventBatch ignored;
      ledger_.Reconcile(clocks, legacy, clock_.Now(), change, ignored);  // re-put values
      clocks = legacy;
    }
    ASSERT_THAT(store_->Commit(change).status(), IsOk());
    storage::Change drop;
    ASSERT_THAT(store_->Snapshot().ScanPrefix(storage::Family::kIndex, kAllHistory, {},
                                              [&](absl::string_view key, absl::string_view) {
                                                drop.Delete(storage::Family::kIndex,
                                                            std::string(key));
                                                return true;
                                              }),
                IsOk());
    ASSERT_THAT(store_->Commit(drop).status(), IsOk());
  }
  ASSERT_EQ(HistoryEntries(), 0);

  VIGIL_ASSERT_OK_AND_ASSIGN(const int64_t given,
                             MigrateHistoryToV3(*store_, {{"rso", storage::DeadlineSpace::kRso}}));
  EXPECT_EQ(given, 2 * kRecords);
  EXPECT_EQ(HistoryEntries(), 2 * kRecords);
  clock_.Set(Day(2026, 4, 1));
  // The visits are open from their start; the legacy ARMS clocks as far back as anyone asks.
  EXPECT_EQ(Summary(Day(2025, 10, 1)).total_open(), kRecords);
  EXPECT_EQ(Summary(Day(2025, 12, 15)).total_open(), 2 * kRecords);
  EXPECT_EQ(Summary(Day(2026, 2, 15)).total_overdue(), kRecords);
  // A legacy clock re-timed after the upgrade ends its interval where the migration began it.
  std::vector<v1::Obligation> after = open_["R0"];
  *after[1].mutable_due_time() = ToProtoTime(Day(2027, 1, 1));
  Commit("R0", after);
  EXPECT_EQ(HistoryEntries(), 2 * kRecords + 1);
  clock_.Set(Day(2026, 5, 1));
  EXPECT_EQ(Summary(Day(2026, 3, 15)).total_overdue(), 2 * kRecords);
  EXPECT_EQ(Summary(Day(2026, 4, 15)).total_overdue(), 2 * kRecords - 1);
}

// The migration runs again from the start after a crash part-way (Store::Open does that): the
// commits it finished are rewritten with the same keys and values, the rest are written, and
// nothing is doubled.
TEST_F(PointInTimeTest, MigrationFinishesAfterACrashPartWayWithNothingDoubled) {
  for (int i = 0; i < 4100; ++i) {
    v1::Obligation o = Clock(absl::StrCat("R", i, "/visit"), Day(2026, 2, 1) + absl::Minutes(i));
    *o.mutable_start_time() = ToProtoTime(Day(2025, 6, 1));
    Commit(absl::StrCat("R", i), {o});
  }
  // Open versions have no history entry of their own (schema 6); the schema-3 step gives them
  // one, which a later step drops again.
  ASSERT_EQ(HistoryEntries(), 0);
  VIGIL_ASSERT_OK_AND_ASSIGN(const int64_t first,
                             MigrateHistoryToV3(*store_, {{"rso", storage::DeadlineSpace::kRso}}));
  ASSERT_EQ(first, 4100);
  std::vector<std::string> keys;
  ASSERT_THAT(store_->Snapshot().ScanPrefix(storage::Family::kIndex, kAllHistory, {},
                                            [&](absl::string_view key, absl::string_view) {
                                              keys.emplace_back(key);
                                              return true;
                                            }),
              IsOk());
  ASSERT_EQ(keys.size(), 4100u);
  // The crash: only the first commit's worth of entries reached the disk.
  storage::Change lost;
  for (size_t i = 2000; i < keys.size(); ++i) lost.Delete(storage::Family::kIndex, keys[i]);
  ASSERT_THAT(store_->Commit(lost).status(), IsOk());
  ASSERT_EQ(HistoryEntries(), 2000);
  for (int run = 0; run < 2; ++run) {
    VIGIL_ASSERT_OK_AND_ASSIGN(
        const int64_t given, MigrateHistoryToV3(*store_, {{"rso", storage::DeadlineSpace::kRso}}));
    EXPECT_EQ(given, 4100);
    EXPECT_EQ(HistoryEntries(), 4100);
  }
  clock_.Set(Day(2026, 6, 1));
  EXPECT_EQ(Summary(Day(2026, 1, 1)).total_open(), 4100);
}

// An as_of within kHistoryTolerance of now is answered from today's index; a page token keeps
// the view its first page chose, even when the next page is asked for much later.
// Schema 7: the counters of open obligations per cell go (nothing read them: the backlog counts
// from memory), other counters stay, and opening a clock writes none.
TEST_F(PointInTimeTest, SchemaSevenDropsTheOpenCountersAndNoOtherCounter) {
  auto counters = [&](absl::string_view prefix) {
    std::map<std::string, int64_t> found;
    EXPECT_THAT(store_->Snapshot().ScanCounters(prefix,
                                                [&](absl::string_view name, int64_t value) {
                                                  found.emplace(name, value);
                                                  return true;
                                                }),
                IsOk());
    return found;
  };
  Commit("R1", {Clock("R1/visit", Day(2026, 2, 1))}, /*new_record=*/true);
  EXPECT_TRUE(counters("").empty());
  // As schemas 2-6 kept them, beside the referral queue's own counts.
  storage::Change change;
  for (int i = 0; i < 300; ++i) {
    change.AddToCounter(absl::StrCat(i % 2 == 0 ? "rso" : "ocait", "/open/cell-", i), 1 + i % 7);
  }
  change.AddToCounter("ocait/n/wessex/graded", 12);
  change.AddToCounter("rso/opening", 3);
  ASSERT_THAT(store_->Commit(change).status(), IsOk());
  const std::vector<LedgerOwner> owners = {{"rso", storage::DeadlineSpace::kRso},
                                           {"ocait", storage::DeadlineSpace::kOcait}};
  VIGIL_ASSERT_OK_AND_ASSIGN(const int64_t dropped, DropOpenCounters(*store_, owners));
  EXPECT_EQ(dropped, 300);
  VIGIL_ASSERT_OK_AND_ASSIGN(const int64_t again, DropOpenCounters(*store_, owners));
  EXPECT_EQ(again, 0);
  EXPECT_EQ(counters(""),
            (std::map<std::string, int64_t>{{"ocait/n/wessex/graded", 12}, {"rso/opening", 3}}));
  EXPECT_EQ(Summary(clock_.Now()).total_open(), 1);
}

TEST_F(PointInTimeTest, SchemaFiveDropsTheDueIndexesByTeamAndOfficerAndNothingElse) {
  // Schema 2-4's keys, more than two migration commits' worth, beside keys that must stay.
  constexpr int kRetired = 9001;
  storage::Change change;
  for (int i = 0; i < kRetired; ++i) {
    change.Put(
        storage::Family::kIndex,
        absl::StrCat(i % 2 == 0 ? "rso/due/t/" : "rso/due/o/", absl::Dec(i, absl::kZeroPad6)), "");
  }
  for (int i = 0; i < 10; ++i) {
    change.Put(storage::Family::kIndex, absl::StrCat("ocait/due/o/", i), "");
  }
  const std::vector<std::string> kept = {"rso/due/s",  "rso/due/u",   "rso/due/",
                                         "rso/hist/x", "ocait/due/p", "due/t/schema-1"};
  for (const std::string& key : kept) change.Put(storage::Family::kIndex, key, "kept");
  ASSERT_THAT(store_->Commit(change).status(), IsOk());
  const std::vector<LedgerOwner> owners = {{"rso", storage::DeadlineSpace::kRso},
                                           {"ocait", storage::DeadlineSpace::kOcait}};
  VIGIL_ASSERT_OK_AND_ASSIGN(const int64_t dropped, DropDueIndexes(*store_, owners));
  EXPECT_EQ(dropped, kRetired + 10);
  const storage::ReadView view = store_->Snapshot();
  for (const char* prefix : {"rso/due/t/", "rso/due/o/", "ocait/due/t/", "ocait/due/o/"}) {
    int left = 0;
    ASSERT_THAT(view.ScanPrefix(storage::Family::kIndex, prefix, {},
                                [&](absl::string_view, absl::string_view) {
                                  ++left;
                                  return true;
                                }),
                IsOk());
    EXPECT_EQ(left, 0) << prefix;
  }
  for (const std::string& key : kept) {
    EXPECT_EQ(view.Get(storage::Family::kIndex, key).value_or(std::nullopt), "kept") << key;
  }
  // Idempotent: a second run (after a crash part-way, say) finds nothing more.
  EXPECT_EQ(DropDueIndexes(*store_, owners).value_or(-1), 0);
}

TEST_F(PointInTimeTest, PageTokenKeepsTheViewItsFirstPageChose) {
  clock_.Set(Day(2026, 1, 1));
  for (int i = 0; i < 5; ++i) {
    Commit(absl::StrCat("R", i), {Clock(absl::StrCat("R", i, "/visit"), Day(2025, 12, 1))});
  }
  clock_.Set(Day(2026, 2, 1));
  v1::ListOverdueRequest request;
  request.set_context("rso");
  *request.mutable_as_of() = ToProtoTime(clock_.Now() - absl::Minutes(4));
  request.mutable_page()->set_page_size(2);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListOverdueResponse first, feed_->List(Call(), request));
  EXPECT_EQ(first.view(), v1::AS_OF_VIEW_CURRENT);
  clock_.Set(Day(2026, 2, 1) + absl::Hours(1));
  request.mutable_page()->set_page_token(first.next_page_token());
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListOverdueResponse second, feed_->List(Call(), request));
  EXPECT_EQ(second.view(), v1::AS_OF_VIEW_CURRENT);
  // Asked afresh now, the same as_of is history.
  request.mutable_page()->clear_page_token();
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListOverdueResponse fresh, feed_->List(Call(), request));
  EXPECT_EQ(fresh.view(), v1::AS_OF_VIEW_HISTORY);
  EXPECT_EQ(fresh.obligations_size(), 2);
  // A future as_of (a work list's horizon) is always today's index.
  *request.mutable_as_of() = ToProtoTime(clock_.Now() + absl::Hours(24 * 7));
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListOverdueResponse ahead, feed_->List(Call(), request));
  EXPECT_EQ(ahead.view(), v1::AS_OF_VIEW_CURRENT);
}

// A caller merging owners passes `after` back; a risk rank no entry can have (a forged or
// corrupt cursor) is refused, naming the field, rather than listing every rank again.
TEST_F(PointInTimeTest, AnAfterCursorWithARankNoEntryHasIsRefused) {
  clock_.Set(Day(2026, 1, 1));
  for (int i = 0; i < 3; ++i) {
    Commit(absl::StrCat("R", i), {Clock(absl::StrCat("R", i, "/visit"), Day(2025, 12, 1))});
  }
  v1::ListOverdueRequest request;
  request.set_context("rso");
  request.set_order(v1::BACKLOG_ORDER_RISK_THEN_AGE);
  request.mutable_after()->set_obligation_id("R0/visit");
  *request.mutable_after()->mutable_due_time() = ToProtoTime(Day(2025, 12, 1));
  for (int rank : {-1, 5, 1 << 30}) {
    request.mutable_after()->set_risk_rank(rank);
    EXPECT_THAT(feed_->List(Call(), request).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("after.risk_rank")))
        << rank;
  }
  request.mutable_after()->set_risk_rank(4);
  VIGIL_EXPECT_OK(feed_->List(Call(), request).status());
}

}  // namespace
}  // namespace vigil
