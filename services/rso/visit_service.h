// gRPC handlers of vigil.v1.VisitService.
#ifndef VIGIL_SERVICES_RSO_VISIT_SERVICE_H_
#define VIGIL_SERVICES_RSO_VISIT_SERVICE_H_

#include <span>

#include "services/common/rpc.h"
#include "services/rso/visits.h"
#include "vigil/v1/visits.grpc.pb.h"

namespace vigil::rso {

class VisitServiceImpl final : public v1::VisitService::CallbackService {
 public:
  VisitServiceImpl(RpcRuntime& runtime, Visits& visits) : runtime_(runtime), visits_(visits) {}

  static std::span<const RpcSpec> Specs();

  grpc::ServerUnaryReactor* RecordVisit(grpc::CallbackServerContext* context,
                                        const v1::RecordVisitRequest* request,
                                        v1::Visit* response) override;
  grpc::ServerUnaryReactor* ListVisits(grpc::CallbackServerContext* context,
                                       const v1::ListVisitsRequest* request,
                                       v1::ListVisitsResponse* response) override;
  grpc::ServerUnaryReactor* GetVisitSchedule(grpc::CallbackServerContext* context,
                                             const v1::GetVisitScheduleRequest* request,
                                             v1::VisitSchedule* response) override;
  grpc::ServerUnaryReactor* SetReactiveManagement(grpc::CallbackServerContext* context,
                                                  const v1::SetReactiveManagementRequest* request,
                                                  v1::VisitSchedule* response) override;
  grpc::ServerUnaryReactor* ListComplianceFindings(
      grpc::CallbackServerContext* context, const v1::ListComplianceFindingsRequest* request,
      v1::ListComplianceFindingsResponse* response) override;
  grpc::ServerUnaryReactor* GetVisitPlan(grpc::CallbackServerContext* context,
                                         const v1::GetVisitPlanRequest* request,
                                         v1::VisitPlan* response) override;
  grpc::ServerUnaryReactor* CheckTeamFindings(grpc::CallbackServerContext* context,
                                              const v1::CheckTeamFindingsRequest* request,
                                              v1::CheckTeamFindingsResponse* response) override;

 private:
  RpcRuntime& runtime_;
  Visits& visits_;
};

}  // namespace vigil::rso

#endif  // VIGIL_SERVICES_RSO_VISIT_SERVICE_H_
