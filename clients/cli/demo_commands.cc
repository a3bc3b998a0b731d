// `vigil demo seed`: loads a synthetic force through the public API.
#include "absl/strings/str_cat.h"
#include "clients/cli/cli.h"
#include "clients/cli/demo_data.h"
#include "vigil/v1/ocait.grpc.pb.h"
#include "vigil/v1/rso.grpc.pb.h"
#include "vigil/v1/visits.grpc.pb.h"

namespace vigil::cli {

void AddDemoCommands(CLI::App& app, Cli& cli, Action& run) {
  CLI::App* demo = app.add_subcommand("demo", "Synthetic data for trying vigil");
  demo->require_subcommand(1);
  auto options = std::make_shared<DemoOptions>();
  CLI::App* seed = demo->add_subcommand(
      "seed",
      "Load a synthetic force: offenders with a realistic risk mix and history (one team "
      "flat-diarised), plans, recent visits and a referral queue back to 2019. Repeatable: "
      "loading again adds nothing. Needs a supervisor or force-admin identity.");
  seed->add_option("--offenders", options->offenders, "Offenders")
      ->check(CLI::Range(1, 200000))
      ->capture_default_str();
  seed->add_option("--referrals", options->referrals, "Referrals")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  seed->add_option("--teams", options->teams, "Teams")
      ->check(CLI::Range(1, 8))
      ->capture_default_str();
  seed->add_option("--seed", options->seed, "Random seed")->capture_default_str();
  seed->callback([&cli, &run, options] {
    run = [&cli, options]() -> int {
      options->now = absl::Now();
      const DemoData data = GenerateDemo(*options);
      auto offenders = v1::OffenderService::NewStub(cli.channel());
      int64_t imported = 0, already = 0, refused = 0;
      for (size_t start = 0; start < data.offenders.size(); start += 500) {
        v1::ImportOffendersRequest batch;
        for (size_t i = start; i < std::min(data.offenders.size(), start + 500); ++i)
          *batch.add_rows() = data.offenders[i];
        v1::ImportOffendersResponse response;
        grpc::Status status = offenders->ImportOffenders(cli.NewContext().get(), batch, &response);
        if (!status.ok()) return cli.Fail(status);
        imported += response.imported();
        already += response.already_present();
        refused += response.errors_size();
        cli.err() << "\roffenders: " << imported << " loaded, " << already << " already present"
                  << std::flush;
      }
      cli.err() << "\n";
      auto assessments = v1::AssessmentService::NewStub(cli.channel());
      int plans = 0;
      for (const v1::RecordRiskManagementPlanRequest& plan : data.plans) {
        v1::RiskManagementPlan response;
        grpc::Status status =
            assessments->RecordRiskManagementPlan(cli.NewContext().get(), plan, &response);
        if (!status.ok() && status.error_code() != grpc::StatusCode::FAILED_PRECONDITION)
          return cli.Fail(status);
        if (++plans % 50 == 0) cli.err() << "\rplans: " << plans << std::flush;
      }
      cli.err() << "\rplans: " << plans << "\n";
      auto visits = v1::VisitService::NewStub(cli.channel());
      int visited = 0;
      for (const v1::RecordVisitRequest& visit : data.visits) {
        v1::Visit response;
        grpc::Status status = visits->RecordVisit(cli.NewContext().get(), visit, &response);
        if (!status.ok() && status.error_code() != grpc::StatusCode::FAILED_PRECONDITION)
          return cli.Fail(status);
        ++visited;
      }
      cli.err() << "visits: " << visited << "\n";
      auto referrals = v1::ReferralService::NewStub(cli.channel());
      int64_t queued = 0, queued_already = 0;
      for (size_t start = 0; start < data.referrals.size(); start += 500) {
        v1::ImportReferralsRequest batch;
        for (size_t i = start; i < std::min(data.referrals.size(), start + 500); ++i)
          *batch.add_rows() = data.referrals[i];
        v1::ImportReferralsResponse response;
        grpc::Status status = referrals->ImportReferrals(cli.NewContext().get(), batch, &response);
        if (!status.ok()) return cli.Fail(status);
        queued += response.imported();
        queued_already += response.already_present();
        refused += response.errors_size();
      }
      cli.err() << "referrals: " << queued << " loaded, " << queued_already << " already present\n";
      cli.out() << "demo force " << cli.options().force << ": " << data.offenders.size()
                << " offenders, " << data.referrals.size() << " referrals"
                << (refused > 0 ? absl::StrCat(", ", refused, " rows refused") : "") << "\n";
      return refused > 0 ? 1 : 0;
    };
  });
}

}  // namespace vigil::cli
