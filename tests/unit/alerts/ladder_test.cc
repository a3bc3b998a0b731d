#include "services/alerts/ladder.h"

#include <string>

#include "base/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/policy/policy.h"
#include "tests/support/status_matchers.h"

namespace vigil::alerts {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::vigil::testing::IsOk;
using ::vigil::testing::StatusIs;

const absl::Time kDue =
    absl::FromCivil(absl::CivilSecond(2026, 3, 1, 0, 0, 0), absl::UTCTimeZone());

v1::Alert Overdue(v1::RiskLevel risk, v1::AlertCause cause = v1::ALERT_CAUSE_OVERDUE) {
  v1::Policy policy = policy::DefaultPolicy();
  policy.set_version("v3");
  v1::Alert alert;
  alert.set_cause(cause);
  alert.mutable_obligation()->set_risk_level(risk);
  alert.mutable_obligation()->set_owner_officer("DC 1");
  *alert.mutable_trigger_time() = ToProtoTime(kDue);
  SetLadder(policy, absl::UTCTimeZone(), alert);
  alert.set_state(v1::ALERT_STATE_OPEN);
  alert.set_escalation_level(LevelAt(alert, absl::InfinitePast()));
  return alert;
}

TEST(AlertIds, AreStableAndDistinguishEveryPart) {
  const std::string id = OverdueAlertId("rso", "wessex", "R1/arms", kDue);
  EXPECT_THAT(id, MatchesRegex("AL[0-9a-f]{20}"));
  EXPECT_EQ(id, OverdueAlertId("rso", "wessex", "R1/arms", kDue));
  EXPECT_NE(id, OverdueAlertId("ocait", "wessex", "R1/arms", kDue));
  EXPECT_NE(id, OverdueAlertId("rso", "kent", "R1/arms", kDue));
  EXPECT_NE(id, OverdueAlertId("rso", "wessex", "R1/rmp", kDue));
  EXPECT_NE(id, OverdueAlertId("rso", "wessex", "R1/arms", kDue + absl::Microseconds(1)));
  // Length prefixes keep ("ab", "c") and ("a", "bc") apart.
  EXPECT_NE(NoticeAlertId("ab", "c", "x"), NoticeAlertId("a", "bc", "x"));
  EXPECT_NE(NoticeAlertId("rso", "wessex", "F1"), OverdueAlertId("rso", "wessex", "F1", kDue));
}

TEST(Ladder, FollowsTheDomainDefaultsByRisk) {
  struct Case {
    v1::RiskLevel risk;
    int sergeant, inspector, superintendent;
  };
  for (const Case& c :
       {Case{v1::RISK_LEVEL_VERY_HIGH, 1, 3, 7}, Case{v1::RISK_LEVEL_HIGH, 3, 14, 30},
        Case{v1::RISK_LEVEL_MEDIUM, 7, 30, 90}, Case{v1::RISK_LEVEL_LOW, 14, 60, 180},
        // Not yet assessed climbs like high risk.
        Case{v1::RISK_LEVEL_UNSPECIFIED, 3, 14, 30}}) {
    const v1::Alert alert = Overdue(c.risk);
    ASSERT_EQ(alert.escalation_times_size(), 3);
    EXPECT_EQ(TimeOf(alert.escalation_times(0)), kDue + absl::Hours(24 * c.sergeant)) << c.risk;
    EXPECT_EQ(TimeOf(alert.escalation_times(1)), kDue + absl::Hours(24 * c.inspector)) << c.risk;
    EXPECT_EQ(TimeOf(alert.escalation_times(2)), kDue + absl::Hours(24 * c.superintendent))
        << c.risk;
    EXPECT_EQ(alert.escalation_policy_version(), "v3");
  }
}

// An alert of `force` about an obligation of `risk`, triggered at `trigger`, without a ladder.
v1::Alert Triggered(const std::string& force, v1::RiskLevel risk, absl::Time trigger) {
  v1::Alert alert;
  alert.set_force(force);
  alert.mutable_obligation()->set_risk_level(risk);
  *alert.mutable_trigger_time() = ToProtoTime(trigger);
  return alert;
}

TEST(Ladder, AMemoGivesEachAlertTheLadderItWouldBeGivenAlone) {
  v1::Policy v3 = policy::DefaultPolicy();
  v3.set_version("v3");
  v1::Policy v4 = v3;
  v4.set_version("v4");
  v4.mutable_escalate_to_sergeant_days()->set_high(5);  // another ladder under another version
  LadderMemo memo;
  int alerts = 0;
  // Twice over, so that the second pass finds every ladder in the memo.
  for (int pass = 0; pass < 2; ++pass) {
    for (const v1::Policy* policy : {&v3, &v4}) {
      for (const char* force : {"wessex", "kent"}) {
        for (v1::RiskLevel risk : {v1::RISK_LEVEL_HIGH, v1::RISK_LEVEL_LOW}) {
          for (absl::Time trigger : {kDue, kDue + absl::Hours(1)}) {
            v1::Alert alone = Triggered(force, risk, trigger);
            v1::Alert memoised = alone;
            SetLadder(*policy, absl::UTCTimeZone(), alone);
            SetLadder(*policy, absl::UTCTimeZone(), memoised, memo);
            EXPECT_EQ(memoised.SerializeAsString(), alone.SerializeAsString())
                << policy->version() << " " << force << " " << risk << " " << trigger;
            ++alerts;
          }
        }
      }
    }
  }
  EXPECT_EQ(alerts, 32);
  EXPECT_EQ(memo.size(), 16u);  // one per policy, force, risk and trigger time
  // Triggers a nanosecond apart (a notice's time as a client sent it) keep their own rungs.
  v1::Alert early = Triggered("wessex", v1::RISK_LEVEL_HIGH, kDue + absl::Nanoseconds(1));
  v1::Alert later = Triggered("wessex", v1::RISK_LEVEL_HIGH, kDue + absl::Nanoseconds(2));
  SetLadder(v3, absl::UTCTimeZone(), early, memo);
  SetLadder(v3, absl::UTCTimeZone(), later, memo);
  EXPECT_EQ(TimeOf(later.escalation_times(0)) - TimeOf(early.escalation_times(0)),
            absl::Nanoseconds(1));
  // The two versions' high-risk ladders differ where the policies do.
  v1::Alert high = Triggered("wessex", v1::RISK_LEVEL_HIGH, kDue);
  v1::Alert under_v4 = high;
  SetLadder(v3, absl::UTCTimeZone(), high, memo);
  SetLadder(v4, absl::UTCTimeZone(), under_v4, memo);
  EXPECT_EQ(TimeOf(high.escalation_times(0)), kDue + absl::Hours(24 * 3));
  EXPECT_EQ(TimeOf(under_v4.escalation_times(0)), kDue + absl::Hours(24 * 5));
}

TEST(Ladder, LevelAtEachBoundary) {
  const v1::Alert alert = Overdue(v1::RISK_LEVEL_VERY_HIGH);
  const absl::Duration day = absl::Hours(24);
  EXPECT_EQ(LevelAt(alert, kDue), v1::ESCALATION_LEVEL_OFFICER);
  EXPECT_EQ(LevelAt(alert, kDue + day - absl::Microseconds(1)), v1::ESCALATION_LEVEL_OFFICER);
  EXPECT_EQ(LevelAt(alert, kDue + day), v1::ESCALATION_LEVEL_SERGEANT);
  EXPECT_EQ(LevelAt(alert, kDue + 3 * day), v1::ESCALATION_LEVEL_INSPECTOR);
  EXPECT_EQ(LevelAt(alert, kDue + 7 * day), v1::ESCALATION_LEVEL_SUPERINTENDENT);
  EXPECT_EQ(LevelAt(alert, kDue + 700 * day), v1::ESCALATION_LEVEL_SUPERINTENDENT);
  // Immediate escalation starts with the sergeant.
  EXPECT_EQ(LevelAt(Overdue(v1::RISK_LEVEL_LOW, v1::ALERT_CAUSE_IMMEDIATE_ESCALATION), kDue),
            v1::ESCALATION_LEVEL_SERGEANT);
}

TEST(Ladder, UnownedWorkStartsWithTheSergeantAndTheWatchdogWithTheInspector) {
  v1::Alert unallocated = Overdue(v1::RISK_LEVEL_HIGH);
  unallocated.mutable_obligation()->set_owner_officer("(unallocated)");
  EXPECT_TRUE(Unowned(unallocated.obligation()));
  EXPECT_EQ(LevelAt(unallocated, kDue), v1::ESCALATION_LEVEL_SERGEANT);
  EXPECT_EQ(LevelAt(unallocated, kDue + absl::Hours(24 * 14)), v1::ESCALATION_LEVEL_INSPECTOR);
  v1::Alert no_officer = Overdue(v1::RISK_LEVEL_HIGH);
  no_officer.mutable_obligation()->clear_owner_officer();
  EXPECT_EQ(LevelAt(no_officer, kDue), v1::ESCALATION_LEVEL_SERGEANT);
  v1::Alert watchdog;
  watchdog.set_cause(v1::ALERT_CAUSE_LATE_ESCALATION);
  EXPECT_EQ(LevelAt(watchdog, absl::InfinitePast()), v1::ESCALATION_LEVEL_INSPECTOR);
  watchdog.set_escalation_level(LevelAt(watchdog, absl::InfinitePast()));
  EXPECT_FALSE(Climb(watchdog, kDue + absl::Hours(24 * 400)));  // no ladder: it stays
  EXPECT_EQ(watchdog.escalation_level(), v1::ESCALATION_LEVEL_INSPECTOR);
}

TEST(AlertIds, WarningsAndWatchdogAlertsHaveTheirOwnStableIds) {
  EXPECT_EQ(DueSoonAlertId("rso", "wessex", "R1/arms", kDue),
            DueSoonAlertId("rso", "wessex", "R1/arms", kDue));
  EXPECT_NE(DueSoonAlertId("rso", "wessex", "R1/arms", kDue),
            OverdueAlertId("rso", "wessex", "R1/arms", kDue));
  EXPECT_NE(DueSoonAlertId("rso", "wessex", "R1/arms", kDue),
            DueSoonAlertId("rso", "wessex", "R1/arms", kDue + absl::Hours(24)));
  EXPECT_EQ(LateEscalationAlertId("wessex", "2026-12-03"),
            LateEscalationAlertId("wessex", "2026-12-03"));
  EXPECT_NE(LateEscalationAlertId("wessex", "2026-12-03"),
            LateEscalationAlertId("wessex", "2026-12-04"));
  EXPECT_NE(LateEscalationAlertId("wessex", "2026-12-03"),
            LateEscalationAlertId("kent", "2026-12-03"));
}

TEST(Ladder, ClimbCatchesUpAndSchedulesTheNextStep) {
  v1::Alert alert = Overdue(v1::RISK_LEVEL_HIGH);
  EXPECT_FALSE(Climb(alert, kDue));
  EXPECT_EQ(TimeOf(alert.next_escalation_time()), kDue + absl::Hours(24 * 3));
  // Raised late (the service was down, or an import of old records): straight to the step the
  // ladder has reached, with the next one scheduled.
  EXPECT_TRUE(Climb(alert, kDue + absl::Hours(24 * 20)));
  EXPECT_EQ(alert.escalation_level(), v1::ESCALATION_LEVEL_INSPECTOR);
  EXPECT_EQ(TimeOf(alert.next_escalation_time()), kDue + absl::Hours(24 * 30));
  EXPECT_TRUE(Climb(alert, kDue + absl::Hours(24 * 30)));
  EXPECT_EQ(alert.escalation_level(), v1::ESCALATION_LEVEL_SUPERINTENDENT);
  EXPECT_FALSE(alert.has_next_escalation_time());
  EXPECT_FALSE(Climb(alert, kDue + absl::Hours(24 * 400)));
  // Never down.
  alert.set_escalation_level(v1::ESCALATION_LEVEL_SUPERINTENDENT);
  EXPECT_FALSE(Climb(alert, kDue));
  EXPECT_EQ(alert.escalation_level(), v1::ESCALATION_LEVEL_SUPERINTENDENT);
}

TEST(Filter, EveryFieldNarrows) {
  v1::Alert alert = Overdue(v1::RISK_LEVEL_MEDIUM);
  alert.mutable_obligation()->set_team("north");
  alert.mutable_obligation()->set_owner_officer("DC 1");
  alert.mutable_obligation()->set_kind(v1::OBLIGATION_KIND_HOME_VISIT);
  alert.set_escalation_level(v1::ESCALATION_LEVEL_SERGEANT);
  v1::AlertFilter f;
  EXPECT_TRUE(Matches(f, alert));
  f.set_min_risk_level(v1::RISK_LEVEL_MEDIUM);
  EXPECT_TRUE(Matches(f, alert));
  f.set_min_risk_level(v1::RISK_LEVEL_HIGH);
  EXPECT_FALSE(Matches(f, alert));
  f = {};
  f.set_team("south");
  EXPECT_FALSE(Matches(f, alert));
  f = {};
  f.set_officer("DC 2");
  EXPECT_FALSE(Matches(f, alert));
  f = {};
  f.add_kinds(v1::OBLIGATION_KIND_ARMS_ASSESSMENT);
  EXPECT_FALSE(Matches(f, alert));
  f.add_kinds(v1::OBLIGATION_KIND_HOME_VISIT);
  EXPECT_TRUE(Matches(f, alert));
  f = {};
  f.set_min_escalation_level(v1::ESCALATION_LEVEL_INSPECTOR);
  EXPECT_FALSE(Matches(f, alert));
  f = {};
  f.set_state(v1::ALERT_STATE_ACKNOWLEDGED);
  EXPECT_FALSE(Matches(f, alert));
}

TEST(Filter, UnknownValuesAreNamed) {
  v1::AlertFilter f;
  EXPECT_THAT(ValidateFilter(f, "filters"), IsOk());
  f.set_state(static_cast<v1::AlertState>(9));
  EXPECT_THAT(ValidateFilter(f, "filters"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("filters.state")));
  f = {};
  f.set_min_escalation_level(static_cast<v1::EscalationLevel>(-1));
  EXPECT_THAT(ValidateFilter(f, "filters"), StatusIs(absl::StatusCode::kInvalidArgument,
                                                     HasSubstr("filters.min_escalation_level")));
  f = {};
  f.add_kinds(v1::OBLIGATION_KIND_UNSPECIFIED);
  EXPECT_THAT(ValidateFilter(f, "filters"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("filters.kinds")));
  f = {};
  f.set_team(std::string(65, 't'));
  EXPECT_THAT(ValidateFilter(f, "filters"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("filters.team")));
  EXPECT_EQ(LevelName(v1::ESCALATION_LEVEL_SUPERINTENDENT), "superintendent");
}

v1::Alert AlertOfTeamAt(v1::EscalationLevel level) {
  v1::Alert alert;
  alert.set_id("AL1");
  alert.mutable_obligation()->set_team("MOSOVO North");
  alert.set_escalation_level(level);
  return alert;
}

Principal Person(Rank rank, std::string team) {
  Principal p{"X 1", rank == Rank::kOfficer ? Role::kOfficer : Role::kSupervisor, "wessex"};
  p.rank = rank;
  p.team = std::move(team);
  return p;
}

TEST(Acknowledgement, OnlyTheRungsRankOrAboveMayAcknowledge) {
  const v1::Alert at_inspector = AlertOfTeamAt(v1::ESCALATION_LEVEL_INSPECTOR);
  EXPECT_THAT(CheckMayAcknowledge(Person(Rank::kSergeant, "MOSOVO North"), at_inspector),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("only an inspector or above acknowledges it (your credential's "
                                 "rank is sergeant)")));
  EXPECT_THAT(CheckMayAcknowledge(Person(Rank::kInspector, "MOSOVO North"), at_inspector), IsOk());
  EXPECT_THAT(CheckMayAcknowledge(Person(Rank::kSuperintendent, ""), at_inspector), IsOk());
  EXPECT_THAT(CheckMayAcknowledge(Person(Rank::kOfficer, "MOSOVO North"),
                                  AlertOfTeamAt(v1::ESCALATION_LEVEL_OFFICER)),
              IsOk());
}

TEST(Acknowledgement, TeamRungsAreAcknowledgedWithinTheTeam) {
  EXPECT_THAT(CheckMayAcknowledge(Person(Rank::kInspector, "MOSOVO South"),
                                  AlertOfTeamAt(v1::ESCALATION_LEVEL_SERGEANT)),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("within that team")));
  // The superintendent's rung is force-wide.
  const v1::Alert at_top = AlertOfTeamAt(v1::ESCALATION_LEVEL_SUPERINTENDENT);
  EXPECT_THAT(CheckMayAcknowledge(Person(Rank::kSuperintendent, "HQ"), at_top), IsOk());
  EXPECT_THAT(CheckMayAcknowledge(Person(Rank::kInspector, "MOSOVO North"), at_top),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

}  // namespace
}  // namespace vigil::alerts
