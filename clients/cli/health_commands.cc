// `vigil health`: is vigild up, and which of its services serve. `vigil metrics`: its
// operational counters and gauges.
#include <algorithm>
#include <ostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "clients/cli/cli.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "vigil/v1/admin.grpc.pb.h"
#include "vigil/v1/alerts.grpc.pb.h"
#include "vigil/v1/audit.grpc.pb.h"
#include "vigil/v1/backlog.grpc.pb.h"
#include "vigil/v1/ocait.grpc.pb.h"
#include "vigil/v1/rso.grpc.pb.h"
#include "vigil/v1/visits.grpc.pb.h"

namespace vigil::cli {
namespace {

// Every service vigild can host, in the order `vigil health` lists them.
const std::vector<std::string>& VigilServices() {
  static const std::vector<std::string> services = {
      v1::OffenderService::service_full_name(), v1::AssessmentService::service_full_name(),
      v1::VisitService::service_full_name(),    v1::ReferralService::service_full_name(),
      v1::BacklogService::service_full_name(),  v1::AlertService::service_full_name(),
      v1::AdminService::service_full_name(),    v1::AuditService::service_full_name()};
  return services;
}

std::string StatusName(grpc::health::v1::HealthCheckResponse::ServingStatus status) {
  switch (status) {
    case grpc::health::v1::HealthCheckResponse::SERVING:
      return "SERVING";
    case grpc::health::v1::HealthCheckResponse::NOT_SERVING:
      return "NOT_SERVING";
    case grpc::health::v1::HealthCheckResponse::SERVICE_UNKNOWN:
      return "SERVICE_UNKNOWN";
    default:
      return "UNKNOWN";
  }
}

}  // namespace

void AddHealthCommands(CLI::App& app, Cli& cli, Action& run) {
  auto service = std::make_shared<std::string>();
  CLI::App* health = app.add_subcommand(
      "health", "Check that vigild is serving, overall and per service (exit 0 when serving)");
  health->add_option("--service", *service, "Check only this service, e.g. vigil.v1.AuditService");
  health->callback([&cli, &run, service] {
    run = [&cli, service]() -> int {
      auto stub = grpc::health::v1::Health::NewStub(cli.channel());
      std::vector<std::string> names = {""};
      if (!service->empty()) {
        names = {*service};
      } else {
        names.insert(names.end(), VigilServices().begin(), VigilServices().end());
      }
      Table table({"SERVICE", "STATUS"});
      bool overall_serving = false;
      for (const std::string& name : names) {
        grpc::health::v1::HealthCheckRequest request;
        request.set_service(name);
        grpc::health::v1::HealthCheckResponse response;
        auto context = cli.NewContext();
        grpc::Status status = stub->Check(context.get(), request, &response);
        std::string state;
        if (status.ok()) {
          state = StatusName(response.status());
        } else if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
          state = "NOT_HOSTED";
        } else {
          return cli.Fail(status);
        }
        if (name == names.front()) overall_serving = state == "SERVING";
        table.AddRow({name.empty() ? "(server)" : name, state});
      }
      if (cli.output() == Output::kJson) {
        cli.out() << "{\"server\": \"" << cli.options().server
                  << "\", \"serving\": " << (overall_serving ? "true" : "false") << "}\n";
      } else {
        cli.Print(table);
      }
      return overall_serving ? 0 : 1;
    };
  });
}

void AddMetricsCommands(CLI::App& app, Cli& cli, Action& run) {
  auto prefix = std::make_shared<std::string>();
  CLI::App* metrics = app.add_subcommand(
      "metrics", "vigild's counters and gauges: alert scanner progress, feed heads and followers");
  metrics->add_option("prefix", *prefix, "Only metrics whose name starts with this, e.g. alerts_");
  metrics->callback([&cli, &run, prefix] {
    run = [&cli, prefix]() -> int {
      v1::GetMetricsResponse response;
      auto context = cli.NewContext();
      grpc::Status status = v1::AdminService::NewStub(cli.channel())
                                ->GetMetrics(context.get(), v1::GetMetricsRequest(), &response);
      if (!status.ok()) return cli.Fail(status);
      if (!prefix->empty()) {
        auto* list = response.mutable_metrics();
        list->erase(std::remove_if(
                        list->begin(), list->end(),
                        [&](const v1::Metric& m) { return !absl::StartsWith(m.name(), *prefix); }),
                    list->end());
      }
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
        return 0;
      }
      Table table({"METRIC", "VALUE", "MEANING"});
      for (const v1::Metric& m : response.metrics())
        table.AddRow({m.name(), absl::StrCat(m.value()), m.help()});
      cli.Print(table);
      return 0;
    };
  });
}

}  // namespace vigil::cli
