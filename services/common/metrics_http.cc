#include "services/common/metrics_http.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "httplib.h"
#include "services/common/metrics.h"

namespace vigil {

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& listen) {
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-listen ", listen, ": give HOST:PORT, e.g. 127.0.0.1:9464"));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::unique_ptr<MetricsHttpServer> endpoint(new MetricsHttpServer());
  endpoint->server_ = std::make_unique<httplib::Server>();
  httplib::Server& server = *endpoint->server_;
  // Two threads are plenty for a scraper; slow clients are cut off.
  server.new_task_queue = [] { return new httplib::ThreadPool(2); };
  server.set_read_timeout(5);
  server.set_write_timeout(5);
  server.Get("/metrics", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(Metrics::Default().RenderPrometheus(),
                         "text/plain; version=0.0.4; charset=utf-8");
  });
  if (port == 0) {
    endpoint->port_ = server.bind_to_any_port(host);
  } else if (server.bind_to_port(host, port)) {
    endpoint->port_ = port;
  } else {
    endpoint->port_ = -1;
  }
  if (endpoint->port_ <= 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--metrics-listen ", listen, ": cannot bind (in use, or not an address of this host)"));
  }
  endpoint->thread_ = std::thread([&server] { server.listen_after_bind(); });
  return endpoint;
}

MetricsHttpServer::~MetricsHttpServer() {
  // stop() before the listening thread has started would be lost, and the join would wait
  // forever: wait (briefly) for it to run.
  for (int i = 0; i < 2000 && thread_.joinable() && !server_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (server_ != nullptr) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace vigil
