#include "services/common/server.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace vigil {

absl::StatusOr<std::unique_ptr<ServerHost>> ServerHost::Start(
    const ServerOptions& options, const std::vector<HostedService>& services) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  std::unique_ptr<ServerHost> host(new ServerHost());
  grpc::ServerBuilder builder;
  builder.AddListeningPort(
      options.listen,
      options.credentials != nullptr ? options.credentials : grpc::InsecureServerCredentials(),
      &host->port_);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options.max_concurrent_streams);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(options.keepalive_time)));
  builder.AddChannelArgument(
      GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
      static_cast<int>(absl::ToInt64Milliseconds(options.keepalive_timeout)));
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      static_cast<int>(absl::ToInt64Milliseconds(options.min_client_ping_interval)));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  // Never share the port with another process (SO_REUSEPORT would hide "port in use").
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  for (const HostedService& hosted : services) builder.RegisterService(hosted.service);

  host->server_ = builder.BuildAndStart();
  if (host->server_ == nullptr || host->port_ == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot listen on ", options.listen,
                     ": the address is malformed, not local to this machine, or already in use"));
  }
  if (!options.health_listen.empty()) {
    // A server of its own with no service registered: gRPC adds the default health service
    // (and reflection) to it, and nothing else.
    grpc::ServerBuilder health_builder;
    health_builder.AddListeningPort(options.health_listen, grpc::InsecureServerCredentials(),
                                    &host->health_port_);
    health_builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    host->health_server_ = health_builder.BuildAndStart();
    if (host->health_server_ == nullptr || host->health_port_ == 0) {
      host->Shutdown(absl::ZeroDuration());
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot listen on ", options.health_listen,
          " (health): the address is malformed, not local to this machine, or already in use"));
    }
  }
  host->ForEachHealth([&](grpc::HealthCheckServiceInterface& health) {
    health.SetServingStatus("", true);
    for (const HostedService& hosted : services) health.SetServingStatus(hosted.name, true);
  });
  return host;
}

template <typename Set>
void ServerHost::ForEachHealth(Set set) {
  for (grpc::Server* server : {server_.get(), health_server_.get()}) {
    if (server == nullptr) continue;
    if (grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService()) set(*health);
  }
}

ServerHost::~ServerHost() { Shutdown(absl::ZeroDuration()); }

std::shared_ptr<grpc::Channel> ServerHost::InProcessChannel() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  return server_->InProcessChannel(args);
}

void ServerHost::SetServing(const std::string& service, bool serving) {
  if (server_ == nullptr || draining_.load()) return;
  ForEachHealth([&](grpc::HealthCheckServiceInterface& health) {
    health.SetServingStatus(service, serving);
  });
}

void ServerHost::SetNotServing() {
  draining_.store(true);
  ForEachHealth([](grpc::HealthCheckServiceInterface& health) { health.SetServingStatus(false); });
}

void ServerHost::Shutdown(absl::Duration grace) {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  SetNotServing();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
  if (health_server_ != nullptr) {
    health_server_->Shutdown(absl::ToChronoTime(absl::Now()));
    health_server_->Wait();
  }
}

}  // namespace vigil
