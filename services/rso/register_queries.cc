// The register's reads: one offender, and listings by force, team, owner and status (register.h).
#include <algorithm>

#include "absl/container/btree_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/common/errors.h"
#include "services/common/page_token.h"
#include "services/common/validate.h"
#include "services/policy/calendar.h"
#include "services/policy/schedule.h"
#include "services/rso/keys.h"
#include "services/rso/register.h"

namespace vigil::rso {
namespace {

using storage::Family;

}  // namespace

absl::StatusOr<v1::Offender> Register::Get(const CallContext& call,
                                           const v1::GetOffenderRequest& request) {
  VIGIL_RETURN_IF_ERROR(ValidateId("id", request.id()));
  return offenders_.Read(call, request.id());
}

absl::StatusOr<v1::ListOffendersResponse> Register::List(const CallContext& call,
                                                         const v1::ListOffendersRequest& request) {
  if (!v1::OffenderStatus_IsValid(request.status())) return FieldError("status", "unknown value");
  VIGIL_ASSIGN_OR_RETURN(const int page_size, EffectivePageSize(request.page().page_size()));
  const std::string& force = call.principal.force;
  std::string team = request.team();
  std::string owner = request.owner_officer();
  if (absl::Status refused = call.NarrowToCaseload(team, owner); !refused.ok()) {
    VIGIL_RETURN_IF_ERROR(offenders_.AuditRead(call, {}, refused.message()));
    return refused;
  }
  const std::string query =
      absl::StrCat("offenders|", force, "|t=", team, "|o=", owner, "|s=", request.status(),
                   "|n=", request.not_assessed_only());
  VIGIL_ASSIGN_OR_RETURN(const std::string cursor,
                         DecodePageToken(request.page().page_token(), query));

  std::string prefix;
  if (request.status() != v1::OFFENDER_STATUS_UNSPECIFIED) {
    prefix = ByStatusPrefix(force, request.status());
  } else if (!owner.empty()) {
    prefix = ByOwnerPrefix(force, owner);
  } else if (!team.empty()) {
    prefix = ByTeamPrefix(force, team);
  } else if (request.not_assessed_only()) {
    prefix = NotAssessedPrefix(force);
  } else {
    prefix = ByForcePrefix(force);
  }
  const storage::ReadView view = offenders_.store().Snapshot();
  v1::ListOffendersResponse response;
  std::string last;
  bool more = false;
  absl::Status read_status;
  // Resume after the cursor id: the smallest key greater than prefix+cursor.
  const std::string start =
      cursor.empty() ? std::string() : absl::StrCat(prefix, cursor, std::string(1, '\0'));
  VIGIL_RETURN_IF_ERROR(
      view.ScanPrefix(Family::kIndex, prefix, start, [&](absl::string_view key, absl::string_view) {
        if (response.offenders_size() == page_size) {
          more = true;
          return false;
        }
        const std::string id(key.substr(prefix.size()));
        absl::StatusOr<std::optional<v1::Offender>> record = offenders_.Load(view, force, id);
        if (!record.ok()) {
          read_status = record.status();
          return false;
        }
        if (!record->has_value()) return true;
        const v1::Offender& o = **record;
        const bool match =
            (team.empty() || o.team() == team) && (owner.empty() || o.owner_officer() == owner) &&
            (request.status() == v1::OFFENDER_STATUS_UNSPECIFIED ||
             o.status() == request.status()) &&
            (!request.not_assessed_only() || o.risk_level() == v1::RISK_LEVEL_UNSPECIFIED);
        last = id;
        if (match) {
          v1::Offender* listed = response.add_offenders();
          *listed = o;
          offenders_.RefreshEligibility(*listed, call.now);
        }
        return true;
      }));
  VIGIL_RETURN_IF_ERROR(read_status);
  if (more) response.set_next_page_token(EncodePageToken(query, last));
  std::vector<std::string> subjects;
  for (const v1::Offender& o : response.offenders()) subjects.push_back(o.id());
  VIGIL_RETURN_IF_ERROR(offenders_.AuditRead(call, std::move(subjects)));
  return response;
}

}  // namespace vigil::rso
