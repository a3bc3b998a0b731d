// Pure functions from facts to due times. Each result carries the policy version that set it
// and the reason in words, both stored with the obligation:
//   "medium risk: reassess within 365 days of last ARMS on 2024-03-02 (policy v1)"
// A duty due "within N days of D" is due by the end of local day D + N (Europe/London): it is
// overdue from the first instant of the day after.
#ifndef VIGIL_SERVICES_POLICY_SCHEDULE_H_
#define VIGIL_SERVICES_POLICY_SCHEDULE_H_

#include <array>
#include <optional>
#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "vigil/v1/common.pb.h"
#include "vigil/v1/policy.pb.h"
#include "vigil/v1/rso.pb.h"

namespace vigil::policy {

struct DueTime {
  absl::Time due;
  std::string reason;
  std::string policy_version;
  // When the interval ending at `due` began (InfinitePast where there is none: escalation
  // rungs, acknowledgement lapses, horizons).
  absl::Time start = absl::InfinitePast();

  friend bool operator==(const DueTime&, const DueTime&) = default;
};

// The end of local day LocalDay(base) + days, in `zone`.
absl::Time DueAfterDays(absl::Time base, int days, absl::TimeZone zone);

// The ARMS clock that always runs: the initial assessment (within arms_initial_days of
// registration) while there is none, then reassessment by the latest assessment's risk level.
DueTime ArmsDue(const v1::Policy& policy, absl::Time registered,
                std::optional<absl::Time> last_arms, v1::RiskLevel risk, absl::TimeZone zone);

// The trigger clock: reassess within arms_trigger_days of the earliest unanswered trigger.
DueTime ArmsTriggerDue(const v1::Policy& policy, v1::TriggerType type, absl::Time triggered,
                       absl::TimeZone zone);

// The RMP review clock; none (nullopt) before the first ARMS. After an ARMS not yet followed by
// a review: within rmp_review_after_arms_days of it. Otherwise periodically by risk from the
// last review. When both apply, the earlier.
std::optional<DueTime> RmpReviewDue(const v1::Policy& policy, std::optional<absl::Time> last_arms,
                                    std::optional<absl::Time> last_review, v1::RiskLevel risk,
                                    absl::TimeZone zone);

// The sign-off clock of the current plan `plan_id`, recorded at `recorded`: a supervisor
// (sergeant or above) signs it off within RmpSignOffDays(policy) local days of the recording.
DueTime RmpSignOffDue(const v1::Policy& policy, absl::string_view plan_id, absl::Time recorded,
                      absl::TimeZone zone);

// SOA 2003 s.85: re-notify within one year of the last notification (law, not policy: the
// same calendar date a year on; 29 February moves to 1 March).
DueTime AnnualNotificationDue(const v1::Policy& policy, absl::Time last_notification,
                              absl::TimeZone zone);

// SOA 2003 s.84: notify a change within 3 days of it.
DueTime ChangeNotificationDue(const v1::Policy& policy, absl::Time changed, absl::string_view note,
                              absl::TimeZone zone);

// SOA 2003 s.83: the initial notification within 3 days of the start of the requirement (the
// conviction, caution or finding, or release from custody).
DueTime InitialNotificationDue(const v1::Policy& policy, absl::Time requirement_start,
                               absl::TimeZone zone);

// SOA 2003 ss.91A-91F: the review of an indefinite requirement, 15 years after the first
// notification following release (8 if under 18 at conviction), or — once a review continued it —
// when that review set. Law, not policy: the same calendar date, end of the local day.
DueTime NotificationReviewDue(const v1::Policy& policy, absl::Time first_notification,
                              bool under_18, const v1::NotificationReview* last_continued,
                              absl::TimeZone zone);

// The default next review after a review that continued an indefinite requirement (8 years on)
// and the latest a review may set (15 years on): the same calendar date, end of the local day.
absl::Time NextNotificationReview(absl::Time decided, int years, absl::TimeZone zone);

// The length of a fixed notification period in months, halved when convicted under 18; 0 when
// indefinite or unknown.
int NotificationPeriodMonths(v1::NotificationPeriod period, bool under_18);

// The end of the notification period: registration plus the period (halved when convicted
// under 18); nullopt when indefinite or unknown.
std::optional<absl::Time> NotificationEnd(v1::NotificationPeriod period, bool under_18,
                                          absl::Time registered, absl::TimeZone zone);

// The home-visit clock: within the interval of the last visit at which the offender was seen
// (or of registration when none). The interval is the current RMP's override when it sets one,
// else the policy's for the risk tier (or for "not assessed").
struct VisitDue {
  DueTime due;
  int interval_days = 0;
  v1::VisitIntervalSource source = v1::VISIT_INTERVAL_SOURCE_UNSPECIFIED;
};
VisitDue HomeVisitDue(const v1::Policy& policy, absl::Time registered,
                      std::optional<absl::Time> last_visit, v1::RiskLevel risk,
                      const v1::VisitRequirements& requirements, absl::TimeZone zone);

// Whether the offender meets the criteria for reactive management at `now`: low risk; no
// offence, and no intelligence, for reactive_offence_free_years (counted from the later of
// registration and the last offence); no civil order in force. Lists every unmet criterion.
v1::ReactiveEligibility ReactiveEligibility(const v1::Policy& policy, const v1::Offender& offender,
                                            absl::Time now, absl::TimeZone zone);

// OCAIT: an ungraded referral is due for triage within referral_triage_days of receipt.
DueTime ReferralTriageDue(const v1::Policy& policy, absl::Time received, absl::TimeZone zone);

// A change of a triaged referral's grade (by an intelligence refresh), as its action clock sees
// it.
struct Regrade {
  absl::Time time;
  v1::RiskLevel from = v1::RISK_LEVEL_UNSPECIFIED;
  v1::RiskLevel to = v1::RISK_LEVEL_UNSPECIFIED;
  // A supervisor gave a reason to let this downward regrade give more time.
  bool extended = false;
};

// The action target. From receipt at the grade given at triage (`triage_grade`); then, for each
// regrade in the order recorded (a regrade to the same grade changes nothing):
//   upward    the earlier of the due time so far and the end of the regrade's day + the new
//             grade's target: a higher grade never gives more time;
//   downward  the due time so far: a lower grade never gives more time either, unless a
//             supervisor extended it (`extended`): then the later of the due time so far and
//             receipt + the new grade's target (as if graded so at triage).
// The reason names the last regrade, both candidate dates and which one applies:
//   "regraded low → high on 2026-12-02: action by 2026-12-07, the earlier of 2026-12-07 (low
//    grade: action within 30 days of receipt on 2026-11-07) and 2026-12-09 (high grade: within
//    7 days of the regrade) (policy v1)"
DueTime ReferralActionDue(const v1::Policy& policy, v1::RiskLevel triage_grade, absl::Time received,
                          absl::Span<const Regrade> regrades, absl::TimeZone zone);

// The next intelligence refresh at `grade`, from the last refresh (or triage when none).
DueTime IntelRefreshDue(const v1::Policy& policy, v1::RiskLevel grade, absl::Time last,
                        bool refreshed_before, absl::TimeZone zone);

// The CSC check deadline after triage at `grade`.
DueTime CscCheckDue(const v1::Policy& policy, v1::RiskLevel grade, absl::Time triaged,
                    absl::TimeZone zone);

// The rungs of the escalation ladder of an alert raised at `raised` about an obligation of
// `risk` (not assessed climbs like high): the sergeant's, the inspector's and the
// superintendent's, each the policy's number of local calendar days later, at the same local
// time of day.
std::array<DueTime, 3> EscalationRungs(const v1::Policy& policy, v1::RiskLevel risk,
                                       absl::Time raised, absl::TimeZone zone);

// When an acknowledgement made at `acknowledged` lapses: acknowledgement_expiry_days local
// calendar days later, at the same local time of day.
DueTime AcknowledgementExpiry(const v1::Policy& policy, absl::Time acknowledged,
                              absl::TimeZone zone);

// When the owner of `obligation` is warned that it is due soon: once the policy's due-soon share
// (due_soon_percent, or its kind's due_soon_percent_by_kind) of the interval from its start_time
// to its due_time has passed. nullopt when warnings are off for its kind, or it has no start.
std::optional<DueTime> DueSoonWarning(const v1::Policy& policy, const v1::Obligation& obligation,
                                      absl::TimeZone zone);

// When the acknowledger of an alert whose obligation is still open is next reminded of it:
// acknowledgement_reminder_days local calendar days after `since` (the acknowledgement or the
// last reminder), at the same local time of day. nullopt when reminders are off.
std::optional<DueTime> AcknowledgementReminder(const v1::Policy& policy, absl::Time since,
                                               absl::TimeZone zone);

// How late an escalation may fire before the watchdog raises a system alert
// (escalation_late_minutes).
absl::Duration EscalationLateAfter(const v1::Policy& policy);

// The end of a plan looking `days` ahead from `now`: the end of that local calendar day.
DueTime PlanHorizon(absl::Time now, int days, absl::TimeZone zone);

// "address or household change", ...
std::string TriggerName(v1::TriggerType type);

}  // namespace vigil::policy

#endif  // VIGIL_SERVICES_POLICY_SCHEDULE_H_
