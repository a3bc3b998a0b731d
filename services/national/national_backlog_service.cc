#include "services/national/national_backlog_service.h"

namespace vigil::national {
namespace {

// The national bodies, and nobody else: a force's own people use their force's shard. What
// they get has no personal data, but it is every force's data: each call says why (purpose),
// as the shards require for the part each gives.
constexpr RoleSet kNational{Role::kNationalAuditor, Role::kHmicfrsInspector};

constexpr RpcSpec kGetBacklogSummary{"vigil.v1.BacklogService/GetBacklogSummary", kNational, true};
constexpr RpcSpec kListBacklogItems{"vigil.v1.BacklogService/ListBacklogItems", kNational, true};
constexpr RpcSpec kGetWorkload{"vigil.v1.BacklogService/GetWorkload", kNational, true};
constexpr RpcSpec kGetBacklogTrend{"vigil.v1.BacklogService/GetBacklogTrend", kNational, true};
// Deny by default: no role set, nobody.
constexpr RpcSpec kTakeBacklogSnapshot{"vigil.v1.BacklogService/TakeBacklogSnapshot", {}, false};
constexpr RpcSpec kSpecs[] = {kGetBacklogSummary, kListBacklogItems, kGetWorkload, kGetBacklogTrend,
                              kTakeBacklogSnapshot};

}  // namespace

std::span<const RpcSpec> NationalBacklogServiceImpl::Specs() { return kSpecs; }

grpc::ServerUnaryReactor* NationalBacklogServiceImpl::GetBacklogSummary(
    grpc::CallbackServerContext* context, const v1::GetBacklogSummaryRequest* request,
    v1::BacklogSummary* response) {
  return runtime_.Reply(context, kGetBacklogSummary, response, [=, this](const CallContext& call) {
    return backlog_.Summary(call, *request);
  });
}

grpc::ServerUnaryReactor* NationalBacklogServiceImpl::ListBacklogItems(
    grpc::CallbackServerContext* context, const v1::ListBacklogItemsRequest* request,
    v1::ListBacklogItemsResponse* response) {
  return runtime_.Reply(context, kListBacklogItems, response, [=, this](const CallContext& call) {
    return backlog_.Items(call, *request);
  });
}

grpc::ServerUnaryReactor* NationalBacklogServiceImpl::GetWorkload(
    grpc::CallbackServerContext* context, const v1::GetWorkloadRequest* request,
    v1::GetWorkloadResponse* response) {
  return runtime_.Reply(context, kGetWorkload, response, [=, this](const CallContext& call) {
    return backlog_.Workload(call, *request);
  });
}

grpc::ServerUnaryReactor* NationalBacklogServiceImpl::GetBacklogTrend(
    grpc::CallbackServerContext* context, const v1::GetBacklogTrendRequest* request,
    v1::GetBacklogTrendResponse* response) {
  return runtime_.Reply(context, kGetBacklogTrend, response, [=, this](const CallContext& call) {
    return backlog_.Trend(call, *request);
  });
}

grpc::ServerUnaryReactor* NationalBacklogServiceImpl::TakeBacklogSnapshot(
    grpc::CallbackServerContext* context, const v1::TakeBacklogSnapshotRequest*,
    v1::TakeBacklogSnapshotResponse*) {
  return runtime_.Unary(context, kTakeBacklogSnapshot, [](const CallContext&) {
    return absl::PermissionDeniedError("the national backlog takes no snapshots");
  });
}

}  // namespace vigil::national
