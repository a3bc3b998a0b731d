#include "services/rso/visit_service.h"

namespace vigil::rso {
namespace {

constexpr RoleSet kCaseworkers{Role::kOfficer, Role::kSupervisor, Role::kForceAdmin, Role::kSystem};
constexpr RoleSet kDeciders{Role::kSupervisor, Role::kForceAdmin};

constexpr RpcSpec kRecordVisit{"vigil.v1.VisitService/RecordVisit", kCaseworkers, true};
constexpr RpcSpec kListVisits{"vigil.v1.VisitService/ListVisits", kCaseworkers, true};
constexpr RpcSpec kGetVisitSchedule{"vigil.v1.VisitService/GetVisitSchedule", kCaseworkers, true};
constexpr RpcSpec kSetReactiveManagement{"vigil.v1.VisitService/SetReactiveManagement", kDeciders,
                                         true};
constexpr RpcSpec kListComplianceFindings{"vigil.v1.VisitService/ListComplianceFindings",
                                          kCaseworkers, true};
constexpr RpcSpec kGetVisitPlan{"vigil.v1.VisitService/GetVisitPlan", kCaseworkers, true};
constexpr RpcSpec kCheckTeamFindings{"vigil.v1.VisitService/CheckTeamFindings", kDeciders, true};
constexpr RpcSpec kSpecs[] = {kRecordVisit,
                              kListVisits,
                              kGetVisitSchedule,
                              kSetReactiveManagement,
                              kListComplianceFindings,
                              kGetVisitPlan,
                              kCheckTeamFindings};

}  // namespace

std::span<const RpcSpec> VisitServiceImpl::Specs() { return kSpecs; }

grpc::ServerUnaryReactor* VisitServiceImpl::RecordVisit(grpc::CallbackServerContext* context,
                                                        const v1::RecordVisitRequest* request,
                                                        v1::Visit* response) {
  return runtime_.ReplyAsync(
      context, kRecordVisit, response,
      [=, this](const std::shared_ptr<const CallContext>& call, auto done) {
        visits_.RecordVisitAsync(call, *request, runtime_.executor(), std::move(done));
      },
      // Reads until its change is queued: see StartOn.
      RpcRuntime::StartOn::kReceivingThread);
}

grpc::ServerUnaryReactor* VisitServiceImpl::ListVisits(grpc::CallbackServerContext* context,
                                                       const v1::ListVisitsRequest* request,
                                                       v1::ListVisitsResponse* response) {
  return runtime_.Reply(context, kListVisits, response, [=, this](const CallContext& call) {
    return visits_.ListVisits(call, *request);
  });
}

grpc::ServerUnaryReactor* VisitServiceImpl::GetVisitSchedule(
    grpc::CallbackServerContext* context, const v1::GetVisitScheduleRequest* request,
    v1::VisitSchedule* response) {
  return runtime_.Reply(context, kGetVisitSchedule, response, [=, this](const CallContext& call) {
    return visits_.GetSchedule(call, *request);
  });
}

grpc::ServerUnaryReactor* VisitServiceImpl::SetReactiveManagement(
    grpc::CallbackServerContext* context, const v1::SetReactiveManagementRequest* request,
    v1::VisitSchedule* response) {
  return runtime_.Reply(
      context, kSetReactiveManagement, response,
      [=, this](const CallContext& call) { return visits_.SetReactiveManagement(call, *request); });
}

grpc::ServerUnaryReactor* VisitServiceImpl::ListComplianceFindings(
    grpc::CallbackServerContext* context, const v1::ListComplianceFindingsRequest* request,
    v1::ListComplianceFindingsResponse* response) {
  return runtime_.Reply(
      context, kListComplianceFindings, response,
      [=, this](const CallContext& call) { return visits_.ListFindings(call, *request); });
}

grpc::ServerUnaryReactor* VisitServiceImpl::GetVisitPlan(grpc::CallbackServerContext* context,
                                                         const v1::GetVisitPlanRequest* request,
                                                         v1::VisitPlan* response) {
  return runtime_.Reply(context, kGetVisitPlan, response, [=, this](const CallContext& call) {
    return visits_.Plan(call, *request);
  });
}

grpc::ServerUnaryReactor* VisitServiceImpl::CheckTeamFindings(
    grpc::CallbackServerContext* context, const v1::CheckTeamFindingsRequest* request,
    v1::CheckTeamFindingsResponse* response) {
  return runtime_.Reply(context, kCheckTeamFindings, response, [=, this](const CallContext& call) {
    return visits_.CheckTeamFindings(call, *request);
  });
}

}  // namespace vigil::rso
