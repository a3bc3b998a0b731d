// gRPC handlers of vigil.v1.AdminService: policy versions and recomputation of due dates.
#ifndef VIGIL_SERVICES_ADMIN_ADMIN_SERVICE_H_
#define VIGIL_SERVICES_ADMIN_ADMIN_SERVICE_H_

#include <span>

#include "services/common/rpc.h"
#include "services/policy/policy_registry.h"
#include "services/rso/offender_store.h"
#include "vigil/v1/admin.grpc.pb.h"

namespace vigil::admin {

class AdminServiceImpl final : public v1::AdminService::CallbackService {
 public:
  // `offenders` may be null when the rso context is not hosted here: recomputation is then
  // FAILED_PRECONDITION.
  AdminServiceImpl(RpcRuntime& runtime, policy::PolicyRegistry& policies,
                   rso::OffenderStore* offenders)
      : runtime_(runtime), policies_(policies), offenders_(offenders) {}

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
  rso::OffenderStore* offenders_;
};

}  // namespace vigil::admin

#endif  // VIGIL_SERVICES_ADMIN_ADMIN_SERVICE_H_
