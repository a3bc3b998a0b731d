// `vigil visit record|list|schedule|plan|reactive` and `vigil compliance list`.
#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clients/cli/cli.h"
#include "clients/cli/format.h"
#include "vigil/v1/visits.grpc.pb.h"

namespace vigil::cli {
namespace {

std::string Rule(v1::ComplianceRule rule) {
  return EnumText(v1::ComplianceRule_descriptor(), rule, "COMPLIANCE_RULE_");
}

void PrintFindings(Cli& cli,
                   const google::protobuf::RepeatedPtrField<v1::ComplianceFinding>& findings) {
  Table table({"FOUND", "RULE", "OFFENDER", "TEAM", "OFFICER", "EVIDENCE"});
  for (const v1::ComplianceFinding& f : findings) {
    table.AddRow({FormatDate(f.found_time()), Rule(f.rule()),
                  f.offender_id().empty() ? "-" : f.offender_id(), f.team(),
                  f.officer().empty() ? "-" : f.officer(), f.evidence()});
  }
  cli.Print(table);
}

void PrintSchedule(Cli& cli, const v1::VisitSchedule& s) {
  if (cli.output() == Output::kJson) {
    cli.PrintJson(s);
    return;
  }
  std::ostream& out = cli.out();
  out << "offender     " << s.offender_id() << "   risk: " << RiskText(s.risk_level()) << "\n"
      << "last visit   " << FormatDate(s.last_visit_time(), s.has_last_visit_time()) << "\n";
  if (s.has_next_due_time()) {
    out << "next due by  " << FormatDueDate(s.next_due_time()) << "   every " << s.interval_days()
        << " days ("
        << EnumText(v1::VisitIntervalSource_descriptor(), s.source(), "VISIT_INTERVAL_SOURCE_")
        << ", policy " << s.policy_version() << ")\n"
        << "why          " << s.reason() << "\n";
  } else {
    out << "not scheduled: " << s.not_scheduled_because() << "\n";
  }
  const v1::VisitRequirements& r = s.requirements();
  out << "plan         " << std::max(1, r.officers_required()) << " officer(s), "
      << r.unannounced_share_percent() << "% unannounced, device check "
      << (r.device_check_required() ? "required" : "not required") << "\n"
      << "reactive     "
      << (s.reactive_management().enabled()
              ? "YES (decided by " + s.reactive_management().decided_by() + ")"
              : "no")
      << "; eligible: "
      << (s.reactive_eligibility().eligible()
              ? std::string("yes")
              : "no (" + absl::StrJoin(s.reactive_eligibility().unmet(), "; ") + ")")
      << "\n";
}

}  // namespace

void AddVisitCommands(CLI::App& app, Cli& cli, Action& run) {
  CLI::App* visit = app.add_subcommand("visit", "Home visits");
  visit->require_subcommand(1);

  struct RecordFlags {
    std::string offender, time, outcome = "seen", device_result, notes, request_id;
    std::vector<std::string> officers;
    bool unannounced = false, device_check = false;
  };
  auto rf = std::make_shared<RecordFlags>();
  CLI::App* record = visit->add_subcommand("record", "Record a home visit");
  record->add_option("offender", rf->offender, "Offender id")->required();
  record->add_option("--time", rf->time, "When (RFC 3339 or date; default now)");
  record->add_option("--officer", rf->officers, "An officer present (repeatable)")->required();
  record->add_option("--outcome", rf->outcome, "seen, no-access or refused")->capture_default_str();
  record->add_flag("--unannounced", rf->unannounced, "The visit was unannounced");
  record->add_flag("--device-check", rf->device_check, "Devices were checked");
  record->add_option("--device-result", rf->device_result,
                     "nothing-found, concerns-found, refused, not-possible");
  record->add_option("--notes", rf->notes, "Notes");
  record->add_option("--request-id", rf->request_id, "Idempotency key");
  record->callback([&cli, &run, rf] {
    run = [&cli, rf]() -> int {
      v1::RecordVisitRequest request;
      request.set_offender_id(rf->offender);
      absl::Time when = absl::Now();
      if (!rf->time.empty()) {
        absl::StatusOr<absl::Time> t = ParseTimeFlag(rf->time);
        if (!t.ok()) return cli.BadUsage(absl::StrCat("--time: ", t.status().message()));
        when = *t;
      }
      *request.mutable_visit_time() = ToTimestamp(when);
      for (const std::string& o : rf->officers) request.add_officers(o);
      absl::StatusOr<int> outcome =
          ParseEnumText(v1::VisitOutcome_descriptor(), "VISIT_OUTCOME_", rf->outcome, "--outcome");
      if (!outcome.ok()) return cli.Fail(outcome.status());
      request.set_outcome(static_cast<v1::VisitOutcome>(*outcome));
      request.set_announced(!rf->unannounced);
      request.set_device_check_done(rf->device_check);
      if (!rf->device_result.empty()) {
        absl::StatusOr<int> r =
            ParseEnumText(v1::DeviceCheckResult_descriptor(), "DEVICE_CHECK_RESULT_",
                          rf->device_result, "--device-result");
        if (!r.ok()) return cli.Fail(r.status());
        request.set_device_check_result(static_cast<v1::DeviceCheckResult>(*r));
      }
      request.set_notes(rf->notes);
      request.set_request_id(rf->request_id);
      v1::Visit response;
      auto context = cli.NewContext();
      grpc::Status status =
          v1::VisitService::NewStub(cli.channel())->RecordVisit(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
        return 0;
      }
      cli.out() << "recorded visit " << response.id() << " to " << response.offender_id() << " ("
                << EnumText(v1::VisitOutcome_descriptor(), response.outcome(), "VISIT_OUTCOME_")
                << ")\n";
      if (!response.findings().empty()) {
        cli.out() << "compliance findings:\n";
        PrintFindings(cli, response.findings());
      }
      return 0;
    };
  });

  auto list_offender = std::make_shared<std::string>();
  CLI::App* list = visit->add_subcommand("list", "An offender's visits, newest first");
  list->add_option("offender", *list_offender, "Offender id")->required();
  list->callback([&cli, &run, list_offender] {
    run = [&cli, list_offender]() -> int {
      v1::ListVisitsRequest request;
      request.set_offender_id(*list_offender);
      request.mutable_page()->set_page_size(100);
      v1::ListVisitsResponse response;
      auto context = cli.NewContext();
      grpc::Status status =
          v1::VisitService::NewStub(cli.channel())->ListVisits(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
        return 0;
      }
      Table table({"TIME", "OUTCOME", "ANNOUNCED", "OFFICERS", "DEVICE CHECK", "FINDINGS"});
      for (const v1::Visit& v : response.visits()) {
        std::vector<std::string> rules;
        for (const auto& f : v.findings()) rules.push_back(Rule(f.rule()));
        table.AddRow({FormatTimestamp(v.visit_time()),
                      EnumText(v1::VisitOutcome_descriptor(), v.outcome(), "VISIT_OUTCOME_"),
                      v.announced() ? "yes" : "no", absl::StrJoin(v.officers(), ", "),
                      v.device_check_done()
                          ? EnumText(v1::DeviceCheckResult_descriptor(), v.device_check_result(),
                                     "DEVICE_CHECK_RESULT_")
                          : "no",
                      rules.empty() ? "-" : absl::StrJoin(rules, ", ")});
      }
      cli.Print(table);
      return 0;
    };
  });

  auto schedule_offender = std::make_shared<std::string>();
  CLI::App* schedule = visit->add_subcommand("schedule", "When the next visit is due, and why");
  schedule->add_option("offender", *schedule_offender, "Offender id")->required();
  schedule->callback([&cli, &run, schedule_offender] {
    run = [&cli, schedule_offender]() -> int {
      v1::GetVisitScheduleRequest request;
      request.set_offender_id(*schedule_offender);
      v1::VisitSchedule response;
      auto context = cli.NewContext();
      grpc::Status status = v1::VisitService::NewStub(cli.channel())
                                ->GetVisitSchedule(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      PrintSchedule(cli, response);
      return 0;
    };
  });

  struct PlanFlags {
    std::string team, officer;
    int days = 14;
  };
  auto pf = std::make_shared<PlanFlags>();
  CLI::App* plan = visit->add_subcommand(
      "plan", "Visits overdue or due soon for a team or officer (default: you), riskiest first");
  plan->add_option("--team", pf->team, "Team");
  plan->add_option("--officer", pf->officer, "Officer");
  plan->add_option("--days", pf->days, "Due within this many days")->capture_default_str();
  plan->callback([&cli, &run, pf] {
    run = [&cli, pf]() -> int {
      v1::GetVisitPlanRequest request;
      request.set_team(pf->team);
      request.set_officer(pf->officer);
      request.set_days(pf->days);
      v1::VisitPlan response;
      auto context = cli.NewContext();
      grpc::Status status =
          v1::VisitService::NewStub(cli.channel())->GetVisitPlan(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
        return 0;
      }
      Table table({"OFFENDER", "NAME", "RISK", "DUE BY", "OVERDUE", "OWNER", "CREW", "UNANNOUNCED",
                   "DEVICES"});
      for (const v1::PlannedVisit& v : response.visits()) {
        table.AddRow({v.offender_id(), v.display_name(), RiskText(v.risk_level()),
                      FormatDueDate(v.due_time()),
                      v.days_overdue() >= 0 ? absl::StrCat(v.days_overdue() + 1, " days") : "-",
                      v.owner_officer(),
                      absl::StrCat(std::max(1, v.requirements().officers_required())),
                      absl::StrCat(v.requirements().unannounced_share_percent(), "%"),
                      v.requirements().device_check_required() ? "check" : "-"});
      }
      cli.Print(table);
      return 0;
    };
  });

  struct ReactiveFlags {
    std::string offender, decided_by, reason, request_id;
    bool enable = false, disable = false;
  };
  auto xf = std::make_shared<ReactiveFlags>();
  CLI::App* reactive = visit->add_subcommand(
      "reactive", "Record a reactive-management decision (supervisor): no scheduled visits");
  reactive->add_option("offender", xf->offender, "Offender id")->required();
  auto* enable = reactive->add_flag("--enable", xf->enable, "Manage reactively");
  reactive->add_flag("--disable", xf->disable, "Return to scheduled visits")->excludes(enable);
  reactive->add_option("--decided-by", xf->decided_by, "Who decided")->required();
  reactive->add_option("--reason", xf->reason, "Why")->required();
  reactive->add_option("--request-id", xf->request_id, "Idempotency key");
  reactive->callback([&cli, &run, xf] {
    run = [&cli, xf]() -> int {
      if (xf->enable == xf->disable) return cli.Fail("give --enable or --disable");
      v1::SetReactiveManagementRequest request;
      request.set_offender_id(xf->offender);
      request.set_enabled(xf->enable);
      request.set_decided_by(xf->decided_by);
      request.set_reason(xf->reason);
      request.set_request_id(xf->request_id);
      v1::VisitSchedule response;
      auto context = cli.NewContext();
      grpc::Status status = v1::VisitService::NewStub(cli.channel())
                                ->SetReactiveManagement(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      PrintSchedule(cli, response);
      return 0;
    };
  });

  CLI::App* compliance =
      app.add_subcommand("compliance", "Visit compliance with risk management plans");
  compliance->require_subcommand(1);
  struct FindingFlags {
    std::string team, since;
  };
  auto ff = std::make_shared<FindingFlags>();
  CLI::App* findings =
      compliance->add_subcommand("list", "Compliance findings, and flat diarising by team");
  findings->add_option("--team", ff->team, "Only this team");
  findings->add_option("--since", ff->since, "Only findings since (date)");
  findings->callback([&cli, &run, ff] {
    run = [&cli, ff]() -> int {
      v1::ListComplianceFindingsRequest request;
      request.set_team(ff->team);
      if (!ff->since.empty()) {
        absl::StatusOr<absl::Time> t = ParseTimeFlag(ff->since);
        if (!t.ok()) return cli.BadUsage(absl::StrCat("--since: ", t.status().message()));
        *request.mutable_since() = ToTimestamp(*t);
      }
      request.mutable_page()->set_page_size(1000);
      v1::ListComplianceFindingsResponse response;
      auto context = cli.NewContext();
      grpc::Status status = v1::VisitService::NewStub(cli.channel())
                                ->ListComplianceFindings(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
      } else {
        PrintFindings(cli, response.findings());
      }
      return 0;
    };
  });
  auto check_team = std::make_shared<std::string>();
  CLI::App* check = compliance->add_subcommand(
      "check",
      "Recompute the team findings (flat diarising) now, as vigild does each midnight: a new "
      "one alerts the team's inspector");
  check->add_option("--team", *check_team, "Only this team (default: every team)");
  check->callback([&cli, &run, check_team] {
    run = [&cli, check_team]() -> int {
      v1::CheckTeamFindingsRequest request;
      request.set_team(*check_team);
      v1::CheckTeamFindingsResponse response;
      auto context = cli.NewContext();
      grpc::Status status = v1::VisitService::NewStub(cli.channel())
                                ->CheckTeamFindings(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
        return 0;
      }
      PrintFindings(cli, response.findings());
      for (const std::string& team : response.alerted_teams()) {
        cli.out() << "team " << team << ": new finding; its inspector is alerted\n";
      }
      for (const std::string& team : response.stood_down_teams()) {
        cli.out() << "team " << team << ": the earlier finding no longer holds\n";
      }
      if (response.alerted_teams().empty() && response.stood_down_teams().empty()) {
        cli.out() << "no change: " << response.findings_size()
                  << " team finding(s) standing, already alerted\n";
      }
      return 0;
    };
  });
}

}  // namespace vigil::cli
