// `vigil arms record|list` and `vigil rmp record|get|history|sign-off`.
#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clients/cli/cli.h"
#include "clients/cli/format.h"
#include "vigil/v1/rso.grpc.pb.h"

namespace vigil::cli {
namespace {

std::string Risk(v1::RiskLevel risk) {
  return EnumText(v1::RiskLevel_descriptor(), risk, "RISK_LEVEL_");
}

void PrintPlan(Cli& cli, const v1::RiskManagementPlan& plan) {
  if (cli.output() == Output::kJson) {
    cli.PrintJson(plan);
    return;
  }
  std::ostream& out = cli.out();
  out << "plan              " << plan.id() << " for offender " << plan.offender_id() << "\n"
      << "version           " << plan.version()
      << (plan.current() ? " (current)" : " (not current: a later review is in force)") << "\n"
      << "reviewed          " << FormatDate(plan.reviewed_time()) << " by " << plan.author() << "\n"
      << "recorded          " << FormatTimestamp(plan.record_time()) << " by " << plan.recorded_by()
      << "\n"
      << "signed off        "
      << (plan.signed_off_by().empty()
              ? std::string("not yet")
              : absl::StrCat(FormatTimestamp(plan.signed_off_time()), " by ", plan.signed_off_by(),
                             plan.sign_off_note().empty() ? "" : ": " + plan.sign_off_note()))
      << "\n"
      << "visit interval    "
      << (plan.visit_interval_days() == 0 ? std::string("policy default for the risk tier")
                                          : absl::StrCat(plan.visit_interval_days(), " days"))
      << "\n"
      << "officers per visit " << plan.officers_required() << "   unannounced "
      << plan.unannounced_share_percent() << "%   device check "
      << (plan.device_check_required() ? "required" : "not required") << "\n";
  for (auto [label, text] : {std::pair{"supervision", &plan.supervision()},
                             {"monitoring", &plan.monitoring_and_control()},
                             {"interventions", &plan.interventions_and_treatment()},
                             {"victim safety", &plan.victim_safety()},
                             {"contingency", &plan.contingency()},
                             {"reason", &plan.reason()}}) {
    if (!text->empty()) out << label << ": " << *text << "\n";
  }
}

}  // namespace

void AddAssessmentCommands(CLI::App& app, Cli& cli, Action& run) {
  CLI::App* arms = app.add_subcommand("arms", "ARMS risk assessments");
  arms->require_subcommand(1);

  struct ArmsFlags {
    std::string offender, completed, assessor, risk, notes, request_id;
    std::vector<std::string> risk_factors, protective_factors;
  };
  auto flags = std::make_shared<ArmsFlags>();
  CLI::App* record = arms->add_subcommand(
      "record", "Record a completed ARMS: sets the risk level and re-times the clocks");
  record->add_option("offender", flags->offender, "Offender id")->required();
  record->add_option("--completed", flags->completed, "Completion date (not in the future)")
      ->required();
  record->add_option("--assessor", flags->assessor, "Who assessed")->required();
  record->add_option("--risk", flags->risk, "low, medium, high or very-high")->required();
  record->add_option("--risk-factor", flags->risk_factors,
                     "A risk factor present (repeatable): sexual-preoccupation, "
                     "offence-related-sexual-interests, emotional-congruence-with-children, "
                     "hostile-orientation, poor-self-management, negative-social-influences, "
                     "access-to-potential-victims");
  record->add_option("--protective-factor", flags->protective_factors,
                     "A protective factor present (repeatable): commitment-to-desist, "
                     "social-investment, positive-social-influences, intimate-relationship");
  record->add_option("--notes", flags->notes, "Notes");
  record->add_option("--request-id", flags->request_id, "Idempotency key");
  record->callback([&cli, &run, flags] {
    run = [&cli, flags]() -> int {
      v1::RecordArmsAssessmentRequest request;
      request.set_offender_id(flags->offender);
      absl::StatusOr<absl::Time> completed = ParseTimeFlag(flags->completed);
      if (!completed.ok())
        return cli.BadUsage(absl::StrCat("--completed: ", completed.status().message()));
      *request.mutable_completed_time() = ToTimestamp(*completed);
      request.set_assessor(flags->assessor);
      absl::StatusOr<int> risk =
          ParseEnumText(v1::RiskLevel_descriptor(), "RISK_LEVEL_", flags->risk, "--risk");
      if (!risk.ok()) return cli.Fail(risk.status());
      request.set_risk_level(static_cast<v1::RiskLevel>(*risk));
      for (const std::string& f : flags->risk_factors) {
        absl::StatusOr<int> v =
            ParseEnumText(v1::ArmsRiskFactor_descriptor(), "ARMS_RISK_FACTOR_", f, "--risk-factor");
        if (!v.ok()) return cli.Fail(v.status());
        request.add_risk_factors(static_cast<v1::ArmsRiskFactor>(*v));
      }
      for (const std::string& f : flags->protective_factors) {
        absl::StatusOr<int> v = ParseEnumText(v1::ArmsProtectiveFactor_descriptor(),
                                              "ARMS_PROTECTIVE_FACTOR_", f, "--protective-factor");
        if (!v.ok()) return cli.Fail(v.status());
        request.add_protective_factors(static_cast<v1::ArmsProtectiveFactor>(*v));
      }
      request.set_notes(flags->notes);
      request.set_request_id(flags->request_id);
      auto stub = v1::AssessmentService::NewStub(cli.channel());
      v1::ArmsAssessment response;
      auto context = cli.NewContext();
      grpc::Status status = stub->RecordArmsAssessment(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
      } else {
        cli.out() << "recorded ARMS " << response.id() << " for " << response.offender_id() << ": "
                  << Risk(response.risk_level()) << " risk, completed "
                  << FormatDate(response.completed_time()) << "\n";
      }
      return 0;
    };
  });

  auto list_offender = std::make_shared<std::string>();
  CLI::App* list = arms->add_subcommand("list", "An offender's ARMS history, oldest first");
  list->add_option("offender", *list_offender, "Offender id")->required();
  list->callback([&cli, &run, list_offender] {
    run = [&cli, list_offender]() -> int {
      v1::ListArmsAssessmentsRequest request;
      request.set_offender_id(*list_offender);
      auto stub = v1::AssessmentService::NewStub(cli.channel());
      v1::ListArmsAssessmentsResponse response;
      auto context = cli.NewContext();
      grpc::Status status = stub->ListArmsAssessments(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      if (cli.output() == Output::kJson) {
        cli.PrintJson(response);
        return 0;
      }
      Table table({"ID", "COMPLETED", "RISK", "ASSESSOR", "RISK FACTORS", "PROTECTIVE"});
      for (const v1::ArmsAssessment& a : response.assessments()) {
        std::vector<std::string> risk_factors, protective;
        for (int f : a.risk_factors())
          risk_factors.push_back(EnumText(v1::ArmsRiskFactor_descriptor(), f, "ARMS_RISK_FACTOR_"));
        for (int f : a.protective_factors())
          protective.push_back(
              EnumText(v1::ArmsProtectiveFactor_descriptor(), f, "ARMS_PROTECTIVE_FACTOR_"));
        table.AddRow({a.id(), FormatDate(a.completed_time()), Risk(a.risk_level()), a.assessor(),
                      absl::StrJoin(risk_factors, ","), absl::StrJoin(protective, ",")});
      }
      cli.Print(table);
      return 0;
    };
  });

  CLI::App* rmp = app.add_subcommand("rmp", "Risk management plans");
  rmp->require_subcommand(1);
  struct RmpFlags {
    std::string offender, reviewed, author, reason, request_id, supervision, monitoring,
        interventions, victim_safety, contingency;
    int visit_interval_days = 0, officers = 1, unannounced = 0;
    bool device_check = false;
  };
  auto rmp_flags = std::make_shared<RmpFlags>();
  CLI::App* rmp_record = rmp->add_subcommand("record", "Record a reviewed plan");
  rmp_record->add_option("offender", rmp_flags->offender, "Offender id")->required();
  rmp_record->add_option("--reviewed", rmp_flags->reviewed, "Review date")->required();
  rmp_record->add_option("--author", rmp_flags->author, "Who reviewed it")->required();
  rmp_record
      ->add_option("--visit-interval-days", rmp_flags->visit_interval_days,
                   "Home-visit interval; 0: the policy's for the risk tier")
      ->capture_default_str();
  rmp_record->add_option("--officers", rmp_flags->officers, "Officers required at each visit")
      ->capture_default_str();
  rmp_record
      ->add_option("--unannounced-percent", rmp_flags->unannounced,
                   "Share of visits that must be unannounced")
      ->capture_default_str();
  rmp_record->add_flag("--device-check", rmp_flags->device_check,
                       "Devices must be checked at visits");
  rmp_record->add_option("--reason", rmp_flags->reason, "Why (required with an interval override)");
  rmp_record->add_option("--supervision", rmp_flags->supervision, "Supervision");
  rmp_record->add_option("--monitoring", rmp_flags->monitoring, "Monitoring and control");
  rmp_record->add_option("--interventions", rmp_flags->interventions,
                         "Interventions and treatment");
  rmp_record->add_option("--victim-safety", rmp_flags->victim_safety, "Victim safety");
  rmp_record->add_option("--contingency", rmp_flags->contingency, "Contingency actions");
  rmp_record->add_option("--request-id", rmp_flags->request_id, "Idempotency key");
  rmp_record->callback([&cli, &run, rmp_flags] {
    run = [&cli, rmp_flags]() -> int {
      v1::RecordRiskManagementPlanRequest request;
      request.set_offender_id(rmp_flags->offender);
      absl::StatusOr<absl::Time> reviewed = ParseTimeFlag(rmp_flags->reviewed);
      if (!reviewed.ok())
        return cli.BadUsage(absl::StrCat("--reviewed: ", reviewed.status().message()));
      *request.mutable_reviewed_time() = ToTimestamp(*reviewed);
      request.set_author(rmp_flags->author);
      request.set_visit_interval_days(rmp_flags->visit_interval_days);
      request.set_officers_required(rmp_flags->officers);
      request.set_unannounced_share_percent(rmp_flags->unannounced);
      request.set_device_check_required(rmp_flags->device_check);
      request.set_reason(rmp_flags->reason);
      request.set_supervision(rmp_flags->supervision);
      request.set_monitoring_and_control(rmp_flags->monitoring);
      request.set_interventions_and_treatment(rmp_flags->interventions);
      request.set_victim_safety(rmp_flags->victim_safety);
      request.set_contingency(rmp_flags->contingency);
      request.set_request_id(rmp_flags->request_id);
      auto stub = v1::AssessmentService::NewStub(cli.channel());
      v1::RiskManagementPlan response;
      auto context = cli.NewContext();
      grpc::Status status = stub->RecordRiskManagementPlan(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      PrintPlan(cli, response);
      return 0;
    };
  });

  auto rmp_offender = std::make_shared<std::string>();
  CLI::App* rmp_get = rmp->add_subcommand("get", "An offender's current plan");
  rmp_get->add_option("offender", *rmp_offender, "Offender id")->required();
  rmp_get->callback([&cli, &run, rmp_offender] {
    run = [&cli, rmp_offender]() -> int {
      v1::GetRiskManagementPlanRequest request;
      request.set_offender_id(*rmp_offender);
      auto stub = v1::AssessmentService::NewStub(cli.channel());
      v1::RiskManagementPlan response;
      auto context = cli.NewContext();
      grpc::Status status = stub->GetRiskManagementPlan(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      PrintPlan(cli, response);
      return 0;
    };
  });

  auto history_offender = std::make_shared<std::string>();
  CLI::App* rmp_history =
      rmp->add_subcommand("history", "Every plan recorded for an offender, newest first");
  rmp_history->add_option("offender", *history_offender, "Offender id")->required();
  rmp_history->callback([&cli, &run, history_offender] {
    run = [&cli, history_offender]() -> int {
      v1::ListRiskManagementPlansRequest request;
      request.set_offender_id(*history_offender);
      request.mutable_page()->set_page_size(100);
      auto stub = v1::AssessmentService::NewStub(cli.channel());
      v1::ListRiskManagementPlansResponse all;
      do {
        v1::ListRiskManagementPlansResponse page;
        auto context = cli.NewContext();
        grpc::Status status = stub->ListRiskManagementPlans(context.get(), request, &page);
        if (!status.ok()) return cli.Fail(status);
        for (const v1::RiskManagementPlan& plan : page.plans()) *all.add_plans() = plan;
        request.mutable_page()->set_page_token(page.next_page_token());
      } while (!request.page().page_token().empty());
      if (cli.output() == Output::kJson) {
        cli.PrintJson(all);
        return 0;
      }
      Table table({"VERSION", "ID", "REVIEWED", "AUTHOR", "RECORDED", "RECORDED BY", "INTERVAL",
                   "SIGNED OFF", "CURRENT"});
      for (const v1::RiskManagementPlan& p : all.plans()) {
        table.AddRow({absl::StrCat(p.version()), p.id(), FormatDate(p.reviewed_time()), p.author(),
                      FormatDate(p.record_time()), p.recorded_by(),
                      p.visit_interval_days() == 0 ? std::string("policy")
                                                   : absl::StrCat(p.visit_interval_days(), " days"),
                      p.signed_off_by().empty()
                          ? std::string("-")
                          : absl::StrCat(FormatDate(p.signed_off_time()), " ", p.signed_off_by()),
                      p.current() ? "yes" : ""});
      }
      cli.Print(table);
      return 0;
    };
  });

  struct SignOffFlags {
    std::string offender, plan, note, request_id;
  };
  auto sign_off_flags = std::make_shared<SignOffFlags>();
  CLI::App* rmp_sign_off = rmp->add_subcommand(
      "sign-off",
      "Sign off a plan as its supervisor (a sergeant or above): meets the sign-off "
      "clock of the current plan");
  rmp_sign_off->add_option("offender", sign_off_flags->offender, "Offender id")->required();
  rmp_sign_off->add_option("--plan", sign_off_flags->plan, "Plan id (default: the current plan)");
  rmp_sign_off->add_option("--note", sign_off_flags->note, "What was checked or asked for");
  rmp_sign_off->add_option("--request-id", sign_off_flags->request_id, "Idempotency key");
  rmp_sign_off->callback([&cli, &run, sign_off_flags] {
    run = [&cli, sign_off_flags]() -> int {
      v1::SignOffRiskManagementPlanRequest request;
      request.set_offender_id(sign_off_flags->offender);
      request.set_plan_id(sign_off_flags->plan);
      request.set_note(sign_off_flags->note);
      request.set_request_id(sign_off_flags->request_id);
      auto stub = v1::AssessmentService::NewStub(cli.channel());
      v1::RiskManagementPlan response;
      auto context = cli.NewContext();
      grpc::Status status = stub->SignOffRiskManagementPlan(context.get(), request, &response);
      if (!status.ok()) return cli.Fail(status);
      PrintPlan(cli, response);
      return 0;
    };
  });
}

}  // namespace vigil::cli
