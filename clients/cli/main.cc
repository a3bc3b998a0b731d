// vigil: the command-line client of vigild.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "base/version.h"
#include "clients/cli/cli.h"

int main(int argc, char** argv) {
  vigil::cli::Cli cli(std::cout, std::cerr);
  CLI::App app{
      "vigil: the command-line client of vigild, the service that keeps offender-management "
      "obligations as clocks and shows the backlog.\n"
      "Identity: --actor/--role/--force (or VIGIL_ACTOR, VIGIL_ROLE, VIGIL_FORCE)."};
  app.set_version_flag("--version", absl::StrCat("vigil ", vigil::kVersion, " (API vigil.v1 ",
                                                 vigil::kApiVersion, ")"));
  app.require_subcommand(1);
  app.fallthrough();
  cli.AddGlobalOptions(app);
  vigil::cli::Action run;
  vigil::cli::AddHealthCommands(app, cli, run);
  vigil::cli::AddMetricsCommands(app, cli, run);
  vigil::cli::AddAdminCommands(app, cli, run);
  vigil::cli::AddOffenderCommands(app, cli, run);
  vigil::cli::AddAssessmentCommands(app, cli, run);
  vigil::cli::AddVisitCommands(app, cli, run);
  vigil::cli::AddReferralCommands(app, cli, run);
  vigil::cli::AddBacklogCommands(app, cli, run);
  vigil::cli::AddAlertCommands(app, cli, run);
  vigil::cli::AddReportCommands(app, cli, run);
  vigil::cli::AddDemoCommands(app, cli, run);
  vigil::cli::AddImportCommands(app, cli, run);
  vigil::cli::AddPolicyCommands(app, cli, run);
  vigil::cli::AddAuditCommands(app, cli, run);
  vigil::cli::AddCertCommands(app, cli, run);
  vigil::cli::AddTokenCommands(app, cli, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return run ? run() : 2;
}
