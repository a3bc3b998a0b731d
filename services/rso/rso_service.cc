#include "services/rso/rso_service.h"

namespace vigil::rso {
namespace {

// Offender management is the work of officers and their supervisors; force systems write as
// `system`; force administrators correct records. Auditors read the audit log, not records.
constexpr RoleSet kCaseworkers{Role::kOfficer, Role::kSupervisor, Role::kForceAdmin, Role::kSystem};
constexpr RoleSet kImporters{Role::kSupervisor, Role::kForceAdmin, Role::kSystem};

constexpr RpcSpec kCreateOffender{"vigil.v1.OffenderService/CreateOffender", kCaseworkers, true};
constexpr RpcSpec kGetOffender{"vigil.v1.OffenderService/GetOffender", kCaseworkers, true};
constexpr RpcSpec kListOffenders{"vigil.v1.OffenderService/ListOffenders", kCaseworkers, true};
constexpr RpcSpec kUpdateOffender{"vigil.v1.OffenderService/UpdateOffender", kCaseworkers, true};
constexpr RpcSpec kRecordTrigger{"vigil.v1.OffenderService/RecordTrigger", kCaseworkers, true};
constexpr RpcSpec kImportOffenders{"vigil.v1.OffenderService/ImportOffenders", kImporters, true};
constexpr RpcSpec kLinkReferral{
    "vigil.v1.OffenderService/LinkReferral", {Role::kSystem, Role::kForceAdmin}, true};
// The review of an indefinite requirement is the force's decision, recorded by its administrator.
constexpr RpcSpec kRecordNotificationReview{
    "vigil.v1.OffenderService/RecordNotificationReview", {Role::kForceAdmin}, true};
constexpr RpcSpec kOffenderSpecs[] = {
    kCreateOffender, kGetOffender,     kListOffenders, kUpdateOffender,
    kRecordTrigger,  kImportOffenders, kLinkReferral,  kRecordNotificationReview};

constexpr RpcSpec kRecordArms{"vigil.v1.AssessmentService/RecordArmsAssessment", kCaseworkers,
                              true};
constexpr RpcSpec kListArms{"vigil.v1.AssessmentService/ListArmsAssessments", kCaseworkers, true};
constexpr RpcSpec kRecordRmp{"vigil.v1.AssessmentService/RecordRiskManagementPlan", kCaseworkers,
                             true};
constexpr RpcSpec kGetRmp{"vigil.v1.AssessmentService/GetRiskManagementPlan", kCaseworkers, true};
constexpr RpcSpec kListRmps{"vigil.v1.AssessmentService/ListRiskManagementPlans", kCaseworkers,
                            true};
// Sign-off is a supervisor's duty (a sergeant or above: Assessments::SignOffRmp checks the rank).
constexpr RpcSpec kSignOffRmp{
    "vigil.v1.AssessmentService/SignOffRiskManagementPlan", {Role::kSupervisor}, true};
constexpr RpcSpec kAssessmentSpecs[] = {kRecordArms, kListArms, kRecordRmp,
                                        kGetRmp,     kListRmps, kSignOffRmp};

}  // namespace

std::span<const RpcSpec> OffenderServiceImpl::Specs() { return kOffenderSpecs; }
std::span<const RpcSpec> AssessmentServiceImpl::Specs() { return kAssessmentSpecs; }

grpc::ServerUnaryReactor* OffenderServiceImpl::CreateOffender(
    grpc::CallbackServerContext* context, const v1::CreateOffenderRequest* request,
    v1::Offender* response) {
  return runtime_.Reply(context, kCreateOffender, response, [=, this](const CallContext& call) {
    return register_.Create(call, *request);
  });
}

grpc::ServerUnaryReactor* OffenderServiceImpl::GetOffender(grpc::CallbackServerContext* context,
                                                           const v1::GetOffenderRequest* request,
                                                           v1::Offender* response) {
  return runtime_.Reply(context, kGetOffender, response, [=, this](const CallContext& call) {
    return register_.Get(call, *request);
  });
}

grpc::ServerUnaryReactor* OffenderServiceImpl::ListOffenders(
    grpc::CallbackServerContext* context, const v1::ListOffendersRequest* request,
    v1::ListOffendersResponse* response) {
  return runtime_.Reply(context, kListOffenders, response, [=, this](const CallContext& call) {
    return register_.List(call, *request);
  });
}

grpc::ServerUnaryReactor* OffenderServiceImpl::UpdateOffender(
    grpc::CallbackServerContext* context, const v1::UpdateOffenderRequest* request,
    v1::Offender* response) {
  return runtime_.Reply(context, kUpdateOffender, response, [=, this](const CallContext& call) {
    return register_.Update(call, *request);
  });
}

grpc::ServerUnaryReactor* OffenderServiceImpl::RecordTrigger(
    grpc::CallbackServerContext* context, const v1::RecordTriggerRequest* request,
    v1::Offender* response) {
  return runtime_.Reply(context, kRecordTrigger, response, [=, this](const CallContext& call) {
    return register_.RecordTrigger(call, *request);
  });
}

grpc::ServerUnaryReactor* OffenderServiceImpl::ImportOffenders(
    grpc::CallbackServerContext* context, const v1::ImportOffendersRequest* request,
    v1::ImportOffendersResponse* response) {
  return runtime_.Reply(context, kImportOffenders, response, [=, this](const CallContext& call) {
    return register_.Import(call, *request);
  });
}

grpc::ServerUnaryReactor* OffenderServiceImpl::LinkReferral(grpc::CallbackServerContext* context,
                                                            const v1::LinkReferralRequest* request,
                                                            v1::Offender* response) {
  return runtime_.Reply(context, kLinkReferral, response, [=, this](const CallContext& call) {
    return register_.LinkReferral(call, *request);
  });
}

grpc::ServerUnaryReactor* OffenderServiceImpl::RecordNotificationReview(
    grpc::CallbackServerContext* context, const v1::RecordNotificationReviewRequest* request,
    v1::Offender* response) {
  return runtime_.Reply(context, kRecordNotificationReview, response,
                        [=, this](const CallContext& call) {
                          return register_.RecordNotificationReview(call, *request);
                        });
}

grpc::ServerUnaryReactor* AssessmentServiceImpl::RecordArmsAssessment(
    grpc::CallbackServerContext* context, const v1::RecordArmsAssessmentRequest* request,
    v1::ArmsAssessment* response) {
  return runtime_.ReplyAsync(
      context, kRecordArms, response,
      [=, this](const std::shared_ptr<const CallContext>& call, auto done) {
        assessments_.RecordArmsAsync(call, *request, runtime_.executor(), std::move(done));
      },
      // Reads until its change is queued: see StartOn.
      RpcRuntime::StartOn::kReceivingThread);
}

grpc::ServerUnaryReactor* AssessmentServiceImpl::ListArmsAssessments(
    grpc::CallbackServerContext* context, const v1::ListArmsAssessmentsRequest* request,
    v1::ListArmsAssessmentsResponse* response) {
  return runtime_.Reply(context, kListArms, response, [=, this](const CallContext& call) {
    return assessments_.ListArms(call, *request);
  });
}

grpc::ServerUnaryReactor* AssessmentServiceImpl::RecordRiskManagementPlan(
    grpc::CallbackServerContext* context, const v1::RecordRiskManagementPlanRequest* request,
    v1::RiskManagementPlan* response) {
  return runtime_.Reply(context, kRecordRmp, response, [=, this](const CallContext& call) {
    return assessments_.RecordRmp(call, *request);
  });
}

grpc::ServerUnaryReactor* AssessmentServiceImpl::GetRiskManagementPlan(
    grpc::CallbackServerContext* context, const v1::GetRiskManagementPlanRequest* request,
    v1::RiskManagementPlan* response) {
  return runtime_.Reply(context, kGetRmp, response, [=, this](const CallContext& call) {
    return assessments_.GetRmp(call, *request);
  });
}

grpc::ServerUnaryReactor* AssessmentServiceImpl::ListRiskManagementPlans(
    grpc::CallbackServerContext* context, const v1::ListRiskManagementPlansRequest* request,
    v1::ListRiskManagementPlansResponse* response) {
  return runtime_.Reply(context, kListRmps, response, [=, this](const CallContext& call) {
    return assessments_.ListRmps(call, *request);
  });
}

grpc::ServerUnaryReactor* AssessmentServiceImpl::SignOffRiskManagementPlan(
    grpc::CallbackServerContext* context, const v1::SignOffRiskManagementPlanRequest* request,
    v1::RiskManagementPlan* response) {
  return runtime_.Reply(context, kSignOffRmp, response, [=, this](const CallContext& call) {
    return assessments_.SignOffRmp(call, *request);
  });
}

}  // namespace vigil::rso
