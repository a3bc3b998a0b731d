#include "services/admin/admin_service.h"

#include "base/proto_time.h"
#include "base/status_macros.h"
#include "services/common/metrics.h"
#include "services/common/validate.h"

namespace vigil::admin {
namespace {

constexpr RpcSpec kGetPolicy{"vigil.v1.AdminService/GetPolicy", RoleSet::All(), false};
constexpr RpcSpec kSetPolicy{"vigil.v1.AdminService/SetPolicy", {Role::kForceAdmin}, false};
constexpr RpcSpec kListPolicyVersions{"vigil.v1.AdminService/ListPolicyVersions", RoleSet::All(),
                                      false};
constexpr RpcSpec kRecomputeObligations{
    "vigil.v1.AdminService/RecomputeObligations", {Role::kForceAdmin}, false};
constexpr RpcSpec kGetMetrics{"vigil.v1.AdminService/GetMetrics", RoleSet::All(), false};
constexpr RpcSpec kSpecs[] = {kGetPolicy, kSetPolicy, kListPolicyVersions, kRecomputeObligations,
                              kGetMetrics};

}  // namespace

std::span<const RpcSpec> AdminServiceImpl::Specs() { return kSpecs; }

grpc::ServerUnaryReactor* AdminServiceImpl::GetPolicy(grpc::CallbackServerContext* context,
                                                      const v1::GetPolicyRequest* request,
                                                      v1::Policy* response) {
  return runtime_.Reply(context, kGetPolicy, response,
                        [=, this](const CallContext& call) -> absl::StatusOr<v1::Policy> {
                          const std::string& force = call.principal.force;
                          if (request->version().empty()) return *policies_.Current(force);
                          return policies_.Get(force, request->version());
                        });
}

grpc::ServerUnaryReactor* AdminServiceImpl::SetPolicy(grpc::CallbackServerContext* context,
                                                      const v1::SetPolicyRequest* request,
                                                      v1::Policy* response) {
  return runtime_.Reply(
      context, kSetPolicy, response,
      [=, this](const CallContext& call) -> absl::StatusOr<v1::Policy> {
        VIGIL_RETURN_IF_ERROR(ValidateText("request_id", request->request_id(), 128, false));
        return policies_.Set(call, request->policy(), request->request_id());
      });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListPolicyVersions(
    grpc::CallbackServerContext* context, const v1::ListPolicyVersionsRequest* request,
    v1::ListPolicyVersionsResponse* response) {
  return runtime_.Reply(
      context, kListPolicyVersions, response,
      [this](const CallContext& call) -> absl::StatusOr<v1::ListPolicyVersionsResponse> {
        VIGIL_ASSIGN_OR_RETURN(std::vector<v1::PolicyVersion> versions,
                               policies_.List(call.principal.force));
        v1::ListPolicyVersionsResponse list;
        for (v1::PolicyVersion& v : versions) *list.add_versions() = std::move(v);
        return list;
      });
}

grpc::ServerUnaryReactor* AdminServiceImpl::RecomputeObligations(
    grpc::CallbackServerContext* context, const v1::RecomputeObligationsRequest* request,
    v1::RecomputeObligationsResponse* response) {
  return runtime_.Reply(
      context, kRecomputeObligations, response,
      [=, this](const CallContext& call) -> absl::StatusOr<v1::RecomputeObligationsResponse> {
        VIGIL_RETURN_IF_ERROR(ValidateText("reason", request->reason(), 500, true));
        if (owners_.empty()) {
          return absl::FailedPreconditionError(
              "no owning context (rso, ocait) is hosted by this vigild; recompute where they run");
        }
        // The reason is the justification recorded with every record the recomputation moves.
        CallContext justified = call;
        justified.purpose = request->reason();
        v1::RecomputeObligationsResponse result;
        result.set_policy_version(policies_.Current(call.principal.force)->version());
        for (ClockRecomputer* owner : owners_) {
          VIGIL_ASSIGN_OR_RETURN(ClockRecomputer::Report report,
                                 owner->Recompute(justified, request->dry_run()));
          v1::ContextRecompute& part = *result.add_contexts();
          part.set_context(std::string(owner->context()));
          part.set_examined(report.examined);
          part.set_changed(report.changed);
          part.set_retimed(report.retimed);
          result.set_obligations_retimed(result.obligations_retimed() + report.retimed);
          if (owner->context() == "rso") {
            result.set_offenders_examined(report.examined);
            result.set_offenders_changed(report.changed);
          }
        }
        return result;
      });
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetMetrics(grpc::CallbackServerContext* context,
                                                       const v1::GetMetricsRequest*,
                                                       v1::GetMetricsResponse* response) {
  return runtime_.Reply(context, kGetMetrics, response,
                        [](const CallContext& call) -> absl::StatusOr<v1::GetMetricsResponse> {
                          v1::GetMetricsResponse result;
                          *result.mutable_as_of() = ToProtoTime(call.now);
                          for (MetricSample& s : Metrics::Default().Snapshot()) {
                            v1::Metric* m = result.add_metrics();
                            m->set_name(std::move(s.name));
                            m->set_value(s.value);
                            m->set_help(std::move(s.help));
                          }
                          return result;
                        });
}

}  // namespace vigil::admin
