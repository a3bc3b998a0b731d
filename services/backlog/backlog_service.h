// gRPC handlers of vigil.v1.BacklogService.
#ifndef VIGIL_SERVICES_BACKLOG_BACKLOG_SERVICE_H_
#define VIGIL_SERVICES_BACKLOG_BACKLOG_SERVICE_H_

#include <span>

#include "services/backlog/backlog.h"
#include "services/common/rpc.h"
#include "vigil/v1/backlog.grpc.pb.h"

namespace vigil::backlog {

class BacklogServiceImpl final : public v1::BacklogService::CallbackService {
 public:
  BacklogServiceImpl(RpcRuntime& runtime, Backlog& backlog)
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
  grpc::ServerUnaryReactor* ListMyWork(grpc::CallbackServerContext* context,
                                       const v1::ListMyWorkRequest* request,
                                       v1::ListMyWorkResponse* response) override;
  grpc::ServerUnaryReactor* GetBacklogTrend(grpc::CallbackServerContext* context,
                                            const v1::GetBacklogTrendRequest* request,
                                            v1::GetBacklogTrendResponse* response) override;
  grpc::ServerUnaryReactor* TakeBacklogSnapshot(grpc::CallbackServerContext* context,
                                                const v1::TakeBacklogSnapshotRequest* request,
                                                v1::TakeBacklogSnapshotResponse* response) override;

 private:
  RpcRuntime& runtime_;
  Backlog& backlog_;
};

}  // namespace vigil::backlog

#endif  // VIGIL_SERVICES_BACKLOG_BACKLOG_SERVICE_H_
