// The clocks of one offender, derived from the offender record and the policy.
//
// Which clocks run, by status: ACTIVE_COMMUNITY, IN_CUSTODY, WANTED and ABROAD keep the ARMS,
// trigger, RMP review, RMP sign-off and (indefinite requirements) notification review clocks;
// only ACTIVE_COMMUNITY keeps the notification and home-visit clocks (the visit clock pauses while
// in custody, abroad or wanted, and resumes with the time it had left); reactive management stops
// the visit clock; DECEASED, EXPIRED and TRANSFERRED offenders have none. An offender awaiting
// the initial notification (requirement_start_time, no registered_time) has that clock alone.
#ifndef VIGIL_SERVICES_RSO_CLOCKS_H_
#define VIGIL_SERVICES_RSO_CLOCKS_H_

#include <bitset>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/obligations/record_store.h"
#include "vigil/v1/common.pb.h"
#include "vigil/v1/policy.pb.h"
#include "vigil/v1/rso.pb.h"

namespace vigil::rso {

enum class Clock : uint8_t {
  kArms = 0,                 // initial, then periodic reassessment
  kArmsTrigger = 1,          // reassessment after an unanswered trigger
  kRmpReview = 2,            // risk management plan review
  kAnnualNotification = 3,   // SOA 2003 s.85
  kChangeNotification = 4,   // SOA 2003 s.84
  kHomeVisit = 5,            // home visit by risk tier or RMP
  kRmpSignOff = 6,           // a supervisor's sign-off of the current RMP
  kInitialNotification = 7,  // SOA 2003 s.83, while awaiting registration
  kNotificationReview = 8,   // SOA 2003 ss.91A-91F, indefinite requirements
};
inline constexpr int kClockCount = 9;
using ClockSet = ClockBits;

inline ClockSet Clocks(std::initializer_list<Clock> clocks) {
  ClockSet set;
  for (Clock c : clocks) set.set(static_cast<size_t>(c));
  return set;
}
inline ClockSet AllClocks() { return ClockSet().set(); }

// "<offender_id>/arms", "/arms-trigger", "/rmp-review", "/notification", "/change-notification",
// "/home-visit", "/rmp-sign-off", "/initial-notification", "/notification-review".
std::string ObligationId(absl::string_view offender_id, Clock clock);

// True when the offender is under active management (any clock may run).
bool Managed(v1::OffenderStatus status);

// Sets notification_end_time from registration, the period and age at conviction (cleared when
// indefinite, unknown or not yet registered).
void SetNotificationEnd(v1::Offender& offender, absl::TimeZone zone);

// How and when the offender's notification requirement ended, if it has by `now`: a fixed
// period at its end (notification_end_time), an indefinite one by a review that ended it.
struct RequirementEnd {
  absl::Time time;
  std::string reason;  // "the 10-year notification period ended on 2023-04-27"
};
std::optional<RequirementEnd> EndedRequirement(const v1::Offender& offender, absl::Time now,
                                               absl::TimeZone zone);

// The latest review of an indefinite requirement, or null.
const v1::NotificationReview* LatestReview(const v1::Offender& offender);

// InvalidArgument naming `field` when `t` falls on a local day (in `zone`) before the
// offender's registration: nothing of an offender's management predates it.
absl::Status NotBeforeRegistration(absl::string_view field, absl::Time t,
                                   const v1::Offender& offender, absl::TimeZone zone);

// What each clock is derived from, as the rule that decides when it re-times:
//   ARMS                registration, the latest ARMS and its risk level
//   ARMS trigger        the open triggers
//   RMP review          the latest ARMS and its risk level, the latest plan review (the later
//                       of an imported last review and the latest plan recorded)
//   RMP sign-off        the current plan and when it was recorded, while not signed off
//   annual notification registration, the last notification
//   initial notification the start of the requirement, registration (which meets it)
//   notification review  registration, the period, under 18 at conviction, the reviews
//   change notification the pending change and its note
//   home visit          registration, the last visit, the risk level, the plan's visit interval,
//                       reactive management, a pause (custody, abroad, wanted)
// A clock is derived afresh when one of these changed between `before` and `after` (every
// clock for a new record, or when `recompute`), or when it newly applies; every other open
// clock keeps its due time, reason and policy version (a policy change never moves them
// silently) but takes the record's current owner, team and risk level.
ClockSet ClocksToRetime(const v1::Offender* before, const v1::Offender& after);

// The open obligations of `after`: the clocks that apply to it, those in ClocksToRetime (or all,
// with `recompute`) derived afresh from `policy`. Clocks that no longer apply are dropped.
// `after.obligations()` holds the clocks before the edit. When the visit clock is derived, the
// record's visit_interval_days/source are set, and a paused clock resumes at `now` plus the time
// it had left (clearing visit_paused).
std::vector<v1::Obligation> DeriveClocks(const v1::Offender* before, v1::Offender& after,
                                         bool recompute, const v1::Policy& policy,
                                         absl::TimeZone zone, absl::Time now);

}  // namespace vigil::rso

#endif  // VIGIL_SERVICES_RSO_CLOCKS_H_
