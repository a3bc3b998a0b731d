// ARMS assessments and risk management plans. Recording either re-times the offender's clocks
// in the same commit: an ARMS sets the risk level, answers open triggers, and restarts the
// reassessment and RMP-review clocks; an RMP restarts the review clock. Thread-safe.
#ifndef VIGIL_SERVICES_RSO_ASSESSMENTS_H_
#define VIGIL_SERVICES_RSO_ASSESSMENTS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "services/common/rpc.h"
#include "services/rso/offender_store.h"
#include "vigil/v1/rso.pb.h"

namespace vigil::rso {

class Assessments {
 public:
  explicit Assessments(OffenderStore& offenders) : offenders_(offenders) {}

  // Records a completed ARMS. The latest assessment by completed_time drives the risk level;
  // an older one joins the history only. InvalidArgument: completed_time in the future, risk
  // level unspecified, repeated or unspecified factors. NotFound: unknown offender.
  // FailedPrecondition: the offender is no longer managed.
  absl::StatusOr<v1::ArmsAssessment> RecordArms(const CallContext& call,
                                                const v1::RecordArmsAssessmentRequest& request);
  // RecordArms without waiting for the commit (RecordStore::MutateAsync): `done` gets the
  // answer once, on the committing thread or this one; `*call` and `request` must stay valid
  // until then. Attempts after a lost race run on `retries`.
  void RecordArmsAsync(std::shared_ptr<const CallContext> call,
                       const v1::RecordArmsAssessmentRequest& request, Executor& retries,
                       OffenderStore::Answer<v1::ArmsAssessment> done);

  // The history, oldest first; audited as a consultation.
  absl::StatusOr<v1::ListArmsAssessmentsResponse> ListArms(
      const CallContext& call, const v1::ListArmsAssessmentsRequest& request);

  // Records a reviewed RMP as the offender's next version; every plan is kept. The current plan
  // is the one reviewed latest (of two reviewed at once, the later version): a new current plan
  // sets the visit requirements and opens the sign-off clock. last_rmp_review_time becomes the
  // later of itself (an imported date, an earlier plan) and this review, so the review clock
  // follows whichever is later. InvalidArgument naming the field: reviewed_time in the future
  // or on a local day before registration, bad visit requirements. NotFound: unknown offender.
  // FailedPrecondition: the offender is no longer managed.
  absl::StatusOr<v1::RiskManagementPlan> RecordRmp(
      const CallContext& call, const v1::RecordRiskManagementPlanRequest& request);

  // The current plan; NotFound when none was recorded.
  absl::StatusOr<v1::RiskManagementPlan> GetRmp(const CallContext& call,
                                                const v1::GetRiskManagementPlanRequest& request);

  // Every plan of the offender, newest first (reviewed_time, then version), paged; the
  // consultation of the offender and the plans listed is audited.
  absl::StatusOr<v1::ListRiskManagementPlansResponse> ListRmps(
      const CallContext& call, const v1::ListRiskManagementPlansRequest& request);

  // A sergeant or above signs off a plan (the current one when plan_id is empty): records who,
  // when and the note on that version and, for the current plan, meets the sign-off clock.
  // PermissionDenied (audited) below sergeant. NotFound: unknown offender or plan.
  // FailedPrecondition: no plan, already signed off, or the offender is no longer managed.
  absl::StatusOr<v1::RiskManagementPlan> SignOffRmp(
      const CallContext& call, const v1::SignOffRiskManagementPlanRequest& request);

 private:
  // RecordArms's request, checked, as the edit that records the assessment (it keeps a
  // reference to `request`).
  absl::StatusOr<OffenderStore::BoundEdit> PrepareArms(
      const CallContext& call, const v1::RecordArmsAssessmentRequest& request);
  OffenderStore& offenders_;
};

}  // namespace vigil::rso

#endif  // VIGIL_SERVICES_RSO_ASSESSMENTS_H_
