// `vigil report --out report.html`: a self-contained page for a performance meeting.
#include <fstream>

#include "absl/strings/str_cat.h"
#include "clients/cli/backlog_view.h"
#include "clients/cli/cli.h"
#include "vigil/v1/backlog.grpc.pb.h"

namespace vigil::cli {

void AddReportCommands(CLI::App& app, Cli& cli, Action& run) {
  struct ReportFlags {
    std::string out = "report.html", team;
  };
  auto flags = std::make_shared<ReportFlags>();
  CLI::App* report = app.add_subcommand(
      "report", "Write the backlog as a printable HTML page (summary, charts, oldest 20, trend)");
  report->add_option("--out", flags->out, "Where to write it")->capture_default_str();
  report->add_option("--team", flags->team, "Only this team");
  report->callback([&cli, &run, flags] {
    run = [&cli, flags]() -> int {
      auto stub = v1::BacklogService::NewStub(cli.channel());
      ReportData data;
      v1::GetBacklogSummaryRequest summary;
      summary.set_team(flags->team);
      grpc::Status status = stub->GetBacklogSummary(cli.NewContext().get(), summary, &data.summary);
      if (!status.ok()) return cli.Fail(status);
      v1::ListBacklogItemsRequest items;
      items.set_team(flags->team);
      *items.mutable_as_of() = data.summary.as_of();
      items.set_order(v1::BACKLOG_ORDER_OLDEST_FIRST);
      items.mutable_page()->set_page_size(20);
      status = stub->ListBacklogItems(cli.NewContext().get(), items, &data.oldest);
      if (!status.ok()) return cli.Fail(status);
      v1::GetBacklogTrendRequest trend;
      trend.set_team(flags->team);
      status = stub->GetBacklogTrend(cli.NewContext().get(), trend, &data.trend);
      // An officer's report is of their own work: the force's and teams' trend is for
      // supervisors, and the page goes without it.
      if (status.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
        data.trend.Clear();
      } else if (!status.ok()) {
        return cli.Fail(status);
      }
      v1::GetWorkloadRequest workload;
      workload.set_team(flags->team);
      status = stub->GetWorkload(cli.NewContext().get(), workload, &data.workload);
      if (!status.ok()) return cli.Fail(status);
      std::ofstream out(flags->out, std::ios::trunc);
      out << ReportHtml(data);
      if (!out.good()) return cli.Fail(absl::StrCat("cannot write ", flags->out));
      cli.out() << "wrote " << flags->out << ": " << data.summary.total() << " overdue of "
                << data.summary.total_open() << " open\n";
      return 0;
    };
  });
}

}  // namespace vigil::cli
