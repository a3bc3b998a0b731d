#include "services/policy/policy.h"

#include <fstream>
#include <functional>
#include <string>

#include "base/proto_time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace vigil::policy {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::vigil::testing::IsOk;
using ::vigil::testing::StatusIs;

// DOMAIN.md's defaults, written out in full as an administrator would.
constexpr char kDefaultPolicyText[] = R"policy(
  version: "v7"
  description: "DOMAIN.md defaults, written out"
  arms_initial_days: 28
  arms_reassessment_days { low: 365 medium: 365 high: 180 very_high: 90 }
  arms_trigger_days: 28
  rmp_review_after_arms_days: 28
  rmp_review_days { low: 365 medium: 365 high: 180 very_high: 90 }
  rmp_sign_off_days: 7
  visit_interval_days { low: 365 medium: 182 high: 91 very_high: 30 }
  visit_interval_unassessed_days: 91
  reactive_offence_free_years: 3
  compliance_window_visits: 4
  office_hours_start: 8
  office_hours_end: 18
  flat_diarising_share_percent: 80
  flat_diarising_min_offenders: 5
  referral_triage_days: 1
  referral_action_days { low: 30 medium: 14 high: 7 very_high: 1 }
  intel_refresh_days { low: 28 medium: 14 high: 7 very_high: 3 }
  csc_check_days { low: 3 medium: 3 high: 1 very_high: 1 }
  workload {
    arms_assessment: 3
    rmp_review: 2
    home_visit: 2
    notification: 0.5
    referral_action: 4
    intel_refresh: 1
    csc_check: 1
    rmp_sign_off: 1
    not_assessed_multiplier: 1.5
    low_multiplier: 1
    medium_multiplier: 1.25
    high_multiplier: 1.5
    very_high_multiplier: 2
    officer_capacity: 250
  }
  escalate_to_sergeant_days { low: 14 medium: 7 high: 3 very_high: 1 }
  escalate_to_inspector_days { low: 60 medium: 30 high: 14 very_high: 3 }
  escalate_to_superintendent_days { low: 180 medium: 90 high: 30 very_high: 7 }
  acknowledgement_expiry_days: 7
  due_soon_percent: 75
  acknowledgement_reminder_days: 7
  escalation_late_minutes: 5
)policy";

void ExpectRiskDays(const v1::RiskDays& days, int low, int medium, int high, int very_high) {
  EXPECT_EQ(days.low(), low);
  EXPECT_EQ(days.medium(), medium);
  EXPECT_EQ(days.high(), high);
  EXPECT_EQ(days.very_high(), very_high);
}

TEST(DefaultPolicy, ArmsIntervalsMatchTheDomainDefaults) {
  const v1::Policy p = DefaultPolicy();
  EXPECT_EQ(p.arms_initial_days(), 28);
  ExpectRiskDays(p.arms_reassessment_days(), /*low=*/365, /*medium=*/365, /*high=*/180,
                 /*very_high=*/90);
  EXPECT_EQ(p.arms_trigger_days(), 28);
}

TEST(DefaultPolicy, RmpReviewFollowsEveryArmsAndThenTheArmsIntervals) {
  const v1::Policy p = DefaultPolicy();
  EXPECT_EQ(p.rmp_review_after_arms_days(), 28);
  ExpectRiskDays(p.rmp_review_days(), 365, 365, 180, 90);
}

TEST(DefaultPolicy, RmpSignOffIsDueWithin7Days) {
  EXPECT_EQ(DefaultPolicy().rmp_sign_off_days(), 7);
  EXPECT_EQ(RmpSignOffDays(DefaultPolicy()), 7);
}

TEST(ValidatePolicy, RmpSignOffDaysUnsetMeansTheDefaultAndNegativeIsRefused) {
  v1::Policy policy = DefaultPolicy();
  policy.clear_rmp_sign_off_days();  // a policy stored before the field existed
  EXPECT_THAT(ValidatePolicy(policy), IsOk());
  EXPECT_EQ(RmpSignOffDays(policy), kDefaultRmpSignOffDays);
  policy.set_rmp_sign_off_days(-1);
  EXPECT_THAT(ValidatePolicy(policy),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "rmp_sign_off_days: must be a positive number of days (got -1)"));
}

TEST(DefaultPolicy, VisitIntervalsAreTheOldFixedSchedule) {
  // Very high monthly, high every 3 months, medium every 6, low every 12.
  const v1::Policy p = DefaultPolicy();
  ExpectRiskDays(p.visit_interval_days(), 365, 182, 91, 30);
  EXPECT_EQ(p.visit_interval_unassessed_days(), 91);
  EXPECT_EQ(p.reactive_offence_free_years(), 3);
}

TEST(DefaultPolicy, ComplianceRulesMatchTheDocumentedDefaults) {
  const v1::Policy p = DefaultPolicy();
  EXPECT_EQ(p.compliance_window_visits(), 4);
  EXPECT_EQ(p.office_hours_start(), 8);
  EXPECT_EQ(p.office_hours_end(), 18);
  EXPECT_EQ(p.flat_diarising_share_percent(), 80);
  EXPECT_EQ(p.flat_diarising_min_offenders(), 5);
}

TEST(DefaultPolicy, ReferralTargetsMatchTheDomainDefaults) {
  const v1::Policy p = DefaultPolicy();
  EXPECT_EQ(p.referral_triage_days(), 1);
  ExpectRiskDays(p.referral_action_days(), 30, 14, 7, 1);
  ExpectRiskDays(p.intel_refresh_days(), 28, 14, 7, 3);
  ExpectRiskDays(p.csc_check_days(), 3, 3, 1, 1);
}

TEST(DefaultPolicy, EscalationLadderMatchesTheDomainDefaults) {
  const v1::Policy p = DefaultPolicy();
  ExpectRiskDays(p.escalate_to_sergeant_days(), 14, 7, 3, 1);
  ExpectRiskDays(p.escalate_to_inspector_days(), 60, 30, 14, 3);
  ExpectRiskDays(p.escalate_to_superintendent_days(), 180, 90, 30, 7);
  EXPECT_EQ(p.acknowledgement_expiry_days(), 7);
}

TEST(ValidatePolicy, EscalationStepsMustClimbInOrder) {
  v1::Policy p = DefaultPolicy();
  p.mutable_escalate_to_inspector_days()->set_high(3);
  EXPECT_THAT(
      ValidatePolicy(p),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "escalate_to_inspector_days.high: 3 days must come after the step before (3 days)"));
  p = DefaultPolicy();
  p.clear_escalate_to_superintendent_days();
  EXPECT_THAT(ValidatePolicy(p), StatusIs(absl::StatusCode::kInvalidArgument,
                                          "escalate_to_superintendent_days: missing"));
  p = DefaultPolicy();
  p.set_acknowledgement_expiry_days(0);
  EXPECT_THAT(ValidatePolicy(p), StatusIs(absl::StatusCode::kInvalidArgument,
                                          "acknowledgement_expiry_days: must be 1-365 (got 0)"));
}

TEST(DefaultPolicy, HasNoVersionOrDescription) {
  const v1::Policy p = DefaultPolicy();
  EXPECT_EQ(p.version(), "");
  EXPECT_EQ(p.description(), "");
}

TEST(DefaultPolicy, IsValid) { EXPECT_THAT(ValidatePolicy(DefaultPolicy()), IsOk()); }

TEST(DefaultPolicy, EqualsTheDefaultsWrittenOutAsText) {
  absl::StatusOr<v1::Policy> parsed = ParsePolicyText(kDefaultPolicyText);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_TRUE(SameRules(*parsed, DefaultPolicy()));
  v1::Policy expected = DefaultPolicy();
  expected.set_version("v7");
  expected.set_description("DOMAIN.md defaults, written out");
  EXPECT_TRUE(MessageDifferencer::Equals(*parsed, expected))
      << "parsed:\n"
      << parsed->DebugString() << "expected:\n"
      << expected.DebugString();
}

// ---------------------------------------------------------------------------------------------

struct BadPolicy {
  const char* what;
  std::function<void(v1::Policy&)> mutate;
  const char* message;
};

TEST(ValidatePolicy, NamesTheBadFieldAndValue) {
  const BadPolicy kCases[] = {
      // Zero, negative and too-large single intervals.
      {"initial zero", [](v1::Policy& p) { p.set_arms_initial_days(0); },
       "arms_initial_days: must be a positive number of days (got 0)"},
      {"initial negative", [](v1::Policy& p) { p.set_arms_initial_days(-5); },
       "arms_initial_days: must be a positive number of days (got -5)"},
      {"initial too large", [](v1::Policy& p) { p.set_arms_initial_days(3654); },
       "arms_initial_days: 3654 days is more than ten years"},
      {"trigger zero", [](v1::Policy& p) { p.set_arms_trigger_days(0); },
       "arms_trigger_days: must be a positive number of days (got 0)"},
      {"rmp after arms negative", [](v1::Policy& p) { p.set_rmp_review_after_arms_days(-1); },
       "rmp_review_after_arms_days: must be a positive number of days (got -1)"},
      {"unassessed visit too large",
       [](v1::Policy& p) { p.set_visit_interval_unassessed_days(10000); },
       "visit_interval_unassessed_days: 10000 days is more than ten years"},
      {"triage zero", [](v1::Policy& p) { p.set_referral_triage_days(0); },
       "referral_triage_days: must be a positive number of days (got 0)"},
      // Every tier of a RiskDays field is checked by name.
      {"arms medium zero", [](v1::Policy& p) { p.mutable_arms_reassessment_days()->set_medium(0); },
       "arms_reassessment_days.medium: must be a positive number of days (got 0)"},
      {"arms low negative", [](v1::Policy& p) { p.mutable_arms_reassessment_days()->set_low(-30); },
       "arms_reassessment_days.low: must be a positive number of days (got -30)"},
      {"arms high too large",
       [](v1::Policy& p) { p.mutable_arms_reassessment_days()->set_high(3654); },
       "arms_reassessment_days.high: 3654 days is more than ten years"},
      {"arms very high zero",
       [](v1::Policy& p) { p.mutable_arms_reassessment_days()->set_very_high(0); },
       "arms_reassessment_days.very_high: must be a positive number of days (got 0)"},
      {"rmp very high too large",
       [](v1::Policy& p) { p.mutable_rmp_review_days()->set_very_high(4000); },
       "rmp_review_days.very_high: 4000 days is more than ten years"},
      {"visit high zero", [](v1::Policy& p) { p.mutable_visit_interval_days()->set_high(0); },
       "visit_interval_days.high: must be a positive number of days (got 0)"},
      {"action low negative", [](v1::Policy& p) { p.mutable_referral_action_days()->set_low(-2); },
       "referral_action_days.low: must be a positive number of days (got -2)"},
      {"intel medium zero", [](v1::Policy& p) { p.mutable_intel_refresh_days()->set_medium(0); },
       "intel_refresh_days.medium: must be a positive number of days (got 0)"},
      {"csc very high too large",
       [](v1::Policy& p) { p.mutable_csc_check_days()->set_very_high(3654); },
       "csc_check_days.very_high: 3654 days is more than ten years"},
      // Missing tier messages.
      {"arms missing", [](v1::Policy& p) { p.clear_arms_reassessment_days(); },
       "arms_reassessment_days: missing"},
      {"rmp missing", [](v1::Policy& p) { p.clear_rmp_review_days(); }, "rmp_review_days: missing"},
      {"visit missing", [](v1::Policy& p) { p.clear_visit_interval_days(); },
       "visit_interval_days: missing"},
      {"action missing", [](v1::Policy& p) { p.clear_referral_action_days(); },
       "referral_action_days: missing"},
      {"intel missing", [](v1::Policy& p) { p.clear_intel_refresh_days(); },
       "intel_refresh_days: missing"},
      {"csc missing", [](v1::Policy& p) { p.clear_csc_check_days(); }, "csc_check_days: missing"},
      {"workload missing", [](v1::Policy& p) { p.clear_workload(); }, "workload: missing"},
      // Ranges.
      {"reactive years zero", [](v1::Policy& p) { p.set_reactive_offence_free_years(0); },
       "reactive_offence_free_years: must be 1-20 (got 0)"},
      {"compliance window one", [](v1::Policy& p) { p.set_compliance_window_visits(1); },
       "compliance_window_visits: must be 2-50 (got 1)"},
      {"office hours start 24", [](v1::Policy& p) { p.set_office_hours_start(24); },
       "office_hours_start: must be 0-23 (got 24)"},
      {"office hours end not after start", [](v1::Policy& p) { p.set_office_hours_end(8); },
       "office_hours_end: must be 9-24 (got 8)"},
      {"flat share below half", [](v1::Policy& p) { p.set_flat_diarising_share_percent(49); },
       "flat_diarising_share_percent: must be 50-100 (got 49)"},
      {"flat min offenders one", [](v1::Policy& p) { p.set_flat_diarising_min_offenders(1); },
       "flat_diarising_min_offenders: must be 2-10000 (got 1)"},
      {"weight negative", [](v1::Policy& p) { p.mutable_workload()->set_home_visit(-1); },
       "workload.home_visit: must be 0-100 (got -1)"},
      {"multiplier too large",
       [](v1::Policy& p) { p.mutable_workload()->set_very_high_multiplier(101); },
       "workload.very_high_multiplier: must be 0-100 (got 101)"},
      {"capacity zero", [](v1::Policy& p) { p.mutable_workload()->set_officer_capacity(0); },
       "workload.officer_capacity: must be positive (got 0)"},
  };
  for (const BadPolicy& c : kCases) {
    SCOPED_TRACE(c.what);
    v1::Policy policy = DefaultPolicy();
    c.mutate(policy);
    EXPECT_THAT(ValidatePolicy(policy), StatusIs(absl::StatusCode::kInvalidArgument, c.message));
  }
}

TEST(ValidatePolicy, TenYearsIsTheLongestInterval) {
  v1::Policy policy = DefaultPolicy();
  policy.mutable_arms_reassessment_days()->set_low(3653);
  policy.set_arms_initial_days(3653);
  EXPECT_THAT(ValidatePolicy(policy), IsOk());
  policy.set_arms_initial_days(3654);
  EXPECT_THAT(ValidatePolicy(policy),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "arms_initial_days: 3654 days is more than ten years"));
}

TEST(ValidatePolicy, OneDayIsTheShortestInterval) {
  v1::Policy policy = DefaultPolicy();
  policy.mutable_rmp_review_days()->set_very_high(1);
  policy.set_arms_trigger_days(1);
  EXPECT_THAT(ValidatePolicy(policy), IsOk());
}

TEST(ValidatePolicy, ReportsTheFirstBadFieldInDeclarationOrder) {
  v1::Policy policy = DefaultPolicy();
  policy.clear_rmp_review_days();
  policy.mutable_arms_reassessment_days()->set_high(0);
  policy.mutable_arms_reassessment_days()->set_very_high(0);
  EXPECT_THAT(ValidatePolicy(policy),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "arms_reassessment_days.high: must be a positive number of days (got 0)"));
}

TEST(ValidatePolicy, EmptyPolicyIsRefusedAtItsFirstField) {
  EXPECT_THAT(ValidatePolicy(v1::Policy()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "arms_initial_days: must be a positive number of days (got 0)"));
}

TEST(ValidatePolicy, VersionAndDescriptionAreFreeText) {
  v1::Policy policy = DefaultPolicy();
  policy.set_version("");
  policy.set_description(std::string(5000, 'x'));
  EXPECT_THAT(ValidatePolicy(policy), IsOk());
}

// ---------------------------------------------------------------------------------------------

TEST(ParsePolicyText, AcceptsAFullPolicy) {
  absl::StatusOr<v1::Policy> parsed = ParsePolicyText(kDefaultPolicyText);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->version(), "v7");
  EXPECT_EQ(parsed->description(), "DOMAIN.md defaults, written out");
  EXPECT_EQ(parsed->arms_reassessment_days().very_high(), 90);
  EXPECT_EQ(parsed->visit_interval_days().medium(), 182);
  EXPECT_EQ(parsed->workload().notification(), 0.5);
}

TEST(ParsePolicyText, AcceptsChangedIntervals) {
  std::string text = kDefaultPolicyText;
  const std::string from =
      "arms_reassessment_days { low: 365 medium: 365 high: 180 very_high: 90 }";
  const size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, from.size(),
               "arms_reassessment_days { low: 400 medium: 300 high: 120 very_high: 60 }");
  absl::StatusOr<v1::Policy> parsed = ParsePolicyText(text);
  ASSERT_THAT(parsed, IsOk());
  ExpectRiskDays(parsed->arms_reassessment_days(), 400, 300, 120, 60);
  EXPECT_FALSE(SameRules(*parsed, DefaultPolicy()));
}

TEST(ParsePolicyText, SyntaxErrorGivesLineAndColumn) {
  // Line 2 lacks the colon: the parser stops at "28", column 19.
  EXPECT_THAT(ParsePolicyText("arms_initial_days: 28\narms_trigger_days 28\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(StartsWith("policy: line 2 column 19: "), HasSubstr("28"))));
}

TEST(ParsePolicyText, UnknownFieldIsASyntaxErrorNamingIt) {
  EXPECT_THAT(ParsePolicyText("arms_initial_days: 28\n\n  arms_days: 3\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(StartsWith("policy: line 3 column "), HasSubstr("arms_days"))));
}

TEST(ParsePolicyText, ValidPolicySyntaxWithABadValueNamesTheField) {
  std::string text = kDefaultPolicyText;
  const std::string from = "medium: 365 high: 180 very_high: 90 }\n  arms_trigger_days";
  const size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, from.size(), "medium: 0 high: 180 very_high: 90 }\n  arms_trigger_days");
  EXPECT_THAT(
      ParsePolicyText(text),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "policy: arms_reassessment_days.medium: must be a positive number of days (got 0)"));
}

TEST(ParsePolicyText, MissingTierMessageNamesIt) {
  std::string text = kDefaultPolicyText;
  const std::string from = "rmp_review_days { low: 365 medium: 365 high: 180 very_high: 90 }";
  const size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos);
  text.erase(at, from.size());
  EXPECT_THAT(ParsePolicyText(text),
              StatusIs(absl::StatusCode::kInvalidArgument, "policy: rmp_review_days: missing"));
}

TEST(ParsePolicyText, EmptyTextIsAnInvalidPolicy) {
  EXPECT_THAT(ParsePolicyText(""),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "policy: arms_initial_days: must be a positive number of days (got 0)"));
}

// ---------------------------------------------------------------------------------------------

TEST(LoadPolicyFile, MissingFileIsNotFound) {
  vigil::testing::TempDir dir;
  const std::string path = dir.Sub("no-such-policy.textproto");
  EXPECT_THAT(LoadPolicyFile(path),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no-such-policy.textproto")));
}

TEST(LoadPolicyFile, ReadsAValidFile) {
  vigil::testing::TempDir dir;
  const std::string path = dir.Sub("policy.textproto");
  std::ofstream(path) << kDefaultPolicyText;
  absl::StatusOr<v1::Policy> loaded = LoadPolicyFile(path);
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ(loaded->version(), "v7");
  EXPECT_TRUE(SameRules(*loaded, DefaultPolicy()));
}

TEST(LoadPolicyFile, InvalidFileNamesThePathAndTheField) {
  vigil::testing::TempDir dir;
  const std::string path = dir.Sub("bad.textproto");
  std::ofstream(path) << "arms_initial_days: -1\n";
  EXPECT_THAT(LoadPolicyFile(path),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       path + ": policy: arms_initial_days: must be a positive number of days "
                              "(got -1)"));
}

// ---------------------------------------------------------------------------------------------

TEST(SameRules, IgnoresVersionAndDescription) {
  v1::Policy a = DefaultPolicy();
  a.set_version("v1");
  a.set_description("initial");
  v1::Policy b = DefaultPolicy();
  b.set_version("v2");
  b.set_description("re-stored by the admin without changes");
  EXPECT_TRUE(SameRules(a, b));
  EXPECT_TRUE(SameRules(a, DefaultPolicy()));
}

TEST(SameRules, AnyIntervalChangeIsADifferentRule) {
  const v1::Policy base = DefaultPolicy();
  v1::Policy changed = base;
  changed.mutable_arms_reassessment_days()->set_high(179);
  EXPECT_FALSE(SameRules(base, changed));
  changed = base;
  changed.set_arms_trigger_days(21);
  EXPECT_FALSE(SameRules(base, changed));
  changed = base;
  changed.mutable_workload()->set_officer_capacity(200);
  EXPECT_FALSE(SameRules(base, changed));
}

TEST(SameRules, AnUnsetOptionalFieldIsItsDefault) {
  // A policy stored before the warning fields existed sets the same rules as today's default.
  v1::Policy stored = DefaultPolicy();
  stored.clear_due_soon_percent();
  stored.clear_acknowledgement_reminder_days();
  stored.clear_escalation_late_minutes();
  stored.clear_rmp_sign_off_days();
  EXPECT_TRUE(SameRules(stored, DefaultPolicy()));
  stored.set_acknowledgement_reminder_days(0);  // reminders off: a different rule
  EXPECT_FALSE(SameRules(stored, DefaultPolicy()));
}

TEST(DueSoonPercent, AKindMayHaveItsOwnShare) {
  v1::Policy p = DefaultPolicy();
  EXPECT_EQ(DueSoonPercent(p, v1::OBLIGATION_KIND_HOME_VISIT), 75);
  v1::KindPercent* visits = p.add_due_soon_percent_by_kind();
  visits->set_kind(v1::OBLIGATION_KIND_HOME_VISIT);
  visits->set_percent(90);
  EXPECT_EQ(DueSoonPercent(p, v1::OBLIGATION_KIND_HOME_VISIT), 90);
  EXPECT_EQ(DueSoonPercent(p, v1::OBLIGATION_KIND_ARMS_ASSESSMENT), 75);
  p.clear_due_soon_percent();  // unset: the default
  EXPECT_EQ(DueSoonPercent(p, v1::OBLIGATION_KIND_ARMS_ASSESSMENT), kDefaultDueSoonPercent);
  p.set_due_soon_percent(0);  // off, except where a kind says otherwise
  EXPECT_EQ(DueSoonPercent(p, v1::OBLIGATION_KIND_ARMS_ASSESSMENT), 0);
  EXPECT_EQ(DueSoonPercent(p, v1::OBLIGATION_KIND_HOME_VISIT), 90);
}

TEST(ValidatePolicy, WarningReminderAndWatchdogSettingsNameTheField) {
  const auto refused = [](const std::function<void(v1::Policy&)>& mutate) {
    v1::Policy p = DefaultPolicy();
    mutate(p);
    return ValidatePolicy(p);
  };
  EXPECT_THAT(refused([](v1::Policy& p) { p.set_due_soon_percent(100); }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("due_soon_percent: must be 0-99, 0 for no warnings (got 100)")));
  EXPECT_THAT(refused([](v1::Policy& p) { p.add_due_soon_percent_by_kind()->set_percent(50); }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("due_soon_percent_by_kind[0].kind: name an obligation kind")));
  EXPECT_THAT(refused([](v1::Policy& p) {
                for (int i = 0; i < 2; ++i) {
                  v1::KindPercent* k = p.add_due_soon_percent_by_kind();
                  k->set_kind(v1::OBLIGATION_KIND_CSC_CHECK);
                  k->set_percent(50);
                }
              }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("due_soon_percent_by_kind[1].kind: OBLIGATION_KIND_CSC_CHECK is "
                                 "already given at [0]")));
  EXPECT_THAT(refused([](v1::Policy& p) {
                v1::KindPercent* k = p.add_due_soon_percent_by_kind();
                k->set_kind(v1::OBLIGATION_KIND_CSC_CHECK);
                k->set_percent(-1);
              }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("due_soon_percent_by_kind[0].percent: must be 0-99")));
  EXPECT_THAT(refused([](v1::Policy& p) { p.set_acknowledgement_reminder_days(-7); }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("acknowledgement_reminder_days: must be 0-365")));
  EXPECT_THAT(refused([](v1::Policy& p) { p.set_escalation_late_minutes(0); }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("escalation_late_minutes: must be 1-1440 (got 0)")));
  EXPECT_THAT(refused([](v1::Policy& p) {
                p.clear_due_soon_percent();
                p.clear_acknowledgement_reminder_days();
                p.clear_escalation_late_minutes();
              }),
              IsOk());
}

// ---------------------------------------------------------------------------------------------

TEST(DefaultPolicyFile, DeployedFileIsTheBuiltInDefault) {
  // deploy/policy/default.textproto is the built-in policy written out for operators to start
  // from; it must not drift from the code.
  absl::StatusOr<v1::Policy> file =
      LoadPolicyFile(std::string(VIGIL_SOURCE_DIR) + "/deploy/policy/default.textproto");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(SameRules(*file, DefaultPolicy()));
}

TEST(DaysFor, PicksTheTierAndGivesNothingForNotAssessed) {
  const v1::Policy policy = DefaultPolicy();  // by value: keep it alive for the reference
  const v1::RiskDays& days = policy.visit_interval_days();
  EXPECT_EQ(DaysFor(days, v1::RISK_LEVEL_LOW), 365);
  EXPECT_EQ(DaysFor(days, v1::RISK_LEVEL_MEDIUM), 182);
  EXPECT_EQ(DaysFor(days, v1::RISK_LEVEL_HIGH), 91);
  EXPECT_EQ(DaysFor(days, v1::RISK_LEVEL_VERY_HIGH), 30);
  EXPECT_EQ(DaysFor(days, v1::RISK_LEVEL_UNSPECIFIED), 0);
}

TEST(RiskName, NamesEveryLevelInWords) {
  EXPECT_EQ(RiskName(v1::RISK_LEVEL_LOW), "low");
  EXPECT_EQ(RiskName(v1::RISK_LEVEL_MEDIUM), "medium");
  EXPECT_EQ(RiskName(v1::RISK_LEVEL_HIGH), "high");
  EXPECT_EQ(RiskName(v1::RISK_LEVEL_VERY_HIGH), "very high");
  EXPECT_EQ(RiskName(v1::RISK_LEVEL_UNSPECIFIED), "not assessed");
}

TEST(RetentionReviewDue, TheGroupsIntervalAfterTheLaterOfActivityAndReviewOrTheReviewsDate) {
  const absl::TimeZone london = [] {
    absl::TimeZone zone;
    absl::LoadTimeZone("Europe/London", &zone);
    return zone;
  }();
  v1::Policy policy = DefaultPolicy();
  const absl::Time activity = absl::FromCivil(absl::CivilSecond(2020, 2, 29, 10, 0, 0), london);
  v1::Retention retention;
  *retention.mutable_last_activity_time() = ToProtoTime(activity);
  // Ten years for Group 1 and 2, six clear years for Group 3, in local calendar years (29
  // February normalises to 1 March).
  EXPECT_EQ(
      RetentionReviewDue(policy, v1::RETENTION_GROUP_1, retention, absl::InfinitePast(), london),
      absl::FromCivil(absl::CivilSecond(2030, 3, 1, 10, 0, 0), london));
  EXPECT_EQ(
      RetentionReviewDue(policy, v1::RETENTION_GROUP_3, retention, absl::InfinitePast(), london),
      absl::FromCivil(absl::CivilSecond(2026, 3, 1, 10, 0, 0), london));
  // Unset activity: the record's update_time stands in.
  EXPECT_EQ(RetentionReviewDue(policy, v1::RETENTION_GROUP_2, v1::Retention(), activity, london),
            absl::FromCivil(absl::CivilSecond(2030, 3, 1, 10, 0, 0), london));
  // The policy's own intervals.
  policy.mutable_retention()->set_group1_review_years(5);
  EXPECT_EQ(
      RetentionReviewDue(policy, v1::RETENTION_GROUP_1, retention, absl::InfinitePast(), london),
      absl::FromCivil(absl::CivilSecond(2025, 3, 1, 10, 0, 0), london));

  // A review after the last activity sets the date, earlier or later.
  v1::RetentionReview& review = *retention.add_reviews();
  *review.mutable_review_time() = ToProtoTime(activity + absl::Hours(24 * 365));
  const absl::Time next = activity + absl::Hours(24 * 400);
  *review.mutable_next_review_time() = ToProtoTime(next);
  EXPECT_EQ(
      RetentionReviewDue(policy, v1::RETENTION_GROUP_1, retention, absl::InfinitePast(), london),
      next);
  // Activity after the review: the later of the review's date and the interval from it.
  *retention.mutable_last_activity_time() = ToProtoTime(activity + absl::Hours(24 * 366));
  EXPECT_EQ(
      RetentionReviewDue(policy, v1::RETENTION_GROUP_1, retention, absl::InfinitePast(), london),
      absl::FromCivil(absl::CivilSecond(2026, 3, 1, 10, 0, 0), london));
}

TEST(ValidatePolicy, RetentionYearsAndGroupNameTheField) {
  v1::Policy policy = DefaultPolicy();
  policy.mutable_retention()->set_group3_clear_years(-1);
  EXPECT_THAT(ValidatePolicy(policy),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("retention.group3_clear_years: must be 1-100 years")));
  policy = DefaultPolicy();
  policy.mutable_retention()->set_referral_group(static_cast<v1::RetentionGroup>(9));
  EXPECT_THAT(ValidatePolicy(policy),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("retention.referral_group")));
  EXPECT_EQ(ReferralRetentionGroup(DefaultPolicy()), v1::RETENTION_GROUP_2);
  // Spelling the defaults out is the same rules.
  policy = DefaultPolicy();
  policy.mutable_retention()->set_group1_review_years(10);
  policy.mutable_retention()->set_referral_group(v1::RETENTION_GROUP_2);
  EXPECT_TRUE(SameRules(policy, DefaultPolicy()));
}

}  // namespace
}  // namespace vigil::policy
