// The clocks of one referral, by state:
//   RECEIVED                      triage (within referral_triage_days of receipt)
//   AWAITING_ALLOCATION/ALLOCATED action target (from receipt at the triage grade, then each
//                                 regrade: never more time, see policy::ReferralActionDue),
//                                 intelligence refresh, CSC check
//   ACTIONED                      the CSC check, if still not done
//   CLOSED                        none
// Owner: the allocated officer, or "(unallocated)" while the referral waits.
#ifndef VIGIL_SERVICES_OCAIT_CLOCKS_H_
#define VIGIL_SERVICES_OCAIT_CLOCKS_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "services/obligations/record_store.h"
#include "vigil/v1/ocait.pb.h"
#include "vigil/v1/policy.pb.h"

namespace vigil::ocait {

enum class Clock : uint8_t { kTriage = 0, kAction = 1, kIntelRefresh = 2, kCscCheck = 3 };

inline ClockBits Clocks(std::initializer_list<Clock> clocks) {
  ClockBits bits;
  for (Clock c : clocks) bits.set(static_cast<size_t>(c));
  return bits;
}

inline constexpr absl::string_view kUnallocated = kUnallocatedOwner;

// "<referral_id>/triage", "/action", "/intel-refresh", "/csc-check".
std::string ObligationId(absl::string_view referral_id, Clock clock);

// What each clock is derived from, as the rule that decides when it re-times:
//   triage          the receipt
//   action          the grade, the receipt, and every regrade the refreshes recorded
//   intel refresh   the grade, the triage, the last refresh
//   CSC check       the grade, the triage
// A clock is derived afresh when one of these changed between `before` and `after` (every
// clock for a new referral, or when `recompute`), or when it newly applies (a state change);
// the others keep their due time, reason and policy version.
ClockBits ClocksToRetime(const v1::Referral* before, const v1::Referral& after);

// The open obligations of `after` (see MergeClocks in ledger.h); `after.obligations()` holds
// the clocks before the edit.
std::vector<v1::Obligation> DeriveClocks(const v1::Referral* before, const v1::Referral& after,
                                         bool recompute, const v1::Policy& policy,
                                         absl::TimeZone zone);

}  // namespace vigil::ocait

#endif  // VIGIL_SERVICES_OCAIT_CLOCKS_H_
