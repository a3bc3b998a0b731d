// The policy as a value: the built-in default (DOMAIN.md), validation that names the bad
// field, and loading from text-format protobuf.
#ifndef VIGIL_SERVICES_POLICY_POLICY_H_
#define VIGIL_SERVICES_POLICY_POLICY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "vigil/v1/common.pb.h"
#include "vigil/v1/policy.pb.h"

namespace vigil::policy {

// DOMAIN.md's defaults: ARMS very high 90 / high 180 / medium 365 / low 365 days, initial and
// trigger 28 days; RMP review 28 days after ARMS and periodically as ARMS, a new current plan
// signed off by a supervisor within 7 days of its recording; visits very high 30,
// high 91, medium 182, low 365 days, not assessed 91; reactive management after 3 years;
// compliance over the latest 4 visits, office hours 08:00-18:00; flat diarising when 80% of
// at least 5 scheduled visits share one interval; referrals triaged within 1 day, actioned
// within very high 1 / high 7 / medium 14 / low 30 days, intelligence refreshed every 3 / 7 /
// 14 / 28 days, CSC checked within 1 day (very high, high) or 3; due-soon warnings at 75% of
// every interval, acknowledgers reminded weekly, the watchdog at 5 minutes late. version and
// description are empty.
v1::Policy DefaultPolicy();

// The sign-off interval when a policy leaves rmp_sign_off_days 0 (stored before it existed).
inline constexpr int kDefaultRmpSignOffDays = 7;
// policy.rmp_sign_off_days, or kDefaultRmpSignOffDays when 0.
int RmpSignOffDays(const v1::Policy& policy);

// InvalidArgument naming the first bad field, e.g.
// "arms_reassessment_days.medium: must be a positive number of days (got 0)".
absl::Status ValidatePolicy(const v1::Policy& policy);

// Parses text-format protobuf and validates it. InvalidArgument with the parser's line and
// column, or the validation error.
absl::StatusOr<v1::Policy> ParsePolicyText(absl::string_view text);

// Reads and parses a file. NotFound / FailedPrecondition when it cannot be read.
absl::StatusOr<v1::Policy> LoadPolicyFile(const std::string& path);

// Defaults of the optional fields (unset in a policy stored before they existed).
inline constexpr int kDefaultDueSoonPercent = 75;
inline constexpr int kDefaultAcknowledgementReminderDays = 7;
inline constexpr int kDefaultEscalationLateMinutes = 5;
inline constexpr int kDefaultGroupReviewYears = 10;
inline constexpr int kDefaultGroup3ClearYears = 6;

// The share (percent) of an obligation's interval of `kind` after which its owner is warned
// (0: no warning).
int DueSoonPercent(const v1::Policy& policy, v1::ObligationKind kind);

// The retention schedule (MoPI; DOMAIN.md): years between reviews of a record of `group`
// (Group 1 and 2: 10, Group 3: 6 clear years, unless the policy says otherwise).
int RetentionYears(const v1::Policy& policy, v1::RetentionGroup group);
// The group of an OCAIT referral: the policy's referral_group, Group 2 by default.
v1::RetentionGroup ReferralRetentionGroup(const v1::Policy& policy);
// When a record of `group` is next due for review: its group's interval (in local calendar
// years) after the later of its last activity (`retention.last_activity_time`, or
// `update_time` when unset) and its last review; when no activity followed the last review,
// the next review that review set.
absl::Time RetentionReviewDue(const v1::Policy& policy, v1::RetentionGroup group,
                              const v1::Retention& retention, absl::Time update_time,
                              absl::TimeZone zone);

// The days for `risk` in `days`; RISK_LEVEL_UNSPECIFIED has no interval (returns 0).
int DaysFor(const v1::RiskDays& days, v1::RiskLevel risk);

// "low", "medium", "high", "very high", "not assessed".
std::string RiskName(v1::RiskLevel risk);

// True when both policies set the same intervals (version and description ignored).
bool SameRules(const v1::Policy& a, const v1::Policy& b);

}  // namespace vigil::policy

#endif  // VIGIL_SERVICES_POLICY_POLICY_H_
