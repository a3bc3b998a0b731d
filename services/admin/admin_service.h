// gRPC handlers of vigil.v1.AdminService: policy versions and recomputation of due dates.
#ifndef VIGIL_SERVICES_ADMIN_ADMIN_SERVICE_H_
#define VIGIL_SERVICES_ADMIN_ADMIN_SERVICE_H_

#include <span>

#include "services/common/rpc.h"
#include "services/obligations/record_store.h"
#include "services/policy/policy_registry.h"
#include "vigil/v1/admin.grpc.pb.h"

namespace vigil::admin {

class AdminServiceImpl final : public v1::AdminService::CallbackService {
 public:
  // `owners`: the owning contexts hosted here, whose clocks RecomputeObligations re-derives
  // (none: FAILED_PRECONDITION). None owned.
  AdminServiceImpl(RpcRuntime& runtime, policy::PolicyRegistry& policies,
                   std::vector<ClockRecomputer*> owners)
      : runtime_(runtime), policies_(policies), owners_(std::move(owners)) {}

  static std::span<const RpcSpec> Specs();

  grpc::ServerUnaryReactor* GetPolicy(grpc::CallbackServerContext* context,
                                      const v1::GetPolicyRequest* request,
                                      v1::Policy* response) override;
  grpc::ServerUnaryReactor* SetPolicy(grpc::CallbackServerContext* context,
                                      const v1::SetPolicyRequest* request,
                                      v1::Policy* response) override;
  grpc::ServerUnaryReactor* ListPolicyVersions(grpc::CallbackServerContext* context,
                                               const v1::ListPolicyVersionsRequest* request,
                                               v1::ListPolicyVersionsResponse* response) override;
  grpc::ServerUnaryReactor* RecomputeObligations(
      grpc::CallbackServerContext* context, const v1::RecomputeObligationsRequest* request,
      v1::RecomputeObligationsResponse* response) override;
  grpc::ServerUnaryReactor* GetMetrics(grpc::CallbackServerContext* context,
                                       const v1::GetMetricsRequest* request,
                                       v1::GetMetricsResponse* response) override;

 private:
  RpcRuntime& runtime_;
  policy::PolicyRegistry& policies_;
  const std::vector<ClockRecomputer*> owners_;
};

}  // namespace vigil::admin

#endif  // VIGIL_SERVICES_ADMIN_ADMIN_SERVICE_H_
