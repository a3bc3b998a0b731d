#include "services/audit/audit_service.h"

#include <memory>
#include <variant>

#include "base/status_macros.h"

namespace vigil::audit {
namespace {

constexpr RpcSpec kListAuditRecords{"vigil.v1.AuditService/ListAuditRecords",
                                    {Role::kAuditor, Role::kForceAdmin, Role::kNationalAuditor},
                                    /*personal_data=*/true};
constexpr RpcSpec kVerifyAuditChain{
    "vigil.v1.AuditService/VerifyAuditChain",
    {Role::kAuditor, Role::kForceAdmin, Role::kSystem, Role::kNationalAuditor},
    /*personal_data=*/false};
// The same roles as ListAuditRecords: an export is the same reading, unpaged.
constexpr RpcSpec kExportAuditRecords{"vigil.v1.AuditService/ExportAuditRecords",
                                      {Role::kAuditor, Role::kForceAdmin, Role::kNationalAuditor},
                                      /*personal_data=*/true};
constexpr RpcSpec kSpecs[] = {kListAuditRecords, kVerifyAuditChain, kExportAuditRecords};

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

grpc::ServerWriteReactor<v1::ExportAuditRecordsResponse>* AuditServiceImpl::ExportAuditRecords(
    grpc::CallbackServerContext* context, const v1::ExportAuditRecordsRequest* request) {
  using Stream = FeedStream<v1::ExportAuditRecordsResponse>;
  auto admitted =
      runtime_.AdmitStream<v1::ExportAuditRecordsResponse>(*context, kExportAuditRecords);
  if (auto* refused =
          std::get_if<grpc::ServerWriteReactor<v1::ExportAuditRecordsResponse>*>(&admitted)) {
    return *refused;
  }
  absl::StatusOr<AuditFilter> filter = DecodeFilter(*request);
  if (!filter.ok()) return RefuseStream<v1::ExportAuditRecordsResponse>(filter.status());

  // Started by the first fetch, on the worker pool: starting commits an audit record.
  auto started = std::make_shared<std::unique_ptr<AuditExport>>();
  Stream::Options options;
  options.fetch = [this, call = std::get<CallContext>(std::move(admitted)),
                   filter = *std::move(filter),
                   started](uint64_t after) -> absl::StatusOr<Stream::Page> {
    if (*started == nullptr) {
      VIGIL_ASSIGN_OR_RETURN(*started, log_.StartExport(call, filter));
    }
    VIGIL_ASSIGN_OR_RETURN(AuditExport::Batch batch,
                           (*started)->Next(after, runtime_.clock().Now()));
    Stream::Page page;
    page.cursor = batch.cursor;
    page.more = !batch.done;
    page.end = batch.done;
    if (batch.response.records_size() > 0) page.messages.push_back(std::move(batch.response));
    return page;
  };
  return Stream::Start(context, runtime_.executor(), notifier_, std::move(options));
}

}  // namespace vigil::audit
