// `vigil import offenders FILE`: streams a register export (CSV) to the server in batches,
// with a progress line, a dry-run mode and a per-row error report.
#include <fstream>
#include <iostream>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clients/cli/cli.h"
#include "clients/cli/csv.h"
#include "clients/cli/format.h"
#include "vigil/v1/rso.grpc.pb.h"

namespace vigil::cli {
namespace {

constexpr const char* kColumns[] = {
    "id",          "visor_ref",          "display_name",           "registered_date",
    "owner_officer", "team",             "status",                 "notification_period",
    "under_18",    "mappa_category",     "mappa_level",            "last_notification_date",
    "last_arms_date", "last_arms_risk",  "last_rmp_review_date",   "last_visit_date"};
constexpr const char* kRequired[] = {"visor_ref", "display_name", "registered_date",
                                     "owner_officer", "team"};

struct ImportFlags {
  std::string file;
  bool dry_run = false;
  int batch_size = 500;
};

// Converts one CSV record into a row; errors name the column.
absl::StatusOr<v1::OffenderImportRow> ToRow(const CsvRecord& record,
                                            const std::map<std::string, size_t>& columns) {
  v1::OffenderImportRow row;
  row.set_line(record.line);
  auto cell = [&](const char* name) -> std::string {
    auto it = columns.find(name);
    if (it == columns.end() || it->second >= record.fields.size()) return "";
    return std::string(absl::StripAsciiWhitespace(record.fields[it->second]));
  };
  auto error = [&](const char* column, absl::string_view reason) {
    return absl::InvalidArgumentError(absl::StrCat(column, ": ", reason));
  };
  auto date = [&](const char* column, google::protobuf::Timestamp* out) -> absl::Status {
    const std::string text = cell(column);
    if (text.empty()) return absl::OkStatus();
    absl::StatusOr<absl::Time> t = ParseTimeFlag(text);
    if (!t.ok()) return error(column, t.status().message());
    *out = ToTimestamp(*t);
    return absl::OkStatus();
  };
  auto integer = [&](const char* column, int* out) -> absl::Status {
    const std::string text = cell(column);
    if (text.empty()) return absl::OkStatus();
    if (!absl::SimpleAtoi(text, out)) return error(column, absl::StrCat("'", text, "' is not a number"));
    return absl::OkStatus();
  };
  v1::Offender* o = row.mutable_offender();
  o->set_id(cell("id"));
  o->set_visor_ref(cell("visor_ref"));
  o->set_display_name(cell("display_name"));
  o->set_owner_officer(cell("owner_officer"));
  o->set_team(cell("team"));
  if (absl::Status s = date("registered_date", o->mutable_registered_time()); !s.ok()) return s;
  if (cell("registered_date").empty()) o->clear_registered_time();
  if (const std::string status = cell("status"); !status.empty()) {
    absl::StatusOr<int> v = ParseEnumText(v1::OffenderStatus_descriptor(), "OFFENDER_STATUS_", status, "status");
    if (!v.ok()) return v.status();
    o->set_status(static_cast<v1::OffenderStatus>(*v));
  }
  if (const std::string period = cell("notification_period"); !period.empty()) {
    absl::StatusOr<int> v = ParseEnumText(v1::NotificationPeriod_descriptor(), "NOTIFICATION_PERIOD_",
                                          period, "notification_period");
    if (!v.ok()) return v.status();
    o->set_notification_period(static_cast<v1::NotificationPeriod>(*v));
  }
  if (const std::string under = absl::AsciiStrToLower(cell("under_18")); !under.empty()) {
    if (under != "yes" && under != "no" && under != "true" && under != "false") {
      return error("under_18", "must be yes or no");
    }
    o->set_under_18_at_conviction(under == "yes" || under == "true");
  }
  int category = 0, level = 0;
  if (absl::Status s = integer("mappa_category", &category); !s.ok()) return s;
  if (absl::Status s = integer("mappa_level", &level); !s.ok()) return s;
  o->set_mappa_category(category);
  o->set_mappa_level(level);
  if (!cell("last_notification_date").empty()) {
    if (absl::Status s = date("last_notification_date", o->mutable_last_notification_time()); !s.ok()) return s;
  }
  if (!cell("last_arms_date").empty()) {
    if (absl::Status s = date("last_arms_date", row.mutable_last_arms_time()); !s.ok()) return s;
  }
  if (const std::string risk = cell("last_arms_risk"); !risk.empty()) {
    absl::StatusOr<int> v = ParseEnumText(v1::RiskLevel_descriptor(), "RISK_LEVEL_", risk, "last_arms_risk");
    if (!v.ok()) return v.status();
    row.set_last_arms_risk_level(static_cast<v1::RiskLevel>(*v));
  }
  if (!cell("last_rmp_review_date").empty()) {
    if (absl::Status s = date("last_rmp_review_date", row.mutable_last_rmp_review_time()); !s.ok()) return s;
  }
  if (!cell("last_visit_date").empty()) {
    if (absl::Status s = date("last_visit_date", row.mutable_last_visit_time()); !s.ok()) return s;
  }
  return row;
}

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

int ImportOffenders(Cli& cli, const ImportFlags& flags) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (flags.file != "-") {
    file.open(flags.file, std::ios::binary);
    if (!file) return cli.Fail(absl::StrCat("cannot read ", flags.file));
    in = &file;
  }
  CsvReader reader(*in);
  absl::StatusOr<std::optional<CsvRecord>> header = reader.Next();
  if (!header.ok()) return cli.Fail(header.status().message());
  if (!header->has_value()) return cli.Fail(absl::StrCat(flags.file, " is empty"));
  std::map<std::string, size_t> columns;
  for (size_t i = 0; i < (*header)->fields.size(); ++i) {
    const std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace((*header)->fields[i]));
    if (std::find(std::begin(kColumns), std::end(kColumns), name) == std::end(kColumns)) {
      return cli.Fail(absl::StrCat("line 1: unknown column '", name, "' (known: ",
                                   absl::StrJoin(kColumns, ", "), ")"));
    }
    columns[name] = i;
  }
  for (const char* required : kRequired) {
    if (!columns.contains(required)) return cli.Fail(absl::StrCat("line 1: missing column '", required, "'"));
  }

  auto stub = v1::OffenderService::NewStub(cli.channel());
  v1::ImportOffendersResponse total;
  int64_t rows_read = 0;
  std::vector<v1::ImportRowError> errors;
  v1::ImportOffendersRequest batch;
  batch.set_dry_run(flags.dry_run);
  auto send = [&]() -> grpc::Status {
    if (batch.rows_size() == 0) return grpc::Status::OK;
    v1::ImportOffendersResponse response;
    auto context = cli.NewContext();
    grpc::Status status = stub->ImportOffenders(context.get(), batch, &response);
    if (!status.ok()) return status;
    total.set_imported(total.imported() + response.imported());
    total.set_already_present(total.already_present() + response.already_present());
    errors.insert(errors.end(), response.errors().begin(), response.errors().end());
    batch.clear_rows();
    cli.err() << "\r" << (flags.dry_run ? "checked " : "read ") << rows_read << " rows: "
              << total.imported() << (flags.dry_run ? " would be imported, " : " imported, ")
              << total.already_present() << " already present, " << errors.size() << " refused"
              << std::flush;
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
    absl::StatusOr<v1::OffenderImportRow> row = ToRow(**record, columns);
    if (!row.ok()) {
      errors.push_back(LocalError((*record)->line, row.status()));
      continue;
    }
    *batch.add_rows() = *std::move(row);
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
  std::sort(errors.begin(), errors.end(),
            [](const v1::ImportRowError& a, const v1::ImportRowError& b) { return a.line() < b.line(); });
  if (cli.output() == Output::kJson) {
    for (const v1::ImportRowError& e : errors) *total.add_errors() = e;
    cli.PrintJson(total);
  } else {
    cli.out() << (flags.dry_run ? "dry run: " : "") << rows_read << " rows, " << total.imported()
              << (flags.dry_run ? " would be imported, " : " imported, ") << total.already_present()
              << " already present, " << errors.size() << " refused\n";
    if (!errors.empty()) {
      Table table({"LINE", "FIELD", "REASON"});
      for (const v1::ImportRowError& e : errors) {
        table.AddRow({absl::StrCat(e.line()), e.field().empty() ? "-" : e.field(), e.reason()});
      }
      table.Print(cli.out());
    }
  }
  return errors.empty() ? 0 : 1;
}

}  // namespace

void AddImportCommands(CLI::App& app, Cli& cli, Action& run) {
  CLI::App* import = app.add_subcommand("import", "Import exports of existing registers and queues");
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
  offenders->callback([&cli, &run, flags] { run = [&cli, flags] { return ImportOffenders(cli, *flags); }; });
}

}  // namespace vigil::cli
