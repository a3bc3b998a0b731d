#include "services/rso/clocks.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "base/proto_time.h"
#include "services/common/errors.h"
#include "services/obligations/ledger.h"
#include "services/policy/calendar.h"
#include "services/policy/schedule.h"

namespace vigil::rso {
namespace {

struct ClockInfo {
  const char* suffix;
  v1::ObligationKind kind;
};

constexpr ClockInfo kClockInfo[kClockCount] = {
    {"arms", v1::OBLIGATION_KIND_ARMS_ASSESSMENT},
    {"arms-trigger", v1::OBLIGATION_KIND_ARMS_ASSESSMENT},
    {"rmp-review", v1::OBLIGATION_KIND_RMP_REVIEW},
    {"notification", v1::OBLIGATION_KIND_NOTIFICATION},
    {"change-notification", v1::OBLIGATION_KIND_NOTIFICATION},
    {"home-visit", v1::OBLIGATION_KIND_HOME_VISIT},
    {"rmp-sign-off", v1::OBLIGATION_KIND_RMP_SIGN_OFF},
    {"initial-notification", v1::OBLIGATION_KIND_NOTIFICATION},
    {"notification-review", v1::OBLIGATION_KIND_NOTIFICATION_REVIEW},
};

// A derived clock; visit clocks also say which interval they run on.
struct Derived {
  policy::DueTime due;
  int visit_interval_days = 0;
  v1::VisitIntervalSource visit_source = v1::VISIT_INTERVAL_SOURCE_UNSPECIFIED;
};

// The clock's due time under `policy`, or nullopt when the clock does not run for `o`.
std::optional<Derived> Derive(const v1::Offender& o, Clock clock, const v1::Policy& p,
                              absl::TimeZone zone, absl::Time now) {
  if (!Managed(o.status())) return std::nullopt;
  if (!o.has_registered_time()) {
    // Awaiting the initial notification: nothing else runs until the offender has registered.
    if (clock != Clock::kInitialNotification || !o.has_requirement_start_time())
      return std::nullopt;
    return Derived{policy::InitialNotificationDue(p, TimeOf(o.requirement_start_time()), zone)};
  }
  const absl::Time registered = TimeOf(o.registered_time());
  const std::optional<absl::Time> last_arms = TimeOf(o.has_last_arms_time(), o.last_arms_time());
  const bool in_community = o.status() == v1::OFFENDER_STATUS_ACTIVE_COMMUNITY;
  switch (clock) {
    case Clock::kArms:
      return Derived{policy::ArmsDue(p, registered, last_arms, o.risk_level(), zone)};
    case Clock::kArmsTrigger: {
      const v1::Trigger* first = nullptr;
      for (const v1::Trigger& t : o.open_triggers()) {
        if (first == nullptr || TimeOf(true, t.time()) < TimeOf(true, first->time())) first = &t;
      }
      if (first == nullptr) return std::nullopt;
      return Derived{policy::ArmsTriggerDue(p, first->type(), *TimeOf(true, first->time()), zone)};
    }
    case Clock::kRmpReview: {
      std::optional<policy::DueTime> due = policy::RmpReviewDue(
          p, last_arms, TimeOf(o.has_last_rmp_review_time(), o.last_rmp_review_time()),
          o.risk_level(), zone);
      if (!due.has_value()) return std::nullopt;
      return Derived{*std::move(due)};
    }
    case Clock::kRmpSignOff:
      if (!o.has_rmp_sign_off_pending_since()) return std::nullopt;
      return Derived{policy::RmpSignOffDue(p, o.visit_requirements().plan_id(),
                                           TimeOf(o.rmp_sign_off_pending_since()), zone)};
    case Clock::kAnnualNotification:
      if (!in_community) return std::nullopt;
      return Derived{policy::AnnualNotificationDue(
          p,
          o.has_last_notification_time() ? *TimeOf(true, o.last_notification_time()) : registered,
          zone)};
    case Clock::kChangeNotification:
      if (!in_community || !o.has_change_pending_since()) return std::nullopt;
      return Derived{policy::ChangeNotificationDue(p, *TimeOf(true, o.change_pending_since()),
                                                   o.change_pending_note(), zone)};
    case Clock::kInitialNotification:
      return std::nullopt;  // registered: met
    case Clock::kNotificationReview: {
      if (o.notification_period() != v1::NOTIFICATION_PERIOD_INDEFINITE) return std::nullopt;
      const v1::NotificationReview* last = LatestReview(o);
      if (last != nullptr && last->outcome() != v1::NOTIFICATION_REVIEW_OUTCOME_CONTINUED) {
        return std::nullopt;
      }
      return Derived{
          policy::NotificationReviewDue(p, registered, o.under_18_at_conviction(), last, zone)};
    }
    case Clock::kHomeVisit: {
      if (!in_community || o.reactive_management().enabled()) return std::nullopt;
      if (o.visit_paused()) {
        const absl::Duration left = absl::Seconds(o.visit_paused_remaining_seconds());
        const int64_t days = absl::ToInt64Hours(left) / 24;
        return Derived{
            policy::DueTime{now + left,
                            absl::StrCat("visit clock resumed on ",
                                         absl::FormatCivilTime(policy::LocalDay(now, zone)),
                                         days >= 0 ? absl::StrCat(" with ", days, " days left")
                                                   : absl::StrCat(", ", -days, " days overdue"),
                                         " of the ", o.visit_interval_days(),
                                         "-day interval (policy ", p.version(), ")"),
                            p.version(), now + left - absl::Hours(24) * o.visit_interval_days()},
            o.visit_interval_days(), o.visit_interval_source()};
      }
      policy::VisitDue visit =
          policy::HomeVisitDue(p, registered, TimeOf(o.has_last_visit_time(), o.last_visit_time()),
                               o.risk_level(), o.visit_requirements(), zone);
      return Derived{std::move(visit.due), visit.interval_days, visit.source};
    }
  }
  return std::nullopt;
}

// The facts clock `clock` is derived from (ClocksToRetime), as comparable bytes.
std::string ClockInputs(const v1::Offender& o, Clock clock) {
  auto time = [](bool present, const google::protobuf::Timestamp& ts) {
    return present ? ts.SerializeAsString() : std::string("-");
  };
  const std::string registered = time(o.has_registered_time(), o.registered_time());
  const std::string arms = absl::StrCat(time(o.has_last_arms_time(), o.last_arms_time()), "|",
                                        static_cast<int>(o.risk_level()));
  switch (clock) {
    case Clock::kArms:
      return absl::StrCat(registered, "|", arms);
    case Clock::kArmsTrigger: {
      std::string triggers;
      for (const v1::Trigger& t : o.open_triggers()) triggers += t.SerializeAsString();
      return triggers;
    }
    case Clock::kRmpReview:
      return absl::StrCat(arms, "|", time(o.has_last_rmp_review_time(), o.last_rmp_review_time()));
    case Clock::kRmpSignOff:
      return absl::StrCat(time(o.has_rmp_sign_off_pending_since(), o.rmp_sign_off_pending_since()),
                          "|", o.visit_requirements().plan_id());
    case Clock::kAnnualNotification:
      return absl::StrCat(registered, "|",
                          time(o.has_last_notification_time(), o.last_notification_time()));
    case Clock::kChangeNotification:
      return absl::StrCat(time(o.has_change_pending_since(), o.change_pending_since()), "|",
                          o.change_pending_note());
    case Clock::kInitialNotification:
      return absl::StrCat(registered, "|",
                          time(o.has_requirement_start_time(), o.requirement_start_time()));
    case Clock::kNotificationReview: {
      std::string reviews;
      for (const v1::NotificationReview& r : o.notification_reviews()) {
        reviews += r.SerializeAsString();
      }
      return absl::StrCat(registered, "|", static_cast<int>(o.notification_period()), "|",
                          o.under_18_at_conviction(), "|", reviews);
    }
    case Clock::kHomeVisit:
      return absl::StrCat(registered, "|", time(o.has_last_visit_time(), o.last_visit_time()), "|",
                          static_cast<int>(o.risk_level()), "|",
                          o.visit_requirements().visit_interval_days(), "|",
                          o.reactive_management().enabled(), "|", o.visit_paused());
  }
  return {};
}

}  // namespace

std::string ObligationId(absl::string_view offender_id, Clock clock) {
  return absl::StrCat(offender_id, "/", kClockInfo[static_cast<int>(clock)].suffix);
}

absl::Status NotBeforeRegistration(absl::string_view field, absl::Time t,
                                   const v1::Offender& offender, absl::TimeZone zone) {
  const bool registered = offender.has_registered_time();
  if (!registered && !offender.has_requirement_start_time()) return absl::OkStatus();
  const absl::CivilDay day = policy::LocalDay(t, zone);
  const absl::CivilDay since = policy::LocalDay(
      TimeOf(registered ? offender.registered_time() : offender.requirement_start_time()), zone);
  if (day >= since) return absl::OkStatus();
  return FieldError(
      field,
      absl::StrCat(absl::FormatCivilTime(day), " is before offender ", offender.id(),
                   registered ? " was registered on " : "'s notification requirement started on ",
                   absl::FormatCivilTime(since)));
}

void SetNotificationEnd(v1::Offender& o, absl::TimeZone zone) {
  std::optional<absl::Time> end;
  if (o.has_registered_time()) {
    end = policy::NotificationEnd(o.notification_period(), o.under_18_at_conviction(),
                                  TimeOf(o.registered_time()), zone);
  }
  if (end.has_value()) {
    *o.mutable_notification_end_time() = ToProtoTime(*end);
  } else {
    o.clear_notification_end_time();
  }
}

const v1::NotificationReview* LatestReview(const v1::Offender& offender) {
  const v1::NotificationReview* latest = nullptr;
  for (const v1::NotificationReview& r : offender.notification_reviews()) {
    if (latest == nullptr || TimeOf(r.decision_time()) >= TimeOf(latest->decision_time())) {
      latest = &r;
    }
  }
  return latest;
}

std::optional<RequirementEnd> EndedRequirement(const v1::Offender& o, absl::Time now,
                                               absl::TimeZone zone) {
  if (o.notification_period() == v1::NOTIFICATION_PERIOD_INDEFINITE) {
    const v1::NotificationReview* last = LatestReview(o);
    if (last == nullptr || last->outcome() != v1::NOTIFICATION_REVIEW_OUTCOME_ENDED) {
      return std::nullopt;
    }
    const absl::Time decided = TimeOf(last->decision_time());
    return RequirementEnd{
        decided, absl::StrCat("the indefinite notification requirement was ended by the review "
                              "of ",
                              absl::FormatCivilTime(policy::LocalDay(decided, zone)), " (",
                              last->decided_by(), "): ", last->reason())};
  }
  if (!o.has_notification_end_time()) return std::nullopt;
  const absl::Time end = TimeOf(o.notification_end_time());
  if (end > now) return std::nullopt;
  const int months =
      policy::NotificationPeriodMonths(o.notification_period(), o.under_18_at_conviction());
  const std::string period =
      months % 12 == 0 ? absl::StrCat(months / 12, "-year") : absl::StrCat(months, "-month");
  return RequirementEnd{
      end, absl::StrCat("the ", period, " notification period",
                        o.under_18_at_conviction() ? " (halved: under 18 at conviction)" : "",
                        " ended on ", absl::FormatCivilTime(policy::DueDay(end, zone)))};
}

bool Managed(v1::OffenderStatus status) {
  switch (status) {
    case v1::OFFENDER_STATUS_ACTIVE_COMMUNITY:
    case v1::OFFENDER_STATUS_IN_CUSTODY:
    case v1::OFFENDER_STATUS_WANTED:
    case v1::OFFENDER_STATUS_ABROAD:
      return true;
    default:
      return false;
  }
}

ClockSet ClocksToRetime(const v1::Offender* before, const v1::Offender& after) {
  if (before == nullptr) return AllClocks();
  ClockSet retime;
  for (int i = 0; i < kClockCount; ++i) {
    const Clock clock = static_cast<Clock>(i);
    if (ClockInputs(*before, clock) != ClockInputs(after, clock)) retime.set(i);
  }
  return retime;
}

std::vector<v1::Obligation> DeriveClocks(const v1::Offender* before, v1::Offender& record,
                                         bool recompute, const v1::Policy& policy,
                                         absl::TimeZone zone, absl::Time now) {
  const ClockSet retime = recompute ? AllClocks() : ClocksToRetime(before, record);
  std::vector<ClockCandidate> applicable;
  std::optional<Derived> visit;
  for (int i = 0; i < kClockCount; ++i) {
    const Clock clock = static_cast<Clock>(i);
    std::optional<Derived> derived = Derive(record, clock, policy, zone, now);
    if (!derived.has_value()) continue;
    applicable.push_back(ClockCandidate{i, ObligationId(record.id(), clock), kClockInfo[i].kind,
                                        derived->due.due, derived->due.reason,
                                        derived->due.policy_version, derived->due.start});
    if (clock == Clock::kHomeVisit) visit = std::move(derived);
  }
  ClockBits afresh;
  std::vector<v1::Obligation> open =
      MergeClocks(record.obligations(), applicable, retime,
                  ObligationHeader{record.id(), record.risk_level(), record.owner_officer(),
                                   record.team(), record.force()},
                  &afresh);
  if (visit.has_value() && afresh.test(static_cast<int>(Clock::kHomeVisit))) {
    // The visit clock now runs on this interval; a resumed clock is no longer paused.
    record.set_visit_interval_days(visit->visit_interval_days);
    record.set_visit_interval_source(visit->visit_source);
    record.set_visit_paused(false);
    record.set_visit_paused_remaining_seconds(0);
  }
  return open;
}

}  // namespace vigil::rso
