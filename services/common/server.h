// Starts a gRPC server (callback API) hosting vigil's services, with the standard health
// service (overall and per service) and server reflection, and the resource limits every
// deployment needs. The same host is used by vigild and by in-process tests.
#ifndef VIGIL_SERVICES_COMMON_SERVER_H_
#define VIGIL_SERVICES_COMMON_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"

namespace vigil {

struct ServerOptions {
  // Where to listen, e.g. "127.0.0.1:7420"; port 0 picks a free port (see ServerHost::port).
  std::string listen = "127.0.0.1:7420";
  // Largest request or response message. Default: 4 MiB.
  int max_message_bytes = 4 << 20;
  // Concurrent HTTP/2 streams per client connection. Default: 256.
  int max_concurrent_streams = 256;
  // Server-initiated keepalive pings on idle connections, and how long to wait for the ack.
  absl::Duration keepalive_time = absl::Minutes(5);
  absl::Duration keepalive_timeout = absl::Seconds(20);
  // Clients may ping no more often than this (faster pings are answered with GOAWAY).
  absl::Duration min_client_ping_interval = absl::Seconds(30);
  // The transport's credentials (TLS: ServerTls::credentials()). Default: null, plaintext.
  std::shared_ptr<grpc::ServerCredentials> credentials;
  // Where to serve grpc.health.v1 alone, in plaintext, with the same statuses as the main
  // listener: for probes that cannot speak TLS (the kubelet's gRPC probes). No other service
  // is reachable there. Default: empty, none.
  std::string health_listen;
};

// A service to host and the name the health service reports it under: its full gRPC name,
// e.g. vigil::v1::AuditService::service_full_name().
struct HostedService {
  std::string name;
  grpc::Service* service;  // not owned
};

class ServerHost {
 public:
  // Builds and starts the server. `services` must outlive the host; each is marked SERVING in
  // the health service under its name, as is the server overall (""). FailedPrecondition
  // naming the address when it cannot be bound (in use, malformed, not a local address).
  static absl::StatusOr<std::unique_ptr<ServerHost>> Start(
      const ServerOptions& options, const std::vector<HostedService>& services);

  ~ServerHost();

  // The bound port (the chosen one when options.listen asked for port 0).
  int port() const { return port_; }
  // The bound port of options.health_listen; 0 without one.
  int health_port() const { return health_port_; }

  // A channel to this server that never leaves the process: how co-hosted services call each
  // other through their APIs.
  std::shared_ptr<grpc::Channel> InProcessChannel();

  // Marks every service, and the server, NOT_SERVING: sent before draining on shutdown.
  // Later SetServing calls are ignored.
  void SetNotServing();

  // Reports one service (its full name; "" for the server overall) SERVING or NOT_SERVING,
  // e.g. while the store cannot write. Thread-safe; ignored once SetNotServing was called.
  void SetServing(const std::string& service, bool serving);

  // Stops accepting calls and waits for up to `grace` for calls in flight, then cancels the
  // rest. Note that gRPC also waits (up to `grace`) for idle client connections to close, so
  // callers that track their own calls drain first and pass a zero grace. Idempotent.
  void Shutdown(absl::Duration grace);

 private:
  ServerHost() = default;

  // Calls `set` on the health service of the server and of the health listener.
  template <typename Set>
  void ForEachHealth(Set set);

  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> health_server_;  // only grpc.health.v1; null without one
  int health_port_ = 0;
  std::atomic<bool> draining_{false};
  bool shut_down_ = false;
};

}  // namespace vigil

#endif  // VIGIL_SERVICES_COMMON_SERVER_H_
