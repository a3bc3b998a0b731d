#include "services/ocait/clocks.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "base/proto_time.h"
#include "services/obligations/ledger.h"
#include "services/policy/schedule.h"

namespace vigil::ocait {
namespace {

struct ClockInfo {
  const char* suffix;
  v1::ObligationKind kind;
};

constexpr ClockInfo kClockInfo[] = {
    {"triage", v1::OBLIGATION_KIND_REFERRAL_ACTION},
    {"action", v1::OBLIGATION_KIND_REFERRAL_ACTION},
    {"intel-refresh", v1::OBLIGATION_KIND_INTEL_REFRESH},
    {"csc-check", v1::OBLIGATION_KIND_CSC_CHECK},
};

constexpr int kClockCount = 4;

// The regrades of a triaged referral, in the order its refreshes were recorded.
std::vector<policy::Regrade> Regrades(const v1::Referral& r) {
  std::vector<policy::Regrade> regrades;
  for (const v1::IntelRefresh& refresh : r.refreshes()) {
    if (refresh.grade_before() == refresh.grade_after() ||
        refresh.grade_before() == v1::RISK_LEVEL_UNSPECIFIED) {
      continue;
    }
    regrades.push_back(policy::Regrade{TimeOf(refresh.refreshed_time()), refresh.grade_before(),
                                       refresh.grade_after(), !refresh.extension_reason().empty()});
  }
  return regrades;
}

// The facts clock `clock` is derived from (ClocksToRetime), as comparable bytes.
std::string ClockInputs(const v1::Referral& r, Clock clock) {
  auto time = [](bool present, const google::protobuf::Timestamp& ts) {
    return present ? ts.SerializeAsString() : std::string("-");
  };
  const std::string received = time(r.has_received_time(), r.received_time());
  const std::string triaged = time(r.has_triaged_time(), r.triaged_time());
  const std::string grade = absl::StrCat(static_cast<int>(r.grade()));
  switch (clock) {
    case Clock::kTriage:
      return received;
    case Clock::kAction: {
      std::string inputs = absl::StrCat(grade, "|", received, "|",
                                        time(r.has_action_clock_start(), r.action_clock_start()));
      for (const policy::Regrade& g : Regrades(r)) {
        absl::StrAppend(&inputs, "|", absl::ToUnixMicros(g.time), ":", static_cast<int>(g.from),
                        ">", static_cast<int>(g.to), g.extended ? "+" : "");
      }
      return inputs;
    }
    case Clock::kIntelRefresh:
      return absl::StrCat(grade, "|", triaged, "|",
                          time(r.has_last_refresh_time(), r.last_refresh_time()));
    case Clock::kCscCheck:
      return absl::StrCat(grade, "|", triaged);
  }
  return {};
}

}  // namespace

ClockBits ClocksToRetime(const v1::Referral* before, const v1::Referral& after) {
  ClockBits retime;
  for (int i = 0; i < kClockCount; ++i) {
    const Clock clock = static_cast<Clock>(i);
    if (before == nullptr || ClockInputs(*before, clock) != ClockInputs(after, clock)) {
      retime.set(i);
    }
  }
  return retime;
}

std::string ObligationId(absl::string_view referral_id, Clock clock) {
  return absl::StrCat(referral_id, "/", kClockInfo[static_cast<int>(clock)].suffix);
}

std::vector<v1::Obligation> DeriveClocks(const v1::Referral* before, const v1::Referral& r,
                                         bool recompute, const v1::Policy& policy,
                                         absl::TimeZone zone) {
  const ClockBits retime = recompute ? ClockBits().set() : ClocksToRetime(before, r);
  std::vector<ClockCandidate> applicable;
  auto add = [&](Clock clock, const policy::DueTime& due) {
    const int i = static_cast<int>(clock);
    applicable.push_back(ClockCandidate{i, ObligationId(r.id(), clock), kClockInfo[i].kind, due.due,
                                        due.reason, due.policy_version, due.start});
  };
  const absl::Time received = TimeOf(r.received_time());
  const absl::Time triaged = r.has_triaged_time() ? TimeOf(r.triaged_time()) : received;
  const bool waiting = r.state() == v1::REFERRAL_STATE_AWAITING_ALLOCATION ||
                       r.state() == v1::REFERRAL_STATE_ALLOCATED;
  if (r.state() == v1::REFERRAL_STATE_RECEIVED) {
    add(Clock::kTriage, policy::ReferralTriageDue(policy, received, zone));
  }
  if (waiting) {
    const std::vector<policy::Regrade> regrades = Regrades(r);
    add(Clock::kAction,
        policy::ReferralActionDue(policy, regrades.empty() ? r.grade() : regrades.front().from,
                                  received, regrades, zone));
    const bool refreshed = r.has_last_refresh_time();
    add(Clock::kIntelRefresh,
        policy::IntelRefreshDue(policy, r.grade(),
                                refreshed ? TimeOf(r.last_refresh_time()) : triaged, refreshed,
                                zone));
  }
  if ((waiting || r.state() == v1::REFERRAL_STATE_ACTIONED) && !r.has_csc_check()) {
    add(Clock::kCscCheck, policy::CscCheckDue(policy, r.grade(), triaged, zone));
  }
  return MergeClocks(r.obligations(), applicable, retime,
                     ObligationHeader{r.id(), r.grade(),
                                      r.allocated_officer().empty() ? std::string(kUnallocated)
                                                                    : r.allocated_officer(),
                                      r.team(), r.force()});
}

}  // namespace vigil::ocait
