#include "services/rso/clocks.h"

#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "base/proto_time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/policy/calendar.h"
#include "services/policy/policy.h"
#include "tests/support/status_matchers.h"

namespace vigil::rso {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::vigil::testing::IsOk;

MATCHER_P(EqualsProto, expected, "equals " + expected.ShortDebugString()) {
  if (google::protobuf::util::MessageDifferencer::Equals(arg, expected)) return true;
  *result_listener << "is " << arg.ShortDebugString();
  return false;
}

std::vector<std::string> Ids(const std::vector<v1::Obligation>& obligations) {
  std::vector<std::string> ids;
  ids.reserve(obligations.size());
  for (const v1::Obligation& o : obligations) ids.push_back(o.id());
  return ids;
}

const v1::Obligation* Find(const std::vector<v1::Obligation>& obligations, const std::string& id) {
  for (const v1::Obligation& o : obligations) {
    if (o.id() == id) return &o;
  }
  return nullptr;
}

absl::Time DueOf(const v1::Obligation& o) {
  return absl::FromUnixSeconds(o.due_time().seconds()) + absl::Nanoseconds(o.due_time().nanos());
}

// Expected due times are local midnights written out by hand (absl::FromCivil in London).
class ClocksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<absl::TimeZone> zone = policy::ForceTimeZone();
    ASSERT_TRUE(zone.ok()) << zone.status();
    london_ = *zone;
    v1_ = policy::DefaultPolicy();
    v1_.set_version("v1");
    ASSERT_THAT(policy::ValidatePolicy(v1_), IsOk());

    // Every interval different from v1.
    v2_ = v1_;
    v2_.set_version("v2");
    v2_.set_arms_initial_days(14);
    v2_.mutable_arms_reassessment_days()->set_low(300);
    v2_.mutable_arms_reassessment_days()->set_medium(200);
    v2_.mutable_arms_reassessment_days()->set_high(100);
    v2_.mutable_arms_reassessment_days()->set_very_high(60);
    v2_.set_arms_trigger_days(10);
    v2_.set_rmp_review_after_arms_days(14);
    v2_.mutable_rmp_review_days()->set_medium(120);
    v2_.mutable_visit_interval_days()->set_medium(100);
    v2_.set_visit_interval_unassessed_days(60);
    ASSERT_THAT(policy::ValidatePolicy(v2_), IsOk());
  }

  absl::Time Local(int y, int m, int d, int hh = 0, int mm = 0) const {
    return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), london_);
  }
  // The instant a duty due by the end of local day y-m-d becomes overdue.
  absl::Time EndOf(int y, int m, int d) const {
    return absl::FromCivil(absl::CivilDay(y, m, d) + 1, london_);
  }

  // Active in the community, registered 2024-05-10 10:00, not assessed, no clocks yet.
  static v1::Offender NewOffender(absl::Time registered) {
    v1::Offender o;
    o.set_id("R1");
    o.set_force("wessex");
    o.set_display_name("A. N. Other");
    o.set_owner_officer("dc.smith");
    o.set_team("mosovo-north");
    o.set_status(v1::OFFENDER_STATUS_ACTIVE_COMMUNITY);
    o.set_notification_period(v1::NOTIFICATION_PERIOD_10_YEARS);
    *o.mutable_registered_time() = ToProtoTime(registered);
    return o;
  }
  v1::Offender NewOffender() const { return NewOffender(Local(2024, 5, 10, 10, 0)); }

  // As NewOffender, with a medium-risk ARMS on 2024-06-03 and no RMP review since.
  v1::Offender AssessedOffender() const {
    v1::Offender o = NewOffender();
    o.set_risk_level(v1::RISK_LEVEL_MEDIUM);
    *o.mutable_last_arms_time() = ToProtoTime(Local(2024, 6, 3, 15, 0));
    return o;
  }

  static void AddTrigger(v1::Offender& o, v1::TriggerType type, absl::Time at) {
    v1::Trigger* t = o.add_open_triggers();
    t->set_type(type);
    *t->mutable_time() = ToProtoTime(at);
    t->set_recorded_by("dc.smith");
  }

  // Every clock of `o` derived afresh under `policy` (a new record, or a recomputation).
  std::vector<v1::Obligation> Recompute(v1::Offender& o, const v1::Policy& policy) const {
    return DeriveClocks(nullptr, o, /*recompute=*/true, policy, london_, now_);
  }
  // The clocks of `o` after an edit from `before`: ClocksToRetime decides which re-time.
  std::vector<v1::Obligation> Edited(const v1::Offender& before, v1::Offender& o,
                                     const v1::Policy& policy) const {
    return DeriveClocks(&before, o, /*recompute=*/false, policy, london_, now_);
  }

  // Derives every clock under `policy` and stores the result in the record, as the register
  // does after a commit.
  void Settle(v1::Offender& o, const v1::Policy& policy) const {
    std::vector<v1::Obligation> open = Recompute(o, policy);
    o.clear_obligations();
    for (v1::Obligation& ob : open) *o.add_obligations() = std::move(ob);
  }

  v1::Obligation Expected(const v1::Offender& o, const std::string& suffix, v1::ObligationKind kind,
                          absl::Time due, const std::string& reason, const std::string& version,
                          absl::Time start) const {
    v1::Obligation ob;
    ob.set_id(o.id() + "/" + suffix);
    ob.set_kind(kind);
    ob.set_subject_id(o.id());
    ob.set_risk_level(o.risk_level());
    *ob.mutable_due_time() = ToProtoTime(due);
    ob.set_owner_officer(o.owner_officer());
    ob.set_team(o.team());
    ob.set_force(o.force());
    ob.set_policy_version(version);
    ob.set_reason(reason);
    *ob.mutable_start_time() = ToProtoTime(start);
    return ob;
  }

  absl::TimeZone london_;
  v1::Policy v1_;
  v1::Policy v2_;
  absl::Time now_ = absl::FromCivil(absl::CivilSecond(2024, 7, 1, 12, 0, 0), absl::UTCTimeZone());
};

TEST_F(ClocksTest, ObligationIdsAreTheOffenderIdAndTheClockName) {
  EXPECT_EQ(ObligationId("R1", Clock::kArms), "R1/arms");
  EXPECT_EQ(ObligationId("R1", Clock::kArmsTrigger), "R1/arms-trigger");
  EXPECT_EQ(ObligationId("R1", Clock::kRmpReview), "R1/rmp-review");
  EXPECT_EQ(ObligationId("R1", Clock::kAnnualNotification), "R1/notification");
  EXPECT_EQ(ObligationId("R1", Clock::kChangeNotification), "R1/change-notification");
  EXPECT_EQ(ObligationId("R1", Clock::kHomeVisit), "R1/home-visit");
  EXPECT_EQ(ObligationId("R1", Clock::kRmpSignOff), "R1/rmp-sign-off");
  EXPECT_EQ(ObligationId("R1", Clock::kInitialNotification), "R1/initial-notification");
  EXPECT_EQ(ObligationId("R1", Clock::kNotificationReview), "R1/notification-review");
}

TEST_F(ClocksTest, OnlyOffendersUnderActiveManagementAreManaged) {
  EXPECT_TRUE(Managed(v1::OFFENDER_STATUS_ACTIVE_COMMUNITY));
  EXPECT_TRUE(Managed(v1::OFFENDER_STATUS_IN_CUSTODY));
  EXPECT_TRUE(Managed(v1::OFFENDER_STATUS_WANTED));
  EXPECT_TRUE(Managed(v1::OFFENDER_STATUS_ABROAD));
  EXPECT_FALSE(Managed(v1::OFFENDER_STATUS_DECEASED));
  EXPECT_FALSE(Managed(v1::OFFENDER_STATUS_EXPIRED));
  EXPECT_FALSE(Managed(v1::OFFENDER_STATUS_TRANSFERRED));
  EXPECT_FALSE(Managed(v1::OFFENDER_STATUS_UNSPECIFIED));
}

TEST_F(ClocksTest, NewOffenderInTheCommunityNeedsInitialArmsAndAnnualNotification) {
  v1::Offender o = NewOffender();
  const std::vector<v1::Obligation> open = Recompute(o, v1_);
  // clocks.h: an offender in the community also runs the home-visit clock (not assessed: 91
  // days from registration, to 2024-08-09).
  ASSERT_THAT(Ids(open), ElementsAre("R1/arms", "R1/notification", "R1/home-visit"));
  EXPECT_THAT(open[0], EqualsProto(Expected(o, "arms", v1::OBLIGATION_KIND_ARMS_ASSESSMENT,
                                            EndOf(2024, 6, 7),
                                            "not assessed: initial ARMS within 28 days of "
                                            "registration on 2024-05-10 (policy v1)",
                                            "v1", Local(2024, 5, 10, 10, 0))));
  EXPECT_THAT(open[1], EqualsProto(Expected(o, "notification", v1::OBLIGATION_KIND_NOTIFICATION,
                                            EndOf(2025, 5, 10),
                                            "annual re-notification within a year of the last on "
                                            "2024-05-10 (SOA 2003 s.85) (policy v1)",
                                            "v1", Local(2024, 5, 10, 10, 0))));
  EXPECT_EQ(open[2].kind(), v1::OBLIGATION_KIND_HOME_VISIT);
  EXPECT_EQ(DueOf(open[2]), EndOf(2024, 8, 9));
  EXPECT_EQ(open[2].policy_version(), "v1");
  EXPECT_EQ(o.visit_interval_days(), 91);
  EXPECT_EQ(o.visit_interval_source(), v1::VISIT_INTERVAL_SOURCE_POLICY);
}

TEST_F(ClocksTest, ReactivelyManagedNewOffenderHasExactlyArmsAndNotificationClocks) {
  v1::Offender o = NewOffender();
  o.mutable_reactive_management()->set_enabled(true);
  const std::vector<v1::Obligation> open = Recompute(o, v1_);
  EXPECT_THAT(Ids(open), ElementsAre("R1/arms", "R1/notification"));
}

TEST_F(ClocksTest, EveryObligationCarriesTheRecordsForceTeamOwnerAndRisk) {
  v1::Offender o = AssessedOffender();
  o.set_risk_level(v1::RISK_LEVEL_HIGH);
  AddTrigger(o, v1::TRIGGER_TYPE_NEW_INTELLIGENCE, Local(2024, 6, 20, 9, 0));
  *o.mutable_change_pending_since() = ToProtoTime(Local(2024, 6, 25, 9, 0));
  const std::vector<v1::Obligation> open = Recompute(o, v1_);
  ASSERT_EQ(open.size(), 6u);
  for (const v1::Obligation& ob : open) {
    SCOPED_TRACE(ob.id());
    EXPECT_EQ(ob.subject_id(), "R1");
    EXPECT_EQ(ob.force(), "wessex");
    EXPECT_EQ(ob.team(), "mosovo-north");
    EXPECT_EQ(ob.owner_officer(), "dc.smith");
    EXPECT_EQ(ob.risk_level(), v1::RISK_LEVEL_HIGH);
    EXPECT_EQ(ob.policy_version(), "v1");
  }
}

TEST_F(ClocksTest, AssessedOffenderGetsPeriodicArmsAndRmpReviewClocks) {
  v1::Offender o = AssessedOffender();
  const std::vector<v1::Obligation> open = Recompute(o, v1_);
  ASSERT_THAT(Ids(open),
              ElementsAre("R1/arms", "R1/rmp-review", "R1/notification", "R1/home-visit"));
  // Medium: 2024-06-03 + 365 is 2025-06-03. The RMP: 2024-06-03 + 28 is 2024-07-01.
  EXPECT_THAT(open[0], EqualsProto(Expected(o, "arms", v1::OBLIGATION_KIND_ARMS_ASSESSMENT,
                                            EndOf(2025, 6, 3),
                                            "medium risk: reassess within 365 days of last ARMS "
                                            "on 2024-06-03 (policy v1)",
                                            "v1", Local(2024, 6, 3, 15, 0))));
  EXPECT_THAT(open[1], EqualsProto(Expected(o, "rmp-review", v1::OBLIGATION_KIND_RMP_REVIEW,
                                            EndOf(2024, 7, 1),
                                            "review the RMP within 28 days of the ARMS on "
                                            "2024-06-03 (policy v1)",
                                            "v1", Local(2024, 6, 3, 15, 0))));
  EXPECT_EQ(open[1].risk_level(), v1::RISK_LEVEL_MEDIUM);
}

TEST_F(ClocksTest, OpenTriggersGiveOneTriggerClockDueFromTheEarliest) {
  v1::Offender o = AssessedOffender();
  AddTrigger(o, v1::TRIGGER_TYPE_NEW_INTELLIGENCE, Local(2024, 6, 20, 9, 0));
  AddTrigger(o, v1::TRIGGER_TYPE_CHILD_IN_HOUSEHOLD, Local(2024, 6, 12, 17, 0));
  AddTrigger(o, v1::TRIGGER_TYPE_ARREST_OR_BREACH, Local(2024, 6, 14, 8, 0));
  const std::vector<v1::Obligation> open = Recompute(o, v1_);
  const v1::Obligation* trigger = Find(open, "R1/arms-trigger");
  ASSERT_NE(trigger, nullptr);
  // 2024-06-12 + 28 is 2024-07-10.
  EXPECT_THAT(*trigger,
              EqualsProto(Expected(o, "arms-trigger", v1::OBLIGATION_KIND_ARMS_ASSESSMENT,
                                   EndOf(2024, 7, 10),
                                   "trigger (child in household on 2024-06-12): reassess within "
                                   "28 days (policy v1)",
                                   "v1", Local(2024, 6, 12, 17, 0))));
  EXPECT_THAT(Ids(open), ElementsAre("R1/arms", "R1/arms-trigger", "R1/rmp-review",
                                     "R1/notification", "R1/home-visit"));
}

TEST_F(ClocksTest, NotAssessedOffenderWithATriggerStillHasNoRmpClock) {
  v1::Offender o = NewOffender();
  AddTrigger(o, v1::TRIGGER_TYPE_RELEASE_FROM_CUSTODY, Local(2024, 5, 20, 9, 0));
  const std::vector<v1::Obligation> open = Recompute(o, v1_);
  EXPECT_THAT(Ids(open),
              ElementsAre("R1/arms", "R1/arms-trigger", "R1/notification", "R1/home-visit"));
}

TEST_F(ClocksTest, PendingChangeMustBeNotifiedWithin3Days) {
  v1::Offender o = AssessedOffender();
  *o.mutable_change_pending_since() = ToProtoTime(Local(2024, 6, 25, 9, 0));
  o.set_change_pending_note("new address");
  const std::vector<v1::Obligation> open = Recompute(o, v1_);
  const v1::Obligation* change = Find(open, "R1/change-notification");
  ASSERT_NE(change, nullptr);
  EXPECT_THAT(*change,
              EqualsProto(Expected(o, "change-notification", v1::OBLIGATION_KIND_NOTIFICATION,
                                   EndOf(2024, 6, 28),
                                   "notify the change of 2024-06-25 (new address) within 3 days "
                                   "(SOA 2003 s.84) (policy v1)",
                                   "v1", Local(2024, 6, 25, 9, 0))));
}

TEST_F(ClocksTest, AnnualNotificationCountsFromTheLastNotificationWhenThereIsOne) {
  v1::Offender o = NewOffender();
  *o.mutable_last_notification_time() = ToProtoTime(Local(2024, 2, 29, 11, 0));
  const std::vector<v1::Obligation> open = Recompute(o, v1_);
  const v1::Obligation* annual = Find(open, "R1/notification");
  ASSERT_NE(annual, nullptr);
  EXPECT_EQ(DueOf(*annual), EndOf(2025, 3, 1));
  EXPECT_EQ(annual->reason(),
            "annual re-notification within a year of the last on 2024-02-29 (SOA 2003 s.85) "
            "(policy v1)");
}

class PausedStatus : public ClocksTest, public ::testing::WithParamInterface<v1::OffenderStatus> {};

TEST_P(PausedStatus, KeepsArmsTriggerAndRmpClocksButNoNotificationOrVisit) {
  v1::Offender o = AssessedOffender();
  AddTrigger(o, v1::TRIGGER_TYPE_ARREST_OR_BREACH, Local(2024, 6, 20, 9, 0));
  *o.mutable_change_pending_since() = ToProtoTime(Local(2024, 6, 25, 9, 0));
  Settle(o, v1_);
  ASSERT_EQ(o.obligations_size(), 6);

  const v1::Offender before = o;
  o.set_status(GetParam());
  const std::vector<v1::Obligation> open = Edited(before, o, v1_);
  ASSERT_THAT(Ids(open), ElementsAre("R1/arms", "R1/arms-trigger", "R1/rmp-review"));
  EXPECT_EQ(DueOf(open[0]), EndOf(2025, 6, 3));
  EXPECT_EQ(DueOf(open[1]), EndOf(2024, 7, 18));
  EXPECT_EQ(DueOf(open[2]), EndOf(2024, 7, 1));
}

INSTANTIATE_TEST_SUITE_P(ClocksTest, PausedStatus,
                         ::testing::Values(v1::OFFENDER_STATUS_IN_CUSTODY,
                                           v1::OFFENDER_STATUS_WANTED, v1::OFFENDER_STATUS_ABROAD),
                         [](const ::testing::TestParamInfo<v1::OffenderStatus>& param_info) {
                           return v1::OffenderStatus_Name(param_info.param);
                         });

TEST_F(ClocksTest, InCustodyFromTheStartHasNoNotificationClocks) {
  v1::Offender o = AssessedOffender();
  o.set_status(v1::OFFENDER_STATUS_IN_CUSTODY);
  *o.mutable_change_pending_since() = ToProtoTime(Local(2024, 6, 25, 9, 0));
  const std::vector<v1::Obligation> open = Recompute(o, v1_);
  EXPECT_THAT(Ids(open), ElementsAre("R1/arms", "R1/rmp-review"));
}

class UnmanagedStatus : public ClocksTest,
                        public ::testing::WithParamInterface<v1::OffenderStatus> {};

TEST_P(UnmanagedStatus, HasNoClocksAndClosesThoseItHad) {
  v1::Offender o = AssessedOffender();
  AddTrigger(o, v1::TRIGGER_TYPE_ARREST_OR_BREACH, Local(2024, 6, 20, 9, 0));
  *o.mutable_change_pending_since() = ToProtoTime(Local(2024, 6, 25, 9, 0));
  Settle(o, v1_);
  ASSERT_EQ(o.obligations_size(), 6);

  const v1::Offender before = o;
  o.set_status(GetParam());
  EXPECT_THAT(Edited(before, o, v1_), IsEmpty());
  EXPECT_THAT(Recompute(o, v2_), IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(ClocksTest, UnmanagedStatus,
                         ::testing::Values(v1::OFFENDER_STATUS_DECEASED,
                                           v1::OFFENDER_STATUS_EXPIRED,
                                           v1::OFFENDER_STATUS_TRANSFERRED),
                         [](const ::testing::TestParamInfo<v1::OffenderStatus>& param_info) {
                           return v1::OffenderStatus_Name(param_info.param);
                         });

TEST_F(ClocksTest, ClockNotRetimedKeepsItsDueTimeReasonAndVersionUnderANewPolicy) {
  v1::Offender o = AssessedOffender();
  AddTrigger(o, v1::TRIGGER_TYPE_NEW_INTELLIGENCE, Local(2024, 6, 20, 9, 0));
  Settle(o, v1_);
  const std::vector<v1::Obligation> before(o.obligations().begin(), o.obligations().end());
  ASSERT_THAT(Ids(before), ElementsAre("R1/arms", "R1/arms-trigger", "R1/rmp-review",
                                       "R1/notification", "R1/home-visit"));

  // The record changes hands; the policy moves to v2; no clock's facts changed, so none is
  // re-timed.
  const v1::Offender edited_from = o;
  o.set_owner_officer("dc.jones");
  o.set_team("mosovo-south");
  const std::vector<v1::Obligation> after = Edited(edited_from, o, v2_);

  ASSERT_EQ(Ids(after), Ids(before));
  for (size_t i = 0; i < after.size(); ++i) {
    SCOPED_TRACE(after[i].id());
    v1::Obligation expected = before[i];
    expected.set_owner_officer("dc.jones");
    expected.set_team("mosovo-south");
    EXPECT_THAT(after[i], EqualsProto(expected));
    EXPECT_EQ(after[i].policy_version(), "v1");
  }
  // Spelled out for the ARMS clock: still the v1 medium interval.
  EXPECT_EQ(DueOf(after[0]), EndOf(2025, 6, 3));
  EXPECT_EQ(after[0].reason(),
            "medium risk: reassess within 365 days of last ARMS on 2024-06-03 (policy v1)");
}

TEST_F(ClocksTest, AClockWhoseFactsChangedIsDerivedAfreshUnderTheNewPolicy) {
  v1::Offender o = AssessedOffender();
  AddTrigger(o, v1::TRIGGER_TYPE_NEW_INTELLIGENCE, Local(2024, 6, 20, 9, 0));
  Settle(o, v1_);
  const std::vector<v1::Obligation> before(o.obligations().begin(), o.obligations().end());

  // The risk level rises and the trigger is re-recorded: the clocks derived from either (ARMS,
  // trigger, RMP review, home visit) re-time under v2; the annual notification does not.
  const v1::Offender edited_from = o;
  o.set_owner_officer("dc.jones");
  o.set_risk_level(v1::RISK_LEVEL_HIGH);
  o.mutable_open_triggers(0)->set_note("re-recorded");
  const std::vector<v1::Obligation> after = Edited(edited_from, o, v2_);
  EXPECT_EQ(ClocksToRetime(&edited_from, o),
            Clocks({Clock::kArms, Clock::kArmsTrigger, Clock::kRmpReview, Clock::kHomeVisit}));
  ASSERT_THAT(Ids(after), ElementsAre("R1/arms", "R1/arms-trigger", "R1/rmp-review",
                                      "R1/notification", "R1/home-visit"));

  // v2, high: 2024-06-03 + 100 is 2024-09-11. Trigger: 2024-06-20 + 10 is 2024-06-30.
  EXPECT_THAT(after[0], EqualsProto(Expected(o, "arms", v1::OBLIGATION_KIND_ARMS_ASSESSMENT,
                                             EndOf(2024, 9, 11),
                                             "high risk: reassess within 100 days of last ARMS "
                                             "on 2024-06-03 (policy v2)",
                                             "v2", Local(2024, 6, 3, 15, 0))));
  EXPECT_THAT(after[1],
              EqualsProto(Expected(o, "arms-trigger", v1::OBLIGATION_KIND_ARMS_ASSESSMENT,
                                   EndOf(2024, 6, 30),
                                   "trigger (new intelligence on 2024-06-20): reassess within 10 "
                                   "days (policy v2)",
                                   "v2", Local(2024, 6, 20, 9, 0))));
  EXPECT_EQ(after[2].policy_version(), "v2");  // RMP review
  EXPECT_EQ(after[4].policy_version(), "v2");  // home visit
  // The notification's facts did not change: its v1 due time, with the new owner and risk.
  EXPECT_EQ(after[3].due_time().seconds(), before[3].due_time().seconds());
  EXPECT_EQ(after[3].reason(), before[3].reason());
  EXPECT_EQ(after[3].policy_version(), "v1");
  EXPECT_EQ(after[3].owner_officer(), "dc.jones");
  EXPECT_EQ(after[3].risk_level(), v1::RISK_LEVEL_HIGH);
}

TEST_F(ClocksTest, ClockThatNewlyAppliesIsDerivedUnderTheCurrentPolicy) {
  v1::Offender o = AssessedOffender();
  Settle(o, v1_);
  ASSERT_THAT(o.obligations(), ::testing::SizeIs(4));

  const v1::Offender edited_from = o;
  AddTrigger(o, v1::TRIGGER_TYPE_REFUSED_ACCESS, Local(2024, 6, 28, 19, 0));
  *o.mutable_change_pending_since() = ToProtoTime(Local(2024, 6, 27, 9, 0));
  const std::vector<v1::Obligation> after = Edited(edited_from, o, v2_);
  ASSERT_THAT(Ids(after),
              ElementsAre("R1/arms", "R1/arms-trigger", "R1/rmp-review", "R1/notification",
                          "R1/change-notification", "R1/home-visit"));
  // New under v2: trigger 2024-06-28 + 10 is 2024-07-08; change 2024-06-27 + 3 is 2024-06-30.
  EXPECT_THAT(after[1],
              EqualsProto(Expected(o, "arms-trigger", v1::OBLIGATION_KIND_ARMS_ASSESSMENT,
                                   EndOf(2024, 7, 8),
                                   "trigger (refused access on 2024-06-28): reassess within 10 "
                                   "days (policy v2)",
                                   "v2", Local(2024, 6, 28, 19, 0))));
  EXPECT_THAT(after[4],
              EqualsProto(Expected(o, "change-notification", v1::OBLIGATION_KIND_NOTIFICATION,
                                   EndOf(2024, 6, 30),
                                   "notify the change of 2024-06-27 within 3 days (SOA 2003 "
                                   "s.84) (policy v2)",
                                   "v2", Local(2024, 6, 27, 9, 0))));
  // Those open before stay on v1.
  EXPECT_EQ(after[0].policy_version(), "v1");
  EXPECT_EQ(DueOf(after[0]), EndOf(2025, 6, 3));
  EXPECT_EQ(after[2].policy_version(), "v1");
  EXPECT_EQ(DueOf(after[2]), EndOf(2024, 7, 1));
}

TEST_F(ClocksTest, ClockThatNoLongerAppliesIsDropped) {
  v1::Offender o = AssessedOffender();
  AddTrigger(o, v1::TRIGGER_TYPE_NEW_INTELLIGENCE, Local(2024, 6, 20, 9, 0));
  *o.mutable_change_pending_since() = ToProtoTime(Local(2024, 6, 25, 9, 0));
  Settle(o, v1_);
  ASSERT_EQ(o.obligations_size(), 6);

  // A new ARMS answered the trigger and the change was notified.
  const v1::Offender edited_from = o;
  o.clear_open_triggers();
  o.clear_change_pending_since();
  const std::vector<v1::Obligation> after = Edited(edited_from, o, v1_);
  EXPECT_THAT(Ids(after),
              ElementsAre("R1/arms", "R1/rmp-review", "R1/notification", "R1/home-visit"));
}

TEST_F(ClocksTest, RetimingEveryClockUnderTheSamePolicyChangesNothing) {
  v1::Offender o = AssessedOffender();
  AddTrigger(o, v1::TRIGGER_TYPE_NEW_INTELLIGENCE, Local(2024, 6, 20, 9, 0));
  Settle(o, v1_);
  const std::vector<v1::Obligation> before(o.obligations().begin(), o.obligations().end());
  const std::vector<v1::Obligation> after = Recompute(o, v1_);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) EXPECT_THAT(after[i], EqualsProto(before[i]));
}
}  // namespace
}  // namespace vigil::rso

namespace vigil::rso {
namespace {

// RMP history (#17): a current plan awaiting sign-off, and an imported last review.
class RmpClocksTest : public ClocksTest {
 protected:
  // AssessedOffender with plan P2 current, recorded 2024-06-20 14:00 and not yet signed off.
  v1::Offender PlannedOffender() const {
    v1::Offender o = AssessedOffender();
    *o.mutable_last_rmp_review_time() = ToProtoTime(Local(2024, 6, 18, 10, 0));
    o.mutable_visit_requirements()->set_plan_id("P2");
    *o.mutable_rmp_sign_off_pending_since() = ToProtoTime(Local(2024, 6, 20, 14, 0));
    return o;
  }
};

TEST_F(RmpClocksTest, RmpSignOffIsDue7LocalDaysAfterThePlanIsRecorded) {
  v1::Offender o = PlannedOffender();
  const std::vector<v1::Obligation> open = Recompute(o, v1_);
  const v1::Obligation* sign_off = Find(open, "R1/rmp-sign-off");
  ASSERT_NE(sign_off, nullptr);
  EXPECT_THAT(
      *sign_off,
      EqualsProto(Expected(o, "rmp-sign-off", v1::OBLIGATION_KIND_RMP_SIGN_OFF, EndOf(2024, 6, 27),
                           "supervisor sign-off of RMP P2 within 7 days of its recording "
                           "on 2024-06-20 (policy v1)",
                           "v1", Local(2024, 6, 20, 14, 0))));
}

TEST_F(RmpClocksTest, RmpSignOffDaysComeFromThePolicy) {
  v1::Offender o = PlannedOffender();
  v1::Policy three = v1_;
  three.set_rmp_sign_off_days(3);
  const std::vector<v1::Obligation> open = Recompute(o, three);
  const v1::Obligation* sign_off = Find(open, "R1/rmp-sign-off");
  ASSERT_NE(sign_off, nullptr);
  EXPECT_EQ(DueOf(*sign_off), EndOf(2024, 6, 23));
}

TEST_F(RmpClocksTest, PolicyWithoutRmpSignOffDaysUsesTheDefault7) {
  v1::Offender o = PlannedOffender();
  v1::Policy stored_before = v1_;
  stored_before.clear_rmp_sign_off_days();
  ASSERT_THAT(policy::ValidatePolicy(stored_before), IsOk());
  const std::vector<v1::Obligation> open = Recompute(o, stored_before);
  const v1::Obligation* sign_off = Find(open, "R1/rmp-sign-off");
  ASSERT_NE(sign_off, nullptr);
  EXPECT_EQ(DueOf(*sign_off), EndOf(2024, 6, 27));
}

TEST_F(RmpClocksTest, SigningOffTheCurrentPlanClosesTheSignOffClock) {
  v1::Offender o = PlannedOffender();
  Settle(o, v1_);
  ASSERT_NE(Find(std::vector<v1::Obligation>(o.obligations().begin(), o.obligations().end()),
                 "R1/rmp-sign-off"),
            nullptr);
  const v1::Offender before = o;
  o.clear_rmp_sign_off_pending_since();
  const std::vector<v1::Obligation> open = Edited(before, o, v1_);
  EXPECT_EQ(Find(open, "R1/rmp-sign-off"), nullptr);
  EXPECT_NE(Find(open, "R1/rmp-review"), nullptr);
}

TEST_F(RmpClocksTest, ANewCurrentPlanRetimesTheSignOffClockFromItsRecording) {
  v1::Offender o = PlannedOffender();
  Settle(o, v1_);
  const v1::Offender before = o;
  o.mutable_visit_requirements()->set_plan_id("P3");
  *o.mutable_rmp_sign_off_pending_since() = ToProtoTime(Local(2024, 6, 29, 9, 0));
  const std::vector<v1::Obligation> open = Edited(before, o, v1_);
  const v1::Obligation* sign_off = Find(open, "R1/rmp-sign-off");
  ASSERT_NE(sign_off, nullptr);
  EXPECT_EQ(DueOf(*sign_off), EndOf(2024, 7, 6));
  EXPECT_THAT(sign_off->reason(), ::testing::HasSubstr("RMP P3"));
}

TEST_F(RmpClocksTest, RmpReviewClockRunsFromTheLastReviewRecorded) {
  // Medium risk: 365 days from the review on 2024-06-18 (after the ARMS on 2024-06-03).
  v1::Offender o = PlannedOffender();
  const std::vector<v1::Obligation> open = Recompute(o, v1_);
  const v1::Obligation* review = Find(open, "R1/rmp-review");
  ASSERT_NE(review, nullptr);
  EXPECT_EQ(DueOf(*review), EndOf(2025, 6, 18));
}

class PausedStatusWithPlan : public RmpClocksTest,
                             public ::testing::WithParamInterface<v1::OffenderStatus> {};

TEST_P(PausedStatusWithPlan, KeepsTheRmpSignOffClock) {
  v1::Offender o = PlannedOffender();
  Settle(o, v1_);
  const v1::Offender before = o;
  o.set_status(GetParam());
  EXPECT_NE(Find(Edited(before, o, v1_), "R1/rmp-sign-off"), nullptr);
}

INSTANTIATE_TEST_SUITE_P(RmpClocksTest, PausedStatusWithPlan,
                         ::testing::Values(v1::OFFENDER_STATUS_IN_CUSTODY,
                                           v1::OFFENDER_STATUS_WANTED, v1::OFFENDER_STATUS_ABROAD),
                         [](const ::testing::TestParamInfo<v1::OffenderStatus>& param_info) {
                           return v1::OffenderStatus_Name(param_info.param);
                         });

TEST_F(RmpClocksTest, UnmanagedOffenderHasNoRmpSignOffClock) {
  v1::Offender o = PlannedOffender();
  o.set_status(v1::OFFENDER_STATUS_DECEASED);
  EXPECT_EQ(Find(Recompute(o, v1_), "R1/rmp-sign-off"), nullptr);
}

// --- The notification lifecycle --------------------------------------------------------------

TEST_F(ClocksTest, InitialNotificationIsTheOnlyClockUntilRegistration) {
  v1::Offender o = NewOffender();
  o.clear_registered_time();
  *o.mutable_requirement_start_time() = ToProtoTime(Local(2024, 6, 28, 9, 0));
  const std::vector<v1::Obligation> open = Recompute(o, v1_);
  ASSERT_THAT(Ids(open), ElementsAre("R1/initial-notification"));
  EXPECT_THAT(open[0], EqualsProto(Expected(o, "initial-notification",
                                            v1::OBLIGATION_KIND_NOTIFICATION, EndOf(2024, 7, 1),
                                            "initial notification within 3 days of the requirement "
                                            "starting on 2024-06-28 (SOA 2003 s.83) (policy v1)",
                                            "v1", Local(2024, 6, 28, 9, 0))));
}

TEST_F(ClocksTest, RegistrationMeetsTheInitialNotification) {
  v1::Offender o = NewOffender();
  *o.mutable_requirement_start_time() = ToProtoTime(Local(2024, 5, 8, 9, 0));
  EXPECT_THAT(Ids(Recompute(o, v1_)), ElementsAre("R1/arms", "R1/notification", "R1/home-visit"));
}

TEST_F(ClocksTest, IndefiniteReviewIsDue15YearsAfterTheFirstNotification) {
  v1::Offender o = NewOffender();
  o.set_notification_period(v1::NOTIFICATION_PERIOD_INDEFINITE);
  const std::vector<v1::Obligation> open = Recompute(o, v1_);
  const v1::Obligation* review = Find(open, "R1/notification-review");
  ASSERT_NE(review, nullptr);
  EXPECT_THAT(*review, EqualsProto(Expected(
                           o, "notification-review", v1::OBLIGATION_KIND_NOTIFICATION_REVIEW,
                           EndOf(2039, 5, 10),
                           "review of the indefinite notification requirement 15 years after "
                           "the first notification on 2024-05-10 (SOA 2003 s.91B) (policy v1)",
                           "v1", Local(2024, 5, 10, 10, 0))));
}

TEST_F(ClocksTest, IndefiniteReviewIsDue8YearsOnWhenUnder18AtConviction) {
  v1::Offender o = NewOffender();
  o.set_notification_period(v1::NOTIFICATION_PERIOD_INDEFINITE);
  o.set_under_18_at_conviction(true);
  const std::vector<v1::Obligation> open = Recompute(o, v1_);
  const v1::Obligation* review = Find(open, "R1/notification-review");
  ASSERT_NE(review, nullptr);
  EXPECT_EQ(DueOf(*review), EndOf(2032, 5, 10));
}

TEST_F(ClocksTest, IndefiniteReviewContinuedIsDueWhenTheReviewSaid) {
  v1::Offender o = NewOffender();
  o.set_notification_period(v1::NOTIFICATION_PERIOD_INDEFINITE);
  Settle(o, v1_);
  const v1::Offender before = o;
  v1::NotificationReview* review = o.add_notification_reviews();
  review->set_outcome(v1::NOTIFICATION_REVIEW_OUTCOME_CONTINUED);
  *review->mutable_decision_time() = ToProtoTime(Local(2039, 5, 1, 11, 0));
  *review->mutable_next_review_time() = ToProtoTime(EndOf(2047, 5, 1));
  const std::vector<v1::Obligation> open = Edited(before, o, v1_);
  const v1::Obligation* next = Find(open, "R1/notification-review");
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(DueOf(*next), EndOf(2047, 5, 1));
  EXPECT_EQ(next->reason(),
            "review of the indefinite notification requirement, continued on 2039-05-01 until "
            "this review (SOA 2003 s.91D) (policy v1)");
}

TEST_F(ClocksTest, FixedPeriodsHaveNoReviewClock) {
  v1::Offender o = NewOffender();
  EXPECT_EQ(Find(Recompute(o, v1_), "R1/notification-review"), nullptr);
}

TEST_F(ClocksTest, PeriodEndEndsTheRequirementWithTheReason) {
  v1::Offender o = NewOffender();
  *o.mutable_notification_end_time() = ToProtoTime(EndOf(2034, 5, 10));
  EXPECT_FALSE(EndedRequirement(o, EndOf(2034, 5, 10) - absl::Seconds(1), london_).has_value());
  std::optional<RequirementEnd> ended = EndedRequirement(o, EndOf(2034, 5, 10), london_);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->time, EndOf(2034, 5, 10));
  EXPECT_EQ(ended->reason, "the 10-year notification period ended on 2034-05-10");
  o.set_under_18_at_conviction(true);
  o.set_notification_period(v1::NOTIFICATION_PERIOD_7_YEARS);
  EXPECT_EQ(EndedRequirement(o, EndOf(2034, 5, 10), london_)->reason,
            "the 42-month notification period (halved: under 18 at conviction) ended on "
            "2034-05-10");
}

TEST_F(ClocksTest, IndefiniteRequirementEndsOnlyByAReviewThatEndsIt) {
  v1::Offender o = NewOffender();
  o.set_notification_period(v1::NOTIFICATION_PERIOD_INDEFINITE);
  EXPECT_FALSE(EndedRequirement(o, EndOf(2090, 1, 1), london_).has_value());
  v1::NotificationReview* review = o.add_notification_reviews();
  review->set_outcome(v1::NOTIFICATION_REVIEW_OUTCOME_ENDED);
  *review->mutable_decision_time() = ToProtoTime(Local(2039, 5, 1, 11, 0));
  review->set_decided_by("Supt Jones");
  review->set_reason("no longer poses a risk");
  std::optional<RequirementEnd> ended = EndedRequirement(o, EndOf(2039, 5, 1), london_);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->reason,
            "the indefinite notification requirement was ended by the review of 2039-05-01 "
            "(Supt Jones): no longer poses a risk");
  EXPECT_EQ(Find(Recompute(o, v1_), "R1/notification-review"), nullptr);
}

}  // namespace
}  // namespace vigil::rso
