// gRPC handlers of vigil.v1.BacklogService as the national backlog serves it (vigild
// --services=national-backlog): roles national-auditor and hmicfrs-inspector only, purpose
// required; TakeBacklogSnapshot refused to everyone (each shard snapshots its own force).
#ifndef VIGIL_SERVICES_NATIONAL_NATIONAL_BACKLOG_SERVICE_H_
#define VIGIL_SERVICES_NATIONAL_NATIONAL_BACKLOG_SERVICE_H_

#include <span>

#include "services/common/rpc.h"
#include "services/national/national_backlog.h"
#include "vigil/v1/backlog.grpc.pb.h"

namespace vigil::national {

class NationalBacklogServiceImpl final : public v1::BacklogService::CallbackService {
 public:
  // Neither owned.
  NationalBacklogServiceImpl(RpcRuntime& runtime, NationalBacklog& backlog)
      : runtime_(runtime), backlog_(backlog) {}

  static std::span<const RpcSpec> Specs();

  grpc::ServerUnaryReactor* GetBacklogSummary(grpc::CallbackServerContext* context,
                                              const v1::GetBacklogSummaryRequest* request,
                                              v1::BacklogSummary* response) override;
  grpc::ServerUnaryReactor* ListBacklogItems(grpc::CallbackServerContext* context,
                                             const v1::ListBacklogItemsRequest* request,
                                             v1::ListBacklogItemsResponse* response) override;
  grpc::ServerUnaryReactor* GetWorkload(grpc::CallbackServerContext* context,
                                        const v1::GetWorkloadRequest* request,
                                        v1::GetWorkloadResponse* response) override;
  grpc::ServerUnaryReactor* GetBacklogTrend(grpc::CallbackServerContext* context,
                                            const v1::GetBacklogTrendRequest* request,
                                            v1::GetBacklogTrendResponse* response) override;
  grpc::ServerUnaryReactor* TakeBacklogSnapshot(grpc::CallbackServerContext* context,
                                                const v1::TakeBacklogSnapshotRequest* request,
                                                v1::TakeBacklogSnapshotResponse* response) override;

 private:
  RpcRuntime& runtime_;
  NationalBacklog& backlog_;
};

}  // namespace vigil::national

#endif  // VIGIL_SERVICES_NATIONAL_NATIONAL_BACKLOG_SERVICE_H_
