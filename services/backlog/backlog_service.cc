#include "services/backlog/backlog_service.h"

namespace vigil::backlog {
namespace {

// Supervisors see their force's backlog; an officer sees their own obligations (checked by the
// backlog, which knows the requested scope).
constexpr RoleSet kReaders{Role::kOfficer, Role::kSupervisor, Role::kForceAdmin, Role::kSystem};
constexpr RoleSet kSupervisors{Role::kSupervisor, Role::kForceAdmin, Role::kSystem};

constexpr RpcSpec kGetBacklogSummary{"vigil.v1.BacklogService/GetBacklogSummary", kReaders, true};
constexpr RpcSpec kListBacklogItems{"vigil.v1.BacklogService/ListBacklogItems", kReaders, true};
constexpr RpcSpec kGetWorkload{"vigil.v1.BacklogService/GetWorkload", kReaders, true};
constexpr RpcSpec kListMyWork{"vigil.v1.BacklogService/ListMyWork", kReaders, true};
constexpr RpcSpec kGetBacklogTrend{"vigil.v1.BacklogService/GetBacklogTrend", kSupervisors, false};
constexpr RpcSpec kTakeBacklogSnapshot{"vigil.v1.BacklogService/TakeBacklogSnapshot", kSupervisors,
                                       false};
constexpr RpcSpec kSpecs[] = {kGetBacklogSummary, kListBacklogItems,    kGetWorkload,
                              kGetBacklogTrend,   kTakeBacklogSnapshot, kListMyWork};

}  // namespace

std::span<const RpcSpec> BacklogServiceImpl::Specs() { return kSpecs; }

grpc::ServerUnaryReactor* BacklogServiceImpl::GetBacklogSummary(
    grpc::CallbackServerContext* context, const v1::GetBacklogSummaryRequest* request,
    v1::BacklogSummary* response) {
  return runtime_.Reply(context, kGetBacklogSummary, response, [=, this](const CallContext& call) {
    return backlog_.Summary(call, *request);
  });
}

grpc::ServerUnaryReactor* BacklogServiceImpl::ListBacklogItems(
    grpc::CallbackServerContext* context, const v1::ListBacklogItemsRequest* request,
    v1::ListBacklogItemsResponse* response) {
  return runtime_.Reply(context, kListBacklogItems, response, [=, this](const CallContext& call) {
    return backlog_.Items(call, *request);
  });
}

grpc::ServerUnaryReactor* BacklogServiceImpl::GetWorkload(grpc::CallbackServerContext* context,
                                                          const v1::GetWorkloadRequest* request,
                                                          v1::GetWorkloadResponse* response) {
  return runtime_.Reply(context, kGetWorkload, response, [=, this](const CallContext& call) {
    return backlog_.Workload(call, *request);
  });
}

grpc::ServerUnaryReactor* BacklogServiceImpl::ListMyWork(grpc::CallbackServerContext* context,
                                                         const v1::ListMyWorkRequest* request,
                                                         v1::ListMyWorkResponse* response) {
  return runtime_.Reply(context, kListMyWork, response, [=, this](const CallContext& call) {
    return backlog_.MyWork(call, *request);
  });
}

grpc::ServerUnaryReactor* BacklogServiceImpl::GetBacklogTrend(
    grpc::CallbackServerContext* context, const v1::GetBacklogTrendRequest* request,
    v1::GetBacklogTrendResponse* response) {
  return runtime_.Reply(context, kGetBacklogTrend, response, [=, this](const CallContext& call) {
    return backlog_.Trend(call, *request);
  });
}

grpc::ServerUnaryReactor* BacklogServiceImpl::TakeBacklogSnapshot(
    grpc::CallbackServerContext* context, const v1::TakeBacklogSnapshotRequest* request,
    v1::TakeBacklogSnapshotResponse* response) {
  return runtime_.Reply(
      context, kTakeBacklogSnapshot, response,
      [=, this](const CallContext& call) { return backlog_.TakeSnapshot(call, *request); });
}

}  // namespace vigil::backlog
