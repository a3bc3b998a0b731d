// gRPC handlers of vigil.v1.ReferralService: decode, authorise, call the queue, encode.
#ifndef VIGIL_SERVICES_OCAIT_REFERRAL_SERVICE_H_
#define VIGIL_SERVICES_OCAIT_REFERRAL_SERVICE_H_

#include <span>

#include "services/common/rpc.h"
#include "services/ocait/queue.h"
#include "vigil/v1/ocait.grpc.pb.h"

namespace vigil::ocait {

class ReferralServiceImpl final : public v1::ReferralService::CallbackService {
 public:
  ReferralServiceImpl(RpcRuntime& runtime, Queue& queue) : runtime_(runtime), queue_(queue) {}

  static std::span<const RpcSpec> Specs();

  grpc::ServerUnaryReactor* CreateReferral(grpc::CallbackServerContext* context,
                                           const v1::CreateReferralRequest* request,
                                           v1::Referral* response) override;
  grpc::ServerUnaryReactor* TriageReferral(grpc::CallbackServerContext* context,
                                           const v1::TriageReferralRequest* request,
                                           v1::Referral* response) override;
  grpc::ServerUnaryReactor* AllocateReferral(grpc::CallbackServerContext* context,
                                             const v1::AllocateReferralRequest* request,
                                             v1::Referral* response) override;
  grpc::ServerUnaryReactor* RecordIntelRefresh(grpc::CallbackServerContext* context,
                                               const v1::RecordIntelRefreshRequest* request,
                                               v1::Referral* response) override;
  grpc::ServerUnaryReactor* RecordCscCheck(grpc::CallbackServerContext* context,
                                           const v1::RecordCscCheckRequest* request,
                                           v1::Referral* response) override;
  grpc::ServerUnaryReactor* ActionReferral(grpc::CallbackServerContext* context,
                                           const v1::ActionReferralRequest* request,
                                           v1::Referral* response) override;
  grpc::ServerUnaryReactor* CloseReferral(grpc::CallbackServerContext* context,
                                          const v1::CloseReferralRequest* request,
                                          v1::Referral* response) override;
  grpc::ServerUnaryReactor* GetReferral(grpc::CallbackServerContext* context,
                                        const v1::GetReferralRequest* request,
                                        v1::Referral* response) override;
  grpc::ServerUnaryReactor* ListReferrals(grpc::CallbackServerContext* context,
                                          const v1::ListReferralsRequest* request,
                                          v1::ListReferralsResponse* response) override;
  grpc::ServerUnaryReactor* CountReferrals(grpc::CallbackServerContext* context,
                                           const v1::CountReferralsRequest* request,
                                           v1::CountReferralsResponse* response) override;
  grpc::ServerUnaryReactor* ImportReferrals(grpc::CallbackServerContext* context,
                                            const v1::ImportReferralsRequest* request,
                                            v1::ImportReferralsResponse* response) override;

 private:
  RpcRuntime& runtime_;
  Queue& queue_;
};

}  // namespace vigil::ocait

#endif  // VIGIL_SERVICES_OCAIT_REFERRAL_SERVICE_H_
