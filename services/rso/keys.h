// The rso context's keys. Components are length-prefixed (lp) so that one value's keys form a
// contiguous prefix whatever bytes the values hold. Frozen: they are on disk.
//
// entities  "rso/o/" lp(force) id                               -> Offender (with its clocks)
//           "rso/a/" lp(force) lp(offender) completed:i64 id    -> ArmsAssessment
//           "rso/p/" lp(force) lp(offender) reviewed:i64 id     -> RiskManagementPlan (every
//                                                                  version, signed off or not)
//           "rso/pc/" lp(force) lp(offender)                    -> RiskManagementPlan (a copy
//                                     of the current one; written since 0.1.0, read by nothing
//                                     since plan history: the current plan is found in "rso/p/")
//           "rso/vi/" lp(force) lp(offender) ~time:u64 id       -> Visit (newest first)
//           "rso/fi/" lp(force) found:i64 id                    -> ComplianceFinding
//           "rso/fs/" lp(force) lp(team)                        -> ComplianceFinding (a team
//                                                                  finding standing, alerted)
// index     "rso/f/" lp(force) id                               all offenders of a force
//           "rso/t/" lp(force) lp(team) id                      by team
//           "rso/w/" lp(force) lp(owner_officer) id             by owner
//           "rso/s/" lp(force) status:u8 id                     by status
//           "rso/n/" lp(force) id                               not assessed
//           "rso/v/" lp(force) lp(visor_ref)                    -> id (unique ViSOR reference)
//           "idem/" lp("rso") lp(force) lp(actor) lp(request_id) -> digest | response
//                                            (idempotency: services/common/idempotency.h)
//           "req/rso/" lp(force) lp(request_id)                 legacy (0.1.0): read to refuse it
//           "rso/ft/" lp(force) lp(team) found:i64 id           findings by team
#ifndef VIGIL_SERVICES_RSO_KEYS_H_
#define VIGIL_SERVICES_RSO_KEYS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "vigil/v1/rso.pb.h"

namespace vigil::rso {

std::string OffenderKey(absl::string_view force, absl::string_view id);
std::string ArmsPrefix(absl::string_view force, absl::string_view offender);
std::string ArmsKey(absl::string_view force, absl::string_view offender, absl::Time completed,
                    absl::string_view id);
std::string RmpHistoryPrefix(absl::string_view force, absl::string_view offender);
std::string RmpHistoryKey(absl::string_view force, absl::string_view offender, absl::Time reviewed,
                          absl::string_view id);
std::string CurrentRmpKey(absl::string_view force, absl::string_view offender);
std::string VisorKey(absl::string_view force, absl::string_view visor_ref);
std::string VisitPrefix(absl::string_view force, absl::string_view offender);
// Newest first: the time is stored inverted.
std::string VisitKey(absl::string_view force, absl::string_view offender, absl::Time time,
                     absl::string_view id);
std::string FindingPrefix(absl::string_view force);
std::string FindingKey(absl::string_view force, absl::Time found, absl::string_view id);
std::string FindingByTeamPrefix(absl::string_view force, absl::string_view team);
// A team finding that stands (alerted once, until it no longer holds).
std::string StandingFindingPrefix(absl::string_view force);
std::string StandingFindingKey(absl::string_view force, absl::string_view team);
std::string FindingByTeamKey(absl::string_view force, absl::string_view team, absl::Time found,
                             absl::string_view id);
// The time component as stored in finding keys, to seek from.
std::string KeyTime(absl::Time time);
// Where stores written before request ids were bound to their caller kept them.
std::string LegacyRequestKey(absl::string_view force, absl::string_view request_id);

// Index prefixes for listing; each is followed by the offender id.
std::string ByForcePrefix(absl::string_view force);
std::string ByTeamPrefix(absl::string_view force, absl::string_view team);
// The by-team index of every team: keys continue with lp(team) id.
std::string AllTeamsPrefix(absl::string_view force);
std::string ByOwnerPrefix(absl::string_view force, absl::string_view officer);
std::string ByStatusPrefix(absl::string_view force, v1::OffenderStatus status);
std::string NotAssessedPrefix(absl::string_view force);

// Every index entry `offender` should have (excluding the ViSOR key).
std::vector<std::string> IndexKeys(const v1::Offender& offender);

}  // namespace vigil::rso

#endif  // VIGIL_SERVICES_RSO_KEYS_H_
