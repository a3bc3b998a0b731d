#include "services/alerts/ladder.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/crypto/digest.h"
#include "base/proto_time.h"
#include "services/common/errors.h"
#include "services/common/validate.h"
#include "services/obligations/ledger.h"
#include "services/policy/policy.h"
#include "services/policy/schedule.h"
#include "storage/key_codec.h"

namespace vigil::alerts {
namespace {

std::string HashId(const std::string& material) {
  return absl::StrCat("AL", absl::BytesToHexString(crypto::Sha256({material}).substr(0, 10)));
}

constexpr v1::EscalationLevel kSteps[] = {v1::ESCALATION_LEVEL_SERGEANT,
                                          v1::ESCALATION_LEVEL_INSPECTOR,
                                          v1::ESCALATION_LEVEL_SUPERINTENDENT};

}  // namespace

std::string OverdueAlertId(absl::string_view context, absl::string_view force,
                           absl::string_view obligation_id, absl::Time due) {
  std::string material =
      absl::StrCat("overdue", storage::LengthPrefixed(context), storage::LengthPrefixed(force),
                   storage::LengthPrefixed(obligation_id));
  storage::PutOrderedInt64(&material, storage::ToMicros(due));
  return HashId(material);
}

std::string NoticeAlertId(absl::string_view context, absl::string_view force,
                          absl::string_view notice_id) {
  return HashId(absl::StrCat("notice", storage::LengthPrefixed(context),
                             storage::LengthPrefixed(force), storage::LengthPrefixed(notice_id)));
}

std::string DueSoonAlertId(absl::string_view context, absl::string_view force,
                           absl::string_view obligation_id, absl::Time due) {
  std::string material =
      absl::StrCat("due-soon", storage::LengthPrefixed(context), storage::LengthPrefixed(force),
                   storage::LengthPrefixed(obligation_id));
  storage::PutOrderedInt64(&material, storage::ToMicros(due));
  return HashId(material);
}

std::string LateEscalationAlertId(absl::string_view force, absl::string_view day) {
  return HashId(absl::StrCat("late-escalation", storage::LengthPrefixed(force),
                             storage::LengthPrefixed(day)));
}

bool Unowned(const v1::Obligation& obligation) {
  return obligation.owner_officer().empty() || obligation.owner_officer() == kUnallocatedOwner;
}

bool Address(const v1::Policy& policy, v1::Alert& alert) {
  const std::string addressee = alert.context() == "ocait" && Unowned(alert.obligation())
                                    ? policy.ocait_queue_manager()
                                    : std::string();
  if (addressee == alert.addressee()) return false;
  alert.set_addressee(addressee);
  return true;
}

bool Concerns(const v1::Alert& alert, absl::string_view officer) {
  return alert.obligation().owner_officer() == officer ||
         (!alert.addressee().empty() && alert.addressee() == officer);
}

namespace {

void SetRungs(const v1::Policy& policy, const std::array<policy::DueTime, 3>& rungs,
              v1::Alert& alert) {
  alert.clear_escalation_times();
  alert.clear_escalation_reasons();
  for (const policy::DueTime& rung : rungs) {
    *alert.add_escalation_times() = ToProtoTime(rung.due);
    alert.add_escalation_reasons(rung.reason);
  }
  alert.set_escalation_policy_version(policy.version());
}

}  // namespace

void SetLadder(const v1::Policy& policy, absl::TimeZone zone, v1::Alert& alert) {
  SetRungs(policy,
           policy::EscalationRungs(policy, alert.obligation().risk_level(),
                                   TimeOf(alert.trigger_time()), zone),
           alert);
}

void SetLadder(const v1::Policy& policy, absl::TimeZone zone, v1::Alert& alert, LadderMemo& memo) {
  const v1::RiskLevel risk = alert.obligation().risk_level();
  const absl::Time trigger = TimeOf(alert.trigger_time());
  // The trigger to the nanosecond, as the rungs keep it; the zone too, though one engine has one.
  const std::string key = absl::StrCat(
      storage::LengthPrefixed(alert.force()), storage::LengthPrefixed(policy.version()),
      storage::LengthPrefixed(zone.name()), static_cast<int>(risk), ":",
      alert.trigger_time().seconds(), ".", alert.trigger_time().nanos());
  auto it = memo.find(key);
  if (it == memo.end()) {
    it = memo.emplace(key, policy::EscalationRungs(policy, risk, trigger, zone)).first;
  }
  SetRungs(policy, it->second, alert);
}

v1::EscalationLevel LevelAt(const v1::Alert& alert, absl::Time now) {
  v1::EscalationLevel level = v1::ESCALATION_LEVEL_OFFICER;
  if (alert.cause() == v1::ALERT_CAUSE_LATE_ESCALATION ||
      alert.cause() == v1::ALERT_CAUSE_TEAM_FINDING) {
    level = v1::ESCALATION_LEVEL_INSPECTOR;
  } else if (alert.cause() == v1::ALERT_CAUSE_IMMEDIATE_ESCALATION || Unowned(alert.obligation())) {
    level = v1::ESCALATION_LEVEL_SERGEANT;
  }
  for (int i = 0; i < alert.escalation_times_size() && i < 3; ++i) {
    if (TimeOf(alert.escalation_times(i)) <= now) level = std::max(level, kSteps[i]);
  }
  return level;
}

bool Climb(v1::Alert& alert, absl::Time now) {
  const v1::EscalationLevel reached = std::max(alert.escalation_level(), LevelAt(alert, now));
  const bool rose = reached > alert.escalation_level();
  alert.set_escalation_level(reached);
  alert.clear_next_escalation_time();
  for (int i = 0; i < alert.escalation_times_size() && i < 3; ++i) {
    if (kSteps[i] > reached) {
      *alert.mutable_next_escalation_time() = alert.escalation_times(i);
      break;
    }
  }
  return rose;
}

bool Matches(const v1::AlertFilter& filter, const v1::Alert& alert) {
  const v1::Obligation& obligation = alert.obligation();
  if (filter.state() != v1::ALERT_STATE_UNSPECIFIED && alert.state() != filter.state())
    return false;
  if (obligation.risk_level() < filter.min_risk_level()) return false;
  if (!filter.team().empty() && obligation.team() != filter.team()) return false;
  if (!filter.officer().empty() && !Concerns(alert, filter.officer())) return false;
  if (!filter.kinds().empty() && std::find(filter.kinds().begin(), filter.kinds().end(),
                                           obligation.kind()) == filter.kinds().end()) {
    return false;
  }
  return alert.escalation_level() >= filter.min_escalation_level();
}

absl::Status ValidateFilter(const v1::AlertFilter& filter, absl::string_view prefix) {
  auto field = [&](absl::string_view name) { return absl::StrCat(prefix, ".", name); };
  if (!v1::AlertState_IsValid(filter.state())) {
    return FieldError(field("state"), absl::StrCat("unknown alert state ", filter.state()));
  }
  if (!v1::RiskLevel_IsValid(filter.min_risk_level())) {
    return FieldError(field("min_risk_level"),
                      absl::StrCat("unknown risk level ", filter.min_risk_level()));
  }
  if (!v1::EscalationLevel_IsValid(filter.min_escalation_level())) {
    return FieldError(field("min_escalation_level"),
                      absl::StrCat("unknown escalation level ", filter.min_escalation_level()));
  }
  for (int kind : filter.kinds()) {
    if (!v1::ObligationKind_IsValid(kind) || kind == v1::OBLIGATION_KIND_UNSPECIFIED) {
      return FieldError(field("kinds"), absl::StrCat("unknown obligation kind ", kind));
    }
  }
  if (absl::Status s = ValidateText(field("team"), filter.team(), 64, false); !s.ok()) return s;
  return ValidateText(field("officer"), filter.officer(), 128, false);
}

std::string LevelName(v1::EscalationLevel level) {
  absl::string_view name = v1::EscalationLevel_Name(level);
  absl::ConsumePrefix(&name, "ESCALATION_LEVEL_");
  return absl::AsciiStrToLower(name);
}

Rank RankAt(v1::EscalationLevel level) {
  switch (level) {
    case v1::ESCALATION_LEVEL_SERGEANT:
      return Rank::kSergeant;
    case v1::ESCALATION_LEVEL_INSPECTOR:
      return Rank::kInspector;
    case v1::ESCALATION_LEVEL_SUPERINTENDENT:
      return Rank::kSuperintendent;
    default:
      return Rank::kOfficer;
  }
}

absl::Status CheckMayAcknowledge(const Principal& principal, const v1::Alert& alert) {
  const v1::EscalationLevel level = alert.escalation_level();
  // Unowned work addressed to the queue manager starts at the sergeant's rung: there the
  // addressee acknowledges it as an owner would, whatever their rank.
  if (!alert.addressee().empty() && alert.addressee() == principal.actor &&
      level <= v1::ESCALATION_LEVEL_SERGEANT) {
    return absl::OkStatus();
  }
  const Rank needed = RankAt(level);
  if (principal.rank < needed) {
    return absl::PermissionDeniedError(absl::StrCat(
        "alert ", alert.id(), " has climbed to the ", LevelName(level), ": only ",
        needed == Rank::kInspector ? "an " : "a ", RankName(needed),
        " or above acknowledges it (your credential's rank is ", RankName(principal.rank), ")"));
  }
  const std::string& team = alert.obligation().team();
  const bool force_wide =
      level == v1::ESCALATION_LEVEL_SUPERINTENDENT || principal.rank == Rank::kSuperintendent;
  if (!force_wide && !team.empty() && principal.team != team) {
    return absl::PermissionDeniedError(absl::StrCat(
        "alert ", alert.id(), " is at the ", LevelName(level), "'s rung of team ", team,
        ": it is acknowledged within that team (or by a superintendent once it reaches that "
        "rung)"));
  }
  return absl::OkStatus();
}

}  // namespace vigil::alerts
