// Calendar arithmetic for clocks the law and policy count in days. "Within 28 days" is
// counted on the force's local calendar (Europe/London), never as 28 * 24 hours: across a
// daylight-saving change the two differ by an hour, and at a day boundary that moves the date.
#ifndef VIGIL_SERVICES_POLICY_CALENDAR_H_
#define VIGIL_SERVICES_POLICY_CALENDAR_H_

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace vigil::policy {

// Europe/London, from the system's tzdata. FailedPrecondition when tzdata is missing.
absl::StatusOr<absl::TimeZone> ForceTimeZone();

// The local calendar day `t` falls on in `zone`.
absl::CivilDay LocalDay(absl::Time t, absl::TimeZone zone);

// The same local wall-clock time `days` calendar days later (earlier when negative). A time
// that does not exist on the target day (skipped by a DST change) moves forward past the gap.
absl::Time AddLocalDays(absl::Time t, int days, absl::TimeZone zone);

// The first instant of the local day after `day`: the moment a duty due "on `day`" is overdue.
absl::Time EndOfLocalDay(absl::CivilDay day, absl::TimeZone zone);

// The local day a duty due at `due` (an EndOfLocalDay) falls due on: the day before the instant.
absl::CivilDay DueDay(absl::Time due, absl::TimeZone zone);

}  // namespace vigil::policy

#endif  // VIGIL_SERVICES_POLICY_CALENDAR_H_
