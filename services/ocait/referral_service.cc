#include "services/ocait/referral_service.h"

namespace vigil::ocait {
namespace {

// Investigators and their supervisors work the queue; force systems (NCA feeds) write as
// system; imports of a whole queue are for supervisors and administrators.
constexpr RoleSet kCaseworkers{Role::kOfficer, Role::kSupervisor, Role::kForceAdmin, Role::kSystem};
constexpr RoleSet kImporters{Role::kSupervisor, Role::kForceAdmin, Role::kSystem};

constexpr RpcSpec kCreateReferral{"vigil.v1.ReferralService/CreateReferral", kCaseworkers, true};
constexpr RpcSpec kTriageReferral{"vigil.v1.ReferralService/TriageReferral", kCaseworkers, true};
constexpr RpcSpec kAllocateReferral{"vigil.v1.ReferralService/AllocateReferral", kCaseworkers,
                                    true};
constexpr RpcSpec kRecordIntelRefresh{"vigil.v1.ReferralService/RecordIntelRefresh", kCaseworkers,
                                      true};
constexpr RpcSpec kRecordCscCheck{"vigil.v1.ReferralService/RecordCscCheck", kCaseworkers, true};
constexpr RpcSpec kActionReferral{"vigil.v1.ReferralService/ActionReferral", kCaseworkers, true};
constexpr RpcSpec kCloseReferral{"vigil.v1.ReferralService/CloseReferral", kCaseworkers, true};
constexpr RpcSpec kGetReferral{"vigil.v1.ReferralService/GetReferral", kCaseworkers, true};
constexpr RpcSpec kListReferrals{"vigil.v1.ReferralService/ListReferrals", kCaseworkers, true};
constexpr RpcSpec kCountReferrals{"vigil.v1.ReferralService/CountReferrals", kCaseworkers, true};
constexpr RpcSpec kImportReferrals{"vigil.v1.ReferralService/ImportReferrals", kImporters, true};
constexpr RpcSpec kSpecs[] = {kCreateReferral,     kTriageReferral, kAllocateReferral,
                              kRecordIntelRefresh, kRecordCscCheck, kActionReferral,
                              kCloseReferral,      kGetReferral,    kListReferrals,
                              kCountReferrals,     kImportReferrals};

}  // namespace

std::span<const RpcSpec> ReferralServiceImpl::Specs() { return kSpecs; }

grpc::ServerUnaryReactor* ReferralServiceImpl::CreateReferral(
    grpc::CallbackServerContext* context, const v1::CreateReferralRequest* request,
    v1::Referral* response) {
  return runtime_.ReplyAsync(
      context, kCreateReferral, response,
      [=, this](const std::shared_ptr<const CallContext>& call, auto done) {
        queue_.CreateAsync(call, *request, runtime_.executor(), std::move(done));
      },
      // Reads until its change is queued, unless it must ask the register about a linked
      // offender: see StartOn.
      request->referral().linked_offender_id().empty() ? RpcRuntime::StartOn::kReceivingThread
                                                       : RpcRuntime::StartOn::kWorker);
}

grpc::ServerUnaryReactor* ReferralServiceImpl::TriageReferral(
    grpc::CallbackServerContext* context, const v1::TriageReferralRequest* request,
    v1::Referral* response) {
  return runtime_.Reply(context, kTriageReferral, response, [=, this](const CallContext& call) {
    return queue_.Triage(call, *request);
  });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::AllocateReferral(
    grpc::CallbackServerContext* context, const v1::AllocateReferralRequest* request,
    v1::Referral* response) {
  return runtime_.Reply(context, kAllocateReferral, response, [=, this](const CallContext& call) {
    return queue_.Allocate(call, *request);
  });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::RecordIntelRefresh(
    grpc::CallbackServerContext* context, const v1::RecordIntelRefreshRequest* request,
    v1::Referral* response) {
  return runtime_.Reply(context, kRecordIntelRefresh, response, [=, this](const CallContext& call) {
    return queue_.RecordIntelRefresh(call, *request);
  });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::RecordCscCheck(
    grpc::CallbackServerContext* context, const v1::RecordCscCheckRequest* request,
    v1::Referral* response) {
  return runtime_.Reply(context, kRecordCscCheck, response, [=, this](const CallContext& call) {
    return queue_.RecordCscCheck(call, *request);
  });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::ActionReferral(
    grpc::CallbackServerContext* context, const v1::ActionReferralRequest* request,
    v1::Referral* response) {
  return runtime_.Reply(context, kActionReferral, response, [=, this](const CallContext& call) {
    return queue_.Action(call, *request);
  });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::CloseReferral(
    grpc::CallbackServerContext* context, const v1::CloseReferralRequest* request,
    v1::Referral* response) {
  return runtime_.Reply(context, kCloseReferral, response, [=, this](const CallContext& call) {
    return queue_.Close(call, *request);
  });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::GetReferral(grpc::CallbackServerContext* context,
                                                           const v1::GetReferralRequest* request,
                                                           v1::Referral* response) {
  return runtime_.Reply(context, kGetReferral, response,
                        [=, this](const CallContext& call) { return queue_.Get(call, *request); });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::ListReferrals(
    grpc::CallbackServerContext* context, const v1::ListReferralsRequest* request,
    v1::ListReferralsResponse* response) {
  return runtime_.Reply(context, kListReferrals, response,
                        [=, this](const CallContext& call) { return queue_.List(call, *request); });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::CountReferrals(
    grpc::CallbackServerContext* context, const v1::CountReferralsRequest* request,
    v1::CountReferralsResponse* response) {
  return runtime_.Reply(context, kCountReferrals, response, [=, this](const CallContext& call) {
    return queue_.Count(call, *request);
  });
}

grpc::ServerUnaryReactor* ReferralServiceImpl::ImportReferrals(
    grpc::CallbackServerContext* context, const v1::ImportReferralsRequest* request,
    v1::ImportReferralsResponse* response) {
  return runtime_.Reply(context, kImportReferrals, response, [=, this](const CallContext& call) {
    return queue_.Import(call, *request);
  });
}

}  // namespace vigil::ocait
