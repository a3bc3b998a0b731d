// gRPC handlers of vigil.v1.AlertService: thin wrappers over AlertEngine, and Subscribe (and
// SubscribeBatches), a FeedStream over the alerts feed with the subscription's filters (or
// digests).
#ifndef VIGIL_SERVICES_ALERTS_ALERT_SERVICE_H_
#define VIGIL_SERVICES_ALERTS_ALERT_SERVICE_H_

#include <span>
#include <vector>

#include "services/alerts/alert_engine.h"
#include "services/common/feed_stream.h"
#include "services/common/rpc.h"
#include "vigil/v1/alerts.grpc.pb.h"

namespace vigil::alerts {

class AlertServiceImpl final : public v1::AlertService::CallbackService {
 public:
  // None owned; all outlive the service.
  AlertServiceImpl(RpcRuntime& runtime, AlertEngine& engine, FeedNotifier& notifier)
      : runtime_(runtime), engine_(engine), notifier_(notifier) {}

  static std::span<const RpcSpec> Specs();

  grpc::ServerUnaryReactor* ListAlerts(grpc::CallbackServerContext* context,
                                       const v1::ListAlertsRequest* request,
                                       v1::ListAlertsResponse* response) override;
  grpc::ServerUnaryReactor* GetAlert(grpc::CallbackServerContext* context,
                                     const v1::GetAlertRequest* request,
                                     v1::Alert* response) override;
  grpc::ServerUnaryReactor* AcknowledgeAlert(grpc::CallbackServerContext* context,
                                             const v1::AcknowledgeAlertRequest* request,
                                             v1::Alert* response) override;
  grpc::ServerWriteReactor<v1::AlertEvent>* Subscribe(grpc::CallbackServerContext* context,
                                                      const v1::SubscribeRequest* request) override;
  grpc::ServerWriteReactor<v1::AlertEventBatch>* SubscribeBatches(
      grpc::CallbackServerContext* context, const v1::SubscribeBatchesRequest* request) override;

 private:
  // Subscribe and SubscribeBatches: the caller's events of the alerts feed after the request's
  // cursor, each page read from the feed delivered by `pack` as `Message`s.
  template <typename Message>
  grpc::ServerWriteReactor<Message>* StartSubscription(
      grpc::CallbackServerContext* context, const v1::SubscribeRequest& request,
      const RpcSpec& spec, void (*pack)(std::vector<v1::AlertEvent>, std::vector<Message>&));

  RpcRuntime& runtime_;
  AlertEngine& engine_;
  FeedNotifier& notifier_;
};

}  // namespace vigil::alerts

#endif  // VIGIL_SERVICES_ALERTS_ALERT_SERVICE_H_
