// `vigil backlog [items|workload|trend|snapshot]`: the supervisor's backlog; `vigil work`: a work
// list.
#include <ostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "clients/cli/backlog_view.h"
#include "clients/cli/cli.h"
#include "clients/cli/format.h"
#include "vigil/v1/backlog.grpc.pb.h"

namespace vigil::cli {
namespace {

struct ScopeFlags {
  std::string team, officer, as_of, output_format;
  std::vector<std::string> kinds;
};

absl::Status FillScope(const ScopeFlags& flags, std::string* team, std::string* officer,
                       google::protobuf::Timestamp* as_of,
                       google::protobuf::RepeatedField<int>* kinds, bool* has_as_of) {
  *team = flags.team;
  *officer = flags.officer;
  *has_as_of = !flags.as_of.empty();
  if (*has_as_of) {
    absl::StatusOr<absl::Time> t = ParseTimeFlag(flags.as_of);
    if (!t.ok()) return absl::InvalidArgumentError(absl::StrCat("--as-of: ", t.status().message()));
    *as_of = ToTimestamp(*t);
  }
  for (const std::string& k : flags.kinds) {
    absl::StatusOr<int> kind =
        ParseEnumText(v1::ObligationKind_descriptor(), "OBLIGATION_KIND_", k, "--kind");
    if (!kind.ok()) return kind.status();
    kinds->Add(*kind);
  }
  return absl::OkStatus();
}

// --risk: a risk level as the tables print it (low ... very-high, not-assessed).
absl::Status AddRiskFilter(absl::string_view text, google::protobuf::RepeatedField<int>* risks) {
  const std::string lower =
      absl::AsciiStrToLower(absl::StrReplaceAll(text, {{"_", "-"}, {" ", "-"}}));
  const absl::string_view name = absl::StripPrefix(lower, "risk-level-");
  if (name == "not-assessed" || name == "unspecified") {
    risks->Add(v1::RISK_LEVEL_UNSPECIFIED);
    return absl::OkStatus();
  }
  absl::StatusOr<int> risk =
      ParseEnumText(v1::RiskLevel_descriptor(), "RISK_LEVEL_", text, "--risk");
  if (!risk.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(risk.status().message(), ", not-assessed"));
  }
  risks->Add(*risk);
  return absl::OkStatus();
}

// --age-band: an age band as the summary's CSV prints it (0-7 ... 181-365, >365 or over-365),
// with or without "-days".
absl::Status AddAgeBandFilter(absl::string_view text, google::protobuf::RepeatedField<int>* bands) {
  const std::string lower =
      absl::AsciiStrToLower(absl::StrReplaceAll(text, {{"_", "-"}, {" ", "-"}}));
  absl::string_view name = absl::StripPrefix(lower, "age-band-");
  absl::ConsumeSuffix(&name, "-days");
  absl::ConsumeSuffix(&name, "days");
  static constexpr std::pair<const char*, v1::AgeBand> kNames[] = {
      {"0-7", v1::AGE_BAND_0_7_DAYS},          {"8-30", v1::AGE_BAND_8_30_DAYS},
      {"31-90", v1::AGE_BAND_31_90_DAYS},      {"91-180", v1::AGE_BAND_91_180_DAYS},
      {"181-365", v1::AGE_BAND_181_365_DAYS},  {">365", v1::AGE_BAND_OVER_365_DAYS},
      {"over-365", v1::AGE_BAND_OVER_365_DAYS}};
  for (const auto& [band_name, band] : kNames) {
    if (name == band_name) {
      bands->Add(band);
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--age-band: '", text, "' is not one of 0-7, 8-30, 31-90, 91-180, 181-365, over-365"));
}

void AddScopeFlags(CLI::App* cmd, ScopeFlags& flags) {
  cmd->add_option("--team", flags.team, "Only this team");
  cmd->add_option("--officer", flags.officer, "Only this officer");
  cmd->add_option("--as-of", flags.as_of,
                  "Overdue as of this time (default now); a past time shows what was open and "
                  "overdue then, from the history");
  cmd->add_option("--kind", flags.kinds,
                  "Only these kinds (repeatable): arms-assessment, rmp-review, home-visit, "
                  "notification, referral-action, intel-refresh, csc-check, rmp-sign-off, "
                  "notification-review");
}

}  // namespace

absl::StatusOr<v1::BacklogSummary> FetchSummary(Cli& cli,
                                                const v1::GetBacklogSummaryRequest& request) {
  v1::BacklogSummary summary;
  auto context = cli.NewContext();
  grpc::Status status = v1::BacklogService::NewStub(cli.channel())
                            ->GetBacklogSummary(context.get(), request, &summary);
  if (!status.ok())
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  return summary;
}

void AddBacklogCommands(CLI::App& app, Cli& cli, Action& run) {
  auto summary_flags = std::make_shared<ScopeFlags>();
  CLI::App* backlog = app.add_subcommand(
      "backlog",
      "Overdue work by kind, risk and age band (subcommands: items, workload, trend, snapshot)");
  AddScopeFlags(backlog, *summary_flags);
  backlog
      ->add_option("--format", summary_flags->output_format,
                   "table, csv or json (default: --output)")
      ->check(CLI::IsMember({"table", "csv", "json"}));
  backlog->callback([&cli, &run, summary_flags, backlog] {
    if (backlog->get_subcommands().size() > 0) return;  // a subcommand set run
    run = [&cli, summary_flags]() -> int {
      v1::GetBacklogSummaryRequest request;
      bool has_as_of = false;
      if (absl::Status s =
              FillScope(*summary_flags, request.mutable_team(), request.mutable_officer(),
                        request.mutable_as_of(), request.mutable_kinds(), &has_as_of);
          !s.ok()) {
        return cli.Fail(s);
      }
      if (!has_as_of) request.clear_as_of();
      v1::BacklogSummary summary;
      auto context = cli.NewContext();
      grpc::Status status = v1::BacklogService::NewStub(cli.channel())
                                ->GetBacklogSummary(context.get(), request, &summary);
      if (!status.ok()) return cli.Fail(status);
      std::string format = summary_flags->output_format;
      if (format.empty()) {
        format = cli.output() == Output::kJson  ? "json"
                 : cli.output() == Output::kCsv ? "csv"
                                                : "table";
      }
      if (format == "json") {
        cli.PrintJson(summary);
      } else if (format == "csv") {
        cli.out() << SummaryCsv(summary);
      } else {
        cli.out() << SummaryTable(summary);
      }
      return 0;
    };
  });

  struct ItemFlags {
    ScopeFlags scope;
    std::string order = "oldest", page_token;
    std::vector<std::string> risks, age_bands;
    int page_size = 50;
  };
  auto item_flags = std::make_shared<ItemFlags>();
  CLI::App* items = backlog->add_subcommand("items", "Overdue items, oldest (or riskiest) first");
  AddScopeFlags(items, item_flags->scope);
  items->add_option("--risk", item_flags->risks,
                    "Only these risk levels (repeatable): low, medium, high, very-high, "
                    "not-assessed");
  items->add_option("--age-band", item_flags->age_bands,
                    "Only items overdue by these age bands at --as-of (repeatable): 0-7, 8-30, "
                    "31-90, 91-180, 181-365, over-365 (days; one heat-map cell is --kind, --risk "
                    "and --age-band)");
  items->add_option("--order", item_flags->order, "oldest or risk")
      ->check(CLI::IsMember({"oldest", "risk"}))
      ->capture_default_str();
  items->add_option("--page-size", item_flags->page_size, "Items per page")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  items->add_option("--page-token", item_flags->page_token, "Continue from a previous page");
  items->callback([&cli, &run, item_flags] {
    run = [&cli, item_flags]() -> int {
      v1::ListBacklogItemsRequest request;
      bool has_as_of = false;
      if (absl::Status s =
              FillScope(item_flags->scope, request.mutable_team(), request.mutable_officer(),
                        request.mutable_as_of(), request.mutable_kinds(), &has_as_of);
          !s.ok()) {
        return cli.Fail(s);
      }
      for (const std::string& risk : item_flags->risks) {
        if (absl::Status s = AddRiskFilter(risk, request.mutable_risk_levels()); !s.ok()) {
          return cli.Fail(s);
        }
      }
      for (const std::string& band : item_flags->age_bands) {
        if (absl::Status s = AddAgeBandFilter(band, request.mutable_age_bands()); !s.ok()) {
          return cli.Fail(s);
        }
      }
      if (!has_as_of) request.clear_as_of();
      request.set_order(item_flags->order == "risk" ? v1::BACKLOG_ORDER_RISK_THEN_AGE
                                                    : v1::BACKLOG_ORDER_OLDEST_FIRST);
      request.mutable_page()->set_page_size(item_flags->page_size);
      request.mutable_page()->set_page_token(item_flags->page_token);
      v1::ListBacklogItemsResponse response;
      auto context = cli.NewContext();
      grpc::Status status = v1::BacklogService::NewStub(cli.channel())
                                ->ListBacklogItems(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
        return 0;
      }
      cli.out() << ItemsTable(response, cli.output());
      if (!response.next_page_token().empty()) cli.PrintMore(response.next_page_token());
      return 0;
    };
  });

  struct WorkFlags {
    ScopeFlags scope;
    int days = 7;
    std::string page_token;
    int page_size = 100;
  };
  auto work_flags = std::make_shared<WorkFlags>();
  CLI::App* work = app.add_subcommand(
      "work",
      "Your work list: overdue, due today and due in the next days, riskiest first "
      "(a supervisor's: their team's)");
  work->add_option("--officer", work_flags->scope.officer,
                   "Another officer's work (supervisors; default: yours)");
  work->add_option("--team", work_flags->scope.team,
                   "A team's work (supervisors; default: your team)");
  work->add_option("--as-of", work_flags->scope.as_of,
                   "As of this time: a date, RFC 3339, today, +7d, -30d (default now)");
  work->add_option("--days", work_flags->days, "Local days after today that count as due soon")
      ->check(CLI::Range(0, 28))
      ->capture_default_str();
  work->add_option("--kind", work_flags->scope.kinds,
                   "Only these kinds (repeatable): arms-assessment, rmp-review, home-visit, "
                   "notification, referral-action, intel-refresh, csc-check, rmp-sign-off, "
                   "notification-review");
  work->add_option("--page-size", work_flags->page_size, "Items per page")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  work->add_option("--page-token", work_flags->page_token, "Continue from a previous page");
  work->callback([&cli, &run, work_flags] {
    run = [&cli, work_flags]() -> int {
      v1::ListMyWorkRequest request;
      bool has_as_of = false;
      if (absl::Status s =
              FillScope(work_flags->scope, request.mutable_team(), request.mutable_officer(),
                        request.mutable_as_of(), request.mutable_kinds(), &has_as_of);
          !s.ok()) {
        return cli.Fail(s);
      }
      if (!has_as_of) request.clear_as_of();
      request.set_horizon_days(work_flags->days);
      request.mutable_page()->set_page_size(work_flags->page_size);
      request.mutable_page()->set_page_token(work_flags->page_token);
      v1::ListMyWorkResponse response;
      auto context = cli.NewContext();
      grpc::Status status =
          v1::BacklogService::NewStub(cli.channel())->ListMyWork(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
        return 0;
      }
      cli.out() << WorkTable(response, cli.output());
      if (!response.next_page_token().empty()) cli.PrintMore(response.next_page_token());
      return 0;
    };
  });

  struct WorkloadFlags {
    std::string team, officer;
  };
  auto workload_flags = std::make_shared<WorkloadFlags>();
  CLI::App* workload =
      backlog->add_subcommand("workload", "Open and overdue work per officer, weighted");
  workload->add_option("--team", workload_flags->team, "Only this team");
  workload->add_option("--officer", workload_flags->officer, "Only this officer");
  workload->callback([&cli, &run, workload_flags] {
    run = [&cli, workload_flags]() -> int {
      v1::GetWorkloadRequest request;
      request.set_team(workload_flags->team);
      request.set_officer(workload_flags->officer);
      v1::GetWorkloadResponse response;
      auto context = cli.NewContext();
      grpc::Status status = v1::BacklogService::NewStub(cli.channel())
                                ->GetWorkload(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
        return 0;
      }
      cli.out() << WorkloadTable(response, cli.output());
      return 0;
    };
  });

  struct TrendFlags {
    std::string from, to, team;
  };
  auto trend_flags = std::make_shared<TrendFlags>();
  CLI::App* trend =
      backlog->add_subcommand("trend", "Daily snapshots, 7- and 28-day change, forecast");
  trend->add_option("--from", trend_flags->from, "First day (default: 27 days before --to)");
  trend->add_option("--to", trend_flags->to, "Last day (default: today)");
  trend->add_option("--team", trend_flags->team, "Only this team");
  trend->callback([&cli, &run, trend_flags] {
    run = [&cli, trend_flags]() -> int {
      v1::GetBacklogTrendRequest request;
      request.set_team(trend_flags->team);
      for (auto [text, field, name] :
           {std::tuple{&trend_flags->from, request.mutable_from(), "--from"},
            std::tuple{&trend_flags->to, request.mutable_to(), "--to"}}) {
        if (text->empty()) continue;
        absl::StatusOr<absl::Time> t = ParseTimeFlag(*text);
        if (!t.ok()) return cli.BadUsage(absl::StrCat(name, ": ", t.status().message()));
        *field = ToTimestamp(*t);
      }
      if (trend_flags->from.empty()) request.clear_from();
      if (trend_flags->to.empty()) request.clear_to();
      v1::GetBacklogTrendResponse response;
      auto context = cli.NewContext();
      grpc::Status status = v1::BacklogService::NewStub(cli.channel())
                                ->GetBacklogTrend(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
        return 0;
      }
      cli.out() << TrendTable(response, cli.output());
      return 0;
    };
  });

  auto snapshot_as_of = std::make_shared<std::string>();
  CLI::App* snapshot = backlog->add_subcommand("snapshot", "Take today's backlog snapshot now");
  snapshot->add_option("--as-of", *snapshot_as_of, "The day to snapshot (default today)");
  snapshot->callback([&cli, &run, snapshot_as_of] {
    run = [&cli, snapshot_as_of]() -> int {
      v1::TakeBacklogSnapshotRequest request;
      if (!snapshot_as_of->empty()) {
        absl::StatusOr<absl::Time> t = ParseTimeFlag(*snapshot_as_of);
        if (!t.ok()) return cli.BadUsage(absl::StrCat("--as-of: ", t.status().message()));
        *request.mutable_as_of() = ToTimestamp(*t);
      }
      v1::TakeBacklogSnapshotResponse response;
      auto context = cli.NewContext();
      grpc::Status status = v1::BacklogService::NewStub(cli.channel())
                                ->TakeBacklogSnapshot(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
        return 0;
      }
      for (const v1::BacklogSnapshot& s : response.snapshots()) {
        cli.out() << "snapshot " << s.date() << " " << s.force()
                  << (s.team().empty() ? "" : "/" + s.team()) << ": " << s.total_overdue()
                  << " overdue of " << s.total_open() << " open\n";
      }
      return 0;
    };
  });
}

}  // namespace vigil::cli
