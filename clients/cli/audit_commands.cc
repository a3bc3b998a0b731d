// `vigil audit list|verify`: the data-protection access log.
#include <ostream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "base/crypto/checkpoint.h"
#include "base/files.h"
#include "base/proto_time.h"
#include "clients/cli/cli.h"
#include "vigil/v1/audit.grpc.pb.h"

namespace vigil::cli {
namespace {

std::string ActionName(v1::AuditAction action) {
  std::string name = v1::AuditAction_Name(action);
  constexpr absl::string_view kPrefix = "AUDIT_ACTION_";
  if (absl::StartsWith(name, kPrefix)) name = name.substr(kPrefix.size());
  return absl::AsciiStrToLower(name);
}

std::string FormatTimestamp(const google::protobuf::Timestamp& ts) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", TimeOf(ts), absl::UTCTimeZone());
}

struct ListFlags {
  std::string subject;
  std::string actor;
  std::string from;
  std::string to;
  int page_size = 0;
  std::string page_token;
  bool national = false;
};

int List(Cli& cli, const ListFlags& flags) {
  v1::ListAuditRecordsRequest request;
  request.set_subject_id(flags.subject);
  request.set_actor(flags.actor);
  request.set_national_security_log(flags.national);
  if (!flags.from.empty()) {
    absl::StatusOr<absl::Time> t = ParseTimeFlag(flags.from);
    if (!t.ok()) return cli.Fail(t.status());
    request.mutable_from()->set_seconds(absl::ToUnixSeconds(*t));
  }
  if (!flags.to.empty()) {
    absl::StatusOr<absl::Time> t = ParseTimeFlag(flags.to);
    if (!t.ok()) return cli.Fail(t.status());
    request.mutable_to()->set_seconds(absl::ToUnixSeconds(*t));
  }
  request.mutable_page()->set_page_size(flags.page_size);
  request.mutable_page()->set_page_token(flags.page_token);

  auto stub = v1::AuditService::NewStub(cli.channel());
  v1::ListAuditRecordsResponse response;
  auto context = cli.NewContext();
  grpc::Status status = stub->ListAuditRecords(context.get(), request, &response);
  if (!status.ok()) return cli.Fail(status);
  if (cli.output() == Output::kJson) {
    cli.PrintJson(response);
    return 0;
  }
  Table table({"SEQ", "TIME", "ACTOR", "ROLE", "ACTION", "SUBJECTS", "RPC", "PURPOSE", "OUTCOME"});
  for (const v1::AuditRecord& record : response.records()) {
    table.AddRow({absl::StrCat(record.sequence()), FormatTimestamp(record.time()), record.actor(),
                  record.role(), ActionName(record.action()),
                  absl::StrJoin(record.subject_ids(), ","), record.rpc(), record.purpose(),
                  record.outcome().empty() ? (record.replay() ? "replay" : "") : record.outcome()});
  }
  cli.Print(table);
  if (!response.next_page_token().empty()) {
    cli.PrintMore(response.next_page_token());
  }
  return 0;
}

struct VerifyFlags {
  std::string witness;
  std::string public_key;
};

int Verify(Cli& cli, const VerifyFlags& flags) {
  v1::VerifyAuditChainRequest request;
  if (!flags.witness.empty()) {
    // Only checkpoints whose signature verifies are sent: an edited witness fails here.
    absl::StatusOr<std::string> pem = ReadFileNamedBy("--public-key", flags.public_key);
    if (!pem.ok()) return cli.Fail(pem.status());
    absl::StatusOr<crypto::EvpPkeyPtr> key = crypto::ReadPublicKeyPem(*pem);
    if (!key.ok()) return cli.BadUsage(absl::StrCat("--public-key: ", key.status().message()));
    const std::string path = absl::StrCat(flags.witness, "/audit-checkpoints.log");
    // A checkpoint line is about 190 bytes: 256 MiB holds years of them.
    absl::StatusOr<std::string> contents = ReadSmallFile(path, size_t{256} << 20);
    if (!contents.ok())
      return cli.BadUsage(absl::StrCat("--witness: ", contents.status().message()));
    absl::StatusOr<std::vector<crypto::ChainCheckpoint>> checkpoints =
        crypto::ReadCheckpoints(*contents, **key);
    if (!checkpoints.ok()) {
      return cli.BadUsage(absl::StrCat("--witness ", path, ": ", checkpoints.status().message()));
    }
    for (const crypto::ChainCheckpoint& c : *checkpoints) {
      v1::AuditCheckpoint* sent = request.add_checkpoints();
      sent->set_sequence(c.sequence);
      sent->set_hash(c.hash);
      sent->mutable_time()->set_seconds(absl::ToUnixSeconds(c.time));
    }
  }
  auto stub = v1::AuditService::NewStub(cli.channel());
  v1::VerifyAuditChainResponse response;
  auto context = cli.NewContext();
  grpc::Status status = stub->VerifyAuditChain(context.get(), request, &response);
  if (!status.ok()) return cli.Fail(status);
  if (cli.output() == Output::kJson) {
    cli.PrintJson(response);
  } else if (response.ok()) {
    cli.out() << "audit chain OK: " << response.records_checked() << " records verified";
    if (request.checkpoints_size() > 0) {
      cli.out() << ", " << response.checkpoints_checked() << " signed witness checkpoints match";
    }
    cli.out() << "\n";
  } else {
    cli.out() << "audit chain BROKEN at record " << response.first_broken_sequence() << ": "
              << response.problem() << " (" << response.records_checked()
              << " records verified before it)\n";
  }
  return response.ok() ? 0 : 1;
}

}  // namespace

void AddAuditCommands(CLI::App& app, Cli& cli, Action& run) {
  CLI::App* audit = app.add_subcommand("audit", "The data-protection access log");
  audit->require_subcommand(1);

  auto flags = std::make_shared<ListFlags>();
  CLI::App* list = audit->add_subcommand(
      "list", "List access-log records of your force, oldest first (auditor, force-admin)");
  auto* subject =
      list->add_option("--subject", flags->subject, "Only records about this subject id");
  list->add_option("--actor", flags->actor, "Only records of this actor")->excludes(subject);
  list->add_option("--from", flags->from, "From this time (2024-03-02 or RFC 3339)");
  list->add_option("--to", flags->to, "Before this time");
  list->add_option("--page-size", flags->page_size, "Records per page (default 50, max 1000)")
      ->check(CLI::Range(0, 1000));
  list->add_option("--page-token", flags->page_token, "Continue from a previous page");
  list->add_flag("--national", flags->national,
                 "The national security log of every force instead (national-auditor)");
  list->callback([&cli, &run, flags] { run = [&cli, flags] { return List(cli, *flags); }; });

  auto verify_flags = std::make_shared<VerifyFlags>();
  CLI::App* verify = audit->add_subcommand(
      "verify",
      "Walk the hash chain of the whole access log, and check it against a witness's signed "
      "checkpoints (exit 0 when intact)");
  auto* witness = verify->add_option("--witness", verify_flags->witness,
                                     "An audit witness directory (vigild --audit-witness-dir)");
  auto* public_key = verify->add_option("--public-key", verify_flags->public_key,
                                        "The public half of vigild's --audit-signing-key (PEM)");
  witness->needs(public_key);
  public_key->needs(witness);
  verify->callback([&cli, &run, verify_flags] {
    run = [&cli, verify_flags] { return Verify(cli, *verify_flags); };
  });
}

}  // namespace vigil::cli
