// The clocks of one referral, by state:
//   RECEIVED                      triage (within referral_triage_days of receipt)
//   AWAITING_ALLOCATION/ALLOCATED action target at the grade (from receipt, or from the refresh
//                                 that regraded upward), intelligence refresh, CSC check
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

inline constexpr absl::string_view kUnallocated = "(unallocated)";

// "<referral_id>/triage", "/action", "/intel-refresh", "/csc-check".
std::string ObligationId(absl::string_view referral_id, Clock clock);

// The open obligations of `referral` after an edit (see MergeClocks in obligations.h).
std::vector<v1::Obligation> ReconcileClocks(const v1::Referral& referral, ClockBits retime,
                                            const v1::Policy& policy, absl::TimeZone zone);

}  // namespace vigil::ocait

#endif  // VIGIL_SERVICES_OCAIT_CLOCKS_H_
