#include "services/policy/calendar.h"

namespace vigil::policy {

absl::StatusOr<absl::TimeZone> ForceTimeZone() {
  absl::TimeZone zone;
  if (!absl::LoadTimeZone("Europe/London", &zone)) {
    return absl::FailedPreconditionError(
        "time zone Europe/London is not available: install the tzdata package");
  }
  return zone;
}

absl::CivilDay LocalDay(absl::Time t, absl::TimeZone zone) { return absl::ToCivilDay(t, zone); }

absl::Time AddLocalDays(absl::Time t, int days, absl::TimeZone zone) {
  const absl::CivilSecond local = absl::ToCivilSecond(t, zone);
  const absl::CivilDay day = absl::CivilDay(local) + days;
  const absl::CivilSecond target(day.year(), day.month(), day.day(), local.hour(), local.minute(),
                                 local.second());
  // Keep sub-second precision from the original instant.
  const absl::Duration fraction = t - absl::FromCivil(local, zone);
  const absl::TimeZone::TimeInfo info = zone.At(target);
  // For a skipped time, `trans` is the instant the clocks jumped; for a repeated one, `pre` is
  // the first occurrence.
  const absl::Time base = info.kind == absl::TimeZone::TimeInfo::SKIPPED ? info.trans : info.pre;
  return base + fraction;
}

absl::Time EndOfLocalDay(absl::CivilDay day, absl::TimeZone zone) {
  return zone.At(absl::CivilSecond(day + 1)).pre;
}

absl::CivilDay DueDay(absl::Time due, absl::TimeZone zone) {
  return LocalDay(due - absl::Microseconds(1), zone);
}

}  // namespace vigil::policy
