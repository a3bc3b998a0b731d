// The pure rules of alerting: stable alert ids, the escalation ladder, and which alerts a
// filter covers. No storage, no clock: everything takes `now`.
#ifndef VIGIL_SERVICES_ALERTS_LADDER_H_
#define VIGIL_SERVICES_ALERTS_LADDER_H_

#include <array>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/common/auth.h"
#include "services/policy/schedule.h"
#include "vigil/v1/alerts.pb.h"
#include "vigil/v1/policy.pb.h"

namespace vigil::alerts {

// "AL" and 20 hex digits of SHA-256 over the parts: the same obligation overdue from the same
// due time always gets the same id, in any process, after any restart.
std::string OverdueAlertId(absl::string_view context, absl::string_view force,
                           absl::string_view obligation_id, absl::Time due);
std::string NoticeAlertId(absl::string_view context, absl::string_view force,
                          absl::string_view notice_id);
// The due-soon warning about an obligation due at `due` (never stored; stable across replays).
std::string DueSoonAlertId(absl::string_view context, absl::string_view force,
                           absl::string_view obligation_id, absl::Time due);
// The watchdog's system alert of `force` for local day `day` ("2026-12-03").
std::string LateEscalationAlertId(absl::string_view force, absl::string_view day);

// True when nobody owns `obligation`: a referral waiting for allocation, an offender without
// an officer.
bool Unowned(const v1::Obligation& obligation);

// Addresses an alert about unowned referral work to the force's OCAIT queue manager (policy),
// or clears the addressee once the work has an owner. True when the addressee changed.
bool Address(const v1::Policy& policy, v1::Alert& alert);

// Whether `officer` owns the alert's obligation or is its addressee: they may see and
// acknowledge it, and an officer filter matches it.
bool Concerns(const v1::Alert& alert, absl::string_view officer);

// Fills the ladder of `alert` (escalation_times and escalation_reasons from trigger_time and its
// obligation's risk, escalation_policy_version) from `policy`, counting local calendar days in
// `zone` (policy::EscalationRungs). An obligation not yet assessed climbs like high.
void SetLadder(const v1::Policy& policy, absl::TimeZone zone, v1::Alert& alert);

// Escalation rungs worked out by one unit of work, by force, policy version (a force's version
// names one content), zone, risk and trigger time: deadlines falling due at one instant (every
// clock due at the same midnight) raise thousands of alerts with a handful of distinct ladders.
using LadderMemo = absl::flat_hash_map<std::string, std::array<policy::DueTime, 3>>;
// As SetLadder, each distinct ladder worked out once in `memo`.
void SetLadder(const v1::Policy& policy, absl::TimeZone zone, v1::Alert& alert, LadderMemo& memo);

// The level the ladder has reached at `now`: where it starts — the owning officer; the
// sergeant for immediate escalation or unowned work (Unowned); the inspector for the
// watchdog's late-escalation alert and a team finding — or the highest step whose time has
// come.
v1::EscalationLevel LevelAt(const v1::Alert& alert, absl::Time now);

// Brings an open alert's level up to LevelAt(now) and sets next_escalation_time to the next
// step still to come (cleared at the top). Returns true when the level rose.
bool Climb(v1::Alert& alert, absl::Time now);

// True when `alert` passes every set field of `filter`.
bool Matches(const v1::AlertFilter& filter, const v1::Alert& alert);

// InvalidArgument naming the field ("filters.min_risk_level") for unknown enum values or an
// over-long team or officer. `prefix` is the filter's field name.
absl::Status ValidateFilter(const v1::AlertFilter& filter, absl::string_view prefix);

// "sergeant", "superintendent".
std::string LevelName(v1::EscalationLevel level);

// The rank a rung names: officer, sergeant, inspector, superintendent.
Rank RankAt(v1::EscalationLevel level);

// OK when `principal` may acknowledge `alert` at the rung it has reached: a rank at or above
// the rung's, in the alert's force (the caller's, by construction), and in the alert's team at
// every rung below the superintendent's (which is force-wide). PermissionDenied saying who may.
absl::Status CheckMayAcknowledge(const Principal& principal, const v1::Alert& alert);

}  // namespace vigil::alerts

#endif  // VIGIL_SERVICES_ALERTS_LADDER_H_
