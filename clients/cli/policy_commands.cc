// `vigil policy get|set|versions|recompute`: the versioned policy behind every due date.
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "clients/cli/cli.h"
#include "clients/cli/format.h"
#include "google/protobuf/text_format.h"
#include "vigil/v1/admin.grpc.pb.h"

namespace vigil::cli {

void AddPolicyCommands(CLI::App& app, Cli& cli, Action& run) {
  CLI::App* policy = app.add_subcommand("policy", "The versioned policy behind every due date");
  policy->require_subcommand(1);

  auto version = std::make_shared<std::string>();
  CLI::App* get =
      policy->add_subcommand("get", "Print a policy version (default: the current one) as text");
  get->add_option("--version", *version, "e.g. v2");
  get->callback([&cli, &run, version] {
    run = [&cli, version]() -> int {
      v1::GetPolicyRequest request;
      request.set_version(*version);
      v1::Policy response;
      auto context = cli.NewContext();
      grpc::Status status =
          v1::AdminService::NewStub(cli.channel())->GetPolicy(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
      } else {
        std::string text;
        google::protobuf::TextFormat::PrintToString(response, &text);
        cli.out() << text;
      }
      return 0;
    };
  });

  struct SetFlags {
    std::string file;
    std::string request_id;
  };
  auto set_flags = std::make_shared<SetFlags>();
  CLI::App* set = policy->add_subcommand(
      "set",
      "Store a new version of your force's policy from a text-format file and make it current "
      "for your force (force-admin)");
  set->add_option("file", set_flags->file, "Text-format vigil.v1.Policy")->required();
  set->add_option("--request-id", set_flags->request_id,
                  "Idempotency key: a retry with the same id stores nothing new");
  set->callback([&cli, &run, set_flags] {
    run = [&cli, set_flags]() -> int {
      const std::string* file = &set_flags->file;
      std::ifstream in(*file);
      if (!in) return cli.Fail(absl::StrCat("cannot read ", *file));
      std::stringstream text;
      text << in.rdbuf();
      v1::SetPolicyRequest request;
      request.set_request_id(set_flags->request_id);
      if (!google::protobuf::TextFormat::ParseFromString(text.str(), request.mutable_policy())) {
        return cli.Fail(absl::StrCat(*file, " is not a text-format vigil.v1.Policy"));
      }
      v1::Policy response;
      auto context = cli.NewContext();
      grpc::Status status =
          v1::AdminService::NewStub(cli.channel())->SetPolicy(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      cli.out() << "policy " << response.version()
                << " is current for your force; existing due dates keep their version until 'vigil "
                   "policy recompute'\n";
      return 0;
    };
  });

  CLI::App* versions = policy->add_subcommand("versions", "List the stored policy versions");
  versions->callback([&cli, &run] {
    run = [&cli]() -> int {
      v1::ListPolicyVersionsResponse response;
      auto context = cli.NewContext();
      grpc::Status status =
          v1::AdminService::NewStub(cli.channel())
              ->ListPolicyVersions(context.get(), v1::ListPolicyVersionsRequest(), &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
        return 0;
      }
      Table table({"VERSION", "CURRENT", "CHAIN", "CREATED", "BY", "DESCRIPTION"});
      for (const v1::PolicyVersion& v : response.versions()) {
        table.AddRow({v.version(), v.current() ? "yes" : "",
                      v.force().empty() ? "national" : v.force(), FormatTimestamp(v.created_time()),
                      v.created_by(), v.description()});
      }
      cli.Print(table);
      return 0;
    };
  });

  struct RecomputeFlags {
    std::string reason;
    bool dry_run = false;
  };
  auto recompute_flags = std::make_shared<RecomputeFlags>();
  CLI::App* recompute = policy->add_subcommand(
      "recompute", "Re-derive every open clock of your force under the current policy (audited)");
  recompute->add_option("--reason", recompute_flags->reason, "Why; recorded in the audit log")
      ->required();
  recompute->add_flag("--dry-run", recompute_flags->dry_run,
                      "Report what would move; write nothing");
  recompute->callback([&cli, &run, recompute_flags] {
    run = [&cli, recompute_flags]() -> int {
      v1::RecomputeObligationsRequest request;
      request.set_reason(recompute_flags->reason);
      request.set_dry_run(recompute_flags->dry_run);
      v1::RecomputeObligationsResponse response;
      auto context = cli.NewContext();
      grpc::Status status = v1::AdminService::NewStub(cli.channel())
                                ->RecomputeObligations(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
      } else {
        cli.out() << (recompute_flags->dry_run ? "dry run under policy "
                                               : "recomputed under policy ")
                  << response.policy_version() << ": " << response.obligations_retimed()
                  << " clocks moved\n";
        for (const v1::ContextRecompute& part : response.contexts()) {
          cli.out() << "  " << part.context() << ": " << part.examined() << " "
                    << (part.context() == "rso" ? "offenders" : "referrals") << " examined, "
                    << part.changed() << " changed, " << part.retimed() << " clocks moved\n";
        }
      }
      return 0;
    };
  });
}

}  // namespace vigil::cli
