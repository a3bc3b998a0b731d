// gRPC handlers for vigil.v1.AuditService: decode, authorise, call AuditLog, encode.
#ifndef VIGIL_SERVICES_AUDIT_AUDIT_SERVICE_H_
#define VIGIL_SERVICES_AUDIT_AUDIT_SERVICE_H_

#include <span>

#include "services/audit/audit_log.h"
#include "services/common/rpc.h"
#include "vigil/v1/audit.grpc.pb.h"

namespace vigil::audit {

class AuditServiceImpl final : public v1::AuditService::CallbackService {
 public:
  // Neither owned; both must outlive the service.
  AuditServiceImpl(RpcRuntime& runtime, AuditLog& log) : runtime_(runtime), log_(log) {}

  // Who may call each RPC of this service.
  static std::span<const RpcSpec> Specs();

  grpc::ServerUnaryReactor* ListAuditRecords(grpc::CallbackServerContext* context,
                                             const v1::ListAuditRecordsRequest* request,
                                             v1::ListAuditRecordsResponse* response) override;
  grpc::ServerUnaryReactor* VerifyAuditChain(grpc::CallbackServerContext* context,
                                             const v1::VerifyAuditChainRequest* request,
                                             v1::VerifyAuditChainResponse* response) override;

 private:
  RpcRuntime& runtime_;
  AuditLog& log_;
};

}  // namespace vigil::audit

#endif  // VIGIL_SERVICES_AUDIT_AUDIT_SERVICE_H_
