// Serves Metrics::Default() over HTTP for Prometheus: GET /metrics, text format 0.0.4. Nothing
// else is served (404), nothing is read from the request, and metrics carry no personal data,
// so the endpoint needs no credential; bind it where only the scraper can reach it.
#ifndef VIGIL_SERVICES_COMMON_METRICS_HTTP_H_
#define VIGIL_SERVICES_COMMON_METRICS_HTTP_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace vigil {

class MetricsHttpServer {
 public:
  // Binds `listen` ("127.0.0.1:9464"; port 0 picks one) and serves on a thread of its own.
  // InvalidArgument: not HOST:PORT. FailedPrecondition: the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const std::string& listen);
  // Stops serving and joins the thread.
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  int port() const { return port_; }

 private:
  MetricsHttpServer() = default;

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace vigil

#endif  // VIGIL_SERVICES_COMMON_METRICS_HTTP_H_
