#include "services/audit/audit_service.h"

namespace vigil::audit {
namespace {

constexpr RpcSpec kListAuditRecords{"vigil.v1.AuditService/ListAuditRecords",
                                    {Role::kAuditor, Role::kForceAdmin, Role::kNationalAuditor},
                                    /*personal_data=*/true};
constexpr RpcSpec kVerifyAuditChain{
    "vigil.v1.AuditService/VerifyAuditChain",
    {Role::kAuditor, Role::kForceAdmin, Role::kSystem, Role::kNationalAuditor},
    /*personal_data=*/false};
constexpr RpcSpec kSpecs[] = {kListAuditRecords, kVerifyAuditChain};

}  // namespace

std::span<const RpcSpec> AuditServiceImpl::Specs() { return kSpecs; }

grpc::ServerUnaryReactor* AuditServiceImpl::ListAuditRecords(
    grpc::CallbackServerContext* context, const v1::ListAuditRecordsRequest* request,
    v1::ListAuditRecordsResponse* response) {
  return runtime_.Reply(context, kListAuditRecords, response,
                        [=, this](const CallContext& call) { return log_.List(call, *request); });
}

grpc::ServerUnaryReactor* AuditServiceImpl::VerifyAuditChain(
    grpc::CallbackServerContext* context, const v1::VerifyAuditChainRequest* request,
    v1::VerifyAuditChainResponse* response) {
  return runtime_.Reply(context, kVerifyAuditChain, response,
                        [=, this](const CallContext& call) { return log_.Verify(call, *request); });
}

}  // namespace vigil::audit
