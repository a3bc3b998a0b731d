// vigil: the command-line client of vigild.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/version.h"
#include "clients/cli/cli.h"

namespace {

// `show` and `get` name the same verb everywhere: each is an alias of the other where only one
// exists.
void AliasShowAndGet(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands({})) {
    AliasShowAndGet(*sub);
    for (auto [name, alias] : {std::pair{"get", "show"}, std::pair{"show", "get"}}) {
      if (sub->get_name() != name) continue;
      bool taken = false;
      for (const CLI::App* sibling : app.get_subcommands({})) {
        taken = taken || sibling->check_name(alias);
      }
      if (!taken) sub->alias(alias);
    }
  }
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// For a word the deepest command given does not know ("vigil offender shw"): a message naming
// the command and the nearest verbs, or empty when the error is of another kind.
std::string UnknownVerb(CLI::App& app) {
  CLI::App* deepest = &app;
  std::vector<std::string> path = {"vigil"};
  for (;;) {
    std::vector<CLI::App*> parsed = deepest->get_subcommands();
    if (parsed.empty()) break;
    deepest = parsed.front();
    path.push_back(deepest->get_name());
  }
  const std::vector<CLI::App*> verbs = deepest->get_subcommands({});
  // Words no command took, wherever they were left (a verb falls through to its parents).
  const std::vector<std::string> left = app.remaining(/*recurse=*/true);
  if (verbs.empty() || left.empty() || left.front().empty() || left.front()[0] == '-') return {};
  const std::string& word = left.front();
  std::vector<std::string> near, all;
  for (const CLI::App* verb : verbs) {
    all.push_back(verb->get_name());
    for (const std::string& name : [&] {
           std::vector<std::string> names = verb->get_aliases();
           names.push_back(verb->get_name());
           return names;
         }()) {
      if (EditDistance(word, name) <= 2 || name.rfind(word, 0) == 0) {
        near.push_back(name);
        break;
      }
    }
  }
  std::string message =
      absl::StrCat("unknown command '", word, "' for '", absl::StrJoin(path, " "), "'");
  if (!near.empty()) {
    absl::StrAppend(&message, "; did you mean '", absl::StrJoin(near, "' or '"), "'?");
  } else {
    absl::StrAppend(&message, "; its commands: ", absl::StrJoin(all, ", "));
  }
  return message;
}

}  // namespace

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
  vigil::cli::AddRetentionCommands(app, cli, run);
  vigil::cli::AddAuditCommands(app, cli, run);
  vigil::cli::AddCertCommands(app, cli, run);
  vigil::cli::AddTokenCommands(app, cli, run);
  AliasShowAndGet(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() != 0) {
      if (const std::string unknown = UnknownVerb(app); !unknown.empty()) {
        std::cerr << "vigil: " << unknown << "\n(see vigil --help)\n";
        return 2;
      }
    }
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return run ? run() : 2;
}
