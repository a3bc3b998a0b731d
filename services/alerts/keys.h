// The alerts context's keys. Components are length-prefixed (lp). Frozen: they are on disk.
//
// entities   "alert/a/" lp(force) id                          -> v1::Alert
//            "alert/o/" lp(context) lp(force) lp(obligation)  -> internal::AlertedObligation
//            "alert/c/" context                               -> feed cursor (decimal)
// index      "alert/l/" lp(force) resolved:u8 raised:i64 id   listing, oldest raised first
//                                      -> risk rank '0'..'4' (RiskRank), or empty (written by 0.1)
//            "idem/" lp("alert") lp(force) lp(actor) lp(request_id)
//                                      -> digest | response (services/common/idempotency.h)
//            "req/alert/" lp(force) lp(request_id)            legacy (0.1.0): read to refuse it
// deadlines  space kAlerts, kind 'O': an obligation falls due    id lp(context) lp(force) lp(obl)
//                           kind 'E': an alert's next step       id lp(force) alert id
//                           kind 'X': an acknowledgement lapses  id lp(force) alert id
//                           kind 'W': an obligation's due-soon warning  id as kind 'O'
//                           kind 'R': an acknowledger's reminder  id lp(force) alert id
#ifndef VIGIL_SERVICES_ALERTS_KEYS_H_
#define VIGIL_SERVICES_ALERTS_KEYS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/key_codec.h"
#include "vigil/internal/alerts_state.pb.h"
#include "vigil/v1/alerts.pb.h"

namespace vigil::alerts {

inline constexpr uint8_t kDueKind = 'O';
inline constexpr uint8_t kEscalateKind = 'E';
inline constexpr uint8_t kLapseKind = 'X';
inline constexpr uint8_t kDueSoonKind = 'W';  // an obligation's due-soon warning
inline constexpr uint8_t kRemindKind = 'R';   // an acknowledged alert's next reminder

std::string AlertKey(absl::string_view force, absl::string_view id);
std::string ObligationKey(absl::string_view context, absl::string_view force,
                          absl::string_view obligation_id);
std::string CursorKey(absl::string_view context);
// The context under which acknowledgements keep their request ids (idempotency.h).
inline constexpr absl::string_view kRequestContext = "alert";
// Where stores written before request ids were bound to their caller kept them.
std::string LegacyRequestKey(absl::string_view force, absl::string_view request_id);

// The listing index: every alert of `force`, unresolved or resolved, oldest raised first.
std::string ListPrefix(absl::string_view force, bool resolved);
std::string ListKey(const v1::Alert& alert);
// The listing entry's value: the risk rank of the alert's obligation, so that a riskiest-first
// listing skips other ranks without reading them. Entries written before it are empty.
std::string ListValue(const v1::Alert& alert);

// The deadlines a record asks for (none when it waits for nothing).
std::vector<storage::Deadline> DeadlinesOf(const v1::Alert& alert);
std::vector<storage::Deadline> DeadlinesOf(const internal::AlertedObligation& followed);

// Decodes a deadline's id. False when malformed.
bool ParseObligationDeadline(absl::string_view id, std::string* context, std::string* force,
                             std::string* obligation_id);
bool ParseAlertDeadline(absl::string_view id, std::string* force, std::string* alert_id);

}  // namespace vigil::alerts

#endif  // VIGIL_SERVICES_ALERTS_KEYS_H_
