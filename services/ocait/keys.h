// The ocait context's keys. Components are length-prefixed (lp). Frozen: they are on disk.
//
// entities  "ocait/r/" lp(force) id                                -> Referral (with its clocks)
//           "ocait/ob/" lp(force) lp(referral) revision:u64        -> LinkReferralRequest (outbox)
// index     "ocait/q/" lp(force) state:u8 received:i64 id          queue by state, oldest first
//           "ocait/qg/" lp(force) state:u8 grade:u8 received:i64 id   ... and by grade
//           "ocait/qt/" lp(force) lp(team) state:u8 received:i64 id   ... and by team
//           "ocait/lo/" lp(force) lp(offender) id                  referrals about an offender
//           "ocait/id/" lp(force) type:u8 lp(normalized) id        identifiers of open referrals
//           "ocait/src/" lp(force) lp(source_reference)            -> id (unique)
//           "idem/" lp("ocait") lp(force) lp(actor) lp(request_id) -> digest | response
//                                            (idempotency: services/common/idempotency.h)
//           "req/ocait/" lp(force) lp(request_id)                  legacy (0.1.0): to refuse it
// counters  "ocait/n/" lp(force) lp(team) state:u8 grade:u8       referrals by state and grade
#ifndef VIGIL_SERVICES_OCAIT_KEYS_H_
#define VIGIL_SERVICES_OCAIT_KEYS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "vigil/v1/ocait.pb.h"

namespace vigil::ocait {

std::string ReferralKey(absl::string_view force, absl::string_view id);
// Where stores written before request ids were bound to their caller kept them.
std::string LegacyRequestKey(absl::string_view force, absl::string_view request_id);
std::string SourceKey(absl::string_view force, absl::string_view source_reference);
std::string OutboxPrefix();
std::string OutboxKey(absl::string_view force, absl::string_view referral, int64_t revision);

std::string QueuePrefix(absl::string_view force, v1::ReferralState state);
std::string QueueByGradePrefix(absl::string_view force, v1::ReferralState state,
                               v1::RiskLevel grade);
std::string QueueByTeamPrefix(absl::string_view force, absl::string_view team,
                              v1::ReferralState state);
std::string LinkedPrefix(absl::string_view force, absl::string_view offender);
std::string IdentifierPrefix(absl::string_view force, v1::IdentifierType type,
                             absl::string_view normalized);

std::string CountPrefix(absl::string_view force);
std::string CountPrefix(absl::string_view force, absl::string_view team);
std::string CountName(absl::string_view force, absl::string_view team, v1::ReferralState state,
                      v1::RiskLevel grade);

// Every index entry of `referral`.
std::vector<std::string> IndexKeys(const v1::Referral& referral);

// Decodes "received:i64 id" after a queue prefix.
bool ParseQueueSuffix(absl::string_view suffix, absl::Time* received, std::string* id);

}  // namespace vigil::ocait

#endif  // VIGIL_SERVICES_OCAIT_KEYS_H_
