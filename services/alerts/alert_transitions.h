// The alerts context's state machine: how each input (a followed obligation opened, re-timed or
// closed, a notice, a deadline passing) moves the alerts it touches, within one
// AlertEngine::Txn. Private to services/alerts; AlertEngine (alert_engine.cc) drives it.
#ifndef VIGIL_SERVICES_ALERTS_ALERT_TRANSITIONS_H_
#define VIGIL_SERVICES_ALERTS_ALERT_TRANSITIONS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/alerts/alert_engine.h"
#include "services/alerts/alert_txn.h"
#include "services/policy/schedule.h"
#include "vigil/internal/alerts_state.pb.h"
#include "vigil/v1/alerts.pb.h"
#include "vigil/v1/obligations.pb.h"

namespace vigil::alerts {

// Resolves `alert` with `resolution`, and emits the event.
void Resolve(AlertEngine::Txn& txn, v1::Alert& alert, std::string resolution);

// Sets when the owner of `followed` is warned that it is due soon: at the policy's share of its
// interval, or at once when that has passed already; none once it is overdue.
void ScheduleWarning(internal::AlertedObligation& followed, const v1::Policy& policy,
                     absl::TimeZone zone, absl::Time now);

// Sets when the acknowledger of `alert` is next reminded that its obligation is still open:
// the policy's reminder interval after `since`, unless the acknowledgement lapses first (the
// alert then reopens, which says more).
void ScheduleReminder(v1::Alert& alert, const v1::Policy& policy, absl::TimeZone zone,
                      absl::Time since);

// The owner of `followed` is warned that it falls due soon: an event about an alert that is
// not stored (it cannot be listed or acknowledged, and never climbs).
void WarnDueSoon(AlertEngine::Txn& txn, const internal::AlertedObligation& followed,
                 const policy::DueTime& warning);

// Escalations of one force that fired late in one scan.
struct LateEscalations {
  int count = 0;
  absl::Duration worst;
  std::string alert_id;  // the latest of them
  v1::EscalationLevel level = v1::ESCALATION_LEVEL_UNSPECIFIED;
  absl::Time due;
};

// The watchdog: raises (or brings up to date) the force's system alert of the day about
// escalations firing late, at the duty inspector's rung.
absl::Status RaiseLateEscalation(AlertEngine::Txn& txn, const std::string& force,
                                 const LateEscalations& late, const v1::Policy& policy,
                                 absl::TimeZone zone);

// An obligation opened or re-timed by its owner. (One that is past due once the batch is
// applied is alerted by AlertEngine::Apply.)
absl::Status Follow(AlertEngine::Txn& txn, absl::string_view context, const v1::Obligation& now_is,
                    const v1::Policy& policy, absl::TimeZone zone);

// An obligation closed by its owner: its unresolved alerts resolve, and it is no longer followed.
absl::Status Close(AlertEngine::Txn& txn, absl::string_view context, const v1::Obligation& closed,
                   absl::string_view reason);

// A notice from an owner (non-compliance, immediate escalation, a team finding): its alert, at
// once (none when raised before this replay).
absl::Status Notice(AlertEngine::Txn& txn, absl::string_view context,
                    const v1::ObligationNotice& notice, const v1::Policy& policy,
                    absl::TimeZone zone);

// The due time of `followed` has passed: its overdue alert.
absl::Status RaiseOverdue(AlertEngine::Txn& txn, internal::AlertedObligation& followed,
                          const v1::Policy& policy, absl::TimeZone zone);

}  // namespace vigil::alerts

#endif  // VIGIL_SERVICES_ALERTS_ALERT_TRANSITIONS_H_
