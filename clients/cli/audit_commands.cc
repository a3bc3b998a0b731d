// `vigil audit list|export|verify`: the data-protection access log.
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ostream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "base/crypto/checkpoint.h"
#include "base/files.h"
#include "base/proto_time.h"
#include "clients/cli/cli.h"
#include "clients/cli/csv.h"
#include "clients/cli/format.h"
#include "google/protobuf/util/time_util.h"
#include "vigil/v1/audit.grpc.pb.h"

namespace vigil::cli {
namespace {

std::string ActionName(v1::AuditAction action) {
  std::string name = v1::AuditAction_Name(action);
  constexpr absl::string_view kPrefix = "AUDIT_ACTION_";
  if (absl::StartsWith(name, kPrefix)) name = name.substr(kPrefix.size());
  return absl::AsciiStrToLower(name);
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

struct ExportFlags {
  std::string subject;
  std::string actor;
  std::string from;
  std::string to;
  bool national = false;
  // jsonl or csv; empty: csv when the global --output is csv, else jsonl.
  std::string format;
  // Where to write; empty: standard output.
  std::string file;
};

// The columns of `vigil audit export -o csv`, one per AuditRecord field.
const std::vector<std::string>& ExportColumns() {
  static const auto* const kColumns =
      new std::vector<std::string>{"sequence",      "time",          "actor",
                                   "role",          "force",         "team",
                                   "rank",          "action",        "subject_ids",
                                   "purpose",       "request_id",    "rpc",
                                   "outcome",       "refusal",       "cross_team_reason",
                                   "via",           "replay",        "national_security",
                                   "export_filter", "previous_hash", "hash"};
  return *kColumns;
}

std::vector<std::string> ExportRow(const v1::AuditRecord& r) {
  return {absl::StrCat(r.sequence()),
          google::protobuf::util::TimeUtil::ToString(r.time()),
          r.actor(),
          r.role(),
          r.force(),
          r.team(),
          r.rank(),
          ActionName(r.action()),
          absl::StrJoin(r.subject_ids(), ";"),
          r.purpose(),
          r.request_id(),
          r.rpc(),
          r.outcome(),
          r.refusal() == v1::AUDIT_REFUSAL_UNSPECIFIED
              ? ""
              : EnumText(v1::AuditRefusal_descriptor(), r.refusal(), "AUDIT_REFUSAL_"),
          r.cross_team_reason(),
          r.via(),
          r.replay() ? "true" : "false",
          r.national_security() ? "true" : "false",
          r.export_filter(),
          absl::BytesToHexString(r.previous_hash()),
          absl::BytesToHexString(r.hash())};
}

// The export's destination: standard output, or a file written whole or not at all (the
// records go to FILE.partial, private to the user since they are personal data, which is
// synced and renamed over FILE only once the export is complete).
class ExportSink {
 public:
  explicit ExportSink(Cli& cli) : cli_(cli) {}
  ~ExportSink() { Abandon(); }
  ExportSink(const ExportSink&) = delete;
  ExportSink& operator=(const ExportSink&) = delete;

  // InvalidArgument naming --output when the file cannot be created.
  absl::Status Open(const std::string& path) {
    if (path.empty()) return absl::OkStatus();
    path_ = path;
    partial_ = absl::StrCat(path, ".partial");
    fd_ = ::open(partial_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--output ", path, ": cannot create ", partial_, ": ", std::strerror(errno),
                       " (give a path in a directory you can write to)"));
    }
    return absl::OkStatus();
  }

  // Unavailable naming the file when it cannot be written (a full disk).
  absl::Status Write(absl::string_view data) {
    if (fd_ < 0) {
      cli_.out() << data;
      cli_.out().flush();
      return cli_.out().good() ? absl::OkStatus()
                               : absl::UnavailableError("cannot write to standard output");
    }
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::UnavailableError(
            absl::StrCat("writing ", partial_, ": ", std::strerror(errno)));
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }

  // Syncs the file and renames it into place.
  absl::Status Commit() {
    if (fd_ < 0) return absl::OkStatus();
    const bool synced = ::fsync(fd_) == 0;
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    if (!synced || ::rename(partial_.c_str(), path_.c_str()) != 0) {
      const std::string why = std::strerror(synced ? errno : err);
      ::unlink(partial_.c_str());
      return absl::UnavailableError(absl::StrCat("completing ", path_, ": ", why));
    }
    return absl::OkStatus();
  }

  // Removes a file left incomplete.
  void Abandon() {
    if (fd_ < 0) return;
    ::close(fd_);
    fd_ = -1;
    ::unlink(partial_.c_str());
  }

 private:
  Cli& cli_;
  std::string path_;
  std::string partial_;
  int fd_ = -1;
};

int Export(Cli& cli, const ExportFlags& flags) {
  v1::ExportAuditRecordsRequest request;
  request.set_subject_id(flags.subject);
  request.set_actor(flags.actor);
  request.set_national_security_log(flags.national);
  // Set only when given: an unset bound is unbounded.
  if (!flags.from.empty()) {
    absl::StatusOr<absl::Time> t = ParseTimeFlag(flags.from);
    if (!t.ok()) return cli.Fail(t.status());
    *request.mutable_from() = ToTimestamp(*t);
  }
  if (!flags.to.empty()) {
    absl::StatusOr<absl::Time> t = ParseTimeFlag(flags.to);
    if (!t.ok()) return cli.Fail(t.status());
    *request.mutable_to() = ToTimestamp(*t);
  }
  if (!flags.from.empty() && !flags.to.empty() && TimeOf(request.to()) < TimeOf(request.from())) {
    return cli.BadUsage("--to: is before --from");
  }
  const bool csv = flags.format.empty() ? cli.output() == Output::kCsv : flags.format == "csv";

  ExportSink sink(cli);
  if (absl::Status opened = sink.Open(flags.file); !opened.ok()) return cli.Fail(opened);
  auto stub = v1::AuditService::NewStub(cli.channel());
  auto context = cli.NewContext();
  // An export takes as long as it takes; the server cuts off a reader that stops reading.
  context->set_deadline(std::chrono::system_clock::time_point::max());
  std::unique_ptr<grpc::ClientReader<v1::ExportAuditRecordsResponse>> reader =
      stub->ExportAuditRecords(context.get(), request);

  int64_t exported = 0;
  const absl::Time start = absl::Now();
  absl::Time reported = start;
  std::string chunk;
  if (csv) chunk = CsvLine(ExportColumns());
  v1::ExportAuditRecordsResponse batch;
  while (reader->Read(&batch)) {
    for (const v1::AuditRecord& record : batch.records()) {
      if (csv) {
        chunk += CsvLine(ExportRow(record));
      } else {
        absl::StrAppend(&chunk, JsonLine(record), "\n");
      }
    }
    exported += batch.records_size();
    if (absl::Status written = sink.Write(chunk); !written.ok()) {
      context->TryCancel();
      (void)reader->Finish();
      return cli.Fail(written.message());
    }
    chunk.clear();
    if (const absl::Time now = absl::Now();
        batch.records_size() > 0 && now - reported >= absl::Seconds(2)) {
      reported = now;
      cli.err() << "vigil: exported " << exported << " records so far (up to "
                << FormatTimestamp(batch.records(batch.records_size() - 1).time()) << ")\n";
    }
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) {
    sink.Abandon();
    return cli.Fail(status);
  }
  // An export that found nothing still writes its header (CSV) or an empty file.
  if (absl::Status written = sink.Write(chunk); !written.ok()) return cli.Fail(written.message());
  if (absl::Status done = sink.Commit(); !done.ok()) return cli.Fail(done.message());
  cli.err() << "vigil: exported " << exported << " records"
            << (flags.file.empty() ? "" : absl::StrCat(" to ", flags.file)) << " in "
            << absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Milliseconds(1)))
            << "\n";
  return 0;
}

struct VerifyFlags {
  std::string witness;
  std::string public_key;
  std::string from;
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
  if (!flags.from.empty()) {
    uint64_t from = 0;
    if (flags.from == "latest") {
      for (const v1::AuditCheckpoint& c : request.checkpoints()) {
        from = std::max<uint64_t>(from, c.sequence() + 1);
      }
      if (from == 0) return cli.BadUsage("--from latest: the witness holds no checkpoint yet");
    } else if (!absl::SimpleAtoi(flags.from, &from) || from == 0) {
      return cli.BadUsage(
          absl::StrCat("--from: '", flags.from, "' is not a record number or 'latest'"));
    }
    request.set_from_sequence(from);
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
    if (request.from_sequence() > 1) cli.out() << " from record " << request.from_sequence();
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

  auto export_flags = std::make_shared<ExportFlags>();
  CLI::App* exporter = audit->add_subcommand(
      "export",
      "Export access-log records of your force, oldest first, streamed as JSON lines or CSV "
      "(auditor, force-admin). With --subject: a data-protection subject access request, every "
      "access to that subject. The export is itself recorded in the log");
  auto* export_subject = exporter->add_option(
      "--subject", export_flags->subject,
      "Only records about this subject id: every access to it, refusals included");
  exporter->add_option("--actor", export_flags->actor, "Only records of this actor")
      ->excludes(export_subject);
  exporter->add_option("--from", export_flags->from, "From this time (2024-03-02 or RFC 3339)");
  exporter->add_option("--to", export_flags->to, "Before this time");
  exporter->add_flag("--national", export_flags->national,
                     "The national security log of every force instead (national-auditor)");
  // These two shadow the global -o/--output within `audit export`: here -o is the export's
  // format and --output its file.
  exporter->add_option("-o,--format", export_flags->format, "jsonl (default) or csv")
      ->check(CLI::IsMember({"jsonl", "csv"}));
  exporter->add_option("--output,--out", export_flags->file,
                       "Write to this file (created private to you; complete or not at all) "
                       "instead of standard output");
  exporter->callback([&cli, &run, export_flags] {
    run = [&cli, export_flags] { return Export(cli, *export_flags); };
  });

  auto verify_flags = std::make_shared<VerifyFlags>();
  CLI::App* verify = audit->add_subcommand(
      "verify",
      "Walk the hash chain of the access log (all of it, or --from a checkpoint), and check it "
      "against a witness's signed checkpoints (exit 0 when intact)");
  auto* witness = verify->add_option("--witness", verify_flags->witness,
                                     "An audit witness directory (vigild --audit-witness-dir)");
  auto* public_key = verify->add_option("--public-key", verify_flags->public_key,
                                        "The public half of vigild's --audit-signing-key (PEM)");
  auto* from = verify->add_option(
      "--from", verify_flags->from,
      "Walk from this record, or from after the witness's latest checkpoint ('latest'): an "
      "incremental check; the witness's checkpoints vouch for what came before");
  witness->needs(public_key);
  public_key->needs(witness);
  from->needs(witness);
  verify->callback([&cli, &run, verify_flags] {
    run = [&cli, verify_flags] { return Verify(cli, *verify_flags); };
  });
}

}  // namespace vigil::cli
