// Risk management plan history over a real store (#17): every plan kept and versioned, the
// current plan the one reviewed latest, an imported last review and later plans agreeing, and
// a supervisor's sign-off as a duty with its own clock.
#include "base/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/policy/calendar.h"
#include "services/policy/policy.h"
#include "services/policy/policy_registry.h"
#include "services/rso/assessments.h"
#include "services/rso/offender_store.h"
#include "services/rso/register.h"
#include "storage/store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/store_fixture.h"

namespace vigil::rso {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::vigil::testing::Day;
using ::vigil::testing::IsOk;
using ::vigil::testing::StatusIs;

class RmpHistoryTest : public vigil::testing::StoreFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StoreFixture::SetUp());
    offenders_ = std::make_unique<OffenderStore>(*store_, *policies_, zone_);
    register_ = std::make_unique<Register>(*offenders_);
    assessments_ = std::make_unique<Assessments>(*offenders_);
  }

  CallContext Call(Role role = Role::kOfficer, const std::string& actor = "DC 4512") const {
    CallContext call;
    call.principal = Principal{actor, role, "wessex", "north"};
    call.purpose = "rmp history";
    call.method = "test";
    call.now = clock_.Now();
    return call;
  }
  CallContext Sergeant() const { return Call(Role::kSupervisor, "DS Holt"); }

  // An offender imported from a register export: registered 2020-01-10, a medium-risk ARMS on
  // 2026-01-05 and, when given, the last RMP review the export knew of.
  void Import(const std::string& id, std::optional<absl::Time> last_review) {
    v1::ImportOffendersRequest request;
    v1::OffenderImportRow& row = *request.add_rows();
    row.set_line(2);
    v1::Offender& o = *row.mutable_offender();
    o.set_id(id);
    o.set_visor_ref("VR/" + id);
    o.set_display_name("Name " + id);
    *o.mutable_registered_time() = ToProtoTime(Day(2020, 1, 10));
    o.set_owner_officer("DC 4512");
    o.set_team("north");
    *row.mutable_last_arms_time() = ToProtoTime(Day(2026, 1, 5));
    row.set_last_arms_risk_level(v1::RISK_LEVEL_MEDIUM);
    if (last_review.has_value()) *row.mutable_last_rmp_review_time() = ToProtoTime(*last_review);
    absl::StatusOr<v1::ImportOffendersResponse> imported = register_->Import(Call(), request);
    ASSERT_THAT(imported.status(), IsOk());
    ASSERT_EQ(imported->imported(), 1) << imported->DebugString();
  }

  absl::StatusOr<v1::RiskManagementPlan> Rmp(const std::string& id, absl::Time reviewed,
                                             int interval = 0, const std::string& request_id = "") {
    v1::RecordRiskManagementPlanRequest request;
    request.set_offender_id(id);
    *request.mutable_reviewed_time() = ToProtoTime(reviewed);
    request.set_author("DC 4512");
    request.set_visit_interval_days(interval);
    if (interval != 0) request.set_reason("set by the MAPPA meeting");
    request.set_request_id(request_id);
    return assessments_->RecordRmp(Call(), request);
  }

  absl::StatusOr<v1::RiskManagementPlan> Current(const std::string& id) {
    v1::GetRiskManagementPlanRequest request;
    request.set_offender_id(id);
    return assessments_->GetRmp(Call(), request);
  }

  absl::StatusOr<v1::ListRiskManagementPlansResponse> History(const std::string& id,
                                                              int page_size = 0,
                                                              const std::string& token = "") {
    v1::ListRiskManagementPlansRequest request;
    request.set_offender_id(id);
    request.mutable_page()->set_page_size(page_size);
    request.mutable_page()->set_page_token(token);
    return assessments_->ListRmps(Call(), request);
  }

  absl::StatusOr<v1::RiskManagementPlan> SignOff(const CallContext& call, const std::string& id,
                                                 const std::string& plan_id = "",
                                                 const std::string& request_id = "") {
    v1::SignOffRiskManagementPlanRequest request;
    request.set_offender_id(id);
    request.set_plan_id(plan_id);
    request.set_note("agreed at supervision");
    request.set_request_id(request_id);
    return assessments_->SignOffRmp(call, request);
  }

  v1::Offender Offender(const std::string& id) {
    v1::GetOffenderRequest request;
    request.set_id(id);
    absl::StatusOr<v1::Offender> o = register_->Get(Call(), request);
    EXPECT_THAT(o.status(), IsOk());
    return o.ok() ? *o : v1::Offender();
  }

  static const v1::Obligation* ClockOf(const v1::Offender& o, absl::string_view suffix) {
    for (const v1::Obligation& ob : o.obligations()) {
      if (ob.id() == absl::StrCat(o.id(), "/", suffix)) return &ob;
    }
    return nullptr;
  }

  int64_t SignOffCounter() {
    return OpenInCell(storage::DeadlineSpace::kRso, "wessex", "north", "DC 4512",
                      v1::OBLIGATION_KIND_RMP_SIGN_OFF, v1::RISK_LEVEL_MEDIUM);
  }

  static std::vector<std::string> Ids(const v1::ListRiskManagementPlansResponse& page) {
    std::vector<std::string> ids;
    for (const v1::RiskManagementPlan& p : page.plans()) ids.push_back(p.id());
    return ids;
  }

  std::unique_ptr<OffenderStore> offenders_;
  std::unique_ptr<Register> register_;
  std::unique_ptr<Assessments> assessments_;
};

TEST_F(RmpHistoryTest, PlanOlderThanTheImportedLastReviewIsKeptAndIsTheCurrentPlan) {
  // The export knew of a review on 2026-03-01; the plan recorded now was reviewed earlier.
  Import("R1", Day(2026, 3, 1));
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::RiskManagementPlan plan, Rmp("R1", Day(2026, 2, 1), 60));
  EXPECT_TRUE(plan.current());
  EXPECT_EQ(plan.version(), 1);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::RiskManagementPlan current, Current("R1"));
  EXPECT_EQ(current.id(), plan.id());
  EXPECT_TRUE(current.current());
  // The plan's visit requirements are the best known: they apply.
  const v1::Offender o = Offender("R1");
  EXPECT_EQ(o.visit_requirements().plan_id(), plan.id());
  EXPECT_EQ(o.visit_interval_days(), 60);
}

TEST_F(RmpHistoryTest, RmpReviewClockFollowsTheLaterOfTheImportedReviewAndTheLatestPlan) {
  Import("R1", Day(2026, 3, 1));
  const v1::Offender imported = Offender("R1");
  const v1::Obligation* before = ClockOf(imported, "rmp-review");
  ASSERT_NE(before, nullptr);
  const google::protobuf::Timestamp imported_due = before->due_time();
  // Medium risk: 365 days after the imported review of 2026-03-01.
  EXPECT_EQ(TimeOf(imported_due), LocalEndOf(2027, 3, 1));

  ASSERT_THAT(Rmp("R1", Day(2026, 2, 1)).status(), IsOk());  // older: the clock stays
  v1::Offender o = Offender("R1");
  EXPECT_EQ(TimeOf(o.last_rmp_review_time()), Day(2026, 3, 1));
  EXPECT_EQ(TimeOf(ClockOf(o, "rmp-review")->due_time()), LocalEndOf(2027, 3, 1));

  ASSERT_THAT(Rmp("R1", Day(2026, 4, 10)).status(), IsOk());  // later: the clock follows it
  o = Offender("R1");
  EXPECT_EQ(TimeOf(o.last_rmp_review_time()), Day(2026, 4, 10));
  EXPECT_EQ(TimeOf(ClockOf(o, "rmp-review")->due_time()), LocalEndOf(2027, 4, 10));
}

TEST_F(RmpHistoryTest, EveryPlanIsKeptVersionedNewestFirstWithWhoAndWhen) {
  Import("R1", std::nullopt);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::RiskManagementPlan first, Rmp("R1", Day(2026, 2, 1)));
  clock_.Advance(absl::Hours(1));
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::RiskManagementPlan second, Rmp("R1", Day(2026, 6, 1)));
  clock_.Advance(absl::Hours(1));
  // Recorded last, reviewed in between: history only.
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::RiskManagementPlan late, Rmp("R1", Day(2026, 4, 1)));
  EXPECT_EQ(first.version(), 1);
  EXPECT_EQ(second.version(), 2);
  EXPECT_EQ(late.version(), 3);
  EXPECT_TRUE(second.current());
  EXPECT_FALSE(late.current());

  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListRiskManagementPlansResponse history, History("R1"));
  EXPECT_THAT(Ids(history), ElementsAre(second.id(), late.id(), first.id()));
  EXPECT_TRUE(history.plans(0).current());
  EXPECT_FALSE(history.plans(1).current());
  EXPECT_FALSE(history.plans(2).current());
  EXPECT_EQ(history.plans(1).recorded_by(), "DC 4512");
  EXPECT_EQ(TimeOf(history.plans(1).record_time()), Day(2026, 11, 23, 14));
  EXPECT_THAT(history.next_page_token(), IsEmpty());
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::RiskManagementPlan current, Current("R1"));
  EXPECT_EQ(current.id(), second.id());
}

TEST_F(RmpHistoryTest, TwoPlansReviewedAtOnceTheOneRecordedLaterIsCurrent) {
  Import("R1", std::nullopt);
  ASSERT_THAT(Rmp("R1", Day(2026, 6, 1)).status(), IsOk());
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::RiskManagementPlan again, Rmp("R1", Day(2026, 6, 1), 30));
  EXPECT_TRUE(again.current());
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::RiskManagementPlan current, Current("R1"));
  EXPECT_EQ(current.id(), again.id());
}

TEST_F(RmpHistoryTest, HistoryIsPagedNewestFirstAndATokenBelongsToItsOffender) {
  Import("R1", std::nullopt);
  Import("R2", std::nullopt);
  std::vector<std::string> recorded;
  for (int month = 1; month <= 5; ++month) {
    VIGIL_ASSERT_OK_AND_ASSIGN(v1::RiskManagementPlan p, Rmp("R1", Day(2026, month, 3)));
    recorded.insert(recorded.begin(), p.id());
  }
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListRiskManagementPlansResponse page, History("R1", 2, token));
    for (const v1::RiskManagementPlan& p : page.plans()) seen.push_back(p.id());
    token = page.next_page_token();
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(seen, recorded);
  EXPECT_EQ(pages, 3);

  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListRiskManagementPlansResponse first, History("R1", 2));
  EXPECT_THAT(History("R2", 2, first.next_page_token()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
  EXPECT_THAT(History("R1", -1).status(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(RmpHistoryTest, NoPlanIsNotFoundAndAnEmptyHistory) {
  Import("R1", Day(2026, 3, 1));
  EXPECT_THAT(Current("R1").status(), StatusIs(absl::StatusCode::kNotFound));
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListRiskManagementPlansResponse history, History("R1"));
  EXPECT_THAT(history.plans(), IsEmpty());
  EXPECT_THAT(History("NOPE").status(), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(RmpHistoryTest, PlanReviewedBeforeRegistrationIsRefusedNamingTheFieldAndWritesNothing) {
  Import("R1", std::nullopt);
  const int64_t revision = Offender("R1").revision();
  EXPECT_THAT(Rmp("R1", Day(2019, 12, 1)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reviewed_time")));
  EXPECT_EQ(Offender("R1").revision(), revision);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListRiskManagementPlansResponse history, History("R1"));
  EXPECT_THAT(history.plans(), IsEmpty());
}

TEST_F(RmpHistoryTest, PlanReviewedInTheFutureIsRefusedNamingTheFieldAndWritesNothing) {
  Import("R1", std::nullopt);
  const int64_t revision = Offender("R1").revision();
  EXPECT_THAT(Rmp("R1", clock_.Now() + absl::Hours(48)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reviewed_time")));
  EXPECT_EQ(Offender("R1").revision(), revision);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListRiskManagementPlansResponse history, History("R1"));
  EXPECT_THAT(history.plans(), IsEmpty());
}

TEST_F(RmpHistoryTest, RetriedRecordWithTheSameRequestIdAddsNoVersion) {
  Import("R1", std::nullopt);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::RiskManagementPlan first, Rmp("R1", Day(2026, 6, 1), 0, "r-1"));
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::RiskManagementPlan again, Rmp("R1", Day(2026, 6, 1), 0, "r-1"));
  EXPECT_EQ(again.id(), first.id());
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListRiskManagementPlansResponse history, History("R1"));
  EXPECT_EQ(history.plans_size(), 1);
}

TEST_F(RmpHistoryTest, RmpSignOffIsADutyDue7DaysAfterTheCurrentPlanIsRecorded) {
  Import("R1", std::nullopt);
  EXPECT_EQ(ClockOf(Offender("R1"), "rmp-sign-off"), nullptr);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::RiskManagementPlan plan, Rmp("R1", Day(2026, 6, 1)));
  const v1::Offender o = Offender("R1");
  const v1::Obligation* sign_off = ClockOf(o, "rmp-sign-off");
  ASSERT_NE(sign_off, nullptr);
  EXPECT_EQ(sign_off->kind(), v1::OBLIGATION_KIND_RMP_SIGN_OFF);
  // Recorded on 2026-11-23 (not reviewed on 2026-06-01): due by the end of 2026-11-30.
  EXPECT_EQ(TimeOf(sign_off->due_time()), LocalEndOf(2026, 11, 30));
  EXPECT_THAT(sign_off->reason(), HasSubstr(plan.id()));
  EXPECT_EQ(TimeOf(o.rmp_sign_off_pending_since()), clock_.Now());
  EXPECT_EQ(SignOffCounter(), 1);
}

TEST_F(RmpHistoryTest, SergeantSigningOffRecordsWhoAndWhenAndMeetsTheClock) {
  Import("R1", std::nullopt);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::RiskManagementPlan plan, Rmp("R1", Day(2026, 6, 1)));
  clock_.Advance(absl::Hours(30));
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::RiskManagementPlan signed_off, SignOff(Sergeant(), "R1"));
  EXPECT_EQ(signed_off.id(), plan.id());
  EXPECT_EQ(signed_off.signed_off_by(), "DS Holt");
  EXPECT_EQ(TimeOf(signed_off.signed_off_time()), clock_.Now());
  EXPECT_EQ(signed_off.sign_off_note(), "agreed at supervision");
  EXPECT_TRUE(signed_off.current());

  const v1::Offender o = Offender("R1");
  EXPECT_EQ(ClockOf(o, "rmp-sign-off"), nullptr);
  EXPECT_FALSE(o.has_rmp_sign_off_pending_since());
  EXPECT_EQ(SignOffCounter(), 0);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::RiskManagementPlan current, Current("R1"));
  EXPECT_EQ(current.signed_off_by(), "DS Holt");
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListRiskManagementPlansResponse history, History("R1"));
  EXPECT_EQ(history.plans(0).signed_off_by(), "DS Holt");
}

TEST_F(RmpHistoryTest, SignOffBelowSergeantIsPermissionDeniedNamingTheRankAndWritesNothing) {
  Import("R1", std::nullopt);
  ASSERT_THAT(Rmp("R1", Day(2026, 6, 1)).status(), IsOk());
  const int64_t revision = Offender("R1").revision();
  CallContext constable = Call(Role::kSupervisor, "DC 9");
  constable.principal.rank = Rank::kOfficer;
  EXPECT_THAT(SignOff(constable, "R1").status(),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("sergeant")));
  EXPECT_EQ(Offender("R1").revision(), revision);
  EXPECT_NE(ClockOf(Offender("R1"), "rmp-sign-off"), nullptr);
}

TEST_F(RmpHistoryTest, SigningOffTwiceIsAFailedPreconditionButARetryReturnsTheFirst) {
  Import("R1", std::nullopt);
  ASSERT_THAT(Rmp("R1", Day(2026, 6, 1)).status(), IsOk());
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::RiskManagementPlan first, SignOff(Sergeant(), "R1", "", "s-1"));
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::RiskManagementPlan retry, SignOff(Sergeant(), "R1", "", "s-1"));
  EXPECT_EQ(retry.signed_off_time().seconds(), first.signed_off_time().seconds());
  EXPECT_THAT(SignOff(Sergeant(), "R1").status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already signed off")));
}

TEST_F(RmpHistoryTest, SigningOffAnOlderVersionKeepsTheCurrentPlansClock) {
  Import("R1", std::nullopt);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::RiskManagementPlan older, Rmp("R1", Day(2026, 2, 1)));
  ASSERT_THAT(Rmp("R1", Day(2026, 6, 1)).status(), IsOk());
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::RiskManagementPlan signed_off,
                             SignOff(Sergeant(), "R1", older.id()));
  EXPECT_FALSE(signed_off.current());
  EXPECT_EQ(signed_off.signed_off_by(), "DS Holt");
  EXPECT_NE(ClockOf(Offender("R1"), "rmp-sign-off"), nullptr);
  EXPECT_THAT(SignOff(Sergeant(), "R1", "P-unknown").status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("plan_id")));
}

TEST_F(RmpHistoryTest, SigningOffWithoutAPlanIsAFailedPrecondition) {
  Import("R1", std::nullopt);
  EXPECT_THAT(SignOff(Sergeant(), "R1").status(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                           HasSubstr("no risk management plan")));
}

TEST_F(RmpHistoryTest, ANewCurrentPlanReopensTheSignOffClockFromItsRecording) {
  Import("R1", std::nullopt);
  ASSERT_THAT(Rmp("R1", Day(2026, 6, 1)).status(), IsOk());
  ASSERT_THAT(SignOff(Sergeant(), "R1").status(), IsOk());
  clock_.Advance(absl::Hours(24 * 3));
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::RiskManagementPlan next, Rmp("R1", Day(2026, 11, 20)));
  const v1::Offender o = Offender("R1");
  const v1::Obligation* sign_off = ClockOf(o, "rmp-sign-off");
  ASSERT_NE(sign_off, nullptr);
  EXPECT_EQ(TimeOf(sign_off->due_time()), LocalEndOf(2026, 12, 3));
  EXPECT_THAT(sign_off->reason(), HasSubstr(next.id()));
}

}  // namespace
}  // namespace vigil::rso
