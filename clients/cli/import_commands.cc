// `vigil import offenders FILE`: streams a register export (CSV) to the server in batches,
// with a progress line, a dry-run mode and a per-row error report.
#include <fstream>
#include <functional>
#include <iostream>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "clients/cli/cli.h"
#include "clients/cli/csv.h"
#include "clients/cli/format.h"
#include "clients/cli/import_columns.h"
#include "vigil/v1/ocait.grpc.pb.h"
#include "vigil/v1/rso.grpc.pb.h"

namespace vigil::cli {
namespace {

constexpr const char* kRequired[] = {"visor_ref", "display_name", "registered_date",
                                     "owner_officer", "team"};

struct ImportFlags {
  std::string file;
  bool dry_run = false;
  int batch_size = 500;
};

// Reads the cells of one CSV record by column name, converting them; errors name the column.
class Cells {
 public:
  Cells(const CsvRecord& record, const std::map<std::string, size_t>& columns)
      : record_(record), columns_(columns) {}

  std::string Text(const char* column) const {
    auto it = columns_.find(column);
    if (it == columns_.end() || it->second >= record_.fields.size()) return "";
    return std::string(absl::StripAsciiWhitespace(record_.fields[it->second]));
  }
  // Leaves `out` untouched when the cell is empty.
  absl::Status Date(const char* column, google::protobuf::Timestamp* out) const {
    const std::string text = Text(column);
    if (text.empty()) return absl::OkStatus();
    absl::StatusOr<absl::Time> t = ParseTimeFlag(text);
    if (!t.ok()) return Error(column, t.status().message());
    *out = ToTimestamp(*t);
    return absl::OkStatus();
  }
  absl::Status Int(const char* column, int* out) const {
    const std::string text = Text(column);
    if (text.empty()) return absl::OkStatus();
    if (!absl::SimpleAtoi(text, out))
      return Error(column, absl::StrCat("'", text, "' is not a number"));
    return absl::OkStatus();
  }
  absl::Status Bool(const char* column, bool* out) const {
    const std::string text = absl::AsciiStrToLower(Text(column));
    if (text.empty()) return absl::OkStatus();
    if (text != "yes" && text != "no" && text != "true" && text != "false") {
      return Error(column, "must be yes or no");
    }
    *out = text == "yes" || text == "true";
    return absl::OkStatus();
  }
  // An enum value by its short name; 0 when the cell is empty.
  absl::StatusOr<int> Enum(const char* column, const google::protobuf::EnumDescriptor* type,
                           absl::string_view prefix) const {
    const std::string text = Text(column);
    if (text.empty()) return 0;
    return ParseEnumText(type, prefix, text, column);
  }
  static absl::Status Error(absl::string_view column, absl::string_view reason) {
    return absl::InvalidArgumentError(absl::StrCat(column, ": ", reason));
  }

 private:
  const CsvRecord& record_;
  const std::map<std::string, size_t>& columns_;
};

#define VIGIL_CELL_OK(expr) \
  if (absl::Status s_ = (expr); !s_.ok()) return s_

// Converts one register row.
absl::StatusOr<v1::OffenderImportRow> ToRow(const CsvRecord& record,
                                            const std::map<std::string, size_t>& columns) {
  const Cells cells(record, columns);
  v1::OffenderImportRow row;
  row.set_line(record.line);
  v1::Offender* o = row.mutable_offender();
  o->set_id(cells.Text("id"));
  o->set_visor_ref(cells.Text("visor_ref"));
  o->set_display_name(cells.Text("display_name"));
  o->set_owner_officer(cells.Text("owner_officer"));
  o->set_team(cells.Text("team"));
  // Empty for an offender awaiting the initial notification (requirement_start_date given).
  if (!cells.Text("registered_date").empty()) {
    VIGIL_CELL_OK(cells.Date("registered_date", o->mutable_registered_time()));
  }
  if (!cells.Text("requirement_start_date").empty()) {
    VIGIL_CELL_OK(cells.Date("requirement_start_date", o->mutable_requirement_start_time()));
  }
  absl::StatusOr<int> status =
      cells.Enum("status", v1::OffenderStatus_descriptor(), "OFFENDER_STATUS_");
  if (!status.ok()) return status.status();
  o->set_status(static_cast<v1::OffenderStatus>(*status));
  absl::StatusOr<int> period = cells.Enum(
      "notification_period", v1::NotificationPeriod_descriptor(), "NOTIFICATION_PERIOD_");
  if (!period.ok()) return period.status();
  o->set_notification_period(static_cast<v1::NotificationPeriod>(*period));
  bool under_18 = false;
  VIGIL_CELL_OK(cells.Bool("under_18", &under_18));
  o->set_under_18_at_conviction(under_18);
  int category = 0, level = 0;
  VIGIL_CELL_OK(cells.Int("mappa_category", &category));
  VIGIL_CELL_OK(cells.Int("mappa_level", &level));
  o->set_mappa_category(category);
  o->set_mappa_level(level);
  if (!cells.Text("last_notification_date").empty()) {
    VIGIL_CELL_OK(cells.Date("last_notification_date", o->mutable_last_notification_time()));
  }
  if (!cells.Text("last_arms_date").empty()) {
    VIGIL_CELL_OK(cells.Date("last_arms_date", row.mutable_last_arms_time()));
  }
  absl::StatusOr<int> risk =
      cells.Enum("last_arms_risk", v1::RiskLevel_descriptor(), "RISK_LEVEL_");
  if (!risk.ok()) return risk.status();
  row.set_last_arms_risk_level(static_cast<v1::RiskLevel>(*risk));
  if (!cells.Text("last_rmp_review_date").empty()) {
    VIGIL_CELL_OK(cells.Date("last_rmp_review_date", row.mutable_last_rmp_review_time()));
  }
  if (!cells.Text("last_visit_date").empty()) {
    VIGIL_CELL_OK(cells.Date("last_visit_date", row.mutable_last_visit_time()));
  }
  return row;
}

constexpr const char* kReferralColumns[] = {"id",
                                            "source_reference",
                                            "received_date",
                                            "source",
                                            "subject",
                                            "identifiers",
                                            "grade",
                                            "state",
                                            "team",
                                            "officer",
                                            "linked_offender_id",
                                            "summary",
                                            "last_refresh_date",
                                            "action_date",
                                            "outcome"};
constexpr const char* kReferralRequired[] = {"source_reference", "received_date", "source"};

// Converts one queue row. `identifiers` holds TYPE:VALUE pairs separated by ';'.
absl::StatusOr<v1::ReferralImportRow> ToReferralRow(const CsvRecord& record,
                                                    const std::map<std::string, size_t>& columns) {
  const Cells cells(record, columns);
  v1::ReferralImportRow row;
  row.set_line(record.line);
  v1::Referral* r = row.mutable_referral();
  r->set_id(cells.Text("id"));
  r->set_source_reference(cells.Text("source_reference"));
  VIGIL_CELL_OK(cells.Date("received_date", r->mutable_received_time()));
  absl::StatusOr<int> source =
      cells.Enum("source", v1::ReferralSource_descriptor(), "REFERRAL_SOURCE_");
  if (!source.ok()) return source.status();
  r->set_source(static_cast<v1::ReferralSource>(*source));
  r->set_subject_display_name(cells.Text("subject"));
  for (absl::string_view pair :
       absl::StrSplit(cells.Text("identifiers"), ';', absl::SkipWhitespace())) {
    const size_t colon = pair.find(':');
    if (colon == absl::string_view::npos) {
      return Cells::Error("identifiers", absl::StrCat("'", pair, "' is not TYPE:VALUE"));
    }
    absl::StatusOr<int> type =
        ParseEnumText(v1::IdentifierType_descriptor(), "IDENTIFIER_TYPE_",
                      absl::StripAsciiWhitespace(pair.substr(0, colon)), "identifiers");
    if (!type.ok()) return type.status();
    v1::SubjectIdentifier* id = r->add_identifiers();
    id->set_type(static_cast<v1::IdentifierType>(*type));
    id->set_value(std::string(pair.substr(colon + 1)));
  }
  absl::StatusOr<int> grade = cells.Enum("grade", v1::RiskLevel_descriptor(), "RISK_LEVEL_");
  if (!grade.ok()) return grade.status();
  r->set_grade(static_cast<v1::RiskLevel>(*grade));
  absl::StatusOr<int> state =
      cells.Enum("state", v1::ReferralState_descriptor(), "REFERRAL_STATE_");
  if (!state.ok()) return state.status();
  r->set_state(static_cast<v1::ReferralState>(*state));
  r->set_team(cells.Text("team"));
  r->set_allocated_officer(cells.Text("officer"));
  r->set_linked_offender_id(cells.Text("linked_offender_id"));
  r->set_summary(cells.Text("summary"));
  if (!cells.Text("last_refresh_date").empty()) {
    VIGIL_CELL_OK(cells.Date("last_refresh_date", r->mutable_last_refresh_time()));
  }
  if (!cells.Text("action_date").empty())
    VIGIL_CELL_OK(cells.Date("action_date", r->mutable_action_time()));
  absl::StatusOr<int> outcome =
      cells.Enum("outcome", v1::ReferralOutcome_descriptor(), "REFERRAL_OUTCOME_");
  if (!outcome.ok()) return outcome.status();
  r->set_outcome(static_cast<v1::ReferralOutcome>(*outcome));
  return row;
}

#undef VIGIL_CELL_OK

v1::ImportRowError LocalError(int64_t line, const absl::Status& status) {
  v1::ImportRowError e;
  e.set_line(line);
  const absl::string_view message = status.message();
  const size_t colon = message.find(": ");
  if (colon != absl::string_view::npos) {
    e.set_field(std::string(message.substr(0, colon)));
    e.set_reason(std::string(message.substr(colon + 2)));
  } else {
    e.set_reason(std::string(message));
  }
  return e;
}

// The columns one kind of import understands, and how to send a batch of its rows.
template <typename Request, typename Response>
struct ImportSpec {
  std::vector<std::string> columns;
  std::vector<std::string> required;
  // Converts one CSV record into a row added to `request`; errors name the column.
  std::function<absl::Status(const CsvRecord&, const std::map<std::string, size_t>&, Request&)>
      add_row;
  std::function<grpc::Status(grpc::ClientContext*, const Request&, Response*)> send;
};

// Streams `flags.file` in batches, printing progress to stderr and a per-row error report.
template <typename Request, typename Response>
int RunImport(Cli& cli, const ImportFlags& flags, const ImportSpec<Request, Response>& spec) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (flags.file != "-") {
    file.open(flags.file, std::ios::binary);
    if (!file) return cli.Fail(absl::StrCat("cannot read ", flags.file));
    in = &file;
  }
  CsvReader reader(*in);
  absl::StatusOr<std::optional<CsvRecord>> header = reader.Next();
  if (!header.ok()) return cli.Fail(header.status());
  if (!header->has_value()) return cli.Fail(absl::StrCat(flags.file, " is empty"));
  std::map<std::string, size_t> columns;
  for (size_t i = 0; i < (*header)->fields.size(); ++i) {
    const std::string name =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace((*header)->fields[i]));
    if (std::find(spec.columns.begin(), spec.columns.end(), name) == spec.columns.end()) {
      return cli.Fail(absl::StrCat("line 1: unknown column '", name,
                                   "' (known: ", absl::StrJoin(spec.columns, ", "), ")"));
    }
    columns[name] = i;
  }
  for (const std::string& required : spec.required) {
    if (!columns.contains(required))
      return cli.Fail(absl::StrCat("line 1: missing column '", required, "'"));
  }

  int64_t rows_read = 0, imported = 0, already = 0;
  std::vector<v1::ImportRowError> errors;
  Request batch;
  batch.set_dry_run(flags.dry_run);
  auto send = [&]() -> grpc::Status {
    if (batch.rows_size() == 0) return grpc::Status::OK;
    Response response;
    auto context = cli.NewContext();
    grpc::Status status = spec.send(context.get(), batch, &response);
    if (!status.ok()) return status;
    imported += response.imported();
    already += response.already_present();
    errors.insert(errors.end(), response.errors().begin(), response.errors().end());
    batch.clear_rows();
    cli.err() << "\r" << (flags.dry_run ? "checked " : "read ") << rows_read
              << " rows: " << imported << (flags.dry_run ? " would be imported, " : " imported, ")
              << already << " already present, " << errors.size() << " refused" << std::flush;
    return grpc::Status::OK;
  };
  for (;;) {
    absl::StatusOr<std::optional<CsvRecord>> record = reader.Next();
    if (!record.ok()) {
      cli.err() << "\n";
      return cli.Fail(absl::StrCat(record.status().message(), "; rows before it were sent"));
    }
    if (!record->has_value()) break;
    if ((*record)->fields.size() == 1 && (*record)->fields[0].empty()) continue;  // blank line
    ++rows_read;
    if (absl::Status s = spec.add_row(**record, columns, batch); !s.ok()) {
      errors.push_back(LocalError((*record)->line, s));
      continue;
    }
    if (batch.rows_size() >= flags.batch_size) {
      if (grpc::Status s = send(); !s.ok()) {
        cli.err() << "\n";
        return cli.Fail(s);
      }
    }
  }
  if (grpc::Status s = send(); !s.ok()) {
    cli.err() << "\n";
    return cli.Fail(s);
  }
  cli.err() << "\n";
  std::sort(
      errors.begin(), errors.end(),
      [](const v1::ImportRowError& a, const v1::ImportRowError& b) { return a.line() < b.line(); });
  if (cli.output() == Output::kJson) {
    Response total;
    total.set_imported(imported);
    total.set_already_present(already);
    for (const v1::ImportRowError& e : errors) *total.add_errors() = e;
    cli.PrintJson(total);
  } else {
    cli.out() << (flags.dry_run ? "dry run: " : "") << rows_read << " rows, " << imported
              << (flags.dry_run ? " would be imported, " : " imported, ") << already
              << " already present, " << errors.size() << " refused\n";
    if (!errors.empty()) {
      Table table({"LINE", "FIELD", "REASON"});
      for (const v1::ImportRowError& e : errors) {
        table.AddRow({absl::StrCat(e.line()), e.field().empty() ? "-" : e.field(), e.reason()});
      }
      cli.Print(table);
    }
  }
  return errors.empty() ? 0 : 1;
}

ImportSpec<v1::ImportOffendersRequest, v1::ImportOffendersResponse> OffenderImport(Cli& cli) {
  ImportSpec<v1::ImportOffendersRequest, v1::ImportOffendersResponse> spec;
  spec.columns.assign(std::begin(kOffenderColumns), std::end(kOffenderColumns));
  spec.required.assign(std::begin(kRequired), std::end(kRequired));
  spec.add_row = [](const CsvRecord& record, const std::map<std::string, size_t>& columns,
                    v1::ImportOffendersRequest& batch) -> absl::Status {
    absl::StatusOr<v1::OffenderImportRow> row = ToRow(record, columns);
    if (!row.ok()) return row.status();
    *batch.add_rows() = *std::move(row);
    return absl::OkStatus();
  };
  spec.send = [&cli](grpc::ClientContext* context, const v1::ImportOffendersRequest& request,
                     v1::ImportOffendersResponse* response) {
    return v1::OffenderService::NewStub(cli.channel())->ImportOffenders(context, request, response);
  };
  return spec;
}

}  // namespace

ImportSpec<v1::ImportReferralsRequest, v1::ImportReferralsResponse> ReferralImport(Cli& cli) {
  ImportSpec<v1::ImportReferralsRequest, v1::ImportReferralsResponse> spec;
  spec.columns.assign(std::begin(kReferralColumns), std::end(kReferralColumns));
  spec.required.assign(std::begin(kReferralRequired), std::end(kReferralRequired));
  spec.add_row = [](const CsvRecord& record, const std::map<std::string, size_t>& columns,
                    v1::ImportReferralsRequest& batch) -> absl::Status {
    absl::StatusOr<v1::ReferralImportRow> row = ToReferralRow(record, columns);
    if (!row.ok()) return row.status();
    *batch.add_rows() = *std::move(row);
    return absl::OkStatus();
  };
  spec.send = [&cli](grpc::ClientContext* context, const v1::ImportReferralsRequest& request,
                     v1::ImportReferralsResponse* response) {
    return v1::ReferralService::NewStub(cli.channel())->ImportReferrals(context, request, response);
  };
  return spec;
}

void AddImportCommands(CLI::App& app, Cli& cli, Action& run) {
  CLI::App* import =
      app.add_subcommand("import", "Import exports of existing registers and queues");
  import->require_subcommand(1);
  auto flags = std::make_shared<ImportFlags>();
  CLI::App* offenders = import->add_subcommand(
      "offenders",
      "Import an offender register export (CSV with a header row). Columns: visor_ref, "
      "display_name, registered_date, owner_officer, team (required); id, status, "
      "notification_period, under_18, mappa_category, mappa_level, last_notification_date, "
      "last_arms_date, last_arms_risk, last_rmp_review_date, last_visit_date. Rows whose ViSOR "
      "reference is already registered are skipped, so an import can be repeated.");
  offenders->add_option("file", flags->file, "CSV file, or - for standard input")->required();
  offenders->add_flag("--dry-run", flags->dry_run, "Check every row and report; write nothing");
  offenders->add_option("--batch-size", flags->batch_size, "Rows per request")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  offenders->callback([&cli, &run, flags] {
    run = [&cli, flags] { return RunImport(cli, *flags, OffenderImport(cli)); };
  });

  auto referral_flags = std::make_shared<ImportFlags>();
  CLI::App* referrals = import->add_subcommand(
      "referrals",
      "Import an OCAIT queue export (CSV with a header row). Columns: source_reference, "
      "received_date, source (required); id, subject, identifiers (TYPE:VALUE;TYPE:VALUE), grade, "
      "state, team, officer, linked_offender_id, summary, last_refresh_date, action_date, outcome. "
      "Rows whose source reference is already in the queue are skipped.");
  referrals->add_option("file", referral_flags->file, "CSV file, or - for standard input")
      ->required();
  referrals->add_flag("--dry-run", referral_flags->dry_run,
                      "Check every row and report; write nothing");
  referrals->add_option("--batch-size", referral_flags->batch_size, "Rows per request")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  referrals->callback([&cli, &run, referral_flags] {
    run = [&cli, referral_flags] { return RunImport(cli, *referral_flags, ReferralImport(cli)); };
  });
}

}  // namespace vigil::cli
