#include "services/policy/schedule.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/proto_time.h"
#include "services/policy/calendar.h"
#include "services/policy/policy.h"

namespace vigil::policy {
namespace {

std::string Date(absl::Time t, absl::TimeZone zone) {
  return absl::FormatCivilTime(LocalDay(t, zone));
}

std::string Version(const v1::Policy& policy) {
  return absl::StrCat("(policy ", policy.version().empty() ? "unversioned" : policy.version(), ")");
}

}  // namespace

absl::Time DueAfterDays(absl::Time base, int days, absl::TimeZone zone) {
  return EndOfLocalDay(LocalDay(base, zone) + days, zone);
}

DueTime ArmsDue(const v1::Policy& policy, absl::Time registered,
                std::optional<absl::Time> last_arms, v1::RiskLevel risk, absl::TimeZone zone) {
  if (!last_arms.has_value() || risk == v1::RISK_LEVEL_UNSPECIFIED) {
    const int days = policy.arms_initial_days();
    return DueTime{
        DueAfterDays(registered, days, zone),
        absl::StrCat("not assessed: initial ARMS within ", days, " days of registration on ",
                     Date(registered, zone), " ", Version(policy)),
        policy.version(), registered};
  }
  const int days = DaysFor(policy.arms_reassessment_days(), risk);
  return DueTime{
      DueAfterDays(*last_arms, days, zone),
      absl::StrCat(RiskName(risk), " risk: reassess within ", days, " days of last ARMS on ",
                   Date(*last_arms, zone), " ", Version(policy)),
      policy.version(), *last_arms};
}

DueTime ArmsTriggerDue(const v1::Policy& policy, v1::TriggerType type, absl::Time triggered,
                       absl::TimeZone zone) {
  const int days = policy.arms_trigger_days();
  return DueTime{DueAfterDays(triggered, days, zone),
                 absl::StrCat("trigger (", TriggerName(type), " on ", Date(triggered, zone),
                              "): reassess within ", days, " days ", Version(policy)),
                 policy.version(), triggered};
}

std::optional<DueTime> RmpReviewDue(const v1::Policy& policy, std::optional<absl::Time> last_arms,
                                    std::optional<absl::Time> last_review, v1::RiskLevel risk,
                                    absl::TimeZone zone) {
  if (!last_arms.has_value()) return std::nullopt;
  std::optional<DueTime> after_arms;
  if (!last_review.has_value() || *last_review < *last_arms) {
    const int days = policy.rmp_review_after_arms_days();
    after_arms = DueTime{DueAfterDays(*last_arms, days, zone),
                         absl::StrCat("review the RMP within ", days, " days of the ARMS on ",
                                      Date(*last_arms, zone), " ", Version(policy)),
                         policy.version(), *last_arms};
  }
  std::optional<DueTime> periodic;
  if (last_review.has_value() && risk != v1::RISK_LEVEL_UNSPECIFIED) {
    const int days = DaysFor(policy.rmp_review_days(), risk);
    periodic = DueTime{DueAfterDays(*last_review, days, zone),
                       absl::StrCat(RiskName(risk), " risk: review the RMP within ", days,
                                    " days of the last review on ", Date(*last_review, zone), " ",
                                    Version(policy)),
                       policy.version(), *last_review};
  }
  if (after_arms.has_value() && periodic.has_value()) {
    return periodic->due < after_arms->due ? periodic : after_arms;
  }
  return after_arms.has_value() ? after_arms : periodic;
}

DueTime RmpSignOffDue(const v1::Policy& policy, absl::string_view plan_id, absl::Time recorded,
                      absl::TimeZone zone) {
  const int days = RmpSignOffDays(policy);
  return DueTime{
      DueAfterDays(recorded, days, zone),
      absl::StrCat("supervisor sign-off of RMP ", plan_id, " within ", days,
                   " days of its recording on ", Date(recorded, zone), " ", Version(policy)),
      policy.version(), recorded};
}

DueTime AnnualNotificationDue(const v1::Policy& policy, absl::Time last_notification,
                              absl::TimeZone zone) {
  const absl::CivilDay day = LocalDay(last_notification, zone);
  // CivilDay normalises 29 February of a non-leap year to 1 March.
  const absl::CivilDay anniversary(day.year() + 1, day.month(), day.day());
  return DueTime{EndOfLocalDay(anniversary, zone),
                 absl::StrCat("annual re-notification within a year of the last on ",
                              absl::FormatCivilTime(day), " (SOA 2003 s.85) ", Version(policy)),
                 policy.version(), last_notification};
}

DueTime ChangeNotificationDue(const v1::Policy& policy, absl::Time changed, absl::string_view note,
                              absl::TimeZone zone) {
  return DueTime{DueAfterDays(changed, 3, zone),
                 absl::StrCat("notify the change of ", Date(changed, zone),
                              note.empty() ? "" : absl::StrCat(" (", note, ")"),
                              " within 3 days (SOA 2003 s.84) ", Version(policy)),
                 policy.version(), changed};
}

DueTime InitialNotificationDue(const v1::Policy& policy, absl::Time requirement_start,
                               absl::TimeZone zone) {
  return DueTime{DueAfterDays(requirement_start, 3, zone),
                 absl::StrCat("initial notification within 3 days of the requirement starting on ",
                              Date(requirement_start, zone), " (SOA 2003 s.83) ", Version(policy)),
                 policy.version(), requirement_start};
}

absl::Time NextNotificationReview(absl::Time decided, int years, absl::TimeZone zone) {
  const absl::CivilDay day = LocalDay(decided, zone);
  return EndOfLocalDay(absl::CivilDay(day.year() + years, day.month(), day.day()), zone);
}

DueTime NotificationReviewDue(const v1::Policy& policy, absl::Time first_notification,
                              bool under_18, const v1::NotificationReview* last_continued,
                              absl::TimeZone zone) {
  if (last_continued != nullptr) {
    const absl::Time decided = TimeOf(last_continued->decision_time());
    return DueTime{
        TimeOf(last_continued->next_review_time()),
        absl::StrCat("review of the indefinite notification requirement, continued on ",
                     Date(decided, zone), " until this review (SOA 2003 s.91D) ", Version(policy)),
        policy.version(), decided};
  }
  const int years = under_18 ? 8 : 15;
  return DueTime{
      NextNotificationReview(first_notification, years, zone),
      absl::StrCat("review of the indefinite notification requirement ", years,
                   " years after the first notification on ", Date(first_notification, zone),
                   under_18 ? " (under 18 at conviction)" : "", " (SOA 2003 s.91B) ",
                   Version(policy)),
      policy.version(), first_notification};
}

int NotificationPeriodMonths(v1::NotificationPeriod period, bool under_18) {
  int months = 0;
  switch (period) {
    case v1::NOTIFICATION_PERIOD_10_YEARS:
      months = 120;
      break;
    case v1::NOTIFICATION_PERIOD_7_YEARS:
      months = 84;
      break;
    case v1::NOTIFICATION_PERIOD_5_YEARS:
      months = 60;
      break;
    case v1::NOTIFICATION_PERIOD_2_YEARS:
      months = 24;
      break;
    default:
      return 0;
  }
  return under_18 ? months / 2 : months;
}

std::optional<absl::Time> NotificationEnd(v1::NotificationPeriod period, bool under_18,
                                          absl::Time registered, absl::TimeZone zone) {
  const int months = NotificationPeriodMonths(period, under_18);
  if (months == 0) return std::nullopt;
  const absl::CivilDay day = LocalDay(registered, zone);
  const absl::CivilMonth month = absl::CivilMonth(day) + months;
  return EndOfLocalDay(absl::CivilDay(month.year(), month.month(), day.day()), zone);
}

VisitDue HomeVisitDue(const v1::Policy& policy, absl::Time registered,
                      std::optional<absl::Time> last_visit, v1::RiskLevel risk,
                      const v1::VisitRequirements& requirements, absl::TimeZone zone) {
  VisitDue visit;
  std::string why;
  if (requirements.visit_interval_days() > 0) {
    visit.interval_days = requirements.visit_interval_days();
    visit.source = v1::VISIT_INTERVAL_SOURCE_RMP;
    why = absl::StrCat(
        "the RMP reviewed on ", Date(TimeOf(requirements.plan_reviewed_time()), zone),
        " sets visits every ", visit.interval_days, " days",
        requirements.reason().empty() ? "" : absl::StrCat(" (", requirements.reason(), ")"));
  } else {
    visit.interval_days = risk == v1::RISK_LEVEL_UNSPECIFIED
                              ? policy.visit_interval_unassessed_days()
                              : DaysFor(policy.visit_interval_days(), risk);
    visit.source = v1::VISIT_INTERVAL_SOURCE_POLICY;
    why = absl::StrCat(RiskName(risk), " risk");
  }
  const absl::Time base = last_visit.value_or(registered);
  visit.due =
      DueTime{DueAfterDays(base, visit.interval_days, zone),
              absl::StrCat(why, ": visit within ", visit.interval_days, " days of ",
                           last_visit.has_value() ? "the last visit on " : "registration on ",
                           Date(base, zone), " ", Version(policy)),
              policy.version(), base};
  return visit;
}

v1::ReactiveEligibility ReactiveEligibility(const v1::Policy& policy, const v1::Offender& o,
                                            absl::Time now, absl::TimeZone zone) {
  v1::ReactiveEligibility result;
  const int years = policy.reactive_offence_free_years();
  const absl::CivilDay today = LocalDay(now, zone);
  const absl::CivilDay cutoff(today.year() - years, today.month(), today.day());
  if (o.risk_level() != v1::RISK_LEVEL_LOW) {
    result.add_unmet(absl::StrCat("risk level is ", RiskName(o.risk_level()), ", not low"));
  }
  absl::Time offence_free_since = TimeOf(o.registered_time());
  if (o.has_last_offence_time() && TimeOf(o.last_offence_time()) > offence_free_since) {
    offence_free_since = TimeOf(o.last_offence_time());
  }
  if (LocalDay(offence_free_since, zone) > cutoff) {
    result.add_unmet(absl::StrCat("in the community without offence only since ",
                                  Date(offence_free_since, zone), ", not ", years, " years"));
  }
  if (o.civil_order_active()) result.add_unmet("a civil order is in force");
  if (o.has_last_intelligence_time() &&
      LocalDay(TimeOf(o.last_intelligence_time()), zone) > cutoff) {
    result.add_unmet(absl::StrCat("intelligence received on ",
                                  Date(TimeOf(o.last_intelligence_time()), zone), ", within ",
                                  years, " years"));
  }
  result.set_eligible(result.unmet_size() == 0);
  return result;
}

DueTime ReferralTriageDue(const v1::Policy& policy, absl::Time received, absl::TimeZone zone) {
  const int days = policy.referral_triage_days();
  return DueTime{DueAfterDays(received, days, zone),
                 absl::StrCat("not graded: triage within ", days, " day", days == 1 ? "" : "s",
                              " of receipt on ", Date(received, zone), " ", Version(policy)),
                 policy.version(), received};
}

DueTime ReferralActionDue(const v1::Policy& policy, v1::RiskLevel triage_grade, absl::Time received,
                          absl::Span<const Regrade> regrades, absl::TimeZone zone) {
  auto within = [](int days) { return absl::StrCat(days, days == 1 ? " day" : " days"); };
  const int first_days = DaysFor(policy.referral_action_days(), triage_grade);
  absl::CivilDay due = LocalDay(received, zone) + first_days;
  absl::Time start = received;  // when the interval ending at `due` began
  // Why `due` is the due date, without the policy version.
  std::string basis = absl::StrCat(RiskName(triage_grade), " grade: action within ",
                                   within(first_days), " of receipt on ", Date(received, zone));
  std::string reason = basis;
  for (const Regrade& regrade : regrades) {
    if (regrade.to == regrade.from) continue;
    const int days = DaysFor(policy.referral_action_days(), regrade.to);
    const std::string regraded =
        absl::StrCat("regraded ", RiskName(regrade.from), " → ", RiskName(regrade.to), " on ",
                     Date(regrade.time, zone));
    if (regrade.to > regrade.from) {
      const absl::CivilDay candidate = LocalDay(regrade.time, zone) + days;
      const std::string candidate_basis =
          absl::StrCat(RiskName(regrade.to), " grade: within ", within(days), " of the regrade");
      const absl::CivilDay chosen = std::min(due, candidate);
      reason = absl::StrCat(regraded, ": action by ", absl::FormatCivilTime(chosen),
                            ", the earlier of ", absl::FormatCivilTime(due), " (", basis, ") and ",
                            absl::FormatCivilTime(candidate), " (", candidate_basis, ")");
      if (candidate < due) {
        basis = absl::StrCat(candidate_basis, " on ", Date(regrade.time, zone));
        due = candidate;
        start = regrade.time;
      }
    } else if (regrade.extended) {
      const absl::CivilDay candidate = LocalDay(received, zone) + days;
      const std::string candidate_basis =
          absl::StrCat(RiskName(regrade.to), " grade: action within ", within(days),
                       " of receipt on ", Date(received, zone));
      const absl::CivilDay chosen = std::max(due, candidate);
      reason = absl::StrCat(regraded, ", extended by a supervisor: action by ",
                            absl::FormatCivilTime(chosen), ", the later of ",
                            absl::FormatCivilTime(due), " (", basis, ") and ",
                            absl::FormatCivilTime(candidate), " (", candidate_basis, ")");
      if (candidate > due) {
        basis = candidate_basis;
        due = candidate;
        start = received;
      }
    } else {
      reason = absl::StrCat(regraded, ": action still by ", absl::FormatCivilTime(due), " (", basis,
                            "): a lower grade gives no more time without a supervisor's "
                            "extension");
    }
  }
  return DueTime{EndOfLocalDay(due, zone), absl::StrCat(reason, " ", Version(policy)),
                 policy.version(), start};
}

DueTime IntelRefreshDue(const v1::Policy& policy, v1::RiskLevel grade, absl::Time last,
                        bool refreshed_before, absl::TimeZone zone) {
  const int days = DaysFor(policy.intel_refresh_days(), grade);
  return DueTime{DueAfterDays(last, days, zone),
                 absl::StrCat(RiskName(grade), " grade: refresh intelligence within ", days,
                              " days of the ", refreshed_before ? "last refresh" : "triage", " on ",
                              Date(last, zone), " ", Version(policy)),
                 policy.version(), last};
}

DueTime CscCheckDue(const v1::Policy& policy, v1::RiskLevel grade, absl::Time triaged,
                    absl::TimeZone zone) {
  const int days = DaysFor(policy.csc_check_days(), grade);
  return DueTime{DueAfterDays(triaged, days, zone),
                 absl::StrCat(RiskName(grade), " grade: check with children's social care within ",
                              days, " day", days == 1 ? "" : "s", " of triage on ",
                              Date(triaged, zone), " ", Version(policy)),
                 policy.version(), triaged};
}

std::string TriggerName(v1::TriggerType type) {
  switch (type) {
    case v1::TRIGGER_TYPE_NEW_INTELLIGENCE:
      return "new intelligence";
    case v1::TRIGGER_TYPE_ADDRESS_OR_HOUSEHOLD_CHANGE:
      return "address or household change";
    case v1::TRIGGER_TYPE_CHILD_IN_HOUSEHOLD:
      return "child in household";
    case v1::TRIGGER_TYPE_ARREST_OR_BREACH:
      return "arrest or breach";
    case v1::TRIGGER_TYPE_RELEASE_FROM_CUSTODY:
      return "release from custody";
    case v1::TRIGGER_TYPE_MAPPA_LEVEL_CHANGE:
      return "MAPPA level change";
    case v1::TRIGGER_TYPE_REFUSED_ACCESS:
      return "refused access";
    default:
      return "unspecified trigger";
  }
}

std::array<DueTime, 3> EscalationRungs(const v1::Policy& policy, v1::RiskLevel risk,
                                       absl::Time raised, absl::TimeZone zone) {
  const v1::RiskLevel climbs_as = risk == v1::RISK_LEVEL_UNSPECIFIED ? v1::RISK_LEVEL_HIGH : risk;
  const std::pair<const v1::RiskDays*, const char*> rungs[3] = {
      {&policy.escalate_to_sergeant_days(), "sergeant"},
      {&policy.escalate_to_inspector_days(), "inspector"},
      {&policy.escalate_to_superintendent_days(), "superintendent"}};
  std::array<DueTime, 3> due;
  for (int i = 0; i < 3; ++i) {
    const int days = DaysFor(*rungs[i].first, climbs_as);
    due[i] = DueTime{
        AddLocalDays(raised, days, zone),
        absl::StrCat(risk == v1::RISK_LEVEL_UNSPECIFIED ? "not assessed (climbs as high)"
                                                        : absl::StrCat(RiskName(risk), " risk"),
                     ": to the ", rungs[i].second, " ", days, " days after the alert of ",
                     Date(raised, zone), " ", Version(policy)),
        policy.version()};
  }
  return due;
}

DueTime AcknowledgementExpiry(const v1::Policy& policy, absl::Time acknowledged,
                              absl::TimeZone zone) {
  const int days = policy.acknowledgement_expiry_days();
  return DueTime{AddLocalDays(acknowledged, days, zone),
                 absl::StrCat("an acknowledgement lapses ", days, " days after it was given on ",
                              Date(acknowledged, zone), " ", Version(policy)),
                 policy.version()};
}

std::optional<DueTime> DueSoonWarning(const v1::Policy& policy, const v1::Obligation& obligation,
                                      absl::TimeZone zone) {
  int percent = DueSoonPercent(policy, obligation.kind());
  if (percent <= 0 || !obligation.has_start_time() || !obligation.has_due_time()) {
    return std::nullopt;
  }
  const absl::Time start = TimeOf(obligation.start_time());
  const absl::Time due = TimeOf(obligation.due_time());
  if (due <= start) return std::nullopt;
  // Due at the first instant of the day after its last local day: a clock of N days from day D
  // is due by the end of D + N.
  const absl::CivilDay last_day = LocalDay(due - absl::Microseconds(1), zone);
  const int64_t days = last_day - LocalDay(start, zone);
  return DueTime{start + (due - start) * percent / 100,
                 absl::StrCat("due by the end of ", absl::FormatCivilTime(last_day), ": ", percent,
                              "% of its ", days, "-day interval from ", Date(start, zone),
                              " has passed ", Version(policy)),
                 policy.version(), start};
}

std::optional<DueTime> AcknowledgementReminder(const v1::Policy& policy, absl::Time since,
                                               absl::TimeZone zone) {
  const int days = policy.has_acknowledgement_reminder_days()
                       ? policy.acknowledgement_reminder_days()
                       : kDefaultAcknowledgementReminderDays;
  if (days <= 0) return std::nullopt;
  return DueTime{AddLocalDays(since, days, zone),
                 absl::StrCat("the acknowledger is reminded every ", days, " days while the ",
                              "obligation stays open ", Version(policy)),
                 policy.version()};
}

absl::Duration EscalationLateAfter(const v1::Policy& policy) {
  return absl::Minutes(policy.has_escalation_late_minutes() ? policy.escalation_late_minutes()
                                                            : kDefaultEscalationLateMinutes);
}

DueTime PlanHorizon(absl::Time now, int days, absl::TimeZone zone) {
  const absl::CivilDay last = LocalDay(now, zone) + days;
  return DueTime{EndOfLocalDay(last, zone),
                 absl::StrCat("due by the end of ", absl::FormatCivilTime(last), " (", days,
                              " days from ", absl::FormatCivilTime(LocalDay(now, zone)), ")"),
                 ""};
}

}  // namespace vigil::policy
