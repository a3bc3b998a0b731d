// gRPC handlers for vigil.v1.AuditService: decode, authorise, call AuditLog, encode.
#ifndef VIGIL_SERVICES_AUDIT_AUDIT_SERVICE_H_
#define VIGIL_SERVICES_AUDIT_AUDIT_SERVICE_H_

#include <span>

#include "services/audit/audit_log.h"
#include "services/common/feed_stream.h"
#include "services/common/rpc.h"
#include "vigil/v1/audit.grpc.pb.h"

namespace vigil::audit {

class AuditServiceImpl final : public v1::AuditService::CallbackService {
 public:
  // None owned; all must outlive the service. `notifier` ticks exports (a reader that stops
  // reading is cut off after its stuck-write limit).
  AuditServiceImpl(RpcRuntime& runtime, AuditLog& log, FeedNotifier& notifier)
      : runtime_(runtime), log_(log), notifier_(notifier) {}

  // Who may call each RPC of this service.
  static std::span<const RpcSpec> Specs();

  grpc::ServerUnaryReactor* ListAuditRecords(grpc::CallbackServerContext* context,
                                             const v1::ListAuditRecordsRequest* request,
                                             v1::ListAuditRecordsResponse* response) override;
  grpc::ServerUnaryReactor* VerifyAuditChain(grpc::CallbackServerContext* context,
                                             const v1::VerifyAuditChainRequest* request,
                                             v1::VerifyAuditChainResponse* response) override;
  // Streams the export batch by batch from the worker pool: one batch is read (and its
  // disclosure audited) only after the previous one was written, so gRPC's flow control holds
  // the server to one batch however slowly the client reads.
  grpc::ServerWriteReactor<v1::ExportAuditRecordsResponse>* ExportAuditRecords(
      grpc::CallbackServerContext* context, const v1::ExportAuditRecordsRequest* request) override;

 private:
  RpcRuntime& runtime_;
  AuditLog& log_;
  FeedNotifier& notifier_;
};

}  // namespace vigil::audit

#endif  // VIGIL_SERVICES_AUDIT_AUDIT_SERVICE_H_
