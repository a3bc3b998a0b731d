// ARMS assessments and risk management plans. Recording either re-times the offender's clocks
// in the same commit: an ARMS sets the risk level, answers open triggers, and restarts the
// reassessment and RMP-review clocks; an RMP restarts the review clock. Thread-safe.
#ifndef VIGIL_SERVICES_RSO_ASSESSMENTS_H_
#define VIGIL_SERVICES_RSO_ASSESSMENTS_H_

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

  // The history, oldest first; audited as a consultation.
  absl::StatusOr<v1::ListArmsAssessmentsResponse> ListArms(
      const CallContext& call, const v1::ListArmsAssessmentsRequest& request);

  // Records a reviewed RMP; the latest by reviewed_time is the current plan.
  absl::StatusOr<v1::RiskManagementPlan> RecordRmp(
      const CallContext& call, const v1::RecordRiskManagementPlanRequest& request);

  // The current plan; NotFound when none was recorded.
  absl::StatusOr<v1::RiskManagementPlan> GetRmp(const CallContext& call,
                                                const v1::GetRiskManagementPlanRequest& request);

 private:
  OffenderStore& offenders_;
};

}  // namespace vigil::rso

#endif  // VIGIL_SERVICES_RSO_ASSESSMENTS_H_
