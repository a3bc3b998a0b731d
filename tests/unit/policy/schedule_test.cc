#include "services/policy/schedule.h"

#include <array>
#include <optional>
#include <ostream>
#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "base/proto_time.h"
#include "gtest/gtest.h"
#include "services/policy/calendar.h"
#include "services/policy/policy.h"

namespace vigil::policy {

// For readable failures of EXPECT_EQ on whole due times; found by argument-dependent lookup, so
// it lives in DueTime's namespace (with internal linkage).
static void PrintTo(const DueTime& due, std::ostream* os) {
  *os << "{" << due.due << ", \"" << due.reason << "\", \"" << due.policy_version << "\", "
      << due.start << "}";
}

namespace {

// Expected values are written out by hand (dates) and turned into instants with absl::FromCivil
// in Europe/London, never with the functions under test.
class ScheduleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<absl::TimeZone> zone = ForceTimeZone();
    ASSERT_TRUE(zone.ok()) << zone.status();
    london_ = *zone;
    policy_ = DefaultPolicy();
    policy_.set_version("v1");
  }

  // A local wall-clock time in London.
  absl::Time Local(int y, int m, int d, int hh = 0, int mm = 0) const {
    return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), london_);
  }
  static absl::Time Utc(int y, int m, int d, int hh = 0, int mm = 0) {
    return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), absl::UTCTimeZone());
  }
  // When a duty due by the end of local day y-m-d becomes overdue: local midnight after it.
  absl::Time EndOf(int y, int m, int d) const {
    return absl::FromCivil(absl::CivilDay(y, m, d) + 1, london_);
  }

  absl::TimeZone london_;
  v1::Policy policy_;
};

struct TierCase {
  v1::RiskLevel risk;
  const char* name;
  int days;
  absl::CivilDay due_day;  // the last local day on which the duty is on time
};

// From 2024-03-02: +365 is 2025-03-02 (29 Feb 2024 is behind), +180 is 2024-08-29, +90 is
// 2024-05-31.
constexpr TierCase kTiersFrom20240302[] = {
    {v1::RISK_LEVEL_LOW, "low", 365, absl::CivilDay(2025, 3, 2)},
    {v1::RISK_LEVEL_MEDIUM, "medium", 365, absl::CivilDay(2025, 3, 2)},
    {v1::RISK_LEVEL_HIGH, "high", 180, absl::CivilDay(2024, 8, 29)},
    {v1::RISK_LEVEL_VERY_HIGH, "very high", 90, absl::CivilDay(2024, 5, 31)},
};

// ---------------------------------------------------------------------------------------------
// DueAfterDays: the end of local day D + N.

using DueBoundary = ScheduleTest;

TEST_F(DueBoundary, DueAtTheFirstInstantOfTheDayAfterTheLastDay) {
  // 2024-01-15 + 28 days is 2024-02-12; the duty is overdue from local midnight starting the 13th.
  const absl::Time due = DueAfterDays(Local(2024, 1, 15, 9, 0), 28, london_);
  EXPECT_EQ(due, Utc(2024, 2, 13, 0, 0));  // GMT: local midnight is UTC midnight
  EXPECT_EQ(absl::ToCivilSecond(due, london_), absl::CivilSecond(2024, 2, 13, 0, 0, 0));
}

TEST_F(DueBoundary, OneMicrosecondBeforeTheDueInstantIsStillOnTheLastDay) {
  const absl::Time due = DueAfterDays(Local(2024, 1, 15, 9, 0), 28, london_);
  const absl::Time last = due - absl::Microseconds(1);
  EXPECT_LT(last, due);
  EXPECT_EQ(absl::ToCivilSecond(last, london_), absl::CivilSecond(2024, 2, 12, 23, 59, 59));
  EXPECT_EQ(absl::ToCivilDay(last, london_), absl::CivilDay(2024, 2, 12));
  EXPECT_EQ(last, Utc(2024, 2, 12, 23, 59) + absl::Seconds(59) + absl::Microseconds(999999));
}

TEST_F(DueBoundary, DueInstantIsLocalMidnightInSummerTime) {
  // 2024-06-01 + 30 days is 2024-07-01; local midnight after it is 23:00 UTC on the 1st.
  const absl::Time due = DueAfterDays(Local(2024, 6, 1, 15, 45), 30, london_);
  EXPECT_EQ(due, Utc(2024, 7, 1, 23, 0));
  EXPECT_EQ(absl::ToCivilSecond(due, london_), absl::CivilSecond(2024, 7, 2, 0, 0, 0));
  EXPECT_EQ(absl::ToCivilDay(due - absl::Microseconds(1), london_), absl::CivilDay(2024, 7, 1));
}

TEST_F(DueBoundary, TimeOfDayOfTheBaseDoesNotMatter) {
  const absl::Time expected = EndOf(2024, 2, 12);
  EXPECT_EQ(DueAfterDays(Local(2024, 1, 15, 0, 0), 28, london_), expected);
  EXPECT_EQ(DueAfterDays(Local(2024, 1, 15, 12, 0), 28, london_), expected);
  EXPECT_EQ(DueAfterDays(Local(2024, 1, 15, 23, 59) + absl::Seconds(59), 28, london_), expected);
}

TEST_F(DueBoundary, ZeroDaysIsDueByTheEndOfTheSameLocalDay) {
  EXPECT_EQ(DueAfterDays(Local(2024, 2, 1, 0, 0), 0, london_), Utc(2024, 2, 2, 0, 0));
  EXPECT_EQ(DueAfterDays(Local(2024, 8, 1, 23, 30), 0, london_), Utc(2024, 8, 1, 23, 0));
}

TEST_F(DueBoundary, LateEveningInSummerCountsFromTheLocalDateNotTheUtcDate) {
  // 23:30 BST on 2024-06-30 is 22:30 UTC the same day: day 0 is 2024-06-30 either way.
  const absl::Time assessed = Utc(2024, 6, 30, 22, 30);
  ASSERT_EQ(absl::ToCivilSecond(assessed, london_), absl::CivilSecond(2024, 6, 30, 23, 30, 0));
  EXPECT_EQ(DueAfterDays(assessed, 365, london_), EndOf(2025, 6, 30));
  EXPECT_EQ(DueAfterDays(assessed, 365, london_), Utc(2025, 6, 30, 23, 0));
}

TEST_F(DueBoundary, JustAfterLocalMidnightInSummerCountsFromTheNewLocalDay) {
  // 00:30 BST on 2024-07-01 is 23:30 UTC on 2024-06-30: day 0 is 2024-07-01 (London), not the
  // UTC date.
  const absl::Time assessed = Utc(2024, 6, 30, 23, 30);
  ASSERT_EQ(absl::ToCivilSecond(assessed, london_), absl::CivilSecond(2024, 7, 1, 0, 30, 0));
  EXPECT_EQ(DueAfterDays(assessed, 365, london_), EndOf(2025, 7, 1));
  EXPECT_EQ(DueAfterDays(assessed, 365, london_), Utc(2025, 7, 1, 23, 0));
}

TEST_F(DueBoundary, CountingAcrossTheSpringChangeEndsAtLocalMidnightInSummerTime) {
  // Clocks went forward at 01:00 GMT on 2024-03-31. 2024-03-20 + 28 is 2024-04-17 (BST).
  const absl::Time due = DueAfterDays(Local(2024, 3, 20, 10, 0), 28, london_);
  EXPECT_EQ(due, Utc(2024, 4, 17, 23, 0));
  EXPECT_EQ(absl::ToCivilSecond(due, london_), absl::CivilSecond(2024, 4, 18, 0, 0, 0));
}

TEST_F(DueBoundary, LastDayOnTheSpringChangeDayHasTwentyThreeHours) {
  // 2024-03-03 + 28 is 2024-03-31, the short day: it ends at 23:00 UTC.
  const absl::Time due = DueAfterDays(Local(2024, 3, 3, 9, 0), 28, london_);
  EXPECT_EQ(due, Utc(2024, 3, 31, 23, 0));
  EXPECT_EQ(due - Local(2024, 3, 31, 0, 0), absl::Hours(23));
  // From local midnight on the 30th, one day ahead is 47 hours, not 48.
  EXPECT_EQ(DueAfterDays(Local(2024, 3, 30), 1, london_) - Local(2024, 3, 30), absl::Hours(47));
}

TEST_F(DueBoundary, CountingAcrossTheAutumnChangeEndsAtLocalMidnightInWinterTime) {
  // Clocks went back at 02:00 BST on 2024-10-27. 23:30 BST on 2024-10-20 is 22:30 UTC; +7 days
  // is 2024-10-27, which ends at midnight GMT.
  const absl::Time assessed = Utc(2024, 10, 20, 22, 30);
  ASSERT_EQ(absl::ToCivilDay(assessed, london_), absl::CivilDay(2024, 10, 20));
  const absl::Time due = DueAfterDays(assessed, 7, london_);
  EXPECT_EQ(due, Utc(2024, 10, 28, 0, 0));
  EXPECT_EQ(absl::ToCivilSecond(due, london_), absl::CivilSecond(2024, 10, 28, 0, 0, 0));
  // The 25-hour day: from local midnight on the 26th, one day ahead is 49 hours.
  EXPECT_EQ(DueAfterDays(Local(2024, 10, 26), 1, london_) - Local(2024, 10, 26), absl::Hours(49));
}

TEST_F(DueBoundary, ThreeHundredSixtyFiveDaysFromMarch2023LandsOnTheLeapDay) {
  EXPECT_EQ(DueAfterDays(Local(2023, 3, 1, 11, 0), 365, london_), EndOf(2024, 2, 29));
  EXPECT_EQ(DueAfterDays(Local(2023, 3, 1, 11, 0), 365, london_), Utc(2024, 3, 1, 0, 0));
}

TEST_F(DueBoundary, ThreeHundredSixtyFiveDaysOverALeapDayIsOneDayShortOfTheAnniversary) {
  EXPECT_EQ(DueAfterDays(Local(2024, 2, 28, 11, 0), 365, london_), EndOf(2025, 2, 27));
  EXPECT_EQ(DueAfterDays(Local(2024, 3, 1, 11, 0), 365, london_), EndOf(2025, 3, 1));
}

// ---------------------------------------------------------------------------------------------
// ARMS.

using ArmsSchedule = ScheduleTest;

TEST_F(ArmsSchedule, EachRiskTierIsReassessedWithinItsIntervalOfTheLastArms) {
  const absl::Time registered = Local(2023, 11, 1, 9, 0);
  const absl::Time last_arms = Local(2024, 3, 2, 14, 0);
  for (const TierCase& tier : kTiersFrom20240302) {
    SCOPED_TRACE(tier.name);
    const DueTime due = ArmsDue(policy_, registered, last_arms, tier.risk, london_);
    EXPECT_EQ(due.due, absl::FromCivil(tier.due_day + 1, london_));
    EXPECT_EQ(due.reason, std::string(tier.name) + " risk: reassess within " +
                              std::to_string(tier.days) +
                              " days of last ARMS on 2024-03-02 (policy v1)");
    EXPECT_EQ(due.policy_version, "v1");
  }
}

TEST_F(ArmsSchedule, MediumRiskReassessedWithin365DaysOfLastArms) {
  const DueTime due = ArmsDue(policy_, Local(2023, 11, 1, 9, 0), Local(2024, 3, 2, 14, 0),
                              v1::RISK_LEVEL_MEDIUM, london_);
  EXPECT_EQ(due, (DueTime{Utc(2025, 3, 3, 0, 0),
                          "medium risk: reassess within 365 days of last ARMS on 2024-03-02 "
                          "(policy v1)",
                          "v1", Local(2024, 3, 2, 14, 0)}));
}

TEST_F(ArmsSchedule, VeryHighRiskReassessedWithin90DaysOfLastArms) {
  const DueTime due = ArmsDue(policy_, Local(2023, 11, 1, 9, 0), Local(2024, 3, 2, 14, 0),
                              v1::RISK_LEVEL_VERY_HIGH, london_);
  // 2024-05-31 ends at midnight BST, 23:00 UTC.
  EXPECT_EQ(due.due, Utc(2024, 5, 31, 23, 0));
  EXPECT_EQ(due.reason,
            "very high risk: reassess within 90 days of last ARMS on 2024-03-02 (policy v1)");
}

TEST_F(ArmsSchedule, NotAssessedOffenderNeedsInitialArmsWithin28DaysOfRegistration) {
  // 2024-05-10 + 28 is 2024-06-07.
  const DueTime due = ArmsDue(policy_, Local(2024, 5, 10, 10, 0), std::nullopt,
                              v1::RISK_LEVEL_UNSPECIFIED, london_);
  EXPECT_EQ(due.due, EndOf(2024, 6, 7));
  EXPECT_EQ(due.due, Utc(2024, 6, 7, 23, 0));
  EXPECT_EQ(due.reason,
            "not assessed: initial ARMS within 28 days of registration on 2024-05-10 (policy v1)");
  EXPECT_EQ(due.policy_version, "v1");
}

TEST_F(ArmsSchedule, InitialArmsCountsFromTheLocalDateOfRegistration) {
  // Registered 00:15 BST on 2024-08-01, which is 23:15 UTC on 2024-07-31.
  const DueTime due =
      ArmsDue(policy_, Utc(2024, 7, 31, 23, 15), std::nullopt, v1::RISK_LEVEL_UNSPECIFIED, london_);
  EXPECT_EQ(due.due, EndOf(2024, 8, 29));
  EXPECT_EQ(due.reason,
            "not assessed: initial ARMS within 28 days of registration on 2024-08-01 (policy v1)");
}

TEST_F(ArmsSchedule, LowRiskAssessedOnFirstOfMarch2023IsDueOnTheLeapDay) {
  const DueTime due =
      ArmsDue(policy_, Local(2022, 1, 1), Local(2023, 3, 1, 10, 0), v1::RISK_LEVEL_LOW, london_);
  EXPECT_EQ(due.due, EndOf(2024, 2, 29));
  EXPECT_EQ(due.reason,
            "low risk: reassess within 365 days of last ARMS on 2023-03-01 (policy v1)");
}

TEST_F(ArmsSchedule, AssessmentLateOnALocalSummerEveningCountsFromThatLocalDay) {
  const DueTime due =
      ArmsDue(policy_, Local(2024, 1, 1), Utc(2024, 6, 30, 22, 30), v1::RISK_LEVEL_MEDIUM, london_);
  EXPECT_EQ(due.due, EndOf(2025, 6, 30));
  EXPECT_EQ(due.reason,
            "medium risk: reassess within 365 days of last ARMS on 2024-06-30 (policy v1)");
}

TEST_F(ArmsSchedule, AssessmentJustAfterLocalMidnightCountsFromTheNewLocalDay) {
  const DueTime due =
      ArmsDue(policy_, Local(2024, 1, 1), Utc(2024, 6, 30, 23, 30), v1::RISK_LEVEL_MEDIUM, london_);
  EXPECT_EQ(due.due, EndOf(2025, 7, 1));
  EXPECT_EQ(due.reason,
            "medium risk: reassess within 365 days of last ARMS on 2024-07-01 (policy v1)");
}

TEST_F(ArmsSchedule, UnversionedPolicySaysSoInTheReason) {
  policy_.clear_version();
  const DueTime due =
      ArmsDue(policy_, Local(2023, 11, 1), Local(2024, 3, 2, 14, 0), v1::RISK_LEVEL_HIGH, london_);
  EXPECT_EQ(due.reason,
            "high risk: reassess within 180 days of last ARMS on 2024-03-02 (policy unversioned)");
  EXPECT_EQ(due.policy_version, "");
}

TEST_F(ArmsSchedule, TriggerMakesReassessmentDueIn28Days) {
  // 2024-04-03 + 28 is 2024-05-01.
  const DueTime due = ArmsTriggerDue(policy_, v1::TRIGGER_TYPE_ADDRESS_OR_HOUSEHOLD_CHANGE,
                                     Local(2024, 4, 3, 9, 0), london_);
  EXPECT_EQ(due, (DueTime{Utc(2024, 5, 1, 23, 0),
                          "trigger (address or household change on 2024-04-03): reassess within "
                          "28 days (policy v1)",
                          "v1", Local(2024, 4, 3, 9, 0)}));
}

TEST_F(ArmsSchedule, TriggerAcrossTheAutumnChangeEndsAtMidnightGmt) {
  // 2024-10-10 + 28 is 2024-11-07 (GMT).
  const DueTime due =
      ArmsTriggerDue(policy_, v1::TRIGGER_TYPE_REFUSED_ACCESS, Local(2024, 10, 10, 18, 0), london_);
  EXPECT_EQ(due.due, Utc(2024, 11, 8, 0, 0));
  EXPECT_EQ(due.reason,
            "trigger (refused access on 2024-10-10): reassess within 28 days (policy v1)");
}

TEST_F(ArmsSchedule, EveryTriggerTypeIsNamedInTheReason) {
  struct Case {
    v1::TriggerType type;
    const char* name;
  };
  constexpr Case kCases[] = {
      {v1::TRIGGER_TYPE_NEW_INTELLIGENCE, "new intelligence"},
      {v1::TRIGGER_TYPE_ADDRESS_OR_HOUSEHOLD_CHANGE, "address or household change"},
      {v1::TRIGGER_TYPE_CHILD_IN_HOUSEHOLD, "child in household"},
      {v1::TRIGGER_TYPE_ARREST_OR_BREACH, "arrest or breach"},
      {v1::TRIGGER_TYPE_RELEASE_FROM_CUSTODY, "release from custody"},
      {v1::TRIGGER_TYPE_MAPPA_LEVEL_CHANGE, "MAPPA level change"},
      {v1::TRIGGER_TYPE_REFUSED_ACCESS, "refused access"},
      {v1::TRIGGER_TYPE_UNSPECIFIED, "unspecified trigger"},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(TriggerName(c.type), c.name);
    EXPECT_EQ(
        ArmsTriggerDue(policy_, c.type, Local(2024, 1, 5, 12, 0), london_).reason,
        std::string("trigger (") + c.name + " on 2024-01-05): reassess within 28 days (policy v1)");
    EXPECT_EQ(ArmsTriggerDue(policy_, c.type, Local(2024, 1, 5, 12, 0), london_).due,
              EndOf(2024, 2, 2));
  }
}

// ---------------------------------------------------------------------------------------------
// RMP review.

using RmpSchedule = ScheduleTest;

TEST_F(RmpSchedule, NoReviewIsDueBeforeTheFirstArms) {
  EXPECT_EQ(RmpReviewDue(policy_, std::nullopt, std::nullopt, v1::RISK_LEVEL_UNSPECIFIED, london_),
            std::nullopt);
  EXPECT_EQ(RmpReviewDue(policy_, std::nullopt, Local(2024, 1, 1), v1::RISK_LEVEL_HIGH, london_),
            std::nullopt);
}

TEST_F(RmpSchedule, ReviewDueWithin28DaysOfAnArmsNotYetFollowedByAReview) {
  // 2024-03-02 + 28 is 2024-03-30 (GMT; the clocks change the next night).
  const std::optional<DueTime> due =
      RmpReviewDue(policy_, Local(2024, 3, 2, 14, 0), std::nullopt, v1::RISK_LEVEL_MEDIUM, london_);
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(*due, (DueTime{Utc(2024, 3, 31, 0, 0),
                           "review the RMP within 28 days of the ARMS on 2024-03-02 (policy v1)",
                           "v1", Local(2024, 3, 2, 14, 0)}));
}

TEST_F(RmpSchedule, EachRiskTierIsReviewedWithinItsIntervalOfTheLastReview) {
  // The review on 2024-03-02 answered the ARMS of 2024-01-10, so only the periodic clock runs.
  const absl::Time last_arms = Local(2024, 1, 10, 10, 0);
  const absl::Time last_review = Local(2024, 3, 2, 16, 0);
  for (const TierCase& tier : kTiersFrom20240302) {
    SCOPED_TRACE(tier.name);
    const std::optional<DueTime> due =
        RmpReviewDue(policy_, last_arms, last_review, tier.risk, london_);
    ASSERT_TRUE(due.has_value());
    EXPECT_EQ(due->due, absl::FromCivil(tier.due_day + 1, london_));
    EXPECT_EQ(due->reason, std::string(tier.name) + " risk: review the RMP within " +
                               std::to_string(tier.days) +
                               " days of the last review on 2024-03-02 (policy v1)");
    EXPECT_EQ(due->policy_version, "v1");
  }
}

TEST_F(RmpSchedule, ReviewAfterTheArmsLeavesOnlyThePeriodicClock) {
  // ARMS 2024-03-02, review 2024-03-05, medium: 2025-03-05, not 2024-03-30.
  const std::optional<DueTime> due = RmpReviewDue(
      policy_, Local(2024, 3, 2, 9, 0), Local(2024, 3, 5, 9, 0), v1::RISK_LEVEL_MEDIUM, london_);
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(due->due, EndOf(2025, 3, 5));
  EXPECT_EQ(due->reason,
            "medium risk: review the RMP within 365 days of the last review on 2024-03-05 "
            "(policy v1)");
}

TEST_F(RmpSchedule, AfterArmsClockWinsWhenEarlierThanThePeriodicOne) {
  // Review 2024-02-20, very high: periodic by 2024-05-20. ARMS 2024-03-02: by 2024-03-30.
  const std::optional<DueTime> due =
      RmpReviewDue(policy_, Local(2024, 3, 2, 9, 0), Local(2024, 2, 20, 9, 0),
                   v1::RISK_LEVEL_VERY_HIGH, london_);
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(due->due, EndOf(2024, 3, 30));
  EXPECT_EQ(due->reason, "review the RMP within 28 days of the ARMS on 2024-03-02 (policy v1)");
}

TEST_F(RmpSchedule, PeriodicClockWinsWhenEarlierThanTheAfterArmsOne) {
  // Review 2024-01-01, very high: periodic by 2024-03-31. ARMS 2024-03-20: by 2024-04-17.
  const std::optional<DueTime> due =
      RmpReviewDue(policy_, Local(2024, 3, 20, 9, 0), Local(2024, 1, 1, 9, 0),
                   v1::RISK_LEVEL_VERY_HIGH, london_);
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(due->due, EndOf(2024, 3, 31));
  EXPECT_EQ(due->due, Utc(2024, 3, 31, 23, 0));  // the short day of the spring change
  EXPECT_EQ(due->reason,
            "very high risk: review the RMP within 90 days of the last review on 2024-01-01 "
            "(policy v1)");
}

TEST_F(RmpSchedule, OverduePeriodicReviewIsNotPostponedByANewArms) {
  // Review 2023-06-01, high: periodic by 2023-11-28, already past when the ARMS of 2024-03-02
  // asks for a review by 2024-03-30. The earlier stands.
  const std::optional<DueTime> due = RmpReviewDue(
      policy_, Local(2024, 3, 2, 9, 0), Local(2023, 6, 1, 9, 0), v1::RISK_LEVEL_HIGH, london_);
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(due->due, EndOf(2023, 11, 28));
  EXPECT_EQ(due->reason,
            "high risk: review the RMP within 180 days of the last review on 2023-06-01 "
            "(policy v1)");
}

// ---------------------------------------------------------------------------------------------
// Notification (SOA 2003 ss.84, 85) and the notification period.

using NotificationSchedule = ScheduleTest;

TEST_F(NotificationSchedule, AnnualReNotificationDueOnTheSameDateAYearOn) {
  const DueTime due = AnnualNotificationDue(policy_, Local(2024, 7, 15, 11, 0), london_);
  EXPECT_EQ(due, (DueTime{Utc(2025, 7, 15, 23, 0),
                          "annual re-notification within a year of the last on 2024-07-15 "
                          "(SOA 2003 s.85) (policy v1)",
                          "v1", Local(2024, 7, 15, 11, 0)}));
}

TEST_F(NotificationSchedule, AnnualReNotificationFromTheLeapDayIsDueByTheEndOfFirstMarch) {
  const DueTime due = AnnualNotificationDue(policy_, Local(2024, 2, 29, 12, 0), london_);
  EXPECT_EQ(due.due, EndOf(2025, 3, 1));
  EXPECT_EQ(due.due, Utc(2025, 3, 2, 0, 0));
  EXPECT_EQ(absl::ToCivilSecond(due.due, london_), absl::CivilSecond(2025, 3, 2, 0, 0, 0));
  EXPECT_EQ(due.reason,
            "annual re-notification within a year of the last on 2024-02-29 (SOA 2003 s.85) "
            "(policy v1)");
}

TEST_F(NotificationSchedule, AnnualReNotificationInALeapYearIsTheCalendarDateNot365Days) {
  // 2023-03-10 to 2024-03-10 is 366 days: the law counts a year, not 365 days.
  const DueTime due = AnnualNotificationDue(policy_, Local(2023, 3, 10, 12, 0), london_);
  EXPECT_EQ(due.due, EndOf(2024, 3, 10));
}

TEST_F(NotificationSchedule, AnnualReNotificationCountsFromTheLocalDate) {
  // 00:30 BST on 2024-07-01 is 23:30 UTC on 2024-06-30.
  const DueTime due = AnnualNotificationDue(policy_, Utc(2024, 6, 30, 23, 30), london_);
  EXPECT_EQ(due.due, EndOf(2025, 7, 1));
  EXPECT_EQ(due.reason,
            "annual re-notification within a year of the last on 2024-07-01 (SOA 2003 s.85) "
            "(policy v1)");
}

TEST_F(NotificationSchedule, ChangeMustBeNotifiedWithin3Days) {
  // Changed 2024-10-25 (BST); +3 is 2024-10-28, after the clocks went back.
  const DueTime due =
      ChangeNotificationDue(policy_, Local(2024, 10, 25, 16, 0), "new address", london_);
  EXPECT_EQ(due, (DueTime{Utc(2024, 10, 29, 0, 0),
                          "notify the change of 2024-10-25 (new address) within 3 days "
                          "(SOA 2003 s.84) (policy v1)",
                          "v1", Local(2024, 10, 25, 16, 0)}));
}

TEST_F(NotificationSchedule, ChangeWithoutANoteLeavesTheParenthesesOut) {
  const DueTime due = ChangeNotificationDue(policy_, Local(2024, 6, 1, 9, 0), "", london_);
  EXPECT_EQ(due.due, EndOf(2024, 6, 4));
  EXPECT_EQ(due.reason,
            "notify the change of 2024-06-01 within 3 days (SOA 2003 s.84) (policy v1)");
}

TEST_F(NotificationSchedule, ChangeNotificationDoesNotDependOnPolicyIntervals) {
  v1::Policy other = policy_;
  other.set_version("v9");
  other.set_arms_trigger_days(1);
  other.set_arms_initial_days(1);
  const DueTime due = ChangeNotificationDue(other, Local(2024, 6, 1, 9, 0), "", london_);
  EXPECT_EQ(due.due, EndOf(2024, 6, 4));
  EXPECT_EQ(due.policy_version, "v9");
}

using NotificationPeriodEnd = ScheduleTest;

TEST_F(NotificationPeriodEnd, EachFixedPeriodEndsThatManyYearsAfterRegistration) {
  struct Case {
    v1::NotificationPeriod period;
    bool under_18;
    absl::CivilDay last_day;
  };
  // Registered 2020-06-15. Under 18 at conviction: 10 -> 5 years, 7 -> 3.5, 5 -> 2.5, 2 -> 1.
  const Case kCases[] = {
      {v1::NOTIFICATION_PERIOD_10_YEARS, false, absl::CivilDay(2030, 6, 15)},
      {v1::NOTIFICATION_PERIOD_7_YEARS, false, absl::CivilDay(2027, 6, 15)},
      {v1::NOTIFICATION_PERIOD_5_YEARS, false, absl::CivilDay(2025, 6, 15)},
      {v1::NOTIFICATION_PERIOD_2_YEARS, false, absl::CivilDay(2022, 6, 15)},
      {v1::NOTIFICATION_PERIOD_10_YEARS, true, absl::CivilDay(2025, 6, 15)},
      {v1::NOTIFICATION_PERIOD_7_YEARS, true, absl::CivilDay(2023, 12, 15)},
      {v1::NOTIFICATION_PERIOD_5_YEARS, true, absl::CivilDay(2022, 12, 15)},
      {v1::NOTIFICATION_PERIOD_2_YEARS, true, absl::CivilDay(2021, 6, 15)},
  };
  const absl::Time registered = Local(2020, 6, 15, 10, 0);
  for (const Case& c : kCases) {
    SCOPED_TRACE(::testing::Message()
                 << v1::NotificationPeriod_Name(c.period) << (c.under_18 ? " under 18" : ""));
    const std::optional<absl::Time> end =
        NotificationEnd(c.period, c.under_18, registered, london_);
    ASSERT_TRUE(end.has_value());
    EXPECT_EQ(*end, absl::FromCivil(c.last_day + 1, london_));
  }
}

TEST_F(NotificationPeriodEnd, TenYearsEndsAtLocalMidnightAfterTheAnniversary) {
  const std::optional<absl::Time> end =
      NotificationEnd(v1::NOTIFICATION_PERIOD_10_YEARS, false, Local(2020, 6, 15, 10, 0), london_);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(*end, Utc(2030, 6, 15, 23, 0));
}

TEST_F(NotificationPeriodEnd, UnderEighteenHalvesThePeriod) {
  const absl::Time registered = Local(2020, 1, 20, 10, 0);
  EXPECT_EQ(NotificationEnd(v1::NOTIFICATION_PERIOD_10_YEARS, true, registered, london_),
            EndOf(2025, 1, 20));
  EXPECT_EQ(NotificationEnd(v1::NOTIFICATION_PERIOD_10_YEARS, false, registered, london_),
            EndOf(2030, 1, 20));
}

TEST_F(NotificationPeriodEnd, IndefiniteOrUnknownPeriodNeverEnds) {
  const absl::Time registered = Local(2020, 6, 15, 10, 0);
  EXPECT_EQ(NotificationEnd(v1::NOTIFICATION_PERIOD_INDEFINITE, false, registered, london_),
            std::nullopt);
  EXPECT_EQ(NotificationEnd(v1::NOTIFICATION_PERIOD_INDEFINITE, true, registered, london_),
            std::nullopt);
  EXPECT_EQ(NotificationEnd(v1::NOTIFICATION_PERIOD_UNSPECIFIED, false, registered, london_),
            std::nullopt);
}

TEST_F(NotificationPeriodEnd, CountsFromTheLocalDateOfRegistration) {
  // 00:30 BST on 2020-07-01 is 23:30 UTC on 2020-06-30.
  EXPECT_EQ(
      NotificationEnd(v1::NOTIFICATION_PERIOD_2_YEARS, false, Utc(2020, 6, 30, 23, 30), london_),
      EndOf(2022, 7, 1));
}

// The escalation ladder, acknowledgement expiry and the visit-plan horizon count local calendar
// days, like every other clock: across a clock change a "day" is 23 or 25 hours.
using AlertSchedule = ScheduleTest;

TEST_F(AlertSchedule, VeryHighRiskRungsAreOneThreeAndSevenLocalDaysLater) {
  const std::array<DueTime, 3> rungs =
      EscalationRungs(policy_, v1::RISK_LEVEL_VERY_HIGH, Local(2027, 3, 20, 10), london_);
  EXPECT_EQ(rungs[0].due, Local(2027, 3, 21, 10));
  EXPECT_EQ(rungs[1].due, Local(2027, 3, 23, 10));
  EXPECT_EQ(rungs[2].due, Local(2027, 3, 27, 10));
  EXPECT_EQ(rungs[0].reason,
            "very high risk: to the sergeant 1 days after the alert of 2027-03-20 (policy v1)");
  EXPECT_EQ(rungs[2].policy_version, "v1");
}

TEST_F(AlertSchedule, ARungAcrossTheSpringChangeIsTwentyThreeHoursLater) {
  // 28 March 2027 is the last Sunday of March: the clocks go forward at 01:00 GMT.
  const std::array<DueTime, 3> rungs =
      EscalationRungs(policy_, v1::RISK_LEVEL_VERY_HIGH, Local(2027, 3, 27, 10), london_);
  EXPECT_EQ(rungs[0].due, Local(2027, 3, 28, 10));
  EXPECT_EQ(rungs[0].due - Local(2027, 3, 27, 10), absl::Hours(23));
}

TEST_F(AlertSchedule, NotAssessedClimbsAsHighAndSaysSo) {
  const std::array<DueTime, 3> rungs =
      EscalationRungs(policy_, v1::RISK_LEVEL_UNSPECIFIED, Local(2026, 6, 1, 9), london_);
  EXPECT_EQ(rungs[0].due, Local(2026, 6, 4, 9));   // high: 3 days
  EXPECT_EQ(rungs[1].due, Local(2026, 6, 15, 9));  // 14 days
  EXPECT_EQ(rungs[2].due, Local(2026, 7, 1, 9));   // 30 days
  EXPECT_EQ(rungs[0].reason.rfind("not assessed (climbs as high): to the sergeant 3 days", 0), 0u)
      << rungs[0].reason;
}

TEST_F(AlertSchedule, AcknowledgementAcrossTheAutumnChangeLapsesAtTheSameLocalTime) {
  // 25 October 2026 is the last Sunday of October: the clocks go back at 01:00 GMT.
  policy_.set_acknowledgement_expiry_days(1);
  const DueTime expiry = AcknowledgementExpiry(policy_, Local(2026, 10, 24, 9), london_);
  EXPECT_EQ(expiry.due, Local(2026, 10, 25, 9));
  EXPECT_EQ(expiry.due - Local(2026, 10, 24, 9), absl::Hours(25));
  EXPECT_EQ(expiry.reason,
            "an acknowledgement lapses 1 days after it was given on 2026-10-24 (policy v1)");
}

TEST_F(AlertSchedule, PlanHorizonIsTheEndOfTheLastLocalDay) {
  const DueTime horizon = PlanHorizon(Local(2027, 3, 27, 23, 30), 1, london_);
  EXPECT_EQ(horizon.due, EndOf(2027, 3, 28));
  EXPECT_EQ(horizon.reason, "due by the end of 2027-03-28 (1 days from 2027-03-27)");
  EXPECT_EQ(horizon.policy_version, "");
}

// OCAIT action targets by grade (default: very high 1 day, high 7, medium 14, low 30) and what
// a regrade by an intelligence refresh does to them: never more time, unless a supervisor says
// why a lowered grade may have it.
using ReferralActionSchedule = ScheduleTest;

TEST_F(ReferralActionSchedule, WithoutRegradeActionIsDueWithinTheTriageGradesTargetOfReceipt) {
  const DueTime due =
      ReferralActionDue(policy_, v1::RISK_LEVEL_LOW, Local(2026, 11, 7, 15), {}, london_);
  EXPECT_EQ(due, (DueTime{EndOf(2026, 12, 7),
                          "low grade: action within 30 days of receipt on 2026-11-07 (policy v1)",
                          "v1", Local(2026, 11, 7, 15)}));
}

TEST_F(ReferralActionSchedule, UpwardRegradeNeverGivesMoreTime) {
  // Issue #17: low -> high on 2026-12-02 moved the due date from 2026-12-07 to 2026-12-09.
  const Regrade up{Local(2026, 12, 2, 11), v1::RISK_LEVEL_LOW, v1::RISK_LEVEL_HIGH};
  const DueTime due =
      ReferralActionDue(policy_, v1::RISK_LEVEL_LOW, Local(2026, 11, 7, 15), {up}, london_);
  EXPECT_EQ(due.due, EndOf(2026, 12, 7));
  EXPECT_EQ(due.reason,
            "regraded low → high on 2026-12-02: action by 2026-12-07, the earlier of 2026-12-07 "
            "(low grade: action within 30 days of receipt on 2026-11-07) and 2026-12-09 (high "
            "grade: within 7 days of the regrade) (policy v1)");
}

TEST_F(ReferralActionSchedule, UpwardRegradeBringsActionForwardWhenTheNewTargetEndsFirst) {
  const Regrade up{Local(2026, 11, 10, 9), v1::RISK_LEVEL_LOW, v1::RISK_LEVEL_VERY_HIGH};
  const DueTime due =
      ReferralActionDue(policy_, v1::RISK_LEVEL_LOW, Local(2026, 11, 7, 15), {up}, london_);
  EXPECT_EQ(due.due, EndOf(2026, 11, 11));
  EXPECT_EQ(due.reason,
            "regraded low → very high on 2026-11-10: action by 2026-11-11, the earlier of "
            "2026-12-07 (low grade: action within 30 days of receipt on 2026-11-07) and 2026-11-11 "
            "(very high grade: within 1 day of the regrade) (policy v1)");
}

TEST_F(ReferralActionSchedule, DownwardRegradeNeverGivesMoreTime) {
  const Regrade down{Local(2026, 11, 5, 9), v1::RISK_LEVEL_HIGH, v1::RISK_LEVEL_LOW};
  const DueTime due =
      ReferralActionDue(policy_, v1::RISK_LEVEL_HIGH, Local(2026, 11, 1, 9), {down}, london_);
  EXPECT_EQ(due.due, EndOf(2026, 11, 8));
  EXPECT_EQ(due.reason,
            "regraded high → low on 2026-11-05: action still by 2026-11-08 (high grade: action "
            "within 7 days of receipt on 2026-11-01): a lower grade gives no more time without a "
            "supervisor's extension (policy v1)");
}

TEST_F(ReferralActionSchedule, SupervisorsExtensionRunsALoweredGradesTargetFromReceipt) {
  const Regrade down{Local(2026, 11, 5, 9), v1::RISK_LEVEL_HIGH, v1::RISK_LEVEL_LOW, true};
  const DueTime due =
      ReferralActionDue(policy_, v1::RISK_LEVEL_HIGH, Local(2026, 11, 1, 9), {down}, london_);
  EXPECT_EQ(due.due, EndOf(2026, 12, 1));
  EXPECT_EQ(due.reason,
            "regraded high → low on 2026-11-05, extended by a supervisor: action by 2026-12-01, "
            "the later of 2026-11-08 (high grade: action within 7 days of receipt on 2026-11-01) "
            "and 2026-12-01 (low grade: action within 30 days of receipt on 2026-11-01) "
            "(policy v1)");
}

TEST_F(ReferralActionSchedule, SupervisorsExtensionNeverShortensTheDueTime) {
  // Up to very high (due 2026-11-21), then down to medium with an extension: receipt + 14 days
  // (2026-11-15) is earlier, so the due time stays.
  const Regrade up{Local(2026, 11, 20, 9), v1::RISK_LEVEL_LOW, v1::RISK_LEVEL_VERY_HIGH};
  const Regrade down{Local(2026, 11, 21, 9), v1::RISK_LEVEL_VERY_HIGH, v1::RISK_LEVEL_MEDIUM, true};
  const DueTime due =
      ReferralActionDue(policy_, v1::RISK_LEVEL_LOW, Local(2026, 11, 1, 9), {up, down}, london_);
  EXPECT_EQ(due.due, EndOf(2026, 11, 21));
  EXPECT_EQ(due.reason.rfind("regraded very high → medium on 2026-11-21, extended by a "
                             "supervisor: action by 2026-11-21, the later of 2026-11-21 (very high "
                             "grade: within 1 day of the regrade on 2026-11-20) and 2026-11-15",
                             0),
            0u)
      << due.reason;
}

TEST_F(ReferralActionSchedule, SeveralUpwardRegradesKeepTheEarliestDueTime) {
  const Regrade to_high{Local(2026, 11, 3, 9), v1::RISK_LEVEL_MEDIUM, v1::RISK_LEVEL_HIGH};
  const Regrade to_very_high{Local(2026, 11, 12, 9), v1::RISK_LEVEL_HIGH, v1::RISK_LEVEL_VERY_HIGH};
  // medium from 2026-11-01: 2026-11-15; high from 11-03: 11-10 (earlier); very high from 11-12:
  // 11-13 (later than 11-10, so 11-10 stays).
  const DueTime due = ReferralActionDue(policy_, v1::RISK_LEVEL_MEDIUM, Local(2026, 11, 1, 9),
                                        {to_high, to_very_high}, london_);
  EXPECT_EQ(due.due, EndOf(2026, 11, 10));
}

// ---------------------------------------------------------------------------------------------
// Due-soon warnings, acknowledgement reminders and the watchdog's threshold.

using Warnings = ScheduleTest;

TEST_F(Warnings, DueSoonAtThreeQuartersOfTheIntervalFromItsStart) {
  // A high-risk visit: 91 days from the last visit on 2026-01-05 (09:00 local, GMT), due by the
  // end of 2026-04-06 (BST).
  const VisitDue visit = HomeVisitDue(policy_, Local(2025, 1, 1), Local(2026, 1, 5, 9),
                                      v1::RISK_LEVEL_HIGH, {}, london_);
  EXPECT_EQ(visit.due.start, Local(2026, 1, 5, 9));
  v1::Obligation o;
  o.set_kind(v1::OBLIGATION_KIND_HOME_VISIT);
  *o.mutable_start_time() = ToProtoTime(visit.due.start);
  *o.mutable_due_time() = ToProtoTime(visit.due.due);
  const std::optional<DueTime> warning = DueSoonWarning(policy_, o, london_);
  ASSERT_TRUE(warning.has_value());
  EXPECT_EQ(warning->due, visit.due.start + (visit.due.due - visit.due.start) * 3 / 4);
  EXPECT_EQ(warning->start, Local(2026, 1, 5, 9));
  EXPECT_EQ(warning->reason,
            "due by the end of 2026-04-06: 75% of its 91-day interval from 2026-01-05 has passed "
            "(policy v1)");
}

TEST_F(Warnings, NoWarningWithoutAStartOrWhenSwitchedOffForTheKind) {
  v1::Obligation o;
  o.set_kind(v1::OBLIGATION_KIND_CSC_CHECK);
  *o.mutable_due_time() = ToProtoTime(EndOf(2026, 12, 10));
  EXPECT_FALSE(DueSoonWarning(policy_, o, london_).has_value());  // derived before start_time
  *o.mutable_start_time() = ToProtoTime(Local(2026, 12, 7, 10));
  EXPECT_TRUE(DueSoonWarning(policy_, o, london_).has_value());
  v1::KindPercent* off = policy_.add_due_soon_percent_by_kind();
  off->set_kind(v1::OBLIGATION_KIND_CSC_CHECK);
  off->set_percent(0);
  EXPECT_FALSE(DueSoonWarning(policy_, o, london_).has_value());
}

TEST_F(Warnings, ReminderEverySevenLocalDaysUnlessSwitchedOff) {
  // Across the autumn change: 7 local days later at the same wall-clock time.
  const std::optional<DueTime> next =
      AcknowledgementReminder(policy_, Local(2026, 10, 22, 10), london_);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->due, Local(2026, 10, 29, 10));
  EXPECT_EQ(next->reason,
            "the acknowledger is reminded every 7 days while the obligation stays open (policy "
            "v1)");
  policy_.set_acknowledgement_reminder_days(0);
  EXPECT_FALSE(AcknowledgementReminder(policy_, Local(2026, 10, 22, 10), london_).has_value());
}

TEST_F(Warnings, WatchdogThresholdDefaultsToFiveMinutes) {
  EXPECT_EQ(EscalationLateAfter(policy_), absl::Minutes(5));
  policy_.clear_escalation_late_minutes();
  EXPECT_EQ(EscalationLateAfter(policy_), absl::Minutes(5));
  policy_.set_escalation_late_minutes(30);
  EXPECT_EQ(EscalationLateAfter(policy_), absl::Minutes(30));
}

TEST_F(Warnings, ActionClockStartsAtTheRegradeThatSetIt) {
  // Low from 2026-11-01 (due 12-01); regraded to high on 11-20: due 11-27, counted from then.
  const Regrade up{Local(2026, 11, 20, 9), v1::RISK_LEVEL_LOW, v1::RISK_LEVEL_HIGH};
  const DueTime due =
      ReferralActionDue(policy_, v1::RISK_LEVEL_LOW, Local(2026, 11, 1, 9), {up}, london_);
  EXPECT_EQ(due.due, EndOf(2026, 11, 27));
  EXPECT_EQ(due.start, Local(2026, 11, 20, 9));
}

}  // namespace
}  // namespace vigil::policy
