#include "services/rso/clocks.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "services/common/proto_time.h"
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
};

std::optional<absl::Time> TimeOf(bool present, const google::protobuf::Timestamp& ts) {
  if (!present) return std::nullopt;
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

// The clock's due time under `policy`, or nullopt when the clock does not run for `o`.
std::optional<policy::DueTime> Derive(const v1::Offender& o, Clock clock, const v1::Policy& p,
                                      absl::TimeZone zone) {
  if (!Managed(o.status())) return std::nullopt;
  const absl::Time registered = *TimeOf(true, o.registered_time());
  const std::optional<absl::Time> last_arms = TimeOf(o.has_last_arms_time(), o.last_arms_time());
  switch (clock) {
    case Clock::kArms:
      return policy::ArmsDue(p, registered, last_arms, o.risk_level(), zone);
    case Clock::kArmsTrigger: {
      const v1::Trigger* first = nullptr;
      for (const v1::Trigger& t : o.open_triggers()) {
        if (first == nullptr || TimeOf(true, t.time()) < TimeOf(true, first->time())) first = &t;
      }
      if (first == nullptr) return std::nullopt;
      return policy::ArmsTriggerDue(p, first->type(), *TimeOf(true, first->time()), zone);
    }
    case Clock::kRmpReview:
      return policy::RmpReviewDue(p, last_arms,
                                  TimeOf(o.has_last_rmp_review_time(), o.last_rmp_review_time()),
                                  o.risk_level(), zone);
    case Clock::kAnnualNotification:
      if (o.status() != v1::OFFENDER_STATUS_ACTIVE_COMMUNITY) return std::nullopt;
      return policy::AnnualNotificationDue(
          p, o.has_last_notification_time() ? *TimeOf(true, o.last_notification_time()) : registered,
          zone);
    case Clock::kChangeNotification:
      if (o.status() != v1::OFFENDER_STATUS_ACTIVE_COMMUNITY || !o.has_change_pending_since()) {
        return std::nullopt;
      }
      return policy::ChangeNotificationDue(p, *TimeOf(true, o.change_pending_since()),
                                           o.change_pending_note(), zone);
  }
  return std::nullopt;
}

}  // namespace

std::string ObligationId(absl::string_view offender_id, Clock clock) {
  return absl::StrCat(offender_id, "/", kClockInfo[static_cast<int>(clock)].suffix);
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

std::vector<v1::Obligation> ReconcileClocks(const v1::Offender& record, ClockSet retime,
                                            const v1::Policy& policy, absl::TimeZone zone) {
  std::vector<v1::Obligation> open;
  for (int i = 0; i < kClockCount; ++i) {
    const Clock clock = static_cast<Clock>(i);
    const std::optional<policy::DueTime> due = Derive(record, clock, policy, zone);
    if (!due.has_value()) continue;
    const std::string id = ObligationId(record.id(), clock);
    const v1::Obligation* existing = nullptr;
    for (const v1::Obligation& o : record.obligations()) {
      if (o.id() == id) existing = &o;
    }
    v1::Obligation obligation;
    if (existing != nullptr && !retime.test(i)) {
      obligation = *existing;
    } else {
      obligation.set_id(id);
      obligation.set_kind(kClockInfo[i].kind);
      *obligation.mutable_due_time() = ToProtoTime(due->due);
      obligation.set_policy_version(due->policy_version);
      obligation.set_reason(due->reason);
    }
    obligation.set_subject_id(record.id());
    obligation.set_risk_level(record.risk_level());
    obligation.set_owner_officer(record.owner_officer());
    obligation.set_team(record.team());
    obligation.set_force(record.force());
    open.push_back(std::move(obligation));
  }
  return open;
}

}  // namespace vigil::rso
