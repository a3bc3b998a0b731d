// Home visits: recording them (which re-times the visit clock, raises compliance findings and,
// for no access or refusal, a reassessment trigger), the schedule of one offender, reactive
// management, compliance findings (per visit, and flat diarising per team), and the visit plan
// of an officer or team. Thread-safe.
#ifndef VIGIL_SERVICES_RSO_VISITS_H_
#define VIGIL_SERVICES_RSO_VISITS_H_

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/common/rpc.h"
#include "services/obligations/overdue_index.h"
#include "services/rso/offender_store.h"
#include "vigil/v1/visits.pb.h"

namespace vigil::rso {

class Visits {
 public:
  // `due`: the rso context's open obligations (attached to the offenders' store), for plans.
  Visits(OffenderStore& offenders, const OverdueIndex& due) : offenders_(offenders), due_(due) {}

  // InvalidArgument: visit_time in the future, no officers, outcome unspecified, a device check
  // result without a check. NotFound: unknown offender. FailedPrecondition: the offender is not
  // in the community (in custody, abroad, wanted, or no longer managed).
  absl::StatusOr<v1::Visit> RecordVisit(const CallContext& call,
                                        const v1::RecordVisitRequest& request);
  // RecordVisit without waiting for the commit (RecordStore::MutateAsync): `done` gets the
  // answer once, on the committing thread or this one; `*call` and `request` must stay valid
  // until then. Attempts after a lost race run on `retries`.
  void RecordVisitAsync(std::shared_ptr<const CallContext> call,
                        const v1::RecordVisitRequest& request, Executor& retries,
                        OffenderStore::Answer<v1::Visit> done);

  // Newest first, paginated; audited.
  absl::StatusOr<v1::ListVisitsResponse> ListVisits(const CallContext& call,
                                                    const v1::ListVisitsRequest& request);

  // The visit clock with its interval, source and policy version, or why none runs.
  absl::StatusOr<v1::VisitSchedule> GetSchedule(const CallContext& call,
                                                const v1::GetVisitScheduleRequest& request);

  // Records the decision; enabling requires eligibility (FailedPrecondition listing the unmet
  // criteria) and stops the visit clock; disabling restarts it.
  absl::StatusOr<v1::VisitSchedule> SetReactiveManagement(
      const CallContext& call, const v1::SetReactiveManagementRequest& request);

  // Stored visit findings (oldest first, paginated) and, on the first page, the team findings
  // computed now (flat diarising).
  absl::StatusOr<v1::ListComplianceFindingsResponse> ListFindings(
      const CallContext& call, const v1::ListComplianceFindingsRequest& request);

  // Recomputes the team findings of `request.team` or every team of the force: one that holds
  // and was not standing is stored as standing and published as a TEAM_FINDING notice (the
  // alerts context alerts the team's inspector); a standing one that no longer holds stands
  // down. One commit, audited. One check at a time, so a finding alerts once.
  absl::StatusOr<v1::CheckTeamFindingsResponse> CheckTeamFindings(
      const CallContext& call, const v1::CheckTeamFindingsRequest& request)
      ABSL_LOCKS_EXCLUDED(check_mu_);

  // Visits overdue or due within `days`, most risky first, then most overdue: the home visit
  // clocks of the team's (or officer's) caseload as the in-memory index holds them, each
  // offender read from one snapshot.
  absl::StatusOr<v1::VisitPlan> Plan(const CallContext& call,
                                     const v1::GetVisitPlanRequest& request);

 private:
  // RecordVisit's request, checked, as the edit that records the visit (it keeps references to
  // `call` and `request`).
  absl::StatusOr<OffenderStore::BoundEdit> PrepareVisit(const CallContext& call,
                                                        const v1::RecordVisitRequest& request);
  // The schedule of a record as stored.
  v1::VisitSchedule ScheduleOf(const v1::Offender& record, absl::Time now) const;
  // Up to `count` visits of the offender at or before `visited`, newest first, as committed now.
  absl::StatusOr<std::vector<v1::Visit>> VisitsBefore(absl::string_view force,
                                                      absl::string_view offender_id,
                                                      absl::Time visited, int count) const;

  OffenderStore& offenders_;
  const OverdueIndex& due_;
  absl::Mutex check_mu_;  // one CheckTeamFindings at a time
};

}  // namespace vigil::rso

#endif  // VIGIL_SERVICES_RSO_VISITS_H_
