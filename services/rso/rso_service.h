// gRPC handlers of vigil.v1.OffenderService and vigil.v1.AssessmentService: decode, authorise,
// call the domain, encode.
#ifndef VIGIL_SERVICES_RSO_RSO_SERVICE_H_
#define VIGIL_SERVICES_RSO_RSO_SERVICE_H_

#include <span>

#include "services/common/rpc.h"
#include "services/rso/assessments.h"
#include "services/rso/register.h"
#include "vigil/v1/rso.grpc.pb.h"

namespace vigil::rso {

class OffenderServiceImpl final : public v1::OffenderService::CallbackService {
 public:
  OffenderServiceImpl(RpcRuntime& runtime, Register& offenders)
      : runtime_(runtime), register_(offenders) {}

  static std::span<const RpcSpec> Specs();

  grpc::ServerUnaryReactor* CreateOffender(grpc::CallbackServerContext* context,
                                           const v1::CreateOffenderRequest* request,
                                           v1::Offender* response) override;
  grpc::ServerUnaryReactor* GetOffender(grpc::CallbackServerContext* context,
                                        const v1::GetOffenderRequest* request,
                                        v1::Offender* response) override;
  grpc::ServerUnaryReactor* ListOffenders(grpc::CallbackServerContext* context,
                                          const v1::ListOffendersRequest* request,
                                          v1::ListOffendersResponse* response) override;
  grpc::ServerUnaryReactor* UpdateOffender(grpc::CallbackServerContext* context,
                                           const v1::UpdateOffenderRequest* request,
                                           v1::Offender* response) override;
  grpc::ServerUnaryReactor* RecordTrigger(grpc::CallbackServerContext* context,
                                          const v1::RecordTriggerRequest* request,
                                          v1::Offender* response) override;
  grpc::ServerUnaryReactor* ImportOffenders(grpc::CallbackServerContext* context,
                                            const v1::ImportOffendersRequest* request,
                                            v1::ImportOffendersResponse* response) override;
  grpc::ServerUnaryReactor* LinkReferral(grpc::CallbackServerContext* context,
                                         const v1::LinkReferralRequest* request,
                                         v1::Offender* response) override;
  grpc::ServerUnaryReactor* RecordNotificationReview(
      grpc::CallbackServerContext* context, const v1::RecordNotificationReviewRequest* request,
      v1::Offender* response) override;

 private:
  RpcRuntime& runtime_;
  Register& register_;
};

class AssessmentServiceImpl final : public v1::AssessmentService::CallbackService {
 public:
  AssessmentServiceImpl(RpcRuntime& runtime, Assessments& assessments)
      : runtime_(runtime), assessments_(assessments) {}

  static std::span<const RpcSpec> Specs();

  grpc::ServerUnaryReactor* RecordArmsAssessment(grpc::CallbackServerContext* context,
                                                 const v1::RecordArmsAssessmentRequest* request,
                                                 v1::ArmsAssessment* response) override;
  grpc::ServerUnaryReactor* ListArmsAssessments(grpc::CallbackServerContext* context,
                                                const v1::ListArmsAssessmentsRequest* request,
                                                v1::ListArmsAssessmentsResponse* response) override;
  grpc::ServerUnaryReactor* RecordRiskManagementPlan(
      grpc::CallbackServerContext* context, const v1::RecordRiskManagementPlanRequest* request,
      v1::RiskManagementPlan* response) override;
  grpc::ServerUnaryReactor* GetRiskManagementPlan(grpc::CallbackServerContext* context,
                                                  const v1::GetRiskManagementPlanRequest* request,
                                                  v1::RiskManagementPlan* response) override;
  grpc::ServerUnaryReactor* ListRiskManagementPlans(
      grpc::CallbackServerContext* context, const v1::ListRiskManagementPlansRequest* request,
      v1::ListRiskManagementPlansResponse* response) override;
  grpc::ServerUnaryReactor* SignOffRiskManagementPlan(
      grpc::CallbackServerContext* context, const v1::SignOffRiskManagementPlanRequest* request,
      v1::RiskManagementPlan* response) override;

 private:
  RpcRuntime& runtime_;
  Assessments& assessments_;
};

}  // namespace vigil::rso

#endif  // VIGIL_SERVICES_RSO_RSO_SERVICE_H_
