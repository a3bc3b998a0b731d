// The OCAIT referral queue over a real store: lifecycle, clocks, regrades, deconfliction,
// counts, imports. (Links to the offender register are tested end to end against vigild.)
#include <memory>
#include <thread>
#include <tuple>

#include "absl/synchronization/notification.h"
#include "base/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/executor.h"
#include "services/ocait/queue.h"
#include "services/policy/calendar.h"
#include "services/policy/policy.h"
#include "services/policy/policy_registry.h"
#include "storage/store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/store_fixture.h"

namespace vigil::ocait {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::vigil::testing::Day;
using ::vigil::testing::IsOk;
using ::vigil::testing::StatusIs;

class ReferralQueueTest : public vigil::testing::StoreFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StoreFixture::SetUp());
    queue_ = std::make_unique<Queue>(*store_, *policies_, zone_, nullptr, nullptr);
  }

  CallContext Call() const {
    CallContext call;
    call.principal = Principal{"DC 9", Role::kOfficer, "wessex", "ocait"};
    call.purpose = "ocait";
    call.method = "test";
    call.now = clock_.Now();
    return call;
  }

  absl::StatusOr<v1::Referral> Create(
      absl::Time received, const std::vector<std::pair<v1::IdentifierType, std::string>>& ids = {},
      const std::string& id = "") {
    v1::CreateReferralRequest request;
    v1::Referral* r = request.mutable_referral();
    r->set_id(id);
    r->set_source(v1::REFERRAL_SOURCE_NCA_CEOP);
    *r->mutable_received_time() = ToProtoTime(received);
    r->set_subject_display_name("Subject");
    for (const auto& [type, value] : ids) {
      v1::SubjectIdentifier* i = r->add_identifiers();
      i->set_type(type);
      i->set_value(value);
    }
    return queue_->Create(Call(), request);
  }

  absl::StatusOr<v1::Referral> Triage(const std::string& id, v1::RiskLevel grade) {
    v1::TriageReferralRequest request;
    request.set_id(id);
    request.set_grade(grade);
    return queue_->Triage(Call(), request);
  }

  // A refresh at `when` that records every check as done.
  static v1::RecordIntelRefreshRequest Refresh(const std::string& id, absl::Time when) {
    v1::RecordIntelRefreshRequest refresh;
    refresh.set_id(id);
    *refresh.mutable_refreshed_time() = ToProtoTime(when);
    for (v1::IntelCheck* check : {refresh.mutable_checks()->mutable_csc_record(),
                                  refresh.mutable_checks()->mutable_household_children_record(),
                                  refresh.mutable_checks()->mutable_regulated_activity_record(),
                                  refresh.mutable_checks()->mutable_police_systems_record()}) {
      check->set_status(v1::INTEL_CHECK_STATUS_DONE);
      check->set_outcome("nothing new");
    }
    return refresh;
  }

  static const v1::Obligation* Find(const v1::Referral& r, absl::string_view suffix) {
    for (const v1::Obligation& o : r.obligations()) {
      if (o.id() == absl::StrCat(r.id(), "/", suffix)) return &o;
    }
    return nullptr;
  }

  int64_t Counter(v1::ObligationKind kind, v1::RiskLevel risk,
                  const std::string& officer = "(unallocated)") {
    return OpenInCell(storage::DeadlineSpace::kOcait, "wessex", "ocait", officer, kind, risk);
  }

  std::unique_ptr<Queue> queue_;
};

TEST_F(ReferralQueueTest, UngradedReferralIsDueForTriageNextDay) {
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Referral r, Create(Day(2026, 11, 20)));
  EXPECT_EQ(r.state(), v1::REFERRAL_STATE_RECEIVED);
  ASSERT_EQ(r.obligations_size(), 1);
  EXPECT_EQ(r.obligations(0).reason(),
            "not graded: triage within 1 day of receipt on 2026-11-20 (policy v1)");
  EXPECT_EQ(*FromProtoTime(r.obligations(0).due_time(), ""), LocalEndOf(2026, 11, 21));
  EXPECT_EQ(Counter(v1::OBLIGATION_KIND_REFERRAL_ACTION, v1::RISK_LEVEL_UNSPECIFIED), 1);
}

TEST_F(ReferralQueueTest, HighGradeReceived30DaysAgoIsOverdueForActionAndRefresh) {
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Referral r, Create(clock_.Now() - absl::Hours(24 * 30)));
  clock_.Advance(absl::Minutes(1));
  VIGIL_ASSERT_OK_AND_ASSIGN(r, Triage(r.id(), v1::RISK_LEVEL_HIGH));
  EXPECT_EQ(r.state(), v1::REFERRAL_STATE_AWAITING_ALLOCATION);
  const v1::Obligation* action = Find(r, "action");
  ASSERT_NE(action, nullptr);
  EXPECT_LT(*FromProtoTime(action->due_time(), ""), clock_.Now());
  EXPECT_EQ(action->reason(),
            "high grade: action within 7 days of receipt on 2026-10-24 (policy v1)");
  const v1::Obligation* refresh = Find(r, "intel-refresh");
  ASSERT_NE(refresh, nullptr);
  EXPECT_EQ(
      refresh->reason(),
      "high grade: refresh intelligence within 7 days of the triage on 2026-11-23 (policy v1)");
  const v1::Obligation* csc = Find(r, "csc-check");
  ASSERT_NE(csc, nullptr);
  EXPECT_THAT(csc->reason(), HasSubstr("check with children's social care within 1 day of triage"));
  EXPECT_EQ(Find(r, "triage"), nullptr);
  EXPECT_EQ(Counter(v1::OBLIGATION_KIND_REFERRAL_ACTION, v1::RISK_LEVEL_UNSPECIFIED), 0);
  EXPECT_EQ(Counter(v1::OBLIGATION_KIND_REFERRAL_ACTION, v1::RISK_LEVEL_HIGH), 1);
}

TEST_F(ReferralQueueTest, RefreshFindingChildrenAccessRegradesAndEscalatesWithoutGivingMoreTime) {
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Referral r, Create(Day(2026, 10, 1)));
  VIGIL_ASSERT_OK_AND_ASSIGN(r, Triage(r.id(), v1::RISK_LEVEL_MEDIUM));
  v1::RecordIntelRefreshRequest refresh = Refresh(r.id(), Day(2026, 11, 22));
  refresh.set_children_access_found(true);
  refresh.set_new_grade(v1::RISK_LEVEL_VERY_HIGH);
  refresh.set_findings("partner's two children now live at the address");
  VIGIL_ASSERT_OK_AND_ASSIGN(r, queue_->RecordIntelRefresh(Call(), refresh));
  EXPECT_EQ(r.grade(), v1::RISK_LEVEL_VERY_HIGH);
  EXPECT_TRUE(r.children_access());
  EXPECT_TRUE(r.immediate_escalation());
  // Medium from receipt on 2026-10-01 was due by 2026-10-15: the regrade cannot postpone it to
  // the end of 2026-11-23.
  const v1::Obligation* action = Find(r, "action");
  ASSERT_NE(action, nullptr);
  EXPECT_EQ(action->reason(),
            "regraded medium → very high on 2026-11-22: action by 2026-10-15, the earlier of "
            "2026-10-15 (medium grade: action within 14 days of receipt on 2026-10-01) and "
            "2026-11-23 (very high grade: within 1 day of the regrade) (policy v1)");
  EXPECT_EQ(*FromProtoTime(action->due_time(), ""), LocalEndOf(2026, 10, 15));
  EXPECT_THAT(Find(r, "intel-refresh")->reason(),
              HasSubstr("within 3 days of the last refresh on 2026-11-22"));
  ASSERT_EQ(r.refreshes_size(), 1);
  EXPECT_EQ(r.refreshes(0).grade_before(), v1::RISK_LEVEL_MEDIUM);

  // Lowering the grade needs a reason.
  refresh.set_new_grade(v1::RISK_LEVEL_LOW);
  refresh.set_children_access_found(false);
  EXPECT_THAT(queue_->RecordIntelRefresh(Call(), refresh),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("regrade_reason")));
}

TEST_F(ReferralQueueTest, UpwardRegradeBringsTheActionForwardWhenTheNewTargetEndsFirst) {
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Referral r, Create(Day(2026, 11, 7)));
  VIGIL_ASSERT_OK_AND_ASSIGN(r, Triage(r.id(), v1::RISK_LEVEL_LOW));
  EXPECT_EQ(TimeOf(Find(r, "action")->due_time()), LocalEndOf(2026, 12, 7));
  v1::RecordIntelRefreshRequest refresh = Refresh(r.id(), Day(2026, 11, 20));
  refresh.set_new_grade(v1::RISK_LEVEL_HIGH);
  VIGIL_ASSERT_OK_AND_ASSIGN(r, queue_->RecordIntelRefresh(Call(), refresh));
  EXPECT_EQ(TimeOf(Find(r, "action")->due_time()), LocalEndOf(2026, 11, 27));
  EXPECT_EQ(Counter(v1::OBLIGATION_KIND_REFERRAL_ACTION, v1::RISK_LEVEL_HIGH), 1);
  EXPECT_EQ(Counter(v1::OBLIGATION_KIND_REFERRAL_ACTION, v1::RISK_LEVEL_LOW), 0);
}

TEST_F(ReferralQueueTest, DownwardRegradeKeepsTheDueTimeUnlessASupervisorExtendsIt) {
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Referral r, Create(Day(2026, 11, 1)));
  VIGIL_ASSERT_OK_AND_ASSIGN(r, Triage(r.id(), v1::RISK_LEVEL_HIGH));
  v1::RecordIntelRefreshRequest refresh = Refresh(r.id(), Day(2026, 11, 5));
  refresh.set_new_grade(v1::RISK_LEVEL_MEDIUM);
  refresh.set_regrade_reason("no children at the address; employer confirms no contact");
  VIGIL_ASSERT_OK_AND_ASSIGN(r, queue_->RecordIntelRefresh(Call(), refresh));
  EXPECT_EQ(r.grade(), v1::RISK_LEVEL_MEDIUM);
  EXPECT_EQ(TimeOf(Find(r, "action")->due_time()), LocalEndOf(2026, 11, 8));
  EXPECT_THAT(Find(r, "action")->reason(),
              HasSubstr("a lower grade gives no more time without a supervisor's extension"));

  // An officer may not extend; nothing is written.
  refresh.set_new_grade(v1::RISK_LEVEL_LOW);
  refresh.set_extension_reason("DS agrees: low risk, action in 30 days of receipt");
  EXPECT_THAT(queue_->RecordIntelRefresh(Call(), refresh),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("extension_reason")));
  v1::GetReferralRequest get;
  get.set_id(r.id());
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Referral unchanged, queue_->Get(Call(), get));
  EXPECT_EQ(unchanged.refreshes_size(), 1);

  // A supervisor may: low runs from receipt, 2026-11-01 + 30 days.
  CallContext supervisor = Call();
  supervisor.principal.role = Role::kSupervisor;
  VIGIL_ASSERT_OK_AND_ASSIGN(r, queue_->RecordIntelRefresh(supervisor, refresh));
  EXPECT_EQ(TimeOf(Find(r, "action")->due_time()), LocalEndOf(2026, 12, 1));
  EXPECT_THAT(Find(r, "action")->reason(),
              HasSubstr("regraded medium → low on 2026-11-05, extended by a supervisor"));
  EXPECT_EQ(r.refreshes(1).extension_reason(), "DS agrees: low risk, action in 30 days of receipt");

  // An extension goes only with a lower grade.
  refresh.set_new_grade(v1::RISK_LEVEL_HIGH);
  EXPECT_THAT(queue_->RecordIntelRefresh(supervisor, refresh),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("extension_reason")));
}

TEST_F(ReferralQueueTest, RefreshMustRecordEveryCheckAndOtherwiseWritesNothing) {
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Referral r, Create(Day(2026, 11, 1)));
  VIGIL_ASSERT_OK_AND_ASSIGN(r, Triage(r.id(), v1::RISK_LEVEL_HIGH));
  const absl::Time refresh_due = TimeOf(Find(r, "intel-refresh")->due_time());

  // Issue #17: a refresh with no checks recorded reset the refresh clock.
  v1::RecordIntelRefreshRequest bare;
  bare.set_id(r.id());
  *bare.mutable_refreshed_time() = ToProtoTime(Day(2026, 11, 22));
  bare.set_findings("nothing new");
  EXPECT_THAT(queue_->RecordIntelRefresh(Call(), bare),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("checks: record each check as DONE with its outcome or as "
                                 "NOT_POSSIBLE with the reason; missing: checks.csc_record "
                                 "(children's social care): not recorded; "
                                 "checks.household_children_record")));
  // The old booleans alone say nothing of the outcome.
  bare.mutable_checks()->set_csc(true);
  bare.mutable_checks()->set_police_systems(true);
  EXPECT_THAT(queue_->RecordIntelRefresh(Call(), bare),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("checks.police_systems_record (police systems PNC, PND, ViSOR): "
                                 "not recorded")));

  v1::RecordIntelRefreshRequest partial = Refresh(r.id(), Day(2026, 11, 22));
  partial.mutable_checks()->mutable_csc_record()->clear_outcome();
  partial.mutable_checks()->mutable_regulated_activity_record()->set_status(
      v1::INTEL_CHECK_STATUS_NOT_POSSIBLE);
  EXPECT_THAT(
      queue_->RecordIntelRefresh(Call(), partial),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("missing: checks.csc_record (children's social care): done, but no "
                         "outcome; checks.regulated_activity_record (employment or volunteering "
                         "in regulated activity): not possible, but no reason")));

  v1::GetReferralRequest get;
  get.set_id(r.id());
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Referral unchanged, queue_->Get(Call(), get));
  EXPECT_EQ(unchanged.refreshes_size(), 0);
  EXPECT_FALSE(unchanged.has_last_refresh_time());
  EXPECT_EQ(TimeOf(Find(unchanged, "intel-refresh")->due_time()), refresh_due);
}

TEST_F(ReferralQueueTest, RefreshWithANotPossibleCheckRestartsTheRefreshClock) {
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Referral r, Create(Day(2026, 11, 1)));
  VIGIL_ASSERT_OK_AND_ASSIGN(r, Triage(r.id(), v1::RISK_LEVEL_HIGH));
  v1::RecordIntelRefreshRequest refresh = Refresh(r.id(), Day(2026, 11, 22));
  v1::IntelCheck* csc = refresh.mutable_checks()->mutable_csc_record();
  csc->set_status(v1::INTEL_CHECK_STATUS_NOT_POSSIBLE);
  csc->clear_outcome();
  csc->set_not_possible_reason("CSC out-of-hours team cannot search records");
  VIGIL_ASSERT_OK_AND_ASSIGN(r, queue_->RecordIntelRefresh(Call(), refresh));
  ASSERT_EQ(r.refreshes_size(), 1);
  const v1::IntelChecks& kept = r.refreshes(0).checks();
  EXPECT_FALSE(kept.csc());
  EXPECT_TRUE(kept.household_children());
  EXPECT_TRUE(kept.regulated_activity());
  EXPECT_TRUE(kept.police_systems());
  EXPECT_EQ(kept.csc_record().not_possible_reason(), "CSC out-of-hours team cannot search records");
  EXPECT_EQ(kept.police_systems_record().outcome(), "nothing new");
  EXPECT_EQ(TimeOf(r.last_refresh_time()), Day(2026, 11, 22));
  EXPECT_THAT(Find(r, "intel-refresh")->reason(),
              HasSubstr("within 7 days of the last refresh on 2026-11-22"));
}

TEST_F(ReferralQueueTest, RefreshWhereNoCheckWasPossibleLeavesTheRefreshClockRunning) {
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Referral r, Create(Day(2026, 11, 1)));
  VIGIL_ASSERT_OK_AND_ASSIGN(r, Triage(r.id(), v1::RISK_LEVEL_HIGH));
  const v1::Obligation before = *Find(r, "intel-refresh");
  v1::RecordIntelRefreshRequest refresh = Refresh(r.id(), Day(2026, 11, 22));
  for (v1::IntelCheck* check : {refresh.mutable_checks()->mutable_csc_record(),
                                refresh.mutable_checks()->mutable_household_children_record(),
                                refresh.mutable_checks()->mutable_regulated_activity_record(),
                                refresh.mutable_checks()->mutable_police_systems_record()}) {
    check->set_status(v1::INTEL_CHECK_STATUS_NOT_POSSIBLE);
    check->clear_outcome();
    check->set_not_possible_reason("systems down for the national outage");
  }
  VIGIL_ASSERT_OK_AND_ASSIGN(r, queue_->RecordIntelRefresh(Call(), refresh));
  EXPECT_EQ(r.refreshes_size(), 1);  // recorded, with its reasons
  EXPECT_FALSE(r.has_last_refresh_time());
  EXPECT_EQ(Find(r, "intel-refresh")->due_time().SerializeAsString(),
            before.due_time().SerializeAsString());
  EXPECT_EQ(Find(r, "intel-refresh")->reason(), before.reason());
}

TEST_F(ReferralQueueTest, AllocatedAndActionedReferralClosesAllItsClocks) {
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Referral r, Create(Day(2026, 11, 1)));
  VIGIL_ASSERT_OK_AND_ASSIGN(r, Triage(r.id(), v1::RISK_LEVEL_HIGH));
  v1::AllocateReferralRequest allocate;
  allocate.set_id(r.id());
  allocate.set_officer("DC 9");
  VIGIL_ASSERT_OK_AND_ASSIGN(r, queue_->Allocate(Call(), allocate));
  for (const v1::Obligation& o : r.obligations()) EXPECT_EQ(o.owner_officer(), "DC 9");
  EXPECT_EQ(Counter(v1::OBLIGATION_KIND_REFERRAL_ACTION, v1::RISK_LEVEL_HIGH, "DC 9"), 1);
  v1::RecordCscCheckRequest csc;
  csc.set_id(r.id());
  *csc.mutable_checked_time() = ToProtoTime(Day(2026, 11, 2));
  csc.set_result("no children known");
  VIGIL_ASSERT_OK_AND_ASSIGN(r, queue_->RecordCscCheck(Call(), csc));
  EXPECT_EQ(Find(r, "csc-check"), nullptr);
  v1::ActionReferralRequest action;
  action.set_id(r.id());
  *action.mutable_action_time() = ToProtoTime(Day(2026, 11, 22));
  action.set_outcome(v1::ACTION_OUTCOME_WARRANT_EXECUTED);
  VIGIL_ASSERT_OK_AND_ASSIGN(r, queue_->Action(Call(), action));
  EXPECT_THAT(r.obligations(), IsEmpty());
  EXPECT_EQ(Counter(v1::OBLIGATION_KIND_REFERRAL_ACTION, v1::RISK_LEVEL_HIGH, "DC 9"), 0);
  v1::CloseReferralRequest close;
  close.set_id(r.id());
  close.set_outcome(v1::REFERRAL_OUTCOME_CLOSED);
  close.set_reason("charged");
  VIGIL_ASSERT_OK_AND_ASSIGN(r, queue_->Close(Call(), close));
  ASSERT_EQ(r.history_size(), 5);
  EXPECT_EQ(r.history(4).to(), v1::REFERRAL_STATE_CLOSED);
  EXPECT_EQ(r.history(4).by(), "DC 9");
}

// CreateAsync, as the RPC creates referrals: the answer comes from the thread that committed
// (in the RPC, never gRPC's own), and a retried request id is answered with the first referral
// only once the replay's audit record is committed.
TEST_F(ReferralQueueTest, AsynchronousCreatesAndTheirReplaysAreAnsweredFromTheCommit) {
  Executor retries(/*threads=*/1, /*max_queued=*/10);
  auto create = [&](const std::string& request_id, const std::string& subject) {
    v1::CreateReferralRequest request;
    request.set_request_id(request_id);
    v1::Referral* r = request.mutable_referral();
    r->set_source(v1::REFERRAL_SOURCE_NCA_CEOP);
    *r->mutable_received_time() = ToProtoTime(Day(2026, 11, 20));
    r->set_subject_display_name(subject);
    absl::Notification answered;
    absl::StatusOr<v1::Referral> referral;
    uint64_t audited_by_then = 0;
    std::thread::id answered_on;
    queue_->CreateAsync(std::make_shared<const CallContext>(Call()), request, retries,
                        [&](absl::StatusOr<v1::Referral> result) {
                          referral = std::move(result);
                          audited_by_then = store_->AuditHead();
                          answered_on = std::this_thread::get_id();
                          answered.Notify();
                        });
    EXPECT_TRUE(answered.WaitForNotificationWithTimeout(absl::Seconds(60)));
    return std::make_tuple(referral, audited_by_then, answered_on != std::this_thread::get_id());
  };

  auto [first, first_head, first_off_thread] = create("referral-1", "Subject");
  ASSERT_THAT(first.status(), IsOk());
  EXPECT_TRUE(first_off_thread) << "committed on the calling thread";
  EXPECT_EQ(AuditRecordAt(first_head).action(), v1::AUDIT_ACTION_COLLECTION);

  auto [again, again_head, again_off_thread] = create("referral-1", "Subject");
  ASSERT_THAT(again.status(), IsOk());
  EXPECT_TRUE(again_off_thread) << "the replay's audit record was committed on the calling thread";
  EXPECT_EQ(again->id(), first->id());
  ASSERT_EQ(again_head, first_head + 1);
  EXPECT_EQ(AuditRecordAt(again_head).action(), v1::AUDIT_ACTION_CONSULTATION);
  EXPECT_THAT(AuditRecordAt(again_head).subject_ids(), ::testing::ElementsAre(first->id()));

  // Refused before anything is read or written: answered at once, on the calling thread.
  auto [other, other_head, other_off_thread] = create("referral-1", "Someone else");
  EXPECT_THAT(other.status(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_FALSE(other_off_thread);
  EXPECT_EQ(other_head, again_head) << "a refused request id writes nothing";
  EXPECT_EQ(Counter(v1::OBLIGATION_KIND_REFERRAL_ACTION, v1::RISK_LEVEL_UNSPECIFIED), 1)
      << "one referral, created once";
}

TEST_F(ReferralQueueTest, TransitionsFromTheWrongStateNameTheState) {
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Referral r, Create(Day(2026, 11, 1)));
  v1::AllocateReferralRequest allocate;
  allocate.set_id(r.id());
  allocate.set_officer("DC 9");
  EXPECT_THAT(queue_->Allocate(Call(), allocate),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("is REFERRAL_STATE_RECEIVED: it can be allocated only when "
                                 "REFERRAL_STATE_AWAITING_ALLOCATION")));
  v1::CloseReferralRequest close;
  close.set_id(r.id());
  close.set_outcome(v1::REFERRAL_OUTCOME_NO_FURTHER_ACTION);
  close.set_reason("not UK");
  ASSERT_THAT(queue_->Close(Call(), close).status(), IsOk());
  EXPECT_THAT(queue_->Close(Call(), close),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("CLOSED")));
  EXPECT_THAT(Triage(r.id(), v1::RISK_LEVEL_LOW), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(ReferralQueueTest, BadInputNamesTheField) {
  EXPECT_THAT(Create(clock_.Now() + absl::Hours(48)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("referral.received_time")));
  EXPECT_THAT(Create(Day(2026, 1, 1), {{v1::IDENTIFIER_TYPE_EMAIL, "not-an-email"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("referral.identifiers[0]")));
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Referral r, Create(Day(2026, 11, 1)));
  v1::RecordIntelRefreshRequest early = Refresh(r.id(), Day(2026, 10, 1));
  EXPECT_THAT(
      queue_->RecordIntelRefresh(Call(), early),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("before the referral was received")));
  v1::CreateReferralRequest linked;
  linked.mutable_referral()->set_source(v1::REFERRAL_SOURCE_INTERNAL);
  *linked.mutable_referral()->mutable_received_time() = ToProtoTime(Day(2026, 1, 1));
  linked.mutable_referral()->set_subject_display_name("x");
  linked.mutable_referral()->set_linked_offender_id("R1");
  EXPECT_THAT(queue_->Create(Call(), linked),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("linked_offender_id")));
}

TEST_F(ReferralQueueTest, SecondReferralAboutTheSameAccountIsFlagged) {
  VIGIL_ASSERT_OK_AND_ASSIGN(
      v1::Referral first,
      Create(Day(2026, 11, 1), {{v1::IDENTIFIER_TYPE_ACCOUNT, "Snapchat:@Kid_99"}}));
  VIGIL_ASSERT_OK_AND_ASSIGN(
      v1::Referral second,
      Create(Day(2026, 11, 5), {{v1::IDENTIFIER_TYPE_ACCOUNT, "snapchat: kid_99"},
                                {v1::IDENTIFIER_TYPE_PHONE, "07700 900123"}}));
  ASSERT_EQ(second.deconfliction_matches_size(), 1);
  EXPECT_EQ(second.deconfliction_matches(0).referral_id(), first.id());
  EXPECT_EQ(second.deconfliction_matches(0).normalized(), "snapchat:kid_99");
  EXPECT_EQ(second.deconfliction_matches(0).state(), v1::REFERRAL_STATE_RECEIVED);
  EXPECT_EQ(second.deconfliction_matches(0).allocated_officer(), "");
  // A closed referral no longer counts.
  v1::CloseReferralRequest close;
  close.set_id(first.id());
  close.set_outcome(v1::REFERRAL_OUTCOME_NO_FURTHER_ACTION);
  close.set_reason("duplicate");
  ASSERT_THAT(queue_->Close(Call(), close).status(), IsOk());
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Referral third,
                             Create(Day(2026, 11, 6), {{v1::IDENTIFIER_TYPE_ACCOUNT, "@kid_99"}}));
  EXPECT_THAT(third.deconfliction_matches(), IsEmpty());  // no platform: a different identifier
  // A match names the other referral's state and officer as they are now.
  ASSERT_THAT(Triage(second.id(), v1::RISK_LEVEL_HIGH).status(), IsOk());
  v1::AllocateReferralRequest allocate;
  allocate.set_id(second.id());
  allocate.set_officer("DC Hale");
  ASSERT_THAT(queue_->Allocate(Call(), allocate).status(), IsOk());
  VIGIL_ASSERT_OK_AND_ASSIGN(
      v1::Referral fourth,
      Create(Day(2026, 11, 7), {{v1::IDENTIFIER_TYPE_PHONE, "+44 7700 900123"}}));
  ASSERT_EQ(fourth.deconfliction_matches_size(), 1);
  EXPECT_EQ(fourth.deconfliction_matches(0).referral_id(), second.id());
  EXPECT_EQ(fourth.deconfliction_matches(0).state(), v1::REFERRAL_STATE_ALLOCATED);
  EXPECT_EQ(fourth.deconfliction_matches(0).allocated_officer(), "DC Hale");
  // Matches come in the order of the identifiers they share.
  VIGIL_ASSERT_OK_AND_ASSIGN(
      v1::Referral fifth,
      Create(Day(2026, 11, 8), {{v1::IDENTIFIER_TYPE_PHONE, "07700900123"},
                                {v1::IDENTIFIER_TYPE_ACCOUNT, "snapchat:kid_99"}}));
  ASSERT_EQ(fifth.deconfliction_matches_size(), 3);
  EXPECT_EQ(fifth.deconfliction_matches(0).type(), v1::IDENTIFIER_TYPE_PHONE);
  EXPECT_EQ(fifth.deconfliction_matches(1).type(), v1::IDENTIFIER_TYPE_PHONE);
  EXPECT_EQ(fifth.deconfliction_matches(2).type(), v1::IDENTIFIER_TYPE_ACCOUNT);
  EXPECT_EQ(fifth.deconfliction_matches(2).referral_id(), second.id());
}

TEST_F(ReferralQueueTest, ListIsOldestFirstAndCountsAreByStateAndGrade) {
  for (int i = 0; i < 5; ++i) {
    VIGIL_ASSERT_OK_AND_ASSIGN(v1::Referral r,
                               Create(Day(2020 + i, 3, 1), {}, absl::StrCat("Q", 4 - i)));
    if (i % 2 == 0) {
      ASSERT_THAT(Triage(r.id(), i == 0 ? v1::RISK_LEVEL_HIGH : v1::RISK_LEVEL_LOW).status(),
                  IsOk());
    }
  }
  v1::ListReferralsRequest list;
  list.mutable_page()->set_page_size(2);
  std::vector<std::string> order;
  for (;;) {
    VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListReferralsResponse page, queue_->List(Call(), list));
    for (const auto& r : page.referrals()) order.push_back(r.id());
    if (page.next_page_token().empty()) break;
    list.mutable_page()->set_page_token(page.next_page_token());
  }
  EXPECT_THAT(order, ::testing::ElementsAre("Q4", "Q3", "Q2", "Q1", "Q0"));

  VIGIL_ASSERT_OK_AND_ASSIGN(v1::CountReferralsResponse counts,
                             queue_->Count(Call(), v1::CountReferralsRequest()));
  EXPECT_EQ(counts.open_total(), 5);
  std::map<std::pair<int, int>, int64_t> by_cell;
  for (const auto& c : counts.counts()) by_cell[{c.state(), c.grade()}] = c.count();
  EXPECT_EQ((by_cell[{v1::REFERRAL_STATE_RECEIVED, v1::RISK_LEVEL_UNSPECIFIED}]), 2);
  EXPECT_EQ((by_cell[{v1::REFERRAL_STATE_AWAITING_ALLOCATION, v1::RISK_LEVEL_LOW}]), 2);
  EXPECT_EQ((by_cell[{v1::REFERRAL_STATE_AWAITING_ALLOCATION, v1::RISK_LEVEL_HIGH}]), 1);
  for (const auto& c : counts.counts()) {
    if (c.state() == v1::REFERRAL_STATE_AWAITING_ALLOCATION && c.grade() == v1::RISK_LEVEL_LOW) {
      EXPECT_EQ(*FromProtoTime(c.oldest_received_time(), ""), Day(2022, 3, 1));
    }
  }
}

TEST_F(ReferralQueueTest, ImportIsRepeatableAndReportsBadRows) {
  v1::ImportReferralsRequest request;
  for (int i = 0; i < 20; ++i) {
    v1::ReferralImportRow* row = request.add_rows();
    row->set_line(i + 2);
    v1::Referral* r = row->mutable_referral();
    r->set_source_reference(absl::StrCat("NCA-", i));
    r->set_source(v1::REFERRAL_SOURCE_NCA_CEOP);
    *r->mutable_received_time() = ToProtoTime(Day(2019, 8, 1) + absl::Hours(24 * 30 * i));
    r->set_subject_display_name("S");
    r->set_state(i % 4 == 0 ? v1::REFERRAL_STATE_RECEIVED : v1::REFERRAL_STATE_AWAITING_ALLOCATION);
    if (i % 4 != 0) r->set_grade(i % 3 == 0 ? v1::RISK_LEVEL_HIGH : v1::RISK_LEVEL_MEDIUM);
  }
  request.mutable_rows(7)->mutable_referral()->set_grade(
      v1::RISK_LEVEL_UNSPECIFIED);  // awaiting needs a grade
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ImportReferralsResponse result, queue_->Import(Call(), request));
  EXPECT_EQ(result.imported(), 19);
  ASSERT_EQ(result.errors_size(), 1);
  EXPECT_EQ(result.errors(0).line(), 9);
  EXPECT_EQ(result.errors(0).field(), "grade");
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ImportReferralsResponse again, queue_->Import(Call(), request));
  EXPECT_EQ(again.imported(), 0);
  EXPECT_EQ(again.already_present(), 19);
  v1::ListReferralsRequest list;
  list.set_state(v1::REFERRAL_STATE_RECEIVED);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::ListReferralsResponse received, queue_->List(Call(), list));
  ASSERT_EQ(received.referrals_size(), 5);
  EXPECT_EQ(received.referrals(0).source_reference(), "NCA-0");  // August 2019, the oldest
}

TEST_F(ReferralQueueTest, RecomputationRetimesReferralsUnderTheForcesNewPolicy) {
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Referral r, Create(Day(2026, 11, 1)));
  VIGIL_ASSERT_OK_AND_ASSIGN(r, Triage(r.id(), v1::RISK_LEVEL_HIGH));
  ASSERT_NE(Find(r, "action"), nullptr);
  EXPECT_EQ(Find(r, "action")->policy_version(), "v1");

  // wessex halves the high-grade action target; nothing moves until recomputed.
  v1::Policy faster = policy::DefaultPolicy();
  faster.mutable_referral_action_days()->set_high(3);
  CallContext admin = Call();
  admin.principal.role = Role::kForceAdmin;
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Policy set, policies_->Set(admin, faster));
  ClockRecomputer& recomputer = queue_->records();
  VIGIL_ASSERT_OK_AND_ASSIGN(ClockRecomputer::Report dry, recomputer.Recompute(admin, true));
  EXPECT_EQ(dry.examined, 1);
  EXPECT_EQ(dry.changed, 1);
  v1::GetReferralRequest get;
  get.set_id(r.id());
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Referral unchanged, queue_->Get(Call(), get));
  EXPECT_EQ(Find(unchanged, "action")->policy_version(), "v1");

  VIGIL_ASSERT_OK_AND_ASSIGN(ClockRecomputer::Report done, recomputer.Recompute(admin, false));
  EXPECT_EQ(done.changed, 1);
  EXPECT_GE(done.retimed, 1);
  VIGIL_ASSERT_OK_AND_ASSIGN(v1::Referral recomputed, queue_->Get(Call(), get));
  EXPECT_EQ(Find(recomputed, "action")->policy_version(), set.version());
  EXPECT_LT(TimeOf(Find(recomputed, "action")->due_time()),
            TimeOf(Find(unchanged, "action")->due_time()));
  VIGIL_ASSERT_OK_AND_ASSIGN(ClockRecomputer::Report again, recomputer.Recompute(admin, false));
  EXPECT_EQ(again.changed, 0);
}

}  // namespace
}  // namespace vigil::ocait
