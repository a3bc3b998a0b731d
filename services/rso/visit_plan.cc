// The visit plan: the home visits due over the next days, by officer or team (visits.h).
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "absl/container/btree_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/common/errors.h"
#include "services/common/page_token.h"
#include "services/common/validate.h"
#include "services/policy/calendar.h"
#include "services/policy/policy.h"
#include "services/policy/schedule.h"
#include "services/rso/keys.h"
#include "services/rso/visits.h"

namespace vigil::rso {
namespace {

constexpr int kMaxPlanDays = 366;

}  // namespace

absl::StatusOr<v1::VisitPlan> Visits::Plan(const CallContext& call,
                                           const v1::GetVisitPlanRequest& request) {
  if (!request.team().empty() && !request.officer().empty()) {
    return FieldError("team", "give a team or an officer, not both");
  }
  if (request.days() < 0 || request.days() > kMaxPlanDays) {
    return FieldError("days",
                      absl::StrCat("must be 0-", kMaxPlanDays, " (got ", request.days(), ")"));
  }
  const int days = request.days() == 0 ? 14 : request.days();
  const std::string& force = call.principal.force;
  std::string team = request.team();
  std::string officer =
      request.officer().empty() && team.empty() ? call.principal.actor : request.officer();
  if (absl::Status refused = call.NarrowToCaseload(team, officer); !refused.ok()) {
    VIGIL_RETURN_IF_ERROR(offenders_.AuditRead(call, {}, refused.message()));
    return refused;
  }
  const policy::DueTime horizon_due = policy::PlanHorizon(call.now, days, offenders_.zone());
  const absl::Time horizon = horizon_due.due;
  const absl::CivilDay today = policy::LocalDay(call.now, offenders_.zone());
  v1::VisitPlan plan;
  *plan.mutable_horizon_time() = ToProtoTime(horizon);
  plan.set_horizon_reason(horizon_due.reason);
  // The clocks due by the horizon (inclusive) as the index holds them now; each offender then
  // from one snapshot, which has the same clock or a later version of it.
  const OverdueIndex::Scope scope{
      force, team, team.empty() ? officer : std::string(), {v1::OBLIGATION_KIND_HOME_VISIT},
      {},    {}};
  bool more = false;
  const std::vector<OverdueIndex::Entry> due =
      due_.List(scope, horizon + absl::Microseconds(1), v1::BACKLOG_ORDER_OLDEST_FIRST, {},
                std::numeric_limits<size_t>::max(), &more);
  const storage::ReadView view = offenders_.store().Snapshot();
  for (const OverdueIndex::Entry& entry : due) {
    const std::string offender_id = entry.id.substr(0, entry.id.rfind('/'));
    VIGIL_ASSIGN_OR_RETURN(std::optional<v1::Offender> record,
                           offenders_.Load(view, force, offender_id));
    if (!record.has_value()) continue;
    const v1::Offender& o = *record;
    const auto clock = std::find_if(o.obligations().begin(), o.obligations().end(),
                                    [&](const v1::Obligation& ob) { return ob.id() == entry.id; });
    if (clock == o.obligations().end()) continue;  // met or closed since
    const absl::Time due_time = TimeOf(clock->due_time());
    if (due_time > horizon) continue;  // re-timed beyond the horizon since
    v1::PlannedVisit* visit = plan.add_visits();
    visit->set_offender_id(o.id());
    visit->set_display_name(o.display_name());
    visit->set_risk_level(o.risk_level());
    *visit->mutable_due_time() = clock->due_time();
    // Due at the end of a local day: overdue by the local days since.
    visit->set_days_overdue(
        static_cast<int32_t>(today - policy::LocalDay(due_time, offenders_.zone())));
    visit->set_owner_officer(o.owner_officer());
    visit->set_team(o.team());
    *visit->mutable_requirements() = o.visit_requirements();
    visit->set_reason(clock->reason());
  }
  std::stable_sort(plan.mutable_visits()->begin(), plan.mutable_visits()->end(),
                   [](const v1::PlannedVisit& a, const v1::PlannedVisit& b) {
                     if (a.risk_level() != b.risk_level()) return a.risk_level() > b.risk_level();
                     return a.days_overdue() > b.days_overdue();
                   });
  std::vector<std::string> subjects;
  for (const v1::PlannedVisit& v : plan.visits()) subjects.push_back(v.offender_id());
  VIGIL_RETURN_IF_ERROR(offenders_.AuditRead(call, std::move(subjects)));
  return plan;
}

}  // namespace vigil::rso
